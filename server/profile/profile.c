/*
 * profile: the sshd_config-like file that describes one mock server (see
 * profile.h and docs/profile-reference.md).
 *
 * This file holds the entry points, the messages and what happens after
 * the last line. The language itself is the keyword table (keywords.c);
 * parse.c cuts lines and calls the rows' handlers (handlers.c for the
 * generic ones; server.c, accounts.c, session.c and matrix.c for the
 * keywords that need their own); print.c writes the effective profile back.
 * As in sshd, the first value obtained for a keyword wins and defaults and
 * the checks that span several keywords come after the last line, so the
 * order of keywords does not matter.
 */
#include "profile/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sshmock/sshmock.h>

#define PROFILE__FILE_MAX (1024 * 1024)   /* a profile is a page, not a log */

/* ---- messages ---------------------------------------------------------- */

/* Writes "FILE:LINE: message" (or "FILE: message" for line 0). */
int
profile__fail(profile__parser_t *ps, int line, const char *fmt, ...)
{
    va_list ap;
    int n = 0;

    if (ps->errbuf == NULL || ps->errlen == 0) {
        return SSHMOCK_EPROFILE;
    }
    if (line > 0) {
        n = snprintf(ps->errbuf, ps->errlen, "%s:%d: ", ps->path, line);
    } else {
        n = snprintf(ps->errbuf, ps->errlen, "%s: ", ps->path);
    }
    if (n >= 0 && (size_t)n < ps->errlen) {
        va_start(ap, fmt);
        vsnprintf(ps->errbuf + n, ps->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return SSHMOCK_EPROFILE;
}

int
profile__nomem(profile__parser_t *ps)
{
    if (ps->errbuf != NULL && ps->errlen > 0) {
        snprintf(ps->errbuf, ps->errlen, "%s: out of memory", ps->path);
    }
    return SSHMOCK_ENOMEM;
}

void
profile__warn(profile__parser_t *ps, int line, const char *fmt, ...)
{
    va_list ap;

    if (ps->warn == NULL) {
        return;
    }
    fprintf(ps->warn, "%s:%d: warning: ", ps->path, line);
    va_start(ap, fmt);
    vfprintf(ps->warn, fmt, ap);
    va_end(ap);
    fputc('\n', ps->warn);
}

/* ---- memory ------------------------------------------------------------ */

int
profile__append(void *arrp, size_t *n, const void *elem, size_t size)
{
    void *arr = NULL;
    char *grown = NULL;

    /* arrp is the address of a typed array pointer; copied, not cast, so
     * no pointer is read through the wrong type. */
    memcpy(&arr, arrp, sizeof arr);
    grown = realloc(arr, (*n + 1) * size);
    if (grown == NULL) {
        return -1;
    }
    memcpy(grown + *n * size, elem, size);
    memcpy(arrp, &grown, sizeof grown);
    (*n)++;
    return 0;
}

void
profile__exec_clear(profile_exec_t *e)
{
    free(e->command);
    free(e->out);
    free(e->err);
    memset(e, 0, sizeof *e);
}

void
profile__account_clear(profile_account_t *a)
{
    size_t i;

    free(a->name);
    if (a->password != NULL) {
        /* Passwords are test data, but nothing is gained by leaving them
         * in freed memory either. */
        memset(a->password, 0, strlen(a->password));
        free(a->password);
    }
    for (i = 0; i < a->nauthorized_keys; i++) {
        free(a->authorized_keys[i]);
    }
    free(a->authorized_keys);
    memset(a, 0, sizeof *a);
}

void
profile__client_opts_clear(profile_client_opts_t *o)
{
    size_t j;

    free(o->client);
    for (j = 0; j < o->nopts; j++) {
        free(o->opts[j]);
    }
    free(o->opts);
    memset(o, 0, sizeof *o);
}

static void
profile__client_opts_free(profile_client_opts_t *o, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        profile__client_opts_clear(&o[i]);
    }
    free(o);
}

static void
profile__free_lists(profile_t *p)
{
    size_t i;

    for (i = 0; i < p->nhostkeys; i++) {
        free(p->hostkeys[i].path);
        free(p->hostkeys[i].spec);
    }
    for (i = 0; i < p->naccounts; i++) {
        profile__account_clear(&p->accounts[i]);
    }
    free(p->accounts);
    for (i = 0; i < p->nexecs; i++) {
        profile__exec_clear(&p->execs[i]);
    }
    free(p->execs);
    for (i = 0; i < p->nfaults; i++) {
        fault_rule_free(&p->faults[i]);
    }
    free(p->faults);
    for (i = 0; i < p->nexpects; i++) {
        free(p->expects[i].client);
        free(p->expects[i].stage);
        free(p->expects[i].pattern);
    }
    free(p->expects);
    profile__client_opts_free(p->client_options, p->nclient_options);
    profile__client_opts_free(p->client_fixes, p->nclient_fixes);
    profile__said_free(p->said, p->nsaid);
}

void
profile_free(profile_t *p)
{
    profile__full_t *full = (profile__full_t *)p;
    size_t i;

    if (p == NULL) {
        return;
    }
    free(p->path);
    free(p->dir);
    free(p->name);
    free(p->description);
    free(p->identification);
    free(p->kex_algorithms);
    free(p->ciphers);
    free(p->macs);
    free(p->hostkey_algorithms);
    free(p->pubkey_accepted_algorithms);
    free(p->authentication_methods);
    free(p->banner_path);
    free(p->banner);
    free(p->moduli_file);
    free(p->listen_address);
    profile__free_lists(p);
    profile__exec_clear(&p->default_exec);
    free(p->shell_prompt);
    free(p->explanation);
    free(p->fix_client);
    free(p->fix_server);
    for (i = 0; i < full->nignored; i++) {
        free(full->ignored[i].args);
    }
    free(full->ignored);
    free(full);
}

static void
profile__parser_clear(profile__parser_t *ps)
{
    size_t i;

    for (i = 0; i < ps->nkeys; i++) {
        free(ps->keys[i].account);
        free(ps->keys[i].key);
    }
    free(ps->keys);
    ps->keys = NULL;
    ps->nkeys = 0;
    free(ps->exec_lines);
    ps->exec_lines = NULL;
    ps->nexec_lines = 0;
    free(ps->seen);
    ps->seen = NULL;
}

/* ---- after the last line ------------------------------------------------ */

static int
profile__finish(profile__parser_t *ps)
{
    profile__full_t *full = ps->full;
    int rc = profile__resolve_algos(ps);

    if (rc == 0) {
        rc = profile__defaults(ps);
    }
    if (rc < 0) {
        return rc;
    }
    /* sshd: a port given with ListenAddress beats Port for that address. */
    if (full->listen_port != 0) {
        full->pub.port = full->listen_port;
    }
    rc = profile__check_hostkeys(ps);
    if (rc == 0) {
        rc = profile__check_auth_methods(ps);
    }
    if (rc == 0) {
        rc = profile__attach_keys(ps);
    }
    if (rc == 0) {
        rc = profile__check_said(ps);
    }
    return rc;
}

/* ---- entry points ------------------------------------------------------ */

static int
profile__names(profile_t *p, const char *path)
{
    const char *base = strrchr(path, '/');
    size_t len;

    base = base == NULL ? path : base + 1;
    len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".conf") == 0) {
        len -= 5;
    }
    p->path = strdup(path);
    p->dir = util_dirname(path);
    p->name = util_strndup(base, len);
    return p->path == NULL || p->dir == NULL || p->name == NULL ? -1 : 0;
}

