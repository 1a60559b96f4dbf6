/*
 * import_write: the profile text from an import_t, and `sshmock import`.
 *
 * Every setting is preceded by a comment naming the input line it came
 * from. Algorithm lists are the server's exact offer; what the linked
 * libssh cannot serve is named in a comment and left out of the keyword,
 * so the profile serves what it can and says what it cannot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/catalog.h"
#include "cli/diagnose.h"
#include "cli/import.h"
#include "profile/profile.h"
#include "base/util.h"

#define IMPORT_MAX_INPUT (16u * 1024 * 1024)

static void
import__origin(util_buf_t *o, const import_val_t *v)
{
    if (v->line > 0) {
        util_buf_printf(o, "# input line %d: %s\n", v->line, v->src);
    } else {
        util_buf_printf(o, "# input: %s\n", v->src);
    }
}

/* Names the server adds to its KEXINIT for extensions, not algorithms:
 * libssh adds its own. */
static int
import__pseudo(const char *name, size_t n)
{
    return (n >= 9 && memcmp(name, "ext-info-", 9) == 0) ||
           (n >= 11 && memcmp(name, "kex-strict-", 11) == 0);
}

/* An offer-only name the profile keeps, offered exactly as the server did
 * ("Their offer: ssh-rsa,ssh-dss"): the old algorithms sshmock knows
 * (ssh-dss, hmac-md5, arcfour...), which no current client picks by
 * default. Left out: vendor name@domain extensions, and what today's
 * clients pick first when offered (sntrup761, mlkem, umac), which would
 * make a server that works with those clients unplayable here. */
static int
import__keep_offer_only(algo_kind_t kind, const char *name)
{
    char *out = NULL;
    char err[256];
    int ok;

    if (strchr(name, '@') != NULL || strstr(name, "sntrup761") != NULL ||
        strstr(name, "mlkem") != NULL || strncmp(name, "umac-", 5) == 0) {
        return 0;
    }
    ok = algo_resolve(kind, name, &out, err, sizeof err) == 0;
    free(out);
    return ok;
}

/* Whether sshmock has the name at all (runnable, offer-only or a vendor's). */
static int
import__known(algo_kind_t kind, const char *name)
{
    char *out = NULL;
    char err[256];
    int ok = algo_resolve(kind, name, &out, err, sizeof err) == 0;

    free(out);
    return ok;
}

/* Whether import__algos would keep no name of list by the usual rule. */
static int
import__keeps_none(algo_kind_t kind, const char *list)
{
    const char *cur = list;
    const char *el = NULL;
    size_t n;

    while ((el = util_list_next(&cur, &n)) != NULL) {
        char name[128];
        if (n == 0 || n >= sizeof name || import__pseudo(el, n)) {
            continue;
        }
        memcpy(name, el, n);
        name[n] = '\0';
        if (algo_is_supported(kind, name) || import__keep_offer_only(kind, name)) {
            return 0;
        }
    }
    return 1;
}

static void
import__algos(const import_t *im, algo_kind_t kind, util_buf_t *o)
{
    const import_val_t *v = &im->algos[kind];
    util_buf_t ok = UTIL_BUF_INIT;
    util_buf_t offer = UTIL_BUF_INIT;
    util_buf_t bad = UTIL_BUF_INIT;
    const char *cur = v->value;
    const char *el = NULL;
    size_t n;

    if (v->value == NULL) {
        return;
    }
    /* A list of nothing but names left out above (a vendor's server that
     * offers only its own name@domain methods): served at the default, the
     * import would let in the client that failed, so keep them exactly. */
    int keep_all = import__keeps_none(kind, v->value);

    while ((el = util_list_next(&cur, &n)) != NULL) {
        char name[128];
        if (n == 0 || n >= sizeof name || import__pseudo(el, n)) {
            continue;
        }
        memcpy(name, el, n);
        name[n] = '\0';
        int runnable = algo_is_supported(kind, name);
        int keep = runnable || import__keep_offer_only(kind, name) ||
                   (keep_all && import__known(kind, name));
        util_buf_t *dst = keep ? &ok : &bad;
        util_buf_printf(dst, "%s%s", dst->len > 0 ? "," : "", name);
        if (keep && !runnable) {
            util_buf_printf(&offer, "%s%s", offer.len > 0 ? "," : "", name);
        }
    }
    import__origin(o, v);
    if (bad.len > 0 || offer.len > 0) {
        util_buf_printf(o, "# the server offers exactly: %s\n", v->value);
    }
    if (offer.len > 0) {
        util_buf_printf(o, "# offer-only in this build (offered exactly, never run): %s\n",
                        offer.data);
    }
    if (bad.len > 0) {
        util_buf_printf(o, "# this libssh cannot serve: %s\n", bad.data);
    }
    if (ok.len > 0) {
        util_buf_printf(o, "%s %s\n", algo_keyword(kind), ok.data);
    } else {
        util_buf_printf(o, "# none of it can be served here: %s left at its default\n",
                        algo_keyword(kind));
    }
    util_buf_free(&ok);
    util_buf_free(&offer);
    util_buf_free(&bad);
}

