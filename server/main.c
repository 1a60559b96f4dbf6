/*
 * sshmock command line: serve a profile, check a profile.
 *
 * Exit status: 0 success, 1 runtime failure (cannot listen, ...),
 * 2 usage or profile error (nothing is served).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sshmock/sshmock.h>

#include "profile.h"
#include "server.h"
#include "util.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static const char main__usage[] =
    "sshmock " SSHMOCK_VERSION " - a mock SSH server that plays how real SSH servers\n"
    "look and fail, so that SSH clients and their configurations can be tested.\n"
    "\n"
    "Usage:\n"
    "  sshmock serve [PROFILE] [options]   serve a profile (default: modern)\n"
    "  sshmock check PROFILE               validate a profile and print it, like sshd -T\n"
    "  sshmock --help | --version\n"
    "\n"
    "PROFILE is a file, or the name of a shipped profile (for example\n"
    "\"legacy-kex-group1\" for profiles/legacy-kex-group1.conf).\n"
    "\n"
    "Run \"sshmock serve --help\" for the server's options. The profile language is\n"
    "described in docs/profile-reference.md.\n";

static const char main__serve_usage[] =
    "Usage: sshmock serve [PROFILE] [options]\n"
    "\n"
    "Serves PROFILE (a file or a shipped profile's name; default: modern) until\n"
    "SIGINT or SIGTERM. When it is ready it prints one line on stdout:\n"
    "    listening on ADDR:PORT\n"
    "Events (connections, client identification, algorithms, auth, channels,\n"
    "close) go to stderr, one line each.\n"
    "\n"
    "Options:\n"
    "  -l, --listen ADDR     address to listen on (default: the profile's\n"
    "                        ListenAddress, else 127.0.0.1)\n"
    "  -p, --port N          port (default: the profile's Port, else 2222;\n"
    "                        0 picks a free port)\n"
    "  -j, --log-json FILE   also write events as JSON Lines to FILE (appended)\n"
    "  -s, --state-dir DIR   where generated host keys are kept (default:\n"
    "                        $SSHMOCK_STATE_DIR, $XDG_STATE_HOME/sshmock or\n"
    "                        ~/.local/state/sshmock)\n"
    "  -q, --quiet           no event lines on stderr\n"
    "      --log-passwords   include the passwords clients try in the log\n"
    "  -h, --help            this help\n"
    "\n"
    "Exit status: 0 after a clean stop, 1 if it cannot serve, 2 for a bad\n"
    "profile or bad usage.\n";

static const char main__check_usage[] =
    "Usage: sshmock check PROFILE\n"
    "\n"
    "Validates PROFILE and prints the effective profile, every setting with\n"
    "its resolved value (defaults included), like sshd -T. Errors are printed\n"
    "as FILE:LINE: message, and the exit status is 2.\n";

/* A profile argument: an existing file, else a shipped profile's name. */
static char *
main__resolve_profile(const char *arg)
{
    const char *dir = getenv("SSHMOCK_PROFILE_DIR");
    util_buf_t b = UTIL_BUF_INIT;

    if (access(arg, F_OK) == 0 || strchr(arg, '/') != NULL) {
        return strdup(arg);
    }
    if (dir == NULL || dir[0] == '\0') {
        dir = SSHMOCK_PROFILE_DIR;
    }
    util_buf_printf(&b, "%s/%s%s", dir, arg,
                    strlen(arg) > 5 && strcmp(arg + strlen(arg) - 5, ".conf") == 0 ? "" : ".conf");
    if (b.data != NULL && access(b.data, F_OK) == 0) {
        return b.data;
    }
    util_buf_free(&b);
    return strdup(arg); /* profile_load names it in its error */
}

static int
main__check(int argc, char **argv)
{
    char err[1024] = "";
    profile_t *p = NULL;
    char *path = NULL;

    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(main__check_usage, stdout);
        return 0;
    }
    if (argc != 2) {
        fputs(main__check_usage, stderr);
        return EXIT_USAGE;
    }
    path = main__resolve_profile(argv[1]);
    if (profile_load(path, &p, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        free(path);
        return EXIT_USAGE;
    }
    profile_print(p, stdout);
    profile_free(p);
    free(path);
    return 0;
}

static int
main__parse_port(const char *s, int *port)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < 0 || v > 65535) {
        return -1;
    }
    *port = (int)v;
    return 0;
}

static int
main__serve(int argc, char **argv)
{
    static const struct option opts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "port", required_argument, NULL, 'p' },
        { "log-json", required_argument, NULL, 'j' },
        { "state-dir", required_argument, NULL, 's' },
        { "quiet", no_argument, NULL, 'q' },
        { "log-passwords", no_argument, NULL, 'P' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    sshmock_config_t cfg = SSHMOCK_CONFIG_INIT;
    char err[1024] = "";
    profile_t *p = NULL;
    server_t srv;
    char *path = NULL;
    uv_loop_t *loop = uv_default_loop();
    int opt;
    int rc;

    cfg.port = -1;
    cfg.quiet = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "l:p:j:s:qh", opts, NULL)) != -1) {
        switch (opt) {
        case 'l': cfg.listen_addr = optarg; break;
        case 'p':
            if (main__parse_port(optarg, &cfg.port) != 0) {
                fprintf(stderr, "sshmock serve: --port %s: not a port number (0-65535)\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'j': cfg.log_json_path = optarg; break;
        case 's': cfg.state_dir = optarg; break;
        case 'q': cfg.quiet = 1; break;
        case 'P': cfg.log_passwords = 1; break;
        case 'h': fputs(main__serve_usage, stdout); return 0;
        default: fputs(main__serve_usage, stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "sshmock serve: one profile at a time (got %d)\n", argc - optind);
        return EXIT_USAGE;
    }
    path = main__resolve_profile(optind < argc ? argv[optind] : "modern");
    if (profile_load(path, &p, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        free(path);
        return EXIT_USAGE;
    }
    free(path);
    rc = server_init(&srv, loop, p, &cfg, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "sshmock: %s\n", err);
        return rc == SSHMOCK_EPROFILE || rc == SSHMOCK_EHOSTKEY ? EXIT_USAGE : EXIT_RUNTIME;
    }
    rc = server_listen(&srv, cfg.listen_addr, cfg.port, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "sshmock: %s\n", err);
        server_stop(&srv);
        uv_run(loop, UV_RUN_DEFAULT);
        server_free(&srv);
        uv_loop_close(loop);
        return rc == SSHMOCK_EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
    }
    server_handle_signals(&srv);
    printf("listening on %s:%d\n", srv.addr, srv.port);
    fflush(stdout);

    uv_run(loop, UV_RUN_DEFAULT);
    server_free(&srv);
    if (uv_loop_close(loop) != 0) {
        fprintf(stderr, "sshmock: handles still open at exit\n");
        return EXIT_RUNTIME;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    /* A client that goes away mid-write must cost an EPIPE, not the process. */
    signal(SIGPIPE, SIG_IGN);

    if (argc < 2) {
        fputs(main__usage, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(main__usage, stdout);
        return 0;
    }
    if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("sshmock %s (libssh %s, libuv %s)\n", SSHMOCK_VERSION, ssh_version(0),
               uv_version_string());
        return 0;
    }
    if (strcmp(argv[1], "serve") == 0) {
        return main__serve(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "check") == 0) {
        return main__check(argc - 1, argv + 1);
    }
    fprintf(stderr, "sshmock: unknown command '%s'\n\n%s", argv[1], main__usage);
    return EXIT_USAGE;
}
