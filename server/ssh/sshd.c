#include "ssh/sshd.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sshmock/sshmock.h>

#include "net/conn.h"
#include "base/util.h"

int
sshd_bind_new(const profile_t *p, const hostkey_set_t *keys, ssh_bind *out,
              char *err, size_t errlen)
{
    static const struct {
        enum ssh_bind_options_e opt;
        size_t offset;
        const char *keyword;
    } lists[] = {
        { SSH_BIND_OPTIONS_KEY_EXCHANGE, offsetof(profile_t, kex_algorithms), "KexAlgorithms" },
        { SSH_BIND_OPTIONS_CIPHERS_C_S, offsetof(profile_t, ciphers), "Ciphers" },
        { SSH_BIND_OPTIONS_CIPHERS_S_C, offsetof(profile_t, ciphers), "Ciphers" },
        { SSH_BIND_OPTIONS_HMAC_C_S, offsetof(profile_t, macs), "MACs" },
        { SSH_BIND_OPTIONS_HMAC_S_C, offsetof(profile_t, macs), "MACs" },
        { SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS, offsetof(profile_t, hostkey_algorithms),
          "HostKeyAlgorithms" },
        { SSH_BIND_OPTIONS_PUBKEY_ACCEPTED_KEY_TYPES,
          offsetof(profile_t, pubkey_accepted_algorithms), "PubkeyAcceptedAlgorithms" },
    };
    ssh_bind b = NULL;
    bool process_config = false;
    int verbosity = SSH_LOG_NOLOG;
    size_t i;

    *out = NULL;
    b = ssh_bind_new();
    if (b == NULL) {
        snprintf(err, errlen, "libssh: cannot allocate a bind");
        return SSHMOCK_ENOMEM;
    }
    /* The profile is the whole truth: never let /etc/ssh/libssh_server_config
     * change what a scenario offers. */
    ssh_bind_options_set(b, SSH_BIND_OPTIONS_PROCESS_CONFIG, &process_config);
    ssh_bind_options_set(b, SSH_BIND_OPTIONS_LOG_VERBOSITY, &verbosity);

    for (i = 0; i < UTIL_ARRAY_SIZE(lists); i++) {
        const char *v = *(char *const *)((const char *)p + lists[i].offset);
        if (v != NULL && ssh_bind_options_set(b, lists[i].opt, v) != SSH_OK) {
            snprintf(err, errlen, "%s: %s %s: libssh refused it: %s", p->path,
                     lists[i].keyword, v, ssh_get_error(b));
            goto fail;
        }
    }

    /* libssh always sends "SSH-2.0-" followed by its banner option, so an
     * identification of that form is given to libssh as is. Any other form
     * (SSH-1.99, SSH-1.5, text before it) is played by the wire tap. */
    if (p->identification != NULL && strncmp(p->identification, "SSH-2.0-", 8) == 0) {
        if (ssh_bind_options_set(b, SSH_BIND_OPTIONS_BANNER, p->identification + 8) != SSH_OK) {
            snprintf(err, errlen, "%s: Identification: libssh refused it", p->path);
            goto fail;
        }
    }

    for (i = 0; i < keys->n; i++) {
        ssh_key k = ssh_key_dup(keys->keys[i].key);
        if (k == NULL || ssh_bind_options_set(b, SSH_BIND_OPTIONS_IMPORT_KEY, k) != SSH_OK) {
            ssh_key_free(k);
            snprintf(err, errlen, "%s: HostKey %s: libssh refused it", p->path,
                     keys->keys[i].source);
            goto fail;
        }
        /* The bind owns k now. */
    }
    *out = b;
    return 0;
fail:
    ssh_bind_free(b);
    return SSHMOCK_ELIBSSH;
}

static void sshd__on_poll(uv_poll_t *h, int status, int events);

/* Key exchange has finished: log what was agreed and move on to
 * authentication. Runs once, from whichever comes first, the return of
 * ssh_handle_key_exchange() or the first message after NEWKEYS. */
