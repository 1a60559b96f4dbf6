/*
 * tap: see tap.h. The parser reads every unit (a text line or a cleartext
 * packet) into the direction's unit buffer, checking each length field as
 * soon as it is complete, so a bad stream is reported at the byte that
 * proves it bad and no length is trusted before it is checked.
 */
#include "wire/tap.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- names ------------------------------------------------------------ */

static const char *const tap__kex_list_names[TAP_KEX__NLISTS] = {
    [TAP_KEX_ALGS] = "kex_algorithms",
    [TAP_KEX_HOSTKEY_ALGS] = "server_host_key_algorithms",
    [TAP_KEX_ENC_C2S] = "encryption_algorithms_client_to_server",
    [TAP_KEX_ENC_S2C] = "encryption_algorithms_server_to_client",
    [TAP_KEX_MAC_C2S] = "mac_algorithms_client_to_server",
    [TAP_KEX_MAC_S2C] = "mac_algorithms_server_to_client",
    [TAP_KEX_COMP_C2S] = "compression_algorithms_client_to_server",
    [TAP_KEX_COMP_S2C] = "compression_algorithms_server_to_client",
    [TAP_KEX_LANG_C2S] = "languages_client_to_server",
    [TAP_KEX_LANG_S2C] = "languages_server_to_client",
};

/* RFC 4253 11.1 */
static const char *const tap__reason_names[] = {
    [1] = "SSH_DISCONNECT_HOST_NOT_ALLOWED_TO_CONNECT",
    [2] = "SSH_DISCONNECT_PROTOCOL_ERROR",
    [3] = "SSH_DISCONNECT_KEY_EXCHANGE_FAILED",
    [4] = "SSH_DISCONNECT_RESERVED",
    [5] = "SSH_DISCONNECT_MAC_ERROR",
    [6] = "SSH_DISCONNECT_COMPRESSION_ERROR",
    [7] = "SSH_DISCONNECT_SERVICE_NOT_AVAILABLE",
    [8] = "SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED",
    [9] = "SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE",
    [10] = "SSH_DISCONNECT_CONNECTION_LOST",
    [11] = "SSH_DISCONNECT_BY_APPLICATION",
    [12] = "SSH_DISCONNECT_TOO_MANY_CONNECTIONS",
    [13] = "SSH_DISCONNECT_AUTH_CANCELLED_BY_USER",
    [14] = "SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE",
    [15] = "SSH_DISCONNECT_ILLEGAL_USER_NAME",
};

const char *
tap_dir_name(tap_dir_t dir)
{
    switch (dir) {
    case TAP_DIR_C2S: return "c2s";
    case TAP_DIR_S2C: return "s2c";
    default: return "?";
    }
}

const char *
tap_phase_name(tap_phase_t phase)
{
    switch (phase) {
    case TAP_PHASE_IDENT: return "IDENT";
    case TAP_PHASE_CLEARTEXT_PACKETS: return "CLEARTEXT_PACKETS";
    case TAP_PHASE_ENCRYPTED: return "ENCRYPTED";
    case TAP_PHASE_UNPARSED: return "UNPARSED";
    case TAP_PHASE_ERROR: return "ERROR";
    }
    return "?";
}

const char *
tap_event_name(tap_event_kind_t kind)
{
    switch (kind) {
    case TAP_EV_PRE_IDENT_LINE: return "PRE_IDENT_LINE";
    case TAP_EV_IDENT: return "IDENT";
    case TAP_EV_KEXINIT: return "KEXINIT";
    case TAP_EV_NEWKEYS: return "NEWKEYS";
    case TAP_EV_DISCONNECT: return "DISCONNECT";
    case TAP_EV_PACKET: return "PACKET";
    case TAP_EV_ERROR: return "ERROR";
    }
    return "?";
}

const char *
tap_kex_list_name(tap_kex_list_t list)
{
    if ((unsigned)list >= TAP_KEX__NLISTS) {
        return "?";
    }
    return tap__kex_list_names[list];
}

const char *
tap_disconnect_reason_name(uint32_t reason)
{
    if (reason >= UTIL_ARRAY_SIZE(tap__reason_names) ||
        tap__reason_names[reason] == NULL) {
        return "unknown";
    }
    return tap__reason_names[reason];
}

/* ---- small helpers ---------------------------------------------------- */

static uint32_t
tap__be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* A printable excerpt of peer bytes for a message: a hostile peer's text
 * must not put control characters into our logs, and it is capped so a
 * message stays one readable line. */
