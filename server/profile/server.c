/*
 * server: the handlers of the keywords that say how the server presents
 * itself and lets clients in (Identification, ListenAddress, HostKey,
 * AuthenticationMethods, Banner, MaxStartups, Fault), with their printers
 * and the checks that span several of them.
 */
#include "profile/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libssh/libssh.h>

#define PROFILE__BANNER_MAX (64 * 1024)
#define PROFILE__IDENT_MAX 253            /* 255 with CR LF (RFC 4253 4.2) */

int
profile__set_identification(profile__parser_t *ps, const profile__keyword_t *kw,
                            char **argv, int argc, profile__full_t *to)
{
    char *line = NULL;
    const char *c;
    int rc = profile__join(ps, kw, argv, argc, &line);

    if (rc < 0) {
        return rc;
    }
    if (strncmp(line, "SSH-", 4) != 0) {
        rc = profile__fail(ps, ps->line, "%s: '%s' does not start with \"SSH-\"",
                           kw->name, line);
        goto out;
    }
    if (strlen(line) > PROFILE__IDENT_MAX) {
        rc = profile__fail(ps, ps->line,
                           "%s: longer than %d characters (RFC 4253 allows 255 "
                           "with CR LF)", kw->name, PROFILE__IDENT_MAX);
        goto out;
    }
    for (c = line; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) {
            rc = profile__fail(ps, ps->line,
                               "%s: only printable ASCII is allowed", kw->name);
            goto out;
        }
    }
    to->pub.identification = line;
    line = NULL;
out:
    free(line);
    return rc;
}

/* Cuts ADDRESS, ADDRESS:PORT or [ADDRESS]:PORT into host and port (NULL:
 * none). Returns 0 when host is a numeric address, -1 otherwise. */
static int
profile__listen_split(const char *arg, char *host, size_t hostsize, const char **port)
{
    unsigned char addr[sizeof(struct in6_addr)];
    const char *colon = strchr(arg, ':');
    size_t hostlen;

    *port = NULL;
    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');

        if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
            return -1;
        }
        hostlen = (size_t)(close - arg - 1);
        if (hostlen >= hostsize) {
            return -1;
        }
        memcpy(host, arg + 1, hostlen);
        host[hostlen] = '\0';
        if (close[1] == ':') {
            *port = close + 2;
        }
        return inet_pton(AF_INET6, host, addr) == 1 ? 0 : -1;
    }
    if (colon != NULL && strchr(colon + 1, ':') == NULL) {
        hostlen = (size_t)(colon - arg);
        if (hostlen >= hostsize) {
            return -1;
        }
        memcpy(host, arg, hostlen);
        host[hostlen] = '\0';
        *port = colon + 1;
        return inet_pton(AF_INET, host, addr) == 1 ? 0 : -1;
    }
    if (strlen(arg) >= hostsize) {
        return -1;
    }
    util_strlcpy(host, arg, hostsize);
    return inet_pton(AF_INET, host, addr) == 1 ||
           inet_pton(AF_INET6, host, addr) == 1 ? 0 : -1;
}

/* sshd -T prints "listenaddress 0.0.0.0:22" and "[::]:22", so the forms
 * with a port are accepted as well as a bare address. */
int
profile__set_listen(profile__parser_t *ps, const profile__keyword_t *kw,
                    char **argv, int argc, profile__full_t *to)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port = NULL;
    int portnum = 0;

    if (profile__listen_split(argv[0], host, sizeof host, &port) < 0) {
        return profile__fail(ps, ps->line,
                             "%s: '%s' is not a numeric IPv4 or IPv6 address "
                             "(optionally ADDRESS:PORT or [ADDRESS]:PORT)",
                             kw->name, argv[0]);
    }
    if (port != NULL) {
        int rc = profile__number(ps, kw, port, 1, 65535, &portnum);

        if (rc < 0) {
            return rc;
        }
    }
    to->pub.listen_address = strdup(host);
    if (to->pub.listen_address == NULL) {
        return profile__nomem(ps);
    }
    to->listen_port = portnum;
    return 0;
}

/* ---- host keys ------------------------------------------------------------ */

