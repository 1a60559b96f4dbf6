#include "net/conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"
#include "profile/engine.h"

/* How long a closing connection may take to hand its last bytes (a
 * DISCONNECT, say) to a client that does not read them. */
#define CONN_LINGER_MS 2000

/* The close reason when there was no memory to write one. */
static char conn__no_memory[] = "out of memory";

#define CONN_OF(ptr, member) ((conn_t *)(void *)((char *)(ptr) - offsetof(conn_t, member)))

/* The identification libssh sends: the profile's where the engine sends it
 * (sshd_bind_new(): SSH-2.0, and SSH-1.99 with the bundled engine); else its
 * default (the wire then rewrites it, as it rewrites libssh's). */
#define CONN_IDENT_MAX 256

static size_t
conn__ident_line(const conn_t *c, char *out, size_t outlen)
{
    const char *id = c->srv->profile->identification;
    int n;

    if (id != NULL && engine_sends_identification(id)) {
        n = snprintf(out, outlen, "%s\r\n", id);
    } else {
        n = snprintf(out, outlen, "SSH-2.0-libssh_%d.%d.%d\r\n", LIBSSH_VERSION_MAJOR,
                     LIBSSH_VERSION_MINOR, LIBSSH_VERSION_MICRO);
    }
    return n < 0 ? 0 : (size_t)n >= outlen ? outlen - 1 : (size_t)n;
}

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

/* --- timers ------------------------------------------------------------------ */

/* All of a connection's timers (the wire's, by purpose, LoginGraceTime and
 * the linger) share one uv_timer armed for the earliest deadline: a
 * deadline is 8 bytes where a uv_timer_t is 152, and only two or three are
 * ever armed at once. Each purpose keeps its own deadline, so starting one
 * never loses another. */
static void conn__on_timer(uv_timer_t *t);
static void conn__on_grace(conn_t *c);
static void conn__on_auth_delay(conn_t *c);
static void conn__close_handles(conn_t *c);

static void
conn__timer_arm(conn_t *c)
{
    uint64_t now = uv_now(c->srv->loop);
    uint64_t next = 0;
    int i;

    if (uv_is_closing((uv_handle_t *)&c->timer)) {
        return;
    }
    for (i = 0; i < CONN_TIMER__COUNT; i++) {
        if (c->due[i] != 0 && (next == 0 || c->due[i] < next)) {
            next = c->due[i];
        }
    }
    if (next == 0) {
        uv_timer_stop(&c->timer);
        return;
    }
    uv_timer_start(&c->timer, conn__on_timer, next > now ? next - now : 0, 0);
}

static void
conn__timer_start(conn_t *c, int id, uint64_t ms)
{
    uint64_t due = uv_now(c->srv->loop) + ms;

    c->due[id] = due != 0 ? due : 1;
    conn__timer_arm(c);
}

static void
conn__timer_stop(conn_t *c, int id)
{
    if (c->due[id] != 0) {
        c->due[id] = 0;
        conn__timer_arm(c);
    }
}

static void conn__drop_now(conn_t *c, int client_spoke);

static void
conn__on_timer(uv_timer_t *t)
{
    conn_t *c = t->data;
    uint64_t now = uv_now(c->srv->loop);
    int i;

    for (i = 0; i < CONN_TIMER__COUNT; i++) {
        if (c->due[i] == 0 || c->due[i] > now) {
            continue;
        }
        c->due[i] = 0;
        if (i < WIRE_TIMER__COUNT) {
            wire_on_timer(&c->wire, (wire_timer_t)i);
        } else if (i == CONN_TIMER_GRACE) {
            conn__on_grace(c);
        } else if (i == CONN_TIMER_AUTH_DELAY) {
            conn__on_auth_delay(c);
        } else if (i == CONN_TIMER_DROP) {
            conn__drop_now(c, 0);
        } else {
            conn__close_handles(c); /* the linger is over */
        }
    }
    conn__timer_arm(c);
}

