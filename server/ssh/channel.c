#include "ssh/channel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- core -------------------------------------------------------------- */

void
channel_init(channel_t *ch, const sess_t *s, const channel_io_ops_t *ops, void *io)
{
    memset(ch, 0, sizeof *ch);
    ch->sess = s;
    ch->io_ops = ops;
    ch->io = io;
}

void
channel_cleanup(channel_t *ch)
{
    util_buf_free(&ch->out);
    util_buf_free(&ch->err);
    util_buf_free(&ch->line);
    util_buf_free(&ch->in);
}

const char *
channel_open_refusal(const sess_t *s, const channel_set_t *set, int is_session,
                     int authenticated)
{
    if (!authenticated) {
        return "not authenticated";
    }
    if (!is_session) {
        return "type";
    }
    /* sshd: session_new() "too many sessions" past MaxSessions. */
    if (set->n >= s->profile->max_sessions) {
        return "MaxSessions";
    }
    return NULL;
}

int
channel_backlogged(const channel_t *ch)
{
    return ch->out.len + ch->err.len >= CHANNEL_OUT_HIGH;
}

/* Appends text with %u (user), %c (command) and %% expanded; on a pty,
 * LF becomes CRLF as a terminal line discipline would make it. */
static void
channel__queue(channel_t *ch, util_buf_t *b, const char *text, size_t len, const char *cmd)
{
    const char *user = ch->sess->user != NULL ? ch->sess->user : "";
    size_t i;

    for (i = 0; i < len; i++) {
        char x = text[i];
        if (x == '%' && i + 1 < len) {
            char n = text[i + 1];
            if (n == 'u') {
                util_buf_puts(b, user);
                i++;
                continue;
            }
            if (n == 'c') {
                util_buf_puts(b, cmd != NULL ? cmd : "");
                i++;
                continue;
            }
            if (n == '%') {
                util_buf_append(b, "%", 1);
                i++;
                continue;
            }
        }
        if (x == '\n' && ch->pty && (i == 0 || text[i - 1] != '\r')) {
            util_buf_append(b, "\r", 1);
        }
        util_buf_append(b, &x, 1);
    }
}

static void
channel__prompt(channel_t *ch)
{
    const char *prompt = ch->sess->profile->shell_prompt;

    if (prompt != NULL) {
        channel__queue(ch, &ch->out, prompt, strlen(prompt), NULL);
    }
}

static void
channel__finish(channel_t *ch, int status)
{
    ch->finish = 1;
    ch->exit_status = status;
}

/* The canned response to one command line. */
static void
channel__run(channel_t *ch, const char *cmd)
{
    const profile_exec_t *e = profile_exec_find(ch->sess->profile, cmd);
    char status[16];

    if (e != NULL) {
        channel__queue(ch, &ch->out, e->out != NULL ? e->out : "", e->out_len, cmd);
        channel__queue(ch, &ch->err, e->err != NULL ? e->err : "", e->err_len, cmd);
    }
    snprintf(status, sizeof status, "%d", e != NULL ? e->exit_status : 127);
    SESS_LOG(ch->sess, "exec", "command", cmd, "exit_status", status,
             "canned", e != NULL && e->command != NULL ? "yes" : "default", NULL);
    if (!ch->shell) {
        channel__finish(ch, e != NULL ? e->exit_status : 127);
    }
}

void
channel_pty(channel_t *ch)
{
    ch->pty = 1;
}

int
channel_exec(channel_t *ch, const char *cmd, size_t len)
{
    if (ch->started || cmd == NULL) {
        return -1;
    }
    if (memchr(cmd, '\0', len) != NULL || strlen(cmd) != len) {
        /* sshd's parser refuses a command with a NUL in it: running the
         * part before the NUL would answer a command nobody sent. */
        SESS_LOG(ch->sess, "channel_request_refused", "type", "exec",
                 "reason", "NUL byte in command", NULL);
        return -1;
    }
    ch->started = 1;
    channel__run(ch, cmd);
    return 0;
}

int
channel_shell(channel_t *ch)
{
    if (ch->started) {
        return -1;
    }
    ch->started = 1;
    ch->shell = 1;
    channel__prompt(ch);
    return 0;
}

