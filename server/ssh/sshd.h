/*
 * sshd: the libssh adapter. It configures one ssh_bind per profile, starts
 * a non-blocking libssh session on the connection's end of the socketpair,
 * and drives it from the libuv loop: ssh_handle_key_exchange() until it
 * stops answering SSH_AGAIN, then ssh_event_dopoll(event, 0). UV_WRITABLE
 * is armed only while libssh reports output pending (ssh_get_poll_flags),
 * the way h2o's uv-binding arms it only while it has something to write.
 *
 * It knows nothing of connections: its owner gives it an operations table
 * (sshd_ops_t) for what libssh's messages and state changes mean to the
 * rest of the server, and calls sshd_session_shutdown() to end it.
 */
#ifndef SSHMOCK_SSHD_H
#define SSHMOCK_SSHD_H

#include <libssh/libssh.h>
#include <libssh/server.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/log.h"
#include "profile/profile.h"
#include "ssh/hostkey.h"
#include "wire/tap.h"

typedef struct sshd_ops_s {
    /* Key exchange is over: authentication begins. */
    void (*kex_done)(void *ud);
    /* An authentication or channel message (SSH_REQUEST_AUTH,
     * SSH_REQUEST_CHANNEL_OPEN, SSH_REQUEST_CHANNEL); returns what a libssh
     * message callback returns (0 handled, 1 default reply). */
    int (*on_request)(void *ud, ssh_message msg);
    /* After a libssh run that left the session up: flush what is queued
     * (libssh counts as on the stack meanwhile). */
    void (*after_run)(void *ud);
    /* The session ends, by the client (by_client) or by us. */
    void (*close)(void *ud, int by_client, const char *reason);
    /* Whether an end was asked for. */
    int (*closing)(void *ud);
    /* libssh has left the stack: a teardown asked for may run now. */
    void (*teardown)(void *ud);
    /* Whether the client's side of the connection has already ended. */
    int (*client_gone)(void *ud);
    /* The KEXINIT seen on the wire in dir, or NULL. */
    const tap_kexinit_t *(*kexinit)(void *ud, tap_dir_t dir);
    /* libssh is about to run / has returned (may be NULL): the owner's
     * chance to watch what libssh does meanwhile (ssh/auth.h). */
    void (*enter)(void *ud);
    void (*leave)(void *ud);
} sshd_ops_t;

typedef struct sshd_s {
    const sshd_ops_t *ops;
    void *ud;
    log_t *log;
    uint64_t id;             /* the connection's, for the log */
    ssh_session session;
    ssh_event event;         /* after key exchange */
    uv_poll_t poll;          /* libssh's end; only libssh reads or writes it */
    int poll_open;           /* poll is initialised (and must be closed) */
    int poll_events;         /* events uv_poll is armed for (0: stopped) */
    int in_libssh;           /* inside a libssh call: teardown must wait */
    int in_kex;              /* key exchange under way */
    int fd;

    /* HostKeyRotation connection: the session's keys are made on libuv's
     * thread pool (RSA 3072 takes a good part of a second, and the loop
     * serves every other connection meanwhile); the session starts, and
     * sends its identification, when they are ready. */
    uv_work_t keyjob;
    const profile_t *keyjob_profile;
    struct sshd_keyjob_s *keyjob_out; /* HostKeyRotation connection: its keys, made then */
    int keyjob_rc;
    int keyjob_pending;      /* on the pool: libssh has not got fd yet */
    int keyjob_orphan;       /* shut down meanwhile: the keys are dropped */
    int poll_closed;         /* closed while the job ran: closed_cb waits */
    int held;                /* sshd_hold(): libssh runs not, reads not */
    uv_close_cb closed_cb;
    int disconnect_reason;   /* 0: the engine's default; else the code */
} sshd_t;

/* A configured ssh_bind: algorithms, identification, host keys. The keys
 * are copied into the bind (it owns its copies). */
int sshd_bind_new(const profile_t *p, const hostkey_set_t *keys, ssh_bind *out,
                  char *err, size_t errlen);

/* Creates the session on fd (which it owns from now on, whatever happens)
 * and starts polling it. Returns 0 once poll is open: the owner then
 * closes it with sshd_session_shutdown(). */
int sshd_session_start(sshd_t *sd, uv_loop_t *loop, const profile_t *p, ssh_bind bind, int fd,
                       log_t *log, uint64_t id, const sshd_ops_t *ops, void *ud);

/* After the user authenticated: OpenSSH's sshd (6.8 and later) sends its
 * host keys, hostkeys-00@openssh.com, for clients with UpdateHostKeys. Only
 * with the bundled engine (SSHMOCK_ENGINE_BUNDLED), and only for a profile
 * that plays such an OpenSSH; else nothing. */
void sshd_notify_hostkeys(sshd_t *sd, const profile_t *p, const hostkey_set_t *keys);

/* Runs libssh for whatever its socket has, then re-arms the poll. */
void sshd_drive(sshd_t *sd);

/* The wire saw both NEWKEYS pass, so the key exchange is done whether or
 * not libssh has read the client's yet: logs kex_done and tells the owner,
 * once (nothing when it was already done). For a connection that ends right
 * after NEWKEYS, so that how far it got does not depend on whether libssh
 * ran before the client's close was read. */
void sshd_kex_done_on_wire(sshd_t *sd);

/* Holds (held) or lets go of the session: while held, libssh is not run
 * and its socket not polled, so nothing more the client sent is read (a
 * failed authentication's delay). Letting go does not run libssh: the
 * owner calls sshd_drive() when it is ready. */
void sshd_hold(sshd_t *sd, int held);

/* Whether libssh is on the stack. */
int sshd_in_libssh(const sshd_t *sd);

/* The session, or NULL. */
ssh_session sshd_session(const sshd_t *sd);

/* Stops polling (closing the poll handle with closed_cb), tells libssh to
 * disconnect, saying disconnect_reason when it is not NULL, and so closes
 * libssh's end of the socketpair. */
void sshd_session_shutdown(sshd_t *sd, const char *disconnect_reason, uv_close_cb closed_cb);

/* The reason code the DISCONNECT of sshd_session_shutdown() carries:
 * send_disconnect as the close paths pass it (base/util.h
 * UTIL_DISCONNECT_REASON). An engine without ssh_disconnect_code() always
 * sends 11 (by application). */
void sshd_set_disconnect_reason(sshd_t *sd, int send_disconnect);

/* Frees the session; after the poll handle has closed. */
void sshd_session_free(sshd_t *sd);

#endif /* SSHMOCK_SSHD_H */