void
conn_set_state(conn_t *c, conn_state_t st)
{
    if (c->state == st || c->state == CONN_CLOSING) {
        return;
    }
    c->state = st;
    if (st == CONN_OPEN || st == CONN_CLOSING) {
        /* LoginGraceTime only bounds the time before authentication, and
         * MaxStartups only counts connections before it. */
        conn__timer_stop(c, CONN_TIMER_GRACE);
        if (c->unauth) {
            c->unauth = 0;
            c->srv->counts->unauth--;
        }
    }
}

/* --- handles and their end ------------------------------------------------ */

static void
conn__free(conn_t *c)
{
    if (c->unauth) {
        c->unauth = 0;
        c->srv->counts->unauth--;
    }
    if (c->ssh != NULL) {
        channel_free_all(&c->ssh->channels);
        sshd_session_free(&c->ssh->sshd);
        free(c->ssh);
        c->ssh = NULL;
    }
    wire_free(&c->wire);
    if (c->srv->gone != NULL) {
        c->srv->gone(c->srv->owner, c);
    }
    if (c->close_reason != conn__no_memory) {
        free(c->close_reason);
    }
    free(c);
}

static void
conn__handle_closed(conn_t *c)
{
    if (--c->handles == 0) {
        conn__free(c);
    }
}

/* The timers carry the connection in their data; the streams carry the
 * relay, and the poll handle sshd: those are found by their place in
 * conn_t or conn_ssh_t. */
static void
conn__on_timer_closed(uv_handle_t *h)
{
    conn__handle_closed(h->data);
}

static void
conn__on_tcp_closed(uv_handle_t *h)
{
    conn__handle_closed(CONN_OF(h, tcp));
}

static void
conn__on_pair_closed(uv_handle_t *h)
{
    conn__handle_closed(((conn_ssh_t *)(void *)((char *)h - offsetof(conn_ssh_t, pair)))->conn);
}

static void
conn__on_poll_closed(uv_handle_t *h)
{
    conn__handle_closed(
        ((conn_ssh_t *)(void *)((char *)h - offsetof(conn_ssh_t, sshd.poll)))->conn);
}

static void
conn__close_handle(uv_handle_t *h, uv_close_cb cb)
{
    if (!uv_is_closing(h)) {
        uv_close(h, cb);
    }
}

static void
conn__close_handles(conn_t *c)
{
    conn__close_handle((uv_handle_t *)&c->tcp, conn__on_tcp_closed);
    if (c->ssh != NULL) {
        conn__close_handle((uv_handle_t *)&c->ssh->pair, conn__on_pair_closed);
    }
    conn__close_handle((uv_handle_t *)&c->timer, conn__on_timer_closed);
}

static void
conn__on_grace(conn_t *c)
{
    conn_close(c, CONN_BY_SERVER, 0, "LoginGraceTime of %ds exceeded before authentication",
               c->srv->profile->login_grace_time);
}

static void
conn__on_shutdown(uv_shutdown_t *req, int status)
{
    conn_t *c = req->data;

    free(req);
    if ((c->close_mode == CONN_CLOSE_FIN ||
         (c->close_mode == CONN_CLOSE_GRACEFUL && c->send_disconnect)) &&
        status == 0 && !c->tcp_eof) {
        /* A FIN fault half-closes, as a failing box does: it keeps reading
         * (and dropping) what the client still sends until the client goes
         * or the linger timer ends it. Closing outright would answer the
         * client's next bytes with RST, and the client would report a
         * broken pipe instead of the closed connection it sees from a real
         * server that hangs up. After a DISCONNECT the same: a client busy
         * writing its next request (OpenSSH after a channel opens) would
         * meet the RST on that write ("Broken pipe") and never read the
         * DISCONNECT and its reason code. */
        conn__timer_start(c, CONN_TIMER_LINGER, CONN_LINGER_MS);
        return;
    }
    conn__close_handles(c);
}

/* The client closed or failed while the connection was already closing
 * (half-closed by a FIN fault): nothing is left to wait for. */
static void
conn__client_gone(conn_t *c)
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

/* libssh's end is closed and all it wrote has been read: finish the
 * client side once our writes to it are out. */
