/*
 * sshmock command line: serve a profile, check a profile.
 *
 * Exit status: 0 success, 1 runtime failure (cannot listen, ...),
 * 2 usage or profile error (nothing is served).
 */
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sshmock/sshmock.h>

#include "cli/capture.h"
#include "cli/catalog.h"
#include "cli/diagnose.h"
#include "cli/import.h"
#include "cli/probe.h"
#include "cli/matrix.h"
#include "profile/clients.h"
#include "profile/engine.h"
#include "profile/profile.h"
#include "net/server.h"
#include "ssh/hostkey.h"
#include "net/workers.h"
#include "wire/offer.h"
#include "base/util.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static const char main__usage[] =
    "sshmock " SSHMOCK_VERSION " - a mock SSH server that plays how real SSH servers\n"
    "look and fail, so that SSH clients and their configurations can be tested.\n"
    "\n"
    "Usage:\n"
    "  sshmock serve [PROFILE] [options]   serve a profile (default: modern)\n"
    "  sshmock check PROFILE               validate a profile and print it, like sshd -T\n"
    "  sshmock list                        the profiles (the failure catalogue) and where each is\n"
    "  sshmock explain [-p] PROFILE        what a scenario is, what clients print, the fixes\n"
    "  sshmock lab [--base-port N]         serve every profile at once, one port each\n"
    "  sshmock probe ADDR:PORT             is an SSH server answering there? (health checks)\n"
    "  sshmock matrix [PROFILE...] [opts]  run real clients against profiles, report\n"
    "  sshmock diagnose FILE               a client's output or log in: the failure, the\n"
    "                                      profile that plays it, the fixes\n"
    "  sshmock capture HOST[:PORT] [-o F]  a profile of a live server's negotiation surface\n"
    "  sshmock import FILE [-o PROFILE]    a profile from ssh -vvv, PuTTY's log, sshd -T,\n"
    "                                      ssh-audit JSON or nmap output\n"
    "  sshmock --help | --version\n"
    "\n"
    "PROFILE is a file, or the name of a profile (for example \"legacy-kex-group1\"),\n"
    "looked for in $SSHMOCK_PROFILE_PATH, ~/.config/sshmock/profiles, then among\n"
    "the shipped ones; \"sshmock list\" shows them all and where each comes from.\n"
    "\n"
    "Run \"sshmock COMMAND --help\" for a command's options. The profile language is\n"
    "described in sshmock-profile(5) and docs/profile-reference.md.\n";

static const char main__serve_usage[] =
    "Usage: sshmock serve [PROFILE] [options]\n"
    "\n"
    "Serves PROFILE (a file or a shipped profile's name; default: modern) until\n"
    "SIGINT or SIGTERM. When it is ready it prints one line on stdout:\n"
    "    listening on ADDR:PORT\n"
    "Events (connections, client identification, algorithms, auth, channels,\n"
    "close) go to stderr, one line each.\n"
    "\n"
    "SIGHUP re-reads the profile, as sshd does: new connections get the new one,\n"
    "open ones keep theirs; an invalid file is logged (FILE:LINE) and the old\n"
    "profile keeps serving; the listening address stays. SIGUSR1 logs a status\n"
    "line (connections by state, totals). SIGUSR2 and SIGPIPE are ignored.\n"
    "Listening on an address other than loopback prints a WARNING: the demo\n"
    "accounts and keys of every profile are public.\n"
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
    "  -w, --workers N       event loops, one thread each, sharing the port with\n"
    "                        SO_REUSEPORT and one MaxStartups count (default 1;\n"
    "                        0: one per CPU). SIGHUP reloads every one of them.\n"
    "      --ready-fd N      when ready, also write the \"listening on\" line to file\n"
    "                        descriptor N and close it (for supervisors)\n"
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

/* Which engine plays the profile, and what it cannot play: with the system
 * libssh, the general limits, then what they mean for this profile. */
