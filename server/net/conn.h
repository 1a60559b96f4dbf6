/*
 * conn: one client connection and its life.
 *
 *   client TCP (uv_tcp_t) <-> relay <-> socketpair <-> libssh session
 *                                                      (uv_poll_t on its end)
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
#include <stdint.h>
#include <uv.h>

#include "ssh/auth.h"
#include "ssh/channel.h"
#include "ssh/sess.h"
#include "net/server.h"
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
    CONN_CLOSE_RST       /* RST now */
} conn_close_mode_t;

typedef enum {
    CONN_BY_CLIENT,
    CONN_BY_SERVER
} conn_closer_t;

typedef struct conn_s {
    server_t *srv;
    uint64_t id;
    char idstr[24];          /* id as text, for log calls */
    conn_state_t state;
    char peer[80];           /* "ADDR:PORT" of the client */

    uv_tcp_t tcp;            /* the client */
    uv_pipe_t pair;          /* our end of the socketpair */
    uv_poll_t poll;          /* libssh's end; only libssh reads or writes it */
    uv_timer_t grace;        /* LoginGraceTime */
    uv_timer_t linger;       /* bounds how long a closing connection flushes */
    int handles;             /* initialised handles not yet closed */
    int poll_events;         /* events uv_poll is armed for (0: stopped) */
    int ssh_fd;

    ssh_session session;
    ssh_event event;         /* after key exchange */
    int in_libssh;           /* inside a libssh call: teardown must wait */

    int tcp_eof;             /* the client closed or failed */
    int pair_eof;            /* libssh closed its end */
    int tcp_read_paused;     /* backpressure: the pair is not draining */
    int pair_read_paused;    /* backpressure: the client is not draining */

    int close_requested;
    conn_close_mode_t close_mode;
    int finishing;           /* the client side's FIN or RST is under way */
    int maxstartups_drop;    /* past MaxStartups: refused at accept */
    conn_closer_t closed_by;
    int send_disconnect;     /* tell the client why, with SSH_MSG_DISCONNECT */
    char close_reason[256];

    wire_t wire;             /* tap + fault engine on the relay */
    sess_t sess;             /* what auth and channels see of this connection */
    auth_state_t auth;
    channel_set_t channels;

    struct conn_s *prev;
    struct conn_s *next;
} conn_t;

const char *conn_state_name(conn_state_t st);

/* Accepts a pending connection from the listener and starts it. */
void conn_accept(server_t *s);

/* The one place the state changes (and is logged). */
void conn_set_state(conn_t *c, conn_state_t st);

/* Asks for the connection to end. The first reason given wins. */
void conn_close(conn_t *c, conn_closer_t by, int send_disconnect, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Runs the teardown if one was asked for and libssh is not on the stack. */
void conn_maybe_teardown(conn_t *c);

/* libssh's end is closed and all it wrote has been read: finish the
 * client side once our writes to it are out. */
void conn_pair_drained(conn_t *c);

/* The client closed or failed while the connection was already closing
 * (half-closed by a FIN fault): nothing is left to wait for. */
void conn_client_gone(conn_t *c);

/* The close callback of every handle of a connection: the last one frees it. */
void conn_on_handle_closed(uv_handle_t *h);

/* Shorthand for logging with this connection's id. */
#define CONN_LOG(c, event, ...) log_event(&(c)->srv->log, (c)->id, (event), __VA_ARGS__)

#endif /* SSHMOCK_CONN_H */
