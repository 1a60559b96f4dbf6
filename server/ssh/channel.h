/*
 * channel: session channels. exec answers with the profile's canned
 * response; shell gets a small canned shell (prompt, canned commands, exit).
 * No real command ever runs.
 *
 * Two layers, as in auth. The channel core (channel_exec, channel_shell,
 * channel_input, channel_output, ...) knows no libssh: it writes through a
 * small output ops table (data, EOF, exit-status, close), so unit tests
 * drive it with a fake. The libssh adapter (channel_handle_*,
 * channel_flush_all) plugs ssh_channel into that table.
 *
 * Output is queued here and written by channel_flush_all() after libssh has
 * returned, never from inside a libssh callback, so a full window or socket
 * only delays output. The close sequence is the one OpenSSH's sshd uses:
 * data, EOF, exit-status, close.
 *
 * Bounds, as sshd has them: queued output is capped by backpressure. When
 * more than CHANNEL_OUT_HIGH bytes wait for the client, the channel stops
 * taking the client's input (the data callback says "not consumed", libssh
 * keeps it and stops growing the window), so a client that types without
 * reading stalls itself instead of growing the server. Each input byte
 * adds at most one canned response and a prompt, so the overshoot is
 * bounded by the profile. Session channels per connection are capped by
 * MaxSessions; further opens are refused (administratively prohibited).
 */
#ifndef SSHMOCK_CHANNEL_H
#define SSHMOCK_CHANNEL_H

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "base/util.h"
#include "ssh/sess.h"

/* Above this much queued output (stdout + stderr) input is not taken. */
#define CHANNEL_OUT_HIGH (64 * 1024)
/* A typed shell line longer than this is cut: it is a mock, not a shell. */
#define CHANNEL_LINE_MAX 4096

/* Where a channel's output goes. io is channel_t.io. */
typedef struct channel_io_ops_s {
    /* Takes up to len bytes; returns how many it took (0: window full),
     * or -1 when the channel is gone. */
    int (*write)(void *io, int is_stderr, const void *data, size_t len);
    void (*eof)(void *io);
    void (*exit_status)(void *io, int status);
    void (*close)(void *io);
} channel_io_ops_t;

typedef struct channel_s {
    const sess_t *sess;
    const channel_io_ops_t *io_ops;
    void *io;
    int pty;              /* a pty was asked for: echo input, CRLF output */
    int started;          /* exec or shell running */
    int shell;
    int last_cr;          /* the last input byte was CR (CR LF is one Enter) */
    util_buf_t out;       /* queued stdout */
    util_buf_t err;       /* queued stderr */
    util_buf_t line;      /* shell input being typed */
    int finish;           /* after out/err drain: EOF, exit-status, close */
    int exit_status;
    int closed_local;     /* we sent CHANNEL_CLOSE */

    /* The libssh adapter's. */
    ssh_channel ch;
    struct ssh_channel_callbacks_struct cb;
    util_buf_t in;        /* input read from libssh but not yet taken */
    int held;             /* libssh holds input we did not take */
    int input_eof;        /* the client sent EOF (acted on once input is taken) */
    struct channel_s *next;
} channel_t;

/* The channels of one connection. */
typedef struct channel_set_s {
    channel_t *head;
    int n;
} channel_set_t;

/* ---- core -------------------------------------------------------------- */

void channel_init(channel_t *ch, const sess_t *s, const channel_io_ops_t *ops, void *io);
void channel_cleanup(channel_t *ch);

/* May one more channel of this kind open? NULL: yes; else why not. */
const char *channel_open_refusal(const sess_t *s, const channel_set_t *set, int is_session,
                                 int authenticated);

void channel_pty(channel_t *ch);
/* cmd is len bytes as the client sent them. Returns -1 (refuse the
 * request) when a command is already running or cmd holds a NUL byte. */
int channel_exec(channel_t *ch, const char *cmd, size_t len);
int channel_shell(channel_t *ch);

/* The client's data. Returns how many bytes were taken: fewer than len
 * when queued output is over CHANNEL_OUT_HIGH (offer the rest later). */
size_t channel_input(channel_t *ch, const void *data, size_t len, int is_stderr);
/* The client's EOF: a shell exits, as sh does at the end of its input. */
void channel_input_eof(channel_t *ch);
/* Is queued output over the bound? */
int channel_backlogged(const channel_t *ch);

/* Writes what is queued; sends EOF, exit-status and close once the
 * output is out. Returns 1 when the channel is done, -1 when its
 * writes failed, 0 otherwise. */
int channel_output(channel_t *ch);

/* ---- the libssh adapter -------------------------------------------------- */

int channel_handle_open(sess_t *s, channel_set_t *set, ssh_message msg, int authenticated);
int channel_handle_request(sess_t *s, channel_set_t *set, ssh_message msg);

/* Writes what is queued, takes held input once output has drained, sends
 * EOF/exit-status/close when due, frees channels both sides have closed.
 * Called after every libssh run. */
void channel_flush_all(channel_set_t *set);

void channel_free_all(channel_set_t *set);

#endif /* SSHMOCK_CHANNEL_H */