static void
conn__pair_drained(conn_t *c)
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

    /* The client's NEWKEYS went through the wire to libssh, which had not
     * run on it before the close was read (its close came in the same
     * breath, after a corrupted first packet from us, say): how far the
     * connection got is what happened on the wire, not whether libssh ran
     * in between. */
    if (c->state == CONN_KEX && c->ssh != NULL && wire_keys_in_use(&c->wire)) {
        sshd_kex_done_on_wire(&c->ssh->sshd);
    }
    CONN_LOG(c, "close", "by", by, "state", conn_state_name(c->state),
             "reason", c->close_reason, NULL);
    conn_set_state(c, CONN_CLOSING);
    if (c->ssh != NULL) {
        /* ssh_disconnect() frees libssh's channels: ours must go first. */
        channel_free_all(&c->ssh->channels);
        /* libssh's end of the socketpair closes here. */
        sshd_session_shutdown(&c->ssh->sshd, c->send_disconnect ? c->close_reason : NULL,
                              conn__on_poll_closed);
    }
    if (c->close_mode == CONN_CLOSE_RST && !c->tcp_eof) {
        /* SO_LINGER 0 then close: the kernel sends RST, not FIN. */
        c->finishing = 1;
        if (!uv_is_closing((uv_handle_t *)&c->tcp)) {
            uv_tcp_close_reset(&c->tcp, conn__on_tcp_closed);
        }
        conn__close_handles(c);
        return;
    }
    if (c->close_mode == CONN_CLOSE_EXIT) {
        /* As a process that exits: close() at once, with whatever the
         * client sent still unread in the kernel, which then sends RST
         * (bytes unread) or FIN (none), exactly as for sshd. */
        c->finishing = 1;
        conn__close_handles(c);
        return;
    }
    if (c->close_mode == CONN_CLOSE_FIN) {
        wire_cut(&c->wire); /* nothing more from libssh reaches the client */
        conn__finish_client(c);
        return;
    }
    if (c->session == NULL && !c->tcp_eof) {
        conn__finish_client(c); /* what we sent it (our identification) first */
        return;
    }
    if (c->tcp_eof || c->pair_eof || c->session == NULL) {
        if (c->pair_eof) {
            conn__pair_drained(c);
        } else {
            conn__close_handles(c);
        }
        return;
    }
    /* Keep reading the pair until EOF so that the client gets libssh's last
     * words; the linger timer bounds the wait. */
    relay_drain(&c->relay, RELAY_S2C);
    conn__timer_start(c, CONN_TIMER_LINGER, CONN_LINGER_MS);
}

void
conn_maybe_teardown(conn_t *c)
{
    if (c->close_requested && (c->ssh == NULL || !sshd_in_libssh(&c->ssh->sshd)) &&
        c->state != CONN_CLOSING) {
        conn__teardown(c);
    }
}

void
conn_close(conn_t *c, conn_closer_t by, int send_disconnect, const char *fmt, ...)
{
    char reason[256];
    va_list ap;

    if (c->close_requested) {
        conn_maybe_teardown(c);
        return;
    }
    c->close_requested = 1;
    c->closed_by = by;
    c->send_disconnect = send_disconnect != 0;
    if (c->ssh != NULL) {
        sshd_set_disconnect_reason(&c->ssh->sshd, send_disconnect);
    }
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    /* Kept from now on, not in every connection from its accept. */
    c->close_reason = util_strdup(reason);
    if (c->close_reason == NULL) {
        c->close_reason = (char *)conn__no_memory;
    }
    conn_maybe_teardown(c);
}

/* --- the relay's filter: the wire ----------------------------------------- */

/* The handshake is a ping-pong of small packets. Linux leaves quick-ACK
 * mode after a few segments and then delays its ACKs by up to 40 ms; a
 * client whose Nagle holds its next small packet until our ACK (the
 * client's KEX_ECDH_INIT, measured) then waits those 40 ms. The flag is
 * not sticky (the kernel clears it again), so it is set after every chunk
 * either way until the session is open; after that, delayed ACKs are what sshd gets
 * too and save packets on bulk transfers. */
static void
conn__quickack(conn_t *c)
{
#ifdef TCP_QUICKACK
    int fd = -1;
    int one = 1;

    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
        (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    }
#else
    (void)c;
#endif
}

