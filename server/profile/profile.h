/*
 * profile: the sshd_config-like file that describes one mock server.
 *
 * A profile is parsed once, at start, into a profile_t; every later module
 * reads it and none writes it. Keywords are looked up in one table
 * (keywords.c), case-insensitively, like OpenSSH's servconf.c; each row
 * carries its parser, its printer and the field it sets (internal.h).
 * Defaults are filled after parsing, and profile_print() writes the
 * effective profile back out like `sshd -T`, one "keyword value" per line.
 *
 * Errors are "FILE:LINE: message" in errbuf; the functions return a negative
 * sshmock error code (SSHMOCK_EPROFILE) and leave *out NULL.
 */
#ifndef SSHMOCK_PROFILE_H
#define SSHMOCK_PROFILE_H

#include <stddef.h>
#include <stdio.h>

#include "wire/fault.h"

#define PROFILE_MAX_HOSTKEYS 8

/* AuthFailureDelay: how long a failed authentication waits for its answer.
 * A positive value is a fixed time in milliseconds. */
#define PROFILE_AUTH_DELAY_NONE 0   /* answer at once */
#define PROFILE_AUTH_DELAY_SSHD (-1) /* sshd's own: 5 ms + 0..4.2 ms per user (auth2.c) */
#define PROFILE_AUTH_DELAY_PAM (-2)  /* sshd with UsePAM: a failed password waits for
                                      * pam_unix's ~2 s as well (Debian's default) */

typedef enum {
    PROFILE_HOSTKEY_FILE,     /* HostKey /path/to/key (relative: to the profile's dir) */
    PROFILE_HOSTKEY_GENERATE  /* HostKey generate:ed25519 | generate:rsa-2048 | generate:ecdsa-256 */
} profile_hostkey_kind_t;

/* HostKey none: which server without host keys is played.
 *   deleted (default): sshd 9.x whose key files were deleted while it runs:
 *     each new connection's re-executed child finds no key and exits before
 *     its banner, the client's identification unread (RST);
 *   kex: the older symptom the articles show: banner and KEXINIT, then the
 *     connection closes in key exchange (FIN). */
#define PROFILE_HOSTKEY_NONE_DELETED 1
#define PROFILE_HOSTKEY_NONE_KEX 2
/*   refused: sshd that did not start ("sshd: no hostkeys available --
 *     exiting."): the port is bound but nothing listens, so each client
 *     gets "Connection refused" while sshmock itself keeps running. */
#define PROFILE_HOSTKEY_NONE_REFUSED 3

typedef struct profile_hostkey_s {
    profile_hostkey_kind_t kind;
    char *path;   /* FILE: the path, resolved against the profile's directory */
    char *spec;   /* GENERATE: canonical "ed25519", "rsa-2048", "ecdsa-384" */
    int keytype;  /* GENERATE: enum ssh_keytypes_e */
    int bits;     /* GENERATE: rsa modulus bits, ecdsa curve bits; 0 for ed25519 */
    int line;     /* where it was declared, for errors found later */
} profile_hostkey_t;

typedef struct profile_account_s {
    char *name;
    char *password;           /* NULL: password and kbd-interactive refused */
    char **authorized_keys;   /* "type base64 [comment]", each validated at parse */
    size_t nauthorized_keys;
} profile_account_t;

typedef struct profile_exec_s {
    char *command;       /* exact command line; NULL for the default response */
    int exit_status;
    char *out;           /* stdout, escapes (\n \t \\ \") already decoded */
    size_t out_len;
    char *err;           /* stderr, likewise */
    size_t err_len;
} profile_exec_t;

/* What the client matrix expects of one client against this profile. */
typedef struct profile_expect_s {
    char *client;     /* "openssh", "plink", ... */
    int connect;      /* 1: the command runs; 0: the client fails */
    char *stage;      /* fail: where (tcp, banner, kex, hostkey, auth, session, timeout) */
    char *pattern;    /* an extended regex its output must match, or NULL */
    int line;
} profile_expect_t;

/* What one client really printed in the scenario (Said), line by line, as
 * measured with the real client: trimmed, the server's port written P
 * ("port P", "127.0.0.1:P"), a SHA256 fingerprint as "SHA256:...". The
 * parser checks that the client's Expect pattern matches these lines, so
 * the words `sshmock explain` shows and the pattern cannot drift apart. */
typedef struct profile_said_s {
    char *client;
    char **lines;     /* in file order */
    size_t nlines;
    int line;         /* where the first Said line of this client is */
} profile_said_t;

/* Client options: the scenario's client configuration (ClientOptions), or
 * the documented fix for one client (ClientFix). Options are KEY=VALUE as
 * the drivers take them (client-tests/drivers/README.md). */
typedef struct profile_client_opts_s {
    char *client;
    char **opts;
    size_t nopts;
    int line;
} profile_client_opts_t;

typedef enum {
    PROFILE_MATRIX_AUTH_PASSWORD,       /* demo / demo */
    PROFILE_MATRIX_AUTH_KEY,            /* the demo ed25519 key */
    PROFILE_MATRIX_AUTH_KEY_RSA,        /* the demo RSA key */
    PROFILE_MATRIX_AUTH_WRONG_PASSWORD  /* a wrong password */
} profile_matrix_auth_t;

/* StrictKex: whether the played server's KEXINIT carries OpenSSH's
 * strict key exchange marker (kex-strict-s-v00@openssh.com). */
typedef enum {
    PROFILE_STRICT_KEX_AUTO, /* as the Identification's version would: OpenSSH >= 9.6 */
    PROFILE_STRICT_KEX_YES,
    PROFILE_STRICT_KEX_NO
} profile_strict_kex_t;

