/*
 * diagnose: a client's output (or sshmock's JSON event log) in, the failure
 * class, the stage, the profile that plays it and the fixes out.
 *
 * The client's words are matched line by line against fixed strings
 * (diagnose_rules.c), the first signature in table order winning; then
 * the progress lines (how far the client got) turn the generic "the
 * server closed" into the stage where it closed.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/catalog.h"
#include "cli/diagnose.h"
#include "cli/detect.h"
#include "profile/profile.h"
#include "base/util.h"

/* A ticket is a page of log, not a disk image: anything larger is refused
 * with a message rather than scanned for minutes. */
#define DIAG_MAX_INPUT (16u * 1024 * 1024)

typedef struct diag_line_s {
    const char *p;
    size_t len;
    int no;
} diag_line_t;

/* The next line of text at *cursor (without its CR LF), or 0 at the end. */
static int
diagnose__next_line(const char *text, size_t len, size_t *cursor, diag_line_t *l)
{
    const char *nl = NULL;
    size_t n;

    if (*cursor >= len) {
        return 0;
    }
    l->p = text + *cursor;
    nl = memchr(l->p, '\n', len - *cursor);
    n = nl != NULL ? (size_t)(nl - l->p) : len - *cursor;
    *cursor += n + (nl != NULL ? 1 : 0);
    while (n > 0 && (l->p[n - 1] == '\r' || l->p[n - 1] == '\n')) {
        n--;
    }
    l->len = n;
    l->no++;
    return 1;
}

/* memmem for a NUL-terminated needle inside one line. */
static const char *
diagnose__find(const diag_line_t *l, const char *needle)
{
    size_t n = strlen(needle);
    size_t i;

    if (needle[0] == '^') { /* anchored at the start of the line */
        n--;
        return n > 0 && n <= l->len && memcmp(l->p, needle + 1, n) == 0 ? l->p : NULL;
    }
    if (n == 0 || n > l->len) {
        return NULL;
    }
    for (i = 0; i + n <= l->len; i++) {
        if (l->p[i] == needle[0] && memcmp(l->p + i, needle, n) == 0) {
            return l->p + i;
        }
    }
    return NULL;
}

/* Text, not a binary: no NUL byte, and few control characters. */
static int
diagnose__is_text(const char *text, size_t len)
{
    size_t ctl = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == 0) {
            return 0;
        }
        if (c < 32 && c != '\n' && c != '\r' && c != '\t' && c != 27) {
            ctl++;
        }
    }
    return ctl * 20 <= len;
}

static int
diagnose__client_allowed(const char *sig_client, const char *client)
{
    return sig_client == NULL || client == NULL || strcmp(sig_client, client) == 0;
}

/* Who wrote the input: the client whose words appear on most lines. */
static const char *
diagnose__detect_client(const char *text, size_t len)
{
    size_t counts[32] = { 0 };
    const char *names[32] = { NULL };
    size_t nnames = 0;
    size_t cursor = 0;
    diag_line_t l = { NULL, 0, 0 };
    size_t best = 0;
    size_t i;
    size_t j;

    while (diagnose__next_line(text, len, &cursor, &l)) {
        for (i = 0; i < diag_nclient_marks; i++) {
            if (diagnose__find(&l, diag_client_marks[i].needle) == NULL) {
                continue;
            }
            for (j = 0; j < nnames && strcmp(names[j], diag_client_marks[i].client) != 0; j++) {
            }
            if (j == nnames && nnames < UTIL_ARRAY_SIZE(names)) {
                names[nnames++] = diag_client_marks[i].client;
            }
            if (j < nnames) {
                counts[j]++;
            }
            break; /* one vote per line */
        }
    }
    for (i = 0; i < nnames; i++) {
        if (counts[i] > counts[best]) {
            best = i;
        }
    }
    return nnames > 0 ? names[best] : NULL;
}

static void
diagnose__copy_line(char *dst, size_t size, const diag_line_t *l)
{
    size_t start = 0;
    size_t n = l->len;

    while (start < n && isspace((unsigned char)l->p[start])) {
        start++;
    }
    n -= start;
    if (n >= size) {
        n = size - 1;
    }
    memcpy(dst, l->p + start, n);
    dst[n] = '\0';
}

