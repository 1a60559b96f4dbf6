#include "cli/paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"

/* Set by CMake: the source tree's directories (for a binary run from its
 * build directory) and the install layout relative to the binary's own
 * directory (cmake/install.cmake). */
#ifndef SSHMOCK_PROFILE_DIR
#define SSHMOCK_PROFILE_DIR "profiles"
#endif
#ifndef SSHMOCK_DRIVER_DIR
#define SSHMOCK_DRIVER_DIR "client-tests/drivers"
#endif
#ifndef SSHMOCK_REL_PROFILE_DIR
#define SSHMOCK_REL_PROFILE_DIR "../share/sshmock/profiles"
#endif
#ifndef SSHMOCK_REL_DRIVER_DIR
#define SSHMOCK_REL_DRIVER_DIR "../libexec/sshmock/drivers"
#endif

static int
paths__is_dir(const char *p)
{
    struct stat st;

    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* env, else REL next to the running binary, else the build-time fallback;
 * written into buf once. */
static const char *
paths__find(char *buf, size_t len, const char *env, const char *rel, const char *fallback)
{
    const char *v = getenv(env);
    char exe[PATH_MAX];
    ssize_t n;

    if (buf[0] != '\0') {
        return buf;
    }
    if (v != NULL && v[0] != '\0') {
        util_strlcpy(buf, v, len);
        return buf;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        char *slash = NULL;
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash != NULL) {
            int w;
            *slash = '\0';
            char real[PATH_MAX];
            w = snprintf(buf, len, "%s/%s", exe, rel);
            if (w > 0 && (size_t)w < len && paths__is_dir(buf)) {
                /* "/opt/x/share/...", not "/opt/x/bin/../share/...": it is shown. */
                if (realpath(buf, real) != NULL) {
                    util_strlcpy(buf, real, len);
                }
                return buf;
            }
        }
    }
    util_strlcpy(buf, fallback, len);
    return buf;
}

const char *
paths_shipped_profiles(void)
{
    static char dir[PATH_MAX];

    return paths__find(dir, sizeof dir, "SSHMOCK_PROFILE_DIR", SSHMOCK_REL_PROFILE_DIR,
                       SSHMOCK_PROFILE_DIR);
}

const char *
paths_drivers(void)
{
    static char dir[PATH_MAX];

    return paths__find(dir, sizeof dir, "SSHMOCK_DRIVER_DIR", SSHMOCK_REL_DRIVER_DIR,
                       SSHMOCK_DRIVER_DIR);
}

const char *
paths_origin_name(paths_origin_t o)
{
    switch (o) {
    case PATHS_FROM_PATH: return "SSHMOCK_PROFILE_PATH";
    case PATHS_FROM_USER: return "user";
    case PATHS_FROM_SHIPPED: return "shipped";
    }
    return "?";
}

static int
paths__add(paths_dir_t **v, size_t *n, char *dir, paths_origin_t origin)
{
    paths_dir_t *grown = NULL;

    if (dir == NULL) {
        return -1;
    }
    grown = realloc(*v, (*n + 1) * sizeof **v);
    if (grown == NULL) {
        free(dir);
        return -1;
    }
    *v = grown;
    (*v)[*n].dir = dir;
    (*v)[*n].origin = origin;
    (*n)++;
    return 0;
}

int
paths_profile_dirs(paths_dir_t **out, size_t *n)
{
    const char *path = getenv("SSHMOCK_PROFILE_PATH");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    util_buf_t user = UTIL_BUF_INIT;
    int rc = 0;

    *out = NULL;
    *n = 0;
    while (path != NULL && *path != '\0') {
        const char *colon = strchr(path, ':');
        size_t len = colon != NULL ? (size_t)(colon - path) : strlen(path);
        if (len > 0) {
            rc |= paths__add(out, n, util_strndup(path, len), PATHS_FROM_PATH);
        }
        path = colon != NULL ? colon + 1 : NULL;
    }
    if (xdg != NULL && xdg[0] == '/') {
        util_buf_printf(&user, "%s/sshmock/profiles", xdg);
    } else if (home != NULL && home[0] == '/') {
        util_buf_printf(&user, "%s/.config/sshmock/profiles", home);
    }
    if (user.data != NULL) {
        rc |= paths__add(out, n, user.data, PATHS_FROM_USER);
    }
    rc |= paths__add(out, n, util_strdup(paths_shipped_profiles()), PATHS_FROM_SHIPPED);
    return rc != 0 ? -1 : 0;
}

void
paths_profile_dirs_free(paths_dir_t *dirs, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(dirs[i].dir);
    }
    free(dirs);
}
