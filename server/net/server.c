#include "net/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"
#include "profile/engine.h"
#include "ssh/auth.h"
#include "ssh/sshd.h"

typedef struct server_gen_s server_gen_t;

struct server_gen_s {
    conn_env_t env;         /* what each connection of this generation gets */
    profile_t *profile;     /* owned */
    hostkey_set_t keys;
    ssh_bind bind;          /* algorithms, banner and keys, applied to each session */
    struct auth_keyring_s *keyrings; /* per account: its authorized keys */
    /* The server's while current, plus one per connection, plus one per
     * worker generation that borrows from it: atomic, since a worker lets
     * go of what it borrowed on its own thread. */
    _Atomic size_t refs;
    int borrowed;           /* a worker's: profile, keys and keyrings are the lender's */
    server_gen_t *lender;   /* borrowed: the first server's generation they come from */
    server_t *server;
};

static void
server__gen_unref(server_gen_t *g)
{
    if (g == NULL || --g->refs > 0) {
        return;
    }
    if (g->bind != NULL) {
        ssh_bind_free(g->bind);
    }
    if (g->borrowed) {
        server__gen_unref(g->lender);
    } else {
        auth_keyrings_free(g->keyrings, g->profile->naccounts);
        hostkey_set_free(&g->keys);
        profile_free(g->profile);
    }
    free(g);
}

/* A connection's memory is about to go: it leaves the list, and lets go of
 * the profile it started with. */
static void
server__conn_gone(void *owner, conn_t *c)
{
    server_gen_t *g = owner;
    server_t *s = g->server;

    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    s->nconns--;
    server__gen_unref(g); /* conn reads nothing of its env after gone() */
}

static void
server__env_init(server_t *s, server_gen_t *g)
{
    conn_env_t *env = &g->env;

    env->loop = s->loop;
    env->profile = g->profile;
    env->log = &s->log;
    env->bind = g->bind;
    env->hostkeys = &g->keys;
    env->keyrings = g->keyrings;
    env->log_passwords = s->log_passwords;
    env->rng = &s->rng;
    env->counts = &s->counts;
    env->gone = server__conn_gone;
    env->owner = g;
}

/* Everything made from one profile (which it takes, even on failure). */
static int
server__gen_new(server_t *s, profile_t *profile, server_gen_t **out, char *err, size_t errlen)
{
    server_gen_t *g = calloc(1, sizeof *g);
    int rc;

    *out = NULL;
    if (g == NULL) {
        profile_free(profile);
        snprintf(err, errlen, "out of memory");
        return SSHMOCK_ENOMEM;
    }
    g->profile = profile;
    g->server = s;
    g->refs = 1;
    rc = hostkey_load_all(profile, s->state_dir, &g->keys, err, errlen);
    if (rc == 0) {
        rc = hostkey_order_algorithms(profile, &g->keys);
    }
    if (rc == 0) {
        rc = auth_keyrings_load(profile, &g->keyrings, err, errlen);
    }
    if (rc == 0) {
        rc = sshd_bind_new(profile, &g->keys, &g->bind, err, errlen);
    }
    if (rc != 0) {
        server__gen_unref(g);
        return rc;
    }
    server__env_init(s, g);
    *out = g;
    return 0;
}

static void
server__log_hostkeys(server_t *s)
{
    const hostkey_set_t *keys = &s->gen->keys;
    size_t i;

    for (i = 0; i < keys->n; i++) {
        char bits[16];
        snprintf(bits, sizeof bits, "%d", keys->keys[i].bits);
        log_event(&s->log, 0, "hostkey", "type", keys->keys[i].type, "bits", bits,
                  "fingerprint", keys->keys[i].fingerprint, "file", keys->keys[i].source,
                  "generated", keys->keys[i].generated ? "yes" : "no", NULL);
    }
}

