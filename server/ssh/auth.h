/*
 * auth: user authentication as the profile says (password, publickey,
 * keyboard-interactive, none; AuthenticationMethods; MaxAuthTries), with
 * the failure accounting of OpenSSH's sshd (auth2.c): every failed attempt
 * counts except a first "none", a public key the client merely asks about
 * counts when it is not authorized, and reaching MaxAuthTries ends the
 * connection with "Too many authentication failures".
 */
#ifndef SSHMOCK_AUTH_H
#define SSHMOCK_AUTH_H

#include <libssh/libssh.h>
#include <libssh/server.h>

#define AUTH_MAX_STEPS 8

#include <stddef.h>

#include "profile/profile.h"

struct conn_s;

/* The authorized keys of one account, parsed once when the server starts. */
typedef struct auth_keyring_s {
    ssh_key *keys;
    size_t n;
} auth_keyring_t;

/* One keyring per account of the profile, in the profile's order. */
int auth_keyrings_load(const profile_t *p, auth_keyring_t **out, char *err, size_t errlen);
void auth_keyrings_free(auth_keyring_t *rings, size_t n);

typedef struct auth_state_s {
    int failures;
    int attempts;
    int authenticated;
    char user[128];
    int kbdint_pending;             /* a prompt was sent, answers awaited */
    int banner_sent;                /* Banner: sent once, before the first reply */
    const char *done[AUTH_MAX_STEPS]; /* methods completed, for AuthenticationMethods */
    int ndone;
} auth_state_t;

/* Handles an SSH_REQUEST_AUTH message. Returns 0 (handled; the reply is sent). */
int auth_handle(struct conn_s *c, ssh_message msg);

#endif /* SSHMOCK_AUTH_H */
