/*
 * Unit tests of the wire (server/wire/wire.c) through fakes: the wire gets
 * a fake operations table that records what it sent each way, how it ended
 * the connection and which timers it keeps, and a fake clock that fires
 * those timers in deadline order. No socket, no loop, no libssh.
 *
 * One scripted connection is played for every fault action at every stage
 * it can fire at: identifications, KEXINITs and NEWKEYS built as real
 * cleartext packets, then opaque "encrypted" chunks, with the two stages
 * reached inside libssh (auth-success, channel-open) announced as conn
 * announces them. What reached each side is checked byte for byte against
 * what the action must do to the script's units.
 *
 * Tests named test_bug_* are regressions: each pins a bug of the wire's
 * timers (one timer for six purposes) that has since been fixed.
 *
 * Everything is freed: these tests also run under ASan and UBSan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "profile/algo.h"
#include "profile/profile.h"
#include "wire/offer.h"
#include "wire/tap.h"
#include "wire/wire.h"

#define STEP_MS 10          /* the clock moves this much between script steps */
#define SETTLE_MS 10000     /* then this much, for every timer to run out */
#define MAX_FIRES 100000    /* bound on timer callbacks per advance */

/* ---- the fake owner ---------------------------------------------------- */

typedef struct fake_s {
    wire_t w;
    profile_t *p;
    log_t log;
    uint64_t rng;
    uint64_t now;
    uint64_t due[WIRE_TIMER__COUNT]; /* 0: off */
    util_buf_t client;               /* what reached the client */
    util_buf_t server;               /* what reached libssh */
    int closing;
    int hangups;
    wire_hangup_t hangup_mode;
    int closes;
    int close_disconnect;
    char reason[256];
    uint64_t ended_at;
    size_t held;
    size_t held_max;
    int stalls;
} fake_t;

static void
fake_to_client(void *ud, char *buf, size_t len)
{
    fake_t *f = ud;

    assert_int_equal(util_buf_append(&f->client, buf, len), 0);
    free(buf);
}

static void
fake_to_server(void *ud, char *buf, size_t len)
{
    fake_t *f = ud;

    assert_int_equal(util_buf_append(&f->server, buf, len), 0);
    free(buf);
}

static void
fake_hang_up(void *ud, wire_hangup_t mode, const char *reason)
{
    fake_t *f = ud;

    if (!f->closing) {
        f->ended_at = f->now;
        f->hangup_mode = mode;
        util_strlcpy(f->reason, reason, sizeof f->reason);
    }
    f->closing = 1;
    f->hangups++;
}

static void
fake_close(void *ud, int disconnect, const char *reason)
{
    fake_t *f = ud;

    if (!f->closing) {
        f->ended_at = f->now;
        f->close_disconnect = disconnect;
        util_strlcpy(f->reason, reason, sizeof f->reason);
    }
    f->closing = 1;
    f->closes++;
}

static int
fake_closing(void *ud)
{
    return ((fake_t *)ud)->closing;
}

static void
fake_held(void *ud, size_t n)
{
    fake_t *f = ud;

    f->held = n;
    if (n > f->held_max) {
        f->held_max = n;
    }
}

static void
fake_stalled(void *ud)
{
    ((fake_t *)ud)->stalls++;
}

static void
fake_timer_start(void *ud, wire_timer_t t, uint64_t ms)
{
    fake_t *f = ud;

    assert_true((unsigned)t < WIRE_TIMER__COUNT);
    f->due[t] = f->now + ms + 1; /* +1: 0 means off; fires at now + ms */
}

static void
fake_timer_stop(void *ud, wire_timer_t t)
{
    fake_t *f = ud;

    assert_true((unsigned)t < WIRE_TIMER__COUNT);
    f->due[t] = 0;
}

static const wire_ops_t fake_ops = {
    .to_client = fake_to_client,
    .to_server = fake_to_server,
    .hang_up = fake_hang_up,
    .close = fake_close,
    .closing = fake_closing,
    .held = fake_held,
    .stalled = fake_stalled,
    .timer_start = fake_timer_start,
    .timer_stop = fake_timer_stop,
};

/* Moves the clock by ms, firing due timers in deadline order (the lower
 * purpose first on a tie), as the owner's loop would. */
static void
fake_advance(fake_t *f, uint64_t ms)
{
    uint64_t target = f->now + ms;
    int fires = 0;

    for (;;) {
        int best = -1;
        int t;

        for (t = 0; t < WIRE_TIMER__COUNT; t++) {
            if (f->due[t] != 0 && f->due[t] - 1 <= target &&
                (best < 0 || f->due[t] < f->due[best])) {
                best = t;
            }
        }
        if (best < 0) {
            break;
        }
        assert_true(++fires < MAX_FIRES);
        if (f->due[best] - 1 > f->now) {
            f->now = f->due[best] - 1;
        }
        f->due[best] = 0;
        wire_on_timer(&f->w, (wire_timer_t)best);
    }
    f->now = target;
}

static int
fake_timers_armed(const fake_t *f)
{
    int t;
    int n = 0;

    for (t = 0; t < WIRE_TIMER__COUNT; t++) {
        n += f->due[t] != 0;
    }
    return n;
}

/* The wire for a whole profile's text. */
static void
fake_init_profile(fake_t *f, const char *text)
{
    char err[256];

    memset(f, 0, sizeof *f);
    if (profile_parse_string("test.conf", text, &f->p, err, sizeof err) != 0) {
        fail_msg("profile: %s", err);
    }
    f->rng = 1;
    f->now = 1000;
    assert_int_equal(log_open(&f->log, NULL, NULL, "test"), 0);
    wire_init(&f->w, f->p, &f->log, 1, 0, &f->rng, &fake_ops, f);
}

static void
fake_init(fake_t *f, const char *faults)
{
    char text[2048];

    snprintf(text, sizeof text,
             "Identification SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\n%s", faults);
    fake_init_profile(f, text);
}

static void
fake_free(fake_t *f)
{
    wire_free(&f->w);
    profile_free(f->p);
    log_close(&f->log);
    util_buf_free(&f->client);
    util_buf_free(&f->server);
}

/* ---- the script: what each side says ------------------------------------ */

enum { S_IDENT, S_KEXINIT, S_NEWKEYS, S_ENC1, S_ENC2, S_ENC3, S__N };
enum { C_IDENT, C_KEXINIT, C_NEWKEYS, C_ENC1, C_ENC2, C__N };

typedef struct script_s {
    util_buf_t s[S__N]; /* libssh -> client */
    util_buf_t c[C__N]; /* client -> libssh */
} script_t;

