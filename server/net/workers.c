#include "net/workers.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct worker_s {
    server_t srv;
    uv_loop_t loop;
    uv_async_t stop;
    uv_async_t reload;     /* a new generation waits in pending */
    struct server_gen_s *_Atomic pending; /* made on the first thread, installed on this one */
    uv_thread_t thread;
    int running;
};

int
workers_default(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n > 0 ? (int)n : 1;
}

static void
workers__on_stop(uv_async_t *a)
{
    worker_t *w = a->data;

    uv_close((uv_handle_t *)&w->stop, NULL);
    uv_close((uv_handle_t *)&w->reload, NULL);
    server_stop(&w->srv);
}

/* SIGHUP on the first server: this worker's new generation is installed
 * on its own loop, between two of its callbacks, so no connection of it
 * sees the change half-made. */
static void
workers__on_reload(uv_async_t *a)
{
    worker_t *w = a->data;
    struct server_gen_s *g = atomic_exchange(&w->pending, NULL);

    if (g != NULL && !w->srv.stopping) {
        server_gen_install(&w->srv, g);
    } else if (g != NULL) {
        server_gen_release(g);
    }
}

/* The first server has made generation g: every worker gets one borrowed
 * from it, or none does. */
static int
workers__reload_all(void *ud, struct server_gen_s *g, char *err, size_t errlen)
{
    workers_t *ws = ud;
    struct server_gen_s **made = calloc(ws->n + 1, sizeof *made);
    size_t i;
    int rc = 0;

    if (made == NULL) {
        snprintf(err, errlen, "out of memory");
        return SSHMOCK_ENOMEM;
    }
    for (i = 0; i < ws->n && rc == 0; i++) {
        rc = server_gen_borrow(&ws->w[i].srv, g, &made[i], err, errlen);
    }
    if (rc != 0) {
        for (i = 0; i < ws->n; i++) {
            server_gen_release(made[i]);
        }
        free(made);
        return rc;
    }
    for (i = 0; i < ws->n; i++) {
        /* A reload the worker has not taken yet is replaced by this one. */
        server_gen_release(atomic_exchange(&ws->w[i].pending, made[i]));
        uv_async_send(&ws->w[i].reload);
    }
    free(made);
    return 0;
}

/* The first server stops (signal): every worker is told, from its thread. */
static void
workers__stop_all(void *ud)
{
    workers_t *ws = ud;
    size_t i;

    for (i = 0; i < ws->n; i++) {
        uv_async_send(&ws->w[i].stop);
    }
}

static void
workers__run(void *arg)
{
    worker_t *w = arg;

    uv_run(&w->loop, UV_RUN_DEFAULT);
}

int
workers_prepare(workers_t *ws, server_t *first, int n)
{
    memset(ws, 0, sizeof *ws);
    ws->first = first;
    if (n <= 1) {
        return 0;
    }
    if (uv_mutex_init(&ws->draw_lock) != 0) {
        return SSHMOCK_EIO;
    }
    ws->lock_init = 1;
    server_set_draw_lock(first, &ws->draw_lock);
    first->reuseport = 1;
    return 0;
}

/* Undoes a worker that was initialised but never ran. */
static void
workers__discard(worker_t *w)
{
    server_stop(&w->srv);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    server_free(&w->srv);
    uv_loop_close(&w->loop);
}

int
workers_start(workers_t *ws, int n, char *err, size_t errlen)
{
    server_t *first = ws->first;
    char addr[80];
    worker_t *w = NULL;
    int rc = 0;

    if (n <= 1) {
        return 0;
    }
    ws->w = calloc((size_t)n - 1, sizeof *ws->w);
    if (ws->w == NULL) {
        snprintf(err, errlen, "out of memory for %d workers", n);
        return SSHMOCK_ENOMEM;
    }
    /* "[::1]" as bound -> "::1" for server_listen() */
    snprintf(addr, sizeof addr, "%s", first->addr[0] == '[' ? first->addr + 1 : first->addr);
    addr[strcspn(addr, "]")] = '\0';
    while (ws->n < (size_t)n - 1) {
        w = &ws->w[ws->n];
        if (uv_loop_init(&w->loop) != 0) {
            snprintf(err, errlen, "cannot make a loop for worker %zu", ws->n + 2);
            rc = SSHMOCK_EIO;
            break;
        }
        rc = server_init_worker(&w->srv, &w->loop, first, err, errlen);
        if (rc != 0) {
            uv_loop_close(&w->loop);
            break;
        }
        w->srv.reuseport = 1;
        rc = server_listen(&w->srv, addr, first->port, err, errlen);
        if (rc == 0 && uv_async_init(&w->loop, &w->stop, workers__on_stop) != 0) {
            rc = SSHMOCK_EIO;
        } else if (rc == 0 && uv_async_init(&w->loop, &w->reload, workers__on_reload) != 0) {
            uv_close((uv_handle_t *)&w->stop, NULL);
            rc = SSHMOCK_EIO;
        }
        if (rc != 0) {
            workers__discard(w);
            break;
        }
        w->stop.data = w;
        w->reload.data = w;
        if (uv_thread_create(&w->thread, workers__run, w) != 0) {
            snprintf(err, errlen, "cannot start worker %zu", ws->n + 2);
            uv_close((uv_handle_t *)&w->stop, NULL);
            uv_close((uv_handle_t *)&w->reload, NULL);
            workers__discard(w);
            rc = SSHMOCK_EIO;
            break;
        }
        w->running = 1;
        ws->n++;
    }
    if (rc != 0) {
        workers__stop_all(ws);
        workers_join(ws);
        return rc;
    }
    first->on_stop = workers__stop_all;
    first->on_stop_ud = ws;
    first->on_reload = workers__reload_all;
    first->on_reload_ud = ws;
    return 0;
}

void
workers_join(workers_t *ws)
{
    size_t i;

    for (i = 0; i < ws->n; i++) {
        worker_t *w = &ws->w[i];
        if (w->running) {
            uv_thread_join(&w->thread);
            server_gen_release(atomic_exchange(&w->pending, NULL)); /* never installed */
            server_free(&w->srv);
            uv_loop_close(&w->loop);
        }
    }
    free(ws->w);
    ws->w = NULL;
    ws->n = 0;
    if (ws->first != NULL) {
        ws->first->on_stop = NULL;
        ws->first->on_reload = NULL;
        server_set_draw_lock(ws->first, NULL);
    }
    if (ws->lock_init) {
        uv_mutex_destroy(&ws->draw_lock);
        ws->lock_init = 0;
    }
}
