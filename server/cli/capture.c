/*
 * capture: connect to a real SSH server as a client and write a profile of
 * its negotiation surface (sshmock capture HOST[:PORT]).
 *
 * Two probes. The first is our own socket: it reads the lines before the
 * identification, the identification and the server's KEXINIT (wire/tap.h
 * parses them), which are exactly what the server sends, in order. The
 * second is libssh's client, once per host key algorithm the server offers
 * (as ssh-keyscan and ssh-audit do): a key exchange with only that
 * algorithm gives the host key, whose type and size the profile copies
 * (with a fresh key: a client never sees the private half). The first of
 * those sessions also asks for `none` authentication as a probe user, which
 * gives the methods the server offers and its pre-auth banner. No
 * credential is ever sent.
 *
 * Exit status: 0 everything was learned; 1 the server failed part of the
 * probe: what was learned is written, marked partial; 2 bad usage; 3
 * nothing was learned (unreachable, timeout, not SSH): nothing is written.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libssh/libssh.h>
#include <openssl/evp.h>

#include "cli/capture.h"
#include "cli/dial.h"
#include "cli/import.h"
#include "wire/tap.h"
#include "base/util.h"

#define CAPTURE_OUR_IDENT "SSH-2.0-sshmock_capture\r\n"
#define CAPTURE_PROBE_USER "sshmock-capture-probe"

typedef struct capture_s {
    char host[256];
    int port;
    int timeout;           /* seconds, per step */
    import_t im;
    util_buf_t problems;   /* one line per step that failed, for the header */
    int learned;           /* anything at all */
} capture_t;

