/*
 * Unit tests of RSA host key loading (server/ssh/hostkey_rsa.c): a key
 * that ssh-keygen wrote in OpenSSH format must come out of loading with
 * its CRT values (what makes OpenSSL's signatures ~7x cheaper), the same
 * key; a PEM key is left alone; a file that is not an RSA key changes
 * nothing. Keys are made by ssh-keygen in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssh/hostkey.h"

static char tmpdir[64];

static int
setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sshmock-hostkey-XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ssh-keygen -t TYPE [-m PEM] into tmpdir/NAME. ssh-keygen comes with
 * openssh-client, which scripts/setup.sh installs: without it the test
 * fails rather than passing unchecked. */
static void
keygen(const char *type, const char *format, const char *name, char *path, size_t len)
{
    char cmd[512];

    if (system("command -v ssh-keygen >/dev/null 2>&1") != 0) {
        fail_msg("ssh-keygen is not installed (openssh-client; scripts/setup.sh)");
    }
    snprintf(path, len, "%s/%s", tmpdir, name);
    snprintf(cmd, sizeof cmd, "ssh-keygen -q -t %s %s%s -N '' -f '%s' </dev/null", type,
             format != NULL ? "-m " : "", format != NULL ? format : "", path);
    assert_int_equal(system(cmd), 0);
}

/* The key's first CRT exponent as OpenSSL sees it once libssh exported
 * it; NULL when it is missing or zero. */
static BIGNUM *
crt_exponent(ssh_key key)
{
    char *b64 = NULL;
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *dmp1 = NULL;

    if (ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &b64) != SSH_OK) {
        return NULL;
    }
    bio = BIO_new_mem_buf(b64, -1);
    if (bio != NULL) {
        pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    }
    if (pkey != NULL && (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_EXPONENT1, &dmp1) != 1 ||
                         BN_is_zero(dmp1))) {
        BN_free(dmp1);
        dmp1 = NULL;
    }
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    ssh_string_free_char(b64);
    return dmp1;
}

static void
test_openssh_rsa_gets_crt(void **state)
{
    char path[128];
    ssh_key key = NULL;
    ssh_key orig = NULL;
    BIGNUM *before = NULL;
    BIGNUM *after = NULL;

    (void)state;
    keygen("rsa -b 2048", NULL, "rsa_openssh", path, sizeof path);
    assert_int_equal(ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key), SSH_OK);
    assert_int_equal(ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &orig), SSH_OK);
    before = crt_exponent(key);
    assert_int_equal(hostkey_rsa_with_crt(path, &key), 1);
    after = crt_exponent(key);
    /* libssh alone loses it; after loading it is there. */
    assert_null(before);
    assert_non_null(after);
    assert_int_equal(ssh_key_cmp(key, orig, SSH_KEY_CMP_PRIVATE), 0);
    BN_free(after);
    ssh_key_free(key);
    ssh_key_free(orig);
}

static void
test_pem_rsa_left_alone(void **state)
{
    char path[128];
    ssh_key key = NULL;
    ssh_key before = NULL;
    BIGNUM *dmp1 = NULL;

    (void)state;
    keygen("rsa -b 2048", "PEM", "rsa_pem", path, sizeof path);
    assert_int_equal(ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key), SSH_OK);
    before = key;
    assert_int_equal(hostkey_rsa_with_crt(path, &key), 0);
    assert_ptr_equal(key, before);
    dmp1 = crt_exponent(key);
    assert_non_null(dmp1);
    BN_free(dmp1);
    ssh_key_free(key);
}

static void
test_other_types_left_alone(void **state)
{
    char path[128];
    ssh_key key = NULL;
    ssh_key before = NULL;

    (void)state;
    keygen("ed25519", NULL, "ed", path, sizeof path);
    assert_int_equal(ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key), SSH_OK);
    before = key;
    assert_int_equal(hostkey_rsa_with_crt(path, &key), 0);
    assert_ptr_equal(key, before);
    ssh_key_free(key);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openssh_rsa_gets_crt),
        cmocka_unit_test(test_pem_rsa_left_alone),
        cmocka_unit_test(test_other_types_left_alone),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
