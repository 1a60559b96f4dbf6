/*
 * clients: the one list of client names the client matrix knows.
 *
 * Profiles name clients in Expect, ClientOptions and ClientFix; the matrix
 * runs them through client-tests/drivers/NAME; a --custom client takes one
 * of them as its model. Every place that names, checks or lists clients
 * goes through here, so adding a client is one row.
 */
#ifndef SSHMOCK_PROFILE_CLIENTS_H
#define SSHMOCK_PROFILE_CLIENTS_H

#include <stddef.h>

typedef struct profile_client_s {
    const char *name;   /* as profiles and --client name it: "openssh" */
    const char *program;/* what a --custom command starting with it models, or NULL */
    int customizable;   /* 1: a --custom command may take it as its model */
} profile_client_t;

extern const profile_client_t profile_clients[];
extern const size_t profile_nclients;

/* The row for a name, or NULL. */
const profile_client_t *profile_client_find(const char *name);

/* Writes "openssh, plink, dbclient, ..." (only the ones a --custom command
 * may model when customizable_only is 1) into buf, for messages and help
 * text, and returns buf. */
char *profile_client_names(char *buf, size_t len, int customizable_only);

#endif /* SSHMOCK_PROFILE_CLIENTS_H */
