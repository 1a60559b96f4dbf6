/*
 * Unit tests of the fault rule language (server/wire/fault.c): parsing every
 * stage, action and condition, the error messages, formatting back to a
 * profile line, sshd's MaxStartups decision, the seeded generator and the
 * escape decoder. Then the profile keywords that go with it (Fault,
 * MaxStartups, HostKey none, HostKeyRotation, Explain, FixClient,
 * FixServer) through the profile parser, and every shipped profile.
 *
 * Rules are written as profile lines and cut into words by a small
 * splitter of our own that works like the profile parser's: double quotes
 * group words and are removed, a backslash and the character after it are
 * kept as written (fault_rule_parse decodes them).
 *
 * Tests named test_bug_* are regressions: each pins a bug found in
 * fault.c or profile.c (NaN durations, lax escapes and numbers, "when"
 * as text, precision lost in formatting) that has since been fixed.
 *
 * Everything is freed: these tests also run under ASan and UBSan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sshmock/sshmock.h>

#include "wire/fault.h"
#include "profile/profile.h"
#include "base/util.h"

#define PROFILES_DIR SSHMOCK_SOURCE_DIR "/profiles"
#define TMP_PATH "/tmp/x.conf"

/* ---- helpers ----------------------------------------------------------- */

typedef struct words_s {
    char **v;
    int n;
} words_t;

static void
words_free(words_t *w)
{
    int i;

    for (i = 0; i < w->n; i++) {
        free(w->v[i]);
    }
    free(w->v);
    w->v = NULL;
    w->n = 0;
}

/*
 * Cuts a line into words: spaces and tabs separate, double quotes group
 * (and are dropped), a backslash keeps itself and the next character in
 * the word. Returns 0, or -1 for an unterminated quote (w still needs
 * words_free).
 */
static int
words_split(const char *s, words_t *w)
{
    w->v = NULL;
    w->n = 0;
    for (;;) {
        char **grown = NULL;
        char *word = NULL;
        size_t len = 0;
        int quoted = 0;

        while (*s == ' ' || *s == '\t') {
            s++;
        }
        if (*s == '\0') {
            return 0;
        }
        word = malloc(strlen(s) + 1);
        assert_non_null(word);
        while (*s != '\0' && (quoted || (*s != ' ' && *s != '\t'))) {
            if (*s == '\\' && s[1] != '\0') {
                word[len++] = *s++;
                word[len++] = *s++;
            } else if (*s == '"') {
                quoted = !quoted;
                s++;
            } else {
                word[len++] = *s++;
            }
        }
        word[len] = '\0';
        grown = realloc(w->v, (size_t)(w->n + 1) * sizeof *grown);
        assert_non_null(grown);
        w->v = grown;
        w->v[w->n++] = word;
        if (quoted) {
            return -1;
        }
    }
}

/* Parses a rule written as the words after "Fault". */
static int
parse_line(const char *line, fault_rule_t *r, char *err, size_t errlen)
{
    words_t w;
    int rc;

    assert_int_equal(words_split(line, &w), 0);
    err[0] = '\0';
    rc = fault_rule_parse(r, w.v, w.n, err, errlen);
    words_free(&w);
    return rc;
}

/* Parses a rule that must be valid; free it with fault_rule_free. */
static void
parse_ok(const char *line, fault_rule_t *r)
{
    char err[1024];
    int rc = parse_line(line, r, err, sizeof err);

    if (rc != 0) {
        print_error("'%s': unexpected error: %s\n", line, err);
    }
    assert_int_equal(rc, 0);
}

/* Parses a rule that must fail with a message containing every needle
 * (a NULL-terminated list). */
static void
expect_fail_v(const char *line, const char *needle, ...)
{
    fault_rule_t r;
    char err[1024];
    const char *n = needle;
    va_list ap;
    int rc = parse_line(line, &r, err, sizeof err);

    /* A failed parse may still own memory (an empty send): the profile
     * parser frees it too. */
    fault_rule_free(&r);
    if (rc != -1) {
        print_error("'%s': expected an error, got rc=%d\n", line, rc);
    }
    assert_int_equal(rc, -1);
    va_start(ap, needle);
    while (n != NULL) {
        if (strstr(err, n) == NULL) {
            print_error("'%s': expected '%s' in the error, got '%s'\n", line, n, err);
            va_end(ap);
            fail();
        }
        n = va_arg(ap, const char *);
    }
    va_end(ap);
}

#define expect_fail(line, ...) expect_fail_v(line, __VA_ARGS__, (const char *)NULL)

static void
assert_rules_equal(const fault_rule_t *a, const fault_rule_t *b)
{
    assert_int_equal(a->stage, b->stage);
    assert_int_equal(a->action, b->action);
    assert_int_equal(a->ms, b->ms);
    assert_int_equal(a->data_len, b->data_len);
    assert_int_equal(a->data == NULL, b->data == NULL);
    if (a->data_len > 0) {
        assert_memory_equal(a->data, b->data, a->data_len);
    }
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->when, b->when);
    if (a->when == FAULT_WHEN_EVERY) {
        assert_int_equal(a->every, b->every);
    }
    if (a->when == FAULT_WHEN_PROBABILITY) {
        assert_true(a->probability == b->probability);
        assert_int_equal(a->seed, b->seed);
    }
    if (a->when == FAULT_WHEN_MAXSTARTUPS) {
        assert_int_equal(a->ms_start, b->ms_start);
        assert_int_equal(a->ms_rate, b->ms_rate);
        assert_int_equal(a->ms_full, b->ms_full);
    }
}

/* fault_rule_format into a malloc'd string. */
static char *
format_rule(const fault_rule_t *r)
{
    util_buf_t b = UTIL_BUF_INIT;

    fault_rule_format(r, &b);
    assert_non_null(b.data);
    return b.data;
}

/* parse -> format -> split -> parse: the same rule comes back. */
static void
assert_round_trip(const char *line)
{
    fault_rule_t a;
    fault_rule_t b;
    char err[1024];
    char *text = NULL;
    int rc;

    parse_ok(line, &a);
    text = format_rule(&a);
    rc = parse_line(text, &b, err, sizeof err);
    if (rc != 0) {
        print_error("'%s' formats as '%s', which does not parse: %s\n", line, text, err);
    }
    assert_int_equal(rc, 0);
    assert_rules_equal(&a, &b);
    free(text);
    fault_rule_free(&a);
    fault_rule_free(&b);
}

/* Parses a profile that must load (from the string, named TMP_PATH). */
static profile_t *
profile_ok(const char *text)
{
    profile_t *p = NULL;
    char err[2048];
    int rc = profile_parse_string(TMP_PATH, text, &p, err, sizeof err);

    if (rc != 0) {
        print_error("unexpected error: %s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_non_null(p);
    return p;
}

/* A profile that must fail with "/tmp/x.conf:LINE: " and the needle. */
static void
profile_fail(const char *text, int line, const char *needle)
{
    profile_t *p = (profile_t *)(uintptr_t)1;
    char err[2048];
    char prefix[64];
    int rc;

    err[0] = '\0';
    rc = profile_parse_string(TMP_PATH, text, &p, err, sizeof err);
    snprintf(prefix, sizeof prefix, "%s:%d: ", TMP_PATH, line);
    if (rc != SSHMOCK_EPROFILE || strncmp(err, prefix, strlen(prefix)) != 0 ||
        strstr(err, needle) == NULL) {
        print_error("text:     %s\nexpected: %s...%s\ngot:      rc=%d '%s'\n", text, prefix,
                    needle, rc, err);
    }
    assert_int_equal(rc, SSHMOCK_EPROFILE);
    assert_null(p);
    assert_int_equal(strncmp(err, prefix, strlen(prefix)), 0);
    assert_non_null(strstr(err, needle));
}

static char *
print_to_string(const profile_t *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    profile_print(p, f);
    assert_int_equal(fclose(f), 0);
    assert_non_null(buf);
    return buf;
}

static void
assert_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL) {
        print_error("'%s' not found in:\n%s\n", needle, hay);
    }
    assert_non_null(strstr(hay, needle));
}