static void
kexinit(util_buf_t *out, const char *ciphers)
{
    tap_kexinit_t k;
    size_t i;

    memset(&k, 0, sizeof k);
    for (i = 0; i < sizeof k.cookie; i++) {
        k.cookie[i] = (uint8_t)(0xa0 + i);
    }
    k.lists[TAP_KEX_ALGS] = "curve25519-sha256";
    k.lists[TAP_KEX_HOSTKEY_ALGS] = "ssh-ed25519";
    k.lists[TAP_KEX_ENC_C2S] = ciphers;
    k.lists[TAP_KEX_ENC_S2C] = ciphers;
    k.lists[TAP_KEX_MAC_C2S] = "hmac-sha2-256";
    k.lists[TAP_KEX_MAC_S2C] = "hmac-sha2-256";
    k.lists[TAP_KEX_COMP_C2S] = "none";
    k.lists[TAP_KEX_COMP_S2C] = "none";
    assert_int_equal(tap_build_kexinit(out, &k), 0);
}

static void
opaque(util_buf_t *out, size_t n, uint8_t seed)
{
    size_t i;

    for (i = 0; i < n; i++) {
        uint8_t b = (uint8_t)(seed + i * 7);
        assert_int_equal(util_buf_append(out, &b, 1), 0);
    }
}

static void
script_init(script_t *sc)
{
    static const uint8_t newkeys = TAP_MSG_NEWKEYS;

    memset(sc, 0, sizeof *sc);
    util_buf_puts(&sc->s[S_IDENT], "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
    kexinit(&sc->s[S_KEXINIT], "aes128-ctr,aes256-ctr");
    assert_int_equal(tap_build_packet(&sc->s[S_NEWKEYS], &newkeys, 1), 0);
    opaque(&sc->s[S_ENC1], 52, 1);
    opaque(&sc->s[S_ENC2], 68, 2);
    opaque(&sc->s[S_ENC3], 84, 3);
    util_buf_puts(&sc->c[C_IDENT], "SSH-2.0-OpenSSH_9.6\r\n");
    kexinit(&sc->c[C_KEXINIT], "aes256-ctr");
    assert_int_equal(tap_build_packet(&sc->c[C_NEWKEYS], &newkeys, 1), 0);
    opaque(&sc->c[C_ENC1], 36, 4);
    opaque(&sc->c[C_ENC2], 44, 5);
}

static void
script_free(script_t *sc)
{
    int i;

    for (i = 0; i < S__N; i++) {
        util_buf_free(&sc->s[i]);
    }
    for (i = 0; i < C__N; i++) {
        util_buf_free(&sc->c[i]);
    }
}

static void
feed(fake_t *f, wire_dir_t dir, const util_buf_t *b)
{
    char *copy = malloc(b->len);

    assert_non_null(copy);
    memcpy(copy, b->data, b->len);
    wire_on_data(&f->w, dir, copy, b->len);
}

/* What has reached each side when a stage runs, in units of the script. */
typedef struct stage_point_s {
    fault_stage_t stage;
    int s_out; /* server units the client has */
    int c_out; /* client units libssh has */
} stage_point_t;

static const stage_point_t stage_points[] = {
    { FAULT_STAGE_ACCEPT, 0, 0 },
    { FAULT_STAGE_SERVER_IDENT, 1, 1 }, /* it waits for the client's identification */
    { FAULT_STAGE_CLIENT_IDENT, 1, 1 },
    { FAULT_STAGE_SERVER_KEXINIT, 2, 1 },
    /* before our KEXINIT (held for the exact offer) goes out, and before
     * libssh has the client's: sshd sends its own only after privsep_preauth() */
    { FAULT_STAGE_CLIENT_KEXINIT, 1, 1 },
    { FAULT_STAGE_NEWKEYS, 3, 2 },
    { FAULT_STAGE_AUTH_SUCCESS, 4, 4 },
    { FAULT_STAGE_CHANNEL_OPEN, 5, 4 },
};

/* Plays the connection the way conn drives the wire; stops feeding once
 * the wire has ended the connection (conn drops what comes then), and
 * lets every timer run out at the end. */
static void
script_play(fake_t *f, const script_t *sc)
{
    int step;

    for (step = 0; step < 14 && !f->closing; step++) {
        switch (step) {
        case 0: wire_stage(&f->w, FAULT_STAGE_ACCEPT); break;
        case 1: feed(f, WIRE_S2C, &sc->s[S_IDENT]); break;
        case 2: feed(f, WIRE_C2S, &sc->c[C_IDENT]); break;
        case 3: feed(f, WIRE_S2C, &sc->s[S_KEXINIT]); break;
        case 4: feed(f, WIRE_C2S, &sc->c[C_KEXINIT]); break;
        case 5: feed(f, WIRE_S2C, &sc->s[S_NEWKEYS]); break;
        case 6: feed(f, WIRE_C2S, &sc->c[C_NEWKEYS]); break;
        case 7: feed(f, WIRE_C2S, &sc->c[C_ENC1]); break;
        case 8: feed(f, WIRE_S2C, &sc->s[S_ENC1]); break;
        case 9:
            wire_stage_after_output(&f->w, FAULT_STAGE_AUTH_SUCCESS);
            wire_after_libssh(&f->w, 0);
            break;
        case 10: feed(f, WIRE_S2C, &sc->s[S_ENC2]); break;
        case 11:
            wire_stage_after_output(&f->w, FAULT_STAGE_CHANNEL_OPEN);
            wire_after_libssh(&f->w, 0);
            break;
        case 12: feed(f, WIRE_S2C, &sc->s[S_ENC3]); break;
        case 13: feed(f, WIRE_C2S, &sc->c[C_ENC2]); break;
        }
        fake_advance(f, STEP_MS);
    }
    fake_advance(f, SETTLE_MS);
}

static void
concat(util_buf_t *out, const util_buf_t *units, int from, int to)
{
    int i;

    for (i = from; i < to; i++) {
        assert_int_equal(util_buf_append(out, units[i].data, units[i].len), 0);
    }
}

static void
assert_buf_equal(const util_buf_t *got, const util_buf_t *want, const char *what)
{
    if (got->len != want->len || (got->len > 0 && memcmp(got->data, want->data, got->len) != 0)) {
        fail_msg("%s: got %zu bytes, want %zu", what, got->len, want->len);
    }
}

/* The connection plays without faults, so that what the wire passes is
 * exactly what each side said. */
static void
test_no_fault_passes_everything(void **state)
{
    fake_t f;
    script_t sc;
    util_buf_t want_s = UTIL_BUF_INIT;
    util_buf_t want_c = UTIL_BUF_INIT;

    (void)state;
    script_init(&sc);
    fake_init(&f, "");
    script_play(&f, &sc);
    concat(&want_c, sc.s, 0, S__N);
    concat(&want_s, sc.c, 0, C__N);
    assert_buf_equal(&f.client, &want_c, "to the client");
    assert_buf_equal(&f.server, &want_s, "to libssh");
    assert_false(f.closing);
    assert_int_equal(fake_timers_armed(&f), 0);
    assert_non_null(wire_kexinit(&f.w, TAP_DIR_C2S));
    assert_non_null(wire_kexinit(&f.w, TAP_DIR_S2C));
    util_buf_free(&want_s);
    util_buf_free(&want_c);
    fake_free(&f);
    script_free(&sc);
}

/* ---- each action at each stage ----------------------------------------- */

static void
run_action(const stage_point_t *sp, const char *action)
{
    fake_t f;
    script_t sc;
    char line[256];
    util_buf_t want_c = UTIL_BUF_INIT;
    util_buf_t want_s = UTIL_BUF_INIT;
    int encrypted = sp->stage >= FAULT_STAGE_NEWKEYS;
    int all_s = 1;  /* the client gets every server unit in the end */
    int all_c = 1;  /* libssh gets every client unit */

    script_init(&sc);
    snprintf(line, sizeof line, "Fault %s %s\n", fault_stage_name(sp->stage), action);
    fake_init(&f, line);
    script_play(&f, &sc);

    concat(&want_c, sc.s, 0, sp->s_out);
    if (strcmp(action, "close") == 0 || strcmp(action, "reset") == 0 ||
        strcmp(action, "exit") == 0) {
        assert_int_equal(f.hangups, 1);
        assert_int_equal(f.closes, 0);
        /* exit: the client here always has bytes the dying process left
         * unread (its identification at accept), so the kernel resets. */
        assert_int_equal(f.hangup_mode,
                         action[0] == 'c' ? WIRE_HANGUP_FIN : WIRE_HANGUP_RST);
        if (sp->stage == FAULT_STAGE_ACCEPT && action[0] != 'c') {
            /* The reset waits for the client's first bytes (step 2). */
            assert_int_equal(f.ended_at, 1000 + 2 * STEP_MS);
        }
        all_s = all_c = 0;
    } else if (strcmp(action, "drop") == 0) {
        /* A silent drop: nothing more either way, and no end. */
        assert_int_equal(f.stalls, 1);
        assert_false(f.closing);
        assert_int_equal(fake_timers_armed(&f), 0);
        all_s = all_c = 0;
    } else if (strncmp(action, "disconnect", 10) == 0) {
        if (encrypted) {
            /* Only libssh can say it now: the owner asks it to, with the
             * rule's reason code (2), not libssh's default. */
            assert_int_equal(f.closes, 1);
            assert_int_equal(f.close_disconnect, UTIL_DISCONNECT_REASON(2));
            assert_string_equal(f.reason, "bye");
        } else {
            util_buf_t pkt = UTIL_BUF_INIT;
            assert_int_equal(tap_build_disconnect(&pkt, 2, "bye"), 0);
            util_buf_append(&want_c, pkt.data, pkt.len);
            util_buf_free(&pkt);
            assert_int_equal(f.hangups, 1);
            assert_int_equal(f.hangup_mode, WIRE_HANGUP_FIN);
        }
        all_s = all_c = 0;
    } else if (strncmp(action, "stall", 5) == 0) {
        assert_int_equal(f.stalls, 1);
        if (strcmp(action, "stall") == 0) {
            assert_false(f.closing);
        } else {
            assert_int_equal(f.closes, 1);
            assert_string_equal(f.reason, "fault: stall ended");
        }
        all_s = all_c = 0;
    } else if (strncmp(action, "send", 4) == 0) {
        util_buf_puts(&want_c, "INJECTED\r\n");
        assert_false(f.closing);
    } else if (strncmp(action, "corrupt", 7) == 0) {
        if (sp->s_out < S__N) {
            util_buf_t u = UTIL_BUF_INIT;
            util_buf_append(&u, sc.s[sp->s_out].data, sc.s[sp->s_out].len);
            u.data[u.len / 2] ^= 0x5a;
            util_buf_append(&want_c, u.data, u.len);
            util_buf_free(&u);
            concat(&want_c, sc.s, sp->s_out + 1, S__N);
        }
        all_s = 0; /* added above */
        assert_false(f.closing);
    } else {
        assert_false(f.closing); /* delay, throttle: all of it, later */
    }
    if (all_s) {
        concat(&want_c, sc.s, sp->s_out, S__N);
    }
    concat(&want_s, sc.c, 0, all_c ? C__N : sp->c_out);
    assert_buf_equal(&f.client, &want_c, line);
    if (!(sp->stage == FAULT_STAGE_ACCEPT &&
          (strcmp(action, "reset") == 0 || strcmp(action, "exit") == 0))) {
        /* (an accept reset drops the client's first bytes: nothing else is
         * to reach libssh after an RST) */
        assert_buf_equal(&f.server, &want_s, line);
    } else {
        assert_int_equal(f.server.len, 0);
    }
    assert_int_equal(f.held, 0);
    fake_free(&f);
    script_free(&sc);
    util_buf_free(&want_c);
    util_buf_free(&want_s);
}

static void
run_action_everywhere(const char *action)
{
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(stage_points); i++) {
        run_action(&stage_points[i], action);
    }
}