static const char *
tap__excerpt(const uint8_t *p, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        char tmp[8];
        size_t tl;

        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {
            tmp[0] = (char)p[i];
            tl = 1;
        } else {
            snprintf(tmp, sizeof tmp, "\\x%02x", p[i]);
            tl = 4;
        }
        if (o + tl + 4 >= outlen) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, tmp, tl);
        o += tl;
    }
    out[o] = '\0';
    return out;
}

/* A bounded reader over a payload: every get checks what is left first. */
typedef struct tap__reader_s {
    const uint8_t *p;
    size_t n;
    size_t off;
} tap__reader_t;

static size_t
tap__left(const tap__reader_t *r)
{
    return r->n - r->off;
}

static int
tap__get_u32(tap__reader_t *r, uint32_t *v)
{
    if (tap__left(r) < 4) {
        return -1;
    }
    *v = tap__be32(r->p + r->off);
    r->off += 4;
    return 0;
}

/* An SSH string: uint32 length + bytes. Returns -1 when the length field
 * is missing, -2 when the length is beyond what is left. */
static int
tap__get_string(tap__reader_t *r, const uint8_t **s, uint32_t *len)
{
    uint32_t n = 0;

    if (tap__get_u32(r, &n) < 0) {
        return -1;
    }
    *len = n;
    if (n > tap__left(r)) {
        return -2;
    }
    *s = r->p + r->off;
    r->off += n;
    return 0;
}

/* ---- lifecycle and queries -------------------------------------------- */

void
tap_init(tap_t *tap, tap_event_cb cb, void *userdata)
{
    memset(tap, 0, sizeof *tap);
    tap->cb = cb;
    tap->userdata = userdata;
    /* memset already made every phase TAP_PHASE_IDENT (0) and every
     * util_buf_t equal to UTIL_BUF_INIT. */
}

static void
tap__dir_free(tap_dirstate_t *ds)
{
    util_buf_free(&ds->unit);
    util_buf_free(&ds->scratch);
    util_buf_free(&ds->pre_ident);
    util_buf_free(&ds->hassh_algorithms);
    free(ds->kexinit_store);
    ds->kexinit_store = NULL;
    free(ds->disconnect_description);
    ds->disconnect_description = NULL;
    free(ds->disconnect_language);
    ds->disconnect_language = NULL;
    free(ds->msg_count);
    ds->msg_count = NULL;
    free(ds->ident);
    ds->ident = NULL;
    free(ds->error);
    ds->error = NULL;
    ds->has_kexinit = 0;
    ds->has_disconnect = 0;
}

void
tap_free(tap_t *tap)
{
    size_t i;

    if (tap == NULL) {
        return;
    }
    for (i = 0; i < TAP_DIR__COUNT; i++) {
        if (tap->dir[i] != NULL) {
            tap__dir_free(tap->dir[i]);
            free(tap->dir[i]);
            tap->dir[i] = NULL;
        }
    }
}

void
tap_compact(tap_t *tap)
{
    size_t i;

    for (i = 0; tap != NULL && i < TAP_DIR__COUNT; i++) {
        tap_dirstate_t *ds = tap->dir[i];

        if (ds == NULL || ds->phase != TAP_PHASE_ENCRYPTED) {
            continue;
        }
        util_buf_free(&ds->unit);
        util_buf_free(&ds->scratch);
        util_buf_free(&ds->pre_ident);
        util_buf_free(&ds->hassh_algorithms);
        free(ds->kexinit_store);
        ds->kexinit_store = NULL;
        memset(&ds->kexinit, 0, sizeof ds->kexinit);
        ds->has_kexinit = 0;
        free(ds->msg_count);
        ds->msg_count = NULL;
    }
}

/* A direction never fed reads as a fresh one. */
static const tap_dirstate_t tap__fresh;

static const tap_dirstate_t *
tap__cdir(const tap_t *tap, tap_dir_t dir)
{
    if (tap == NULL || (unsigned)dir >= TAP_DIR__COUNT) {
        return NULL;
    }
    return tap->dir[dir] != NULL ? tap->dir[dir] : &tap__fresh;
}

size_t
tap_pending(const tap_t *tap, tap_dir_t dir)
{
    const tap_dirstate_t *ds = tap__cdir(tap, dir);

    if (ds == NULL || (ds->phase != TAP_PHASE_IDENT &&
                       ds->phase != TAP_PHASE_CLEARTEXT_PACKETS)) {
        return 0;
    }
    return ds->unit.len;
}

