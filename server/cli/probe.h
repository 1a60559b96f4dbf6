/*
 * probe: is an SSH server answering at ADDR:PORT? Connects, reads the
 * server's identification line (RFC 4253 4.2: lines before it are allowed)
 * and prints it. For health checks of a container or a CI service, where
 * no SSH client may be installed.
 */
#ifndef SSHMOCK_PROBE_H
#define SSHMOCK_PROBE_H

/* "sshmock probe ADDR:PORT [--timeout SECONDS]". Exit 0 when an "SSH-"
 * line came, 1 when it did not (refused, closed, timed out, not SSH),
 * 2 for bad usage. */
int probe_main(int argc, char **argv);

#endif /* SSHMOCK_PROBE_H */