static const struct {
    const char *spec;   /* after "generate:" */
    int keytype;
    int bits;
} profile__key_specs[] = {
    { "ed25519", SSH_KEYTYPE_ED25519, 0 },
    { "ecdsa-256", SSH_KEYTYPE_ECDSA_P256, 256 },
    { "ecdsa-384", SSH_KEYTYPE_ECDSA_P384, 384 },
    { "ecdsa-521", SSH_KEYTYPE_ECDSA_P521, 521 },
    /* Accepted so old-server profiles can say what they mean; whether the
     * linked libssh can make or use one is the hostkey module's business
     * (libssh 0.10.6 here is built without DSA). */
    { "dsa", SSH_KEYTYPE_DSS, 1024 },
};

/* HostKey generate:SPEC into hk (spec, keytype, bits). */
static int
profile__hostkey_spec(profile__parser_t *ps, const profile__keyword_t *kw,
                      const char *arg, profile_hostkey_t *hk)
{
    const char *spec = arg + 9;
    char canon[32];
    size_t i;

    hk->kind = PROFILE_HOSTKEY_GENERATE;
    for (i = 0; i < UTIL_ARRAY_SIZE(profile__key_specs); i++) {
        if (strcmp(spec, profile__key_specs[i].spec) == 0) {
            hk->keytype = profile__key_specs[i].keytype;
            hk->bits = profile__key_specs[i].bits;
            util_strlcpy(canon, spec, sizeof canon);
            break;
        }
    }
    if (i == UTIL_ARRAY_SIZE(profile__key_specs)) {
        char *end = NULL;
        long bits;

        if (strncmp(spec, "rsa-", 4) != 0 || spec[4] < '0' || spec[4] > '9') {
            return profile__fail(ps, ps->line,
                                 "%s: bad key spec '%s' (expected generate:ed25519, "
                                 "generate:ecdsa-256|384|521, generate:rsa-BITS or "
                                 "generate:dsa)", kw->name, arg);
        }
        errno = 0;
        bits = strtol(spec + 4, &end, 10);
        if (*end != '\0' || errno == ERANGE || bits < 1024 || bits > 16384) {
            return profile__fail(ps, ps->line,
                                 "%s: bad RSA size in '%s' (1024..16384 bits)",
                                 kw->name, arg);
        }
        hk->keytype = SSH_KEYTYPE_RSA;
        hk->bits = (int)bits;
        snprintf(canon, sizeof canon, "rsa-%d", hk->bits);
    }
    hk->spec = strdup(canon);
    return hk->spec == NULL ? profile__nomem(ps) : 0;
}

int
profile__set_hostkey(profile__parser_t *ps, const profile__keyword_t *kw,
                     char **argv, int argc, profile__full_t *to)
{
    profile_t *p = &to->pub;
    const char *arg = argv[0];
    profile_hostkey_t hk;
    int rc;

    memset(&hk, 0, sizeof hk);
    hk.line = ps->line;
    if (p->nhostkeys >= PROFILE_MAX_HOSTKEYS) {
        return profile__fail(ps, ps->line, "%s: too many host keys (at most %d)",
                             kw->name, PROFILE_MAX_HOSTKEYS);
    }
    if (strcmp(arg, "none") == 0) {
        /* The server whose host keys are missing: see hostkey_none. */
        if (argc < 2 || strcmp(argv[1], "deleted") == 0) {
            p->hostkey_none = PROFILE_HOSTKEY_NONE_DELETED;
        } else if (strcmp(argv[1], "kex") == 0) {
            p->hostkey_none = PROFILE_HOSTKEY_NONE_KEX;
        } else if (strcmp(argv[1], "refused") == 0) {
            p->hostkey_none = PROFILE_HOSTKEY_NONE_REFUSED;
        } else {
            return profile__fail(ps, ps->line, "%s none %s: expected deleted (keys deleted "
                                 "under a running sshd: reset before the banner), refused "
                                 "(sshd did not start: connection refused) or kex (a close "
                                 "in key exchange)", kw->name, argv[1]);
        }
        return 0;
    }
    if (argc > 1) {
        return profile__fail(ps, ps->line, "%s %s: one PATH or generate:TYPE (only "
                             "\"none\" takes a variant)", kw->name, arg);
    }
    if (strncmp(arg, "generate:", 9) == 0) {
        rc = profile__hostkey_spec(ps, kw, arg, &hk);
        if (rc == 0) {
            p->hostkeys[p->nhostkeys++] = hk;
        }
        return rc;
    }
    hk.kind = PROFILE_HOSTKEY_FILE;
    hk.path = util_path_join(p->dir, arg);
    if (hk.path == NULL) {
        return profile__nomem(ps);
    }
    /* The key is parsed by the hostkey module; failing here, with a line
     * number, is kinder than failing there without one. */
    if (access(hk.path, R_OK) != 0) {
        int e = errno;

        rc = profile__fail(ps, ps->line, "%s: cannot read '%s': %s",
                           kw->name, hk.path, strerror(e));
        free(hk.path);
        return rc;
    }
    p->hostkeys[p->nhostkeys++] = hk;
    return 0;
}

