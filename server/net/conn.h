/*
 * conn: one client connection and its life.
 *
 *   client TCP (uv_tcp_t) <-> relay <-> socketpair <-> libssh session
 *                               |                      (sshd, uv_poll_t)
 *                              wire (tap + faults, as the relay's filter)
 *
 * conn owns the three parts and is the only one that writes its own
 * fields: the relay, the wire and sshd each get an operations table from
 * it and ask through it (send, hang up, close, time) rather than reaching
 * into the connection. What conn needs from whoever runs it (the loop, the
 * profile, the log, libssh's bind, counters) comes in a conn_env_t, so conn
 * does not know the server.
 *
 * Until the client's first byte a connection is the socket, this record
 * and its timer: conn sends our identification itself (through the wire,
 * as libssh would word it) and creates the socketpair and the libssh
 * session only when the client speaks; libssh's own identification, which
 * the client already has, is then dropped.
 *
 * The state is explicit and advanced only by conn_set_state():
 *
 *   ACCEPTED -> KEX -> AUTH -> OPEN
 *        \________\______\______\__> CLOSING
 *
 * Closing is asked for with conn_close(), from anywhere, including from
 * inside libssh callbacks; the teardown itself runs once libssh has
 * returned (conn.c), and the memory is freed in the last close callback.
 */
#ifndef SSHMOCK_CONN_H
#define SSHMOCK_CONN_H

#include <libssh/libssh.h>
#include <libssh/server.h>
#include <stdint.h>
#include <uv.h>

#include "base/log.h"
#include "net/relay.h"
#include "profile/profile.h"
#include "ssh/auth.h"
#include "ssh/channel.h"
#include "ssh/sess.h"
#include "ssh/sshd.h"
#include "wire/wire.h"

typedef enum {
    CONN_ACCEPTED,
    CONN_KEX,
    CONN_AUTH,
    CONN_OPEN,
    CONN_CLOSING
} conn_state_t;

/* How the client side ends: after libssh's last words, or cut short the
 * way a failing box or middlebox cuts it. */
typedef enum {
    CONN_CLOSE_GRACEFUL, /* forward what libssh still says, then FIN */
    CONN_CLOSE_FIN,      /* FIN now, after what was already queued */
    CONN_CLOSE_RST,      /* RST now */
    CONN_CLOSE_EXIT      /* close() now, unread bytes unread: the kernel's choice */
} conn_close_mode_t;

typedef enum {
    CONN_BY_CLIENT,
    CONN_BY_SERVER
} conn_closer_t;

/* A connection's timers: the wire's, by purpose, then its own. */
enum {
    CONN_TIMER_GRACE = WIRE_TIMER__COUNT, /* LoginGraceTime */
    CONN_TIMER_LINGER,                    /* bounds how long a closing connection flushes */
    CONN_TIMER_AUTH_DELAY,                /* a failed authentication's answer is due */
    CONN_TIMER_DROP,                      /* a MaxStartups drop stops waiting for bytes */
    CONN_TIMER__COUNT
};

/* Kept by the owner, counted by conn. Atomic: with `serve --workers N`
 * every worker's connections count in the same MaxStartups total and take
 * ids from the same sequence. */
typedef struct conn_counts_s {
    _Atomic uint64_t next_id; /* the last id given */
    _Atomic size_t unauth;    /* not yet OPEN or CLOSING: what MaxStartups counts */
} conn_counts_t;

struct conn_s;

/* What a connection gets once its client has spoken: the socketpair to
 * libssh, the libssh session and what auth and channels keep. Allocated
 * then, not at accept, so that a connection that has sent nothing (a
 * scanner, a stalled client, one of 100,000 idle sockets) costs only its
 * conn_t: a socket, a timer and the wire's small state. */
typedef struct conn_ssh_s {
    struct conn_s *conn;
    uv_pipe_t pair;          /* our end of the socketpair */
    sshd_t sshd;             /* the libssh session */
    sess_t sess;             /* what auth and channels see of this connection */
    auth_state_t auth;
    channel_set_t channels;
} conn_ssh_t;

/* What a connection needs from whoever runs it; outlives every connection. */
typedef struct conn_env_s {
    uv_loop_t *loop;
    const profile_t *profile;
    log_t *log;
    ssh_bind bind;           /* algorithms, banner and keys, applied to each session */
    const hostkey_set_t *hostkeys; /* the bind's keys, in HostKey order (hostkeys-00) */
    struct auth_keyring_s *keyrings; /* per account: its authorized keys */
    int log_passwords;
    uint64_t *rng;           /* MaxStartups draws; seeded, so runs replay */
    uv_mutex_t *draw_lock;   /* guards rng when workers share it; NULL: one loop */
    conn_counts_t *counts;
    /* The connection's memory is about to go (it is still readable). */
    void (*gone)(void *owner, struct conn_s *c);
    void *owner;
} conn_env_t;

typedef struct conn_s {
    /* Named srv for auth.c and channel.c, which still read
     * c->srv->profile, c->srv->keyrings and c->srv->log_passwords. */
    const conn_env_t *srv;
    uint64_t id;
    conn_state_t state;
    char peer[56];           /* "ADDR:PORT" of the client, "[v6]:PORT" at most 54 */

    uv_tcp_t tcp;            /* the client */
    uv_timer_t timer;        /* armed for the earliest of due[] */
    uint64_t due[CONN_TIMER__COUNT]; /* loop time each timer is due; 0: off */
    int handles;             /* initialised handles not yet closed */

    relay_t relay;
    wire_t wire;             /* tap + fault engine: the relay's filter */
    conn_ssh_t *ssh;         /* NULL until the client's first byte */
    ssh_session session;     /* sshd's, for auth.c and channel.c */

    unsigned tcp_eof : 1;          /* the client closed or failed */
    unsigned pair_eof : 1;         /* libssh closed its end */
    unsigned close_requested : 1;
    unsigned finishing : 1;        /* the client side's FIN or RST is under way */
    unsigned maxstartups_drop : 1; /* past MaxStartups: refused at accept */
    unsigned send_disconnect : 1;  /* tell the client why, with SSH_MSG_DISCONNECT */
    unsigned unauth : 1;           /* counted in counts->unauth */
    unsigned pair_open : 1;        /* the socketpair and libssh session were made */
    unsigned char ident_skip;      /* bytes of libssh's identification still to drop */
    conn_close_mode_t close_mode;
    conn_closer_t closed_by;
    char *close_reason;      /* set by the first conn_close(); freed with the connection */

    /* The owner's list; conn never touches them. */
    struct conn_s *prev;
    struct conn_s *next;
} conn_t;

const char *conn_state_name(conn_state_t st);

/* Accepts a pending connection from listener and starts it. Returns the
 * connection (which may already be closing), or NULL when memory is short
 * (the pending connection stays in the backlog). */
conn_t *conn_accept(const conn_env_t *env, uv_stream_t *listener);

/* The one place the state changes. */
void conn_set_state(conn_t *c, conn_state_t st);

/* Asks for the connection to end. The first reason given wins. */
void conn_close(conn_t *c, conn_closer_t by, int send_disconnect, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Runs the teardown if one was asked for and libssh is not on the stack. */
void conn_maybe_teardown(conn_t *c);

/* Shorthand for logging with this connection's id. */
#define CONN_LOG(c, event, ...) log_event((c)->srv->log, (c)->id, (event), __VA_ARGS__)

#endif /* SSHMOCK_CONN_H */
