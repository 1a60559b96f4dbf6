#include "profile/clients.h"

#include <stdio.h>
#include <string.h>

#include "base/util.h"

/* Order is the matrix's column order. */
const profile_client_t profile_clients[] = {
    { "openssh", "ssh", 1 },
    { "plink", "plink", 1 },
    { "dbclient", "dbclient", 1 },
    { "paramiko", NULL, 0 },
    { "asyncssh", NULL, 0 },
    { "ssh2", NULL, 0 },
    { "libssh", NULL, 0 },
};
const size_t profile_nclients = UTIL_ARRAY_SIZE(profile_clients);

const profile_client_t *
profile_client_find(const char *name)
{
    size_t i;

    for (i = 0; i < profile_nclients; i++) {
        if (strcmp(profile_clients[i].name, name) == 0) {
            return &profile_clients[i];
        }
    }
    return NULL;
}

char *
profile_client_names(char *buf, size_t len, int customizable_only)
{
    size_t used = 0;
    size_t i;

    if (len == 0) {
        return buf;
    }
    buf[0] = '\0';
    for (i = 0; i < profile_nclients; i++) {
        int n;
        if (customizable_only && !profile_clients[i].customizable) {
            continue;
        }
        n = snprintf(buf + used, len - used, "%s%s", used > 0 ? ", " : "",
                     profile_clients[i].name);
        if (n < 0 || (size_t)n >= len - used) {
            break; /* truncated: buf stays a valid string */
        }
        used += (size_t)n;
    }
    return buf;
}
