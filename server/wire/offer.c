/*
 * offer: the played server's exact KEXINIT and the negotiation against it
 * (see offer.h).
 */
#include "wire/offer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "profile/algo.h"

int
offer_openssh_version(const char *identification, int *major, int *minor)
{
    static const char *const prefixes[] = { "OpenSSH_for_Windows_", "OpenSSH_" };
    const char *sw;
    size_t i;

    if (identification == NULL || strncmp(identification, "SSH-", 4) != 0) {
        return 0;
    }
    /* The software version follows the protocol version's '-'. */
    sw = strchr(identification + 4, '-');
    if (sw == NULL) {
        return 0;
    }
    sw++;
    for (i = 0; i < UTIL_ARRAY_SIZE(prefixes); i++) {
        size_t n = strlen(prefixes[i]);

        if (strncmp(sw, prefixes[i], n) == 0 &&
            sscanf(sw + n, "%d.%d", major, minor) == 2) {
            return 1;
        }
    }
    return 0;
}

/* OpenSSH 9.6 (December 2023) added both server markers at once: the
 * strict key exchange against Terrapin (CVE-2023-48795) and ext-info-s. */
static int
offer__openssh_96(const profile_t *p)
{
    int major = 0;
    int minor = 0;

    if (!offer_openssh_version(p->identification, &major, &minor)) {
        return 0;
    }
    return major > 9 || (major == 9 && minor >= 6);
}

/* Distributions backported the Terrapin fix (strict key exchange, not
 * ext-info-s) into older OpenSSH packages; their identifications carry the
 * package revision. Measured: Debian 12's sshd 9.2p1 (deb12u10) offers
 * kex-strict-s-v00@openssh.com beside the profile's lists (client-tests/twins).
 * The first fixed revision of each, from the distributions' advisories for
 * CVE-2023-48795: */
static const struct {
    const char *marker;   /* in the identification, followed by a number */
    int first_fixed;
} offer__backports[] = {
    { "Debian-2+deb12u", 2 },      /* bookworm, 9.2p1 */
    { "Debian-5+deb11u", 3 },      /* bullseye, 8.4p1 */
    { "Ubuntu-3ubuntu0.", 6 },     /* jammy, 8.9p1 */
    { "Ubuntu-4ubuntu0.", 10 },    /* focal, 8.2p1 */
};

static int
offer__strict_backport(const char *identification)
{
    size_t i;

    for (i = 0; identification != NULL && i < UTIL_ARRAY_SIZE(offer__backports); i++) {
        const char *at = strstr(identification, offer__backports[i].marker);
        if (at != NULL &&
            atoi(at + strlen(offer__backports[i].marker)) >= offer__backports[i].first_fixed) {
            return 1;
        }
    }
    return 0;
}

int
offer_strict_kex(const profile_t *p)
{
    switch (p->strict_kex) {
    case PROFILE_STRICT_KEX_YES:
        return 1;
    case PROFILE_STRICT_KEX_NO:
        return 0;
    default:
        return offer__openssh_96(p) || offer__strict_backport(p->identification);
    }
}

int
offer_ext_info(const profile_t *p)
{
    return offer__openssh_96(p);
}

void
offer_free(offer_t *o)
{
    size_t i;

    for (i = 0; i < TAP_KEX__NLISTS; i++) {
        free(o->owned[i]);
        o->owned[i] = NULL;
    }
    memset(&o->k, 0, sizeof o->k);
}

/* The host key list: offer-only names as written, runnable ones only where
 * libssh has a key for them (libssh's own list says which). */
static char *
offer__hostkeys(const char *exact, const char *libssh)
{
    util_buf_t b = UTIL_BUF_INIT;
    const char *p = exact;
    const char *elem;
    size_t len;

    while (exact != NULL && (elem = util_list_next(&p, &len)) != NULL) {
        char name[128];
        int keep;

        if (len == 0 || len >= sizeof name) {
            continue;
        }
        memcpy(name, elem, len);
        name[len] = '\0';
        keep = !algo_is_supported(ALGO_HOSTKEY, name) ||
               (libssh != NULL && util_list_has(libssh, elem, len));
        if (keep && ((b.len > 0 && util_buf_puts(&b, ",") < 0) ||
                     util_buf_append(&b, elem, len) < 0)) {
            util_buf_free(&b);
            return NULL;
        }
    }
    return b.data != NULL ? b.data : strdup("");
}

static char *
offer__kex(const profile_t *p)
{
    util_buf_t b = UTIL_BUF_INIT;

    if (util_buf_puts(&b, p->kex_algorithms != NULL ? p->kex_algorithms : "") < 0 ||
        (offer_ext_info(p) && util_buf_puts(&b, "," OFFER_EXT_INFO_S) < 0) ||
        (offer_strict_kex(p) && util_buf_puts(&b, "," OFFER_STRICT_KEX_S) < 0)) {
        util_buf_free(&b);
        return NULL;
    }
    return b.data;
}

static char *
offer__dup(const char *s)
{
    return strdup(s != NULL ? s : "");
}

