/*
 * parse: from a line of text to a call of its keyword's handler.
 *
 * A line is cut into raw arguments (quotes removed, backslash sequences
 * kept), checked against the row's argument counts, and handed to the
 * row's handler. sshd's "first value wins" is applied here, once for every
 * keyword: a repeated keyword is parsed into a scratch profile that is
 * thrown away. Defaults come from the same handlers, fed the row's default.
 */
#include "profile/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sshmock/sshmock.h>

/* ---- lexing ------------------------------------------------------------ */

void
profile__args_free(profile__args_t *a)
{
    size_t i;

    for (i = 0; i < a->n; i++) {
        free(a->v[i]);
    }
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

/*
 * Cuts the arguments of a line like sshd does: words are separated by
 * spaces and tabs, double quotes group words, a word that starts with an
 * unquoted '#' starts a comment. A backslash protects the character after
 * it from ending a word or a quote, and both are kept: what a backslash
 * means depends on the argument (profile__unescape), and decoding twice
 * would turn "\\n" into a newline.
 * Returns 0, -1 for an unterminated quote, -2 when out of memory.
 */
int
profile__split(const char *s, profile__args_t *out)
{
    util_buf_t tok = UTIL_BUF_INIT;

    for (;;) {
        int quoted = 0;

        while (*s == ' ' || *s == '\t') {
            s++;
        }
        if (*s == '\0' || *s == '#') {
            break;
        }
        util_buf_reset(&tok);
        /* An empty quoted word ("") is a word too. */
        if (util_buf_append(&tok, "", 0) < 0) {
            goto nomem;
        }
        while (*s != '\0') {
            if (*s == '\\' && s[1] != '\0') {
                if (util_buf_append(&tok, s, 2) < 0) {
                    goto nomem;
                }
                s += 2;
                continue;
            }
            if (!quoted && (*s == ' ' || *s == '\t')) {
                break;
            }
            if (*s == '"') {
                quoted = !quoted;
            } else if (util_buf_append(&tok, s, 1) < 0) {
                goto nomem;
            }
            s++;
        }
        if (quoted) {
            util_buf_free(&tok);
            return -1;
        }
        if (PROFILE__APPEND(out->v, out->n, &tok.data) < 0) {
            goto nomem;
        }
        tok.data = NULL;
        tok.len = tok.cap = 0;
    }
    util_buf_free(&tok);
    return 0;
nomem:
    util_buf_free(&tok);
    return -2;
}

static int
profile__hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* One backslash sequence of text a command prints, at s (s[0] == '\\').
 * Returns how many bytes it took, or -1 with the reason in why. */
static int
profile__unescape_full(const char *s, char *d, char *why, size_t whylen)
{
    int hi;
    int lo;

    switch (s[1]) {
    case 'n': *d = '\n'; return 2;
    case 't': *d = '\t'; return 2;
    case 'r': *d = '\r'; return 2;
    case 'x':
        hi = profile__hexval(s[2]);
        lo = hi < 0 ? -1 : profile__hexval(s[3]);
        if (hi < 0 || lo < 0) {
            snprintf(why, whylen, "\\x needs two hex digits");
            return -1;
        }
        *d = (char)(hi * 16 + lo);
        return 4;
    default:
        snprintf(why, whylen,
                 "unknown escape '\\%c' (known: \\n \\t \\r \\\\ \\\" \\xHH)", s[1]);
        return -1;
    }
}

/*
 * Decodes a raw argument. Plain arguments know only \" and \\ (sshd's
 * rule); any other backslash stays as written, so a Windows-looking path
 * survives. Text that a command prints (`full`) also knows \n \t \r and
 * \xHH, and refuses other escapes because a typo there would otherwise
 * show up only in a client's output.
 */
int
profile__unescape(const char *raw, int full, char **out, size_t *outlen,
                  char *why, size_t whylen)
{
    util_buf_t b = UTIL_BUF_INIT;
    const char *s = raw;

    if (util_buf_append(&b, "", 0) < 0) {
        goto nomem;
    }
    while (*s != '\0') {
        int rc = 0;

        if (*s != '\\' || s[1] == '\0') {
            if (full && *s == '\\') {
                snprintf(why, whylen, "a lone backslash ends the string");
                goto fail;
            }
            rc = util_buf_append(&b, s, 1);
            s++;
        } else if (s[1] == '"' || s[1] == '\\') {
            rc = util_buf_append(&b, s + 1, 1);
            s += 2;
        } else if (!full) {
            rc = util_buf_append(&b, s, 2);
            s += 2;
        } else {
            char d;
            int used = profile__unescape_full(s, &d, why, whylen);

            if (used < 0) {
                goto fail;
            }
            rc = util_buf_append(&b, &d, 1);
            s += used;
        }
        if (rc < 0) {
            goto nomem;
        }
    }
    *out = b.data;
    if (outlen != NULL) {
        *outlen = b.len;
    }
    return 0;
nomem:
    snprintf(why, whylen, "out of memory");
    util_buf_free(&b);
    return -2;
fail:
    util_buf_free(&b);
    return -1;
}

/* A plain argument decoded, with the failure reported as KEYWORD: why. */
int
profile__unescape_arg(profile__parser_t *ps, const profile__keyword_t *kw,
                      const char *raw, char **out)
{
    char why[128];
    int rc = profile__unescape(raw, 0, out, NULL, why, sizeof why);

    if (rc < 0) {
        return rc == -2 ? profile__nomem(ps)
                        : profile__fail(ps, ps->line, "%s: %s", kw->name, why);
    }
    return 0;
}

/* Joins decoded words with single spaces, for the rest-of-line keywords. */
int
profile__join(profile__parser_t *ps, const profile__keyword_t *kw,
              char **argv, int argc, char **out)
{
    util_buf_t b = UTIL_BUF_INIT;
    int i;

    for (i = 0; i < argc; i++) {
        char *word = NULL;
        int rc = profile__unescape_arg(ps, kw, argv[i], &word);

        if (rc < 0) {
            util_buf_free(&b);
            return rc;
        }
        if ((i > 0 && util_buf_puts(&b, " ") < 0) || util_buf_puts(&b, word) < 0) {
            free(word);
            util_buf_free(&b);
            return profile__nomem(ps);
        }
        free(word);
    }
    *out = b.data;
    return 0;
}

int
profile__number(profile__parser_t *ps, const profile__keyword_t *kw,
                const char *arg, long min, long max, int *out)
{
    char *end = NULL;
    long v;

    if (arg[0] < '0' || arg[0] > '9') {
        return profile__fail(ps, ps->line, "%s: '%s' is not a number",
                             kw->name, arg);
    }
    errno = 0;
    v = strtol(arg, &end, 10);
    if (*end != '\0') {
        return profile__fail(ps, ps->line, "%s: '%s' is not a number",
                             kw->name, arg);
    }
    if (errno == ERANGE || v < min || v > max) {
        return profile__fail(ps, ps->line, "%s: %s is out of range (%ld..%ld)",
                             kw->name, arg, min, max);
    }
    *out = (int)v;
    return 0;
}

/* ---- lines ------------------------------------------------------------- */

/*
 * Runs the row's handler. A repeated keyword (not MULTI) is parsed into a
 * scratch profile that shares only the directory, then thrown away: the
 * line is checked as thoroughly as the first, and the first value stays.
 */
static int
profile__apply(profile__parser_t *ps, const profile__keyword_t *kw,
               char **argv, int argc)
{
    size_t row = profile__main_row(kw);
    profile__full_t *scratch = NULL;
    int rc;

    if (ps->seen[row] == 0 || (kw->flags & PROFILE__F_MULTI) != 0) {
        rc = kw->set(ps, kw, argv, argc, ps->full);
    } else {
        scratch = calloc(1, sizeof *scratch);
        if (scratch == NULL) {
            return profile__nomem(ps);
        }
        scratch->pub.dir = ps->full->pub.dir;
        rc = kw->set(ps, kw, argv, argc, scratch);
        scratch->pub.dir = NULL;
        profile_free(&scratch->pub);
        if (rc == 0 && (kw->flags & PROFILE__F_LISTEN) != 0) {
            profile__warn(ps, ps->line,
                          "%s repeated: sshmock listens on the first one only "
                          "(line %d)", kw->name, ps->seen[row]);
        }
    }
    if (rc == 0 && ps->seen[row] == 0) {
        ps->seen[row] = ps->line;
    }
    return rc;
}

/* One line, without its newline. */
int
profile__line(profile__parser_t *ps, char *line)
{
    const profile__keyword_t *kw = NULL;
    profile__args_t args = { NULL, 0 };
    char *s = line;
    char *word = NULL;
    size_t wlen;
    int rc;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s == '\0' || *s == '#') {
        return 0;
    }
    /* "Keyword value", "Keyword=value" and "Keyword = value" all work. */
    wlen = strcspn(s, " \t=");
    word = s;
    s += wlen;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s == '=') {
        s++;
    }
    word[wlen] = '\0';   /* the separator is consumed above */

    kw = profile__lookup(word);
    if (kw == NULL) {
        return profile__fail(ps, ps->line, "Bad configuration option: %s", word);
    }
    rc = profile__split(s, &args);
    if (rc == -2) {
        rc = profile__nomem(ps);
    } else if (rc == -1) {
        rc = profile__fail(ps, ps->line, "%s: unterminated quoted string", kw->name);
    } else if (args.n < (size_t)kw->min_args) {
        rc = profile__fail(ps, ps->line, "%s: missing argument (%s %s)",
                           kw->name, kw->name, kw->shape);
    } else if (kw->max_args != PROFILE__ANY && args.n > (size_t)kw->max_args) {
        rc = profile__fail(ps, ps->line, "%s: too many arguments (%s %s)",
                           kw->name, kw->name, kw->shape);
    } else {
        rc = profile__apply(ps, kw, args.v, (int)args.n);
    }
    profile__args_free(&args);
    return rc;
}

