/*
 * wire: what happens to the bytes on the relay. Every chunk of either
 * direction is fed to the tap (tap.h), which reports the protocol units of
 * the cleartext phase; the fault engine (fault.h) acts exactly at the
 * boundaries of those units; the event log gets the client's
 * identification, both KEXINITs with their HASSH, and, when the two offers
 * have nothing in common, a diagnosis with the fix on either side.
 *
 * The server's bytes leave through wire__emit() only, so holding them
 * (delay, throttle), dropping them (stall, close) and corrupting them
 * happen in one place.
 */
#ifndef SSHMOCK_WIRE_H
#define SSHMOCK_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "wire/fault.h"
#include "net/relay.h"
#include "wire/tap.h"
#include "base/util.h"

#define WIRE_MAX_RULES FAULT_MAX_RULES

struct conn_s;

typedef struct wire_s {
    tap_t tap;
    uint8_t fires[WIRE_MAX_RULES]; /* decided at accept, per profile rule */
    int cut;              /* the server's bytes are dropped from now on */
    int drop_c2s;         /* the client's bytes are dropped from now on */
    int hold;             /* the server's bytes are queued (delay, throttle) */
    util_buf_t held;
    uint32_t corrupt_left;
    uint32_t throttle_bps;
    int ident_rewrite;    /* hold the server's identification to replace it */
    int c2s_wait_kexinit; /* the client's bytes after its identification wait ... */
    util_buf_t c2s_held;  /* ... here until the server's KEXINIT is out */
    util_buf_t ident_held;
    int ev_pending;       /* a tap event to act on once its unit is out */
    tap_event_kind_t ev_kind;
    tap_dir_t ev_dir;
    int deferred[FAULT_STAGE__COUNT]; /* stages reached inside libssh */
    uint64_t watermark;   /* s2c byte count at which the deferred stages run */
    int watermark_set;
    int diag_done;
    int reset_pending;    /* an accept-stage reset waits for the client's first bytes */
    int ident_stage_pending; /* server-ident rules wait for the client's identification */
    int ident_out;        /* the server's identification reached the client */
    int client_answered;  /* the client sent bytes after its identification */
    int hangup_pending;   /* a hang-up waits for the client's answer (see wire__hang_up) */
    char hangup_reason[128];
    uv_timer_t timer;     /* delay, throttle ticks, stall's end */
} wire_t;

/* Called once per connection, at accept. Decides which rules fire for it.
 * Returns 0; the timer is a handle the connection must close. */
int wire_init(struct conn_s *c);
void wire_free(struct conn_s *c);

/* Runs the rules of a stage. For stages reached on the wire it is called
 * by wire itself; conn calls it for accept. */
void wire_stage(struct conn_s *c, fault_stage_t stage);

/* A stage reached inside libssh (auth success, channel open): it runs once
 * the client has been sent everything libssh wrote before it. */
void wire_stage_after_output(struct conn_s *c, fault_stage_t stage);

/* After each libssh run: fixes the watermark for deferred stages. */
void wire_after_libssh(struct conn_s *c);

/* A chunk from the relay (ownership of buf passes). */
void wire_on_data(struct conn_s *c, relay_dir_t dir, char *buf, size_t len);

#endif /* SSHMOCK_WIRE_H */