/* ---- names --------------------------------------------------------------- */

static const char *const stage_names[] = {
    "accept", "server-ident", "client-ident", "client-kexinit",
    "server-kexinit", "newkeys", "auth-success", "channel-open",
};

static const char *const action_names[] = {
    "close", "reset", "exit", "drop", "stall", "delay", "send", "corrupt", "throttle",
    "disconnect",
};

/* Arguments that make each action valid, in action order. */
static const char *const action_args[] = {
    "", "", "", "", "", " 1s", " \"x\"", "", " 10", " 2",
};

/* "server-ident" -> "SERVER-IDENT", "Server-ident". */
static void
recase(char *dst, const char *src, size_t size, int how)
{
    size_t i;

    for (i = 0; i + 1 < size && src[i] != '\0'; i++) {
        char c = src[i];
        if ((how == 1 || (how == 2 && i == 0)) && c >= 'a' && c <= 'z') {
            c = (char)(c - 'a' + 'A');
        }
        dst[i] = c;
    }
    dst[i] = '\0';
}

static void
test_stage_names(void **state)
{
    int i;
    int how;

    assert_int_equal(UTIL_ARRAY_SIZE(stage_names), FAULT_STAGE__COUNT);
    for (i = 0; i < FAULT_STAGE__COUNT; i++) {
        assert_string_equal(fault_stage_name((fault_stage_t)i), stage_names[i]);
        for (how = 0; how < 3; how++) {
            char name[32];
            char line[64];
            fault_rule_t r;

            recase(name, stage_names[i], sizeof name, how);
            snprintf(line, sizeof line, "%s close", name);
            parse_ok(line, &r);
            assert_int_equal(r.stage, i);
            assert_int_equal(r.action, FAULT_ACTION_CLOSE);
            assert_int_equal(r.when, FAULT_WHEN_ALWAYS);
            assert_null(r.data);
            fault_rule_free(&r);
        }
    }
    assert_string_equal(fault_stage_name(FAULT_STAGE__COUNT), "?");
    assert_string_equal(fault_stage_name((fault_stage_t)-1), "?");
}

static void
test_action_names(void **state)
{
    int i;
    int how;

    assert_int_equal(UTIL_ARRAY_SIZE(action_names), FAULT_ACTION__COUNT);
    for (i = 0; i < FAULT_ACTION__COUNT; i++) {
        assert_string_equal(fault_action_name((fault_action_t)i), action_names[i]);
        for (how = 0; how < 3; how++) {
            char name[32];
            char line[64];
            fault_rule_t r;

            recase(name, action_names[i], sizeof name, how);
            snprintf(line, sizeof line, "newkeys %s%s", name, action_args[i]);
            parse_ok(line, &r);
            assert_int_equal(r.stage, FAULT_STAGE_NEWKEYS);
            assert_int_equal(r.action, i);
            fault_rule_free(&r);
        }
    }
    assert_string_equal(fault_action_name(FAULT_ACTION__COUNT), "?");
    assert_string_equal(fault_action_name((fault_action_t)-1), "?");
}

/* ---- actions and their arguments --------------------------------------- */

static void
test_close_reset(void **state)
{
    fault_rule_t r;

    parse_ok("accept close", &r);
    assert_int_equal(r.action, FAULT_ACTION_CLOSE);
    assert_int_equal(r.ms, 0);
    assert_null(r.data);
    fault_rule_free(&r);
    parse_ok("client-kexinit reset", &r);
    assert_int_equal(r.stage, FAULT_STAGE_CLIENT_KEXINIT);
    assert_int_equal(r.action, FAULT_ACTION_RESET);
    fault_rule_free(&r);

    expect_fail("accept close now", "close takes no argument");
    expect_fail("accept reset 1 2", "reset takes no argument");
    expect_fail("accept close now when always", "close takes no argument");
}

static void
test_durations(void **state)
{
    static const struct {
        const char *line;
        uint64_t ms;
    } cases[] = {
        { "accept stall", 0 },
        { "accept stall 500ms", 500 },
        { "accept stall 5s", 5000 },
        { "accept stall 2m", 120000 },
        { "accept stall 3", 3000 },
        { "accept delay 500ms", 500 },
        { "accept delay 5s", 5000 },
        { "accept delay 2m", 120000 },
        { "accept delay 3", 3000 },
        { "accept delay 0", 0 },
        { "accept delay 1.5s", 1500 },
        { "accept delay 0.25", 250 },
        { "accept delay 1440m", 86400000 },     /* a day: the cap */
        { "accept delay 86400", 86400000 },
        { "accept delay 86400000ms", 86400000 },
        { "server-ident DELAY 250ms when every 2", 250 },
    };
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
        fault_rule_t r;

        parse_ok(cases[i].line, &r);
        if (r.ms != cases[i].ms) {
            print_error("'%s': ms=%llu, expected %llu\n", cases[i].line,
                        (unsigned long long)r.ms, (unsigned long long)cases[i].ms);
        }
        assert_int_equal(r.ms, cases[i].ms);
        assert_true(r.action == FAULT_ACTION_STALL || r.action == FAULT_ACTION_DELAY);
        fault_rule_free(&r);
    }
}

static void
test_duration_errors(void **state)
{
    static const char *const bad[] = {
        "accept delay",            /* DELAY needs one */
        "accept delay 5x",
        "accept delay 5ss",
        "accept delay ms",
        "accept delay -1",
        "accept delay -5s",
        "accept delay \"\"",
        "accept delay inf",
        "accept delay 1441m",      /* more than a day */
        "accept delay 86401",
        "accept delay 86400001ms",
        "accept delay 1s 2s",
        "accept stall 1s 2s",
        "accept stall soon",
        "accept stall 5h",
    };
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(bad); i++) {
        expect_fail(bad[i], "expected a duration such as 500ms, 5s or 2m");
    }
    expect_fail("accept delay 5x", "delay 5x: expected a duration");
    expect_fail("accept stall soon", "stall soon: expected a duration");
}

static void
test_send(void **state)
{
    static const char expect[] = {
        'a', '\r', '\n', '\t', '\\', '"', 'A', 'z', '\x7f', '\xff', '\0', 'b',
    };
    fault_rule_t r;

    parse_ok("accept send \"Exceeded MaxStartups\\r\\n\"", &r);
    assert_int_equal(r.action, FAULT_ACTION_SEND);
    assert_int_equal(r.data_len, 22);
    assert_memory_equal(r.data, "Exceeded MaxStartups\r\n", 22);
    fault_rule_free(&r);
    assert_null(r.data);

    /* Every escape: \r \n \t \\ \" \xHH (both cases) and \0. */
    parse_ok("server-ident send \"a\\r\\n\\t\\\\\\\"\\x41\\x7A\\x7f\\xFF\\0b\"", &r);
    assert_int_equal(r.data_len, sizeof expect);
    assert_memory_equal(r.data, expect, sizeof expect);
    fault_rule_free(&r);

    /* Unquoted single word, and a quoted one with spaces and a "when"
     * condition after it. */
    parse_ok("accept send hello", &r);
    assert_int_equal(r.data_len, 5);
    assert_memory_equal(r.data, "hello", 5);
    fault_rule_free(&r);
    parse_ok("accept send \"two words\" when every 2", &r);
    assert_int_equal(r.data_len, 9);
    assert_memory_equal(r.data, "two words", 9);
    assert_int_equal(r.when, FAULT_WHEN_EVERY);
    assert_int_equal(r.every, 2);
    fault_rule_free(&r);

    /* A lone \0 is one byte, and that is not empty. */
    parse_ok("accept send \\0", &r);
    assert_int_equal(r.data_len, 1);
    assert_int_equal(r.data[0], '\0');
    fault_rule_free(&r);
}

