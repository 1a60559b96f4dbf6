/*
 * matrix_exec: scheduling and the child processes. Each run is one driver
 * (client-tests/drivers/NAME) started with the cell's arguments, its output
 * collected, killed with its process group after the timeout.
 */
#include "cli/matrix_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/paths.h"


/* What a client prints is kept up to this much per stream: enough for any
 * error, bounded against a client that loops printing. */
#define MATRIX_OUTPUT_MAX (64 * 1024)
/* A driver that outlives its client's own timeout by this much is killed. */
#define MATRIX_KILL_GRACE_S 15
/* After the client is gone, how long the server may take to notice that
 * its connections closed (it usually takes a loop turn or two). */
#define MATRIX_SETTLE_MS 3000

extern char **environ;

typedef struct matrix_run_s {
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
    uint64_t exit_ms;
    uint64_t first_conn;  /* the server's first connection id for this run */
    int settling;
    util_buf_t obuf;
    util_buf_t ebuf;
} matrix_run_t;

/* --- driver invocation ---------------------------------------------------- */

static char *
matrix__driver_path(const matrix_t *m, const char *model)
{
    static const char *const exts[] = { "", ".py", ".sh", ".js" };
    const char *dir = m->o->driver_dir;
    size_t i;

    if (dir == NULL) {
        dir = paths_drivers();
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

/* A command line of any length: the scenario's and the fix's options are
 * as many as the profile gives. */
typedef struct matrix_argv_s {
    char **v;
    size_t n;
    size_t cap;
    int failed;          /* out of memory: the run is not started */
} matrix_argv_t;

static void
matrix__arg(matrix_argv_t *a, const char *s)
{
    char *copy = NULL;

    if (a->failed) {
        return;
    }
    if (a->n + 2 > a->cap) {
        size_t cap = a->cap > 0 ? a->cap * 2 : 32;
        char **v = realloc(a->v, cap * sizeof *v);
        if (v == NULL) {
            a->failed = 1;
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    copy = strdup(s);
    if (copy == NULL) {
        a->failed = 1;
        return;
    }
    a->v[a->n++] = copy;
    a->v[a->n] = NULL;
}

static void
matrix__argv_free(matrix_argv_t *a)
{
    size_t i;

    for (i = 0; i < a->n; i++) {
        free(a->v[i]);
    }
    free(a->v);
    memset(a, 0, sizeof *a);
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
        r->seconds = (double)(run->exit_ms - run->start_ms) / 1000.0;
        if (run->first_conn > 0) {
            matrix_seen_read(c->events, run->first_conn, &r->seen);
        } else {
            r->seen.stage = NULL; /* the client never started */
            r->seen.conns = 0;
        }
        matrix_cell_evaluate(m, c, r, run->phase);
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
        const profile_t *p = matrix_cell_profile(m, c);
        int fixable = m->o->fixes && !c->main.connected && !c->main.skipped &&
                      profile_client_fix_find(p, matrix_cell_client(m, c)->model) != NULL;
        if (!m->o->quiet) {
            const char *verdict = c->main.skipped ? "skipped"
                                  : matrix_cell_unplayable(m, c) ? "CANNOT BE PLAYED"
                                  : !c->has_expect ? "no expectation"
                                  : c->expect_ok ? "as expected" : "UNEXPECTED";
            fprintf(stderr, "%s[%zu/%zu] %-28s %-9s %-10s %s: %.70s%s",
                    m->tty ? "\r\033[K" : "", m->finished_runs, m->total_runs, p->name,
                    matrix_cell_client(m, c)->name, c->main.connected ? "connected" : "failed",
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
    matrix_exec_schedule(m);
}

static void
matrix__close_run(matrix_run_t *run)
{
    int i;

    if (!run->settling) {
        run->exit_ms = uv_now(run->m->loop); /* it never started */
    }
    uv_close((uv_handle_t *)&run->timer, matrix__run_closed);
    for (i = 0; i < run->nholds; i++) {
        uv_close((uv_handle_t *)&run->holds[i], matrix__run_closed);
    }
}

/* Whether a connection the run's client made is still open on the server
 * (CLOSING does not count: its close is logged; the rest is flushing). */
static int
matrix__conns_open(matrix_run_t *run)
{
    return server_conns_open_since(matrix_cell_server(run->m, run->cell), run->first_conn);
}

/* The client is gone; what the server saw is complete once it has closed
 * the client's connections (and logged how they ended). */
static void
matrix__settle(uv_timer_t *t)
{
    matrix_run_t *run = t->data;

    if (matrix__conns_open(run) && uv_now(run->m->loop) - run->exit_ms < MATRIX_SETTLE_MS) {
        uv_timer_start(t, matrix__settle, 10, 0);
        return;
    }
    matrix__close_run(run);
}

static void
matrix__maybe_done(matrix_run_t *run)
{
    /* Finished when the process exited and both pipes reached EOF (they are
     * closed then); then the server settles, and the timer and the held
     * connections go last. */
    if (run->exited && uv_is_closing((uv_handle_t *)&run->out) &&
        uv_is_closing((uv_handle_t *)&run->err) && !run->settling) {
        run->settling = 1;
        run->exit_ms = uv_now(run->m->loop);
        uv_timer_stop(&run->timer);
        matrix__settle(&run->timer);
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

/* The driver's command line: where, who, how to log in, the client's
 * options (and the fix's, on a fix run), the command. */
static void
matrix__driver_args(matrix_run_t *run, const char *driver, matrix_argv_t *a)
{
    matrix_t *m = run->m;
    matrix_cell_t *c = run->cell;
    const profile_t *p = matrix_cell_profile(m, c);
    const matrix_client_t *cl = matrix_cell_client(m, c);
    const profile_client_opts_t *fix =
        run->phase == MATRIX_PHASE_FIX ? profile_client_fix_find(p, cl->model) : NULL;
    char num[16];

    matrix__arg(a, driver);
    matrix__arg(a, "--host");
    matrix__arg(a, "127.0.0.1");
    matrix__arg(a, "--port");
    snprintf(num, sizeof num, "%d", matrix_cell_server(m, c)->port);
    matrix__arg(a, num);
    matrix__arg(a, "--user");
    matrix__arg(a, "demo");
    switch (matrix__auth(p, fix)) {
    case PROFILE_MATRIX_AUTH_KEY:
        matrix__arg(a, "--key");
        matrix__arg(a, m->key_ed25519);
        break;
    case PROFILE_MATRIX_AUTH_KEY_RSA:
        matrix__arg(a, "--key");
        matrix__arg(a, m->key_rsa);
        break;
    case PROFILE_MATRIX_AUTH_WRONG_PASSWORD:
        matrix__arg(a, "--password");
        matrix__arg(a, "not-the-password");
        break;
    default:
        matrix__arg(a, "--password");
        matrix__arg(a, "demo");
    }
    matrix__arg(a, "--known-hosts");
    if (run->phase == MATRIX_PHASE_FIX) {
        /* A path of its own: drivers keep client state beside it (PuTTY's
         * host key cache), and a fix run starts as a fresh client. */
        util_buf_t kh = UTIL_BUF_INIT;
        util_buf_printf(&kh, "%s-fix", c->known_hosts);
        matrix__arg(a, kh.data != NULL ? kh.data : c->known_hosts);
        util_buf_free(&kh);
    } else {
        matrix__arg(a, c->known_hosts);
    }
    matrix__arg(a, "--timeout");
    snprintf(num, sizeof num, "%d", m->o->timeout);
    matrix__arg(a, num);
    matrix__opts(a, profile_client_options_find(p, cl->model), fix);
    matrix__arg(a, "--command");
    matrix__arg(a, MATRIX_COMMAND);
}

/* The driver's environment: ours, less the agent (a run logs in the way
 * the profile says, not with the user's keys) and a stale client command,
 * plus where the build is and the custom client's command. As long as
 * ours is: a fixed-size array here once lost PATH on CI machines with many
 * variables. The strings are borrowed from environ and m, except
 * *clientcmd; the caller frees the array and *clientcmd. NULL: no memory. */
char **
matrix_exec_env(char **environ_in, const char *build_env, const char *command,
                char **clientcmd)
{
    char **env = NULL;
    size_t n = 0;
    size_t ne = 0;
    size_t i;

    *clientcmd = NULL;
    while (environ_in[n] != NULL) {
        n++;
    }
    env = calloc(n + 3, sizeof *env); /* + build dir, client command, NULL */
    if (env == NULL) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (strncmp(environ_in[i], "SSH_AUTH_SOCK=", 14) != 0 &&
            strncmp(environ_in[i], "SSHMOCK_CLIENT_CMD=", 19) != 0) {
            env[ne++] = environ_in[i];
        }
    }
    if (getenv("SSHMOCK_BUILD_DIR") == NULL && build_env != NULL && build_env[0] != '\0') {
        env[ne++] = (char *)build_env; /* where the libssh driver finds its client */
    }
    if (command != NULL) {
        util_buf_t b = UTIL_BUF_INIT;
        util_buf_printf(&b, "SSHMOCK_CLIENT_CMD=%s", command);
        if (b.data == NULL) {
            free(env);
            return NULL;
        }
        *clientcmd = b.data;
        env[ne++] = *clientcmd;
    }
    env[ne] = NULL;
    return env;
}

static int
matrix__spawn(matrix_run_t *run)
{
    matrix_t *m = run->m;
    const matrix_client_t *cl = matrix_cell_client(m, run->cell);
    uv_process_options_t po;
    uv_stdio_container_t stdio[3];
    matrix_argv_t a = { NULL, 0, 0, 0 };
    char *driver = matrix__driver_path(m, cl->model);
    char *clientcmd = NULL;
    char **env = NULL;
    int rc;

    if (driver == NULL) {
        util_buf_printf(&run->ebuf, "sshmock-driver: %s not installed: no driver found in %s\n",
                        cl->model, m->o->driver_dir != NULL ? m->o->driver_dir : paths_drivers());
        run->exited = 1;
        run->exit_status = 77;
        return -1;
    }
    matrix__driver_args(run, driver, &a);
    env = matrix_exec_env(environ, m->build_env, cl->command, &clientcmd);
    if (a.failed || env == NULL) {
        util_buf_printf(&run->ebuf, "sshmock: cannot run the %s driver: out of memory\n",
                        cl->model);
        matrix__argv_free(&a);
        free(driver);
        free(env);
        run->exited = 1;
        run->exit_status = 127;
        return -1;
    }

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
    run->first_conn = server_next_conn_id(matrix_cell_server(m, run->cell));
    rc = uv_spawn(m->loop, &run->proc, &po);
    matrix__argv_free(&a);
    free(driver);
    free(env);
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
    server_t *s = matrix_cell_server(run->m, run->cell);

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
    const profile_t *p = matrix_cell_profile(m, c);
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
        uv_ip4_addr("127.0.0.1", matrix_cell_server(m, c)->port, &sa);
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

void
matrix_exec_schedule(matrix_t *m)
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