int
server_init(server_t *s, uv_loop_t *loop, profile_t *profile, const sshmock_config_t *cfg,
            char *err, size_t errlen)
{
    int rc;

    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->log_passwords = cfg->log_passwords;
    s->rng = 0x73736d6f636b; /* fixed: MaxStartups draws replay run to run */

    s->state_dir = hostkey_state_dir(cfg->state_dir);
    if (s->state_dir == NULL) {
        profile_free(profile);
        return SSHMOCK_ENOMEM;
    }
    rc = server__gen_new(s, profile, &s->gen, err, errlen);
    if (rc != 0) {
        goto fail;
    }
    s->profile = s->gen->profile;
    if (log_open(&s->log, cfg->quiet ? NULL : stderr, cfg->log_json_path, profile->name) != 0) {
        snprintf(err, errlen, "--log-json %s: cannot open: %s", cfg->log_json_path,
                 strerror(errno));
        rc = SSHMOCK_ELOG;
        goto fail;
    }
    server__log_hostkeys(s);
    return 0;
fail:
    log_close(&s->log);
    server__gen_unref(s->gen);
    s->gen = NULL;
    s->profile = NULL;
    free(s->state_dir);
    s->state_dir = NULL;
    return rc;
}

int
server_init_worker(server_t *s, uv_loop_t *loop, server_t *parent, char *err, size_t errlen)
{
    server_gen_t *g = NULL;
    int rc;

    memset(s, 0, sizeof *s);
    s->borrowed = 1;
    s->loop = loop;
    s->log_passwords = parent->log_passwords;
    s->log = parent->log;
    s->log.own_json = 0;
    s->parent = parent;
    rc = server_gen_borrow(s, parent->gen, &g, err, errlen);
    if (rc != 0) {
        return rc;
    }
    s->gen = g;
    s->profile = g->profile;
    return 0;
}

int
server_gen_borrow(server_t *worker, struct server_gen_s *lender, struct server_gen_s **out,
                  char *err, size_t errlen)
{
    server_t *parent = worker->parent;
    server_gen_t *g = calloc(1, sizeof *g);
    int rc;

    *out = NULL;
    if (g == NULL) {
        snprintf(err, errlen, "out of memory");
        return SSHMOCK_ENOMEM;
    }
    /* The lender's profile, keys and keyrings, read-only, kept while this
     * generation lives; the worker's own libssh bind (a bind is not shared
     * between threads: this one is made here and then used by the worker
     * only). */
    g->borrowed = 1;
    g->refs = 1;
    g->server = worker;
    g->lender = lender;
    lender->refs++;
    g->profile = lender->profile;
    g->keyrings = lender->keyrings;
    rc = sshd_bind_new(g->profile, &lender->keys, &g->bind, err, errlen);
    if (rc != 0) {
        server__gen_unref(g);
        return rc;
    }
    server__env_init(worker, g);
    g->env.counts = &parent->counts;
    g->env.rng = &parent->rng;
    g->env.draw_lock = lender->env.draw_lock;
    *out = g;
    return 0;
}

void
server_gen_install(server_t *worker, struct server_gen_s *g)
{
    server_gen_t *old = worker->gen;

    worker->gen = g;
    worker->profile = g->profile;
    worker->log.profile = g->profile->name; /* this worker's copy of the log */
    server__gen_unref(old); /* its connections keep it until they end */
}

void
server_gen_release(struct server_gen_s *g)
{
    server__gen_unref(g);
}

void
server_set_draw_lock(server_t *s, uv_mutex_t *lock)
{
    s->gen->env.draw_lock = lock;
}

/* Loopback only (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104) is private. */
static int
server__exposed(const struct sockaddr_storage *ss)
{
    static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) != 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        const unsigned char *b = a->sin6_addr.s6_addr;
        if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)) {
            return 0;
        }
        return !(memcmp(b, v4mapped, sizeof v4mapped) == 0 && b[12] == 127);
    }
    return 1;
}

static void
server__on_spare_closed(uv_handle_t *h)
{
    server_t *s = h->data;

    s->spare_busy = 0;
}

static void server__on_retry(uv_timer_t *t);

/* The connection waiting in the listener could not be given memory. It is
 * shed (accepted and closed: the client sees the connection end, as from
 * a server out of resources) so the listener goes on with the next ones;
 * while the spare handle is still closing, a timer tries again. */
