/*
 * Unit tests of the relay (server/net/relay.c) on a real libuv loop with
 * real sockets: each end of the relay is our end of a socketpair, and the
 * test plays the two peers on the other ends (non-blocking, from the same
 * thread, between turns of the loop). Every wait is bounded: the loop is
 * turned with UV_RUN_NOWAIT at most PUMP_ROUNDS times, and a guard timer
 * bounds each turn that would block.
 *
 * The filter is a pass-through that can also hold bytes back and report
 * them (relay_set_held), the way the wire does during a delay.
 *
 * Everything is freed: these tests also run under ASan and UBSan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "net/relay.h"

#define PUMP_ROUNDS 20000
#define SMALL_BUF 4096

typedef struct rig_s {
    uv_loop_t loop;
    uv_pipe_t a;        /* relay end A ("client" side) */
    uv_pipe_t b;        /* relay end B ("libssh" side) */
    int a_peer;         /* the test's end facing A */
    int b_peer;         /* the test's end facing B */
    relay_t relay;
    int hold;           /* the filter keeps C2S bytes instead of passing them */
    util_buf_t held;
    size_t max_read;    /* largest chunk the filter got */
    size_t max_usable;  /* largest malloc_usable_size of a small chunk */
    int eof[2];
    int errors[2][2];   /* [dir][op] */
    int last_error;
    int paused_seen[2];
} rig_t;

static void
rig_data(void *ud, relay_dir_t dir, char *buf, size_t len)
{
    rig_t *r = ud;

    if (len > r->max_read) {
        r->max_read = len;
    }
    if (len <= 64) {
        size_t usable = malloc_usable_size(buf);
        if (usable > r->max_usable) {
            r->max_usable = usable;
        }
    }
    if (dir == RELAY_C2S && r->hold) {
        assert_int_equal(util_buf_append(&r->held, buf, len), 0);
        free(buf);
        relay_set_held(&r->relay, RELAY_C2S, r->held.len);
        return;
    }
    relay_write(&r->relay, dir, buf, len);
}

static void
rig_eof(void *ud, relay_dir_t dir)
{
    ((rig_t *)ud)->eof[dir]++;
}

static void
rig_error(void *ud, relay_dir_t dir, relay_op_t op, int status)
{
    rig_t *r = ud;

    r->errors[dir][op]++;
    r->last_error = status;
}

static const relay_ops_t rig_ops = {
    .on_data = rig_data,
    .on_eof = rig_eof,
    .on_error = rig_error,
};

static void
nonblock(int fd)
{
    assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

static void
small_buffers(int fd)
{
    int n = SMALL_BUF;

    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &n, sizeof n);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &n, sizeof n);
}

/* small < 0: not started (the test starts each end itself). */
static void
rig_init(rig_t *r, int small)
{
    int sa[2];
    int sb[2];

    memset(r, 0, sizeof *r);
    assert_int_equal(uv_loop_init(&r->loop), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sa), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sb), 0);
    if (small > 0) {
        small_buffers(sa[0]);
        small_buffers(sa[1]);
        small_buffers(sb[0]);
        small_buffers(sb[1]);
    }
    nonblock(sa[1]);
    nonblock(sb[1]);
    r->a_peer = sa[1];
    r->b_peer = sb[1];
    assert_int_equal(uv_pipe_init(&r->loop, &r->a, 0), 0);
    assert_int_equal(uv_pipe_init(&r->loop, &r->b, 0), 0);
    assert_int_equal(uv_pipe_open(&r->a, sa[0]), 0);
    assert_int_equal(uv_pipe_open(&r->b, sb[0]), 0);
    relay_init(&r->relay, (uv_stream_t *)&r->a, (uv_stream_t *)&r->b, &rig_ops, r);
    if (small >= 0) {
        assert_int_equal(relay_start(&r->relay), 0);
    }
}

