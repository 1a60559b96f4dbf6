/*
 * Unit tests of the profile parser (server/profile/profile.c) and of the algorithm
 * lists it resolves (server/profile/algo.c). Inline profiles go through
 * profile_parse_string / profile_parse; the shipped ones through
 * profile_load. Everything is freed: these tests also run under ASan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include <sshmock/sshmock.h>

#include "profile/algo.h"
#include "profile/clients.h"
#include "profile/profile.h"
#include "base/util.h"

#define PROFILES_DIR SSHMOCK_SOURCE_DIR "/profiles"

/* Unit-test keys (not the demo keys in profiles/keys, so regenerating
 * those does not break these tests). */
#define TEST_ED25519 \
    "AAAAC3NzaC1lZDI1NTE5AAAAIOrmOoZiqXXQrhfsBRXR8JsegJo5hLJrpLP5Qj9ifOfz"
#define TEST_ECDSA \
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFsQKU7oKWhAEGjs/" \
    "UcfN77zLEOFjj+X8QsXeKAgBNCNrPN9fzD7gqwn5OUaM5ldcmSjg/cOGIbSKcX+c3i/22k="

#define DEFAULT_KEX \
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256," \
    "ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256," \
    "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512," \
    "diffie-hellman-group14-sha256"
#define DEFAULT_CIPHERS \
    "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr," \
    "aes128-gcm@openssh.com,aes256-gcm@openssh.com"
#define DEFAULT_MACS \
    "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com," \
    "hmac-sha1-etm@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1"
#define DEFAULT_HOSTKEYS \
    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521," \
    "rsa-sha2-512,rsa-sha2-256"

/* ---- helpers ----------------------------------------------------------- */

/* Parses text that must load; warnings are dropped. */
static profile_t *
parse_ok(const char *text)
{
    profile_t *p = NULL;
    char err[2048];
    int rc = profile_parse("t.conf", text, strlen(text), NULL, &p, err, sizeof err);

    if (rc != 0) {
        print_error("unexpected error: %s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_non_null(p);
    return p;
}

/* Parses text that must fail with "t.conf:LINE: ..." containing `needle`. */
static void
expect_error_at(const char *path, const char *text, int line, const char *needle)
{
    profile_t *p = (profile_t *)(uintptr_t)1;
    char err[2048];
    char prefix[512];
    int rc;

    err[0] = '\0';
    rc = profile_parse(path, text, strlen(text), NULL, &p, err, sizeof err);
    if (line > 0) {
        snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    } else {
        snprintf(prefix, sizeof prefix, "%s: ", path);
    }
    if (rc != SSHMOCK_EPROFILE || strncmp(err, prefix, strlen(prefix)) != 0 ||
        strstr(err, needle) == NULL) {
        print_error("text:     %s\nexpected: %s...%s\ngot:      rc=%d '%s'\n",
                    text, prefix, needle, rc, err);
    }
    assert_int_equal(rc, SSHMOCK_EPROFILE);
    assert_null(p);
    assert_int_equal(strncmp(err, prefix, strlen(prefix)), 0);
    assert_non_null(strstr(err, needle));
}

static void
expect_error(const char *text, int line, const char *needle)
{
    expect_error_at("t.conf", text, line, needle);
}

/* profile_print into a string (free it). */
static char *
print_to_string(const profile_t *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    profile_print(p, f);
    fclose(f);
    return buf;
}

static void
assert_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL) {
        print_error("'%s' not found in:\n%s\n", needle, hay);
    }
    assert_non_null(strstr(hay, needle));
}

static void
write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* A scratch directory per test that needs files; removed by the teardown. */
typedef struct scratch_s {
    char dir[64];
    char files[8][128];
    int nfiles;
} scratch_t;