static void test_close(void **s) { (void)s; run_action_everywhere("close"); }
static void test_reset(void **s) { (void)s; run_action_everywhere("reset"); }
static void test_exit(void **s) { (void)s; run_action_everywhere("exit"); }
static void test_drop(void **s) { (void)s; run_action_everywhere("drop"); }
static void test_disconnect(void **s) { (void)s; run_action_everywhere("disconnect 2 bye"); }
static void test_send(void **s) { (void)s; run_action_everywhere("send \"INJECTED\\r\\n\""); }
static void test_corrupt(void **s) { (void)s; run_action_everywhere("corrupt"); }
static void test_stall(void **s) { (void)s; run_action_everywhere("stall"); }
static void test_stall_bounded(void **s) { (void)s; run_action_everywhere("stall 300ms"); }
static void test_delay(void **s) { (void)s; run_action_everywhere("delay 500ms"); }
static void test_throttle(void **s) { (void)s; run_action_everywhere("throttle 1000"); }

/* ---- timing of the timed actions --------------------------------------- */

/* A delay holds everything after its stage for its whole length, then
 * lets it all go at once; the held bytes are reported to the owner (they
 * count toward the relay's backpressure). */
static void
test_delay_timing(void **state)
{
    fake_t f;
    script_t sc;

    (void)state;
    script_init(&sc);
    fake_init(&f, "Fault server-kexinit delay 1s\n");
    wire_stage(&f.w, FAULT_STAGE_ACCEPT);
    feed(&f, WIRE_S2C, &sc.s[S_IDENT]);
    feed(&f, WIRE_C2S, &sc.c[C_IDENT]);
    feed(&f, WIRE_S2C, &sc.s[S_KEXINIT]);
    /* libssh's KEXINIT waits for the client's (exact offers) */
    feed(&f, WIRE_C2S, &sc.c[C_KEXINIT]);
    feed(&f, WIRE_S2C, &sc.s[S_NEWKEYS]);
    assert_int_equal(f.client.len, sc.s[S_IDENT].len + sc.s[S_KEXINIT].len);
    assert_int_equal(f.held, sc.s[S_NEWKEYS].len);
    assert_int_equal(wire_held(&f.w), sc.s[S_NEWKEYS].len);
    fake_advance(&f, 999);
    assert_int_equal(f.client.len, sc.s[S_IDENT].len + sc.s[S_KEXINIT].len);
    fake_advance(&f, 1);
    assert_int_equal(f.client.len,
                     sc.s[S_IDENT].len + sc.s[S_KEXINIT].len + sc.s[S_NEWKEYS].len);
    assert_int_equal(f.held, 0);
    assert_int_equal(fake_timers_armed(&f), 0);
    fake_free(&f);
    script_free(&sc);
}