/* ---- defaults ----------------------------------------------------------- */

/* Feeds one default value, written as a profile line would, to the row. */
static int
profile__default_one(profile__parser_t *ps, const profile__keyword_t *kw,
                     const char *text)
{
    profile__args_t args = { NULL, 0 };
    int rc = profile__split(text, &args);

    if (rc == -2) {
        return profile__nomem(ps);
    }
    if (rc == -1) {
        return profile__fail(ps, 0, "%s: bad default (internal error)", kw->name);
    }
    rc = kw->set(ps, kw, args.v, (int)args.n, ps->full);
    profile__args_free(&args);
    return rc;
}

/*
 * Fills in every keyword the profile did not set with its documented
 * default, through the row's own handler. A MULTI row's default is a list
 * of values separated by ", " (HostKey's three keys). Algorithm lists have
 * no default text: algo resolves them (profile__resolve_algos).
 */
int
profile__defaults(profile__parser_t *ps)
{
    int saved_line = ps->line;
    size_t r;
    int rc = 0;

    ps->line = 0;   /* what a default creates was declared nowhere */
    for (r = 0; r < profile__nkeywords && rc == 0; r++) {
        const profile__keyword_t *kw = &profile__keywords[r];
        const char *s = kw->defval;

        if (s == NULL || ps->seen[r] != 0 || (kw->flags & PROFILE__F_ALIAS) != 0) {
            continue;
        }
        if ((kw->flags & PROFILE__F_MULTI) == 0) {
            rc = profile__default_one(ps, kw, s);
            continue;
        }
        while (rc == 0 && *s != '\0') {
            size_t len = strcspn(s, ",");
            char *one = util_strndup(s, len);

            rc = one != NULL ? profile__default_one(ps, kw, one) : profile__nomem(ps);
            free(one);
            s += len;
            s += strspn(s, ", ");
        }
    }
    ps->line = saved_line;
    return rc;
}
