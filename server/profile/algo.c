/*
 * algo: algorithm lists as sshd_config writes them (see algo.h).
 *
 * What the linked libssh implements is asked of libssh once, by offering
 * each known name alone to a throw-away ssh_bind: libssh drops the names it
 * does not know from a list and refuses a list it leaves empty, so a single
 * name is accepted exactly when libssh implements it. The answers live in
 * fixed static buffers, so nothing is allocated and nothing has to be freed
 * at exit.
 */
#include "profile/algo.h"

#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libssh/libssh.h>
#include <libssh/server.h>

#include "base/util.h"

/* Comfortably above the longest candidate list (the MACs, ~400 bytes). */
#define ALGO__LIST_MAX 1024

typedef struct algo__kind_s {
    const char *keyword;  /* the sshd_config keyword */
    const char *noun;     /* for messages: "unsupported MAC 'x'" */
    enum ssh_bind_options_e option;
    /* OpenSSH 9.2 sshd's defaults, without what libssh 0.10 never had
     * (sntrup761, umac, certificates and security keys). Filtered again by
     * the probe, so a libssh built without some of them stays truthful. */
    const char *defaults;
    /* Further names sshmock knows of: older or rarer algorithms that a
     * profile may ask for to play an old server. */
    const char *extra;
} algo__kind_t;

static const algo__kind_t algo__kinds[ALGO__COUNT] = {
    [ALGO_KEX] = {
        "KexAlgorithms", "key exchange algorithm", SSH_BIND_OPTIONS_KEY_EXCHANGE,
        "curve25519-sha256,curve25519-sha256@libssh.org,"
        "ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
        "diffie-hellman-group-exchange-sha256,"
        "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
        "diffie-hellman-group14-sha256",
        "diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1,"
        "diffie-hellman-group1-sha1,sntrup761x25519-sha512@openssh.com,"
        /* The same method without the vendor domain: Debian 12's sshd
         * 9.2p1 (deb12u10) offers it first (`sshd -T`, and on the wire). */
        "sntrup761x25519-sha512,"
        "mlkem768x25519-sha256,diffie-hellman-group15-sha512,"
        "diffie-hellman-group17-sha512,curve448-sha512",
    },
    [ALGO_CIPHER] = {
        "Ciphers", "cipher", SSH_BIND_OPTIONS_CIPHERS_C_S,
        "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,"
        "aes128-gcm@openssh.com,aes256-gcm@openssh.com",
        "aes128-cbc,aes192-cbc,aes256-cbc,3des-cbc,blowfish-cbc,cast128-cbc,"
        "arcfour,arcfour128,arcfour256,rijndael-cbc@lysator.liu.se,"
        "3des-ctr,blowfish-ctr,twofish-cbc,twofish128-cbc,twofish256-cbc,"
        "serpent128-cbc,serpent256-cbc",
    },
    [ALGO_MAC] = {
        "MACs", "MAC", SSH_BIND_OPTIONS_HMAC_C_S,
        "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
        "hmac-sha1-etm@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1",
        "hmac-md5,hmac-md5-96,hmac-sha1-96,umac-64@openssh.com,"
        "umac-128@openssh.com,umac-64-etm@openssh.com,umac-128-etm@openssh.com,"
        "hmac-md5-etm@openssh.com,hmac-md5-96-etm@openssh.com,"
        "hmac-sha1-96-etm@openssh.com,hmac-ripemd160,"
        "hmac-ripemd160@openssh.com,hmac-ripemd160-etm@openssh.com,"
        "hmac-sha2-256-96,hmac-sha2-512-96",
    },
    [ALGO_HOSTKEY] = {
        "HostKeyAlgorithms", "host key algorithm",
        SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS,
        "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,"
        "ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256",
        "ssh-rsa,ssh-dss,x509v3-sign-rsa,x509v3-sign-dss,ssh-ed448",
    },
    [ALGO_PUBKEY] = {
        "PubkeyAcceptedAlgorithms", "public key algorithm",
        SSH_BIND_OPTIONS_PUBKEY_ACCEPTED_KEY_TYPES,
        "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,"
        "ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256",
        "ssh-rsa,ssh-dss",
    },
};

