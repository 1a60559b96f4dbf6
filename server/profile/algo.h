/*
 * algo: SSH algorithm lists as sshd_config writes them.
 *
 * Defaults are OpenSSH 9.2's server defaults, keeping only what the linked
 * libssh implements (libssh has no umac or sntrup761). What libssh
 * implements is asked of libssh itself at run time, so a newer or older
 * libssh is described truthfully. A value may be a plain list (replaces the
 * default), or start with '+' (append to the default), '-' (remove from the
 * default; wildcards '*' and '?' allowed) or '^' (put in front of the
 * default), as in sshd_config(5).
 *
 * A profile plays a server's offer exactly: a list may name algorithms the
 * linked libssh does not implement ("offer-only": ssh-dss, hmac-md5,
 * umac-64@openssh.com, a vendor's name@domain). They appear in the KEXINIT
 * the client sees; libssh is configured with the servable part of the list
 * (algo_servable), and the wire (wire.c) makes sure a client that would
 * pick an offer-only name is told that sshmock cannot play it.
 */
#ifndef SSHMOCK_ALGO_H
#define SSHMOCK_ALGO_H

#include <stddef.h>

typedef enum {
    ALGO_KEX,
    ALGO_CIPHER,
    ALGO_MAC,
    ALGO_HOSTKEY,
    ALGO_PUBKEY,
    ALGO__COUNT
} algo_kind_t;

/* "KexAlgorithms", "Ciphers", ... */
const char *algo_keyword(algo_kind_t kind);

/* The default list for a kind (static string). */
const char *algo_default(algo_kind_t kind);

/* Every algorithm of the kind that sshmock knows of and the linked libssh
 * accepts (static string, comma-separated). */
const char *algo_supported_list(algo_kind_t kind);

/* 1 when the linked libssh accepts the algorithm for this kind. */
int algo_is_supported(algo_kind_t kind, const char *name);

/* 1 when the linked libssh plays a ModuliFile's groups as they are
 * (sshmock's own libssh, patch 052); the system libssh raises every
 * client's minimum to 2048 bits and fails when the file has nothing
 * there, so its group exchange with a ModuliFile cannot be played. */
int algo_engine_plays_moduli(void);

/* Resolves a value with its modifier into a malloc'd comma-separated list:
 * the exact offer, offer-only names included. Returns 0, or -1 with a
 * message in err (e.g. "unknown MAC 'hmac-md6': the linked libssh ..."). */
int algo_resolve(algo_kind_t kind, const char *value, char **out,
                 char *err, size_t errlen);

/* 1 when the kind's lists are offered on the wire (all but ALGO_PUBKEY),
 * so that they may name offer-only algorithms. */
int algo_is_offerable(algo_kind_t kind);

/* The names of list that the linked libssh does not implement, in order
 * (malloc'd; NULL when there are none). Returns 0, or -1 (no memory). */
int algo_offer_only(algo_kind_t kind, const char *list, char **out);

/* What libssh is configured with for list: its names that libssh
 * implements, in order; when there are none, the kind's default (libssh
 * refuses an empty list). malloc'd. Returns 0, or -1 (no memory). */
int algo_servable(algo_kind_t kind, const char *list, char **out);

/* 1 when the comma-separated list contains name exactly. */
int algo_list_contains(const char *list, const char *name);

#endif /* SSHMOCK_ALGO_H */
