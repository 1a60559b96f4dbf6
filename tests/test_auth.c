/*
 * Unit tests of the authentication decision (server/ssh/auth.c,
 * auth_decide): every method, AuthenticationMethods partial success,
 * MaxAuthTries counted as sshd's auth2.c counts, the Banner, user name and
 * service changes and malformed strings. Requests are plain structs, the
 * session context a fake owner: no libssh session, no network. Keys are
 * real (the demo key of the shipped profiles and one generated here).
 *
 * Everything is freed: these tests also run under ASan and UBSan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libssh/libssh.h>

#include "base/log.h"
#include "profile/profile.h"
#include "base/util.h"
#include "ssh/auth.h"

#define DEMO_PUB SSHMOCK_SOURCE_DIR "/profiles/keys/demo_ed25519.pub"

typedef struct fixture_s {
    profile_t *p;
    auth_keyring_t *rings;
    sess_t s;
    auth_state_t st;
    log_t log;
    char *logtext;
    size_t loglen;
    FILE *logf;
    ssh_key demo_key;   /* authorized for demo */
    ssh_key other_key;  /* authorized for nobody */
} fixture_t;

static const sess_ops_t fake_ops = { NULL, NULL, NULL, NULL }; /* the core never calls them */

static fixture_t *
fixture_new(const char *extra)
{
    fixture_t *f = calloc(1, sizeof *f);
    char text[2048];
    char err[256] = "";

    assert_non_null(f);
    snprintf(text, sizeof text,
             "HostKey generate:ed25519\n"
             "Account demo demo\n"
             "Account other otherpw\n"
             "AccountKeyFile demo %s\n"
             "%s",
             DEMO_PUB, extra);
    assert_int_equal(profile_parse_string("/tmp/t.conf", text, &f->p, err, sizeof err), 0);
    assert_int_equal(auth_keyrings_load(f->p, &f->rings, err, sizeof err), 0);
    f->logf = open_memstream(&f->logtext, &f->loglen);
    assert_non_null(f->logf);
    assert_int_equal(log_open(&f->log, f->logf, NULL, "t"), 0);
    f->s.profile = f->p;
    f->s.log = &f->log;
    f->s.conn_id = 7;
    f->s.keyrings = f->rings;
    f->s.ops = &fake_ops;
    f->s.user = f->st.user;
    f->s.wire.type = -1;
    assert_int_equal(ssh_pki_import_pubkey_file(DEMO_PUB, &f->demo_key), SSH_OK);
    assert_int_equal(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &f->other_key), SSH_OK);
    return f;
}

static void
fixture_free(fixture_t *f)
{
    log_close(&f->log);
    fclose(f->logf);
    free(f->logtext);
    auth_keyrings_free(f->rings, f->p->naccounts);
    profile_free(f->p);
    ssh_key_free(f->demo_key);
    ssh_key_free(f->other_key);
    free(f);
}

static const char *
logged(fixture_t *f)
{
    fflush(f->logf);
    return f->logtext != NULL ? f->logtext : "";
}

static auth_verdict_t
req_none(fixture_t *f, const char *user)
{
    auth_request_t rq = { .method = SSH_AUTH_METHOD_NONE, .user = user, .service = "ssh-connection" };
    auth_verdict_t v;

    auth_decide(&f->s, &f->st, &rq, &v);
    return v;
}

static auth_verdict_t
req_password(fixture_t *f, const char *user, const char *password)
{
    auth_request_t rq = { .method = SSH_AUTH_METHOD_PASSWORD, .user = user,
                          .service = "ssh-connection", .password = password };
    auth_verdict_t v;

    auth_decide(&f->s, &f->st, &rq, &v);
    return v;
}

static auth_verdict_t
req_key(fixture_t *f, const char *user, ssh_key key, int has_sig, int sig_ok)
{
    auth_request_t rq = { .method = SSH_AUTH_METHOD_PUBLICKEY, .user = user,
                          .service = "ssh-connection", .key = key,
                          .has_signature = has_sig, .signature_ok = sig_ok };
    auth_verdict_t v;

    auth_decide(&f->s, &f->st, &rq, &v);
    return v;
}

