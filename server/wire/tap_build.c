/*
 * tap_build: what is computed from a KEXINIT or built as a packet, with no
 * parser state: HASSH, RFC 4253's negotiation of two name-lists, and the
 * cleartext packets the wire writes itself (KEXINIT, DISCONNECT). Split
 * from tap.c, which is the incremental parser; both implement tap.h.
 */
#include "wire/tap.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* util_buf has no truncate; builders use this to leave out unchanged. */
static void
tap__buf_truncate(util_buf_t *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        if (b->data != NULL) {
            b->data[len] = '\0';
        }
    }
}

/* ---- HASSH ------------------------------------------------------------ */

int
tap_hassh(const tap_kexinit_t *k, int server, char out[33],
          util_buf_t *algorithms)
{
    static const tap_kex_list_t client_lists[4] = {
        TAP_KEX_ALGS, TAP_KEX_ENC_C2S, TAP_KEX_MAC_C2S, TAP_KEX_COMP_C2S
    };
    static const tap_kex_list_t server_lists[4] = {
        TAP_KEX_ALGS, TAP_KEX_ENC_S2C, TAP_KEX_MAC_S2C, TAP_KEX_COMP_S2C
    };
    const tap_kex_list_t *lists = server ? server_lists : client_lists;
    util_buf_t local = UTIL_BUF_INIT;
    util_buf_t *b = algorithms != NULL ? algorithms : &local;
    EVP_MD *md = NULL;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    int rc = -1;
    size_t i;

    out[0] = '\0';
    if (k == NULL) {
        return -1;
    }
    util_buf_reset(b);
    for (i = 0; i < 4; i++) {
        const char *l = k->lists[lists[i]] != NULL ? k->lists[lists[i]] : "";

        if ((i > 0 && util_buf_puts(b, ";") < 0) || util_buf_puts(b, l) < 0) {
            goto out;
        }
    }
    /* MD5 is in OpenSSL 3's default provider; a FIPS-only setup has none,
     * and then there is simply no HASSH. */
    md = EVP_MD_fetch(NULL, "MD5", NULL);
    if (md == NULL) {
        goto out;
    }
    if (EVP_Digest(b->data, b->len, digest, &dlen, md, NULL) != 1 ||
        dlen != 16) {
        goto out;
    }
    for (i = 0; i < 16; i++) {
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
    }
    rc = 0;
out:
    EVP_MD_free(md);
    util_buf_free(&local);
    return rc;
}

/* ---- negotiation ------------------------------------------------------ */

int
tap_negotiate(const char *client_list, const char *server_list, char *out,
              size_t outlen)
{
    const char *c = client_list;
    const char *elem;
    size_t n;

    if (out != NULL && outlen > 0) {
        out[0] = '\0';
    }
    if (client_list == NULL || server_list == NULL) {
        return -1;
    }
    while ((elem = util_list_next(&c, &n)) != NULL) {
        if (n > 0 && util_list_has(server_list, elem, n)) {
            if (out != NULL) {
                if (n >= outlen) {
                    return -1;
                }
                memcpy(out, elem, n);
                out[n] = '\0';
            }
            return 1;
        }
    }
    return 0;
}

/* ---- builders --------------------------------------------------------- */

static int
tap__put_u32(util_buf_t *b, uint32_t v)
{
    uint8_t p[4];

    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return util_buf_append(b, p, sizeof p);
}

static int
tap__put_string(util_buf_t *b, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n > TAP_MAX_PACKET_LENGTH) {
        return -1; /* could never fit in a packet anyway */
    }
    if (tap__put_u32(b, (uint32_t)n) < 0) {
        return -1;
    }
    return util_buf_append(b, s != NULL ? s : "", n);
}

int
tap_build_packet(util_buf_t *out, const uint8_t *payload, size_t len)
{
    static const uint8_t zeros[TAP_CLEAR_BLOCK + TAP_MIN_PADDING] = { 0 };
    size_t saved;
    size_t pad;
    size_t plen;
    uint8_t pl;

    if (out == NULL || payload == NULL || len == 0 ||
        len > TAP_MAX_PACKET_LENGTH) {
        return -1;
    }
    pad = TAP_CLEAR_BLOCK - (4 + 1 + len) % TAP_CLEAR_BLOCK;
    if (pad < TAP_MIN_PADDING) {
        pad += TAP_CLEAR_BLOCK;
    }
    plen = 1 + len + pad;
    if (plen > TAP_MAX_PACKET_LENGTH) {
        return -1;
    }
    saved = out->len;
    pl = (uint8_t)pad;
    if (tap__put_u32(out, (uint32_t)plen) < 0 ||
        util_buf_append(out, &pl, 1) < 0 ||
        util_buf_append(out, payload, len) < 0 ||
        util_buf_append(out, zeros, pad) < 0) {
        tap__buf_truncate(out, saved);
        return -1;
    }
    return 0;
}

int
tap_build_disconnect(util_buf_t *out, uint32_t reason, const char *description)
{
    util_buf_t p = UTIL_BUF_INIT;
    uint8_t type = TAP_MSG_DISCONNECT;
    int rc = -1;

    if (util_buf_append(&p, &type, 1) < 0 || tap__put_u32(&p, reason) < 0 ||
        tap__put_string(&p, description) < 0 || tap__put_string(&p, "") < 0) {
        goto out;
    }
    rc = tap_build_packet(out, (const uint8_t *)p.data, p.len);
out:
    util_buf_free(&p);
    return rc;
}

int
tap_build_kexinit(util_buf_t *out, const tap_kexinit_t *k)
{
    util_buf_t p = UTIL_BUF_INIT;
    uint8_t type = TAP_MSG_KEXINIT;
    uint8_t follows;
    size_t i;
    int rc = -1;

    if (k == NULL) {
        return -1;
    }
    follows = k->first_kex_packet_follows ? 1 : 0;
    if (util_buf_append(&p, &type, 1) < 0 ||
        util_buf_append(&p, k->cookie, sizeof k->cookie) < 0) {
        goto out;
    }
    for (i = 0; i < TAP_KEX__NLISTS; i++) {
        if (tap__put_string(&p, k->lists[i]) < 0) {
            goto out;
        }
    }
    if (util_buf_append(&p, &follows, 1) < 0 ||
        tap__put_u32(&p, k->reserved) < 0) {
        goto out;
    }
    rc = tap_build_packet(out, (const uint8_t *)p.data, p.len);
out:
    util_buf_free(&p);
    return rc;
}
