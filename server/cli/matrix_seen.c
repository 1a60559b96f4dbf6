/*
 * matrix_seen: what the server saw of a run, from the cell's event log
 * (the JSON Lines of base/log.c), and whether that fits the stage an
 * Expect line names.
 *
 * The server cannot see everything a client does. What it can tell is how
 * far the client's connection got, and who gave up:
 *
 *   tcp      no connection reached the server during the run
 *   banner   the server ended the connection before its identification
 *            (a Fault at accept, MaxStartups), or the client left without
 *            sending its own
 *   kex      after the identification exchange, before the key exchange
 *            was done. Either the server saw the key exchange fail (no
 *            common algorithm, no host key, a key exchange error, a Fault
 *            that cut the connection after the server's identification:
 *            the client then already waited for the key exchange), or the
 *            client left without the server seeing why: "the client left"
 *   auth     keys are in use, the client did not authenticate (it tried,
 *            or it never asked)
 *   session  the client authenticated
 *   timeout  a Fault stalled the connection: the client's own timeout
 *            ended it, wherever that was
 *
 * Apart from the stage: whether the server said it cannot play what the
 * client picked (the "cannot_play" event: an offer-only algorithm).
 *
 * When the client left during the key exchange, the server cannot tell
 * why: a client that rejects the server's identification (SSH-1.5, say),
 * one that finds no algorithm it accepts in the server's KEXINIT (and may
 * leave before sending its own), and one that rejects the host key in the
 * server's key exchange reply all just close. And some clients check the
 * host key only once the key exchange is done. So a stage fits these
 * views (matrix_seen_fits):
 *
 *   tcp      tcp
 *   banner   banner, or kex when the client left
 *   kex      kex
 *   hostkey  kex when the client left, or auth with no authentication
 *            request (paramiko and libssh check the key after the key
 *            exchange)
 *   auth     auth
 *   session  session
 *   timeout  timeout
 */
#include "cli/matrix_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How far one connection got, in order. */
typedef enum {
    MATRIX_SEEN_TCP,
    MATRIX_SEEN_BANNER,
    MATRIX_SEEN_KEX,
    MATRIX_SEEN_AUTH,
    MATRIX_SEEN_SESSION,
    MATRIX_SEEN_TIMEOUT
} matrix_seen_stage_t;

static const char *const matrix__stage_names[] = {
    "tcp", "banner", "kex", "auth", "session", "timeout",
};

/* One event line's fields; values point into the line (unescaped in place). */
#define MATRIX_SEEN_MAX_FIELDS 24
typedef struct matrix_event_s {
    const char *key[MATRIX_SEEN_MAX_FIELDS];
    const char *val[MATRIX_SEEN_MAX_FIELDS];
    int n;
} matrix_event_t;

/* Reads a JSON string starting after its opening quote, unescaping in
 * place; returns the character after the closing quote, or NULL. */
static char *
matrix__json_string(char *p, const char **out)
{
    char *w = p;

    *out = p;
    while (*p != '\0' && *p != '"') {
        if (*p == '\\' && p[1] != '\0') {
            p++;
            switch (*p) {
            case 'n': *w++ = '\n'; break;
            case 't': *w++ = '\t'; break;
            case 'r': *w++ = '\r'; break;
            case 'u': *w++ = '?'; p += strspn(p + 1, "0123456789abcdefABCDEF") > 3 ? 4 : 0; break;
            default: *w++ = *p; /* \" \\ \/ */
            }
            p++;
        } else {
            *w++ = *p++;
        }
    }
    if (*p != '"') {
        return NULL;
    }
    *w = '\0';
    return p + 1;
}

/* The log's lines are flat objects of strings and numbers. Returns 0, or
 * -1 for a line that is not one. */
static int
matrix__event_parse(char *line, matrix_event_t *ev)
{
    char *p = line;

    ev->n = 0;
    if (*p++ != '{') {
        return -1;
    }
    while (*p != '}' && ev->n < MATRIX_SEEN_MAX_FIELDS) {
        const char *k = NULL;
        const char *v = NULL;
        if (*p++ != '"' || (p = matrix__json_string(p, &k)) == NULL || *p++ != ':') {
            return -1;
        }
        if (*p == '"') {
            if ((p = matrix__json_string(p + 1, &v)) == NULL) {
                return -1;
            }
        } else {
            v = p; /* a number: up to the next , or } */
            p += strcspn(p, ",}");
        }
        if (*p != ',' && *p != '}') {
            return -1;
        }
        ev->key[ev->n] = k;
        ev->val[ev->n] = v;
        ev->n++;
        if (*p == '}') {
            *p = '\0'; /* ends a number; after a string it is past the value */
            break;
        }
        *p++ = '\0';
    }
    return 0;
}

