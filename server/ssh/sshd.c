#include "ssh/sshd.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sshmock/sshmock.h>

#include "base/util.h"
#include "profile/algo.h"
#include "profile/engine.h"
#include "wire/offer.h"

/* The engine (profile/engine.h): each patch of the bundled libssh that
 * adds an API defines a LIBSSH_SSHMOCK_* macro, tested here, so the system
 * engine still builds and keeps the behaviour it had. */

void
sshd_set_disconnect_reason(sshd_t *sd, int send_disconnect)
{
    sd->disconnect_reason = UTIL_DISCONNECT_REASON_OF(send_disconnect);
}

/* After ssh_bind_accept_fd(), before key exchange: what the profile decides
 * that the bind cannot carry. */
static void
sshd__session_setup(sshd_t *sd, const profile_t *p)
{
#ifdef LIBSSH_SSHMOCK_STRICT_KEX_CONTROL
    /* The marker follows the played server (wire/offer.c): a server that
     * predates Terrapin offers none. */
    ssh_server_set_strict_kex(sd->session, offer_strict_kex(p));
#else
    (void)sd;
    (void)p;
#endif
}

/* What the bind says of the played server beyond its lists: the DH groups
 * it offers and its identification line. */
static int
sshd__bind_identity(ssh_bind b, const profile_t *p, char *err, size_t errlen)
{
    /* The groups diffie-hellman-group-exchange picks from (else libssh reads
     * /etc/ssh/moduli, which would make the scenario depend on the host). */
    if (p->moduli_file != NULL &&
        ssh_bind_options_set(b, SSH_BIND_OPTIONS_MODULI, p->moduli_file) != SSH_OK) {
        snprintf(err, errlen, "%s: ModuliFile %s: libssh refused it", p->path, p->moduli_file);
        return -1;
    }

    /* libssh sends "SSH-2.0-" followed by its banner option, so an
     * identification of that form is given to libssh as is; the bundled
     * engine also sends a whole "SSH-1.99-..." line (patch 004), so the key
     * exchange hashes what the client saw. Any other form (SSH-1.5) is
     * played by the wire tap. */
    if (p->identification != NULL && engine_sends_identification(p->identification)) {
        const char *banner = p->identification + 8;

        if (strncmp(p->identification, "SSH-2.0-", 8) != 0) {
            banner = p->identification;
        }
        if (ssh_bind_options_set(b, SSH_BIND_OPTIONS_BANNER, banner) != SSH_OK) {
            snprintf(err, errlen, "%s: Identification: libssh refused it", p->path);
            return -1;
        }
    }
    return 0;
}

/* What OpenSSH 9.2's sshd lists in server-sig-algs: every signature
 * algorithm it implements (sshkey_alg_list), whatever its
 * PubkeyAcceptedAlgorithms says (measured with ssh -v against the twin). */
#define SSHD_OPENSSH_SIG_ALGS \
    "ssh-ed25519,sk-ssh-ed25519@openssh.com,ecdsa-sha2-nistp256," \
    "ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ecdsa-sha2-nistp256@openssh.com," \
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com,ssh-dss,ssh-rsa,rsa-sha2-256," \
    "rsa-sha2-512"

/* Does the profile play an OpenSSH of at least major.minor? */
static int
sshd__openssh_at_least(const profile_t *p, int major, int minor)
{
    int ma = 0;
    int mi = 0;

    if (!offer_openssh_version(p->identification, &ma, &mi)) {
        return 0;
    }
    return ma > major || (ma == major && mi >= minor);
}

/*
 * The EXT_INFO sshd sends: with OpenSSH 8.9 and later (publickey-hostbound
 * came with 8.9), 9.2's full server-sig-algs and
 * publickey-hostbound@openssh.com. Any other profile keeps libssh's
 * (the accepted algorithms). The system libssh cannot say it: there the
 * EXT_INFO stays libssh's (docs: known differences).
 */
