/*
 * diagnose: from what a client printed (ssh -v..-vvv, PuTTY's event log,
 * plink, dbclient, paramiko/asyncssh logs, node ssh2, libssh, or just the
 * error line) or from sshmock's own JSON event log, name the failure class,
 * the stage where the connection ended, the shipped profile that plays it,
 * and the fix on either side in the words of `sshmock explain`.
 *
 * The words each client prints are matched as fixed substrings, line by
 * line (diagnose_rules.c): they were read from the real clients' output in
 * the client matrix, and a fixed string cannot be fooled by a regex
 * metacharacter in a log.
 */
#ifndef SSHMOCK_DIAGNOSE_H
#define SSHMOCK_DIAGNOSE_H

#include <stddef.h>
#include <stdio.h>

/* How far the client got, from its own progress lines. */
typedef enum {
    DIAG_PROGRESS_NONE = 0,   /* nothing said */
    DIAG_PROGRESS_TCP,        /* connected */
    DIAG_PROGRESS_IDENT_SENT, /* sent its identification */
    DIAG_PROGRESS_IDENT_RECV, /* got the server's identification */
    DIAG_PROGRESS_KEX,        /* key exchange under way (server KEXINIT seen) */
    DIAG_PROGRESS_NEWKEYS,    /* keys in use */
    DIAG_PROGRESS_AUTH        /* authentication under way */
} diag_progress_t;

/* One failure class. */
typedef struct diag_class_s {
    const char *id;        /* "no-common-kex" */
    const char *stage;     /* tcp, banner, kex, hostkey, auth, session, timeout, unknown */
    const char *summary;   /* one line, for people */
    const char *profile;   /* the shipped profile that plays it, NULL if none */
    const char *also;      /* other shipped profiles that play the same output, or NULL */
} diag_class_t;

/* A signature: a fixed string some client prints for a class. */
typedef struct diag_sig_s {
    const char *client;    /* who prints it (profile/clients.h names), NULL: several */
    const char *cls;       /* class id */
    const char *needle;    /* fixed substring of one line */
    const char *needle2;   /* and this one on the same line (NULL: none) */
} diag_sig_t;

typedef struct diag_marker_s {
    const char *client;
    diag_progress_t level;
    const char *needle;
} diag_marker_t;

extern const diag_class_t diag_classes[];
extern const size_t diag_nclasses;
extern const diag_sig_t diag_sigs[];   /* in priority order: the first that matches wins */
extern const size_t diag_nsigs;
extern const diag_marker_t diag_markers[];
extern const size_t diag_nmarkers;
extern const diag_marker_t diag_client_marks[]; /* level unused: which client wrote it */
extern const size_t diag_nclient_marks;

const diag_class_t *diag_class_find(const char *id);

typedef struct diagnose_result_s {
    const diag_class_t *cls;   /* NULL: no failure recognised */
    const char *client;        /* NULL: could not tell */
    diag_progress_t progress;
    int line;                  /* 1-based line of the evidence, 0 if none */
    char evidence[256];        /* that line (trimmed) */
    char offer_kind[32];       /* "key exchange method", ... when the client quoted an offer */
    char offer[512];           /* the server's offer it quoted ("Their offer: ...") */
    char source[32];           /* "client output" or "sshmock event log" */
    char played_by[128];       /* event log: the profile that was served */
} diagnose_result_t;

/* Diagnoses len bytes of text. Returns 0 when a failure class was found,
 * 1 when none, -1 when the input is not text (errbuf says why). */
int diagnose_text(const char *text, size_t len, diagnose_result_t *r, char *errbuf,
                  size_t errlen);

/* Prints a result as `sshmock diagnose` does. */
void diagnose_print(const diagnose_result_t *r, FILE *out);

/* sshmock diagnose FILE|- : exit 0 diagnosed, 1 no failure recognised,
 * 2 usage or unreadable input. */
int diagnose_main(int argc, char **argv);

#endif /* SSHMOCK_DIAGNOSE_H */
