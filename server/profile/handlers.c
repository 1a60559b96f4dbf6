/*
 * handlers: the generic slot handlers, one per kind of value. Each parses
 * the line's arguments and stores the value at the row's offset in the
 * target profile, with the row's `data` as its parameters. Whether the
 * value is the one kept is not their business (parse.c: first wins).
 */
#include "profile/internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* yes | no */
int
profile__set_flag(profile__parser_t *ps, const profile__keyword_t *kw,
                  char **argv, int argc, profile__full_t *to)
{
    int *slot = PROFILE__SLOT(int, &to->pub, kw);

    if (strcasecmp(argv[0], "yes") == 0) {
        *slot = 1;
        return 0;
    }
    if (strcasecmp(argv[0], "no") == 0) {
        *slot = 0;
        return 0;
    }
    return profile__fail(ps, ps->line, "%s: expected yes or no, got '%s'",
                         kw->name, argv[0]);
}

/* A decimal integer within the row's profile__range_t. */
int
profile__set_int(profile__parser_t *ps, const profile__keyword_t *kw,
                 char **argv, int argc, profile__full_t *to)
{
    const profile__range_t *r = kw->data;

    return profile__number(ps, kw, argv[0], r->min, r->max,
                           PROFILE__SLOT(int, &to->pub, kw));
}

/* sshd's time format: 120, 2m, 1h30m, 1w; a bare number is seconds. */
int
profile__set_time(profile__parser_t *ps, const profile__keyword_t *kw,
                  char **argv, int argc, profile__full_t *to)
{
    const char *arg = argv[0];
    const char *s = arg;
    long long total = 0;

    if (*s == '\0') {
        goto bad;
    }
    while (*s != '\0') {
        long long n = 0;
        long long mult = 1;

        if (*s < '0' || *s > '9') {
            goto bad;
        }
        while (*s >= '0' && *s <= '9') {
            n = n * 10 + (*s - '0');
            if (n > INT_MAX) {
                goto range;
            }
            s++;
        }
        switch (*s) {
        case '\0': break;
        case 's': case 'S': s++; break;
        case 'm': case 'M': mult = 60; s++; break;
        case 'h': case 'H': mult = 60 * 60; s++; break;
        case 'd': case 'D': mult = 24 * 60 * 60; s++; break;
        case 'w': case 'W': mult = 7 * 24 * 60 * 60; s++; break;
        default: goto bad;
        }
        total += n * mult;
        if (total > INT_MAX) {
            goto range;
        }
    }
    *PROFILE__SLOT(int, &to->pub, kw) = (int)total;
    return 0;
bad:
    return profile__fail(ps, ps->line,
                         "%s: bad time value '%s' (e.g. 120, 2m, 1h30m)",
                         kw->name, arg);
range:
    return profile__fail(ps, ps->line, "%s: time value '%s' is too large",
                         kw->name, arg);
}

/* The rest of the line, words decoded and joined with single spaces. */
int
profile__set_text(profile__parser_t *ps, const profile__keyword_t *kw,
                  char **argv, int argc, profile__full_t *to)
{
    char **slot = PROFILE__SLOT(char *, &to->pub, kw);
    char *text = NULL;
    int rc = profile__join(ps, kw, argv, argc, &text);

    if (rc == 0) {
        free(*slot);
        *slot = text;
    }
    return rc;
}

/* Like text, but repeated lines make paragraphs: each occurrence adds one
 * line (joined with '\n') to the value. */
int
profile__set_lines(profile__parser_t *ps, const profile__keyword_t *kw,
                   char **argv, int argc, profile__full_t *to)
{
    char **slot = PROFILE__SLOT(char *, &to->pub, kw);
    util_buf_t b = UTIL_BUF_INIT;
    char *text = NULL;
    int rc = profile__join(ps, kw, argv, argc, &text);

    if (rc != 0) {
        return rc;
    }
    if ((*slot != NULL && util_buf_printf(&b, "%s\n", *slot) < 0) ||
        util_buf_puts(&b, text) < 0) {
        free(text);
        util_buf_free(&b);
        return profile__nomem(ps);
    }
    free(text);
    free(*slot);
    *slot = b.data;
    return 0;
}

/* One of the row's profile__names_t, any case; stores its index. The
 * message lists them: "expected a, b or c". */
