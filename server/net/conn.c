#include "net/conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/relay.h"
#include "ssh/sshd.h"

/* How long a closing connection may take to hand its last bytes (a
 * DISCONNECT, say) to a client that does not read them. */
#define CONN_LINGER_MS 2000

const char *
conn_state_name(conn_state_t st)
{
    switch (st) {
    case CONN_ACCEPTED: return "accepted";
    case CONN_KEX: return "kex";
    case CONN_AUTH: return "auth";
    case CONN_OPEN: return "open";
    case CONN_CLOSING: return "closing";
    }
    return "unknown";
}

void
conn_set_state(conn_t *c, conn_state_t st)
{
    if (c->state == st || c->state == CONN_CLOSING) {
        return;
    }
    c->state = st;
    if (st == CONN_OPEN || st == CONN_CLOSING) {
        /* LoginGraceTime only bounds the time before authentication. */
        uv_timer_stop(&c->grace);
    }
}

static void
conn__free(conn_t *c)
{
    server_t *s = c->srv;

    channel_free_all(&c->channels);
    sshd_session_free(c);
    wire_free(c);
    server_conn_gone(s, c);
    free(c);
}

void
conn_on_handle_closed(uv_handle_t *h)
{
    conn_t *c = h->data;

    if (--c->handles == 0) {
        conn__free(c);
    }
}

static void
conn__close_handle(conn_t *c, uv_handle_t *h)
{
    (void)c;
    if (h->data != NULL && !uv_is_closing(h)) {
        uv_close(h, conn_on_handle_closed);
    }
}

static void
conn__close_handles(conn_t *c)
{
    conn__close_handle(c, (uv_handle_t *)&c->tcp);
    conn__close_handle(c, (uv_handle_t *)&c->pair);
    conn__close_handle(c, (uv_handle_t *)&c->poll);
    conn__close_handle(c, (uv_handle_t *)&c->grace);
    conn__close_handle(c, (uv_handle_t *)&c->linger);
    conn__close_handle(c, (uv_handle_t *)&c->wire.timer);
}

static void
conn__on_linger(uv_timer_t *t)
{
    conn__close_handles(t->data);
}

static void
conn__on_grace(uv_timer_t *t)
{
    conn_t *c = t->data;

    conn_close(c, CONN_BY_SERVER, 0, "LoginGraceTime of %ds exceeded before authentication",
               c->srv->profile->login_grace_time);
}

static void
conn__on_shutdown(uv_shutdown_t *req, int status)
{
    conn_t *c = req->data;

    free(req);
    if (c->close_mode == CONN_CLOSE_FIN && status == 0 && !c->tcp_eof) {
        /* A FIN fault half-closes, as a failing box does: it keeps reading
         * (and dropping) what the client still sends until the client goes
         * or the linger timer ends it. Closing outright would answer the
         * client's next bytes with RST, and the client would report a
         * broken pipe instead of the closed connection it sees from a real
         * server that hangs up. */
        uv_timer_start(&c->linger, conn__on_linger, CONN_LINGER_MS, 0);
        return;
    }
    conn__close_handles(c);
}

void
conn_client_gone(conn_t *c)
{
    if (c->state == CONN_CLOSING && c->finishing) {
        conn__close_handles(c);
    }
}

/* Ends the client side with a FIN once what is queued for it is out. */
static void
conn__finish_client(conn_t *c)
{
    uv_shutdown_t *req = NULL;

    if (c->finishing) {
        return;
    }
    c->finishing = 1;
    if (c->tcp_eof || uv_is_closing((uv_handle_t *)&c->tcp)) {
        conn__close_handles(c);
        return;
    }
    /* uv_shutdown() waits for queued writes, then sends FIN: the client
     * reads everything libssh said before it sees the end. */
    req = malloc(sizeof *req);
    if (req == NULL) {
        conn__close_handles(c);
        return;
    }
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, conn__on_shutdown) != 0) {
        free(req);
        conn__close_handles(c);
    }
}

void
conn_pair_drained(conn_t *c)
{
    if (c->state != CONN_CLOSING) {
        return; /* teardown will come back here */
    }
    conn__finish_client(c);
}

static void
conn__teardown(conn_t *c)
{
    const char *by = c->closed_by == CONN_BY_CLIENT ? "client" : "server";

    CONN_LOG(c, "close", "by", by, "state", conn_state_name(c->state),
             "reason", c->close_reason, NULL);
    conn_set_state(c, CONN_CLOSING);
    sshd_session_shutdown(c); /* libssh's end of the socketpair closes here */
    if (c->close_mode == CONN_CLOSE_RST && !c->tcp_eof) {
        /* SO_LINGER 0 then close: the kernel sends RST, not FIN. */
        c->finishing = 1;
        uv_tcp_close_reset(&c->tcp, conn_on_handle_closed);
        conn__close_handles(c);
        return;
    }
    if (c->close_mode == CONN_CLOSE_FIN) {
        c->wire.cut = 1; /* nothing more from libssh reaches the client */
        conn__finish_client(c);
        return;
    }
    if (c->tcp_eof || c->pair_eof || c->session == NULL) {
        if (c->pair_eof) {
            conn_pair_drained(c);
        } else {
            conn__close_handles(c);
        }
        return;
    }
    /* Keep reading the pair until EOF so that the client gets libssh's last
     * words; the linger timer bounds the wait. */
    relay_drain(c);
    uv_timer_start(&c->linger, conn__on_linger, CONN_LINGER_MS, 0);
}