static long long
capture__now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void capture__problem(capture_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
capture__problem(capture_t *c, const char *fmt, ...)
{
    va_list ap;

    util_buf_puts(&c->problems, "# PARTIAL: ");
    va_start(ap, fmt);
    util_buf_vprintf(&c->problems, fmt, ap);
    va_end(ap);
    util_buf_puts(&c->problems, "\n");
    fputs("sshmock capture: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void
capture__set(import_val_t *v, const char *value, size_t len, const char *src)
{
    import_val_set(v, value, len, 0, src, strlen(src));
}


/* Reads until the server's KEXINIT, a close, an error or the deadline. */
static void
capture__read_surface(capture_t *c, int fd, tap_t *tap)
{
    long long deadline = capture__now_ms() + (long long)c->timeout * 1000;
    uint8_t buf[16384];
    size_t total = 0;

    while (tap_kexinit(tap, TAP_DIR_S2C) == NULL && total < 1024 * 1024) {
        tap_phase_t ph = tap_phase(tap, TAP_DIR_S2C);
        struct pollfd p = { fd, POLLIN, 0 };
        long long left = deadline - capture__now_ms();
        ssize_t n;
        if (ph == TAP_PHASE_ERROR || ph == TAP_PHASE_UNPARSED) {
            capture__problem(c, "%s", ph == TAP_PHASE_UNPARSED
                             ? "the server does not speak SSH-2 (its identification is kept)"
                             : "the server's bytes are not SSH (not an SSH service?)");
            return;
        }
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            capture__problem(c, "timed out after %d s waiting for the server's %s", c->timeout,
                             tap_ident(tap, TAP_DIR_S2C) != NULL ? "KEXINIT" : "identification");
            return;
        }
        n = read(fd, buf, sizeof buf);
        if (n <= 0) {
            capture__problem(c, "the server %s before its KEXINIT",
                             n == 0 ? "closed the connection" : strerror(errno));
            return;
        }
        total += (size_t)n;
        tap_feed_all(tap, TAP_DIR_S2C, buf, (size_t)n);
    }
}

/* Pre-identification lines become Fault accept send, byte for byte. */
static void
capture__pre_ident(capture_t *c, const tap_t *tap)
{
    unsigned count = 0;
    int truncated = 0;
    const char *text = tap_pre_ident_text(tap, &count, &truncated);
    util_buf_t f = UTIL_BUF_INIT;
    const char *p = NULL;

    if (text == NULL || count == 0) {
        return;
    }
    util_buf_puts(&f, "accept send \"");
    for (p = text; *p != '\0'; p++) {
        if (*p == '\n') {
            util_buf_puts(&f, "\\r\\n");
        } else if (*p == '"' || *p == '\\') {
            util_buf_printf(&f, "\\%c", *p);
        } else if ((unsigned char)*p >= 32 && *p != 127) {
            util_buf_append(&f, p, 1);
        }
    }
    util_buf_puts(&f, "\"");
    capture__set(&c->im.fault, f.data, f.len, "lines the server sent before its "
                   "identification");
    util_buf_free(&f);
}

/* Step 1: our own socket, the raw surface. */
static int
capture__raw(capture_t *c)
{
    static const algo_kind_t kinds[] = { ALGO_KEX, ALGO_HOSTKEY, ALGO_CIPHER, ALGO_MAC };
    static const tap_kex_list_t lists[] = { TAP_KEX_ALGS, TAP_KEX_HOSTKEY_ALGS,
                                            TAP_KEX_ENC_S2C, TAP_KEX_MAC_S2C };
    const char *why = NULL;
    const tap_ident_t *id = NULL;
    const tap_kexinit_t *k = NULL;
    tap_t tap;
    int fd = dial_tcp(c->host, c->port, c->timeout * 1000, &why);
    size_t i;

    if (fd < 0) {
        capture__problem(c, "cannot connect: %s", why);
        return -1;
    }
    tap_init(&tap, NULL, NULL);
    if (write(fd, CAPTURE_OUR_IDENT, strlen(CAPTURE_OUR_IDENT)) < 0) {
        capture__problem(c, "cannot send: %s", strerror(errno));
    }
    capture__read_surface(c, fd, &tap);
    close(fd);
    capture__pre_ident(c, &tap);
    if ((id = tap_ident(&tap, TAP_DIR_S2C)) != NULL) {
        capture__set(&c->im.ident, id->line, strlen(id->line), "the server's "
                       "identification line, as sent");
        c->learned = 1;
    }
    if ((k = tap_kexinit(&tap, TAP_DIR_S2C)) != NULL) {
        for (i = 0; i < UTIL_ARRAY_SIZE(kinds); i++) {
            const char *v = k->lists[lists[i]] != NULL ? k->lists[lists[i]] : "";
            capture__set(&c->im.algos[kinds[i]], v, strlen(v), "the server's KEXINIT, "
                           "in its order");
        }
        c->learned = 1;
    }
    tap_free(&tap);
    return k != NULL ? 0 : -1;
}

/* An RSA key's modulus size from its public blob (string type, mpint e,
 * mpint n). */
static int
capture__rsa_bits(const ssh_key key)
{
    char *b64 = NULL;
    unsigned char *p = NULL;
    size_t len;
    size_t off = 0;
    int field;
    int bits = 0;
    int n64;

    /* libssh 0.10 exports the public blob only as base64. */
    if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK) {
        return 0;
    }
    n64 = (int)strlen(b64);
    p = malloc((size_t)n64 / 4 * 3 + 4);
    if (p == NULL || EVP_DecodeBlock(p, (const unsigned char *)b64, n64) < 0) {
        free(p);
        ssh_string_free_char(b64);
        return 0;
    }
    len = (size_t)n64 / 4 * 3;
    for (field = 0; field < 3 && off + 4 <= len; field++) {
        size_t n = ((size_t)p[off] << 24) | ((size_t)p[off + 1] << 16) |
                   ((size_t)p[off + 2] << 8) | p[off + 3];
        off += 4;
        if (n > len - off) {
            break;
        }
        if (field == 2) {
            size_t j = 0;
            while (j < n && p[off + j] == 0) {
                j++;
            }
            if (j < n) {
                unsigned char top = p[off + j];
                bits = (int)((n - j - 1) * 8);
                while (top != 0) {
                    bits++;
                    top >>= 1;
                }
            }
        }
        off += n;
    }
    free(p);
    ssh_string_free_char(b64);
    return bits;
}

/* The server's list cut to what this libssh speaks, so that libssh's client
 * can finish a key exchange with a legacy server. */
static void
capture__offer(ssh_session s, enum ssh_options_e opt, algo_kind_t kind, const char *list)
{
    util_buf_t b = UTIL_BUF_INIT;
    const char *cur = list;
    const char *el = NULL;
    size_t n;

    while (cur != NULL && (el = util_list_next(&cur, &n)) != NULL) {
        char name[128];
        if (n == 0 || n >= sizeof name) {
            continue;
        }
        memcpy(name, el, n);
        name[n] = '\0';
        if (algo_is_supported(kind, name)) {
            util_buf_printf(&b, "%s%s", b.len > 0 ? "," : "", name);
        }
    }
    if (b.len > 0) {
        (void)ssh_options_set(s, opt, b.data); /* refused: libssh's default stays */
    }
    util_buf_free(&b);
}

static void
capture__auth(capture_t *c, ssh_session s)
{
    util_buf_t m = UTIL_BUF_INIT;
    char *banner = NULL;
    int rc = ssh_userauth_none(s, NULL);
    int list;

    if (rc == SSH_AUTH_SUCCESS) {
        util_buf_puts(&m, "none");
    } else if (rc == SSH_AUTH_DENIED || rc == SSH_AUTH_PARTIAL) {
        list = ssh_userauth_list(s, NULL);
        if (list & SSH_AUTH_METHOD_PUBLICKEY) {
            util_buf_puts(&m, "publickey,");
        }
        if (list & SSH_AUTH_METHOD_PASSWORD) {
            util_buf_puts(&m, "password,");
        }
        if (list & SSH_AUTH_METHOD_INTERACTIVE) {
            util_buf_puts(&m, "keyboard-interactive,");
        }
        if (m.len > 0) {
            m.data[--m.len] = '\0';
        }
    } else {
        capture__problem(c, "the server failed the \"none\" authentication probe: %s",
                         ssh_get_error(s));
    }
    if (m.len > 0) {
        capture__set(&c->im.auth_methods, m.data, m.len, "the methods offered to a probe user "
                     "after \"none\" authentication");
    }
    banner = ssh_get_issue_banner(s);
    if (banner != NULL && banner[0] != '\0') {
        capture__set(&c->im.banner, banner, strlen(banner), "the server's pre-auth "
                       "banner");
    }
    ssh_string_free_char(banner);
    util_buf_free(&m);
}

/* One key exchange offering only `alg`: the host key's type and size. */
static int
capture__session(capture_t *c, const char *alg, int probe_auth)
{
    ssh_session s = ssh_new();
    ssh_key key = NULL;
    long timeout = c->timeout;
    int port = c->port;
    int no = 0;
    int verbosity = SSH_LOG_NOLOG;
    char buf[32];
    char src[400];
    const char *spec = NULL;
    int bits = 0;
    int rc = -1;

    if (s == NULL) {
        return -1;
    }
    ssh_options_set(s, SSH_OPTIONS_HOST, c->host);
    ssh_options_set(s, SSH_OPTIONS_PORT, &port);
    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout);
    ssh_options_set(s, SSH_OPTIONS_USER, CAPTURE_PROBE_USER);
    ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity);
    ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);
    ssh_options_set(s, SSH_OPTIONS_HOSTKEYS, alg);
    capture__offer(s, SSH_OPTIONS_KEY_EXCHANGE, ALGO_KEX, c->im.algos[ALGO_KEX].value);
    capture__offer(s, SSH_OPTIONS_CIPHERS_C_S, ALGO_CIPHER, c->im.algos[ALGO_CIPHER].value);
    capture__offer(s, SSH_OPTIONS_CIPHERS_S_C, ALGO_CIPHER, c->im.algos[ALGO_CIPHER].value);
    capture__offer(s, SSH_OPTIONS_HMAC_C_S, ALGO_MAC, c->im.algos[ALGO_MAC].value);
    capture__offer(s, SSH_OPTIONS_HMAC_S_C, ALGO_MAC, c->im.algos[ALGO_MAC].value);
    if (ssh_connect(s) != SSH_OK) {
        snprintf(src, sizeof src, "%s: %s", alg, ssh_get_error(s));
        capture__problem(c, "key exchange for the host key failed: %s", src);
        goto out;
    }
    if (ssh_get_server_publickey(s, &key) != SSH_OK) {
        capture__problem(c, "no host key received for %s", alg);
        goto out;
    }
    if (ssh_key_type(key) == SSH_KEYTYPE_RSA) {
        bits = capture__rsa_bits(key);
    }
    spec = import_hostkey_spec(alg, bits, buf, sizeof buf);
    if (spec != NULL) {
        snprintf(src, sizeof src, "the server's %s key%s, from a key exchange offering only %s",
                 ssh_key_type_to_char(ssh_key_type(key)), bits > 0 ? " (its size)" : "", alg);
        import_hostkey_add(&c->im, spec, 0, src, strlen(src));
    }
    if (probe_auth) {
        capture__auth(c, s);
    }
    rc = 0;
