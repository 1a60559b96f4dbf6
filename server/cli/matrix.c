#include "cli/matrix.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "cli/catalog.h"
#include "profile/profile.h"
#include "net/server.h"
#include "base/util.h"

#ifndef SSHMOCK_DRIVER_DIR
#define SSHMOCK_DRIVER_DIR "client-tests/drivers"
#endif

/* What a client prints is kept up to this much per stream: enough for any
 * error, bounded against a client that loops printing. */
#define MATRIX_OUTPUT_MAX (64 * 1024)
/* A driver that outlives its client's own timeout by this much is killed. */
#define MATRIX_KILL_GRACE_S 15
#define MATRIX_COMMAND "echo hello"
#define MATRIX_MARKER "hello"

const char *const matrix_builtin_clients[] = {
    "openssh", "plink", "dbclient", "paramiko", "asyncssh", "ssh2", "libssh",
};
const size_t matrix_nbuiltin_clients = sizeof matrix_builtin_clients / sizeof matrix_builtin_clients[0];

typedef enum {
    MATRIX_PHASE_PRE,   /* records the host key (MatrixKnownHost) */
    MATRIX_PHASE_MAIN,
    MATRIX_PHASE_FIX,
    MATRIX_PHASE_DONE
} matrix_phase_t;

/* What one run of a client gave. */
typedef struct matrix_result_s {
    int ran;
    int skipped;          /* the driver says the client is not installed */
    int connected;        /* exit 0 and the command's output came back */
    int timed_out;        /* we killed it */
    long exit_status;
    int term_signal;
    double seconds;
    util_buf_t out;
    util_buf_t err;
    char message[512];    /* the line that says what happened */
} matrix_result_t;

typedef struct matrix_cell_s {
    size_t profile;
    size_t client;
    matrix_phase_t phase;
    int running;
    char known_hosts[512];
    matrix_result_t main;
    matrix_result_t fix;
    int has_expect;
    int expect_ok;        /* the main run did what the profile says */
    int fix_tried;
} matrix_cell_t;

typedef struct matrix_run_s matrix_run_t;

typedef struct matrix_s {
    const matrix_options_t *o;
    uv_loop_t *loop;
    server_t *servers;
    size_t nservers;
    int *profile_busy;    /* a MatrixHold profile runs one cell at a time */
    matrix_cell_t *cells;
    size_t ncells;
    size_t next;          /* first cell not yet started */
    size_t running;
    size_t finished_runs;
    size_t total_runs;
    char workdir[256];
    char key_ed25519[300];
    char key_rsa[300];
    uint64_t started_ms;
    int tty;
    char build_env[600];  /* SSHMOCK_BUILD_DIR=<the directory sshmock runs from> */
} matrix_t;

struct matrix_run_s {
    matrix_t *m;
    matrix_cell_t *cell;
    matrix_phase_t phase;
    uv_process_t proc;
    uv_pipe_t out;
    uv_pipe_t err;
    uv_timer_t timer;
    uv_tcp_t *holds;
    int nholds;
    int handles;
    int exited;
    long exit_status;
    int term_signal;
    int timed_out;
    uint64_t start_ms;
    util_buf_t obuf;
    util_buf_t ebuf;
};

static void matrix__schedule(matrix_t *m);

static const profile_t *
matrix__profile(const matrix_t *m, const matrix_cell_t *c)
{
    return m->servers[c->profile].profile;
}

static const matrix_client_t *
matrix__client(const matrix_t *m, const matrix_cell_t *c)
{
    return &m->o->clients[c->client];
}

/* --- driver invocation ---------------------------------------------------- */

static char *
matrix__driver_path(const matrix_t *m, const char *model)
{
    static const char *const exts[] = { "", ".py", ".sh", ".js" };
    const char *dir = m->o->driver_dir;
    size_t i;

    if (dir == NULL) {
        dir = getenv("SSHMOCK_DRIVER_DIR");
    }
    if (dir == NULL || dir[0] == '\0') {
        dir = SSHMOCK_DRIVER_DIR;
    }
    for (i = 0; i < UTIL_ARRAY_SIZE(exts); i++) {
        util_buf_t b = UTIL_BUF_INIT;
        util_buf_printf(&b, "%s/%s%s", dir, model, exts[i]);
        if (b.data != NULL && access(b.data, X_OK) == 0) {
            return b.data;
        }
        util_buf_free(&b);
    }
    return NULL;
}

typedef struct matrix_argv_s {
    char *v[96];
    int n;
} matrix_argv_t;

static void
matrix__arg(matrix_argv_t *a, const char *s)
{
    if (a->n < (int)UTIL_ARRAY_SIZE(a->v) - 1) {
        a->v[a->n++] = strdup(s);
        a->v[a->n] = NULL;
    }
}

static void
matrix__argv_free(matrix_argv_t *a)
{
    int i;

    for (i = 0; i < a->n; i++) {
        free(a->v[i]);
    }
    a->n = 0;
}

/* Options under "sshmock." are for the matrix, not the client: a fix
 * that is "log in with a key" or "forget the stale host key" is not a
 * client option, but the matrix can play it. */
#define MATRIX_OPT_PREFIX "sshmock."

static int
matrix__opt_names_key(const profile_client_opts_t *o, const char *opt)
{
    size_t klen = strcspn(opt, "=");
    size_t i;

    for (i = 0; o != NULL && i < o->nopts; i++) {
        if (strncmp(o->opts[i], opt, klen) == 0 && o->opts[i][klen] == '=') {
            return 1;
        }
    }
    return 0;
}

/* The scenario's options, less those the fix sets itself, then the fix's:
 * clients disagree on whether the first or the last value of an option
 * wins (OpenSSH keeps the first), so none is given twice. */
static void
matrix__opts(matrix_argv_t *a, const profile_client_opts_t *o, const profile_client_opts_t *fix)
{
    const profile_client_opts_t *lists[2] = { o, fix };
    size_t l;
    size_t i;

    for (l = 0; l < 2; l++) {
        for (i = 0; lists[l] != NULL && i < lists[l]->nopts; i++) {
            const char *opt = lists[l]->opts[i];
            if (strncmp(opt, MATRIX_OPT_PREFIX, strlen(MATRIX_OPT_PREFIX)) == 0 ||
                (l == 0 && matrix__opt_names_key(fix, opt))) {
                continue;
            }
            matrix__arg(a, "--opt");
            matrix__arg(a, opt);
        }
    }
}

/* The credentials a run uses: the profile's MatrixAuth, unless a fix says
 * sshmock.auth=... */
