#include "ssh/channel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/conn.h"

/* A typed shell line longer than this is cut: it is a mock, not a shell. */
#define CHANNEL_LINE_MAX 4096

static channel_t *
channel__find(conn_t *c, ssh_channel sc)
{
    channel_t *ch = NULL;

    for (ch = c->channels; ch != NULL; ch = ch->next) {
        if (ch->ch == sc) {
            return ch;
        }
    }
    return NULL;
}

/* Appends text with %u (user), %c (command) and %% expanded; on a pty,
 * LF becomes CRLF as a terminal line discipline would make it. */
static void
channel__queue(channel_t *ch, util_buf_t *b, const char *text, size_t len, const char *cmd)
{
    size_t i;

    for (i = 0; i < len; i++) {
        char x = text[i];
        if (x == '%' && i + 1 < len) {
            char n = text[i + 1];
            if (n == 'u') {
                util_buf_puts(b, ch->conn->auth.user);
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
    const char *prompt = ch->conn->srv->profile->shell_prompt;

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
    const profile_exec_t *e = profile_exec_find(ch->conn->srv->profile, cmd);
    char status[16];

    if (e != NULL) {
        channel__queue(ch, &ch->out, e->out != NULL ? e->out : "", e->out_len, cmd);
        channel__queue(ch, &ch->err, e->err != NULL ? e->err : "", e->err_len, cmd);
    }
    snprintf(status, sizeof status, "%d", e != NULL ? e->exit_status : 127);
    CONN_LOG(ch->conn, "exec", "command", cmd, "exit_status", status,
             "canned", e != NULL && e->command != NULL ? "yes" : "default", NULL);
    if (!ch->shell) {
        channel__finish(ch, e != NULL ? e->exit_status : 127);
    }
}

static void
channel__shell_line(channel_t *ch)
{
    char *line = ch->line.data != NULL ? ch->line.data : "";
    char *end = NULL;
    int status = 0;

    while (*line == ' ' || *line == '\t') {
        line++;
    }
    end = line + strlen(line);
    while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) {
        *--end = '\0';
    }
    if (strcmp(line, "exit") == 0 || strcmp(line, "logout") == 0 ||
        sscanf(line, "exit %d", &status) == 1) {
        CONN_LOG(ch->conn, "shell_exit", "exit_status", line[0] == 'e' ? line : "logout", NULL);
        channel__finish(ch, status & 0xff);
    } else {
        if (*line != '\0') {
            channel__run(ch, line);
        }
        channel__prompt(ch);
    }
    util_buf_reset(&ch->line);
}

static int
channel__on_data(ssh_session session, ssh_channel sc, void *data, uint32_t len,
                 int is_stderr, void *userdata)
{
    channel_t *ch = userdata;
    const unsigned char *p = data;
    uint32_t i;

    (void)session;
    (void)sc;
    if (!ch->shell || is_stderr || ch->finish) {
        return (int)len; /* exec input is read and dropped, like `true < file` */
    }
    for (i = 0; i < len && !ch->finish; i++) {
        unsigned char b = p[i];
        if (b == '\r' || b == '\n') {
            if (ch->pty) {
                if (b == '\n' && i > 0 && p[i - 1] == '\r') {
                    continue;
                }
                util_buf_puts(&ch->out, "\r\n");
            } else if (b == '\r') {
                continue;
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
    return (int)len;
}

static void
channel__on_eof(ssh_session session, ssh_channel sc, void *userdata)
{
    channel_t *ch = userdata;

    (void)session;
    (void)sc;
    /* A shell whose input ends exits, as sh does at end of input. */
    if (ch->shell && !ch->finish) {
        if (ch->line.len > 0) {
            channel__shell_line(ch);
        }
        channel__finish(ch, 0);
    }
}

int
channel_handle_open(conn_t *c, ssh_message msg)
{
    channel_t *ch = NULL;

    if (ssh_message_subtype(msg) != SSH_CHANNEL_SESSION || !c->auth.authenticated) {
        CONN_LOG(c, "channel_open_refused",
                 "type", ssh_message_subtype(msg) == SSH_CHANNEL_SESSION ? "session" : "other",
                 NULL);
        return 1;
    }
    ch = calloc(1, sizeof *ch);
    if (ch == NULL) {
        return 1;
    }
    ch->conn = c;
    ch->ch = ssh_message_channel_request_open_reply_accept(msg);
    if (ch->ch == NULL) {
        free(ch);
        return 0;
    }
    ch->cb.userdata = ch;
    ch->cb.channel_data_function = channel__on_data;
    ch->cb.channel_eof_function = channel__on_eof;
    ssh_callbacks_init(&ch->cb);
    ssh_set_channel_callbacks(ch->ch, &ch->cb);
    ch->next = c->channels;
    c->channels = ch;
    CONN_LOG(c, "channel_open", "type", "session", NULL);
    wire_stage_after_output(c, FAULT_STAGE_CHANNEL_OPEN);
    return 0;
}

int
channel_handle_request(conn_t *c, ssh_message msg)
{
    channel_t *ch = channel__find(c, ssh_message_channel_request_channel(msg));
    const char *arg = NULL;

    if (ch == NULL) {
        return 1;
    }
    switch (ssh_message_subtype(msg)) {
    case SSH_CHANNEL_REQUEST_PTY:
        ch->pty = 1;
        CONN_LOG(c, "channel_request", "type", "pty-req", NULL);
        ssh_message_channel_request_reply_success(msg);
        return 0;
    case SSH_CHANNEL_REQUEST_ENV:
        arg = ssh_message_channel_request_env_name(msg);
        CONN_LOG(c, "channel_request", "type", "env", "name", arg, NULL);
        ssh_message_channel_request_reply_success(msg);
        return 0;
    case SSH_CHANNEL_REQUEST_WINDOW_CHANGE:
        ssh_message_channel_request_reply_success(msg);
        return 0;
    case SSH_CHANNEL_REQUEST_EXEC:
        arg = ssh_message_channel_request_command(msg);
        CONN_LOG(c, "channel_request", "type", "exec", "command", arg, NULL);
        if (ch->started || arg == NULL) {
            return 1;
        }
        ch->started = 1;
        ssh_message_channel_request_reply_success(msg);
        channel__run(ch, arg);
        return 0;
    case SSH_CHANNEL_REQUEST_SHELL:
        CONN_LOG(c, "channel_request", "type", "shell", NULL);
        if (ch->started) {
            return 1;
        }
        ch->started = 1;
        ch->shell = 1;
        ssh_message_channel_request_reply_success(msg);
        channel__prompt(ch);
        return 0;
    case SSH_CHANNEL_REQUEST_SUBSYSTEM:
        arg = ssh_message_channel_request_subsystem(msg);
        CONN_LOG(c, "channel_request_refused", "type", "subsystem", "name", arg, NULL);
        return 1;
    default:
        CONN_LOG(c, "channel_request_refused", "type", "other", NULL);
        return 1;
    }
}

static void
channel__free(conn_t *c, channel_t *ch)
{
    channel_t **pp = NULL;

    for (pp = &c->channels; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == ch) {
            *pp = ch->next;
            break;
        }
    }
    if (ch->ch != NULL) {
        /* libssh may keep the channel until the client's CLOSE arrives:
         * it must not call back into memory we are about to free. */
        ssh_remove_channel_callbacks(ch->ch, &ch->cb);
        ssh_channel_free(ch->ch);
    }
    util_buf_free(&ch->out);
    util_buf_free(&ch->err);
    util_buf_free(&ch->line);
    free(ch);
}

/* Writes as much of b as the channel window takes. */
static int
channel__write(channel_t *ch, util_buf_t *b, int is_stderr)
{
    int n;

    if (b->len == 0) {
        return 0;
    }
    n = is_stderr ? ssh_channel_write_stderr(ch->ch, b->data, (uint32_t)b->len)
                  : ssh_channel_write(ch->ch, b->data, (uint32_t)b->len);
    if (n == SSH_ERROR) {
        return -1;
    }
    util_buf_consume(b, (size_t)n);
    return 0;
}

void
channel_flush_all(conn_t *c)
{
    channel_t *ch = c->channels;

    while (ch != NULL) {
        channel_t *next = ch->next;
        int dead = 0;

        if (ssh_channel_is_closed(ch->ch) && !ch->closed_local) {
            dead = 1; /* the client closed it */
        } else if (channel__write(ch, &ch->out, 0) < 0 || channel__write(ch, &ch->err, 1) < 0) {
            dead = 1;
        } else if (ch->finish && ch->out.len == 0 && ch->err.len == 0 && !ch->closed_local) {
            /* sshd's order: EOF when output ends, then exit-status, then close. */
            char status[16];
            ssh_channel_send_eof(ch->ch);
            ssh_channel_request_send_exit_status(ch->ch, ch->exit_status);
            ssh_channel_close(ch->ch);
            ch->closed_local = 1;
            snprintf(status, sizeof status, "%d", ch->exit_status);
            CONN_LOG(c, "channel_close", "exit_status", status, NULL);
            dead = 1;
        }
        if (dead) {
            channel__free(c, ch);
        }
        ch = next;
    }
}

void
channel_free_all(conn_t *c)
{
    while (c->channels != NULL) {
        channel__free(c, c->channels);
    }
}