int
profile__set_name(profile__parser_t *ps, const profile__keyword_t *kw,
                  char **argv, int argc, profile__full_t *to)
{
    const profile__names_t *names = kw->data;
    util_buf_t b = UTIL_BUF_INIT;
    size_t i;
    int rc;

    for (i = 0; i < names->n; i++) {
        if (strcasecmp(argv[0], names->names[i]) == 0) {
            *PROFILE__SLOT(int, &to->pub, kw) = (int)i;
            return 0;
        }
    }
    for (i = 0; i < names->n; i++) {
        const char *sep = i == 0 ? "" : i + 1 == names->n ? " or " : ", ";

        if (util_buf_printf(&b, "%s%s", sep, names->names[i]) < 0) {
            util_buf_free(&b);
            return profile__nomem(ps);
        }
    }
    rc = profile__fail(ps, ps->line, "%s %s: expected %s", kw->name, argv[0],
                       b.data != NULL ? b.data : "");
    util_buf_free(&b);
    return rc;
}

/* ---- algorithm lists ----------------------------------------------------- */

algo_kind_t
profile__algo_kind(const profile__keyword_t *kw)
{
    return kw->set == profile__set_algo ? *(const algo_kind_t *)kw->data : ALGO__COUNT;
}

/* Kept as written: the + - ^ modifiers are resolved after the last line
 * (profile__resolve_algos), against algo's defaults. */
int
profile__set_algo(profile__parser_t *ps, const profile__keyword_t *kw,
                  char **argv, int argc, profile__full_t *to)
{
    char **slot = PROFILE__SLOT(char *, &to->pub, kw);
    char *value = strdup(argv[0]);

    if (value == NULL) {
        return profile__nomem(ps);
    }
    free(*slot);
    *slot = value;
    return 0;
}

/* Replaces every algorithm list as written (NULL: not set) by the list it
 * resolves to; an error names the line of the keyword concerned. */
int
profile__resolve_algos(profile__parser_t *ps)
{
    size_t r;

    for (r = 0; r < profile__nkeywords; r++) {
        const profile__keyword_t *kw = &profile__keywords[r];
        algo_kind_t kind = profile__algo_kind(kw);
        char **slot = NULL;
        char *resolved = NULL;
        char err[1024];

        if (kind == ALGO__COUNT || (kw->flags & PROFILE__F_ALIAS) != 0) {
            continue;
        }
        /* Only now: a row without a field has no address to compute
         * (UBSan, found by fuzz_import). */
        slot = PROFILE__SLOT(char *, &ps->full->pub, kw);
        if (kind == ALGO_HOSTKEY) {
            ps->full->pub.hostkey_algorithms_exact =
                *slot != NULL && strchr("+-^", (*slot)[0]) == NULL;
        }
        if (algo_resolve(kind, *slot, &resolved, err, sizeof err) < 0) {
            return profile__fail(ps, ps->seen[r], "%s", err);
        }
        free(*slot);
        *slot = resolved;
    }
    return 0;
}

/* ---- keywords that are not played --------------------------------------- */

/* Writes s so that profile__split() reads it back as one raw word. */
static int
profile__buf_word(util_buf_t *b, const char *raw)
{
    if (raw[0] != '\0' && raw[0] != '#' && strpbrk(raw, " \t\"") == NULL) {
        return util_buf_puts(b, raw);
    }
    if (util_buf_puts(b, "\"") < 0 || util_buf_puts(b, raw) < 0) {
        return -1;
    }
    return util_buf_puts(b, "\"");
}

/* An sshd keyword without effect here: warned about, kept for printing. */
int
profile__set_ignored(profile__parser_t *ps, const profile__keyword_t *kw,
                     char **argv, int argc, profile__full_t *to)
{
    profile__ignored_t ig;
    util_buf_t b = UTIL_BUF_INIT;
    int i;

    profile__warn(ps, ps->line, "%s is accepted but has no effect in sshmock",
                  kw->name);
    for (i = 0; i < argc; i++) {
        if ((i > 0 && util_buf_puts(&b, " ") < 0) || profile__buf_word(&b, argv[i]) < 0) {
            util_buf_free(&b);
            return profile__nomem(ps);
        }
    }
    ig.row = (size_t)(kw - profile__keywords);
    ig.args = b.data;
    if (PROFILE__APPEND(to->ignored, to->nignored, &ig) < 0) {
        util_buf_free(&b);
        return profile__nomem(ps);
    }
    return 0;
}

/* Match and Include: known, and refused with the reason in the row's data. */
int
profile__set_refused(profile__parser_t *ps, const profile__keyword_t *kw,
                     char **argv, int argc, profile__full_t *to)
{
    return profile__fail(ps, ps->line, "%s", (const char *)kw->data);
}
