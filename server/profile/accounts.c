/*
 * accounts: Account, AccountKey and AccountKeyFile. Keys are checked when
 * their line is read and attached to their account after the last line,
 * because an AccountKey may come before its Account.
 */
#include "profile/internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libssh/libssh.h>
#include <openssl/evp.h>

#define PROFILE__KEYFILE_MAX (1024 * 1024)

int
profile__set_account(profile__parser_t *ps, const profile__keyword_t *kw,
                     char **argv, int argc, profile__full_t *to)
{
    profile_t *p = &to->pub;
    profile_account_t a;
    int rc;

    memset(&a, 0, sizeof a);
    rc = profile__unescape_arg(ps, kw, argv[0], &a.name);
    if (rc < 0) {
        return rc;
    }
    if (a.name[0] == '\0') {
        rc = profile__fail(ps, ps->line, "%s: empty account name", kw->name);
    } else if (profile_account_find(p, a.name) != NULL) {
        rc = profile__fail(ps, ps->line, "%s: '%s' is defined twice",
                           kw->name, a.name);
    } else if (argc > 1) {
        rc = profile__unescape_arg(ps, kw, argv[1], &a.password);
    }
    if (rc == 0 && PROFILE__APPEND(p->accounts, p->naccounts, &a) < 0) {
        rc = profile__nomem(ps);
    }
    if (rc < 0) {
        profile__account_clear(&a);
    }
    return rc;
}

/*
 * Checks one authorized key: libssh must know the type and parse the data,
 * and the data must say the same type. libssh parses the data as the type
 * it is told and skips the name inside, so the last check is ours.
 */
static int
profile__key_check(const char *type, const char *b64, char *why, size_t whylen)
{
    enum ssh_keytypes_e kt = ssh_key_type_from_name(type);
    unsigned char prefix[72];
    size_t chunk = strlen(b64);
    ssh_key key = NULL;
    uint32_t namelen;
    int n;

    if (kt == SSH_KEYTYPE_UNKNOWN) {
        snprintf(why, whylen, "unknown key type '%s'", type);
        return -1;
    }
    if (ssh_pki_import_pubkey_base64(b64, kt, &key) != 0 || key == NULL) {
        snprintf(why, whylen, "the key data is not a valid %s public key", type);
        return -1;
    }
    ssh_key_free(key);

    /* 96 base64 characters hold 72 bytes: the length and the longest key
     * type name ("sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", 43). */
    if (chunk > 96) {
        chunk = 96;
    }
    chunk -= chunk % 4;
    n = EVP_DecodeBlock(prefix, (const unsigned char *)b64, (int)chunk);
    if (n < 4) {
        snprintf(why, whylen, "the key data is not a valid %s public key", type);
        return -1;
    }
    namelen = ((uint32_t)prefix[0] << 24) | ((uint32_t)prefix[1] << 16) |
              ((uint32_t)prefix[2] << 8) | (uint32_t)prefix[3];
    if (namelen != strlen(type) || namelen > (uint32_t)(n - 4) ||
        memcmp(prefix + 4, type, namelen) != 0) {
        snprintf(why, whylen, "the key data is not of type %s", type);
        return -1;
    }
    return 0;
}

/* Validates "TYPE BASE64 [COMMENT...]" and queues it for the account. */
static int
profile__queue_key(profile__parser_t *ps, const char *keyword, const char *account,
                   char **words, int nwords, const char *where)
{
    profile__pending_key_t pk;
    util_buf_t b = UTIL_BUF_INIT;
    char why[160];
    int i;

    memset(&pk, 0, sizeof pk);
    if (profile__key_check(words[0], words[1], why, sizeof why) < 0) {
        return profile__fail(ps, ps->line, "%s: %s%s", keyword, where, why);
    }
    /* The same decoding as the name given to Account, so they compare. */
    i = profile__unescape(account, 0, &pk.account, NULL, why, sizeof why);
    if (i < 0) {
        return i == -2 ? profile__nomem(ps)
                       : profile__fail(ps, ps->line, "%s: %s", keyword, why);
    }
    for (i = 0; i < nwords; i++) {
        if ((i > 0 && util_buf_puts(&b, " ") < 0) || util_buf_puts(&b, words[i]) < 0) {
            util_buf_free(&b);
            free(pk.account);
            return profile__nomem(ps);
        }
    }
    pk.key = b.data;
    pk.line = ps->line;
    pk.keyword = keyword;
    if (PROFILE__APPEND(ps->keys, ps->nkeys, &pk) < 0) {
        free(pk.key);
        free(pk.account);
        return profile__nomem(ps);
    }
    return 0;
}

int
profile__set_account_key(profile__parser_t *ps, const profile__keyword_t *kw,
                         char **argv, int argc, profile__full_t *to)
{
    return profile__queue_key(ps, kw->name, argv[0], argv + 1, argc - 1, "");
}