/* "Their offer: a,b" (OpenSSH) is the server's list for the class's kind. */
static void
diagnose__offer(diagnose_result_t *r, const diag_line_t *l)
{
    static const struct { const char *cls; const char *kind; } kinds[] = {
        { "no-common-kex", "key exchange method" },
        { "no-common-cipher", "cipher" },
        { "no-common-mac", "MAC" },
        { "no-common-hostkey", "host key type" },
    };
    const char *at = diagnose__find(l, "Their offer: ");
    size_t i;
    size_t n;

    if (at == NULL) {
        return;
    }
    for (i = 0; i < UTIL_ARRAY_SIZE(kinds); i++) {
        if (strcmp(r->cls->id, kinds[i].cls) == 0) {
            at += strlen("Their offer: ");
            n = (size_t)(l->p + l->len - at);
            n = n < sizeof r->offer - 1 ? n : sizeof r->offer - 1;
            memcpy(r->offer, at, n);
            r->offer[n] = '\0';
            util_strlcpy(r->offer_kind, kinds[i].kind, sizeof r->offer_kind);
        }
    }
}

/* The first signature in table order that some line matches. */
static void
diagnose__match(const char *text, size_t len, diagnose_result_t *r)
{
    size_t best = diag_nsigs;
    diag_line_t best_line = { NULL, 0, 0 };
    size_t cursor = 0;
    diag_line_t l = { NULL, 0, 0 };
    size_t i;

    while (diagnose__next_line(text, len, &cursor, &l)) {
        for (i = 0; i < best; i++) {
            const diag_sig_t *s = &diag_sigs[i];
            const char *at = NULL;
            if (!diagnose__client_allowed(s->client, r->client)) {
                continue;
            }
            at = diagnose__find(&l, s->needle);
            if (at != NULL && (s->needle2 == NULL || diagnose__find(&l, s->needle2) != NULL)) {
                best = i;
                best_line = l;
                break;
            }
        }
        for (i = 0; i < diag_nmarkers; i++) {
            if (diag_markers[i].level > r->progress &&
                diagnose__client_allowed(diag_markers[i].client, r->client) &&
                diagnose__find(&l, diag_markers[i].needle) != NULL) {
                r->progress = diag_markers[i].level;
            }
        }
    }
    if (best == diag_nsigs) {
        return;
    }
    r->cls = diag_class_find(diag_sigs[best].cls);
    r->line = best_line.no;
    diagnose__copy_line(r->evidence, sizeof r->evidence, &best_line);
    if (r->cls != NULL) {
        diagnose__offer(r, &best_line);
    }
}

/* A generic end ("the server closed") made precise by how far the client
 * got. */
static void
diagnose__refine(diagnose_result_t *r)
{
    const char *id = r->cls != NULL ? r->cls->id : NULL;

    if (id == NULL) {
        return;
    }
    if (strcmp(id, "closed") == 0 || strcmp(id, "closed-during-kex") == 0) {
        if (r->progress == DIAG_PROGRESS_IDENT_SENT || r->progress == DIAG_PROGRESS_TCP) {
            r->cls = diag_class_find("closed-before-ident");
        } else if (r->progress == DIAG_PROGRESS_IDENT_RECV ||
                   r->progress == DIAG_PROGRESS_KEX) {
            r->cls = diag_class_find("closed-during-kex");
        } else if (r->progress == DIAG_PROGRESS_AUTH) {
            r->cls = diag_class_find("disconnected-during-auth");
        }
    } else if (strcmp(id, "reset") == 0 && (r->progress == DIAG_PROGRESS_IDENT_RECV ||
                                             r->progress == DIAG_PROGRESS_KEX)) {
        /* A process that exits after its identification resets too (the
         * client's bytes unread): that is the hang-up during key exchange. */
        r->cls = diag_class_find("closed-during-kex");
    } else if (strcmp(id, "reset") == 0 && r->progress == DIAG_PROGRESS_NONE) {
        /* "Connection reset by peer" alone (dbclient, libssh): before the
         * banner or after it, the words do not say. */
        r->cls = diag_class_find("closed");
    } else if (strcmp(id, "ident-timeout") == 0 && r->progress >= DIAG_PROGRESS_IDENT_RECV) {
        /* A deadline that ran out after the identifications is not a
         * stalled banner; say only that the server went quiet. */
        r->cls = diag_class_find(r->progress >= DIAG_PROGRESS_AUTH ? "disconnected-during-auth"
                                                                   : "closed-during-kex");
    }
}

/* --- sshmock's own JSON event log --------------------------------------------- */

