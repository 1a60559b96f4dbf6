/*
 * matrix: the keywords of the client matrix (Expect, ClientOptions,
 * ClientFix, MatrixAuth). Client names are profile/clients.h's, the one
 * list the matrix runs.
 */
#include "profile/internal.h"

#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/clients.h"

/* MatrixAuth, in profile_matrix_auth_t order. */
static const char *const profile__auth_names[] = {
    "password", "key", "key-rsa", "wrong-password"
};
const profile__names_t profile__matrix_auths = {
    profile__auth_names, UTIL_ARRAY_SIZE(profile__auth_names)
};

/* Where an Expect may say a client fails, as the matrix reports it. */
static const char *const profile__stages[] = {
    "tcp", "banner", "kex", "hostkey", "auth", "session", "timeout",
};

const char *
profile_matrix_auth_name(profile_matrix_auth_t a)
{
    return (size_t)a < profile__matrix_auths.n ? profile__matrix_auths.names[a] : "?";
}

static int
profile__check_client(profile__parser_t *ps, const profile__keyword_t *kw,
                      const char *name)
{
    char names[256];

    if (profile_client_find(name) != NULL) {
        return 0;
    }
    return profile__fail(ps, ps->line, "%s: unknown client '%s' (clients: %s)",
                         kw->name, name, profile_client_names(names, sizeof names, 0));
}

static int
profile__check_stage(profile__parser_t *ps, const profile__keyword_t *kw,
                     char **argv)
{
    char names[128];
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(profile__stages); i++) {
        if (strcmp(argv[2], profile__stages[i]) == 0) {
            return 0;
        }
    }
    names[0] = '\0';
    for (i = 0; i < UTIL_ARRAY_SIZE(profile__stages); i++) {
        size_t used = strlen(names);

        snprintf(names + used, sizeof names - used, "%s%s", i > 0 ? ", " : "",
                 profile__stages[i]);
    }
    return profile__fail(ps, ps->line, "%s %s fail %s: the stage is one of %s",
                         kw->name, argv[0], argv[2], names);
}

/* Bounds on an Expect pattern, checked before regcomp sees it: glibc's
 * regcomp copies a bounded repetition's atom once per count, so stacked
 * repetitions ("a{255}{255}{255}", "a+++...") take it minutes and
 * gigabytes, or crash it. A pattern names a line a client printed; these
 * bounds are far above any such line. */
#define PROFILE_REGEX_MAX_LEN 512
#define PROFILE_REGEX_MAX_DEPTH 8
#define PROFILE_REGEX_MAX_COPIES 2000

/* A bracket expression from its '[': returns the index just past its ']'
 * (or the end, for regcomp to report). */
static size_t
profile__regex_bracket(const char *s, size_t i)
{
    i++;
    if (s[i] == '^') {
        i++;
    }
    if (s[i] == ']') {
        i++;
    }
    while (s[i] != '\0' && s[i] != ']') {
        if (s[i] == '[' && (s[i + 1] == ':' || s[i + 1] == '=' || s[i + 1] == '.')) {
            char end = s[i + 1];
            i += 2;
            while (s[i] != '\0' && !(s[i] == end && s[i + 1] == ']')) {
                i++;
            }
            i += s[i] != '\0' ? 2 : 0;
            continue;
        }
        i++;
    }
    return s[i] == ']' ? i + 1 : i;
}

/* "{M}", "{M,}" or "{M,N}" at s[i]: the copies regcomp makes of the atom,
 * and the index past the '}'; 0 when it is no bound (then a literal). */
static uint64_t
profile__regex_bound(const char *s, size_t i, size_t *next)
{
    uint64_t m = 0;
    uint64_t n = 0;
    int has_n = 0;

    i++;
    if (s[i] < '0' || s[i] > '9') {
        return 0;
    }
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        m = m < 100000 ? m * 10 + (uint64_t)(s[i] - '0') : m;
    }
    if (s[i] == ',') {
        i++;
        for (; s[i] >= '0' && s[i] <= '9'; i++) {
            n = n < 100000 ? n * 10 + (uint64_t)(s[i] - '0') : n;
            has_n = 1;
        }
    }
    if (s[i] != '}') {
        return 0;
    }
    *next = i + 1;
    n = has_n ? n : m;
    n = m > n ? m : n;
    return n > 0 ? n : 1;
}