static void
channel__shell_line(channel_t *ch)
{
    char *line = NULL;
    char *end = NULL;
    int status = 0;

    util_buf_append(&ch->line, "", 0); /* a terminated string, even when empty */
    line = ch->line.data != NULL ? ch->line.data : "";
    while (*line == ' ' || *line == '\t') {
        line++;
    }
    end = line + strlen(line);
    while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) {
        *--end = '\0';
    }
    if (strcmp(line, "exit") == 0 || strcmp(line, "logout") == 0 ||
        sscanf(line, "exit %d", &status) == 1) {
        SESS_LOG(ch->sess, "shell_exit", "exit_status", line[0] == 'e' ? line : "logout", NULL);
        channel__finish(ch, status & 0xff);
    } else {
        if (*line != '\0') {
            channel__run(ch, line);
        }
        channel__prompt(ch);
    }
    util_buf_reset(&ch->line);
}

/* One typed byte of a shell. */
static void
channel__shell_byte(channel_t *ch, unsigned char b)
{
    int was_cr = ch->last_cr;

    ch->last_cr = b == '\r';
    if (b == '\r' || b == '\n') {
        if (b == '\n' && was_cr) {
            return; /* CR LF: one Enter */
        }
        if (ch->pty) {
            util_buf_puts(&ch->out, "\r\n");
        }
        channel__shell_line(ch);
    } else if (ch->pty && (b == 0x7f || b == 0x08)) {
        if (ch->line.len > 0) {
            ch->line.len--;
            ch->line.data[ch->line.len] = '\0';
            util_buf_puts(&ch->out, "\b \b");
        }
    } else if (ch->pty && b == 0x03) {
        util_buf_puts(&ch->out, "^C\r\n");
        util_buf_reset(&ch->line);
        channel__prompt(ch);
    } else if (ch->pty && b == 0x04) {
        if (ch->line.len == 0) {
            util_buf_puts(&ch->out, "logout\r\n");
            channel__finish(ch, 0);
        }
    } else if (ch->line.len < CHANNEL_LINE_MAX) {
        util_buf_append(&ch->line, &b, 1);
        if (ch->pty) {
            util_buf_append(&ch->out, &b, 1);
        }
    }
}

size_t
channel_input(channel_t *ch, const void *data, size_t len, int is_stderr)
{
    const unsigned char *p = data;
    size_t i;

    if (!ch->shell || is_stderr || ch->finish) {
        return len; /* exec input is read and dropped, like `true < file` */
    }
    for (i = 0; i < len && !ch->finish; i++) {
        if (channel_backlogged(ch)) {
            return i; /* the client is not reading: stop reading it */
        }
        channel__shell_byte(ch, p[i]);
    }
    return len; /* all taken, or the shell ended and drops the rest */
}

void
channel_input_eof(channel_t *ch)
{
    if (ch->shell && !ch->finish) {
        if (ch->line.len > 0) {
            channel__shell_line(ch);
        }
        channel__finish(ch, 0);
    }
}

static int
channel__write(channel_t *ch, util_buf_t *b, int is_stderr)
{
    int n;

    if (b->len == 0) {
        return 0;
    }
    n = ch->io_ops->write(ch->io, is_stderr, b->data, b->len);
    if (n < 0) {
        return -1;
    }
    util_buf_consume(b, (size_t)n);
    return 0;
}

int
channel_output(channel_t *ch)
{
    if (ch->closed_local) {
        return 1;
    }
    if (channel__write(ch, &ch->out, 0) < 0 || channel__write(ch, &ch->err, 1) < 0) {
        return -1;
    }
    if (ch->finish && ch->out.len == 0 && ch->err.len == 0) {
        /* sshd's order: EOF when output ends, then exit-status, then close. */
        char status[16];
        ch->io_ops->eof(ch->io);
        ch->io_ops->exit_status(ch->io, ch->exit_status);
        ch->io_ops->close(ch->io);
        ch->closed_local = 1;
        snprintf(status, sizeof status, "%d", ch->exit_status);
        SESS_LOG(ch->sess, "channel_close", "exit_status", status, NULL);
        return 1;
    }
    return 0;
}

/* ---- the libssh adapter -------------------------------------------------- */

static int
channel__io_write(void *io, int is_stderr, const void *data, size_t len)
{
    ssh_channel c = io;
    uint32_t n = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
    int rc = is_stderr ? ssh_channel_write_stderr(c, data, n) : ssh_channel_write(c, data, n);

    return rc == SSH_ERROR ? -1 : rc;
}