static profile_matrix_auth_t
matrix__auth(const profile_t *p, const profile_client_opts_t *fix)
{
    size_t i;

    for (i = 0; fix != NULL && i < fix->nopts; i++) {
        const char *v = fix->opts[i];
        if (strncmp(v, MATRIX_OPT_PREFIX "auth=", 13) == 0) {
            v += 13;
            if (strcmp(v, "key") == 0) {
                return PROFILE_MATRIX_AUTH_KEY;
            }
            if (strcmp(v, "key-rsa") == 0) {
                return PROFILE_MATRIX_AUTH_KEY_RSA;
            }
            if (strcmp(v, "password") == 0) {
                return PROFILE_MATRIX_AUTH_PASSWORD;
            }
        }
    }
    return p->matrix_auth;
}

/* --- result evaluation ---------------------------------------------------- */

static int
matrix__regex_match(const char *pattern, const char *text)
{
    regex_t re;
    int ok;

    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        return 0;
    }
    ok = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* The line that says what happened: the one the expectation's regex
 * matches, else the last line of the client's error output that is not
 * host-key bookkeeping. */
static void
matrix__pick_message(matrix_result_t *r, const char *pattern)
{
    const char *text = r->err.data != NULL ? r->err.data : "";
    const char *line = text;
    const char *best = NULL;
    int best_len = 0;

    if (r->skipped) {
        snprintf(r->message, sizeof r->message, "%s", text);
        goto trim;
    }
    if (r->connected) {
        snprintf(r->message, sizeof r->message, "connected; ran \"%s\"", MATRIX_COMMAND);
        return;
    }
    while (*line != '\0') {
        const char *nl = strchr(line, '\n');
        int len = nl != NULL ? (int)(nl - line) : (int)strlen(line);
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%.*s", len, line);
        if (len > 0 && strstr(tmp, "Permanently added") == NULL &&
            strncmp(tmp, "debug", 5) != 0 && strspn(tmp, "@ ") != strlen(tmp)) {
            if (pattern != NULL && matrix__regex_match(pattern, tmp)) {
                best = line;
                best_len = len;
                break;
            }
            best = line;
            best_len = len;
        }
        line = nl != NULL ? nl + 1 : line + len;
    }
    if (best == NULL && r->out.data != NULL) {
        best = r->out.data;
        best_len = (int)strcspn(best, "\n");
    }
    if (r->timed_out) {
        snprintf(r->message, sizeof r->message, "killed after the timeout%s%.*s",
                 best != NULL ? ": " : "", best_len, best != NULL ? best : "");
    } else if (best != NULL) {
        snprintf(r->message, sizeof r->message, "%.*s", best_len, best);
    } else {
        snprintf(r->message, sizeof r->message, "exit status %ld, no output", r->exit_status);
    }
trim:
    r->message[strcspn(r->message, "\r")] = '\0';
    if (r->skipped) {
        r->message[strcspn(r->message, "\n")] = '\0';
    }
}

static void
matrix__evaluate(matrix_t *m, matrix_cell_t *c, matrix_result_t *r, matrix_phase_t phase)
{
    const profile_t *p = matrix__profile(m, c);
    const profile_expect_t *e = profile_expect_find(p, matrix__client(m, c)->model);
    util_buf_t all = UTIL_BUF_INIT;

    r->skipped = r->exit_status == 77 && !r->timed_out;
    r->connected = !r->skipped && !r->timed_out && r->exit_status == 0 && r->out.data != NULL &&
                   strstr(r->out.data, MATRIX_MARKER) != NULL;
    matrix__pick_message(r, e != NULL ? e->pattern : NULL);
    if (phase != MATRIX_PHASE_MAIN) {
        return;
    }
    c->has_expect = e != NULL;
    if (e == NULL || r->skipped) {
        return;
    }
    util_buf_puts(&all, r->out.data != NULL ? r->out.data : "");
    util_buf_puts(&all, "\n");
    util_buf_puts(&all, r->err.data != NULL ? r->err.data : "");
    c->expect_ok = e->connect == r->connected &&
                   (e->pattern == NULL || matrix__regex_match(e->pattern, all.data));
    util_buf_free(&all);
}

/* --- one run ---------------------------------------------------------------- */

static void
matrix__run_closed(uv_handle_t *h)
{
    matrix_run_t *run = h->data;
    matrix_t *m = run->m;
    matrix_cell_t *c = run->cell;
    matrix_result_t *r = NULL;

    if (--run->handles > 0) {
        return;
    }
    r = run->phase == MATRIX_PHASE_FIX ? &c->fix : &c->main;
    if (run->phase != MATRIX_PHASE_PRE) {
        util_buf_free(&r->out);
        util_buf_free(&r->err);
        r->out = run->obuf;
        r->err = run->ebuf;
        r->ran = 1;
        r->exit_status = run->exit_status;
        r->term_signal = run->term_signal;
        r->timed_out = run->timed_out;
        r->seconds = (double)(uv_now(m->loop) - run->start_ms) / 1000.0;
        matrix__evaluate(m, c, r, run->phase);
    } else {
        util_buf_free(&run->obuf);
        util_buf_free(&run->ebuf);
    }
    free(run->holds);
    free(run);

    m->finished_runs++;
    c->running = 0;
    m->running--;
    m->profile_busy[c->profile] = 0;

    /* What comes next for this cell. */
    if (c->phase == MATRIX_PHASE_PRE) {
        c->phase = MATRIX_PHASE_MAIN;
    } else if (c->phase == MATRIX_PHASE_MAIN) {
        const profile_t *p = matrix__profile(m, c);
        int fixable = m->o->fixes && !c->main.connected && !c->main.skipped &&
                      profile_client_fix_find(p, matrix__client(m, c)->model) != NULL;
        if (!m->o->quiet) {
            const char *verdict = c->main.skipped ? "skipped"
                                  : !c->has_expect ? "no expectation"
                                  : c->expect_ok ? "as expected" : "UNEXPECTED";
            fprintf(stderr, "%s[%zu/%zu] %-28s %-9s %-10s %s: %.70s%s",
                    m->tty ? "\r\033[K" : "", m->finished_runs, m->total_runs, p->name,
                    matrix__client(m, c)->name, c->main.connected ? "connected" : "failed",
                    verdict, c->main.message, m->tty ? "" : "\n");
        }
        if (fixable) {
            c->phase = MATRIX_PHASE_FIX;
            c->fix_tried = 1;
        } else {
            c->phase = MATRIX_PHASE_DONE;
        }
    } else {
        c->phase = MATRIX_PHASE_DONE;
    }
    matrix__schedule(m);
}

