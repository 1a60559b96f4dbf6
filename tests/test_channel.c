/*
 * Unit tests of the channel core (server/ssh/channel.c): exec with a
 * matching and the default ExecResponse, the canned shell (prompt,
 * commands, exit), a pty (echo, CRLF, editing keys), sshd's close order
 * and the bounds: backpressure when the client does not read, the line
 * cap and MaxSessions. Output goes to a fake: a buffer behind a window
 * the test opens and shuts. No libssh session, no network.
 *
 * Everything is freed: these tests also run under ASan and UBSan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "profile/profile.h"
#include "ssh/channel.h"

/* The client's side of one channel. */
typedef struct fake_io_s {
    util_buf_t out;
    util_buf_t err;
    size_t window;        /* bytes the client will still take */
    char events[64];      /* 'E' eof, 'X' exit-status, 'C' close, in order */
    int exit_status;
} fake_io_t;

static int
fake_write(void *io, int is_stderr, const void *data, size_t len)
{
    fake_io_t *f = io;
    size_t n = len < f->window ? len : f->window;

    util_buf_append(is_stderr ? &f->err : &f->out, data, n);
    f->window -= n;
    return (int)n;
}

static void
fake_event(fake_io_t *f, char e)
{
    size_t n = strlen(f->events);

    if (n + 1 < sizeof f->events) {
        f->events[n] = e;
    }
}

static void
fake_eof(void *io)
{
    fake_event(io, 'E');
}

static void
fake_exit_status(void *io, int status)
{
    ((fake_io_t *)io)->exit_status = status;
    fake_event(io, 'X');
}

static void
fake_close(void *io)
{
    fake_event(io, 'C');
}

static const channel_io_ops_t fake_ops = {
    .write = fake_write,
    .eof = fake_eof,
    .exit_status = fake_exit_status,
    .close = fake_close,
};

typedef struct fixture_s {
    profile_t *p;
    log_t log;
    sess_t s;
    fake_io_t io;
    channel_t ch;
} fixture_t;

static fixture_t *
fixture_new(void)
{
    static const char text[] =
        "HostKey generate:ed25519\n"
        "Account demo demo\n"
        "ExecResponse \"echo hello\" 0 \"hello\\n\"\n"
        "ExecResponse whoami 0 \"%u\\n\"\n"
        "ExecResponse \"exit 3\" 3\n"
        "ExecResponse stderr-test 2 \"out\\n\" \"err\\n\"\n"
        "DefaultExecResponse 127 \"\" \"sh: 1: %c: not found\\n\"\n"
        "ShellPrompt \"%u$ \"\n";
    fixture_t *f = calloc(1, sizeof *f);
    char err[256] = "";

    assert_non_null(f);
    assert_int_equal(profile_parse_string("/tmp/t.conf", text, &f->p, err, sizeof err), 0);
    assert_int_equal(log_open(&f->log, NULL, NULL, "t"), 0);
    f->s.profile = f->p;
    f->s.log = &f->log;
    f->s.user = "demo";
    f->io.window = (size_t)-1;
    channel_init(&f->ch, &f->s, &fake_ops, &f->io);
    return f;
}

static void
fixture_free(fixture_t *f)
{
    channel_cleanup(&f->ch);
    util_buf_free(&f->io.out);
    util_buf_free(&f->io.err);
    log_close(&f->log);
    profile_free(f->p);
    free(f);
}

static const char *
out_of(fake_io_t *io)
{
    return io->out.data != NULL ? io->out.data : "";
}

static void
type(fixture_t *f, const char *text)
{
    assert_int_equal(channel_input(&f->ch, text, strlen(text), 0), strlen(text));
}

/* ---- exec ------------------------------------------------------------------ */

static void
test_exec_matching(void **state)
{
    fixture_t *f = fixture_new();

    (void)state;
    assert_int_equal(channel_exec(&f->ch, "echo hello", 10), 0);
    assert_int_equal(channel_output(&f->ch), 1);
    assert_string_equal(out_of(&f->io), "hello\n");
    /* sshd's order: EOF, exit-status, close. */
    assert_string_equal(f->io.events, "EXC");
    assert_int_equal(f->io.exit_status, 0);
    fixture_free(f);
}

