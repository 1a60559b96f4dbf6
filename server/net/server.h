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

/* The signals the CLI gives a meaning (server_handle_signals). */
enum {
    SERVER_SIGINT,
    SERVER_SIGTERM,
    SERVER_SIGHUP,
    SERVER_SIGUSR1,
    SERVER_SIGNALS
};

/* One loaded profile with what is made from it (host keys, libssh's bind,
 * authorized keys, the env connections get). Shared read-only by the
 * connections that started with it; counted, and freed when the server has
 * moved on (SIGHUP) and its last connection is gone. */
struct server_gen_s;

typedef struct server_s {
    uv_loop_t *loop;
    profile_t *profile;     /* the current generation's (owned by it) */
    struct server_gen_s *gen; /* current: new connections get it */
    char *state_dir;        /* for the host keys of a reloaded profile */
    log_t log;
    int log_passwords;

    uv_tcp_t listener;
    int listener_open;
    int exposed;            /* bound to an address other hosts can reach */
    /* A connection that cannot be allocated must still leave the backlog,
     * or libuv stops reading the listener until someone accepts it: the
     * spare sheds one (accept, close), the retry timer tries again later
     * when the spare is still closing. */
    uv_tcp_t spare;
    int spare_busy;
    uv_timer_t retry;
    int retry_open;
    uv_signal_t signals[SERVER_SIGNALS];
    int signals_open;
    unsigned reloads;       /* SIGHUPs that installed a new profile */

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
    /* SIGHUP made generation g: every worker must get its own from it
     * (server_gen_borrow) or the reload fails. */
    int (*on_reload)(void *ud, struct server_gen_s *g, char *err, size_t errlen);
    void *on_reload_ud;
    struct server_s *parent; /* a worker's first server */

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

/* A worker's generation borrowing lender's profile, keys and keyrings (it
 * holds a reference on lender) with a libssh bind of its own. On the first
 * server's thread. */
int server_gen_borrow(server_t *worker, struct server_gen_s *lender, struct server_gen_s **out,
                      char *err, size_t errlen);

/* On the worker's own thread: new connections get g from now on; the old
 * generation goes when its last connection does. */
void server_gen_install(server_t *worker, struct server_gen_s *g);

/* Lets go of a generation that was never installed. */
void server_gen_release(struct server_gen_s *g);

/* The lock the fault and MaxStartups draws take when workers share them
 * (NULL: one loop, no lock). Set before the workers start. */
void server_set_draw_lock(server_t *s, uv_mutex_t *lock);

/* Binds and listens; addr NULL uses the profile's, port < 0 the profile's. */
int server_listen(server_t *s, const char *addr, int port, char *err, size_t errlen);

/* Raises the soft RLIMIT_NOFILE to the hard limit (serve and lab; never
 * the embedding API, whose process is not ours) and returns the soft limit
 * now in force, or -1 if it cannot be read. */
long server_raise_nofile(void);

/* Descriptors one connection holds, for the log of how many fit: the
 * client's socket and the socketpair to libssh once the client has
 * spoken; the client's socket alone before. */
#define SERVER_FDS_PER_CONN 3
#define SERVER_FDS_PER_IDLE_CONN 1

/* CLI use only (the embedding API installs no handlers): SIGINT and
 * SIGTERM stop the server; SIGHUP re-reads the profile as sshd does and
 * serves new connections with it when it is valid (an invalid one is
 * logged, FILE:LINE, and the old one kept; connections keep the profile
 * they started with; the listening socket stays); SIGUSR1 logs a status
 * line; SIGUSR2 and SIGPIPE are ignored. With --workers above 1 every
 * worker moves to the new profile (on_reload). */
int server_handle_signals(server_t *s);

/* SIGHUP's work: re-reads the profile file. 0 when the new one serves. */
int server_reload(server_t *s);

/* SIGUSR1's: one "status" event (connections by state, totals). */
void server_log_status(server_t *s);

/* When the listener is reachable from other hosts: says so on the log
 * (JSON), and on stderr when `print` (once per process is enough). */
void server_warn_exposed(server_t *s, int print);

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
