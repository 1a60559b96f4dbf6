/*
 * lookup: what the other modules ask of a loaded profile.
 */
#include "profile/internal.h"

#include <string.h>

const profile_account_t *
profile_account_find(const profile_t *p, const char *user)
{
    size_t i;

    if (p == NULL || user == NULL) {
        return NULL;
    }
    for (i = 0; i < p->naccounts; i++) {
        if (strcmp(p->accounts[i].name, user) == 0) {
            return &p->accounts[i];
        }
    }
    return NULL;
}

const profile_expect_t *
profile_expect_find(const profile_t *p, const char *client)
{
    size_t i;

    for (i = 0; i < p->nexpects; i++) {
        if (strcmp(p->expects[i].client, client) == 0) {
            return &p->expects[i];
        }
    }
    return NULL;
}

static const profile_client_opts_t *
profile__opts_find(const profile_client_opts_t *arr, size_t n, const char *client)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(arr[i].client, client) == 0) {
            return &arr[i];
        }
    }
    return NULL;
}

const profile_client_opts_t *
profile_client_options_find(const profile_t *p, const char *client)
{
    return profile__opts_find(p->client_options, p->nclient_options, client);
}

const profile_client_opts_t *
profile_client_fix_find(const profile_t *p, const char *client)
{
    return profile__opts_find(p->client_fixes, p->nclient_fixes, client);
}

/* The canned response for a command line (the default one when none matches). */
const profile_exec_t *
profile_exec_find(const profile_t *p, const char *command)
{
    size_t i;

    if (p == NULL) {
        return NULL;
    }
    if (command != NULL) {
        for (i = 0; i < p->nexecs; i++) {
            if (strcmp(p->execs[i].command, command) == 0) {
                return &p->execs[i];
            }
        }
    }
    return &p->default_exec;
}
