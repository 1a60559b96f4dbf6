/*
 * paths: where the command line finds its files, so that the same binary
 * works from its build directory, from an installed tree under any prefix,
 * and from a tree that was moved after installing.
 *
 * Shipped profiles: $SSHMOCK_PROFILE_DIR, else PREFIX/share/sshmock/profiles
 * found relative to the running binary, else the source tree's profiles/
 * (a binary run from its build directory). Client drivers likewise, with
 * $SSHMOCK_DRIVER_DIR and PREFIX/libexec/sshmock/drivers.
 *
 * A profile named without a path is looked for in every directory of
 * $SSHMOCK_PROFILE_PATH (colon-separated, in order), then in the user's
 * $XDG_CONFIG_HOME/sshmock/profiles (~/.config/sshmock/profiles), then
 * among the shipped ones: the first match wins.
 */
#ifndef SSHMOCK_PATHS_H
#define SSHMOCK_PATHS_H

#include <stddef.h>

typedef enum {
    PATHS_FROM_PATH,    /* a directory of $SSHMOCK_PROFILE_PATH */
    PATHS_FROM_USER,    /* ~/.config/sshmock/profiles */
    PATHS_FROM_SHIPPED  /* the catalogue that comes with sshmock */
} paths_origin_t;

typedef struct paths_dir_s {
    char *dir;
    paths_origin_t origin;
} paths_dir_t;

/* The shipped profile directory and the driver directory (static storage,
 * computed once). */
const char *paths_shipped_profiles(void);
const char *paths_drivers(void);

/* Every directory a profile name is looked for in, in search order
 * (directories that do not exist included; callers skip them). */
int paths_profile_dirs(paths_dir_t **out, size_t *n);
void paths_profile_dirs_free(paths_dir_t *dirs, size_t n);

const char *paths_origin_name(paths_origin_t o);

#endif /* SSHMOCK_PATHS_H */