/* A throttle lets BYTES_PER_SEC * 50 ms out per 50 ms tick. */
static void
test_throttle_rate(void **state)
{
    fake_t f;
    char big[1000];
    char *copy = NULL;
    script_t sc;

    (void)state;
    script_init(&sc);
    fake_init(&f, "Fault newkeys throttle 2000\n");
    memset(big, 'x', sizeof big);
    feed(&f, WIRE_S2C, &sc.s[S_IDENT]);
    feed(&f, WIRE_C2S, &sc.c[C_IDENT]);
    feed(&f, WIRE_S2C, &sc.s[S_KEXINIT]);
    feed(&f, WIRE_C2S, &sc.c[C_KEXINIT]);
    feed(&f, WIRE_S2C, &sc.s[S_NEWKEYS]);
    util_buf_reset(&f.client);
    copy = malloc(sizeof big);
    memcpy(copy, big, sizeof big);
    wire_on_data(&f.w, WIRE_S2C, copy, sizeof big);
    assert_int_equal(f.client.len, 0);
    assert_int_equal(f.held, sizeof big);
    fake_advance(&f, WIRE_THROTTLE_TICK_MS);
    assert_int_equal(f.client.len, 100);
    fake_advance(&f, 4 * WIRE_THROTTLE_TICK_MS);
    assert_int_equal(f.client.len, 500);
    assert_int_equal(f.held, 500);
    fake_advance(&f, 5 * WIRE_THROTTLE_TICK_MS);
    assert_int_equal(f.client.len, 1000);
    assert_int_equal(f.held, 0);
    assert_memory_equal(f.client.data, big, sizeof big);
    fake_free(&f);
    script_free(&sc);
}

/* 1 GB/s, the largest rate the language takes: 50 MB per 50 ms tick. The
 * quantum is BYTES_PER_SEC * TICK / 1000; done in 32 bits it wraps above
 * about 86 MB/s (2^32 / 50) and the throttle crawls instead. */
static void
test_throttle_rate_1gbps(void **state)
{
    enum { BIG = 60 * 1000 * 1000 };
    fake_t f;
    char *copy = NULL;
    script_t sc;

    (void)state;
    script_init(&sc);
    fake_init(&f, "Fault newkeys throttle 1000000000\n");
    feed(&f, WIRE_S2C, &sc.s[S_IDENT]);
    feed(&f, WIRE_C2S, &sc.c[C_IDENT]);
    feed(&f, WIRE_S2C, &sc.s[S_KEXINIT]);
    feed(&f, WIRE_C2S, &sc.c[C_KEXINIT]);
    feed(&f, WIRE_S2C, &sc.s[S_NEWKEYS]);
    util_buf_reset(&f.client);
    copy = malloc(BIG);
    assert_non_null(copy);
    memset(copy, 'y', BIG);
    wire_on_data(&f.w, WIRE_S2C, copy, BIG);
    assert_int_equal(f.client.len, 0);
    fake_advance(&f, WIRE_THROTTLE_TICK_MS);
    assert_int_equal(f.client.len, 50 * 1000 * 1000);
    assert_int_equal(f.held, BIG - 50 * 1000 * 1000);
    fake_advance(&f, WIRE_THROTTLE_TICK_MS);
    assert_int_equal(f.client.len, BIG);
    assert_int_equal(f.held, 0);
    fake_free(&f);
    script_free(&sc);
}

/* A process that exits before a silent client says anything leaves
 * nothing unread: the kernel sends FIN, after the bounded wait. */
static void
test_exit_silent_client_fin(void **state)
{
    fake_t f;

    (void)state;
    fake_init(&f, "Fault accept exit\n");
    wire_stage(&f.w, FAULT_STAGE_ACCEPT);
    fake_advance(&f, WIRE_CLIENT_WAIT_MS - 1);
    assert_false(f.closing);
    fake_advance(&f, 1);
    assert_int_equal(f.hangups, 1);
    assert_int_equal(f.hangup_mode, WIRE_HANGUP_FIN);
    assert_string_equal(f.reason, "fault: exit at accept");
    assert_int_equal(f.client.len, 0);
    fake_free(&f);
}

/* An exit after our identification: RST once the client has answered (its
 * unread bytes), never in the same instant as the identification. */
static void
test_exit_after_ident_resets_on_answer(void **state)
{
    fake_t f;
    script_t sc;

    (void)state;
    script_init(&sc);
    fake_init(&f, "Fault server-ident exit\n");
    wire_stage(&f.w, FAULT_STAGE_ACCEPT);
    feed(&f, WIRE_S2C, &sc.s[S_IDENT]);
    feed(&f, WIRE_C2S, &sc.c[C_IDENT]);
    assert_false(f.closing);
    feed(&f, WIRE_C2S, &sc.c[C_KEXINIT]);
    assert_int_equal(f.hangups, 1);
    assert_int_equal(f.hangup_mode, WIRE_HANGUP_RST);
    assert_string_equal(f.reason, "fault: exit at server-ident");
    assert_int_equal(f.client.len, sc.s[S_IDENT].len);
    fake_free(&f);
    script_free(&sc);
}

/* HostKey none (deleted, the default): sshd 9.x whose keys were deleted
 * resets before its banner, once the client's identification is in (it is
 * what the dying child left unread); nothing of ours reaches the client. */
