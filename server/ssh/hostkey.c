#include "ssh/hostkey.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sshmock/sshmock.h>

#include "base/util.h"
#include "profile/algo.h"

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
    /* No shared fallback such as /tmp: anyone can create a directory there
     * first and hand us their keys. hostkey_load_all() explains. */
    return strdup("");
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

/* Opens a new file next to path with a name nobody can guess, 0600, and
 * never through a symbolic link: O_EXCL fails on any name that already
 * exists, so a file or link planted there in advance is never written. */
static int
hostkey__open_tmp(const char *path, util_buf_t *tmp)
{
    unsigned char rnd[8];
    int attempt;
    int fd = -1;

    for (attempt = 0; attempt < 8 && fd < 0; attempt++) {
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
            return -1;
        }
        util_buf_reset(tmp);
        if (util_buf_printf(tmp, "%s.%02x%02x%02x%02x%02x%02x%02x%02x.tmp", path, rnd[0],
                            rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]) < 0) {
            return -1;
        }
        fd = open(tmp->data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST) {
            return -1;
        }
    }
    return fd;
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
    int saved_errno = 0;
    int created = 0;
    size_t len;

    if (ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &b64) != SSH_OK) {
        return -1;
    }
    fd = hostkey__open_tmp(path, &tmp);
    if (fd < 0) {
        goto out;
    }
    created = 1;
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
    saved_errno = errno;
    if (fd >= 0) {
        close(fd);
    }
    /* Only a file this call created is removed: a name that was taken
     * (EEXIST) belongs to someone else. */
    if (rc != 0 && created) {
        unlink(tmp.data);
    }
    util_buf_free(&tmp);
    ssh_string_free_char(b64);
    errno = saved_errno;
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

/* A private key from a file, as serve and check both read it: only a
 * regular file (a FIFO or device would block or never end), at most
 * HOSTKEY__FILE_MAX bytes, and it must hold a private key. On failure,
 * why says what is wrong with the file. */
#define HOSTKEY__FILE_MAX (1024 * 1024)

static int
hostkey__import_file(const char *path, ssh_key *key, char *why, size_t whylen)
{
    char *data = NULL;
    size_t len = 0;
    int rc = -1;

    *key = NULL;
    if (util_read_file(path, HOSTKEY__FILE_MAX, &data, &len) < 0) {
        snprintf(why, whylen, "%s", util_read_file_strerror(errno));
        return -1;
    }
    if (ssh_pki_import_privkey_base64(data, NULL, NULL, NULL, key) == SSH_OK) {
        rc = 0;
    } else if (strncmp(data, "ssh-", 4) == 0 || strncmp(data, "ecdsa-", 6) == 0 ||
               strncmp(data, "sk-", 3) == 0 || strstr(data, "PUBLIC KEY-----") != NULL) {
        snprintf(why, whylen, "it holds a public key; HostKey names the private key "
                 "(the file without .pub)");
    } else {
        snprintf(why, whylen, "no private key in it that libssh can load (not a key, "
                 "an unsupported type, or protected by a passphrase)");
    }
    explicit_bzero(data, len);
    free(data);
    if (rc != 0 && *key != NULL) {
        ssh_key_free(*key);
        *key = NULL;
    }
    return rc;
}

/* A profile's name becomes a directory under the state directory, so it
 * must be one harmless path component: "..conf" or "...conf" would
 * otherwise put keys in, or above, the state directory itself. */
static int
hostkey__name_ok(const char *name)
{
    return name != NULL && name[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL;
}

static int
hostkey__name_error(const profile_t *p, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: the profile's name '%s' (its file name without .conf) "
             "cannot name a directory for its generated host keys: it must not be "
             "empty, start with '.' or hold '/'; rename the file", p->path, p->name);
    return SSHMOCK_EPROFILE;
}

/* OpenSSH's rule for the directories its keys live in: owned by us (or
 * root) and writable by nobody else, or anyone could plant a key there or
 * swap ours. Returns 0, or -1 with the reason and the fix in why. */
