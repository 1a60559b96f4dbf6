/*
 * offer: the server's KEXINIT as the played server would send it, and what
 * a client's offer makes of it.
 *
 * A profile's algorithm lists are the exact offer of the server it plays,
 * names that the linked libssh cannot run included (algo.h: offer-only).
 * libssh computes the exchange hash over the KEXINIT it built itself
 * (RFC 4253 8: I_S), so the exact KEXINIT can only reach a client when the
 * key exchange is not going to happen: when the client's offer and the
 * exact one have nothing in common in some list (the client fails as it
 * would against the real server), or when the client would pick an
 * offer-only name (sshmock cannot play that and says so). wire.c decides
 * which, with the functions here, once it has both KEXINITs.
 *
 * The strict key exchange marker (kex-strict-s-v00@openssh.com, the
 * Terrapin fix) and ext-info-s are appended to the exact key exchange list
 * where the played server sends them: OpenSSH 9.6 and later, by the
 * Identification's version; StrictKex yes|no overrides the strict marker.
 */
#ifndef SSHMOCK_OFFER_H
#define SSHMOCK_OFFER_H

#include <stddef.h>

#include "profile/profile.h"
#include "wire/tap.h"

#define OFFER_STRICT_KEX_S "kex-strict-s-v00@openssh.com"
#define OFFER_EXT_INFO_S "ext-info-s"

/* The exact KEXINIT; k's lists point into owned. */
typedef struct offer_s {
    tap_kexinit_t k;
    char *owned[TAP_KEX__NLISTS];
} offer_t;

typedef enum {
    OFFER_RUNNABLE,    /* every list agrees on names libssh can run */
    OFFER_NO_MATCH,    /* some list has nothing in common: the client fails */
    OFFER_CANNOT_PLAY  /* the client would pick an offer-only name */
} offer_verdict_t;

typedef struct offer_result_s {
    offer_verdict_t verdict;
    tap_kex_list_t list; /* NO_MATCH: the first list that failed; CANNOT_PLAY: where */
    char name[128];      /* CANNOT_PLAY: the offer-only name the client would pick */
} offer_result_t;

/* Whether the played server's KEXINIT has the strict kex marker, and
 * ext-info-s: by the Identification (OpenSSH >= 9.6) and StrictKex. */
int offer_strict_kex(const profile_t *p);
int offer_ext_info(const profile_t *p);

/* Parses "SSH-2.0-OpenSSH_9.6p1 ..." (or "OpenSSH_for_Windows_9.5"): 1
 * and the version, or 0 when the identification is not OpenSSH's. */
int offer_openssh_version(const char *identification, int *major, int *minor);

/* Builds the exact KEXINIT of profile p. libssh's own KEXINIT gives the
 * cookie, the compression and language lists (the profile has no say in
 * them) and which runnable host key algorithms have a key: a runnable
 * name without one is left out, as sshd leaves out what it has no key
 * for; offer-only names stay as written. Returns 0, or -1 (no memory). */
int offer_build(offer_t *o, const profile_t *p, const tap_kexinit_t *libssh);
void offer_free(offer_t *o);

/* RFC 4253 7.1 in OpenSSH's order (key exchange, host key, then each
 * direction's cipher, MAC unless the cipher is AEAD, compression). */
void offer_negotiate(const tap_kexinit_t *client, const tap_kexinit_t *server,
                     offer_result_t *r);

/* A runnable verdict that the engine still cannot play: a group exchange
 * from the profile's ModuliFile on a libssh that does not send the file's
 * groups as they are (algo_engine_plays_moduli). */
void offer_check_moduli(const profile_t *p, const tap_kexinit_t *client,
                        const tap_kexinit_t *server, offer_result_t *r);

/* Whether a cipher carries its own integrity (the MAC list is moot). */
int offer_is_aead(const char *cipher);

/* "key exchange method", "host key type", "cipher", "MAC", "compression
 * method": as OpenSSH names the list in "no matching X found". */
const char *offer_list_what(tap_kex_list_t list);

#endif /* SSHMOCK_OFFER_H */