/* HostKey lines: the keys the input names, then one for every servable
 * host key algorithm that has no key yet (at the default size). */
static void
import__hostkeys(const import_t *im, util_buf_t *o)
{
    import_t tmp;
    const char *cur = NULL;
    const char *el = NULL;
    size_t n;
    size_t i;

    memset(&tmp, 0, sizeof tmp);
    for (i = 0; i < im->nhostkeys; i++) {
        import__origin(o, &im->hostkeys[i]);
        util_buf_printf(o, "HostKey generate:%s\n", im->hostkeys[i].value);
        import_hostkey_add(&tmp, im->hostkeys[i].value, 0, "", 0);
    }
    /* sshd offers only the algorithms of the keys it has: when the input
     * names every key, no other is made up. */
    cur = im->hostkeys_exact ? NULL : im->algos[ALGO_HOSTKEY].value;
    while (cur != NULL && (el = util_list_next(&cur, &n)) != NULL) {
        char name[128];
        char buf[32];
        const char *spec = NULL;
        size_t before = tmp.nhostkeys;
        if (n == 0 || n >= sizeof name) {
            continue;
        }
        memcpy(name, el, n);
        name[n] = '\0';
        spec = algo_is_supported(ALGO_HOSTKEY, name) ? import_hostkey_spec(name, 0, buf, sizeof buf)
                                                     : NULL;
        if (spec == NULL) {
            continue;
        }
        import_hostkey_add(&tmp, spec, 0, "", 0);
        if (tmp.nhostkeys > before) {
            util_buf_printf(o, "# for %s in the host key algorithms (size not in the input: "
                            "the default)\nHostKey generate:%s\n", name, spec);
        }
    }
    import_free(&tmp);
}

static void
import__auth(const import_t *im, util_buf_t *o)
{
    static const struct { const char *method; const char *keyword; } rows[] = {
        { "publickey", "PubkeyAuthentication" },
        { "password", "PasswordAuthentication" },
        { "keyboard-interactive", "KbdInteractiveAuthentication" },
    };
    const char *m = im->auth_methods.value;
    size_t i;

    if (m != NULL) {
        import__origin(o, &im->auth_methods);
        for (i = 0; i < UTIL_ARRAY_SIZE(rows); i++) {
            util_buf_printf(o, "%s %s\n", rows[i].keyword,
                            util_list_has(m, rows[i].method, strlen(rows[i].method)) ? "yes"
                                                                                      : "no");
        }
    }
    if (im->max_auth_tries.value != NULL) {
        import__origin(o, &im->max_auth_tries);
        util_buf_printf(o, "MaxAuthTries %s\n", im->max_auth_tries.value);
    }
    if (im->login_grace_time.value != NULL) {
        import__origin(o, &im->login_grace_time);
        util_buf_printf(o, "LoginGraceTime %s\n", im->login_grace_time.value);
    }
    if (im->max_startups.value != NULL) {
        import__origin(o, &im->max_startups);
        util_buf_printf(o, "MaxStartups %s\n", im->max_startups.value);
    }
}

/* The catalogue's own words for the failure, so that `sshmock explain` of
 * the imported profile gives the fixes. */
static void
import__explain(const import_t *im, util_buf_t *o)
{
    const diag_class_t *c = diag_class_find(im->failure.value);
    char *path = NULL;
    profile_t *p = NULL;
    char err[256];
    const char *const *texts[3];
    static const char *const kw[3] = { "Explain", "FixClient", "FixServer" };
    size_t i;

    if (c == NULL || c->profile == NULL) {
        return;
    }
    /* "Permission denied" names a profile only when the server allowed
     * public keys alone; otherwise the catalogue's story is not this one. */
    if (strcmp(c->id, "auth-denied") == 0 &&
        (im->auth_methods.value == NULL || strcmp(im->auth_methods.value, "publickey") != 0)) {
        return;
    }
    path = catalog_resolve(c->profile);
    if (profile_load_warn(path, NULL, &p, err, sizeof err) != 0) {
        free(path);
        return;
    }
    free(path);
    texts[0] = (const char *const *)&p->explanation;
    texts[1] = (const char *const *)&p->fix_client;
    texts[2] = (const char *const *)&p->fix_server;
    util_buf_printf(o, "\n# What is going on and the fixes: the words of the catalogue's %s "
                    "(sshmock explain %s)\n", c->profile, c->profile);
    for (i = 0; i < 3; i++) {
        const char *line = *texts[i];
        while (line != NULL && *line != '\0') {
            const char *nl = strchr(line, '\n');
            int len = nl != NULL ? (int)(nl - line) : (int)strlen(line);
            util_buf_printf(o, "%s %.*s\n", kw[i], len, line);
            line = nl != NULL ? nl + 1 : NULL;
        }
    }
    profile_free(p);
}