tap_phase_t
tap_phase(const tap_t *tap, tap_dir_t dir)
{
    const tap_dirstate_t *ds = tap__cdir(tap, dir);

    return ds == NULL ? TAP_PHASE_ERROR : ds->phase;
}

uint64_t
tap_bytes(const tap_t *tap, tap_dir_t dir)
{
    const tap_dirstate_t *ds = tap__cdir(tap, dir);

    return ds == NULL ? 0 : ds->bytes;
}

uint64_t
tap_packets(const tap_t *tap, tap_dir_t dir)
{
    const tap_dirstate_t *ds = tap__cdir(tap, dir);

    return ds == NULL ? 0 : ds->packets;
}

uint32_t
tap_msg_count(const tap_t *tap, tap_dir_t dir, uint8_t msg_type)
{
    const tap_dirstate_t *ds = tap__cdir(tap, dir);

    return (ds == NULL || ds->msg_count == NULL) ? 0 : ds->msg_count[msg_type];
}

const tap_ident_t *
tap_ident(const tap_t *tap, tap_dir_t dir)
{
    const tap_dirstate_t *ds = tap__cdir(tap, dir);

    return ds == NULL ? NULL : ds->ident;
}

const char *
tap_pre_ident_text(const tap_t *tap, unsigned *count, int *truncated)
{
    const tap_dirstate_t *ds = tap__cdir(tap, TAP_DIR_S2C);

    if (count != NULL) {
        *count = ds == NULL ? 0 : ds->pre_ident_lines;
    }
    if (truncated != NULL) {
        *truncated = ds == NULL ? 0 : ds->pre_ident_truncated;
    }
    if (ds == NULL || ds->pre_ident.data == NULL) {
        return "";
    }
    return ds->pre_ident.data;
}

const tap_kexinit_t *
tap_kexinit(const tap_t *tap, tap_dir_t dir)
{
    const tap_dirstate_t *ds = tap__cdir(tap, dir);

    return (ds == NULL || !ds->has_kexinit) ? NULL : &ds->kexinit;
}

const char *
tap_dir_hassh(const tap_t *tap, tap_dir_t dir, const char **algorithms)
{
    const tap_dirstate_t *ds = tap__cdir(tap, dir);

    if (ds == NULL || !ds->has_kexinit) {
        if (algorithms != NULL) {
            *algorithms = NULL;
        }
        return NULL;
    }
    if (algorithms != NULL) {
        *algorithms = ds->hassh_algorithms.data != NULL ?
                      ds->hassh_algorithms.data : "";
    }
    return ds->hassh;
}

const char *
tap_disconnect(const tap_t *tap, tap_dir_t dir, uint32_t *reason)
{
    const tap_dirstate_t *ds = tap__cdir(tap, dir);

    if (ds == NULL || !ds->has_disconnect) {
        return NULL;
    }
    if (reason != NULL) {
        *reason = ds->disconnect_reason;
    }
    return ds->disconnect_description;
}

const char *
tap_error(const tap_t *tap, tap_dir_t dir)
{
    const tap_dirstate_t *ds = tap__cdir(tap, dir);

    if (ds == NULL || ds->phase != TAP_PHASE_ERROR) {
        return NULL;
    }
    return ds->error != NULL ? ds->error : "out of memory";
}

/* ---- events ----------------------------------------------------------- */

/* An event about the unit read so far (which ends at the current stream
 * position). */
static void
tap__event_init(tap_event_t *ev, tap_event_kind_t kind,
                const tap_dirstate_t *ds)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->raw = (const uint8_t *)ds->unit.data;
    ev->raw_len = ds->unit.len;
    ev->end = ds->bytes;
    ev->offset = ds->bytes - ds->unit.len;
    ev->msg_type = -1;
    ev->hassh = "";
    ev->hassh_algorithms = "";
    ev->language = "";
}

static void
tap__emit(tap_t *tap, tap_dir_t dir, const tap_event_t *ev)
{
    if (tap->cb != NULL) {
        tap->in_callback = 1;
        tap->cb(tap, dir, ev, tap->userdata);
        tap->in_callback = 0;
    }
}

/* The unit is done with; the next byte starts a new one. */
static void
tap__unit_reset(tap_dirstate_t *ds)
{
    util_buf_reset(&ds->unit);
    util_buf_reset(&ds->scratch);
}

