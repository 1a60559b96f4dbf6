/*
 * import: detection of the input's format, the failure it shows, and the
 * profile written from what the readers found (import_client.c for client
 * logs, import_server.c for server descriptions).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli/catalog.h"
#include "cli/diagnose.h"
#include "cli/import.h"
#include "profile/profile.h"
#include "base/util.h"

#define IMPORT_MAX_INPUT (16u * 1024 * 1024)

int
import_line_next(const char *text, size_t len, import_line_t *l)
{
    const char *nl = NULL;
    size_t n;

    if (l->cursor >= len) {
        return 0;
    }
    l->p = text + l->cursor;
    nl = memchr(l->p, '\n', len - l->cursor);
    n = nl != NULL ? (size_t)(nl - l->p) : len - l->cursor;
    l->cursor += n + (nl != NULL ? 1 : 0);
    while (n > 0 && isspace((unsigned char)l->p[n - 1])) { /* CR included */
        n--;
    }
    l->len = n;
    l->no++;
    return 1;
}

/* --- values -------------------------------------------------------------------- */

void
import_val_set(import_val_t *v, const char *value, size_t n, int line, const char *src,
               size_t srclen)
{
    size_t i;

    if (v->value != NULL) {
        return;
    }
    while (n > 0 && isspace((unsigned char)value[n - 1])) {
        n--;
    }
    v->value = util_strndup(value, n);
    v->line = line;
    while (srclen > 0 && isspace((unsigned char)*src)) {
        src++;
        srclen--;
    }
    while (srclen > 0 && isspace((unsigned char)src[srclen - 1])) {
        srclen--;
    }
    if (srclen >= sizeof v->src) {
        srclen = sizeof v->src - 4;
        memcpy(v->src + srclen, "...", 4);
    } else {
        v->src[srclen] = '\0';
    }
    memcpy(v->src, src, srclen);
    /* A comment line must stay one line, whatever the input held. */
    for (i = 0; v->src[i] != '\0'; i++) {
        if ((unsigned char)v->src[i] < 32) {
            v->src[i] = ' ';
        }
    }
}

const char *
import_hostkey_spec(const char *alg, int bits, char *buf, size_t size)
{
    if (strcmp(alg, "ssh-ed25519") == 0 || strcasecmp(alg, "ed25519") == 0) {
        return "ed25519";
    }
    if (strncmp(alg, "ecdsa-sha2-nistp", 16) == 0) {
        snprintf(buf, size, "ecdsa-%s", alg + 16);
        return buf;
    }
    if (strcasecmp(alg, "ecdsa") == 0) {
        snprintf(buf, size, "ecdsa-%d", bits == 384 || bits == 521 ? bits : 256);
        return buf;
    }
    if (strcmp(alg, "ssh-rsa") == 0 || strncmp(alg, "rsa-sha2-", 9) == 0 ||
        strcasecmp(alg, "rsa") == 0) {
        /* OpenSSH's ssh-keygen default when the input gives no size. */
        snprintf(buf, size, "rsa-%d", bits >= 1024 && bits <= 16384 ? bits : 3072);
        return buf;
    }
    /* DSA keys are 1024 bits (FIPS 186-2, all OpenSSH ever made). */
    if (strcmp(alg, "ssh-dss") == 0 || strcasecmp(alg, "dsa") == 0) {
        return "dsa";
    }
    return NULL;
}

void
import_hostkey_add(import_t *im, const char *spec, int line, const char *src, size_t srclen)
{
    size_t type_len = strcspn(spec, "-");
    size_t i;

    for (i = 0; i < im->nhostkeys; i++) {
        if (strncmp(im->hostkeys[i].value, spec, type_len) == 0) {
            return;
        }
    }
    if (im->nhostkeys < IMPORT_MAX_HOSTKEYS) {
        import_val_set(&im->hostkeys[im->nhostkeys++], spec, strlen(spec), line, src, srclen);
    }
}

/* --- the failure ---------------------------------------------------------------- */

/* A "no common X" the input shows without the server's list (dbclient,
 * PuTTY, paramiko say only that there was none): the catalogue profile's
 * list, which every client refuses the same way, stands in for it. */
