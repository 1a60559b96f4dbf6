#include "ssh/hostkey.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sshmock/sshmock.h>

#include "base/util.h"

char *
hostkey_state_dir(const char *explicit_dir)
{
    const char *env = NULL;
    util_buf_t b = UTIL_BUF_INIT;

    if (explicit_dir != NULL && explicit_dir[0] != '\0') {
        return strdup(explicit_dir);
    }
    env = getenv("SSHMOCK_STATE_DIR");
    if (env != NULL && env[0] != '\0') {
        return strdup(env);
    }
    env = getenv("XDG_STATE_HOME");
    if (env != NULL && env[0] == '/') {
        util_buf_printf(&b, "%s/sshmock", env);
        return b.data;
    }
    env = getenv("HOME");
    if (env != NULL && env[0] == '/') {
        util_buf_printf(&b, "%s/.local/state/sshmock", env);
        return b.data;
    }
    return strdup("/tmp/sshmock-state");
}

int
hostkey_fingerprint(ssh_key key, char *out, size_t outlen)
{
    unsigned char *hash = NULL;
    size_t hlen = 0;
    unsigned char b64[128];
    int n;

    if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != 0) {
        return -1;
    }
    if (hlen > 64) {
        ssh_clean_pubkey_hash(&hash);
        return -1;
    }
    n = EVP_EncodeBlock(b64, hash, (int)hlen);
    ssh_clean_pubkey_hash(&hash);
    /* OpenSSH prints the base64 without its '=' padding. */
    while (n > 0 && b64[n - 1] == '=') {
        n--;
    }
    b64[n] = '\0';
    snprintf(out, outlen, "SHA256:%s", (const char *)b64);
    return 0;
}

/* Writes a private key atomically with mode 0600: a half-written key file
 * after a crash would otherwise fail every later start. */
static int
hostkey__save(ssh_key key, const char *path)
{
    char *b64 = NULL;
    util_buf_t tmp = UTIL_BUF_INIT;
    int fd = -1;
    int rc = -1;
    size_t len;

    if (ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &b64) != SSH_OK) {
        return -1;
    }
    if (util_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
        goto out;
    }
    fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        goto out;
    }
    len = strlen(b64);
    if (write(fd, b64, len) != (ssize_t)len || fsync(fd) != 0) {
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp.data, path) != 0) {
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (rc != 0 && tmp.data != NULL) {
        unlink(tmp.data);
    }
    util_buf_free(&tmp);
    ssh_string_free_char(b64);
    return rc;
}

/* Reads one SSH "string" (uint32 length + bytes) from a key blob. */
static int
hostkey__blob_string(const unsigned char **p, const unsigned char *end,
                     const unsigned char **s, size_t *len)
{
    size_t n;

    if (end - *p < 4) {
        return -1;
    }
    n = ((size_t)(*p)[0] << 24) | ((size_t)(*p)[1] << 16) | ((size_t)(*p)[2] << 8) | (*p)[3];
    *p += 4;
    if ((size_t)(end - *p) < n) {
        return -1;
    }
    *s = *p;
    *len = n;
    *p += n;
    return 0;
}

/* The key's size in bits, as ssh-keygen -l shows it. libssh 0.10 has no
 * public call for it, so RSA's is read from the modulus in the public blob. */
static int
hostkey__bits(ssh_key key)
{
    enum ssh_keytypes_e t = ssh_key_type(key);
    char *b64 = NULL;
    unsigned char blob[8192];
    const unsigned char *p = blob;
    const unsigned char *end = NULL;
    const unsigned char *s = NULL;
    size_t len = 0;
    int n;
    int bits = 0;

    switch (t) {
    case SSH_KEYTYPE_ED25519: return 256;
    case SSH_KEYTYPE_ECDSA_P256: return 256;
    case SSH_KEYTYPE_ECDSA_P384: return 384;
    case SSH_KEYTYPE_ECDSA_P521: return 521;
    case SSH_KEYTYPE_RSA: break;
    default: return 0;
    }
    if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK) {
        return 0;
    }
    if (strlen(b64) < sizeof blob / 4 * 3) {
        n = EVP_DecodeBlock(blob, (const unsigned char *)b64, (int)strlen(b64));
        end = blob + (n > 0 ? n : 0);
        /* "ssh-rsa", e, n: skip the first two, measure the third. */
        if (n > 0 && hostkey__blob_string(&p, end, &s, &len) == 0 &&
            hostkey__blob_string(&p, end, &s, &len) == 0 &&
            hostkey__blob_string(&p, end, &s, &len) == 0) {
            while (len > 0 && *s == 0) { /* mpint sign byte */
                s++;
                len--;
            }
            if (len > 0) {
                unsigned char top = *s;
                bits = (int)(len - 1) * 8;
                while (top != 0) {
                    bits++;
                    top >>= 1;
                }
            }
        }
    }
    ssh_string_free_char(b64);
    return bits;
}

static int
hostkey__describe(hostkey_t *hk)
{
    const char *t = ssh_key_type_to_char(ssh_key_type(hk->key));

    util_strlcpy(hk->type, t != NULL ? t : "unknown", sizeof hk->type);
    hk->bits = hostkey__bits(hk->key);
    return hostkey_fingerprint(hk->key, hk->fingerprint, sizeof hk->fingerprint);
}

