#include "cli/dial.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int
dial_target(const char *arg, int default_port, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(arg, ':');
    const char *name = arg;
    size_t nlen = strlen(arg);
    char *end = NULL;
    long p = default_port;

    if (arg[0] == '[') { /* [v6addr]:port */
        const char *close_br = strchr(arg, ']');
        if (close_br == NULL) {
            return -1;
        }
        name = arg + 1;
        nlen = (size_t)(close_br - name);
        colon = close_br[1] == ':' ? close_br + 1 : NULL;
        if (colon == NULL && close_br[1] != '\0') {
            return -1;
        }
    } else if (colon != NULL && strchr(arg, ':') != colon) {
        colon = NULL; /* a bare IPv6 address */
    } else if (colon != NULL) {
        nlen = (size_t)(colon - arg);
    }
    if (colon != NULL) {
        p = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || *end != '\0' || p < 1 || p > 65535) {
            return -1;
        }
    }
    if (p < 1 || nlen == 0 || nlen >= hostlen) {
        return -1;
    }
    memcpy(host, name, nlen);
    host[nlen] = '\0';
    *port = (int)p;
    return 0;
}

static long
dial__ms_left(const struct timespec *end)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (end->tv_sec - now.tv_sec) * 1000L + (end->tv_nsec - now.tv_nsec) / 1000000L;
}

/* One address: 0 connected, else an errno value. */
static int
dial__one(int fd, const struct addrinfo *ai, const struct timespec *end)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    int err = 0;
    socklen_t len = sizeof err;
    long left;

    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        return 0;
    }
    if (errno != EINPROGRESS) {
        return errno;
    }
    left = dial__ms_left(end);
    if (left <= 0 || poll(&p, 1, (int)left) != 1) {
        return ETIMEDOUT;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        return errno;
    }
    return err;
}

int
dial_tcp(const char *host, int port, int timeout_ms, const char **why)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    struct addrinfo *ai = NULL;
    struct timespec end;
    char portstr[16];
    int err = 0;
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof portstr, "%d", port);
    rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        *why = gai_strerror(rc);
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += timeout_ms / 1000;
    end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        err = dial__one(fd, ai, &end);
        if (err == 0) {
            freeaddrinfo(res);
            return fd;
        }
        close(fd);
    }
    freeaddrinfo(res);
    *why = strerror(err != 0 ? err : EHOSTUNREACH);
    return -1;
}