typedef struct profile_s {
    char *path;          /* as given */
    char *dir;           /* directory of path, for relative file names */
    char *name;          /* basename without ".conf": the profile's id */

    char *description;   /* Description */
    char *identification; /* Identification: full line, e.g. "SSH-2.0-OpenSSH_9.2p1" */

    /* Resolved algorithm lists (comma-separated, no modifiers left): the
     * exact offer, which may name algorithms the linked libssh cannot run
     * (algo.h: offer-only). */
    char *kex_algorithms;
    char *ciphers;
    char *macs;
    char *hostkey_algorithms;
    int hostkey_algorithms_exact;        /* written as a plain list (no + - ^): the exact
                                          * offer, kept in its order (a capture's) */
    char *pubkey_accepted_algorithms;

    int password_authentication;        /* yes/no */
    int pubkey_authentication;          /* yes/no */
    int kbd_interactive_authentication; /* yes/no */
    char *authentication_methods;       /* "any" or "publickey,password password" */
    int max_auth_tries;                 /* MaxAuthTries, default 6 */
    int max_sessions;                   /* MaxSessions: open channels per connection, default 10 */
    int login_grace_time;               /* seconds, 0 = none; default 120 */
    int auth_failure_delay;             /* AuthFailureDelay: PROFILE_AUTH_DELAY_* or ms */
    char *banner_path;                  /* Banner FILE, NULL for none */
    char *banner;                       /* its contents, read at load */
    char *moduli_file;                  /* ModuliFile, NULL: libssh's own choice */
    int port;                           /* Port, default 2222 */
    char *listen_address;               /* ListenAddress, default 127.0.0.1 */

    profile_hostkey_t hostkeys[PROFILE_MAX_HOSTKEYS];
    size_t nhostkeys;

    profile_account_t *accounts;
    size_t naccounts;

    profile_exec_t *execs;               /* ExecResponse, in file order */
    size_t nexecs;
    profile_exec_t default_exec;         /* DefaultExecResponse */
    char *shell_prompt;                  /* ShellPrompt; %u expands to the user */

    fault_rule_t *faults;                /* Fault, in file order */
    size_t nfaults;
    int max_startups_start;              /* MaxStartups start:rate:full, as sshd */
    int max_startups_rate;
    int max_startups_full;
    int hostkey_none;                    /* HostKey none [VARIANT]: PROFILE_HOSTKEY_NONE_*, 0 if not */
    char *explanation;                   /* Explain lines, joined by '\n' */
    char *fix_client;                    /* FixClient lines */
    char *fix_server;                    /* FixServer lines */

    /* The client matrix (sshmock matrix). */
    profile_matrix_auth_t matrix_auth;   /* MatrixAuth */
    int matrix_hold;                     /* MatrixHold: idle connections held during a run */
    int matrix_known_host;               /* MatrixKnownHost: a first run records the host key */
    profile_expect_t *expects;           /* Expect */
    size_t nexpects;
    profile_client_opts_t *client_options; /* ClientOptions */
    size_t nclient_options;
    profile_client_opts_t *client_fixes;   /* ClientFix */
    size_t nclient_fixes;
    profile_said_t *said;                /* Said: one entry per client, file order */
    size_t nsaid;
    int hostkey_rotation;                /* HostKeyRotation: 0 never, 1 restart, 2 connection */
    int strict_kex;                      /* StrictKex: PROFILE_STRICT_KEX_* */
} profile_t;

int profile_load(const char *path, profile_t **out, char *errbuf, size_t errlen);

/* profile_load with the warnings going to `warnings` (NULL: dropped), for
 * callers that load many profiles and must not repeat their lint. */
int profile_load_warn(const char *path, FILE *warnings, profile_t **out,
                      char *errbuf, size_t errlen);

/* Same as profile_load, from a string; `path` names it in errors and gives
 * the directory for relative file names. Used by the unit tests. */
int profile_parse_string(const char *path, const char *text, profile_t **out,
                         char *errbuf, size_t errlen);

/* The same, from `len` bytes of text, with warnings (keywords that have no
 * effect, repeated Port lines...) written to `warnings` (NULL: dropped).
 * profile_load and profile_parse_string write them to stderr. */
int profile_parse(const char *path, const char *text, size_t len, FILE *warnings,
                  profile_t **out, char *errbuf, size_t errlen);

void profile_free(profile_t *p);

/* The effective profile, every setting with its resolved value. */
void profile_print(const profile_t *p, FILE *f);

/* Every keyword the parser knows, one per line, in table order:
 * "Name<TAB>kind<TAB>arguments<TAB>default", kind being sshd, sshmock,
 * alias or ignored. The unit tests check the reference documentation
 * against it. */
void profile_print_keywords(FILE *f);

/* The matrix entries for a client (NULL when the profile has none). */
const profile_expect_t *profile_expect_find(const profile_t *p, const char *client);
const profile_client_opts_t *profile_client_options_find(const profile_t *p, const char *client);
const profile_client_opts_t *profile_client_fix_find(const profile_t *p, const char *client);
/* The Said lines of a client (NULL when the profile has none). */
const profile_said_t *profile_said_find(const profile_t *p, const char *client);
const char *profile_matrix_auth_name(profile_matrix_auth_t a);

const profile_account_t *profile_account_find(const profile_t *p, const char *user);

/* The canned response for a command line (the default one when none matches). */
const profile_exec_t *profile_exec_find(const profile_t *p, const char *command);

#endif /* SSHMOCK_PROFILE_H */