void
conn_maybe_teardown(conn_t *c)
{
    if (c->close_requested && !c->in_libssh && c->state != CONN_CLOSING) {
        conn__teardown(c);
    }
}

void
conn_close(conn_t *c, conn_closer_t by, int send_disconnect, const char *fmt, ...)
{
    va_list ap;

    if (c->close_requested) {
        conn_maybe_teardown(c);
        return;
    }
    c->close_requested = 1;
    c->closed_by = by;
    c->send_disconnect = send_disconnect;
    va_start(ap, fmt);
    vsnprintf(c->close_reason, sizeof c->close_reason, fmt, ap);
    va_end(ap);
    conn_maybe_teardown(c);
}

static void
conn__peer_name(conn_t *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char host[64] = "?";
    int port = 0;

    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) {
        util_strlcpy(c->peer, "unknown", sizeof c->peer);
        return;
    }
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(c->peer, sizeof c->peer, "[%s]:%d", host, port);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        uv_ip4_name(a, host, sizeof host);
        port = ntohs(a->sin_port);
        snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
    }
}

void
conn_accept(server_t *s)
{
    conn_t *c = NULL;
    int sv[2] = { -1, -1 };
    int rc;

    c = calloc(1, sizeof *c);
    if (c == NULL) {
        return; /* the pending connection stays in the backlog */
    }
    c->srv = s;
    c->ssh_fd = -1;
    c->state = CONN_ACCEPTED;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    c->handles++;
    uv_pipe_init(s->loop, &c->pair, 0);
    c->pair.data = c;
    c->handles++;
    uv_timer_init(s->loop, &c->grace);
    c->grace.data = c;
    c->handles++;
    uv_timer_init(s->loop, &c->linger);
    c->linger.data = c;
    c->handles++;
    /* poll.data stays NULL until sshd_session_start() initialises it. */

    c->id = ++s->next_conn_id;
    snprintf(c->idstr, sizeof c->idstr, "%llu", (unsigned long long)c->id);
    c->next = s->conns;
    if (s->conns != NULL) {
        s->conns->prev = c;
    }
    s->conns = c;
    s->nconns++;
    s->total_conns++;

    rc = uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&c->tcp);
    if (rc != 0) {
        c->tcp_eof = 1;
        conn_close(c, CONN_BY_SERVER, 0, "accept: %s", uv_strerror(rc));
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn__peer_name(c);
    CONN_LOG(c, "accept", "peer", c->peer, NULL);

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        conn_close(c, CONN_BY_SERVER, 0, "socketpair: %s", strerror(errno));
        return;
    }
    rc = uv_pipe_open(&c->pair, sv[0]);
    if (rc != 0) {
        close(sv[0]);
        close(sv[1]);
        conn_close(c, CONN_BY_SERVER, 0, "uv_pipe_open: %s", uv_strerror(rc));
        return;
    }
    wire_init(c);
    if (c->maxstartups_drop) {
        /* What sshd's drop_connection() does past MaxStartups. */
        static const char msg[] = "Exceeded MaxStartups\r\n";
        char *copy = malloc(sizeof msg - 1);
        CONN_LOG(c, "maxstartups_drop", NULL);
        if (copy != NULL) {
            memcpy(copy, msg, sizeof msg - 1);
            relay_write(c, RELAY_S2C, copy, sizeof msg - 1);
        }
        close(sv[1]);
        c->close_mode = CONN_CLOSE_FIN;
        conn_close(c, CONN_BY_SERVER, 0, "past MaxStartups %d:%d:%d",
                   s->profile->max_startups_start, s->profile->max_startups_rate,
                   s->profile->max_startups_full);
        return;
    }
    if (s->profile->login_grace_time > 0) {
        uv_timer_start(&c->grace, conn__on_grace,
                       (uint64_t)s->profile->login_grace_time * 1000u, 0);
    }
    rc = relay_start(c);
    if (rc != 0) {
        close(sv[1]);
        conn_close(c, CONN_BY_SERVER, 0, "relay: %s", uv_strerror(rc));
        return;
    }
    wire_stage(c, FAULT_STAGE_ACCEPT);
    if (c->close_requested) {
        close(sv[1]);
        return;
    }
    if (sshd_session_start(c, sv[1]) != 0) {
        conn_close(c, CONN_BY_SERVER, 0, "cannot start the SSH session");
        return;
    }
}
