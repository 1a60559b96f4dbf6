/*
 * server: one profile served on one listening socket, on one libuv loop.
 *
 * The server owns the profile, its host keys (in a libssh ssh_bind that is
 * configured once and never listens itself: we listen with libuv and hand
 * accepted connections over), the event log and the list of connections.
 * It never blocks the loop and starts no thread; the embedding API runs it
 * on a thread of its own.
 */
#ifndef SSHMOCK_SERVER_H
#define SSHMOCK_SERVER_H

#include <libssh/libssh.h>
#include <libssh/server.h>
#include <stdint.h>
#include <uv.h>

#include <sshmock/sshmock.h>

#include "base/log.h"
#include "net/conn.h"
#include "profile/profile.h"
#include "ssh/hostkey.h"

/* libssh's own listener uses a backlog of 10; a CI job that opens a burst of
 * connections would see refusals from the kernel, so we listen ourselves. */
#define SERVER_BACKLOG 511

typedef struct server_s {
    uv_loop_t *loop;
    profile_t *profile;     /* owned */
    hostkey_set_t keys;
    ssh_bind bind;          /* algorithms, banner and keys, applied to each session */
    struct auth_keyring_s *keyrings; /* per account: its authorized keys */
    log_t log;
    int log_passwords;

    uv_tcp_t listener;
    int listener_open;
    /* A connection that cannot be allocated must still leave the backlog,
     * or libuv stops reading the listener until someone accepts it: the
     * spare sheds one (accept, close), the retry timer tries again later
     * when the spare is still closing. */
    uv_tcp_t spare;
    int spare_busy;
    uv_timer_t retry;
    int retry_open;
    uv_signal_t sigint;
    uv_signal_t sigterm;
    int signals_open;

    conn_env_t env;         /* what each connection gets from us */
    conn_counts_t counts;   /* ids and unauthenticated connections */
    conn_t *conns;          /* doubly linked, newest first */
    size_t nconns;
    uint64_t total_conns;
    uint64_t rng;           /* MaxStartups draws; seeded, so runs replay */

    /* serve --workers: worker servers share the first one's profile, keys,
     * keyrings, log, counters and draws (borrowed, never freed here); each
     * has its own loop, libssh bind and SO_REUSEPORT listener. */
    int borrowed;
    int reuseport;          /* listen with SO_REUSEPORT (every worker must) */
    void (*on_stop)(void *ud); /* told when server_stop() runs (to stop the workers) */
    void *on_stop_ud;

    char addr[80];          /* as bound; IPv6 in brackets */
    int port;               /* as bound (the real one when 0 was asked for) */
    int stopping;
} server_t;

/* Takes ownership of the profile, loads its host keys, prepares libssh and
 * opens the log. err gets "FILE:LINE: message" or a plain message. */
int server_init(server_t *s, uv_loop_t *loop, profile_t *profile,
                const sshmock_config_t *cfg, char *err, size_t errlen);

/* A worker of parent (already initialised, not yet running on another
 * thread): shares what parent loaded, makes its own libssh bind. Call it
 * on parent's thread, before the worker's thread starts. */
int server_init_worker(server_t *s, uv_loop_t *loop, server_t *parent, char *err,
                       size_t errlen);

/* Binds and listens; addr NULL uses the profile's, port < 0 the profile's. */
int server_listen(server_t *s, const char *addr, int port, char *err, size_t errlen);

/* Raises the soft RLIMIT_NOFILE to the hard limit (serve and lab; never
 * the embedding API, whose process is not ours) and returns the soft limit
 * now in force, or -1 if it cannot be read. */
long server_raise_nofile(void);

/* Descriptors one connection holds, for the log of how many fit. */
#define SERVER_FDS_PER_CONN 3

/* SIGINT/SIGTERM stop the server (CLI use). */
int server_handle_signals(server_t *s);

/* Stops accepting and closes every connection. The loop then runs dry. */
void server_stop(server_t *s);

/* For a caller that must know which connections are its own (the matrix
 * runs one client at a time per server): the id the next accepted
 * connection will get, and whether any connection from `first` on is still
 * open (accepted and not yet closing). */
uint64_t server_next_conn_id(const server_t *s);
int server_conns_open_since(const server_t *s, uint64_t first);

/* After the loop has returned: frees what server_init made. */
void server_free(server_t *s);

#endif /* SSHMOCK_SERVER_H */