static void
matrix__close_run(matrix_run_t *run)
{
    int i;

    uv_close((uv_handle_t *)&run->timer, matrix__run_closed);
    for (i = 0; i < run->nholds; i++) {
        uv_close((uv_handle_t *)&run->holds[i], matrix__run_closed);
    }
}

static void
matrix__maybe_done(matrix_run_t *run)
{
    /* Finished when the process exited and both pipes reached EOF (they are
     * closed then); the timer and the held connections go last. */
    if (run->exited && uv_is_closing((uv_handle_t *)&run->out) &&
        uv_is_closing((uv_handle_t *)&run->err) && !uv_is_closing((uv_handle_t *)&run->timer)) {
        matrix__close_run(run);
    }
}

static void
matrix__alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char scratch[16384];

    (void)h;
    (void)suggested;
    /* Copied into the run's buffer at once, so one static area will do:
     * the loop is single-threaded. */
    buf->base = scratch;
    buf->len = sizeof scratch;
}

static void
matrix__on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    matrix_run_t *run = s->data;
    util_buf_t *b = s == (uv_stream_t *)&run->out ? &run->obuf : &run->ebuf;

    if (n > 0) {
        size_t room = b->len < MATRIX_OUTPUT_MAX ? MATRIX_OUTPUT_MAX - b->len : 0;
        util_buf_append(b, buf->base, (size_t)n < room ? (size_t)n : room);
        return;
    }
    if (n < 0) {
        uv_close((uv_handle_t *)s, matrix__run_closed);
        matrix__maybe_done(run);
    }
}

static void
matrix__on_exit(uv_process_t *p, int64_t status, int signal)
{
    matrix_run_t *run = p->data;

    run->exited = 1;
    run->exit_status = (long)status;
    run->term_signal = signal;
    uv_close((uv_handle_t *)p, matrix__run_closed);
    /* A client's own children may keep the pipes open: end its group. */
    kill(-p->pid, SIGKILL);
    matrix__maybe_done(run);
}

static void
matrix__on_timeout(uv_timer_t *t)
{
    matrix_run_t *run = t->data;

    if (!run->exited) {
        run->timed_out = 1;
        kill(-run->proc.pid, SIGKILL); /* the driver and its client */
    }
}

static int
matrix__spawn(matrix_run_t *run)
{
    matrix_t *m = run->m;
    matrix_cell_t *c = run->cell;
    const profile_t *p = matrix__profile(m, c);
    const matrix_client_t *cl = matrix__client(m, c);
    server_t *s = &m->servers[c->profile];
    uv_process_options_t po;
    uv_stdio_container_t stdio[3];
    matrix_argv_t a = { { NULL }, 0 };
    char *driver = matrix__driver_path(m, cl->model);
    char port[16];
    char timeout[16];
    char *env[128];
    char *clientcmd = NULL;
    extern char **environ;
    size_t ne = 0;
    size_t i;
    int rc;

    if (driver == NULL) {
        util_buf_printf(&run->ebuf, "sshmock-driver: %s not installed: no driver found in %s\n",
                        cl->model, m->o->driver_dir != NULL ? m->o->driver_dir : SSHMOCK_DRIVER_DIR);
        run->exited = 1;
        run->exit_status = 77;
        return -1;
    }
    snprintf(port, sizeof port, "%d", s->port);
    snprintf(timeout, sizeof timeout, "%d", m->o->timeout);
    matrix__arg(&a, driver);
    matrix__arg(&a, "--host");
    matrix__arg(&a, "127.0.0.1");
    matrix__arg(&a, "--port");
    matrix__arg(&a, port);
    matrix__arg(&a, "--user");
    matrix__arg(&a, "demo");
    switch (matrix__auth(p, run->phase == MATRIX_PHASE_FIX
                                ? profile_client_fix_find(p, cl->model) : NULL)) {
    case PROFILE_MATRIX_AUTH_KEY:
        matrix__arg(&a, "--key");
        matrix__arg(&a, m->key_ed25519);
        break;
    case PROFILE_MATRIX_AUTH_KEY_RSA:
        matrix__arg(&a, "--key");
        matrix__arg(&a, m->key_rsa);
        break;
    case PROFILE_MATRIX_AUTH_WRONG_PASSWORD:
        matrix__arg(&a, "--password");
        matrix__arg(&a, "not-the-password");
        break;
    default:
        matrix__arg(&a, "--password");
        matrix__arg(&a, "demo");
    }
    matrix__arg(&a, "--known-hosts");
    if (run->phase == MATRIX_PHASE_FIX) {
        /* A path of its own: drivers keep client state beside it (PuTTY's
         * host key cache), and a fix run starts as a fresh client. */
        util_buf_t kh = UTIL_BUF_INIT;
        util_buf_printf(&kh, "%s-fix", c->known_hosts);
        matrix__arg(&a, kh.data != NULL ? kh.data : c->known_hosts);
        util_buf_free(&kh);
    } else {
        matrix__arg(&a, c->known_hosts);
    }
    matrix__arg(&a, "--timeout");
    matrix__arg(&a, timeout);
    matrix__opts(&a, profile_client_options_find(p, cl->model),
                 run->phase == MATRIX_PHASE_FIX ? profile_client_fix_find(p, cl->model) : NULL);
    matrix__arg(&a, "--command");
    matrix__arg(&a, MATRIX_COMMAND);

    for (i = 0; environ[i] != NULL && ne < UTIL_ARRAY_SIZE(env) - 3; i++) {
        if (strncmp(environ[i], "SSH_AUTH_SOCK=", 14) != 0 &&
            strncmp(environ[i], "SSHMOCK_CLIENT_CMD=", 19) != 0) {
            env[ne++] = environ[i];
        }
    }
    if (getenv("SSHMOCK_BUILD_DIR") == NULL && m->build_env[0] != '\0') {
        env[ne++] = m->build_env; /* where the libssh driver finds its client */
    }
    if (cl->command != NULL) {
        util_buf_t b = UTIL_BUF_INIT;
        util_buf_printf(&b, "SSHMOCK_CLIENT_CMD=%s", cl->command);
        clientcmd = b.data;
        env[ne++] = clientcmd;
    }
    env[ne] = NULL;

    memset(&po, 0, sizeof po);
    uv_pipe_init(m->loop, &run->out, 0);
    uv_pipe_init(m->loop, &run->err, 0);
    run->out.data = run;
    run->err.data = run;
    run->handles += 2;
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&run->out;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&run->err;
    po.file = a.v[0];
    po.args = a.v;
    po.env = env;
    po.stdio = stdio;
    po.stdio_count = 3;
    po.exit_cb = matrix__on_exit;
    /* Its own process group, so a timeout kills the client it started too. */
    po.flags = UV_PROCESS_DETACHED;
    run->proc.data = run;
    rc = uv_spawn(m->loop, &run->proc, &po);
    matrix__argv_free(&a);
    free(driver);
    free(clientcmd);
    if (rc != 0) {
        util_buf_printf(&run->ebuf, "sshmock: cannot run the %s driver: %s\n", cl->model,
                        uv_strerror(rc));
        run->exited = 1;
        run->exit_status = 127;
        uv_close((uv_handle_t *)&run->out, matrix__run_closed);
        uv_close((uv_handle_t *)&run->err, matrix__run_closed);
        return -1;
    }
    run->handles++;
    uv_read_start((uv_stream_t *)&run->out, matrix__alloc, matrix__on_read);
    uv_read_start((uv_stream_t *)&run->err, matrix__alloc, matrix__on_read);
    uv_timer_start(&run->timer, matrix__on_timeout,
                   (uint64_t)(m->o->timeout + MATRIX_KILL_GRACE_S) * 1000u, 0);
    return 0;
}

