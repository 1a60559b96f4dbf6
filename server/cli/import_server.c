/*
 * import_server: the readers of server descriptions: `sshd -T` (the
 * effective sshd configuration), ssh-audit's JSON (ssh-audit -j) and nmap's
 * ssh2-enum-algos / ssh-hostkey scripts. They describe a server, not a
 * failure: no Fault comes from them.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cli/import.h"
#include "base/util.h"

/* --- sshd -T ------------------------------------------------------------------------ */

static void
srv__sshd_auth(import_t *im, const char *kw, const char *v, size_t n, const import_line_t *l)
{
    static const struct { const char *kw; const char *method; } rows[] = {
        { "pubkeyauthentication", "publickey" },
        { "passwordauthentication", "password" },
        { "kbdinteractiveauthentication", "keyboard-interactive" },
    };
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(rows); i++) {
        if (strcmp(kw, rows[i].kw) == 0 && n == 3 && memcmp(v, "yes", 3) == 0) {
            util_buf_t b = UTIL_BUF_INIT;
            if (im->auth_methods.value != NULL) {
                util_buf_printf(&b, "%s,", im->auth_methods.value);
                free(im->auth_methods.value);
                im->auth_methods.value = NULL;
            }
            util_buf_puts(&b, rows[i].method);
            import_val_set(&im->auth_methods, b.data, b.len, l->no, l->p, l->len);
            util_buf_free(&b);
        }
    }
}

/* sshd's host key file name says its type: ssh_host_ed25519_key. */
static void
srv__sshd_hostkey(import_t *im, const char *v, size_t n, const import_line_t *l)
{
    static const struct { const char *part; const char *spec; } rows[] = {
        { "ed25519", "ed25519" }, { "ecdsa", "ecdsa-256" }, { "rsa", "rsa-3072" },
    };
    char path[512];
    size_t i;

    snprintf(path, sizeof path, "%.*s", (int)n, v);
    for (i = 0; i < UTIL_ARRAY_SIZE(rows); i++) {
        if (strstr(path, rows[i].part) != NULL) {
            import_hostkey_add(im, rows[i].spec, l->no, l->p, l->len);
            util_buf_printf(&im->notes, "# %s: a fresh %s key of the same type (sshd -T does "
                            "not say its size; the default)\n", path, rows[i].spec);
            return;
        }
    }
}

int
import_sshd_t(const char *text, size_t len, import_t *im)
{
    static const struct { const char *kw; algo_kind_t kind; } lists[] = {
        { "kexalgorithms", ALGO_KEX }, { "ciphers", ALGO_CIPHER }, { "macs", ALGO_MAC },
        { "hostkeyalgorithms", ALGO_HOSTKEY }, { "pubkeyacceptedalgorithms", ALGO_PUBKEY },
        { "pubkeyacceptedkeytypes", ALGO_PUBKEY },
    };
    import_line_t l = { NULL, 0, 0, 0 };
    size_t i;

    while (import_line_next(text, len, &l)) {
        char kw[64];
        size_t k = strcspn(l.p, " \t\n");
        const char *v = NULL;
        size_t n;
        if (k == 0 || k >= sizeof kw || k >= l.len) {
            continue;
        }
        snprintf(kw, sizeof kw, "%.*s", (int)k, l.p);
        v = l.p + k + 1;
        n = l.len - k - 1;
        for (i = 0; i < UTIL_ARRAY_SIZE(lists); i++) {
            if (strcmp(kw, lists[i].kw) == 0) {
                import_val_set(&im->algos[lists[i].kind], v, n, l.no, l.p, l.len);
            }
        }
        if (strcmp(kw, "maxauthtries") == 0) {
            import_val_set(&im->max_auth_tries, v, n, l.no, l.p, l.len);
        } else if (strcmp(kw, "logingracetime") == 0) {
            import_val_set(&im->login_grace_time, v, n, l.no, l.p, l.len);
        } else if (strcmp(kw, "maxstartups") == 0) {
            import_val_set(&im->max_startups, v, n, l.no, l.p, l.len);
        } else if (strcmp(kw, "hostkey") == 0) {
            srv__sshd_hostkey(im, v, n, &l);
        } else if (strcmp(kw, "banner") == 0 && !(n == 4 && memcmp(v, "none", 4) == 0)) {
            import_val_set(&im->banner, v, n, l.no, l.p, l.len);
        } else {
            srv__sshd_auth(im, kw, v, n, &l);
        }
    }
    im->hostkeys_exact = im->nhostkeys > 0;
    if (im->auth_methods.value == NULL) {
        /* All three said "no": nothing may log in, which is what it says. */
        import_val_set(&im->auth_methods, "none", 4, 0, "sshd -T: no authentication enabled", 34);
    }
    util_buf_puts(&im->notes, "# sshd -T does not print the version: Identification stays at "
                              "its default.\n");
    return 0;
}