static const char *
diagnose__jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The class one event implies, or NULL. */
static const char *
diagnose__event_class(json_t *ev)
{
    const char *name = diagnose__jstr(ev, "event");
    const char *s = NULL;

    if (name == NULL) {
        return NULL;
    }
    if (strcmp(name, "negotiation_failed") == 0 && (s = diagnose__jstr(ev, "list")) != NULL) {
        if (strncmp(s, "kex", 3) == 0) {
            return "no-common-kex";
        }
        if (strncmp(s, "server_host_key", 15) == 0) {
            return "no-common-hostkey";
        }
        if (strncmp(s, "encryption", 10) == 0) {
            return "no-common-cipher";
        }
        if (strncmp(s, "mac", 3) == 0) {
            return "no-common-mac";
        }
        return NULL;
    }
    if (strcmp(name, "maxstartups_drop") == 0) {
        return "maxstartups";
    }
    if (strcmp(name, "fault") == 0) {
        const char *stage = diagnose__jstr(ev, "stage");
        const char *action = diagnose__jstr(ev, "action");
        int early = 0;
        if (stage == NULL || action == NULL) {
            return NULL;
        }
        early = strcmp(stage, "accept") == 0;
        if (strcmp(action, "reset") == 0 || strcmp(action, "exit") == 0) {
            return early ? "reset" : "closed-during-kex";
        }
        if (strcmp(action, "stall") == 0 || strcmp(action, "drop") == 0) {
            return early ? "ident-timeout" : NULL;
        }
        if (strcmp(action, "corrupt") == 0) {
            return "mac-error";
        }
        if (strcmp(action, "close") == 0 || strcmp(action, "disconnect") == 0) {
            return early ? "closed-before-ident" : "closed-during-kex";
        }
        return NULL;
    }
    if (strcmp(name, "close") == 0) {
        const char *reason = diagnose__jstr(ev, "reason");
        const char *by = diagnose__jstr(ev, "by");
        const char *state = diagnose__jstr(ev, "state");
        if (reason != NULL && strstr(reason, "Too many authentication failures") != NULL) {
            return "too-many-auth-failures";
        }
        if (by != NULL && state != NULL && strcmp(by, "client") == 0) {
            /* A client that hangs up mid-kex did not like what it saw
             * (the host key); during auth, it ran out of methods. */
            if (strcmp(state, "kex") == 0) {
                return "hostkey-unverified";
            }
            if (strcmp(state, "auth") == 0) {
                return "auth-denied";
            }
        }
    }
    return NULL;
}

/* Each connection's first failure; the last connection that had one wins,
 * as the log of a reproduction ends with the run that matters. */
static int
diagnose__events(const char *text, size_t len, diagnose_result_t *r)
{
    size_t cursor = 0;
    diag_line_t l = { NULL, 0, 0 };
    long long cur_conn = -1;
    const char *cur_cls = NULL;
    int parsed = 0;

    util_strlcpy(r->source, "sshmock event log", sizeof r->source);
    while (diagnose__next_line(text, len, &cursor, &l)) {
        json_error_t jerr;
        json_t *ev = json_loadb(l.p, l.len, 0, &jerr);
        json_t *conn = NULL;
        const char *cls = NULL;
        const char *prof = NULL;
        if (ev == NULL || !json_is_object(ev)) {
            json_decref(ev);
            continue;
        }
        parsed++;
        conn = json_object_get(ev, "conn");
        if (json_is_integer(conn) && json_integer_value(conn) != cur_conn) {
            cur_conn = json_integer_value(conn);
            cur_cls = NULL;
        }
        cls = diagnose__event_class(ev);
        if (cls != NULL && cur_cls == NULL) {
            cur_cls = cls;
            r->cls = diag_class_find(cls);
            r->line = l.no;
            diagnose__copy_line(r->evidence, sizeof r->evidence, &l);
            prof = diagnose__jstr(ev, "profile");
            util_strlcpy(r->played_by, prof != NULL ? prof : "", sizeof r->played_by);
        }
        json_decref(ev);
    }
    return parsed > 0 ? 0 : -1;
}

static int
diagnose__looks_like_event_log(const char *text, size_t len)
{
    size_t i = 0;

    while (i < len && isspace((unsigned char)text[i])) {
        i++;
    }
    return i < len && text[i] == '{' && len - i > 20 && memcmp(text + i, "{\"ts\":", 6) == 0;
}