static void
import__catalogue_list(import_t *im, const diag_class_t *c)
{
    static const struct { const char *cls; algo_kind_t kind; } rows[] = {
        { "no-common-kex", ALGO_KEX }, { "no-common-cipher", ALGO_CIPHER },
        { "no-common-mac", ALGO_MAC }, { "no-common-hostkey", ALGO_HOSTKEY },
        { "weak-algorithm", ALGO_KEX },
    };
    const char *lists[ALGO__COUNT] = { NULL };
    profile_t *p = NULL;
    char *path = NULL;
    char err[256];
    char src[160];
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(rows); i++) {
        if (strcmp(c->id, rows[i].cls) == 0 && im->algos[rows[i].kind].value == NULL &&
            c->profile != NULL) {
            break;
        }
    }
    if (i == UTIL_ARRAY_SIZE(rows)) {
        return;
    }
    path = catalog_resolve(c->profile);
    if (profile_load_warn(path, NULL, &p, err, sizeof err) == 0) {
        lists[ALGO_KEX] = p->kex_algorithms;
        lists[ALGO_CIPHER] = p->ciphers;
        lists[ALGO_MAC] = p->macs;
        lists[ALGO_HOSTKEY] = p->hostkey_algorithms;
        snprintf(src, sizeof src, "the input does not name the server's lists: those of the "
                 "catalogue's %s, refused the same way", c->profile);
        /* All four lists: a MAC is only negotiated with a cipher that is
         * not AEAD, so the catalogue's Ciphers go with its MACs. */
        for (i = 0; i < ALGO_PUBKEY; i++) {
            if (lists[i] != NULL) {
                import_val_set(&im->algos[i], lists[i], strlen(lists[i]), 0, src, strlen(src));
            }
        }
        profile_free(p);
    }
    free(path);
}

/* A group exchange group too small for the client: the input says so but
 * not which groups; the catalogue profile's moduli file (1024-bit groups)
 * plays it, named by its absolute path so the import loads anywhere. */
static void
import__catalogue_moduli(import_t *im, const diagnose_result_t *r)
{
    profile_t *p = NULL;
    char *path = catalog_resolve(r->cls->profile);
    char err[256];

    if (path != NULL && profile_load_warn(path, NULL, &p, err, sizeof err) == 0 &&
        p->moduli_file != NULL && p->moduli_file[0] == '/') {
        import_val_set(&im->moduli_file, p->moduli_file, strlen(p->moduli_file), r->line,
                       r->evidence, strlen(r->evidence));
    }
    profile_free(p);
    free(path);
}

/* The server's identification a client quoted in its error
 * ("Incompatible remote version 'SSH-1.5-OpenSSH_3.9p1'"). */
static void
import__quoted_ident(import_t *im, const diagnose_result_t *r)
{
    const char *at = strstr(r->evidence, "SSH-");
    size_t n;

    if (at == NULL || im->ident.value != NULL) {
        return;
    }
    n = strcspn(at, "')\"");
    import_val_set(&im->ident, at, n, r->line, r->evidence, strlen(r->evidence));
}

