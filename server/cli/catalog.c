#include "cli/catalog.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/util.h"
#include "cli/paths.h"
#include "net/server.h"
#include "profile/profile.h"

const char *
catalog_dir(void)
{
    return paths_shipped_profiles();
}

static int
catalog__cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
catalog_scan(const char *dir, char ***paths, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e = NULL;
    char **v = NULL;
    size_t count = 0;

    *paths = NULL;
    *n = 0;
    if (d == NULL) {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char **grown = NULL;
        if (len < 6 || strcmp(e->d_name + len - 5, ".conf") != 0 || e->d_name[0] == '.') {
            continue;
        }
        grown = realloc(v, (count + 1) * sizeof *v);
        if (grown == NULL) {
            break;
        }
        v = grown;
        v[count] = util_path_join(dir, e->d_name);
        if (v[count] != NULL) {
            count++;
        }
    }
    closedir(d);
    if (count > 1) {
        qsort(v, count, sizeof *v, catalog__cmp);
    }
    *paths = v;
    *n = count;
    return 0;
}

void
catalog_paths_free(char **paths, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(paths[i]);
    }
    free(paths);
}

char *
catalog_resolve(const char *arg)
{
    paths_dir_t *dirs = NULL;
    size_t ndirs = 0;
    size_t len = strlen(arg);
    size_t i;

    if (access(arg, F_OK) == 0 || strchr(arg, '/') != NULL) {
        return strdup(arg);
    }
    paths_profile_dirs(&dirs, &ndirs);
    for (i = 0; i < ndirs; i++) {
        util_buf_t b = UTIL_BUF_INIT;
        util_buf_printf(&b, "%s/%s%s", dirs[i].dir, arg,
                        len > 5 && strcmp(arg + len - 5, ".conf") == 0 ? "" : ".conf");
        if (b.data != NULL && access(b.data, F_OK) == 0) {
            paths_profile_dirs_free(dirs, ndirs);
            return b.data;
        }
        util_buf_free(&b);
    }
    paths_profile_dirs_free(dirs, ndirs);
    return strdup(arg); /* profile_load names it in its error */
}

static int
catalog__entry_cmp(const void *a, const void *b)
{
    const catalog_entry_t *x = a;
    const catalog_entry_t *y = b;

    return strcmp(x->name, y->name);
}

int
catalog_scan_all(catalog_entry_t **out, size_t *n)
{
    paths_dir_t *dirs = NULL;
    size_t ndirs = 0;
    catalog_entry_t *v = NULL;
    size_t count = 0;
    size_t i;
    size_t j;
    size_t k;

    *out = NULL;
    *n = 0;
    if (paths_profile_dirs(&dirs, &ndirs) != 0) {
        paths_profile_dirs_free(dirs, ndirs);
        return -1;
    }
    for (i = 0; i < ndirs; i++) {
        char **paths = NULL;
        size_t np = 0;
        if (catalog_scan(dirs[i].dir, &paths, &np) != 0) {
            continue; /* a directory that does not exist has no profiles */
        }
        for (j = 0; j < np; j++) {
            const char *base = strrchr(paths[j], '/') != NULL ? strrchr(paths[j], '/') + 1 : paths[j];
            size_t nlen = strlen(base) - 5; /* without ".conf" */
            catalog_entry_t *grown = NULL;
            int shadowed = 0;
            for (k = 0; k < count; k++) {
                shadowed |= strlen(v[k].name) == nlen && strncmp(v[k].name, base, nlen) == 0;
            }
            if (shadowed) {
                continue; /* an earlier directory has a profile of that name */
            }
            grown = realloc(v, (count + 1) * sizeof *v);
            if (grown == NULL) {
                break;
            }
            v = grown;
            v[count].path = paths[j];
            paths[j] = NULL;
            v[count].name = util_strndup(base, nlen);
            v[count].dir = util_strdup(dirs[i].dir);
            v[count].origin = paths_origin_name(dirs[i].origin);
            count++;
        }
        catalog_paths_free(paths, np);
    }
    paths_profile_dirs_free(dirs, ndirs);
    if (count > 1) {
        qsort(v, count, sizeof *v, catalog__entry_cmp);
    }
    *out = v;
    *n = count;
    return 0;
}