/* 0 when the pattern is within the bounds; else why (for FILE:LINE). */
static int
profile__regex_check(const char *s, char *why, size_t whylen)
{
    uint64_t sum[PROFILE_REGEX_MAX_DEPTH + 1] = { 0 }; /* copies so far, per open group */
    uint64_t last = 0;     /* copies of the last atom (0: none to repeat) */
    int repeated = 0;      /* the last atom already carries a repetition */
    size_t depth = 0;
    size_t len = strlen(s);
    size_t i = 0;

    if (len > PROFILE_REGEX_MAX_LEN) {
        snprintf(why, whylen, "pattern of %zu bytes (at most %d)", len, PROFILE_REGEX_MAX_LEN);
        return -1;
    }
    while (i < len) {
        uint64_t copies = 0;
        size_t next = i + 1;

        switch (s[i]) {
        case '(':
            if (++depth > PROFILE_REGEX_MAX_DEPTH) {
                snprintf(why, whylen, "groups nested deeper than %d",
                         PROFILE_REGEX_MAX_DEPTH);
                return -1;
            }
            sum[depth] = 0;
            last = 0;
            i++;
            continue;
        case ')':
            if (depth > 0) {
                last = sum[depth--];
                sum[depth] += last;
                repeated = 0;
            }
            i++;
            continue;
        case '|': case '^': case '$':
            last = 0;
            i++;
            continue;
        case '*': case '?': copies = 1; break;
        case '+': copies = 2; break; /* regcomp makes "a+" into "aa*" */
        case '{': copies = profile__regex_bound(s, i, &next); break;
        case '[': next = profile__regex_bracket(s, i); break;
        case '\\': next = s[i + 1] != '\0' ? i + 2 : i + 1; break;
        default: break;
        }
        if (copies > 0 && last > 0) {
            if (repeated) {
                snprintf(why, whylen, "a repetition of a repetition (\"%.*s\" after "
                         "another): POSIX leaves it undefined and regcomp blows up on it",
                         (int)(next - i), s + i);
                return -1;
            }
            sum[depth] += last * (copies - 1);
            repeated = 1;
        } else {
            last = 1; /* an atom: a character, '.', a bracket, an escape */
            sum[depth] += 1;
            repeated = 0;
        }
        if (sum[depth] > PROFILE_REGEX_MAX_COPIES) {
            snprintf(why, whylen, "its repetitions expand to more than %d copies",
                     PROFILE_REGEX_MAX_COPIES);
            return -1;
        }
        i = next;
    }
    return 0;
}

