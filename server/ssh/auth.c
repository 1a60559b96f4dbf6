#include "ssh/auth.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include <sshmock/sshmock.h>

#include "base/util.h"
#include "ssh/hostkey.h"

#include <libssh/callbacks.h>

/* libssh 0.10 marks the ssh_message auth accessors deprecated in favour of
 * server callbacks, but the callbacks have no keyboard-interactive and no
 * say over the failure list; the message API is still supported. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

int
auth_keyrings_load(const profile_t *p, auth_keyring_t **out, char *err, size_t errlen)
{
    auth_keyring_t *rings = NULL;
    size_t i;
    size_t j;

    *out = NULL;
    if (p->naccounts == 0) {
        return 0;
    }
    rings = calloc(p->naccounts, sizeof *rings);
    if (rings == NULL) {
        return SSHMOCK_ENOMEM;
    }
    for (i = 0; i < p->naccounts; i++) {
        const profile_account_t *a = &p->accounts[i];
        if (a->nauthorized_keys == 0) {
            continue;
        }
        rings[i].keys = calloc(a->nauthorized_keys, sizeof(ssh_key));
        if (rings[i].keys == NULL) {
            auth_keyrings_free(rings, p->naccounts);
            return SSHMOCK_ENOMEM;
        }
        for (j = 0; j < a->nauthorized_keys; j++) {
            char type[64] = "";
            char b64[16384] = "";
            ssh_key k = NULL;
            if (sscanf(a->authorized_keys[j], "%63s %16383s", type, b64) != 2 ||
                ssh_pki_import_pubkey_base64(b64, ssh_key_type_from_name(type), &k) != SSH_OK) {
                snprintf(err, errlen, "%s: account %s: authorized key %zu cannot be read",
                         p->path, a->name, j + 1);
                auth_keyrings_free(rings, p->naccounts);
                return SSHMOCK_EPROFILE;
            }
            rings[i].keys[rings[i].n++] = k;
        }
    }
    *out = rings;
    return 0;
}

void
auth_keyrings_free(auth_keyring_t *rings, size_t n)
{
    size_t i;
    size_t j;

    if (rings == NULL) {
        return;
    }
    for (i = 0; i < n; i++) {
        for (j = 0; j < rings[i].n; j++) {
            ssh_key_free(rings[i].keys[j]);
        }
        free(rings[i].keys);
    }
    free(rings);
}

static const struct {
    int mask;
    const char *name;
} auth__methods[] = {
    { SSH_AUTH_METHOD_NONE, "none" },
    { SSH_AUTH_METHOD_PASSWORD, "password" },
    { SSH_AUTH_METHOD_PUBLICKEY, "publickey" },
    { SSH_AUTH_METHOD_INTERACTIVE, "keyboard-interactive" },
    { SSH_AUTH_METHOD_HOSTBASED, "hostbased" },
    { SSH_AUTH_METHOD_GSSAPI_MIC, "gssapi-with-mic" },
};

static const char *
auth__method_name(int mask)
{
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(auth__methods); i++) {
        if (auth__methods[i].mask == mask) {
            return auth__methods[i].name;
        }
    }
    return "unknown";
}

static int
auth__method_mask(const char *name)
{
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(auth__methods); i++) {
        if (strcmp(auth__methods[i].name, name) == 0) {
            return auth__methods[i].mask;
        }
    }
    return 0;
}

/* Is a method switched on by its *Authentication keyword? "none" is never
 * on by itself: only an AuthenticationMethods list that names it. */
static int
auth__enabled(const profile_t *p, const char *m)
{
    if (strcmp(m, "password") == 0) {
        return p->password_authentication;
    }
    if (strcmp(m, "publickey") == 0) {
        return p->pubkey_authentication;
    }
    if (strcmp(m, "keyboard-interactive") == 0) {
        return p->kbd_interactive_authentication;
    }
    return 0;
}

/*
 * AuthenticationMethods: space-separated lists of comma-separated methods,
 * each list to be completed in order (sshd_config(5)). Given the methods
 * done so far, which may come next, and is some list complete? "any" means
 * one enabled method suffices.
 */