static auth_verdict_t
req_kbdint(fixture_t *f, const char *user)
{
    auth_request_t rq = { .method = SSH_AUTH_METHOD_INTERACTIVE, .user = user,
                          .service = "ssh-connection" };
    auth_verdict_t v;

    auth_decide(&f->s, &f->st, &rq, &v);
    return v;
}

static auth_verdict_t
req_kbdint_answer(fixture_t *f, int nanswers, const char *answer)
{
    auth_request_t rq = { .method = SSH_AUTH_METHOD_INTERACTIVE, .kbdint_response = 1,
                          .nanswers = nanswers, .password = answer };
    auth_verdict_t v;

    auth_decide(&f->s, &f->st, &rq, &v);
    return v;
}

/* ---- methods ------------------------------------------------------------ */

static void
test_none_is_refused_and_first_not_counted(void **state)
{
    fixture_t *f = fixture_new("");
    auth_verdict_t v;

    (void)state;
    v = req_none(f, "demo");
    assert_int_equal(v.kind, AUTH_VERDICT_FAILURE);
    /* The methods that can continue: all three enabled by default. */
    assert_int_equal(v.methods, SSH_AUTH_METHOD_PASSWORD | SSH_AUTH_METHOD_PUBLICKEY |
                                SSH_AUTH_METHOD_INTERACTIVE);
    assert_int_equal(f->st.failures, 0);
    v = req_none(f, "demo"); /* a second "none" counts */
    assert_int_equal(v.kind, AUTH_VERDICT_FAILURE);
    assert_int_equal(f->st.failures, 1);
    fixture_free(f);
}

static void
test_none_allowed_by_authentication_methods(void **state)
{
    fixture_t *f = fixture_new("AuthenticationMethods none\n");
    auth_verdict_t v;

    (void)state;
    v = req_none(f, "nosuchuser");
    assert_int_equal(v.kind, AUTH_VERDICT_FAILURE); /* only known accounts */
    fixture_free(f);
    f = fixture_new("AuthenticationMethods none\n");
    v = req_none(f, "demo");
    assert_int_equal(v.kind, AUTH_VERDICT_SUCCESS);
    assert_true(f->st.authenticated);
    fixture_free(f);
}

static void
test_password(void **state)
{
    fixture_t *f = fixture_new("");
    auth_verdict_t v;

    (void)state;
    v = req_password(f, "demo", "wrong");
    assert_int_equal(v.kind, AUTH_VERDICT_FAILURE);
    assert_int_equal(f->st.failures, 1);
    assert_non_null(strstr(logged(f), "result=failure"));
    v = req_password(f, "demo", "demo");
    assert_int_equal(v.kind, AUTH_VERDICT_SUCCESS);
    assert_true(f->st.authenticated);
    assert_string_equal(f->st.user, "demo");
    assert_non_null(strstr(logged(f), "result=success"));
    /* RFC 4252 5.1: requests after success are ignored. */
    v = req_password(f, "demo", "demo");
    assert_int_equal(v.kind, AUTH_VERDICT_IGNORE);
    fixture_free(f);
}

static void
test_password_disabled(void **state)
{
    fixture_t *f = fixture_new("PasswordAuthentication no\n");
    auth_verdict_t v;

    (void)state;
    v = req_password(f, "demo", "demo");
    assert_int_equal(v.kind, AUTH_VERDICT_FAILURE);
    assert_int_equal(v.methods & SSH_AUTH_METHOD_PASSWORD, 0);
    fixture_free(f);
}