static void
server__shed(server_t *s)
{
    if (!s->spare_busy && uv_tcp_init(s->loop, &s->spare) == 0) {
        s->spare.data = s;
        s->spare_busy = 1;
        (void)uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&s->spare);
        uv_close((uv_handle_t *)&s->spare, server__on_spare_closed);
        log_event(&s->log, 0, "accept_error", "reason", "out of memory: connection shed", NULL);
        return;
    }
    if (s->retry_open) {
        uv_timer_start(&s->retry, server__on_retry, 50, 0);
    }
}

static void
server__accept_one(server_t *s)
{
    conn_t *c = NULL;

    s->gen->refs++; /* the connection's, given back in server__conn_gone */
    c = conn_accept(&s->gen->env, (uv_stream_t *)&s->listener);
    if (c == NULL) {
        server__gen_unref(s->gen);
        server__shed(s);
        return;
    }
    c->next = s->conns;
    if (s->conns != NULL) {
        s->conns->prev = c;
    }
    s->conns = c;
    s->nconns++;
    s->total_conns++;
}

static void
server__on_retry(uv_timer_t *t)
{
    server_t *s = t->data;

    if (!s->stopping && s->listener_open) {
        server__accept_one(s);
    }
}

static void
server__on_connection(uv_stream_t *listener, int status)
{
    server_t *s = listener->data;

    if (status < 0) {
        /* EMFILE and friends: libuv keeps a spare descriptor to shed the
         * connection; we log and keep serving the ones we have. */
        log_event(&s->log, 0, "accept_error", "reason", uv_strerror(status), NULL);
        return;
    }
    if (s->stopping) {
        return;
    }
    server__accept_one(s);
}

long
server_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return -1;
    }
    if (rl.rlim_cur != rl.rlim_max) {
        struct rlimit want = rl;
        want.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &want) == 0) {
            rl = want;
        }
    }
    return rl.rlim_cur == RLIM_INFINITY ? (long)1 << 30 : (long)rl.rlim_cur;
}

/* Every worker listens on the same port; the kernel spreads the
 * connections (SO_REUSEPORT; libuv 1.44 has no flag for it). */
static int
server__reuseport_socket(server_t *s, int family)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    int rc;

    if (fd < 0) {
        return uv_translate_sys_error(errno);
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        rc = uv_translate_sys_error(errno);
        close(fd);
        return rc;
    }
    rc = uv_tcp_open(&s->listener, fd);
    if (rc != 0) {
        close(fd);
    }
    return rc;
}

int
server_listen(server_t *s, const char *addr, int port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    struct sockaddr_storage bound;
    int len = sizeof bound;
    char host[64] = "";
    char portstr[16];
    int rc;

    if (addr == NULL) {
        addr = s->profile->listen_address != NULL ? s->profile->listen_address : "127.0.0.1";
    }
    if (port < 0) {
        port = s->profile->port;
    }
    if (port > 65535) {
        snprintf(err, errlen, "port %d: not a port number (0-65535)", port);
        return SSHMOCK_EINVAL;
    }
    if (strchr(addr, ':') != NULL) {
        rc = uv_ip6_addr(addr, port, (struct sockaddr_in6 *)&ss);
    } else {
        rc = uv_ip4_addr(addr, port, (struct sockaddr_in *)&ss);
    }
    if (rc != 0) {
        snprintf(err, errlen, "listen address %s: %s", addr, uv_strerror(rc));
        return SSHMOCK_EINVAL;
    }
    uv_tcp_init(s->loop, &s->listener);
    s->listener.data = s;
    s->listener_open = 1;
    if (s->reuseport) {
        rc = server__reuseport_socket(s, ss.ss_family);
        if (rc != 0) {
            snprintf(err, errlen, "cannot listen on %s port %d: %s", addr, port,
                     uv_strerror(rc));
            return SSHMOCK_ELISTEN;
        }
    }
    uv_timer_init(s->loop, &s->retry);
    s->retry.data = s;
    s->retry_open = 1;
    rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0 && s->profile->hostkey_none != PROFILE_HOSTKEY_NONE_REFUSED) {
        rc = uv_listen((uv_stream_t *)&s->listener, SERVER_BACKLOG, server__on_connection);
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s port %d: %s", addr, port, uv_strerror(rc));
        return SSHMOCK_ELISTEN;
    }
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
    if (bound.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&bound, host, sizeof host);
        s->port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
        snprintf(s->addr, sizeof s->addr, "[%s]", host);
    } else {
        uv_ip4_name((struct sockaddr_in *)&bound, host, sizeof host);
        s->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
        snprintf(s->addr, sizeof s->addr, "%s", host);
    }
    s->exposed = server__exposed(&bound);
    snprintf(portstr, sizeof portstr, "%d", s->port);
    log_event(&s->log, 0, "listen", "addr", s->addr, "port", portstr, "file",
              s->profile->path, "engine", engine_description(), NULL);
    if (s->profile->hostkey_none == PROFILE_HOSTKEY_NONE_REFUSED) {
        /* The sshd that did not start: the port stays bound (so nothing
         * else takes it) but nothing listens, and the kernel answers every
         * SYN with RST: "Connection refused". sshmock keeps running, so a
         * pipeline that started it goes on to meet the refusal. */
        log_event(&s->log, 0, "not_listening", "port", portstr, "reason",
                  "sshd: no hostkeys available -- exiting. (HostKey none refused)", NULL);
    }
    return 0;
}

