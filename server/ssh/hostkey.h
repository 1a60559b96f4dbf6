/*
 * hostkey: the server's host keys, loaded or generated once per profile.
 *
 * A "generate:" HostKey is made the first time and kept in the state
 * directory, <state>/<profile-name>/ssh_host_<spec>_key (mode 0600), so a
 * profile shows the same fingerprint across restarts, as a real server
 * does. Keys are never loaded per connection: libssh's ssh_bind keeps them
 * and ssh_bind_accept_fd hands each session a copy.
 */
#ifndef SSHMOCK_HOSTKEY_H
#define SSHMOCK_HOSTKEY_H

#include <libssh/libssh.h>
#include <stddef.h>

#include "profile/profile.h"

typedef struct hostkey_s {
    ssh_key key;
    char type[32];          /* "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa" */
    int bits;
    char fingerprint[80];   /* "SHA256:..." as OpenSSH prints it */
    char source[512];       /* the file it came from */
    int generated;          /* 1 when made during this load */
} hostkey_t;

typedef struct hostkey_set_s {
    hostkey_t keys[PROFILE_MAX_HOSTKEYS];
    size_t n;
} hostkey_set_t;

/* The state directory: explicit, else $SSHMOCK_STATE_DIR, else
 * $XDG_STATE_HOME/sshmock, else ~/.local/state/sshmock; "" when none of
 * those is set (never a shared directory such as /tmp: a profile that
 * needs one is then refused by hostkey_load_all, with the reason).
 * malloc'd. */
char *hostkey_state_dir(const char *explicit_dir);

/* Loads or generates every host key of the profile. On error, err holds
 * "FILE:LINE: message" naming the HostKey line, and the set is empty.
 *
 * Like OpenSSH with its own files, it refuses (and says how to fix) a
 * state directory, or the profile's directory in it, that is not owned by
 * the user (or root) or is writable by group or others; a kept key that
 * is not a regular 0600 file of the user's; and a profile whose name (the
 * directory it gets) is empty, starts with '.' or holds '/'. HostKey
 * files must be regular files holding a private key (no FIFO, device,
 * directory or .pub). New keys are written to a temporary file with a
 * random name, created with O_EXCL|O_NOFOLLOW, then renamed. */
int hostkey_load_all(const profile_t *p, const char *state_dir,
                     hostkey_set_t *set, char *err, size_t errlen);

/* What `sshmock check` can know without serving: every HostKey file is
 * loaded exactly as hostkey_load_all() loads it (then dropped), and a
 * profile whose generated keys would need an unsafe directory name is
 * refused. Nothing is generated or written. 0, or an error as above. */
int hostkey_check_all(const profile_t *p, char *err, size_t errlen);

void hostkey_set_free(hostkey_set_t *set);

/*
 * sshd offers its host key algorithms in the order of its HostKey lines
 * (sshd.c, list_hostkey_types: each RSA key as rsa-sha2-512, rsa-sha2-256,
 * ssh-rsa), keeping those HostKeyAlgorithms allows; the order of
 * HostKeyAlgorithms itself plays no part (measured on sshd 9.2). Rewrites
 * p->hostkey_algorithms so, from the keys loaded, unless the profile wrote
 * an exact list (hostkey_algorithms_exact: a captured offer is replayed as
 * it was) or plays HostKey none. 0, or SSHMOCK_ENOMEM.
 */
int hostkey_order_algorithms(profile_t *p, const hostkey_set_t *keys);

/* An RSA key read from path (already loaded into *key) is replaced by the
 * same key with its CRT values when the file is in OpenSSH format, which
 * libssh 0.10 loads without them (signatures then cost ~7x). Returns 1 if
 * replaced, 0 if nothing was to do, -1 if the file could not be converted
 * (*key is then left as it was: slower, not wrong). */
int hostkey_rsa_with_crt(const char *path, ssh_key *key);

/* "SHA256:<base64, no padding>" of a public key, as OpenSSH shows it. */
int hostkey_fingerprint(ssh_key key, char *out, size_t outlen);

#endif /* SSHMOCK_HOSTKEY_H */