static void
test_exec_user_and_stderr(void **state)
{
    fixture_t *f = fixture_new();

    (void)state;
    assert_int_equal(channel_exec(&f->ch, "whoami", 6), 0);
    assert_int_equal(channel_output(&f->ch), 1);
    assert_string_equal(out_of(&f->io), "demo\n");
    fixture_free(f);
    f = fixture_new();
    assert_int_equal(channel_exec(&f->ch, "stderr-test", 11), 0);
    assert_int_equal(channel_output(&f->ch), 1);
    assert_string_equal(out_of(&f->io), "out\n");
    assert_string_equal(f->io.err.data, "err\n");
    assert_int_equal(f->io.exit_status, 2);
    fixture_free(f);
}

static void
test_exec_default(void **state)
{
    fixture_t *f = fixture_new();

    (void)state;
    assert_int_equal(channel_exec(&f->ch, "nosuch", 6), 0);
    assert_int_equal(channel_output(&f->ch), 1);
    assert_string_equal(out_of(&f->io), "");
    assert_string_equal(f->io.err.data, "sh: 1: nosuch: not found\n");
    assert_int_equal(f->io.exit_status, 127);
    fixture_free(f);
}

static void
test_exec_refusals(void **state)
{
    fixture_t *f = fixture_new();
    const char nul[] = "echo hello\0; rm -rf /";

    (void)state;
    /* A NUL in the command: the part before it is not what was sent. */
    assert_int_equal(channel_exec(&f->ch, nul, sizeof nul - 1), -1);
    assert_false(f->ch.started);
    assert_int_equal(channel_output(&f->ch), 0);
    assert_string_equal(f->io.events, "");
    /* One command per channel. */
    assert_int_equal(channel_exec(&f->ch, "echo hello", 10), 0);
    assert_int_equal(channel_exec(&f->ch, "echo hello", 10), -1);
    assert_int_equal(channel_shell(&f->ch), -1);
    fixture_free(f);
}

static void
test_exec_waits_for_window(void **state)
{
    fixture_t *f = fixture_new();

    (void)state;
    f->io.window = 2;
    assert_int_equal(channel_exec(&f->ch, "echo hello", 10), 0);
    assert_int_equal(channel_output(&f->ch), 0);
    assert_string_equal(out_of(&f->io), "he");
    assert_string_equal(f->io.events, ""); /* no EOF before the output is out */
    f->io.window = 100;
    assert_int_equal(channel_output(&f->ch), 1);
    assert_string_equal(out_of(&f->io), "hello\n");
    assert_string_equal(f->io.events, "EXC");
    fixture_free(f);
}

/* ---- shell ----------------------------------------------------------------- */

static void
test_shell_prompt_commands_exit(void **state)
{
    fixture_t *f = fixture_new();

    (void)state;
    assert_int_equal(channel_shell(&f->ch), 0);
    type(f, "echo hello\n");
    type(f, "  \n");
    type(f, "nosuch\n");
    assert_int_equal(channel_output(&f->ch), 0);
    assert_string_equal(out_of(&f->io), "demo$ hello\ndemo$ demo$ demo$ ");
    assert_string_equal(f->io.err.data, "sh: 1: nosuch: not found\n");
    type(f, "exit 3\n");
    assert_int_equal(channel_output(&f->ch), 1);
    assert_string_equal(f->io.events, "EXC");
    assert_int_equal(f->io.exit_status, 3);
    fixture_free(f);
}

static void
test_shell_eof_ends_it(void **state)
{
    fixture_t *f = fixture_new();

    (void)state;
    assert_int_equal(channel_shell(&f->ch), 0);
    type(f, "echo hello"); /* no newline: run at EOF, like sh */
    channel_input_eof(&f->ch);
    assert_int_equal(channel_output(&f->ch), 1);
    assert_string_equal(out_of(&f->io), "demo$ hello\ndemo$ ");
    assert_int_equal(f->io.exit_status, 0);
    fixture_free(f);
}

static void
test_pty_echo_crlf_and_keys(void **state)
{
    fixture_t *f = fixture_new();

    (void)state;
    channel_pty(&f->ch);
    assert_int_equal(channel_shell(&f->ch), 0);
    type(f, "echo hellx\x7fo\r\n"); /* CR LF: one Enter */
    assert_int_equal(channel_output(&f->ch), 0);
    assert_string_equal(out_of(&f->io), "demo$ echo hellx\b \bo\r\nhello\r\ndemo$ ");
    util_buf_reset(&f->io.out);
    type(f, "abc\x03");
    assert_int_equal(channel_output(&f->ch), 0);
    assert_string_equal(out_of(&f->io), "abc^C\r\ndemo$ ");
    util_buf_reset(&f->io.out);
    /* CR and LF split across two reads are still one Enter. */
    type(f, "whoami\r");
    type(f, "\n");
    assert_int_equal(channel_output(&f->ch), 0);
    assert_string_equal(out_of(&f->io), "whoami\r\ndemo\r\ndemo$ ");
    util_buf_reset(&f->io.out);
    type(f, "\x04"); /* ^D on an empty line */
    assert_int_equal(channel_output(&f->ch), 1);
    assert_string_equal(out_of(&f->io), "logout\r\n");
    assert_string_equal(f->io.events, "EXC");
    fixture_free(f);
}