static void
sshd__kex_done(conn_t *c)
{
    const tap_kexinit_t *ck = tap_kexinit(&c->wire.tap, TAP_DIR_C2S);
    const tap_kexinit_t *sk = tap_kexinit(&c->wire.tap, TAP_DIR_S2C);
    char kex[128] = "";
    char hostkey[128] = "";

    if (c->state != CONN_KEX) {
        return;
    }
    /* What was agreed, by RFC 4253's rule on the offers the tap saw:
     * libssh 0.10's ssh_get_kex_algo() has no name for group exchange. */
    if (ck != NULL && sk != NULL) {
        tap_negotiate(ck->lists[TAP_KEX_ALGS], sk->lists[TAP_KEX_ALGS], kex, sizeof kex);
        tap_negotiate(ck->lists[TAP_KEX_HOSTKEY_ALGS], sk->lists[TAP_KEX_HOSTKEY_ALGS],
                      hostkey, sizeof hostkey);
    }
    CONN_LOG(c, "kex_done",
             "kex", kex[0] != '\0' ? kex : ssh_get_kex_algo(c->session),
             "hostkey", hostkey[0] != '\0' ? hostkey : NULL,
             "cipher_c2s", ssh_get_cipher_in(c->session),
             "cipher_s2c", ssh_get_cipher_out(c->session),
             "mac_c2s", ssh_get_hmac_in(c->session),
             "mac_s2c", ssh_get_hmac_out(c->session), NULL);
    conn_set_state(c, CONN_AUTH);
}

static int
sshd__on_message(ssh_session session, ssh_message msg, void *userdata)
{
    conn_t *c = userdata;
    const char *svc = NULL;

    (void)session;
    if (c->close_requested) {
        return 1; /* default reply; the connection is going */
    }
    sshd__kex_done(c);
    switch (ssh_message_type(msg)) {
    case SSH_REQUEST_SERVICE:
        svc = ssh_message_service_service(msg);
        if (svc != NULL && (strcmp(svc, "ssh-userauth") == 0 ||
                            strcmp(svc, "ssh-connection") == 0)) {
            ssh_message_service_reply_success(msg);
            return 0;
        }
        CONN_LOG(c, "service_refused", "service", svc != NULL ? svc : "", NULL);
        return 1;
    case SSH_REQUEST_AUTH:
        return auth_handle(&c->sess, &c->auth, msg);
    case SSH_REQUEST_CHANNEL_OPEN:
        return channel_handle_open(&c->sess, &c->channels, msg, c->auth.authenticated);
    case SSH_REQUEST_CHANNEL:
        return channel_handle_request(&c->sess, &c->channels, msg);
    case SSH_REQUEST_GLOBAL:
        CONN_LOG(c, "global_request_refused", NULL);
        return 1;
    default:
        return 1;
    }
}

/* The owner's ops auth and channels call back through (ssh/sess.h). */
static void
sshd__sess_close(void *owner, sess_closer_t by, int send_disconnect, const char *reason)
{
    conn_close(owner, by == SESS_BY_CLIENT ? CONN_BY_CLIENT : CONN_BY_SERVER, send_disconnect,
               "%s", reason);
}

static void
sshd__sess_authenticated(void *owner)
{
    conn_set_state(owner, CONN_OPEN);
    wire_stage_after_output(owner, FAULT_STAGE_AUTH_SUCCESS);
}

static void
sshd__sess_channel_opened(void *owner)
{
    wire_stage_after_output(owner, FAULT_STAGE_CHANNEL_OPEN);
}

static const sess_ops_t sshd__sess_ops = {
    .close = sshd__sess_close,
    .authenticated = sshd__sess_authenticated,
    .channel_opened = sshd__sess_channel_opened,
};

static void
sshd__sess_init(conn_t *c)
{
    sess_t *s = &c->sess;

    memset(s, 0, sizeof *s);
    s->profile = c->srv->profile;
    s->log = &c->srv->log;
    s->conn_id = c->id;
    s->keyrings = c->srv->keyrings;
    s->log_passwords = c->srv->log_passwords;
    s->session = c->session;
    s->user = c->auth.user;
    s->ops = &sshd__sess_ops;
    s->owner = c;
    s->wire.type = -1;
}