/* sshd writes a flight of packets (its key exchange reply, NEWKEYS and
 * EXT_INFO) with one write(): the client reads them in one go, and some
 * act on that (ssh2 still reads the NEWKEYS and EXT_INFO behind a reply
 * whose host key it rejects; libssh's client meets a corrupted EXT_INFO
 * inside ssh_connect). The wire hands on libssh's bytes packet by packet
 * when it watches them, each its own write and, with TCP_NODELAY, its own
 * segment: so during the handshake what one read from libssh carried is
 * corked and goes out together. */
static void
conn__cork(conn_t *c, int on)
{
#ifdef TCP_CORK
    int fd = -1;

    if (!uv_is_closing((uv_handle_t *)&c->tcp) && uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
        (void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
    }
#else
    (void)c;
    (void)on;
#endif
}

static int conn__start_session(conn_t *c);

/* libssh's identification, already sent by us: dropped from what libssh
 * says. It must be the very line we sent, or the client's exchange hash
 * and libssh's would disagree. */
static int
conn__skip_ident(conn_t *c, char **buf, size_t *len)
{
    char line[CONN_IDENT_MAX];
    size_t full = conn__ident_line(c, line, sizeof line);
    size_t at = full - c->ident_skip;
    size_t n = *len < c->ident_skip ? *len : c->ident_skip;

    if (memcmp(*buf, line + at, n) != 0) {
        conn_close(c, CONN_BY_SERVER, 0, "libssh's identification is not the one sent");
        return -1;
    }
    c->ident_skip -= (unsigned char)n;
    memmove(*buf, *buf + n, *len - n);
    *len -= n;
    return 0;
}

static void
conn__relay_data(void *ud, relay_dir_t dir, char *buf, size_t len)
{
    conn_t *c = ud;
    int handshake;

    /* While closing, what the client still sends has nowhere to go; what
     * libssh wrote last (a DISCONNECT, say) still goes to the client. */
    if (c->state == CONN_CLOSING && dir == RELAY_C2S) {
        free(buf);
        return;
    }
    if (dir == RELAY_C2S && !c->pair_open && conn__start_session(c) != 0) {
        free(buf);
        return;
    }
    if (dir == RELAY_S2C && c->ident_skip > 0) {
        if (conn__skip_ident(c, &buf, &len) != 0 || len == 0) {
            free(buf);
            return;
        }
    }
    handshake = c->state < CONN_OPEN;
    if (handshake && dir == RELAY_S2C) {
        conn__cork(c, 1);
    }
    wire_on_data(&c->wire, dir == RELAY_C2S ? WIRE_C2S : WIRE_S2C, buf, len);
    if (handshake && dir == RELAY_S2C) {
        conn__cork(c, 0); /* what the wire did not hold goes out now */
    }
    /* After a read from the client, and after what libssh said went out
     * to it (sending is what puts Linux back into delayed-ACK mode). */
    if (handshake && !c->close_requested) {
        conn__quickack(c);
    }
}

static void
conn__relay_end(conn_t *c, relay_dir_t dir, const char *why)
{
    if (dir == RELAY_C2S) {
        c->tcp_eof = 1;
        conn__client_gone(c);
        if (why == NULL) {
            conn_close(c, CONN_BY_CLIENT, 0, "connection closed by client");
        } else {
            conn_close(c, CONN_BY_CLIENT, 0, "client connection error: %s", why);
        }
        return;
    }
    c->pair_eof = 1;
    conn_close(c, CONN_BY_SERVER, 0, "libssh closed the session");
    conn__pair_drained(c);
}

static void
conn__relay_eof(void *ud, relay_dir_t dir)
{
    conn__relay_end(ud, dir, NULL);
}

static void
conn__relay_error(void *ud, relay_dir_t dir, relay_op_t op, int status)
{
    conn_t *c = ud;

    if (op == RELAY_OP_READ) {
        conn__relay_end(c, dir, uv_strerror(status));
    } else if (dir == RELAY_S2C) {
        c->tcp_eof = 1;
        conn_close(c, CONN_BY_CLIENT, 0, "write to client failed: %s", uv_strerror(status));
    } else {
        conn_close(c, CONN_BY_SERVER, 0, "write to libssh failed: %s", uv_strerror(status));
    }
}

static const relay_ops_t conn__relay_ops = {
    .on_data = conn__relay_data,
    .on_eof = conn__relay_eof,
    .on_error = conn__relay_error,
};

/* --- what the wire asks for ----------------------------------------------- */

static void
conn__wire_to_client(void *ud, char *buf, size_t len)
{
    conn_t *c = ud;

    relay_write(&c->relay, RELAY_S2C, buf, len);
}

static void
conn__wire_to_server(void *ud, char *buf, size_t len)
{
    conn_t *c = ud;

    relay_write(&c->relay, RELAY_C2S, buf, len);
}

static void
conn__wire_hang_up(void *ud, wire_hangup_t mode, const char *reason)
{
    conn_t *c = ud;

    c->close_mode = mode == WIRE_HANGUP_RST ? CONN_CLOSE_RST
                  : mode == WIRE_HANGUP_FIN ? CONN_CLOSE_FIN
                  : CONN_CLOSE_GRACEFUL;
    conn_close(c, CONN_BY_SERVER, 0, "%s", reason);
}

static void
conn__wire_close(void *ud, int disconnect, const char *reason)
{
    conn_close(ud, CONN_BY_SERVER, disconnect, "%s", reason);
}

static int
conn__wire_closing(void *ud)
{
    const conn_t *c = ud;

    return c->close_requested;
}

static void
conn__wire_held(void *ud, size_t n)
{
    conn_t *c = ud;

    relay_set_held(&c->relay, RELAY_S2C, n);
}

static void
conn__wire_stalled(void *ud)
{
    conn_t *c = ud;

    conn__timer_stop(c, CONN_TIMER_GRACE); /* a stalled box has no LoginGraceTime */
}

static void
conn__wire_timer_start(void *ud, wire_timer_t t, uint64_t ms)
{
    conn__timer_start(ud, (int)t, ms);
}

static void
conn__wire_timer_stop(void *ud, wire_timer_t t)
{
    conn__timer_stop(ud, (int)t);
}

static const wire_ops_t conn__wire_ops = {
    .to_client = conn__wire_to_client,
    .to_server = conn__wire_to_server,
    .hang_up = conn__wire_hang_up,
    .close = conn__wire_close,
    .closing = conn__wire_closing,
    .held = conn__wire_held,
    .stalled = conn__wire_stalled,
    .timer_start = conn__wire_timer_start,
    .timer_stop = conn__wire_timer_stop,
};

/* --- what auth and channels ask for (ssh/sess.h) ----------------------------- */

static void
conn__sess_close(void *owner, sess_closer_t by, int send_disconnect, const char *reason)
{
    conn_close(owner, by == SESS_BY_CLIENT ? CONN_BY_CLIENT : CONN_BY_SERVER, send_disconnect,
               "%s", reason);
}

static void
conn__sess_authenticated(void *owner)
{
    conn_t *c = owner;

    conn_set_state(c, CONN_OPEN);
    /* HostKeyRotation connection: the session's keys are its own, made
     * for it and gone since: no notification (no real sshd does that). */
    if (c->srv->profile->hostkey_rotation != 2) {
        sshd_notify_hostkeys(&c->ssh->sshd, c->srv->profile, c->srv->hostkeys);
    }
    wire_stage_after_output(&c->wire, FAULT_STAGE_AUTH_SUCCESS);
}

static void
conn__sess_channel_opened(void *owner)
{
    conn_t *c = owner;

    wire_stage_after_output(&c->wire, FAULT_STAGE_CHANNEL_OPEN);
}

/* A failed authentication's answer waits (AuthFailureDelay): libssh reads
 * nothing more meanwhile, as sshd reads nothing while it sleeps, and the
 * connection's timer says when to answer. */
static void
conn__sess_hold(void *owner, uint64_t ms)
{
    conn_t *c = owner;

    sshd_hold(&c->ssh->sshd, 1);
    conn__timer_start(c, CONN_TIMER_AUTH_DELAY, ms);
}

static void
conn__on_auth_delay(conn_t *c)
{
    if (c->ssh == NULL) {
        return;
    }
    sshd_hold(&c->ssh->sshd, 0);
    if (c->close_requested) {
        return;
    }
    auth_libssh_enter(&c->ssh->sess);
    auth_release(&c->ssh->sess, &c->ssh->auth);
    auth_libssh_leave(&c->ssh->sess, &c->ssh->auth);
    /* The answer is queued in libssh: the run flushes it and reads on. */
    sshd_drive(&c->ssh->sshd);
}

static const sess_ops_t conn__sess_ops = {
    .close = conn__sess_close,
    .authenticated = conn__sess_authenticated,
    .channel_opened = conn__sess_channel_opened,
    .hold = conn__sess_hold,
};

static void
conn__sess_init(conn_t *c)
{
    sess_t *s = &c->ssh->sess;

    memset(s, 0, sizeof *s);
    s->profile = c->srv->profile;
    s->log = c->srv->log;
    s->conn_id = c->id;
    s->keyrings = c->srv->keyrings;
    s->log_passwords = c->srv->log_passwords;
    s->session = c->session;
    s->user = c->ssh->auth.user;
    s->ops = &conn__sess_ops;
    s->owner = c;
    s->wire.type = -1;
}

/* --- what the libssh session asks for --------------------------------------- */

static void
conn__sshd_kex_done(void *ud)
{
    conn_t *c = ud;

    conn_set_state(c, CONN_AUTH);
    wire_compact(&c->wire); /* what was agreed is logged: the offers can go */
}

static int
conn__sshd_request(void *ud, ssh_message msg)
{
    conn_t *c = ud;

    switch (ssh_message_type(msg)) {
    case SSH_REQUEST_AUTH:
        return auth_handle(&c->ssh->sess, &c->ssh->auth, msg);
    case SSH_REQUEST_CHANNEL_OPEN:
        return channel_handle_open(&c->ssh->sess, &c->ssh->channels, msg,
                                   c->ssh->auth.authenticated);
    case SSH_REQUEST_CHANNEL:
        return channel_handle_request(&c->ssh->sess, &c->ssh->channels, msg);
    default:
        return 1;
    }
}

/* libssh runs: auth watches its packet log meanwhile (ssh/auth.h says why). */
static void
conn__sshd_enter(void *ud)
{
    conn_t *c = ud;

    auth_libssh_enter(&c->ssh->sess);
}

static void
conn__sshd_leave(void *ud)
{
    conn_t *c = ud;

    auth_libssh_leave(&c->ssh->sess, &c->ssh->auth);
}

static void
conn__sshd_after_run(void *ud)
{
    conn_t *c = ud;
    int fd = -1;
    int inq = 0;

    auth_libssh_enter(&c->ssh->sess);
    channel_flush_all(&c->ssh->channels);
    auth_libssh_leave(&c->ssh->sess, &c->ssh->auth);
    if (c->close_requested) {
        return;
    }
    /* What libssh wrote and the wire has not seen yet is still queued in
     * the socketpair. */
    if (uv_fileno((uv_handle_t *)&c->ssh->pair, &fd) == 0 && ioctl(fd, FIONREAD, &inq) != 0) {
        inq = 0;
    }
    inq -= inq >= c->ident_skip ? c->ident_skip : inq; /* dropped, never fed */
    wire_after_libssh(&c->wire, inq > 0 ? (size_t)inq : 0);
}

static void
conn__sshd_close(void *ud, int by_client, const char *reason)
{
    conn_close(ud, by_client ? CONN_BY_CLIENT : CONN_BY_SERVER, 0, "%s", reason);
}

static int
conn__sshd_closing(void *ud)
{
    const conn_t *c = ud;

    return c->close_requested;
}

static void
conn__sshd_teardown(void *ud)
{
    conn_maybe_teardown(ud);
}

static int
conn__sshd_client_gone(void *ud)
{
    const conn_t *c = ud;

    return c->tcp_eof;
}

static const tap_kexinit_t *
conn__sshd_kexinit(void *ud, tap_dir_t dir)
{
    const conn_t *c = ud;

    return wire_kexinit(&c->wire, dir);
}

static const sshd_ops_t conn__sshd_ops = {
    .kex_done = conn__sshd_kex_done,
    .on_request = conn__sshd_request,
    .after_run = conn__sshd_after_run,
    .enter = conn__sshd_enter,
    .leave = conn__sshd_leave,
    .close = conn__sshd_close,
    .closing = conn__sshd_closing,
    .teardown = conn__sshd_teardown,
    .client_gone = conn__sshd_client_gone,
    .kexinit = conn__sshd_kexinit,
};

/* --- accept ---------------------------------------------------------------- */

static void
conn__peer_name(conn_t *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char host[48] = "?"; /* INET6_ADDRSTRLEN */
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

/* sshd's own MaxStartups, past the limit: it says so and hangs up
 * (sshd 9.2's drop_connection(), in the listener: write(), close()). It
 * never reads the connection, so whether the client's identification is in
 * at close() decides what the kernel sends: RST (bytes unread) or FIN. With
 * sshd that is a race on every connection (client-tests/twins: OpenSSH
 * mostly reads a reset, paramiko mostly the close, each sometimes the
 * other). A mock that plays it must say the same thing every run, so the
 * race is settled the way it goes when the client is quick, as every one of
 * the seven clients sends its identification at once: the drop waits for
 * the client's first bytes (DROP_WAIT_MS at most) and then resets. A
 * client that says nothing in that time, or hangs up first, gets FIN. */
#define CONN_DROP_WAIT_MS 2000

static void
conn__drop_now(conn_t *c, int client_spoke)
{
    const profile_t *p = c->srv->profile;

    conn__timer_stop(c, CONN_TIMER_DROP);
    (void)uv_read_stop((uv_stream_t *)&c->tcp);
    c->close_mode = client_spoke ? CONN_CLOSE_RST : CONN_CLOSE_EXIT;
    conn_close(c, CONN_BY_SERVER, 0, "past MaxStartups %d:%d:%d",
               p->max_startups_start, p->max_startups_rate, p->max_startups_full);
}

static void
conn__drop_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    /* What the client says is thrown away: one small buffer per loop. */
    static _Thread_local char sink[64];

    (void)h;
    (void)suggested;
    *buf = uv_buf_init(sink, sizeof sink);
}

static void
conn__drop_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = CONN_OF(s, tcp); /* its data is the relay's */

    (void)buf;
    if (nread == 0 || c->close_requested) {
        return; /* EAGAIN, or already on its way out */
    }
    if (nread < 0) {
        c->tcp_eof = 1; /* the client hung up first: nothing to reset */
    }
    conn__drop_now(c, nread > 0);
}