static void
test_send_errors(void **state)
{
    expect_fail("accept send", "send takes one quoted TEXT");
    expect_fail("accept send a b", "send takes one quoted TEXT");
    expect_fail("accept send when always", "send takes one quoted TEXT");
    expect_fail("accept send \"\"", "bad escape or empty text");
    expect_fail("accept send \"\\q\"", "send \\q: bad escape or empty text");
    expect_fail("accept send \"abc\\x4\"", "bad escape or empty text");
    expect_fail("accept send \"\\xZZ\"", "bad escape or empty text");
    expect_fail("accept send \"\\x\"", "bad escape or empty text");
}

static void
test_corrupt(void **state)
{
    fault_rule_t r;

    parse_ok("newkeys corrupt", &r);
    assert_int_equal(r.action, FAULT_ACTION_CORRUPT);
    assert_int_equal(r.n, 1);
    fault_rule_free(&r);
    parse_ok("newkeys corrupt 5", &r);
    assert_int_equal(r.n, 5);
    fault_rule_free(&r);
    parse_ok("newkeys corrupt 1000000 when always", &r);
    assert_int_equal(r.n, 1000000);
    fault_rule_free(&r);

    expect_fail("newkeys corrupt 0", "corrupt [N]: N must be a count from 1 to 1000000");
    expect_fail("newkeys corrupt 1000001", "N must be a count from 1 to 1000000");
    expect_fail("newkeys corrupt -1", "N must be a count");
    expect_fail("newkeys corrupt x", "N must be a count");
    expect_fail("newkeys corrupt 3x", "N must be a count");
    expect_fail("newkeys corrupt \"\"", "N must be a count");
    expect_fail("newkeys corrupt 1 2", "N must be a count");
}

static void
test_throttle(void **state)
{
    fault_rule_t r;

    parse_ok("auth-success throttle 1024", &r);
    assert_int_equal(r.action, FAULT_ACTION_THROTTLE);
    assert_int_equal(r.n, 1024);
    fault_rule_free(&r);
    parse_ok("auth-success throttle 1", &r);
    assert_int_equal(r.n, 1);
    fault_rule_free(&r);
    parse_ok("auth-success throttle 1000000000", &r);
    assert_int_equal(r.n, 1000000000);
    fault_rule_free(&r);

    expect_fail("auth-success throttle 0",
                "throttle BYTES_PER_SEC: expected a rate from 1 to 1000000000");
    expect_fail("auth-success throttle", "throttle BYTES_PER_SEC");
    expect_fail("auth-success throttle 1000000001", "throttle BYTES_PER_SEC");
    expect_fail("auth-success throttle fast", "throttle BYTES_PER_SEC");
    expect_fail("auth-success throttle -5", "throttle BYTES_PER_SEC");
    expect_fail("auth-success throttle 10 20", "throttle BYTES_PER_SEC");
}

static void
test_disconnect(void **state)
{
    fault_rule_t r;

    parse_ok("client-ident disconnect 2", &r);
    assert_int_equal(r.action, FAULT_ACTION_DISCONNECT);
    assert_int_equal(r.n, 2);
    assert_non_null(r.data);
    assert_int_equal(r.data_len, 0);
    fault_rule_free(&r);

    parse_ok("client-ident disconnect 11 \"bye now\\r\\n\"", &r);
    assert_int_equal(r.n, 11);
    assert_int_equal(r.data_len, 9);
    assert_memory_equal(r.data, "bye now\r\n", 9);
    fault_rule_free(&r);

    parse_ok("client-ident disconnect 1 \"\"", &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.data_len, 0);
    fault_rule_free(&r);

    parse_ok("client-ident disconnect 255 text when every 5", &r);
    assert_int_equal(r.n, 255);
    assert_int_equal(r.data_len, 4);
    assert_memory_equal(r.data, "text", 4);
    assert_int_equal(r.when, FAULT_WHEN_EVERY);
    assert_int_equal(r.every, 5);
    fault_rule_free(&r);

    expect_fail("client-ident disconnect", "disconnect REASON [TEXT]");
    expect_fail("client-ident disconnect 0",
                "REASON is an SSH disconnect code from 1 to 255");
    expect_fail("client-ident disconnect 256", "code from 1 to 255");
    expect_fail("client-ident disconnect x", "code from 1 to 255");
    expect_fail("client-ident disconnect 2 a b", "disconnect REASON [TEXT]");
    expect_fail("client-ident disconnect 2 \"\\q\"", "disconnect: bad escape in TEXT");
}

static void
test_missing_action(void **state)
{
    fault_rule_t r;
    char err[256];
    char *one[] = { "accept" };

    expect_fail("accept", "Fault needs a stage and an action");
    err[0] = '\0';
    assert_int_equal(fault_rule_parse(&r, one, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "Fault STAGE ACTION [ARGS] [when CONDITION]"));
    fault_rule_free(&r);
}

static void
test_unknown_stage(void **state)
{
    expect_fail("nowhere close", "unknown stage 'nowhere'",
                "stages: accept, server-ident, client-ident, client-kexinit, "
                "server-kexinit, newkeys, auth-success, channel-open");
    expect_fail("close accept", "unknown stage 'close'");
    /* Names are whole words: no prefixes, no underscores. */
    expect_fail("acc close", "unknown stage 'acc'");
    expect_fail("server_ident close", "unknown stage 'server_ident'");
}

static void
test_unknown_action(void **state)
{
    expect_fail("accept explode", "unknown action 'explode'",
                "actions: close, reset, exit, drop, stall, delay, send, corrupt, throttle, "
                "disconnect");
    expect_fail("accept when always", "unknown action 'when'");
    expect_fail("accept clos", "unknown action 'clos'");
}

/* ---- conditions ---------------------------------------------------------- */

static void
test_when_forms(void **state)
{
    fault_rule_t r;

    parse_ok("accept close", &r);
    assert_int_equal(r.when, FAULT_WHEN_ALWAYS);
    fault_rule_free(&r);
    parse_ok("accept close when always", &r);
    assert_int_equal(r.when, FAULT_WHEN_ALWAYS);
    fault_rule_free(&r);
    parse_ok("accept close WHEN ALWAYS", &r);
    assert_int_equal(r.when, FAULT_WHEN_ALWAYS);
    fault_rule_free(&r);

    parse_ok("accept close when every 3", &r);
    assert_int_equal(r.when, FAULT_WHEN_EVERY);
    assert_int_equal(r.every, 3);
    fault_rule_free(&r);
    parse_ok("accept close When Every 1", &r);
    assert_int_equal(r.when, FAULT_WHEN_EVERY);
    assert_int_equal(r.every, 1);
    fault_rule_free(&r);
    parse_ok("accept close when every 1000000", &r);
    assert_int_equal(r.every, 1000000);
    fault_rule_free(&r);

    parse_ok("accept reset when probability 0.3", &r);
    assert_int_equal(r.when, FAULT_WHEN_PROBABILITY);
    assert_true(r.probability == 0.3);
    assert_int_equal(r.seed, 1);   /* the default seed */
    fault_rule_free(&r);
    parse_ok("accept reset when probability 0.3 seed 7", &r);
    assert_int_equal(r.when, FAULT_WHEN_PROBABILITY);
    assert_true(r.probability == 0.3);
    assert_int_equal(r.seed, 7);
    fault_rule_free(&r);
    parse_ok("accept reset when PROBABILITY 1 SEED 0", &r);
    assert_true(r.probability == 1.0);
    assert_int_equal(r.seed, 0);
    fault_rule_free(&r);
    parse_ok("accept reset when probability 0", &r);
    assert_true(r.probability == 0.0);
    fault_rule_free(&r);
    parse_ok("accept reset when probability 0.5 seed 18446744073709551615", &r);
    assert_int_equal(r.seed, UINT64_MAX);
    fault_rule_free(&r);

    parse_ok("accept send \"Exceeded MaxStartups\\r\\n\" when maxstartups 2:100:2", &r);
    assert_int_equal(r.action, FAULT_ACTION_SEND);
    assert_int_equal(r.when, FAULT_WHEN_MAXSTARTUPS);
    assert_int_equal(r.ms_start, 2);
    assert_int_equal(r.ms_rate, 100);
    assert_int_equal(r.ms_full, 2);
    fault_rule_free(&r);
    parse_ok("accept close when maxstartups 10:30:100", &r);
    assert_int_equal(r.ms_start, 10);
    assert_int_equal(r.ms_rate, 30);
    assert_int_equal(r.ms_full, 100);
    fault_rule_free(&r);
    parse_ok("accept close when MaxStartups 0:0:1", &r);
    assert_int_equal(r.ms_start, 0);
    assert_int_equal(r.ms_rate, 0);
    assert_int_equal(r.ms_full, 1);
    fault_rule_free(&r);

    /* Conditions after arguments of every shape. */
    parse_ok("newkeys delay 2s when every 4", &r);
    assert_int_equal(r.ms, 2000);
    assert_int_equal(r.every, 4);
    fault_rule_free(&r);
    parse_ok("newkeys corrupt when probability 0.5 seed 9", &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.seed, 9);
    fault_rule_free(&r);
    parse_ok("newkeys stall when every 2", &r);
    assert_int_equal(r.ms, 0);
    assert_int_equal(r.every, 2);
    fault_rule_free(&r);
}

