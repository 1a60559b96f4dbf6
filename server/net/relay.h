/*
 * relay: a pipe between two libuv streams, A and B. Bytes read from A go
 * to B (RELAY_C2S), bytes read from B go to A (RELAY_S2C); in sshmock A is
 * the client's TCP socket and B our end of libssh's socketpair, but the
 * relay knows nothing of connections, SSH or faults.
 *
 * Every chunk read is handed to the filter (relay_ops_t.on_data), which
 * owns it from then on and forwards what it wants with relay_write(), now
 * or later. A read is made into one scratch buffer per thread and copied
 * into a buffer of its exact size, so a connection that trickles small
 * chunks pins only the bytes it sent, never a whole read buffer each.
 *
 * Backpressure, per direction: when what waits for the destination (its
 * write queue plus what the filter says it holds, relay_set_held) passes
 * RELAY_HIGH_WATER, the source stops being read until that drops below
 * RELAY_LOW_WATER. A client that never reads therefore stops the relay
 * reading libssh, libssh's socket fills and libssh stops writing: memory
 * stays bounded whether the bytes sit in libuv's queue or in the filter.
 * A is the side that asks: while what goes back to A is backed up, A is not
 * read either, so a client cannot pile up replies inside libssh by sending
 * requests it never reads the answers to.
 */
#ifndef SSHMOCK_RELAY_H
#define SSHMOCK_RELAY_H

#include <stddef.h>
#include <uv.h>

#define RELAY_HIGH_WATER (256u * 1024u)
#define RELAY_LOW_WATER (64u * 1024u)
#define RELAY_READ_SIZE (64u * 1024u)

typedef enum {
    RELAY_C2S = 0, /* read from A, written to B (client -> libssh) */
    RELAY_S2C = 1  /* read from B, written to A (libssh -> client) */
} relay_dir_t;

typedef enum {
    RELAY_OP_READ,  /* reading the source of the direction failed */
    RELAY_OP_WRITE  /* writing to its destination failed */
} relay_op_t;

typedef struct relay_ops_s {
    /* A chunk read in dir; the callee owns buf (malloc'd, exactly len). */
    void (*on_data)(void *ud, relay_dir_t dir, char *buf, size_t len);
    /* The source of dir reached its end; it is not read any more. */
    void (*on_eof)(void *ud, relay_dir_t dir);
    /* A read or a write of dir failed (libuv status). After a read error
     * the source is not read any more. */
    void (*on_error)(void *ud, relay_dir_t dir, relay_op_t op, int status);
} relay_ops_t;

typedef struct relay_s {
    uv_stream_t *end[2];      /* A, B; owned (and closed) by the caller */
    const relay_ops_t *ops;
    void *ud;
    size_t held[2];           /* bytes of dir the filter holds */
    unsigned paused : 2;      /* bit dir: backpressure stopped its source */
    unsigned backed : 2;      /* bit dir: its destination is above high water */
    unsigned ended : 2;       /* bit dir: its source gave EOF or an error */
} relay_t;

/* Takes over a->data and b->data (the relay finds itself through them). */
void relay_init(relay_t *r, uv_stream_t *a, uv_stream_t *b, const relay_ops_t *ops, void *ud);

/* Sets the end that is the source of dir, for an owner that makes it
 * later (b may be NULL at relay_init until then: writes to it are
 * dropped, and backpressure only records that it would stop it). */
void relay_set_end(relay_t *r, relay_dir_t dir, uv_stream_t *s);

/* Starts reading both ends. */
int relay_start(relay_t *r);

/* Starts reading the source of dir only, for an owner that opens the other
 * end later (sshmock opens libssh's socketpair at the client's first byte). */
int relay_start_one(relay_t *r, relay_dir_t dir);

/* Writes to the destination of dir; takes ownership of buf. A failure is
 * also reported through on_error (RELAY_OP_WRITE). */
int relay_write(relay_t *r, relay_dir_t dir, char *buf, size_t len);

/* The filter now holds n bytes of dir that it will write later. */
void relay_set_held(relay_t *r, relay_dir_t dir, size_t n);

/* Reads the source of dir again now, even if backpressure had paused it,
 * so that the last words of a closing peer get through (the caller bounds
 * the wait). */
void relay_drain(relay_t *r, relay_dir_t dir);

/* Whether backpressure has stopped reading the source of dir. */
int relay_paused(const relay_t *r, relay_dir_t dir);

#endif /* SSHMOCK_RELAY_H */
