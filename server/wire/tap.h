/*
 * tap: an SSH-aware inspector of the bytes a connection relays.
 *
 * The relay between a client's TCP socket and the server's libssh session
 * feeds the tap every byte of each direction, in whatever chunks the socket
 * delivered them. The tap does no I/O and keeps no pointer to the fed data;
 * it parses, per direction:
 *
 *   1. the identification phase (RFC 4253 4.2): lines ending in LF (CR
 *      optional). The server may send other text lines before its "SSH-"
 *      line; the client may not.
 *   2. the cleartext binary packet protocol (RFC 4253 6): packet_length,
 *      padding_length, payload, padding, and no MAC. KEXINIT, NEWKEYS and
 *      DISCONNECT are decoded; every other message is reported by type.
 *   3. after that direction's NEWKEYS, nothing: the bytes are encrypted and
 *      their packet boundaries cannot be known, so they are only counted.
 *
 * Nothing the peer sends is trusted: lengths are checked against the limits
 * below before anything is buffered, and a violation moves the direction to
 * TAP_PHASE_ERROR with a message (the bytes are still counted). Memory per
 * direction is bounded by the largest unit it buffers (TAP_MAX_PACKET_LENGTH
 * + 4 bytes) plus what it keeps for the owner (the identification, the last
 * KEXINIT and DISCONNECT, a capped record of the pre-identification text).
 *
 * Where events happen: tap_feed() consumes a chunk only up to and including
 * the last byte of the next event, reports that event through the callback
 * before returning, and returns the number of bytes it consumed. The owner
 * calls it in a loop and can act exactly between two units:
 *
 *     while (len > 0) {
 *         size_t n = tap_feed(&c->tap, TAP_DIR_S2C, p, len);
 *         forward(p, n);          // ends exactly where the event's unit ends
 *         p += n;
 *         len -= n;
 *         if (c->fault_pending) { // set by the callback
 *             ... act before the next unit (e.g. close, inject, hold) ...
 *         }
 *     }
 *
 * An owner that must act *before* a unit reaches the peer (drop or replace
 * the client's KEXINIT) holds back the last tap_pending() bytes of what it
 * fed: they are the start of a unit that is not complete yet. When the
 * event fires, the unit is exactly those held bytes plus the n just
 * consumed (ev->raw has a copy of all of it), so the owner can forward,
 * drop or rewrite it whole.
 *
 * Limits: SSH-1 framing is not parsed (a "1.5" identification makes the
 * direction TAP_PHASE_UNPARSED); a server that announces "1.99" is assumed
 * to speak SSH-2; compression is irrelevant (it starts after NEWKEYS).
 */
#ifndef SSHMOCK_TAP_H
#define SSHMOCK_TAP_H

#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

/* RFC 4253 6.1: implementations must accept packets of 35000 bytes in
 * total; the cleartext phase only carries KEXINIT and key exchange
 * messages, which are far smaller, so anything larger is an error here. */
/* RFC 4253 6: padding is 4..255 bytes and the packet without MAC is a
 * multiple of the cipher block size, or of 8 before any cipher. */
#define TAP_MIN_PADDING 4u
#define TAP_CLEAR_BLOCK 8u
#define TAP_MAX_PACKET_LENGTH 35000u
/* RFC 4253 4.2: the identification line is at most 255 bytes with CR LF. */
#define TAP_MAX_IDENT_LINE 255u
/* The RFC sets no limit on the server's lines before its identification;
 * these bound what a hostile or broken server can make us buffer. */
#define TAP_MAX_PRE_IDENT_LINE 8192u
#define TAP_MAX_PRE_IDENT_LINES 1024u
/* How much of that text is kept for tap_pre_ident_text(). */
#define TAP_MAX_PRE_IDENT_RECORD 8192u

#define TAP_MSG_DISCONNECT 1
#define TAP_MSG_KEXINIT 20
#define TAP_MSG_NEWKEYS 21