static void
test_hostkey_none_deleted_resets_before_banner(void **state)
{
    fake_t f;
    script_t sc;

    (void)state;
    script_init(&sc);
    fake_init(&f, "HostKey none\n");
    wire_stage(&f.w, FAULT_STAGE_ACCEPT);
    feed(&f, WIRE_S2C, &sc.s[S_IDENT]);        /* dropped: the child never sent it */
    assert_false(f.closing);
    feed(&f, WIRE_C2S, &sc.c[C_IDENT]);
    assert_int_equal(f.hangups, 1);
    assert_int_equal(f.hangup_mode, WIRE_HANGUP_RST);
    assert_int_equal(f.client.len, 0);
    assert_int_equal(f.server.len, 0);
    fake_free(&f);
    script_free(&sc);
}

/* HostKey none kex: the older symptom, a close (FIN) in key exchange once
 * the client's KEXINIT is in, after our identification and KEXINIT. */
static void
test_hostkey_none_kex_closes_in_kex(void **state)
{
    fake_t f;
    script_t sc;

    (void)state;
    script_init(&sc);
    fake_init(&f, "HostKey none kex\n");
    wire_stage(&f.w, FAULT_STAGE_ACCEPT);
    feed(&f, WIRE_S2C, &sc.s[S_IDENT]);
    feed(&f, WIRE_C2S, &sc.c[C_IDENT]);
    feed(&f, WIRE_S2C, &sc.s[S_KEXINIT]);
    assert_false(f.closing);
    feed(&f, WIRE_C2S, &sc.c[C_KEXINIT]);
    assert_int_equal(f.hangups, 1);
    assert_int_equal(f.hangup_mode, WIRE_HANGUP_FIN);
    assert_int_equal(f.client.len, sc.s[S_IDENT].len + sc.s[S_KEXINIT].len);
    fake_free(&f);
    script_free(&sc);
}

/* The client's identification never comes: the server-ident rules run
 * after WIRE_CLIENT_WAIT_MS; a hang-up once our identification is out
 * waits as long for the client's answer. */
static void
test_server_ident_waits_bounded(void **state)
{
    fake_t f;
    script_t sc;

    (void)state;
    script_init(&sc);
    fake_init(&f, "Fault server-ident close\n");
    wire_stage(&f.w, FAULT_STAGE_ACCEPT);
    feed(&f, WIRE_S2C, &sc.s[S_IDENT]);
    fake_advance(&f, WIRE_CLIENT_WAIT_MS - 1);
    assert_false(f.closing);
    fake_advance(&f, 1);                       /* the rules run: close waits again */
    assert_false(f.closing);
    fake_advance(&f, WIRE_CLIENT_WAIT_MS);
    assert_int_equal(f.hangups, 1);
    assert_int_equal(f.hangup_mode, WIRE_HANGUP_FIN);
    assert_int_equal(f.ended_at, 1000 + 2 * WIRE_CLIENT_WAIT_MS);
    assert_int_equal(f.client.len, sc.s[S_IDENT].len);
    fake_free(&f);
    script_free(&sc);
}

/* A stage reached inside libssh runs after the bytes libssh wrote before
 * it, even when they reach the wire later. */
static void
test_deferred_stage_after_pending_bytes(void **state)
{
    fake_t f;
    script_t sc;
    size_t before;

    (void)state;
    script_init(&sc);
    fake_init(&f, "Fault auth-success send \"AFTER\"\n");
    feed(&f, WIRE_S2C, &sc.s[S_IDENT]);
    feed(&f, WIRE_C2S, &sc.c[C_IDENT]);
    feed(&f, WIRE_S2C, &sc.s[S_KEXINIT]);
    feed(&f, WIRE_C2S, &sc.c[C_KEXINIT]);
    feed(&f, WIRE_S2C, &sc.s[S_NEWKEYS]);
    wire_stage_after_output(&f.w, FAULT_STAGE_AUTH_SUCCESS);
    wire_after_libssh(&f.w, sc.s[S_ENC1].len);
    before = f.client.len;
    assert_int_equal(before, sc.s[S_IDENT].len + sc.s[S_KEXINIT].len + sc.s[S_NEWKEYS].len);
    feed(&f, WIRE_S2C, &sc.s[S_ENC1]);
    assert_int_equal(f.client.len, before + sc.s[S_ENC1].len + 5);
    assert_memory_equal(f.client.data + before + sc.s[S_ENC1].len, "AFTER", 5);
    fake_free(&f);
    script_free(&sc);
}

/* ---- regressions: one timer for six purposes --------------------------- */

/* A delay armed before the server's identification, then a server-ident
 * rule that waits for the client's identification: the wait took the
 * delay's timer and, when the client's identification came, stopped it:
 * the held bytes never left. */
static void
test_bug_delay_then_server_ident_wait(void **state)
{
    fake_t f;
    script_t sc;
    util_buf_t want = UTIL_BUF_INIT;

    (void)state;
    script_init(&sc);
    fake_init(&f, "Fault accept delay 500ms\nFault server-ident send \"X\"\n");
    wire_stage(&f.w, FAULT_STAGE_ACCEPT);
    feed(&f, WIRE_S2C, &sc.s[S_IDENT]);
    fake_advance(&f, 100);
    feed(&f, WIRE_C2S, &sc.c[C_IDENT]);
    assert_int_equal(f.client.len, 0);
    fake_advance(&f, 399);
    assert_int_equal(f.client.len, 0);
    fake_advance(&f, 1);
    util_buf_append(&want, sc.s[S_IDENT].data, sc.s[S_IDENT].len);
    util_buf_puts(&want, "X");
    assert_buf_equal(&f.client, &want, "after the delay");
    assert_int_equal(f.held, 0);
    assert_int_equal(fake_timers_armed(&f), 0);
    util_buf_free(&want);
    fake_free(&f);
    script_free(&sc);
}

/* The same with a throttle: its ticks stopped for good. */
static void
test_bug_throttle_then_server_ident_wait(void **state)
{
    fake_t f;
    script_t sc;
    util_buf_t want = UTIL_BUF_INIT;

    (void)state;
    script_init(&sc);
    fake_init(&f, "Fault accept throttle 400\nFault server-ident send \"X\"\n");
    wire_stage(&f.w, FAULT_STAGE_ACCEPT);
    feed(&f, WIRE_S2C, &sc.s[S_IDENT]);
    fake_advance(&f, 5);
    feed(&f, WIRE_C2S, &sc.c[C_IDENT]);
    feed(&f, WIRE_S2C, &sc.s[S_KEXINIT]);
    fake_advance(&f, 5000);
    util_buf_append(&want, sc.s[S_IDENT].data, sc.s[S_IDENT].len);
    util_buf_puts(&want, "X");
    util_buf_append(&want, sc.s[S_KEXINIT].data, sc.s[S_KEXINIT].len);
    assert_buf_equal(&f.client, &want, "throttled");
    assert_int_equal(f.held, 0);
    util_buf_free(&want);
    fake_free(&f);
    script_free(&sc);
}