static void
test_when_errors(void **state)
{
    expect_fail("accept close when", "'when' needs a condition: always, every N, "
                "probability P [seed S], maxstartups START:RATE:FULL");
    expect_fail("accept close when sometimes",
                "bad condition after 'when': sometimes (expected always, every N");
    expect_fail("accept close when always now", "bad condition after 'when': always");
    expect_fail("accept close when every", "bad condition after 'when': every");
    expect_fail("accept close when every 2 3", "bad condition after 'when': every");
    expect_fail("accept close when probability", "bad condition after 'when': probability");
    expect_fail("accept close when probability 0.5 seed",
                "bad condition after 'when': probability");
    expect_fail("accept close when probability 0.5 seed 1 2",
                "bad condition after 'when': probability");
    expect_fail("accept close when maxstartups", "bad condition after 'when': maxstartups");
    expect_fail("accept close when maxstartups 1:2:3 4",
                "bad condition after 'when': maxstartups");
    expect_fail("accept close when when always", "bad condition after 'when': when");

    expect_fail("accept close when every 0", "every 0: expected a count from 1 to 1000000");
    expect_fail("accept close when every 1000001", "expected a count from 1 to 1000000");
    expect_fail("accept close when every x", "every x: expected a count");
    expect_fail("accept close when every -2", "expected a count");
    expect_fail("accept close when every 2.5", "expected a count");

    expect_fail("accept close when probability 0.5 seed x",
                "probability P seed S: S must be a number");
    expect_fail("accept close when probability 0.5 salt 3", "S must be a number");
    /* The condition is checked before the action's arguments. */
    expect_fail("accept corrupt 0 when sometimes", "bad condition after 'when'");
}

static void
test_when_probability_range(void **state)
{
    static const char *const bad[] = {
        "1.5", "-0.1", "1.0000001", "2", "-1", "abc", "0.5x", "nan", "inf", "-inf",
    };
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(bad); i++) {
        char line[128];
        char msg[128];

        snprintf(line, sizeof line, "accept close when probability %s", bad[i]);
        snprintf(msg, sizeof msg, "probability %s: expected a number from 0 to 1", bad[i]);
        expect_fail(line, msg);
        snprintf(line, sizeof line, "accept close when probability %s seed 3", bad[i]);
        expect_fail(line, msg);
    }
}

static void
test_when_maxstartups_errors(void **state)
{
    static const char *const bad[] = {
        "5:30:2",       /* full < start */
        "10:101:100",   /* rate > 100 */
        "10:-1:100",
        "-1:30:100",
        "0:30:0",       /* full must be positive */
        "10:30",
        "10",
        "10:30:100x",
        "10:30:100:5",
        "a:b:c",
        "",
    };
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(bad); i++) {
        char line[128];
        char msg[128];

        snprintf(line, sizeof line, "accept close when maxstartups \"%s\"", bad[i]);
        snprintf(msg, sizeof msg, "maxstartups %s: expected START:RATE:FULL", bad[i]);
        expect_fail(line, msg, "0 <= START <= FULL and RATE from 0 to 100");
    }
}

/* ---- format ---------------------------------------------------------------- */

static void
test_format_exact(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        { "ACCEPT Close", "accept close" },
        { "accept reset when always", "accept reset" },
        { "server-ident stall", "server-ident stall" },
        { "server-ident stall 0", "server-ident stall" },
        { "client-ident stall 5s", "client-ident stall 5000ms" },
        { "client-kexinit delay 2m", "client-kexinit delay 120000ms" },
        { "client-kexinit delay 0", "client-kexinit delay 0ms" },
        { "newkeys corrupt", "newkeys corrupt 1" },
        { "newkeys corrupt 3 when every 2", "newkeys corrupt 3 when every 2" },
        { "auth-success throttle 4096", "auth-success throttle 4096" },
        { "channel-open disconnect 2", "channel-open disconnect 2 \"\"" },
        { "channel-open disconnect 11 \"bye\\r\\n\"", "channel-open disconnect 11 \"bye\\r\\n\"" },
        { "accept send \"Exceeded MaxStartups\\r\\n\" when maxstartups 2:100:2",
          "accept send \"Exceeded MaxStartups\\r\\n\" when maxstartups 2:100:2" },
        { "accept send \"\\t\\\\\\\"\\0\\x01\\x7f\\x80\\xff~ \"",
          "accept send \"\\t\\\\\\\"\\x00\\x01\\x7f\\x80\\xff~ \"" },
        { "accept reset when probability 0.3 seed 7", "accept reset when probability 0.3 seed 7" },
        { "accept reset when probability 0.25", "accept reset when probability 0.25 seed 1" },
        { "accept reset when probability 1", "accept reset when probability 1 seed 1" },
    };
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
        fault_rule_t r;
        char *text = NULL;

        parse_ok(cases[i].in, &r);
        text = format_rule(&r);
        if (strcmp(text, cases[i].out) != 0) {
            print_error("'%s' formats as '%s', expected '%s'\n", cases[i].in, text,
                        cases[i].out);
        }
        assert_string_equal(text, cases[i].out);
        free(text);
        fault_rule_free(&r);
    }
}

static void
test_format_appends(void **state)
{
    util_buf_t b = UTIL_BUF_INIT;
    fault_rule_t r;

    parse_ok("accept close", &r);
    assert_int_equal(util_buf_puts(&b, "Fault "), 0);
    fault_rule_format(&r, &b);
    assert_string_equal(b.data, "Fault accept close");
    assert_int_equal(b.len, strlen("Fault accept close"));
    util_buf_free(&b);
    fault_rule_free(&r);
}

static void
test_format_round_trip(void **state)
{
    static const char *const lines[] = {
        "accept close",
        "ACCEPT RESET when always",
        "server-ident stall",
        "client-ident stall 500ms",
        "client-kexinit delay 5s when every 3",
        "server-kexinit delay 2m",
        "newkeys delay 3",
        "newkeys delay 1.5s",
        "auth-success send \"hello\\r\\n\\t\\\\ \\\"q\\\" \\x00\\x7f\\xff\\0 # not a comment\"",
        "channel-open corrupt",
        "newkeys corrupt 7 when probability 0.3 seed 7",
        "accept throttle 1024 when probability 0.25",
        "accept throttle 1000000000 when probability 0 seed 18446744073709551615",
        "accept disconnect 2",
        "accept disconnect 11 \"bye now\\r\\n\" when maxstartups 2:100:2",
        "accept send \"Exceeded MaxStartups\\r\\n\" when maxstartups 10:30:100",
        "accept send x when maxstartups 0:0:1",
        "accept stall 0 when every 1000000",
    };
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(lines); i++) {
        assert_round_trip(lines[i]);
    }
}

