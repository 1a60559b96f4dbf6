/*
 * import_client: the readers of client logs, OpenSSH's ssh -v/-vv/-vvv and
 * PuTTY's event log (plink -v, or the GUI's "Copy" of it). What a client
 * log can say of a server: its identification, its KEXINIT lists (ssh
 * -vv), its host key type, the methods it lets authentication continue
 * with, and where it failed (import_failure).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/import.h"
#include "base/util.h"

/* The rest of the line after `prefix` when the line (after skip) starts
 * with it, else NULL. */
static const char *
import__after(const import_line_t *l, size_t skip, const char *prefix, size_t *n)
{
    size_t k = strlen(prefix);

    if (skip + k > l->len || memcmp(l->p + skip, prefix, k) != 0) {
        return NULL;
    }
    *n = l->len - skip - k;
    return l->p + skip + k;
}

static const char *
import__within(const import_line_t *l, const char *needle, size_t *n)
{
    size_t k = strlen(needle);
    size_t i;

    for (i = 0; k <= l->len && i + k <= l->len; i++) {
        if (memcmp(l->p + i, needle, k) == 0) {
            *n = l->len - i - k;
            return l->p + i + k;
        }
    }
    return NULL;
}

/* "debug2: x" -> offset of "x". */
static size_t
import__debug_skip(const import_line_t *l)
{
    if (l->len > 8 && memcmp(l->p, "debug", 5) == 0 && isdigit((unsigned char)l->p[5]) &&
        l->p[6] == ':' && l->p[7] == ' ') {
        return 8;
    }
    return 0;
}

/* ssh -vv prints both proposals with the same labels; only the peer's is
 * the server's. */
static void
import__openssh_proposal(import_t *im, const import_line_t *l, size_t skip)
{
    static const struct { const char *label; algo_kind_t kind; } rows[] = {
        { "KEX algorithms: ", ALGO_KEX },
        { "host key algorithms: ", ALGO_HOSTKEY },
        { "ciphers ctos: ", ALGO_CIPHER },
        { "MACs ctos: ", ALGO_MAC },
    };
    const char *v = NULL;
    size_t n;
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(rows); i++) {
        if ((v = import__after(l, skip, rows[i].label, &n)) != NULL && n > 0) {
            import_val_set(&im->algos[rows[i].kind], v, n, l->no, l->p, l->len);
        }
    }
}

/* "Unable to negotiate with H port P: no matching X found. Their offer: L" */
static void
import__openssh_offer(import_t *im, const import_line_t *l)
{
    static const struct { const char *what; algo_kind_t kind; } rows[] = {
        { "no matching key exchange method found", ALGO_KEX },
        { "no matching host key type found", ALGO_HOSTKEY },
        { "no matching cipher found", ALGO_CIPHER },
        { "no matching MAC found", ALGO_MAC },
    };
    const char *offer = NULL;
    size_t n;
    size_t m;
    size_t i;

    if ((offer = import__within(l, "Their offer: ", &n)) == NULL) {
        return;
    }
    for (i = 0; i < UTIL_ARRAY_SIZE(rows); i++) {
        if (import__within(l, rows[i].what, &m) != NULL) {
            n = strcspn(offer, " \r\n") < n ? strcspn(offer, " \r\n") : n;
            import_val_set(&im->algos[rows[i].kind], offer, n, l->no, l->p, l->len);
        }
    }
}

