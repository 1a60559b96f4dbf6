#include "net/server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/util.h"
#include "ssh/auth.h"
#include "ssh/sshd.h"

static void
server__cleanup_partial(server_t *s)
{
    if (s->borrowed) {
        /* the parent's: freed by the parent */
        s->keyrings = NULL;
        s->profile = NULL;
        memset(&s->log, 0, sizeof s->log);
    }
    if (s->bind != NULL) {
        ssh_bind_free(s->bind);
        s->bind = NULL;
    }
    auth_keyrings_free(s->keyrings, s->profile != NULL ? s->profile->naccounts : 0);
    s->keyrings = NULL;
    hostkey_set_free(&s->keys);
    log_close(&s->log);
    profile_free(s->profile);
    s->profile = NULL;
}

/* A connection's memory is about to go: it leaves the list. */
static void
server__conn_gone(void *owner, conn_t *c)
{
    server_t *s = owner;

    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    s->nconns--;
}

static void
server__env_init(server_t *s)
{
    conn_env_t *env = &s->env;

    env->loop = s->loop;
    env->profile = s->profile;
    env->log = &s->log;
    env->bind = s->bind;
    env->keyrings = s->keyrings;
    env->log_passwords = s->log_passwords;
    env->rng = &s->rng;
    env->counts = &s->counts;
    env->gone = server__conn_gone;
    env->owner = s;
}

int
server_init(server_t *s, uv_loop_t *loop, profile_t *profile, const sshmock_config_t *cfg,
            char *err, size_t errlen)
{
    char *state_dir = NULL;
    size_t i;
    int rc;

    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->profile = profile;
    s->log_passwords = cfg->log_passwords;
    s->rng = 0x73736d6f636b; /* fixed: MaxStartups draws replay run to run */

    state_dir = hostkey_state_dir(cfg->state_dir);
    if (state_dir == NULL) {
        rc = SSHMOCK_ENOMEM;
        goto fail;
    }
    rc = hostkey_load_all(profile, state_dir, &s->keys, err, errlen);
    free(state_dir);
    if (rc != 0) {
        goto fail;
    }
    rc = auth_keyrings_load(profile, &s->keyrings, err, errlen);
    if (rc != 0) {
        goto fail;
    }
    rc = sshd_bind_new(profile, &s->keys, &s->bind, err, errlen);
    if (rc != 0) {
        goto fail;
    }
    if (log_open(&s->log, cfg->quiet ? NULL : stderr, cfg->log_json_path, profile->name) != 0) {
        snprintf(err, errlen, "--log-json %s: cannot open: %s", cfg->log_json_path,
                 strerror(errno));
        rc = SSHMOCK_ELOG;
        goto fail;
    }
    for (i = 0; i < s->keys.n; i++) {
        char bits[16];
        snprintf(bits, sizeof bits, "%d", s->keys.keys[i].bits);
        log_event(&s->log, 0, "hostkey", "type", s->keys.keys[i].type, "bits", bits,
                  "fingerprint", s->keys.keys[i].fingerprint, "file", s->keys.keys[i].source,
                  "generated", s->keys.keys[i].generated ? "yes" : "no", NULL);
    }
    server__env_init(s);
    return 0;
fail:
    server__cleanup_partial(s);
    return rc;
}

int
server_init_worker(server_t *s, uv_loop_t *loop, server_t *parent, char *err, size_t errlen)
{
    int rc;

    memset(s, 0, sizeof *s);
    s->borrowed = 1;
    s->loop = loop;
    s->profile = parent->profile;
    s->keyrings = parent->keyrings;
    s->log_passwords = parent->log_passwords;
    s->log = parent->log;
    s->log.own_json = 0;
    rc = sshd_bind_new(s->profile, &parent->keys, &s->bind, err, errlen);
    if (rc != 0) {
        server__cleanup_partial(s);
        return rc;
    }
    server__env_init(s);
    s->env.counts = &parent->counts;
    s->env.rng = &parent->rng;
    s->env.draw_lock = parent->env.draw_lock;
    return 0;
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
    conn_t *c = conn_accept(&s->env, (uv_stream_t *)&s->listener);

    if (c == NULL) {
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
    if (rc == 0) {
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
    snprintf(portstr, sizeof portstr, "%d", s->port);
    log_event(&s->log, 0, "listen", "addr", s->addr, "port", portstr, "file",
              s->profile->path, NULL);
    return 0;
}

static void
server__on_signal(uv_signal_t *h, int signum)
{
    server_t *s = h->data;

    log_event(&s->log, 0, "signal", "signal", signum == SIGINT ? "SIGINT" : "SIGTERM", NULL);
    server_stop(s);
}

int
server_handle_signals(server_t *s)
{
    uv_signal_init(s->loop, &s->sigint);
    uv_signal_init(s->loop, &s->sigterm);
    s->sigint.data = s;
    s->sigterm.data = s;
    s->signals_open = 1;
    uv_signal_start(&s->sigint, server__on_signal, SIGINT);
    uv_signal_start(&s->sigterm, server__on_signal, SIGTERM);
    return 0;
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
        uv_close((uv_handle_t *)&s->sigint, NULL);
        uv_close((uv_handle_t *)&s->sigterm, NULL);
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
    server__cleanup_partial(s);
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