/* Expect CLIENT connect [REGEX] | CLIENT fail STAGE [REGEX] */
int
profile__set_expect(profile__parser_t *ps, const profile__keyword_t *kw,
                    char **argv, int argc, profile__full_t *to)
{
    profile_t *p = &to->pub;
    const profile_expect_t *dup = NULL;
    const char *pattern = NULL;
    profile_expect_t e;
    regex_t re;
    int rc = profile__check_client(ps, kw, argv[0]);

    memset(&e, 0, sizeof e);
    if (rc < 0) {
        return rc;
    }
    if (strcmp(argv[1], "connect") == 0 && argc <= 3) {
        e.connect = 1;
        pattern = argc == 3 ? argv[2] : NULL;
    } else if (strcmp(argv[1], "fail") == 0 && argc >= 3) {
        rc = profile__check_stage(ps, kw, argv);
        if (rc < 0) {
            return rc;
        }
        pattern = argc == 4 ? argv[3] : NULL;
    } else {
        return profile__fail(ps, ps->line, "%s: expected CLIENT connect [REGEX] or "
                             "CLIENT fail STAGE [REGEX]", kw->name);
    }
    dup = profile_expect_find(p, argv[0]);
    if (dup != NULL) {
        return profile__fail(ps, ps->line, "%s %s: this client already has an "
                             "expectation (line %d)", kw->name, argv[0], dup->line);
    }
    if (pattern != NULL) {
        char refused[160];
        int rrc = 0;

        if (profile__regex_check(pattern, refused, sizeof refused) != 0) {
            return profile__fail(ps, ps->line, "%s %s: regex refused: %s", kw->name,
                                 argv[0], refused);
        }
        rrc = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);

        if (rrc != 0) {
            char why[128];

            regerror(rrc, &re, why, sizeof why);
            return profile__fail(ps, ps->line, "%s %s: bad regex: %s", kw->name,
                                 argv[0], why);
        }
        regfree(&re);
    }
    e.client = strdup(argv[0]);
    e.stage = e.connect ? NULL : strdup(argv[2]);
    e.pattern = pattern != NULL ? strdup(pattern) : NULL;
    e.line = ps->line;
    if (e.client == NULL || (!e.connect && e.stage == NULL) ||
        (pattern != NULL && e.pattern == NULL) ||
        PROFILE__APPEND(p->expects, p->nexpects, &e) < 0) {
        free(e.client);
        free(e.stage);
        free(e.pattern);
        return profile__nomem(ps);
    }
    return 0;
}

void
profile__print_expects(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                       const char *lname)
{
    size_t i;

    for (i = 0; i < p->nexpects; i++) {
        const profile_expect_t *e = &p->expects[i];

        fprintf(f, "%s %s %s", lname, e->client, e->connect ? "connect" : "fail");
        if (e->stage != NULL) {
            fprintf(f, " %s", e->stage);
        }
        if (e->pattern != NULL) {
            fputc(' ', f);
            profile__print_quoted(f, e->pattern, strlen(e->pattern), 0);
        }
        fputc('\n', f);
    }
}

/* ClientOptions / ClientFix CLIENT KEY=VALUE...: the row's offset is the
 * array, its data the offset of the count that goes with it. */
int
profile__set_client_opts(profile__parser_t *ps, const profile__keyword_t *kw,
                         char **argv, int argc, profile__full_t *to)
{
    profile_client_opts_t **arr = PROFILE__SLOT(profile_client_opts_t *, &to->pub, kw);
    size_t *n = (size_t *)(void *)((char *)&to->pub + *(const size_t *)kw->data);
    profile_client_opts_t o;
    int rc = profile__check_client(ps, kw, argv[0]);
    int i;

    if (rc < 0) {
        return rc;
    }
    for (i = 1; i < argc; i++) {
        if (strchr(argv[i], '=') == NULL || argv[i][0] == '=') {
            return profile__fail(ps, ps->line, "%s %s: '%s' is not KEY=VALUE", kw->name,
                                 argv[0], argv[i]);
        }
    }
    memset(&o, 0, sizeof o);
    o.client = strdup(argv[0]);
    o.line = ps->line;
    for (i = 1; o.client != NULL && i < argc; i++) {
        char *opt = strdup(argv[i]);

        if (opt == NULL || PROFILE__APPEND(o.opts, o.nopts, &opt) < 0) {
            free(opt);
            break;
        }
    }
    if (o.client == NULL || i < argc || PROFILE__APPEND(*arr, *n, &o) < 0) {
        profile__client_opts_clear(&o);
        return profile__nomem(ps);
    }
    return 0;
}

void
profile__print_client_opts(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                           const char *lname)
{
    const profile_client_opts_t *arr = *PROFILE__CSLOT(profile_client_opts_t *, p, kw);
    size_t n = *(const size_t *)(const void *)((const char *)p +
                                               *(const size_t *)kw->data);
    size_t i;
    size_t j;

    for (i = 0; i < n; i++) {
        fprintf(f, "%s %s", lname, arr[i].client);
        for (j = 0; j < arr[i].nopts; j++) {
            fputc(' ', f);
            profile__print_word(f, arr[i].opts[j]);
        }
        fputc('\n', f);
    }
}