void
profile__print_hostkeys(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                        const char *lname)
{
    size_t i;

    if (p->hostkey_none == PROFILE_HOSTKEY_NONE_DELETED) {
        fprintf(f, "%s none deleted\n", lname);
    } else if (p->hostkey_none == PROFILE_HOSTKEY_NONE_KEX) {
        fprintf(f, "%s none kex\n", lname);
    } else if (p->hostkey_none == PROFILE_HOSTKEY_NONE_REFUSED) {
        fprintf(f, "%s none refused\n", lname);
    }
    for (i = 0; i < p->nhostkeys; i++) {
        if (p->hostkeys[i].kind == PROFILE_HOSTKEY_GENERATE) {
            fprintf(f, "%s generate:%s\n", lname, p->hostkeys[i].spec);
        } else {
            fprintf(f, "%s ", lname);
            profile__print_word(f, p->hostkeys[i].path);
            fputc('\n', f);
        }
    }
}

int
profile__check_hostkeys(profile__parser_t *ps)
{
    const profile_t *p = &ps->full->pub;

    if (p->hostkey_none && p->nhostkeys > 0) {
        return profile__fail(ps, profile__seen(ps, "HostKey"),
                             "HostKey none cannot be combined with other HostKey lines");
    }
    return 0;
}

/* ---- authentication --------------------------------------------------------- */

static const char *const profile__methods[] = {
    "password", "publickey", "keyboard-interactive", "none"
};

/* One argument of AuthenticationMethods: METHOD[,METHOD...]. */
static int
profile__check_method_list(profile__parser_t *ps, const profile__keyword_t *kw,
                           const char *arg)
{
    const char *s = arg;

    if (strcmp(s, "any") == 0) {
        return profile__fail(ps, ps->line, "%s: \"any\" must be the only argument",
                             kw->name);
    }
    while (*s != '\0' || s == arg) {
        size_t len = strcspn(s, ",");
        size_t m;
        int found = 0;

        for (m = 0; m < UTIL_ARRAY_SIZE(profile__methods); m++) {
            if (strlen(profile__methods[m]) == len &&
                strncmp(s, profile__methods[m], len) == 0) {
                found = 1;
            }
        }
        if (!found) {
            return profile__fail(ps, ps->line,
                                 "%s: unknown method '%.*s' in '%s' (expected "
                                 "password, publickey, keyboard-interactive or none)",
                                 kw->name, (int)len, s, arg);
        }
        s += len;
        if (*s == ',') {
            s++;
            if (*s == '\0') {
                return profile__fail(ps, ps->line, "%s: empty method in '%s'",
                                     kw->name, arg);
            }
        }
    }
    return 0;
}

int
profile__set_auth_methods(profile__parser_t *ps, const profile__keyword_t *kw,
                          char **argv, int argc, profile__full_t *to)
{
    util_buf_t b = UTIL_BUF_INIT;
    int i;

    if (strcmp(argv[0], "any") == 0 && argc > 1) {
        return profile__fail(ps, ps->line, "%s: \"any\" must be the only argument",
                             kw->name);
    }
    for (i = 0; strcmp(argv[0], "any") != 0 && i < argc; i++) {
        int rc = profile__check_method_list(ps, kw, argv[i]);

        if (rc < 0) {
            return rc;
        }
    }
    for (i = 0; i < argc; i++) {
        if ((i > 0 && util_buf_puts(&b, " ") < 0) || util_buf_puts(&b, argv[i]) < 0) {
            util_buf_free(&b);
            return profile__nomem(ps);
        }
    }
    to->pub.authentication_methods = b.data;
    return 0;
}

/* AuthenticationMethods may only name methods that are switched on. sshd
 * itself only refuses a configuration where no list can be satisfied;
 * sshmock is stricter because a list that can never succeed in a mock is
 * almost certainly a mistake in the profile. */