static void
conn__maxstartups_drop(conn_t *c)
{
    static const char msg[] = "Exceeded MaxStartups\r\n";
    uv_buf_t buf = uv_buf_init((char *)msg, sizeof msg - 1);

    CONN_LOG(c, "maxstartups_drop", NULL);
    /* Into the kernel now, as sshd's write(). A fresh socket's send buffer
     * takes 22 bytes whole. */
    (void)uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, conn__drop_alloc, conn__drop_read) != 0) {
        conn__drop_now(c, 0);
        return;
    }
    conn__timer_start(c, CONN_TIMER_DROP, CONN_DROP_WAIT_MS);
}

/* Decides the faults and sshd's MaxStartups for the new connection, in that
 * order of draws (a seeded run replays). */
static void
conn__decide(conn_t *c)
{
    const conn_env_t *env = c->srv;
    const profile_t *p = env->profile;
    size_t others = env->counts->unauth - 1; /* this one is counted already */

    wire_init(&c->wire, p, env->log, c->id, others, env->rng, &conn__wire_ops, c);
    if (p->max_startups_full > 0 &&
        fault_maxstartups_drop(p->max_startups_start, p->max_startups_rate,
                               p->max_startups_full, others,
                               (unsigned)(fault_rng_next(env->rng) % 100))) {
        c->maxstartups_drop = 1;
    }
}