/* MatrixHold: the idle connections are counted by the server only once it
 * has accepted them; the client is started after that. */
static void
matrix__hold_wait(uv_timer_t *t)
{
    matrix_run_t *run = t->data;
    server_t *s = &run->m->servers[run->cell->profile];

    if ((int)s->nconns >= run->nholds || uv_now(run->m->loop) - run->start_ms > 3000) {
        uv_timer_stop(t);
        if (matrix__spawn(run) != 0) {
            matrix__close_run(run);
        }
        return;
    }
    uv_timer_start(t, matrix__hold_wait, 10, 0);
}

static void
matrix__hold_connected(uv_connect_t *req, int status)
{
    (void)status;
    free(req);
}

static void
matrix__start(matrix_t *m, matrix_cell_t *c)
{
    const profile_t *p = matrix__profile(m, c);
    matrix_run_t *run = calloc(1, sizeof *run);
    int i;

    if (run == NULL) {
        return;
    }
    run->m = m;
    run->cell = c;
    run->phase = c->phase;
    run->start_ms = uv_now(m->loop);
    uv_timer_init(m->loop, &run->timer);
    run->timer.data = run;
    run->handles = 1;
    c->running = 1;
    m->running++;
    if (p->matrix_hold > 0) {
        m->profile_busy[c->profile] = 1;
    }
    /* Each run starts from an empty known-hosts file, except the main run
     * of a MatrixKnownHost profile, which must meet the key the first run
     * recorded. A fix run starts empty too: that is what removing the
     * stale entry (ssh-keygen -R) does. */
    if (!(c->phase == MATRIX_PHASE_MAIN && p->matrix_known_host)) {
        unlink(c->known_hosts);
    }

    if (p->matrix_hold > 0) {
        struct sockaddr_in sa;
        run->holds = calloc((size_t)p->matrix_hold, sizeof *run->holds);
        uv_ip4_addr("127.0.0.1", m->servers[c->profile].port, &sa);
        for (i = 0; run->holds != NULL && i < p->matrix_hold; i++) {
            uv_connect_t *req = malloc(sizeof *req);
            uv_tcp_init(m->loop, &run->holds[i]);
            run->holds[i].data = run;
            run->handles++;
            run->nholds++;
            if (req != NULL && uv_tcp_connect(req, &run->holds[i], (const struct sockaddr *)&sa,
                                              matrix__hold_connected) != 0) {
                free(req);
            }
        }
        uv_timer_start(&run->timer, matrix__hold_wait, 10, 0);
        return;
    }
    if (matrix__spawn(run) != 0) {
        matrix__close_run(run);
    }
}

static void
matrix__schedule(matrix_t *m)
{
    size_t i;

    for (i = 0; i < m->ncells && m->running < (size_t)m->o->jobs; i++) {
        matrix_cell_t *c = &m->cells[i];
        if (c->running || c->phase == MATRIX_PHASE_DONE || m->profile_busy[c->profile]) {
            continue;
        }
        if (c->phase == MATRIX_PHASE_FIX) {
            m->total_runs++;
        }
        matrix__start(m, c);
    }
    if (m->running == 0) {
        for (i = 0; i < m->ncells; i++) {
            if (m->cells[i].phase != MATRIX_PHASE_DONE) {
                return;
            }
        }
        for (i = 0; i < m->nservers; i++) {
            server_stop(&m->servers[i]);
        }
    }
}

/* --- reports ---------------------------------------------------------------- */

/* A custom client (a user's own command) is compared with its model's
 * expectations: where it does otherwise, that is what the user came to
 * learn, not a failure. */
static int
matrix__is_custom(const matrix_t *m, const matrix_cell_t *c)
{
    return matrix__client(m, c)->command != NULL;
}

static const char *
matrix__verdict(const matrix_t *m, const matrix_cell_t *c)
{
    if (c->main.skipped) {
        return "skipped";
    }
    if (!c->has_expect) {
        return "unchecked";
    }
    if (c->expect_ok) {
        return "ok";
    }
    return matrix__is_custom(m, c) ? "differs" : "mismatch";
}

static void
matrix__cell_text(const matrix_t *m, const matrix_cell_t *c, char *out, size_t len)
{
    const profile_expect_t *e = profile_expect_find(matrix__profile(m, c), matrix__client(m, c)->model);
    const char *mark = c->main.skipped ? "-" : !c->has_expect ? "?" : c->expect_ok ? "ok"
                       : matrix__is_custom(m, c) ? "!=" : "XX";
    char what[128];

    if (c->main.skipped) {
        snprintf(what, sizeof what, "skipped");
    } else if (c->main.connected) {
        snprintf(what, sizeof what, "connect");
    } else if (e != NULL && !e->connect && c->expect_ok) {
        snprintf(what, sizeof what, "fail:%s", e->stage);
    } else {
        snprintf(what, sizeof what, "fail");
    }
    if (c->fix_tried) {
        snprintf(out, len, "%s %s%s", mark, what, c->fix.connected ? " +fix" : " !fix");
    } else {
        snprintf(out, len, "%s %s", mark, what);
    }
}