typedef struct algo__probe_s {
    char supported[ALGO__LIST_MAX];  /* defaults first, then extras */
    char defaults[ALGO__LIST_MAX];   /* the defaults libssh accepts */
} algo__probe_t;

static pthread_once_t algo__once = PTHREAD_ONCE_INIT;
static algo__probe_t algo__probes[ALGO__COUNT];
static char algo__libssh_version[64];

/* Appends name to a fixed list; the lists are sized for the known names, so
 * running out of room would be a programming error, and the name is then
 * left out (reported as unsupported) rather than written past the end. */
static void
algo__fixed_append(char *list, const char *name, size_t len)
{
    size_t used = strlen(list);
    size_t need = used + (used > 0 ? 1 : 0) + len + 1;

    if (need > ALGO__LIST_MAX) {
        return;
    }
    if (used > 0) {
        list[used++] = ',';
    }
    memcpy(list + used, name, len);
    list[used + len] = '\0';
}

/* Offers each name of `names` alone to the bind and keeps the accepted. */
static void
algo__probe_names(ssh_bind bind, algo_kind_t kind, const char *names,
                  int is_default)
{
    const char *p = names;
    const char *elem;
    size_t len;
    char one[128];

    while ((elem = util_list_next(&p, &len)) != NULL) {
        if (len > 0 && len < sizeof one) {
            memcpy(one, elem, len);
            one[len] = '\0';
            if (bind != NULL &&
                ssh_bind_options_set(bind, algo__kinds[kind].option, one) == 0) {
                algo__fixed_append(algo__probes[kind].supported, one, len);
                if (is_default) {
                    algo__fixed_append(algo__probes[kind].defaults, one, len);
                }
            }
        }
    }
}

static void
algo__init(void)
{
    ssh_bind bind = ssh_bind_new();
    const char *v = ssh_version(0);
    size_t i;

    /* "0.10.6/openssl/zlib": the messages want the version number only. */
    if (v == NULL) {
        v = "?";
    }
    util_strlcpy(algo__libssh_version, v, sizeof algo__libssh_version);
    algo__libssh_version[strcspn(algo__libssh_version, "/")] = '\0';

    /* Without a bind nothing is known to work; every profile naming an
     * algorithm then fails with a message listing nothing, which is at
     * least not a lie. */
    for (i = 0; i < ALGO__COUNT; i++) {
        algo__probe_names(bind, (algo_kind_t)i, algo__kinds[i].defaults, 1);
        algo__probe_names(bind, (algo_kind_t)i, algo__kinds[i].extra, 0);
    }
    if (bind != NULL) {
        ssh_bind_free(bind);
    }
}

static int
algo__kind_valid(algo_kind_t kind)
{
    return (int)kind >= 0 && kind < ALGO__COUNT;
}

const char *
algo_keyword(algo_kind_t kind)
{
    return algo__kind_valid(kind) ? algo__kinds[kind].keyword : "?";
}

const char *
algo_default(algo_kind_t kind)
{
    if (!algo__kind_valid(kind)) {
        return "";
    }
    pthread_once(&algo__once, algo__init);
    return algo__probes[kind].defaults;
}

const char *
algo_supported_list(algo_kind_t kind)
{
    if (!algo__kind_valid(kind)) {
        return "";
    }
    pthread_once(&algo__once, algo__init);
    return algo__probes[kind].supported;
}

int
algo_list_contains(const char *list, const char *name)
{
    if (list == NULL || name == NULL) {
        return 0;
    }
    return util_list_has(list, name, strlen(name));
}

int
algo_is_supported(algo_kind_t kind, const char *name)
{
    return algo_list_contains(algo_supported_list(kind), name);
}

int
algo_engine_plays_moduli(void)
{
    /* sshmock's libssh patches (050-052) come as one set, and 050's
     * hmac-sha1-96 is the one a probe can see; the system libssh 0.10.6
     * has none of them. */
    return algo_is_supported(ALGO_MAC, "hmac-sha1-96");
}

static int
algo__is_known(algo_kind_t kind, const char *name)
{
    return algo_list_contains(algo__kinds[kind].defaults, name) ||
           algo_list_contains(algo__kinds[kind].extra, name);
}

int
algo_is_offerable(algo_kind_t kind)
{
    /* The accepted public key algorithms are never offered on the wire:
     * a name there that libssh cannot verify could only be refused. */
    return algo__kind_valid(kind) && kind != ALGO_PUBKEY;
}