static int
auth__walk(const profile_t *p, const auth_state_t *st, int *next_mask, int *complete)
{
    const char *am = p->authentication_methods;
    char *copy = NULL;
    char *save_l = NULL;
    char *list = NULL;

    *next_mask = 0;
    *complete = 0;
    if (am == NULL || strcmp(am, "any") == 0) {
        size_t i;
        for (i = 0; i < UTIL_ARRAY_SIZE(auth__methods); i++) {
            if (auth__enabled(p, auth__methods[i].name)) {
                *next_mask |= auth__methods[i].mask;
            }
        }
        *complete = st->ndone > 0;
        return 0;
    }
    copy = strdup(am);
    if (copy == NULL) {
        return -1;
    }
    for (list = strtok_r(copy, " \t", &save_l); list != NULL;
         list = strtok_r(NULL, " \t", &save_l)) {
        char *save_m = NULL;
        char *m = NULL;
        int i = 0;
        int prefix = 1;
        for (m = strtok_r(list, ",", &save_m); m != NULL; m = strtok_r(NULL, ",", &save_m), i++) {
            if (i < st->ndone) {
                if (strcmp(m, st->done[i]) != 0) {
                    prefix = 0;
                    break;
                }
            } else {
                *next_mask |= auth__method_mask(m);
                prefix = 0; /* the list goes on: not complete */
                break;
            }
        }
        if (prefix && i == st->ndone && st->ndone > 0) {
            *complete = 1;
        }
    }
    free(copy);
    return 0;
}

static int
auth__allowed(const profile_t *p, const auth_state_t *st, int method)
{
    int mask = 0;
    int complete = 0;

    if (auth__walk(p, st, &mask, &complete) < 0) {
        return 0;
    }
    return (mask & method) != 0;
}