static void
import__header(const import_t *im, const char *source, const char *cmdline, util_buf_t *o)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    const diag_class_t *c = diag_class_find(im->failure.value);

    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
    util_buf_printf(o, "# %s on %s\n# from: %s (%s)\n# command: %s\n",
                    im->format == DETECT_FMT_CAPTURE ? "Captured by sshmock capture"
                                                     : "Imported by sshmock import",
                    date, source, detect_format_name(im->format), cmdline);
    util_buf_puts(o, "# Each setting names the input line it came from; what the input does not\n"
                     "# say stays at its default (docs/profile-reference.md).\n");
    if (im->notes.len > 0) {
        util_buf_puts(o, im->notes.data);
    }
    util_buf_printf(o, "\nDescription %s %s (%s)%s%s\n",
                    im->format == DETECT_FMT_CAPTURE ? "Captured from" : "Imported from", source,
                    detect_format_name(im->format), c != NULL ? ": " : "",
                    c != NULL ? c->summary : "");
}

static void
import__account(util_buf_t *o)
{
    static const char *const keys[] = { "demo_ed25519.pub", "demo_rsa.pub" };
    size_t i;

    util_buf_puts(o, "\n# The catalogue's demo account (test credentials), so clients can log in.\n"
                     "Account demo demo\n");
    for (i = 0; i < UTIL_ARRAY_SIZE(keys); i++) {
        char *dir = util_path_join(catalog_dir(), "keys");
        char *path = util_path_join(dir, keys[i]);
        if (path != NULL && access(path, R_OK) == 0) {
            util_buf_printf(o, "AccountKeyFile demo %s\n", path);
        }
        free(dir);
        free(path);
    }
    util_buf_puts(o, "ExecResponse \"echo hello\" 0 \"hello\\n\"\n");
}

