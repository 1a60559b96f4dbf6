#include "ssh/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sshmock/sshmock.h>

#include "net/conn.h"
#include "ssh/hostkey.h"

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
    int subtype;
    int mask;
    const char *name;
} auth__methods[] = {
    { SSH_AUTH_METHOD_NONE, SSH_AUTH_METHOD_NONE, "none" },
    { SSH_AUTH_METHOD_PASSWORD, SSH_AUTH_METHOD_PASSWORD, "password" },
    { SSH_AUTH_METHOD_PUBLICKEY, SSH_AUTH_METHOD_PUBLICKEY, "publickey" },
    { SSH_AUTH_METHOD_INTERACTIVE, SSH_AUTH_METHOD_INTERACTIVE, "keyboard-interactive" },
    { SSH_AUTH_METHOD_HOSTBASED, SSH_AUTH_METHOD_HOSTBASED, "hostbased" },
    { SSH_AUTH_METHOD_GSSAPI_MIC, SSH_AUTH_METHOD_GSSAPI_MIC, "gssapi-with-mic" },
};

static const char *
auth__method_name(int subtype)
{
    size_t i;

    for (i = 0; i < sizeof auth__methods / sizeof auth__methods[0]; i++) {
        if (auth__methods[i].subtype == subtype) {
            return auth__methods[i].name;
        }
    }
    return "unknown";
}

static int
auth__method_mask(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof auth__methods / sizeof auth__methods[0]; i++) {
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
auth__walk(const conn_t *c, int *next_mask, int *complete)
{
    const profile_t *p = c->srv->profile;
    const char *am = p->authentication_methods;
    char *copy = NULL;
    char *save_l = NULL;
    char *list = NULL;

    *next_mask = 0;
    *complete = 0;
    if (am == NULL || strcmp(am, "any") == 0) {
        size_t i;
        for (i = 0; i < sizeof auth__methods / sizeof auth__methods[0]; i++) {
            if (auth__enabled(p, auth__methods[i].name)) {
                *next_mask |= auth__methods[i].mask;
            }
        }
        *complete = c->auth.ndone > 0;
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
            if (i < c->auth.ndone) {
                if (strcmp(m, c->auth.done[i]) != 0) {
                    prefix = 0;
                    break;
                }
            } else {
                *next_mask |= auth__method_mask(m);
                prefix = 0; /* the list goes on: not complete */
                break;
            }
        }
        if (prefix && i == c->auth.ndone && c->auth.ndone > 0) {
            *complete = 1;
        }
    }
    free(copy);
    return 0;
}

static int
auth__allowed(const conn_t *c, int subtype)
{
    int mask = 0;
    int complete = 0;

    if (auth__walk(c, &mask, &complete) < 0) {
        return 0;
    }
    return (mask & subtype) != 0;
}

static int
auth__key_authorized(const conn_t *c, const profile_account_t *a, ssh_key key)
{
    const profile_t *p = c->srv->profile;
    const auth_keyring_t *r = NULL;
    size_t i;

    if (a == NULL || key == NULL || c->srv->keyrings == NULL) {
        return 0;
    }
    r = &c->srv->keyrings[a - p->accounts];
    for (i = 0; i < r->n; i++) {
        if (ssh_key_cmp(r->keys[i], key, SSH_KEY_CMP_PUBLIC) == 0) {
            return 1;
        }
    }
    return 0;
}

static void
auth__log(conn_t *c, const char *method, const char *result, const char *key_fp,
          const char *password)
{
    CONN_LOG(c, "auth", "user", c->auth.user, "method", method, "result", result,
             "key", key_fp, "password", c->srv->log_passwords ? password : NULL, NULL);
}

static void
auth__reply_failure(conn_t *c, ssh_message msg)
{
    int mask = 0;
    int complete = 0;

    auth__walk(c, &mask, &complete);
    /* libssh falls back to "publickey,password" for an empty mask; say
     * "publickey" at least, as an sshd with nothing usable would. */
    ssh_message_auth_set_methods(msg, mask != 0 ? mask : (int)SSH_AUTH_METHOD_PUBLICKEY);
    ssh_message_reply_default(msg);
}

/* A method succeeded: full success, or partial success when
 * AuthenticationMethods wants more. */
static void
auth__succeeded(conn_t *c, ssh_message msg, const char *method, const char *fp)
{
    int mask = 0;
    int complete = 0;

    if (c->auth.ndone < AUTH_MAX_STEPS) {
        c->auth.done[c->auth.ndone++] = method;
    }
    auth__walk(c, &mask, &complete);
    if (complete) {
        c->auth.authenticated = 1;
        ssh_message_auth_reply_success(msg, 0);
        auth__log(c, method, "success", fp, NULL);
        conn_set_state(c, CONN_OPEN);
        wire_stage_after_output(c, FAULT_STAGE_AUTH_SUCCESS);
        return;
    }
    ssh_message_auth_set_methods(msg, mask);
    ssh_message_auth_reply_success(msg, 1);
    auth__log(c, method, "partial", fp, NULL);
}