/* A hang-up waiting for the client's answer, then a stall on the same
 * connection: the stall's timer replaced the hang-up's, which came at the
 * stall's end instead of after WIRE_CLIENT_WAIT_MS. The hang-up happens on
 * time, once, and the stall's end adds no second end. */
static void
test_bug_stall_after_pending_hang_up(void **state)
{
    fake_t f;
    script_t sc;

    (void)state;
    script_init(&sc);
    /* HostKey none: libssh's KEXINIT goes out at once, not held for the
     * client's (exact offers), so the stall can start while the hang-up
     * waits, which is the case this pins. */
    fake_init(&f, "HostKey none kex\nFault server-ident close\nFault server-kexinit stall 5s\n");
    wire_stage(&f.w, FAULT_STAGE_ACCEPT);
    feed(&f, WIRE_S2C, &sc.s[S_IDENT]);
    feed(&f, WIRE_C2S, &sc.c[C_IDENT]);        /* server-ident: close waits */
    feed(&f, WIRE_S2C, &sc.s[S_KEXINIT]);      /* server-kexinit: stall 5s */
    assert_false(f.closing);
    assert_int_equal(f.stalls, 1);
    fake_advance(&f, 10000);
    assert_int_equal(f.hangups, 1);
    assert_int_equal(f.closes, 0);
    assert_int_equal(f.hangup_mode, WIRE_HANGUP_FIN);
    assert_int_equal(f.ended_at, 1000 + WIRE_CLIENT_WAIT_MS);
    assert_int_equal(f.client.len, sc.s[S_IDENT].len); /* nothing after the stage */
    fake_free(&f);
    script_free(&sc);
}

/* A delay and a throttle together: the delay's end does not release what
 * the throttle still holds back, and every byte leaves in order. */
static void
test_delay_with_throttle_keeps_order(void **state)
{
    fake_t f;
    script_t sc;
    util_buf_t want = UTIL_BUF_INIT;

    (void)state;
    script_init(&sc);
    fake_init(&f, "Fault accept throttle 2000\nFault server-kexinit delay 300ms\n");
    script_play(&f, &sc);
    concat(&want, sc.s, 0, S__N);
    assert_buf_equal(&f.client, &want, "delay + throttle");
    util_buf_free(&want);
    fake_free(&f);
    script_free(&sc);
}

/* ---- exact offers --------------------------------------------------------- */

/* A KEXINIT with the script's lists but these MACs, as a client or libssh
 * would send it. */
static void
kexinit_macs(util_buf_t *out, const char *macs)
{
    tap_kexinit_t k;
    size_t i;

    memset(&k, 0, sizeof k);
    for (i = 0; i < sizeof k.cookie; i++) {
        k.cookie[i] = (uint8_t)(0x10 + i);
    }
    k.lists[TAP_KEX_ALGS] = "curve25519-sha256,ext-info-c,kex-strict-c-v00@openssh.com";
    k.lists[TAP_KEX_HOSTKEY_ALGS] = "ssh-ed25519,rsa-sha2-256";
    k.lists[TAP_KEX_ENC_C2S] = "aes256-ctr";
    k.lists[TAP_KEX_ENC_S2C] = "aes256-ctr";
    k.lists[TAP_KEX_MAC_C2S] = macs;
    k.lists[TAP_KEX_MAC_S2C] = macs;
    k.lists[TAP_KEX_COMP_C2S] = "none";
    k.lists[TAP_KEX_COMP_S2C] = "none";
    assert_int_equal(tap_build_kexinit(out, &k), 0);
}

/* The exact KEXINIT the client must get: the profile's lists, libssh's
 * cookie (the script's: 0xa0...), host key types that libssh has a key for
 * (the script's libssh offers ssh-ed25519 only) plus offer-only ones, and
 * libssh's compression lists. Written out here from what the profile says,
 * not from wire's code. */
static void
exact_kexinit(util_buf_t *out, const char *kex, const char *hostkeys, const char *ciphers,
              const char *macs)
{
    tap_kexinit_t k;
    size_t i;

    memset(&k, 0, sizeof k);
    for (i = 0; i < sizeof k.cookie; i++) {
        k.cookie[i] = (uint8_t)(0xa0 + i);
    }
    k.lists[TAP_KEX_ALGS] = kex;
    k.lists[TAP_KEX_HOSTKEY_ALGS] = hostkeys;
    k.lists[TAP_KEX_ENC_C2S] = ciphers;
    k.lists[TAP_KEX_ENC_S2C] = ciphers;
    k.lists[TAP_KEX_MAC_C2S] = macs;
    k.lists[TAP_KEX_MAC_S2C] = macs;
    k.lists[TAP_KEX_COMP_C2S] = "none";
    k.lists[TAP_KEX_COMP_S2C] = "none";
    assert_int_equal(tap_build_kexinit(out, &k), 0);
}

/* Plays identifications and KEXINITs (client_macs is the client's MAC
 * list), then a NEWKEYS from libssh as if the exchange went on. */
static void
offer_play(fake_t *f, const script_t *sc, const char *client_macs)
{
    util_buf_t ck = UTIL_BUF_INIT;

    kexinit_macs(&ck, client_macs);
    wire_stage(&f->w, FAULT_STAGE_ACCEPT);
    feed(f, WIRE_S2C, &sc->s[S_IDENT]);
    feed(f, WIRE_C2S, &sc->c[C_IDENT]);
    feed(f, WIRE_S2C, &sc->s[S_KEXINIT]);
    fake_advance(f, STEP_MS);
    feed(f, WIRE_C2S, &ck);
    fake_advance(f, STEP_MS);
    if (!f->closing) {
        feed(f, WIRE_S2C, &sc->s[S_NEWKEYS]);
    }
    util_buf_free(&ck);
}

/* A group exchange from a ModuliFile is runnable only on a libssh that
 * sends the file's groups as they are (sshmock's, patch 052): the system
 * libssh would raise the client's minimum and fail, so there it is a cell
 * that cannot be played, said as such. Other exchanges are untouched. */