void
catalog_entries_free(catalog_entry_t *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(v[i].path);
        free(v[i].name);
        free(v[i].dir);
    }
    free(v);
}

/* Loads quietly: list, explain and lab are about the catalogue, not its lint. */
static int
catalog__load(const char *path, profile_t **p, char *err, size_t errlen)
{
    return profile_load_warn(path, NULL, p, err, errlen);
}

/* One group per directory, in search order, each under a "# DIR (origin)"
 * line: where each profile comes from, and which one a name resolves to. */
int
catalog_list(FILE *out)
{
    catalog_entry_t *v = NULL;
    size_t n = 0;
    const char *shown = NULL;
    paths_dir_t *dirs = NULL;
    size_t ndirs = 0;
    size_t d;
    size_t i;
    int rc = 0;

    if (catalog_scan_all(&v, &n) != 0 || n == 0) {
        fprintf(stderr, "sshmock: no profiles found (shipped ones expected in %s)\n",
                catalog_dir());
        catalog_entries_free(v, n);
        return 1;
    }
    paths_profile_dirs(&dirs, &ndirs);
    for (d = 0; d < ndirs; d++) {
        for (i = 0; i < n; i++) {
            profile_t *p = NULL;
            char err[1024];
            if (strcmp(v[i].dir, dirs[d].dir) != 0) {
                continue;
            }
            if (shown != dirs[d].dir) {
                fprintf(out, "%s# %s (%s)\n", shown != NULL ? "\n" : "", dirs[d].dir,
                        v[i].origin);
                shown = dirs[d].dir;
            }
            if (catalog__load(v[i].path, &p, err, sizeof err) != 0) {
                fprintf(stderr, "%s\n", err);
                rc = 2;
                continue;
            }
            fprintf(out, "%-28s %s\n", v[i].name, p->description);
            profile_free(p);
        }
    }
    paths_profile_dirs_free(dirs, ndirs);
    catalog_entries_free(v, n);
    return rc;
}

static void
catalog__paragraph(FILE *out, const char *title, const char *text)
{
    const char *line = text;

    if (text == NULL || text[0] == '\0') {
        return;
    }
    fprintf(out, "%s\n", title);
    while (line != NULL && *line != '\0') {
        const char *nl = strchr(line, '\n');
        int len = nl != NULL ? (int)(nl - line) : (int)strlen(line);
        fprintf(out, "  %.*s\n", len, line);
        line = nl != NULL ? nl + 1 : NULL;
    }
    fputc('\n', out);
}

/*
 * One client's line of "What each client does": connects or fails at a
 * stage, then the client's own words (Said), which a reader recognises
 * from their terminal. The pattern the matrix checks is shown on request,
 * or in place of the words when a profile has recorded none.
 */
static void
catalog__explain_client(FILE *out, const profile_t *p, const profile_expect_t *e,
                        int patterns)
{
    const profile_said_t *said = profile_said_find(p, e->client);
    size_t j;

    fprintf(out, "  %-9s %s%s\n", e->client, e->connect ? "connects" : "fails at ",
            e->connect ? "" : e->stage);
    for (j = 0; said != NULL && j < said->nlines; j++) {
        fprintf(out, "  %-9s   %s\n", "", said->lines[j]);
    }
    if (e->pattern != NULL && (patterns || said == NULL)) {
        fprintf(out, "  %-9s   (output matching: %s)\n", "", e->pattern);
    }
}