int
server_reload(server_t *s)
{
    const char *path = s->profile->path;
    server_gen_t *old = s->gen;
    server_gen_t *g = NULL;
    profile_t *p = NULL;
    char err[1024];
    char n[16];
    int rc;

    log_event(&s->log, 0, "reload", "file", path, NULL);
    if (s->borrowed) {
        return SSHMOCK_EINVAL; /* signals are the first server's */
    }
    rc = profile_load_warn(path, NULL, &p, err, sizeof err);
    if (rc == 0) {
        rc = server__gen_new(s, p, &g, err, sizeof err);
    }
    if (rc == 0) {
        g->env.draw_lock = old->env.draw_lock;
    }
    if (rc == 0 && s->on_reload != NULL) {
        /* Every worker gets the new generation (made here, installed on
         * its own loop), or none does and the old profile keeps serving. */
        rc = s->on_reload(s->on_reload_ud, g, err, sizeof err);
        if (rc != 0) {
            server__gen_unref(g);
        }
    }
    if (rc != 0) {
        /* As sshd -t would say it; the old profile keeps serving. */
        log_event(&s->log, 0, "reload_failed", "file", path, "reason", err,
                  "kept", "the profile in use", NULL);
        return rc;
    }
    s->gen = g;
    s->profile = g->profile;
    s->log.profile = g->profile->name; /* the old name goes with the old profile */
    s->reloads++;
    snprintf(n, sizeof n, "%u", s->reloads);
    log_event(&s->log, 0, "reloaded", "file", g->profile->path, "reloads", n, NULL);
    server__log_hostkeys(s);
    server__gen_unref(old); /* its connections keep it until they end */
    return 0;
}

void
server_log_status(server_t *s)
{
    size_t by_state[CONN_CLOSING + 1] = { 0 };
    char v[CONN_CLOSING + 1][24];
    char open_now[24];
    char total[24];
    char unauth[24];
    char reloads[24];
    const conn_t *c = NULL;
    int i;

    for (c = s->conns; c != NULL; c = c->next) {
        by_state[c->state <= CONN_CLOSING ? c->state : CONN_CLOSING]++;
    }
    for (i = 0; i <= CONN_CLOSING; i++) {
        snprintf(v[i], sizeof v[i], "%zu", by_state[i]);
    }
    snprintf(open_now, sizeof open_now, "%zu", s->nconns);
    snprintf(total, sizeof total, "%llu", (unsigned long long)s->total_conns);
    snprintf(unauth, sizeof unauth, "%zu", s->counts.unauth);
    snprintf(reloads, sizeof reloads, "%u", s->reloads);
    log_event(&s->log, 0, "status", "connections", open_now,
              "accepted", v[CONN_ACCEPTED], "kex", v[CONN_KEX], "auth", v[CONN_AUTH],
              "open", v[CONN_OPEN], "closing", v[CONN_CLOSING], "unauthenticated", unauth,
              "total", total, "reloads", reloads, "file", s->profile->path, NULL);
}

