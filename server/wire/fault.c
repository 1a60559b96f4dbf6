#include "wire/fault.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const fault__stage_names[] = {
#define FAULT__STAGE_NAME(e, name, help) name,
    FAULT_STAGE_MAP(FAULT__STAGE_NAME)
#undef FAULT__STAGE_NAME
};

static const char *const fault__action_names[] = {
#define FAULT__ACTION_NAME(e, name, args, help) name,
    FAULT_ACTION_MAP(FAULT__ACTION_NAME)
#undef FAULT__ACTION_NAME
};

const char *
fault_stage_name(fault_stage_t s)
{
    return (unsigned)s < FAULT_STAGE__COUNT ? fault__stage_names[s] : "?";
}

const char *
fault_action_name(fault_action_t a)
{
    return (unsigned)a < FAULT_ACTION__COUNT ? fault__action_names[a] : "?";
}

uint64_t
fault_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int
fault_maxstartups_drop(int start, int rate, int full, size_t unauth, unsigned draw)
{
    int p;

    /* sshd.c: below start, never; at or past full, always; in between the
     * chance grows linearly from rate% at start to 100% at full. */
    if ((int)unauth < start) {
        return 0;
    }
    if ((int)unauth >= full) {
        return 1;
    }
    p = 100 - rate;
    p *= (int)unauth - start;
    p /= full - start;
    p += rate;
    return (int)draw < p;
}

char *
fault_unescape(const char *s, size_t *len)
{
    util_buf_t b = UTIL_BUF_INIT;

    util_buf_append(&b, "", 0);
    for (; *s != '\0'; s++) {
        char c = *s;
        if (c == '\\' && s[1] == '\0') {
            util_buf_free(&b); /* a lone backslash ends the text: a typo */
            return NULL;
        }
        if (c == '\\') {
            s++;
            switch (*s) {
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case '0': c = '\0'; break;
            case '\\': c = '\\'; break;
            case '"': c = '"'; break;
            case 'x':
                /* Exactly two hex digits: strtol alone would take a sign
                 * or a space ("\x-1"). */
                if (isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
                    char hex[3] = { s[1], s[2], '\0' };
                    c = (char)strtol(hex, NULL, 16);
                    s += 2;
                    break;
                }
                util_buf_free(&b);
                return NULL;
            default:
                util_buf_free(&b);
                return NULL;
            }
        }
        if (util_buf_append(&b, &c, 1) < 0) {
            util_buf_free(&b);
            return NULL;
        }
    }
    *len = b.len;
    return b.data;
}

/* "500ms", "2s", "1m", "3" (seconds). */
static int
fault__duration(const char *s, uint64_t *ms)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    /* Written so that NaN fails too: no comparison with NaN is true. */
    if (end == s || errno != 0 || !(v >= 0 && v <= 86400.0 * 1000)) {
        return -1;
    }
    if (*end == '\0' || strcmp(end, "s") == 0) {
        v *= 1000;
    } else if (strcmp(end, "ms") == 0) {
        /* already ms */
    } else if (strcmp(end, "m") == 0) {
        v *= 60000;
    } else {
        return -1;
    }
    if (!(v <= 86400.0 * 1000)) {
        return -1;
    }
    *ms = (uint64_t)v;
    return 0;
}

static int
fault__uint(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end = NULL;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 || v < min || v > max) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* The index of word in names, or -1 with "unknown WHAT 'word' (WHATs:
 * a, b, ...)" in err. */
static int
fault__lookup(const char *const *names, int n, const char *word, const char *what,
              char *err, size_t errlen)
{
    util_buf_t list = UTIL_BUF_INIT;
    int i;

    for (i = 0; i < n; i++) {
        if (strcasecmp(names[i], word) == 0) {
            return i;
        }
    }
    for (i = 0; i < n; i++) {
        util_buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
    }
    snprintf(err, errlen, "unknown %s '%s' (%ss: %s)", what, word, what,
             list.data != NULL ? list.data : "");
    util_buf_free(&list);
    return -1;
}