int
sshd_session_start(conn_t *c, int fd)
{
    server_t *s = c->srv;
    int rc;

    c->session = ssh_new();
    if (c->session == NULL) {
        close(fd);
        return SSHMOCK_ENOMEM;
    }
    sshd__sess_init(c);
    if (s->profile->hostkey_rotation == 2) {
        /* HostKeyRotation connection: this session gets keys of its own. */
        hostkey_set_t fresh;
        ssh_bind b = NULL;
        char err[256];

        if (hostkey_load_all(s->profile, "", &fresh, err, sizeof err) != 0 ||
            sshd_bind_new(s->profile, &fresh, &b, err, sizeof err) != 0) {
            hostkey_set_free(&fresh);
            close(fd);
            CONN_LOG(c, "error", "where", "HostKeyRotation", "reason", err, NULL);
            return SSHMOCK_EHOSTKEY;
        }
        CONN_LOG(c, "hostkey", "type", fresh.keys[0].type, "fingerprint",
                 fresh.keys[0].fingerprint, "rotation", "connection", NULL);
        rc = ssh_bind_accept_fd(b, c->session, fd);
        if (rc != SSH_OK && ssh_get_fd(c->session) != fd) {
            close(fd);
        }
        ssh_bind_free(b);
        hostkey_set_free(&fresh);
        if (rc != SSH_OK) {
            return SSHMOCK_ELIBSSH;
        }
    } else {
        rc = ssh_bind_accept_fd(s->bind, c->session, fd);
    }
    if (rc != SSH_OK) {
        /* When libssh failed before taking the fd, it is still ours. */
        if (ssh_get_fd(c->session) != fd) {
            close(fd);
        }
        CONN_LOG(c, "error", "where", "ssh_bind_accept_fd", "reason",
                 ssh_get_error(s->bind), NULL);
        return SSHMOCK_ELIBSSH;
    }
    ssh_set_blocking(c->session, 0);
    /* Installed before key exchange: messages that arrive in the same read as
     * the client's NEWKEYS are dispatched while ssh_handle_key_exchange() is
     * still running, and libssh would queue them unseen otherwise. */
    ssh_set_message_callback(c->session, sshd__on_message, c);

    rc = uv_poll_init(s->loop, &c->poll, fd);
    if (rc != 0) {
        CONN_LOG(c, "error", "where", "uv_poll_init", "reason", uv_strerror(rc), NULL);
        return SSHMOCK_EIO;
    }
    c->poll.data = c;
    c->handles++;
    c->ssh_fd = fd;
    conn_set_state(c, CONN_KEX);
    sshd_drive(c); /* sends the identification at once */
    return 0;
}

static void
sshd__rearm(conn_t *c)
{
    int want = UV_READABLE;
    int rc;

    if (ssh_get_poll_flags(c->session) & SSH_WRITE_PENDING) {
        want |= UV_WRITABLE;
    }
    if (want == c->poll_events) {
        return;
    }
    rc = uv_poll_start(&c->poll, want, sshd__on_poll);
    if (rc != 0) {
        conn_close(c, CONN_BY_SERVER, 0, "uv_poll_start: %s", uv_strerror(rc));
        return;
    }
    c->poll_events = want;
}

/* Who ended it, as far as libssh can tell. */
static void
sshd__check_disconnect(conn_t *c)
{
    int st = ssh_get_status(c->session);
    const char *msg = NULL;

    if (!(st & (SSH_CLOSED | SSH_CLOSED_ERROR)) || c->close_requested) {
        return;
    }
    msg = ssh_get_disconnect_message(c->session);
    if (msg != NULL && strstr(msg, "no disconnect message") == NULL) {
        conn_close(c, CONN_BY_CLIENT, 0, "client disconnected: %s", msg);
    } else {
        conn_close(c, CONN_BY_CLIENT, 0, "connection closed by client");
    }
}

