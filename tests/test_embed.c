/*
 * test_embed: the embedding API (include/sshmock/sshmock.h), driven the way
 * a C test suite of an SSH client would drive it: start a server on a free
 * port, talk to it with the libssh client API, stop it. Start and stop run
 * several times and two servers run at once, so that a leak or a thread
 * left behind shows up (the suite also runs under ASan/LeakSanitizer).
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libssh/libssh.h>

#include <sshmock/sshmock.h>

#define MODERN SSHMOCK_SOURCE_DIR "/profiles/modern.conf"

/* A fresh state directory per test; removed, keys and all, at teardown. */
typedef struct {
    char state_dir[64];
} fixture_t;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);

    if (f == NULL) {
        return -1;
    }
    snprintf(f->state_dir, sizeof f->state_dir, "/tmp/sshmock-embed-XXXXXX");
    if (mkdtemp(f->state_dir) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;

    nftw(f->state_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static sshmock_config_t
config_for(const fixture_t *f)
{
    sshmock_config_t cfg = SSHMOCK_CONFIG_INIT;

    cfg.port = 0;
    cfg.state_dir = f->state_dir;
    return cfg;
}

/* What one exec over the libssh client returned. */
typedef struct {
    char out[256];
    size_t out_len;
    char err[256];
    size_t err_len;
    int exit_status;
} exec_result_t;

static ssh_session
client_connect(int port, const char *password)
{
    ssh_session s = ssh_new();
    int verbosity = SSH_LOG_NOLOG;
    long timeout = 10;
    int no = 0;
    int rc;

    assert_non_null(s);
    assert_int_equal(ssh_options_set(s, SSH_OPTIONS_HOST, "127.0.0.1"), SSH_OK);
    assert_int_equal(ssh_options_set(s, SSH_OPTIONS_PORT, &port), SSH_OK);
    assert_int_equal(ssh_options_set(s, SSH_OPTIONS_USER, "demo"), SSH_OK);
    assert_int_equal(ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity), SSH_OK);
    assert_int_equal(ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout), SSH_OK);
    /* No known_hosts and no ~/.ssh/config: this test never verifies the
     * host key, it only checks that one was presented. */
    assert_int_equal(ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null"), SSH_OK);
    assert_int_equal(ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null"), SSH_OK);
    assert_int_equal(ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no), SSH_OK);

    rc = ssh_connect(s);
    if (rc != SSH_OK) {
        fail_msg("ssh_connect to port %d: %s", port, ssh_get_error(s));
    }
    {
        ssh_key hostkey = NULL;
        assert_int_equal(ssh_get_server_publickey(s, &hostkey), SSH_OK);
        assert_non_null(hostkey);
        ssh_key_free(hostkey);
    }
    rc = ssh_userauth_password(s, NULL, password);
    if (rc != SSH_AUTH_SUCCESS) {
        ssh_disconnect(s);
        ssh_free(s);
        return NULL;
    }
    return s;
}

static void
client_exec(ssh_session s, const char *command, exec_result_t *r)
{
    ssh_channel ch = ssh_channel_new(s);
    char buf[128];
    int n;

    memset(r, 0, sizeof *r);
    assert_non_null(ch);
    assert_int_equal(ssh_channel_open_session(ch), SSH_OK);
    assert_int_equal(ssh_channel_request_exec(ch, command), SSH_OK);
    for (;;) {
        n = ssh_channel_read_timeout(ch, buf, sizeof buf, 0, 10000);
        assert_true(n >= 0);
        if (n == 0) {
            break;
        }
        assert_true(r->out_len + (size_t)n < sizeof r->out);
        memcpy(r->out + r->out_len, buf, (size_t)n);
        r->out_len += (size_t)n;
    }
    for (;;) {
        n = ssh_channel_read_timeout(ch, buf, sizeof buf, 1, 10000);
        assert_true(n >= 0);
        if (n == 0) {
            break;
        }
        assert_true(r->err_len + (size_t)n < sizeof r->err);
        memcpy(r->err + r->err_len, buf, (size_t)n);
        r->err_len += (size_t)n;
    }
    r->exit_status = ssh_channel_get_exit_status(ch);
    ssh_channel_close(ch);
    ssh_channel_free(ch);
}

static void
client_done(ssh_session s)
{
    ssh_disconnect(s);
    ssh_free(s);
}

/* One full client round: connect, password, two execs. */
static void
check_server_answers(int port)
{
    ssh_session s = client_connect(port, "demo");
    exec_result_t r;

    assert_non_null(s);
    client_exec(s, "echo hello", &r);
    assert_int_equal(r.out_len, 6);
    assert_memory_equal(r.out, "hello\n", 6);
    assert_int_equal(r.err_len, 0);
    assert_int_equal(r.exit_status, 0);

    client_exec(s, "stderr-test", &r);
    assert_int_equal(r.out_len, 4);
    assert_memory_equal(r.out, "out\n", 4);
    assert_int_equal(r.err_len, 4);
    assert_memory_equal(r.err, "err\n", 4);
    assert_int_equal(r.exit_status, 2);

    client_exec(s, "exit 3", &r);
    assert_int_equal(r.out_len, 0);
    assert_int_equal(r.exit_status, 3);
    client_done(s);
}

static void
test_start_exec_stop_repeatedly(void **state)
{
    fixture_t *f = *state;
    sshmock_config_t cfg = config_for(f);
    char err[512];
    int round;

    for (round = 0; round < 3; round++) {
        sshmock_t *srv = NULL;
        int rc = sshmock_start(MODERN, &cfg, &srv, err, sizeof err);

        if (rc != 0) {
            fail_msg("round %d: sshmock_start: %s (%s)", round, err, sshmock_err_name(rc));
        }
        assert_non_null(srv);
        assert_true(sshmock_port(srv) > 0);
        assert_true(sshmock_port(srv) < 65536);
        check_server_answers(sshmock_port(srv));
        sshmock_stop(srv);
    }
}

static void
test_wrong_password_refused(void **state)
{
    fixture_t *f = *state;
    sshmock_config_t cfg = config_for(f);
    sshmock_t *srv = NULL;
    char err[512];
    ssh_session s = NULL;

    assert_int_equal(sshmock_start(MODERN, &cfg, &srv, err, sizeof err), 0);
    s = client_connect(sshmock_port(srv), "not-the-password");
    assert_null(s);
    /* and the server still serves */
    check_server_answers(sshmock_port(srv));
    sshmock_stop(srv);
}

static void
test_two_servers_at_once(void **state)
{
    fixture_t *f = *state;
    sshmock_config_t cfg = config_for(f);
    sshmock_t *a = NULL;
    sshmock_t *b = NULL;
    char err[512];

    assert_int_equal(sshmock_start(MODERN, &cfg, &a, err, sizeof err), 0);
    assert_int_equal(sshmock_start(MODERN, &cfg, &b, err, sizeof err), 0);
    assert_int_not_equal(sshmock_port(a), sshmock_port(b));
    check_server_answers(sshmock_port(b));
    check_server_answers(sshmock_port(a));
    sshmock_stop(a);
    check_server_answers(sshmock_port(b));
    sshmock_stop(b);
}

static void
test_stop_with_a_client_connected(void **state)
{
    fixture_t *f = *state;
    sshmock_config_t cfg = config_for(f);
    sshmock_t *srv = NULL;
    char err[512];
    ssh_session s = NULL;

    assert_int_equal(sshmock_start(MODERN, &cfg, &srv, err, sizeof err), 0);
    s = client_connect(sshmock_port(srv), "demo");
    assert_non_null(s);
    /* Stopping must not wait for the client to leave. */
    sshmock_stop(srv);
    client_done(s);
}

static void
test_missing_profile(void **state)
{
    fixture_t *f = *state;
    sshmock_config_t cfg = config_for(f);
    sshmock_t *srv = (sshmock_t *)&cfg; /* must be reset to NULL */
    char err[512] = "";
    int rc;

    rc = sshmock_start(SSHMOCK_SOURCE_DIR "/profiles/no-such-profile.conf", &cfg, &srv,
                       err, sizeof err);
    assert_true(rc < 0);
    assert_true(rc == SSHMOCK_EPROFILE || rc == SSHMOCK_EIO);
    assert_null(srv);
    assert_true(strlen(err) > 0);
    assert_non_null(strstr(err, "no-such-profile"));
    assert_non_null(sshmock_strerror(rc));
    assert_non_null(sshmock_err_name(rc));
}

static void
test_bad_profile_names_the_line(void **state)
{
    fixture_t *f = *state;
    sshmock_config_t cfg = config_for(f);
    sshmock_t *srv = NULL;
    char path[128];
    char err[512] = "";
    FILE *fp = NULL;
    int rc;

    snprintf(path, sizeof path, "%s/bad.conf", f->state_dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("HostKey generate:ed25519\nNoSuchKeyword yes\n", fp);
    fclose(fp);
    rc = sshmock_start(path, &cfg, &srv, err, sizeof err);
    assert_int_equal(rc, SSHMOCK_EPROFILE);
    assert_null(srv);
    assert_non_null(strstr(err, ":2:"));
    remove(path);
}

static void
test_bad_listen_address(void **state)
{
    fixture_t *f = *state;
    sshmock_config_t cfg = config_for(f);
    sshmock_t *srv = NULL;
    char err[512] = "";
    int rc;

    cfg.listen_addr = "not-an-address";
    rc = sshmock_start(MODERN, &cfg, &srv, err, sizeof err);
    assert_true(rc < 0);
    assert_null(srv);
    assert_true(strlen(err) > 0);

    /* An address this machine does not have (TEST-NET-1, never routed). */
    err[0] = '\0';
    cfg.listen_addr = "192.0.2.1";
    rc = sshmock_start(MODERN, &cfg, &srv, err, sizeof err);
    assert_int_equal(rc, SSHMOCK_ELISTEN);
    assert_null(srv);
    assert_true(strlen(err) > 0);
}

static void
test_bad_port(void **state)
{
    fixture_t *f = *state;
    sshmock_config_t cfg = config_for(f);
    sshmock_t *srv = NULL;
    char err[512] = "";
    int rc;

    /* The command line refuses it ("not a port number (0-65535)"); the
     * API must too, rather than listen on 70000 & 0xffff. */
    cfg.port = 70000;
    rc = sshmock_start(MODERN, &cfg, &srv, err, sizeof err);
    if (rc == 0) {
        int got = sshmock_port(srv);

        sshmock_stop(srv);
        fail_msg("sshmock_start accepted port 70000 and listens on port %d", got);
    }
    assert_true(rc < 0);
    assert_null(srv);
    assert_true(strlen(err) > 0);
}

static void
test_port_in_use(void **state)
{
    fixture_t *f = *state;
    sshmock_config_t cfg = config_for(f);
    sshmock_t *a = NULL;
    sshmock_t *b = NULL;
    char err[512] = "";
    int rc;

    assert_int_equal(sshmock_start(MODERN, &cfg, &a, err, sizeof err), 0);
    cfg.port = sshmock_port(a);
    rc = sshmock_start(MODERN, &cfg, &b, err, sizeof err);
    assert_int_equal(rc, SSHMOCK_ELISTEN);
    assert_null(b);
    assert_true(strlen(err) > 0);
    /* the first one is unharmed */
    check_server_answers(sshmock_port(a));
    sshmock_stop(a);
}

static void
test_invalid_arguments(void **state)
{
    fixture_t *f = *state;
    sshmock_config_t cfg = config_for(f);
    sshmock_t *srv = NULL;
    char err[512] = "";

    assert_int_equal(sshmock_start(NULL, &cfg, &srv, err, sizeof err), SSHMOCK_EINVAL);
    assert_true(strlen(err) > 0);
    assert_int_equal(sshmock_start(MODERN, &cfg, NULL, err, sizeof err), SSHMOCK_EINVAL);
    /* No error buffer at all is allowed. */
    assert_true(sshmock_start(SSHMOCK_SOURCE_DIR "/profiles/no-such.conf", &cfg, &srv,
                              NULL, 0) < 0);
    assert_null(srv);
    assert_int_equal(sshmock_port(NULL), -1);
    sshmock_stop(NULL);
    assert_string_equal(sshmock_err_name(SSHMOCK_ELISTEN), "ELISTEN");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_start_exec_stop_repeatedly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_servers_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_a_client_connected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_profile_names_the_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_listen_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_arguments, setup, teardown),
    };

    return cmocka_run_group_tests_name("embed", tests, NULL, NULL);
}