static int
fault__parse_when(fault_rule_t *r, char **w, int n, char *err, size_t errlen)
{
    if (n == 0) {
        snprintf(err, errlen, "'when' needs a condition: always, every N, "
                 "probability P [seed S], maxstartups START:RATE:FULL");
        return -1;
    }
    if (strcasecmp(w[0], "always") == 0 && n == 1) {
        r->when = FAULT_WHEN_ALWAYS;
        return 0;
    }
    if (strcasecmp(w[0], "every") == 0 && n == 2) {
        if (fault__uint(w[1], 1, 1000000, &r->every) < 0) {
            snprintf(err, errlen, "every %s: expected a count from 1 to 1000000", w[1]);
            return -1;
        }
        r->when = FAULT_WHEN_EVERY;
        return 0;
    }
    if (strcasecmp(w[0], "probability") == 0 && (n == 2 || n == 4)) {
        char *end = NULL;
        r->probability = strtod(w[1], &end);
        if (end == w[1] || *end != '\0' || !(r->probability >= 0.0 && r->probability <= 1.0)) {
            snprintf(err, errlen, "probability %s: expected a number from 0 to 1", w[1]);
            return -1;
        }
        r->seed = 1;
        if (n == 4) {
            unsigned long long seed;
            char *send = NULL;
            errno = 0;
            seed = strtoull(w[3], &send, 10);
            if (strcasecmp(w[2], "seed") != 0 || !isdigit((unsigned char)w[3][0]) ||
                *send != '\0' || errno != 0) {
                snprintf(err, errlen, "probability P seed S: S must be a number from 0 to "
                         "18446744073709551615");
                return -1;
            }
            r->seed = seed;
        }
        r->when = FAULT_WHEN_PROBABILITY;
        return 0;
    }
    if (strcasecmp(w[0], "maxstartups") == 0 && n == 2) {
        int start, rate, full;
        char tail;
        if (sscanf(w[1], "%d:%d:%d%c", &start, &rate, &full, &tail) != 3 || start < 0 ||
            rate < 0 || rate > 100 || full < start || full <= 0) {
            snprintf(err, errlen, "maxstartups %s: expected START:RATE:FULL with "
                     "0 <= START <= FULL and RATE from 0 to 100", w[1]);
            return -1;
        }
        r->ms_start = start;
        r->ms_rate = rate;
        r->ms_full = full;
        r->when = FAULT_WHEN_MAXSTARTUPS;
        return 0;
    }
    snprintf(err, errlen, "bad condition after 'when': %s (expected always, every N, "
             "probability P [seed S], maxstartups START:RATE:FULL)", w[0]);
    return -1;
}

int
fault_rule_parse(fault_rule_t *r, char **w, int n, char *err, size_t errlen)
{
    int nargs;
    int stage;
    int action;

    memset(r, 0, sizeof *r);
    if (n < 2) {
        snprintf(err, errlen, "Fault needs a stage and an action: Fault STAGE ACTION "
                 "[ARGS] [when CONDITION]");
        return -1;
    }
    stage = fault__lookup(fault__stage_names, FAULT_STAGE__COUNT, w[0], "stage", err, errlen);
    if (stage < 0) {
        return -1;
    }
    action = fault__lookup(fault__action_names, FAULT_ACTION__COUNT, w[1], "action", err,
                           errlen);
    if (action < 0) {
        return -1;
    }
    r->stage = (fault_stage_t)stage;
    r->action = (fault_action_t)action;
    r->n = 1;

    /* "when" starts the condition, except in a text slot: send's TEXT may
     * be the word itself, and so may disconnect's TEXT unless a condition
     * word follows it. */
    for (nargs = 0; 2 + nargs < n; nargs++) {
        int at = 2 + nargs;
        int cond_follows = at + 1 < n && (strcasecmp(w[at + 1], "always") == 0 ||
                                          strcasecmp(w[at + 1], "every") == 0 ||
                                          strcasecmp(w[at + 1], "probability") == 0 ||
                                          strcasecmp(w[at + 1], "maxstartups") == 0);
        int text_slot = (r->action == FAULT_ACTION_SEND && nargs == 0) ||
                        (r->action == FAULT_ACTION_DISCONNECT && nargs == 1 && !cond_follows);
        if (strcasecmp(w[at], "when") == 0 && !text_slot) {
            break;
        }
    }
    if (2 + nargs < n &&
        fault__parse_when(r, w + 3 + nargs, n - 3 - nargs, err, errlen) < 0) {
        return -1;
    }

    switch (r->action) {
    case FAULT_ACTION_CLOSE:
    case FAULT_ACTION_RESET:
    case FAULT_ACTION_EXIT:
    case FAULT_ACTION_DROP:
        if (nargs != 0) {
            snprintf(err, errlen, "%s takes no argument", w[1]);
            return -1;
        }
        break;
    case FAULT_ACTION_STALL:
    case FAULT_ACTION_DELAY:
        if ((r->action == FAULT_ACTION_DELAY && nargs != 1) || nargs > 1 ||
            (nargs == 1 && fault__duration(w[2], &r->ms) < 0)) {
            snprintf(err, errlen, "%s%s%s: expected a duration such as 500ms, 5s or 2m "
                     "(at most one day)", w[1], nargs == 1 ? " " : "", nargs == 1 ? w[2] : "");
            return -1;
        }
        break;
    case FAULT_ACTION_SEND:
        if (nargs != 1) {
            snprintf(err, errlen, "send takes one quoted TEXT (escapes \\r \\n \\t \\xHH)");
            return -1;
        }
        r->data = fault_unescape(w[2], &r->data_len);
        if (r->data == NULL || r->data_len == 0) {
            snprintf(err, errlen, "send %s: bad escape or empty text", w[2]);
            return -1;
        }
        break;
    case FAULT_ACTION_CORRUPT:
        if (nargs > 1 || (nargs == 1 && fault__uint(w[2], 1, 1000000, &r->n) < 0)) {
            snprintf(err, errlen, "corrupt [N]: N must be a count from 1 to 1000000");
            return -1;
        }
        break;
    case FAULT_ACTION_THROTTLE:
        if (nargs != 1 || fault__uint(w[2], 1, 1000000000, &r->n) < 0) {
            snprintf(err, errlen, "throttle BYTES_PER_SEC: expected a rate from 1 to 1000000000");
            return -1;
        }
        break;
    case FAULT_ACTION_DISCONNECT:
        if (nargs < 1 || nargs > 2 || fault__uint(w[2], 1, 255, &r->n) < 0) {
            snprintf(err, errlen, "disconnect REASON [TEXT]: REASON is an SSH disconnect "
                     "code from 1 to 255 (2 = protocol error, 11 = by application)");
            return -1;
        }
        r->data = fault_unescape(nargs == 2 ? w[3] : "", &r->data_len);
        if (r->data == NULL) {
            snprintf(err, errlen, "disconnect: bad escape in TEXT");
            return -1;
        }
        break;
    default:
        break;
    }
    return 0;
}

