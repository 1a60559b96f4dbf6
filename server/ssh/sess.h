/*
 * sess: what auth and channels may see of the connection that owns them.
 *
 * Auth and channels never include net/conn.h: they get this context, fill
 * it nowhere, and reach back to their owner only through the ops table
 * (nginx's way: modules meet through small structs of function pointers).
 * Unit tests fill it with a fake owner and no libssh session at all.
 */
#ifndef SSHMOCK_SESS_H
#define SSHMOCK_SESS_H

#include <stddef.h>
#include <stdint.h>

#include <libssh/libssh.h>

#include "base/log.h"
#include "profile/profile.h"

struct auth_keyring_s;

typedef enum {
    SESS_BY_CLIENT,
    SESS_BY_SERVER
} sess_closer_t;

/* The owner's side of the contract. owner is sess_t.owner. */
typedef struct sess_ops_s {
    /* End the connection; the owner tears it down once libssh has
     * returned. send_disconnect: tell the client reason in a DISCONNECT. */
    void (*close)(void *owner, sess_closer_t by, int send_disconnect, const char *reason);
    /* Authentication is complete and its SUCCESS was sent: the
     * connection is open (state, LoginGraceTime, the auth-success stage). */
    void (*authenticated)(void *owner);
    /* A session channel was confirmed (the channel-open stage). */
    void (*channel_opened)(void *owner);
    /* An answer to an authentication request waits ms (AuthFailureDelay):
     * read nothing more from the client meanwhile, as sshd reads nothing
     * while it sleeps, then call auth_release(). NULL: answer at once. */
    void (*hold)(void *owner, uint64_t ms);
} sess_ops_t;

/*
 * What the last packet libssh read looked like, seen through libssh's own
 * packet log (see auth_libssh_enter): libssh 0.10 hands strings over as C
 * strings and drops a publickey request whose signature does not verify,
 * so the true lengths and the dropped request are only known from there.
 */
typedef struct sess_wire_s {
    int type;                /* SSH message number, -1: none seen */
    uint32_t payload;        /* payload length in bytes */
    char service[64];        /* service of the last USERAUTH_REQUEST */
    int bad_signature;       /* a publickey request was dropped by libssh */
    char bad_user[128];      /* ... and the user it named */
} sess_wire_t;

typedef struct sess_s {
    const profile_t *profile;
    log_t *log;
    uint64_t conn_id;
    const struct auth_keyring_s *keyrings; /* per account, as the profile's */
    int log_passwords;
    ssh_session session;     /* NULL in unit tests */
    const char *user;        /* the authenticated user (for %u), owner's storage */
    const sess_ops_t *ops;
    void *owner;
    sess_wire_t wire;
} sess_t;

#define SESS_LOG(s, event, ...) log_event((s)->log, (s)->conn_id, (event), __VA_ARGS__)

#endif /* SSHMOCK_SESS_H */
