/*
 * Embedding sshmock in a C test suite: start a mock server for a profile on
 * an ephemeral port, talk to it, stop it.
 *
 *   cc embed.c $(pkg-config --cflags --libs sshmock) -o embed
 *   ./embed /usr/share/sshmock/profiles/legacy-kex-group1.conf
 *
 * A real test would point the SSH client under test at 127.0.0.1:PORT; this
 * example reads the server's identification line over TCP and prints it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sshmock/sshmock.h>

static int
read_identification(int port, char *line, size_t len)
{
    struct sockaddr_in sa;
    size_t have = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    /* The identification is the first line (the server speaks first). */
    while (have + 1 < len) {
        ssize_t n = read(fd, line + have, 1);
        if (n <= 0) {
            break;
        }
        if (line[have] == '\n') {
            break;
        }
        if (line[have] != '\r') {
            have++;
        }
    }
    line[have] = '\0';
    close(fd);
    return have > 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
    sshmock_config_t cfg = SSHMOCK_CONFIG_INIT; /* 127.0.0.1, a free port, quiet */
    sshmock_t *srv = NULL;
    char err[512];
    char ident[256];
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PROFILE.conf\n", argv[0]);
        return 2;
    }
    rc = sshmock_start(argv[1], &cfg, &srv, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "sshmock_start: %s (%s)\n", err, sshmock_err_name(rc));
        return 1;
    }
    printf("serving %s on 127.0.0.1:%d\n", argv[1], sshmock_port(srv));
    rc = read_identification(sshmock_port(srv), ident, sizeof ident);
    if (rc == 0) {
        printf("server identification: %s\n", ident);
    } else {
        fprintf(stderr, "no identification from the server\n");
    }
    sshmock_stop(srv);
    return rc == 0 ? 0 : 1;
}
