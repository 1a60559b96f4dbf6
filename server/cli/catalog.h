/*
 * catalog: the shipped profiles as a whole. Lists them, explains one to
 * the person who hit its error, and serves them all at once for a lab.
 */
#ifndef SSHMOCK_CATALOG_H
#define SSHMOCK_CATALOG_H

#include <stddef.h>
#include <stdio.h>

/* The profile directory: $SSHMOCK_PROFILE_DIR, else the one built in. */
const char *catalog_dir(void);

/* The *.conf files of a directory, sorted by name. Returns 0 or -1. */
int catalog_scan(const char *dir, char ***paths, size_t *n);
void catalog_paths_free(char **paths, size_t n);

/* A profile argument: an existing file, else a shipped profile's name. */
char *catalog_resolve(const char *arg);

int catalog_list(FILE *out);
int catalog_explain(const char *arg, FILE *out);

/* Serves every profile of the catalogue, each on its own port from
 * base_port up, until SIGINT/SIGTERM. */
int catalog_lab(const char *listen_addr, int base_port, const char *state_dir, int quiet,
                const char *log_json);

#endif /* SSHMOCK_CATALOG_H */
