#include "wire/wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/algo.h"
#include "profile/engine.h"
#include "wire/offer.h"

#define WIRE_LOG(w, event, ...) log_event((w)->log, (w)->id, (event), __VA_ARGS__)

/* The server hangs up the way a failing box does: nothing more from libssh
 * reaches the client, then FIN or RST.
 *
 * A hang-up after our identification has gone out waits until the client
 * has answered it (its KEXINIT, or any bytes after its identification),
 * WIRE_CLIENT_WAIT_MS at most. The end must not reach a client in the same
 * read as our identification: PuTTY 0.78 notes the EOF on the layer that
 * reads identifications, replaces that layer when the identification is
 * parsed, and the new one never learns of the EOF, so plink waits forever
 * instead of saying "Remote side unexpectedly closed network connection".
 * A client that has answered has parsed our identification. */
static void wire__hang_up(wire_t *w, wire_hangup_t mode, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
wire__hang_up(wire_t *w, wire_hangup_t mode, const char *fmt, ...)
{
    char reason[sizeof w->hangup_reason];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    wire_cut(w);
    if (w->ident_out && !w->client_answered && !w->hangup_pending) {
        w->hangup_pending = 1;
        w->hangup_mode = mode;
        memcpy(w->hangup_reason, reason, sizeof reason);
        w->ops->timer_start(w->ud, WIRE_TIMER_HANGUP, WIRE_CLIENT_WAIT_MS);
        return;
    }
    w->ops->hang_up(w->ud, mode, reason);
}

/* The client has answered, or the wait is over: the held hang-up happens. */
static void
wire__finish_hang_up(wire_t *w)
{
    w->hangup_pending = 0;
    w->ops->timer_stop(w->ud, WIRE_TIMER_HANGUP);
    w->ops->hang_up(w->ud, w->hangup_mode, w->hangup_reason);
}

static void wire__on_tap(tap_t *tap, tap_dir_t dir, const tap_event_t *ev, void *userdata);
static void wire__offer_release(wire_t *w);

void
wire_init(wire_t *w, const profile_t *p, log_t *log, uint64_t id, size_t unauth,
          uint64_t *rng, const wire_ops_t *ops, void *ud)
{
    size_t i;

    memset(w, 0, sizeof *w);
    w->ops = ops;
    w->ud = ud;
    w->profile = p;
    w->log = log;
    w->id = id;
    tap_init(&w->tap, wire__on_tap, w);
    /* What the engine cannot send itself (SSH-1.5; SSH-1.99 with the
     * system engine) is rewritten on its way to the client. */
    w->ident_rewrite = p->identification != NULL &&
                       !engine_sends_identification(p->identification);
    /* A server without host keys dies in key exchange whatever it offers
     * (wire__act_on_event): its offer is libssh's, as before. */
    w->offer_state = p->hostkey_none ? WIRE_OFFER_DONE : WIRE_OFFER_COLLECT;

    for (i = 0; i < p->nfaults && i < WIRE_MAX_RULES; i++) {
        const fault_rule_t *r = &p->faults[i];
        int fire = 0;
        switch (r->when) {
        case FAULT_WHEN_ALWAYS:
            fire = 1;
            break;
        case FAULT_WHEN_EVERY:
            fire = id % r->every == 0;
            break;
        case FAULT_WHEN_PROBABILITY: {
            /* One draw per rule per connection from the rule's own seeded
             * stream, so connection N gets the same answer in every run. */
            uint64_t st = r->seed ^ (id * 0x9e3779b97f4a7c15ull);
            double u = (double)(fault_rng_next(&st) >> 11) / 9007199254740992.0;
            fire = u < r->probability;
            break;
        }
        case FAULT_WHEN_MAXSTARTUPS:
            fire = fault_maxstartups_drop(r->ms_start, r->ms_rate, r->ms_full, unauth,
                                          (unsigned)(fault_rng_next(rng) % 100));
            break;
        }
        w->fires[i] = (uint8_t)fire;
    }
}

void
wire_free(wire_t *w)
{
    tap_free(&w->tap);
    util_buf_free(&w->held);
    util_buf_free(&w->ident_held);
    util_buf_free(&w->c2s_held);
    util_buf_free(&w->kexinit_held);
}

void
wire_cut(wire_t *w)
{
    w->cut = 1;
    if (w->held.len > 0) {
        /* Held bytes would only be dropped when released. */
        util_buf_free(&w->held);
        w->ops->held(w->ud, 0);
    }
}

void
wire_compact(wire_t *w)
{
    util_buf_t *bufs[] = { &w->held, &w->c2s_held, &w->ident_held, &w->kexinit_held };
    size_t i;

    w->compact = 1; /* libssh's NEWKEYS may still be on its way to the tap */
    tap_compact(&w->tap);
    for (i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        if (bufs[i]->len == 0) {
            util_buf_free(bufs[i]);
        }
    }
}

int
wire_keys_in_use(const wire_t *w)
{
    return tap_phase(&w->tap, TAP_DIR_S2C) == TAP_PHASE_ENCRYPTED &&
           tap_phase(&w->tap, TAP_DIR_C2S) == TAP_PHASE_ENCRYPTED;
}

const tap_kexinit_t *
wire_kexinit(const wire_t *w, tap_dir_t dir)
{
    return tap_kexinit(&w->tap, dir);
}

size_t
wire_held(const wire_t *w)
{
    return w->held.len;
}

static int
wire__holding(const wire_t *w)
{
    return w->delaying || w->throttle_bps > 0;
}

/* Hands bytes to the client now, corrupted while a corrupt action is
 * armed. owned, when given, is data's malloc'd buffer and passes on. */
static void
wire__send_client(wire_t *w, const char *data, size_t len, char *owned)
{
    char *buf = owned;

    if (buf == NULL) {
        buf = malloc(len);
        if (buf == NULL) {
            w->ops->close(w->ud, 0, "out of memory in the relay");
            return;
        }
        memcpy(buf, data, len);
    }
    if (w->corrupt_left > 0) {
        /* The middle of the chunk lands inside a packet's ciphertext or MAC
         * whatever the cipher, so the client's integrity check fails. */
        buf[len / 2] ^= 0x5a;
        w->corrupt_left--;
        WIRE_LOG(w, "fault_corrupted", "bytes", "1", NULL);
    }
    w->ops->to_client(w->ud, buf, len);
}

/* The server's bytes for the client: held while a delay or throttle holds
 * them, dropped once cut. */
static void
wire__emit(wire_t *w, const char *data, size_t len, char *owned)
{
    if (w->cut || len == 0) {
        free(owned);
        return;
    }
    if (wire__holding(w) || w->held.len > 0) {
        /* Behind bytes already held, whatever holds them: order is kept. */
        if (util_buf_append(&w->held, data, len) != 0) {
            free(owned);
            w->ops->close(w->ud, 0, "out of memory in the relay");
            return;
        }
        free(owned);
        w->ops->held(w->ud, w->held.len);
        return;
    }
    wire__send_client(w, data, len, owned);
}

static void
wire__release_held(wire_t *w, size_t max)
{
    size_t n = w->held.len < max ? w->held.len : max;

    if (n == 0) {
        return;
    }
    wire__send_client(w, w->held.data, n, NULL);
    util_buf_consume(&w->held, n);
    w->ops->held(w->ud, w->held.len);
}

static void
wire__throttle_tick(wire_t *w)
{
    /* In 64 bits: BYTES_PER_SEC * TICK wraps 32 bits above about 86 MB/s,
     * and size_t is 32 bits on armhf and i386. Capped at what is held, so
     * the narrowing to size_t cannot wrap either. */
    uint64_t quantum = (uint64_t)w->throttle_bps * WIRE_THROTTLE_TICK_MS / 1000;

    if (quantum > w->held.len) {
        quantum = w->held.len;
    }
    if (!w->delaying) {
        wire__release_held(w, quantum > 0 ? (size_t)quantum : 1);
    }
    w->ops->timer_start(w->ud, WIRE_TIMER_THROTTLE, WIRE_THROTTLE_TICK_MS);
}

void
wire_on_timer(wire_t *w, wire_timer_t t)
{
    if (w->ops->closing(w->ud)) {
        return;
    }
    switch (t) {
    case WIRE_TIMER_HANGUP:
        if (w->hangup_pending) {
            wire__finish_hang_up(w);
        }
        break;
    case WIRE_TIMER_IDENT:
        if (w->ident_stage_pending) {
            w->ident_stage_pending = 0;
            wire_stage(w, FAULT_STAGE_SERVER_IDENT);
        }
        break;
    case WIRE_TIMER_RESET:
        if (w->reset_pending && w->exit_pending) {
            /* The client sent nothing: a process that exits leaves nothing
             * unread, and the kernel ends the connection with FIN. */
            w->reset_pending = 0;
            w->exit_pending = 0;
            wire__hang_up(w, WIRE_HANGUP_FIN, "fault: exit at %s", "accept");
        } else if (w->reset_pending) {
            w->reset_pending = 0;
            wire__hang_up(w, WIRE_HANGUP_RST, "fault: reset at %s", "accept");
        }
        break;
    case WIRE_TIMER_STALL:
            w->ops->close(w->ud, 0, "fault: stall ended");
        break;
    case WIRE_TIMER_THROTTLE:
        if (w->throttle_bps > 0) {
            wire__throttle_tick(w);
        }
        break;
    case WIRE_TIMER_DELAY:
        w->delaying = 0;
        if (w->throttle_bps == 0) {
            wire__release_held(w, w->held.len);
        }
        break;
    case WIRE_TIMER_OFFER:
        if (w->offer_state == WIRE_OFFER_WAIT) {
            /* No KEXINIT from the client: libssh's offer goes out as it
             * is, as it did before exact offers (nothing to compare). */
            wire__offer_release(w);
        }
        break;
    default:
        break;
    }
}

static int
wire__run_rule(wire_t *w, const fault_rule_t *r)
{
    const char *stage = fault_stage_name(r->stage);
    const char *action = fault_action_name(r->action);
    util_buf_t pkt = UTIL_BUF_INIT;

    WIRE_LOG(w, "fault", "stage", stage, "action", action, NULL);
    switch (r->action) {
    case FAULT_ACTION_CLOSE:
        wire__hang_up(w, WIRE_HANGUP_FIN, "fault: close at %s", stage);
        return 1;
    case FAULT_ACTION_EXIT:
        wire_cut(w);
        if (tap_bytes(&w->tap, TAP_DIR_C2S) == 0) {
            /* A process that exits before the client has said anything
             * races the client's identification: FIN when it wins, RST
             * when the bytes are in first. Real networks almost always
             * bring the bytes first (the client sends them right behind
             * its ACK, while the server is still accepting, forking or
             * asking its backend), so the exit waits for them and resets;
             * a client that stays silent gets the FIN a silent client
             * gets. */
            w->reset_pending = 1;
            w->exit_pending = 1;
            w->ops->timer_start(w->ud, WIRE_TIMER_RESET, WIRE_CLIENT_WAIT_MS);
            return 1;
        }
        /* The client's latest bytes (its identification, its KEXINIT) are
         * what the dying process left unread: RST. After our identification
         * it still waits for the client's answer (wire__hang_up). */
        wire__hang_up(w, WIRE_HANGUP_RST, "fault: exit at %s", stage);
        return 1;
    case FAULT_ACTION_DROP:
        /* Nothing more either way and no end: the client's own timeout
         * ends it, as behind a firewall that drops the packets. */
        wire_cut(w);
        w->drop_c2s = 1;
        w->ops->stalled(w->ud);
        return 1;
    case FAULT_ACTION_RESET:
        wire_cut(w);
        if (r->stage == FAULT_STAGE_ACCEPT && tap_bytes(&w->tap, TAP_DIR_C2S) == 0) {
            /* An RST sent the instant the connection is accepted can beat
             * the client's own connect() check, and the client then says
             * "connect to host ...: Connection reset" rather than what a
             * reset before the identification looks like ("read:
             * Connection reset by peer"). Clients send their identification
             * at once: reset when it comes, or after a short wait. */
            w->reset_pending = 1;
            w->ops->timer_start(w->ud, WIRE_TIMER_RESET, WIRE_CLIENT_WAIT_MS);
            return 1;
        }
        wire__hang_up(w, WIRE_HANGUP_RST, "fault: reset at %s", stage);
        return 1;
    case FAULT_ACTION_STALL:
        wire_cut(w);
        w->drop_c2s = 1;
        w->ops->stalled(w->ud);
        if (r->ms > 0) {
            w->ops->timer_start(w->ud, WIRE_TIMER_STALL, r->ms);
        }
        return 1;
    case FAULT_ACTION_DELAY:
        w->delaying = 1;
        w->ops->timer_start(w->ud, WIRE_TIMER_DELAY, r->ms);
        return 0;
    case FAULT_ACTION_SEND:
        wire__emit(w, r->data, r->data_len, NULL);
        return 0;
    case FAULT_ACTION_CORRUPT:
        w->corrupt_left += r->n;
        return 0;
    case FAULT_ACTION_THROTTLE:
        if (w->throttle_bps == 0) {
            w->ops->timer_start(w->ud, WIRE_TIMER_THROTTLE, WIRE_THROTTLE_TICK_MS);
        }
        w->throttle_bps = r->n;
        return 0;
    case FAULT_ACTION_DISCONNECT:
        if (tap_phase(&w->tap, TAP_DIR_S2C) != TAP_PHASE_ENCRYPTED) {
            /* In the cleartext phase we can say it ourselves, with any code. */
            if (tap_build_disconnect(&pkt, r->n, r->data) == 0) {
                wire__emit(w, pkt.data, pkt.len, NULL);
            }
            util_buf_free(&pkt);
            wire__hang_up(w, WIRE_HANGUP_FIN, "fault: disconnect at %s", stage);
        } else {
            /* Once keys are in use only the engine can say it: with any
             * code in the bundled engine, reason 11 (by application) in
             * the system's libssh 0.10. */
            w->ops->close(w->ud, UTIL_DISCONNECT_REASON(r->n), r->data);
        }
        return 1;
    default:
        return 0;
    }
}

static int
wire__stage_has_rules(wire_t *w, fault_stage_t stage)
{
    const profile_t *p = w->profile;
    size_t i;

    for (i = 0; i < p->nfaults && i < WIRE_MAX_RULES; i++) {
        if (p->faults[i].stage == stage && w->fires[i]) {
            return 1;
        }
    }
    return 0;
}

void
wire_stage(wire_t *w, fault_stage_t stage)
{
    const profile_t *p = w->profile;
    size_t i;

    if (w->ops->closing(w->ud)) {
        return;
    }
    if (stage == FAULT_STAGE_ACCEPT && p->hostkey_none == PROFILE_HOSTKEY_NONE_DELETED) {
        /* sshd 9.x whose key files were deleted under it: the child it
         * starts for the connection finds no key and exits before its
         * banner, as "Fault accept exit" plays it. */
        static const fault_rule_t exit_rule = { .stage = FAULT_STAGE_ACCEPT,
                                                .action = FAULT_ACTION_EXIT };
        /* Not "no_hostkey", which says key exchange failed: this one never
         * reaches it. */
        WIRE_LOG(w, "no_hostkey_exit", NULL);
        (void)wire__run_rule(w, &exit_rule);
        return;
    }
    for (i = 0; i < p->nfaults && i < WIRE_MAX_RULES; i++) {
        if (p->faults[i].stage == stage && w->fires[i]) {
            if (wire__run_rule(w, &p->faults[i])) {
                return; /* the connection ends or stalls: later rules are moot */
            }
        }
    }
}

void
wire_stage_after_output(wire_t *w, fault_stage_t stage)
{
    const profile_t *p = w->profile;
    size_t i;

    for (i = 0; i < p->nfaults && i < WIRE_MAX_RULES; i++) {
        if (p->faults[i].stage == stage && w->fires[i]) {
            w->deferred[stage] = 1;
            w->watermark_set = 0;
            return;
        }
    }
}

static void
wire__run_deferred(wire_t *w)
{
    int st;

    w->watermark_set = 0;
    for (st = 0; st < FAULT_STAGE__COUNT; st++) {
        if (w->deferred[st]) {
            w->deferred[st] = 0;
            wire_stage(w, (fault_stage_t)st);
        }
    }
}

void
wire_after_libssh(wire_t *w, size_t pending)
{
    int st;
    int any = 0;

    for (st = 0; st < FAULT_STAGE__COUNT; st++) {
        any |= w->deferred[st];
    }
    if (!any || w->watermark_set) {
        return;
    }
    /* What libssh has written so far is either already through the tap or
     * still on its way to us (pending); the stage comes right after it. */
    w->watermark = tap_bytes(&w->tap, TAP_DIR_S2C) + (uint64_t)pending;
    w->watermark_set = 1;
    if (pending == 0) {
        wire__run_deferred(w);
    }
}

/* --- what the tap saw ---------------------------------------------------- */

static const struct {
    tap_kex_list_t list;
    algo_kind_t kind;
    const char *what;     /* as OpenSSH names it in "no matching X found" */
} wire__lists[] = {
    { TAP_KEX_ALGS, ALGO_KEX, "key exchange method" },
    { TAP_KEX_HOSTKEY_ALGS, ALGO_HOSTKEY, "host key type" },
    { TAP_KEX_ENC_C2S, ALGO_CIPHER, "cipher" },
    { TAP_KEX_MAC_C2S, ALGO_MAC, "MAC" },
    { TAP_KEX_COMP_C2S, ALGO__COUNT, "compression method" },
};

/* Both offers are known: if a list has nothing in common, say which, what
 * each side offered, and what would fix it on either side. sk is the offer
 * the client got: libssh's, or the exact one. */
static void
wire__diagnose(wire_t *w, const tap_kexinit_t *sk)
{
    const tap_kexinit_t *ck = tap_kexinit(&w->tap, TAP_DIR_C2S);
    char cipher[128] = "";
    size_t i;

    if (ck == NULL || sk == NULL || w->diag_done) {
        return;
    }
    w->diag_done = 1;
    tap_negotiate(ck->lists[TAP_KEX_ENC_C2S], sk->lists[TAP_KEX_ENC_C2S], cipher, sizeof cipher);
    for (i = 0; i < UTIL_ARRAY_SIZE(wire__lists); i++) {
        const char *cl = ck->lists[wire__lists[i].list];
        const char *sl = sk->lists[wire__lists[i].list];
        util_buf_t cfix = UTIL_BUF_INIT;
        util_buf_t sfix = UTIL_BUF_INIT;
        char first_server[128] = "";
        char *copy = NULL;
        char *save = NULL;
        char *alg = NULL;

        if (wire__lists[i].list == TAP_KEX_MAC_C2S && offer_is_aead(cipher)) {
            continue; /* an AEAD cipher carries its own integrity: MACs are moot */
        }
        if (tap_negotiate(cl, sl, NULL, 0) != 0) {
            continue;
        }
        sscanf(sl, "%127[^,]", first_server);
        if (wire__lists[i].kind == ALGO__COUNT) {
            util_buf_printf(&cfix, "-oCompression=%s", strcmp(first_server, "none") == 0 ? "no" : "yes");
            util_buf_printf(&sfix, "Compression %s", "yes");
        } else {
            util_buf_printf(&cfix, "-o%s=+%s", algo_keyword(wire__lists[i].kind), first_server);
            /* The server-side line adds the client's first choice that this
             * server's libssh can speak. */
            copy = strdup(cl);
            for (alg = copy != NULL ? strtok_r(copy, ",", &save) : NULL; alg != NULL;
                 alg = strtok_r(NULL, ",", &save)) {
                if (algo_is_supported(wire__lists[i].kind, alg)) {
                    util_buf_printf(&sfix, "%s +%s", algo_keyword(wire__lists[i].kind), alg);
                    break;
                }
            }
            free(copy);
            if (sfix.data == NULL) {
                util_buf_printf(&sfix, "(none: this server's libssh speaks none of the client's %ss)",
                                wire__lists[i].what);
            }
        }
        WIRE_LOG(w, "negotiation_failed", "list", tap_kex_list_name(wire__lists[i].list),
                 "what", wire__lists[i].what, "client_offer", cl, "server_offer", sl,
                 "client_fix", cfix.data, "server_fix", sfix.data, NULL);
        util_buf_free(&cfix);
        util_buf_free(&sfix);
    }
}

static void
wire__log_kexinit(wire_t *w, tap_dir_t dir, const tap_kexinit_t *k, const char *hassh,
                  const char *hassh_algorithms)
{
    WIRE_LOG(w, "kexinit", "from", dir == TAP_DIR_C2S ? "client" : "server",
             dir == TAP_DIR_C2S ? "hassh" : "hassh_server", hassh,
             "hassh_algorithms", hassh_algorithms,
             "kex", k->lists[TAP_KEX_ALGS],
             "hostkey", k->lists[TAP_KEX_HOSTKEY_ALGS],
             "ciphers", k->lists[dir == TAP_DIR_C2S ? TAP_KEX_ENC_C2S : TAP_KEX_ENC_S2C],
             "macs", k->lists[dir == TAP_DIR_C2S ? TAP_KEX_MAC_C2S : TAP_KEX_MAC_S2C],
             "compression", k->lists[dir == TAP_DIR_C2S ? TAP_KEX_COMP_C2S : TAP_KEX_COMP_S2C],
             NULL);
}

static void
wire__on_tap(tap_t *tap, tap_dir_t dir, const tap_event_t *ev, void *userdata)
{
    wire_t *w = userdata;

    (void)tap;
    switch (ev->kind) {
    case TAP_EV_IDENT:
        if (dir == TAP_DIR_C2S) {
            WIRE_LOG(w, "client_ident", "ident", ev->ident->line, NULL);
        }
        break;
    case TAP_EV_KEXINIT:
        if (dir == TAP_DIR_S2C && w->offer_state == WIRE_OFFER_COLLECT) {
            break; /* logged once it is known what the client gets */
        }
        wire__log_kexinit(w, dir, ev->kexinit, ev->hassh, ev->hassh_algorithms);
        if (w->offer_state == WIRE_OFFER_DONE && !w->offer_took &&
            tap_kexinit(&w->tap, TAP_DIR_S2C) != NULL) {
            wire__diagnose(w, tap_kexinit(&w->tap, TAP_DIR_S2C));
        }
        break;
    case TAP_EV_DISCONNECT:
        if (dir == TAP_DIR_C2S) {
            char reason[16];
            snprintf(reason, sizeof reason, "%u", ev->reason);
            WIRE_LOG(w, "client_disconnect", "reason", reason,
                     "description", ev->description, NULL);
        }
        break;
    case TAP_EV_ERROR:
        WIRE_LOG(w, "protocol_error", "from", dir == TAP_DIR_C2S ? "client" : "server",
                 "message", ev->message, NULL);
        break;
    default:
        break;
    }
    /* The stage is acted on once the unit that made it is out. */
    w->ev_pending = 1;
    w->ev_kind = ev->kind;
    w->ev_dir = dir;
}

/* --- exact offers ---------------------------------------------------------- */

/* libssh's KEXINIT goes out untouched: the exchange can run, and its hash
 * covers exactly these bytes. */
static void
wire__offer_release(wire_t *w)
{
    const tap_kexinit_t *lk = tap_kexinit(&w->tap, TAP_DIR_S2C);
    const char *algorithms = NULL;
    const char *hassh = tap_dir_hassh(&w->tap, TAP_DIR_S2C, &algorithms);
    char *held = w->kexinit_held.data;
    size_t len = w->kexinit_held.len;

    memset(&w->kexinit_held, 0, sizeof w->kexinit_held);
    w->offer_state = WIRE_OFFER_DONE;
    w->ops->timer_stop(w->ud, WIRE_TIMER_OFFER);
    if (lk != NULL) {
        wire__log_kexinit(w, TAP_DIR_S2C, lk, hassh, algorithms);
        if (tap_kexinit(&w->tap, TAP_DIR_C2S) != NULL) {
            wire__diagnose(w, lk);
        }
    }
    if (held != NULL && len > 0) {
        wire__emit(w, held, len, held);
    } else {
        free(held);
    }
    wire_stage(w, FAULT_STAGE_SERVER_KEXINIT);
}

/* The client gets the exact offer instead of libssh's; libssh never sees
 * the client's KEXINIT and nothing more of libssh's reaches the client. */
static void
wire__offer_take(wire_t *w, const offer_t *o)
{
    util_buf_t pkt = UTIL_BUF_INIT;
    util_buf_t algorithms = UTIL_BUF_INIT;
    char hassh[33] = "";

    w->offer_state = WIRE_OFFER_DONE;
    w->offer_took = 1;
    w->drop_c2s = 1;
    w->ops->timer_stop(w->ud, WIRE_TIMER_OFFER);
    util_buf_free(&w->kexinit_held);
    tap_hassh(&o->k, 1, hassh, &algorithms);
    wire__log_kexinit(w, TAP_DIR_S2C, &o->k, hassh,
                      algorithms.data != NULL ? algorithms.data : "");
    util_buf_free(&algorithms);
    if (tap_build_kexinit(&pkt, &o->k) == 0) {
        wire__emit(w, pkt.data, pkt.len, NULL);
    }
    util_buf_free(&pkt);
    wire__diagnose(w, &o->k);
}

/* Both KEXINITs are in: RFC 4253's negotiation against the exact offer
 * says what the client gets. */
static void
wire__offer_decide(wire_t *w)
{
    const tap_kexinit_t *ck = tap_kexinit(&w->tap, TAP_DIR_C2S);
    const tap_kexinit_t *lk = tap_kexinit(&w->tap, TAP_DIR_S2C);
    offer_result_t r;
    offer_t o;

    if (w->offer_state != WIRE_OFFER_WAIT || ck == NULL || lk == NULL) {
        return;
    }
    if (offer_build(&o, w->profile, lk) < 0) {
        wire__offer_release(w); /* no memory: libssh's offer is still an offer */
        return;
    }
    offer_negotiate(ck, &o.k, &r);
    offer_check_moduli(w->profile, ck, &o.k, &r);
    switch (r.verdict) {
    case OFFER_RUNNABLE:
        wire__offer_release(w);
        break;
    case OFFER_NO_MATCH: {
        /* The client fails as against the real server and says so. sshd
         * gives up as soon as it has the client's KEXINIT, without a
         * DISCONNECT ("Unable to negotiate" is only logged), and so does
         * sshmock: a client that does not check every list at once
         * (asyncssh and the host key list) sees the connection lost, as
         * against sshd. */
        char reason[160];

        wire__offer_take(w, &o);
        wire_stage(w, FAULT_STAGE_SERVER_KEXINIT);
        snprintf(reason, sizeof reason, "key exchange failed: no matching %s",
                 offer_list_what(r.list));
        if (!w->ops->closing(w->ud)) {
            w->ops->close(w->ud, 0, reason);
        }
        break;
    }
    case OFFER_CANNOT_PLAY: {
        /* The client would run an algorithm no linked engine implements.
         * Reason 3 (SSH_DISCONNECT_KEY_EXCHANGE_FAILED): it is the key
         * exchange that cannot go on; the text says why, and that it is
         * sshmock's limit, not the played server's. */
        util_buf_t pkt = UTIL_BUF_INIT;
        char text[256];

        wire__offer_take(w, &o);
        snprintf(text, sizeof text, "sshmock cannot play %s %s (offer-only in this build)",
                 offer_list_what(r.list), r.name);
        WIRE_LOG(w, "cannot_play", "list", tap_kex_list_name(r.list),
                 "what", offer_list_what(r.list), "algorithm", r.name, NULL);
        if (tap_build_disconnect(&pkt, 3, text) == 0) {
            wire__emit(w, pkt.data, pkt.len, NULL);
        }
        util_buf_free(&pkt);
        wire__hang_up(w, WIRE_HANGUP_FIN, "%s", text);
        break;
    }
    }
    offer_free(&o);
}

/* libssh's KEXINIT is whole (and held): it waits for the client's, whose
 * bytes may be waiting for it (c2s_wait_kexinit). */
static void
wire__offer_kexinit_in(wire_t *w)
{
    w->offer_state = WIRE_OFFER_WAIT;
    if (tap_kexinit(&w->tap, TAP_DIR_C2S) != NULL) {
        wire__offer_decide(w);
    } else {
        w->ops->timer_start(w->ud, WIRE_TIMER_OFFER, WIRE_CLIENT_WAIT_MS);
    }
    if (w->c2s_wait_kexinit) {
        char *held = w->c2s_held.data;
        size_t len = w->c2s_held.len;

        w->c2s_wait_kexinit = 0;
        memset(&w->c2s_held, 0, sizeof w->c2s_held);
        if (held != NULL && len > 0) {
            wire_on_data(w, WIRE_C2S, held, len);
        } else {
            free(held);
        }
    }
}

static void
wire__act_on_event(wire_t *w)
{
    int client = w->ev_dir == TAP_DIR_C2S;

    w->ev_pending = 0;
    switch (w->ev_kind) {
    case TAP_EV_IDENT:
        /* libssh answers a client identification with its KEXINIT, but
         * writes it only on its next poll round; a client KEXINIT handed
         * over in the same round is processed first, and when it does not
         * match, libssh gives up with its own offer unsent, so the client
         * cannot say what did not match. Holding the client's next bytes
         * until the server's KEXINIT has passed gives the order a real
         * sshd has. */
        if (client && tap_kexinit(&w->tap, TAP_DIR_S2C) == NULL) {
            w->c2s_wait_kexinit = 1;
        }
        if (!client) {
            w->ident_out = !w->cut && !wire__holding(w) && w->held.len == 0;
        }
        if (!client && tap_ident(&w->tap, TAP_DIR_C2S) == NULL &&
            wire__stage_has_rules(w, FAULT_STAGE_SERVER_IDENT)) {
            /* Clients send their identification as soon as they connect, but
             * under load it can come after ours. The rules of this stage
             * wait for it, WIRE_CLIENT_WAIT_MS at most, so that whatever
             * they send comes after the client's identification every
             * time, as it does from a real server. */
            w->ident_stage_pending = 1;
            w->ops->timer_start(w->ud, WIRE_TIMER_IDENT, WIRE_CLIENT_WAIT_MS);
            break;
        }
        wire_stage(w, client ? FAULT_STAGE_CLIENT_IDENT : FAULT_STAGE_SERVER_IDENT);
        if (client && w->ident_stage_pending) {
            w->ident_stage_pending = 0;
            w->ops->timer_stop(w->ud, WIRE_TIMER_IDENT);
            wire_stage(w, FAULT_STAGE_SERVER_IDENT);
        }
        break;
    case TAP_EV_KEXINIT:
        if (!client && w->offer_state == WIRE_OFFER_COLLECT) {
            wire__offer_kexinit_in(w);
            break;
        }
        if (!client && w->c2s_wait_kexinit) {
            /* The server's offer is out: the client's may go to libssh now. */
            char *held = w->c2s_held.data;
            size_t len = w->c2s_held.len;
            w->c2s_wait_kexinit = 0;
            memset(&w->c2s_held, 0, sizeof w->c2s_held);
            wire_stage(w, FAULT_STAGE_SERVER_KEXINIT);
            if (held != NULL && len > 0) {
                wire_on_data(w, WIRE_C2S, held, len);
            } else {
                free(held);
            }
            break;
        }
        if (client && w->profile->hostkey_none == PROFILE_HOSTKEY_NONE_KEX) {
            /* sshd with no usable host key dies in key exchange, once it has
             * the client's KEXINIT: the client sees the connection close. */
            WIRE_LOG(w, "no_hostkey", NULL);
            wire__hang_up(w, WIRE_HANGUP_FIN, "no host key for key exchange (%s)", "HostKey none");
            break;
        }
        if (!(client && w->client_kexinit_ran)) {
            wire_stage(w, client ? FAULT_STAGE_CLIENT_KEXINIT : FAULT_STAGE_SERVER_KEXINIT);
        }
        break;
    case TAP_EV_NEWKEYS:
        if (!client) {
            wire_stage(w, FAULT_STAGE_NEWKEYS);
        }
        break;
    default:
        break;
    }
}

/* The server's identification, replaced by the profile's when libssh
 * cannot send it (anything but "SSH-2.0-..."). libssh's own line is held
 * until it is whole, then dropped for the profile's. */
static int
wire__ident_piece(wire_t *w, const char *p, size_t n)
{
    const char *id = w->profile->identification;

    if (!w->ident_rewrite || tap_ident(&w->tap, TAP_DIR_S2C) == NULL) {
        if (w->ident_rewrite && tap_phase(&w->tap, TAP_DIR_S2C) == TAP_PHASE_IDENT) {
            util_buf_append(&w->ident_held, p, n);
            return 1;
        }
        return 0;
    }
    /* The event just fired: this piece ends libssh's line. */
    w->ident_rewrite = 0;
    util_buf_free(&w->ident_held);
    wire__emit(w, id, strlen(id), NULL);
    wire__emit(w, "\r\n", 2, NULL);
    return 1;
}

/* A reset or exit at accept waited for the client's first bytes (so that
 * they are unread when the socket goes, and the kernel sends RST): here
 * they are. */
static void
wire__reset_on_first_bytes(wire_t *w)
{
    w->reset_pending = 0;
    w->ops->timer_stop(w->ud, WIRE_TIMER_RESET);
    wire__hang_up(w, WIRE_HANGUP_RST, "fault: %s at %s", w->exit_pending ? "exit" : "reset",
                  "accept");
    w->exit_pending = 0;
}

void
wire_on_data(wire_t *w, wire_dir_t wdir, char *buf, size_t len)
{
    tap_dir_t dir = wdir == WIRE_C2S ? TAP_DIR_C2S : TAP_DIR_S2C;
    const char *p = buf;
    int whole = 1;

    if (dir == TAP_DIR_C2S && w->reset_pending) {
        free(buf);
        wire__reset_on_first_bytes(w);
        return;
    }
    if (dir == TAP_DIR_S2C && w->offer_took) {
        /* The wire answered the client's KEXINIT itself: what libssh says
         * now answers nothing the client sent. */
        free(buf);
        return;
    }
    /* A graceful close still forwards libssh's last words (its KEXINIT
     * after a failed negotiation, a DISCONNECT); only a cut drops them. */
    while (len > 0) {
        size_t feed = len;
        size_t n;
        /* libssh's bytes after its identification wait for the verdict on
         * its KEXINIT (exact offers); tested before the feed, so that the
         * identification's own last bytes go out. */
        int hold_kex = dir == TAP_DIR_S2C && w->offer_state != WIRE_OFFER_DONE &&
                       tap_phase(&w->tap, TAP_DIR_S2C) == TAP_PHASE_CLEARTEXT_PACKETS;

        if (dir == TAP_DIR_C2S && tap_ident(&w->tap, TAP_DIR_C2S) != NULL) {
            w->client_answered = 1;
            if (w->hangup_pending) {
                wire__finish_hang_up(w);
                break;
            }
        }
        if (dir == TAP_DIR_C2S && w->c2s_wait_kexinit) {
            if (w->c2s_held.len + len > TAP_MAX_PACKET_LENGTH * 4) {
                w->ops->close(w->ud, 0, "client sent too much before the server's KEXINIT");
                break;
            }
            util_buf_append(&w->c2s_held, p, len);
            break;
        }
        if (dir == TAP_DIR_S2C && w->watermark_set) {
            uint64_t seen = tap_bytes(&w->tap, TAP_DIR_S2C);
            if (seen >= w->watermark) {
                wire__run_deferred(w);
                continue;
            }
            if (w->watermark - seen < feed) {
                feed = (size_t)(w->watermark - seen);
            }
        }
        n = tap_feed(&w->tap, dir, (const uint8_t *)p, feed);
        if (n == 0) {
            n = feed; /* cannot happen with len > 0; never loop forever */
        }
        if (dir == TAP_DIR_C2S && w->ev_pending && w->ev_kind == TAP_EV_KEXINIT &&
            w->ev_dir == TAP_DIR_C2S) {
            /* The client-kexinit rules run before our KEXINIT (held for the
             * exact offer) goes out: sshd sends its KEXINIT only after its
             * privilege-separated child has started, so a server that dies
             * there (sshd.c: identification, privsep_preauth(), then
             * do_ssh2_kex()) leaves the client at "SSH2_MSG_KEXINIT sent". */
            if (w->offer_state == WIRE_OFFER_WAIT && !w->client_kexinit_ran) {
                w->client_kexinit_ran = 1;
                wire_stage(w, FAULT_STAGE_CLIENT_KEXINIT);
            }
            /* Decided before libssh gets the client's KEXINIT: when the
             * wire answers it, libssh must not. */
            wire__offer_decide(w);
        }
        if (dir == TAP_DIR_C2S) {
            if (!w->drop_c2s && !w->ops->closing(w->ud)) {
                if (whole && n == len && p == buf) {
                    w->ops->to_server(w->ud, buf, len);
                    buf = NULL;
                } else {
                    char *copy = malloc(n);
                    if (copy != NULL) {
                        memcpy(copy, p, n);
                        w->ops->to_server(w->ud, copy, n);
                    }
                }
            }
        } else if (hold_kex) {
            if (w->kexinit_held.len + n > TAP_MAX_PACKET_LENGTH * 2 ||
                util_buf_append(&w->kexinit_held, p, n) != 0) {
                /* Bounded: libssh says nothing this long before the
                 * client's KEXINIT; if it did, its bytes go out as before. */
                wire__offer_release(w);
                wire__emit(w, p, n, NULL);
            }
        } else if (!wire__ident_piece(w, p, n)) {
            if (whole && n == len && p == buf) {
                wire__emit(w, buf, n, buf);
                buf = NULL;
            } else {
                wire__emit(w, p, n, NULL);
            }
        }
        whole = 0;
        p += n;
        len -= n;
        if (w->ev_pending) {
            wire__act_on_event(w);
        }
        if (dir == TAP_DIR_S2C && w->watermark_set &&
            tap_bytes(&w->tap, TAP_DIR_S2C) >= w->watermark) {
            wire__run_deferred(w);
        }
    }
    free(buf);
    if (w->compact && dir == TAP_DIR_S2C) {
        tap_compact(&w->tap);
    }
}