void
import_failure(const char *text, size_t len, import_t *im)
{
    static const struct { const char *cls; const char *fault; } faults[] = {
        { "closed-before-ident", "accept close" },
        /* sshd's words, then the close, as sshd does past MaxStartups. */
        { "maxstartups", "accept send \"Exceeded MaxStartups\\r\\n\"\nFault accept close" },
        { "reset", "accept reset" },
        { "ident-timeout", "accept stall" },
        { "mac-error", "newkeys corrupt" },
    };
    diagnose_result_t r;
    char err[128];
    char cut[48];
    const char *fault = NULL;
    size_t i;

    if (diagnose_text(text, len, &r, err, sizeof err) != 0 || r.cls == NULL) {
        return;
    }
    import_val_set(&im->failure, r.cls->id, strlen(r.cls->id), r.line, r.evidence,
                   strlen(r.evidence));
    for (i = 0; i < UTIL_ARRAY_SIZE(faults); i++) {
        if (strcmp(r.cls->id, faults[i].cls) == 0) {
            fault = faults[i].fault;
        }
    }
    if (strcmp(r.cls->id, "closed-during-kex") == 0 || strcmp(r.cls->id, "closed") == 0) {
        /* Where it closed: before the server's KEXINIT reached the client,
         * or once key exchange was under way; and how: a reset is a
         * process that exited with the client's bytes unread (exit), a
         * clean close a device that read them (close). A reset the words
         * do not place came after the identification: before it, the
         * clients that say only "reset" (dbclient) see a close. */
        int reset = strstr(r.evidence, "reset") != NULL || strstr(r.evidence, "RESET") != NULL;
        snprintf(cut, sizeof cut, "%s %s",
                 r.progress >= DIAG_PROGRESS_KEX ? "client-kexinit"
                 : r.progress >= DIAG_PROGRESS_IDENT_RECV || strcmp(r.cls->id, "closed") != 0 ||
                   reset ? "server-ident" : "accept",
                 reset ? "exit" : "close");
        fault = cut;
    }
    if (strcmp(r.cls->id, "protocol-version") == 0) {
        import__quoted_ident(im, &r);
    }
    if (strcmp(r.cls->id, "auth-denied") == 0 && im->auth_methods.value == NULL &&
        (strstr(r.evidence, "No auth methods") != NULL ||
         strstr(r.evidence, "No supported authentication methods") != NULL)) {
        /* "No auth methods could be used": the server wanted what the client
         * did not have; the catalogue's case is a key-only server. */
        import_val_set(&im->auth_methods, "publickey", 9, r.line, r.evidence, strlen(r.evidence));
    }
    if (strcmp(r.cls->id, "hostkey-mismatch") == 0) {
        import_val_set(&im->hostkey_rotation, "connection", 10, r.line, r.evidence,
                       strlen(r.evidence));
    }
    if (strcmp(r.cls->id, "too-many-auth-failures") == 0) {
        import_val_set(&im->max_auth_tries, "2", 1, r.line, r.evidence, strlen(r.evidence));
    }
    if (strcmp(r.cls->id, "dh-group-too-small") == 0) {
        import__catalogue_moduli(im, &r);
    }
    if (fault != NULL) {
        import_val_set(&im->fault, fault, strlen(fault), r.line, r.evidence, strlen(r.evidence));
    }
    import__catalogue_list(im, r.cls);
}

int
import_parse(const char *text, size_t len, import_t *im, char *err, size_t errlen)
{
    memset(im, 0, sizeof *im);
    im->format = detect_format(text, len);
    switch (im->format) {
    case DETECT_FMT_OPENSSH:
        import_openssh(text, len, im);
        import_failure(text, len, im);
        return 0;
    case DETECT_FMT_PUTTY:
        import_putty(text, len, im);
        import_failure(text, len, im);
        return 0;
    case DETECT_FMT_SSHD_T:
        return import_sshd_t(text, len, im);
    case DETECT_FMT_SSH_AUDIT:
        return import_ssh_audit(text, len, im, err, errlen);
    case DETECT_FMT_NMAP:
        if (import_nmap(text, len, im) != 0) {
            snprintf(err, errlen, "nmap output without an ssh2-enum-algos list or an ssh-hostkey "
                     "key: run nmap --script ssh2-enum-algos,ssh-hostkey -p PORT HOST");
            return -1;
        }
        return 0;
    case DETECT_FMT_ERRORS:
    case DETECT_FMT_CAPTURE:
    case DETECT_FMT_UNKNOWN:
        /* No format of its own, but maybe a client's words diagnose knows
         * (dbclient, paramiko, asyncssh, ssh2, libssh): the failure alone. */
        import_failure(text, len, im);
        if (im->failure.value != NULL) {
            im->format = DETECT_FMT_ERRORS;
            return 0;
        }
        break;
    }
    snprintf(err, errlen, "%s",
             "cannot tell what this is: expected ssh -v/-vv/-vvv output, PuTTY's event log "
             "(plink -v), sshd -T output, ssh-audit -j JSON, or nmap's ssh2-enum-algos output "
             "(sshmock's own JSON event log is for sshmock diagnose)");
    return -1;
}

void
import_free(import_t *im)
{
    size_t i;

    free(im->ident.value);
    for (i = 0; i < ALGO__COUNT; i++) {
        free(im->algos[i].value);
    }
    for (i = 0; i < im->nhostkeys; i++) {
        free(im->hostkeys[i].value);
    }
    free(im->auth_methods.value);
    free(im->max_auth_tries.value);
    free(im->login_grace_time.value);
    free(im->max_startups.value);
    free(im->banner.value);
    free(im->fault.value);
    free(im->moduli_file.value);
    free(im->hostkey_rotation.value);
    free(im->failure.value);
    util_buf_free(&im->notes);
    memset(im, 0, sizeof *im);
}