int
diagnose_text(const char *text, size_t len, diagnose_result_t *r, char *errbuf, size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (len == 0) {
        snprintf(errbuf, errlen, "the input is empty");
        return -1;
    }
    if (!diagnose__is_text(text, len)) {
        snprintf(errbuf, errlen, "the input is not text (binary data?): expected a client's "
                 "output, a log, or sshmock's JSON event log");
        return -1;
    }
    if (diagnose__looks_like_event_log(text, len) && diagnose__events(text, len, r) == 0) {
        return r->cls != NULL ? 0 : 1;
    }
    memset(r, 0, sizeof *r);
    util_strlcpy(r->source, "client output", sizeof r->source);
    r->client = diagnose__detect_client(text, len);
    diagnose__match(text, len, r);
    diagnose__refine(r);
    return r->cls != NULL ? 0 : 1;
}

/* --- printing ------------------------------------------------------------------ */

/* The FixClient lines that speak to this client: PuTTY's for plink, the
 * others for every other client (they name ssh options or are generic). */
static void
diagnose__print_client_fix(const profile_t *p, const char *client, FILE *out)
{
    int want_putty = client != NULL && strcmp(client, "plink") == 0;
    const char *line = p->fix_client;
    int printed = 0;
    int pass;

    if (line == NULL || *line == '\0') {
        return;
    }
    fprintf(out, "\nFix on the client side%s%s%s\n", client != NULL ? " (" : "",
            client != NULL ? client : "", client != NULL ? ")" : "");
    for (pass = 0; pass < 2 && printed == 0; pass++) {
        for (line = p->fix_client; line != NULL && *line != '\0';) {
            const char *nl = strchr(line, '\n');
            int n = nl != NULL ? (int)(nl - line) : (int)strlen(line);
            int putty = strncasecmp(line, "PuTTY", 5) == 0;
            if (pass == 1 || client == NULL || putty == want_putty) {
                fprintf(out, "  %.*s\n", n, line);
                printed++;
            }
            line = nl != NULL ? nl + 1 : NULL;
        }
    }
}

static void
diagnose__print_fixes(const diagnose_result_t *r, FILE *out)
{
    char *path = catalog_resolve(r->cls->profile);
    profile_t *p = NULL;
    const profile_client_opts_t *cf = NULL;
    char err[512];
    size_t i;

    if (profile_load_warn(path, NULL, &p, err, sizeof err) != 0) {
        fprintf(out, "(the profile %s could not be read: %s)\n", r->cls->profile, err);
        free(path);
        return;
    }
    free(path);
    diagnose__print_client_fix(p, r->client, out);
    cf = r->client != NULL ? profile_client_fix_find(p, r->client) : NULL;
    if (cf != NULL) {
        fprintf(out, "  what sshmock matrix --fixes tries for %s:", r->client);
        for (i = 0; i < cf->nopts; i++) {
            fprintf(out, " %s", cf->opts[i]);
        }
        fputc('\n', out);
    }
    if (r->offer[0] != '\0' && r->client != NULL && strcmp(r->client, "openssh") == 0) {
        static const struct { const char *kind; const char *opt; } opts[] = {
            { "key exchange method", "KexAlgorithms" }, { "cipher", "Ciphers" },
            { "MAC", "MACs" }, { "host key type", "HostKeyAlgorithms" },
        };
        char first[128];
        size_t n = strcspn(r->offer, ",");
        util_strlcpy(first, r->offer, n + 1 < sizeof first ? n + 1 : sizeof first);
        for (i = 0; i < UTIL_ARRAY_SIZE(opts); i++) {
            if (strcmp(r->offer_kind, opts[i].kind) == 0) {
                fprintf(out, "  for this server's offer: ssh -o%s=+%s ...\n", opts[i].opt, first);
            }
        }
    }
    if (p->fix_server != NULL && p->fix_server[0] != '\0') {
        const char *line = p->fix_server;
        fprintf(out, "\nFix on the server side\n");
        while (line != NULL && *line != '\0') {
            const char *nl = strchr(line, '\n');
            int n = nl != NULL ? (int)(nl - line) : (int)strlen(line);
            fprintf(out, "  %.*s\n", n, line);
            line = nl != NULL ? nl + 1 : NULL;
        }
    }
    fprintf(out, "\nReproduce it: sshmock serve %s   (more: sshmock explain %s)\n",
            r->cls->profile, r->cls->profile);
    profile_free(p);
}

