/*
 * matrix internals, shared by its parts:
 *
 *   matrix.c         setup, the run as a whole, teardown
 *   matrix_exec.c    scheduling and the child processes (drivers)
 *   matrix_eval.c    the verdict of a cell, and the one description of an
 *                    expectation every report uses
 *   matrix_report.c  the terminal table and the --json, --junit, --html files
 */
#ifndef SSHMOCK_MATRIX_INT_H
#define SSHMOCK_MATRIX_INT_H

#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "base/util.h"
#include "cli/matrix.h"
#include "net/server.h"
#include "profile/profile.h"

#define MATRIX_COMMAND "echo hello"
#define MATRIX_MARKER "hello"

typedef enum {
    MATRIX_PHASE_PRE,   /* records the host key (MatrixKnownHost) */
    MATRIX_PHASE_MAIN,
    MATRIX_PHASE_FIX,
    MATRIX_PHASE_DONE
} matrix_phase_t;

/* What the server saw of one run (matrix_seen.c). */
typedef struct matrix_seen_s {
    int conns;            /* the client's connections it accepted */
    const char *stage;    /* where they got to, in Expect's stage words; NULL: no log */
    int client_left;      /* kex: the client closed, the server saw no failure */
    int auth_tried;       /* auth: the client asked to authenticate */
    int cannot_play;      /* the client picked an offer-only algorithm (wire.c) */
    util_buf_t saw;       /* the events, one line per connection, for reports */
} matrix_seen_t;

/* What one run of a client gave. */
typedef struct matrix_result_s {
    int ran;
    int skipped;          /* the driver says the client is not installed */
    int connected;        /* exit 0 and the command's output came back */
    int timed_out;        /* we killed it */
    long exit_status;
    int term_signal;
    double seconds;
    util_buf_t out;
    util_buf_t err;
    char message[512];    /* the line that says what happened */
    matrix_seen_t seen;
} matrix_result_t;

typedef struct matrix_cell_s {
    size_t profile;
    size_t client;
    matrix_phase_t phase;
    int running;
    char known_hosts[512];
    char events[512];     /* its server's event log (JSON Lines) */
    matrix_result_t main;
    matrix_result_t fix;
    int has_expect;
    int expect_ok;        /* the main run did what the profile says */
    int stage_ok;         /* its failure ended where the Expect line says */
    int fix_tried;
} matrix_cell_t;

typedef struct matrix_s {
    const matrix_options_t *o;
    uv_loop_t *loop;
    profile_t **profiles; /* one per profile, for the reports */
    size_t nprofiles;     /* loaded */
    server_t *servers;    /* one per cell */
    size_t nservers;      /* initialised */
    int *profile_busy;    /* a MatrixHold profile runs one cell at a time */
    matrix_cell_t *cells;
    size_t ncells;
    size_t running;
    size_t finished_runs;
    size_t total_runs;
    char workdir[256];
    char key_ed25519[300];
    char key_rsa[300];
    uint64_t started_ms;
    int tty;
    char build_env[600];  /* SSHMOCK_BUILD_DIR=<the directory sshmock runs from> */
} matrix_t;

/* The counts a summary, an exit status and the HTML header need. */
typedef struct matrix_tally_s {
    size_t ok;
    size_t mismatches;
    size_t unchecked;
    size_t skipped;
    size_t differs;
    size_t fixes_ok;
    size_t fixes_bad;
    size_t unplayable;       /* main runs sshmock cannot play (offer-only) */
    size_t fixes_unplayable; /* fix runs that ran into an offer-only algorithm */
} matrix_tally_t;

/* --- matrix_exec.c --------------------------------------------------------- */

/* Starts runs until `jobs` are running; stops the servers when all is done. */
void matrix_exec_schedule(matrix_t *m);

/* A driver's environment: environ_in less SSH_AUTH_SOCK and any
 * SSHMOCK_CLIENT_CMD, then build_env ("SSHMOCK_BUILD_DIR=...", unless the
 * environment has one) and, for a custom client, SSHMOCK_CLIENT_CMD=command
 * in *clientcmd. No limit on the number of variables. The caller frees the
 * array and *clientcmd (the other strings are borrowed). NULL: no memory. */