out:
    ssh_key_free(key);
    ssh_disconnect(s);
    ssh_free(s);
    return rc;
}

/* Step 2: one session per host key type the server offers. */
static int
capture__hostkeys(capture_t *c)
{
    const char *cur = c->im.algos[ALGO_HOSTKEY].value;
    const char *el = NULL;
    char seen[8][16];
    size_t nseen = 0;
    size_t n;
    size_t i;
    int failures = 0;
    int probed = 0;

    while (cur != NULL && (el = util_list_next(&cur, &n)) != NULL) {
        char alg[128];
        char buf[32];
        const char *spec = NULL;
        size_t family;
        if (n == 0 || n >= sizeof alg) {
            continue;
        }
        memcpy(alg, el, n);
        alg[n] = '\0';
        spec = import_hostkey_spec(alg, 0, buf, sizeof buf);
        if (spec == NULL || !algo_is_supported(ALGO_HOSTKEY, alg)) {
            continue; /* named in the profile's comment as not servable */
        }
        family = strcspn(spec, "-") + (strncmp(spec, "ecdsa", 5) == 0 ? 4 : 0);
        for (i = 0; i < nseen && strncmp(seen[i], spec, family) != 0; i++) {
        }
        if (i < nseen || nseen == UTIL_ARRAY_SIZE(seen)) {
            continue; /* rsa-sha2-256 after rsa-sha2-512: the same key */
        }
        util_strlcpy(seen[nseen++], spec, sizeof seen[0]);
        if (capture__session(c, alg, !probed) != 0) {
            failures++;
        } else {
            probed = 1;
        }
    }
    return failures > 0 || !probed ? -1 : 0;
}