static void
fault__format_escaped(util_buf_t *out, const char *s, size_t len)
{
    size_t i;

    util_buf_puts(out, "\"");
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '\r': util_buf_puts(out, "\\r"); break;
        case '\n': util_buf_puts(out, "\\n"); break;
        case '\t': util_buf_puts(out, "\\t"); break;
        case '\\': util_buf_puts(out, "\\\\"); break;
        case '"': util_buf_puts(out, "\\\""); break;
        default:
            if (c < 0x20 || c >= 0x7f) {
                util_buf_printf(out, "\\x%02x", c);
            } else {
                util_buf_append(out, &c, 1);
            }
        }
    }
    util_buf_puts(out, "\"");
}

void
fault_rule_format(const fault_rule_t *r, util_buf_t *out)
{
    util_buf_printf(out, "%s %s", fault_stage_name(r->stage), fault_action_name(r->action));
    switch (r->action) {
    case FAULT_ACTION_STALL:
        if (r->ms > 0) {
            util_buf_printf(out, " %llums", (unsigned long long)r->ms);
        }
        break;
    case FAULT_ACTION_DELAY:
        util_buf_printf(out, " %llums", (unsigned long long)r->ms);
        break;
    case FAULT_ACTION_SEND:
        util_buf_puts(out, " ");
        fault__format_escaped(out, r->data, r->data_len);
        break;
    case FAULT_ACTION_CORRUPT:
    case FAULT_ACTION_THROTTLE:
        util_buf_printf(out, " %u", r->n);
        break;
    case FAULT_ACTION_DISCONNECT:
        util_buf_printf(out, " %u ", r->n);
        fault__format_escaped(out, r->data, r->data_len);
        break;
    default:
        break;
    }
    switch (r->when) {
    case FAULT_WHEN_EVERY:
        util_buf_printf(out, " when every %u", r->every);
        break;
    case FAULT_WHEN_PROBABILITY: {
        /* The shortest form that reads back as the same number. */
        char num[32];
        int prec;
        for (prec = 1; prec <= 17; prec++) {
            snprintf(num, sizeof num, "%.*g", prec, r->probability);
            if (strtod(num, NULL) == r->probability) {
                break;
            }
        }
        util_buf_printf(out, " when probability %s seed %llu", num, (unsigned long long)r->seed);
        break;
    }
    case FAULT_WHEN_MAXSTARTUPS:
        util_buf_printf(out, " when maxstartups %d:%d:%d", r->ms_start, r->ms_rate, r->ms_full);
        break;
    default:
        break;
    }
}

void
fault_rule_free(fault_rule_t *r)
{
    free(r->data);
    r->data = NULL;
}