char **matrix_exec_env(char **environ_in, const char *build_env, const char *command,
                       char **clientcmd);

/* --- matrix_eval.c --------------------------------------------------------- */

const profile_t *matrix_cell_profile(const matrix_t *m, const matrix_cell_t *c);
server_t *matrix_cell_server(matrix_t *m, const matrix_cell_t *c);
const matrix_client_t *matrix_cell_client(const matrix_t *m, const matrix_cell_t *c);
const profile_expect_t *matrix_cell_expect(const matrix_t *m, const matrix_cell_t *c);

/* A custom client (a user's own command) is compared with its model's
 * expectations: where it does otherwise, that is what the user came to
 * learn, not a failure. */
int matrix_cell_is_custom(const matrix_t *m, const matrix_cell_t *c);

/* Fills in what a finished run means (connected, skipped, its message)
 * and, for the main run, whether the cell's expectation held. */
void matrix_cell_evaluate(matrix_t *m, matrix_cell_t *c, matrix_result_t *r,
                          matrix_phase_t phase);

/* The main run's expectation did not hold (for a stock client: a failure). */
int matrix_cell_mismatch(const matrix_t *m, const matrix_cell_t *c);
/* The client picked an algorithm the profile offers but no linked engine
 * implements: sshmock cannot play what the real server would do, so the
 * cell is neither a pass nor a failure of the client ("cannot be played"),
 * counted apart, and no failure of the matrix, not even under --strict. */
int matrix_cell_unplayable(const matrix_t *m, const matrix_cell_t *c);
int matrix_fix_unplayable(const matrix_t *m, const matrix_cell_t *c);
/* The client ran, but the profile has no Expect line for it. */
int matrix_cell_unchecked(const matrix_t *m, const matrix_cell_t *c);
/* A failure of the matrix: a mismatch of a stock client, a cell without
 * an expectation under --strict, or a fix that does not work. */
int matrix_cell_failed(const matrix_t *m, const matrix_cell_t *c);

/* "ok", "mismatch", "differs", "unchecked", "skipped" or "cannot be played". */
const char *matrix_cell_verdict(const matrix_t *m, const matrix_cell_t *c);

void matrix_tally(const matrix_t *m, matrix_tally_t *t);

/* How an expectation is described, the one wording every report uses. */
typedef enum {
    MATRIX_DESCRIBE_SHORT,   /* "connect", "fail:kex" (the table's cells) */
    MATRIX_DESCRIBE_STAGE,   /* "connect", "fail at kex" */
    MATRIX_DESCRIBE_FULL     /* "fail at kex, output matching REGEX" */
} matrix_describe_t;

/* Appends the description of e to b; e NULL is "no expectation". */
void matrix_expect_describe(util_buf_t *b, const profile_expect_t *e, matrix_describe_t how);

/* For a cell whose failure ended elsewhere than its Expect line says:
 * "expected to fail at kex, the server saw it end at auth (...)". */
void matrix_cell_stage_describe(util_buf_t *b, const matrix_t *m, const matrix_cell_t *c);

/* --- matrix_seen.c --------------------------------------------------------- */

/* Reads the events of the connections numbered first_conn and up from a
 * cell's event log. Returns 0, or -1 when the log cannot be read. */
int matrix_seen_read(const char *path, uint64_t first_conn, matrix_seen_t *seen);

/* Whether the server's view fits an Expect line's failure stage. */
int matrix_seen_fits(const matrix_seen_t *seen, const char *stage);

/* "auth (keys in use, no authentication request)": the server's view. */
void matrix_seen_describe(util_buf_t *b, const matrix_seen_t *seen);

/* --- matrix_report.c ------------------------------------------------------- */

/* The table, the cells not as expected, the summary, on f. */
void matrix_report_terminal(const matrix_t *m, double wall, FILE *f);

/* Writes every report file the options ask for. Returns 0 or -1. */
int matrix_report_files(const matrix_t *m, double wall);

#endif /* SSHMOCK_MATRIX_INT_H */