static void
test_publickey_query_and_signature(void **state)
{
    fixture_t *f = fixture_new("");
    auth_verdict_t v;

    (void)state;
    /* A query for a key that would do: PK_OK, postponed, not counted. */
    v = req_key(f, "demo", f->demo_key, 0, 0);
    assert_int_equal(v.kind, AUTH_VERDICT_PK_OK);
    assert_int_equal(f->st.failures, 0);
    assert_non_null(strstr(logged(f), "result=key_ok"));
    /* A query for a key that would not: a counted failure. */
    v = req_key(f, "demo", f->other_key, 0, 0);
    assert_int_equal(v.kind, AUTH_VERDICT_FAILURE);
    assert_int_equal(f->st.failures, 1);
    /* The demo key is not other's. */
    fixture_free(f);
    f = fixture_new("");
    v = req_key(f, "other", f->demo_key, 1, 1);
    assert_int_equal(v.kind, AUTH_VERDICT_FAILURE);
    fixture_free(f);
    f = fixture_new("");
    v = req_key(f, "demo", f->demo_key, 1, 1);
    assert_int_equal(v.kind, AUTH_VERDICT_SUCCESS);
    assert_non_null(strstr(logged(f), "key=SHA256:"));
    fixture_free(f);
}

static void
test_publickey_bad_signature_counts(void **state)
{
    fixture_t *f = fixture_new("MaxAuthTries 2\n");
    auth_verdict_t v;

    (void)state;
    v = req_key(f, "demo", f->demo_key, 1, 0);
    assert_int_equal(v.kind, AUTH_VERDICT_FAILURE);
    assert_int_equal(f->st.failures, 1);
    assert_non_null(strstr(logged(f), "bad signature"));
    v = req_key(f, "demo", f->demo_key, 1, 0);
    assert_int_equal(v.kind, AUTH_VERDICT_CLOSE);
    assert_string_equal(v.reason, "Too many authentication failures");
    fixture_free(f);
}

static void
test_keyboard_interactive(void **state)
{
    fixture_t *f = fixture_new("");
    auth_verdict_t v;

    (void)state;
    v = req_kbdint(f, "demo");
    assert_int_equal(v.kind, AUTH_VERDICT_KBDINT_PROMPT);
    assert_int_equal(f->st.failures, 0); /* the prompt is postponed */
    v = req_kbdint_answer(f, 1, "wrong");
    assert_int_equal(v.kind, AUTH_VERDICT_FAILURE);
    assert_int_equal(f->st.failures, 1); /* each round counts */
    v = req_kbdint(f, "demo");
    assert_int_equal(v.kind, AUTH_VERDICT_KBDINT_PROMPT);
    v = req_kbdint_answer(f, 2, "demo"); /* one prompt, two answers */
    assert_int_equal(v.kind, AUTH_VERDICT_FAILURE);
    assert_int_equal(f->st.failures, 2);
    v = req_kbdint(f, "demo");
    v = req_kbdint_answer(f, 1, "demo");
    assert_int_equal(v.kind, AUTH_VERDICT_SUCCESS);
    fixture_free(f);
}

static void
test_keyboard_interactive_answer_without_prompt(void **state)
{
    fixture_t *f = fixture_new("");
    auth_verdict_t v;

    (void)state;
    v = req_kbdint_answer(f, 1, "demo");
    assert_int_equal(v.kind, AUTH_VERDICT_CLOSE);
    assert_false(f->st.authenticated);
    fixture_free(f);
}

static void
test_keyboard_interactive_rounds_reach_max(void **state)
{
    fixture_t *f = fixture_new("MaxAuthTries 3\n");
    auth_verdict_t v;
    int i;

    (void)state;
    for (i = 0; i < 2; i++) {
        assert_int_equal(req_kbdint(f, "demo").kind, AUTH_VERDICT_KBDINT_PROMPT);
        assert_int_equal(req_kbdint_answer(f, 1, "no").kind, AUTH_VERDICT_FAILURE);
    }
    assert_int_equal(req_kbdint(f, "demo").kind, AUTH_VERDICT_KBDINT_PROMPT);
    v = req_kbdint_answer(f, 1, "no");
    assert_int_equal(v.kind, AUTH_VERDICT_CLOSE);
    /* sshd's words and code: reason 2 (protocol error), not libssh's 11. */
    assert_int_equal(UTIL_DISCONNECT_REASON_OF(v.send_disconnect), UTIL_DISCONNECT_PROTOCOL_ERROR);
    assert_string_equal(v.reason, "Too many authentication failures");
    fixture_free(f);
}

/* ---- AuthenticationMethods ---------------------------------------------- */