static int
scratch_setup(void **state)
{
    scratch_t *s = calloc(1, sizeof *s);

    if (s == NULL) {
        return -1;
    }
    util_strlcpy(s->dir, "/tmp/sshmock-test-profile-XXXXXX", sizeof s->dir);
    if (mkdtemp(s->dir) == NULL) {
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

static int
scratch_teardown(void **state)
{
    scratch_t *s = *state;
    int i;

    for (i = 0; i < s->nfiles; i++) {
        unlink(s->files[i]);
    }
    rmdir(s->dir);
    free(s);
    return 0;
}

/* Writes dir/name and returns its full path (owned by the scratch). */
static const char *
scratch_file(scratch_t *s, const char *name, const char *data, size_t len)
{
    char *path = s->files[s->nfiles];
    char tmp[sizeof s->files[0]];

    assert_true(s->nfiles < 8);
    snprintf(tmp, sizeof tmp, "%s/%s", s->dir, name);
    util_strlcpy(path, tmp, sizeof s->files[0]);
    write_file(path, data, len);
    s->nfiles++;
    return path;
}

/* ---- shipped profiles -------------------------------------------------- */

static void
test_modern_loads(void **state)
{
    profile_t *p = NULL;
    const profile_account_t *a = NULL;
    const profile_exec_t *e = NULL;
    char err[1024];
    int rc;

    (void)state;
    rc = profile_load(PROFILES_DIR "/modern.conf", &p, err, sizeof err);
    if (rc != 0) {
        print_error("%s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_string_equal(p->name, "modern");
    assert_string_equal(p->dir, PROFILES_DIR);
    assert_string_equal(p->identification, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
    assert_string_equal(p->kex_algorithms, DEFAULT_KEX);
    assert_string_equal(p->ciphers, DEFAULT_CIPHERS);
    assert_string_equal(p->macs, DEFAULT_MACS);
    assert_string_equal(p->hostkey_algorithms, DEFAULT_HOSTKEYS);
    assert_string_equal(p->pubkey_accepted_algorithms, DEFAULT_HOSTKEYS);
    assert_int_equal(p->port, 2222);
    assert_string_equal(p->listen_address, "127.0.0.1");
    assert_int_equal(p->max_auth_tries, 6);
    assert_true(p->password_authentication);
    assert_true(p->pubkey_authentication);
    assert_true(p->kbd_interactive_authentication);
    assert_int_equal(p->nhostkeys, 3);
    assert_string_equal(p->hostkeys[0].spec, "ed25519");
    assert_string_equal(p->hostkeys[1].spec, "ecdsa-256");
    assert_int_equal(p->hostkeys[1].keytype, SSH_KEYTYPE_ECDSA_P256);
    assert_string_equal(p->hostkeys[2].spec, "rsa-3072");
    assert_int_equal(p->hostkeys[2].bits, 3072);

    a = profile_account_find(p, "demo");
    assert_non_null(a);
    assert_string_equal(a->password, "demo");
    assert_int_equal(a->nauthorized_keys, 2);
    assert_int_equal(strncmp(a->authorized_keys[0], "ssh-ed25519 AAAA", 16), 0);
    assert_int_equal(strncmp(a->authorized_keys[1], "ssh-rsa AAAA", 12), 0);
    assert_non_null(strstr(a->authorized_keys[0], " sshmock-demo"));

    e = profile_exec_find(p, "stderr-test");
    assert_int_equal(e->exit_status, 2);
    assert_string_equal(e->out, "out\n");
    assert_string_equal(e->err, "err\n");
    e = profile_exec_find(p, "whoami");
    assert_string_equal(e->out, "%u\n");
    e = profile_exec_find(p, "exit 3");
    assert_int_equal(e->exit_status, 3);
    assert_int_equal(e->out_len, 0);
    profile_free(p);
}

static void
test_legacy_loads(void **state)
{
    profile_t *p = NULL;
    char err[1024];
    int rc;

    (void)state;
    rc = profile_load(PROFILES_DIR "/legacy-kex-group1.conf", &p, err, sizeof err);
    if (rc != 0) {
        print_error("%s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_string_equal(p->name, "legacy-kex-group1");
    assert_string_equal(p->identification, "SSH-2.0-OpenSSH_5.3");
    assert_string_equal(p->kex_algorithms, "diffie-hellman-group1-sha1");
    assert_string_equal(p->hostkey_algorithms, "ssh-rsa");
    /* OpenSSH 5.3's list exactly, offer-only names in place. */
    assert_string_equal(p->ciphers, "aes128-ctr,aes192-ctr,aes256-ctr,arcfour256,arcfour128,"
                                    "aes128-cbc,3des-cbc,blowfish-cbc,cast128-cbc,aes192-cbc,"
                                    "aes256-cbc,arcfour,rijndael-cbc@lysator.liu.se");
    assert_string_equal(p->macs, "hmac-sha1");
    assert_int_equal(p->nhostkeys, 1);
    assert_int_equal(p->hostkeys[0].kind, PROFILE_HOSTKEY_GENERATE);
    assert_int_equal(p->hostkeys[0].keytype, SSH_KEYTYPE_RSA);
    assert_int_equal(p->hostkeys[0].bits, 2048);
    assert_non_null(profile_account_find(p, "demo"));
    profile_free(p);
}

static void
test_load_missing_file(void **state)
{
    profile_t *p = NULL;
    char err[1024];

    (void)state;
    assert_int_equal(profile_load("/nonexistent/x.conf", &p, err, sizeof err),
                     SSHMOCK_EPROFILE);
    assert_null(p);
    assert_string_equal(err, "/nonexistent/x.conf: cannot read: No such file or directory");
}

/* ---- syntax ------------------------------------------------------------ */

static void
test_defaults(void **state)
{
    profile_t *p = NULL;
    const profile_exec_t *e = NULL;
    char err[256];

    (void)state;
    assert_int_equal(profile_parse_string("dir/empty.conf", "", &p, err, sizeof err), 0);
    assert_string_equal(p->path, "dir/empty.conf");
    assert_string_equal(p->dir, "dir");
    assert_string_equal(p->name, "empty");
    assert_string_equal(p->description, "");
    assert_string_equal(p->identification, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
    assert_string_equal(p->kex_algorithms, DEFAULT_KEX);
    assert_string_equal(p->ciphers, DEFAULT_CIPHERS);
    assert_string_equal(p->macs, DEFAULT_MACS);
    assert_string_equal(p->hostkey_algorithms, DEFAULT_HOSTKEYS);
    assert_string_equal(p->pubkey_accepted_algorithms, DEFAULT_HOSTKEYS);
    assert_int_equal(p->password_authentication, 1);
    assert_int_equal(p->pubkey_authentication, 1);
    assert_int_equal(p->kbd_interactive_authentication, 1);
    assert_string_equal(p->authentication_methods, "any");
    assert_int_equal(p->max_auth_tries, 6);
    assert_int_equal(p->login_grace_time, 120);
    assert_null(p->banner_path);
    assert_null(p->banner);
    assert_int_equal(p->port, 2222);
    assert_string_equal(p->listen_address, "127.0.0.1");
    assert_int_equal(p->nhostkeys, 3);
    assert_int_equal(p->hostkeys[0].kind, PROFILE_HOSTKEY_GENERATE);
    assert_string_equal(p->hostkeys[0].spec, "ed25519");
    assert_int_equal(p->hostkeys[0].keytype, SSH_KEYTYPE_ED25519);
    assert_string_equal(p->hostkeys[1].spec, "rsa-3072");
    assert_int_equal(p->hostkeys[1].keytype, SSH_KEYTYPE_RSA);
    assert_int_equal(p->hostkeys[1].bits, 3072);
    assert_string_equal(p->hostkeys[2].spec, "ecdsa-256");
    assert_int_equal(p->hostkeys[2].keytype, SSH_KEYTYPE_ECDSA_P256);
    assert_int_equal(p->naccounts, 0);
    assert_int_equal(p->nexecs, 0);
    assert_string_equal(p->shell_prompt, "%u@sshmock:~$ ");
    e = profile_exec_find(p, "ls");
    assert_ptr_equal(e, &p->default_exec);
    assert_null(e->command);
    assert_int_equal(e->exit_status, 127);
    assert_string_equal(e->out, "");
    assert_string_equal(e->err, "sh: 1: %c: not found\n");
    assert_int_equal(e->err_len, strlen("sh: 1: %c: not found\n"));
    profile_free(p);
}

static void
test_name_without_conf(void **state)
{
    profile_t *p = NULL;
    char err[256];

    (void)state;
    assert_int_equal(profile_parse_string("/a/b/weird.profile", "", &p, err, sizeof err), 0);
    assert_string_equal(p->name, "weird.profile");
    assert_string_equal(p->dir, "/a/b");
    profile_free(p);
    assert_int_equal(profile_parse_string("plain.conf", "", &p, err, sizeof err), 0);
    assert_string_equal(p->name, "plain");
    assert_string_equal(p->dir, ".");
    profile_free(p);
}

static void
test_case_insensitive(void **state)
{
    profile_t *p = NULL;

    (void)state;
    p = parse_ok("pOrT 2200\n"
                 "KEXALGORITHMS curve25519-sha256\n"
                 "passwordauthentication No\n"
                 "maxauthtries 3\n"
                 "aCCOUNT Bob secret\n");
    assert_int_equal(p->port, 2200);
    assert_string_equal(p->kex_algorithms, "curve25519-sha256");
    assert_int_equal(p->password_authentication, 0);
    assert_int_equal(p->max_auth_tries, 3);
    /* Values keep their case: account names are exact. */
    assert_non_null(profile_account_find(p, "Bob"));
    assert_null(profile_account_find(p, "bob"));
    profile_free(p);
}

static void
test_equals_syntax(void **state)
{
    profile_t *p = NULL;

    (void)state;
    p = parse_ok("Port=2201\n"
                 "MaxAuthTries = 3\n"
                 "LoginGraceTime\t=1h30m\n"
                 "  Ciphers=aes256-ctr   \n"
                 "Banner=none\n");
    assert_int_equal(p->port, 2201);
    assert_int_equal(p->max_auth_tries, 3);
    assert_int_equal(p->login_grace_time, 5400);
    assert_string_equal(p->ciphers, "aes256-ctr");
    assert_null(p->banner);
    profile_free(p);
}

static void
test_comments_blank_crlf(void **state)
{
    profile_t *p = NULL;

    (void)state;
    p = parse_ok("# a comment\n"
                 "\n"
                 "   \t  \n"
                 "   # indented comment\n"
                 "Port 2203 # trailing comment\r\n"
                 "MaxAuthTries 4\r\n"
                 "Description no newline at the end");
    assert_int_equal(p->port, 2203);
    assert_int_equal(p->max_auth_tries, 4);
    assert_string_equal(p->description, "no newline at the end");
    profile_free(p);
}

static void
test_quotes_and_escapes(void **state)
{
    profile_t *p = NULL;
    const profile_exec_t *e = NULL;

    (void)state;
    p = parse_ok("Description \"Box #1\"   with   \"two  spaces\"\n"
                 "ExecResponse \"echo \\\"hi\\\"\" 0 \"a\\tb\\\\c\\x41\\r\\n\"\n"
                 "ExecResponse nul 0 \"a\\x00b\" \"\\xff\"\n"
                 "ExecResponse \"\" 5\n"
                 "ExecResponse C:\\dir 0 \"x\"\n"
                 "ShellPrompt \"\\x1b[1m$\\x1b[0m \"\n"
                 "Account \"Jane Doe\" \"pass word\"\n");
    assert_string_equal(p->description, "Box #1 with two  spaces");

    e = profile_exec_find(p, "echo \"hi\"");
    assert_non_null(e->command);
    assert_string_equal(e->out, "a\tb\\cA\r\n");
    assert_int_equal(e->out_len, 8);
    assert_int_equal(e->err_len, 0);

    e = profile_exec_find(p, "nul");
    assert_int_equal(e->out_len, 3);
    assert_memory_equal(e->out, "a\0b", 3);
    assert_int_equal(e->err_len, 1);
    assert_int_equal((unsigned char)e->err[0], 0xff);

    e = profile_exec_find(p, "");
    assert_non_null(e->command);
    assert_int_equal(e->exit_status, 5);

    /* Outside \" and \\, a backslash in a plain argument is kept. */
    e = profile_exec_find(p, "C:\\dir");
    assert_non_null(e->command);
    assert_string_equal(e->out, "x");

    assert_string_equal(p->shell_prompt, "\x1b[1m$\x1b[0m ");
    assert_non_null(profile_account_find(p, "Jane Doe"));
    assert_string_equal(profile_account_find(p, "Jane Doe")->password, "pass word");
    profile_free(p);
}

static void
test_first_value_wins(void **state)
{
    profile_t *p = NULL;

    (void)state;
    p = parse_ok("PasswordAuthentication no\n"
                 "PasswordAuthentication yes\n"
                 "MACs hmac-sha1\n"
                 "MACs hmac-sha2-256\n"
                 "ChallengeResponseAuthentication no\n"
                 "KbdInteractiveAuthentication yes\n"
                 "PubkeyAcceptedKeyTypes ssh-ed25519\n"
                 "PubkeyAcceptedAlgorithms rsa-sha2-256\n"
                 "Identification SSH-2.0-first\n"
                 "Identification SSH-2.0-second\n"
                 "Port 2300\n"
                 "Port 2400\n"
                 "HostKey generate:ed25519\n"
                 "HostKey generate:ecdsa-384\n"
                 "ExecResponse ls 0 \"first\"\n"
                 "ExecResponse ls 1 \"second\"\n");
    assert_int_equal(p->password_authentication, 0);
    assert_string_equal(p->macs, "hmac-sha1");
    assert_int_equal(p->kbd_interactive_authentication, 0);
    assert_string_equal(p->pubkey_accepted_algorithms, "ssh-ed25519");
    assert_string_equal(p->identification, "SSH-2.0-first");
    assert_int_equal(p->port, 2300);
    /* HostKey accumulates. */
    assert_int_equal(p->nhostkeys, 2);
    assert_int_equal(p->hostkeys[1].keytype, SSH_KEYTYPE_ECDSA_P384);
    assert_int_equal(p->hostkeys[1].bits, 384);
    assert_int_equal(p->hostkeys[1].line, 14);
    assert_int_equal(p->nexecs, 1);
    assert_string_equal(profile_exec_find(p, "ls")->out, "first");
    profile_free(p);
}

static void
test_time_values(void **state)
{
    static const struct {
        const char *text;
        int seconds;
    } cases[] = {
        { "LoginGraceTime 0", 0 },
        { "LoginGraceTime 45", 45 },
        { "LoginGraceTime 45s", 45 },
        { "LoginGraceTime 2m", 120 },
        { "LoginGraceTime 1h30m", 5400 },
        { "LoginGraceTime 1d", 86400 },
        { "LoginGraceTime 1W", 604800 },
        { "LoginGraceTime 1m1s", 61 },
    };
    size_t i;

    (void)state;
    for (i = 0; i < UTIL_ARRAY_SIZE(cases); i++) {
        profile_t *p = parse_ok(cases[i].text);

        assert_int_equal(p->login_grace_time, cases[i].seconds);
        profile_free(p);
    }
}

static void
test_listen_address_forms(void **state)
{
    profile_t *p = NULL;

    (void)state;
    p = parse_ok("ListenAddress ::1\n");
    assert_string_equal(p->listen_address, "::1");
    assert_int_equal(p->port, 2222);
    profile_free(p);

    p = parse_ok("Port 2300\nListenAddress [::1]:2022\n");
    assert_string_equal(p->listen_address, "::1");
    assert_int_equal(p->port, 2022);
    profile_free(p);

    p = parse_ok("ListenAddress 0.0.0.0:2023\n");
    assert_string_equal(p->listen_address, "0.0.0.0");
    assert_int_equal(p->port, 2023);
    profile_free(p);

    p = parse_ok("ListenAddress [::]\n");
    assert_string_equal(p->listen_address, "::");
    profile_free(p);
}

static void
test_hostkey_specs(void **state)
{
    profile_t *p = NULL;

    (void)state;
    p = parse_ok("HostKey generate:rsa-4096\n"
                 "HostKey generate:ecdsa-521\n"
                 "HostKey generate:dsa\n"
                 "HostKey generate:rsa-1024\n");
    assert_int_equal(p->nhostkeys, 4);
    assert_string_equal(p->hostkeys[0].spec, "rsa-4096");
    assert_int_equal(p->hostkeys[0].bits, 4096);
    assert_int_equal(p->hostkeys[1].keytype, SSH_KEYTYPE_ECDSA_P521);
    assert_int_equal(p->hostkeys[1].bits, 521);
    assert_int_equal(p->hostkeys[2].keytype, SSH_KEYTYPE_DSS);
    assert_string_equal(p->hostkeys[2].spec, "dsa");
    assert_int_equal(p->hostkeys[3].bits, 1024);
    profile_free(p);
}

static void
test_hostkey_file_relative(void **state)
{
    profile_t *p = NULL;
    char err[1024];
    const char *text = "HostKey keys/demo_rsa\nHostKey " PROFILES_DIR "/keys/demo_ed25519\n";
    int rc;

    (void)state;
    rc = profile_parse_string(PROFILES_DIR "/inline.conf", text, &p, err, sizeof err);
    if (rc != 0) {
        print_error("%s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(p->nhostkeys, 2);
    assert_int_equal(p->hostkeys[0].kind, PROFILE_HOSTKEY_FILE);
    assert_string_equal(p->hostkeys[0].path, PROFILES_DIR "/keys/demo_rsa");
    assert_null(p->hostkeys[0].spec);
    assert_int_equal(p->hostkeys[0].line, 1);
    assert_string_equal(p->hostkeys[1].path, PROFILES_DIR "/keys/demo_ed25519");
    profile_free(p);
}

/* ---- algorithm lists --------------------------------------------------- */

static void
test_algo_modifiers(void **state)
{
    profile_t *p = NULL;

    (void)state;
    p = parse_ok("KexAlgorithms +diffie-hellman-group1-sha1,curve25519-sha256\n"
                 "Ciphers ^aes128-cbc,chacha20-poly1305@openssh.com\n"
                 "MACs -hmac-sha1*\n"
                 "HostKeyAlgorithms -ecdsa-sha2-nistp???,ssh-ed2551?\n"
                 "PubkeyAcceptedAlgorithms +ssh-rsa\n");
    assert_string_equal(p->kex_algorithms, DEFAULT_KEX ",diffie-hellman-group1-sha1");
    assert_string_equal(p->ciphers,
                        "aes128-cbc,chacha20-poly1305@openssh.com,aes128-ctr,"
                        "aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,"
                        "aes256-gcm@openssh.com");
    assert_string_equal(p->macs, "hmac-sha2-256-etm@openssh.com,"
                                 "hmac-sha2-512-etm@openssh.com,hmac-sha2-256,"
                                 "hmac-sha2-512");
    assert_string_equal(p->hostkey_algorithms, "rsa-sha2-512,rsa-sha2-256");
    assert_string_equal(p->pubkey_accepted_algorithms, DEFAULT_HOSTKEYS ",ssh-rsa");
    profile_free(p);

    /* Removing etm everywhere; a pattern that matches nothing is fine. */
    p = parse_ok("MACs -*-etm@openssh.com,umac-*\n");
    assert_string_equal(p->macs, "hmac-sha2-256,hmac-sha2-512,hmac-sha1");
    profile_free(p);
}

static void
test_algo_plain_lists(void **state)
{
    profile_t *p = NULL;

    (void)state;
    /* Duplicates go, order stays; patterns expand over supported names. */
    p = parse_ok("Ciphers aes256-ctr,aes128-ctr,aes256-ctr\n"
                 "MACs hmac-sha1,hmac-sha2-*\n"
                 "KexAlgorithms diffie-hellman-group14-sha1\n");
    assert_string_equal(p->ciphers, "aes256-ctr,aes128-ctr");
    assert_string_equal(p->macs, "hmac-sha1,hmac-sha2-256-etm@openssh.com,"
                                 "hmac-sha2-512-etm@openssh.com,hmac-sha2-256,"
                                 "hmac-sha2-512");
    assert_string_equal(p->kex_algorithms, "diffie-hellman-group14-sha1");
    profile_free(p);
}

static void
test_algo_api(void **state)
{
    char err[1024];
    char *out = NULL;

    (void)state;
    assert_string_equal(algo_keyword(ALGO_MAC), "MACs");
    assert_string_equal(algo_default(ALGO_KEX), DEFAULT_KEX);
    assert_string_equal(algo_default(ALGO_CIPHER), DEFAULT_CIPHERS);
    assert_string_equal(algo_default(ALGO_MAC), DEFAULT_MACS);
    assert_string_equal(algo_default(ALGO_HOSTKEY), DEFAULT_HOSTKEYS);
    assert_string_equal(algo_default(ALGO_PUBKEY), DEFAULT_HOSTKEYS);

    /* What libssh 0.10.6 was measured to offer. */
    assert_true(algo_is_supported(ALGO_KEX, "diffie-hellman-group1-sha1"));
    assert_true(algo_is_supported(ALGO_KEX, "diffie-hellman-group-exchange-sha1"));
    assert_false(algo_is_supported(ALGO_KEX, "sntrup761x25519-sha512@openssh.com"));
    assert_true(algo_is_supported(ALGO_CIPHER, "3des-cbc"));
    assert_false(algo_is_supported(ALGO_CIPHER, "cast128-cbc"));
    assert_false(algo_is_supported(ALGO_MAC, "umac-64@openssh.com"));
    assert_true(algo_is_supported(ALGO_MAC, "hmac-sha1-etm@openssh.com"));
    assert_true(algo_is_supported(ALGO_HOSTKEY, "ssh-rsa"));
    /* The legacy set comes whole with sshmock's own libssh (its patches
     * 050-052 and WITH_DSA/WITH_BLOWFISH_CIPHER) and not at all with the
     * system libssh 0.10.6: a probe that found part of it would be wrong. */
    {
        int legacy = algo_is_supported(ALGO_MAC, "hmac-sha1-96");

        assert_int_equal(algo_is_supported(ALGO_MAC, "hmac-md5"), legacy);
        assert_int_equal(algo_is_supported(ALGO_MAC, "hmac-md5-96"), legacy);
        assert_int_equal(algo_is_supported(ALGO_CIPHER, "arcfour"), legacy);
        assert_int_equal(algo_is_supported(ALGO_CIPHER, "arcfour128"), legacy);
        assert_int_equal(algo_is_supported(ALGO_CIPHER, "arcfour256"), legacy);
        assert_int_equal(algo_is_supported(ALGO_CIPHER, "blowfish-cbc"), legacy);
        assert_int_equal(algo_is_supported(ALGO_HOSTKEY, "ssh-dss"), legacy);
        assert_int_equal(algo_is_supported(ALGO_PUBKEY, "ssh-dss"), legacy);
        /* Never in the defaults, whatever the engine. */
        assert_false(algo_list_contains(algo_default(ALGO_MAC), "hmac-md5"));
        assert_false(algo_list_contains(algo_default(ALGO_CIPHER), "arcfour256"));
    }
    assert_false(algo_is_supported(ALGO_KEX, "no-such-kex"));

    assert_true(algo_list_contains("a,bb,c", "bb"));
    assert_true(algo_list_contains("a,bb,c", "c"));
    assert_false(algo_list_contains("a,bb,c", "b"));
    assert_false(algo_list_contains("aes128-ctr", "aes128"));
    assert_false(algo_list_contains("", "a"));
    assert_false(algo_list_contains(NULL, "a"));

    /* The list walker under all of these: empty elements are visited, a
     * trailing comma ends the list. */
    {
        const char *cur = "a,,bb,";
        const char *e;
        size_t n = 99;

        e = util_list_next(&cur, &n);
        assert_non_null(e);
        assert_int_equal(n, 1);
        assert_memory_equal(e, "a", 1);
        e = util_list_next(&cur, &n);
        assert_non_null(e);
        assert_int_equal(n, 0);
        e = util_list_next(&cur, &n);
        assert_non_null(e);
        assert_int_equal(n, 2);
        assert_memory_equal(e, "bb", 2);
        assert_null(util_list_next(&cur, &n));
        assert_true(util_list_has("a,,bb,", "bb", 2));
        assert_false(util_list_has("a,,bb,", "b", 1));
        assert_false(util_list_has("", "a", 1));
    }

    assert_int_equal(algo_resolve(ALGO_KEX, NULL, &out, err, sizeof err), 0);
    assert_string_equal(out, DEFAULT_KEX);
    free(out);
    out = NULL;
    assert_int_equal(algo_resolve(ALGO_CIPHER, "+", &out, err, sizeof err), 0);
    assert_string_equal(out, DEFAULT_CIPHERS);
    free(out);
    out = NULL;

    /* A name libssh cannot run is kept, in place: the profile is the
     * played server's exact offer (offer-only names). */
    assert_int_equal(algo_resolve(ALGO_MAC, "hmac-ripemd160,hmac-sha1", &out, err, sizeof err), 0);
    assert_string_equal(out, "hmac-ripemd160,hmac-sha1");
    free(out);
    out = NULL;
    assert_int_equal(algo_offer_only(ALGO_MAC, "hmac-ripemd160,hmac-sha1,umac-64@openssh.com", &out), 0);
    assert_string_equal(out, "hmac-ripemd160,umac-64@openssh.com");
    free(out);
    out = NULL;
    assert_int_equal(algo_offer_only(ALGO_MAC, "hmac-sha1", &out), 0);
    assert_null(out);
    assert_int_equal(algo_servable(ALGO_MAC, "hmac-ripemd160,hmac-sha1,umac-64@openssh.com", &out), 0);
    assert_string_equal(out, "hmac-sha1");
    free(out);
    out = NULL;
    /* Nothing runnable: libssh is given the default, which never reaches
     * a client (wire.c). */
    assert_int_equal(algo_servable(ALGO_HOSTKEY, "x509v3-sign-rsa", &out), 0);
    assert_string_equal(out, algo_default(ALGO_HOSTKEY));
    free(out);
    out = NULL;
    /* A vendor's name@domain is played as offered; an unknown plain name
     * is most likely a typo. */
    assert_int_equal(algo_resolve(ALGO_CIPHER, "aes128-ctr,blowfish@example.com", &out, err,
                                  sizeof err), 0);
    assert_string_equal(out, "aes128-ctr,blowfish@example.com");
    free(out);
    out = NULL;
    assert_int_equal(algo_resolve(ALGO_MAC, "hmac-md6", &out, err, sizeof err), -1);
    assert_null(out);
    assert_int_equal(strncmp(err, "unknown MAC 'hmac-md6': the linked libssh ", 42), 0);
    assert_non_null(strstr(err, " offers hmac-sha2-256-etm@openssh.com,"));
    assert_int_equal(algo_resolve(ALGO_MAC, "a@b@c", &out, err, sizeof err), -1);
    /* Accepted public key algorithms are never offered: no offer-only. */
    assert_int_equal(algo_resolve(ALGO_PUBKEY, "x509v3-sign-rsa", &out, err, sizeof err), -1);
    assert_null(out);
    assert_int_equal(algo_resolve(ALGO_CIPHER, "", &out, err, sizeof err), -1);
    assert_string_equal(err, "Ciphers leaves no algorithm");
    assert_int_equal(algo_resolve(ALGO_CIPHER, "aes128-ctr,,aes256-ctr", &out, err,
                                  sizeof err), -1);
    assert_non_null(strstr(err, "empty name"));
    assert_int_equal(algo_resolve(ALGO_CIPHER, "cast*", &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "no supported cipher matches 'cast*'"));
}

static void *
algo_thread(void *arg)
{
    char err[256];
    char *out = NULL;
    int rc = algo_resolve(ALGO_KEX, "+diffie-hellman-group1-sha1", &out, err, sizeof err);

    (void)arg;
    free(out);
    return (void *)(intptr_t)rc;
}

/* The probe runs once even when several servers start at the same time. */
static void
test_algo_threads(void **state)
{
    pthread_t t[4];
    size_t i;

    (void)state;
    for (i = 0; i < UTIL_ARRAY_SIZE(t); i++) {
        assert_int_equal(pthread_create(&t[i], NULL, algo_thread, NULL), 0);
    }
    for (i = 0; i < UTIL_ARRAY_SIZE(t); i++) {
        void *rc = NULL;

        assert_int_equal(pthread_join(t[i], &rc), 0);
        assert_int_equal((intptr_t)rc, 0);
    }
}

/* ---- accounts and keys -------------------------------------------------- */

static void
test_account_keys(void **state)
{
    profile_t *p = NULL;
    const profile_account_t *a = NULL;

    (void)state;
    /* A key may come before its account. */
    p = parse_ok("AccountKey alice ssh-ed25519 " TEST_ED25519 " alice's laptop key\n"
                 "Account alice\n"
                 "AccountKey alice ecdsa-sha2-nistp256 " TEST_ECDSA "\n"
                 "Account bob hunter2\n");
    a = profile_account_find(p, "alice");
    assert_non_null(a);
    assert_null(a->password);
    assert_int_equal(a->nauthorized_keys, 2);
    assert_string_equal(a->authorized_keys[0],
                        "ssh-ed25519 " TEST_ED25519 " alice's laptop key");
    assert_string_equal(a->authorized_keys[1], "ecdsa-sha2-nistp256 " TEST_ECDSA);
    a = profile_account_find(p, "bob");
    assert_non_null(a);
    assert_string_equal(a->password, "hunter2");
    assert_int_equal(a->nauthorized_keys, 0);
    assert_null(profile_account_find(p, "carol"));
    assert_null(profile_account_find(p, NULL));
    profile_free(p);
}

static void
test_account_key_file(void **state)
{
    scratch_t *s = *state;
    const char *keys = "# authorized keys\n"
                       "\n"
                       "ssh-ed25519 " TEST_ED25519 " first\r\n"
                       "   ecdsa-sha2-nistp256 " TEST_ECDSA "\n";
    const char *conf = "Account u\nAccountKeyFile u ak\n";
    const char *path = NULL;
    profile_t *p = NULL;
    char err[1024];
    int rc;

    scratch_file(s, "ak", keys, strlen(keys));
    path = scratch_file(s, "k.conf", conf, strlen(conf));
    rc = profile_load(path, &p, err, sizeof err);
    if (rc != 0) {
        print_error("%s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(p->accounts[0].nauthorized_keys, 2);
    assert_string_equal(p->accounts[0].authorized_keys[0],
                        "ssh-ed25519 " TEST_ED25519 " first");
    assert_string_equal(p->accounts[0].authorized_keys[1],
                        "ecdsa-sha2-nistp256 " TEST_ECDSA);
    profile_free(p);
}

static void
test_account_key_file_errors(void **state)
{
    scratch_t *s = *state;
    const char *opts = "from=\"10.0.0.1\" ssh-ed25519 " TEST_ED25519 "\n";
    const char *bad = "ssh-ed25519 " TEST_ED25519 "\nssh-ed25519 AAAAbad\n";
    char path[256];
    char text[512];

    scratch_file(s, "opts", opts, strlen(opts));
    scratch_file(s, "bad", bad, strlen(bad));
    scratch_file(s, "empty", "# nothing\n", 10);
    snprintf(path, sizeof path, "%s/x.conf", s->dir);

    expect_error_at(path, "Account u\nAccountKeyFile u opts\n", 2,
                    "AccountKeyFile: opts:1: unknown key type 'from=10.0.0.1'");
    expect_error_at(path, "Account u\nAccountKeyFile u bad\n", 2,
                    "AccountKeyFile: bad:2: the key data is not a valid ssh-ed25519");
    expect_error_at(path, "Account u\nAccountKeyFile u empty\n", 2, "holds no key");
    snprintf(text, sizeof text, "Account u\n\nAccountKeyFile u missing.pub\n");
    expect_error_at(path, text, 3, "AccountKeyFile: cannot read '");
    expect_error_at(path, "AccountKeyFile nobody opts\n", 1, "unknown key type");
    expect_error_at(path, "AccountKeyFile nobody empty\n", 1, "holds no key");
}

static void
test_banner(void **state)
{
    scratch_t *s = *state;
    const char *banner = "Authorized use only.\n";
    const char *conf = "Banner issue.net\n";
    const char *path = NULL;
    char *big = NULL;
    char bigpath[256];
    profile_t *p = NULL;
    char err[1024];
    int rc;

    scratch_file(s, "issue.net", banner, strlen(banner));
    path = scratch_file(s, "b.conf", conf, strlen(conf));
    rc = profile_load(path, &p, err, sizeof err);
    if (rc != 0) {
        print_error("%s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_string_equal(p->banner, banner);
    assert_non_null(strstr(p->banner_path, "/issue.net"));
    profile_free(p);

    big = malloc(64 * 1024 + 1);
    assert_non_null(big);
    memset(big, 'x', 64 * 1024 + 1);
    scratch_file(s, "big", big, 64 * 1024 + 1);
    free(big);
    snprintf(bigpath, sizeof bigpath, "%s/x.conf", s->dir);
    expect_error_at(bigpath, "Banner big\n", 1, "is larger than 65536 bytes");
    scratch_file(s, "nul", "a\0b", 3);
    expect_error_at(bigpath, "Banner nul\n", 1, "contains a NUL byte");
}

/* ---- errors ------------------------------------------------------------ */

static void
test_errors_syntax(void **state)
{
    char *longline = NULL;
    char ident[400];

    (void)state;
    expect_error("Port 2222\nFrobnicate yes\n", 2, "Bad configuration option: Frobnicate");
    expect_error("\n\n  NoSuchThing\n", 3, "Bad configuration option: NoSuchThing");
    expect_error("Port\n", 1, "Port: missing argument (Port 1..65535)");
    expect_error("Port=\n", 1, "Port: missing argument");
    expect_error("Account\n", 1, "Account: missing argument");
    expect_error("AccountKey alice ssh-ed25519\n", 1, "AccountKey: missing argument");
    expect_error("Port 22 23\n", 1, "Port: too many arguments");
    expect_error("ExecResponse a 0 b c d\n", 1, "ExecResponse: too many arguments");
    expect_error("Account a b c\n", 1, "Account: too many arguments");
    expect_error("PasswordAuthentication maybe\n", 1,
                 "PasswordAuthentication: expected yes or no, got 'maybe'");
    expect_error("PubkeyAuthentication 1\n", 1, "PubkeyAuthentication: expected yes or no");
    expect_error("Port abc\n", 1, "Port: 'abc' is not a number");
    expect_error("MaxAuthTries 3x\n", 1, "MaxAuthTries: '3x' is not a number");
    expect_error("MaxAuthTries -1\n", 1, "MaxAuthTries: '-1' is not a number");
    expect_error("Port 70000\n", 1, "Port: 70000 is out of range (1..65535)");
    expect_error("Port 0\n", 1, "Port: 0 is out of range");
    expect_error("Port 99999999999999999999\n", 1, "out of range");
    expect_error("MaxAuthTries 0\n", 1, "MaxAuthTries: 0 is out of range (1..1000)");
    expect_error("ExecResponse x 256\n", 1, "ExecResponse: 256 is out of range (0..255)");
    expect_error("DefaultExecResponse 300\n", 1, "DefaultExecResponse: 300 is out of range");
    expect_error("LoginGraceTime 5y\n", 1, "LoginGraceTime: bad time value '5y'");
    expect_error("LoginGraceTime m\n", 1, "bad time value");
    expect_error("LoginGraceTime 99999999w\n", 1, "too large");
    expect_error("Description \"unterminated\n", 1, "unterminated quoted string");
    expect_error("ExecResponse x 0 \"\\q\"\n", 1, "ExecResponse: STDOUT: unknown escape '\\q'");
    expect_error("ExecResponse x 0 \"\" \"\\xZZ\"\n", 1,
                 "ExecResponse: STDERR: \\x needs two hex digits");
    expect_error("ShellPrompt \"a\\x00\"\n", 1, "ShellPrompt: a NUL byte is not allowed");
    expect_error("Match User bob\n", 1, "Match blocks are not supported");
    expect_error("Include /etc/ssh/sshd_config.d/*.conf\n", 1, "Include is not supported");
    expect_error("ListenAddress localhost\n", 1,
                 "ListenAddress: 'localhost' is not a numeric IPv4 or IPv6 address");
    expect_error("ListenAddress [::1\n", 1, "is not a numeric");
    expect_error("ListenAddress 127.0.0.1:0\n", 1, "ListenAddress: 0 is out of range");
    expect_error("Account a\nAccount a x\n", 2, "Account: 'a' is defined twice");
    expect_error("Account \"\"\n", 1, "empty account name");

    expect_error("Identification OpenSSH_9.2\n", 1,
                 "Identification: 'OpenSSH_9.2' does not start with \"SSH-\"");
    memset(ident, 'a', sizeof ident);
    memcpy(ident, "Identification SSH-2.0-", 23);
    ident[15 + 254] = '\n';
    ident[15 + 255] = '\0';
    expect_error(ident, 1, "Identification: longer than 253 characters");
    ident[15 + 253] = '\n';
    ident[15 + 254] = '\0';
    {
        profile_t *p = parse_ok(ident);

        assert_int_equal(strlen(p->identification), 253);
        profile_free(p);
    }
    expect_error("Identification SSH-2.0-caf\xc3\xa9\n", 1, "only printable ASCII");

    /* 4096 bytes is the limit, the newline not counted. */
    longline = malloc(5000);
    assert_non_null(longline);
    memset(longline, 'x', 5000);
    memcpy(longline, "# ", 2);
    longline[4096] = '\n';
    memcpy(longline + 4097, "Port 2\n", 8);
    {
        profile_t *p = parse_ok(longline);

        profile_free(p);
    }
    memset(longline, 'x', 5000);
    memcpy(longline, "Port 2\nDescription ", 19);
    longline[7 + 4097] = '\n';
    longline[7 + 4098] = '\0';
    expect_error(longline, 2, "line is longer than 4096 bytes");
    free(longline);
}

/* A profile keeps the exact offer, offer-only names included and in
 * order; check says which names are offer-only; StrictKex parses. */
static void
test_offer_only_profile(void **state)
{
    profile_t *p;
    char *out;

    (void)state;
    p = parse_ok("KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256\n"
                 "MACs hmac-ripemd160,hmac-sha1,umac-64@openssh.com\n"
                 "HostKeyAlgorithms x509v3-sign-rsa\n"
                 "StrictKex yes\n");
    assert_string_equal(p->kex_algorithms, "sntrup761x25519-sha512@openssh.com,curve25519-sha256");
    assert_string_equal(p->macs, "hmac-ripemd160,hmac-sha1,umac-64@openssh.com");
    assert_string_equal(p->hostkey_algorithms, "x509v3-sign-rsa");
    assert_int_equal(p->strict_kex, PROFILE_STRICT_KEX_YES);
    out = print_to_string(p);
    assert_contains(out, "\nmacs hmac-ripemd160,hmac-sha1,umac-64@openssh.com\n");
    assert_contains(out, "\nstrictkex yes\n");
    assert_contains(out, "\n# offer-only in this build: KexAlgorithms "
                    "sntrup761x25519-sha512@openssh.com; MACs hmac-ripemd160,umac-64@openssh.com; "
                    "HostKeyAlgorithms x509v3-sign-rsa\n");
    free(out);
    profile_free(p);

    /* Debian 12's sshd 9.2p1 (deb12u10) offers sntrup761 under its RFC
     * name too, without a vendor domain: a known offer-only name. */
    p = parse_ok("KexAlgorithms sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com\n");
    assert_string_equal(p->kex_algorithms,
                        "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com");
    out = print_to_string(p);
    assert_contains(out, "\n# offer-only in this build: KexAlgorithms "
                    "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com\n");
    free(out);
    profile_free(p);

    /* Nothing offer-only: no such line; StrictKex defaults to auto. */
    p = parse_ok("MACs hmac-sha1\n");
    assert_int_equal(p->strict_kex, PROFILE_STRICT_KEX_AUTO);
    out = print_to_string(p);
    assert_null(strstr(out, "offer-only"));
    free(out);
    profile_free(p);
}

static void
test_errors_values(void **state)
{
    char text[2048];
    int i;

    (void)state;
    expect_error("MACs hmac-md6\n", 1, "unknown MAC 'hmac-md6': the linked libssh ");
    expect_error("MACs hmac-md6\n", 1, " offers hmac-sha2-256-etm@openssh.com,");
    expect_error("Port 2\n\nMACs +hmac-md6\n", 3, "unknown MAC 'hmac-md6'");
    expect_error("Ciphers aes128-ctr,arcfour2\n", 1, "unknown cipher 'arcfour2'");
    expect_error("HostKeyAlgorithms ssh-dsa\n", 1, "unknown host key algorithm 'ssh-dsa'");
    expect_error("StrictKex maybe\n", 1, "StrictKex maybe: expected");
    /* A known name the engine cannot run (the system libssh has no DSA). */
    if (!algo_is_supported(ALGO_PUBKEY, "ssh-dss")) {
        expect_error("PubkeyAcceptedKeyTypes +ssh-dss\n", 1,
                     "unsupported public key algorithm 'ssh-dss'");
    }
    expect_error("MACs hmac-md5@\n", 1, "unknown MAC 'hmac-md5@'");
    expect_error("Ciphers aes128-ctr,x@y,z\n", 1, "unknown cipher 'z'");
    expect_error("KexAlgorithms foo\n", 1, "unknown key exchange algorithm 'foo'");
    expect_error("Ciphers +aes128-ctr,bogus-cipher\n", 1, "unknown cipher 'bogus-cipher'");
    expect_error("Ciphers -*\n", 1, "Ciphers leaves no algorithm");
    expect_error("Port 1\nKexAlgorithms -*sha*\n", 2, "KexAlgorithms leaves no algorithm");
    expect_error("MACs \"\"\n", 1, "MACs leaves no algorithm");
    expect_error("Ciphers aes128-ctr,\n", 1, "Ciphers: empty name in list 'aes128-ctr,'");

    expect_error("HostKey no/such/key\n", 1,
                 "HostKey: cannot read 'no/such/key': No such file or directory");
    expect_error("Banner no-such-banner.txt\n", 1,
                 "Banner: cannot read 'no-such-banner.txt': No such file or directory");
    expect_error("HostKey generate:ecdsa-255\n", 1, "HostKey: bad key spec 'generate:ecdsa-255'");
    expect_error("HostKey generate:rsa\n", 1, "HostKey: bad key spec");
    expect_error("HostKey generate:\n", 1, "HostKey: bad key spec");
    expect_error("HostKey generate:rsa-512\n", 1, "HostKey: bad RSA size in 'generate:rsa-512'");
    expect_error("HostKey generate:rsa-20000\n", 1, "bad RSA size");
    expect_error("HostKey generate:rsa-2048x\n", 1, "bad RSA size");

    text[0] = '\0';
    for (i = 0; i < PROFILE_MAX_HOSTKEYS + 1; i++) {
        strcat(text, "HostKey generate:ed25519\n");
    }
    expect_error(text, PROFILE_MAX_HOSTKEYS + 1, "HostKey: too many host keys (at most 8)");

    expect_error("AccountKey bob ssh-ed25519 " TEST_ED25519 "\nAccount alice\n", 1,
                 "AccountKey: no Account 'bob' is defined");
    expect_error("Account a\nAccountKey a ssh-ed25519 AAAAbad\n", 2,
                 "AccountKey: the key data is not a valid ssh-ed25519 public key");
    expect_error("Account a\nAccountKey a ssh-rsa " TEST_ED25519 "\n", 2,
                 "AccountKey: the key data is not a valid ssh-rsa public key");
    /* libssh reads the data as the type it is told; the type check is ours. */
    expect_error("Account a\nAccountKey a ecdsa-sha2-nistp384 " TEST_ECDSA "\n", 2,
                 "AccountKey: the key data is not of type ecdsa-sha2-nistp384");
    expect_error("Account a\nAccountKey a ssh-foo AAAA\n", 2,
                 "AccountKey: unknown key type 'ssh-foo'");

    expect_error("PasswordAuthentication no\nAuthenticationMethods publickey,password\n", 2,
                 "AuthenticationMethods names 'password', but PasswordAuthentication "
                 "is no (line 1)");
    expect_error("AuthenticationMethods publickey keyboard-interactive\n"
                 "ChallengeResponseAuthentication no\n", 1,
                 "names 'keyboard-interactive', but KbdInteractiveAuthentication is no");
    expect_error("AuthenticationMethods publickey,hostbased\n", 1,
                 "AuthenticationMethods: unknown method 'hostbased'");
    expect_error("AuthenticationMethods any publickey\n", 1, "\"any\" must be the only");
    expect_error("AuthenticationMethods publickey any\n", 1, "\"any\" must be the only");
    expect_error("AuthenticationMethods publickey,\n", 1, "empty method");
}

static void
test_auth_methods_ok(void **state)
{
    profile_t *p = NULL;

    (void)state;
    p = parse_ok("PasswordAuthentication no\n"
                 "AuthenticationMethods publickey,keyboard-interactive publickey none\n");
    assert_string_equal(p->authentication_methods,
                        "publickey,keyboard-interactive publickey none");
    profile_free(p);
}

/* ---- warnings and printing --------------------------------------------- */

static void
test_ignored_keywords_warn(void **state)
{
    const char *text = "UsePAM yes\n"
                       "X11Forwarding no\n"
                       "Subsystem sftp /usr/lib/openssh/sftp-server\n"
                       "AcceptEnv LANG LC_*\n"
                       "acceptenv \"TZ COLORTERM\"\n"
                       "Protocol 2\n"
                       "Port 2500\n"
                       "Port 2600\n";
    char *warn = NULL;
    size_t wlen = 0;
    FILE *wf = open_memstream(&warn, &wlen);
    profile_t *p = NULL;
    char *out = NULL;
    char err[512];

    (void)state;
    assert_non_null(wf);
    assert_int_equal(profile_parse("t.conf", text, strlen(text), wf, &p, err, sizeof err), 0);
    fclose(wf);
    assert_contains(warn, "t.conf:1: warning: UsePAM is accepted but has no effect in sshmock\n");
    assert_contains(warn, "t.conf:2: warning: X11Forwarding is accepted but has no effect");
    assert_contains(warn, "t.conf:6: warning: Protocol is accepted but has no effect");
    assert_contains(warn, "t.conf:8: warning: Port repeated");
    assert_int_equal(p->port, 2500);

    out = print_to_string(p);
    assert_contains(out, "# accepted, but without effect in sshmock:\n");
    assert_contains(out, "\nacceptenv LANG LC_*\nacceptenv \"TZ COLORTERM\"\n");
    assert_contains(out, "\nsubsystem sftp /usr/lib/openssh/sftp-server\n");
    assert_contains(out, "\nusepam yes\n");
    assert_contains(out, "\nx11forwarding no\n");
    /* Table order: AcceptEnv before Subsystem before UsePAM. */
    assert_true(strstr(out, "acceptenv") < strstr(out, "subsystem"));
    assert_true(strstr(out, "subsystem") < strstr(out, "usepam"));
    /* Ignored ones come after every real setting. */
    assert_true(strstr(out, "shellprompt") < strstr(out, "# accepted"));
    free(out);
    free(warn);
    profile_free(p);
}

static void
test_print(void **state)
{
    profile_t *p = NULL;
    char *out = NULL;
    char err[1024];
    int rc;

    (void)state;
    rc = profile_load(PROFILES_DIR "/modern.conf", &p, err, sizeof err);
    assert_int_equal(rc, 0);
    out = print_to_string(p);
    assert_contains(out, "# profile modern (" PROFILES_DIR "/modern.conf)\n");
    assert_contains(out, "\nidentification SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\n");
    assert_contains(out, "\nport 2222\n");
    assert_contains(out, "\nlistenaddress 127.0.0.1\n");
    assert_contains(out, "\nhostkey generate:ed25519\nhostkey generate:ecdsa-256\n"
                         "hostkey generate:rsa-3072\n");
    assert_contains(out, "\nkexalgorithms " DEFAULT_KEX "\n");
    assert_contains(out, "\nciphers " DEFAULT_CIPHERS "\n");
    assert_contains(out, "\nmacs " DEFAULT_MACS "\n");
    assert_contains(out, "\nhostkeyalgorithms " DEFAULT_HOSTKEYS "\n");
    assert_contains(out, "\npubkeyacceptedalgorithms " DEFAULT_HOSTKEYS "\n");
    assert_contains(out, "\npasswordauthentication yes\n");
    assert_contains(out, "\nkbdinteractiveauthentication yes\n");
    assert_contains(out, "\nauthenticationmethods any\n");
    assert_contains(out, "\nmaxauthtries 6\n");
    assert_contains(out, "\nlogingracetime 120\n");
    assert_contains(out, "\nbanner none\n");
    assert_contains(out, "\naccount demo <set>\n");
    assert_contains(out, "\naccountkey demo ssh-ed25519 SHA256:");
    assert_contains(out, "\naccountkey demo ssh-rsa SHA256:");
    assert_contains(out, "\nexecresponse \"echo hello\" 0 \"hello\\n\" \"\"\n");
    assert_contains(out, "\nexecresponse \"stderr-test\" 2 \"out\\n\" \"err\\n\"\n");
    assert_contains(out, "\ndefaultexecresponse 127 \"\" \"sh: 1: %c: not found\\n\"\n");
    assert_contains(out, "\nshellprompt \"%u@sshmock:~$ \"\n");
    /* sshd -T prints lowercase keywords, nothing else. */
    assert_null(strstr(out, "KexAlgorithms"));
    assert_null(strstr(out, "# accepted"));
    /* Order: the table's. */
    assert_true(strstr(out, "\nport ") < strstr(out, "\nkexalgorithms "));
    assert_true(strstr(out, "\nkexalgorithms ") < strstr(out, "\nmacs "));
    assert_true(strstr(out, "\naccount ") < strstr(out, "\nexecresponse "));
    free(out);
    profile_free(p);

    p = parse_ok("Account nopw\n"
                 "AccountKey nopw ssh-ed25519 " TEST_ED25519 " unit test\n"
                 "ExecResponse bin 0 \"\\x01\\x7f\\\"\\\\\"\n"
                 "Description \"two  spaces\"\n");
    out = print_to_string(p);
    assert_contains(out, "# profile t (t.conf)\n");
    assert_contains(out, "\ndescription two  spaces\n");
    assert_contains(out, "\naccount nopw <none>\n");
    /* The fingerprint ssh-keygen -l prints for TEST_ED25519. */
    assert_contains(out, "\naccountkey nopw ssh-ed25519 SHA256:");
    assert_contains(out, " unit test\n");
    assert_contains(out, "\nexecresponse \"bin\" 0 \"\\x01\\x7f\\\"\\\\\" \"\"\n");
    free(out);
    profile_free(p);
}

static void
test_exec_find(void **state)
{
    profile_t *p = NULL;

    (void)state;
    p = parse_ok("ExecResponse \"echo hello\" 0 \"hello\\n\"\n"
                 "ExecResponse ls 0 \"a b\\n\"\n"
                 "DefaultExecResponse 42 \"\" \"no %c for %u, 100%%\\n\"\n");
    assert_int_equal(profile_exec_find(p, "echo hello")->exit_status, 0);
    assert_string_equal(profile_exec_find(p, "echo hello")->out, "hello\n");
    /* Exact match only: no trimming, no prefix, no case folding. */
    assert_ptr_equal(profile_exec_find(p, "echo hello "), &p->default_exec);
    assert_ptr_equal(profile_exec_find(p, "echo"), &p->default_exec);
    assert_ptr_equal(profile_exec_find(p, "LS"), &p->default_exec);
    assert_ptr_equal(profile_exec_find(p, NULL), &p->default_exec);
    assert_int_equal(p->default_exec.exit_status, 42);
    assert_string_equal(p->default_exec.out, "");
    /* %-tokens are left for the channel module. */
    assert_string_equal(p->default_exec.err, "no %c for %u, 100%%\n");
    profile_free(p);

    p = parse_ok("DefaultExecResponse 1\n");
    assert_string_equal(p->default_exec.out, "");
    assert_string_equal(p->default_exec.err, "");
    profile_free(p);
}

static void
test_parse_edge_args(void **state)
{
    profile_t *p = NULL;
    char err[128];

    (void)state;
    assert_int_equal(profile_parse_string("x.conf", NULL, &p, err, sizeof err),
                     SSHMOCK_EINVAL);
    assert_null(p);
    /* A NUL byte means this is not a profile. */
    assert_int_equal(profile_parse("x.conf", "Port 1\0x", 8, NULL, &p, err, sizeof err),
                     SSHMOCK_EPROFILE);
    assert_null(p);
    assert_non_null(strstr(err, "NUL byte"));
    /* No error buffer: still fails cleanly. */
    assert_int_equal(profile_parse("x.conf", "Bogus 1", 7, NULL, &p, NULL, 0),
                     SSHMOCK_EPROFILE);
    assert_null(p);
    /* A tiny error buffer truncates, never overflows. */
    assert_int_equal(profile_parse("x.conf", "Bogus 1", 7, NULL, &p, err, 5),
                     SSHMOCK_EPROFILE);
    assert_string_equal(err, "x.co");
    profile_free(NULL);
}

/* MaxSessions is played now: sshd's range and default, first value wins. */
static void
test_max_sessions(void **state)
{
    const char *text = "MaxSessions 3\nMaxSessions 7\n";
    char *warn = NULL;
    size_t wlen = 0;
    FILE *wf = NULL;
    profile_t *p = NULL;
    char *out = NULL;
    char err[512];

    (void)state;
    p = parse_ok("");
    assert_int_equal(p->max_sessions, 10);
    out = print_to_string(p);
    assert_contains(out, "\nmaxauthtries 6\nmaxsessions 10\nlogingracetime 120\n");
    free(out);
    profile_free(p);

    p = parse_ok("MaxSessions 0\n");
    assert_int_equal(p->max_sessions, 0);
    profile_free(p);

    /* No "has no effect" warning any more, and the first value wins. */
    wf = open_memstream(&warn, &wlen);
    assert_non_null(wf);
    assert_int_equal(profile_parse("t.conf", text, strlen(text), wf, &p, err, sizeof err), 0);
    fclose(wf);
    assert_int_equal(p->max_sessions, 3);
    assert_null(strstr(warn, "MaxSessions"));
    out = print_to_string(p);
    assert_contains(out, "\nmaxsessions 3\n");
    assert_null(strstr(out, "# accepted"));
    free(out);
    free(warn);
    profile_free(p);

    expect_error("MaxSessions -1\n", 1, "MaxSessions: '-1' is not a number");
    expect_error("MaxSessions 2147483648\n", 1,
                 "MaxSessions: 2147483648 is out of range (0..2147483647)");
    expect_error("MaxSessions\n", 1, "MaxSessions: missing argument (MaxSessions 0..");
    /* A repeated keyword is still checked, though its value is not kept. */
    expect_error("MaxSessions 3\nMaxSessions x\n", 2, "MaxSessions: 'x' is not a number");
}

/* A repeated keyword is checked as thoroughly as the first, for every kind
 * of handler; the value kept is the first one. */
static void
test_repeats_checked(void **state)
{
    profile_t *p = NULL;

    (void)state;
    expect_error("DefaultExecResponse 1\nDefaultExecResponse 2 \"\\q\"\n", 2,
                 "DefaultExecResponse: STDOUT: unknown escape");
    expect_error("Banner none\nBanner /nonexistent/banner\n", 2, "Banner: cannot read");
    expect_error("MatrixAuth key\nMatrixAuth nope\n", 2,
                 "MatrixAuth nope: expected password, key, key-rsa or wrong-password");
    expect_error("HostKeyRotation restart\nHostKeyRotation often\n", 2,
                 "HostKeyRotation often: expected never, restart or connection");
    expect_error("MaxStartups 5\nMaxStartups 0\n", 2, "MaxStartups 0: expected START");
    expect_error("ListenAddress ::1\nListenAddress ::1:x\n", 2, "is not a numeric");
    expect_error("Identification SSH-2.0-a\nIdentification b\n", 2,
                 "Identification: 'b' does not start with \"SSH-\"");

    p = parse_ok("DefaultExecResponse 1 \"one\"\n"
                 "DefaultExecResponse 2 \"two\"\n"
                 "Banner none\n"
                 "Banner " PROFILES_DIR "/modern.conf\n"
                 "ListenAddress 127.0.0.2:2400\n"
                 "ListenAddress 127.0.0.3:2500\n"
                 "MaxStartups 3:50:9\n"
                 "MaxStartups 4\n"
                 "HostKeyRotation connection\n"
                 "HostKeyRotation never\n"
                 "MatrixAuth key-rsa\n"
                 "MatrixAuth key\n"
                 "ShellPrompt \"first$ \"\n"
                 "ShellPrompt \"second$ \"\n");
    assert_int_equal(p->default_exec.exit_status, 1);
    assert_string_equal(p->default_exec.out, "one");
    assert_null(p->banner_path);
    assert_string_equal(p->listen_address, "127.0.0.2");
    assert_int_equal(p->port, 2400);
    assert_int_equal(p->max_startups_start, 3);
    assert_int_equal(p->max_startups_rate, 50);
    assert_int_equal(p->max_startups_full, 9);
    assert_int_equal(p->hostkey_rotation, 2);
    assert_int_equal(p->matrix_auth, PROFILE_MATRIX_AUTH_KEY_RSA);
    assert_string_equal(p->shell_prompt, "first$ ");
    profile_free(p);
}

/* Writing every documented default out as a profile line changes nothing:
 * the defaults the reference shows are the ones the parser fills in. */
static void
test_defaults_documented(void **state)
{
    char *list = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&list, &len);
    util_buf_t text = UTIL_BUF_INIT;
    char *line = NULL;
    char *save = NULL;
    profile_t *p = NULL;
    char *empty = NULL;
    char *spelled = NULL;
    int n = 0;

    (void)state;
    assert_non_null(f);
    profile_print_keywords(f);
    fclose(f);
    for (line = strtok_r(list, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *name = line;
        char *kind = strchr(name, '\t');
        char *shape = kind != NULL ? strchr(kind + 1, '\t') : NULL;
        char *def = shape != NULL ? strchr(shape + 1, '\t') : NULL;
        const char *item = NULL;

        assert_non_null(def);
        *kind++ = '\0';
        *def++ = '\0';
        if (strcmp(def, "-") == 0 || strcmp(kind, "alias") == 0) {
            continue;
        }
        /* HostKey's default is a list of keys, one line each. */
        for (item = def; *item != '\0'; ) {
            size_t ilen = strcmp(name, "HostKey") == 0 ? strcspn(item, ",") : strlen(item);

            assert_true(util_buf_printf(&text, "%s %.*s\n", name, (int)ilen, item) >= 0);
            item += ilen;
            item += strspn(item, ", ");
            n++;
        }
    }
    assert_true(n >= 20);
    p = parse_ok("");
    empty = print_to_string(p);
    profile_free(p);
    p = parse_ok(text.data);
    spelled = print_to_string(p);
    profile_free(p);
    if (strcmp(empty, spelled) != 0) {
        print_error("defaults:\n%s\nspelled out:\n%s\n", empty, spelled);
    }
    assert_string_equal(empty, spelled);
    free(empty);
    free(spelled);
    util_buf_free(&text);
    free(list);
}

/* Unknown clients are named against profile/clients.h's list. */
static void
test_unknown_client_names_list(void **state)
{
    char names[256];
    char needle[400];

    (void)state;
    profile_client_names(names, sizeof names, 0);
    assert_non_null(strstr(names, "openssh, plink"));
    snprintf(needle, sizeof needle, "Expect: unknown client 'putty' (clients: %s)", names);
    expect_error("Expect putty connect\n", 1, needle);
    snprintf(needle, sizeof needle, "ClientFix: unknown client 'putty' (clients: %s)",
             names);
    expect_error("ClientFix putty A=1\n", 1, needle);
    expect_error("Expect openssh fail nowhere\n", 1,
                 "Expect openssh fail nowhere: the stage is one of tcp, banner, kex, "
                 "hostkey, auth, session, timeout");
}

/* Said: a client's own words, gathered per client in file order, printed
 * back by `sshmock check` so that the printout loads again. */
static void
test_said_parse_print(void **state)
{
    const char *text =
        "Said plink \"FATAL ERROR: Remote side unexpectedly closed network connection\"\n"
        "Expect openssh fail kex \"Unable to negotiate with 127\\.0\\.0\\.1 port [0-9]+: no\"\n"
        "Said openssh \"Unable to negotiate with 127.0.0.1 port P: no matching\"\n"
        "Expect plink fail kex \"FATAL ERROR: Remote side.*Event Log: Remote side\"\n"
        "Said plink \"Event Log: Remote side unexpectedly closed network connection\"\n"
        "Expect paramiko connect\n"
        "Said paramiko hello   there\n"
        "Expect ssh2 fail auth \"Received DISCONNECT \\(11, \\\"Too many\"\n"
        "Said ssh2 \"ssh2 debug: Received DISCONNECT (11, \\\"Too many\\\")\"\n";
    profile_t *p = NULL;
    profile_t *again = NULL;
    const profile_said_t *s = NULL;
    char *out = NULL;
    char *out2 = NULL;

    (void)state;
    p = parse_ok(text);
    assert_int_equal(p->nsaid, 4);
    s = profile_said_find(p, "plink");
    assert_non_null(s);
    assert_int_equal(s->line, 1);
    assert_int_equal(s->nlines, 2);
    assert_string_equal(s->lines[0],
                        "FATAL ERROR: Remote side unexpectedly closed network connection");
    assert_string_equal(s->lines[1],
                        "Event Log: Remote side unexpectedly closed network connection");
    s = profile_said_find(p, "openssh");
    assert_non_null(s);
    assert_int_equal(s->line, 3);
    assert_int_equal(s->nlines, 1);
    /* Unquoted words are joined by one space, like Explain's. */
    assert_string_equal(profile_said_find(p, "paramiko")->lines[0], "hello there");
    assert_string_equal(profile_said_find(p, "ssh2")->lines[0],
                        "ssh2 debug: Received DISCONNECT (11, \"Too many\")");
    assert_null(profile_said_find(p, "libssh"));

    out = print_to_string(p);
    assert_contains(out, "said plink \"FATAL ERROR: Remote side unexpectedly closed network "
                         "connection\"\nsaid plink \"Event Log: Remote side");
    assert_contains(out, "said openssh \"Unable to negotiate with 127.0.0.1 port P: no "
                         "matching\"\n");
    assert_contains(out, "said paramiko \"hello there\"\n");
    assert_contains(out, "said ssh2 \"ssh2 debug: Received DISCONNECT (11, \\\"Too many\\\")\"\n");
    /* The printed expect and said lines load back to the same lines. */
    {
        util_buf_t back = UTIL_BUF_INIT;
        const char *line = out;

        while (*line != '\0') {
            size_t len = strcspn(line, "\n");

            if (strncmp(line, "said ", 5) == 0 || strncmp(line, "expect ", 7) == 0) {
                assert_int_equal(util_buf_append(&back, line, len), 0);
                assert_int_equal(util_buf_puts(&back, "\n"), 0);
            }
            line += len + (line[len] != '\0');
        }
        assert_int_equal(util_buf_puts(&back, ""), 0);
        again = parse_ok(back.data);
        out2 = print_to_string(again);
        util_buf_free(&back);
    }
    assert_string_equal(out, out2);
    free(out);
    free(out2);
    profile_free(again);
    profile_free(p);
}

/* The words and the pattern cannot drift apart: a Said text its own Expect
 * pattern does not match is an error at the client's first Said line. */
static void
test_said_errors(void **state)
{
    profile_t *p = NULL;

    (void)state;
    expect_error("Expect openssh fail kex \"no matching key exchange method found\"\n"
                 "Said openssh \"Unable to negotiate with 127.0.0.1 port P: no matching "
                 "cipher found\"\n",
                 2, "Said openssh: what the client said does not match its Expect pattern "
                    "(line 1): no matching key exchange method found");
    /* Lines are joined by newlines: a pattern that spans two lines needs both. */
    expect_error("Said plink \"FATAL ERROR: Remote side unexpectedly closed\"\n"
                 "Expect plink fail kex \"closed.Event Log\"\n",
                 1, "Said plink: what the client said does not match");
    p = parse_ok("Said plink \"FATAL ERROR: Remote side unexpectedly closed\"\n"
                 "Expect plink fail kex \"closed.Event Log\"\n"
                 "Said plink \"Event Log: Remote side unexpectedly closed\"\n");
    profile_free(p);
    /* P is the port only after "port " or ':' and not as a word's start. */
    p = parse_ok("Port 2022\nExpect dbclient fail kex \"demo@127\\.0\\.0\\.1:2022 exited\"\n"
                 "Said dbclient \"dbclient: Connection to demo@127.0.0.1:P exited: x\"\n");
    profile_free(p);
    expect_error("Expect openssh fail kex \"port [0-9]+\"\n"
                 "Said openssh \"port Penguin\"\n",
                 2, "does not match its Expect pattern (line 1)");
    /* Words without an Expect line load, with a warning. */
    {
        const char *text = "Said openssh \"Connection closed by 127.0.0.1 port P\"\n"
                           "Expect paramiko connect\n";
        char *warned = NULL;
        size_t wlen = 0;
        FILE *w = open_memstream(&warned, &wlen);
        char err[512];

        assert_non_null(w);
        assert_int_equal(profile_parse("t.conf", text, strlen(text), w, &p, err,
                                       sizeof err), 0);
        fclose(w);
        assert_contains(warned, "t.conf:1: warning: Said openssh: no Expect line for "
                                "this client, so nothing checks these words");
        free(warned);
        profile_free(p);
    }
    expect_error("Expect openssh connect\nSaid putty \"hello\"\n", 2,
                 "Said: unknown client 'putty'");
    expect_error("Expect openssh connect\nSaid openssh\n", 2,
                 "Said: missing argument (Said CLIENT TEXT...)");
    /* A connect without a pattern has nothing to check its words against. */
    p = parse_ok("Expect openssh connect\nSaid openssh \"hello\"\n");
    profile_free(p);
}

/* Every client of every shipped profile that has an Expect line has its
 * words recorded (scripts/record-said.py), so explain never falls back to
 * a bare pattern for a shipped scenario. */
static void
test_shipped_said(void **state)
{
    DIR *d = opendir(PROFILES_DIR);
    struct dirent *de = NULL;
    int profiles = 0;
    int clients = 0;

    (void)state;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        char path[1024];
        char err[1024];
        profile_t *p = NULL;
        size_t i;

        if (len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0) {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", PROFILES_DIR, de->d_name);
        if (profile_load_warn(path, NULL, &p, err, sizeof err) != 0) {
            print_error("%s\n", err);
        }
        assert_non_null(p);
        for (i = 0; i < p->nexpects; i++) {
            if (profile_said_find(p, p->expects[i].client) == NULL) {
                print_error("%s: no Said line for %s (run scripts/record-said.py %s)\n",
                            path, p->expects[i].client, p->name);
            }
            assert_non_null(profile_said_find(p, p->expects[i].client));
            clients++;
        }
        profiles++;
        profile_free(p);
    }
    closedir(d);
    assert_true(profiles >= 20);
    assert_true(clients >= 7 * 20);
}

/* Expect patterns that make glibc's regcomp run for minutes, eat
 * gigabytes or crash (found by the profile fuzzer) are refused at
 * FILE:LINE before regcomp sees them; ordinary ones still load. */
static void
test_expect_regex_bounded(void **state)
{
    char text[1200];
    char longpat[600];
    profile_t *p = NULL;

    (void)state;
    expect_error("Expect openssh fail kex \"a{255}{255}{255}\"\n", 1,
                 "Expect openssh: regex refused: a repetition of a repetition");
    expect_error("Expect openssh fail kex \"a++++++++++++++++++++++\"\n", 1,
                 "Expect openssh: regex refused: a repetition of a repetition");
    expect_error("# x\nExpect openssh fail kex \"no may exchaa256@libssh\\\\.org"
                 "++++++++++++++++++++++++++++++++++++++++++\"\n", 2,
                 "regex refused: a repetition of a repetition");
    expect_error("Expect paramiko connect \"((((((((((x))))))))))\"\n", 1,
                 "regex refused: groups nested deeper than 8");
    expect_error("Expect paramiko connect \"((a{50}){50})\"\n", 1,
                 "regex refused: its repetitions expand to more than 2000 copies");
    memset(longpat, 'x', sizeof longpat - 1);
    longpat[sizeof longpat - 1] = '\0';
    snprintf(text, sizeof text, "Expect paramiko connect \"%s\"\n", longpat);
    expect_error(text, 1, "regex refused: pattern of 599 bytes (at most 512)");

    p = parse_ok("Expect openssh fail kex \"no matching key exchange method found\\\\. "
                 "Their offer: diffie-hellman-group1-sha1\"\n"
                 "Expect paramiko fail auth \"[[:alpha:]]+ (x|y)*z{3} [^]a]{1,40}\"\n"
                 "Expect plink connect \"a{2000}\"\n");
    assert_int_equal(p->nexpects, 3);
    profile_free(p);
}

/* Every keyword the parser knows is in the reference documentation. */
static void
test_docs_cover_keywords(void **state)
{
    char *list = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&list, &len);
    char *doc = NULL;
    char *line = NULL;
    char *save = NULL;
    int n = 0;

    (void)state;
    assert_non_null(f);
    profile_print_keywords(f);
    fclose(f);
    assert_int_equal(util_read_file(SSHMOCK_SOURCE_DIR "/docs/profile-reference.md",
                                    1024 * 1024, &doc, NULL), 0);
    for (line = strtok_r(list, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char name[80];

        line[strcspn(line, "\t")] = '\0';
        snprintf(name, sizeof name, "`%s`", line);
        if (strstr(doc, name) == NULL) {
            print_error("docs/profile-reference.md does not mention %s\n", name);
        }
        assert_non_null(strstr(doc, name));
        n++;
    }
    assert_true(n > 100);
    free(doc);
    free(list);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modern_loads),
        cmocka_unit_test(test_legacy_loads),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_name_without_conf),
        cmocka_unit_test(test_case_insensitive),
        cmocka_unit_test(test_equals_syntax),
        cmocka_unit_test(test_comments_blank_crlf),
        cmocka_unit_test(test_quotes_and_escapes),
        cmocka_unit_test(test_first_value_wins),
        cmocka_unit_test(test_time_values),
        cmocka_unit_test(test_listen_address_forms),
        cmocka_unit_test(test_hostkey_specs),
        cmocka_unit_test(test_hostkey_file_relative),
        cmocka_unit_test(test_algo_modifiers),
        cmocka_unit_test(test_algo_plain_lists),
        cmocka_unit_test(test_algo_api),
        cmocka_unit_test(test_algo_threads),
        cmocka_unit_test(test_account_keys),
        cmocka_unit_test_setup_teardown(test_account_key_file, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_account_key_file_errors, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_banner, scratch_setup, scratch_teardown),
        cmocka_unit_test(test_errors_syntax),
        cmocka_unit_test(test_errors_values),
        cmocka_unit_test(test_offer_only_profile),
        cmocka_unit_test(test_auth_methods_ok),
        cmocka_unit_test(test_ignored_keywords_warn),
        cmocka_unit_test(test_print),
        cmocka_unit_test(test_exec_find),
        cmocka_unit_test(test_parse_edge_args),
        cmocka_unit_test(test_max_sessions),
        cmocka_unit_test(test_repeats_checked),
        cmocka_unit_test(test_defaults_documented),
        cmocka_unit_test(test_unknown_client_names_list),
        cmocka_unit_test(test_said_parse_print),
        cmocka_unit_test(test_said_errors),
        cmocka_unit_test(test_shipped_said),
        cmocka_unit_test(test_expect_regex_bounded),
        cmocka_unit_test(test_docs_cover_keywords),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