static void
server__on_signal(uv_signal_t *h, int signum)
{
    server_t *s = h->data;

    switch (signum) {
    case SIGHUP:
        log_event(&s->log, 0, "signal", "signal", "SIGHUP", NULL);
        if (!s->stopping) {
            server_reload(s);
        }
        return;
    case SIGUSR1:
        server_log_status(s);
        return;
    default:
        log_event(&s->log, 0, "signal", "signal", signum == SIGINT ? "SIGINT" : "SIGTERM",
                  NULL);
        server_stop(s);
        return;
    }
}

int
server_handle_signals(server_t *s)
{
    static const int nums[SERVER_SIGNALS] = {
        [SERVER_SIGINT] = SIGINT, [SERVER_SIGTERM] = SIGTERM,
        [SERVER_SIGHUP] = SIGHUP, [SERVER_SIGUSR1] = SIGUSR1,
    };
    int i;

    /* Their default action is to end the process without a word: a
     * client that vanishes, or a stray kill -USR2, must not. */
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    for (i = 0; i < SERVER_SIGNALS; i++) {
        uv_signal_init(s->loop, &s->signals[i]);
        s->signals[i].data = s;
    }
    s->signals_open = 1;
    for (i = 0; i < SERVER_SIGNALS; i++) {
        uv_signal_start(&s->signals[i], server__on_signal, nums[i]);
    }
    return 0;
}

void
server_warn_exposed(server_t *s, int print)
{
    static const char what[] = "every profile's demo accounts and keys are public; "
                               "anyone who can reach this port can log in";
    FILE *human = s->log.human;
    char port[16];

    if (!s->exposed) {
        return;
    }
    if (print) {
        fprintf(stderr, "WARNING: listening on %s port %d: %s\n", s->addr, s->port, what);
        fflush(stderr);
    }
    /* The stderr line above is the one a person reads; the event is for
     * the JSON log, so it is not said twice on stderr. */
    snprintf(port, sizeof port, "%d", s->port);
    s->log.human = NULL;
    log_event(&s->log, 0, "warning", "addr", s->addr, "port", port, "reason", what, NULL);
    s->log.human = human;
}

void
server_stop(server_t *s)
{
    conn_t *c = NULL;

    if (s->stopping) {
        return;
    }
    s->stopping = 1;
    if (s->on_stop != NULL) {
        s->on_stop(s->on_stop_ud);
    }
    if (s->listener_open) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        s->listener_open = 0;
    }
    if (s->retry_open) {
        uv_close((uv_handle_t *)&s->retry, NULL);
        s->retry_open = 0;
    }
    if (s->signals_open) {
        int i;
        for (i = 0; i < SERVER_SIGNALS; i++) {
            uv_close((uv_handle_t *)&s->signals[i], NULL);
        }
        s->signals_open = 0;
    }
    /* conn_close() only starts a teardown; connections leave the list in
     * their last close callback, so walking it here is safe. */
    for (c = s->conns; c != NULL; c = c->next) {
        conn_close(c, CONN_BY_SERVER, 1, "server shutting down");
    }
}

void
server_free(server_t *s)
{
    char total[24];

    snprintf(total, sizeof total, "%llu", (unsigned long long)s->total_conns);
    log_event(&s->log, 0, "stopped", "connections", total, NULL);
    if (!s->borrowed) {
        log_close(&s->log); /* a worker's log is the first server's */
    }
    /* Every connection is gone (the loop has run dry): this was the last
     * reference to the current generation, and the older ones are freed. */
    server__gen_unref(s->gen);
    s->gen = NULL;
    s->profile = NULL;
    free(s->state_dir);
    s->state_dir = NULL;
}

uint64_t
server_next_conn_id(const server_t *s)
{
    return s->counts.next_id + 1;
}

int
server_conns_open_since(const server_t *s, uint64_t first)
{
    const conn_t *c = NULL;

    for (c = s->conns; c != NULL; c = c->next) {
        if (c->id >= first && c->state != CONN_CLOSING) {
            return 1;
        }
    }
    return 0;
}