void
diagnose_print(const diagnose_result_t *r, FILE *out)
{
    fprintf(out, "source: %s%s%s\n", r->source, r->client != NULL ? ", written by " : "",
            r->client != NULL ? r->client : "");
    if (r->cls == NULL) {
        fprintf(out, "failure: none recognised\n");
        return;
    }
    fprintf(out, "failure: %s: %s\n", r->cls->id, r->cls->summary);
    fprintf(out, "stage: %s\n", r->cls->stage);
    if (r->line > 0) {
        fprintf(out, "evidence: line %d: %s\n", r->line, r->evidence);
    }
    if (r->offer[0] != '\0') {
        fprintf(out, "server's offer (%s): %s\n", r->offer_kind, r->offer);
    }
    if (r->played_by[0] != '\0') {
        fprintf(out, "served profile: %s\n", r->played_by);
    }
    fprintf(out, "profile: %s\n", r->cls->profile != NULL ? r->cls->profile : "(none shipped)");
    if (r->cls->also != NULL) {
        fprintf(out, "also plays this output: %s\n", r->cls->also);
    }
    if (r->cls->profile != NULL) {
        diagnose__print_fixes(r, out);
    } else if (strncmp(r->cls->id, "tcp-", 4) == 0) {
        fprintf(out, "\nFix on the client side\n  check the host name and port; "
                "sshmock probe ADDR:PORT tells whether an SSH server answers there\n"
                "\nFix on the server side\n  start sshd (systemctl status ssh), "
                "check its Port/ListenAddress and the firewall\n");
    }
}

static const char diagnose__usage[] =
    "Usage: sshmock diagnose FILE|-\n"
    "\n"
    "Reads what a client printed (ssh -v/-vv/-vvv, PuTTY's event log, plink,\n"
    "dbclient, paramiko or asyncssh logs, node ssh2, libssh, or just the error\n"
    "lines), or sshmock's JSON event log (serve --log-json), and prints the\n"
    "failure class, the stage where the connection ended, the shipped profile\n"
    "that plays it, and the fix on the client side and on the server side in\n"
    "the words of \"sshmock explain\". \"-\" reads standard input.\n"
    "\n"
    "Exit status: 0 a failure was recognised, 1 none was, 2 bad usage or an\n"
    "input that cannot be read (missing, not text, larger than 16 MiB).\n";

static int
diagnose__read_stdin(char **data, size_t *len)
{
    util_buf_t b = UTIL_BUF_INIT;
    char chunk[65536];
    ssize_t n;

    while ((n = read(STDIN_FILENO, chunk, sizeof chunk)) > 0) {
        if (b.len + (size_t)n > DIAG_MAX_INPUT || util_buf_append(&b, chunk, (size_t)n) != 0) {
            util_buf_free(&b);
            errno = EFBIG;
            return -1;
        }
    }
    if (n < 0) {
        util_buf_free(&b);
        return -1;
    }
    *data = b.data != NULL ? b.data : strdup("");
    *len = b.len;
    return *data != NULL ? 0 : -1;
}

int
diagnose_main(int argc, char **argv)
{
    diagnose_result_t r;
    char err[256];
    char *data = NULL;
    size_t len = 0;
    detect_format_t fmt;
    int rc;

    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(diagnose__usage, stdout);
        return 0;
    }
    if (argc != 2) {
        fputs(diagnose__usage, stderr);
        return 2;
    }
    rc = strcmp(argv[1], "-") == 0 ? diagnose__read_stdin(&data, &len)
                                   : util_read_file(argv[1], DIAG_MAX_INPUT, &data, &len);
    if (rc != 0) {
        fprintf(stderr, "sshmock diagnose: %s: %s\n", argv[1],
                errno == EFBIG ? "larger than 16 MiB: give the client's output, not a whole "
                "disk of logs" : util_read_file_strerror(errno));
        return 2;
    }
    rc = diagnose_text(data, len, &r, err, sizeof err);
    fmt = rc == 1 ? detect_format(data, len) : DETECT_FMT_UNKNOWN;
    free(data);
    if (rc < 0) {
        fprintf(stderr, "sshmock diagnose: %s: %s\n", argv[1], err);
        return 2;
    }
    diagnose_print(&r, stdout);
    if (fmt == DETECT_FMT_SSHD_T || fmt == DETECT_FMT_SSH_AUDIT || fmt == DETECT_FMT_NMAP) {
        fprintf(stdout, "This is %s: it describes a server, not a failure. Make a profile of "
                "it with: sshmock import %s -o server.conf\n", detect_format_name(fmt), argv[1]);
        return 1;
    }
    if (rc == 1) {
        fprintf(stdout, "No failure this tool knows was found. Give the client's whole output "
                "with -v (ssh -v, plink -v), or sshmock's --log-json event log.\n");
        return 1;
    }
    return 0;
}