static void
test_partial_success_publickey_then_password(void **state)
{
    fixture_t *f = fixture_new("AuthenticationMethods publickey,password\n");
    auth_verdict_t v;

    (void)state;
    /* The password alone is not the first step. */
    v = req_password(f, "demo", "demo");
    assert_int_equal(v.kind, AUTH_VERDICT_FAILURE);
    assert_int_equal(v.methods, SSH_AUTH_METHOD_PUBLICKEY);
    assert_int_equal(f->st.failures, 1);
    v = req_key(f, "demo", f->demo_key, 1, 1);
    assert_int_equal(v.kind, AUTH_VERDICT_PARTIAL);
    assert_int_equal(v.methods, SSH_AUTH_METHOD_PASSWORD);
    assert_int_equal(f->st.failures, 1); /* a partial success is no failure */
    assert_false(f->st.authenticated);
    assert_non_null(strstr(logged(f), "result=partial"));
    v = req_password(f, "demo", "wrong");
    assert_int_equal(v.kind, AUTH_VERDICT_FAILURE);
    assert_int_equal(v.methods, SSH_AUTH_METHOD_PASSWORD);
    v = req_password(f, "demo", "demo");
    assert_int_equal(v.kind, AUTH_VERDICT_SUCCESS);
    assert_true(f->st.authenticated);
    fixture_free(f);
}

static void
test_partial_success_other_list(void **state)
{
    fixture_t *f = fixture_new("AuthenticationMethods publickey,password keyboard-interactive\n");
    auth_verdict_t v;

    (void)state;
    v = req_none(f, "demo");
    assert_int_equal(v.methods, SSH_AUTH_METHOD_PUBLICKEY | SSH_AUTH_METHOD_INTERACTIVE);
    assert_int_equal(req_kbdint(f, "demo").kind, AUTH_VERDICT_KBDINT_PROMPT);
    v = req_kbdint_answer(f, 1, "demo");
    assert_int_equal(v.kind, AUTH_VERDICT_SUCCESS);
    fixture_free(f);
}

/* ---- user and service ----------------------------------------------------- */

static void
test_user_change_between_steps_closes(void **state)
{
    fixture_t *f = fixture_new("AuthenticationMethods publickey,password\n");
    auth_verdict_t v;

    (void)state;
    v = req_key(f, "demo", f->demo_key, 1, 1);
    assert_int_equal(v.kind, AUTH_VERDICT_PARTIAL);
    /* The password step as another account: sshd disconnects. */
    v = req_password(f, "other", "otherpw");
    assert_int_equal(v.kind, AUTH_VERDICT_CLOSE);
    assert_true(v.send_disconnect);
    /* Reason 2, as sshd's ssh_packet_disconnect() sends it (not 11). */
    assert_int_equal(UTIL_DISCONNECT_REASON_OF(v.send_disconnect), UTIL_DISCONNECT_PROTOCOL_ERROR);
    assert_string_equal(v.reason, "Change of username or service not allowed");
    assert_false(f->st.authenticated);
    assert_string_equal(f->st.user, "demo");
    assert_non_null(strstr(logged(f), "auth_user_changed"));
    fixture_free(f);
}

static void
test_user_change_after_failure_closes(void **state)
{
    fixture_t *f = fixture_new("");
    auth_verdict_t v;

    (void)state;
    assert_int_equal(req_none(f, "nobody").kind, AUTH_VERDICT_FAILURE);
    v = req_password(f, "demo", "demo");
    assert_int_equal(v.kind, AUTH_VERDICT_CLOSE);
    assert_false(f->st.authenticated);
    fixture_free(f);
}

static void
test_service_change_closes(void **state)
{
    fixture_t *f = fixture_new("");
    auth_request_t rq = { .method = SSH_AUTH_METHOD_PASSWORD, .user = "demo",
                          .service = "other-service", .password = "demo" };
    auth_verdict_t v;

    (void)state;
    assert_int_equal(req_password(f, "demo", "x").kind, AUTH_VERDICT_FAILURE);
    auth_decide(&f->s, &f->st, &rq, &v);
    assert_int_equal(v.kind, AUTH_VERDICT_CLOSE);
    fixture_free(f);
}

