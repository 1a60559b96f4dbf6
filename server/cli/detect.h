/*
 * detect: what kind of text a ticket holds (a client's -v output, PuTTY's
 * event log, sshd -T, ssh-audit's JSON, nmap's output, bare error lines).
 * import turns a server's description into a profile and diagnose turns a
 * client's failure into a class; both start by asking this.
 */
#ifndef SSHMOCK_DETECT_H
#define SSHMOCK_DETECT_H

#include <stddef.h>

typedef enum {
    DETECT_FMT_UNKNOWN = 0,
    DETECT_FMT_OPENSSH,    /* ssh -v, -vv, -vvv (or just its error lines) */
    DETECT_FMT_PUTTY,      /* PuTTY's event log, plink -v */
    DETECT_FMT_SSHD_T,     /* sshd -T */
    DETECT_FMT_SSH_AUDIT,  /* ssh-audit -j */
    DETECT_FMT_NMAP,       /* nmap --script ssh2-enum-algos,ssh-hostkey */
    DETECT_FMT_ERRORS,     /* another client's error lines (dbclient, paramiko...) */
    DETECT_FMT_CAPTURE     /* sshmock capture of a live server */
} detect_format_t;

/* "OpenSSH client output (ssh -v)", ... for messages. */
const char *detect_format_name(detect_format_t f);

/* Detects the format of len bytes of text (DETECT_FMT_UNKNOWN: none). */
detect_format_t detect_format(const char *text, size_t len);

#endif /* SSHMOCK_DETECT_H */