typedef enum {
    TAP_DIR_C2S = 0, /* client -> server */
    TAP_DIR_S2C = 1, /* server -> client */
    TAP_DIR__COUNT
} tap_dir_t;

typedef enum {
    TAP_PHASE_IDENT,             /* reading text lines up to "SSH-..." */
    TAP_PHASE_CLEARTEXT_PACKETS, /* framing parsed, packets reported */
    TAP_PHASE_ENCRYPTED,         /* after NEWKEYS: bytes counted only */
    TAP_PHASE_UNPARSED,          /* not SSH-2 (e.g. "SSH-1.5"): counted only */
    TAP_PHASE_ERROR              /* protocol violation: counted only */
} tap_phase_t;

typedef enum {
    TAP_EV_PRE_IDENT_LINE, /* s2c text line before the identification */
    TAP_EV_IDENT,          /* identification line parsed */
    TAP_EV_KEXINIT,        /* SSH_MSG_KEXINIT parsed */
    TAP_EV_NEWKEYS,        /* SSH_MSG_NEWKEYS: the direction is now encrypted */
    TAP_EV_DISCONNECT,     /* SSH_MSG_DISCONNECT parsed */
    TAP_EV_PACKET,         /* any other cleartext packet */
    TAP_EV_ERROR           /* protocol violation; the direction stops parsing */
} tap_event_kind_t;

/* The ten name-lists of a KEXINIT, in wire order. */
typedef enum {
    TAP_KEX_ALGS,
    TAP_KEX_HOSTKEY_ALGS,
    TAP_KEX_ENC_C2S,
    TAP_KEX_ENC_S2C,
    TAP_KEX_MAC_C2S,
    TAP_KEX_MAC_S2C,
    TAP_KEX_COMP_C2S,
    TAP_KEX_COMP_S2C,
    TAP_KEX_LANG_C2S,
    TAP_KEX_LANG_S2C,
    TAP_KEX__NLISTS
} tap_kex_list_t;

/* The strings point into store, sized to the line: an identification is
 * kept for the connection's life, on every connection, so it costs what
 * the line needs, not four times the longest line. Not to be copied. */
typedef struct tap_ident_s {
    const char *line;     /* without CR LF */
    const char *proto;    /* "2.0", "1.99", "1.5" */
    const char *software; /* up to the first space */
    const char *comments; /* after the first space, or "" */
    int has_comments; /* a space followed softwareversion */
    int has_cr;       /* ended with CR LF, as the RFC says, not LF alone */
    char store[];
} tap_ident_t;

/* A KEXINIT as a view: the lists are NUL-terminated, exactly as sent
 * (comma-separated). In what the tap reports they point into storage the
 * tap owns; to build one, point them anywhere (NULL is sent as ""). */
typedef struct tap_kexinit_s {
    uint8_t cookie[16];
    const char *lists[TAP_KEX__NLISTS];
    int first_kex_packet_follows; /* 0 or 1 */
    uint32_t reserved;
} tap_kexinit_t;

typedef struct tap_event_s {
    tap_event_kind_t kind;
    /* Stream offsets in this direction: the unit (line or packet) that made
     * the event occupies [offset, end). end is always the stream position
     * right after the bytes tap_feed() consumed in this call. For an error
     * the unit is what was read of it, up to the byte that proved it bad. */
    uint64_t offset;
    uint64_t end;
    const uint8_t *raw; /* the unit's bytes, end - offset of them */
    size_t raw_len;

    /* PRE_IDENT_LINE, IDENT, and an ERROR about a whole line: the line
     * without CR LF (NUL-terminated). */
    const char *line;
    size_t line_len;
    const tap_ident_t *ident; /* IDENT */

    /* Packets (KEXINIT, NEWKEYS, DISCONNECT, PACKET, and an ERROR about a
     * packet's contents). msg_type is -1 when no packet was read whole. */
    int msg_type;
    uint32_t packet_length;
    uint8_t padding_length;
    const uint8_t *payload;
    size_t payload_len;

    /* KEXINIT: the parsed lists and the HASSH of this side ("hassh" for the
     * client, "hasshServer" for the server; "" if MD5 is unavailable). */
    const tap_kexinit_t *kexinit;
    const char *hassh;
    const char *hassh_algorithms;

    /* DISCONNECT */
    uint32_t reason;
    const char *description; /* NUL-terminated copy; may hold NULs, see len */
    size_t description_len;
    const char *language;    /* "" when the peer omitted the tag */

    const char *message; /* ERROR: what was wrong, for people */
} tap_event_t;