static const char *
matrix__event_get(const matrix_event_t *ev, const char *key)
{
    int i;

    for (i = 0; i < ev->n; i++) {
        if (strcmp(ev->key[i], key) == 0) {
            return ev->val[i];
        }
    }
    return NULL;
}

/* One connection as the events tell it. */
typedef struct matrix_conn_view_s {
    uint64_t id;
    int client_ident;
    int kex_failed;      /* the server saw the key exchange fail */
    int closed_by_client;
    int kex_done;
    int authenticated;
    int auth_tried;
    int stalled;
    int cannot_play;
} matrix_conn_view_t;

static matrix_seen_stage_t
matrix__conn_stage(const matrix_conn_view_t *cv)
{
    if (cv->stalled) {
        return MATRIX_SEEN_TIMEOUT;
    }
    if (cv->authenticated) {
        return MATRIX_SEEN_SESSION;
    }
    if (cv->kex_done) {
        return MATRIX_SEEN_AUTH;
    }
    if (cv->kex_failed || (cv->closed_by_client && cv->client_ident)) {
        return MATRIX_SEEN_KEX;
    }
    return MATRIX_SEEN_BANNER;
}

/* Folds one event into its connection's view and the run's account. */
static void
matrix__seen_event(matrix_conn_view_t *cv, const matrix_event_t *ev, util_buf_t *saw)
{
    const char *name = matrix__event_get(ev, "event");
    const char *v = NULL;

    if (name == NULL) {
        return;
    }
    util_buf_printf(saw, " %s", name);
    if (strcmp(name, "client_ident") == 0) {
        cv->client_ident = 1;
    } else if (strcmp(name, "negotiation_failed") == 0 || strcmp(name, "no_hostkey") == 0) {
        cv->kex_failed = 1;
    } else if (strcmp(name, "cannot_play") == 0) {
        cv->kex_failed = 1;
        cv->cannot_play = 1;
        v = matrix__event_get(ev, "algorithm");
        util_buf_printf(saw, "(%s)", v != NULL ? v : "?");
    } else if (strcmp(name, "kex_failed") == 0) {
        /* The client's DISCONNECT during key exchange lands here too: that
         * is the client leaving, which the close (by client) tells. */
        cv->kex_failed |= (v = matrix__event_get(ev, "reason")) == NULL ||
                          strstr(v, "SSH_MSG_DISCONNECT") == NULL;
    } else if (strcmp(name, "kexinit") == 0) {
        v = matrix__event_get(ev, "from");
        util_buf_printf(saw, "(%s)", v != NULL ? v : "?");
    } else if (strcmp(name, "kex_done") == 0) {
        cv->kex_done = 1;
    } else if (strcmp(name, "auth") == 0) {
        v = matrix__event_get(ev, "result");
        cv->auth_tried = 1;
        cv->authenticated |= v != NULL && strcmp(v, "success") == 0;
        util_buf_printf(saw, "(%s %s)", matrix__event_get(ev, "method"), v != NULL ? v : "?");
    } else if (strcmp(name, "fault") == 0) {
        const char *stage = matrix__event_get(ev, "stage");
        v = matrix__event_get(ev, "action");
        util_buf_printf(saw, "(%s %s)", stage != NULL ? stage : "?", v != NULL ? v : "?");
        if (v != NULL && (strcmp(v, "stall") == 0 || strcmp(v, "drop") == 0)) {
            cv->stalled = 1;
        } else if (v != NULL && stage != NULL && strcmp(stage, "accept") != 0 &&
                   (strcmp(v, "close") == 0 || strcmp(v, "reset") == 0 ||
                    strcmp(v, "exit") == 0 || strcmp(v, "disconnect") == 0)) {
            /* The server cut it once its identification was out: the
             * client was waiting for the key exchange. */
            cv->kex_failed = 1;
        }
    } else if (strcmp(name, "close") == 0) {
        cv->closed_by_client = (v = matrix__event_get(ev, "by")) != NULL && strcmp(v, "client") == 0;
        cv->authenticated |= (v = matrix__event_get(ev, "state")) != NULL && strcmp(v, "open") == 0;
        util_buf_printf(saw, "(by %s, state %s: %s)", matrix__event_get(ev, "by"),
                        v != NULL ? v : "?", matrix__event_get(ev, "reason"));
    } else if ((v = matrix__event_get(ev, "reason")) != NULL) {
        util_buf_printf(saw, "(%s)", v);
    }
}