static void
import__openssh_line(import_t *im, const import_line_t *l, int *in_peer, int *in_banner)
{
    size_t skip = import__debug_skip(l);
    const char *v = NULL;
    size_t n;
    char buf[256];
    char spec_buf[32];
    const char *spec = NULL;

    if (*in_banner && skip == 0 && l->len > 0) {
        import_val_set(&im->banner, l->p, l->len, l->no, l->p, l->len);
    }
    *in_banner = skip != 0 ? 0 : *in_banner;
    if (import__within(l, "peer server KEXINIT proposal", &n) != NULL) {
        *in_peer = 1;
    } else if (import__within(l, "local client KEXINIT proposal", &n) != NULL ||
               import__within(l, "kex: algorithm:", &n) != NULL) {
        *in_peer = 0;
    } else if (*in_peer) {
        import__openssh_proposal(im, l, skip);
    }
    if ((v = import__after(l, skip, "Remote protocol version ", &n)) != NULL) {
        size_t proto = strcspn(v, ",");
        const char *sw = import__within(l, "remote software version ", &n);
        if (sw != NULL && proto < 16) {
            snprintf(buf, sizeof buf, "SSH-%.*s-%.*s", (int)proto, v, (int)n, sw);
            import_val_set(&im->ident, buf, strlen(buf), l->no, l->p, l->len);
        }
    }
    if ((v = import__after(l, skip, "Server host key: ", &n)) != NULL) {
        size_t t = strcspn(v, " ");
        snprintf(buf, sizeof buf, "%.*s", (int)(t < n ? t : n), v);
        /* ssh -v does not print an RSA key's size: the default size. */
        spec = import_hostkey_spec(buf, 0, spec_buf, sizeof spec_buf);
        if (spec != NULL) {
            import_hostkey_add(im, spec, l->no, l->p, l->len);
        }
    }
    if ((v = import__after(l, skip, "Authentications that can continue: ", &n)) != NULL) {
        import_val_set(&im->auth_methods, v, n, l->no, l->p, l->len);
    }
    if (import__within(l, "input_userauth_banner", &n) != NULL) {
        *in_banner = 1;
    }
    import__openssh_offer(im, l);
}

int
import_openssh(const char *text, size_t len, import_t *im)
{
    import_line_t l = { NULL, 0, 0, 0 };
    int in_peer = 0;
    int in_banner = 0;

    while (import_line_next(text, len, &l)) {
        import__openssh_line(im, &l, &in_peer, &in_banner);
    }
    if (im->algos[ALGO_KEX].value == NULL && im->failure.value == NULL) {
        util_buf_puts(&im->notes, "# The input has no KEXINIT lists (ssh -vv prints them): the "
                                  "algorithm lists are the defaults.\n");
    }
    return 0;
}

/* --- PuTTY ------------------------------------------------------------------------ */

/* PuTTY's event log lines, with or without plink's "Event Log: " or the
 * GUI's "YYYY-MM-DD HH:MM:SS\t" in front. */
static size_t
import__putty_skip(const import_line_t *l)
{
    size_t i;

    if (l->len >= 11 && memcmp(l->p, "Event Log: ", 11) == 0) {
        return 11;
    }
    if (l->len > 20 && isdigit((unsigned char)l->p[0]) && l->p[4] == '-' && l->p[7] == '-' &&
        l->p[13] == ':' && l->p[16] == ':') {
        for (i = 19; i < l->len && isspace((unsigned char)l->p[i]); i++) {
        }
        return i;
    }
    return 0;
}

/* "The first key-exchange algorithm supported by the server is\nNAME, which
 * is below the configured warning threshold." (wrapped anywhere). */
static void
import__putty_weak(import_t *im, const import_line_t *l, const char *next, size_t next_len)
{
    static const struct { const char *what; algo_kind_t kind; } rows[] = {
        { "key-exchange algorithm supported by the server", ALGO_KEX },
        { "host key type supported by the server", ALGO_HOSTKEY },
        { "cipher supported by the server", ALGO_CIPHER },
    };
    char joined[512];
    const char *is = NULL;
    size_t i;
    size_t n;

    for (i = 0; i < UTIL_ARRAY_SIZE(rows); i++) {
        if (import__within(l, rows[i].what, &n) == NULL) {
            continue;
        }
        snprintf(joined, sizeof joined, "%.*s %.*s", (int)l->len, l->p, (int)next_len, next);
        is = strstr(joined, rows[i].what);
        is = is != NULL ? strstr(is, " is") : NULL;
        if (is == NULL) {
            return;
        }
        is += 3;
        while (*is == ' ' || *is == '\n') {
            is++;
        }
        n = strcspn(is, ", \n");
        if (n > 0) {
            import_val_set(&im->algos[rows[i].kind], is, n, l->no, l->p, l->len);
            util_buf_printf(&im->notes, "# PuTTY names only the first %s the server offers; "
                            "the server may offer more.\n", rows[i].what);
        }
    }
}