static const char capture__usage[] =
    "Usage: sshmock capture HOST[:PORT] [-o PROFILE] [--timeout S]\n"
    "\n"
    "Connects to a real SSH server as a client and writes a profile that\n"
    "reproduces its negotiation surface: the lines before its identification and\n"
    "the identification itself, its KEXINIT lists in order, for each host key\n"
    "type it offers a fresh key of the same type and size (one key exchange per\n"
    "type, as ssh-keyscan does), the authentication methods it offers a probe\n"
    "user after \"none\" authentication, and its pre-auth banner. No credential\n"
    "is sent. Algorithms the linked libssh cannot serve are named in a comment.\n"
    "\n"
    "  -o, --output PROFILE   write there (default: standard output)\n"
    "  -t, --timeout S        seconds allowed for each step (default 10)\n"
    "\n"
    "Exit status: 0 everything was learned; 1 the server failed part of the probe\n"
    "(what was learned is written, its header says PARTIAL and why); 2 bad usage;\n"
    "3 nothing was learned (unreachable, timeout, not an SSH service): nothing is\n"
    "written.\n";

static int
capture__target(capture_t *c, const char *arg)
{
    return dial_target(arg, 22, c->host, sizeof c->host, &c->port);
}

/* The banner goes next to the profile (PROFILE.banner), byte for byte,
 * named by its absolute path so the profile loads from anywhere. */
