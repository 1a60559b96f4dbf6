/*
 * matrix: the keywords of the client matrix (Expect, Said, ClientOptions,
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
        /* The pattern is kept as written (a regex's backslashes are its
         * own), so it goes back out as written: quoting it again would turn
         * "\." into "\\." and the printout would load as another regex. */
        if (e->pattern != NULL) {
            fprintf(f, " \"%s\"", e->pattern);
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

/* ---- Said: what a client really printed ---------------------------------- */

const profile_said_t *
profile_said_find(const profile_t *p, const char *client)
{
    size_t i;

    for (i = 0; i < p->nsaid; i++) {
        if (strcmp(p->said[i].client, client) == 0) {
            return &p->said[i];
        }
    }
    return NULL;
}

void
profile__said_free(profile_said_t *said, size_t n)
{
    size_t i;
    size_t j;

    for (i = 0; i < n; i++) {
        free(said[i].client);
        for (j = 0; j < said[i].nlines; j++) {
            free(said[i].lines[j]);
        }
        free(said[i].lines);
    }
    free(said);
}

/* Said CLIENT TEXT...: one more line of what CLIENT printed. A client's
 * lines gather in one entry, in file order, wherever they are written. */
int
profile__set_said(profile__parser_t *ps, const profile__keyword_t *kw,
                  char **argv, int argc, profile__full_t *to)
{
    profile_t *p = &to->pub;
    profile_said_t *s = (profile_said_t *)profile_said_find(p, argv[0]);
    char *text = NULL;
    int rc = profile__check_client(ps, kw, argv[0]);

    if (rc == 0) {
        rc = profile__join(ps, kw, argv + 1, argc - 1, &text);
    }
    if (rc < 0) {
        return rc;
    }
    if (s == NULL) {
        profile_said_t fresh;

        memset(&fresh, 0, sizeof fresh);
        fresh.client = strdup(argv[0]);
        fresh.line = ps->line;
        if (fresh.client == NULL || PROFILE__APPEND(p->said, p->nsaid, &fresh) < 0) {
            free(fresh.client);
            free(text);
            return profile__nomem(ps);
        }
        s = &p->said[p->nsaid - 1];
    }
    if (PROFILE__APPEND(s->lines, s->nlines, &text) < 0) {
        free(text);
        return profile__nomem(ps);
    }
    return 0;
}

void
profile__print_said(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                    const char *lname)
{
    size_t i;
    size_t j;

    (void)kw;
    for (i = 0; i < p->nsaid; i++) {
        for (j = 0; j < p->said[i].nlines; j++) {
            const char *line = p->said[i].lines[j];

            fprintf(f, "%s %s ", lname, p->said[i].client);
            profile__print_quoted(f, line, strlen(line), 0);
            fputc('\n', f);
        }
    }
}

/* Whether the P at s[i] stands for the server's port: "port P" or ":P",
 * and not the start of a word ("port Penguin", ":Permission"). */
static int
profile__said_is_port(const char *s, size_t i)
{
    char next = s[i + 1];
    int after = (i >= 5 && strncmp(s + i - 5, "port ", 5) == 0) ||
                (i >= 1 && s[i - 1] == ':');

    return s[i] == 'P' && after &&
           !((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') ||
             (next >= '0' && next <= '9') || next == '_');
}

/* The lines as the client printed them, one '\n' between them, with the
 * port the profile listens on where they say P: the text an Expect
 * pattern meets in the matrix (which writes "[0-9]+" for the port). */
static int
profile__said_text(const profile_said_t *s, int port, util_buf_t *b)
{
    size_t j;
    size_t i;
    int rc = 0;

    for (j = 0; j < s->nlines && rc == 0; j++) {
        const char *line = s->lines[j];

        if (j > 0) {
            rc = util_buf_puts(b, "\n");
        }
        for (i = 0; line[i] != '\0' && rc == 0; i++) {
            rc = profile__said_is_port(line, i) ? util_buf_printf(b, "%d", port)
                                                : util_buf_append(b, line + i, 1);
        }
    }
    return rc < 0 ? -1 : 0;
}

/*
 * After the last line: the Expect pattern of every client that has Said
 * lines matches them the way the matrix matches a run's output. So a re-recorded pattern with stale words, or words copied
 * wrong, is an error at the first Said line instead of a silent lie in
 * `sshmock explain`.
 */
int
profile__check_said(profile__parser_t *ps)
{
    const profile_t *p = &ps->full->pub;
    size_t i;

    for (i = 0; i < p->nsaid; i++) {
        const profile_said_t *s = &p->said[i];
        const profile_expect_t *e = profile_expect_find(p, s->client);
        util_buf_t text = UTIL_BUF_INIT;
        regex_t re;
        int match;

        /* Words without an expectation are kept (an Expect line deleted to
         * see a cell unchecked), but nothing vouches for them. */
        if (e == NULL) {
            profile__warn(ps, s->line, "Said %s: no Expect line for this client, so "
                          "nothing checks these words (explain does not show them)",
                          s->client);
            continue;
        }
        if (e->pattern == NULL) {
            continue;
        }
        if (profile__said_text(s, p->port, &text) < 0 || util_buf_puts(&text, "") < 0) {
            util_buf_free(&text);
            return profile__nomem(ps);
        }
        /* The Expect handler compiled the pattern already. */
        if (regcomp(&re, e->pattern, REG_EXTENDED | REG_NOSUB) != 0) {
            util_buf_free(&text);
            return profile__fail(ps, e->line, "Expect %s: bad regex", s->client);
        }
        match = regexec(&re, text.data, 0, NULL, 0) == 0;
        regfree(&re);
        util_buf_free(&text);
        if (!match) {
            return profile__fail(ps, s->line, "Said %s: what the client said does not "
                                 "match its Expect pattern (line %d): %s",
                                 s->client, e->line, e->pattern);
        }
    }
    return 0;
}
