#include "cli/catalog.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "profile/profile.h"
#include "net/server.h"
#include "base/util.h"

#ifndef SSHMOCK_PROFILE_DIR
#define SSHMOCK_PROFILE_DIR "profiles"
#endif

const char *
catalog_dir(void)
{
    const char *dir = getenv("SSHMOCK_PROFILE_DIR");

    return dir != NULL && dir[0] != '\0' ? dir : SSHMOCK_PROFILE_DIR;
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
    util_buf_t b = UTIL_BUF_INIT;
    size_t len = strlen(arg);

    if (access(arg, F_OK) == 0 || strchr(arg, '/') != NULL) {
        return strdup(arg);
    }
    util_buf_printf(&b, "%s/%s%s", catalog_dir(), arg,
                    len > 5 && strcmp(arg + len - 5, ".conf") == 0 ? "" : ".conf");
    if (b.data != NULL && access(b.data, F_OK) == 0) {
        return b.data;
    }
    util_buf_free(&b);
    return strdup(arg); /* profile_load names it in its error */
}

/* Loads quietly: list, explain and lab are about the catalogue, not its lint. */
static int
catalog__load(const char *path, profile_t **p, char *err, size_t errlen)
{
    return profile_load_warn(path, NULL, p, err, errlen);
}

int
catalog_list(FILE *out)
{
    char **paths = NULL;
    size_t n = 0;
    size_t i;
    int rc = 0;

    if (catalog_scan(catalog_dir(), &paths, &n) != 0) {
        fprintf(stderr, "sshmock: cannot read the profile directory %s\n", catalog_dir());
        return 1;
    }
    for (i = 0; i < n; i++) {
        profile_t *p = NULL;
        char err[1024];
        if (catalog__load(paths[i], &p, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            rc = 2;
            continue;
        }
        fprintf(out, "%-28s %s\n", p->name, p->description);
        profile_free(p);
    }
    catalog_paths_free(paths, n);
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

int
catalog_explain(const char *arg, FILE *out)
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
            const profile_expect_t *e = &p->expects[i];
            fprintf(out, "  %-9s %s%s%s%s%s\n", e->client, e->connect ? "connects" : "fails at ",
                    e->connect ? "" : e->stage, e->pattern != NULL ? ": " : "",
                    e->pattern != NULL ? e->pattern : "", "");
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
    char **paths = NULL;
    size_t n = 0;
    size_t started = 0;
    size_t i;
    int rc = 0;

    if (catalog_scan(catalog_dir(), &paths, &n) != 0 || n == 0) {
        fprintf(stderr, "sshmock lab: no profiles in %s\n", catalog_dir());
        return 2;
    }
    servers = calloc(n, sizeof *servers);
    if (servers == NULL) {
        catalog_paths_free(paths, n);
        return 1;
    }
    cfg.state_dir = state_dir;
    cfg.quiet = quiet;
    cfg.log_json_path = log_json;
    for (i = 0; i < n; i++) {
        char err[1024];
        profile_t *p = NULL;
        if (catalog__load(paths[i], &p, err, sizeof err) != 0 ||
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
    catalog_paths_free(paths, n);
    uv_loop_close(loop);
    return rc;
}