/* A send of every byte value, 0 to 255, survives format and parse. */
static void
test_format_round_trip_all_bytes(void **state)
{
    util_buf_t line = UTIL_BUF_INIT;
    fault_rule_t a;
    fault_rule_t b;
    char err[256];
    char *text = NULL;
    int i;

    util_buf_puts(&line, "accept send \"");
    for (i = 0; i < 256; i++) {
        util_buf_printf(&line, "\\x%02X", i);
    }
    util_buf_puts(&line, "\"");
    parse_ok(line.data, &a);
    assert_int_equal(a.data_len, 256);
    for (i = 0; i < 256; i++) {
        assert_int_equal((unsigned char)a.data[i], i);
    }
    text = format_rule(&a);
    assert_int_equal(parse_line(text, &b, err, sizeof err), 0);
    assert_rules_equal(&a, &b);
    free(text);
    fault_rule_free(&a);
    fault_rule_free(&b);
    util_buf_free(&line);
}

/* ---- MaxStartups ------------------------------------------------------------ */

/* sshd's should_drop_connection(), from its description: never below
 * start, always from full on, else drop when draw < p with
 * p = rate + (100 - rate) * (n - start) / (full - start) in integers. */
static int
ref_drop(int start, int rate, int full, int n, int draw)
{
    int p;

    if (n < start) {
        return 0;
    }
    if (n >= full) {
        return 1;
    }
    p = rate + (100 - rate) * (n - start) / (full - start);
    return draw < p;
}

static void
test_maxstartups_bounds(void **state)
{
    unsigned d;
    size_t n;

    for (d = 0; d < 100; d++) {
        for (n = 0; n < 10; n++) {
            assert_int_equal(fault_maxstartups_drop(10, 30, 100, n, d), 0);
        }
        for (n = 100; n < 110; n++) {
            assert_int_equal(fault_maxstartups_drop(10, 30, 100, n, d), 1);
        }
        assert_int_equal(fault_maxstartups_drop(10, 30, 100, 100000, d), 1);
    }
    /* draw is in [0,100): the last possible draw still drops at full. */
    assert_int_equal(fault_maxstartups_drop(10, 30, 100, 100, 99), 1);
}

static void
test_maxstartups_ramp(void **state)
{
    static const struct {
        size_t n;
        unsigned draw;
        int drop;
    } at[] = {
        /* 10:30:100: p = 30 at 10, 65 at 55, 99 at 99. */
        { 10, 0, 1 }, { 10, 29, 1 }, { 10, 30, 0 }, { 10, 99, 0 },
        { 11, 30, 0 },   /* 30 + 70*1/90 = 30 */
        { 12, 30, 1 },   /* 30 + 70*2/90 = 31 */
        { 12, 31, 0 },
        { 55, 64, 1 }, { 55, 65, 0 },
        { 99, 98, 1 }, { 99, 99, 0 },
    };
    static const int specs[][3] = {
        { 10, 30, 100 }, { 2, 100, 10 }, { 0, 0, 1 }, { 0, 0, 50 }, { 5, 1, 7 },
        { 3, 50, 4 }, { 1, 99, 100 }, { 20, 0, 30 },
    };
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(at); i++) {
        int got = fault_maxstartups_drop(10, 30, 100, at[i].n, at[i].draw);
        if (got != at[i].drop) {
            print_error("10:30:100 n=%zu draw=%u: %d, expected %d\n", at[i].n, at[i].draw,
                        got, at[i].drop);
        }
        assert_int_equal(got, at[i].drop);
    }
    /* 20:0:30: nothing is dropped at start itself, p grows by 10 each. */
    assert_int_equal(fault_maxstartups_drop(20, 0, 30, 20, 0), 0);
    assert_int_equal(fault_maxstartups_drop(20, 0, 30, 25, 49), 1);
    assert_int_equal(fault_maxstartups_drop(20, 0, 30, 25, 50), 0);
    /* Rate 100: from start on, everything. */
    assert_int_equal(fault_maxstartups_drop(2, 100, 10, 2, 99), 1);

    for (i = 0; i < UTIL_ARRAY_SIZE(specs); i++) {
        int s = specs[i][0];
        int r = specs[i][1];
        int f = specs[i][2];
        int n;
        int d;

        for (n = 0; n <= f + 3; n++) {
            for (d = 0; d < 100; d++) {
                int got = fault_maxstartups_drop(s, r, f, (size_t)n, (unsigned)d);
                int want = ref_drop(s, r, f, n, d);
                if (got != want) {
                    print_error("%d:%d:%d n=%d draw=%d: %d, expected %d\n", s, r, f, n, d,
                                got, want);
                }
                assert_int_equal(got, want);
            }
        }
    }
}

/* The single-number form (MaxStartups 5 = 5:100:5, start == full): no
 * ramp, no division by zero. */
static void
test_maxstartups_single_number(void **state)
{
    unsigned d;
    size_t n;

    for (d = 0; d < 100; d++) {
        for (n = 0; n < 5; n++) {
            assert_int_equal(fault_maxstartups_drop(5, 100, 5, n, d), 0);
        }
        for (n = 5; n < 9; n++) {
            assert_int_equal(fault_maxstartups_drop(5, 100, 5, n, d), 1);
        }
        assert_int_equal(fault_maxstartups_drop(2, 30, 2, 1, d), 0);
        assert_int_equal(fault_maxstartups_drop(2, 30, 2, 2, d), 1);
        assert_int_equal(fault_maxstartups_drop(1, 0, 1, 0, d), 0);
        assert_int_equal(fault_maxstartups_drop(1, 0, 1, 1, d), 1);
    }
}

/* ---- generator ---------------------------------------------------------------- */

static void
test_rng_deterministic(void **state)
{
    uint64_t a = 42;
    uint64_t b = 42;
    uint64_t zero = 0;
    uint64_t first[16];
    int i;

    for (i = 0; i < 16; i++) {
        first[i] = fault_rng_next(&a);
        assert_int_equal(fault_rng_next(&b), first[i]);
    }
    assert_int_equal(a, b);
    /* Reseeding replays. */
    a = 42;
    for (i = 0; i < 16; i++) {
        assert_int_equal(fault_rng_next(&a), first[i]);
    }
    /* splitmix64, as documented: the state steps by the golden gamma, and
     * seed 0 gives the generator's well-known first output. */
    assert_int_equal(fault_rng_next(&zero), 0xe220a8397b1dcdafull);
    assert_int_equal(zero, 0x9e3779b97f4a7c15ull);
    /* Consecutive outputs differ. */
    for (i = 1; i < 16; i++) {
        assert_true(first[i] != first[i - 1]);
    }
}

static void
test_rng_seeds_differ(void **state)
{
    uint64_t seeds[] = { 0, 1, 2, 7, 42, 1000, UINT64_MAX };
    uint64_t out[UTIL_ARRAY_SIZE(seeds)][4];
    size_t i;
    size_t j;
    int k;

    for (i = 0; i < UTIL_ARRAY_SIZE(seeds); i++) {
        uint64_t s = seeds[i];
        for (k = 0; k < 4; k++) {
            out[i][k] = fault_rng_next(&s);
        }
    }
    for (i = 0; i < UTIL_ARRAY_SIZE(seeds); i++) {
        for (j = i + 1; j < UTIL_ARRAY_SIZE(seeds); j++) {
            assert_memory_not_equal(out[i], out[j], sizeof out[i]);
            assert_true(out[i][0] != out[j][0]);
        }
    }
}