static void
main__check_engine(const profile_t *p, FILE *f)
{
    const char *limits = engine_limits();
    const char *line = limits;

    fprintf(f, "# engine: %s\n", engine_description());
    while (*line != '\0') {
        const char *nl = strchr(line, '\n');
        int n = nl != NULL ? (int)(nl - line) : (int)strlen(line);

        fprintf(f, "# engine cannot play: %.*s\n", n, line);
        line += n + (nl != NULL ? 1 : 0);
    }
    if (limits[0] == '\0') {
        return;
    }
    if (p->identification != NULL && strncmp(p->identification, "SSH-1.99-", 9) == 0 &&
        !engine_sends_identification(p->identification)) {
        fprintf(f, "# engine: this profile's Identification %s is played up to key "
                "exchange only\n", p->identification);
    }
    if (!offer_strict_kex(p) && !engine_controls_strict_kex()) {
        fprintf(f, "# engine: this profile's server offers no strict-kex marker, but "
                "this engine adds kex-strict-s-v00@openssh.com where key exchange runs\n");
    }
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
    path = catalog_resolve(argv[1]);
    /* The host keys as serve would load them: a profile check passes is
     * one serve can start. */
    if (profile_load(path, &p, err, sizeof err) != 0 ||
        hostkey_check_all(p, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        profile_free(p);
        free(path);
        return EXIT_USAGE;
    }
    profile_print(p, stdout);
    main__check_engine(p, stdout);
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

/* How many connections the open-files limit leaves room for. */
static void
main__log_nofile(server_t *srv, long nofile)
{
    char lim[24];
    char conns[24];
    char idle[24];

    if (nofile < 0) {
        return;
    }
    snprintf(lim, sizeof lim, "%ld", nofile);
    /* the listener, the log, the loop's own and stdio: about 16 */
    snprintf(conns, sizeof conns, "%ld",
             nofile > 16 ? (nofile - 16) / SERVER_FDS_PER_CONN : 0);
    snprintf(idle, sizeof idle, "%ld",
             nofile > 16 ? (nofile - 16) / SERVER_FDS_PER_IDLE_CONN : 0);
    log_event(&srv->log, 0, "limits", "open_files", lim, "connections", conns,
              "silent_connections", idle, NULL);
}

/* "listening on ADDR:PORT", flushed, on stdout and on --ready-fd. */
static void
main__say_ready(const server_t *srv, int ready_fd)
{
    printf("listening on %s:%d\n", srv->addr, srv->port);
    fflush(stdout);
    if (ready_fd >= 0) {
        dprintf(ready_fd, "listening on %s:%d\n", srv->addr, srv->port);
        close(ready_fd);
    }
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
        { "ready-fd", required_argument, NULL, 'R' },
        { "workers", required_argument, NULL, 'w' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    sshmock_config_t cfg = SSHMOCK_CONFIG_INIT;
    /* One loop by default: a mock is rarely CPU-bound, and one loop keeps
     * a seeded run's order of connections (and so its draws) exact. */
    int nworkers = 1;
    workers_t workers;
    int ready_fd = -1;
    char err[1024] = "";
    profile_t *p = NULL;
    server_t srv;
    long nofile = -1;
    char *path = NULL;
    uv_loop_t *loop = uv_default_loop();
    int opt;
    int rc;

    cfg.port = -1;
    cfg.quiet = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "l:p:j:s:qw:h", opts, NULL)) != -1) {
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
        case 'R':
            if (main__parse_port(optarg, &ready_fd) != 0 || ready_fd < 3 ||
                fcntl(ready_fd, F_GETFD) < 0) {
                fprintf(stderr, "sshmock serve: --ready-fd %s: not an open descriptor above 2\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'w':
            if (main__parse_port(optarg, &nworkers) != 0 || nworkers > 256) {
                fprintf(stderr, "sshmock serve: --workers %s: not a number from 0 to 256\n",
                        optarg);
                return EXIT_USAGE;
            }
            if (nworkers == 0) {
                nworkers = workers_default();
            }
            break;
        case 'h': fputs(main__serve_usage, stdout); return 0;
        default: fputs(main__serve_usage, stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "sshmock serve: one profile at a time (got %d)\n", argc - optind);
        return EXIT_USAGE;
    }
    path = catalog_resolve(optind < argc ? argv[optind] : "modern");
    if (profile_load(path, &p, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        free(path);
        return EXIT_USAGE;
    }
    free(path);
    /* Each connection holds descriptors; the usual soft limit of 1,024
     * would cap a load test at a few hundred connections. */
    nofile = server_raise_nofile();
    rc = server_init(&srv, loop, p, &cfg, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "sshmock: %s\n", err);
        return rc == SSHMOCK_EPROFILE || rc == SSHMOCK_EHOSTKEY ? EXIT_USAGE : EXIT_RUNTIME;
    }
    rc = workers_prepare(&workers, &srv, nworkers);
    if (rc == 0) {
        rc = server_listen(&srv, cfg.listen_addr, cfg.port, err, sizeof err);
    }
    if (rc == 0) {
        rc = workers_start(&workers, nworkers, err, sizeof err);
    }
    if (rc != 0) {
        fprintf(stderr, "sshmock: %s\n", err);
        server_stop(&srv);
        uv_run(loop, UV_RUN_DEFAULT);
        workers_join(&workers);
        server_free(&srv);
        uv_loop_close(loop);
        return rc == SSHMOCK_EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
    }
    main__log_nofile(&srv, nofile);
    server_handle_signals(&srv);
    server_warn_exposed(&srv, 1);
    main__say_ready(&srv, ready_fd);

    uv_run(loop, UV_RUN_DEFAULT);
    workers_join(&workers);
    server_free(&srv);
    if (uv_loop_close(loop) != 0) {
        fprintf(stderr, "sshmock: handles still open at exit\n");
        return EXIT_RUNTIME;
    }
    return 0;
}

static const char main__lab_usage[] =
    "Usage: sshmock lab [--base-port N] [--listen ADDR] [--state-dir DIR] [--quiet]\n"
    "                   [--log-json FILE]\n"
    "       sshmock lab [--base-port N] --print-port PROFILE\n"
    "\n"
    "Serves every profile at once (the shipped ones, the user's and those of\n"
    "$SSHMOCK_PROFILE_PATH, as \"sshmock list\" shows them), each on its own port\n"
    "(from N up, in name order; default 2200; 0 picks free ports), and prints the\n"
    "map: port, profile, description. For labs where students meet each SSH\n"
    "failure and learn to diagnose it. Stops on SIGINT or SIGTERM; SIGHUP\n"
    "re-reads every profile and SIGUSR1 logs a status line, as for serve.\n"
    "\n"
    "--print-port PROFILE prints the port the lab gives PROFILE, and exits.\n";

/* The client names come from profile/clients.h, so the help text is
 * printed, not a constant. */
static void
main__matrix_help(FILE *f)
{
    char all[256];
    char custom[128];

    profile_client_names(all, sizeof all, 0);
    profile_client_names(custom, sizeof custom, 1);
    fprintf(f,
        "Usage: sshmock matrix [PROFILE...] [options]\n"
        "\n"
        "Serves each PROFILE (default: every shipped profile) on a free loopback port\n"
        "and runs real SSH clients against it, in parallel, each under a timeout. Each\n"
        "client runs \"echo hello\" as user demo; what it printed and its exit status are\n"
        "checked against the profile's Expect line for that client.\n"
        "\n"
        "Options:\n"
        "  -c, --client LIST     built-in clients to run, comma-separated (default: all:\n"
        "                        %s)\n"
        "  -C, --custom NAME=[MODEL:]COMMAND\n"
        "                        your own client command, e.g. --custom 'mine=ssh -F ./my_config'.\n"
        "                        MODEL (%s; guessed from the command)\n"
        "                        says whose expectations apply. Repeatable. Given alone, only\n"
        "                        the custom clients run.\n"
        "  -f, --fixes           retry each failing cell with the client's documented fix\n"
        "                        (ClientFix) and report whether it works\n"
        "  -j, --jobs N          parallel client runs (default: 4 per CPU, at most 16)\n"
        "  -t, --timeout S       each client's own connect timeout (default 10; a run is\n"
        "                        killed 15 s after it)\n"
        "      --json FILE       write the results as JSON\n"
        "      --junit FILE      write JUnit XML (one testcase per cell) for CI systems\n"
        "      --html FILE       write a self-contained HTML report\n"
        "      --strict          a cell whose profile has no Expect line for its client\n"
        "                        fails instead of passing unchecked (CI uses it)\n"
        "  -s, --state-dir DIR   where host keys are kept (as for serve)\n"
        "      --drivers DIR     client drivers (default: $SSHMOCK_DRIVER_DIR, the installed\n"
        "                        ones, else client-tests/drivers of the source)\n"
        "  -q, --quiet           no progress lines\n"
        "\n"
        "Exit status: 0 when every expectation held (and, with --fixes, every fix\n"
        "worked), 1 otherwise, 2 for bad usage or a bad profile, 77 when every client\n"
        "asked for is missing.\n", all, custom);
}

static int
main__lab(int argc, char **argv)
{
    static const struct option opts[] = {
        { "base-port", required_argument, NULL, 'b' },
        { "listen", required_argument, NULL, 'l' },
        { "state-dir", required_argument, NULL, 's' },
        { "log-json", required_argument, NULL, 'j' },
        { "quiet", no_argument, NULL, 'q' },
        { "print-port", required_argument, NULL, 'P' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *listen_addr = NULL;
    const char *print_port = NULL;
    const char *state_dir = NULL;
    const char *log_json = NULL;
    int base = 2200;
    int quiet = 0;
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "b:l:s:j:qh", opts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            if (main__parse_port(optarg, &base) != 0) {
                fprintf(stderr, "sshmock lab: --base-port %s: not a port number\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'l': listen_addr = optarg; break;
        case 's': state_dir = optarg; break;
        case 'j': log_json = optarg; break;
        case 'q': quiet = 1; break;
        case 'P': print_port = optarg; break;
        case 'h': fputs(main__lab_usage, stdout); return 0;
        default: fputs(main__lab_usage, stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fputs(main__lab_usage, stderr);
        return EXIT_USAGE;
    }
    if (print_port != NULL) {
        int port = catalog_lab_port(print_port, base);
        if (port < 0) {
            fprintf(stderr, "sshmock lab: no profile named '%s' (sshmock list)\n", print_port);
            return EXIT_USAGE;
        }
        printf("%d\n", port);
        return 0;
    }
    (void)server_raise_nofile();
    return catalog_lab(listen_addr, base, state_dir, quiet, log_json);
}

/* The model of a custom command that does not name one: the client whose
 * program its first word runs ("ssh -F x" is openssh), else the word. */
static char *
main__guess_model(const char *cmd)
{
    char word[64] = "";
    const char *base = NULL;
    size_t i;

    sscanf(cmd, "%63s", word);
    base = strrchr(word, '/') != NULL ? strrchr(word, '/') + 1 : word;
    for (i = 0; i < profile_nclients; i++) {
        if (profile_clients[i].program != NULL && strcmp(base, profile_clients[i].program) == 0) {
            return strdup(profile_clients[i].name);
        }
    }
    return strdup(base);
}

/* "NAME=[MODEL:]COMMAND" */
static int
main__custom_client(const char *spec, matrix_client_t *c)
{
    const char *eq = strchr(spec, '=');
    const char *cmd = NULL;
    const char *colon = NULL;
    const profile_client_t *model = NULL;
    char names[128];

    memset(c, 0, sizeof *c);
    if (eq == NULL || eq == spec || eq[1] == '\0') {
        fprintf(stderr, "sshmock matrix: --custom %s: expected NAME=[MODEL:]COMMAND\n", spec);
        return -1;
    }
    c->name = util_strndup(spec, (size_t)(eq - spec));
    cmd = eq + 1;
    colon = strchr(cmd, ':');
    if (colon != NULL && strcspn(cmd, " ") > (size_t)(colon - cmd)) {
        c->model = util_strndup(cmd, (size_t)(colon - cmd));
        cmd = colon + 1;
    } else {
        c->model = main__guess_model(cmd);
    }
    c->command = strdup(cmd);
    model = c->model != NULL ? profile_client_find(c->model) : NULL;
    if (model != NULL && model->customizable) {
        return 0;
    }
    fprintf(stderr, "sshmock matrix: --custom %s: cannot tell which client this is; say it: "
            "NAME=MODEL:COMMAND, MODEL one of %s\n", spec,
            profile_client_names(names, sizeof names, 1));
    return -1;
}

/* Adds the built-in clients of a comma-separated list. */
static int
main__builtin_clients(const char *arg, matrix_client_t *clients, size_t max, size_t *n)
{
    char *list = strdup(arg);
    char *save = NULL;
    char *name = NULL;
    char names[256];
    int rc = 0;

    for (name = strtok_r(list, ",", &save); name != NULL; name = strtok_r(NULL, ",", &save)) {
        if (profile_client_find(name) == NULL || *n >= max) {
            fprintf(stderr, "sshmock matrix: unknown client '%s' (clients: %s)\n", name,
                    profile_client_names(names, sizeof names, 0));
            rc = -1;
            break;
        }
        clients[*n].name = strdup(name);
        clients[*n].model = strdup(name);
        clients[*n].command = NULL;
        (*n)++;
    }
    free(list);
    return rc;
}

static int
main__matrix(int argc, char **argv)
{
    static const struct option opts[] = {
        { "client", required_argument, NULL, 'c' },
        { "custom", required_argument, NULL, 'C' },
        { "fixes", no_argument, NULL, 'f' },
        { "strict", no_argument, NULL, 'S' },
        { "jobs", required_argument, NULL, 'j' },
        { "timeout", required_argument, NULL, 't' },
        { "json", required_argument, NULL, 'J' },
        { "junit", required_argument, NULL, 'U' },
        { "html", required_argument, NULL, 'H' },
        { "state-dir", required_argument, NULL, 's' },
        { "drivers", required_argument, NULL, 'D' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    matrix_options_t o;
    matrix_client_t clients[64];
    size_t nclients = 0;
    char **paths = NULL;
    size_t npaths = 0;
    int builtin_asked = 0;
    int custom_asked = 0;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int opt;
    int rc = EXIT_USAGE;
    size_t i;

    memset(&o, 0, sizeof o);
    o.jobs = (int)(ncpu > 0 ? (ncpu * 4 > 16 ? 16 : ncpu * 4) : 8);
    o.timeout = 10;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:C:fj:t:s:qh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            builtin_asked = 1;
            if (main__builtin_clients(optarg, clients, UTIL_ARRAY_SIZE(clients), &nclients) != 0) {
                goto out;
            }
            break;
        case 'C':
            custom_asked = 1;
            if (nclients >= UTIL_ARRAY_SIZE(clients) ||
                main__custom_client(optarg, &clients[nclients]) != 0) {
                if (nclients < UTIL_ARRAY_SIZE(clients)) {
                    nclients++; /* freed below */
                }
                goto out;
            }
            nclients++;
            break;
        case 'f': o.fixes = 1; break;
        case 'S': o.strict = 1; break;
        case 'j':
            o.jobs = atoi(optarg);
            if (o.jobs < 1 || o.jobs > 256) {
                fprintf(stderr, "sshmock matrix: --jobs %s: expected 1 to 256\n", optarg);
                goto out;
            }
            break;
        case 't':
            o.timeout = atoi(optarg);
            if (o.timeout < 1 || o.timeout > 600) {
                fprintf(stderr, "sshmock matrix: --timeout %s: expected 1 to 600 seconds\n", optarg);
                goto out;
            }
            break;
        case 'J': o.json_path = optarg; break;
        case 'U': o.junit_path = optarg; break;
        case 'H': o.html_path = optarg; break;
        case 's': o.state_dir = optarg; break;
        case 'D': o.driver_dir = optarg; break;
        case 'q': o.quiet = 1; break;
        case 'h': main__matrix_help(stdout); rc = 0; goto out;
        default: main__matrix_help(stderr); goto out;
        }
    }
    if (!builtin_asked && !custom_asked) {
        for (i = 0; i < profile_nclients; i++) {
            clients[nclients].name = strdup(profile_clients[i].name);
            clients[nclients].model = strdup(profile_clients[i].name);
            clients[nclients].command = NULL;
            nclients++;
        }
    }
    if (optind < argc) {
        npaths = (size_t)(argc - optind);
        paths = calloc(npaths, sizeof *paths);
        for (i = 0; paths != NULL && i < npaths; i++) {
            paths[i] = catalog_resolve(argv[optind + (int)i]);
        }
    } else if (catalog_scan(catalog_dir(), &paths, &npaths) != 0 || npaths == 0) {
        fprintf(stderr, "sshmock matrix: no profiles in %s\n", catalog_dir());
        goto out;
    }
    o.profiles = paths;
    o.nprofiles = npaths;
    o.clients = clients;
    o.nclients = nclients;
    rc = matrix_run(&o);
out:
    catalog_paths_free(paths, npaths);
    for (i = 0; i < nclients; i++) {
        free(clients[i].name);
        free(clients[i].model);
        free(clients[i].command);
    }
    return rc;
}

static const char main__explain_usage[] =
    "Usage: sshmock explain [-p|--patterns] PROFILE\n"
    "\n"
    "What the scenario is, why a client fails against it, what each client\n"
    "does there (connects, or fails at which stage) and prints - the lines the\n"
    "real client printed, recorded in the profile's Said lines, the server's\n"
    "port written P - and the fix on either side.\n"
    "\n"
    "Options:\n"
    "  -p, --patterns   also show each client's Expect pattern, the regular\n"
    "                   expression sshmock matrix checks its output against\n";

static int
main__explain(int argc, char **argv)
{
    const char *profile = NULL;
    int patterns = 0;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(main__explain_usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--patterns") == 0 || strcmp(argv[i], "-p") == 0) {
            patterns = 1;
        } else if (profile == NULL && (argv[i][0] != '-' || argv[i][1] == '\0')) {
            profile = argv[i];
        } else {
            fprintf(stderr, "sshmock explain: unexpected argument '%s'\n\n%s", argv[i],
                    main__explain_usage);
            return EXIT_USAGE;
        }
    }
    if (profile == NULL) {
        fputs(main__explain_usage, stderr);
        return EXIT_USAGE;
    }
    return catalog_explain(profile, patterns, stdout);
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
        printf("sshmock %s (engine: %s; libssh %s, libuv %s, %s)\n", SSHMOCK_VERSION,
               engine_description(), ssh_version(0), uv_version_string(),
               OpenSSL_version(OPENSSL_VERSION));
        return 0;
    }
    if (strcmp(argv[1], "serve") == 0) {
        return main__serve(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "check") == 0) {
        return main__check(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "list") == 0) {
        if (argc > 2) {
            int help = strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0;
            fputs("Usage: sshmock list\n\nEvery profile a name can refer to, grouped by where it "
                  "comes from: the\ndirectories of $SSHMOCK_PROFILE_PATH, the user's "
                  "~/.config/sshmock/profiles,\nthen the shipped catalogue. A name found in an "
                  "earlier directory hides\nthe same name in later ones.\n",
                  help ? stdout : stderr);
            return help ? 0 : EXIT_USAGE;
        }
        return catalog_list(stdout);
    }
    if (strcmp(argv[1], "explain") == 0) {
        return main__explain(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "lab") == 0) {
        return main__lab(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "matrix") == 0) {
        return main__matrix(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "capture") == 0) {
        return capture_main(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "import") == 0) {
        return import_main(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "diagnose") == 0) {
        return diagnose_main(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "probe") == 0) {
        return probe_main(argc - 1, argv + 1);
    }
    fprintf(stderr, "sshmock: unknown command '%s'\n\n%s", argv[1], main__usage);
    return EXIT_USAGE;
}