/* RFC 4251 6: a name outside the IETF's is "name@domainname", printable
 * US-ASCII without commas or spaces, at most 64 characters. Such a name is
 * played as offered even though sshmock has never heard of it (a vendor's
 * cipher, say); a plain name that sshmock does not know is more likely a
 * typo and is refused. */
static int
algo__is_local_name(const char *name)
{
    const char *at = strchr(name, '@');
    size_t i;

    if (at == NULL || at == name || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
        strlen(name) > 64) {
        return 0;
    }
    for (i = 0; name[i] != '\0'; i++) {
        if (name[i] <= ' ' || name[i] >= 0x7f || name[i] == ',') {
            return 0;
        }
    }
    return 1;
}

/* Appends name unless the list has it already (lists never repeat a name:
 * sshd removes duplicates too, and a repeated name would only confuse a
 * reader of the KEXINIT). */
static int
algo__buf_add(util_buf_t *b, const char *name, size_t len)
{
    if (b->data != NULL && util_list_has(b->data, name, len)) {
        return 0;
    }
    if (b->len > 0 && util_buf_append(b, ",", 1) < 0) {
        return -1;
    }
    return util_buf_append(b, name, len);
}

static int
algo__buf_add_list(util_buf_t *b, const char *list)
{
    const char *p = list;
    const char *elem;
    size_t len;

    while ((elem = util_list_next(&p, &len)) != NULL) {
        if (len > 0 && algo__buf_add(b, elem, len) < 0) {
            return -1;
        }
    }
    return 0;
}