static void
test_rng_uniform(void **state)
{
    static const uint64_t seeds[] = { 1, 7, 123456789 };
    size_t s;

    for (s = 0; s < UTIL_ARRAY_SIZE(seeds); s++) {
        unsigned buckets[100];
        uint64_t st = seeds[s];
        unsigned low = 0;
        unsigned i;

        memset(buckets, 0, sizeof buckets);
        for (i = 0; i < 10000; i++) {
            uint64_t v = fault_rng_next(&st);
            buckets[v % 100]++;
            low += (unsigned)(v & 1);
        }
        /* 100 expected per bucket, standard deviation ~10: [50, 150] is
         * five sigmas either way. */
        for (i = 0; i < 100; i++) {
            if (buckets[i] < 50 || buckets[i] > 150) {
                print_error("seed %llu: bucket %u has %u draws\n",
                            (unsigned long long)seeds[s], i, buckets[i]);
            }
            assert_in_range(buckets[i], 50, 150);
        }
        /* The low bit too (5000 expected, sd 50). */
        assert_in_range(low, 4750, 5250);
    }
}

/* ---- unescape ---------------------------------------------------------------- */

static void
test_unescape(void **state)
{
    size_t len = 12345;
    char *s = NULL;

    s = fault_unescape("", &len);
    assert_non_null(s);
    assert_int_equal(len, 0);
    assert_string_equal(s, "");
    free(s);

    s = fault_unescape("plain text", &len);
    assert_non_null(s);
    assert_int_equal(len, 10);
    assert_string_equal(s, "plain text");
    free(s);

    s = fault_unescape("\\r\\n\\t\\\\\\\"\\0\\x00\\xab\\xCD\\x7e", &len);
    assert_non_null(s);
    assert_int_equal(len, 10);
    assert_memory_equal(s, "\r\n\t\\\"\0\0\xab\xcd~", 10);
    assert_int_equal(s[len], '\0');   /* still terminated */
    free(s);

    /* A backslash escape swallows only its own characters. */
    s = fault_unescape("\\x414", &len);
    assert_non_null(s);
    assert_int_equal(len, 2);
    assert_memory_equal(s, "A4", 2);
    free(s);
}

static void
test_unescape_errors(void **state)
{
    static const char *const bad[] = {
        "\\x4",        /* one hex digit, then the end */
        "abc\\x",      /* none */
        "\\x4g",       /* one hex digit, then something else */
        "\\xg4",
        "\\xzz",
        "\\q",         /* unknown escapes */
        "\\a",
        "\\e",
        "\\'",
        "\\1",
        "\\N",         /* escapes are case-sensitive */
        "ok\\?ok",
    };
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(bad); i++) {
        size_t len = 777;
        char *s = fault_unescape(bad[i], &len);

        if (s != NULL) {
            print_error("'%s' decoded (len %zu), expected NULL\n", bad[i], len);
        }
        assert_null(s);
        free(s);
    }
}

/* ---- through the profile parser -------------------------------------------------- */

static void
test_profile_faults_in_order(void **state)
{
    profile_t *p = profile_ok("# faults\n"
                              "Fault accept close when every 3\n"
                              "\n"
                              "fault newkeys corrupt 2\n"
                              "  FAULT  server-ident send \"SSH-1.5-x\\r\\n\"  # comment\n"
                              "Fault=auth-success delay 5s\n"
                              "Fault client-kexinit reset when probability 0.5 seed 9\n");

    assert_int_equal(p->nfaults, 5);
    assert_int_equal(p->faults[0].line, 2);
    assert_int_equal(p->faults[0].stage, FAULT_STAGE_ACCEPT);
    assert_int_equal(p->faults[0].action, FAULT_ACTION_CLOSE);
    assert_int_equal(p->faults[0].when, FAULT_WHEN_EVERY);
    assert_int_equal(p->faults[0].every, 3);
    assert_int_equal(p->faults[1].line, 4);
    assert_int_equal(p->faults[1].stage, FAULT_STAGE_NEWKEYS);
    assert_int_equal(p->faults[1].action, FAULT_ACTION_CORRUPT);
    assert_int_equal(p->faults[1].n, 2);
    assert_int_equal(p->faults[2].line, 5);
    assert_int_equal(p->faults[2].stage, FAULT_STAGE_SERVER_IDENT);
    assert_int_equal(p->faults[2].action, FAULT_ACTION_SEND);
    assert_int_equal(p->faults[2].data_len, 11);
    assert_memory_equal(p->faults[2].data, "SSH-1.5-x\r\n", 11);
    assert_int_equal(p->faults[3].line, 6);
    assert_int_equal(p->faults[3].stage, FAULT_STAGE_AUTH_SUCCESS);
    assert_int_equal(p->faults[3].ms, 5000);
    assert_int_equal(p->faults[4].line, 7);
    assert_int_equal(p->faults[4].action, FAULT_ACTION_RESET);
    assert_true(p->faults[4].probability == 0.5);
    assert_int_equal(p->faults[4].seed, 9);
    profile_free(p);

    p = profile_ok("Description no faults\n");
    assert_int_equal(p->nfaults, 0);
    profile_free(p);
}

static void
test_profile_fault_errors(void **state)
{
    profile_fail("Description x\n\nFault nowhere close\n", 3,
                 "Fault: unknown stage 'nowhere' (stages: accept, server-ident");
    profile_fail("Fault accept explode\n", 1, "Fault: unknown action 'explode'");
    profile_fail("Fault accept close\nFault accept close when every 0\n", 2,
                 "Fault: every 0: expected a count");
    profile_fail("Fault accept send \"\"\n", 1, "Fault: send : bad escape or empty text");
    profile_fail("Fault accept send \"\\q\"\n", 1, "Fault: send \\q: bad escape");
    profile_fail("Fault accept delay soon\n", 1, "Fault: delay soon: expected a duration");
    profile_fail("Fault accept disconnect 256\n", 1, "Fault: disconnect REASON [TEXT]");
    profile_fail("Fault accept close when maxstartups 5:30:2\n", 1,
                 "Fault: maxstartups 5:30:2: expected START:RATE:FULL");
    /* The profile's own checks come first: a missing action, a quote. */
    profile_fail("Fault accept\n", 1, "Fault: missing argument");
    profile_fail("Fault accept send \"open\n", 1, "Fault: unterminated quoted string");
}

static void
test_profile_fault_limit(void **state)
{
    util_buf_t b = UTIL_BUF_INIT;
    profile_t *p = NULL;
    int i;

    for (i = 0; i < FAULT_MAX_RULES; i++) {
        util_buf_printf(&b, "Fault accept delay %dms\n", i + 1);
    }
    p = profile_ok(b.data);
    assert_int_equal(p->nfaults, FAULT_MAX_RULES);
    for (i = 0; i < FAULT_MAX_RULES; i++) {
        assert_int_equal(p->faults[i].line, i + 1);
        assert_int_equal(p->faults[i].ms, (uint64_t)(i + 1));
    }
    profile_free(p);

    util_buf_puts(&b, "Fault accept close\n");
    profile_fail(b.data, FAULT_MAX_RULES + 1, "Fault: too many rules (at most 32)");
    util_buf_free(&b);
}

static void
test_profile_max_startups(void **state)
{
    profile_t *p = NULL;
    char *out = NULL;

    p = profile_ok("Description defaults\n");
    assert_int_equal(p->max_startups_start, 10);
    assert_int_equal(p->max_startups_rate, 30);
    assert_int_equal(p->max_startups_full, 100);
    out = print_to_string(p);
    assert_contains(out, "\nmaxstartups 10:30:100\n");
    free(out);
    profile_free(p);

    p = profile_ok("MaxStartups 10:30:100\n");
    assert_int_equal(p->max_startups_start, 10);
    assert_int_equal(p->max_startups_rate, 30);
    assert_int_equal(p->max_startups_full, 100);
    profile_free(p);

    p = profile_ok("MaxStartups 5\n");
    assert_int_equal(p->max_startups_start, 5);
    assert_int_equal(p->max_startups_rate, 100);
    assert_int_equal(p->max_startups_full, 5);
    out = print_to_string(p);
    assert_contains(out, "\nmaxstartups 5:100:5\n");
    free(out);
    profile_free(p);

    p = profile_ok("maxstartups 3:1:3\nMaxStartups 7:50:90\n");   /* first wins */
    assert_int_equal(p->max_startups_start, 3);
    assert_int_equal(p->max_startups_rate, 1);
    assert_int_equal(p->max_startups_full, 3);
    profile_free(p);
}