/* Moves the direction to TAP_PHASE_ERROR and reports ev (an ERROR event the
 * caller may have filled with line or packet details). The buffers are
 * released: nothing is parsed in this direction any more. */
static void
tap__fail(tap_t *tap, tap_dir_t dir, tap_event_t *ev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
tap__fail(tap_t *tap, tap_dir_t dir, tap_event_t *ev, const char *fmt, ...)
{
    tap_dirstate_t *ds = tap->dir[dir];
    char msg[TAP_MAX_ERROR];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    free(ds->error);
    ds->error = util_strdup(msg); /* NULL: tap_error() says out of memory */
    ds->phase = TAP_PHASE_ERROR;
    ev->kind = TAP_EV_ERROR;
    ev->message = ds->error != NULL ? ds->error : "out of memory";
    tap__emit(tap, dir, ev);
    util_buf_free(&ds->unit);
    util_buf_free(&ds->scratch);
}

/* An error found while reading a unit, before it was complete. */
static void
tap__fail_unit(tap_t *tap, tap_dir_t dir, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
tap__fail_unit(tap_t *tap, tap_dir_t dir, const char *fmt, ...)
{
    tap_dirstate_t *ds = tap->dir[dir];
    tap_event_t ev;
    char msg[TAP_MAX_ERROR];
    va_list ap;

    tap__event_init(&ev, TAP_EV_ERROR, ds);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tap__fail(tap, dir, &ev, "%s", msg);
}

/* ---- identification phase --------------------------------------------- */

static int
tap__is_ssh_line(const uint8_t *p, size_t n)
{
    return n >= 4 && memcmp(p, "SSH-", 4) == 0;
}

/* Copies n bytes of src to *at as a string and moves *at past it. */
static const char *
tap__copy_field(char **at, const char *src, size_t n)
{
    char *dst = *at;

    memcpy(dst, src, n);
    dst[n] = '\0';
    *at = dst + n + 1;
    return dst;
}

/* "SSH-protoversion-softwareversion SP comments": text is the line
 * without CR LF, n <= TAP_MAX_IDENT_LINE - 1. */
static void
tap__ident_done(tap_t *tap, tap_dir_t dir, tap_event_t *ev,
                const char *text, size_t n, int has_cr)
{
    tap_dirstate_t *ds = tap->dir[dir];
    tap_ident_t *id = NULL;
    char *at = NULL;
    const char *rest = text + 4;
    size_t rlen = n - 4;
    const char *dash = memchr(rest, '-', rlen);
    const char *sw = NULL;
    const char *space = NULL;
    size_t swlen;
    char ex[96];

    if (dash == NULL || dash == rest) {
        tap__fail(tap, dir, ev, "malformed identification (no "
                  "protoversion-softwareversion): \"%s\"",
                  tap__excerpt((const uint8_t *)text, n, ex, sizeof ex));
        return;
    }
    sw = dash + 1;
    swlen = (size_t)(text + n - sw);
    space = memchr(sw, ' ', swlen);
    if (space == sw || swlen == 0) {
        tap__fail(tap, dir, ev, "malformed identification (empty "
                  "softwareversion): \"%s\"",
                  tap__excerpt((const uint8_t *)text, n, ex, sizeof ex));
        return;
    }
    /* The line, then its fields: together under twice its length. */
    id = calloc(1, sizeof *id + 2 * n + 4);
    if (id == NULL) {
        tap__fail(tap, dir, ev, "out of memory");
        return;
    }
    at = id->store;
    id->line = tap__copy_field(&at, text, n);
    id->proto = tap__copy_field(&at, rest, (size_t)(dash - rest));
    if (space != NULL) {
        id->software = tap__copy_field(&at, sw, (size_t)(space - sw));
        id->comments = tap__copy_field(&at, space + 1, (size_t)(text + n - (space + 1)));
        id->has_comments = 1;
    } else {
        id->software = tap__copy_field(&at, sw, swlen);
        id->comments = tap__copy_field(&at, "", 0);
    }
    id->has_cr = has_cr;
    free(ds->ident);
    ds->ident = id;
    /* "1.99" announces SSH-2 with SSH-1 compatibility (RFC 4253 5.1);
     * anything else but "2.0" is framed differently and not parsed. */
    if (strcmp(id->proto, "2.0") == 0 || strcmp(id->proto, "1.99") == 0) {
        ds->phase = TAP_PHASE_CLEARTEXT_PACKETS;
    } else {
        ds->phase = TAP_PHASE_UNPARSED;
    }
    ev->kind = TAP_EV_IDENT;
    ev->ident = id;
    tap__emit(tap, dir, ev);
    /* Lines and packets are read in different buffers' worth: the line's
     * capacity would only be kept for nothing (on an idle connection, the
     * server's side is all there is). */
    util_buf_free(&ds->unit);
    util_buf_free(&ds->scratch);
}

static void
tap__line_done(tap_t *tap, tap_dir_t dir)
{
    tap_dirstate_t *ds = tap->dir[dir];
    const char *text = ds->unit.data;
    size_t n = ds->unit.len - 1; /* without LF */
    int has_cr = 0;
    tap_event_t ev;
    char ex[96];

    if (n > 0 && text[n - 1] == '\r') {
        has_cr = 1;
        n--;
    }
    tap__event_init(&ev, TAP_EV_PRE_IDENT_LINE, ds);
    util_buf_reset(&ds->scratch);
    if (util_buf_append(&ds->scratch, text, n) < 0) {
        tap__fail(tap, dir, &ev, "out of memory");
        return;
    }
    ev.line = ds->scratch.data;
    ev.line_len = n;

    if (tap__is_ssh_line((const uint8_t *)text, n)) {
        tap__ident_done(tap, dir, &ev, ds->scratch.data, n, has_cr);
        return;
    }
    if (dir == TAP_DIR_C2S) {
        /* RFC 4253 4.2 lets only the server send other lines first. */
        tap__fail(tap, dir, &ev, "the client's first line is not an SSH "
                  "identification: \"%s\"",
                  tap__excerpt((const uint8_t *)text, n, ex, sizeof ex));
        return;
    }
    if (ds->pre_ident_lines >= TAP_MAX_PRE_IDENT_LINES) {
        tap__fail(tap, dir, &ev, "more than %u lines before the "
                  "identification", TAP_MAX_PRE_IDENT_LINES);
        return;
    }
    ds->pre_ident_lines++;
    if (!ds->pre_ident_truncated) {
        size_t sep = ds->pre_ident_lines > 1 ? 1 : 0;

        if (ds->pre_ident.len + sep + n > TAP_MAX_PRE_IDENT_RECORD ||
            util_buf_append(&ds->pre_ident, "\n", sep) < 0 ||
            util_buf_append(&ds->pre_ident, text, n) < 0) {
            /* Recording is best effort: the event still carries it. */
            ds->pre_ident_truncated = 1;
        }
    }
    tap__emit(tap, dir, &ev);
    tap__unit_reset(ds);
}

/* Reads one line. A line proves itself bad at a NUL byte or at the byte
 * that makes it too long for its kind; both end the call there. */
static size_t
tap__ident_step(tap_t *tap, tap_dir_t dir, const uint8_t *data, size_t len,
                int *fired)
{
    tap_dirstate_t *ds = tap->dir[dir];
    size_t i = 0;

    while (i < len) {
        uint8_t c = data[i];
        size_t max;

        i++;
        ds->bytes++;
        if (util_buf_append(&ds->unit, &c, 1) < 0) {
            tap__fail_unit(tap, dir, "out of memory");
            *fired = 1;
            return i;
        }
        if (c == '\n') {
            tap__line_done(tap, dir);
            *fired = 1;
            return i;
        }
        if (c == '\0') {
            tap__fail_unit(tap, dir, "NUL byte in %s line at offset %zu",
                           tap__is_ssh_line((const uint8_t *)ds->unit.data,
                                            ds->unit.len) ?
                           "identification" : "pre-identification",
                           ds->unit.len - 1);
            *fired = 1;
            return i;
        }
        /* The client may only send its identification; the server's other
         * lines are allowed to be longer. */
        if (dir == TAP_DIR_C2S ||
            tap__is_ssh_line((const uint8_t *)ds->unit.data, ds->unit.len)) {
            max = TAP_MAX_IDENT_LINE;
        } else {
            max = TAP_MAX_PRE_IDENT_LINE;
        }
        if (ds->unit.len >= max) {
            tap__fail_unit(tap, dir, "%s line longer than %zu bytes "
                           "(CR LF included)",
                           max == TAP_MAX_IDENT_LINE ?
                           "identification" : "pre-identification", max);
            *fired = 1;
            return i;
        }
    }
    return i;
}

/* ---- cleartext packets ------------------------------------------------ */

/* Parses a KEXINIT payload into k, whose lists point into *store (a new
 * allocation the caller owns). Returns 0, or -1 with a message in err. */
static int
tap__kexinit_parse(const uint8_t *p, size_t n, tap_kexinit_t *k, char **store,
                   char *err, size_t errlen)
{
    tap__reader_t r = { p, n, 1 }; /* after the message type */
    char *s = NULL;
    size_t so = 0;
    size_t i;

    memset(k, 0, sizeof *k);
    if (tap__left(&r) < sizeof k->cookie) {
        snprintf(err, errlen, "KEXINIT too short for its cookie (%zu bytes)",
                 n);
        return -1;
    }
    memcpy(k->cookie, p + r.off, sizeof k->cookie);
    r.off += sizeof k->cookie;

    /* Every list is a slice of the payload, so n bytes plus one NUL per
     * list always hold them all. */
    s = malloc(n + TAP_KEX__NLISTS);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (i = 0; i < TAP_KEX__NLISTS; i++) {
        const uint8_t *lp = NULL;
        uint32_t ll = 0;
        size_t before = tap__left(&r);
        int rc = tap__get_string(&r, &lp, &ll);

        if (rc == -1) {
            snprintf(err, errlen, "KEXINIT truncated before %s",
                     tap__kex_list_names[i]);
            goto fail;
        }
        if (rc == -2) {
            snprintf(err, errlen, "KEXINIT %s length %u exceeds the %zu "
                     "bytes left in the payload", tap__kex_list_names[i],
                     (unsigned)ll, before - 4);
            goto fail;
        }
        if (memchr(lp, '\0', ll) != NULL) {
            snprintf(err, errlen, "KEXINIT %s contains a NUL byte",
                     tap__kex_list_names[i]);
            goto fail;
        }
        memcpy(s + so, lp, ll);
        s[so + ll] = '\0';
        k->lists[i] = s + so;
        so += (size_t)ll + 1;
    }
    if (tap__left(&r) < 1) {
        snprintf(err, errlen, "KEXINIT truncated before "
                 "first_kex_packet_follows");
        goto fail;
    }
    k->first_kex_packet_follows = p[r.off] != 0;
    r.off++;
    if (tap__get_u32(&r, &k->reserved) < 0) {
        snprintf(err, errlen, "KEXINIT truncated before its reserved field");
        goto fail;
    }
    /* Bytes after "reserved" are tolerated, as peers do: RFC 4251 lets
     * later extensions append fields. */
    *store = s;
    return 0;
fail:
    free(s);
    memset(k, 0, sizeof *k);
    return -1;
}

static void
tap__kexinit_done(tap_t *tap, tap_dir_t dir, tap_event_t *ev)
{
    tap_dirstate_t *ds = tap->dir[dir];
    tap_kexinit_t k;
    char *store = NULL;
    char err[TAP_MAX_ERROR];

    if (tap__kexinit_parse(ev->payload, ev->payload_len, &k, &store, err,
                           sizeof err) < 0) {
        tap__fail(tap, dir, ev, "%s", err);
        return;
    }
    free(ds->kexinit_store);
    ds->kexinit_store = store;
    ds->kexinit = k;
    ds->has_kexinit = 1;
    /* A failed hash leaves hassh "": the KEXINIT itself is fine. */
    (void)tap_hassh(&ds->kexinit, dir == TAP_DIR_S2C, ds->hassh,
                    &ds->hassh_algorithms);
    ev->kind = TAP_EV_KEXINIT;
    ev->kexinit = &ds->kexinit;
    ev->hassh = ds->hassh;
    ev->hassh_algorithms = ds->hassh_algorithms.data != NULL ?
                           ds->hassh_algorithms.data : "";
    tap__emit(tap, dir, ev);
    tap__unit_reset(ds);
}

static void
tap__disconnect_done(tap_t *tap, tap_dir_t dir, tap_event_t *ev)
{
    tap_dirstate_t *ds = tap->dir[dir];
    tap__reader_t r = { ev->payload, ev->payload_len, 1 };
    uint32_t reason = 0;
    const uint8_t *desc = NULL;
    uint32_t dlen = 0;
    const uint8_t *lang = NULL;
    uint32_t llen = 0;
    char *dcopy = NULL;
    char *lcopy = NULL;
    int rc;

    if (tap__get_u32(&r, &reason) < 0) {
        tap__fail(tap, dir, ev, "DISCONNECT truncated before its reason code");
        return;
    }
    rc = tap__get_string(&r, &desc, &dlen);
    if (rc == -1) {
        tap__fail(tap, dir, ev, "DISCONNECT truncated before its description");
        return;
    }
    if (rc == -2) {
        tap__fail(tap, dir, ev, "DISCONNECT description length %u exceeds "
                  "the %zu bytes left in the payload", (unsigned)dlen,
                  tap__left(&r));
        return;
    }
    /* Some implementations omit the language tag; a tag that is there
     * must fit, though. */
    if (tap__left(&r) > 0) {
        rc = tap__get_string(&r, &lang, &llen);
        if (rc < 0) {
            tap__fail(tap, dir, ev, "DISCONNECT language tag is truncated");
            return;
        }
    }
    dcopy = util_strndup((const char *)desc, dlen);
    lcopy = util_strndup(lang != NULL ? (const char *)lang : "", llen);
    if (dcopy == NULL || lcopy == NULL) {
        free(dcopy);
        free(lcopy);
        tap__fail(tap, dir, ev, "out of memory");
        return;
    }
    free(ds->disconnect_description);
    free(ds->disconnect_language);
    ds->disconnect_description = dcopy;
    ds->disconnect_description_len = dlen;
    ds->disconnect_language = lcopy;
    ds->disconnect_reason = reason;
    ds->has_disconnect = 1;
    ev->kind = TAP_EV_DISCONNECT;
    ev->reason = reason;
    ev->description = dcopy;
    ev->description_len = dlen;
    ev->language = lcopy;
    tap__emit(tap, dir, ev);
    tap__unit_reset(ds);
}

static void
tap__packet_done(tap_t *tap, tap_dir_t dir)
{
    tap_dirstate_t *ds = tap->dir[dir];
    const uint8_t *p = (const uint8_t *)ds->unit.data;
    tap_event_t ev;
    uint8_t type;

    tap__event_init(&ev, TAP_EV_PACKET, ds);
    ev.packet_length = ds->packet_length;
    ev.padding_length = p[4];
    ev.payload = p + 5;
    /* The header checks guarantee padding_length <= packet_length - 2. */
    ev.payload_len = ds->packet_length - p[4] - 1u;
    type = ev.payload[0];
    ev.msg_type = type;
    ds->packets++;
    if (ds->msg_count == NULL) {
        ds->msg_count = calloc(256, sizeof *ds->msg_count); /* NULL: not counted */
    }
    if (ds->msg_count != NULL) {
        ds->msg_count[type]++;
    }

    switch (type) {
    case TAP_MSG_KEXINIT:
        tap__kexinit_done(tap, dir, &ev);
        return;
    case TAP_MSG_DISCONNECT:
        tap__disconnect_done(tap, dir, &ev);
        return;
    case TAP_MSG_NEWKEYS:
        /* Everything after this packet is encrypted with keys we do not
         * have: its framing is unknowable, so only bytes are counted. */
        ds->phase = TAP_PHASE_ENCRYPTED;
        ev.kind = TAP_EV_NEWKEYS;
        tap__emit(tap, dir, &ev);
        util_buf_free(&ds->unit);
        util_buf_free(&ds->scratch);
        return;
    default:
        tap__emit(tap, dir, &ev);
        tap__unit_reset(ds);
        return;
    }
}

/* Checks packet_length as soon as its 4 bytes are in. */
static int
tap__check_length(tap_t *tap, tap_dir_t dir)
{
    tap_dirstate_t *ds = tap->dir[dir];
    uint32_t len = tap__be32((const uint8_t *)ds->unit.data);

    ds->packet_length = len;
    if (len > TAP_MAX_PACKET_LENGTH) {
        tap__fail_unit(tap, dir, "packet_length %u exceeds the %u-byte limit",
                       (unsigned)len, TAP_MAX_PACKET_LENGTH);
        return -1;
    }
    if (len < 5) {
        tap__fail_unit(tap, dir, "packet_length %u is below the minimum of 5",
                       (unsigned)len);
        return -1;
    }
    if ((len + 4) % TAP_CLEAR_BLOCK != 0) {
        tap__fail_unit(tap, dir, "packet_length %u + 4 is not a multiple "
                       "of %u", (unsigned)len, TAP_CLEAR_BLOCK);
        return -1;
    }
    return 0;
}

/* Checks padding_length as soon as it is in. */
static int
tap__check_padding(tap_t *tap, tap_dir_t dir)
{
    tap_dirstate_t *ds = tap->dir[dir];
    uint8_t pad = (uint8_t)ds->unit.data[4];

    if (pad >= ds->packet_length) {
        tap__fail_unit(tap, dir, "padding_length %u does not fit in "
                       "packet_length %u", pad, (unsigned)ds->packet_length);
        return -1;
    }
    if (pad == ds->packet_length - 1) {
        tap__fail_unit(tap, dir, "padding_length %u leaves no payload in "
                       "packet_length %u", pad, (unsigned)ds->packet_length);
        return -1;
    }
    if (pad < TAP_MIN_PADDING) {
        tap__fail_unit(tap, dir, "padding_length %u is below the minimum "
                       "of %u", pad, TAP_MIN_PADDING);
        return -1;
    }
    return 0;
}

static int
tap__take(tap_t *tap, tap_dir_t dir, const uint8_t *data, size_t n)
{
    tap_dirstate_t *ds = tap->dir[dir];

    ds->bytes += n;
    if (util_buf_append(&ds->unit, data, n) < 0) {
        tap__fail_unit(tap, dir, "out of memory");
        return -1;
    }
    return 0;
}

static size_t
tap__packet_step(tap_t *tap, tap_dir_t dir, const uint8_t *data, size_t len,
                 int *fired)
{
    tap_dirstate_t *ds = tap->dir[dir];
    size_t used = 0;
    size_t take;
    size_t total;

    if (ds->unit.len < 4) {
        take = 4 - ds->unit.len;
        take = take < len ? take : len;
        if (tap__take(tap, dir, data, take) < 0) {
            *fired = 1;
            return take;
        }
        used += take;
        if (ds->unit.len < 4) {
            return used;
        }
        if (tap__check_length(tap, dir) < 0) {
            *fired = 1;
            return used;
        }
    }
    if (ds->unit.len == 4) {
        if (used == len) {
            return used;
        }
        if (tap__take(tap, dir, data + used, 1) < 0) {
            *fired = 1;
            return used + 1;
        }
        used++;
        if (tap__check_padding(tap, dir) < 0) {
            *fired = 1;
            return used;
        }
    }
    total = 4 + (size_t)ds->packet_length;
    take = total - ds->unit.len;
    take = take < len - used ? take : len - used;
    if (take > 0 && tap__take(tap, dir, data + used, take) < 0) {
        *fired = 1;
        return used + take;
    }
    used += take;
    if (ds->unit.len == total) {
        tap__packet_done(tap, dir);
        *fired = 1;
    }
    return used;
}

/* ---- feeding ---------------------------------------------------------- */

size_t
tap_feed(tap_t *tap, tap_dir_t dir, const uint8_t *data, size_t len)
{
    tap_dirstate_t *ds = NULL;
    size_t used = 0;
    int fired = 0;

    if (tap == NULL || (unsigned)dir >= TAP_DIR__COUNT || data == NULL ||
        len == 0 || tap->in_callback) {
        return 0;
    }
    if (tap->dir[dir] == NULL) {
        tap->dir[dir] = calloc(1, sizeof *tap->dir[dir]);
        if (tap->dir[dir] == NULL) {
            return len; /* nothing can be recorded: the bytes pass unseen */
        }
    }
    ds = tap->dir[dir];
    while (used < len && !fired) {
        switch (ds->phase) {
        case TAP_PHASE_IDENT:
            used += tap__ident_step(tap, dir, data + used, len - used, &fired);
            break;
        case TAP_PHASE_CLEARTEXT_PACKETS:
            used += tap__packet_step(tap, dir, data + used, len - used,
                                     &fired);
            break;
        case TAP_PHASE_ENCRYPTED:
        case TAP_PHASE_UNPARSED:
        case TAP_PHASE_ERROR:
        default:
            ds->bytes += len - used;
            used = len;
            break;
        }
    }
    return used;
}

void
tap_feed_all(tap_t *tap, tap_dir_t dir, const uint8_t *data, size_t len)
{
    while (len > 0) {
        size_t n = tap_feed(tap, dir, data, len);

        if (n == 0) {
            return; /* misuse: see tap_feed() */
        }
        data += n;
        len -= n;
    }
}