static void
matrix__table(const matrix_t *m, FILE *f)
{
    size_t pi;
    size_t ci;

    fprintf(f, "\n%-28s", "PROFILE");
    for (ci = 0; ci < m->o->nclients; ci++) {
        fprintf(f, " %-17.17s", m->o->clients[ci].name);
    }
    fputc('\n', f);
    for (pi = 0; pi < m->nservers; pi++) {
        fprintf(f, "%-28.28s", m->servers[pi].profile->name);
        for (ci = 0; ci < m->o->nclients; ci++) {
            char cell[192];
            matrix__cell_text(m, &m->cells[pi * m->o->nclients + ci], cell, sizeof cell);
            fprintf(f, " %-17.17s", cell);
        }
        fputc('\n', f);
    }
    fprintf(f, "\nok = as the profile expects, XX = not as expected, ? = no expectation, "
               "- = client missing,\n!= = a custom client does otherwise than the stock client "
               "it is modelled on;\nconnect / fail:STAGE = what the real client did; "
               "+fix / !fix = its documented fix works / does not.\n");
}

static void
matrix__json_str(util_buf_t *b, const char *s)
{
    util_buf_puts(b, "\"");
    util_buf_json_escape(b, s != NULL ? s : "");
    util_buf_puts(b, "\"");
}

static void
matrix__json_result(util_buf_t *b, const matrix_result_t *r)
{
    util_buf_printf(b, "{\"connected\":%s,\"exit_status\":%ld,\"timed_out\":%s,"
                    "\"seconds\":%.3f,\"message\":", r->connected ? "true" : "false",
                    r->exit_status, r->timed_out ? "true" : "false", r->seconds);
    matrix__json_str(b, r->message);
    util_buf_puts(b, ",\"stdout\":");
    matrix__json_str(b, r->out.data);
    util_buf_puts(b, ",\"stderr\":");
    matrix__json_str(b, r->err.data);
    util_buf_puts(b, "}");
}

static int
matrix__write_file(const char *path, const util_buf_t *b)
{
    FILE *f = fopen(path, "w");

    if (f == NULL) {
        fprintf(stderr, "sshmock matrix: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (b->data != NULL) {
        fwrite(b->data, 1, b->len, f);
    }
    return fclose(f);
}

static void
matrix__opts_text(util_buf_t *b, const profile_client_opts_t *o)
{
    size_t i;

    for (i = 0; o != NULL && i < o->nopts; i++) {
        util_buf_printf(b, "%s%s", i ? " " : "", o->opts[i]);
    }
}

static void
matrix__json(const matrix_t *m, double wall, util_buf_t *b)
{
    size_t i;

    util_buf_printf(b, "{\"tool\":\"sshmock matrix\",\"command\":\"%s\",\"wall_seconds\":%.3f,"
                    "\"runs\":%zu,\"cells\":[", MATRIX_COMMAND, wall, m->finished_runs);
    for (i = 0; i < m->ncells; i++) {
        const matrix_cell_t *c = &m->cells[i];
        const profile_t *p = matrix__profile(m, c);
        const matrix_client_t *cl = matrix__client(m, c);
        const profile_expect_t *e = profile_expect_find(p, cl->model);
        util_buf_t tmp = UTIL_BUF_INIT;

        util_buf_puts(b, i ? ",\n{" : "\n{");
        util_buf_puts(b, "\"profile\":");
        matrix__json_str(b, p->name);
        util_buf_puts(b, ",\"client\":");
        matrix__json_str(b, cl->name);
        util_buf_puts(b, ",\"model\":");
        matrix__json_str(b, cl->model);
        util_buf_puts(b, ",\"verdict\":");
        matrix__json_str(b, matrix__verdict(m, c));
        if (e != NULL) {
            util_buf_printf(b, ",\"expected\":{\"outcome\":\"%s\",\"stage\":",
                            e->connect ? "connect" : "fail");
            matrix__json_str(b, e->stage);
            util_buf_puts(b, ",\"pattern\":");
            matrix__json_str(b, e->pattern);
            util_buf_puts(b, "}");
        }
        util_buf_puts(b, ",\"result\":");
        matrix__json_result(b, &c->main);
        matrix__opts_text(&tmp, profile_client_options_find(p, cl->model));
        util_buf_puts(b, ",\"client_options\":");
        matrix__json_str(b, tmp.data);
        util_buf_free(&tmp);
        if (c->fix_tried) {
            matrix__opts_text(&tmp, profile_client_fix_find(p, cl->model));
            util_buf_puts(b, ",\"fix\":{\"options\":");
            matrix__json_str(b, tmp.data);
            util_buf_puts(b, ",\"result\":");
            matrix__json_result(b, &c->fix);
            util_buf_puts(b, "}");
            util_buf_free(&tmp);
        }
        util_buf_puts(b, "}");
    }
    util_buf_puts(b, "\n]}\n");
}

static void
matrix__xml(util_buf_t *b, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '<': util_buf_puts(b, "&lt;"); break;
        case '>': util_buf_puts(b, "&gt;"); break;
        case '&': util_buf_puts(b, "&amp;"); break;
        case '"': util_buf_puts(b, "&quot;"); break;
        default:
            /* XML 1.0 has no place for most control characters. */
            if (ch < 0x20 && ch != '\n' && ch != '\t') {
                util_buf_puts(b, "?");
            } else {
                util_buf_append(b, &ch, 1);
            }
        }
    }
}