static void
test_profile_max_startups_errors(void **state)
{
    static const char *const bad[] = {
        "0", "-1", "5:30", "10:30:5", "10:0:100", "10:101:100", "0:30:100",
        "abc", "10:30:100x", "10:30:100:1", ":30:100", "10::100",
    };
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(bad); i++) {
        char text[128];
        char msg[128];

        snprintf(text, sizeof text, "Description x\nMaxStartups %s\n", bad[i]);
        snprintf(msg, sizeof msg, "MaxStartups %s: expected START or START:RATE:FULL", bad[i]);
        profile_fail(text, 2, msg);
    }
    profile_fail("MaxStartups 10 20\n", 1, "MaxStartups: too many arguments");
    profile_fail("MaxStartups\n", 1, "MaxStartups: missing argument");
    /* A bad repeated line is an error even though the first one wins. */
    profile_fail("MaxStartups 10\nMaxStartups 0\n", 2, "MaxStartups 0:");
}

static void
test_profile_hostkey_none(void **state)
{
    profile_t *p = profile_ok("HostKey none\n");

    assert_int_equal(p->hostkey_none, 1);
    assert_int_equal(p->nhostkeys, 0);
    profile_free(p);

    p = profile_ok("Description x\n");
    assert_int_equal(p->hostkey_none, 0);
    assert_true(p->nhostkeys > 0);    /* the default generated keys */
    profile_free(p);

    p = profile_ok("HostKey generate:ed25519\n");
    assert_int_equal(p->hostkey_none, 0);
    assert_int_equal(p->nhostkeys, 1);
    profile_free(p);

    profile_fail("HostKey none\nHostKey generate:ed25519\n", 1,
                 "HostKey none cannot be combined with other HostKey lines");
    profile_fail("Description x\nHostKey generate:ed25519\nHostKey none\n", 2,
                 "HostKey none cannot be combined");

    /* The variants: sshd 9.x with its keys deleted (the default) and the
     * older close in key exchange. */
    p = profile_ok("HostKey none deleted\n");
    assert_int_equal(p->hostkey_none, PROFILE_HOSTKEY_NONE_DELETED);
    profile_free(p);
    p = profile_ok("HostKey none kex\n");
    assert_int_equal(p->hostkey_none, PROFILE_HOSTKEY_NONE_KEX);
    profile_free(p);
    p = profile_ok("HostKey none refused\n");
    assert_int_equal(p->hostkey_none, PROFILE_HOSTKEY_NONE_REFUSED);
    profile_free(p);
    profile_fail("HostKey none later\n", 1, "HostKey none later: expected deleted");
    profile_fail("HostKey generate:ed25519 kex\n", 1, "only \"none\" takes a variant");
}

static void
test_profile_hostkey_rotation(void **state)
{
    static const struct {
        const char *value;
        int v;
        const char *printed;
    } cases[] = {
        { "never", 0, "\nhostkeyrotation never\n" },
        { "restart", 1, "\nhostkeyrotation restart\n" },
        { "connection", 2, "\nhostkeyrotation connection\n" },
        { "Connection", 2, "\nhostkeyrotation connection\n" },
        { "RESTART", 1, "\nhostkeyrotation restart\n" },
    };
    size_t i;
    profile_t *p = profile_ok("Description x\n");
    char *out = print_to_string(p);

    assert_int_equal(p->hostkey_rotation, 0);
    assert_contains(out, "\nhostkeyrotation never\n");
    free(out);
    profile_free(p);

    for (i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
        char text[128];

        snprintf(text, sizeof text, "HostKeyRotation %s\n", cases[i].value);
        p = profile_ok(text);
        assert_int_equal(p->hostkey_rotation, cases[i].v);
        out = print_to_string(p);
        assert_contains(out, cases[i].printed);
        free(out);
        profile_free(p);
    }
    p = profile_ok("HostKeyRotation restart\nHostKeyRotation connection\n");
    assert_int_equal(p->hostkey_rotation, 1);   /* first wins */
    profile_free(p);

    profile_fail("Description x\nHostKeyRotation sometimes\n", 2,
                 "HostKeyRotation sometimes: expected never, restart or connection");
    profile_fail("HostKeyRotation\n", 1, "HostKeyRotation: missing argument");
    profile_fail("HostKeyRotation never restart\n", 1, "HostKeyRotation: too many arguments");
}

static void
test_profile_explain_fix(void **state)
{
    profile_t *p = profile_ok("Explain The server\n"
                              "FixClient use a newer client\n"
                              "Explain   drops   \"two  spaces\" here\n"
                              "FixServer restart sshd\n"
                              "Explain last line\n"
                              "FixServer then check \"with sshd -t\"\n");
    char *out = NULL;

    assert_string_equal(p->explanation, "The server\ndrops two  spaces here\nlast line");
    assert_string_equal(p->fix_client, "use a newer client");
    assert_string_equal(p->fix_server, "restart sshd\nthen check with sshd -t");
    out = print_to_string(p);
    assert_contains(out, "\nexplain The server\nexplain drops two  spaces here\n"
                         "explain last line\n");
    assert_contains(out, "\nfixclient use a newer client\n");
    assert_contains(out, "\nfixserver restart sshd\nfixserver then check with sshd -t\n");
    free(out);
    profile_free(p);

    p = profile_ok("Description x\n");
    out = print_to_string(p);
    assert_null(strstr(out, "\nexplain"));
    assert_null(strstr(out, "\nfixclient"));
    assert_null(strstr(out, "\nfixserver"));
    free(out);
    profile_free(p);

    profile_fail("Explain\n", 1, "Explain: missing argument");
}

static void
test_profile_print_faults(void **state)
{
    profile_t *p = profile_ok("Fault accept close\n"
                              "Fault ACCEPT send \"Exceeded MaxStartups\\r\\n\" "
                              "when maxstartups 2:100:2\n"
                              "Fault newkeys corrupt when probability 0.5 seed 3\n"
                              "Fault client-ident stall 2s when every 2\n"
                              "Fault channel-open disconnect 11 \"bye\"\n"
                              "MaxStartups 2\n"
                              "HostKeyRotation restart\n");
    profile_t *q = NULL;
    char *out = print_to_string(p);
    util_buf_t again = UTIL_BUF_INIT;
    const char *line = out;
    size_t i;

    assert_contains(out, "\nfault accept close\n"
                         "fault accept send \"Exceeded MaxStartups\\r\\n\" "
                         "when maxstartups 2:100:2\n"
                         "fault newkeys corrupt 1 when probability 0.5 seed 3\n"
                         "fault client-ident stall 2000ms when every 2\n"
                         "fault channel-open disconnect 11 \"bye\"\n");
    assert_contains(out, "\nmaxstartups 2:100:2\n");
    assert_contains(out, "\nhostkeyrotation restart\n");

    /* The printed fault lines are a profile that gives the same rules. */
    while ((line = strstr(line, "\nfault ")) != NULL) {
        const char *end = strchr(line + 1, '\n');
        assert_non_null(end);
        util_buf_append(&again, line + 1, (size_t)(end - line));
        line = end;
    }
    q = profile_ok(again.data);
    assert_int_equal(q->nfaults, p->nfaults);
    for (i = 0; i < p->nfaults; i++) {
        assert_rules_equal(&p->faults[i], &q->faults[i]);
        assert_int_equal(q->faults[i].line, (int)i + 1);
    }
    profile_free(q);
    util_buf_free(&again);
    free(out);
    profile_free(p);
}