static void
test_malformed_string_closes_without_login(void **state)
{
    fixture_t *f = fixture_new("");
    auth_request_t rq = { .method = SSH_AUTH_METHOD_PASSWORD, .user = "demo",
                          .service = "ssh-connection", .password = "demo",
                          .malformed = 1 };
    auth_verdict_t v;

    (void)state;
    /* "demo\0x" reaches the decision as "demo", flagged malformed. */
    auth_decide(&f->s, &f->st, &rq, &v);
    assert_int_equal(v.kind, AUTH_VERDICT_CLOSE);
    assert_false(v.send_disconnect); /* sshd's parser error: no DISCONNECT */
    assert_false(f->st.authenticated);
    assert_non_null(strstr(logged(f), "result=malformed"));
    fixture_free(f);
}

/* ---- MaxAuthTries and Banner ---------------------------------------------- */

static void
test_max_auth_tries_as_sshd_counts(void **state)
{
    fixture_t *f = fixture_new("MaxAuthTries 3\n");
    auth_verdict_t v;

    (void)state;
    assert_int_equal(req_none(f, "demo").kind, AUTH_VERDICT_FAILURE);      /* not counted */
    assert_int_equal(req_key(f, "demo", f->demo_key, 0, 0).kind, AUTH_VERDICT_PK_OK); /* not */
    assert_int_equal(req_password(f, "demo", "a").kind, AUTH_VERDICT_FAILURE); /* 1 */
    assert_int_equal(req_key(f, "demo", f->other_key, 0, 0).kind, AUTH_VERDICT_FAILURE); /* 2 */
    assert_int_equal(f->st.failures, 2);
    v = req_password(f, "demo", "b"); /* 3: the end, no FAILURE */
    assert_int_equal(v.kind, AUTH_VERDICT_CLOSE);
    assert_string_equal(v.reason, "Too many authentication failures");
    assert_non_null(strstr(logged(f), "max_auth_tries"));
    fixture_free(f);
}

static void
test_banner_sent_once(void **state)
{
    FILE *b = fopen("/tmp/sshmock-test-auth-banner", "w");
    fixture_t *f = NULL;
    auth_verdict_t v;

    (void)state;
    assert_non_null(b);
    fputs("Authorized use only\n", b);
    fclose(b);
    f = fixture_new("Banner /tmp/sshmock-test-auth-banner\n");
    assert_non_null(f->p->banner);
    v = req_none(f, "demo");
    assert_true(v.send_banner);
    v = req_password(f, "demo", "wrong");
    assert_false(v.send_banner);
    v = req_password(f, "demo", "demo");
    assert_false(v.send_banner);
    assert_int_equal(v.kind, AUTH_VERDICT_SUCCESS);
    fixture_free(f);
    /* No Banner: never. */
    f = fixture_new("");
    v = req_none(f, "demo");
    assert_false(v.send_banner);
    fixture_free(f);
    remove("/tmp/sshmock-test-auth-banner");
}

/* ---- the failure delay (AuthFailureDelay) ----------------------------- */

/* The default plays Debian's sshd (UsePAM yes): a wrong password waits for
 * PAM's 1..3 s, rounded up by sshd to a doubling of the user's 5..9.3 ms
 * (the twin measured 3.54 s for "demo"); a refused key only the user's
 * delay; "none" never waits; a success carries no delay. */