static void
matrix__junit(const matrix_t *m, double wall, util_buf_t *b)
{
    size_t failures = 0;
    size_t skipped = 0;
    size_t i;

    for (i = 0; i < m->ncells; i++) {
        const matrix_cell_t *c = &m->cells[i];
        failures += (c->has_expect && !c->expect_ok && !c->main.skipped &&
                     !matrix__is_custom(m, c)) ||
                    (c->fix_tried && !c->fix.connected);
        skipped += c->main.skipped;
    }
    util_buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
                    "<testsuite name=\"sshmock-matrix\" tests=\"%zu\" failures=\"%zu\" "
                    "skipped=\"%zu\" time=\"%.3f\">\n", m->ncells, failures, skipped, wall);
    for (i = 0; i < m->ncells; i++) {
        const matrix_cell_t *c = &m->cells[i];
        const profile_t *p = matrix__profile(m, c);
        const profile_expect_t *e = profile_expect_find(p, matrix__client(m, c)->model);

        util_buf_puts(b, "  <testcase classname=\"");
        matrix__xml(b, p->name);
        util_buf_puts(b, "\" name=\"");
        matrix__xml(b, matrix__client(m, c)->name);
        util_buf_printf(b, "\" time=\"%.3f\">\n", c->main.seconds);
        if (c->main.skipped) {
            util_buf_puts(b, "    <skipped message=\"");
            matrix__xml(b, c->main.message);
            util_buf_puts(b, "\"/>\n");
        } else if ((c->has_expect && !c->expect_ok && !matrix__is_custom(m, c)) ||
                   (c->fix_tried && !c->fix.connected)) {
            util_buf_puts(b, "    <failure message=\"");
            if (c->has_expect && !c->expect_ok) {
                util_buf_printf(b, "expected %s%s%s, got %s: ", e->connect ? "connect" : "fail ",
                                e->connect ? "" : e->stage, "",
                                c->main.connected ? "connect" : "fail");
                matrix__xml(b, c->main.message);
            } else {
                util_buf_puts(b, "the documented fix did not work: ");
                matrix__xml(b, c->fix.message);
            }
            util_buf_puts(b, "\"/>\n");
        }
        util_buf_puts(b, "    <system-out>");
        matrix__xml(b, c->main.out.data);
        util_buf_puts(b, "</system-out>\n    <system-err>");
        matrix__xml(b, c->main.err.data);
        util_buf_puts(b, "</system-err>\n  </testcase>\n");
    }
    util_buf_puts(b, "</testsuite>\n</testsuites>\n");
}

static void
matrix__html(const matrix_t *m, double wall, util_buf_t *b)
{
    size_t pi;
    size_t ci;
    size_t ok = 0;
    size_t bad = 0;
    size_t skip = 0;
    char date[64];
    time_t now = time(NULL);

    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    for (pi = 0; pi < m->ncells; pi++) {
        const matrix_cell_t *c = &m->cells[pi];
        skip += c->main.skipped;
        if (!c->main.skipped && c->has_expect && !(!c->expect_ok && matrix__is_custom(m, c))) {
            if (c->expect_ok && (!c->fix_tried || c->fix.connected)) {
                ok++;
            } else {
                bad++;
            }
        }
    }
    util_buf_printf(b,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>sshmock matrix</title><style>\n"
        "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}"
        "h1{font-size:1.4em}table{border-collapse:collapse}"
        "th,td{border:1px solid #ccc;padding:4px 6px;vertical-align:top}"
        "th{background:#f4f4f4;position:sticky;top:0}"
        "td.p{font-weight:600;max-width:16em}td.p small{font-weight:400;color:#555;display:block}"
        ".ok-connect{background:#d9f2d9}.ok-fail{background:#dde8f7}.bad{background:#f8d0d0}"
        ".skip{background:#eee;color:#777}.none{background:#fff6d6}.diff{background:#f3e1ff}"
        "details summary{cursor:pointer}td{min-width:9em;max-width:16em}"
        "small.msg{display:block;font-family:monospace;font-size:11px;color:#333;"
        "word-break:break-word;margin-top:2px}"
        ".stage{font-size:11px;background:#fff;border:1px solid #99a;border-radius:3px;padding:0 3px}"
        ".fixok{font-size:11px;background:#2e7d32;color:#fff;border-radius:3px;padding:0 3px}"
        ".fixbad{font-size:11px;background:#c62828;color:#fff;border-radius:3px;padding:0 3px}"
        "pre{white-space:pre-wrap;max-width:40em;font-size:12px;background:#fafafa;padding:4px}"
        ".fix{font-size:12px}.legend span{padding:2px 8px;margin-right:6px}"
        "</style></head><body>\n<h1>sshmock client matrix</h1>\n"
        "<p>%zu cells: <b>%zu as expected</b>, <b>%zu not as expected</b>, %zu skipped "
        "(client missing). %zu runs in %.1f s. Command run on each server: <code>%s</code>. "
        "Generated %s.</p>\n<p class=\"legend\"><span class=\"ok-connect\">connected, as expected"
        "</span><span class=\"ok-fail\">failed, as expected</span><span class=\"bad\">not as "
        "expected</span><span class=\"diff\">your client differs from the stock one</span><span class=\"none\">no expectation</span><span class=\"skip\">client "
        "missing</span></p>\n<table><tr><th>profile</th>",
        m->ncells, ok, bad, skip, m->finished_runs, wall, MATRIX_COMMAND, date);
    for (ci = 0; ci < m->o->nclients; ci++) {
        util_buf_puts(b, "<th>");
        matrix__xml(b, m->o->clients[ci].name);
        util_buf_puts(b, "</th>");
    }
    util_buf_puts(b, "</tr>\n");
    for (pi = 0; pi < m->nservers; pi++) {
        const profile_t *p = m->servers[pi].profile;
        util_buf_puts(b, "<tr><td class=\"p\">");
        matrix__xml(b, p->name);
        util_buf_puts(b, "<small>");
        matrix__xml(b, p->description);
        util_buf_puts(b, "</small></td>");
        for (ci = 0; ci < m->o->nclients; ci++) {
            const matrix_cell_t *c = &m->cells[pi * m->o->nclients + ci];
            const profile_expect_t *e = profile_expect_find(p, m->o->clients[ci].model);
            const char *cls = c->main.skipped ? "skip" : !c->has_expect ? "none"
                              : !c->expect_ok && matrix__is_custom(m, c) ? "diff"
                              : !c->expect_ok || (c->fix_tried && !c->fix.connected) ? "bad"
                              : c->main.connected ? "ok-connect" : "ok-fail";
            char text[192];

            matrix__cell_text(m, c, text, sizeof text);
            util_buf_printf(b, "<td class=\"%s\"><details><summary><b>", cls);
            matrix__xml(b, c->main.connected ? "connected" : c->main.skipped ? "skipped" : "failed");
            util_buf_puts(b, "</b>");
            if (e != NULL && !e->connect && !c->main.connected && !c->main.skipped) {
                util_buf_printf(b, " <span class=\"stage\">%s</span>", e->stage);
            }
            if (c->fix_tried) {
                util_buf_printf(b, " <span class=\"%s\">%s</span>",
                                c->fix.connected ? "fixok" : "fixbad",
                                c->fix.connected ? "fix works" : "fix fails");
            }
            if (!c->main.connected) {
                /* What the client said, at a glance; all of it below. */
                char shortmsg[96];
                snprintf(shortmsg, sizeof shortmsg, "%.90s%s", c->main.message,
                         strlen(c->main.message) > 90 ? "..." : "");
                util_buf_puts(b, "<small class=\"msg\">");
                matrix__xml(b, shortmsg);
                util_buf_puts(b, "</small>");
            }
            util_buf_puts(b, "</summary><div>");
            matrix__xml(b, c->main.message);
            if (e != NULL) {
                util_buf_printf(b, "<br><i>expected: %s%s%s</i>", e->connect ? "connect" : "fail at ",
                                e->connect ? "" : e->stage, e->pattern != NULL ? ", matching " : "");
                matrix__xml(b, e->pattern);
            }
            util_buf_printf(b, "<br>exit status %ld, %.2f s<pre>", c->main.exit_status,
                            c->main.seconds);
            matrix__xml(b, c->main.err.data);
            matrix__xml(b, c->main.out.data);
            util_buf_puts(b, "</pre>");
            if (c->fix_tried) {
                util_buf_t o = UTIL_BUF_INIT;
                matrix__opts_text(&o, profile_client_fix_find(p, m->o->clients[ci].model));
                util_buf_printf(b, "<div class=\"fix\">fix <code>");
                matrix__xml(b, o.data);
                util_buf_printf(b, "</code>: %s — ", c->fix.connected ? "works" : "does NOT work");
                matrix__xml(b, c->fix.message);
                util_buf_puts(b, "</div>");
                util_buf_free(&o);
            }
            util_buf_puts(b, "</div></details></td>");
        }
        util_buf_puts(b, "</tr>\n");
    }
    util_buf_puts(b, "</table>\n<h2>Explanations</h2>\n");
    for (pi = 0; pi < m->nservers; pi++) {
        const profile_t *p = m->servers[pi].profile;
        util_buf_puts(b, "<h3>");
        matrix__xml(b, p->name);
        util_buf_puts(b, "</h3><p>");
        matrix__xml(b, p->explanation);
        util_buf_puts(b, "</p><p><b>Client side:</b> ");
        matrix__xml(b, p->fix_client);
        util_buf_puts(b, "<br><b>Server side:</b> ");
        matrix__xml(b, p->fix_server);
        util_buf_puts(b, "</p>\n");
    }
    util_buf_puts(b, "</body></html>\n");
}

