/*
 * libFuzzer target: the wire tap (wire/tap.h), fed from both directions.
 *
 * Input: one byte that seeds the split points, then the client's bytes,
 * then optionally FUZZ_TAP_MARK and the server's bytes. Without the mark
 * both directions get the same bytes (the server side accepts text lines
 * before its identification, the client side does not, so the same bytes
 * take different paths). The two streams are fed in interleaved chunks of
 * pseudo-random sizes, as a relay gets them from two sockets, so a unit
 * split anywhere is exercised.
 *
 * Beyond "no crash, no leak, no sanitizer report" the target checks what
 * tap.h promises the relay: tap_feed() consumes at least one byte and at
 * most what it was given, an event's unit is exactly the stream bytes at
 * [offset, end), end is the stream position, a feed from inside the
 * callback is refused, and a KEXINIT rebuilt by tap_build_kexinit() reads
 * back as the same lists. A broken promise aborts (a crash for libFuzzer).
 */
#define _GNU_SOURCE /* memmem */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/tap.h"

#define FUZZ_TAP_MARK "\n--s2c--\n"

typedef struct fuzz_tap_s {
    const uint8_t *stream[TAP_DIR__COUNT];
    size_t len[TAP_DIR__COUNT];
    int kexinits;
} fuzz_tap_t;

#define FUZZ_CHECK(cond)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "fuzz_tap: broken promise: %s (%s:%d)\n", #cond,    \
                    __FILE__, __LINE__);                                        \
            abort();                                                            \
        }                                                                       \
    } while (0)

/* Reads every byte an event points to, so ASan sees an out-of-bounds
 * pointer or length at once rather than when some owner trips on it. */
static unsigned
fuzz__touch(const void *p, size_t n)
{
    const volatile uint8_t *b = p;
    unsigned sum = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        sum += b[i];
    }
    return sum;
}

/* A rebuilt KEXINIT, fed to a fresh tap, must read back as the same lists:
 * the fault engine's rewritten KEXINITs rely on builder and parser
 * agreeing. */
static void
fuzz__kexinit_roundtrip(const tap_kexinit_t *k)
{
    static const uint8_t ident[] = "SSH-2.0-fuzz\r\n";
    util_buf_t pkt = UTIL_BUF_INIT;
    const tap_kexinit_t *back = NULL;
    tap_t t;
    int i;

    if (tap_build_kexinit(&pkt, k) < 0) {
        return; /* too large for one packet: allowed to refuse */
    }
    tap_init(&t, NULL, NULL);
    tap_feed_all(&t, TAP_DIR_C2S, ident, sizeof ident - 1);
    tap_feed_all(&t, TAP_DIR_C2S, (const uint8_t *)pkt.data, pkt.len);
    back = tap_kexinit(&t, TAP_DIR_C2S);
    FUZZ_CHECK(back != NULL);
    FUZZ_CHECK(memcmp(back->cookie, k->cookie, sizeof k->cookie) == 0);
    for (i = 0; i < TAP_KEX__NLISTS; i++) {
        FUZZ_CHECK(strcmp(back->lists[i], k->lists[i] != NULL ? k->lists[i] : "") == 0);
    }
    FUZZ_CHECK(back->first_kex_packet_follows == k->first_kex_packet_follows);
    FUZZ_CHECK(back->reserved == k->reserved);
    tap_free(&t);
    util_buf_free(&pkt);
}

static void
fuzz__event(tap_t *tap, tap_dir_t dir, const tap_event_t *ev, void *userdata)
{
    fuzz_tap_t *f = userdata;
    static const uint8_t one = 'x';
    unsigned sum = 0;
    int i;

    FUZZ_CHECK((unsigned)dir < TAP_DIR__COUNT);
    FUZZ_CHECK(ev->offset <= ev->end && ev->end <= f->len[dir]);
    FUZZ_CHECK(ev->end == tap_bytes(tap, dir));
    FUZZ_CHECK(ev->raw_len == ev->end - ev->offset);
    if (ev->raw_len > 0) {
        FUZZ_CHECK(memcmp(ev->raw, f->stream[dir] + ev->offset, ev->raw_len) == 0);
    }
    /* The callback may not feed this tap; tap_feed() must say so. */
    FUZZ_CHECK(tap_feed(tap, dir, &one, 1) == 0);

    if (ev->line != NULL) {
        sum += fuzz__touch(ev->line, ev->line_len + 1);
        FUZZ_CHECK(ev->line[ev->line_len] == '\0');
    }
    if (ev->payload != NULL) {
        sum += fuzz__touch(ev->payload, ev->payload_len);
    }
    if (ev->description != NULL) {
        sum += fuzz__touch(ev->description, ev->description_len + 1);
    }
    sum += (unsigned)strlen(ev->language) + (unsigned)strlen(ev->hassh) +
           (unsigned)strlen(ev->hassh_algorithms);
    if (ev->message != NULL) {
        sum += (unsigned)strlen(ev->message);
        FUZZ_CHECK(tap_phase(tap, dir) == TAP_PHASE_ERROR);
        FUZZ_CHECK(tap_error(tap, dir) != NULL);
    }
    if (ev->ident != NULL) {
        sum += (unsigned)strlen(ev->ident->line) + (unsigned)strlen(ev->ident->software);
    }
    if (ev->kind == TAP_EV_KEXINIT) {
        FUZZ_CHECK(ev->kexinit != NULL);
        for (i = 0; i < TAP_KEX__NLISTS; i++) {
            FUZZ_CHECK(ev->kexinit->lists[i] != NULL);
        }
        /* Rebuilding is costly; a few per input are enough. */
        if (f->kexinits++ < 4) {
            fuzz__kexinit_roundtrip(ev->kexinit);
        }
    }
    sum += (unsigned)strlen(tap_event_name(ev->kind));
    (void)sum;
}