static int
auth__key_authorized(const sess_t *s, const profile_account_t *a, ssh_key key)
{
    const auth_keyring_t *r = NULL;
    size_t i;

    if (a == NULL || key == NULL || s->keyrings == NULL) {
        return 0;
    }
    r = &s->keyrings[a - s->profile->accounts];
    for (i = 0; i < r->n; i++) {
        if (ssh_key_cmp(r->keys[i], key, SSH_KEY_CMP_PUBLIC) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
auth__password_ok(const profile_account_t *a, const char *password)
{
    return a != NULL && a->password != NULL && password != NULL &&
           strcmp(password, a->password) == 0;
}

static void
auth__log(const sess_t *s, const auth_state_t *st, const char *method, const char *result,
          const char *key_fp, const char *password, const char *reason)
{
    SESS_LOG(s, "auth", "user", st->user, "method", method, "result", result,
             "key", key_fp, "password", s->log_passwords ? password : NULL,
             "reason", reason, NULL);
}

/* ---- the failure delay ------------------------------------------------ */

/* sshd draws options.timing_secret once per process; so does this. */
static uint64_t
auth__timing_secret(void)
{
    static _Atomic uint64_t secret;
    uint64_t v = atomic_load(&secret);
    uint64_t expected = 0;

    if (v != 0) {
        return v;
    }
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v || v == 0) {
        v = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&secret;
    }
    if (!atomic_compare_exchange_strong(&secret, &expected, v)) {
        v = expected; /* another thread's draw came first */
    }
    return v;
}

/* sshd's user_specific_delay(), in microseconds: 5 ms and 0..4.29 ms that
 * depend on the user name and the process's secret (a SHA-512 of both,
 * its first 32 bits as picoseconds), so one user always waits alike. */
static uint64_t
auth__user_delay_us(const char *user)
{
    char b[512];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    uint32_t peek = 0;

    snprintf(b, sizeof b, "%llu%s", (unsigned long long)auth__timing_secret(),
             user != NULL ? user : "");
    if (EVP_Digest(b, strlen(b), md, &mdlen, EVP_sha512(), NULL) == 1 && mdlen >= 4) {
        peek = (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 | (uint32_t)md[2] << 8 | md[3];
    }
    return 5000u + peek / 1000000u;
}

/* pam_unix asks for 2 s; Linux-PAM spreads it, base * (1 + s) where s is
 * the mean of three uniform draws minus 1/2 (so 1..3 s, mostly near 2). */
static uint64_t
auth__pam_delay_us(void)
{
    static _Thread_local uint64_t x;
    double sum = 0.0;
    int i;

    if (x == 0) {
        x = auth__timing_secret() ^ (uint64_t)(uintptr_t)&x;
    }
    for (i = 0; i < 3; i++) {
        x ^= x << 13; /* xorshift64: plenty for a wait */
        x ^= x >> 7;
        x ^= x << 17;
        sum += (double)(x % 1000000u) / 1e6;
    }
    return (uint64_t)(2000000.0 * (1.0 + (sum / 3.0 - 0.5)));
}

uint64_t
auth_failure_delay_ms(const profile_t *p, const char *user, int method, int pam_ran)
{
    uint64_t want = 0;
    uint64_t elapsed = 0;

    if (method == SSH_AUTH_METHOD_NONE || p->auth_failure_delay == PROFILE_AUTH_DELAY_NONE) {
        return 0;
    }
    if (p->auth_failure_delay > 0) {
        return (uint64_t)p->auth_failure_delay;
    }
    want = auth__user_delay_us(user);
    if (p->auth_failure_delay == PROFILE_AUTH_DELAY_PAM && pam_ran) {
        elapsed = auth__pam_delay_us(); /* spent inside pam_authenticate() */
    }
    /* ensure_minimum_time_since(): past the wanted time, sshd doubles it
     * until it is ahead again, and waits the rest. */
    while (want < elapsed) {
        want *= 2;
    }
    return (want + 500u) / 1000u;
}

static void
auth__methods_left(const profile_t *p, const auth_state_t *st, auth_verdict_t *v)
{
    int complete = 0;

    auth__walk(p, st, &v->methods, &complete);
    /* libssh falls back to "publickey,password" for an empty mask; say
     * "publickey" at least, as an sshd with nothing usable would. */
    if (v->methods == 0) {
        v->methods = SSH_AUTH_METHOD_PUBLICKEY;
    }
}

static void
auth__close(auth_verdict_t *v, int send_disconnect, const char *reason)
{
    v->kind = AUTH_VERDICT_CLOSE;
    v->send_disconnect = send_disconnect;
    v->reason = reason;
}

/* The first request fixes user and service; sshd (auth2.c) ends the
 * connection when a later one names others. 0: go on. */
static int
auth__same_user(const sess_t *s, auth_state_t *st, const auth_request_t *rq, auth_verdict_t *v)
{
    const char *user = rq->user != NULL ? rq->user : "";
    const char *service = rq->service != NULL ? rq->service : "";

    if (rq->kbdint_response) {
        return 0; /* an INFO_RESPONSE names no user: it answers our prompt */
    }
    if (st->attempts++ == 0) {
        util_strlcpy(st->user, user, sizeof st->user);
        util_strlcpy(st->service, service, sizeof st->service);
        return 0;
    }
    if (strcmp(st->user, user) == 0 &&
        (rq->service == NULL || st->service[0] == '\0' || strcmp(st->service, service) == 0)) {
        return 0;
    }
    SESS_LOG(s, "auth_user_changed", "user", st->user, "new_user", user,
             "service", st->service, "new_service", service, NULL);
    /* sshd's ssh_packet_disconnect(): reason 2 (protocol error). */
    auth__close(v, UTIL_DISCONNECT_REASON(UTIL_DISCONNECT_PROTOCOL_ERROR),
                "Change of username or service not allowed");
    return -1;
}

/* A method succeeded: full success, or partial success when
 * AuthenticationMethods wants more. */
static void
auth__succeeded(const sess_t *s, auth_state_t *st, const char *method, const char *fp,
                auth_verdict_t *v)
{
    int complete = 0;

    if (st->ndone < AUTH_MAX_STEPS) {
        st->done[st->ndone++] = method;
    }
    auth__walk(s->profile, st, &v->methods, &complete);
    if (complete) {
        st->authenticated = 1;
        v->kind = AUTH_VERDICT_SUCCESS;
        v->methods = 0;
        auth__log(s, st, method, "success", fp, NULL, NULL);
        return;
    }
    v->kind = AUTH_VERDICT_PARTIAL;
    auth__log(s, st, method, "partial", fp, NULL, NULL);
}

/* Does the request prove what its method asks? Sets *postponed when sshd
 * would answer without a verdict (PK_OK, the prompt). */
static int
auth__check(const sess_t *s, auth_state_t *st, const auth_request_t *rq, const char *fp,
            auth_verdict_t *v)
{
    const profile_t *p = s->profile;
    const profile_account_t *acct = profile_account_find(p, st->user);

    switch (rq->method) {
    case SSH_AUTH_METHOD_NONE:
        return auth__allowed(p, st, SSH_AUTH_METHOD_NONE) && acct != NULL;
    case SSH_AUTH_METHOD_PASSWORD:
        return auth__allowed(p, st, SSH_AUTH_METHOD_PASSWORD) &&
               auth__password_ok(acct, rq->password);
    case SSH_AUTH_METHOD_PUBLICKEY: {
        int authorized = auth__allowed(p, st, SSH_AUTH_METHOD_PUBLICKEY) &&
                         auth__key_authorized(s, acct, rq->key);
        if (!rq->has_signature && authorized) {
            v->kind = AUTH_VERDICT_PK_OK; /* the key would do: postponed */
            auth__log(s, st, "publickey", "key_ok", fp, NULL, NULL);
            return 0;
        }
        return authorized && rq->has_signature && rq->signature_ok;
    }
    case SSH_AUTH_METHOD_INTERACTIVE:
        if (!auth__allowed(p, st, SSH_AUTH_METHOD_INTERACTIVE)) {
            st->kbdint_pending = 0;
            return 0;
        }
        if (!rq->kbdint_response) {
            st->kbdint_pending = 1;
            v->kind = AUTH_VERDICT_KBDINT_PROMPT; /* postponed: the answer counts */
            return 0;
        }
        st->kbdint_pending = 0;
        return rq->nanswers == 1 && auth__password_ok(acct, rq->password);
    default:
        return 0;
    }
}

void
auth_decide(const sess_t *s, auth_state_t *st, const auth_request_t *rq, auth_verdict_t *v)
{
    const profile_t *p = s->profile;
    const char *method = rq->method_name != NULL ? rq->method_name : auth__method_name(rq->method);
    char fp[80] = "";
    int first = 0;
    int pam_ran = 0;

    memset(v, 0, sizeof *v);
    v->kind = AUTH_VERDICT_FAILURE;
    if (st->authenticated) {
        v->kind = AUTH_VERDICT_IGNORE; /* RFC 4252 5.1: later requests are ignored */
        return;
    }
    if (rq->kbdint_response && !st->kbdint_pending) {
        /* An answer to a prompt we never sent (or a request came between). */
        SESS_LOG(s, "auth_unexpected_response", "user", st->user, NULL);
        auth__close(v, 1, "Protocol error: unexpected keyboard-interactive response");
        return;
    }
    first = st->attempts == 0;
    if (auth__same_user(s, st, rq, v) != 0) {
        return;
    }
    if (!rq->kbdint_response && rq->method != SSH_AUTH_METHOD_INTERACTIVE) {
        st->kbdint_pending = 0; /* a new request abandons the prompt, as sshd does */
    }
    if (p->banner != NULL && !st->banner_sent) {
        /* sshd sends the Banner before its answer to the first request
         * (RFC 4252 5.4, SSH_MSG_USERAUTH_BANNER). */
        st->banner_sent = 1;
        v->send_banner = 1;
    }
    if (rq->malformed) {
        /* sshd's sshpkt_get_cstring() refuses a string with a NUL in it and
         * the connection ends, with no DISCONNECT (a parse error). */
        auth__log(s, st, method, "malformed", NULL, NULL, "NUL byte in a string");
        auth__close(v, 0, "Protocol error: NUL byte in a USERAUTH string");
        return;
    }
    if (rq->key != NULL) {
        hostkey_fingerprint(rq->key, fp, sizeof fp);
    }
    if (auth__check(s, st, rq, fp, v)) {
        auth__succeeded(s, st, method, fp[0] != '\0' ? fp : NULL, v);
        return;
    }
    if (v->kind == AUTH_VERDICT_PK_OK || v->kind == AUTH_VERDICT_KBDINT_PROMPT) {
        return; /* sshd's "postponed": no failure counted */
    }
    /* sshd (auth2.c) counts every failure but a first "none". */
    if (rq->method != SSH_AUTH_METHOD_NONE || !first) {
        st->failures++;
    }
    /* With UsePAM, a password (or the answer to the prompt) goes to
     * pam_authenticate(), whose failure has its own delay; a method that
     * is off never gets that far. */
    pam_ran = rq->kbdint_response ||
              (rq->method == SSH_AUTH_METHOD_PASSWORD && auth__allowed(p, st, rq->method));
    auth__log(s, st, method, "failure", fp[0] != '\0' ? fp : NULL, rq->password,
              rq->has_signature && !rq->signature_ok ? "bad signature" : NULL);
    if (st->failures >= p->max_auth_tries) {
        SESS_LOG(s, "max_auth_tries", "user", st->user, NULL);
        /* sshd sends reason 2 (protocol error) with this text; so does the
         * bundled engine (the system's libssh 0.10 can only send 11). */
        auth__close(v, UTIL_DISCONNECT_REASON(UTIL_DISCONNECT_PROTOCOL_ERROR),
                    "Too many authentication failures");
        v->delay_ms = auth_failure_delay_ms(p, st->user, rq->method, pam_ran);
        return;
    }
    v->kind = AUTH_VERDICT_FAILURE;
    v->delay_ms = auth_failure_delay_ms(p, st->user, rq->method, pam_ran);
    auth__methods_left(p, st, v);
}

/* ---- the libssh adapter ------------------------------------------------ */

/* The SSH string length of s: 4 bytes of length and the bytes. */
#define AUTH__SLEN(s) (4u + (uint32_t)strlen((s) != NULL ? (s) : ""))

/*
 * Did the C strings libssh gave us lose bytes after a NUL? The payload
 * length of the packet (libssh's packet log, sess_wire_t) is compared with
 * the length the strings would make. Only for the requests whose every
 * field we see: none, password and the INFO_RESPONSE. A publickey request
 * carries an algorithm name and a signature libssh does not hand over, and
 * a keyboard-interactive request a language and submethods: those are not
 * checked (a NUL there gains nothing: the key or the prompt still decide).
 */
static int
auth__malformed(const sess_t *s, ssh_message msg, int method, int is_response)
{
    const char *user = ssh_message_auth_user(msg);
    uint32_t want = 0;

    if (s->session == NULL || s->wire.type < 0) {
        return 0; /* the packet log is not there: nothing to compare */
    }
    if (is_response) {
        int n = ssh_userauth_kbdint_getnanswers(s->session);
        int i;
        if (s->wire.type != 61 || n < 0) {
            return 0;
        }
        want = 1 + 4;
        for (i = 0; i < n; i++) {
            want += AUTH__SLEN(ssh_userauth_kbdint_getanswer(s->session, (unsigned)i));
        }
        return want != s->wire.payload;
    }
    if (s->wire.type != 50) {
        return 0;
    }
    want = 1 + AUTH__SLEN(user) + AUTH__SLEN(s->wire.service);
    if (method == SSH_AUTH_METHOD_NONE) {
        want += AUTH__SLEN("none");
    } else if (method == SSH_AUTH_METHOD_PASSWORD) {
        want += AUTH__SLEN("password") + 1 + AUTH__SLEN(ssh_message_auth_password(msg));
    } else {
        return 0;
    }
    return want != s->wire.payload;
}

static void
auth__send_banner(const sess_t *s)
{
    ssh_string b = ssh_string_from_char(s->profile->banner);

    if (b != NULL) {
        ssh_send_issue_banner(s->session, b);
        ssh_string_free(b);
    }
}

/*
 * A USERAUTH_FAILURE with no message to answer on (a request libssh
 * dropped, an answer held for its delay). libssh's only way to send one is
 * ssh_message_reply_default(), which for an auth message reads nothing but
 * the message's first two fields (session, type), stable since 0.5, and
 * the methods set on its session: a zeroed stand-in with those two is
 * given to it.
 */
static void
auth__send_failure(sess_t *s, int methods)
{
    struct {
        ssh_session session;
        int type;
        unsigned char rest[1024]; /* ssh_message_struct is smaller; zeroed */
    } standin;

    memset(&standin, 0, sizeof standin);
    standin.session = s->session;
    standin.type = SSH_REQUEST_AUTH;
    ssh_message_auth_set_methods((ssh_message)(void *)&standin, methods);
    ssh_message_reply_default((ssh_message)(void *)&standin);
}

/* Keeps v's answer for its failure delay when the owner can wait (a timer
 * of its loop, then auth_release()). 1: held. */
static int
auth__hold(sess_t *s, auth_state_t *st, const auth_verdict_t *v)
{
    if (v->delay_ms == 0 || s->ops == NULL || s->ops->hold == NULL || s->session == NULL ||
        (v->kind != AUTH_VERDICT_FAILURE && v->kind != AUTH_VERDICT_CLOSE)) {
        return 0;
    }
    st->held = 1;
    st->held_kind = (int)v->kind;
    st->held_methods = v->methods;
    st->held_disconnect = v->send_disconnect;
    st->held_reason = v->reason;
    s->ops->hold(s->owner, v->delay_ms);
    return 1;
}

void
auth_release(sess_t *s, auth_state_t *st)
{
    if (!st->held) {
        return;
    }
    st->held = 0;
    if (st->held_kind == AUTH_VERDICT_FAILURE) {
        if (s->session != NULL) {
            auth__send_failure(s, st->held_methods);
        }
        return;
    }
    s->ops->close(s->owner, SESS_BY_SERVER, st->held_disconnect, st->held_reason);
}

/* Sends what the verdict says, on msg (NULL: a request libssh dropped,
 * for which only FAILURE and CLOSE come here). */
static void
auth__apply(sess_t *s, auth_state_t *st, ssh_message msg, const auth_verdict_t *v)
{
    static const char *prompts[] = { "Password: " };
    static char echo[] = { 0 };

    if (v->send_banner && v->kind != AUTH_VERDICT_CLOSE) {
        auth__send_banner(s);
    }
    if (auth__hold(s, st, v)) {
        return;
    }
    switch (v->kind) {
    case AUTH_VERDICT_IGNORE:
        break;
    case AUTH_VERDICT_SUCCESS:
        ssh_message_auth_reply_success(msg, 0);
        s->ops->authenticated(s->owner);
        break;
    case AUTH_VERDICT_PARTIAL:
        ssh_message_auth_set_methods(msg, v->methods);
        ssh_message_auth_reply_success(msg, 1);
        break;
    case AUTH_VERDICT_FAILURE:
        if (msg == NULL) {
            auth__send_failure(s, v->methods);
            break;
        }
        ssh_message_auth_set_methods(msg, v->methods);
        ssh_message_reply_default(msg);
        break;
    case AUTH_VERDICT_PK_OK:
        ssh_message_auth_reply_pk_ok_simple(msg);
        break;
    case AUTH_VERDICT_KBDINT_PROMPT:
        ssh_message_auth_interactive_request(msg, "", "", 1, prompts, echo);
        break;
    case AUTH_VERDICT_CLOSE:
        s->ops->close(s->owner, SESS_BY_SERVER, v->send_disconnect, v->reason);
        break;
    }
}

int
auth_handle(sess_t *s, auth_state_t *st, ssh_message msg)
{
    auth_request_t rq;
    auth_verdict_t v;

    /* A request before the held answer went out (the client did not wait
     * for it): that answer first, as sshd would have sent it. */
    auth_release(s, st);
    memset(&rq, 0, sizeof rq);
    rq.method = ssh_message_subtype(msg);
    if (strcmp(auth__method_name(rq.method), "unknown") == 0) {
        rq.method = 0; /* SSH_AUTH_METHOD_UNKNOWN is 0 as well; anything odd */
    }
    rq.user = ssh_message_auth_user(msg);
    rq.service = s->wire.type == 50 && s->wire.service[0] != '\0' ? s->wire.service : NULL;
    rq.kbdint_response = rq.method == SSH_AUTH_METHOD_INTERACTIVE &&
                         ssh_message_auth_kbdint_is_response(msg);
    if (rq.kbdint_response) {
        rq.user = NULL;
        rq.service = NULL;
    }
    rq.malformed = auth__malformed(s, msg, rq.method, rq.kbdint_response);
    switch (rq.method) {
    case SSH_AUTH_METHOD_PASSWORD:
        rq.password = ssh_message_auth_password(msg);
        break;
    case SSH_AUTH_METHOD_PUBLICKEY: {
        enum ssh_publickey_state_e ps = ssh_message_auth_publickey_state(msg);
        rq.key = ssh_message_auth_pubkey(msg);
        /* libssh queues a signed request only when the signature verified
         * (VALID); a bad one never gets here, see auth_libssh_leave(). */
        rq.has_signature = ps != SSH_PUBLICKEY_STATE_NONE;
        rq.signature_ok = ps == SSH_PUBLICKEY_STATE_VALID;
        break;
    }
    case SSH_AUTH_METHOD_INTERACTIVE:
        if (rq.kbdint_response) {
            rq.nanswers = ssh_userauth_kbdint_getnanswers(s->session);
            if (rq.nanswers == 1) {
                rq.password = ssh_userauth_kbdint_getanswer(s->session, 0);
            }
        }
        break;
    default:
        break;
    }
    auth_decide(s, st, &rq, &v);
    if (v.kind == AUTH_VERDICT_IGNORE) {
        return 1;
    }
    auth__apply(s, st, msg, &v);
    return 0;
}

/* ---- libssh's packet log as a source of facts -------------------------- */

/* The session libssh is running for on this thread (one loop per thread;
 * libssh 0.10's log callback and level are per thread as well). */
static _Thread_local sess_t *auth__current;

/*
 * libssh's log callback, at SSH_LOG_PACKET. Three lines matter, each from
 * libssh 0.10's own code (packet.c, messages.c); anything else is ignored:
 *   "packet: read type %hhd [len=%u,padding=%hhd,comp=%u,payload=%u]"
 *   "Auth request for service %s, method %s for user '%s'"
 *   "Received an invalid signature from peer"
 */
static void
auth__on_libssh_log(int priority, const char *function, const char *buffer, void *userdata)
{
    sess_t *s = auth__current;
    const char *m = NULL;

    (void)priority;
    (void)userdata;
    if (s == NULL || function == NULL || buffer == NULL) {
        return;
    }
    if (strcmp(function, "ssh_packet_socket_callback") == 0 &&
        (m = strstr(buffer, "packet: read type ")) != NULL) {
        int type = 0;
        unsigned payload = 0;
        const char *pl = strstr(m, "payload=");
        if (sscanf(m, "packet: read type %d", &type) == 1 && pl != NULL &&
            sscanf(pl, "payload=%u", &payload) == 1) {
            s->wire.type = type & 0xff;
            s->wire.payload = payload;
            s->wire.service[0] = '\0';
        }
    } else if (strcmp(function, "ssh_packet_userauth_request") == 0) {
        if ((m = strstr(buffer, "Auth request for service ")) != NULL) {
            const char *svc = m + strlen("Auth request for service ");
            const char *end = strstr(svc, ", method ");
            const char *u = strstr(svc, " for user '");
            size_t n = end != NULL ? (size_t)(end - svc) : 0;
            if (n >= sizeof s->wire.service) {
                n = sizeof s->wire.service - 1;
            }
            memcpy(s->wire.service, svc, n);
            s->wire.service[n] = '\0';
            if (u != NULL) {
                size_t ul = 0;
                u += strlen(" for user '");
                ul = strlen(u);
                if (ul > 0 && u[ul - 1] == '\'') {
                    ul--;
                }
                if (ul >= sizeof s->wire.bad_user) {
                    ul = sizeof s->wire.bad_user - 1;
                }
                memcpy(s->wire.bad_user, u, ul);
                s->wire.bad_user[ul] = '\0';
            }
        } else if (strstr(buffer, "invalid signature") != NULL ||
                   strstr(buffer, "invalid  signature") != NULL) {
            s->wire.bad_signature = 1;
        }
    }
}

void
auth_libssh_enter(sess_t *s)
{
    auth__current = s;
    /* Set every time: a bind (HostKeyRotation makes one per connection)
     * sets the level back to its own. */
    ssh_set_log_callback(auth__on_libssh_log);
    ssh_set_log_level(SSH_LOG_PACKET);
}

/*
 * A publickey request with a signature that did not verify: libssh 0.10
 * (messages.c, ssh_packet_userauth_request) frees it unanswered and the
 * client waits forever. sshd answers FAILURE and counts it; so does this,
 * with no message to answer on (auth__send_failure).
 */
static void
auth__answer_bad_signature(sess_t *s, auth_state_t *st)
{
    auth_request_t rq;
    auth_verdict_t v;

    auth_release(s, st);
    memset(&rq, 0, sizeof rq);
    rq.method = SSH_AUTH_METHOD_PUBLICKEY;
    rq.user = s->wire.bad_user;
    rq.service = s->wire.service[0] != '\0' ? s->wire.service : NULL;
    rq.has_signature = 1;
    rq.signature_ok = 0;
    auth_decide(s, st, &rq, &v);
    if (v.kind == AUTH_VERDICT_IGNORE) {
        return;
    }
    auth__apply(s, st, NULL, &v);
}

void
auth_libssh_leave(sess_t *s, auth_state_t *st)
{
    if (auth__current == s) {
        auth__current = NULL;
    }
    s->wire.type = -1; /* facts of this run only: never compare with a stale packet */
    if (s->wire.bad_signature) {
        s->wire.bad_signature = 0;
        if (s->session != NULL) {
            auth__answer_bad_signature(s, st);
        }
    }
}