static void
sshd__ext_info(sshd_t *sd, const profile_t *p)
{
#ifdef SSHMOCK_ENGINE_BUNDLED
    if (sshd__openssh_at_least(p, 8, 9)) {
        ssh_server_set_ext_info(sd->session, SSHD_OPENSSH_SIG_ALGS, 1);
    }
#else
    (void)sd;
    (void)p;
    (void)sshd__openssh_at_least;
#endif
}

void
sshd_notify_hostkeys(sshd_t *sd, const profile_t *p, const hostkey_set_t *keys)
{
#ifdef SSHMOCK_ENGINE_BUNDLED
    ssh_key pub[PROFILE_MAX_HOSTKEYS];
    size_t i;

    if (sd->session == NULL || keys == NULL || keys->n == 0 || p->hostkey_none ||
        !sshd__openssh_at_least(p, 6, 8)) {
        return;
    }
    for (i = 0; i < keys->n && i < PROFILE_MAX_HOSTKEYS; i++) {
        pub[i] = keys->keys[i].key;
    }
    if (ssh_send_hostkeys_notification(sd->session, pub, i) != SSH_OK) {
        log_event(sd->log, sd->id, "error", "where", "hostkeys-00@openssh.com", "reason",
                  ssh_get_error(sd->session), NULL);
    }
#else
    (void)sd;
    (void)p;
    (void)keys;
#endif
}

int
sshd_bind_new(const profile_t *p, const hostkey_set_t *keys, ssh_bind *out,
              char *err, size_t errlen)
{
    static const struct {
        enum ssh_bind_options_e opt;
        size_t offset;
        algo_kind_t kind;
    } lists[] = {
        { SSH_BIND_OPTIONS_KEY_EXCHANGE, offsetof(profile_t, kex_algorithms), ALGO_KEX },
        { SSH_BIND_OPTIONS_CIPHERS_C_S, offsetof(profile_t, ciphers), ALGO_CIPHER },
        { SSH_BIND_OPTIONS_CIPHERS_S_C, offsetof(profile_t, ciphers), ALGO_CIPHER },
        { SSH_BIND_OPTIONS_HMAC_C_S, offsetof(profile_t, macs), ALGO_MAC },
        { SSH_BIND_OPTIONS_HMAC_S_C, offsetof(profile_t, macs), ALGO_MAC },
        { SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS, offsetof(profile_t, hostkey_algorithms),
          ALGO_HOSTKEY },
        { SSH_BIND_OPTIONS_PUBKEY_ACCEPTED_KEY_TYPES,
          offsetof(profile_t, pubkey_accepted_algorithms), ALGO_PUBKEY },
    };
    ssh_bind b = NULL;
    size_t skipped = 0;
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
        char *serve = NULL;
        int rc;

        if (v == NULL) {
            continue;
        }
        /* The profile's lists are the exact offer; libssh gets the part of
         * it that it can run (the wire plays the rest, wire.c). */
        if (algo_servable(lists[i].kind, v, &serve) < 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        rc = ssh_bind_options_set(b, lists[i].opt, serve);
        if (rc != SSH_OK) {
            snprintf(err, errlen, "%s: %s %s: libssh refused it: %s", p->path,
                     algo_keyword(lists[i].kind), serve, ssh_get_error(b));
            free(serve);
            goto fail;
        }
        free(serve);
    }

    if (sshd__bind_identity(b, p, err, errlen) < 0) {
        goto fail;
    }

    for (i = 0; i < keys->n; i++) {
        ssh_key k = NULL;

        /* A DSA key the engine cannot run (the system libssh is built
         * without DSA) is left out: ssh-dss is then offer-only, played
         * exactly on the wire, as in a profile without the key. */
        if (ssh_key_type(keys->keys[i].key) == SSH_KEYTYPE_DSS &&
            !algo_is_supported(ALGO_HOSTKEY, "ssh-dss")) {
            skipped++;
            continue;
        }
        k = ssh_key_dup(keys->keys[i].key);
        if (k == NULL || ssh_bind_options_set(b, SSH_BIND_OPTIONS_IMPORT_KEY, k) != SSH_OK) {
            ssh_key_free(k);
            snprintf(err, errlen, "%s: HostKey %s: libssh refused it", p->path,
                     keys->keys[i].source);
            goto fail;
        }
        /* The bind owns k now. */
    }
    if (skipped > 0 && skipped == keys->n) {
        /* libssh cannot start a session without a key. This one is never
         * offered: every host key name of the profile is offer-only. */
        ssh_key k = NULL;

        if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &k) != SSH_OK ||
            ssh_bind_options_set(b, SSH_BIND_OPTIONS_IMPORT_KEY, k) != SSH_OK) {
            ssh_key_free(k);
            snprintf(err, errlen, "%s: HostKey: no key this engine can use", p->path);
            goto fail;
        }
    }
    *out = b;
    return 0;
