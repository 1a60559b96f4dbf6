/*
 * matrix: the run as a whole. Serves every profile, lets matrix_exec run
 * the cells, then the reports (matrix_report) and the exit status. See
 * matrix_int.h for the parts.
 */
#include "cli/matrix_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/catalog.h"

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

/* The work directory, the demo keys the drivers log in with, and where
 * the build is (the libssh driver's client lives there). */
static int
matrix__setup_files(matrix_t *m, char *err, size_t errlen)
{
    const char *tmp = getenv("TMPDIR");
    char src[512];
    char exe[512];
    size_t len = sizeof exe;

    snprintf(m->workdir, sizeof m->workdir, "%s/sshmock-matrix-XXXXXX",
             tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
    if (mkdtemp(m->workdir) == NULL) {
        snprintf(err, errlen, "cannot create a work directory: %s", strerror(errno));
        m->workdir[0] = '\0';
        return -1;
    }
    if (uv_exepath(exe, &len) == 0 && strrchr(exe, '/') != NULL) {
        *strrchr(exe, '/') = '\0';
        snprintf(m->build_env, sizeof m->build_env, "SSHMOCK_BUILD_DIR=%s", exe);
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
    return 0;
}

/* Each cell has a server of its own, with its own event log: what the
 * server saw of a run is then that cell's alone, even with the cells of
 * one profile running side by side (matrix_seen.c reads it). */
static int
matrix__setup_server(matrix_t *m, size_t i, char *err, size_t errlen)
{
    sshmock_config_t cfg = SSHMOCK_CONFIG_INIT;
    matrix_cell_t *c = &m->cells[i];
    profile_t *p = NULL;

    snprintf(c->events, sizeof c->events, "%s/events-%zu.jsonl", m->workdir, i);
    cfg.state_dir = m->o->state_dir;
    cfg.quiet = 1;
    cfg.log_json_path = c->events;
    if (profile_load_warn(m->o->profiles[c->profile], NULL, &p, err, errlen) != 0) {
        return -1;
    }
    if (server_init(&m->servers[i], m->loop, p, &cfg, err, errlen) != 0) {
        return -1;
    }
    m->nservers++;
    return server_listen(&m->servers[i], "127.0.0.1", 0, err, errlen);
}

static int
matrix__setup(matrix_t *m, char *err, size_t errlen)
{
    size_t n = m->o->nprofiles;
    size_t i;

    if (matrix__setup_files(m, err, errlen) != 0) {
        return -1;
    }
    m->ncells = n * m->o->nclients;
    m->cells = calloc(m->ncells > 0 ? m->ncells : 1, sizeof *m->cells);
    m->servers = calloc(m->ncells > 0 ? m->ncells : 1, sizeof *m->servers);
    m->profiles = calloc(n > 0 ? n : 1, sizeof *m->profiles);
    m->profile_busy = calloc(n > 0 ? n : 1, sizeof(int));
    if (m->cells == NULL || m->servers == NULL || m->profiles == NULL || m->profile_busy == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* The profiles as the reports and expectations read them. */
    for (i = 0; i < n; i++) {
        if (profile_load_warn(m->o->profiles[i], NULL, &m->profiles[i], err, errlen) != 0) {
            return -1;
        }
        m->nprofiles++;
    }
    for (i = 0; i < m->ncells; i++) {
        matrix_cell_t *c = &m->cells[i];
        const profile_t *p = NULL;
        c->profile = i / m->o->nclients;
        c->client = i % m->o->nclients;
        p = m->profiles[c->profile];
        c->phase = p->matrix_known_host ? MATRIX_PHASE_PRE : MATRIX_PHASE_MAIN;
        m->total_runs += p->matrix_known_host ? 2 : 1;
        snprintf(c->known_hosts, sizeof c->known_hosts, "%s/known_hosts-%zu-%zu", m->workdir,
                 c->profile, c->client);
        if (matrix__setup_server(m, i, err, errlen) != 0) {
            return -1;
        }
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

static void
matrix__free(matrix_t *m)
{
    size_t i;

    for (i = 0; i < m->nservers; i++) {
        server_free(&m->servers[i]);
    }
    for (i = 0; i < m->ncells; i++) {
        util_buf_free(&m->cells[i].main.out);
        util_buf_free(&m->cells[i].main.err);
        util_buf_free(&m->cells[i].fix.out);
        util_buf_free(&m->cells[i].fix.err);
        util_buf_free(&m->cells[i].main.seen.saw);
        util_buf_free(&m->cells[i].fix.seen.saw);
    }
    for (i = 0; i < m->nprofiles; i++) {
        profile_free(m->profiles[i]);
    }
    free(m->cells);
    free(m->servers);
    free(m->profiles);
    free(m->profile_busy);
    if (m->workdir[0] != '\0') {
        matrix__remove_tree(m->workdir);
    }
    uv_loop_close(m->loop);
}

int
matrix_run(const matrix_options_t *o)
{
    matrix_t m;
    matrix_tally_t t;
    char err[1024] = "";
    size_t i;
    double wall;
    int rc = MATRIX_EXIT_OK;

    memset(&m, 0, sizeof m);
    m.o = o;
    m.loop = uv_default_loop();
    m.tty = isatty(2);
    signal(SIGPIPE, SIG_IGN);
    if (matrix__setup(&m, err, sizeof err) != 0) {
        fprintf(stderr, "sshmock matrix: %s\n", err);
        for (i = 0; i < m.nservers; i++) {
            server_stop(&m.servers[i]);
        }
        uv_run(m.loop, UV_RUN_DEFAULT);
        matrix__free(&m);
        return MATRIX_EXIT_USAGE;
    }
    if (!o->quiet) {
        fprintf(stderr, "sshmock matrix: %zu profiles x %zu clients, %d jobs, timeout %d s%s\n",
                o->nprofiles, o->nclients, o->jobs, o->timeout, o->fixes ? ", with fixes" : "");
    }
    uv_update_time(m.loop);
    m.started_ms = uv_now(m.loop);
    matrix_exec_schedule(&m);
    uv_run(m.loop, UV_RUN_DEFAULT);
    uv_update_time(m.loop);
    wall = (double)(uv_now(m.loop) - m.started_ms) / 1000.0;
    if (m.tty && !o->quiet) {
        fputs("\r\033[K", stderr);
    }

    matrix_report_terminal(&m, wall, stdout);
    matrix_report_files(&m, wall);
    matrix_tally(&m, &t);
    if (t.mismatches > 0 || t.fixes_bad > 0 || (o->strict && t.unchecked > 0)) {
        rc = MATRIX_EXIT_MISMATCH;
    } else if (t.skipped == m.ncells && m.ncells > 0) {
        rc = MATRIX_EXIT_SKIPPED;
    }
    matrix__free(&m);
    return rc;
}