/* One line of an authorized_keys file (its number in lineno). */
static int
profile__key_file_line(profile__parser_t *ps, const profile__keyword_t *kw,
                       char **argv, char *line, int lineno, int *nkeys)
{
    profile__args_t words = { NULL, 0 };
    char where[300];
    int rc = profile__split(line, &words);

    snprintf(where, sizeof where, "%s:%d: ", argv[1], lineno);
    if (rc == -2) {
        rc = profile__nomem(ps);
    } else if (rc == -1) {
        rc = profile__fail(ps, ps->line, "%s: %sunterminated quote", kw->name, where);
    } else if (words.n == 0) {
        rc = 0;
    } else if (words.n < 2) {
        rc = profile__fail(ps, ps->line, "%s: %sexpected KEYTYPE BASE64 [COMMENT]",
                           kw->name, where);
    } else if (ssh_key_type_from_name(words.v[0]) == SSH_KEYTYPE_UNKNOWN) {
        rc = profile__fail(ps, ps->line,
                           "%s: %sunknown key type '%s' (authorized_keys "
                           "options are not supported)", kw->name, where, words.v[0]);
    } else {
        rc = profile__queue_key(ps, kw->name, argv[0], words.v, (int)words.n, where);
        *nkeys += rc == 0;
    }
    profile__args_free(&words);
    return rc;
}

/* An authorized_keys file: one key per line, '#' comments, no options. */
int
profile__set_account_key_file(profile__parser_t *ps, const profile__keyword_t *kw,
                              char **argv, int argc, profile__full_t *to)
{
    char *path = util_path_join(to->pub.dir, argv[1]);
    char *data = NULL;
    char *line = NULL;
    int lineno = 0;
    int nkeys = 0;
    int rc = 0;

    if (path == NULL) {
        return profile__nomem(ps);
    }
    errno = 0;
    if (util_read_file(path, PROFILE__KEYFILE_MAX, &data, NULL) < 0) {
        rc = profile__fail(ps, ps->line, "%s: cannot read '%s': %s", kw->name,
                           path, util_read_file_strerror(errno));
        goto out;
    }
    for (line = data; rc == 0 && line != NULL && *line != '\0'; ) {
        char *next = strchr(line, '\n');
        size_t len;

        if (next != NULL) {
            *next++ = '\0';
        }
        lineno++;
        len = strlen(line);
        if (len > 0 && line[len - 1] == '\r') {
            line[len - 1] = '\0';
        }
        rc = profile__key_file_line(ps, kw, argv, line, lineno, &nkeys);
        line = next;
    }
    if (rc == 0 && nkeys == 0) {
        rc = profile__fail(ps, ps->line, "%s: '%s' holds no key", kw->name, path);
    }
out:
    free(data);
    free(path);
    return rc;
}

int
profile__attach_keys(profile__parser_t *ps)
{
    profile_t *p = &ps->full->pub;
    size_t i;

    for (i = 0; i < ps->nkeys; i++) {
        profile__pending_key_t *pk = &ps->keys[i];
        profile_account_t *a = (profile_account_t *)profile_account_find(p, pk->account);

        if (a == NULL) {
            return profile__fail(ps, pk->line, "%s: no Account '%s' is defined",
                                 pk->keyword, pk->account);
        }
        if (PROFILE__APPEND(a->authorized_keys, a->nauthorized_keys, &pk->key) < 0) {
            return profile__nomem(ps);
        }
        pk->key = NULL;
    }
    return 0;
}

/* "type base64 comment" -> "type SHA256:... comment", as ssh-keygen -l. */
static void
profile__print_key(FILE *f, const char *account, const char *key)
{
    size_t tlen = strcspn(key, " ");
    const char *b64 = key + tlen + (key[tlen] == ' ' ? 1 : 0);
    size_t blen = strcspn(b64, " ");
    const char *comment = b64 + blen + (b64[blen] == ' ' ? 1 : 0);
    char *type = util_strndup(key, tlen);
    char *data = util_strndup(b64, blen);
    ssh_key k = NULL;
    unsigned char *hash = NULL;
    size_t hlen = 0;
    char *fp = NULL;

    if (type != NULL && data != NULL &&
        ssh_pki_import_pubkey_base64(data, ssh_key_type_from_name(type), &k) == 0 &&
        ssh_get_publickey_hash(k, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == 0) {
        fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
    }
    fputs("accountkey ", f);
    profile__print_word(f, account);
    fprintf(f, " %.*s %s", (int)tlen, key, fp != NULL ? fp : "?");
    if (*comment != '\0') {
        fprintf(f, " %s", comment);
    }
    fputc('\n', f);
    if (fp != NULL) {
        ssh_string_free_char(fp);
    }
    if (hash != NULL) {
        ssh_clean_pubkey_hash(&hash);
    }
    ssh_key_free(k);
    free(type);
    free(data);
}

/* Each account, followed by the keys that ended up with it. */
void
profile__print_accounts(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                        const char *lname)
{
    size_t i;
    size_t j;

    for (i = 0; i < p->naccounts; i++) {
        const profile_account_t *a = &p->accounts[i];

        fprintf(f, "%s ", lname);
        profile__print_word(f, a->name);
        fprintf(f, " %s\n", a->password != NULL ? "<set>" : "<none>");
        for (j = 0; j < a->nauthorized_keys; j++) {
            profile__print_key(f, a->name, a->authorized_keys[j]);
        }
    }
}
