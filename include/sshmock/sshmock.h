/*
 * sshmock: a mock SSH server that plays how real SSH servers look and fail.
 *
 * This is the embedding API. It starts a server for one profile on its own
 * thread (with its own libuv loop), tells you the port, and stops it. It is
 * what the project's own tests use; a C test suite of an SSH client can use
 * it the same way.
 *
 *     sshmock_config_t cfg = SSHMOCK_CONFIG_INIT;   // 127.0.0.1, port 0
 *     sshmock_t *srv = NULL;
 *     char err[512];
 *     int rc = sshmock_start("profiles/modern.conf", &cfg, &srv, err, sizeof err);
 *     if (rc < 0) { fprintf(stderr, "%s\n", err); ... }
 *     int port = sshmock_port(srv);
 *     ... run a client against 127.0.0.1:port ...
 *     sshmock_stop(srv);                            // joins the thread, frees all
 *
 * Errors are negative integers from the table below; sshmock_strerror()
 * turns one into text and sshmock_err_name() into its symbolic name. A
 * function that fails leaves nothing running and nothing allocated.
 */
#ifndef SSHMOCK_SSHMOCK_H
#define SSHMOCK_SSHMOCK_H

#ifdef __cplusplus
extern "C" {
#endif

/* One table generates the enum, the names and the messages (as libuv does). */
#define SSHMOCK_ERRNO_MAP(XX)                                               \
    XX(EINVAL, -1, "invalid argument")                                      \
    XX(ENOMEM, -2, "out of memory")                                         \
    XX(EPROFILE, -3, "invalid profile")                                     \
    XX(EHOSTKEY, -4, "host key cannot be loaded or generated")              \
    XX(ELISTEN, -5, "cannot listen on the requested address")               \
    XX(ELIBSSH, -6, "libssh reported an error")                             \
    XX(EIO, -7, "input/output error")                                       \
    XX(ETHREAD, -8, "cannot start the server thread")                       \
    XX(ESTATE, -9, "state directory cannot be used")                        \
    XX(ELOG, -10, "cannot open the log file")

typedef enum {
    SSHMOCK_OK = 0,
#define SSHMOCK__ERR_ENUM(name, code, msg) SSHMOCK_##name = (code),
    SSHMOCK_ERRNO_MAP(SSHMOCK__ERR_ENUM)
#undef SSHMOCK__ERR_ENUM
} sshmock_errno_t;

const char *sshmock_strerror(int err);
const char *sshmock_err_name(int err);

/* Settings that are not part of a profile: where to listen and log. */
typedef struct sshmock_config_s {
    const char *listen_addr; /* NULL: the profile's ListenAddress, else 127.0.0.1 */
    int port;                /* -1: the profile's Port (default 2222); 0: any free port */
    const char *log_json_path; /* NULL: no JSON log */
    const char *state_dir;   /* NULL: $SSHMOCK_STATE_DIR, $XDG_STATE_HOME/sshmock, else
                              * ~/.local/state/sshmock; must be yours and not writable
                              * by others (see README, "Host keys") */
    int quiet;               /* 1: no human-readable event lines on stderr */
    int log_passwords;       /* 1: log the passwords clients try (off by default) */
} sshmock_config_t;

#define SSHMOCK_CONFIG_INIT { NULL, 0, NULL, NULL, 1, 0 }

typedef struct sshmock_s sshmock_t;

/* Loads the profile (and its host keys), listens, and runs the server on a
 * new thread. On failure returns a negative code and, when errbuf is not
 * NULL, a message such as "profiles/x.conf:12: Bad configuration option". */
int sshmock_start(const char *profile_path, const sshmock_config_t *cfg,
                  sshmock_t **out, char *errbuf, unsigned long errlen);

/* The TCP port the server listens on. */
int sshmock_port(const sshmock_t *srv);

/* Stops accepting, closes every connection, joins the thread, frees all. */
void sshmock_stop(sshmock_t *srv);

#ifdef __cplusplus
}
#endif
#endif /* SSHMOCK_SSHMOCK_H */
