/*
 * import: a profile from what a customer sends. The input's format is
 * detected (OpenSSH client -v/-vv/-vvv output, PuTTY's event log or plink
 * -v, `sshd -T`, ssh-audit's JSON, nmap's ssh2-enum-algos and ssh-hostkey
 * output); each format's reader fills an import_t with what the input says
 * and the input line it came from; import_write() turns that into a profile
 * whose comments name those lines, and leaves everything else at the
 * documented defaults. Where the input shows a failure (diagnose's
 * classes), the profile plays it with the matching Fault.
 *
 * Nothing of the input is trusted: lines are bounded, lists are bounded,
 * and the written profile is parsed back (profile_parse) before it is
 * handed out, so a strange input gives an error, never a broken profile.
 */
#ifndef SSHMOCK_IMPORT_H
#define SSHMOCK_IMPORT_H

#include <stddef.h>

#include "base/util.h"
#include "cli/detect.h"
#include "profile/algo.h"


/* A walk over the lines of an input: import_line_next() fills p/len (the
 * line without its end and trailing blanks) and no (1-based), 0 at the end.
 * Start from a zeroed import_line_t. */
typedef struct import_line_s {
    const char *p;
    size_t len;
    int no;
    size_t cursor;
} import_line_t;

int import_line_next(const char *text, size_t len, import_line_t *l);

#define IMPORT_MAX_HOSTKEYS 8
#define IMPORT_SRC_MAX 200

/* One value and where the input said it. */
typedef struct import_val_s {
    char *value;                 /* NULL: the input did not say */
    int line;                    /* 1-based input line, 0 for a JSON path */
    char src[IMPORT_SRC_MAX];    /* that line (or JSON path), shortened */
} import_val_t;

typedef struct import_s {
    detect_format_t format;
    import_val_t ident;                       /* full identification line */
    import_val_t algos[ALGO__COUNT];          /* the server's exact lists */
    import_val_t hostkeys[IMPORT_MAX_HOSTKEYS]; /* "ed25519", "rsa-2048", "ecdsa-256" */
    size_t nhostkeys;
    int hostkeys_exact;                       /* the input names every key (sshd -T) */
    import_val_t auth_methods;                /* "publickey,password" */
    import_val_t max_auth_tries;
    import_val_t login_grace_time;
    import_val_t max_startups;
    import_val_t banner;                      /* the pre-auth banner text */
    const char *banner_file;                  /* where the writer's caller saved it, or NULL */
    import_val_t fault;                       /* "accept close", ... */
    import_val_t hostkey_rotation;            /* "connection" when the key changed */
    import_val_t failure;                     /* diagnose's class id */
    import_val_t moduli_file;                 /* the catalogue's ModuliFile (absolute) */
    util_buf_t notes;                         /* comment lines for the header */
} import_t;



/* Parses text into im (zeroed by the caller or by import_parse). Returns 0,
 * or -1 with a message in err. */
int import_parse(const char *text, size_t len, import_t *im, char *err, size_t errlen);

/* The profile text. `source` names the input in the header comment,
 * `cmdline` is the command line that made it. Returns 0 or -1. */
int import_write(const import_t *im, const char *source, const char *cmdline, util_buf_t *out,
                 char *err, size_t errlen);

void import_free(import_t *im);

/* sshmock import FILE [-o PROFILE]: exit 0 written, 1 nothing usable in
 * the input or the profile could not be made, 2 usage or unreadable input. */
int import_main(int argc, char **argv);

/* --- the readers (import_client.c, import_server.c) --- */

/* Sets a value once (the first the input says wins) from an input line. */
void import_val_set(import_val_t *v, const char *value, size_t n, int line, const char *src,
                    size_t srclen);
/* Adds a host key spec unless one of its type is there. */
void import_hostkey_add(import_t *im, const char *spec, int line, const char *src,
                        size_t srclen);
/* The host key spec ("rsa-2048") of a host key algorithm name, or NULL. */
const char *import_hostkey_spec(const char *alg, int bits, char *buf, size_t size);

int import_openssh(const char *text, size_t len, import_t *im);
int import_putty(const char *text, size_t len, import_t *im);
int import_sshd_t(const char *text, size_t len, import_t *im);
int import_ssh_audit(const char *text, size_t len, import_t *im, char *err, size_t errlen);
int import_nmap(const char *text, size_t len, import_t *im);

/* The Fault (and settings) for the failure diagnose finds in a client's
 * output. */
void import_failure(const char *text, size_t len, import_t *im);

#endif /* SSHMOCK_IMPORT_H */
