/*
 * workers: `sshmock serve --workers N`. The first server runs on the
 * caller's loop and thread; N-1 more run one loop each on threads of their
 * own, listening on the same address and port with SO_REUSEPORT, so the
 * kernel spreads the connections over the cores.
 *
 * They share the first server's profile, host keys (loaded once: each
 * worker's libssh bind gets copies), keyrings and event log (one line per
 * write, so lines never mix), and its counters: connection ids and the
 * unauthenticated count behind MaxStartups are atomics, and the seeded
 * draws (faults, MaxStartups) come from one sequence under a mutex. Each
 * worker's connections live and die on its own loop.
 *
 * The embedding API does not use this (one loop there).
 */
#ifndef SSHMOCK_WORKERS_H
#define SSHMOCK_WORKERS_H

#include <stddef.h>
#include <uv.h>

#include "net/server.h"

typedef struct worker_s worker_t;

typedef struct workers_s {
    server_t *first;        /* the caller's; not owned */
    worker_t *w;            /* the others */
    size_t n;               /* how many of them run */
    uv_mutex_t draw_lock;
    int lock_init;
} workers_t;

/* Before server_listen() on first: makes its listener share the port. */
int workers_prepare(workers_t *ws, server_t *first, int n);

/* After first listens: starts the n-1 others on its address and port. On
 * failure none is left running. */
int workers_start(workers_t *ws, int n, char *err, size_t errlen);

/* After first's loop has returned (server_stop() on first tells the others
 * to stop): waits for them and frees them. */
void workers_join(workers_t *ws);

/* The number of CPUs this process may run on (at least 1). */
int workers_default(void);

#endif /* SSHMOCK_WORKERS_H */