/* ---- shipped profiles ---------------------------------------------------------- */

static void
test_shipped_profiles(void **state)
{
    DIR *d = opendir(PROFILES_DIR);
    struct dirent *e = NULL;
    int count = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char path[1024];
        char err[2048];
        profile_t *p = NULL;
        size_t i;
        int rc;

        if (len <= 5 || strcmp(e->d_name + len - 5, ".conf") != 0) {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", PROFILES_DIR, e->d_name);
        err[0] = '\0';
        rc = profile_load(path, &p, err, sizeof err);
        if (rc != 0) {
            print_error("%s: %s\n", e->d_name, err);
        }
        assert_int_equal(rc, 0);
        assert_non_null(p);
        if (p->description[0] == '\0' || p->explanation == NULL ||
            p->explanation[0] == '\0' || p->fix_client == NULL ||
            p->fix_client[0] == '\0' || p->fix_server == NULL || p->fix_server[0] == '\0') {
            print_error("%s: Description, Explain, FixClient and FixServer are all "
                        "required\n", e->d_name);
        }
        assert_true(p->description[0] != '\0');
        assert_non_null(p->explanation);
        assert_true(p->explanation[0] != '\0');
        assert_non_null(p->fix_client);
        assert_true(p->fix_client[0] != '\0');
        assert_non_null(p->fix_server);
        assert_true(p->fix_server[0] != '\0');
        /* Their Fault rules print back as they were read. */
        for (i = 0; i < p->nfaults; i++) {
            char *text = format_rule(&p->faults[i]);
            fault_rule_t r;

            parse_ok(text, &r);
            assert_rules_equal(&p->faults[i], &r);
            assert_true(p->faults[i].line > 0);
            fault_rule_free(&r);
            free(text);
        }
        profile_free(p);
        count++;
    }
    closedir(d);
    assert_true(count >= 1);
}

/* ---- regressions ---------------------------------------------------------------- */

/* strtod reads "nan": it passes the range checks (NaN compares false) and
 * is converted to uint64_t, which is undefined behaviour (x86 gives 2^63
 * ms, way past the one-day cap). */
static void
test_bug_duration_nan(void **state)
{
    /* regression: 'Fault accept delay nan' is accepted (NaN cast to uint64_t) */
    expect_fail("accept delay nan", "expected a duration");
    expect_fail("accept stall nan", "expected a duration");
}

/* \xHH goes through strtol, which also takes a sign or leading space. */
static void
test_bug_hex_escape_sign(void **state)
{
    static const char *const bad[] = { "\\x-1", "\\x+f", "\\x 5" };
    size_t i;

    /* regression: fault_unescape("\\x-1") decodes to 0xff (also \\x+f, \\x 5) */
    for (i = 0; i < UTIL_ARRAY_SIZE(bad); i++) {
        size_t len = 0;
        char *s = fault_unescape(bad[i], &len);

        if (s != NULL) {
            print_error("'%s' decoded to %zu byte(s), 0x%02x\n", bad[i], len,
                        len > 0 ? (unsigned char)s[0] : 0);
        }
        assert_null(s);
        free(s);
    }
}

/* A lone backslash at the end is kept as a byte, where the profile's own
 * text decoder refuses it ("a lone backslash ends the string"). */
static void
test_bug_unescape_trailing_backslash(void **state)
{
    size_t len = 0;
    char *s = NULL;

    /* regression: fault_unescape("abc\\\\") (one trailing backslash) returns "abc\\\\" */
    s = fault_unescape("abc\\", &len);
    if (s != NULL) {
        print_error("decoded to %zu bytes\n", len);
    }
    assert_null(s);
    free(s);
}

/* fault_rule_format writes the probability with %g: six digits. */
static void
test_bug_probability_precision(void **state)
{
    /* regression: 'when probability 0.123456789' formats as 'probability 0.123457' */
    assert_round_trip("accept close when probability 0.123456789 seed 2");
    assert_round_trip("accept close when probability 0.1 seed 2");
}

/* strtod of "" reads nothing and leaves end at the (empty) end. */
static void
test_bug_probability_empty(void **state)
{
    /* regression: 'when probability ""' is accepted as probability 0 */
    expect_fail("accept close when probability \"\"", "expected a number from 0 to 1");
}

/* sscanf("%llu") stops at the first non-digit and wraps negative numbers. */
static void
test_bug_seed_garbage(void **state)
{
    /* regression: 'seed 12abc' is accepted as 12 and 'seed -1' as 2^64-1 */
    expect_fail("accept close when probability 0.5 seed 12abc", "S must be a number");
    expect_fail("accept close when probability 0.5 seed -1", "S must be a number");
}

/* Any argument spelled "when" starts the condition, even quoted, so the
 * text "when" cannot be sent, and format writes a rule it cannot read. */
static void
test_bug_send_text_when(void **state)
{
    /* regression: 'Fault accept send "when"' is read as a condition */
    assert_round_trip("accept send \"when\"");
    assert_round_trip("accept disconnect 2 WHEN");
}

/* A single number is checked with sscanf alone: trailing text is dropped,
 * while the START:RATE:FULL form refuses it. */
static void
test_bug_profile_max_startups_trailing(void **state)
{
    /* regression: 'MaxStartups 5x' is accepted as MaxStartups 5 */
    profile_fail("MaxStartups 5x\n", 1, "MaxStartups 5x: expected START");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stage_names),
        cmocka_unit_test(test_action_names),
        cmocka_unit_test(test_close_reset),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_duration_errors),
        cmocka_unit_test(test_send),
        cmocka_unit_test(test_send_errors),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_throttle),
        cmocka_unit_test(test_disconnect),
        cmocka_unit_test(test_missing_action),
        cmocka_unit_test(test_unknown_stage),
        cmocka_unit_test(test_unknown_action),
        cmocka_unit_test(test_when_forms),
        cmocka_unit_test(test_when_errors),
        cmocka_unit_test(test_when_probability_range),
        cmocka_unit_test(test_when_maxstartups_errors),
        cmocka_unit_test(test_format_exact),
        cmocka_unit_test(test_format_appends),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_format_round_trip_all_bytes),
        cmocka_unit_test(test_maxstartups_bounds),
        cmocka_unit_test(test_maxstartups_ramp),
        cmocka_unit_test(test_maxstartups_single_number),
        cmocka_unit_test(test_rng_deterministic),
        cmocka_unit_test(test_rng_seeds_differ),
        cmocka_unit_test(test_rng_uniform),
        cmocka_unit_test(test_unescape),
        cmocka_unit_test(test_unescape_errors),
        cmocka_unit_test(test_profile_faults_in_order),
        cmocka_unit_test(test_profile_fault_errors),
        cmocka_unit_test(test_profile_fault_limit),
        cmocka_unit_test(test_profile_max_startups),
        cmocka_unit_test(test_profile_max_startups_errors),
        cmocka_unit_test(test_profile_hostkey_none),
        cmocka_unit_test(test_profile_hostkey_rotation),
        cmocka_unit_test(test_profile_explain_fix),
        cmocka_unit_test(test_profile_print_faults),
        cmocka_unit_test(test_shipped_profiles),
        cmocka_unit_test(test_bug_duration_nan),
        cmocka_unit_test(test_bug_hex_escape_sign),
        cmocka_unit_test(test_bug_unescape_trailing_backslash),
        cmocka_unit_test(test_bug_probability_precision),
        cmocka_unit_test(test_bug_probability_empty),
        cmocka_unit_test(test_bug_seed_garbage),
        cmocka_unit_test(test_bug_send_text_when),
        cmocka_unit_test(test_bug_profile_max_startups_trailing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