/* A run's client makes a connection or two (a retry); more are counted
 * but not told apart. */
#define MATRIX_SEEN_MAX_CONNS 8

static matrix_conn_view_t *
matrix__view_find(matrix_conn_view_t *views, size_t *n, uint64_t id)
{
    size_t i;

    for (i = 0; i < *n; i++) {
        if (views[i].id == id) {
            return &views[i];
        }
    }
    if (*n == MATRIX_SEEN_MAX_CONNS) {
        return NULL;
    }
    memset(&views[*n], 0, sizeof views[*n]);
    views[*n].id = id;
    return &views[(*n)++];
}

int
matrix_seen_read(const char *path, uint64_t first_conn, matrix_seen_t *seen)
{
    FILE *f = fopen(path, "r");
    matrix_conn_view_t views[MATRIX_SEEN_MAX_CONNS];
    util_buf_t saws[MATRIX_SEEN_MAX_CONNS];
    size_t nviews = 0;
    char *line = NULL;
    size_t cap = 0;
    size_t i;
    int best = MATRIX_SEEN_TCP;

    seen->conns = 0;
    seen->stage = NULL;
    seen->client_left = 0;
    seen->auth_tried = 0;
    seen->cannot_play = 0;
    util_buf_reset(&seen->saw);
    if (f == NULL) {
        return -1;
    }
    memset(saws, 0, sizeof saws);
    while (getline(&line, &cap, f) > 0) {
        matrix_event_t ev;
        matrix_conn_view_t *cv = NULL;
        const char *conn = NULL;
        uint64_t id;
        if (matrix__event_parse(line, &ev) != 0 || (conn = matrix__event_get(&ev, "conn")) == NULL) {
            continue;
        }
        id = strtoull(conn, NULL, 10);
        if (id < first_conn || id == 0) {
            continue; /* server-wide, an earlier run's, or a MatrixHold connection */
        }
        cv = matrix__view_find(views, &nviews, id);
        if (cv != NULL) {
            matrix__seen_event(cv, &ev, &saws[cv - views]);
        }
    }
    free(line);
    fclose(f);
    for (i = 0; i < nviews; i++) {
        int st = (int)matrix__conn_stage(&views[i]);
        if (st > best || i == 0) {
            best = st;
            seen->client_left = st == MATRIX_SEEN_KEX && !views[i].kex_failed &&
                                views[i].closed_by_client;
            seen->auth_tried = views[i].auth_tried;
        }
        seen->cannot_play |= views[i].cannot_play;
        util_buf_printf(&seen->saw, "%sconn %llu:%s", i > 0 ? "\n" : "",
                        (unsigned long long)views[i].id, saws[i].data != NULL ? saws[i].data : "");
        util_buf_free(&saws[i]);
    }
    seen->conns = (int)nviews;
    seen->stage = matrix__stage_names[best];
    return 0;
}

int
matrix_seen_fits(const matrix_seen_t *seen, const char *stage)
{
    const char *at = seen->stage;

    if (at == NULL || stage == NULL) {
        return 1; /* no log to go by: the client's word stands */
    }
    if (strcmp(stage, at) == 0) {
        return 1;
    }
    if (strcmp(stage, "banner") == 0) {
        return strcmp(at, "kex") == 0 && seen->client_left;
    }
    if (strcmp(stage, "hostkey") == 0) {
        return (strcmp(at, "kex") == 0 && seen->client_left) ||
               (strcmp(at, "auth") == 0 && !seen->auth_tried);
    }
    return 0;
}

void
matrix_seen_describe(util_buf_t *b, const matrix_seen_t *seen)
{
    const char *at = seen->stage;

    if (at == NULL) {
        util_buf_puts(b, "nothing (its event log could not be read)");
    } else if (strcmp(at, "tcp") == 0) {
        util_buf_puts(b, "tcp (no connection reached it)");
    } else if (strcmp(at, "banner") == 0) {
        util_buf_puts(b, "banner (the identification exchange did not get through)");
    } else if (strcmp(at, "kex") == 0) {
        util_buf_puts(b, seen->client_left ? "kex (the client left after the identification "
                                             "exchange, before the key exchange was done)"
                                           : "kex (the key exchange failed)");
    } else if (strcmp(at, "auth") == 0) {
        util_buf_puts(b, seen->auth_tried ? "auth (authentication did not succeed)"
                                          : "auth (keys in use, no authentication request)");
    } else if (strcmp(at, "session") == 0) {
        util_buf_puts(b, "session (authenticated)");
    } else {
        util_buf_printf(b, "%s (the server stalled the connection)", at);
    }
}