static void
test_offer_moduli_file(void **state)
{
    profile_t p;
    tap_kexinit_t c;
    tap_kexinit_t s;
    offer_result_t r;
    int plays = algo_engine_plays_moduli();

    (void)state;
    memset(&p, 0, sizeof p);
    memset(&c, 0, sizeof c);
    memset(&s, 0, sizeof s);
    c.lists[TAP_KEX_ALGS] = "curve25519-sha256,diffie-hellman-group-exchange-sha1";
    s.lists[TAP_KEX_ALGS] = "diffie-hellman-group-exchange-sha1";

    memset(&r, 0, sizeof r);
    r.verdict = OFFER_RUNNABLE;
    offer_check_moduli(&p, &c, &s, &r);
    assert_int_equal(r.verdict, OFFER_RUNNABLE); /* no ModuliFile */

    p.moduli_file = (char *)"keys/moduli-1024";
    offer_check_moduli(&p, &c, &s, &r);
    if (plays) {
        assert_int_equal(r.verdict, OFFER_RUNNABLE);
    } else {
        assert_int_equal(r.verdict, OFFER_CANNOT_PLAY);
        assert_int_equal(r.list, TAP_KEX_ALGS);
        assert_string_equal(r.name, "diffie-hellman-group-exchange-sha1");
    }
    /* The engine's verdict agrees with the legacy set it was built with. */
    assert_int_equal(plays, algo_is_supported(ALGO_MAC, "hmac-md5-96"));

    memset(&r, 0, sizeof r);
    r.verdict = OFFER_RUNNABLE;
    s.lists[TAP_KEX_ALGS] = "curve25519-sha256,diffie-hellman-group-exchange-sha1";
    offer_check_moduli(&p, &c, &s, &r);
    assert_int_equal(r.verdict, OFFER_RUNNABLE); /* curve25519 is chosen */
}

/* An OpenSSH 5.3 offering hmac-ripemd160 only (names no engine runs), to a client without it: the
 * client gets the exact KEXINIT (no strict-kex marker: 5.3 predates it),
 * libssh never sees the client's KEXINIT, and the server closes at once
 * without a DISCONNECT, as sshd gives up. */
static void
test_offer_no_match_sends_exact(void **state)
{
    fake_t f;
    script_t sc;
    util_buf_t want_c = UTIL_BUF_INIT;

    (void)state;
    script_init(&sc);
    fake_init_profile(&f, "Identification SSH-2.0-OpenSSH_5.3\n"
                          "KexAlgorithms curve25519-sha256,diffie-hellman-group1-sha1\n"
                          "Ciphers aes128-ctr,cast128-cbc,aes256-ctr\n"
                          "MACs hmac-ripemd160,umac-64@openssh.com\n"
                          "HostKeyAlgorithms x509v3-sign-rsa,rsa-sha2-256,ssh-ed25519\n");
    offer_play(&f, &sc, "hmac-sha2-256,hmac-sha1");
    util_buf_append(&want_c, sc.s[S_IDENT].data, sc.s[S_IDENT].len);
    exact_kexinit(&want_c, "curve25519-sha256,diffie-hellman-group1-sha1", "x509v3-sign-rsa,ssh-ed25519",
                  "aes128-ctr,cast128-cbc,aes256-ctr", "hmac-ripemd160,umac-64@openssh.com");
    assert_buf_equal(&f.client, &want_c, "exact KEXINIT");
    assert_buf_equal(&f.server, &sc.c[C_IDENT], "libssh gets the identification only");
    assert_int_equal(f.closes, 1);
    assert_int_equal(f.close_disconnect, 0);
    assert_int_equal(f.hangups, 0);
    assert_int_equal(f.ended_at, 1000 + STEP_MS);
    assert_string_equal(f.reason, "key exchange failed: no matching MAC");
    fake_advance(&f, SETTLE_MS);
    assert_int_equal(fake_timers_armed(&f), 0);
    util_buf_free(&want_c);
    fake_free(&f);
    script_free(&sc);
}

/* The markers follow the played version: OpenSSH 9.6 sends ext-info-s and
 * the strict-kex marker, a distribution's backport only the latter;
 * StrictKex overrides the latter either way. */