static int
hostkey__dir_ok(const char *dir, char *why, size_t whylen)
{
    struct stat st;

    if (stat(dir, &st) != 0) {
        snprintf(why, whylen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, whylen, "%s is not a directory", dir);
        return -1;
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        snprintf(why, whylen, "%s belongs to uid %u, not to you (uid %u): its keys could "
                 "be anyone's; use a directory of your own (--state-dir DIR or "
                 "SSHMOCK_STATE_DIR)", dir, (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        snprintf(why, whylen, "%s is writable by %s (mode %04o): anyone could plant a "
                 "host key in it; run chmod go-w %s, or use another directory "
                 "(--state-dir DIR or SSHMOCK_STATE_DIR)", dir,
                 (st.st_mode & S_IWOTH) != 0 ? "everyone" : "its group",
                 (unsigned)(st.st_mode & 07777), dir);
        return -1;
    }
    return 0;
}

/* A kept key must be the regular file we wrote: ours, 0600. Returns 1 when
 * it exists and may be used, 0 when there is none, -1 (why filled) when
 * something else is there. */
static int
hostkey__kept_ok(const char *path, char *why, size_t whylen)
{
    struct stat st;

    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) {
            return 0;
        }
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "%s is %s, not the key file sshmock writes; remove it to "
                 "get a new key", path, S_ISLNK(st.st_mode) ? "a symbolic link"
                 : "not a regular file");
        return -1;
    }
    if (st.st_uid != geteuid()) {
        snprintf(why, whylen, "%s belongs to uid %u, not to you (uid %u); remove it to "
                 "get a new key", path, (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(why, whylen, "permissions %04o for %s are too open: a private key must "
                 "be readable by you alone; run chmod 600 %s", (unsigned)(st.st_mode & 07777),
                 path, path);
        return -1;
    }
    return 1;
}

/* "FILE:LINE: HostKey generate:SPEC", or "FILE: HostKey generate:SPEC (a
 * default key)" for the keys a profile without HostKey lines gets. */
static const char *
hostkey__where(const profile_t *p, const profile_hostkey_t *spec, char *buf,
               size_t len)
{
    if (spec->line > 0) {
        snprintf(buf, len, "%s:%d: HostKey generate:%s", p->path, spec->line, spec->spec);
    } else {
        snprintf(buf, len, "%s: HostKey generate:%s (a default key)", p->path, spec->spec);
    }
    return buf;
}

/* <state>/<profile>/ssh_host_<spec>_key: loaded when kept, else generated
 * and kept. */
static int
hostkey__load_kept(const profile_t *p, const profile_hostkey_t *spec,
                   const char *state_dir, hostkey_t *hk, char *err, size_t errlen)
{
    util_buf_t dir = UTIL_BUF_INIT;
    util_buf_t path = UTIL_BUF_INIT;
    char why[768];
    char where[600];
    int kept;
    int rc = SSHMOCK_ESTATE;

    if (state_dir == NULL || state_dir[0] == '\0') {
        snprintf(err, errlen, "%s: no state directory to keep the key in: HOME is not set "
                 "(nor XDG_STATE_HOME); give one with --state-dir DIR or SSHMOCK_STATE_DIR",
                 hostkey__where(p, spec, where, sizeof where));
        return SSHMOCK_ESTATE;
    }
    if (!hostkey__name_ok(p->name)) {
        return hostkey__name_error(p, err, errlen);
    }
    if (util_buf_printf(&dir, "%s/%s", state_dir, p->name) < 0 ||
        util_buf_printf(&path, "%s/ssh_host_%s_key", dir.data, spec->spec) < 0) {
        rc = SSHMOCK_ENOMEM;
        goto out;
    }
    util_strlcpy(hk->source, path.data, sizeof hk->source);
    /* The state directory first: a subdirectory made inside one that is
     * not safe would already be in someone else's hands. */
    why[0] = '\0';
    if (util_mkdirs(state_dir, 0700) < 0) {
        snprintf(why, sizeof why, "%s cannot be created: %s", state_dir, strerror(errno));
    } else if (hostkey__dir_ok(state_dir, why, sizeof why) == 0 &&
               mkdir(dir.data, 0700) < 0 && errno != EEXIST) {
        snprintf(why, sizeof why, "%s cannot be created: %s", dir.data, strerror(errno));
    } else if (why[0] == '\0') {
        hostkey__dir_ok(dir.data, why, sizeof why);
    }
    if (why[0] != '\0') {
        snprintf(err, errlen, "%s: state directory %s", hostkey__where(p, spec, where,
                 sizeof where), why);
        goto out;
    }
    kept = hostkey__kept_ok(path.data, why, sizeof why);
    if (kept < 0) {
        snprintf(err, errlen, "%s: kept key %s", hostkey__where(p, spec, where, sizeof where),
                 why);
        goto out;
    }
    if (kept > 0) {
        if (hostkey__import_file(path.data, &hk->key, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s: the kept key %s cannot be loaded: %s (delete it "
                     "to make a new one)",
                     hostkey__where(p, spec, where, sizeof where), path.data, why);
            rc = SSHMOCK_EHOSTKEY;
            goto out;
        }
        /* Kept keys are PEM, unless someone put ssh-keygen's there. */
        (void)hostkey_rsa_with_crt(path.data, &hk->key);
        rc = 0;
        goto out;
    }
    if (ssh_pki_generate((enum ssh_keytypes_e)spec->keytype, spec->bits,
                         &hk->key) != SSH_OK) {
        snprintf(err, errlen, "%s: libssh cannot generate this key",
                 hostkey__where(p, spec, where, sizeof where));
        rc = SSHMOCK_EHOSTKEY;
        goto out;
    }
    if (hostkey__save(hk->key, path.data) < 0) {
        int e = errno;

        snprintf(err, errlen, "%s: cannot write %s: %s",
                 hostkey__where(p, spec, where, sizeof where), path.data, strerror(e));
        goto out;
    }
    hk->generated = 1;
    rc = 0;
out:
    util_buf_free(&dir);
    util_buf_free(&path);
    return rc;
}

static int
hostkey__load_one(const profile_t *p, const profile_hostkey_t *spec,
                  const char *state_dir, hostkey_t *hk, char *err, size_t errlen)
{
    char why[512];
    int rc = SSHMOCK_EHOSTKEY;

    memset(hk, 0, sizeof *hk);
    if (spec->kind == PROFILE_HOSTKEY_FILE) {
        if (hostkey__import_file(spec->path, &hk->key, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s:%d: HostKey %s: %s", p->path, spec->line, spec->path,
                     why);
            goto out;
        }
        util_strlcpy(hk->source, spec->path, sizeof hk->source);
        /* A key in OpenSSH's own format comes out of libssh without its
         * CRT values: load it again in the form that signs fastest. */
        (void)hostkey_rsa_with_crt(spec->path, &hk->key);
    } else if (p->hostkey_rotation != 0) {
        /* HostKeyRotation: a new key each time, never kept. */
        if (ssh_pki_generate((enum ssh_keytypes_e)spec->keytype, spec->bits,
                             &hk->key) != SSH_OK) {
            snprintf(err, errlen, "%s:%d: HostKey generate:%s: libssh cannot generate "
                     "this key", p->path, spec->line, spec->spec);
            goto out;
        }
        util_strlcpy(hk->source, "(in memory: HostKeyRotation)", sizeof hk->source);
        hk->generated = 1;
    } else {
        rc = hostkey__load_kept(p, spec, state_dir, hk, err, errlen);
        if (rc != 0) {
            goto out;
        }
        rc = SSHMOCK_EHOSTKEY;
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
    return rc;
}

int
hostkey_check_all(const profile_t *p, char *err, size_t errlen)
{
    size_t i;

    for (i = 0; i < p->nhostkeys && i < PROFILE_MAX_HOSTKEYS; i++) {
        const profile_hostkey_t *spec = &p->hostkeys[i];
        hostkey_t hk;
        int rc;

        if (spec->kind == PROFILE_HOSTKEY_FILE) {
            /* Exactly what serve does with it, then thrown away. */
            rc = hostkey__load_one(p, spec, "", &hk, err, errlen);
            if (rc != 0) {
                return rc;
            }
            ssh_key_free(hk.key);
        } else if (p->hostkey_rotation == 0 && !hostkey__name_ok(p->name)) {
            return hostkey__name_error(p, err, errlen);
        }
    }
    return 0;
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
        const profile_hostkey_t *spec = &p->hostkeys[i];

        /* A libssh built without DSA (the system one) cannot make a DSA
         * key: ssh-dss is then offer-only (a client that picks it is told
         * so), and the key it would have been made for is left out. */
        if (spec->kind != PROFILE_HOSTKEY_FILE && spec->keytype == SSH_KEYTYPE_DSS &&
            !algo_is_supported(ALGO_HOSTKEY, "ssh-dss")) {
            continue;
        }
        rc = hostkey__load_one(p, spec, state_dir, &set->keys[set->n], err, errlen);
        if (rc != 0) {
            hostkey_set_free(set);
            return rc;
        }
        set->n++;
    }
    if (set->n == 0) {
        /* Only keys this libssh cannot run: libssh still needs one to start
         * a session; the client never sees it (its offer is offer-only). */
        if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &set->keys[0].key) != SSH_OK) {
            snprintf(err, errlen, "%s: cannot make the placeholder key", p->path);
            return SSHMOCK_EHOSTKEY;
        }
        util_strlcpy(set->keys[0].source, "(placeholder: no key this libssh can run)",
                     sizeof set->keys[0].source);
        hostkey__describe(&set->keys[0]);
        set->n = 1;
    }
    return 0;
}