/* --- ssh-audit -j -------------------------------------------------------------------- */

/* An ssh-audit list: strings (older versions) or {"algorithm": ...} objects. */
static void
srv__audit_list(import_t *im, json_t *root, const char *key, algo_kind_t kind)
{
    json_t *arr = json_object_get(root, key);
    util_buf_t b = UTIL_BUF_INIT;
    char src[64];
    size_t i;
    json_t *el = NULL;

    if (!json_is_array(arr)) {
        return;
    }
    json_array_foreach(arr, i, el) {
        const char *name = json_is_string(el) ? json_string_value(el)
                         : json_string_value(json_object_get(el, "algorithm"));
        if (name != NULL && name[0] != '\0' && strlen(name) < 128 && strchr(name, ',') == NULL &&
            b.len < 4096) {
            util_buf_printf(&b, "%s%s", b.len > 0 ? "," : "", name);
        }
    }
    snprintf(src, sizeof src, "JSON .%s[] (%zu entries)", key, json_array_size(arr));
    if (b.len > 0) {
        import_val_set(&im->algos[kind], b.data, b.len, 0, src, strlen(src));
    }
    util_buf_free(&b);
}

static void
srv__audit_keys(import_t *im, json_t *root)
{
    json_t *arr = json_object_get(root, "key");
    json_t *el = NULL;
    util_buf_t algs = UTIL_BUF_INIT;
    size_t i;

    if (!json_is_array(arr)) {
        return;
    }
    json_array_foreach(arr, i, el) {
        const char *alg = json_string_value(json_object_get(el, "algorithm"));
        json_t *ks = json_object_get(el, "keysize");
        char buf[32];
        char src[96];
        const char *spec = NULL;
        if (alg == NULL) {
            alg = json_string_value(el);
        }
        if (alg == NULL || strlen(alg) > 64 || strchr(alg, ',') != NULL) {
            continue;
        }
        util_buf_printf(&algs, "%s%s", algs.len > 0 ? "," : "", alg);
        spec = import_hostkey_spec(alg, json_is_integer(ks) ? (int)json_integer_value(ks) : 0,
                                   buf, sizeof buf);
        snprintf(src, sizeof src, "JSON .key[%zu]: %s%s", i, alg,
                 json_is_integer(ks) ? " with keysize" : "");
        if (spec != NULL) {
            import_hostkey_add(im, spec, 0, src, strlen(src));
        }
    }
    if (algs.len > 0) {
        import_val_set(&im->algos[ALGO_HOSTKEY], algs.data, algs.len, 0, "JSON .key[]", 11);
    }
    util_buf_free(&algs);
}

int
import_ssh_audit(const char *text, size_t len, import_t *im, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    json_t *banner = NULL;
    const char *raw = NULL;

    if (root == NULL || !json_is_object(root)) {
        snprintf(err, errlen, "not valid JSON (line %d: %s)", jerr.line, jerr.text);
        json_decref(root);
        return -1;
    }
    banner = json_object_get(root, "banner");
    raw = json_string_value(json_object_get(banner, "raw"));
    if (raw == NULL) {
        raw = json_string_value(banner);
    }
    if (raw != NULL) {
        import_val_set(&im->ident, raw, strlen(raw), 0, "JSON .banner.raw", 16);
    }
    srv__audit_list(im, root, "kex", ALGO_KEX);
    srv__audit_list(im, root, "enc", ALGO_CIPHER);
    srv__audit_list(im, root, "mac", ALGO_MAC);
    srv__audit_keys(im, root);
    json_decref(root);
    if (im->ident.value == NULL && im->algos[ALGO_KEX].value == NULL) {
        snprintf(err, errlen, "JSON without ssh-audit's \"banner\" or \"kex\": not ssh-audit -j "
                 "output");
        return -1;
    }
    return 0;
}

