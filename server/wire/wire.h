/*
 * wire: what happens to the bytes between the client and libssh. Every
 * chunk of either direction is fed to the tap (tap.h), which reports the
 * protocol units of the cleartext phase; the fault engine (fault.h) acts
 * exactly at the boundaries of those units; the event log gets the
 * client's identification, both KEXINITs with their HASSH, and, when the
 * two offers have nothing in common, a diagnosis with the fix on either
 * side.
 *
 * The server's KEXINIT is the profile's exact offer (offer.h): libssh's is
 * held until the client's KEXINIT is in (WIRE_CLIENT_WAIT_MS at most),
 * then either goes out untouched (the exchange can run), or is replaced by
 * the exact one (the negotiation fails as against the real server), or the
 * exact one is followed by a DISCONNECT saying that sshmock cannot play
 * the algorithm the client would pick.
 *
 * The wire does no I/O and knows nothing of connections or sockets: its
 * owner feeds it chunks (wire_on_data) and gives it a table of operations
 * (wire_ops_t) to send bytes on, to end the connection, to keep timers and
 * to learn how many bytes the wire holds. The server's bytes leave through
 * one function only (wire.c: wire__emit), so holding them (delay,
 * throttle), dropping them (stall, close) and corrupting them happen in one
 * place.
 *
 * Timers are asked for by purpose: each purpose has its own deadline, so a
 * wait for the client never replaces a delay or a throttle tick. When one
 * is due the owner calls wire_on_timer(w, purpose).
 */
#ifndef SSHMOCK_WIRE_H
#define SSHMOCK_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "base/log.h"
#include "base/util.h"
#include "profile/profile.h"
#include "wire/fault.h"
#include "wire/tap.h"

#define WIRE_MAX_RULES FAULT_MAX_RULES

/* How long an accept-stage reset, a server-ident rule or a hang-up waits at
 * most for the client's first bytes, identification or answer (see
 * wire.c). Real clients send theirs at once; under load (eight clients
 * starting on two cores) that took over 200 ms. The cap only matters for a
 * client that never sends one. */
#define WIRE_CLIENT_WAIT_MS 2000

/* Throttled bytes leave in ticks of this length: short enough to look like
 * a steady rate to a client, long enough not to spin the loop. */
#define WIRE_THROTTLE_TICK_MS 50

typedef enum {
    WIRE_TIMER_HANGUP,   /* a hang-up waits for the client to answer our identification */
    WIRE_TIMER_IDENT,    /* server-ident rules wait for the client's identification */
    WIRE_TIMER_RESET,    /* an accept reset waits for the client's first bytes */
    WIRE_TIMER_STALL,    /* a bounded stall ends */
    WIRE_TIMER_THROTTLE, /* the next throttle tick */
    WIRE_TIMER_DELAY,    /* a delay ends */
    WIRE_TIMER_OFFER,    /* libssh's KEXINIT waits for the client's */
    WIRE_TIMER__COUNT
} wire_timer_t;

/* What becomes of libssh's first KEXINIT (wire.c: exact offers). */
typedef enum {
    WIRE_OFFER_COLLECT, /* libssh's bytes after its identification are held */
    WIRE_OFFER_WAIT,    /* its KEXINIT is whole and waits for the client's */
    WIRE_OFFER_DONE     /* decided (or not played: HostKey none) */
} wire_offer_state_t;

typedef enum {
    WIRE_HANGUP_GRACEFUL, /* what libssh still says reaches the client, then FIN */
    WIRE_HANGUP_FIN,      /* FIN after what is already queued, nothing more */
    WIRE_HANGUP_RST       /* RST now */
} wire_hangup_t;

typedef enum {
    WIRE_C2S, /* client -> libssh */
    WIRE_S2C  /* libssh -> client */
} wire_dir_t;

typedef struct wire_ops_s {
    /* Bytes for the client, or for libssh; the callee owns buf. */
    void (*to_client)(void *ud, char *buf, size_t len);
    void (*to_server)(void *ud, char *buf, size_t len);
    /* The server ends the connection as a failing box does: nothing more
     * from libssh reaches the client (the wire has stopped passing it),
     * then FIN or RST as mode says. */
    void (*hang_up)(void *ud, wire_hangup_t mode, const char *reason);
    /* The server ends the connection the ordinary way, libssh saying
     * SSH_MSG_DISCONNECT first when disconnect is set. */
    void (*close)(void *ud, int disconnect, const char *reason);
    /* Whether the connection is already ending (no rule runs then). */
    int (*closing)(void *ud);
    /* The wire holds n bytes for the client (delay, throttle): they count
     * toward the relay's backpressure. */
    void (*held)(void *ud, size_t n);
    /* A stall began: a stalled box has no LoginGraceTime. */
    void (*stalled)(void *ud);
    /* wire_on_timer(w, t) in ms milliseconds; replaces only t's deadline. */
    void (*timer_start)(void *ud, wire_timer_t t, uint64_t ms);
    void (*timer_stop)(void *ud, wire_timer_t t);
} wire_ops_t;