int
profile__check_auth_methods(profile__parser_t *ps)
{
    static const struct {
        const char *method;
        const char *keyword;   /* the yes/no row that switches it on */
    } gates[] = {
        { "password", "PasswordAuthentication" },
        { "publickey", "PubkeyAuthentication" },
        { "keyboard-interactive", "KbdInteractiveAuthentication" },
    };
    const profile_t *p = &ps->full->pub;
    size_t g;

    if (strcmp(p->authentication_methods, "any") == 0) {
        return 0;
    }
    for (g = 0; g < UTIL_ARRAY_SIZE(gates); g++) {
        const profile__keyword_t *kw = profile__lookup(gates[g].keyword);
        const char *s = p->authentication_methods;
        size_t mlen = strlen(gates[g].method);

        if (*PROFILE__CSLOT(int, p, kw)) {
            continue;
        }
        while (*s != '\0') {
            size_t len = strcspn(s, ", ");

            if (len == mlen && strncmp(s, gates[g].method, len) == 0) {
                return profile__fail(ps, profile__seen(ps, "AuthenticationMethods"),
                                     "AuthenticationMethods names '%s', but "
                                     "%s is no (line %d)", gates[g].method,
                                     gates[g].keyword, profile__seen(ps, kw->name));
            }
            s += len;
            if (*s != '\0') {
                s++;
            }
        }
    }
    return 0;
}

/* ---- banner, MaxStartups, faults -------------------------------------------- */

int
profile__set_banner(profile__parser_t *ps, const profile__keyword_t *kw,
                    char **argv, int argc, profile__full_t *to)
{
    profile_t *p = &to->pub;
    char *path = NULL;
    char *data = NULL;
    size_t len = 0;
    int rc = 0;

    if (strcmp(argv[0], "none") == 0) {
        return 0;
    }
    path = util_path_join(p->dir, argv[0]);
    if (path == NULL) {
        return profile__nomem(ps);
    }
    errno = 0;
    if (util_read_file(path, PROFILE__BANNER_MAX, &data, &len) < 0) {
        if (errno == EFBIG) {
            rc = profile__fail(ps, ps->line, "%s: '%s' is larger than %d bytes",
                               kw->name, path, PROFILE__BANNER_MAX);
        } else {
            rc = profile__fail(ps, ps->line, "%s: cannot read '%s': %s",
                               kw->name, path, util_read_file_strerror(errno));
        }
    } else if (memchr(data, '\0', len) != NULL) {
        rc = profile__fail(ps, ps->line, "%s: '%s' contains a NUL byte",
                           kw->name, path);
    } else {
        p->banner_path = path;
        p->banner = data;
        return 0;
    }
    free(path);
    free(data);
    return rc;
}

/* ModuliFile PATH: the groups the server's diffie-hellman-group-exchange
 * offers, in sshd's moduli(5) format. An old appliance's file with 1024-bit
 * groups only is played as it is: sshmock's libssh sends the group nearest
 * the client's preferred size even below the client's minimum, and the
 * client decides (the system libssh clamps to 2048 bits instead). */
int
profile__set_moduli(profile__parser_t *ps, const profile__keyword_t *kw,
                    char **argv, int argc, profile__full_t *to)
{
    profile_t *p = &to->pub;
    char *path = NULL;

    (void)argc;
    if (strcmp(argv[0], "none") == 0) {
        return 0;
    }
    path = util_path_join(p->dir, argv[0]);
    if (path == NULL) {
        return profile__nomem(ps);
    }
    if (access(path, R_OK) != 0) {
        int rc = profile__fail(ps, ps->line, "%s: cannot read '%s': %s", kw->name, path,
                               strerror(errno));
        free(path);
        return rc;
    }
    free(p->moduli_file);
    p->moduli_file = path;
    return 0;
}

void
profile__print_moduli(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                      const char *lname)
{
    (void)kw;
    fprintf(f, "%s ", lname);
    profile__print_word(f, p->moduli_file != NULL ? p->moduli_file : "none");
    fputc('\n', f);
}

void
profile__print_banner(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                      const char *lname)
{
    fprintf(f, "%s ", lname);
    profile__print_word(f, p->banner_path != NULL ? p->banner_path : "none");
    fputc('\n', f);
}

