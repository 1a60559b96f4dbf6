/* The embedding API (include/sshmock/sshmock.h): a server on its own thread. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sshmock/sshmock.h>

#include "net/server.h"

struct sshmock_s {
    uv_loop_t loop;
    server_t server;
    uv_async_t stop;
    uv_thread_t thread;
};

static void
embed__on_stop(uv_async_t *a)
{
    sshmock_t *m = a->data;

    server_stop(&m->server);
    uv_close((uv_handle_t *)a, NULL);
}

static void
embed__run(void *arg)
{
    sshmock_t *m = arg;

    uv_run(&m->loop, UV_RUN_DEFAULT);
}

/* Runs the loop until every handle has closed, then closes it. */
static void
embed__drain_loop(sshmock_t *m)
{
    uv_run(&m->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&m->loop) != 0) {
        fprintf(stderr, "sshmock: loop still has handles at stop\n");
    }
}

int
sshmock_start(const char *profile_path, const sshmock_config_t *cfg, sshmock_t **out,
              char *errbuf, unsigned long errlen)
{
    sshmock_config_t defaults = SSHMOCK_CONFIG_INIT;
    char scratch[512];
    profile_t *p = NULL;
    sshmock_t *m = NULL;
    int rc;

    if (errbuf == NULL || errlen == 0) {
        errbuf = scratch;
        errlen = sizeof scratch;
    }
    errbuf[0] = '\0';
    if (out == NULL || profile_path == NULL) {
        snprintf(errbuf, errlen, "sshmock_start: profile and out are required");
        return SSHMOCK_EINVAL;
    }
    *out = NULL;
    if (cfg == NULL) {
        cfg = &defaults;
    }
    /* A client that vanishes must not kill the host process. */
    signal(SIGPIPE, SIG_IGN);

    rc = profile_load(profile_path, &p, errbuf, errlen);
    if (rc != 0) {
        return rc;
    }
    m = calloc(1, sizeof *m);
    if (m == NULL) {
        profile_free(p);
        return SSHMOCK_ENOMEM;
    }
    uv_loop_init(&m->loop);
    rc = server_init(&m->server, &m->loop, p, cfg, errbuf, errlen);
    if (rc != 0) {
        uv_loop_close(&m->loop);
        free(m);
        return rc;
    }
    rc = server_listen(&m->server, cfg->listen_addr, cfg->port, errbuf, errlen);
    if (rc == 0) {
        rc = uv_async_init(&m->loop, &m->stop, embed__on_stop) == 0 ? 0 : SSHMOCK_EIO;
        m->stop.data = m;
    }
    if (rc == 0 && uv_thread_create(&m->thread, embed__run, m) != 0) {
        uv_close((uv_handle_t *)&m->stop, NULL);
        snprintf(errbuf, errlen, "cannot start the server thread");
        rc = SSHMOCK_ETHREAD;
    }
    if (rc != 0) {
        server_stop(&m->server);
        embed__drain_loop(m);
        server_free(&m->server);
        free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int
sshmock_port(const sshmock_t *srv)
{
    return srv != NULL ? srv->server.port : -1;
}

void
sshmock_stop(sshmock_t *srv)
{
    if (srv == NULL) {
        return;
    }
    uv_async_send(&srv->stop);
    uv_thread_join(&srv->thread);
    embed__drain_loop(srv);
    server_free(&srv->server);
    free(srv);
}