int
import_write(const import_t *im, const char *source, const char *cmdline, util_buf_t *o,
             char *err, size_t errlen)
{
    profile_t *p = NULL;
    char perr[512];
    algo_kind_t k;

    import__header(im, source, cmdline, o);
    if (im->ident.value != NULL && strncmp(im->ident.value, "SSH-", 4) == 0 &&
        strpbrk(im->ident.value, "\r\n") == NULL) {
        import__origin(o, &im->ident);
        util_buf_printf(o, "Identification %s\n", im->ident.value);
    }
    for (k = ALGO_KEX; k < ALGO__COUNT; k++) {
        import__algos(im, k, o);
    }
    import__hostkeys(im, o);
    import__auth(im, o);
    if (im->hostkey_rotation.value != NULL) {
        import__origin(o, &im->hostkey_rotation);
        util_buf_printf(o, "HostKeyRotation %s\n", im->hostkey_rotation.value);
    }
    if (im->fault.value != NULL) {
        import__origin(o, &im->fault);
        util_buf_printf(o, "Fault %s\n", im->fault.value); /* may hold "\nFault ..." */
    }
    if (im->moduli_file.value != NULL) {
        import__origin(o, &im->moduli_file);
        util_buf_printf(o, "ModuliFile %s\n", im->moduli_file.value);
    }
    if (im->banner.value != NULL && im->banner_file != NULL) {
        import__origin(o, &im->banner);
        util_buf_printf(o, "Banner %s\n", im->banner_file);
    } else if (im->banner.value != NULL) {
        import__origin(o, &im->banner);
        util_buf_puts(o, "# (a pre-auth banner was shown: put its text in a file and add "
                         "\"Banner FILE\")\n");
    }
    import__account(o);
    import__explain(im, o);
    if (o->data == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* Never hand out a profile sshmock itself would refuse. */
    if (profile_parse("imported.conf", o->data, o->len, NULL, &p, perr, sizeof perr) != 0) {
        snprintf(err, errlen, "the profile made from this input does not load: %s", perr);
        return -1;
    }
    profile_free(p);
    return 0;
}

static const char import__usage[] =
    "Usage: sshmock import FILE|- [-o PROFILE]\n"
    "\n"
    "Builds a profile from what a customer sends: OpenSSH client output (ssh -v,\n"
    "-vv or -vvv), PuTTY's event log (or plink -v), sshd -T output, ssh-audit's\n"
    "JSON (ssh-audit -j), or nmap's ssh2-enum-algos and ssh-hostkey output. The\n"
    "format is detected. Each setting is written with a comment naming the input\n"
    "line it came from; what the input does not say stays at its default. Where\n"
    "the input shows a failure, the profile plays it (a Fault) and carries the\n"
    "catalogue's explanation and fixes. Algorithms the linked libssh cannot serve\n"
    "are named in a comment and left out.\n"
    "\n"
    "  -o, --output PROFILE   write the profile there (default: standard output)\n"
    "\n"
    "Exit status: 0 written, 1 the input holds nothing usable or no loadable\n"
    "profile could be made of it, 2 bad usage or an unreadable input.\n";

static int
import__read(const char *arg, char **data, size_t *len)
{
    util_buf_t b = UTIL_BUF_INIT;
    char chunk[65536];
    ssize_t n;

    if (strcmp(arg, "-") != 0) {
        return util_read_file(arg, IMPORT_MAX_INPUT, data, len);
    }
    while ((n = read(STDIN_FILENO, chunk, sizeof chunk)) > 0) {
        if (b.len + (size_t)n > IMPORT_MAX_INPUT || util_buf_append(&b, chunk, (size_t)n) != 0) {
            util_buf_free(&b);
            errno = EFBIG;
            return -1;
        }
    }
    *data = b.data != NULL ? b.data : strdup("");
    *len = b.len;
    return n < 0 || *data == NULL ? -1 : 0;
}

static int
import__output(const char *out_path, const util_buf_t *text)
{
    FILE *f = NULL;

    if (out_path == NULL) {
        fwrite(text->data, 1, text->len, stdout);
        return fflush(stdout) == 0 ? 0 : -1;
    }
    f = fopen(out_path, "w");
    if (f == NULL) {
        return -1;
    }
    if (fwrite(text->data, 1, text->len, f) != text->len) {
        fclose(f);
        return -1;
    }
    return fclose(f);
}

int
import_main(int argc, char **argv)
{
    const char *in = NULL;
    const char *out_path = NULL;
    util_buf_t cmd = UTIL_BUF_INIT;
    util_buf_t text = UTIL_BUF_INIT;
    import_t im;
    char err[768];
    char *data = NULL;
    size_t len = 0;
    int rc = 2;
    int i;

    memset(&im, 0, sizeof im);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(import__usage, stdout);
            return 0;
        } else if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) &&
                   i + 1 < argc) {
            out_path = argv[++i];
        } else if (in == NULL && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) {
            in = argv[i];
        } else {
            fputs(import__usage, stderr);
            return 2;
        }
    }
    if (in == NULL) {
        fputs(import__usage, stderr);
        return 2;
    }
    if (import__read(in, &data, &len) != 0) {
        fprintf(stderr, "sshmock import: %s: %s\n", in, errno == EFBIG
                ? "larger than 16 MiB" : util_read_file_strerror(errno));
        return 2;
    }
    if (memchr(data, '\0', len) != NULL) {
        fprintf(stderr, "sshmock import: %s: not text (binary data?)\n", in);
        goto out;
    }
    rc = 1;
    if (import_parse(data, len, &im, err, sizeof err) != 0) {
        fprintf(stderr, "sshmock import: %s: %s\n", in, err);
        goto out;
    }
    util_buf_puts(&cmd, "sshmock import");
    for (i = 1; i < argc; i++) {
        util_buf_printf(&cmd, " %s", argv[i]);
    }
    if (import_write(&im, strcmp(in, "-") == 0 ? "standard input" : in, cmd.data, &text, err,
                     sizeof err) != 0) {
        fprintf(stderr, "sshmock import: %s: %s\n", in, err);
        goto out;
    }
    if (import__output(out_path, &text) != 0) {
        fprintf(stderr, "sshmock import: %s: %s\n", out_path, strerror(errno));
        rc = 2;
        goto out;
    }
    fprintf(stderr, "sshmock import: %s: %s%s%s\n", in, detect_format_name(im.format),
            im.failure.value != NULL ? "; failure: " : "",
            im.failure.value != NULL ? im.failure.value : "");
    if (out_path != NULL) {
        fprintf(stderr, "sshmock import: wrote %s; play it: sshmock serve %s\n", out_path,
                out_path);
    }
    rc = 0;
out:
    import_free(&im);
    util_buf_free(&cmd);
    util_buf_free(&text);
    free(data);
    return rc;
}
