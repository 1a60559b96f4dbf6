/*
 * channel: session channels. exec answers with the profile's canned
 * response; shell gets a small canned shell (prompt, canned commands, exit).
 * No real command ever runs.
 *
 * Output is queued here and written by channel_flush_all() after libssh has
 * returned, never from inside a libssh callback, so a full window or socket
 * only delays output. The close sequence is the one OpenSSH's sshd uses:
 * data, EOF, exit-status, close.
 */
#ifndef SSHMOCK_CHANNEL_H
#define SSHMOCK_CHANNEL_H

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "base/util.h"

struct conn_s;

typedef struct channel_s {
    struct conn_s *conn;
    ssh_channel ch;
    struct ssh_channel_callbacks_struct cb;
    int pty;              /* a pty was asked for: echo input, CRLF output */
    int started;          /* exec or shell running */
    int shell;
    util_buf_t out;       /* queued stdout */
    util_buf_t err;       /* queued stderr */
    util_buf_t line;      /* shell input being typed */
    int finish;           /* after out/err drain: EOF, exit-status, close */
    int exit_status;
    int closed_local;     /* we sent CHANNEL_CLOSE */
    struct channel_s *next;
} channel_t;

int channel_handle_open(struct conn_s *c, ssh_message msg);
int channel_handle_request(struct conn_s *c, ssh_message msg);

/* Writes what is queued, sends EOF/exit-status/close when due, frees
 * channels both sides have closed. Called after every libssh run. */
void channel_flush_all(struct conn_s *c);

void channel_free_all(struct conn_s *c);

#endif /* SSHMOCK_CHANNEL_H */