static void
test_failure_delay_default_pam(void **state)
{
    fixture_t *f = fixture_new("");
    auth_verdict_t v;
    uint64_t first = 0;
    int i;

    (void)state;
    assert_int_equal(f->p->auth_failure_delay, PROFILE_AUTH_DELAY_PAM);
    v = req_none(f, "demo");
    assert_int_equal(v.delay_ms, 0);
    v = req_key(f, "demo", f->other_key, 1, 1);
    assert_int_equal(v.kind, AUTH_VERDICT_FAILURE);
    assert_in_range(v.delay_ms, 5, 10);
    first = v.delay_ms;
    v = req_key(f, "demo", f->other_key, 1, 1);
    assert_int_equal(v.delay_ms, first); /* per user: the same each time */
    /* MaxAuthTries 6: two keys, a "none" not counted, four passwords; the
     * closing one waits as well (sshd delays before it disconnects). */
    for (i = 0; i < 4; i++) {
        v = req_password(f, "demo", "wrong");
        assert_int_equal(v.kind, i < 3 ? AUTH_VERDICT_FAILURE : AUTH_VERDICT_CLOSE);
        assert_in_range(v.delay_ms, 1000, 4760);
    }
    fixture_free(f);
    f = fixture_new("");
    v = req_password(f, "demo", "demo");
    assert_int_equal(v.kind, AUTH_VERDICT_SUCCESS);
    assert_int_equal(v.delay_ms, 0);
    fixture_free(f);
}

static void
test_failure_delay_keyword(void **state)
{
    fixture_t *f = fixture_new("AuthFailureDelay none\n");
    auth_verdict_t v;

    (void)state;
    v = req_password(f, "demo", "wrong");
    assert_int_equal(v.kind, AUTH_VERDICT_FAILURE);
    assert_int_equal(v.delay_ms, 0);
    fixture_free(f);

    f = fixture_new("AuthFailureDelay sshd\n"); /* no PAM: the user's delay only */
    v = req_password(f, "demo", "wrong");
    assert_in_range(v.delay_ms, 5, 10);
    fixture_free(f);

    f = fixture_new("AuthFailureDelay 2s\n");
    v = req_password(f, "demo", "wrong");
    assert_int_equal(v.delay_ms, 2000);
    v = req_none(f, "demo");
    assert_int_equal(v.delay_ms, 0);
    fixture_free(f);

    f = fixture_new("AuthFailureDelay 300ms\nPasswordAuthentication no\n");
    v = req_password(f, "demo", "demo"); /* refused without a check: still a failure */
    assert_int_equal(v.kind, AUTH_VERDICT_FAILURE);
    assert_int_equal(v.delay_ms, 300);
    fixture_free(f);

    /* A disabled method never reaches PAM: the user's delay only. */
    f = fixture_new("PasswordAuthentication no\n");
    v = req_password(f, "demo", "wrong");
    assert_in_range(v.delay_ms, 5, 10);
    fixture_free(f);
}

static void
test_failure_delay_keyword_refused(void **state)
{
    static const char *bad[] = { "AuthFailureDelay soon\n", "AuthFailureDelay 61s\n",
                                 "AuthFailureDelay 5m\n", "AuthFailureDelay -1\n" };
    char text[256];
    char err[256];
    profile_t *p = NULL;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "HostKey generate:ed25519\n%s", bad[i]);
        err[0] = '\0';
        assert_int_not_equal(profile_parse_string("/tmp/t.conf", text, &p, err, sizeof err), 0);
        assert_non_null(strstr(err, "AuthFailureDelay"));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_none_is_refused_and_first_not_counted),
        cmocka_unit_test(test_none_allowed_by_authentication_methods),
        cmocka_unit_test(test_password),
        cmocka_unit_test(test_password_disabled),
        cmocka_unit_test(test_publickey_query_and_signature),
        cmocka_unit_test(test_publickey_bad_signature_counts),
        cmocka_unit_test(test_keyboard_interactive),
        cmocka_unit_test(test_keyboard_interactive_answer_without_prompt),
        cmocka_unit_test(test_keyboard_interactive_rounds_reach_max),
        cmocka_unit_test(test_partial_success_publickey_then_password),
        cmocka_unit_test(test_partial_success_other_list),
        cmocka_unit_test(test_user_change_between_steps_closes),
        cmocka_unit_test(test_user_change_after_failure_closes),
        cmocka_unit_test(test_service_change_closes),
        cmocka_unit_test(test_malformed_string_closes_without_login),
        cmocka_unit_test(test_max_auth_tries_as_sshd_counts),
        cmocka_unit_test(test_banner_sent_once),
        cmocka_unit_test(test_failure_delay_default_pam),
        cmocka_unit_test(test_failure_delay_keyword),
        cmocka_unit_test(test_failure_delay_keyword_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
