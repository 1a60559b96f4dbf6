#include "wire/wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "profile/algo.h"
#include "net/conn.h"

/* How long an accept-stage reset or a server-ident rule waits at most for
 * the client's first bytes or identification (see wire__run_rule and
 * wire__act_on_event). Real clients send theirs at once; under load (eight
 * clients starting on two cores) that took over 200 ms. The cap only
 * matters for a client that never sends one. */
#define WIRE_CLIENT_WAIT_MS 2000

/* Throttled bytes leave in ticks of this length: short enough to look like
 * a steady rate to a client, long enough not to spin the loop. */
#define WIRE_THROTTLE_TICK_MS 50

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
static void wire__hang_up(conn_t *c, conn_close_mode_t mode, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void wire__on_timer(uv_timer_t *t);

static void
wire__hang_up(conn_t *c, conn_close_mode_t mode, const char *fmt, ...)
{
    char reason[sizeof c->wire.hangup_reason];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    c->wire.cut = 1;
    c->close_mode = mode;
    if (c->wire.ident_out && !c->wire.client_answered && !c->wire.hangup_pending) {
        c->wire.hangup_pending = 1;
        memcpy(c->wire.hangup_reason, reason, sizeof reason);
        uv_timer_start(&c->wire.timer, wire__on_timer, WIRE_CLIENT_WAIT_MS, 0);
        return;
    }
    conn_close(c, CONN_BY_SERVER, 0, "%s", reason);
}

/* The client has answered, or the wait is over: the held hang-up happens. */
static void
wire__finish_hang_up(conn_t *c)
{
    c->wire.hangup_pending = 0;
    uv_timer_stop(&c->wire.timer);
    conn_close(c, CONN_BY_SERVER, 0, "%s", c->wire.hangup_reason);
}

static void wire__on_tap(tap_t *tap, tap_dir_t dir, const tap_event_t *ev, void *userdata);

int
wire_init(conn_t *c)
{
    server_t *s = c->srv;
    const profile_t *p = s->profile;
    size_t unauth = 0;
    conn_t *o = NULL;
    size_t i;

    tap_init(&c->wire.tap, wire__on_tap, c);
    uv_timer_init(s->loop, &c->wire.timer);
    c->wire.timer.data = c;
    c->handles++;
    c->wire.ident_rewrite = p->identification != NULL &&
                            strncmp(p->identification, "SSH-2.0-", 8) != 0;

    for (o = s->conns; o != NULL; o = o->next) {
        if (o != c && o->state != CONN_OPEN && o->state != CONN_CLOSING) {
            unauth++;
        }
    }
    for (i = 0; i < p->nfaults && i < WIRE_MAX_RULES; i++) {
        const fault_rule_t *r = &p->faults[i];
        int fire = 0;
        switch (r->when) {
        case FAULT_WHEN_ALWAYS:
            fire = 1;
            break;
        case FAULT_WHEN_EVERY:
            fire = c->id % r->every == 0;
            break;
        case FAULT_WHEN_PROBABILITY: {
            /* One draw per rule per connection from the rule's own seeded
             * stream, so connection N gets the same answer in every run. */
            uint64_t st = r->seed ^ (c->id * 0x9e3779b97f4a7c15ull);
            double u = (double)(fault_rng_next(&st) >> 11) / 9007199254740992.0;
            fire = u < r->probability;
            break;
        }
        case FAULT_WHEN_MAXSTARTUPS:
            fire = fault_maxstartups_drop(r->ms_start, r->ms_rate, r->ms_full, unauth,
                                          (unsigned)(fault_rng_next(&s->rng) % 100));
            break;
        }
        c->wire.fires[i] = (uint8_t)fire;
    }
    /* sshd's own MaxStartups: past the limit, it says so and hangs up. */
    if (p->max_startups_full > 0 &&
        fault_maxstartups_drop(p->max_startups_start, p->max_startups_rate,
                               p->max_startups_full, unauth,
                               (unsigned)(fault_rng_next(&s->rng) % 100))) {
        c->maxstartups_drop = 1;
    }
    return 0;
}

void
wire_free(conn_t *c)
{
    tap_free(&c->wire.tap);
    util_buf_free(&c->wire.held);
    util_buf_free(&c->wire.ident_held);
    util_buf_free(&c->wire.c2s_held);
}

/* Hands bytes to the client: held while a delay or throttle holds them,
 * corrupted while a corrupt action is armed, dropped once cut. */
static void
wire__emit(conn_t *c, const char *data, size_t len, char *owned)
{
    char *buf = owned;

    if (c->wire.cut || len == 0) {
        free(owned);
        return;
    }
    if (c->wire.hold) {
        util_buf_append(&c->wire.held, data, len);
        free(owned);
        return;
    }
    if (buf == NULL) {
        buf = malloc(len);
        if (buf == NULL) {
            conn_close(c, CONN_BY_SERVER, 0, "out of memory in the relay");
            return;
        }
        memcpy(buf, data, len);
    }
    if (c->wire.corrupt_left > 0) {
        /* The middle of the chunk lands inside a packet's ciphertext or MAC
         * whatever the cipher, so the client's integrity check fails. */
        buf[len / 2] ^= 0x5a;
        c->wire.corrupt_left--;
        CONN_LOG(c, "fault_corrupted", "bytes", "1", NULL);
    }
    relay_write(c, RELAY_S2C, buf, len);
}

static void
wire__release_held(conn_t *c, size_t max)
{
    size_t n = c->wire.held.len < max ? c->wire.held.len : max;
    int hold = c->wire.hold;

    if (n == 0) {
        return;
    }
    c->wire.hold = 0;
    wire__emit(c, c->wire.held.data, n, NULL);
    c->wire.hold = hold;
    util_buf_consume(&c->wire.held, n);
}

static void
wire__on_timer(uv_timer_t *t)
{
    conn_t *c = t->data;

    if (c->state == CONN_CLOSING) {
        return;
    }
    if (c->wire.hangup_pending) {
        wire__finish_hang_up(c);
        return;
    }
    if (c->wire.ident_stage_pending) {
        c->wire.ident_stage_pending = 0;
        wire_stage(c, FAULT_STAGE_SERVER_IDENT);
        return;
    }
    if (c->wire.reset_pending) {
        wire__hang_up(c, CONN_CLOSE_RST, "fault: reset at %s", "accept");
        return;
    }
    if (c->wire.drop_c2s) { /* a bounded stall has run out */
        conn_close(c, CONN_BY_SERVER, 0, "fault: stall ended");
        return;
    }
    if (c->wire.throttle_bps > 0) {
        size_t quantum = c->wire.throttle_bps * WIRE_THROTTLE_TICK_MS / 1000;
        wire__release_held(c, quantum > 0 ? quantum : 1);
        uv_timer_start(&c->wire.timer, wire__on_timer, WIRE_THROTTLE_TICK_MS, 0);
        return;
    }
    /* a delay has run out */
    c->wire.hold = 0;
    wire__release_held(c, c->wire.held.len);
}

static int
wire__run_rule(conn_t *c, const fault_rule_t *r)
{
    const char *stage = fault_stage_name(r->stage);
    const char *action = fault_action_name(r->action);
    util_buf_t pkt = UTIL_BUF_INIT;

    CONN_LOG(c, "fault", "stage", stage, "action", action, NULL);
    switch (r->action) {
    case FAULT_ACTION_CLOSE:
        wire__hang_up(c, CONN_CLOSE_FIN, "fault: close at %s", stage);
        return 1;
    case FAULT_ACTION_RESET:
        c->wire.cut = 1;
        if (r->stage == FAULT_STAGE_ACCEPT && tap_bytes(&c->wire.tap, TAP_DIR_C2S) == 0) {
            /* An RST sent the instant the connection is accepted can beat
             * the client's own connect() check, and the client then says
             * "connect to host ...: Connection reset" rather than what a
             * reset before the identification looks like ("read:
             * Connection reset by peer"). Clients send their identification
             * at once: reset when it comes, or after a short wait. */
            c->wire.reset_pending = 1;
            uv_timer_start(&c->wire.timer, wire__on_timer, WIRE_CLIENT_WAIT_MS, 0);
            return 1;
        }
        wire__hang_up(c, CONN_CLOSE_RST, "fault: reset at %s", stage);
        return 1;
    case FAULT_ACTION_STALL:
        c->wire.cut = 1;
        c->wire.drop_c2s = 1;
        uv_timer_stop(&c->grace); /* a stalled box has no LoginGraceTime */
        if (r->ms > 0) {
            uv_timer_start(&c->wire.timer, wire__on_timer, r->ms, 0);
        }
        return 1;
    case FAULT_ACTION_DELAY:
        c->wire.hold = 1;
        uv_timer_start(&c->wire.timer, wire__on_timer, r->ms, 0);
        return 0;
    case FAULT_ACTION_SEND:
        wire__emit(c, r->data, r->data_len, NULL);
        return 0;
    case FAULT_ACTION_CORRUPT:
        c->wire.corrupt_left += r->n;
        return 0;
    case FAULT_ACTION_THROTTLE:
        c->wire.throttle_bps = r->n;
        c->wire.hold = 1;
        uv_timer_start(&c->wire.timer, wire__on_timer, WIRE_THROTTLE_TICK_MS, 0);
        return 0;
    case FAULT_ACTION_DISCONNECT:
        if (tap_phase(&c->wire.tap, TAP_DIR_S2C) != TAP_PHASE_ENCRYPTED) {
            /* In the cleartext phase we can say it ourselves, with any code. */
            if (tap_build_disconnect(&pkt, r->n, r->data) == 0) {
                wire__emit(c, pkt.data, pkt.len, NULL);
            }
            util_buf_free(&pkt);
            wire__hang_up(c, CONN_CLOSE_FIN, "fault: disconnect at %s", stage);
        } else {
            /* Once keys are in use only libssh can say it, and libssh 0.10
             * always sends reason 11 (SSH_DISCONNECT_BY_APPLICATION). */
            conn_close(c, CONN_BY_SERVER, 1, "%s", r->data);
        }
        return 1;
    default:
        return 0;
    }
}

static int
wire__stage_has_rules(conn_t *c, fault_stage_t stage)
{
    const profile_t *p = c->srv->profile;
    size_t i;

    for (i = 0; i < p->nfaults && i < WIRE_MAX_RULES; i++) {
        if (p->faults[i].stage == stage && c->wire.fires[i]) {
            return 1;
        }
    }
    return 0;
}

void
wire_stage(conn_t *c, fault_stage_t stage)
{
    const profile_t *p = c->srv->profile;
    size_t i;

    if (c->close_requested) {
        return;
    }
    for (i = 0; i < p->nfaults && i < WIRE_MAX_RULES; i++) {
        if (p->faults[i].stage == stage && c->wire.fires[i]) {
            if (wire__run_rule(c, &p->faults[i])) {
                return; /* the connection ends or stalls: later rules are moot */
            }
        }
    }
}

void
wire_stage_after_output(conn_t *c, fault_stage_t stage)
{
    const profile_t *p = c->srv->profile;
    size_t i;

    for (i = 0; i < p->nfaults && i < WIRE_MAX_RULES; i++) {
        if (p->faults[i].stage == stage && c->wire.fires[i]) {
            c->wire.deferred[stage] = 1;
            c->wire.watermark_set = 0;
            return;
        }
    }
}

static void
wire__run_deferred(conn_t *c)
{
    int st;

    c->wire.watermark_set = 0;
    for (st = 0; st < FAULT_STAGE__COUNT; st++) {
        if (c->wire.deferred[st]) {
            c->wire.deferred[st] = 0;
            wire_stage(c, (fault_stage_t)st);
        }
    }
}

void
wire_after_libssh(conn_t *c)
{
    int st;
    int any = 0;
    int fd = -1;
    int inq = 0;

    for (st = 0; st < FAULT_STAGE__COUNT; st++) {
        any |= c->wire.deferred[st];
    }
    if (!any || c->wire.watermark_set) {
        return;
    }
    /* What libssh has written so far is either already through the tap or
     * still queued in the socketpair; the stage comes right after it. */
    if (uv_fileno((uv_handle_t *)&c->pair, &fd) == 0) {
        ioctl(fd, FIONREAD, &inq);
    }
    c->wire.watermark = tap_bytes(&c->wire.tap, TAP_DIR_S2C) + (uint64_t)(inq > 0 ? inq : 0);
    c->wire.watermark_set = 1;
    if (inq <= 0) {
        wire__run_deferred(c);
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

static int
wire__is_aead(const char *cipher)
{
    return strstr(cipher, "gcm@openssh.com") != NULL ||
           strcmp(cipher, "chacha20-poly1305@openssh.com") == 0;
}

/* Both offers are known: if a list has nothing in common, say which, what
 * each side offered, and what would fix it on either side. */
static void
wire__diagnose(conn_t *c)
{
    const tap_kexinit_t *ck = tap_kexinit(&c->wire.tap, TAP_DIR_C2S);
    const tap_kexinit_t *sk = tap_kexinit(&c->wire.tap, TAP_DIR_S2C);
    char cipher[128] = "";
    size_t i;

    if (ck == NULL || sk == NULL || c->wire.diag_done) {
        return;
    }
    c->wire.diag_done = 1;
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

        if (wire__lists[i].list == TAP_KEX_MAC_C2S && wire__is_aead(cipher)) {
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
        CONN_LOG(c, "negotiation_failed", "list", tap_kex_list_name(wire__lists[i].list),
                 "what", wire__lists[i].what, "client_offer", cl, "server_offer", sl,
                 "client_fix", cfix.data, "server_fix", sfix.data, NULL);
        util_buf_free(&cfix);
        util_buf_free(&sfix);
    }
}

static void
wire__log_kexinit(conn_t *c, tap_dir_t dir, const tap_event_t *ev)
{
    const tap_kexinit_t *k = ev->kexinit;

    CONN_LOG(c, "kexinit", "from", dir == TAP_DIR_C2S ? "client" : "server",
             dir == TAP_DIR_C2S ? "hassh" : "hassh_server", ev->hassh,
             "hassh_algorithms", ev->hassh_algorithms,
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
    conn_t *c = userdata;

    (void)tap;
    switch (ev->kind) {
    case TAP_EV_IDENT:
        if (dir == TAP_DIR_C2S) {
            CONN_LOG(c, "client_ident", "ident", ev->ident->line, NULL);
        }
        break;
    case TAP_EV_KEXINIT:
        wire__log_kexinit(c, dir, ev);
        wire__diagnose(c);
        break;
    case TAP_EV_DISCONNECT:
        if (dir == TAP_DIR_C2S) {
            char reason[16];
            snprintf(reason, sizeof reason, "%u", ev->reason);
            CONN_LOG(c, "client_disconnect", "reason", reason,
                     "description", ev->description, NULL);
        }
        break;
    case TAP_EV_ERROR:
        CONN_LOG(c, "protocol_error", "from", dir == TAP_DIR_C2S ? "client" : "server",
                 "message", ev->message, NULL);
        break;
    default:
        break;
    }
    /* The stage is acted on once the unit that made it is out. */
    c->wire.ev_pending = 1;
    c->wire.ev_kind = ev->kind;
    c->wire.ev_dir = dir;
}

static void
wire__act_on_event(conn_t *c)
{
    int client = c->wire.ev_dir == TAP_DIR_C2S;

    c->wire.ev_pending = 0;
    switch (c->wire.ev_kind) {
    case TAP_EV_IDENT:
        /* libssh answers a client identification with its KEXINIT, but
         * writes it only on its next poll round; a client KEXINIT handed
         * over in the same round is processed first, and when it does not
         * match, libssh gives up with its own offer unsent, so the client
         * cannot say what did not match. Holding the client's next bytes
         * until the server's KEXINIT has passed gives the order a real
         * sshd has. */
        if (client && tap_kexinit(&c->wire.tap, TAP_DIR_S2C) == NULL) {
            c->wire.c2s_wait_kexinit = 1;
        }
        if (!client) {
            c->wire.ident_out = !c->wire.cut && !c->wire.hold;
        }
        if (!client && tap_ident(&c->wire.tap, TAP_DIR_C2S) == NULL &&
            wire__stage_has_rules(c, FAULT_STAGE_SERVER_IDENT)) {
            /* Clients send their identification as soon as they connect, but
             * under load it can come after ours. The rules of this stage
             * wait for it, WIRE_CLIENT_WAIT_MS at most, so that whatever
             * they send comes after the client's identification every
             * time, as it does from a real server. */
            c->wire.ident_stage_pending = 1;
            uv_timer_start(&c->wire.timer, wire__on_timer, WIRE_CLIENT_WAIT_MS, 0);
            break;
        }
        wire_stage(c, client ? FAULT_STAGE_CLIENT_IDENT : FAULT_STAGE_SERVER_IDENT);
        if (client && c->wire.ident_stage_pending) {
            c->wire.ident_stage_pending = 0;
            uv_timer_stop(&c->wire.timer);
            wire_stage(c, FAULT_STAGE_SERVER_IDENT);
        }
        break;
    case TAP_EV_KEXINIT:
        if (!client && c->wire.c2s_wait_kexinit) {
            /* The server's offer is out: the client's may go to libssh now. */
            char *held = c->wire.c2s_held.data;
            size_t len = c->wire.c2s_held.len;
            c->wire.c2s_wait_kexinit = 0;
            memset(&c->wire.c2s_held, 0, sizeof c->wire.c2s_held);
            wire_stage(c, FAULT_STAGE_SERVER_KEXINIT);
            if (held != NULL && len > 0) {
                wire_on_data(c, RELAY_C2S, held, len);
            } else {
                free(held);
            }
            break;
        }
        if (client && c->srv->profile->hostkey_none) {
            /* sshd with no usable host key dies in key exchange, once it has
             * the client's KEXINIT: the client sees the connection close. */
            CONN_LOG(c, "no_hostkey", NULL);
            wire__hang_up(c, CONN_CLOSE_FIN, "no host key for key exchange (%s)", "HostKey none");
            break;
        }
        wire_stage(c, client ? FAULT_STAGE_CLIENT_KEXINIT : FAULT_STAGE_SERVER_KEXINIT);
        break;
    case TAP_EV_NEWKEYS:
        if (!client) {
            wire_stage(c, FAULT_STAGE_NEWKEYS);
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
wire__ident_piece(conn_t *c, const char *p, size_t n)
{
    const char *id = c->srv->profile->identification;

    if (!c->wire.ident_rewrite || tap_ident(&c->wire.tap, TAP_DIR_S2C) == NULL) {
        if (c->wire.ident_rewrite && tap_phase(&c->wire.tap, TAP_DIR_S2C) == TAP_PHASE_IDENT) {
            util_buf_append(&c->wire.ident_held, p, n);
            return 1;
        }
        return 0;
    }
    /* The event just fired: this piece ends libssh's line. */
    c->wire.ident_rewrite = 0;
    util_buf_free(&c->wire.ident_held);
    wire__emit(c, id, strlen(id), NULL);
    wire__emit(c, "\r\n", 2, NULL);
    return 1;
}

void
wire_on_data(conn_t *c, relay_dir_t rdir, char *buf, size_t len)
{
    tap_dir_t dir = rdir == RELAY_C2S ? TAP_DIR_C2S : TAP_DIR_S2C;
    const char *p = buf;
    int whole = 1;

    if (dir == TAP_DIR_C2S && c->wire.reset_pending) {
        free(buf);
        wire__hang_up(c, CONN_CLOSE_RST, "fault: reset at %s", "accept");
        return;
    }
    /* A graceful close still forwards libssh's last words (its KEXINIT
     * after a failed negotiation, a DISCONNECT); only a cut drops them. */
    while (len > 0) {
        size_t feed = len;
        size_t n;

        if (dir == TAP_DIR_C2S && tap_ident(&c->wire.tap, TAP_DIR_C2S) != NULL) {
            c->wire.client_answered = 1;
            if (c->wire.hangup_pending) {
                wire__finish_hang_up(c);
                break;
            }
        }
        if (dir == TAP_DIR_C2S && c->wire.c2s_wait_kexinit) {
            if (c->wire.c2s_held.len + len > TAP_MAX_PACKET_LENGTH * 4) {
                conn_close(c, CONN_BY_SERVER, 0, "client sent too much before the server's KEXINIT");
                break;
            }
            util_buf_append(&c->wire.c2s_held, p, len);
            break;
        }
        if (dir == TAP_DIR_S2C && c->wire.watermark_set) {
            uint64_t seen = tap_bytes(&c->wire.tap, TAP_DIR_S2C);
            if (seen >= c->wire.watermark) {
                wire__run_deferred(c);
                continue;
            }
            if (c->wire.watermark - seen < feed) {
                feed = (size_t)(c->wire.watermark - seen);
            }
        }
        n = tap_feed(&c->wire.tap, dir, (const uint8_t *)p, feed);
        if (n == 0) {
            n = feed; /* cannot happen with len > 0; never loop forever */
        }
        if (dir == TAP_DIR_C2S) {
            if (!c->wire.drop_c2s) {
                if (whole && n == len && p == buf) {
                    relay_write(c, RELAY_C2S, buf, len);
                    buf = NULL;
                } else {
                    char *copy = malloc(n);
                    if (copy != NULL) {
                        memcpy(copy, p, n);
                        relay_write(c, RELAY_C2S, copy, n);
                    }
                }
            }
        } else if (!wire__ident_piece(c, p, n)) {
            if (whole && n == len && p == buf) {
                wire__emit(c, buf, n, buf);
                buf = NULL;
            } else {
                wire__emit(c, p, n, NULL);
            }
        }
        whole = 0;
        p += n;
        len -= n;
        if (c->wire.ev_pending) {
            wire__act_on_event(c);
        }
        if (dir == TAP_DIR_S2C && c->wire.watermark_set &&
            tap_bytes(&c->wire.tap, TAP_DIR_S2C) >= c->wire.watermark) {
            wire__run_deferred(c);
        }
    }
    free(buf);
}
