/*
 * catalog: the shipped profiles as a whole. Lists them, explains one to
 * the person who hit its error, and serves them all at once for a lab.
 */
#ifndef SSHMOCK_CATALOG_H
#define SSHMOCK_CATALOG_H

#include <stddef.h>
#include <stdio.h>

/* The shipped profile directory (cli/paths.h says how it is found). */
const char *catalog_dir(void);

/* One profile found by name in the search path (cli/paths.h). */
typedef struct catalog_entry_s {
    char *path;
    char *name;            /* file name without ".conf" */
    char *dir;             /* the directory it was found in */
    const char *origin;    /* "shipped", "user", "SSHMOCK_PROFILE_PATH" */
} catalog_entry_t;

/* Every profile of every search directory, sorted by name; a name found in
 * an earlier directory hides the same name in later ones. */
int catalog_scan_all(catalog_entry_t **out, size_t *n);
void catalog_entries_free(catalog_entry_t *v, size_t n);

/* The *.conf files of a directory, sorted by name. Returns 0 or -1. */
int catalog_scan(const char *dir, char ***paths, size_t *n);
void catalog_paths_free(char **paths, size_t n);

/* A profile argument: an existing file, else a name looked for in the
 * search path (cli/paths.h). */
char *catalog_resolve(const char *arg);

int catalog_list(FILE *out);
/* What a profile plays, what each client does and prints there (its Said
 * lines; with `patterns`, also the Expect patterns), and the fixes. */
int catalog_explain(const char *arg, int patterns, FILE *out);

/* Serves every profile of the search path (catalog_scan_all), each on its
 * own port from base_port up in name order, until SIGINT/SIGTERM. */
int catalog_lab(const char *listen_addr, int base_port, const char *state_dir, int quiet,
                const char *log_json);

/* The port `sshmock lab` gives a profile (-1: no such profile). */
int catalog_lab_port(const char *name, int base_port);

#endif /* SSHMOCK_CATALOG_H */
