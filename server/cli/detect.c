#include "cli/detect.h"

#include <ctype.h>
#include <string.h>

#include "base/util.h"

const char *
detect_format_name(detect_format_t f)
{
    switch (f) {
    case DETECT_FMT_OPENSSH: return "OpenSSH client output (ssh -v)";
    case DETECT_FMT_PUTTY: return "PuTTY event log (plink -v)";
    case DETECT_FMT_SSHD_T: return "sshd -T output";
    case DETECT_FMT_SSH_AUDIT: return "ssh-audit JSON";
    case DETECT_FMT_NMAP: return "nmap ssh2-enum-algos/ssh-hostkey output";
    case DETECT_FMT_ERRORS: return "a client's error lines";
    case DETECT_FMT_CAPTURE: return "sshmock capture of the live server";
    case DETECT_FMT_UNKNOWN: break;
    }
    return "unknown";
}

/* sshd -T prints lowercase keywords; these are ones every version prints. */
static int
detect__sshd_t_score(const char *text, size_t len)
{
    static const char *const words[] = {
        "port ", "kexalgorithms ", "ciphers ", "macs ", "hostkeyalgorithms ",
        "permitrootlogin ", "pubkeyauthentication ", "passwordauthentication ",
        "usepam ", "maxauthtries ", "logingracetime ", "hostkey ",
    };
    int score = 0;
    size_t i;
    const char *p = text;

    for (i = 0; i < UTIL_ARRAY_SIZE(words); i++) {
        size_t n = strlen(words[i]);
        for (p = text; p != NULL && p < text + len;) {
            if ((p == text || p[-1] == '\n') && (size_t)(text + len - p) > n &&
                memcmp(p, words[i], n) == 0) {
                score++;
                break;
            }
            p = memchr(p, '\n', (size_t)(text + len - p));
            p = p != NULL ? p + 1 : NULL;
        }
    }
    return score;
}

static int
detect__has(const char *text, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    size_t i;

    for (i = 0; n <= len && i + n <= len; i++) {
        if (text[i] == needle[0] && memcmp(text + i, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

detect_format_t
detect_format(const char *text, size_t len)
{
    size_t i = 0;

    while (i < len && isspace((unsigned char)text[i])) {
        i++;
    }
    if (i < len && text[i] == '{') {
        /* sshmock's own event log is for diagnose, not a server to copy. */
        if (detect__has(text, len, "\"banner\"") || detect__has(text, len, "\"kex\"")) {
            return DETECT_FMT_SSH_AUDIT;
        }
        return DETECT_FMT_UNKNOWN;
    }
    if (detect__has(text, len, "ssh2-enum-algos") || detect__has(text, len, "| ssh-hostkey:")) {
        return DETECT_FMT_NMAP;
    }
    if (detect__has(text, len, "Event Log: ") || detect__has(text, len, "We claim version: ") ||
        detect__has(text, len, "Remote version: SSH-")) {
        return DETECT_FMT_PUTTY;
    }
    if (detect__has(text, len, "debug1: ") || detect__has(text, len, "Remote protocol version") ||
        detect__has(text, len, "Unable to negotiate with") ||
        detect__has(text, len, "kex_exchange_identification") ||
        detect__has(text, len, "Authentications that can continue")) {
        return DETECT_FMT_OPENSSH;
    }
    if (detect__sshd_t_score(text, len) >= 3) {
        return DETECT_FMT_SSHD_T;
    }
    if (detect__has(text, len, "FATAL ERROR: ")) {
        return DETECT_FMT_PUTTY;
    }
    if (detect__has(text, len, "Their offer: ") || detect__has(text, len, "Permission denied (") ||
        detect__has(text, len, "Connection closed by ")) {
        return DETECT_FMT_OPENSSH;
    }
    return DETECT_FMT_UNKNOWN;
}