fail:
    ssh_bind_free(b);
    return SSHMOCK_ELIBSSH;
}

static void sshd__on_poll(uv_poll_t *h, int status, int events);

#define SSHD_LOG(sd, event, ...) log_event((sd)->log, (sd)->id, (event), __VA_ARGS__)

static void sshd__close(sshd_t *sd, int by_client, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
sshd__close(sshd_t *sd, int by_client, const char *fmt, ...)
{
    char reason[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    sd->ops->close(sd->ud, by_client, reason);
}

/* Key exchange has finished: log what was agreed and move on to
 * authentication. Runs once, from whichever comes first, the return of
 * ssh_handle_key_exchange(), the first message after NEWKEYS, or the close
 * of a connection whose client NEWKEYS the wire saw (sshd_kex_done_on_wire).
 * libssh's ciphers are known by then: its current_crypto is set when its
 * own NEWKEYS goes out. */
static void
sshd__kex_done(sshd_t *sd)
{
    const tap_kexinit_t *ck = sd->ops->kexinit(sd->ud, TAP_DIR_C2S);
    const tap_kexinit_t *sk = sd->ops->kexinit(sd->ud, TAP_DIR_S2C);
    char kex[128] = "";
    char hostkey[128] = "";

    if (!sd->in_kex) {
        return;
    }
    sd->in_kex = 0;
    /* What was agreed, by RFC 4253's rule on the offers the tap saw:
     * libssh 0.10's ssh_get_kex_algo() has no name for group exchange. */
    if (ck != NULL && sk != NULL) {
        tap_negotiate(ck->lists[TAP_KEX_ALGS], sk->lists[TAP_KEX_ALGS], kex, sizeof kex);
        tap_negotiate(ck->lists[TAP_KEX_HOSTKEY_ALGS], sk->lists[TAP_KEX_HOSTKEY_ALGS],
                      hostkey, sizeof hostkey);
    }
    SSHD_LOG(sd, "kex_done",
             "kex", kex[0] != '\0' ? kex : ssh_get_kex_algo(sd->session),
             "hostkey", hostkey[0] != '\0' ? hostkey : NULL,
             "cipher_c2s", ssh_get_cipher_in(sd->session),
             "cipher_s2c", ssh_get_cipher_out(sd->session),
             "mac_c2s", ssh_get_hmac_in(sd->session),
             "mac_s2c", ssh_get_hmac_out(sd->session), NULL);
    sd->ops->kex_done(sd->ud);
}

void
sshd_kex_done_on_wire(sshd_t *sd)
{
    sshd__kex_done(sd);
}

static int
sshd__on_message(ssh_session session, ssh_message msg, void *userdata)
{
    sshd_t *sd = userdata;
    const char *svc = NULL;

    (void)session;
    if (sd->ops->closing(sd->ud)) {
        return 1; /* default reply; the connection is going */
    }
    sshd__kex_done(sd);
    switch (ssh_message_type(msg)) {
    case SSH_REQUEST_SERVICE:
        svc = ssh_message_service_service(msg);
        if (svc != NULL && (strcmp(svc, "ssh-userauth") == 0 ||
                            strcmp(svc, "ssh-connection") == 0)) {
            ssh_message_service_reply_success(msg);
            return 0;
        }
        SSHD_LOG(sd, "service_refused", "service", svc != NULL ? svc : "", NULL);
        return 1;
    case SSH_REQUEST_AUTH:
    case SSH_REQUEST_CHANNEL_OPEN:
    case SSH_REQUEST_CHANNEL:
        return sd->ops->on_request(sd->ud, msg);
    case SSH_REQUEST_GLOBAL:
        SSHD_LOG(sd, "global_request_refused", NULL);
        return 1;
    default:
        return 1;
    }
}

/* What a HostKeyRotation job makes: 5 KiB that every other connection
 * would carry for nothing. */
struct sshd_keyjob_s {
    hostkey_set_t keys;
    char err[256];
};

/* HostKeyRotation connection: this session gets keys of its own, made on
 * libuv's thread pool. The job reads the profile, which the connection
 * keeps (its poll handle's close, and so its end, waits for the job). */
static void
sshd__keyjob_work(uv_work_t *req)
{
    sshd_t *sd = req->data;

    sd->keyjob_rc = hostkey_load_all(sd->keyjob_profile, "", &sd->keyjob_out->keys,
                                     sd->keyjob_out->err, sizeof sd->keyjob_out->err);
}

static int
sshd__accept_fresh(sshd_t *sd)
{
    const profile_t *p = sd->keyjob_profile;
    ssh_bind b = NULL;
    char err[256];
    int rc;

    if (sd->keyjob_rc != 0) {
        util_strlcpy(err, sd->keyjob_out->err, sizeof err);
        rc = SSHMOCK_EHOSTKEY;
    } else {
        rc = sshd_bind_new(p, &sd->keyjob_out->keys, &b, err, sizeof err);
    }
    if (rc != 0) {
        hostkey_set_free(&sd->keyjob_out->keys);
        close(sd->fd);
        SSHD_LOG(sd, "error", "where", "HostKeyRotation", "reason", err, NULL);
        return SSHMOCK_EHOSTKEY;
    }
    SSHD_LOG(sd, "hostkey", "type", sd->keyjob_out->keys.keys[0].type, "fingerprint",
             sd->keyjob_out->keys.keys[0].fingerprint, "rotation", "connection", NULL);
    rc = ssh_bind_accept_fd(b, sd->session, sd->fd);
    if (rc != SSH_OK && ssh_get_fd(sd->session) != sd->fd) {
        close(sd->fd);
    }
    if (rc == SSH_OK) {
        sshd__session_setup(sd, p);
        sshd__ext_info(sd, p);
    }
    ssh_bind_free(b);
    hostkey_set_free(&sd->keyjob_out->keys);
    return rc == SSH_OK ? 0 : SSHMOCK_ELIBSSH;
}

static void
sshd__keyjob_done(uv_work_t *req, int status)
{
    sshd_t *sd = req->data;

    sd->keyjob_pending = 0;
    if (sd->keyjob_orphan) {
        hostkey_set_free(&sd->keyjob_out->keys);
        if (sd->poll_closed) {
            sd->closed_cb((uv_handle_t *)&sd->poll);
        }
        return;
    }
    if (status != 0 || sshd__accept_fresh(sd) != 0) {
        sd->fd = -1; /* closed, or libssh's now */
        sshd__close(sd, 0, "HostKeyRotation: cannot make this connection's host keys");
        sd->ops->teardown(sd->ud);
        return;
    }
    ssh_set_blocking(sd->session, 0);
    ssh_set_message_callback(sd->session, sshd__on_message, sd);
    sd->in_kex = 1;
    sshd_drive(sd); /* sends the identification */
}

static void
sshd__poll_closed(uv_handle_t *h)
{
    sshd_t *sd = h->data;

    sd->poll_closed = 1;
    if (!sd->keyjob_pending) {
        sd->closed_cb(h);
    }
}

int
sshd_session_start(sshd_t *sd, uv_loop_t *loop, const profile_t *p, ssh_bind bind, int fd,
                   log_t *log, uint64_t id, const sshd_ops_t *ops, void *ud)
{
    int rc;

    memset(sd, 0, sizeof *sd);
    sd->ops = ops;
    sd->ud = ud;
    sd->log = log;
    sd->id = id;
    sd->fd = -1;
    sd->session = ssh_new();
    if (sd->session == NULL) {
        close(fd);
        return SSHMOCK_ENOMEM;
    }
    if (p->hostkey_rotation == 2) {
        /* The poll handle is opened now but armed once libssh has fd. */
        rc = uv_poll_init(loop, &sd->poll, fd);
        if (rc != 0) {
            close(fd);
            SSHD_LOG(sd, "error", "where", "uv_poll_init", "reason", uv_strerror(rc), NULL);
            return SSHMOCK_EIO;
        }
        sd->poll.data = sd;
        sd->poll_open = 1;
        sd->fd = fd;
        sd->keyjob.data = sd;
        sd->keyjob_profile = p;
        sd->keyjob_out = calloc(1, sizeof *sd->keyjob_out);
        if (sd->keyjob_out == NULL) {
            close(fd);
            sd->fd = -1;
            sshd__close(sd, 0, "HostKeyRotation: out of memory");
            return 0; /* poll is open: the owner closes it */
        }
        rc = uv_queue_work(loop, &sd->keyjob, sshd__keyjob_work, sshd__keyjob_done);
        if (rc != 0) {
            close(fd);
            sd->fd = -1;
            sshd__close(sd, 0, "HostKeyRotation: uv_queue_work: %s", uv_strerror(rc));
            return 0; /* poll is open: the owner closes it */
        }
        sd->keyjob_pending = 1;
        return 0;
    } else {
        rc = ssh_bind_accept_fd(bind, sd->session, fd);
        if (rc != SSH_OK) {
            /* When libssh failed before taking the fd, it is still ours. */
            if (ssh_get_fd(sd->session) != fd) {
                close(fd);
            }
            SSHD_LOG(sd, "error", "where", "ssh_bind_accept_fd", "reason",
                     ssh_get_error(bind), NULL);
            return SSHMOCK_ELIBSSH;
        }
        sshd__session_setup(sd, p);
        sshd__ext_info(sd, p);
    }
    ssh_set_blocking(sd->session, 0);
    /* Installed before key exchange: messages that arrive in the same read as
     * the client's NEWKEYS are dispatched while ssh_handle_key_exchange() is
     * still running, and libssh would queue them unseen otherwise. */
    ssh_set_message_callback(sd->session, sshd__on_message, sd);

    rc = uv_poll_init(loop, &sd->poll, fd);
    if (rc != 0) {
        SSHD_LOG(sd, "error", "where", "uv_poll_init", "reason", uv_strerror(rc), NULL);
        return SSHMOCK_EIO;
    }
    sd->poll.data = sd;
    sd->poll_open = 1;
    sd->fd = fd;
    sd->in_kex = 1;
    return 0;
}

static void
sshd__rearm(sshd_t *sd)
{
    int want = UV_READABLE;
    int rc;

    if (sd->held) {
        return; /* sshd_hold(): stopped until the owner drives it again */
    }
    if (ssh_get_poll_flags(sd->session) & SSH_WRITE_PENDING) {
        want |= UV_WRITABLE;
    }
    if (want == sd->poll_events) {
        return;
    }
    rc = uv_poll_start(&sd->poll, want, sshd__on_poll);
    if (rc != 0) {
        sshd__close(sd, 0, "uv_poll_start: %s", uv_strerror(rc));
        return;
    }
    sd->poll_events = want;
}

/* Why libssh ended the session, never empty: libssh 0.10 sets no error
 * for some of the failures it closes on (a bad group exchange request, a
 * wrong guess), and an empty reason reads as "nothing happened". */
static const char *
sshd__libssh_error(sshd_t *sd)
{
    const char *why = ssh_get_error(sd->session);

    return why != NULL && why[0] != '\0' ? why
                                          : "libssh ended the session without naming the error";
}

/* Who ended it, as far as libssh can tell. The client's own end of the TCP
 * connection closes the connection before libssh can see it (conn marks it
 * as the client's at once), so a session libssh closed while the client is
 * still there is libssh's verdict on what the client sent: ours. */
static void
sshd__check_disconnect(sshd_t *sd)
{
    int st = ssh_get_status(sd->session);
    const char *msg = NULL;
    char why[256];

    if (!(st & (SSH_CLOSED | SSH_CLOSED_ERROR)) || sd->ops->closing(sd->ud)) {
        return;
    }
    /* Taken first: ssh_get_disconnect_message() overwrites libssh's error
     * ("Connection not closed yet", "... but no disconnect message"). */
    util_strlcpy(why, sshd__libssh_error(sd), sizeof why);
    msg = ssh_get_disconnect_message(sd->session);
    if (msg != NULL && strstr(msg, "no disconnect message") == NULL) {
        sshd__close(sd, 1, "client disconnected: %s", msg);
    } else if (strstr(why, "Received SSH_MSG_DISCONNECT") != NULL) {
        /* The client said goodbye (ssh: "disconnected by user") and its
         * FIN has not been read yet: still the client's close. */
        sshd__close(sd, 1, "client disconnected: %s", why);
    } else if (sd->ops->client_gone(sd->ud)) {
        sshd__close(sd, 1, "connection closed by client");
    } else if (sd->in_kex) {
        SSHD_LOG(sd, "kex_failed", "reason", why, NULL);
        sshd__close(sd, 0, "key exchange failed: %s", why);
    } else {
        sshd__close(sd, 0, "protocol error: %s", why);
    }
}

static void
sshd__kex_step(sshd_t *sd)
{
    int rc = ssh_handle_key_exchange(sd->session);
    const char *why = NULL;

    if (rc == SSH_OK) {
        sshd__kex_done(sd);
        return;
    }
    if (rc != SSH_ERROR || sd->ops->closing(sd->ud)) {
        return;
    }
    why = sshd__libssh_error(sd);
    if (strstr(why, "Received SSH_MSG_DISCONNECT") != NULL) {
        /* The client gave up and said why (a host key it does not
         * trust, say): its close, not ours. */
        SSHD_LOG(sd, "kex_failed", "reason", why, NULL);
        sshd__close(sd, 1, "client disconnected during key exchange: %s", why);
    } else if (sd->ops->client_gone(sd->ud) || strstr(why, "disconnected") != NULL ||
               strstr(why, "Connection closed") != NULL) {
        sshd__check_disconnect(sd);
        sshd__close(sd, 1, "client closed during key exchange: %s", why);
    } else {
        SSHD_LOG(sd, "kex_failed", "reason", why, NULL);
        sshd__close(sd, 0, "key exchange failed: %s", why);
    }
}

void
sshd_drive(sshd_t *sd)
{
    int rc;

    if (sd->session == NULL || !sd->poll_open || uv_is_closing((uv_handle_t *)&sd->poll) ||
        sd->keyjob_pending || sd->fd < 0 || sd->held) {
        return;
    }
    sd->in_libssh = 1;
    if (sd->ops->enter != NULL) {
        sd->ops->enter(sd->ud);
    }
    if (sd->in_kex) {
        sshd__kex_step(sd);
        /* libssh writes one packet, then queues the rest until its poll
         * sees the socket writable: its key exchange reply went out, its
         * NEWKEYS and EXT_INFO wait. A second pass (the socketpair is
         * writable) flushes them before the relay reads, so the client
         * gets the flight in one piece as sshd sends it, not split by
         * whichever of our two polls the loop serves first. */
        if (sd->in_kex && !sd->ops->closing(sd->ud)) {
            sshd__kex_step(sd);
        }
    }
    if (!sd->in_kex && !sd->ops->closing(sd->ud)) {
        if (sd->event == NULL) {
            sd->event = ssh_event_new();
            if (sd->event == NULL || ssh_event_add_session(sd->event, sd->session) != SSH_OK) {
                if (sd->ops->leave != NULL) {
                    sd->ops->leave(sd->ud);
                }
                sd->in_libssh = 0;
                sshd__close(sd, 0, "cannot create a libssh event");
                sd->ops->teardown(sd->ud);
                return;
            }
        }
        rc = ssh_event_dopoll(sd->event, 0);
        if (rc == SSH_ERROR) {
            sshd__check_disconnect(sd);
            if (!sd->ops->closing(sd->ud)) {
                sshd__close(sd, 0, "libssh: %s", ssh_get_error(sd->session));
            }
        }
    }
    if (sd->ops->leave != NULL) {
        sd->ops->leave(sd->ud);
    }
    sd->in_libssh = 0;

    if (!sd->ops->closing(sd->ud)) {
        sshd__check_disconnect(sd);
    }
    if (!sd->ops->closing(sd->ud)) {
        sd->in_libssh = 1;
        sd->ops->after_run(sd->ud);
        sd->in_libssh = 0;
    }
    if (sd->ops->closing(sd->ud)) {
        sd->ops->teardown(sd->ud);
        return;
    }
    sshd__rearm(sd);
}

static void
sshd__on_poll(uv_poll_t *h, int status, int events)
{
    sshd_t *sd = h->data;

    (void)events;
    if (status < 0) {
        sshd__close(sd, 0, "poll error: %s", uv_strerror(status));
        sd->ops->teardown(sd->ud);
        return;
    }
    sshd_drive(sd);
}

void
sshd_hold(sshd_t *sd, int held)
{
    sd->held = held;
    if (held && sd->poll_open && !uv_is_closing((uv_handle_t *)&sd->poll) &&
        sd->poll_events != 0) {
        uv_poll_stop(&sd->poll);
        sd->poll_events = 0;
    }
}

int
sshd_in_libssh(const sshd_t *sd)
{
    return sd->in_libssh;
}

ssh_session
sshd_session(const sshd_t *sd)
{
    return sd->session;
}

void
sshd_session_shutdown(sshd_t *sd, const char *disconnect_reason, uv_close_cb closed_cb)
{
    if (sd->poll_open && !uv_is_closing((uv_handle_t *)&sd->poll)) {
        /* Close, not just stop, the poll handle before libssh closes the fd:
         * closing a stopped uv_poll later deletes the fd *number* from epoll
         * again, and by then the next accept may own that number. While
         * the key job runs, the close is reported once it has finished
         * (the job reads the profile the owner frees after the close). */
        sd->closed_cb = closed_cb;
        uv_close((uv_handle_t *)&sd->poll, sshd__poll_closed);
        sd->poll_events = 0;
    }
    if (sd->keyjob_pending) {
        sd->keyjob_orphan = 1;
        close(sd->fd); /* libssh never got it */
        sd->fd = -1;
        return;
    }
    if (sd->session == NULL || (sd->fd < 0 && sd->keyjob_profile != NULL)) {
        return;
    }
    if (disconnect_reason != NULL && ssh_is_connected(sd->session)) {
        ssh_session_set_disconnect_message(sd->session, disconnect_reason);
#ifdef LIBSSH_SSHMOCK_DISCONNECT_CODE
        if (sd->disconnect_reason != 0) {
            ssh_disconnect_code(sd->session, (uint32_t)sd->disconnect_reason, NULL);
            return;
        }
#endif
        ssh_disconnect(sd->session);
    } else {
        ssh_silent_disconnect(sd->session);
    }
}

void
sshd_session_free(sshd_t *sd)
{
    free(sd->keyjob_out); /* its keys were freed when libssh took them */
    sd->keyjob_out = NULL;
    if (sd->event != NULL) {
        if (sd->session != NULL) {
            ssh_event_remove_session(sd->event, sd->session);
        }
        ssh_event_free(sd->event);
        sd->event = NULL;
    }
    if (sd->session != NULL) {
        ssh_free(sd->session);
        sd->session = NULL;
    }
}