/* The client spoke: the socketpair and the libssh session come now. */
static int
conn__start_session(conn_t *c)
{
    const conn_env_t *env = c->srv;
    int sv[2] = { -1, -1 };
    int rc;

    c->pair_open = 1; /* once, whatever happens */
    c->ssh = calloc(1, sizeof *c->ssh);
    if (c->ssh == NULL) {
        conn_close(c, CONN_BY_SERVER, 0, "out of memory");
        return -1;
    }
    c->ssh->conn = c;
    uv_pipe_init(env->loop, &c->ssh->pair, 0);
    c->handles++;
    relay_set_end(&c->relay, RELAY_S2C, (uv_stream_t *)&c->ssh->pair);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        conn_close(c, CONN_BY_SERVER, 0, "socketpair: %s", strerror(errno));
        return -1;
    }
    rc = uv_pipe_open(&c->ssh->pair, sv[0]);
    if (rc != 0) {
        close(sv[0]);
    } else {
        rc = relay_start_one(&c->relay, RELAY_S2C); /* the pipe owns sv[0] now */
    }
    if (rc != 0) {
        close(sv[1]);
        conn_close(c, CONN_BY_SERVER, 0, "socketpair to libssh: %s", uv_strerror(rc));
        return -1;
    }
    rc = sshd_session_start(&c->ssh->sshd, env->loop, env->profile, env->bind, sv[1],
                            env->log, c->id, &conn__sshd_ops, c);
    c->session = sshd_session(&c->ssh->sshd);
    conn__sess_init(c);
    if (rc != 0) {
        conn_close(c, CONN_BY_SERVER, 0, "cannot start the SSH session");
        return -1;
    }
    c->handles++; /* sshd's poll, closed by sshd_session_shutdown() */
    conn_set_state(c, CONN_KEX);
    sshd_drive(&c->ssh->sshd); /* libssh's identification: dropped, the client has ours */
    return c->close_requested ? -1 : 0;
}