int
profile__set_max_startups(profile__parser_t *ps, const profile__keyword_t *kw,
                          char **argv, int argc, profile__full_t *to)
{
    int start = 0, rate = 100, full = 0, n = 0;
    char tail = 0;

    n = sscanf(argv[0], "%d:%d:%d%c", &start, &rate, &full, &tail);
    if (n == 1 && strspn(argv[0], "0123456789") == strlen(argv[0])) {
        full = start; /* sshd: a single number refuses past it */
        rate = 100;
    } else if (n != 3) {
        start = -1;
    }
    if (start < 1 || rate < 1 || rate > 100 || full < start) {
        return profile__fail(ps, ps->line, "%s %s: expected START or START:RATE:FULL "
                             "with 1 <= START <= FULL and RATE from 1 to 100, "
                             "as in sshd_config", kw->name, argv[0]);
    }
    to->pub.max_startups_start = start;
    to->pub.max_startups_rate = rate;
    to->pub.max_startups_full = full;
    return 0;
}

void
profile__print_max_startups(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                            const char *lname)
{
    fprintf(f, "%s %d:%d:%d\n", lname, p->max_startups_start, p->max_startups_rate,
            p->max_startups_full);
}

/* AuthFailureDelay pam | sshd | none | TIME, TIME in milliseconds unless
 * it ends in s (seconds) or ms. Bounded by a minute: a longer wait only
 * plays a LoginGraceTime, which has its own keyword. */
int
profile__set_auth_failure_delay(profile__parser_t *ps, const profile__keyword_t *kw,
                                char **argv, int argc, profile__full_t *to)
{
    static const struct {
        const char *name;
        int value;
    } named[] = {
        { "pam", PROFILE_AUTH_DELAY_PAM },
        { "sshd", PROFILE_AUTH_DELAY_SSHD },
        { "none", PROFILE_AUTH_DELAY_NONE },
    };
    const char *arg = argv[0];
    char *end = NULL;
    long v = 0;
    size_t i;

    (void)argc;
    for (i = 0; i < UTIL_ARRAY_SIZE(named); i++) {
        if (strcasecmp(arg, named[i].name) == 0) {
            *PROFILE__SLOT(int, &to->pub, kw) = named[i].value;
            return 0;
        }
    }
    if (*arg < '0' || *arg > '9') {
        goto bad;
    }
    v = strtol(arg, &end, 10);
    if (strcasecmp(end, "s") == 0) {
        v = v > 60 ? 60001 : v * 1000;
    } else if (*end != '\0' && strcasecmp(end, "ms") != 0) {
        goto bad;
    }
    if (v > 60000) {
        return profile__fail(ps, ps->line, "%s %s: at most 60s", kw->name, arg);
    }
    *PROFILE__SLOT(int, &to->pub, kw) = (int)v;
    return 0;
bad:
    return profile__fail(ps, ps->line, "%s %s: expected pam, sshd, none or a time (300ms, 2s)",
                         kw->name, arg);
}

void
profile__print_auth_failure_delay(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                                  const char *lname)
{
    (void)kw;
    switch (p->auth_failure_delay) {
    case PROFILE_AUTH_DELAY_PAM:
        fprintf(f, "%s pam\n", lname);
        break;
    case PROFILE_AUTH_DELAY_SSHD:
        fprintf(f, "%s sshd\n", lname);
        break;
    case PROFILE_AUTH_DELAY_NONE:
        fprintf(f, "%s none\n", lname);
        break;
    default:
        fprintf(f, "%s %dms\n", lname, p->auth_failure_delay);
        break;
    }
}

int
profile__set_fault(profile__parser_t *ps, const profile__keyword_t *kw,
                   char **argv, int argc, profile__full_t *to)
{
    profile_t *p = &to->pub;
    fault_rule_t r;
    char err[512];

    if (fault_rule_parse(&r, argv, argc, err, sizeof err) < 0) {
        fault_rule_free(&r);
        return profile__fail(ps, ps->line, "%s: %s", kw->name, err);
    }
    if (p->nfaults >= FAULT_MAX_RULES) {
        fault_rule_free(&r);
        return profile__fail(ps, ps->line, "%s: too many rules (at most %d)",
                             kw->name, FAULT_MAX_RULES);
    }
    r.line = ps->line;
    if (PROFILE__APPEND(p->faults, p->nfaults, &r) < 0) {
        fault_rule_free(&r);
        return profile__nomem(ps);
    }
    return 0;
}

void
profile__print_faults(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                      const char *lname)
{
    size_t i;

    for (i = 0; i < p->nfaults; i++) {
        util_buf_t b = UTIL_BUF_INIT;

        fault_rule_format(&p->faults[i], &b);
        fprintf(f, "%s %s\n", lname, b.data != NULL ? b.data : "");
        util_buf_free(&b);
    }
}