/* --- nmap ---------------------------------------------------------------------------- */

/* "|   kex_algorithms: (10)" starts a list; "|       NAME" are its items,
 * "|_      NAME" the last one. */
static int
srv__nmap_kind(const char *p, size_t n, algo_kind_t *kind)
{
    static const struct { const char *label; algo_kind_t kind; } rows[] = {
        { "kex_algorithms:", ALGO_KEX }, { "server_host_key_algorithms:", ALGO_HOSTKEY },
        { "encryption_algorithms:", ALGO_CIPHER }, { "mac_algorithms:", ALGO_MAC },
    };
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(rows); i++) {
        size_t k = strlen(rows[i].label);
        if (n >= k && memcmp(p, rows[i].label, k) == 0) {
            *kind = rows[i].kind;
            return 1;
        }
    }
    return 0;
}

/* "|   3072 SHA256:... (RSA)" from ssh-hostkey. */
static void
srv__nmap_hostkey(import_t *im, const import_line_t *l, const char *p, size_t n)
{
    static const struct { const char *tag; const char *alg; } rows[] = {
        { "(RSA)", "rsa" }, { "(ECDSA)", "ecdsa" }, { "(ED25519)", "ed25519" },
    };
    char buf[32];
    const char *spec = NULL;
    int bits = atoi(p);
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(rows); i++) {
        size_t k = strlen(rows[i].tag);
        if (bits > 0 && n > k && memcmp(p + n - k, rows[i].tag, k) == 0 &&
            (spec = import_hostkey_spec(rows[i].alg, bits, buf, sizeof buf)) != NULL) {
            import_hostkey_add(im, spec, l->no, l->p, l->len);
        }
    }
}

int
import_nmap(const char *text, size_t len, import_t *im)
{
    import_line_t l = { NULL, 0, 0, 0 };
    algo_kind_t kind = ALGO_KEX;
    int in_list = 0;
    int start_line = 0;
    util_buf_t items = UTIL_BUF_INIT;

    while (import_line_next(text, len, &l)) {
        const char *p = l.p;
        size_t n = l.len;
        int last = n >= 2 && p[0] == '|' && p[1] == '_';
        if (n == 0 || p[0] != '|') {
            in_list = 0;
            continue;
        }
        p += last ? 2 : 1;
        n -= last ? 2 : 1;
        while (n > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        if (srv__nmap_kind(p, n, &kind)) {
            in_list = 1;
            start_line = l.no;
            util_buf_reset(&items);
            continue;
        }
        if (in_list && n > 0 && n < 128 && memchr(p, ' ', n) == NULL && items.len < 4096) {
            util_buf_printf(&items, "%s%.*s", items.len > 0 ? "," : "", (int)n, p);
            if (last || l.cursor >= len || (l.cursor < len && text[l.cursor] != '|') ||
                (l.cursor + 6 < len && memcmp(text + l.cursor, "|      ", 7) != 0 &&
                 memcmp(text + l.cursor, "|_     ", 7) != 0)) {
                char src[64];
                snprintf(src, sizeof src, "nmap list from line %d to %d", start_line, l.no);
                import_val_set(&im->algos[kind], items.data, items.len, start_line, src,
                               strlen(src));
                in_list = 0;
            }
            continue;
        }
        in_list = 0;
        srv__nmap_hostkey(im, &l, p, n);
    }
    util_buf_free(&items);
    util_buf_puts(&im->notes, "# nmap does not print the exact identification line: "
                              "Identification stays at its default.\n");
    if (im->algos[ALGO_KEX].value == NULL && im->nhostkeys == 0) {
        return -1;
    }
    return 0;
}
