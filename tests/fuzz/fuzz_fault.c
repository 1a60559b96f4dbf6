/*
 * libFuzzer target: the Fault rule parser (wire/fault.h).
 *
 * Input: the text of a Fault line after the keyword, e.g.
 *     accept send "Exceeded MaxStartups\r\n" when maxstartups 2:100:2
 * It is cut into words the way the profile parser cuts a line (spaces and
 * tabs separate words, double quotes group them, a backslash and the
 * character after it are kept as they are), then parsed.
 *
 * Checks beyond the sanitizers: a rule that parses, written back with
 * fault_rule_format() and parsed again, must come out the same (sshmock
 * check prints rules that way and people paste them back into profiles),
 * and the MaxStartups decision stays a 0/1 answer for every rule.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/fault.h"

#define FUZZ_MAX_WORDS 64

#define FUZZ_CHECK(cond)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "fuzz_fault: broken promise: %s (%s:%d)\n", #cond,  \
                    __FILE__, __LINE__);                                        \
            abort();                                                            \
        }                                                                       \
    } while (0)

typedef struct fuzz_words_s {
    char *v[FUZZ_MAX_WORDS];
    int n;
} fuzz_words_t;

static void
fuzz__words_free(fuzz_words_t *w)
{
    int i;

    for (i = 0; i < w->n; i++) {
        free(w->v[i]);
    }
    w->n = 0;
}

/* The profile's word rules (see profile__split in profile/profile.c).
 * Returns 0, or -1 for an unterminated quote or too many words. */
static int
fuzz__split(const char *s, fuzz_words_t *w)
{
    w->n = 0;
    for (;;) {
        util_buf_t tok = UTIL_BUF_INIT;
        int quoted = 0;

        while (*s == ' ' || *s == '\t') {
            s++;
        }
        if (*s == '\0' || *s == '#') {
            return 0;
        }
        if (w->n == FUZZ_MAX_WORDS) {
            return -1;
        }
        util_buf_append(&tok, "", 0);
        while (*s != '\0') {
            if (*s == '\\' && s[1] != '\0') {
                util_buf_append(&tok, s, 2);
                s += 2;
                continue;
            }
            if (!quoted && (*s == ' ' || *s == '\t')) {
                break;
            }
            if (*s == '"') {
                quoted = !quoted;
            } else {
                util_buf_append(&tok, s, 1);
            }
            s++;
        }
        if (quoted || tok.data == NULL) {
            util_buf_free(&tok);
            return -1;
        }
        w->v[w->n++] = tok.data;
    }
}

static void
fuzz__same_rule(const fault_rule_t *a, const fault_rule_t *b)
{
    FUZZ_CHECK(a->stage == b->stage);
    FUZZ_CHECK(a->action == b->action);
    FUZZ_CHECK(a->ms == b->ms);
    FUZZ_CHECK(a->n == b->n);
    FUZZ_CHECK(a->data_len == b->data_len);
    FUZZ_CHECK(a->data_len == 0 || memcmp(a->data, b->data, a->data_len) == 0);
    FUZZ_CHECK(a->when == b->when);
    if (a->when == FAULT_WHEN_EVERY) {
        FUZZ_CHECK(a->every == b->every);
    }
    if (a->when == FAULT_WHEN_PROBABILITY) {
        FUZZ_CHECK(a->probability == b->probability);
        FUZZ_CHECK(a->seed == b->seed);
    }
    if (a->when == FAULT_WHEN_MAXSTARTUPS) {
        FUZZ_CHECK(a->ms_start == b->ms_start && a->ms_rate == b->ms_rate &&
                   a->ms_full == b->ms_full);
    }
}

static void
fuzz__maxstartups(const fault_rule_t *r)
{
    /* unauth is a count of open connections: a process has at most a few
     * million descriptors, so larger counts are not asked about. */
    size_t probes[4];
    uint64_t rng = r->seed;
    int i;

    probes[0] = 0;
    probes[1] = (size_t)r->ms_start;
    probes[2] = (size_t)r->ms_start + 1;
    probes[3] = (size_t)r->ms_full;
    for (i = 0; i < 4; i++) {
        if (probes[i] <= 1000000) {
            int d = fault_maxstartups_drop(r->ms_start, r->ms_rate, r->ms_full, probes[i],
                                           (unsigned)(fault_rng_next(&rng) % 100));
            FUZZ_CHECK(d == 0 || d == 1);
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_words_t w1 = { { NULL }, 0 };
    fuzz_words_t w2 = { { NULL }, 0 };
    util_buf_t f1 = UTIL_BUF_INIT;
    util_buf_t f2 = UTIL_BUF_INIT;
    fault_rule_t r1;
    fault_rule_t r2;
    char err[512];
    char *text = NULL;
    char *raw = NULL;
    size_t rawlen = 0;

    if (size > 4096) {
        return 0; /* a profile line is at most a few KiB */
    }
    text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';

    raw = fault_unescape(text, &rawlen);
    free(raw);

    memset(&r1, 0, sizeof r1);
    memset(&r2, 0, sizeof r2);
    if (fuzz__split(text, &w1) == 0) {
        err[0] = '\0';
        if (fault_rule_parse(&r1, w1.v, w1.n, err, sizeof err) == 0) {
            fault_rule_format(&r1, &f1);
            FUZZ_CHECK(f1.data != NULL);
            if (fuzz__split(f1.data, &w2) != 0) {
                fprintf(stderr, "fuzz_fault: formatted rule does not split: %s\n", f1.data);
                abort();
            }
            err[0] = '\0';
            if (fault_rule_parse(&r2, w2.v, w2.n, err, sizeof err) != 0) {
                fprintf(stderr, "fuzz_fault: formatted rule does not parse: %s\n  %s\n",
                        f1.data, err);
                abort();
            }
            fault_rule_format(&r2, &f2);
            FUZZ_CHECK(f2.data != NULL && strcmp(f1.data, f2.data) == 0);
            fuzz__same_rule(&r1, &r2);
            if (r1.when == FAULT_WHEN_MAXSTARTUPS) {
                fuzz__maxstartups(&r1);
            }
        } else {
            /* A refusal always says why. */
            FUZZ_CHECK(err[0] != '\0');
        }
    }
    fault_rule_free(&r1);
    fault_rule_free(&r2);
    util_buf_free(&f1);
    util_buf_free(&f2);
    fuzz__words_free(&w1);
    fuzz__words_free(&w2);
    free(text);
    return 0;
}