/* ---- limits ---------------------------------------------------------------- */

static void
test_backpressure_when_client_does_not_read(void **state)
{
    fixture_t *f = fixture_new();
    char line[64];
    size_t took = 0;
    size_t total = 0;
    int i;

    (void)state;
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    channel_pty(&f->ch);
    assert_int_equal(channel_shell(&f->ch), 0);
    f->io.window = 0; /* the client reads nothing */
    for (i = 0; i < 100000; i++) {
        took = channel_input(&f->ch, line, sizeof line, 0);
        total += took;
        if (took < sizeof line) {
            break;
        }
    }
    assert_true(took < sizeof line); /* it stopped taking input */
    assert_true(channel_backlogged(&f->ch));
    /* Bounded: the cap plus one line's echo, answer and prompt. */
    assert_true(f->ch.out.len + f->ch.err.len < CHANNEL_OUT_HIGH + 512);
    assert_true(total < 100000 * sizeof line);
    assert_int_equal(channel_output(&f->ch), 0);
    assert_int_equal(channel_input(&f->ch, line, sizeof line, 0), 0);
    /* The client reads again: output drains, input is taken again. */
    f->io.window = (size_t)-1;
    assert_int_equal(channel_output(&f->ch), 0);
    assert_false(channel_backlogged(&f->ch));
    assert_int_equal(channel_input(&f->ch, line, sizeof line, 0), sizeof line);
    fixture_free(f);
}

static void
test_exec_input_is_dropped(void **state)
{
    fixture_t *f = fixture_new();
    char big[8192];

    (void)state;
    memset(big, 'y', sizeof big);
    f->io.window = 0;
    assert_int_equal(channel_exec(&f->ch, "echo hello", 10), 0);
    assert_int_equal(channel_input(&f->ch, big, sizeof big, 0), sizeof big);
    assert_int_equal(f->ch.line.len, 0);
    fixture_free(f);
}

static void
test_line_is_capped(void **state)
{
    fixture_t *f = fixture_new();
    char big[CHANNEL_LINE_MAX * 3];

    (void)state;
    memset(big, 'z', sizeof big);
    assert_int_equal(channel_shell(&f->ch), 0);
    assert_int_equal(channel_input(&f->ch, big, sizeof big, 0), sizeof big);
    assert_int_equal(f->ch.line.len, CHANNEL_LINE_MAX);
    fixture_free(f);
}

static void
test_max_sessions(void **state)
{
    fixture_t *f = fixture_new();
    channel_set_t set = { NULL, 0 };

    (void)state;
    f->p->max_sessions = 2; /* set here: the parser's default is not this test's */
    assert_null(channel_open_refusal(&f->s, &set, 1, 1));
    set.n = 1;
    assert_null(channel_open_refusal(&f->s, &set, 1, 1));
    set.n = 2;
    assert_string_equal(channel_open_refusal(&f->s, &set, 1, 1), "MaxSessions");
    set.n = 0;
    assert_non_null(channel_open_refusal(&f->s, &set, 0, 1));  /* not a session */
    assert_non_null(channel_open_refusal(&f->s, &set, 1, 0));  /* not logged in */
    fixture_free(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_matching),
        cmocka_unit_test(test_exec_user_and_stderr),
        cmocka_unit_test(test_exec_default),
        cmocka_unit_test(test_exec_refusals),
        cmocka_unit_test(test_exec_waits_for_window),
        cmocka_unit_test(test_shell_prompt_commands_exit),
        cmocka_unit_test(test_shell_eof_ends_it),
        cmocka_unit_test(test_pty_echo_crlf_and_keys),
        cmocka_unit_test(test_backpressure_when_client_does_not_read),
        cmocka_unit_test(test_exec_input_is_dropped),
        cmocka_unit_test(test_line_is_capped),
        cmocka_unit_test(test_max_sessions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