static void
rig_free(rig_t *r)
{
    int rounds = 0;

    if (r->a_peer >= 0) {
        close(r->a_peer);
    }
    if (r->b_peer >= 0) {
        close(r->b_peer);
    }
    uv_close((uv_handle_t *)&r->a, NULL);
    uv_close((uv_handle_t *)&r->b, NULL);
    while (uv_run(&r->loop, UV_RUN_NOWAIT) != 0 && ++rounds < PUMP_ROUNDS) {
    }
    assert_int_equal(uv_loop_close(&r->loop), 0);
    util_buf_free(&r->held);
}

/* One turn of the loop, noting whether backpressure paused a side. */
static void
rig_turn(rig_t *r)
{
    uv_run(&r->loop, UV_RUN_NOWAIT);
    r->paused_seen[0] |= relay_paused(&r->relay, RELAY_C2S);
    r->paused_seen[1] |= relay_paused(&r->relay, RELAY_S2C);
}

/* Writes what the socket takes of data[*off..len); returns bytes written. */
static size_t
put(int fd, const uint8_t *data, size_t len, size_t *off)
{
    size_t total = 0;

    while (*off < len) {
        ssize_t n = write(fd, data + *off, len - *off);
        if (n <= 0) {
            assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
            break;
        }
        *off += (size_t)n;
        total += (size_t)n;
    }
    return total;
}

/* Reads what is there into out. */
static void
get(int fd, util_buf_t *out)
{
    char tmp[16384];

    for (;;) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n <= 0) {
            break;
        }
        assert_int_equal(util_buf_append(out, tmp, (size_t)n), 0);
    }
}