static void
channel__io_eof(void *io)
{
    ssh_channel_send_eof(io);
}

static void
channel__io_exit_status(void *io, int status)
{
    ssh_channel_request_send_exit_status(io, status);
}

static void
channel__io_close(void *io)
{
    ssh_channel_close(io);
}

static const channel_io_ops_t channel__libssh_io = {
    .write = channel__io_write,
    .eof = channel__io_eof,
    .exit_status = channel__io_exit_status,
    .close = channel__io_close,
};

static channel_t *
channel__find(channel_set_t *set, ssh_channel sc)
{
    channel_t *ch = NULL;

    for (ch = set->head; ch != NULL; ch = ch->next) {
        if (ch->ch == sc) {
            return ch;
        }
    }
    return NULL;
}

/* libssh offers the whole of what it holds each time; what we do not
 * take stays in libssh and counts against the window it grants. */
static int
channel__on_data(ssh_session session, ssh_channel sc, void *data, uint32_t len,
                 int is_stderr, void *userdata)
{
    channel_t *ch = userdata;
    size_t n = 0;

    (void)session;
    (void)sc;
    if (ch->in.len > 0) {
        ch->held = 1; /* older input goes first */
        return 0;
    }
    n = channel_input(ch, data, len, is_stderr);
    ch->held = n < len;
    return (int)n;
}

static void
channel__on_eof(ssh_session session, ssh_channel sc, void *userdata)
{
    channel_t *ch = userdata;

    (void)session;
    (void)sc;
    ch->input_eof = 1; /* acted on in channel__pump, after held input */
}

int
channel_handle_open(sess_t *s, channel_set_t *set, ssh_message msg, int authenticated)
{
    int is_session = ssh_message_subtype(msg) == SSH_CHANNEL_SESSION;
    const char *why = channel_open_refusal(s, set, is_session, authenticated);
    channel_t *ch = NULL;
    ssh_channel sc = NULL;

    if (why != NULL) {
        /* libssh's default answer: OPEN_FAILURE, administratively
         * prohibited, as sshd answers past MaxSessions. */
        SESS_LOG(s, "channel_open_refused", "type", is_session ? "session" : "other",
                 "reason", why, NULL);
        return 1;
    }
    ch = malloc(sizeof *ch);
    if (ch == NULL) {
        return 1;
    }
    sc = ssh_message_channel_request_open_reply_accept(msg);
    if (sc == NULL) {
        free(ch);
        return 0;
    }
    channel_init(ch, s, &channel__libssh_io, sc);
    ch->ch = sc;
    ch->cb.userdata = ch;
    ch->cb.channel_data_function = channel__on_data;
    ch->cb.channel_eof_function = channel__on_eof;
    ssh_callbacks_init(&ch->cb);
    ssh_set_channel_callbacks(ch->ch, &ch->cb);
    ch->next = set->head;
    set->head = ch;
    set->n++;
    SESS_LOG(s, "channel_open", "type", "session", NULL);
    s->ops->channel_opened(s->owner);
    return 0;
}

/* The length of an exec command as the client sent it. libssh hands it
 * over as a C string; the packet log (sess_wire_t) has the payload length:
 * byte type, uint32 recipient, string "exec", bool want-reply, string cmd. */
static size_t
channel__exec_len(const sess_t *s, const char *cmd)
{
    const uint32_t fixed = 1 + 4 + (4 + 4) + 1 + 4;

    if (s->session != NULL && s->wire.type == 98 && s->wire.payload >= fixed) {
        return s->wire.payload - fixed;
    }
    return strlen(cmd);
}