/* xorshift32: the split points, reproducible from the input alone. */
static uint32_t
fuzz__rand(uint32_t *s)
{
    uint32_t x = *s;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

static size_t
fuzz__chunk(uint32_t *rng, size_t left)
{
    uint32_t r = fuzz__rand(rng);

    /* Mostly small chunks (a unit split at every place), sometimes all
     * that is left (the common case of one read holding many units). */
    switch (r & 3) {
    case 0: return 1;
    case 1: return 1 + (r >> 8) % (left < 16 ? left : 16);
    case 2: return 1 + (r >> 8) % left;
    default: return left;
    }
}

/* Queries an owner makes after events, on whatever state there is. */
static void
fuzz__query(const tap_t *tap)
{
    const tap_kexinit_t *kc = tap_kexinit(tap, TAP_DIR_C2S);
    const tap_kexinit_t *ks = tap_kexinit(tap, TAP_DIR_S2C);
    const char *alg = NULL;
    char out[128];
    unsigned count = 0;
    int truncated = 0;
    uint32_t reason = 0;
    int d;
    int i;

    for (d = 0; d < TAP_DIR__COUNT; d++) {
        (void)tap_ident(tap, (tap_dir_t)d);
        (void)tap_phase_name(tap_phase(tap, (tap_dir_t)d));
        (void)tap_msg_count(tap, (tap_dir_t)d, TAP_MSG_KEXINIT);
        (void)tap_dir_hassh(tap, (tap_dir_t)d, &alg);
        (void)tap_disconnect(tap, (tap_dir_t)d, &reason);
        (void)tap_disconnect_reason_name(reason);
        (void)tap_packets(tap, (tap_dir_t)d);
    }
    (void)tap_pre_ident_text(tap, &count, &truncated);
    FUZZ_CHECK(count <= TAP_MAX_PRE_IDENT_LINES);
    if (kc != NULL && ks != NULL) {
        for (i = 0; i < TAP_KEX__NLISTS; i++) {
            int rc = tap_negotiate(kc->lists[i], ks->lists[i], out, sizeof out);
            FUZZ_CHECK(rc >= -1 && rc <= 1);
            (void)tap_kex_list_name((tap_kex_list_t)i);
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_tap_t f;
    tap_t tap;
    size_t pos[TAP_DIR__COUNT] = { 0, 0 };
    const uint8_t *mark = NULL;
    uint32_t rng;
    int d;

    if (size < 1) {
        return 0;
    }
    memset(&f, 0, sizeof f);
    rng = 0x9e3779b9u ^ ((uint32_t)data[0] * 0x01000193u);
    data++;
    size--;
    mark = memmem(data, size, FUZZ_TAP_MARK, sizeof FUZZ_TAP_MARK - 1);
    f.stream[TAP_DIR_C2S] = data;
    f.len[TAP_DIR_C2S] = mark != NULL ? (size_t)(mark - data) : size;
    f.stream[TAP_DIR_S2C] = mark != NULL ? mark + sizeof FUZZ_TAP_MARK - 1 : data;
    f.len[TAP_DIR_S2C] = mark != NULL ? size - f.len[TAP_DIR_C2S] -
                                        (sizeof FUZZ_TAP_MARK - 1) : size;

    tap_init(&tap, fuzz__event, &f);
    /* Bounded: every round consumes at least one byte of one direction. */
    while (pos[0] < f.len[0] || pos[1] < f.len[1]) {
        size_t left;
        size_t chunk;
        size_t fed = 0;

        d = (int)(fuzz__rand(&rng) & 1);
        if (pos[d] == f.len[d]) {
            d = !d;
        }
        left = f.len[d] - pos[d];
        chunk = fuzz__chunk(&rng, left);
        /* The relay's loop: feed until the chunk is consumed, acting
         * between events. */
        while (fed < chunk) {
            size_t before = tap_pending(&tap, (tap_dir_t)d);
            size_t n = tap_feed(&tap, (tap_dir_t)d, f.stream[d] + pos[d] + fed,
                                chunk - fed);

            FUZZ_CHECK(n >= 1 && n <= chunk - fed);
            FUZZ_CHECK(before <= pos[d] + fed);
            fed += n;
            FUZZ_CHECK(tap_bytes(&tap, (tap_dir_t)d) == pos[d] + fed);
            FUZZ_CHECK(tap_pending(&tap, (tap_dir_t)d) <= pos[d] + fed);
        }
        pos[d] += chunk;
    }
    fuzz__query(&tap);
    tap_free(&tap);
    return 0;
}