/* No name in common, which PuTTY reports with the server's whole list:
 * "Couldn't agree a client-to-server cipher (available: LIST)" (older
 * releases) or, in 0.78, "Selected client-to-server cipher \"LIST\" does
 * not correspond to any supported algorithm" (the list taken for one name). */
static void
import__putty_nomatch(import_t *im, const import_line_t *l)
{
    static const struct { const char *what; algo_kind_t kind; } rows[] = {
        { "key exchange algorithm", ALGO_KEX },
        { "host key algorithm", ALGO_HOSTKEY },
        { "client-to-server cipher", ALGO_CIPHER },
        { "server-to-client cipher", ALGO_CIPHER },
        { "client-to-server MAC", ALGO_MAC },
        { "server-to-client MAC", ALGO_MAC },
    };
    char needle[64];
    const char *v = NULL;
    const char *end = NULL;
    size_t i;
    size_t n;

    for (i = 0; i < UTIL_ARRAY_SIZE(rows); i++) {
        snprintf(needle, sizeof needle, "Couldn't agree a %s (available: ", rows[i].what);
        if ((v = import__within(l, needle, &n)) != NULL) {
            end = memchr(v, ')', n);
        } else {
            snprintf(needle, sizeof needle, "Selected %s \"", rows[i].what);
            if ((v = import__within(l, needle, &n)) != NULL &&
                import__within(l, "does not correspond to any supported algorithm", &n) != NULL) {
                end = memchr(v, '"', (size_t)(l->p + l->len - v));
            }
        }
        if (v != NULL && end != NULL && end > v) {
            import_val_set(&im->algos[rows[i].kind], v, (size_t)(end - v), l->no, l->p, l->len);
            return;
        }
    }
}

static void
import__putty_line(import_t *im, const import_line_t *l, const import_line_t *next)
{
    size_t skip = import__putty_skip(l);
    const char *v = NULL;
    size_t n;
    char type[64];
    char spec_buf[32];
    const char *spec = NULL;
    int bits = 0;

    if ((v = import__after(l, skip, "Remote version: ", &n)) != NULL) {
        import_val_set(&im->ident, v, n, l->no, l->p, l->len);
    }
    if (import__after(l, skip, "Host key fingerprint is:", &n) != NULL && next != NULL) {
        size_t nskip = import__putty_skip(next);
        if (sscanf(next->p + nskip, "%63s %d", type, &bits) == 2 &&
            (spec = import_hostkey_spec(type, bits, spec_buf, sizeof spec_buf)) != NULL) {
            import_hostkey_add(im, spec, next->no, next->p, next->len);
        }
    }
    if ((v = import__after(l, skip, "Server also has ", &n)) != NULL) {
        /* "ecdsa-sha2-nistp256/rsa-sha2-512 host keys, but we don't know any" */
        char list[256];
        char *save = NULL;
        char *tok = NULL;
        size_t k = strcspn(v, " ");
        snprintf(list, sizeof list, "%.*s", (int)(k < n ? k : n), v);
        for (tok = strtok_r(list, "/", &save); tok != NULL; tok = strtok_r(NULL, "/", &save)) {
            if ((spec = import_hostkey_spec(tok, 0, spec_buf, sizeof spec_buf)) != NULL) {
                import_hostkey_add(im, spec, l->no, l->p, l->len);
            }
        }
    }
    if ((v = import__within(l, "(server sent: ", &n)) != NULL) {
        import_val_set(&im->auth_methods, v, strcspn(v, ")") < n ? strcspn(v, ")") : n, l->no,
                       l->p, l->len);
    }
    import__putty_weak(im, l, next != NULL ? next->p : "", next != NULL ? next->len : 0);
    import__putty_nomatch(im, l);
}

int
import_putty(const char *text, size_t len, import_t *im)
{
    import_line_t l = { NULL, 0, 0, 0 };
    import_line_t next = { NULL, 0, 0, 0 };
    int have_next;

    if (!import_line_next(text, len, &l)) {
        return 0;
    }
    do {
        next = l;
        have_next = import_line_next(text, len, &next);
        import__putty_line(im, &l, have_next ? &next : NULL);
        l = next;
    } while (have_next);
    util_buf_puts(&im->notes, "# PuTTY's log names the algorithms it chose, not the server's "
                              "lists: those stay at their defaults.\n");
    return 0;
}