/* True when some pattern of the comma-separated `patterns` matches name. */
static int
algo__patterns_match(const char *patterns, const char *name)
{
    const char *p = patterns;
    const char *elem;
    size_t len;
    char pat[256];

    while ((elem = util_list_next(&p, &len)) != NULL) {
        if (len > 0 && len < sizeof pat) {
            memcpy(pat, elem, len);
            pat[len] = '\0';
            if (fnmatch(pat, name, 0) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

/* The names of a '-' value: the default minus every name a pattern hits. */
static int
algo__remove(algo_kind_t kind, const char *patterns, util_buf_t *res)
{
    const char *p = algo_default(kind);
    const char *elem;
    size_t len;
    char name[128];

    while ((elem = util_list_next(&p, &len)) != NULL) {
        if (len > 0 && len < sizeof name) {
            memcpy(name, elem, len);
            name[len] = '\0';
            if (!algo__patterns_match(patterns, name) &&
                algo__buf_add(res, name, len) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* Expands the names of a plain, '+' or '^' value into `named`: each name
 * must be known and supported; a name with wildcards stands for every
 * supported name it matches (sshd allows patterns there too). */
static int
algo__expand(algo_kind_t kind, const char *list, util_buf_t *named,
             char *err, size_t errlen)
{
    const char *supported = algo_supported_list(kind);
    const char *noun = algo__kinds[kind].noun;
    const char *p = list;
    const char *elem;
    size_t len;
    char name[256];

    while ((elem = util_list_next(&p, &len)) != NULL) {
        if (len >= sizeof name) {
            snprintf(err, errlen, "%s name too long: '%.40s...'", noun, elem);
            return -1;
        }
        memcpy(name, elem, len);
        name[len] = '\0';
        if (strpbrk(name, "*?") != NULL) {
            const char *s = supported;
            const char *cand_at;
            size_t slen;
            int hits = 0;

            while ((cand_at = util_list_next(&s, &slen)) != NULL) {
                char cand[128];

                if (slen > 0 && slen < sizeof cand) {
                    memcpy(cand, cand_at, slen);
                    cand[slen] = '\0';
                    if (fnmatch(name, cand, 0) == 0) {
                        hits++;
                        if (algo__buf_add(named, cand, slen) < 0) {
                            goto nomem;
                        }
                    }
                }
            }
            if (hits == 0) {
                snprintf(err, errlen,
                         "no supported %s matches '%s': the linked libssh %s "
                         "offers %s", noun, name, algo__libssh_version,
                         supported);
                return -1;
            }
            continue;
        }
        if (!algo__is_known(kind, name) &&
            !(algo_is_offerable(kind) && algo__is_local_name(name))) {
            snprintf(err, errlen,
                     "unknown %s '%s': the linked libssh %s offers %s (a vendor's "
                     "name must have the form name@domain)",
                     noun, name, algo__libssh_version, supported);
            return -1;
        }
        if (!algo_list_contains(supported, name) && !algo_is_offerable(kind)) {
            snprintf(err, errlen,
                     "unsupported %s '%s': the linked libssh %s offers %s",
                     noun, name, algo__libssh_version, supported);
            return -1;
        }
        if (algo__buf_add(named, name, len) < 0) {
            goto nomem;
        }
    }
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    return -1;
}

int
algo_resolve(algo_kind_t kind, const char *value, char **out,
             char *err, size_t errlen)
{
    util_buf_t named = UTIL_BUF_INIT;
    util_buf_t res = UTIL_BUF_INIT;
    const char *list = value;
    char modifier = '\0';
    char dummy[1];
    int rc = -1;

    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!algo__kind_valid(kind) || out == NULL) {
        snprintf(err, errlen, "invalid argument");
        return -1;
    }
    pthread_once(&algo__once, algo__init);
    if (value == NULL) {
        list = "";
        modifier = '+';  /* nothing said: the default */
    } else if (value[0] == '+' || value[0] == '-' || value[0] == '^') {
        modifier = value[0];
        list = value + 1;
    }

    /* ",," or a trailing comma is a typo, not an intent; say so instead of
     * silently dropping the empty name. */
    if (list[0] == ',' || strstr(list, ",,") != NULL ||
        (list[0] != '\0' && list[strlen(list) - 1] == ',')) {
        snprintf(err, errlen, "%s: empty name in list '%s'",
                 algo__kinds[kind].keyword, value);
        goto out;
    }

    if (modifier == '-') {
        if (algo__remove(kind, list, &res) < 0) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    } else {
        if (algo__expand(kind, list, &named, err, errlen) < 0) {
            goto out;
        }
        if (modifier == '^' && named.data != NULL &&
            algo__buf_add_list(&res, named.data) < 0) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        if ((modifier == '+' || modifier == '^') &&
            algo__buf_add_list(&res, algo_default(kind)) < 0) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        if (modifier != '^' && named.data != NULL &&
            algo__buf_add_list(&res, named.data) < 0) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    }
    if (res.len == 0) {
        snprintf(err, errlen, "%s leaves no algorithm",
                 algo__kinds[kind].keyword);
        goto out;
    }
    *out = res.data;
    res.data = NULL;
    rc = 0;
out:
    util_buf_free(&named);
    util_buf_free(&res);
    return rc;
}

int
algo_offer_only(algo_kind_t kind, const char *list, char **out)
{
    util_buf_t b = UTIL_BUF_INIT;
    const char *p = list;
    const char *elem;
    size_t len;

    *out = NULL;
    if (!algo__kind_valid(kind) || list == NULL) {
        return 0;
    }
    while ((elem = util_list_next(&p, &len)) != NULL) {
        if (len > 0 && !util_list_has(algo_supported_list(kind), elem, len) &&
            algo__buf_add(&b, elem, len) < 0) {
            util_buf_free(&b);
            return -1;
        }
    }
    *out = b.data;
    return 0;
}

int
algo_servable(algo_kind_t kind, const char *list, char **out)
{
    util_buf_t b = UTIL_BUF_INIT;
    const char *p = list;
    const char *elem;
    size_t len;

    *out = NULL;
    if (!algo__kind_valid(kind)) {
        return -1;
    }
    while (list != NULL && (elem = util_list_next(&p, &len)) != NULL) {
        if (len > 0 && util_list_has(algo_supported_list(kind), elem, len) &&
            algo__buf_add(&b, elem, len) < 0) {
            util_buf_free(&b);
            return -1;
        }
    }
    if (b.len == 0) {
        /* Nothing of the list can run. libssh still needs something to
         * configure; the wire never lets libssh's offer out then, since
         * every negotiation against the exact list either fails or picks
         * an offer-only name (wire.c). */
        util_buf_free(&b);
        *out = strdup(algo_default(kind));
        return *out != NULL ? 0 : -1;
    }
    *out = b.data;
    return 0;
}
