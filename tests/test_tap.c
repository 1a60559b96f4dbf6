/*
 * Unit tests of the wire tap (server/wire/tap.c), through its public API only.
 *
 * The streams are framed here by test code of its own (t_frame and
 * friends), not by the tap's builders, so a mistake shared by the parser
 * and the builders cannot hide; the builders get their own round trips.
 * Every feed goes through feed_loop(), which checks the tap_feed()
 * contract on each call: 1..len bytes consumed, at most one event, an
 * event ends exactly where the consumed bytes end, and without an event
 * the whole chunk is consumed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/tap.h"
#include "base/util.h"

/* ---- deterministic randomness ------------------------------------------ */

static uint64_t t_rng_state = 0x9e3779b97f4a7c15ull;

static void
t_seed(uint64_t seed)
{
    t_rng_state = seed != 0 ? seed : 1;
}

static uint32_t
t_rand(void)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    t_rng_state ^= t_rng_state >> 12;
    t_rng_state ^= t_rng_state << 25;
    t_rng_state ^= t_rng_state >> 27;
    return (uint32_t)((t_rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static size_t
t_range(size_t lo, size_t hi) /* inclusive */
{
    return lo + (size_t)t_rand() % (hi - lo + 1);
}

/* ---- event recorder ------------------------------------------------------ */

typedef struct rec_s {
    util_buf_t log[TAP_DIR__COUNT]; /* one line per event */
    int nevents[TAP_DIR__COUNT];
    int call_events;                /* events during the current tap_feed */
    uint64_t last_end;
    tap_event_kind_t last_kind;
    int kinds[TAP_EV_ERROR + 1];
    util_buf_t last_raw;
    char last_line[TAP_MAX_PRE_IDENT_LINE + 1];
    char last_message[256];
    int last_msg_type;
    uint32_t last_reason;
    char last_description[512];
    size_t last_payload_len;
    uint32_t last_packet_length;
    uint8_t last_padding_length;
    util_buf_t last_payload;
    tap_t *reenter;                 /* feed this tap from the callback */
    size_t reenter_result;
} rec_t;

static void
rec_init(rec_t *r)
{
    memset(r, 0, sizeof *r);
    r->last_kind = (tap_event_kind_t)-1;
    r->reenter_result = 12345;
}

static void
rec_free(rec_t *r)
{
    util_buf_free(&r->log[0]);
    util_buf_free(&r->log[1]);
    util_buf_free(&r->last_raw);
    util_buf_free(&r->last_payload);
}

static uint32_t
t_fnv(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

static void
rec_cb(tap_t *tap, tap_dir_t dir, const tap_event_t *ev, void *userdata)
{
    rec_t *r = userdata;
    util_buf_t *log = &r->log[dir];
    size_t i;

    /* The invariants every event keeps. */
    assert_true(ev->end >= ev->offset);
    assert_int_equal(ev->end - ev->offset, ev->raw_len);
    assert_int_equal(ev->end, tap_bytes(tap, dir));
    assert_non_null(ev->raw);
    assert_true(ev->raw_len > 0);

    r->call_events++;
    r->nevents[dir]++;
    r->last_end = ev->end;
    r->last_kind = ev->kind;
    r->kinds[ev->kind]++;
    r->last_msg_type = ev->msg_type;
    util_buf_reset(&r->last_raw);
    assert_int_equal(util_buf_append(&r->last_raw, ev->raw, ev->raw_len), 0);
    r->last_line[0] = '\0';
    if (ev->line != NULL) {
        assert_int_equal(strlen(ev->line), ev->line_len);
        util_strlcpy(r->last_line, ev->line, sizeof r->last_line);
    }
    util_buf_reset(&r->last_payload);
    if (ev->payload != NULL) {
        assert_int_equal(util_buf_append(&r->last_payload, ev->payload,
                                         ev->payload_len), 0);
        assert_int_equal(ev->msg_type, ev->payload[0]);
        assert_int_equal(ev->raw_len, 4 + (size_t)ev->packet_length);
    }
    r->last_payload_len = ev->payload_len;
    r->last_packet_length = ev->packet_length;
    r->last_padding_length = ev->padding_length;

    assert_int_equal(util_buf_printf(log, "%s [%llu,%llu) raw=%08x",
                                     tap_event_name(ev->kind),
                                     (unsigned long long)ev->offset,
                                     (unsigned long long)ev->end,
                                     (unsigned)t_fnv(ev->raw, ev->raw_len)), 0);
    switch (ev->kind) {
    case TAP_EV_PRE_IDENT_LINE:
        assert_int_equal(tap_phase(tap, dir), TAP_PHASE_IDENT);
        util_buf_printf(log, " line=\"%s\"", ev->line);
        break;
    case TAP_EV_IDENT:
        assert_non_null(ev->ident);
        assert_ptr_equal(ev->ident, tap_ident(tap, dir));
        assert_string_equal(ev->line, ev->ident->line);
        util_buf_printf(log, " proto=%s software=%s comments=%s(%d) cr=%d",
                        ev->ident->proto, ev->ident->software,
                        ev->ident->comments, ev->ident->has_comments,
                        ev->ident->has_cr);
        break;
    case TAP_EV_KEXINIT:
        assert_non_null(ev->kexinit);
        assert_ptr_equal(ev->kexinit, tap_kexinit(tap, dir));
        util_buf_printf(log, " len=%u pad=%u cookie=", ev->packet_length,
                        ev->padding_length);
        for (i = 0; i < 16; i++) {
            util_buf_printf(log, "%02x", ev->kexinit->cookie[i]);
        }
        for (i = 0; i < TAP_KEX__NLISTS; i++) {
            util_buf_printf(log, " %s=%s",
                            tap_kex_list_name((tap_kex_list_t)i),
                            ev->kexinit->lists[i]);
        }
        util_buf_printf(log, " follows=%d reserved=%u hassh=%s",
                        ev->kexinit->first_kex_packet_follows,
                        (unsigned)ev->kexinit->reserved, ev->hassh);
        break;
    case TAP_EV_NEWKEYS:
        assert_int_equal(tap_phase(tap, dir), TAP_PHASE_ENCRYPTED);
        util_buf_printf(log, " len=%u pad=%u", ev->packet_length,
                        ev->padding_length);
        break;
    case TAP_EV_DISCONNECT:
        r->last_reason = ev->reason;
        util_strlcpy(r->last_description, ev->description,
                     sizeof r->last_description);
        util_buf_printf(log, " reason=%u description=\"%s\" lang=\"%s\"",
                        (unsigned)ev->reason, ev->description, ev->language);
        break;
    case TAP_EV_PACKET:
        util_buf_printf(log, " type=%d len=%u pad=%u payload=%zu",
                        ev->msg_type, ev->packet_length, ev->padding_length,
                        ev->payload_len);
        break;
    case TAP_EV_ERROR:
        assert_non_null(ev->message);
        assert_int_equal(tap_phase(tap, dir), TAP_PHASE_ERROR);
        assert_string_equal(ev->message, tap_error(tap, dir));
        util_strlcpy(r->last_message, ev->message, sizeof r->last_message);
        util_buf_printf(log, " message=\"%s\"", ev->message);
        break;
    }
    util_buf_puts(log, "\n");

    if (r->reenter != NULL) {
        r->reenter_result = tap_feed(r->reenter, TAP_DIR_C2S,
                                     (const uint8_t *)"x", 1);
    }
}

/* Feeds one chunk the way a relay does, checking the tap_feed contract. */
static void
feed_loop(tap_t *tap, rec_t *r, tap_dir_t dir, const uint8_t *data, size_t len)
{
    while (len > 0) {
        uint64_t before = tap_bytes(tap, dir);
        size_t n;

        r->call_events = 0;
        n = tap_feed(tap, dir, data, len);
        assert_true(n >= 1);
        assert_true(n <= len);
        assert_int_equal(tap_bytes(tap, dir), before + n);
        assert_true(r->call_events <= 1);
        if (r->call_events == 1) {
            assert_int_equal(r->last_end, before + n);
        } else {
            assert_int_equal(n, len);
        }
        data += n;
        len -= n;
    }
}

/* Feeds in chunks of random sizes in [1, maxchunk]. */
static void
feed_random(tap_t *tap, rec_t *r, tap_dir_t dir, const uint8_t *data,
            size_t len, size_t maxchunk)
{
    while (len > 0) {
        size_t c = t_range(1, maxchunk);

        c = c < len ? c : len;
        feed_loop(tap, r, dir, data, c);
        data += c;
        len -= c;
    }
}

/* ---- independent framing --------------------------------------------------- */

static void
t_u32(util_buf_t *b, uint32_t v)
{
    uint8_t p[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
                     (uint8_t)(v >> 8), (uint8_t)v };

    assert_int_equal(util_buf_append(b, p, 4), 0);
}

static void
t_byte(util_buf_t *b, uint8_t v)
{
    assert_int_equal(util_buf_append(b, &v, 1), 0);
}

static void
t_string(util_buf_t *b, const char *s)
{
    t_u32(b, (uint32_t)strlen(s));
    assert_int_equal(util_buf_append(b, s, strlen(s)), 0);
}

/* A cleartext packet: the smallest padding >= 4 that aligns to 8, plus
 * extra_blocks * 8, filled with fill (0xAA by default: not zero, so the
 * parser cannot depend on zero padding). */
static void
t_frame_fill(util_buf_t *out, const uint8_t *payload, size_t len,
             size_t extra_blocks, uint8_t fill)
{
    size_t pad = 4;
    size_t i;

    while ((4 + 1 + len + pad) % 8 != 0) {
        pad++;
    }
    pad += 8 * extra_blocks;
    t_u32(out, (uint32_t)(1 + len + pad));
    t_byte(out, (uint8_t)pad);
    assert_int_equal(util_buf_append(out, payload, len), 0);
    for (i = 0; i < pad; i++) {
        t_byte(out, fill);
    }
}

static void
t_frame(util_buf_t *out, const uint8_t *payload, size_t len)
{
    t_frame_fill(out, payload, len, 0, 0xaa);
}

/* A raw header with whatever lengths a test wants, valid or not. */
static void
t_header(util_buf_t *out, uint32_t packet_length, uint8_t padding_length)
{
    t_u32(out, packet_length);
    t_byte(out, padding_length);
}

static void
t_kexinit_payload(util_buf_t *p, const uint8_t cookie[16],
                  const char *const lists[TAP_KEX__NLISTS], int follows,
                  uint32_t reserved)
{
    size_t i;

    t_byte(p, TAP_MSG_KEXINIT);
    assert_int_equal(util_buf_append(p, cookie, 16), 0);
    for (i = 0; i < TAP_KEX__NLISTS; i++) {
        t_string(p, lists[i]);
    }
    t_byte(p, (uint8_t)follows);
    t_u32(p, reserved);
}

static void
t_packet_of(util_buf_t *out, const util_buf_t *payload)
{
    t_frame(out, (const uint8_t *)payload->data, payload->len);
}

/* ---- the reference conversation ------------------------------------------- */

/* HASSH reference values. The client lists are the Cyberduck 6.7.1 example
 * of the salesforce/hassh README, whose published hassh is
 * 8a8ae540028bf433cd68356c1b9e8d5b (also checked with md5sum). The server
 * lists are its OpenSSH_5.3 example; the hasshServer constant was derived
 * with `printf '%s' "$algorithms" | md5sum`. */
#define CD_KEX "curve25519-sha256@libssh.org,diffie-hellman-group-exchange-sha256,ecdh-sha2-nistp521,ecdh-sha2-nistp384,ecdh-sha2-nistp256,diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group14-sha256,diffie-hellman-group15-sha512,diffie-hellman-group16-sha512,diffie-hellman-group17-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256@ssh.com,diffie-hellman-group15-sha256,diffie-hellman-group15-sha256@ssh.com,diffie-hellman-group15-sha384@ssh.com,diffie-hellman-group16-sha256,diffie-hellman-group16-sha384@ssh.com,diffie-hellman-group16-sha512@ssh.com,diffie-hellman-group18-sha512@ssh.com"
#define CD_ENC "aes128-cbc,aes128-ctr,aes192-cbc,aes192-ctr,aes256-cbc,aes256-ctr,blowfish-cbc,blowfish-ctr,cast128-cbc,cast128-ctr,idea-cbc,idea-ctr,serpent128-cbc,serpent128-ctr,serpent192-cbc,serpent192-ctr,serpent256-cbc,serpent256-ctr,3des-cbc,3des-ctr,twofish128-cbc,twofish128-ctr,twofish192-cbc,twofish192-ctr,twofish256-cbc,twofish256-ctr,twofish-cbc,arcfour,arcfour128,arcfour256"
#define CD_MAC "hmac-sha1,hmac-sha1-96,hmac-md5,hmac-md5-96,hmac-sha2-256,hmac-sha2-512"
#define CD_COMP "zlib@openssh.com,zlib,none"
#define CD_HASSH "8a8ae540028bf433cd68356c1b9e8d5b"

#define O53_KEX "diffie-hellman-group-exchange-sha256,diffie-hellman-group-exchange-sha1,diffie-hellman-group14-sha1,diffie-hellman-group1-sha1"
#define O53_ENC "aes128-ctr,aes192-ctr,aes256-ctr,arcfour256,arcfour128,aes128-cbc,3des-cbc,blowfish-cbc,cast128-cbc,aes192-cbc,aes256-cbc,arcfour,rijndael-cbc@lysator.liu.se"
#define O53_MAC "hmac-md5,hmac-sha1,umac-64@openssh.com,hmac-ripemd160,hmac-ripemd160@openssh.com,hmac-sha1-96,hmac-md5-96"
#define O53_COMP "none,zlib@openssh.com"
#define O53_HASSH_SERVER "b1c6c0d56317555b85c7005a3de29325"

/* The other direction's lists differ on purpose, so using the wrong ones
 * for the HASSH would change the hash. */
static const char *const client_lists[TAP_KEX__NLISTS] = {
    CD_KEX, "ssh-ed25519,rsa-sha2-512", CD_ENC, "aes256-ctr", CD_MAC,
    "hmac-sha2-256", CD_COMP, "none", "", ""
};

static const char *const server_lists[TAP_KEX__NLISTS] = {
    O53_KEX, "ssh-rsa,ssh-dss", "aes128-ctr", O53_ENC, "hmac-sha1", O53_MAC,
    "none", O53_COMP, "", "en-US"
};

static const uint8_t client_cookie[16] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff
};
static const uint8_t server_cookie[16] = {
    0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04,
    0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c
};

#define S_LINE1 "Welcome to the mock host\r\n"
#define S_LINE2 "no carriage return here\n"
#define S_LINE3 "\r\n"
#define S_IDENT "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
#define C_IDENT "SSH-2.0-OpenSSH_9.6\r\n"

typedef struct stream_s {
    util_buf_t s2c;
    util_buf_t c2s;
    size_t s2c_kexinit; /* where the server's KEXINIT starts */
    size_t s2c_kexinit_len;
    size_t s2c_tail;    /* where the encrypted bytes start */
    size_t c2s_kexinit;
    size_t c2s_kexinit_len;
    size_t c2s_tail;
} stream_t;

static void
stream_build(stream_t *st)
{
    util_buf_t p = UTIL_BUF_INIT;
    uint8_t blob[200];
    size_t i;

    memset(st, 0, sizeof *st);
    for (i = 0; i < sizeof blob; i++) {
        blob[i] = (uint8_t)(i * 37 + 11);
    }

    /* server: text lines, identification, KEXINIT, a key exchange reply,
     * NEWKEYS, then "encrypted" bytes that happen to look like anything. */
    util_buf_puts(&st->s2c, S_LINE1 S_LINE2 S_LINE3 S_IDENT);
    st->s2c_kexinit = st->s2c.len;
    t_kexinit_payload(&p, server_cookie, server_lists, 0, 0);
    t_packet_of(&st->s2c, &p);
    st->s2c_kexinit_len = st->s2c.len - st->s2c_kexinit;
    util_buf_reset(&p);
    t_byte(&p, 31); /* SSH_MSG_KEX_ECDH_REPLY */
    util_buf_append(&p, blob, 120);
    t_frame_fill(&st->s2c, (const uint8_t *)p.data, p.len, 2, 0x55);
    util_buf_reset(&p);
    t_byte(&p, TAP_MSG_NEWKEYS);
    t_packet_of(&st->s2c, &p);
    st->s2c_tail = st->s2c.len;
    util_buf_append(&st->s2c, "SSH-2.0-not-an-ident\r\n", 22);
    util_buf_append(&st->s2c, blob, sizeof blob);

    /* client: identification, KEXINIT (guess flag set), ECDH init,
     * NEWKEYS, then its encrypted bytes. */
    util_buf_puts(&st->c2s, C_IDENT);
    st->c2s_kexinit = st->c2s.len;
    util_buf_reset(&p);
    t_kexinit_payload(&p, client_cookie, client_lists, 1, 7);
    t_packet_of(&st->c2s, &p);
    st->c2s_kexinit_len = st->c2s.len - st->c2s_kexinit;
    util_buf_reset(&p);
    t_byte(&p, 30); /* SSH_MSG_KEX_ECDH_INIT */
    util_buf_append(&p, blob, 36);
    t_packet_of(&st->c2s, &p);
    util_buf_reset(&p);
    t_byte(&p, TAP_MSG_NEWKEYS);
    t_packet_of(&st->c2s, &p);
    st->c2s_tail = st->c2s.len;
    util_buf_append(&st->c2s, blob + 50, 150);

    util_buf_free(&p);
}

static void
stream_free(stream_t *st)
{
    util_buf_free(&st->s2c);
    util_buf_free(&st->c2s);
}

/* What a run leaves behind, to compare runs with different chunkings. */
static void
summarize(const tap_t *tap, const rec_t *r, util_buf_t *out)
{
    int d;

    for (d = 0; d < TAP_DIR__COUNT; d++) {
        const char *alg = NULL;
        const char *h = tap_dir_hassh(tap, (tap_dir_t)d, &alg);

        util_buf_printf(out, "== %s phase=%s bytes=%llu packets=%llu "
                        "pending=%zu hassh=%s\n%s",
                        tap_dir_name((tap_dir_t)d),
                        tap_phase_name(tap_phase(tap, (tap_dir_t)d)),
                        (unsigned long long)tap_bytes(tap, (tap_dir_t)d),
                        (unsigned long long)tap_packets(tap, (tap_dir_t)d),
                        tap_pending(tap, (tap_dir_t)d), h ? h : "-",
                        r->log[d].data ? r->log[d].data : "");
    }
}

typedef enum {
    FEED_ONE_CHUNK,
    FEED_BYTES,
    FEED_SPLIT,     /* two chunks split at 'arg' */
    FEED_RANDOM,    /* random chunk sizes up to 'arg' */
    FEED_INTERLEAVE /* both directions alternately, random sizes */
} feed_mode_t;

static void
run_stream(const stream_t *st, feed_mode_t mode, size_t arg, util_buf_t *out)
{
    tap_t tap;
    rec_t r;
    const util_buf_t *bufs[2] = { &st->c2s, &st->s2c };
    int d;

    rec_init(&r);
    tap_init(&tap, rec_cb, &r);
    if (mode == FEED_INTERLEAVE) {
        size_t off[2] = { 0, 0 };

        while (off[0] < bufs[0]->len || off[1] < bufs[1]->len) {
            d = (int)(t_rand() & 1);
            if (off[d] < bufs[d]->len) {
                size_t c = t_range(1, arg);

                c = c < bufs[d]->len - off[d] ? c : bufs[d]->len - off[d];
                feed_loop(&tap, &r, (tap_dir_t)d,
                          (const uint8_t *)bufs[d]->data + off[d], c);
                off[d] += c;
            }
        }
    } else {
        for (d = 0; d < TAP_DIR__COUNT; d++) {
            const uint8_t *p = (const uint8_t *)bufs[d]->data;
            size_t len = bufs[d]->len;
            size_t i;

            switch (mode) {
            case FEED_ONE_CHUNK:
                feed_loop(&tap, &r, (tap_dir_t)d, p, len);
                break;
            case FEED_BYTES:
                for (i = 0; i < len; i++) {
                    feed_loop(&tap, &r, (tap_dir_t)d, p + i, 1);
                }
                break;
            case FEED_SPLIT: {
                size_t k = arg < len ? arg : len;

                if (k > 0) {
                    feed_loop(&tap, &r, (tap_dir_t)d, p, k);
                }
                if (len > k) {
                    feed_loop(&tap, &r, (tap_dir_t)d, p + k, len - k);
                }
                break;
            }
            case FEED_RANDOM:
            case FEED_INTERLEAVE:
                feed_random(&tap, &r, (tap_dir_t)d, p, len, arg);
                break;
            }
        }
    }
    summarize(&tap, &r, out);
    tap_free(&tap);
    rec_free(&r);
}

/* ---- the reference conversation, fed in many ways ---------------------------- */

static void
test_stream_one_chunk(void **state)
{
    stream_t st;
    tap_t tap;
    rec_t r;
    const tap_ident_t *id = NULL;
    const tap_kexinit_t *k = NULL;
    const char *alg = NULL;
    unsigned nlines = 0;
    int trunc = 1;
    size_t i;

    (void)state;
    stream_build(&st);
    rec_init(&r);
    tap_init(&tap, rec_cb, &r);

    feed_loop(&tap, &r, TAP_DIR_S2C, (const uint8_t *)st.s2c.data, st.s2c.len);
    feed_loop(&tap, &r, TAP_DIR_C2S, (const uint8_t *)st.c2s.data, st.c2s.len);

    /* server: 3 lines, ident, KEXINIT, ECDH reply, NEWKEYS; nothing after */
    assert_int_equal(r.nevents[TAP_DIR_S2C], 7);
    assert_int_equal(r.kinds[TAP_EV_PRE_IDENT_LINE], 3);
    assert_int_equal(r.kinds[TAP_EV_IDENT], 2);
    assert_int_equal(r.kinds[TAP_EV_KEXINIT], 2);
    assert_int_equal(r.kinds[TAP_EV_NEWKEYS], 2);
    assert_int_equal(r.kinds[TAP_EV_PACKET], 2);
    assert_int_equal(r.kinds[TAP_EV_ERROR], 0);
    assert_int_equal(r.nevents[TAP_DIR_C2S], 4);

    assert_string_equal(tap_pre_ident_text(&tap, &nlines, &trunc),
                        "Welcome to the mock host\nno carriage return here\n");
    assert_int_equal(nlines, 3);
    assert_int_equal(trunc, 0);

    id = tap_ident(&tap, TAP_DIR_S2C);
    assert_non_null(id);
    assert_string_equal(id->line, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
    assert_string_equal(id->proto, "2.0");
    assert_string_equal(id->software, "OpenSSH_9.2p1");
    assert_string_equal(id->comments, "Debian-2+deb12u3");
    assert_int_equal(id->has_comments, 1);
    assert_int_equal(id->has_cr, 1);
    id = tap_ident(&tap, TAP_DIR_C2S);
    assert_non_null(id);
    assert_string_equal(id->software, "OpenSSH_9.6");
    assert_string_equal(id->comments, "");
    assert_int_equal(id->has_comments, 0);

    k = tap_kexinit(&tap, TAP_DIR_S2C);
    assert_non_null(k);
    assert_memory_equal(k->cookie, server_cookie, 16);
    for (i = 0; i < TAP_KEX__NLISTS; i++) {
        assert_string_equal(k->lists[i], server_lists[i]);
    }
    assert_int_equal(k->first_kex_packet_follows, 0);
    k = tap_kexinit(&tap, TAP_DIR_C2S);
    assert_non_null(k);
    assert_memory_equal(k->cookie, client_cookie, 16);
    for (i = 0; i < TAP_KEX__NLISTS; i++) {
        assert_string_equal(k->lists[i], client_lists[i]);
    }
    assert_int_equal(k->first_kex_packet_follows, 1);
    assert_int_equal(k->reserved, 7);

    assert_string_equal(tap_dir_hassh(&tap, TAP_DIR_C2S, &alg), CD_HASSH);
    assert_string_equal(alg, CD_KEX ";" CD_ENC ";" CD_MAC ";" CD_COMP);
    assert_string_equal(tap_dir_hassh(&tap, TAP_DIR_S2C, &alg),
                        O53_HASSH_SERVER);
    assert_string_equal(alg, O53_KEX ";" O53_ENC ";" O53_MAC ";" O53_COMP);

    assert_int_equal(tap_phase(&tap, TAP_DIR_S2C), TAP_PHASE_ENCRYPTED);
    assert_int_equal(tap_phase(&tap, TAP_DIR_C2S), TAP_PHASE_ENCRYPTED);
    assert_int_equal(tap_bytes(&tap, TAP_DIR_S2C), st.s2c.len);
    assert_int_equal(tap_bytes(&tap, TAP_DIR_C2S), st.c2s.len);
    assert_int_equal(tap_packets(&tap, TAP_DIR_S2C), 3);
    assert_int_equal(tap_packets(&tap, TAP_DIR_C2S), 3);
    assert_int_equal(tap_msg_count(&tap, TAP_DIR_S2C, TAP_MSG_KEXINIT), 1);
    assert_int_equal(tap_msg_count(&tap, TAP_DIR_S2C, 31), 1);
    assert_int_equal(tap_msg_count(&tap, TAP_DIR_S2C, 30), 0);
    assert_int_equal(tap_msg_count(&tap, TAP_DIR_C2S, 30), 1);
    assert_int_equal(tap_msg_count(&tap, TAP_DIR_C2S, TAP_MSG_NEWKEYS), 1);
    assert_int_equal(tap_pending(&tap, TAP_DIR_S2C), 0);
    assert_null(tap_error(&tap, TAP_DIR_S2C));
    assert_null(tap_disconnect(&tap, TAP_DIR_S2C, NULL));

    /* the packet event carried the reply's framing as sent */
    assert_non_null(strstr(r.log[TAP_DIR_S2C].data,
                           "PACKET [" ));
    assert_non_null(strstr(r.log[TAP_DIR_S2C].data,
                           "type=31 len=148 pad=26 payload=121"));

    tap_free(&tap);
    tap_free(&tap); /* twice is harmless */
    rec_free(&r);
    stream_free(&st);
}

static void
test_stream_byte_at_a_time(void **state)
{
    stream_t st;
    util_buf_t a = UTIL_BUF_INIT;
    util_buf_t b = UTIL_BUF_INIT;

    (void)state;
    stream_build(&st);
    run_stream(&st, FEED_ONE_CHUNK, 0, &a);
    run_stream(&st, FEED_BYTES, 0, &b);
    assert_string_equal(a.data, b.data);
    util_buf_free(&a);
    util_buf_free(&b);
    stream_free(&st);
}

static void
test_stream_split_everywhere(void **state)
{
    stream_t st;
    util_buf_t a = UTIL_BUF_INIT;
    util_buf_t b = UTIL_BUF_INIT;
    size_t k;
    size_t max;

    (void)state;
    stream_build(&st);
    run_stream(&st, FEED_ONE_CHUNK, 0, &a);
    max = st.s2c.len > st.c2s.len ? st.s2c.len : st.c2s.len;
    for (k = 0; k <= max; k++) {
        util_buf_reset(&b);
        run_stream(&st, FEED_SPLIT, k, &b);
        assert_string_equal(a.data, b.data);
    }
    util_buf_free(&a);
    util_buf_free(&b);
    stream_free(&st);
}

static void
test_stream_random_chunks(void **state)
{
    stream_t st;
    util_buf_t a = UTIL_BUF_INIT;
    util_buf_t b = UTIL_BUF_INIT;
    int i;

    (void)state;
    stream_build(&st);
    run_stream(&st, FEED_ONE_CHUNK, 0, &a);
    t_seed(42);
    for (i = 0; i < 200; i++) {
        util_buf_reset(&b);
        run_stream(&st, i % 2 ? FEED_RANDOM : FEED_INTERLEAVE,
                   (size_t)(1 + i % 37), &b);
        assert_string_equal(a.data, b.data);
    }
    util_buf_free(&a);
    util_buf_free(&b);
    stream_free(&st);
}

/* Every prefix is "need more": the events so far are a prefix of the full
 * run's, no error, and the unfinished unit is what tap_pending() says. */
static void
test_truncated_every_prefix(void **state)
{
    stream_t st;
    tap_t full;
    rec_t rf;
    int d;

    (void)state;
    stream_build(&st);
    rec_init(&rf);
    tap_init(&full, rec_cb, &rf);
    feed_loop(&full, &rf, TAP_DIR_S2C, (const uint8_t *)st.s2c.data,
              st.s2c.len);
    feed_loop(&full, &rf, TAP_DIR_C2S, (const uint8_t *)st.c2s.data,
              st.c2s.len);

    for (d = 0; d < TAP_DIR__COUNT; d++) {
        const util_buf_t *s = d == TAP_DIR_S2C ? &st.s2c : &st.c2s;
        size_t tail = d == TAP_DIR_S2C ? st.s2c_tail : st.c2s_tail;
        size_t len;

        for (len = 0; len < tail; len++) {
            tap_t tap;
            rec_t r;
            const char *log = NULL;

            rec_init(&r);
            tap_init(&tap, rec_cb, &r);
            if (len > 0) {
                feed_loop(&tap, &r, (tap_dir_t)d, (const uint8_t *)s->data,
                          len);
            }
            assert_int_not_equal(tap_phase(&tap, (tap_dir_t)d),
                                 TAP_PHASE_ERROR);
            assert_int_not_equal(tap_phase(&tap, (tap_dir_t)d),
                                 TAP_PHASE_ENCRYPTED);
            assert_int_equal(r.kinds[TAP_EV_ERROR], 0);
            log = r.log[d].data != NULL ? r.log[d].data : "";
            assert_int_equal(strncmp(log, rf.log[d].data, strlen(log)), 0);
            assert_int_equal(tap_pending(&tap, (tap_dir_t)d),
                             len - (r.nevents[d] > 0 ? r.last_end : 0));
            tap_free(&tap);
            rec_free(&r);
        }
    }
    tap_free(&full);
    rec_free(&rf);
    stream_free(&st);
}

/* The same, named by phase, with what each stop must look like. */
static void
test_truncated_in_each_phase(void **state)
{
    stream_t st;
    tap_t tap;
    rec_t r;
    const uint8_t *s = NULL;
    size_t line1 = strlen(S_LINE1);
    size_t pre = strlen(S_LINE1 S_LINE2 S_LINE3);

    (void)state;
    stream_build(&st);
    s = (const uint8_t *)st.s2c.data;

    /* inside the first pre-identification line */
    rec_init(&r);
    tap_init(&tap, rec_cb, &r);
    feed_loop(&tap, &r, TAP_DIR_S2C, s, line1 - 1);
    assert_int_equal(r.nevents[TAP_DIR_S2C], 0);
    assert_int_equal(tap_pending(&tap, TAP_DIR_S2C), line1 - 1);
    assert_int_equal(tap_phase(&tap, TAP_DIR_S2C), TAP_PHASE_IDENT);
    tap_free(&tap);
    rec_free(&r);

    /* inside the identification, after "SSH-2" */
    rec_init(&r);
    tap_init(&tap, rec_cb, &r);
    feed_loop(&tap, &r, TAP_DIR_S2C, s, pre + 5);
    assert_int_equal(r.nevents[TAP_DIR_S2C], 3);
    assert_null(tap_ident(&tap, TAP_DIR_S2C));
    assert_int_equal(tap_pending(&tap, TAP_DIR_S2C), 5);
    tap_free(&tap);
    rec_free(&r);

    /* identification without its LF yet (CR seen) */
    rec_init(&r);
    tap_init(&tap, rec_cb, &r);
    feed_loop(&tap, &r, TAP_DIR_S2C, s, st.s2c_kexinit - 1);
    assert_null(tap_ident(&tap, TAP_DIR_S2C));
    assert_int_equal(tap_phase(&tap, TAP_DIR_S2C), TAP_PHASE_IDENT);
    tap_free(&tap);
    rec_free(&r);

    /* inside packet_length, then inside the body */
    rec_init(&r);
    tap_init(&tap, rec_cb, &r);
    feed_loop(&tap, &r, TAP_DIR_S2C, s, st.s2c_kexinit + 2);
    assert_int_equal(tap_phase(&tap, TAP_DIR_S2C),
                     TAP_PHASE_CLEARTEXT_PACKETS);
    assert_int_equal(tap_pending(&tap, TAP_DIR_S2C), 2);
    assert_null(tap_kexinit(&tap, TAP_DIR_S2C));
    feed_loop(&tap, &r, TAP_DIR_S2C, s + st.s2c_kexinit + 2, 3);
    assert_int_equal(tap_pending(&tap, TAP_DIR_S2C), 5);
    feed_loop(&tap, &r, TAP_DIR_S2C, s + st.s2c_kexinit + 5,
              st.s2c_kexinit_len - 6);
    assert_int_equal(tap_pending(&tap, TAP_DIR_S2C), st.s2c_kexinit_len - 1);
    assert_null(tap_kexinit(&tap, TAP_DIR_S2C));
    assert_int_equal(r.kinds[TAP_EV_KEXINIT], 0);
    assert_int_equal(r.kinds[TAP_EV_ERROR], 0);
    /* the last byte completes it */
    feed_loop(&tap, &r, TAP_DIR_S2C,
              s + st.s2c_kexinit + st.s2c_kexinit_len - 1, 1);
    assert_int_equal(r.kinds[TAP_EV_KEXINIT], 1);
    assert_int_equal(tap_pending(&tap, TAP_DIR_S2C), 0);
    tap_free(&tap);
    rec_free(&r);
    stream_free(&st);
}

/* ---- event boundaries inside one chunk ------------------------------------- */

static void
test_feed_stops_at_each_event(void **state)
{
    stream_t st;
    tap_t tap;
    rec_t r;
    const uint8_t *p = NULL;
    size_t n;
    size_t at = 0;
    size_t ident_len = strlen(S_IDENT);

    (void)state;
    stream_build(&st);
    p = (const uint8_t *)st.s2c.data;
    rec_init(&r);
    tap_init(&tap, rec_cb, &r);

    n = tap_feed(&tap, TAP_DIR_S2C, p, st.s2c.len);
    assert_int_equal(n, strlen(S_LINE1));
    assert_int_equal(r.last_kind, TAP_EV_PRE_IDENT_LINE);
    assert_string_equal(r.last_line, "Welcome to the mock host");
    at += n;
    n = tap_feed(&tap, TAP_DIR_S2C, p + at, st.s2c.len - at);
    assert_int_equal(n, strlen(S_LINE2));
    assert_string_equal(r.last_line, "no carriage return here");
    at += n;
    n = tap_feed(&tap, TAP_DIR_S2C, p + at, st.s2c.len - at);
    assert_int_equal(n, strlen(S_LINE3));
    assert_string_equal(r.last_line, "");
    at += n;
    /* the identification, and not one byte of the KEXINIT behind it */
    n = tap_feed(&tap, TAP_DIR_S2C, p + at, st.s2c.len - at);
    assert_int_equal(n, ident_len);
    assert_int_equal(r.last_kind, TAP_EV_IDENT);
    assert_int_equal(r.last_end, st.s2c_kexinit);
    assert_memory_equal(r.last_raw.data, S_IDENT, ident_len);
    at += n;
    assert_int_equal(at, st.s2c_kexinit);
    n = tap_feed(&tap, TAP_DIR_S2C, p + at, st.s2c.len - at);
    assert_int_equal(n, st.s2c_kexinit_len);
    assert_int_equal(r.last_kind, TAP_EV_KEXINIT);
    assert_memory_equal(r.last_raw.data, p + st.s2c_kexinit,
                        st.s2c_kexinit_len);
    at += n;
    n = tap_feed(&tap, TAP_DIR_S2C, p + at, st.s2c.len - at);
    assert_int_equal(r.last_kind, TAP_EV_PACKET);
    assert_int_equal(r.last_msg_type, 31);
    at += n;
    n = tap_feed(&tap, TAP_DIR_S2C, p + at, st.s2c.len - at);
    assert_int_equal(r.last_kind, TAP_EV_NEWKEYS);
    at += n;
    assert_int_equal(at, st.s2c_tail);
    /* encrypted: everything at once, no event */
    r.call_events = 0;
    n = tap_feed(&tap, TAP_DIR_S2C, p + at, st.s2c.len - at);
    assert_int_equal(n, st.s2c.len - at);
    assert_int_equal(r.call_events, 0);
    assert_int_equal(tap_pending(&tap, TAP_DIR_S2C), 0);
    assert_int_equal(tap_packets(&tap, TAP_DIR_S2C), 3);

    tap_free(&tap);
    rec_free(&r);
    stream_free(&st);
}

/* What a fault engine does with tap_pending(): hold the bytes of an
 * unfinished unit, and drop the client's KEXINIT whole, whatever the
 * chunking. The rest must pass unchanged. */
typedef struct dropper_s {
    rec_t rec;
    int drop_next; /* set by the callback on the client's KEXINIT */
} dropper_t;

static void
dropper_cb(tap_t *tap, tap_dir_t dir, const tap_event_t *ev, void *userdata)
{
    dropper_t *dr = userdata;

    rec_cb(tap, dir, ev, &dr->rec);
    if (ev->kind == TAP_EV_KEXINIT) {
        dr->drop_next = 1;
    }
}

static void
test_relay_drops_kexinit_with_pending(void **state)
{
    stream_t st;
    int iter;

    (void)state;
    stream_build(&st);
    t_seed(7);
    for (iter = 0; iter < 100; iter++) {
        tap_t tap;
        dropper_t dr;
        util_buf_t held = UTIL_BUF_INIT;
        util_buf_t sent = UTIL_BUF_INIT;
        util_buf_t expect = UTIL_BUF_INIT;
        const uint8_t *p = (const uint8_t *)st.c2s.data;
        size_t len = st.c2s.len;

        memset(&dr, 0, sizeof dr);
        rec_init(&dr.rec);
        tap_init(&tap, dropper_cb, &dr);
        while (len > 0) {
            size_t chunk = t_range(1, 1 + (size_t)iter);
            const uint8_t *c = p;
            size_t clen;

            chunk = chunk < len ? chunk : len;
            clen = chunk;
            while (clen > 0) {
                size_t n = tap_feed(&tap, TAP_DIR_C2S, c, clen);

                assert_true(n >= 1 && n <= clen);
                util_buf_append(&held, c, n);
                c += n;
                clen -= n;
                /* Forward all but the bytes of an unfinished unit. */
                if (dr.drop_next) {
                    /* held is exactly the KEXINIT packet */
                    assert_int_equal(held.len, st.c2s_kexinit_len);
                    assert_memory_equal(held.data,
                                        st.c2s.data + st.c2s_kexinit,
                                        held.len);
                    util_buf_reset(&held);
                    dr.drop_next = 0;
                } else {
                    size_t keep = tap_pending(&tap, TAP_DIR_C2S);

                    util_buf_append(&sent, held.data, held.len - keep);
                    util_buf_consume(&held, held.len - keep);
                }
            }
            p += chunk;
            len -= chunk;
        }
        assert_int_equal(held.len, 0);
        util_buf_append(&expect, st.c2s.data, st.c2s_kexinit);
        util_buf_append(&expect, st.c2s.data + st.c2s_kexinit +
                        st.c2s_kexinit_len,
                        st.c2s.len - st.c2s_kexinit - st.c2s_kexinit_len);
        assert_int_equal(sent.len, expect.len);
        assert_memory_equal(sent.data, expect.data, expect.len);
        tap_free(&tap);
        rec_free(&dr.rec);
        util_buf_free(&held);
        util_buf_free(&sent);
        util_buf_free(&expect);
    }
    stream_free(&st);
}

/* ---- helpers for the error cases ------------------------------------------ */

/* Feeds s2c (or c2s) in one chunk through feed_loop; the caller inspects. */
static void
feed_one(tap_t *tap, rec_t *r, tap_dir_t dir, const util_buf_t *b)
{
    rec_init(r);
    tap_init(tap, rec_cb, r);
    feed_loop(tap, r, dir, (const uint8_t *)b->data, b->len);
}

/* Checks the stream ends in an error whose event ends at err_end and whose
 * message contains what; then that more bytes are only counted. */
static void
expect_error(tap_dir_t dir, const util_buf_t *b, uint64_t err_end,
             const char *what)
{
    tap_t tap;
    rec_t r;
    static const uint8_t more[64] = { 0 };

    feed_one(&tap, &r, dir, b);
    assert_int_equal(tap_phase(&tap, dir), TAP_PHASE_ERROR);
    assert_int_equal(r.kinds[TAP_EV_ERROR], 1);
    assert_int_equal(r.last_kind, TAP_EV_ERROR);
    assert_int_equal(r.last_end, err_end);
    if (strstr(r.last_message, what) == NULL) {
        fail_msg("error \"%s\" does not contain \"%s\"", r.last_message, what);
    }
    assert_int_equal(tap_bytes(&tap, dir), b->len);
    r.call_events = 0;
    assert_int_equal(tap_feed(&tap, dir, more, sizeof more), sizeof more);
    assert_int_equal(r.call_events, 0);
    assert_int_equal(tap_bytes(&tap, dir), b->len + sizeof more);
    assert_int_equal(tap_pending(&tap, dir), 0);
    /* the other direction is untouched */
    assert_int_equal(tap_phase(&tap, (tap_dir_t)(1 - dir)), TAP_PHASE_IDENT);

    /* byte at a time gives the same error at the same place */
    tap_free(&tap);
    rec_free(&r);
    {
        size_t i;

        rec_init(&r);
        tap_init(&tap, rec_cb, &r);
        for (i = 0; i < b->len; i++) {
            feed_loop(&tap, &r, dir, (const uint8_t *)b->data + i, 1);
        }
        assert_int_equal(r.kinds[TAP_EV_ERROR], 1);
        assert_int_equal(r.last_end, err_end);
        tap_free(&tap);
        rec_free(&r);
    }
}

#define IDENT_X "SSH-2.0-x\r\n"
#define IDENT_X_LEN 11u

/* ---- framing errors ---------------------------------------------------------- */

static void
test_packet_length_too_large(void **state)
{
    util_buf_t b = UTIL_BUF_INIT;

    (void)state;
    util_buf_puts(&b, IDENT_X);
    t_u32(&b, TAP_MAX_PACKET_LENGTH + 1);
    util_buf_append(&b, "more bytes that never get parsed", 32);
    expect_error(TAP_DIR_S2C, &b, IDENT_X_LEN + 4, "exceeds the 35000");

    util_buf_reset(&b);
    util_buf_puts(&b, IDENT_X);
    t_u32(&b, 0xffffffffu); /* no overflow in length arithmetic */
    t_byte(&b, 4);
    expect_error(TAP_DIR_C2S, &b, IDENT_X_LEN + 4, "packet_length 4294967295");

    /* an HTTP response after the identification reads as a huge length */
    util_buf_reset(&b);
    util_buf_puts(&b, IDENT_X "HTTP/1.1 400 Bad Request\r\n");
    expect_error(TAP_DIR_S2C, &b, IDENT_X_LEN + 4, "exceeds");
    util_buf_free(&b);
}

static void
test_packet_length_largest_accepted(void **state)
{
    util_buf_t b = UTIL_BUF_INIT;
    util_buf_t payload = UTIL_BUF_INIT;
    tap_t tap;
    rec_t r;
    size_t i;

    (void)state;
    /* 34996 is the largest aligned packet_length within 35000. */
    t_byte(&payload, 2); /* SSH_MSG_IGNORE */
    for (i = 1; i < 34991; i++) {
        t_byte(&payload, (uint8_t)i);
    }
    util_buf_puts(&b, IDENT_X);
    assert_int_equal(tap_build_packet(&b, (const uint8_t *)payload.data,
                                      payload.len), 0);
    assert_int_equal(b.len, IDENT_X_LEN + 4 + 34996);
    feed_one(&tap, &r, TAP_DIR_S2C, &b);
    assert_int_equal(r.last_kind, TAP_EV_PACKET);
    assert_int_equal(r.last_packet_length, 34996);
    assert_int_equal(r.last_payload_len, 34991);
    assert_memory_equal(r.last_payload.data, payload.data, payload.len);
    /* memory stays bounded by one packet */
    assert_true(tap.dir[TAP_DIR_S2C]->unit.cap <= 65536);
    tap_free(&tap);
    rec_free(&r);

    /* one byte more does not fit any more */
    t_byte(&payload, 0);
    util_buf_reset(&b);
    assert_int_equal(tap_build_packet(&b, (const uint8_t *)payload.data,
                                      payload.len), -1);
    assert_int_equal(b.len, 0);
    util_buf_free(&b);
    util_buf_free(&payload);
}

static void
test_packet_length_too_small(void **state)
{
    util_buf_t b = UTIL_BUF_INIT;
    uint32_t lens[] = { 0, 1, 4 };
    size_t i;

    (void)state;
    for (i = 0; i < UTIL_ARRAY_SIZE(lens); i++) {
        util_buf_reset(&b);
        util_buf_puts(&b, IDENT_X);
        t_header(&b, lens[i], 0);
        expect_error(TAP_DIR_S2C, &b, IDENT_X_LEN + 4, "below the minimum of 5");
    }
    /* 5..11 pass the minimum but cannot be aligned */
    util_buf_reset(&b);
    util_buf_puts(&b, IDENT_X);
    t_header(&b, 5, 4);
    expect_error(TAP_DIR_S2C, &b, IDENT_X_LEN + 4, "not a multiple of 8");
    util_buf_reset(&b);
    util_buf_puts(&b, IDENT_X);
    t_header(&b, 13, 4);
    expect_error(TAP_DIR_C2S, &b, IDENT_X_LEN + 4, "not a multiple of 8");
    util_buf_free(&b);
}

static void
test_padding_invalid(void **state)
{
    util_buf_t b = UTIL_BUF_INIT;

    (void)state;
    /* padding_length >= packet_length */
    util_buf_puts(&b, IDENT_X);
    t_header(&b, 12, 12);
    expect_error(TAP_DIR_S2C, &b, IDENT_X_LEN + 5, "does not fit");
    util_buf_reset(&b);
    util_buf_puts(&b, IDENT_X);
    t_header(&b, 12, 255);
    expect_error(TAP_DIR_S2C, &b, IDENT_X_LEN + 5,
                 "padding_length 255 does not fit in packet_length 12");
    /* nothing left for the message type */
    util_buf_reset(&b);
    util_buf_puts(&b, IDENT_X);
    t_header(&b, 12, 11);
    expect_error(TAP_DIR_S2C, &b, IDENT_X_LEN + 5, "leaves no payload");
    /* RFC 4253 6: at least four bytes of padding */
    util_buf_reset(&b);
    util_buf_puts(&b, IDENT_X);
    t_header(&b, 12, 3);
    util_buf_append(&b, "\x02zzzzzzzzz", 10);
    expect_error(TAP_DIR_S2C, &b, IDENT_X_LEN + 5, "below the minimum of 4");
    util_buf_free(&b);
}

/* ---- KEXINIT contents -------------------------------------------------------- */

static void
test_kexinit_namelist_beyond_payload(void **state)
{
    util_buf_t p = UTIL_BUF_INIT;
    util_buf_t b = UTIL_BUF_INIT;
    size_t i;

    (void)state;
    /* the 4th list claims 65535 bytes in a small payload */
    t_byte(&p, TAP_MSG_KEXINIT);
    util_buf_append(&p, client_cookie, 16);
    for (i = 0; i < 3; i++) {
        t_string(&p, "a,b");
    }
    t_u32(&p, 65535);
    util_buf_append(&p, "aes128-ctr", 10);
    util_buf_puts(&b, IDENT_X);
    t_packet_of(&b, &p);
    expect_error(TAP_DIR_C2S, &b, b.len,
                 "KEXINIT encryption_algorithms_server_to_client length 65535 "
                 "exceeds the 10 bytes left");

    /* and 0xffffffff, which must not wrap any offset */
    util_buf_reset(&p);
    t_byte(&p, TAP_MSG_KEXINIT);
    util_buf_append(&p, client_cookie, 16);
    t_u32(&p, 0xffffffffu);
    util_buf_reset(&b);
    util_buf_puts(&b, IDENT_X);
    t_packet_of(&b, &p);
    expect_error(TAP_DIR_S2C, &b, b.len, "kex_algorithms length 4294967295");
    util_buf_free(&p);
    util_buf_free(&b);
}

static void
test_kexinit_truncated_and_nul(void **state)
{
    util_buf_t p = UTIL_BUF_INIT;
    util_buf_t b = UTIL_BUF_INIT;
    tap_t tap;
    rec_t r;
    size_t i;

    (void)state;
    /* cookie cut short */
    t_byte(&p, TAP_MSG_KEXINIT);
    util_buf_append(&p, client_cookie, 10);
    util_buf_puts(&b, IDENT_X);
    t_packet_of(&b, &p);
    expect_error(TAP_DIR_C2S, &b, b.len, "too short for its cookie");

    /* lists stop after the cookie */
    util_buf_reset(&p);
    t_byte(&p, TAP_MSG_KEXINIT);
    util_buf_append(&p, client_cookie, 16);
    util_buf_reset(&b);
    util_buf_puts(&b, IDENT_X);
    t_packet_of(&b, &p);
    expect_error(TAP_DIR_C2S, &b, b.len, "truncated before kex_algorithms");

    /* all lists, then nothing */
    util_buf_reset(&p);
    t_byte(&p, TAP_MSG_KEXINIT);
    util_buf_append(&p, client_cookie, 16);
    for (i = 0; i < TAP_KEX__NLISTS; i++) {
        t_string(&p, "x");
    }
    util_buf_reset(&b);
    util_buf_puts(&b, IDENT_X);
    t_packet_of(&b, &p);
    expect_error(TAP_DIR_C2S, &b, b.len,
                 "truncated before first_kex_packet_follows");

    /* reserved cut short */
    t_byte(&p, 0);
    t_byte(&p, 0);
    util_buf_reset(&b);
    util_buf_puts(&b, IDENT_X);
    t_packet_of(&b, &p);
    expect_error(TAP_DIR_C2S, &b, b.len, "before its reserved field");

    /* a NUL inside a list */
    util_buf_reset(&p);
    t_byte(&p, TAP_MSG_KEXINIT);
    util_buf_append(&p, client_cookie, 16);
    t_u32(&p, 3);
    util_buf_append(&p, "a\0b", 3);
    util_buf_reset(&b);
    util_buf_puts(&b, IDENT_X);
    t_packet_of(&b, &p);
    expect_error(TAP_DIR_S2C, &b, b.len, "kex_algorithms contains a NUL");

    /* the error event still describes the packet it came from */
    feed_one(&tap, &r, TAP_DIR_S2C, &b);
    assert_int_equal(r.last_msg_type, TAP_MSG_KEXINIT);
    assert_int_equal(r.last_payload_len, p.len);
    assert_null(tap_kexinit(&tap, TAP_DIR_S2C));
    assert_int_equal(tap_packets(&tap, TAP_DIR_S2C), 1);
    tap_free(&tap);
    rec_free(&r);

    /* trailing bytes after "reserved" are tolerated, empty lists too */
    util_buf_reset(&p);
    t_byte(&p, TAP_MSG_KEXINIT);
    util_buf_append(&p, client_cookie, 16);
    for (i = 0; i < TAP_KEX__NLISTS; i++) {
        t_string(&p, "");
    }
    t_byte(&p, 2);
    t_u32(&p, 0);
    util_buf_append(&p, "extension", 9);
    util_buf_reset(&b);
    util_buf_puts(&b, IDENT_X);
    t_packet_of(&b, &p);
    feed_one(&tap, &r, TAP_DIR_S2C, &b);
    assert_int_equal(r.last_kind, TAP_EV_KEXINIT);
    assert_string_equal(tap_kexinit(&tap, TAP_DIR_S2C)->lists[TAP_KEX_ALGS], "");
    assert_int_equal(tap_kexinit(&tap, TAP_DIR_S2C)->first_kex_packet_follows,
                     1);
    tap_free(&tap);
    rec_free(&r);

    util_buf_free(&p);
    util_buf_free(&b);
}

/* ---- identification errors and variants -------------------------------------- */

static void
test_ident_too_long(void **state)
{
    util_buf_t b = UTIL_BUF_INIT;
    tap_t tap;
    rec_t r;
    size_t i;
    int d;

    (void)state;
    for (d = 0; d < TAP_DIR__COUNT; d++) {
        /* 255 bytes with CR LF: accepted */
        util_buf_reset(&b);
        util_buf_puts(&b, "SSH-2.0-");
        for (i = 0; i < 245; i++) {
            util_buf_puts(&b, "a");
        }
        util_buf_puts(&b, "\r\n");
        assert_int_equal(b.len, 255);
        feed_one(&tap, &r, (tap_dir_t)d, &b);
        assert_int_equal(r.last_kind, TAP_EV_IDENT);
        assert_int_equal(strlen(tap_ident(&tap, (tap_dir_t)d)->software), 245);
        tap_free(&tap);
        rec_free(&r);

        /* 255 bytes with a bare LF: accepted */
        util_buf_reset(&b);
        util_buf_puts(&b, "SSH-2.0-");
        for (i = 0; i < 246; i++) {
            util_buf_puts(&b, "a");
        }
        util_buf_puts(&b, "\n");
        feed_one(&tap, &r, (tap_dir_t)d, &b);
        assert_int_equal(r.last_kind, TAP_EV_IDENT);
        assert_int_equal(tap_ident(&tap, (tap_dir_t)d)->has_cr, 0);
        tap_free(&tap);
        rec_free(&r);

        /* 256: refused at the 255th byte, which proves it */
        util_buf_reset(&b);
        util_buf_puts(&b, "SSH-2.0-");
        for (i = 0; i < 246; i++) {
            util_buf_puts(&b, "a");
        }
        util_buf_puts(&b, "\r\n");
        expect_error((tap_dir_t)d, &b, 255, "identification line longer than "
                     "255 bytes");
    }
    util_buf_free(&b);
}

static void
test_ident_nul(void **state)
{
    util_buf_t b = UTIL_BUF_INIT;

    (void)state;
    util_buf_append(&b, "SSH-2.0-Open\0SSH\r\n", 18);
    expect_error(TAP_DIR_S2C, &b, 13, "NUL byte in identification line at "
                 "offset 12");
    util_buf_reset(&b);
    util_buf_append(&b, "SSH-2.0-Open\0SSH\r\n", 18);
    expect_error(TAP_DIR_C2S, &b, 13, "NUL byte");
    util_buf_reset(&b);
    util_buf_append(&b, "hello\0\r\nSSH-2.0-x\r\n", 19);
    expect_error(TAP_DIR_S2C, &b, 6, "NUL byte in pre-identification line");
    util_buf_free(&b);
}

static void
test_garbage(void **state)
{
    util_buf_t b = UTIL_BUF_INIT;
    tap_t tap;
    rec_t r;
    size_t i;

    (void)state;
    /* an HTTP client: recorded, then error */
    util_buf_puts(&b, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_error(TAP_DIR_C2S, &b, 16, "not an SSH identification: "
                 "\"GET / HTTP/1.1\"");
    feed_one(&tap, &r, TAP_DIR_C2S, &b);
    assert_string_equal(r.last_line, "GET / HTTP/1.1");
    assert_null(tap_ident(&tap, TAP_DIR_C2S));
    tap_free(&tap);
    rec_free(&r);

    /* binary from a client, no LF: at most 255 bytes are read for a line */
    util_buf_reset(&b);
    for (i = 0; i < 300; i++) {
        t_byte(&b, (uint8_t)(0x80 | i));
    }
    expect_error(TAP_DIR_C2S, &b, 255, "longer than 255");

    /* control bytes in the message are escaped */
    util_buf_reset(&b);
    util_buf_append(&b, "\x16\x03\x01\x02\n", 5);
    expect_error(TAP_DIR_C2S, &b, 5, "\\x16\\x03\\x01\\x02");

    /* a server talking binary: a pre-identification line of 8192 bytes */
    util_buf_reset(&b);
    for (i = 0; i < 10000; i++) {
        t_byte(&b, (uint8_t)(0x80 | (i & 0x7f)));
    }
    expect_error(TAP_DIR_S2C, &b, TAP_MAX_PRE_IDENT_LINE, "pre-identification "
                 "line longer than 8192");

    /* 8191 bytes and LF is still a line */
    util_buf_reset(&b);
    for (i = 0; i < TAP_MAX_PRE_IDENT_LINE - 1; i++) {
        t_byte(&b, 'z');
    }
    util_buf_puts(&b, "\nSSH-2.0-x\r\n");
    feed_one(&tap, &r, TAP_DIR_S2C, &b);
    assert_int_equal(r.kinds[TAP_EV_PRE_IDENT_LINE], 1);
    assert_int_equal(r.kinds[TAP_EV_IDENT], 1);
    assert_int_equal(strlen(r.last_line), 9);
    tap_free(&tap);
    rec_free(&r);
    util_buf_free(&b);
}

static void
test_pre_ident_line_limits(void **state)
{
    util_buf_t b = UTIL_BUF_INIT;
    tap_t tap;
    rec_t r;
    unsigned count = 0;
    int trunc = 0;
    size_t i;

    (void)state;
    /* 1024 lines are allowed, the 1025th is an error */
    for (i = 0; i < TAP_MAX_PRE_IDENT_LINES; i++) {
        util_buf_printf(&b, "line %04zu of a chatty server banner\r\n", i);
    }
    util_buf_puts(&b, "one line too many\r\n");
    expect_error(TAP_DIR_S2C, &b, b.len, "more than 1024 lines");
    feed_one(&tap, &r, TAP_DIR_S2C, &b);
    assert_int_equal(r.kinds[TAP_EV_PRE_IDENT_LINE], TAP_MAX_PRE_IDENT_LINES);
    /* the record is capped, the count is not */
    assert_true(strlen(tap_pre_ident_text(&tap, &count, &trunc)) <=
                TAP_MAX_PRE_IDENT_RECORD);
    assert_int_equal(count, TAP_MAX_PRE_IDENT_LINES);
    assert_int_equal(trunc, 1);
    assert_int_equal(strncmp(tap_pre_ident_text(&tap, NULL, NULL),
                             "line 0000 of a chatty server banner\nline 0001",
                             45), 0);
    tap_free(&tap);
    rec_free(&r);
    util_buf_free(&b);
}

/* A connection whose client has not spoken has only the server's side: the
 * other direction holds nothing and reads as fresh, the identification is
 * kept in the room its line needs, and the line's buffer is not kept. */
static void
test_lazy_state_per_direction(void **state)
{
    static const char ident[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
    tap_t tap;

    (void)state;
    tap_init(&tap, NULL, NULL);
    assert_null(tap.dir[TAP_DIR_S2C]);
    assert_null(tap.dir[TAP_DIR_C2S]);
    assert_int_equal(tap_phase(&tap, TAP_DIR_C2S), TAP_PHASE_IDENT);
    tap_feed_all(&tap, TAP_DIR_S2C, (const uint8_t *)ident, sizeof ident - 1);
    assert_non_null(tap.dir[TAP_DIR_S2C]);
    assert_null(tap.dir[TAP_DIR_C2S]);
    assert_int_equal(tap_phase(&tap, TAP_DIR_S2C), TAP_PHASE_CLEARTEXT_PACKETS);
    assert_int_equal(tap_phase(&tap, TAP_DIR_C2S), TAP_PHASE_IDENT);
    assert_int_equal(tap_bytes(&tap, TAP_DIR_C2S), 0);
    assert_null(tap_ident(&tap, TAP_DIR_C2S));
    assert_null(tap_kexinit(&tap, TAP_DIR_C2S));
    assert_null(tap_error(&tap, TAP_DIR_C2S));
    assert_int_equal(tap_msg_count(&tap, TAP_DIR_S2C, TAP_MSG_KEXINIT), 0);
    assert_null(tap.dir[TAP_DIR_S2C]->msg_count); /* no packet yet */
    assert_null(tap.dir[TAP_DIR_S2C]->unit.data);
    assert_null(tap.dir[TAP_DIR_S2C]->scratch.data);
    assert_string_equal(tap_ident(&tap, TAP_DIR_S2C)->line,
                        "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
    assert_string_equal(tap_ident(&tap, TAP_DIR_S2C)->comments, "Debian-2+deb12u3");
    /* The server's whole pre-banner state, in bytes: a regression guard
     * for the idle-connection figure (README, Benchmarks). */
    assert_true(sizeof(tap_t) + sizeof(tap_dirstate_t) + sizeof(tap_ident_t) +
                2 * (sizeof ident - 3) + 4 <= 640); /* was 5,320 */
    tap_free(&tap);
    assert_null(tap.dir[TAP_DIR_S2C]);
}

static void
test_ident_versions_and_comments(void **state)
{
    static const struct {
        const char *line;
        const char *proto;
        const char *software;
        const char *comments;
        int has_comments;
        tap_phase_t phase;
    } cases[] = {
        { "SSH-1.5-OpenSSH_2.9\r\n", "1.5", "OpenSSH_2.9", "", 0,
          TAP_PHASE_UNPARSED },
        { "SSH-1.99-Cisco-1.25\r\n", "1.99", "Cisco-1.25", "", 0,
          TAP_PHASE_CLEARTEXT_PACKETS },
        { "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3 and more words\r\n", "2.0",
          "OpenSSH_9.2p1", "Debian-2+deb12u3 and more words", 1,
          TAP_PHASE_CLEARTEXT_PACKETS },
        { "SSH-2.0-dropbear_2022.83 \r\n", "2.0", "dropbear_2022.83", "", 1,
          TAP_PHASE_CLEARTEXT_PACKETS },
        { "SSH-2.0-PuTTY_Release_0.78\n", "2.0", "PuTTY_Release_0.78", "", 0,
          TAP_PHASE_CLEARTEXT_PACKETS },
        { "SSH-3.0-future\r\n", "3.0", "future", "", 0, TAP_PHASE_UNPARSED },
    };
    size_t i;

    (void)state;
    for (i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
        int d;

        for (d = 0; d < TAP_DIR__COUNT; d++) {
            util_buf_t b = UTIL_BUF_INIT;
            tap_t tap;
            rec_t r;
            const tap_ident_t *id = NULL;
            uint8_t junk[100];

            util_buf_puts(&b, cases[i].line);
            feed_one(&tap, &r, (tap_dir_t)d, &b);
            id = tap_ident(&tap, (tap_dir_t)d);
            assert_non_null(id);
            assert_string_equal(id->proto, cases[i].proto);
            assert_string_equal(id->software, cases[i].software);
            assert_string_equal(id->comments, cases[i].comments);
            assert_int_equal(id->has_comments, cases[i].has_comments);
            assert_int_equal(tap_phase(&tap, (tap_dir_t)d), cases[i].phase);
            if (cases[i].phase == TAP_PHASE_UNPARSED) {
                /* SSH-1 framing is counted, not parsed */
                memset(junk, 0xff, sizeof junk);
                r.call_events = 0;
                assert_int_equal(tap_feed(&tap, (tap_dir_t)d, junk,
                                          sizeof junk), sizeof junk);
                assert_int_equal(r.call_events, 0);
                assert_int_equal(tap_bytes(&tap, (tap_dir_t)d),
                                 b.len + sizeof junk);
            }
            tap_free(&tap);
            rec_free(&r);
            util_buf_free(&b);
        }
    }
}

static void
test_ident_1_99_then_packets(void **state)
{
    util_buf_t b = UTIL_BUF_INIT;
    tap_t tap;
    rec_t r;

    (void)state;
    util_buf_puts(&b, "SSH-1.99-OpenSSH_3.9p1\r\n");
    assert_int_equal(tap_build_disconnect(&b, 2, "bye"), 0);
    feed_one(&tap, &r, TAP_DIR_S2C, &b);
    assert_int_equal(r.last_kind, TAP_EV_DISCONNECT);
    assert_string_equal(tap_ident(&tap, TAP_DIR_S2C)->proto, "1.99");
    tap_free(&tap);
    rec_free(&r);
    util_buf_free(&b);
}

static void
test_ident_malformed(void **state)
{
    static const char *const bad[] = {
        "SSH-2.0\r\n", "SSH-\r\n", "SSH--OpenSSH\r\n", "SSH-2.0-\r\n",
        "SSH-2.0- comment only\r\n",
    };
    size_t i;

    (void)state;
    for (i = 0; i < UTIL_ARRAY_SIZE(bad); i++) {
        util_buf_t b = UTIL_BUF_INIT;

        util_buf_puts(&b, bad[i]);
        expect_error(TAP_DIR_S2C, &b, b.len, "malformed identification");
        expect_error(TAP_DIR_C2S, &b, b.len, "malformed identification");
        util_buf_free(&b);
    }
}

/* ---- DISCONNECT --------------------------------------------------------------- */

static void
test_disconnect(void **state)
{
    util_buf_t b = UTIL_BUF_INIT;
    util_buf_t p = UTIL_BUF_INIT;
    tap_t tap;
    rec_t r;
    uint32_t reason = 0;

    (void)state;
    /* as sent by a server refusing the client's algorithms */
    util_buf_puts(&b, S_IDENT);
    t_byte(&p, TAP_MSG_DISCONNECT);
    t_u32(&p, 3);
    t_string(&p, "no matching cipher found");
    t_string(&p, "en");
    t_packet_of(&b, &p);
    feed_one(&tap, &r, TAP_DIR_S2C, &b);
    assert_int_equal(r.last_kind, TAP_EV_DISCONNECT);
    assert_int_equal(r.last_reason, 3);
    assert_string_equal(r.last_description, "no matching cipher found");
    assert_string_equal(tap_disconnect(&tap, TAP_DIR_S2C, &reason),
                        "no matching cipher found");
    assert_int_equal(reason, 3);
    assert_string_equal(tap_disconnect_reason_name(reason),
                        "SSH_DISCONNECT_KEY_EXCHANGE_FAILED");
    assert_non_null(strstr(r.log[TAP_DIR_S2C].data, "lang=\"en\""));
    /* still cleartext: a peer may send more before closing */
    assert_int_equal(tap_phase(&tap, TAP_DIR_S2C),
                     TAP_PHASE_CLEARTEXT_PACKETS);
    assert_int_equal(tap_msg_count(&tap, TAP_DIR_S2C, TAP_MSG_DISCONNECT), 1);
    tap_free(&tap);
    rec_free(&r);

    /* without the language tag */
    util_buf_reset(&b);
    util_buf_reset(&p);
    util_buf_puts(&b, C_IDENT);
    t_byte(&p, TAP_MSG_DISCONNECT);
    t_u32(&p, 11);
    t_string(&p, "Bye Bye");
    t_packet_of(&b, &p);
    feed_one(&tap, &r, TAP_DIR_C2S, &b);
    assert_int_equal(r.last_kind, TAP_EV_DISCONNECT);
    assert_int_equal(r.last_reason, 11);
    assert_non_null(strstr(r.log[TAP_DIR_C2S].data,
                           "description=\"Bye Bye\" lang=\"\""));
    tap_free(&tap);
    rec_free(&r);

    /* description longer than the payload */
    util_buf_reset(&b);
    util_buf_reset(&p);
    util_buf_puts(&b, IDENT_X);
    t_byte(&p, TAP_MSG_DISCONNECT);
    t_u32(&p, 2);
    t_u32(&p, 1000);
    util_buf_append(&p, "short", 5);
    t_packet_of(&b, &p);
    expect_error(TAP_DIR_S2C, &b, b.len, "description length 1000 exceeds "
                 "the 5 bytes left");

    /* reason code cut */
    util_buf_reset(&b);
    util_buf_reset(&p);
    util_buf_puts(&b, IDENT_X);
    t_byte(&p, TAP_MSG_DISCONNECT);
    t_byte(&p, 0);
    t_byte(&p, 0);
    t_packet_of(&b, &p);
    expect_error(TAP_DIR_S2C, &b, b.len, "truncated before its reason code");

    /* description length cut */
    util_buf_reset(&b);
    util_buf_reset(&p);
    util_buf_puts(&b, IDENT_X);
    t_byte(&p, TAP_MSG_DISCONNECT);
    t_u32(&p, 2);
    t_byte(&p, 0);
    t_packet_of(&b, &p);
    expect_error(TAP_DIR_S2C, &b, b.len, "truncated before its description");

    /* a language tag that is there but does not fit */
    util_buf_reset(&b);
    util_buf_reset(&p);
    util_buf_puts(&b, IDENT_X);
    t_byte(&p, TAP_MSG_DISCONNECT);
    t_u32(&p, 2);
    t_string(&p, "x");
    t_u32(&p, 9);
    t_packet_of(&b, &p);
    expect_error(TAP_DIR_S2C, &b, b.len, "language tag is truncated");

    assert_string_equal(tap_disconnect_reason_name(0), "unknown");
    assert_string_equal(tap_disconnect_reason_name(15),
                        "SSH_DISCONNECT_ILLEGAL_USER_NAME");
    assert_string_equal(tap_disconnect_reason_name(16), "unknown");
    assert_string_equal(tap_disconnect_reason_name(0xffffffffu), "unknown");
    util_buf_free(&b);
    util_buf_free(&p);
}

/* ---- encrypted phase ------------------------------------------------------------ */

static void
test_encrypted_only_counts(void **state)
{
    util_buf_t b = UTIL_BUF_INIT;
    util_buf_t after = UTIL_BUF_INIT;
    uint8_t nk = TAP_MSG_NEWKEYS;
    tap_t tap;
    rec_t r;
    int i;

    (void)state;
    util_buf_puts(&b, IDENT_X);
    t_frame(&b, &nk, 1);
    feed_one(&tap, &r, TAP_DIR_C2S, &b);
    assert_int_equal(r.last_kind, TAP_EV_NEWKEYS);
    assert_int_equal(tap_packets(&tap, TAP_DIR_C2S), 1);
    /* what follows looks like valid packets, even a DISCONNECT, but is
     * "encrypted": no events, no packets counted */
    for (i = 0; i < 50; i++) {
        assert_int_equal(tap_build_disconnect(&after, 2, "not parsed"), 0);
    }
    r.call_events = 0;
    assert_int_equal(tap_feed(&tap, TAP_DIR_C2S, (const uint8_t *)after.data,
                              after.len), after.len);
    assert_int_equal(r.call_events, 0);
    assert_int_equal(tap_packets(&tap, TAP_DIR_C2S), 1);
    assert_int_equal(tap_bytes(&tap, TAP_DIR_C2S), b.len + after.len);
    assert_null(tap_disconnect(&tap, TAP_DIR_C2S, NULL));
    assert_int_equal(tap_pending(&tap, TAP_DIR_C2S), 0);
    tap_free(&tap);
    rec_free(&r);
    util_buf_free(&b);
    util_buf_free(&after);
}

/* ---- HASSH ------------------------------------------------------------------------ */

static void
test_hassh_known_values(void **state)
{
    tap_kexinit_t k;
    util_buf_t alg = UTIL_BUF_INIT;
    char out[33];

    (void)state;
    memset(&k, 0, sizeof k);
    memcpy(k.lists, client_lists, sizeof k.lists);
    assert_int_equal(tap_hassh(&k, 0, out, &alg), 0);
    assert_string_equal(out, CD_HASSH);
    assert_string_equal(alg.data, CD_KEX ";" CD_ENC ";" CD_MAC ";" CD_COMP);

    /* the host key and language lists and the cookie take no part */
    k.lists[TAP_KEX_HOSTKEY_ALGS] = "something-else";
    k.lists[TAP_KEX_LANG_C2S] = "fr";
    k.cookie[0] = 0x42;
    assert_int_equal(tap_hassh(&k, 0, out, NULL), 0);
    assert_string_equal(out, CD_HASSH);

    memcpy(k.lists, server_lists, sizeof k.lists);
    assert_int_equal(tap_hassh(&k, 1, out, &alg), 0);
    assert_string_equal(out, O53_HASSH_SERVER);
    assert_string_equal(alg.data, O53_KEX ";" O53_ENC ";" O53_MAC ";"
                        O53_COMP);

    /* all empty: the MD5 of ";;;" (printf '%s' ';;;' | md5sum) */
    memset(&k, 0, sizeof k);
    assert_int_equal(tap_hassh(&k, 0, out, &alg), 0);
    assert_string_equal(alg.data, ";;;");
    assert_string_equal(out, "95420f9d932ddd22833f17b96a80bedb");

    /* a small one checked by hand:
     * printf '%s' 'curve25519-sha256;aes128-ctr;hmac-sha2-256;none' | md5sum */
    k.lists[TAP_KEX_ALGS] = "curve25519-sha256";
    k.lists[TAP_KEX_ENC_C2S] = "aes128-ctr";
    k.lists[TAP_KEX_MAC_C2S] = "hmac-sha2-256";
    k.lists[TAP_KEX_COMP_C2S] = "none";
    assert_int_equal(tap_hassh(&k, 0, out, &alg), 0);
    assert_string_equal(alg.data,
                        "curve25519-sha256;aes128-ctr;hmac-sha2-256;none");
    assert_string_equal(out, "e97d07603350d1111ec2b64bf25413c9");
    /* the server variant reads the other lists, empty here */
    assert_int_equal(tap_hassh(&k, 1, out, &alg), 0);
    assert_string_equal(alg.data, "curve25519-sha256;;;");

    assert_int_equal(tap_hassh(NULL, 0, out, NULL), -1);
    assert_string_equal(out, "");
    util_buf_free(&alg);
}

/* ---- negotiation --------------------------------------------------------------- */

static void
test_negotiate(void **state)
{
    char out[64];
    char tiny[4];

    (void)state;
    /* the client's order wins (RFC 4253 7.1) */
    assert_int_equal(tap_negotiate("aes256-ctr,aes128-ctr", "aes128-ctr,"
                                   "aes256-ctr", out, sizeof out), 1);
    assert_string_equal(out, "aes256-ctr");
    assert_int_equal(tap_negotiate("chacha20-poly1305@openssh.com,aes128-ctr",
                                   "aes128-cbc,aes128-ctr", out, sizeof out),
                     1);
    assert_string_equal(out, "aes128-ctr");
    /* none in common */
    assert_int_equal(tap_negotiate("ssh-rsa,ssh-dss", "ssh-ed25519,"
                                   "rsa-sha2-256", out, sizeof out), 0);
    assert_string_equal(out, "");
    /* names match whole, never as prefixes or substrings */
    assert_int_equal(tap_negotiate("aes128", "aes128-ctr", out, sizeof out), 0);
    assert_int_equal(tap_negotiate("aes128-ctr", "xaes128-ctr,aes128-ct", out,
                                   sizeof out), 0);
    assert_int_equal(tap_negotiate("hmac-sha1", "hmac-sha1-96,hmac-sha1", out,
                                   sizeof out), 1);
    assert_string_equal(out, "hmac-sha1");
    /* empty lists and empty names never match */
    assert_int_equal(tap_negotiate("", "", out, sizeof out), 0);
    assert_int_equal(tap_negotiate("", "none", out, sizeof out), 0);
    assert_int_equal(tap_negotiate("none", "", out, sizeof out), 0);
    assert_int_equal(tap_negotiate(",,none", ",none,", out, sizeof out), 1);
    assert_string_equal(out, "none");
    assert_int_equal(tap_negotiate("a,,", ",,", out, sizeof out), 0);
    /* last element of both lists */
    assert_int_equal(tap_negotiate("x,y,zlib", "a,zlib", out, sizeof out), 1);
    assert_string_equal(out, "zlib");
    /* out may be NULL; too small is an error, not a truncated name */
    assert_int_equal(tap_negotiate("none", "none", NULL, 0), 1);
    assert_int_equal(tap_negotiate("zlib@openssh.com", "zlib@openssh.com",
                                   tiny, sizeof tiny), -1);
    assert_int_equal(tap_negotiate("abc", "abc", tiny, sizeof tiny), 1);
    assert_string_equal(tiny, "abc");
    assert_int_equal(tap_negotiate(NULL, "a", out, sizeof out), -1);
    assert_int_equal(tap_negotiate("a", NULL, out, sizeof out), -1);
}

/* ---- builders ---------------------------------------------------------------------- */

static void
test_build_packet_round_trip(void **state)
{
    size_t len;

    (void)state;
    for (len = 1; len <= 300; len++) {
        util_buf_t b = UTIL_BUF_INIT;
        util_buf_t ref = UTIL_BUF_INIT;
        util_buf_t payload = UTIL_BUF_INIT;
        tap_t tap;
        rec_t r;
        size_t i;
        size_t start;

        t_byte(&payload, (uint8_t)(50 + len % 50)); /* not 1, 20 or 21 */
        for (i = 1; i < len; i++) {
            t_byte(&payload, (uint8_t)(i * 7));
        }
        util_buf_puts(&b, IDENT_X);
        start = b.len;
        assert_int_equal(tap_build_packet(&b, (const uint8_t *)payload.data,
                                          len), 0);
        /* byte for byte what RFC 4253 6 framing with zero padding gives */
        t_frame_fill(&ref, (const uint8_t *)payload.data, len, 0, 0);
        assert_int_equal(b.len - start, ref.len);
        assert_memory_equal(b.data + start, ref.data, ref.len);
        assert_int_equal((b.len - start) % 8, 0);

        feed_one(&tap, &r, TAP_DIR_S2C, &b);
        assert_int_equal(r.last_kind, TAP_EV_PACKET);
        assert_int_equal(r.last_payload_len, len);
        assert_memory_equal(r.last_payload.data, payload.data, len);
        assert_true(r.last_padding_length >= 4 && r.last_padding_length < 12);
        tap_free(&tap);
        rec_free(&r);
        util_buf_free(&b);
        util_buf_free(&ref);
        util_buf_free(&payload);
    }
}

static void
test_build_errors_leave_out_unchanged(void **state)
{
    util_buf_t b = UTIL_BUF_INIT;
    uint8_t byte = 2;
    char *big = NULL;

    (void)state;
    util_buf_puts(&b, "keep");
    assert_int_equal(tap_build_packet(&b, &byte, 0), -1);
    assert_int_equal(tap_build_packet(&b, NULL, 5), -1);
    assert_int_equal(tap_build_packet(NULL, &byte, 1), -1);
    assert_int_equal(tap_build_kexinit(&b, NULL), -1);
    big = malloc(40000);
    assert_non_null(big);
    memset(big, 'a', 39999);
    big[39999] = '\0';
    assert_int_equal(tap_build_disconnect(&b, 2, big), -1);
    free(big);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "keep");
    util_buf_free(&b);
}

static void
test_build_kexinit_and_disconnect_round_trip(void **state)
{
    util_buf_t b = UTIL_BUF_INIT;
    util_buf_t p = UTIL_BUF_INIT;
    util_buf_t ref = UTIL_BUF_INIT;
    tap_kexinit_t k;
    tap_t tap;
    rec_t r;
    const tap_kexinit_t *got = NULL;
    size_t start;
    size_t i;

    (void)state;
    /* a server offering only what libssh cannot speak */
    memset(&k, 0, sizeof k);
    memcpy(k.cookie, server_cookie, 16);
    k.lists[TAP_KEX_ALGS] = "diffie-hellman-group1-sha1";
    k.lists[TAP_KEX_HOSTKEY_ALGS] = "ssh-dss";
    k.lists[TAP_KEX_ENC_C2S] = "arcfour";
    k.lists[TAP_KEX_ENC_S2C] = "arcfour";
    k.lists[TAP_KEX_MAC_C2S] = "hmac-md5";
    k.lists[TAP_KEX_MAC_S2C] = "hmac-md5";
    k.lists[TAP_KEX_COMP_C2S] = "none";
    k.lists[TAP_KEX_COMP_S2C] = "none";
    /* languages left NULL: sent as empty lists */
    k.first_kex_packet_follows = 5; /* sent as 1 */
    k.reserved = 0x01020304;

    util_buf_puts(&b, "SSH-2.0-OpenSSH_4.3\r\n");
    start = b.len;
    assert_int_equal(tap_build_kexinit(&b, &k), 0);
    {
        const char *lists[TAP_KEX__NLISTS] = { NULL };

        for (i = 0; i < TAP_KEX__NLISTS; i++) {
            lists[i] = k.lists[i] != NULL ? k.lists[i] : "";
        }
        t_kexinit_payload(&p, k.cookie, lists, 1, k.reserved);
        t_frame_fill(&ref, (const uint8_t *)p.data, p.len, 0, 0);
        assert_int_equal(b.len - start, ref.len);
        assert_memory_equal(b.data + start, ref.data, ref.len);
    }
    assert_int_equal(tap_build_disconnect(&b, 3, "no match"), 0);
    feed_one(&tap, &r, TAP_DIR_S2C, &b);
    got = tap_kexinit(&tap, TAP_DIR_S2C);
    assert_non_null(got);
    assert_memory_equal(got->cookie, server_cookie, 16);
    for (i = 0; i < TAP_KEX__NLISTS; i++) {
        assert_string_equal(got->lists[i], k.lists[i] ? k.lists[i] : "");
    }
    assert_int_equal(got->first_kex_packet_follows, 1);
    assert_int_equal(got->reserved, 0x01020304);
    assert_int_equal(r.last_kind, TAP_EV_DISCONNECT);
    assert_int_equal(r.last_reason, 3);
    assert_string_equal(r.last_description, "no match");
    assert_int_equal(r.kinds[TAP_EV_KEXINIT], 1);
    tap_free(&tap);
    rec_free(&r);

    /* a NULL description is an empty one */
    util_buf_reset(&b);
    util_buf_puts(&b, IDENT_X);
    assert_int_equal(tap_build_disconnect(&b, 11, NULL), 0);
    feed_one(&tap, &r, TAP_DIR_C2S, &b);
    assert_int_equal(r.last_kind, TAP_EV_DISCONNECT);
    assert_string_equal(r.last_description, "");
    tap_free(&tap);
    rec_free(&r);

    util_buf_free(&b);
    util_buf_free(&p);
    util_buf_free(&ref);
}

/* ---- API misuse and names ---------------------------------------------------------- */

static void
test_misuse_and_names(void **state)
{
    tap_t tap;
    rec_t r;
    uint8_t x = 'S';
    const uint8_t *ident = (const uint8_t *)IDENT_X;

    (void)state;
    rec_init(&r);
    tap_init(&tap, rec_cb, &r);
    assert_int_equal(tap_feed(NULL, TAP_DIR_C2S, &x, 1), 0);
    assert_int_equal(tap_feed(&tap, (tap_dir_t)2, &x, 1), 0);
    assert_int_equal(tap_feed(&tap, (tap_dir_t)-1, &x, 1), 0);
    assert_int_equal(tap_feed(&tap, TAP_DIR_C2S, NULL, 1), 0);
    assert_int_equal(tap_feed(&tap, TAP_DIR_C2S, &x, 0), 0);
    assert_int_equal(tap_bytes(&tap, TAP_DIR_C2S), 0);
    assert_int_equal(tap_bytes(&tap, (tap_dir_t)5), 0);
    assert_null(tap_ident(&tap, (tap_dir_t)5));
    assert_int_equal(tap_pending(NULL, TAP_DIR_C2S), 0);

    /* feeding from inside the callback is refused, and harmless */
    r.reenter = &tap;
    feed_loop(&tap, &r, TAP_DIR_S2C, ident, IDENT_X_LEN);
    assert_int_equal(r.reenter_result, 0);
    assert_int_equal(tap_bytes(&tap, TAP_DIR_C2S), 0);
    tap_free(&tap);
    rec_free(&r);

    /* without a callback the tap still records */
    tap_init(&tap, NULL, NULL);
    tap_feed_all(&tap, TAP_DIR_S2C, ident, IDENT_X_LEN);
    assert_string_equal(tap_ident(&tap, TAP_DIR_S2C)->software, "x");
    tap_free(&tap);

    assert_string_equal(tap_dir_name(TAP_DIR_C2S), "c2s");
    assert_string_equal(tap_dir_name(TAP_DIR_S2C), "s2c");
    assert_string_equal(tap_phase_name(TAP_PHASE_ENCRYPTED), "ENCRYPTED");
    assert_string_equal(tap_event_name(TAP_EV_KEXINIT), "KEXINIT");
    assert_string_equal(tap_kex_list_name(TAP_KEX_MAC_S2C),
                        "mac_algorithms_server_to_client");
    assert_string_equal(tap_kex_list_name(TAP_KEX__NLISTS), "?");
}

/* ---- fuzz ------------------------------------------------------------------------------ */

static void
test_fuzz_random_input(void **state)
{
    stream_t st;
    int iter;
    int seen[TAP_EV_ERROR + 1] = { 0 };
    int encrypted = 0;
    int k;

    (void)state;
    stream_build(&st);
    t_seed(0x5eed);
    for (iter = 0; iter < 2000; iter++) {
        util_buf_t in[TAP_DIR__COUNT] = { UTIL_BUF_INIT, UTIL_BUF_INIT };
        tap_t tap;
        rec_t r;
        int d;
        int mode = iter % 5;

        for (d = 0; d < TAP_DIR__COUNT; d++) {
            const util_buf_t *ref = d == TAP_DIR_S2C ? &st.s2c : &st.c2s;
            size_t n = t_range(0, 3000);
            size_t i;

            switch (mode) {
            case 0: /* pure noise */
                for (i = 0; i < n; i++) {
                    t_byte(&in[d], (uint8_t)t_rand());
                }
                break;
            case 1: /* an identification, then noise as "packets" */
                util_buf_puts(&in[d], IDENT_X);
                for (i = 0; i < n; i++) {
                    t_byte(&in[d], (uint8_t)t_rand());
                }
                break;
            case 2: { /* the real stream with a few bytes changed */
                size_t flips = t_range(1, 4);

                util_buf_append(&in[d], ref->data, ref->len);
                for (i = 0; i < flips; i++) {
                    size_t at = t_range(0, ref->len - 1);

                    in[d].data[at] = (char)t_rand();
                }
                break;
            }
            case 3: { /* well-framed packets with random contents */
                static const uint8_t types[] = { 1, 1, 20, 20, 21, 2, 31 };
                size_t npk = t_range(1, 6);
                size_t j;

                util_buf_puts(&in[d], IDENT_X);
                for (j = 0; j < npk; j++) {
                    uint8_t pl[300];
                    size_t plen = t_range(1, sizeof pl);

                    for (i = 0; i < plen; i++) {
                        pl[i] = (uint8_t)t_rand();
                    }
                    pl[0] = types[t_rand() % sizeof types];
                    if (pl[0] == TAP_MSG_DISCONNECT && t_rand() % 2) {
                        assert_int_equal(tap_build_disconnect(&in[d],
                                         t_rand(), "fuzz"), 0);
                    } else {
                        assert_int_equal(tap_build_packet(&in[d], pl, plen),
                                         0);
                    }
                }
                break;
            }
            default: { /* the real stream cut anywhere, then noise */
                size_t cut = t_range(0, ref->len);

                util_buf_append(&in[d], ref->data, cut);
                for (i = 0; i < n % 200; i++) {
                    t_byte(&in[d], (uint8_t)t_rand());
                }
                break;
            }
            }
        }

        rec_init(&r);
        tap_init(&tap, rec_cb, &r);
        /* interleave the two directions in random chunk sizes */
        {
            size_t off[2] = { 0, 0 };
            size_t maxchunk = (iter % 3 == 0) ? 4096 : 64;

            while (off[0] < in[0].len || off[1] < in[1].len) {
                d = (int)(t_rand() & 1);
                if (off[d] < in[d].len) {
                    size_t c = t_range(1, maxchunk);

                    c = c < in[d].len - off[d] ? c : in[d].len - off[d];
                    feed_loop(&tap, &r, (tap_dir_t)d,
                              (const uint8_t *)in[d].data + off[d], c);
                    off[d] += c;
                }
            }
        }
        for (d = 0; d < TAP_DIR__COUNT; d++) {
            assert_int_equal(tap_bytes(&tap, (tap_dir_t)d), in[d].len);
            /* the queries hold up whatever happened */
            (void)tap_dir_hassh(&tap, (tap_dir_t)d, NULL);
            (void)tap_error(&tap, (tap_dir_t)d);
            assert_true(tap_pending(&tap, (tap_dir_t)d) <=
                        4 + TAP_MAX_PACKET_LENGTH);
            util_buf_free(&in[d]);
            encrypted += tap_phase(&tap, (tap_dir_t)d) == TAP_PHASE_ENCRYPTED;
        }
        for (k = 0; k <= TAP_EV_ERROR; k++) {
            seen[k] += r.kinds[k];
        }
        tap_free(&tap);
        rec_free(&r);
    }
    /* The inputs reached every part of the parser, not only its first
     * checks. */
    for (k = 0; k <= TAP_EV_ERROR; k++) {
        if (seen[k] < 20) {
            fail_msg("fuzz saw only %d %s events", seen[k],
                     tap_event_name((tap_event_kind_t)k));
        }
    }
    assert_true(encrypted > 20);
    stream_free(&st);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_one_chunk),
        cmocka_unit_test(test_stream_byte_at_a_time),
        cmocka_unit_test(test_stream_split_everywhere),
        cmocka_unit_test(test_stream_random_chunks),
        cmocka_unit_test(test_truncated_every_prefix),
        cmocka_unit_test(test_truncated_in_each_phase),
        cmocka_unit_test(test_feed_stops_at_each_event),
        cmocka_unit_test(test_relay_drops_kexinit_with_pending),
        cmocka_unit_test(test_packet_length_too_large),
        cmocka_unit_test(test_packet_length_largest_accepted),
        cmocka_unit_test(test_packet_length_too_small),
        cmocka_unit_test(test_padding_invalid),
        cmocka_unit_test(test_kexinit_namelist_beyond_payload),
        cmocka_unit_test(test_kexinit_truncated_and_nul),
        cmocka_unit_test(test_ident_too_long),
        cmocka_unit_test(test_ident_nul),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_pre_ident_line_limits),
        cmocka_unit_test(test_ident_versions_and_comments),
        cmocka_unit_test(test_lazy_state_per_direction),
        cmocka_unit_test(test_ident_1_99_then_packets),
        cmocka_unit_test(test_ident_malformed),
        cmocka_unit_test(test_disconnect),
        cmocka_unit_test(test_encrypted_only_counts),
        cmocka_unit_test(test_hassh_known_values),
        cmocka_unit_test(test_negotiate),
        cmocka_unit_test(test_build_packet_round_trip),
        cmocka_unit_test(test_build_errors_leave_out_unchanged),
        cmocka_unit_test(test_build_kexinit_and_disconnect_round_trip),
        cmocka_unit_test(test_misuse_and_names),
        cmocka_unit_test(test_fuzz_random_input),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
