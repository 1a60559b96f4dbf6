#include "cli/probe.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "cli/dial.h"

#define PROBE_USAGE                                                          \
    "Usage: sshmock probe ADDR:PORT [--timeout SECONDS]\n"                   \
    "\n"                                                                     \
    "Connects to ADDR:PORT (IPv6 in brackets: [::1]:2222), reads the\n"      \
    "server's SSH identification line and prints it. Nothing is sent but\n"  \
    "the TCP handshake and a close. For health checks.\n"                    \
    "\n"                                                                     \
    "  -t, --timeout SECONDS  give up after this long (default 3)\n"         \
    "\n"                                                                     \
    "Exit status: 0 an identification came, 1 it did not, 2 bad usage.\n"

/* RFC 4253: an identification line is at most 255 bytes; servers may send
 * other lines first. Reading stops after this many bytes in all. */
#define PROBE_MAX_BYTES 8192

static long
probe__ms_left(const struct timespec *end)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (end->tv_sec - now.tv_sec) * 1000L + (end->tv_nsec - now.tv_nsec) / 1000000L;
}

static int
probe__run(const char *target, int timeout_s)
{
    char host[256];
    int port = 0;
    const char *why = NULL;
    char buf[PROBE_MAX_BYTES + 1];
    size_t have = 0;
    size_t start = 0;   /* the first byte of the line not yet seen whole */
    struct timespec end;
    int fd;

    if (dial_target(target, 0, host, sizeof host, &port) != 0) {
        fprintf(stderr, "sshmock probe: '%s' is not ADDR:PORT\n", target);
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += timeout_s;
    fd = dial_tcp(host, port, timeout_s * 1000, &why);
    if (fd < 0) {
        fprintf(stderr, "sshmock probe: %s: cannot connect: %s\n", target, why);
        return 1;
    }
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char *line = NULL;
        char *nl = NULL;
        ssize_t n;
        long left = probe__ms_left(&end);

        if (left <= 0 || poll(&p, 1, (int)left) != 1) {
            fprintf(stderr, "sshmock probe: %s: no identification within %d s\n", target, timeout_s);
            break;
        }
        n = read(fd, buf + have, PROBE_MAX_BYTES - have);
        if (n <= 0) {
            fprintf(stderr, "sshmock probe: %s: closed before an identification%s%s\n", target,
                    n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
            break;
        }
        have += (size_t)n;
        buf[have] = '\0';
        /* Whole lines only; the identification is the first "SSH-" line. */
        line = buf + start;
        while ((nl = memchr(line, '\n', have - (size_t)(line - buf))) != NULL) {
            *nl = '\0';
            if (strncmp(line, "SSH-", 4) == 0) {
                size_t len = strlen(line);
                if (len > 0 && line[len - 1] == '\r') {
                    line[len - 1] = '\0';
                }
                printf("%s\n", line);
                close(fd);
                return 0;
            }
            line = nl + 1;
        }
        start = (size_t)(line - buf);
        if (have == PROBE_MAX_BYTES) {
            fprintf(stderr, "sshmock probe: %s: %d bytes without an identification\n", target,
                    PROBE_MAX_BYTES);
            break;
        }
    }
    close(fd);
    return 1;
}

int
probe_main(int argc, char **argv)
{
    const char *target = NULL;
    int timeout_s = 3;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(PROBE_USAGE, stdout);
            return 0;
        } else if ((strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--timeout") == 0) &&
                   i + 1 < argc) {
            char *endp = NULL;
            long v = strtol(argv[++i], &endp, 10);
            if (endp == argv[i] || *endp != '\0' || v < 1 || v > 3600) {
                fprintf(stderr, "sshmock probe: --timeout %s: not a number of seconds (1..3600)\n",
                        argv[i]);
                return 2;
            }
            timeout_s = (int)v;
        } else if (argv[i][0] != '-' && target == NULL) {
            target = argv[i];
        } else {
            fputs(PROBE_USAGE, stderr);
            return 2;
        }
    }
    if (target == NULL) {
        fputs(PROBE_USAGE, stderr);
        return 2;
    }
    return probe__run(target, timeout_s);
}