/* Our identification, worded as libssh words it, through the wire (which
 * plays its faults on it and rewrites it as it would libssh's). */
static void
conn__send_ident(conn_t *c)
{
    char line[CONN_IDENT_MAX];
    size_t n = conn__ident_line(c, line, sizeof line);
    char *copy = malloc(n);

    if (copy == NULL) {
        conn_close(c, CONN_BY_SERVER, 0, "out of memory");
        return;
    }
    memcpy(copy, line, n);
    c->ident_skip = (unsigned char)n;
    wire_on_data(&c->wire, WIRE_S2C, copy, n);
}

conn_t *
conn_accept(const conn_env_t *env, uv_stream_t *listener)
{
    const profile_t *p = env->profile;
    conn_t *c = NULL;
    int rc;

    c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL; /* the pending connection stays in the backlog */
    }
    c->srv = env;
    c->state = CONN_ACCEPTED;
    c->id = ++env->counts->next_id;
    c->unauth = 1;
    env->counts->unauth++;
    uv_tcp_init(env->loop, &c->tcp);
    c->handles++;
    uv_timer_init(env->loop, &c->timer);
    c->timer.data = c;
    c->handles++;
    /* libssh's end comes at the client's first byte (conn__start_session). */
    relay_init(&c->relay, (uv_stream_t *)&c->tcp, NULL, &conn__relay_ops, c);
    rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
    if (rc != 0) {
        c->tcp_eof = 1;
        conn_close(c, CONN_BY_SERVER, 0, "accept: %s", uv_strerror(rc));
        return c;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn__peer_name(c);
    CONN_LOG(c, "accept", "peer", c->peer, NULL);

    if (env->draw_lock != NULL) {
        /* One sequence of draws for all workers: sequential connections
         * replay whichever worker takes them. */
        uv_mutex_lock(env->draw_lock);
        conn__decide(c);
        uv_mutex_unlock(env->draw_lock);
    } else {
        conn__decide(c);
    }
    if (c->maxstartups_drop) {
        conn__maxstartups_drop(c);
        return c;
    }
    if (p->login_grace_time > 0) {
        conn__timer_start(c, CONN_TIMER_GRACE, (uint64_t)p->login_grace_time * 1000u);
    }
    rc = relay_start_one(&c->relay, RELAY_C2S);
    if (rc != 0) {
        conn_close(c, CONN_BY_SERVER, 0, "relay: %s", uv_strerror(rc));
        return c;
    }
    wire_stage(&c->wire, FAULT_STAGE_ACCEPT);
    if (c->close_requested) {
        return c;
    }
    conn__send_ident(c);
    return c;
}