static void
test_offer_markers(void **state)
{
    static const struct {
        const char *profile;
        const char *kex;
    } cases[] = {
        { "Identification SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\n",
          "curve25519-sha256,ext-info-s,kex-strict-s-v00@openssh.com" },
        { "Identification SSH-2.0-OpenSSH_10.0\n",
          "curve25519-sha256,ext-info-s,kex-strict-s-v00@openssh.com" },
        { "Identification SSH-2.0-OpenSSH_9.5\n", "curve25519-sha256" },
        { "Identification SSH-2.0-OpenSSH_5.3\nStrictKex yes\n",
          "curve25519-sha256,kex-strict-s-v00@openssh.com" },
        { "Identification SSH-2.0-OpenSSH_9.6\nStrictKex no\n",
          "curve25519-sha256,ext-info-s" },
        { "Identification SSH-2.0-dropbear_2022.83\n", "curve25519-sha256" },
        /* Distribution backports of the Terrapin fix: the strict marker
         * alone, from the first fixed package revision on (Debian 12's
         * sshd 9.2p1 deb12u10, run beside the profile by the twin suite,
         * offers it). */
        { "Identification SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u1\n", "curve25519-sha256" },
        { "Identification SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\n",
          "curve25519-sha256,kex-strict-s-v00@openssh.com" },
        { "Identification SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\n",
          "curve25519-sha256,kex-strict-s-v00@openssh.com" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
        fake_t f;
        script_t sc;
        char text[512];
        util_buf_t want_c = UTIL_BUF_INIT;

        script_init(&sc);
        snprintf(text, sizeof text, "%sKexAlgorithms curve25519-sha256\nMACs hmac-ripemd160\n"
                 "Ciphers aes256-ctr\n", cases[i].profile);
        fake_init_profile(&f, text);
        offer_play(&f, &sc, "hmac-sha1");
        util_buf_append(&want_c, sc.s[S_IDENT].data, sc.s[S_IDENT].len);
        exact_kexinit(&want_c, cases[i].kex, "ssh-ed25519", "aes256-ctr", "hmac-ripemd160");
        assert_buf_equal(&f.client, &want_c, cases[i].profile);
        util_buf_free(&want_c);
        fake_free(&f);
        script_free(&sc);
    }
}

/* Offer-only names in the profile, but the client picks runnable ones:
 * libssh's KEXINIT goes out byte for byte (its hash covers those bytes),
 * and the exchange goes on. */
static void
test_offer_runnable_forwards_libssh(void **state)
{
    fake_t f;
    script_t sc;
    util_buf_t want_c = UTIL_BUF_INIT;
    util_buf_t want_s = UTIL_BUF_INIT;

    (void)state;
    script_init(&sc);
    fake_init_profile(&f, "Identification SSH-2.0-OpenSSH_5.3\n"
                          "MACs hmac-ripemd160,hmac-sha2-256\n");
    offer_play(&f, &sc, "hmac-sha2-256,hmac-ripemd160");
    concat(&want_c, sc.s, S_IDENT, S_NEWKEYS + 1);
    assert_buf_equal(&f.client, &want_c, "libssh's KEXINIT");
    util_buf_append(&want_s, sc.c[C_IDENT].data, sc.c[C_IDENT].len);
    kexinit_macs(&want_s, "hmac-sha2-256,hmac-ripemd160");
    assert_buf_equal(&f.server, &want_s, "the client's KEXINIT reaches libssh");
    fake_advance(&f, SETTLE_MS);
    assert_false(f.closing);
    assert_int_equal(fake_timers_armed(&f), 0);
    util_buf_free(&want_c);
    util_buf_free(&want_s);
    fake_free(&f);
    script_free(&sc);
}

/* The client would pick an offer-only MAC: the exact KEXINIT, then a
 * DISCONNECT (3, key exchange failed) that says sshmock cannot play it,
 * then FIN; libssh never sees the client's KEXINIT. */
static void
test_offer_cannot_play_disconnects(void **state)
{
    fake_t f;
    script_t sc;
    util_buf_t want_c = UTIL_BUF_INIT;

    (void)state;
    script_init(&sc);
    fake_init_profile(&f, "MACs hmac-ripemd160,hmac-sha1\nCiphers aes256-ctr\n");
    offer_play(&f, &sc, "hmac-ripemd160,hmac-sha2-256,hmac-sha1");
    util_buf_append(&want_c, sc.s[S_IDENT].data, sc.s[S_IDENT].len);
    exact_kexinit(&want_c,
                  "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
                  "ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,"
                  "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
                  "diffie-hellman-group14-sha256,kex-strict-s-v00@openssh.com",
                  "ssh-ed25519", "aes256-ctr", "hmac-ripemd160,hmac-sha1");
    assert_int_equal(tap_build_disconnect(&want_c, 3, "sshmock cannot play MAC hmac-ripemd160 "
                                          "(offer-only in this build)"), 0);
    assert_buf_equal(&f.client, &want_c, "exact KEXINIT, DISCONNECT");
    assert_buf_equal(&f.server, &sc.c[C_IDENT], "libssh gets the identification only");
    assert_int_equal(f.hangups, 1);
    assert_int_equal(f.hangup_mode, WIRE_HANGUP_FIN);
    assert_string_equal(f.reason, "sshmock cannot play MAC hmac-ripemd160 (offer-only in this build)");
    util_buf_free(&want_c);
    fake_free(&f);
    script_free(&sc);
}

/* A client that never sends its KEXINIT: libssh's goes out untouched after
 * WIRE_CLIENT_WAIT_MS, as before exact offers, and not before. */
static void
test_offer_wait_is_bounded(void **state)
{
    fake_t f;
    script_t sc;
    util_buf_t want_c = UTIL_BUF_INIT;

    (void)state;
    script_init(&sc);
    fake_init_profile(&f, "MACs hmac-ripemd160\n");
    wire_stage(&f.w, FAULT_STAGE_ACCEPT);
    feed(&f, WIRE_S2C, &sc.s[S_IDENT]);
    feed(&f, WIRE_C2S, &sc.c[C_IDENT]);
    feed(&f, WIRE_S2C, &sc.s[S_KEXINIT]);
    assert_buf_equal(&f.client, &sc.s[S_IDENT], "held");
    fake_advance(&f, WIRE_CLIENT_WAIT_MS - 1);
    assert_buf_equal(&f.client, &sc.s[S_IDENT], "still held");
    fake_advance(&f, 1);
    concat(&want_c, sc.s, S_IDENT, S_KEXINIT + 1);
    assert_buf_equal(&f.client, &want_c, "released");
    assert_false(f.closing);
    assert_int_equal(fake_timers_armed(&f), 0);
    util_buf_free(&want_c);
    fake_free(&f);
    script_free(&sc);
}

/* How far a connection got is what passed the wire: keys are in use both
 * ways only once the client's NEWKEYS followed the server's (conn logs the
 * key exchange done from it when the client leaves before libssh read it). */
static void
test_keys_in_use_after_both_newkeys(void **state)
{
    fake_t f;
    script_t sc;
    int i;

    (void)state;
    script_init(&sc);
    fake_init(&f, "");
    wire_stage(&f.w, FAULT_STAGE_ACCEPT);
    for (i = 0; i < 5; i++) {
        if (i == 0 || i == 2) {
            feed(&f, WIRE_S2C, &sc.s[i == 0 ? S_IDENT : S_KEXINIT]);
        } else if (i == 1 || i == 3) {
            feed(&f, WIRE_C2S, &sc.c[i == 1 ? C_IDENT : C_KEXINIT]);
        } else {
            feed(&f, WIRE_S2C, &sc.s[S_NEWKEYS]);
        }
        assert_false(wire_keys_in_use(&f.w));
    }
    feed(&f, WIRE_C2S, &sc.c[C_NEWKEYS]);
    assert_true(wire_keys_in_use(&f.w));
    assert_false(f.closing);
    fake_free(&f);
    script_free(&sc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_fault_passes_everything),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_exit),
        cmocka_unit_test(test_drop),
        cmocka_unit_test(test_exit_silent_client_fin),
        cmocka_unit_test(test_hostkey_none_deleted_resets_before_banner),
        cmocka_unit_test(test_hostkey_none_kex_closes_in_kex),
        cmocka_unit_test(test_exit_after_ident_resets_on_answer),
        cmocka_unit_test(test_disconnect),
        cmocka_unit_test(test_send),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_stall),
        cmocka_unit_test(test_stall_bounded),
        cmocka_unit_test(test_delay),
        cmocka_unit_test(test_throttle),
        cmocka_unit_test(test_delay_timing),
        cmocka_unit_test(test_throttle_rate),
        cmocka_unit_test(test_throttle_rate_1gbps),
        cmocka_unit_test(test_server_ident_waits_bounded),
        cmocka_unit_test(test_deferred_stage_after_pending_bytes),
        cmocka_unit_test(test_bug_delay_then_server_ident_wait),
        cmocka_unit_test(test_bug_throttle_then_server_ident_wait),
        cmocka_unit_test(test_bug_stall_after_pending_hang_up),
        cmocka_unit_test(test_delay_with_throttle_keeps_order),
        cmocka_unit_test(test_offer_moduli_file),
        cmocka_unit_test(test_offer_no_match_sends_exact),
        cmocka_unit_test(test_offer_markers),
        cmocka_unit_test(test_offer_runnable_forwards_libssh),
        cmocka_unit_test(test_offer_cannot_play_disconnects),
        cmocka_unit_test(test_offer_wait_is_bounded),
        cmocka_unit_test(test_keys_in_use_after_both_newkeys),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
