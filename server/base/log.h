/*
 * log: the event log. One line per event, for a person on stderr
 * ("KEY=value", greppable, like endlessh) and, optionally, for a program as
 * JSON Lines. Every line carries a UTC timestamp, the connection id (0 for
 * server-wide events) and the event name; the rest is key/value pairs.
 *
 *     log_event(log, conn_id, "auth", "user", u, "method", "password",
 *               "result", "failure", NULL);
 *
 * Values are strings; a NULL value skips its pair. Keys must be plain
 * identifiers. One log_t belongs to one server (one loop thread), so there
 * is no locking here; stderr lines from several embedded servers may
 * interleave only at line granularity (one fwrite per line).
 */
#ifndef SSHMOCK_LOG_H
#define SSHMOCK_LOG_H

#include <stdint.h>
#include <stdio.h>

typedef struct log_s {
    FILE *human;   /* NULL: no human-readable lines */
    FILE *json;    /* NULL: no JSON Lines */
    int own_json;  /* json was opened by log_open and is closed by log_close */
    const char *profile; /* the profile's name, on every JSON line */
} log_t;

/* human may be NULL (quiet); json_path may be NULL. Returns 0 or -1 (errno). */
int log_open(log_t *log, FILE *human, const char *json_path, const char *profile);
void log_close(log_t *log);

void log_event(log_t *log, uint64_t conn, const char *event, ...)
    __attribute__((sentinel));

#endif /* SSHMOCK_LOG_H */