static char *
capture__save_banner(const capture_t *c, const char *out_path)
{
    util_buf_t path = UTIL_BUF_INIT;
    char cwd[4096];
    FILE *f = NULL;

    if (out_path[0] != '/' && getcwd(cwd, sizeof cwd) != NULL) {
        util_buf_printf(&path, "%s/", cwd);
    }
    util_buf_printf(&path, "%s.banner", out_path);
    if (path.data == NULL || (f = fopen(path.data, "w")) == NULL) {
        util_buf_free(&path);
        return NULL;
    }
    fputs(c->im.banner.value, f);
    if (fclose(f) != 0) {
        util_buf_free(&path);
        return NULL;
    }
    return path.data;
}

static int
capture__write(capture_t *c, const char *out_path, const char *cmdline, int partial)
{
    util_buf_t text = UTIL_BUF_INIT;
    char source[300];
    char err[768];
    FILE *f = stdout;
    char *banner_file = NULL;
    int rc = -1;

    c->im.format = DETECT_FMT_CAPTURE;
    if (partial) {
        util_buf_puts(&c->im.notes, "# PARTIAL CAPTURE: the server failed part of the probe; "
                                    "what it did not show stays at its default.\n");
    }
    if (c->problems.len > 0) {
        util_buf_puts(&c->im.notes, c->problems.data);
    }
    snprintf(source, sizeof source, "%s port %d", c->host, c->port);
    if (c->im.banner.value != NULL && out_path != NULL) {
        banner_file = capture__save_banner(c, out_path);
        c->im.banner_file = banner_file;
    }
    if (import_write(&c->im, source, cmdline, &text, err, sizeof err) != 0) {
        fprintf(stderr, "sshmock capture: %s\n", err);
        goto out;
    }
    if (out_path != NULL && (f = fopen(out_path, "w")) == NULL) {
        fprintf(stderr, "sshmock capture: %s: %s\n", out_path, strerror(errno));
        goto out;
    }
    rc = fwrite(text.data, 1, text.len, f) == text.len ? 0 : -1;
    rc = (f != stdout ? fclose(f) : fflush(f)) == 0 ? rc : -1;
out:
    c->im.banner_file = NULL;
    free(banner_file);
    util_buf_free(&text);
    return rc;
}

int
capture_main(int argc, char **argv)
{
    capture_t c;
    const char *target = NULL;
    const char *out_path = NULL;
    util_buf_t cmd = UTIL_BUF_INIT;
    int partial = 0;
    int rc = 2;
    int i;

    memset(&c, 0, sizeof c);
    c.timeout = 10;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(capture__usage, stdout);
            return 0;
        } else if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) &&
                   i + 1 < argc) {
            out_path = argv[++i];
        } else if ((strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--timeout") == 0) &&
                   i + 1 < argc) {
            c.timeout = atoi(argv[++i]);
        } else if (target == NULL && argv[i][0] != '-') {
            target = argv[i];
        } else {
            target = NULL;
            break;
        }
    }
    if (target == NULL || c.timeout < 1 || c.timeout > 600 || capture__target(&c, target) != 0) {
        fputs(capture__usage, stderr);
        return 2;
    }
    util_buf_puts(&cmd, "sshmock capture");
    for (i = 1; i < argc; i++) {
        util_buf_printf(&cmd, " %s", argv[i]);
    }
    partial = capture__raw(&c) != 0;
    if (!partial) {
        partial = capture__hostkeys(&c) != 0;
    }
    if (!c.learned) {
        fprintf(stderr, "sshmock capture: nothing learned from %s port %d: no profile written\n",
                c.host, c.port);
        rc = 3;
    } else if (capture__write(&c, out_path, cmd.data, partial) != 0) {
        rc = 1;
    } else {
        rc = partial ? 1 : 0;
        if (out_path != NULL) {
            fprintf(stderr, "sshmock capture: wrote %s%s; play it: sshmock serve %s\n", out_path,
                    partial ? " (PARTIAL)" : "", out_path);
        }
    }
    import_free(&c.im);
    util_buf_free(&c.problems);
    util_buf_free(&cmd);
    return rc;
}
