#include "net/relay.h"

#include <stdlib.h>
#include <string.h>

typedef struct relay_write_s {
    uv_write_t req;
    relay_t *relay;
    relay_dir_t dir;
    char *buf;
} relay_write_t;

/* One read buffer per thread (each loop runs on one thread, and libuv
 * calls the read callback right after the allocation): what was read is
 * copied out at its size before the next read. */
static _Thread_local char relay__scratch[RELAY_READ_SIZE];

static uv_stream_t *
relay__src(relay_t *r, relay_dir_t dir)
{
    return r->end[dir == RELAY_C2S ? 0 : 1];
}

static uv_stream_t *
relay__dst(relay_t *r, relay_dir_t dir)
{
    return r->end[dir == RELAY_C2S ? 1 : 0];
}

static size_t
relay__waiting(relay_t *r, relay_dir_t dir)
{
    uv_stream_t *dst = relay__dst(r, dir);

    return (dst != NULL ? uv_stream_get_write_queue_size(dst) : 0) + r->held[dir];
}

static void
relay__alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = relay__scratch;
    buf->len = sizeof relay__scratch;
}

static void relay__on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void
relay__pause(relay_t *r, relay_dir_t dir)
{
    if (r->paused & (1u << dir)) {
        return;
    }
    r->paused |= 1u << dir;
    if (relay__src(r, dir) != NULL) {
        uv_read_stop(relay__src(r, dir));
    }
}

static void
relay__resume(relay_t *r, relay_dir_t dir)
{
    uv_stream_t *src = relay__src(r, dir);

    if (!(r->paused & (1u << dir))) {
        return;
    }
    r->paused &= ~(1u << dir);
    if (src != NULL && !(r->ended & (1u << dir)) && !uv_is_closing((uv_handle_t *)src)) {
        uv_read_start(src, relay__alloc, relay__on_read);
    }
}

/* Pauses above high water, resumes below low water; between the two the
 * source keeps whatever it was doing. A (the client) is the side that asks:
 * while what goes back to it is backed up, A is not read either, so a
 * client that sends requests and never reads the replies (SERVICE_REQUEST
 * after SERVICE_REQUEST) cannot make libssh queue replies without bound.
 * sshd does the same: it reads from a client only while little is waiting
 * to be written to it. */
static void
relay__check(relay_t *r, relay_dir_t dir)
{
    size_t waiting = relay__waiting(r, dir);

    if (waiting > RELAY_HIGH_WATER) {
        r->backed |= 1u << dir;
    } else if (waiting < RELAY_LOW_WATER) {
        r->backed &= ~(1u << dir);
    }
    if (r->backed & (1u << RELAY_S2C)) {
        relay__pause(r, RELAY_S2C);
        relay__pause(r, RELAY_C2S);
        return;
    }
    relay__resume(r, RELAY_S2C);
    if (r->backed & (1u << RELAY_C2S)) {
        relay__pause(r, RELAY_C2S);
    } else {
        relay__resume(r, RELAY_C2S);
    }
}

static void
relay__on_write(uv_write_t *req, int status)
{
    relay_write_t *w = (relay_write_t *)req;
    relay_t *r = w->relay;
    relay_dir_t dir = w->dir;

    free(w->buf);
    free(w);
    if (status == UV_ECANCELED) {
        return; /* the handle is closing; its owner may be on its way out */
    }
    if (status < 0) {
        r->ops->on_error(r->ud, dir, RELAY_OP_WRITE, status);
        return;
    }
    relay__check(r, dir);
}

int
relay_write(relay_t *r, relay_dir_t dir, char *buf, size_t len)
{
    uv_stream_t *dst = relay__dst(r, dir);
    relay_write_t *w = NULL;
    uv_buf_t b;
    int rc;

    if (dst == NULL || uv_is_closing((uv_handle_t *)dst)) {
        free(buf);
        return UV_ECANCELED;
    }
    w = malloc(sizeof *w);
    if (w == NULL) {
        free(buf);
        r->ops->on_error(r->ud, dir, RELAY_OP_WRITE, UV_ENOMEM);
        return UV_ENOMEM;
    }
    w->relay = r;
    w->dir = dir;
    w->buf = buf;
    b = uv_buf_init(buf, (unsigned int)len);
    rc = uv_write(&w->req, dst, &b, 1, relay__on_write);
    if (rc != 0) {
        free(buf);
        free(w);
        r->ops->on_error(r->ud, dir, RELAY_OP_WRITE, rc);
        return rc;
    }
    relay__check(r, dir);
    return 0;
}

void
relay_set_held(relay_t *r, relay_dir_t dir, size_t n)
{
    r->held[dir] = n;
    relay__check(r, dir);
}

static void
relay__on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    relay_t *r = s->data;
    relay_dir_t dir = s == r->end[0] ? RELAY_C2S : RELAY_S2C;
    char *copy = NULL;

    (void)buf;
    if (n == 0) {
        return;
    }
    if (n < 0) {
        r->ended |= 1u << dir;
        uv_read_stop(s);
        if (n == UV_EOF) {
            r->ops->on_eof(r->ud, dir);
        } else {
            r->ops->on_error(r->ud, dir, RELAY_OP_READ, (int)n);
        }
        return;
    }
    copy = malloc((size_t)n);
    if (copy == NULL) {
        r->ops->on_error(r->ud, dir, RELAY_OP_READ, UV_ENOMEM);
        return;
    }
    memcpy(copy, buf->base, (size_t)n);
    r->ops->on_data(r->ud, dir, copy, (size_t)n);
}

void
relay_init(relay_t *r, uv_stream_t *a, uv_stream_t *b, const relay_ops_t *ops, void *ud)
{
    memset(r, 0, sizeof *r);
    r->end[0] = a;
    r->end[1] = b;
    r->ops = ops;
    r->ud = ud;
    a->data = r;
    if (b != NULL) {
        b->data = r;
    }
}

void
relay_set_end(relay_t *r, relay_dir_t dir, uv_stream_t *s)
{
    r->end[dir == RELAY_C2S ? 0 : 1] = s;
    s->data = r;
}

int
relay_start(relay_t *r)
{
    int rc;

    rc = uv_read_start(r->end[0], relay__alloc, relay__on_read);
    if (rc == 0) {
        rc = uv_read_start(r->end[1], relay__alloc, relay__on_read);
    }
    return rc;
}

int
relay_start_one(relay_t *r, relay_dir_t dir)
{
    if (r->paused & (1u << dir)) {
        return 0; /* backpressure holds it; relay__resume starts it */
    }
    return uv_read_start(relay__src(r, dir), relay__alloc, relay__on_read);
}

void
relay_drain(relay_t *r, relay_dir_t dir)
{
    relay__resume(r, dir);
}

int
relay_paused(const relay_t *r, relay_dir_t dir)
{
    return (r->paused & (1u << dir)) != 0;
}