/* Every line of copy (len bytes, NUL-terminated), then the finish. */
static int
profile__lines(profile__parser_t *ps, char *copy, size_t len)
{
    size_t off = 0;
    int rc;

    while (off < len) {
        size_t n = strcspn(copy + off, "\n");
        char *line = copy + off;

        off += n + (off + n < len ? 1 : 0);
        line[n] = '\0';
        ps->line++;
        if (n > 0 && line[n - 1] == '\r') {
            line[--n] = '\0';
        }
        if (n > PROFILE__LINE_MAX) {
            return profile__fail(ps, ps->line, "line is longer than %d bytes",
                                 PROFILE__LINE_MAX);
        }
        rc = profile__line(ps, line);
        if (rc < 0) {
            return rc;
        }
    }
    return profile__finish(ps);
}

int
profile_parse(const char *path, const char *text, size_t len, FILE *warnings,
              profile_t **out, char *errbuf, size_t errlen)
{
    profile__parser_t ps;
    char *copy = NULL;
    int rc = 0;

    if (out != NULL) {
        *out = NULL;
    }
    if (errbuf != NULL && errlen > 0) {
        errbuf[0] = '\0';
    }
    memset(&ps, 0, sizeof ps);
    ps.path = path != NULL ? path : "<profile>";
    ps.warn = warnings;
    ps.errbuf = errbuf;
    ps.errlen = errlen;
    if (out == NULL || text == NULL) {
        profile__fail(&ps, 0, "invalid argument");
        return SSHMOCK_EINVAL;
    }
    ps.full = calloc(1, sizeof *ps.full);
    ps.seen = calloc(profile__nkeywords, sizeof *ps.seen);
    copy = util_strndup(text, len);
    if (ps.full == NULL || ps.seen == NULL || copy == NULL ||
        profile__names(&ps.full->pub, ps.path) < 0) {
        rc = profile__nomem(&ps);
    } else if (memchr(text, '\0', len) != NULL) {
        rc = profile__fail(&ps, 0, "contains a NUL byte; not a text file");
    } else {
        rc = profile__lines(&ps, copy, len);
    }
    profile__parser_clear(&ps);
    free(copy);
    if (rc < 0) {
        profile_free(ps.full != NULL ? &ps.full->pub : NULL);
        return rc;
    }
    *out = &ps.full->pub;
    return 0;
}

int
profile_parse_string(const char *path, const char *text, profile_t **out,
                     char *errbuf, size_t errlen)
{
    return profile_parse(path, text, text != NULL ? strlen(text) : 0, stderr,
                         out, errbuf, errlen);
}

int
profile_load(const char *path, profile_t **out, char *errbuf, size_t errlen)
{
    return profile_load_warn(path, stderr, out, errbuf, errlen);
}

int
profile_load_warn(const char *path, FILE *warnings, profile_t **out, char *errbuf,
                  size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    int rc;

    if (out != NULL) {
        *out = NULL;
    }
    if (path == NULL || out == NULL) {
        if (errbuf != NULL && errlen > 0) {
            snprintf(errbuf, errlen, "profile: invalid argument");
        }
        return SSHMOCK_EINVAL;
    }
    errno = 0;
    if (util_read_file(path, PROFILE__FILE_MAX, &data, &len) < 0) {
        if (errbuf != NULL && errlen > 0) {
            snprintf(errbuf, errlen, "%s: cannot read: %s", path,
                     util_read_file_strerror(errno));
        }
        return SSHMOCK_EPROFILE;
    }
    rc = profile_parse(path, data, len, warnings, out, errbuf, errlen);
    free(data);
    return rc;
}
