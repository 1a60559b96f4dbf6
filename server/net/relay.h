/*
 * relay: moves bytes between the client's TCP socket and our end of the
 * socketpair whose other end libssh owns.
 *
 * Every chunk passes through relay_on_data() before it is forwarded: that
 * is the seam where the wire tap (which reads the cleartext SSH phase) and
 * the fault engine (which delays, drops, corrupts or cuts) sit. Buffers are
 * handed along without copying and freed when their write completes.
 *
 * Backpressure: when one side's write queue passes RELAY_HIGH_WATER, the
 * other side stops being read until the queue drains below
 * RELAY_LOW_WATER, so a slow client cannot make us buffer without bound.
 */
#ifndef SSHMOCK_RELAY_H
#define SSHMOCK_RELAY_H

#include <stddef.h>

#define RELAY_HIGH_WATER (256u * 1024u)
#define RELAY_LOW_WATER (64u * 1024u)
#define RELAY_READ_SIZE (64u * 1024u)

struct conn_s;

typedef enum {
    RELAY_C2S, /* client -> libssh */
    RELAY_S2C  /* libssh -> client */
} relay_dir_t;

int relay_start(struct conn_s *c);

/* A chunk read in direction dir; takes ownership of buf (malloc'd). */
void relay_on_data(struct conn_s *c, relay_dir_t dir, char *buf, size_t len);

/* While closing: read libssh's end to its EOF even if backpressure had
 * paused it, so its last words reach the client (bounded by the linger
 * timer). */
void relay_drain(struct conn_s *c);

/* Writes to the destination of dir; takes ownership of buf. */
int relay_write(struct conn_s *c, relay_dir_t dir, char *buf, size_t len);

#endif /* SSHMOCK_RELAY_H */