void
sshd_drive(conn_t *c)
{
    int rc;

    if (c->state == CONN_CLOSING || c->session == NULL) {
        return;
    }
    c->in_libssh = 1;
    auth_libssh_enter(&c->sess);
    if (c->state == CONN_KEX) {
        rc = ssh_handle_key_exchange(c->session);
            if (rc == SSH_OK) {
            sshd__kex_done(c);
        } else if (rc == SSH_ERROR && !c->close_requested) {
            const char *why = ssh_get_error(c->session);
            if (strstr(why, "Received SSH_MSG_DISCONNECT") != NULL) {
                /* The client gave up and said why (a host key it does not
                 * trust, say): its close, not ours. */
                CONN_LOG(c, "kex_failed", "reason", why, NULL);
                conn_close(c, CONN_BY_CLIENT, 0, "client disconnected during key exchange: %s", why);
            } else if (c->tcp_eof || strstr(why, "disconnected") != NULL ||
                       strstr(why, "Connection closed") != NULL) {
                sshd__check_disconnect(c);
                conn_close(c, CONN_BY_CLIENT, 0, "client closed during key exchange: %s", why);
            } else {
                CONN_LOG(c, "kex_failed", "reason", why, NULL);
                conn_close(c, CONN_BY_SERVER, 0, "key exchange failed: %s", why);
            }
        }
    }
    if ((c->state == CONN_AUTH || c->state == CONN_OPEN) && !c->close_requested) {
        if (c->event == NULL) {
            c->event = ssh_event_new();
            if (c->event == NULL || ssh_event_add_session(c->event, c->session) != SSH_OK) {
                auth_libssh_leave(&c->sess, &c->auth);
                c->in_libssh = 0;
                conn_close(c, CONN_BY_SERVER, 0, "cannot create a libssh event");
                conn_maybe_teardown(c);
                return;
            }
        }
        rc = ssh_event_dopoll(c->event, 0);
        if (rc == SSH_ERROR) {
            sshd__check_disconnect(c);
            if (!c->close_requested) {
                conn_close(c, CONN_BY_SERVER, 0, "libssh: %s", ssh_get_error(c->session));
            }
        }
    }
    auth_libssh_leave(&c->sess, &c->auth);
    c->in_libssh = 0;

    if (!c->close_requested) {
        sshd__check_disconnect(c);
    }
    if (!c->close_requested) {
        c->in_libssh = 1;
        auth_libssh_enter(&c->sess);
        channel_flush_all(&c->channels);
        auth_libssh_leave(&c->sess, &c->auth);
        c->in_libssh = 0;
    }
    if (!c->close_requested) {
        wire_after_libssh(c);
    }
    if (c->close_requested) {
        conn_maybe_teardown(c);
        return;
    }
    sshd__rearm(c);
}

static void
sshd__on_poll(uv_poll_t *h, int status, int events)
{
    conn_t *c = h->data;

    (void)events;
    if (status < 0) {
        conn_close(c, CONN_BY_SERVER, 0, "poll error: %s", uv_strerror(status));
        conn_maybe_teardown(c);
        return;
    }
    sshd_drive(c);
}

void
sshd_session_shutdown(conn_t *c)
{
    if (c->poll.data != NULL && !uv_is_closing((uv_handle_t *)&c->poll)) {
        /* Close, not just stop, the poll handle before libssh closes the fd:
         * closing a stopped uv_poll later deletes the fd *number* from epoll
         * again, and by then the next accept may own that number. */
        uv_close((uv_handle_t *)&c->poll, conn_on_handle_closed);
        c->poll_events = 0;
    }
    if (c->session == NULL) {
        return;
    }

    /* ssh_disconnect() frees libssh's channels: ours must go first. */
    channel_free_all(&c->channels);
    if (c->send_disconnect && ssh_is_connected(c->session)) {
        ssh_session_set_disconnect_message(c->session, c->close_reason);
        ssh_disconnect(c->session);
    } else {
        ssh_silent_disconnect(c->session);
    }
}

void
sshd_session_free(conn_t *c)
{
    if (c->event != NULL) {
        if (c->session != NULL) {
            ssh_event_remove_session(c->event, c->session);
        }
        ssh_event_free(c->event);
        c->event = NULL;
    }
    if (c->session != NULL) {
        ssh_free(c->session);
        c->session = NULL;
    }
}