/* --- setup ------------------------------------------------------------------- */

static int
matrix__copy_key(const char *src, const char *dst)
{
    char *data = NULL;
    size_t len = 0;
    int fd;
    int rc = -1;

    if (util_read_file(src, 65536, &data, &len) != 0) {
        return -1;
    }
    /* ssh refuses a private key that others can read. */
    fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        rc = write(fd, data, len) == (ssize_t)len ? 0 : -1;
        close(fd);
    }
    free(data);
    return rc;
}

static int
matrix__setup(matrix_t *m, char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR");
    char src[512];
    size_t i;

    snprintf(m->workdir, sizeof m->workdir, "%s/sshmock-matrix-XXXXXX",
             tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
    if (mkdtemp(m->workdir) == NULL) {
        snprintf(err, errlen, "cannot create a work directory: %s", strerror(errno));
        return -1;
    }
    {
        char exe[512];
        size_t len = sizeof exe;
        if (uv_exepath(exe, &len) == 0 && strrchr(exe, '/') != NULL) {
            *strrchr(exe, '/') = '\0';
            snprintf(m->build_env, sizeof m->build_env, "SSHMOCK_BUILD_DIR=%s", exe);
        }
    }
    snprintf(m->key_ed25519, sizeof m->key_ed25519, "%s/demo_ed25519", m->workdir);
    snprintf(m->key_rsa, sizeof m->key_rsa, "%s/demo_rsa", m->workdir);
    snprintf(src, sizeof src, "%s/keys/demo_ed25519", catalog_dir());
    if (matrix__copy_key(src, m->key_ed25519) != 0) {
        snprintf(err, errlen, "cannot copy the demo key %s", src);
        return -1;
    }
    snprintf(src, sizeof src, "%s/keys/demo_rsa", catalog_dir());
    if (matrix__copy_key(src, m->key_rsa) != 0) {
        snprintf(err, errlen, "cannot copy the demo key %s", src);
        return -1;
    }
    m->ncells = m->o->nprofiles * m->o->nclients;
    m->cells = calloc(m->ncells > 0 ? m->ncells : 1, sizeof *m->cells);
    m->servers = calloc(m->o->nprofiles > 0 ? m->o->nprofiles : 1, sizeof *m->servers);
    m->profile_busy = calloc(m->o->nprofiles > 0 ? m->o->nprofiles : 1, sizeof(int));
    if (m->cells == NULL || m->servers == NULL || m->profile_busy == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (i = 0; i < m->o->nprofiles; i++) {
        sshmock_config_t cfg = SSHMOCK_CONFIG_INIT;
        profile_t *p = NULL;

        cfg.state_dir = m->o->state_dir;
        cfg.quiet = 1;
        if (profile_load_warn(m->o->profiles[i], NULL, &p, err, errlen) != 0) {
            return -1;
        }
        if (server_init(&m->servers[i], m->loop, p, &cfg, err, errlen) != 0) {
            return -1;
        }
        m->nservers++;
        if (server_listen(&m->servers[i], "127.0.0.1", 0, err, errlen) != 0) {
            return -1;
        }
    }
    for (i = 0; i < m->ncells; i++) {
        matrix_cell_t *c = &m->cells[i];
        const profile_t *p = NULL;
        c->profile = i / m->o->nclients;
        c->client = i % m->o->nclients;
        p = m->servers[c->profile].profile;
        c->phase = p->matrix_known_host ? MATRIX_PHASE_PRE : MATRIX_PHASE_MAIN;
        m->total_runs += p->matrix_known_host ? 2 : 1;
        snprintf(c->known_hosts, sizeof c->known_hosts, "%s/known_hosts-%zu-%zu", m->workdir,
                 c->profile, c->client);
    }
    return 0;
}

static void
matrix__remove_tree(const char *dir)
{
    /* The work directory holds only files we made and PuTTY homes the
     * drivers made; a bounded recursive delete keeps /tmp clean. */
    uv_fs_t req;
    uv_dirent_t ent;

    if (uv_fs_scandir(NULL, &req, dir, 0, NULL) < 0) {
        return;
    }
    while (uv_fs_scandir_next(&req, &ent) != UV_EOF) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, ent.name);
        if (ent.type == UV_DIRENT_DIR) {
            matrix__remove_tree(path);
        } else {
            unlink(path);
        }
    }
    uv_fs_req_cleanup(&req);
    rmdir(dir);
}