typedef struct tap_s tap_t;

/* Called from inside tap_feed(), before it returns. Everything the event
 * points to is valid only during the call. The tap's state already
 * includes the event (phase, counters). The callback may use the query
 * functions below but must not feed or free this tap. */
typedef void (*tap_event_cb)(tap_t *tap, tap_dir_t dir, const tap_event_t *ev,
                             void *userdata);

/* The longest error message kept. */
#define TAP_MAX_ERROR 256u

/* One direction's state; read it through the functions below. Made at the
 * first byte fed in that direction, and the larger parts (counts,
 * identification, error text) when they are first needed: a connection
 * whose client has not spoken holds only the server's side. */
typedef struct tap_dirstate_s {
    tap_phase_t phase;
    uint64_t bytes;      /* every byte fed, in every phase */
    uint64_t packets;    /* well-framed cleartext packets */
    uint32_t *msg_count; /* 256 of them, from the first packet; NULL before */
    util_buf_t unit;     /* the line or packet being read */
    uint32_t packet_length; /* of the packet in unit, once 4 bytes are in */
    util_buf_t scratch;  /* NUL-terminated line handed to the callback */

    unsigned pre_ident_lines;
    util_buf_t pre_ident;      /* lines joined by '\n', capped */
    int pre_ident_truncated;

    tap_ident_t *ident;  /* NULL until the identification was parsed */

    int has_kexinit;
    tap_kexinit_t kexinit;
    char *kexinit_store;
    char hassh[33];
    util_buf_t hassh_algorithms;

    int has_disconnect;
    uint32_t disconnect_reason;
    char *disconnect_description;
    size_t disconnect_description_len;
    char *disconnect_language;

    char *error;         /* TAP_PHASE_ERROR: what was wrong */
} tap_dirstate_t;

/* The caller allocates a tap_t (typically inside its connection). */
struct tap_s {
    tap_dirstate_t *dir[TAP_DIR__COUNT]; /* NULL until fed in that direction */
    tap_event_cb cb;
    void *userdata;
    int in_callback; /* guards against feeding from inside the callback */
};

/* cb may be NULL (the tap then only records). Cannot fail. */
void
tap_init(tap_t *tap, tap_event_cb cb, void *userdata);

/* Frees what the tap allocated; not the tap_t itself. */
void
tap_free(tap_t *tap);

/* Frees what only the cleartext phase needed in each direction that is
 * encrypted now (its KEXINIT and HASSH, its message counts, its buffers):
 * after the key exchange a connection keeps only byte counts, phases and
 * identifications. tap_kexinit() and tap_msg_count() then report nothing
 * for those directions. */
void
tap_compact(tap_t *tap);

/* Feeds bytes of one direction. Consumes up to and including the last byte
 * of the next event (reported before this returns), or all of data when no
 * event completes in it. Returns how many bytes it consumed: always at
 * least 1 when len > 0, so a loop over a chunk always ends. Returns 0 only
 * for len == 0 or misuse (NULL tap, bad dir, NULL data, or a call from
 * inside this tap's callback). At most one event is reported per call. */
size_t
tap_feed(tap_t *tap, tap_dir_t dir, const uint8_t *data, size_t len);

/* Feeds a whole chunk (tap_feed() in a loop); for owners that only watch. */
void
tap_feed_all(tap_t *tap, tap_dir_t dir, const uint8_t *data, size_t len);