int
hostkey_order_algorithms(profile_t *p, const hostkey_set_t *keys)
{
    static const char *const rsa[] = { "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa" };
    util_buf_t b = UTIL_BUF_INIT;
    size_t i;

    if (p->hostkey_algorithms_exact || p->hostkey_none || p->hostkey_algorithms == NULL ||
        keys->n == 0) {
        return 0;
    }
    for (i = 0; i < keys->n; i++) {
        const char *one[1] = { keys->keys[i].type };
        const char *const *names = one;
        size_t n = 1;
        size_t j;

        if (strcmp(keys->keys[i].type, "ssh-rsa") == 0) {
            names = rsa;
            n = UTIL_ARRAY_SIZE(rsa);
        }
        for (j = 0; j < n; j++) {
            size_t len = strlen(names[j]);
            if (!util_list_has(p->hostkey_algorithms, names[j], len) ||
                (b.data != NULL && util_list_has(b.data, names[j], len))) {
                continue; /* not allowed, or a second key of a type */
            }
            if ((b.len > 0 && util_buf_puts(&b, ",") < 0) || util_buf_puts(&b, names[j]) < 0) {
                util_buf_free(&b);
                return SSHMOCK_ENOMEM;
            }
        }
    }
    if (b.data == NULL) {
        return 0; /* no key is allowed: the offer stays what it was (it fails as written) */
    }
    free(p->hostkey_algorithms);
    p->hostkey_algorithms = b.data;
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