int
matrix_run(const matrix_options_t *o)
{
    matrix_t m;
    char err[1024] = "";
    util_buf_t b = UTIL_BUF_INIT;
    size_t i;
    size_t mismatches = 0;
    size_t skipped = 0;
    size_t unchecked = 0;
    size_t differs = 0;
    size_t fixes_ok = 0;
    size_t fixes_bad = 0;
    double wall;
    int rc = MATRIX_EXIT_OK;

    memset(&m, 0, sizeof m);
    m.o = o;
    m.loop = uv_default_loop();
    m.tty = isatty(2);
    m.started_ms = uv_now(m.loop);
    signal(SIGPIPE, SIG_IGN);
    if (matrix__setup(&m, err, sizeof err) != 0) {
        fprintf(stderr, "sshmock matrix: %s\n", err);
        rc = MATRIX_EXIT_USAGE;
        for (i = 0; i < m.nservers; i++) {
            server_stop(&m.servers[i]);
        }
        uv_run(m.loop, UV_RUN_DEFAULT);
        goto out;
    }
    if (!o->quiet) {
        fprintf(stderr, "sshmock matrix: %zu profiles x %zu clients, %d jobs, timeout %d s%s\n",
                o->nprofiles, o->nclients, o->jobs, o->timeout, o->fixes ? ", with fixes" : "");
    }
    uv_update_time(m.loop);
    m.started_ms = uv_now(m.loop);
    matrix__schedule(&m);
    uv_run(m.loop, UV_RUN_DEFAULT);
    uv_update_time(m.loop);
    wall = (double)(uv_now(m.loop) - m.started_ms) / 1000.0;
    if (m.tty && !o->quiet) {
        fputs("\r\033[K", stderr);
    }

    for (i = 0; i < m.ncells; i++) {
        const matrix_cell_t *c = &m.cells[i];
        if (c->main.skipped) {
            skipped++;
        } else if (!c->has_expect) {
            unchecked++;
        } else if (!c->expect_ok && matrix__is_custom(&m, c)) {
            differs++;
        } else if (!c->expect_ok) {
            mismatches++;
        }
        if (c->fix_tried) {
            if (c->fix.connected) {
                fixes_ok++;
            } else {
                fixes_bad++;
            }
        }
    }
    matrix__table(&m, stdout);
    for (i = 0; i < m.ncells; i++) {
        const matrix_cell_t *c = &m.cells[i];
        const profile_t *p = matrix__profile(&m, c);
        if (!c->main.skipped && c->has_expect && !c->expect_ok && matrix__is_custom(&m, c)) {
            const profile_expect_t *e = profile_expect_find(p, matrix__client(&m, c)->model);
            printf("\nDIFFERS FROM STOCK %s: %s x %s\n  stock %s: %s%s\n  %s: %s (exit %ld): %s\n",
                   e->client, p->name, matrix__client(&m, c)->name, e->client,
                   e->connect ? "connects" : "fails at ", e->connect ? "" : e->stage,
                   matrix__client(&m, c)->name, c->main.connected ? "connects" : "fails",
                   c->main.exit_status, c->main.message);
        } else if (!c->main.skipped && c->has_expect && !c->expect_ok) {
            const profile_expect_t *e = profile_expect_find(p, matrix__client(&m, c)->model);
            printf("\nNOT AS EXPECTED: %s x %s\n  expected: %s%s%s%s\n  got:      %s (exit %ld): %s\n",
                   p->name, matrix__client(&m, c)->name, e->connect ? "connect" : "fail at ",
                   e->connect ? "" : e->stage, e->pattern != NULL ? ", output matching " : "",
                   e->pattern != NULL ? e->pattern : "", c->main.connected ? "connect" : "fail",
                   c->main.exit_status, c->main.message);
        }
        if (c->fix_tried && !c->fix.connected) {
            printf("\nFIX DOES NOT WORK: %s x %s: %s\n", p->name, matrix__client(&m, c)->name,
                   c->fix.message);
        }
    }
    printf("\n%zu cells: %zu as expected, %zu not as expected, %zu without expectation, "
           "%zu skipped", m.ncells, m.ncells - mismatches - skipped - unchecked - differs,
           mismatches, unchecked, skipped);
    if (differs > 0) {
        printf(", %zu where a custom client differs from its stock model", differs);
    }
    if (o->fixes) {
        printf("; fixes: %zu work, %zu do not", fixes_ok, fixes_bad);
    }
    /* Why a client was skipped, once per client: the reason a CI log needs. */
    for (i = 0; i < o->nclients; i++) {
        size_t j;
        for (j = 0; j < m.ncells; j++) {
            if (m.cells[j].client == i && m.cells[j].main.skipped) {
                printf("\nskipped %s: %s", o->clients[i].name, m.cells[j].main.message);
                break;
            }
        }
    }
    printf("\n%zu runs in %.1f s wall time: %.1f runs/s (jobs %d)\n", m.finished_runs, wall,
           wall > 0 ? (double)m.finished_runs / wall : 0.0, o->jobs);
    fflush(stdout);

    if (o->json_path != NULL) {
        matrix__json(&m, wall, &b);
        matrix__write_file(o->json_path, &b);
        util_buf_reset(&b);
    }
    if (o->junit_path != NULL) {
        matrix__junit(&m, wall, &b);
        matrix__write_file(o->junit_path, &b);
        util_buf_reset(&b);
    }
    if (o->html_path != NULL) {
        matrix__html(&m, wall, &b);
        matrix__write_file(o->html_path, &b);
        util_buf_reset(&b);
    }
    util_buf_free(&b);
    if (mismatches > 0 || fixes_bad > 0) {
        rc = MATRIX_EXIT_MISMATCH;
    } else if (skipped == m.ncells && m.ncells > 0) {
        rc = MATRIX_EXIT_SKIPPED;
    }
out:
    for (i = 0; i < m.nservers; i++) {
        server_free(&m.servers[i]);
    }
    for (i = 0; i < m.ncells; i++) {
        util_buf_free(&m.cells[i].main.out);
        util_buf_free(&m.cells[i].main.err);
        util_buf_free(&m.cells[i].fix.out);
        util_buf_free(&m.cells[i].fix.err);
    }
    free(m.cells);
    free(m.servers);
    free(m.profile_busy);
    if (m.workdir[0] != '\0') {
        matrix__remove_tree(m.workdir);
    }
    uv_loop_close(m.loop);
    return rc;
}