/* Bytes already consumed of a unit that has not completed yet (0 at a unit
 * boundary and in the phases that only count). */
size_t
tap_pending(const tap_t *tap, tap_dir_t dir);

tap_phase_t
tap_phase(const tap_t *tap, tap_dir_t dir);

uint64_t
tap_bytes(const tap_t *tap, tap_dir_t dir);

uint64_t
tap_packets(const tap_t *tap, tap_dir_t dir);

/* How many cleartext packets of this message type were seen. */
uint32_t
tap_msg_count(const tap_t *tap, tap_dir_t dir, uint8_t msg_type);

/* NULL until the identification was parsed. */
const tap_ident_t *
tap_ident(const tap_t *tap, tap_dir_t dir);

/* The s2c lines before the identification, joined by '\n' ("" if none);
 * *count (may be NULL) gets how many there were, *truncated whether the
 * record stopped at TAP_MAX_PRE_IDENT_RECORD bytes. */
const char *
tap_pre_ident_text(const tap_t *tap, unsigned *count, int *truncated);

/* The last KEXINIT seen in this direction, or NULL. */
const tap_kexinit_t *
tap_kexinit(const tap_t *tap, tap_dir_t dir);

/* The HASSH of that KEXINIT (c2s: hassh, s2c: hasshServer) and, when
 * algorithms is not NULL, its pre-hash string. NULL until a KEXINIT. */
const char *
tap_dir_hassh(const tap_t *tap, tap_dir_t dir, const char **algorithms);

/* The last DISCONNECT: returns its description (NULL if none) and puts
 * its reason code in *reason (may be NULL). */
const char *
tap_disconnect(const tap_t *tap, tap_dir_t dir, uint32_t *reason);

/* The error message, or NULL when the direction is not in error. */
const char *
tap_error(const tap_t *tap, tap_dir_t dir);

/* Names for logs: "c2s", "IDENT", "KEXINIT", "kex_algorithms",
 * "SSH_DISCONNECT_PROTOCOL_ERROR" ("?" / "unknown" out of range). */
const char *
tap_dir_name(tap_dir_t dir);

const char *
tap_phase_name(tap_phase_t phase);

const char *
tap_event_name(tap_event_kind_t kind);

const char *
tap_kex_list_name(tap_kex_list_t list);

const char *
tap_disconnect_reason_name(uint32_t reason);

/* HASSH (salesforce/hassh) of a KEXINIT: the MD5, in lowercase hex, of
 * "kex;enc;mac;comp" with the client-to-server lists (server == 0, the
 * "hassh") or the server-to-client ones (server != 0, "hasshServer").
 * algorithms (may be NULL) is reset and gets that string. Returns 0, or -1
 * (out = "") when MD5 is unavailable (e.g. a FIPS-only provider) or memory
 * runs out. */
int
tap_hassh(const tap_kexinit_t *k, int server, char out[33],
          util_buf_t *algorithms);

/* RFC 4253 7.1: the first algorithm of the client's list that the server's
 * list also has. Returns 1 and copies it to out (out may be NULL), 0 when
 * there is none, -1 on NULL lists or when out is too small. */
int
tap_negotiate(const char *client_list, const char *server_list, char *out,
              size_t outlen);

/* Builders for the fault engine. Each appends one cleartext packet to out
 * (padding to a multiple of 8 with at least 4 bytes of zero padding: no
 * peer checks its value, and zeros keep the output reproducible). They
 * return 0, or -1 with out unchanged (payload too large, no memory). */
int
tap_build_packet(util_buf_t *out, const uint8_t *payload, size_t len);

/* SSH_MSG_DISCONNECT with an empty language tag; description may be NULL. */
int
tap_build_disconnect(util_buf_t *out, uint32_t reason, const char *description);

int
tap_build_kexinit(util_buf_t *out, const tap_kexinit_t *k);

#endif /* SSHMOCK_TAP_H */