int
auth_handle(conn_t *c, ssh_message msg)
{
    const profile_t *p = c->srv->profile;
    int subtype = ssh_message_subtype(msg);
    const char *method = auth__method_name(subtype);
    const char *user = ssh_message_auth_user(msg);
    const profile_account_t *acct = NULL;
    const char *password = NULL;
    char fp[80] = "";
    int ok = 0;

    if (c->auth.authenticated) {
        return 1; /* RFC 4252 §5.1: later requests are ignored; libssh answers */
    }
    /* A keyboard-interactive answer (INFO_RESPONSE) names no user: it
     * belongs to the request that sent the prompt. */
    if (!(subtype == SSH_AUTH_METHOD_INTERACTIVE && c->auth.kbdint_pending &&
          ssh_message_auth_kbdint_is_response(msg))) {
        util_strlcpy(c->auth.user, user != NULL ? user : "", sizeof c->auth.user);
    }
    acct = profile_account_find(p, c->auth.user);
    c->auth.attempts++;
    if (p->banner != NULL && !c->auth.banner_sent) {
        /* sshd sends the Banner file before its answer to the first request
         * (RFC 4252 5.4, SSH_MSG_USERAUTH_BANNER). */
        ssh_string b = ssh_string_from_char(p->banner);
        c->auth.banner_sent = 1;
        if (b != NULL) {
            ssh_send_issue_banner(c->session, b);
            ssh_string_free(b);
        }
    }

    switch (subtype) {
    case SSH_AUTH_METHOD_NONE:
        ok = auth__allowed(c, SSH_AUTH_METHOD_NONE) && acct != NULL;
        break;
    case SSH_AUTH_METHOD_PASSWORD:
        password = ssh_message_auth_password(msg);
        ok = auth__allowed(c, SSH_AUTH_METHOD_PASSWORD) && acct != NULL &&
             acct->password != NULL && password != NULL && strcmp(password, acct->password) == 0;
        break;
    case SSH_AUTH_METHOD_PUBLICKEY: {
        ssh_key key = ssh_message_auth_pubkey(msg);
        enum ssh_publickey_state_e st = ssh_message_auth_publickey_state(msg);
        int authorized = auth__allowed(c, SSH_AUTH_METHOD_PUBLICKEY) &&
                         auth__key_authorized(c, acct, key);
        if (key != NULL) {
            hostkey_fingerprint(key, fp, sizeof fp);
        }
        if (st == SSH_PUBLICKEY_STATE_NONE && authorized) {
            /* The client asks whether this key would do: it would. */
            ssh_message_auth_reply_pk_ok_simple(msg);
            auth__log(c, method, "key_ok", fp, NULL);
            return 0;
        }
        ok = authorized && st == SSH_PUBLICKEY_STATE_VALID;
        break;
    }
    case SSH_AUTH_METHOD_INTERACTIVE:
        if (!auth__allowed(c, SSH_AUTH_METHOD_INTERACTIVE)) {
            break;
        }
        if (!ssh_message_auth_kbdint_is_response(msg)) {
            const char *prompts[] = { "Password: " };
            char echo[] = { 0 };
            c->auth.attempts--; /* the prompt is half of one attempt */
            c->auth.kbdint_pending = 1;
            ssh_message_auth_interactive_request(msg, "", "", 1, prompts, echo);
            return 0;
        }
        c->auth.kbdint_pending = 0;
        if (ssh_userauth_kbdint_getnanswers(c->session) == 1) {
            password = ssh_userauth_kbdint_getanswer(c->session, 0);
        }
        ok = acct != NULL && acct->password != NULL && password != NULL &&
             strcmp(password, acct->password) == 0;
        break;
    default:
        break;
    }

    if (ok) {
        auth__succeeded(c, msg, method, fp[0] != '\0' ? fp : NULL);
        return 0;
    }
    /* sshd (auth2.c) counts every failure but a first "none". */
    if (subtype != SSH_AUTH_METHOD_NONE || c->auth.attempts > 1) {
        c->auth.failures++;
    }
    auth__log(c, method, "failure", fp[0] != '\0' ? fp : NULL, password);
    if (c->auth.failures >= p->max_auth_tries) {
        CONN_LOG(c, "max_auth_tries", "user", c->auth.user, NULL);
        /* sshd sends reason 2 (protocol error); libssh 0.10's
         * ssh_disconnect() can only send reason 11 (by application), with
         * our text. See docs/limitations in the README. */
        conn_close(c, CONN_BY_SERVER, 1, "Too many authentication failures");
        return 0;
    }
    auth__reply_failure(c, msg);
    return 0;
}
