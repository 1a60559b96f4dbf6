#include "net/relay.h"

#include <stdlib.h>

#include "net/conn.h"

typedef struct relay_write_s {
    uv_write_t req;
    struct conn_s *conn;
    relay_dir_t dir;
    char *buf;
} relay_write_t;

static uv_stream_t *
relay__src(conn_t *c, relay_dir_t dir)
{
    return dir == RELAY_C2S ? (uv_stream_t *)&c->tcp : (uv_stream_t *)&c->pair;
}

static uv_stream_t *
relay__dst(conn_t *c, relay_dir_t dir)
{
    return dir == RELAY_C2S ? (uv_stream_t *)&c->pair : (uv_stream_t *)&c->tcp;
}

static int *
relay__paused(conn_t *c, relay_dir_t dir)
{
    return dir == RELAY_C2S ? &c->tcp_read_paused : &c->pair_read_paused;
}

static void
relay__alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = malloc(RELAY_READ_SIZE);
    buf->len = buf->base != NULL ? RELAY_READ_SIZE : 0;
}

static void relay__on_tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void relay__on_pair_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void
relay__resume(conn_t *c, relay_dir_t dir)
{
    int *paused = relay__paused(c, dir);

    if (!*paused || (c->state == CONN_CLOSING && dir == RELAY_C2S)) {
        return;
    }
    *paused = 0;
    uv_read_start(relay__src(c, dir), relay__alloc,
                  dir == RELAY_C2S ? relay__on_tcp_read : relay__on_pair_read);
}

static void
relay__on_write(uv_write_t *req, int status)
{
    relay_write_t *w = (relay_write_t *)req;
    conn_t *c = w->conn;
    relay_dir_t dir = w->dir;

    free(w->buf);
    free(w);
    if (status == UV_ECANCELED) {
        return; /* the handle is closing; c may be on its way out */
    }
    if (status < 0) {
        if (dir == RELAY_S2C) {
            c->tcp_eof = 1;
            conn_close(c, CONN_BY_CLIENT, 0, "write to client failed: %s",
                       uv_strerror(status));
        } else {
            conn_close(c, CONN_BY_SERVER, 0, "write to libssh failed: %s",
                       uv_strerror(status));
        }
        return;
    }
    if (uv_stream_get_write_queue_size(relay__dst(c, dir)) < RELAY_LOW_WATER) {
        relay__resume(c, dir);
    }
}

int
relay_write(conn_t *c, relay_dir_t dir, char *buf, size_t len)
{
    uv_stream_t *dst = relay__dst(c, dir);
    relay_write_t *w = NULL;
    uv_buf_t b;
    int rc;

    if (uv_is_closing((uv_handle_t *)dst)) {
        free(buf);
        return UV_ECANCELED;
    }
    w = malloc(sizeof *w);
    if (w == NULL) {
        free(buf);
        return UV_ENOMEM;
    }
    w->conn = c;
    w->dir = dir;
    w->buf = buf;
    b = uv_buf_init(buf, (unsigned int)len);
    rc = uv_write(&w->req, dst, &b, 1, relay__on_write);
    if (rc != 0) {
        free(buf);
        free(w);
        conn_close(c, CONN_BY_SERVER, 0, "relay write: %s", uv_strerror(rc));
        return rc;
    }
    if (uv_stream_get_write_queue_size(dst) > RELAY_HIGH_WATER &&
        !*relay__paused(c, dir)) {
        *relay__paused(c, dir) = 1;
        uv_read_stop(relay__src(c, dir));
    }
    return 0;
}

void
relay_on_data(conn_t *c, relay_dir_t dir, char *buf, size_t len)
{
    /* While closing, what the client still sends has nowhere to go; what
     * libssh wrote last (a DISCONNECT, say) still goes to the client. */
    if (c->state == CONN_CLOSING && dir == RELAY_C2S) {
        free(buf);
        return;
    }
    wire_on_data(c, dir, buf, len);
}

static void
relay__on_tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn_t *c = s->data;

    if (n > 0) {
        relay_on_data(c, RELAY_C2S, buf->base, (size_t)n);
        return;
    }
    free(buf->base);
    if (n == 0) {
        return;
    }
    c->tcp_eof = 1;
    uv_read_stop(s);
    conn_client_gone(c);
    if (n == UV_EOF) {
        conn_close(c, CONN_BY_CLIENT, 0, "connection closed by client");
    } else {
        conn_close(c, CONN_BY_CLIENT, 0, "client connection error: %s", uv_strerror((int)n));
    }
}

static void
relay__on_pair_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn_t *c = s->data;

    if (n > 0) {
        relay_on_data(c, RELAY_S2C, buf->base, (size_t)n);
        return;
    }
    free(buf->base);
    if (n == 0) {
        return;
    }
    c->pair_eof = 1;
    uv_read_stop(s);
    conn_close(c, CONN_BY_SERVER, 0, "libssh closed the session");
    conn_pair_drained(c);
}

void
relay_drain(conn_t *c)
{
    relay__resume(c, RELAY_S2C);
}

int
relay_start(conn_t *c)
{
    int rc;

    rc = uv_read_start((uv_stream_t *)&c->tcp, relay__alloc, relay__on_tcp_read);
    if (rc == 0) {
        rc = uv_read_start((uv_stream_t *)&c->pair, relay__alloc, relay__on_pair_read);
    }
    return rc;
}