static int
hostkey__load_one(const profile_t *p, const profile_hostkey_t *spec,
                  const char *state_dir, hostkey_t *hk, char *err, size_t errlen)
{
    util_buf_t dir = UTIL_BUF_INIT;
    util_buf_t path = UTIL_BUF_INIT;
    int rc = SSHMOCK_EHOSTKEY;

    memset(hk, 0, sizeof *hk);
    if (spec->kind == PROFILE_HOSTKEY_FILE) {
        if (ssh_pki_import_privkey_file(spec->path, NULL, NULL, NULL, &hk->key) != SSH_OK) {
            snprintf(err, errlen, "%s:%d: HostKey %s: cannot load a private key from it",
                     p->path, spec->line, spec->path);
            goto out;
        }
        util_strlcpy(hk->source, spec->path, sizeof hk->source);
        (void)hostkey_rsa_with_crt(spec->path, &hk->key);
    } else {
        if (util_buf_printf(&dir, "%s/%s", state_dir, p->name) < 0 ||
            util_buf_printf(&path, "%s/ssh_host_%s_key", dir.data, spec->spec) < 0) {
            rc = SSHMOCK_ENOMEM;
            goto out;
        }
        util_strlcpy(hk->source, path.data, sizeof hk->source);
        if (p->hostkey_rotation != 0) {
            /* HostKeyRotation: a new key each time, never kept. */
            if (ssh_pki_generate((enum ssh_keytypes_e)spec->keytype, spec->bits,
                                 &hk->key) != SSH_OK) {
                snprintf(err, errlen, "%s:%d: HostKey generate:%s: libssh cannot generate "
                         "this key", p->path, spec->line, spec->spec);
                goto out;
            }
            util_strlcpy(hk->source, "(in memory: HostKeyRotation)", sizeof hk->source);
            hk->generated = 1;
        } else if (access(path.data, F_OK) == 0) {
            if (ssh_pki_import_privkey_file(path.data, NULL, NULL, NULL, &hk->key) != SSH_OK) {
                snprintf(err, errlen, "%s:%d: HostKey generate:%s: the kept key %s cannot "
                         "be loaded (delete it to make a new one)",
                         p->path, spec->line, spec->spec, path.data);
                goto out;
            }
            /* Kept keys are PEM, unless someone put ssh-keygen's there. */
            (void)hostkey_rsa_with_crt(path.data, &hk->key);
        } else {
            if (util_mkdirs(dir.data, 0700) < 0) {
                snprintf(err, errlen, "%s:%d: HostKey generate:%s: cannot create state "
                         "directory %s: %s", p->path, spec->line, spec->spec, dir.data,
                         strerror(errno));
                rc = SSHMOCK_ESTATE;
                goto out;
            }
            if (ssh_pki_generate((enum ssh_keytypes_e)spec->keytype, spec->bits,
                                 &hk->key) != SSH_OK) {
                snprintf(err, errlen, "%s:%d: HostKey generate:%s: libssh cannot generate "
                         "this key", p->path, spec->line, spec->spec);
                goto out;
            }
            if (hostkey__save(hk->key, path.data) < 0) {
                snprintf(err, errlen, "%s:%d: HostKey generate:%s: cannot write %s: %s",
                         p->path, spec->line, spec->spec, path.data, strerror(errno));
                rc = SSHMOCK_ESTATE;
                goto out;
            }
            hk->generated = 1;
        }
    }
    if (hostkey__describe(hk) < 0) {
        snprintf(err, errlen, "%s:%d: HostKey: cannot compute the key's fingerprint",
                 p->path, spec->line);
        goto out;
    }
    rc = 0;
out:
    if (rc != 0 && hk->key != NULL) {
        ssh_key_free(hk->key);
        hk->key = NULL;
    }
    util_buf_free(&dir);
    util_buf_free(&path);
    return rc;
}

int
hostkey_load_all(const profile_t *p, const char *state_dir, hostkey_set_t *set,
                 char *err, size_t errlen)
{
    size_t i;
    int rc;

    memset(set, 0, sizeof *set);
    if (p->hostkey_none) {
        /* The server plays one whose keys are missing, but libssh will not
         * start a session without one: it gets a throwaway key the client
         * never sees, because the connection ends at the client's KEXINIT. */
        if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &set->keys[0].key) != SSH_OK) {
            snprintf(err, errlen, "%s: cannot make the placeholder key", p->path);
            return SSHMOCK_EHOSTKEY;
        }
        util_strlcpy(set->keys[0].source, "(none: HostKey none)", sizeof set->keys[0].source);
        hostkey__describe(&set->keys[0]);
        set->n = 1;
        return 0;
    }
    for (i = 0; i < p->nhostkeys && i < PROFILE_MAX_HOSTKEYS; i++) {
        rc = hostkey__load_one(p, &p->hostkeys[i], state_dir, &set->keys[set->n],
                               err, errlen);
        if (rc != 0) {
            hostkey_set_free(set);
            return rc;
        }
        set->n++;
    }
    return 0;
}

void
hostkey_set_free(hostkey_set_t *set)
{
    size_t i;

    for (i = 0; i < set->n; i++) {
        ssh_key_free(set->keys[i].key);
        set->keys[i].key = NULL;
    }
    set->n = 0;
}
