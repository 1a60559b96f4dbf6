/*
 * dial: the client side of the commands that connect to a server
 * (probe, capture): a HOST[:PORT] argument, and a TCP connect bounded in
 * time.
 */
#ifndef SSHMOCK_DIAL_H
#define SSHMOCK_DIAL_H

#include <stddef.h>

/* HOST, HOST:PORT, [V6]:PORT or a bare IPv6 address. default_port 0: the
 * port must be given. Returns 0, or -1 when arg is not such a target. */
int dial_target(const char *arg, int default_port, char *host, size_t hostlen, int *port);

/* A non-blocking connect to each address of host:port in turn, all within
 * timeout_ms. Returns the socket (still non-blocking), or -1 with *why set
 * (static text). */
int dial_tcp(const char *host, int port, int timeout_ms, const char **why);

#endif /* SSHMOCK_DIAL_H */