static uint8_t *
pattern(size_t len, unsigned seed)
{
    uint8_t *p = malloc(len);
    uint32_t x = seed * 2654435761u + 1;
    size_t i;

    assert_non_null(p);
    for (i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
    return p;
}

/* A megabyte each way at once, through small socket buffers: both arrive
 * unchanged and in order. */
static void
test_bytes_pass_both_ways(void **state)
{
    const size_t len = 1024 * 1024;
    uint8_t *up = pattern(len, 1);
    uint8_t *down = pattern(len, 2);
    util_buf_t got_b = UTIL_BUF_INIT;
    util_buf_t got_a = UTIL_BUF_INIT;
    size_t off_up = 0;
    size_t off_down = 0;
    int rounds;

    (void)state;
    rig_t r;
    rig_init(&r, 1);
    for (rounds = 0; rounds < PUMP_ROUNDS && (got_b.len < len || got_a.len < len); rounds++) {
        put(r.a_peer, up, len, &off_up);
        put(r.b_peer, down, len, &off_down);
        rig_turn(&r);
        get(r.b_peer, &got_b);
        get(r.a_peer, &got_a);
    }
    assert_int_equal(got_b.len, len);
    assert_int_equal(got_a.len, len);
    assert_memory_equal(got_b.data, up, len);
    assert_memory_equal(got_a.data, down, len);
    assert_int_equal(r.errors[0][0] + r.errors[0][1] + r.errors[1][0] + r.errors[1][1], 0);
    free(up);
    free(down);
    util_buf_free(&got_a);
    util_buf_free(&got_b);
    rig_free(&r);
}

/* Small reads reach the filter in buffers of their size, not in a 64 KiB
 * read buffer each. */
static void
test_small_reads_are_right_sized(void **state)
{
    rig_t r;
    util_buf_t got = UTIL_BUF_INIT;
    int i;
    int rounds;

    (void)state;
    rig_init(&r, 0);
    for (i = 0; i < 20; i++) {
        assert_int_equal(write(r.a_peer, "0123456789", 10), 10);
        for (rounds = 0; rounds < 100 && got.len < (size_t)(i + 1) * 10; rounds++) {
            rig_turn(&r);
            get(r.b_peer, &got);
        }
    }
    assert_int_equal(got.len, 200);
    assert_true(r.max_usable > 0);
    assert_true(r.max_usable < 1024);
    util_buf_free(&got);
    rig_free(&r);
}

/* B's peer does not read: B's write queue passes high water and the relay
 * stops reading A, so A's peer can no longer write; once B's peer reads,
 * the relay reads A again and every byte arrives. */
static void
test_backpressure_pauses_and_resumes(void **state)
{
    const size_t len = 4 * RELAY_HIGH_WATER;
    uint8_t *data = pattern(len, 3);
    util_buf_t got = UTIL_BUF_INIT;
    size_t off = 0;
    int rounds;
    int stuck = 0;

    (void)state;
    rig_t r;
    rig_init(&r, 1);
    for (rounds = 0; rounds < PUMP_ROUNDS && stuck < 50; rounds++) {
        stuck = put(r.a_peer, data, len, &off) == 0 ? stuck + 1 : 0;
        rig_turn(&r);
    }
    assert_true(relay_paused(&r.relay, RELAY_C2S));
    assert_true(off < len);
    /* What waits in the relay is bounded by high water plus one read. */
    assert_true(uv_stream_get_write_queue_size((uv_stream_t *)&r.b) <=
                RELAY_HIGH_WATER + RELAY_READ_SIZE);
    for (rounds = 0; rounds < PUMP_ROUNDS && got.len < len; rounds++) {
        put(r.a_peer, data, len, &off);
        rig_turn(&r);
        get(r.b_peer, &got);
    }
    assert_false(relay_paused(&r.relay, RELAY_C2S));
    assert_int_equal(got.len, len);
    assert_memory_equal(got.data, data, len);
    free(data);
    util_buf_free(&got);
    rig_free(&r);
}

/* Bytes the filter holds count as waiting: past high water the source
 * stops; when the filter lets them go and the queue drains below low
 * water, it is read again. */
static void
test_held_bytes_count_toward_backpressure(void **state)
{
    const size_t len = 2 * RELAY_HIGH_WATER;
    uint8_t *data = pattern(len, 4);
    util_buf_t got = UTIL_BUF_INIT;
    size_t off = 0;
    int rounds;
    int stuck = 0;

    (void)state;
    rig_t r;
    rig_init(&r, 1);
    r.hold = 1;
    for (rounds = 0; rounds < PUMP_ROUNDS && stuck < 50; rounds++) {
        stuck = put(r.a_peer, data, len, &off) == 0 ? stuck + 1 : 0;
        rig_turn(&r);
    }
    assert_true(relay_paused(&r.relay, RELAY_C2S));
    assert_true(r.held.len > RELAY_HIGH_WATER);
    assert_true(r.held.len <= RELAY_HIGH_WATER + RELAY_READ_SIZE);
    assert_int_equal(uv_stream_get_write_queue_size((uv_stream_t *)&r.b), 0);
    /* Let go of a part only: still above low water, still paused. */
    r.hold = 0;
    relay_set_held(&r.relay, RELAY_C2S, RELAY_LOW_WATER + 1);
    assert_true(relay_paused(&r.relay, RELAY_C2S));
    /* Everything goes: the queue takes it, and drains as B's peer reads. */
    {
        char *all = malloc(r.held.len);
        assert_non_null(all);
        memcpy(all, r.held.data, r.held.len);
        relay_set_held(&r.relay, RELAY_C2S, 0);
        relay_write(&r.relay, RELAY_C2S, all, r.held.len);
        util_buf_reset(&r.held);
    }
    for (rounds = 0; rounds < PUMP_ROUNDS && got.len < len; rounds++) {
        put(r.a_peer, data, len, &off);
        rig_turn(&r);
        get(r.b_peer, &got);
    }
    assert_false(relay_paused(&r.relay, RELAY_C2S));
    assert_int_equal(got.len, len);
    assert_memory_equal(got.data, data, len);
    free(data);
    util_buf_free(&got);
    rig_free(&r);
}

/* A's peer closes: EOF of C2S, once, after the bytes it sent. */
/* What goes back to A (the client) is backed up: A is not read either, so
 * a client that never reads its replies cannot make the other end produce
 * more of them (bench/abuse.py prelogin-unread: 25.8 MB before, 1.1 MB
 * after). The other way round, a slow B never stops B's own output. */
static void
test_backed_up_replies_stop_reading_the_asker(void **state)
{
    rig_t r;

    (void)state;
    rig_init(&r, 1);
    relay_set_held(&r.relay, RELAY_S2C, RELAY_HIGH_WATER + 1);
    assert_true(relay_paused(&r.relay, RELAY_S2C));
    assert_true(relay_paused(&r.relay, RELAY_C2S));
    /* Still above low water: both stay paused. */
    relay_set_held(&r.relay, RELAY_S2C, RELAY_LOW_WATER + 1);
    assert_true(relay_paused(&r.relay, RELAY_C2S));
    relay_set_held(&r.relay, RELAY_S2C, 0);
    assert_false(relay_paused(&r.relay, RELAY_S2C));
    assert_false(relay_paused(&r.relay, RELAY_C2S));
    /* B backed up (libssh slow to read): A's bytes wait, B's output to A
     * goes on. */
    relay_set_held(&r.relay, RELAY_C2S, RELAY_HIGH_WATER + 1);
    assert_true(relay_paused(&r.relay, RELAY_C2S));
    assert_false(relay_paused(&r.relay, RELAY_S2C));
    relay_set_held(&r.relay, RELAY_C2S, 0);
    assert_false(relay_paused(&r.relay, RELAY_C2S));
    rig_free(&r);
}

static void
test_eof_reported(void **state)
{
    rig_t r;
    util_buf_t got = UTIL_BUF_INIT;
    int rounds;

    (void)state;
    rig_init(&r, 0);
    assert_int_equal(write(r.a_peer, "last words", 10), 10);
    shutdown(r.a_peer, SHUT_WR);
    for (rounds = 0; rounds < PUMP_ROUNDS && r.eof[RELAY_C2S] == 0; rounds++) {
        rig_turn(&r);
        get(r.b_peer, &got);
    }
    get(r.b_peer, &got);
    assert_int_equal(r.eof[RELAY_C2S], 1);
    assert_int_equal(r.eof[RELAY_S2C], 0);
    assert_int_equal(got.len, 10);
    assert_memory_equal(got.data, "last words", 10);
    util_buf_free(&got);
    rig_free(&r);
}

/* B's peer is gone: writing to it fails, reported as a C2S write error. */
static void
test_write_error_reported(void **state)
{
    rig_t r;
    int rounds;

    (void)state;
    rig_init(&r, 0);
    close(r.b_peer);
    r.b_peer = -1;
    assert_int_equal(write(r.a_peer, "hello", 5), 5);
    for (rounds = 0; rounds < PUMP_ROUNDS && r.errors[RELAY_C2S][RELAY_OP_WRITE] == 0; rounds++) {
        rig_turn(&r);
    }
    assert_int_equal(r.errors[RELAY_C2S][RELAY_OP_WRITE], 1);
    assert_int_equal(r.last_error, UV_EPIPE);
    rig_free(&r);
}

/* A's peer closes with our bytes unread: reading A fails with a reset. */
static void
test_read_error_reported(void **state)
{
    rig_t r;
    int rounds;

    (void)state;
    rig_init(&r, 0);
    assert_int_equal(write(r.b_peer, "unread", 6), 6);
    for (rounds = 0; rounds < 100; rounds++) {
        rig_turn(&r); /* the relay writes them to A, where nobody reads */
    }
    close(r.a_peer);
    r.a_peer = -1;
    for (rounds = 0; rounds < PUMP_ROUNDS && r.errors[RELAY_C2S][RELAY_OP_READ] == 0 &&
                     r.eof[RELAY_C2S] == 0; rounds++) {
        rig_turn(&r);
    }
    assert_int_equal(r.errors[RELAY_C2S][RELAY_OP_READ], 1);
    assert_int_equal(r.last_error, UV_ECONNRESET);
    assert_int_equal(r.eof[RELAY_C2S], 0);
    rig_free(&r);
}

/* The owner opens B later (sshmock: libssh's socketpair at the client's
 * first byte): until B's reading starts nothing is taken from it, while A
 * is relayed from the start. */
static void
test_start_one_end_then_the_other(void **state)
{
    rig_t r;
    util_buf_t got_a = UTIL_BUF_INIT;
    util_buf_t got_b = UTIL_BUF_INIT;
    size_t off = 0;
    int i;

    (void)state;
    rig_init(&r, -1);
    assert_int_equal(relay_start_one(&r.relay, RELAY_C2S), 0);
    put(r.a_peer, (const uint8_t *)"hello", 5, &off);
    off = 0;
    put(r.b_peer, (const uint8_t *)"late", 4, &off);
    for (i = 0; i < 200 && got_b.len < 5; i++) {
        rig_turn(&r);
        get(r.b_peer, &got_b);
    }
    assert_int_equal(got_b.len, 5);
    assert_memory_equal(got_b.data, "hello", 5);
    for (i = 0; i < 50; i++) {
        rig_turn(&r);
        get(r.a_peer, &got_a);
    }
    assert_int_equal(got_a.len, 0); /* B is not read yet */
    assert_int_equal(relay_start_one(&r.relay, RELAY_S2C), 0);
    for (i = 0; i < 200 && got_a.len < 4; i++) {
        rig_turn(&r);
        get(r.a_peer, &got_a);
    }
    assert_int_equal(got_a.len, 4);
    assert_memory_equal(got_a.data, "late", 4);
    util_buf_free(&got_a);
    util_buf_free(&got_b);
    rig_free(&r);
}

/* sshmock makes B (libssh's socketpair) only at the client's first byte:
 * until then the relay has no B at all. Held bytes of S2C (a delay fault
 * on our identification) still count and stop A; a write to the missing B
 * is dropped, not a crash; once B is set it is relayed like any end. */
static void
test_end_b_set_later(void **state)
{
    rig_t r;
    util_buf_t got_a = UTIL_BUF_INIT;
    char *buf = NULL;
    size_t off = 0;
    int i;

    (void)state;
    rig_init(&r, -1);
    relay_init(&r.relay, (uv_stream_t *)&r.a, NULL, &rig_ops, &r);
    assert_int_equal(relay_start_one(&r.relay, RELAY_C2S), 0);
    relay_set_held(&r.relay, RELAY_S2C, RELAY_HIGH_WATER + 1);
    assert_true(relay_paused(&r.relay, RELAY_C2S));
    assert_true(relay_paused(&r.relay, RELAY_S2C));
    buf = malloc(5);
    assert_non_null(buf);
    memcpy(buf, "hello", 5);
    assert_int_equal(relay_write(&r.relay, RELAY_C2S, buf, 5), UV_ECANCELED);
    relay_set_held(&r.relay, RELAY_S2C, 0);
    assert_false(relay_paused(&r.relay, RELAY_C2S));
    /* B comes, as conn makes it, and its bytes reach A. */
    relay_set_end(&r.relay, RELAY_S2C, (uv_stream_t *)&r.b);
    assert_int_equal(relay_start_one(&r.relay, RELAY_S2C), 0);
    put(r.b_peer, (const uint8_t *)"late", 4, &off);
    for (i = 0; i < 200 && got_a.len < 4; i++) {
        rig_turn(&r);
        get(r.a_peer, &got_a);
    }
    assert_int_equal(got_a.len, 4);
    assert_memory_equal(got_a.data, "late", 4);
    assert_int_equal(r.errors[RELAY_C2S][RELAY_OP_WRITE], 0);
    util_buf_free(&got_a);
    rig_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_pass_both_ways),
        cmocka_unit_test(test_small_reads_are_right_sized),
        cmocka_unit_test(test_backpressure_pauses_and_resumes),
        cmocka_unit_test(test_held_bytes_count_toward_backpressure),
        cmocka_unit_test(test_backed_up_replies_stop_reading_the_asker),
        cmocka_unit_test(test_eof_reported),
        cmocka_unit_test(test_write_error_reported),
        cmocka_unit_test(test_read_error_reported),
        cmocka_unit_test(test_start_one_end_then_the_other),
        cmocka_unit_test(test_end_b_set_later),
    };

    signal(SIGPIPE, SIG_IGN); /* a write to a closed peer must fail, not kill */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