typedef struct wire_s {
    const wire_ops_t *ops;
    void *ud;
    const profile_t *profile;
    log_t *log;
    uint64_t id;          /* the connection's, for the log */
    tap_t tap;
    uint8_t fires[WIRE_MAX_RULES]; /* decided at accept, per profile rule */
    unsigned cut : 1;               /* the server's bytes are dropped from now on */
    unsigned drop_c2s : 1;          /* the client's bytes are dropped from now on */
    unsigned delaying : 1;          /* a delay holds the server's bytes */
    unsigned ident_rewrite : 1;     /* hold the server's identification to replace it */
    unsigned c2s_wait_kexinit : 1;  /* the client's bytes after its identification wait ... */
    unsigned ev_pending : 1;        /* a tap event to act on once its unit is out */
    unsigned watermark_set : 1;
    unsigned diag_done : 1;
    unsigned reset_pending : 1;     /* an accept-stage reset waits for the client's first bytes */
    unsigned client_kexinit_ran : 1; /* the client-kexinit rules ran before our KEXINIT */
    unsigned exit_pending : 1;      /* ... for an exit: FIN if none come (nothing unread) */
    unsigned ident_stage_pending : 1; /* server-ident rules wait for the client's identification */
    unsigned ident_out : 1;         /* the server's identification reached the client */
    unsigned client_answered : 1;   /* the client sent bytes after its identification */
    unsigned hangup_pending : 1;    /* a hang-up waits for the client's answer */
    unsigned offer_state : 2;       /* WIRE_OFFER_*: libssh's KEXINIT, held (wire.c) */
    unsigned offer_took : 1;        /* the wire answered the client's KEXINIT itself */
    unsigned compact : 1;           /* wire_compact() was asked: keep the tap compact */
    wire_hangup_t hangup_mode;
    util_buf_t held;      /* the server's bytes held by delay or throttle */
    util_buf_t c2s_held;  /* ... here until the server's KEXINIT is out */
    util_buf_t ident_held;
    util_buf_t kexinit_held; /* libssh's KEXINIT, until the client's is known */
    uint32_t corrupt_left;
    uint32_t throttle_bps;
    tap_event_kind_t ev_kind;
    tap_dir_t ev_dir;
    uint8_t deferred[FAULT_STAGE__COUNT]; /* stages reached inside libssh */
    uint64_t watermark;   /* s2c byte count at which the deferred stages run */
    char hangup_reason[128];
} wire_t;

/* Called once per connection, at accept: decides which rules fire for
 * connection id, given how many unauthenticated connections there are
 * besides it (for "when maxstartups"), drawing from *rng. */
void wire_init(wire_t *w, const profile_t *p, log_t *log, uint64_t id, size_t unauth,
               uint64_t *rng, const wire_ops_t *ops, void *ud);
void wire_free(wire_t *w);

/* Runs the rules of a stage. For stages reached on the wire it is called
 * by wire itself; the owner calls it for accept. */
void wire_stage(wire_t *w, fault_stage_t stage);

/* A stage reached inside libssh (auth success, channel open): it runs once
 * the client has been sent everything libssh wrote before it. */
void wire_stage_after_output(wire_t *w, fault_stage_t stage);

/* After each libssh run: pending is how many bytes libssh has written that
 * the wire has not been fed yet; the deferred stages run right after them. */
void wire_after_libssh(wire_t *w, size_t pending);

/* A chunk read in dir (ownership of buf passes). */
void wire_on_data(wire_t *w, wire_dir_t dir, char *buf, size_t len);

/* The timer of this purpose is due. */
void wire_on_timer(wire_t *w, wire_timer_t t);

/* Nothing more from libssh reaches the client (the owner hangs up). */
void wire_cut(wire_t *w);

/* The key exchange is over (libssh has logged what was agreed): the tap's
 * cleartext records and the wire's empty buffers are released. No rule
 * needs them any more: after NEWKEYS rules act on byte counts and stages. */
void wire_compact(wire_t *w);

/* Whether both NEWKEYS have passed the tap, the server's and then the
 * client's: on the wire the key exchange is done and keys are in use both
 * ways, whatever libssh has read of it yet. */
int wire_keys_in_use(const wire_t *w);

/* The KEXINIT seen in dir, or NULL. */
const tap_kexinit_t *wire_kexinit(const wire_t *w, tap_dir_t dir);

/* How many bytes the wire holds for the client. */
size_t wire_held(const wire_t *w);

#endif /* SSHMOCK_WIRE_H */