int
catalog_explain(const char *arg, int patterns, FILE *out)
{
    char *path = catalog_resolve(arg);
    profile_t *p = NULL;
    char err[1024];
    size_t i;
    size_t j;

    if (catalog__load(path, &p, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        free(path);
        return 2;
    }
    free(path);
    fprintf(out, "%s: %s\n\n", p->name, p->description);
    catalog__paragraph(out, "What is going on", p->explanation);
    if (p->nexpects > 0) {
        fprintf(out, "What each client does (measured with the real clients)\n");
        for (i = 0; i < p->nexpects; i++) {
            catalog__explain_client(out, p, &p->expects[i], patterns);
        }
        fputc('\n', out);
    }
    catalog__paragraph(out, "Fix on the client side", p->fix_client);
    if (p->nclient_fixes > 0) {
        fprintf(out, "Per client (what sshmock matrix --fixes tries)\n");
        for (i = 0; i < p->nclient_fixes; i++) {
            fprintf(out, "  %-9s", p->client_fixes[i].client);
            for (j = 0; j < p->client_fixes[i].nopts; j++) {
                fprintf(out, " %s", p->client_fixes[i].opts[j]);
            }
            fputc('\n', out);
        }
        fputc('\n', out);
    }
    catalog__paragraph(out, "Fix on the server side", p->fix_server);
    fprintf(out, "Play it: sshmock serve %s\n", p->name);
    profile_free(p);
    return 0;
}

int
catalog_lab(const char *listen_addr, int base_port, const char *state_dir, int quiet,
            const char *log_json)
{
    uv_loop_t *loop = uv_default_loop();
    sshmock_config_t cfg = SSHMOCK_CONFIG_INIT;
    server_t *servers = NULL;
    catalog_entry_t *v = NULL;
    size_t n = 0;
    size_t started = 0;
    size_t i;
    int rc = 0;

    if (catalog_scan_all(&v, &n) != 0 || n == 0) {
        fprintf(stderr, "sshmock lab: no profiles (shipped ones expected in %s)\n", catalog_dir());
        catalog_entries_free(v, n);
        return 2;
    }
    servers = calloc(n, sizeof *servers);
    if (servers == NULL) {
        catalog_entries_free(v, n);
        return 1;
    }
    cfg.state_dir = state_dir;
    cfg.quiet = quiet;
    cfg.log_json_path = log_json;
    for (i = 0; i < n; i++) {
        char err[1024];
        profile_t *p = NULL;
        if (catalog__load(v[i].path, &p, err, sizeof err) != 0 ||
            server_init(&servers[i], loop, p, &cfg, err, sizeof err) != 0) {
            fprintf(stderr, "sshmock lab: %s\n", err);
            rc = 2;
            break;
        }
        started++;
        if (server_listen(&servers[i], listen_addr != NULL ? listen_addr : "127.0.0.1",
                          base_port > 0 ? base_port + (int)i : 0, err, sizeof err) != 0) {
            fprintf(stderr, "sshmock lab: %s\n", err);
            rc = 1;
            break;
        }
        server_handle_signals(&servers[i]);
        server_warn_exposed(&servers[i], i == 0); /* one stderr line for the lab */
    }
    if (rc == 0) {
        printf("%-6s %-28s %s\n", "PORT", "PROFILE", "DESCRIPTION");
        for (i = 0; i < n; i++) {
            printf("%-6d %-28s %s\n", servers[i].port, servers[i].profile->name,
                   servers[i].profile->description);
        }
        printf("lab ready: %zu profiles on %s; try: ssh -p PORT demo@%s (password demo)\n", n,
               servers[0].addr, servers[0].addr);
        fflush(stdout);
    } else {
        for (i = 0; i < started; i++) {
            server_stop(&servers[i]);
        }
    }
    uv_run(loop, UV_RUN_DEFAULT);
    for (i = 0; i < started; i++) {
        server_free(&servers[i]);
    }
    free(servers);
    catalog_entries_free(v, n);
    uv_loop_close(loop);
    return rc;
}

int
catalog_lab_port(const char *name, int base_port)
{
    catalog_entry_t *v = NULL;
    size_t n = 0;
    size_t i;
    int port = -1;

    if (catalog_scan_all(&v, &n) == 0) {
        for (i = 0; i < n; i++) {
            if (strcmp(v[i].name, name) == 0) {
                port = base_port + (int)i;
            }
        }
    }
    catalog_entries_free(v, n);
    return port;
}
