/*
 * auth: user authentication as the profile says (password, publickey,
 * keyboard-interactive, none; AuthenticationMethods; MaxAuthTries), with
 * the accounting of OpenSSH's sshd (auth2.c).
 *
 * Two layers. auth_decide() is the decision: it takes one request already
 * taken apart (auth_request_t) and the connection's auth state, and says
 * what to answer (auth_verdict_t); it logs, counts and never does I/O, so
 * the unit tests drive it with plain structs. auth_handle() is the thin
 * libssh adapter around it: ssh_message in, reply and owner ops out.
 *
 * sshd's rules kept here:
 *  - every failed request counts, except a first "none" and the requests
 *    sshd "postpones" (a publickey query for a key that would do, the
 *    keyboard-interactive request that gets the prompt: its answer counts);
 *  - a partial success (AuthenticationMethods) does not count;
 *  - reaching MaxAuthTries ends the connection, "Too many authentication
 *    failures", without a FAILURE;
 *  - the user name and service are fixed by the first request: a change
 *    ends the connection, "Change of username or service not allowed";
 *  - a string with a NUL byte in it is a malformed packet: sshd's parser
 *    refuses it and drops the connection;
 *  - the Banner goes out once, before the answer to the first request;
 *  - a failed request waits before its answer (AuthFailureDelay): sshd's
 *    5 ms plus a per-user 0..4.2 ms (auth2.c, user_specific_delay), and
 *    with PAM a failed password waits for pam_unix's ~2 s, which sshd
 *    then rounds up to a doubling of the per-user delay
 *    (ensure_minimum_time_since). The wait is a timer of the owner's
 *    (sess_ops_t.hold), never a sleep: one loop serves every connection.
 */
#ifndef SSHMOCK_AUTH_H
#define SSHMOCK_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <libssh/libssh.h>
#include <libssh/server.h>

#include "profile/profile.h"
#include "ssh/sess.h"

#define AUTH_MAX_STEPS 8

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
    int attempts;                   /* USERAUTH_REQUESTs seen */
    int authenticated;
    char user[128];                 /* fixed by the first request */
    char service[64];               /* likewise, when known */
    int kbdint_pending;             /* a prompt was sent, answers awaited */
    int banner_sent;                /* Banner: sent once, before the first reply */
    const char *done[AUTH_MAX_STEPS]; /* methods completed, for AuthenticationMethods */
    int ndone;
    int held;                       /* an answer waits for its failure delay */
    int held_kind;                  /* ... its auth_verdict_kind_t (FAILURE or CLOSE) */
    int held_methods;
    int held_disconnect;
    const char *held_reason;        /* static text */
} auth_state_t;

/* One request, taken apart. Methods are libssh's SSH_AUTH_METHOD_* bits
 * (plain constants; the decision makes no libssh call but key compare). */
typedef struct auth_request_s {
    int method;                /* SSH_AUTH_METHOD_*; 0: a method we do not know */
    const char *method_name;   /* for the log; NULL: from method */
    const char *user;          /* NULL in a keyboard-interactive answer */
    const char *service;       /* NULL: not known */
    int malformed;             /* a string held a NUL byte (wire length != C length) */
    const char *password;      /* password, or the one keyboard-interactive answer */
    ssh_key key;               /* publickey */
    int has_signature;
    int signature_ok;          /* has_signature and it verified */
    int kbdint_response;       /* keyboard-interactive: the INFO_RESPONSE */
    int nanswers;              /* ... and how many answers it carried */
} auth_request_t;

typedef enum {
    AUTH_VERDICT_IGNORE,       /* already authenticated (RFC 4252 5.1): default reply */
    AUTH_VERDICT_SUCCESS,
    AUTH_VERDICT_PARTIAL,      /* success, more wanted: methods */
    AUTH_VERDICT_FAILURE,      /* methods that can continue */
    AUTH_VERDICT_PK_OK,        /* the key would do: sign with it */
    AUTH_VERDICT_KBDINT_PROMPT,
    AUTH_VERDICT_CLOSE         /* end the connection: reason, send_disconnect */
} auth_verdict_kind_t;

typedef struct auth_verdict_s {
    auth_verdict_kind_t kind;
    int methods;               /* SSH_AUTH_METHOD_* mask, FAILURE and PARTIAL */
    int send_banner;           /* send the profile's Banner before the answer */
    int send_disconnect;       /* CLOSE: with a DISCONNECT saying reason (0, 1 or
                                * UTIL_DISCONNECT_REASON(code), base/util.h) */
    const char *reason;        /* CLOSE */
    uint64_t delay_ms;         /* FAILURE, CLOSE at MaxAuthTries: wait this long first */
} auth_verdict_t;

/* The decision for one request. Updates st, logs through s. */
void auth_decide(const sess_t *s, auth_state_t *st, const auth_request_t *rq,
                 auth_verdict_t *v);

/* How long sshd makes a failed request of this method wait, by the
 * profile's AuthFailureDelay, for user; pam_ran: a password was checked
 * (PAM's own delay applies). Random where sshd's is (the PAM spread); 0
 * for "none", which sshd never delays. */
uint64_t auth_failure_delay_ms(const profile_t *p, const char *user, int method, int pam_ran);

/* The held answer is due (sess_ops_t.hold's timer): send it. Nothing when
 * none is held. */
void auth_release(sess_t *s, auth_state_t *st);

/* The libssh adapter: handles an SSH_REQUEST_AUTH message. Returns 0
 * (answered) or 1 (let libssh give its default answer). */
int auth_handle(sess_t *s, auth_state_t *st, ssh_message msg);

/*
 * Around every run of libssh for this session. libssh 0.10 loses what the
 * decision needs (string lengths, publickey requests whose signature does
 * not verify: parsed, then dropped unanswered, messages.c); its own packet
 * log still says it, so enter() points that log at s, and leave() answers
 * a dropped request with the FAILURE sshd would have sent.
 */
void auth_libssh_enter(sess_t *s);
void auth_libssh_leave(sess_t *s, auth_state_t *st);

#endif /* SSHMOCK_AUTH_H */
