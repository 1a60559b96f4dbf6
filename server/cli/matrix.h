/*
 * matrix: which clients and client configurations can talk to which
 * servers, and what exactly each one says when it can't.
 *
 * Every selected profile is served on a free loopback port, all on one
 * libuv loop; each (profile, client) cell runs the client's driver
 * (client-tests/drivers/) as a child process, at most `jobs` at a time and
 * each under a timeout, and checks what the real client printed and its
 * exit status against the profile's Expect line for that client. With
 * fixes, a failing cell is run again with the client's ClientFix options.
 */
#ifndef SSHMOCK_MATRIX_H
#define SSHMOCK_MATRIX_H

#include <stddef.h>

#define MATRIX_EXIT_OK 0        /* every expectation held */
#define MATRIX_EXIT_MISMATCH 1  /* some did not, or a fix did not work */
#define MATRIX_EXIT_USAGE 2
#define MATRIX_EXIT_SKIPPED 77  /* every client asked for is missing */

typedef struct matrix_client_s {
    char *name;      /* column: "openssh", or a custom client's name */
    char *model;     /* the built-in client whose driver and expectations it uses */
    char *command;   /* a custom client's command (SSHMOCK_CLIENT_CMD), or NULL */
} matrix_client_t;

typedef struct matrix_options_s {
    char **profiles;           /* paths */
    size_t nprofiles;
    matrix_client_t *clients;
    size_t nclients;
    int fixes;
    int strict;                /* a cell without an Expect line fails */
    int jobs;
    int timeout;               /* seconds, given to each client */
    const char *json_path;
    const char *junit_path;
    const char *html_path;
    const char *state_dir;
    const char *driver_dir;
    int quiet;                 /* no progress lines */
} matrix_options_t;

int matrix_run(const matrix_options_t *o);

#endif /* SSHMOCK_MATRIX_H */