int
channel_handle_request(sess_t *s, channel_set_t *set, ssh_message msg)
{
    channel_t *ch = channel__find(set, ssh_message_channel_request_channel(msg));
    const char *arg = NULL;

    if (ch == NULL) {
        return 1;
    }
    switch (ssh_message_subtype(msg)) {
    case SSH_CHANNEL_REQUEST_PTY:
        channel_pty(ch);
        SESS_LOG(s, "channel_request", "type", "pty-req", NULL);
        ssh_message_channel_request_reply_success(msg);
        return 0;
    case SSH_CHANNEL_REQUEST_ENV:
        arg = ssh_message_channel_request_env_name(msg);
        SESS_LOG(s, "channel_request", "type", "env", "name", arg, NULL);
        ssh_message_channel_request_reply_success(msg);
        return 0;
    case SSH_CHANNEL_REQUEST_WINDOW_CHANGE:
        ssh_message_channel_request_reply_success(msg);
        return 0;
    case SSH_CHANNEL_REQUEST_EXEC:
        arg = ssh_message_channel_request_command(msg);
        SESS_LOG(s, "channel_request", "type", "exec", "command", arg, NULL);
        if (arg == NULL || channel_exec(ch, arg, channel__exec_len(s, arg)) != 0) {
            return 1;
        }
        ssh_message_channel_request_reply_success(msg);
        return 0;
    case SSH_CHANNEL_REQUEST_SHELL:
        SESS_LOG(s, "channel_request", "type", "shell", NULL);
        if (channel_shell(ch) != 0) {
            return 1;
        }
        ssh_message_channel_request_reply_success(msg);
        return 0;
    case SSH_CHANNEL_REQUEST_SUBSYSTEM:
        arg = ssh_message_channel_request_subsystem(msg);
        SESS_LOG(s, "channel_request_refused", "type", "subsystem", "name", arg, NULL);
        return 1;
    default:
        SESS_LOG(s, "channel_request_refused", "type", "other", NULL);
        return 1;
    }
}

static void
channel__free(channel_set_t *set, channel_t *ch)
{
    channel_t **pp = NULL;

    for (pp = &set->head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == ch) {
            *pp = ch->next;
            set->n--;
            break;
        }
    }
    if (ch->ch != NULL) {
        /* libssh may keep the channel until the client's CLOSE arrives:
         * it must not call back into memory we are about to free. */
        ssh_remove_channel_callbacks(ch->ch, &ch->cb);
        ssh_channel_free(ch->ch);
    }
    channel_cleanup(ch);
    free(ch);
}

/* Input taken per channel and flush at most: more than libssh's channel
 * window (1.25 MB in 0.10), so all it holds is taken in one go unless the
 * output backs up first; and a bound, so one channel cannot hold the loop. */
#define CHANNEL__PUMP_BUDGET (2u * 1024 * 1024)

/*
 * Takes input libssh still holds, now that output has room. libssh will
 * not offer it again by itself until more arrives, and the client cannot
 * send more while the window is shut: so all of it is taken here, as long
 * as the output written in between keeps below the bound. Reading what
 * libssh already holds processes no new packet (it only reads the socket
 * when its buffer is empty). Returns 1 when the channel is done, -1 on a
 * failed write, 0 otherwise.
 */
static int
channel__pump(channel_t *ch)
{
    char tmp[4096];
    size_t budget = CHANNEL__PUMP_BUDGET;
    int rc = 0;
    int n;

    while (rc == 0 && budget > 0 && !channel_backlogged(ch) && (ch->held || ch->in.len > 0)) {
        if (ch->in.len > 0) {
            size_t took = channel_input(ch, ch->in.data, ch->in.len, 0);
            util_buf_consume(&ch->in, took);
            budget -= took < budget ? took : budget;
        } else {
            n = ssh_channel_read_nonblocking(ch->ch, tmp, sizeof tmp, 0);
            ch->held = n == (int)sizeof tmp;
            if (n <= 0) {
                break;
            }
            util_buf_append(&ch->in, tmp, (size_t)n);
        }
        rc = channel_output(ch);
    }
    if (rc == 0 && ch->input_eof && !ch->held && ch->in.len == 0) {
        channel_input_eof(ch);
        rc = channel_output(ch);
    }
    return rc;
}

void
channel_flush_all(channel_set_t *set)
{
    channel_t *ch = set->head;

    while (ch != NULL) {
        channel_t *next = ch->next;
        int rc = 0;

        if (ssh_channel_is_closed(ch->ch) && !ch->closed_local) {
            rc = 1; /* the client closed it */
        } else {
            rc = channel_output(ch);
            if (rc == 0) {
                rc = channel__pump(ch);
            }
        }
        if (rc != 0) {
            channel__free(set, ch);
        }
        ch = next;
    }
}

void
channel_free_all(channel_set_t *set)
{
    while (set->head != NULL) {
        channel__free(set, set->head);
    }
}