int
offer_build(offer_t *o, const profile_t *p, const tap_kexinit_t *libssh)
{
    size_t i;

    memset(o, 0, sizeof *o);
    memcpy(o->k.cookie, libssh->cookie, sizeof o->k.cookie);
    o->owned[TAP_KEX_ALGS] = offer__kex(p);
    o->owned[TAP_KEX_HOSTKEY_ALGS] = offer__hostkeys(p->hostkey_algorithms,
                                                    libssh->lists[TAP_KEX_HOSTKEY_ALGS]);
    o->owned[TAP_KEX_ENC_C2S] = offer__dup(p->ciphers);
    o->owned[TAP_KEX_ENC_S2C] = offer__dup(p->ciphers);
    o->owned[TAP_KEX_MAC_C2S] = offer__dup(p->macs);
    o->owned[TAP_KEX_MAC_S2C] = offer__dup(p->macs);
    for (i = TAP_KEX_COMP_C2S; i < TAP_KEX__NLISTS; i++) {
        o->owned[i] = offer__dup(libssh->lists[i]);
    }
    for (i = 0; i < TAP_KEX__NLISTS; i++) {
        if (o->owned[i] == NULL) {
            offer_free(o);
            return -1;
        }
        o->k.lists[i] = o->owned[i];
    }
    /* The real server does not guess: it waits for the client's offer. */
    o->k.first_kex_packet_follows = 0;
    o->k.reserved = 0;
    return 0;
}

int
offer_is_aead(const char *cipher)
{
    return strstr(cipher, "gcm@openssh.com") != NULL ||
           strcmp(cipher, "chacha20-poly1305@openssh.com") == 0 ||
           strncmp(cipher, "AEAD_", 5) == 0;
}

const char *
offer_list_what(tap_kex_list_t list)
{
    switch (list) {
    case TAP_KEX_ALGS:
        return "key exchange method";
    case TAP_KEX_HOSTKEY_ALGS:
        return "host key type";
    case TAP_KEX_ENC_C2S:
    case TAP_KEX_ENC_S2C:
        return "cipher";
    case TAP_KEX_MAC_C2S:
    case TAP_KEX_MAC_S2C:
        return "MAC";
    case TAP_KEX_COMP_C2S:
    case TAP_KEX_COMP_S2C:
        return "compression method";
    default:
        return "?";
    }
}

static algo_kind_t
offer__kind(tap_kex_list_t list)
{
    switch (list) {
    case TAP_KEX_ALGS:
        return ALGO_KEX;
    case TAP_KEX_HOSTKEY_ALGS:
        return ALGO_HOSTKEY;
    case TAP_KEX_ENC_C2S:
    case TAP_KEX_ENC_S2C:
        return ALGO_CIPHER;
    case TAP_KEX_MAC_C2S:
    case TAP_KEX_MAC_S2C:
        return ALGO_MAC;
    default:
        return ALGO__COUNT; /* compression: libssh's own list, always runnable */
    }
}

void
offer_check_moduli(const profile_t *p, const tap_kexinit_t *client,
                   const tap_kexinit_t *server, offer_result_t *r)
{
    char chosen[128] = "";
    const char *cl = client->lists[TAP_KEX_ALGS] != NULL ? client->lists[TAP_KEX_ALGS] : "";
    const char *sl = server->lists[TAP_KEX_ALGS] != NULL ? server->lists[TAP_KEX_ALGS] : "";

    if (r->verdict != OFFER_RUNNABLE || p->moduli_file == NULL || algo_engine_plays_moduli()) {
        return;
    }
    if (tap_negotiate(cl, sl, chosen, sizeof chosen) == 1 &&
        strncmp(chosen, "diffie-hellman-group-exchange-", 30) == 0) {
        r->verdict = OFFER_CANNOT_PLAY;
        r->list = TAP_KEX_ALGS;
        util_strlcpy(r->name, chosen, sizeof r->name);
    }
}

void
offer_negotiate(const tap_kexinit_t *client, const tap_kexinit_t *server,
                offer_result_t *r)
{
    static const tap_kex_list_t order[] = {
        TAP_KEX_ALGS, TAP_KEX_HOSTKEY_ALGS,
        TAP_KEX_ENC_C2S, TAP_KEX_MAC_C2S, TAP_KEX_COMP_C2S,
        TAP_KEX_ENC_S2C, TAP_KEX_MAC_S2C, TAP_KEX_COMP_S2C,
    };
    char cipher[TAP_KEX__NLISTS][128];
    int cannot = 0;
    size_t i;

    memset(r, 0, sizeof *r);
    memset(cipher, 0, sizeof cipher);
    r->verdict = OFFER_RUNNABLE;
    for (i = 0; i < UTIL_ARRAY_SIZE(order); i++) {
        tap_kex_list_t l = order[i];
        const char *cl = client->lists[l] != NULL ? client->lists[l] : "";
        const char *sl = server->lists[l] != NULL ? server->lists[l] : "";
        char chosen[128] = "";
        algo_kind_t kind = offer__kind(l);

        if (l == TAP_KEX_MAC_C2S && offer_is_aead(cipher[TAP_KEX_ENC_C2S])) {
            continue;
        }
        if (l == TAP_KEX_MAC_S2C && offer_is_aead(cipher[TAP_KEX_ENC_S2C])) {
            continue;
        }
        if (tap_negotiate(cl, sl, chosen, sizeof chosen) != 1) {
            /* The client stops at the first list that fails, whatever it
             * would have picked elsewhere: it never runs an offer-only
             * name then, so this is a failure like the real server's. */
            r->verdict = OFFER_NO_MATCH;
            r->list = l;
            r->name[0] = '\0';
            return;
        }
        if (l == TAP_KEX_ENC_C2S || l == TAP_KEX_ENC_S2C) {
            util_strlcpy(cipher[l], chosen, sizeof cipher[l]);
        }
        if (!cannot && kind != ALGO__COUNT && !algo_is_supported(kind, chosen)) {
            cannot = 1;
            r->list = l;
            util_strlcpy(r->name, chosen, sizeof r->name);
        }
    }
    if (cannot) {
        r->verdict = OFFER_CANNOT_PLAY;
    }
}
