/*
 * sshmock-libssh-client: the libssh client of sshmock's client matrix.
 *
 * A small program that uses libssh the way an application does: connect,
 * check the host key against a known_hosts file, log in with keys and/or
 * a password, run one command, copy its output and return its exit
 * status. It takes the command line every driver in client-tests/drivers/
 * takes (see the README there):
 *
 *   sshmock-libssh-client --host H --port P --user U [--password PW]
 *       [--key FILE]... --known-hosts FILE --timeout SECONDS
 *       [--opt KEY=VALUE]... --command CMD
 *   sshmock-libssh-client --version
 *
 * Exit status: the command's; 255 when libssh could not connect, verify
 * the host or log in (the libssh call and ssh_get_error() go to stderr);
 * 124 when the program gave up on its own deadline (2 * timeout + 10 s);
 * 2 for a bad command line or an --opt libssh refuses.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include <libssh/libssh.h>

#define EXIT_CONN_FAILURE 255
#define EXIT_GAVE_UP 124
#define EXIT_USAGE 2
#define MAX_KEYS 16
#define MAX_OPTS 32
#define MAX_KBDINT_ROUNDS 8

struct client_args {
    const char *host;
    int port;
    const char *user;
    const char *password;
    const char *keys[MAX_KEYS];
    int nkeys;
    const char *known_hosts;
    double timeout;
    const char *opts[MAX_OPTS];
    int nopts;
    const char *command;
};

/* --opt KEY names (OpenSSH's spelling, any case) and the libssh options
 * they set; Ciphers and MACs set both directions. */
struct opt_map {
    const char *name;
    enum ssh_options_e first;
    int has_second;
    enum ssh_options_e second;
    const char *defaults;
};

/* libssh 0.10 takes only plain lists in ssh_options_set(); for a '+', '-'
 * or '^' list it refuses, this program expands it against these, the
 * lists libssh 0.10.6 offers when left alone (as seen in its KEXINIT;
 * ext-info-c and kex-strict-c-v00@openssh.com it adds by itself; for
 * public-key algorithms it uses its host key list). libssh 0.11 and later read the prefixes themselves and get the list as
 * it is. Names libssh does not know it drops without a word, as it does
 * in any list. */
#define LIBSSH010_KEX "curve25519-sha256,curve25519-sha256@libssh.org," \
    "ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521," \
    "diffie-hellman-group18-sha512,diffie-hellman-group16-sha512," \
    "diffie-hellman-group-exchange-sha256,diffie-hellman-group14-sha256"
#define LIBSSH010_CIPHERS "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com," \
    "aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr"
#define LIBSSH010_MACS "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com," \
    "hmac-sha2-256,hmac-sha2-512"
#define LIBSSH010_HOSTKEYS "ssh-ed25519,ecdsa-sha2-nistp521,ecdsa-sha2-nistp384," \
    "ecdsa-sha2-nistp256,sk-ssh-ed25519@openssh.com," \
    "sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256"

static const struct opt_map opt_table[] = {
    {"KexAlgorithms", SSH_OPTIONS_KEY_EXCHANGE, 0, SSH_OPTIONS_KEY_EXCHANGE,
     LIBSSH010_KEX},
    {"Ciphers", SSH_OPTIONS_CIPHERS_C_S, 1, SSH_OPTIONS_CIPHERS_S_C, LIBSSH010_CIPHERS},
    {"MACs", SSH_OPTIONS_HMAC_C_S, 1, SSH_OPTIONS_HMAC_S_C, LIBSSH010_MACS},
    {"HostKeyAlgorithms", SSH_OPTIONS_HOSTKEYS, 0, SSH_OPTIONS_HOSTKEYS, LIBSSH010_HOSTKEYS},
    {"PubkeyAcceptedAlgorithms", SSH_OPTIONS_PUBLICKEY_ACCEPTED_TYPES, 0,
     SSH_OPTIONS_PUBLICKEY_ACCEPTED_TYPES, LIBSSH010_HOSTKEYS},
    {"PubkeyAcceptedKeyTypes", SSH_OPTIONS_PUBLICKEY_ACCEPTED_TYPES, 0,
     SSH_OPTIONS_PUBLICKEY_ACCEPTED_TYPES, LIBSSH010_HOSTKEYS},
};

static void
say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
    va_list ap;

    fputs("sshmock-driver: libssh: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void
usage_fail(const char *what)
{
    say("%s", what);
    exit(EXIT_USAGE);
}

/* The deadline: async-signal-safe writes only. */
static void
on_deadline(int sig)
{
    static const char msg[] =
        "sshmock-driver: libssh: gave up (2 * --timeout + 10 s): "
        "the client had not finished\n";
    ssize_t n;

    (void)sig;
    n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)n;
    _exit(EXIT_GAVE_UP);
}

static void
deadline_start(double seconds)
{
    struct sigaction sa;
    struct itimerval it;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_deadline;
    sigaction(SIGALRM, &sa, NULL);
    memset(&it, 0, sizeof(it));
    it.it_value.tv_sec = (time_t)seconds;
    it.it_value.tv_usec = (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6);
    setitimer(ITIMER_REAL, &it, NULL);
}

static int
parse_args(int argc, char **argv, struct client_args *a)
{
    enum { O_HOST = 1, O_PORT, O_USER, O_PASSWORD, O_KEY, O_KNOWN_HOSTS,
           O_TIMEOUT, O_OPT, O_COMMAND };
    static const struct option longopts[] = {
        {"host", required_argument, NULL, O_HOST},
        {"port", required_argument, NULL, O_PORT},
        {"user", required_argument, NULL, O_USER},
        {"password", required_argument, NULL, O_PASSWORD},
        {"key", required_argument, NULL, O_KEY},
        {"known-hosts", required_argument, NULL, O_KNOWN_HOSTS},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"opt", required_argument, NULL, O_OPT},
        {"command", required_argument, NULL, O_COMMAND},
        {NULL, 0, NULL, 0},
    };
    char *end = NULL;
    long port;
    int c;

    memset(a, 0, sizeof(*a));
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_HOST:
            a->host = optarg;
            break;
        case O_PORT:
            errno = 0;
            port = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || port < 1 || port > 65535) {
                usage_fail("--port must be 1..65535");
            }
            a->port = (int)port;
            break;
        case O_USER:
            a->user = optarg;
            break;
        case O_PASSWORD:
            a->password = optarg;
            break;
        case O_KEY:
            if (a->nkeys == MAX_KEYS) {
                usage_fail("too many --key");
            }
            a->keys[a->nkeys++] = optarg;
            break;
        case O_KNOWN_HOSTS:
            a->known_hosts = optarg;
            break;
        case O_TIMEOUT:
            a->timeout = strtod(optarg, &end);
            if (*end != '\0' || !(a->timeout > 0)) {
                usage_fail("--timeout must be more than 0");
            }
            break;
        case O_OPT:
            if (a->nopts == MAX_OPTS) {
                usage_fail("too many --opt");
            }
            if (strchr(optarg, '=') == NULL || optarg[0] == '=') {
                usage_fail("--opt wants KEY=VALUE");
            }
            a->opts[a->nopts++] = optarg;
            break;
        case O_COMMAND:
            a->command = optarg;
            break;
        default:
            usage_fail("unknown option or missing value (see client-tests/drivers/README.md)");
        }
    }
    if (optind != argc) {
        usage_fail("unexpected argument");
    }
    if (a->host == NULL || a->port == 0 || a->user == NULL || a->known_hosts == NULL ||
        a->timeout <= 0 || a->command == NULL) {
        usage_fail("--host, --port, --user, --known-hosts, --timeout and --command are required");
    }
    return 0;
}

/* Whether the comma-separated list has the name. */
static int
list_has(const char *list, const char *name, size_t nlen)
{
    const char *p = list;

    while (*p != '\0') {
        size_t len = strcspn(p, ",");

        if (len == nlen && strncmp(p, name, len) == 0) {
            return 1;
        }
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    return 0;
}

/* Appends the names of `from` that are (keep = 1) or are not (keep = 0)
 * in `filter` to out, comma-separated. */
static void
list_append(char *out, size_t outlen, const char *from, const char *filter, int keep)
{
    const char *p = from;

    while (*p != '\0') {
        size_t len = strcspn(p, ",");

        if (len > 0 && (filter == NULL || list_has(filter, p, len) == keep) &&
            !list_has(out, p, len)) {
            size_t used = strlen(out);

            snprintf(out + used, outlen - used, "%s%.*s", used > 0 ? "," : "", (int)len, p);
        }
        p += len;
        if (*p == ',') {
            p++;
        }
    }
}

/* "+LIST" (after the defaults), "-LIST" (without) or "^LIST" (before
 * them), spelled out against `defaults`. */
static int
expand_list(char *out, size_t outlen, const char *value, const char *defaults)
{
    const char *names = value + 1;

    if (strlen(value) + strlen(defaults) + 2 > outlen) {
        return -1;
    }
    out[0] = '\0';
    switch (value[0]) {
    case '+':
        list_append(out, outlen, defaults, NULL, 1);
        list_append(out, outlen, names, NULL, 1);
        return 0;
    case '-':
        list_append(out, outlen, defaults, names, 0);
        return 0;
    case '^':
        list_append(out, outlen, names, NULL, 1);
        list_append(out, outlen, defaults, NULL, 1);
        return 0;
    default:
        return -1;
    }
}

static int
set_pair(ssh_session session, const struct opt_map *m, const char *value)
{
    if (ssh_options_set(session, m->first, value) != SSH_OK) {
        return -1;
    }
    if (m->has_second && ssh_options_set(session, m->second, value) != SSH_OK) {
        return -1;
    }
    return 0;
}

/* Applies one --opt. */
static int
apply_opt(ssh_session session, const char *opt)
{
    const char *eq = strchr(opt, '=');
    size_t klen = (size_t)(eq - opt);
    const char *value = eq + 1;
    char expanded[2048];
    size_t i;

    for (i = 0; i < sizeof(opt_table) / sizeof(opt_table[0]); i++) {
        const struct opt_map *m = &opt_table[i];

        if (strlen(m->name) != klen || strncasecmp(m->name, opt, klen) != 0) {
            continue;
        }
        /* libssh 0.10 would not refuse "-a,b" but drop "-a" as an
         * unknown name and keep b: prefixed lists never reach it as they
         * are. */
        if (value[0] != '\0' && strchr("+-^", value[0]) != NULL &&
            ssh_version(SSH_VERSION_INT(0, 11, 0)) == NULL) {
            if (expand_list(expanded, sizeof(expanded), value, m->defaults) != 0) {
                say("--opt %s: list too long", opt);
                return -1;
            }
            value = expanded;
        }
        if (set_pair(session, m, value) == 0) {
            return 0;
        }
        say("--opt %s: ssh_options_set: %s", opt, ssh_get_error(session));
        return -1;
    }
    say("--opt %.*s: not one of KexAlgorithms, Ciphers, MACs, HostKeyAlgorithms, "
        "PubkeyAcceptedAlgorithms", (int)klen, opt);
    return -1;
}

static int
set_options(ssh_session session, const struct client_args *a)
{
    bool no = false;
    long sec = (long)a->timeout;
    long usec = (long)((a->timeout - (double)sec) * 1e6);
    int i;

    if (ssh_options_set(session, SSH_OPTIONS_HOST, a->host) != SSH_OK ||
        ssh_options_set(session, SSH_OPTIONS_PORT, &a->port) != SSH_OK ||
        ssh_options_set(session, SSH_OPTIONS_USER, a->user) != SSH_OK ||
        ssh_options_set(session, SSH_OPTIONS_KNOWNHOSTS, a->known_hosts) != SSH_OK ||
        ssh_options_set(session, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") != SSH_OK ||
        ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &sec) != SSH_OK ||
        ssh_options_set(session, SSH_OPTIONS_TIMEOUT_USEC, &usec) != SSH_OK ||
        /* No ~/.ssh/config and no /etc/ssh/ssh_config: only what we say. */
        ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &no) != SSH_OK) {
        say("ssh_options_set: %s", ssh_get_error(session));
        return -1;
    }
    for (i = 0; i < a->nopts; i++) {
        if (apply_opt(session, a->opts[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

/* The server's key as "TYPE SHA256:...", for the messages. */
static void
describe_server_key(ssh_session session, char *out, size_t outlen)
{
    ssh_key key = NULL;
    unsigned char *hash = NULL;
    size_t hlen = 0;
    char *fp = NULL;

    snprintf(out, outlen, "(unknown key)");
    if (ssh_get_server_publickey(session, &key) != SSH_OK) {
        goto out;
    }
    if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != SSH_OK) {
        goto out;
    }
    fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
    if (fp != NULL) {
        snprintf(out, outlen, "%s %s", ssh_key_type_to_char(ssh_key_type(key)), fp);
    }
out:
    ssh_string_free_char(fp);
    ssh_clean_pubkey_hash(&hash);
    ssh_key_free(key);
}

/* Accept and record a new host, refuse a changed one: libssh decides
 * which it is; the words for CHANGED and OTHER are ours, libssh has none. */
static int
verify_host(ssh_session session, const char *known_hosts)
{
    enum ssh_known_hosts_e state;
    char key[256];

    state = ssh_session_is_known_server(session);
    switch (state) {
    case SSH_KNOWN_HOSTS_OK:
        return 0;
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
        if (ssh_session_update_known_hosts(session) != SSH_OK) {
            fprintf(stderr, "ssh_session_update_known_hosts: %s\n", ssh_get_error(session));
            return -1;
        }
        return 0;
    case SSH_KNOWN_HOSTS_CHANGED:
        describe_server_key(session, key, sizeof(key));
        fprintf(stderr, "ssh_session_is_known_server: SSH_KNOWN_HOSTS_CHANGED: "
                "the server's host key %s is not the one %s has for it\n", key, known_hosts);
        return -1;
    case SSH_KNOWN_HOSTS_OTHER:
        describe_server_key(session, key, sizeof(key));
        fprintf(stderr, "ssh_session_is_known_server: SSH_KNOWN_HOSTS_OTHER: "
                "the server sent a %s host key, %s has a key of another type for it\n",
                key, known_hosts);
        return -1;
    case SSH_KNOWN_HOSTS_ERROR:
    default:
        fprintf(stderr, "ssh_session_is_known_server: %s\n", ssh_get_error(session));
        return -1;
    }
}

static int
auth_kbdint(ssh_session session, const char *password)
{
    int rounds;
    int rc;

    rc = ssh_userauth_kbdint(session, NULL, NULL);
    for (rounds = 0; rc == SSH_AUTH_INFO && rounds < MAX_KBDINT_ROUNDS; rounds++) {
        int n = ssh_userauth_kbdint_getnprompts(session);
        int i;

        for (i = 0; i < n; i++) {
            if (ssh_userauth_kbdint_setanswer(session, (unsigned int)i, password) < 0) {
                return SSH_AUTH_ERROR;
            }
        }
        rc = ssh_userauth_kbdint(session, NULL, NULL);
    }
    return rc;
}

/* Keys first, then the password (password, else keyboard-interactive),
 * each only if the server still lists the method. */
static int
authenticate(ssh_session session, const struct client_args *a)
{
    const char *last = "ssh_userauth_none";
    int methods;
    int rc;
    int i;

    rc = ssh_userauth_none(session, NULL);
    if (rc == SSH_AUTH_SUCCESS) {
        return 0;
    }
    if (rc == SSH_AUTH_ERROR) {
        goto fail;
    }
    for (i = 0; i < a->nkeys; i++) {
        ssh_key key = NULL;

        methods = ssh_userauth_list(session, NULL);
        if (!(methods & SSH_AUTH_METHOD_PUBLICKEY)) {
            break;
        }
        if (ssh_pki_import_privkey_file(a->keys[i], NULL, NULL, NULL, &key) != SSH_OK) {
            fprintf(stderr, "ssh_pki_import_privkey_file: cannot use %s\n", a->keys[i]);
            continue;
        }
        last = "ssh_userauth_publickey";
        rc = ssh_userauth_publickey(session, NULL, key);
        ssh_key_free(key);
        if (rc == SSH_AUTH_SUCCESS) {
            return 0;
        }
        if (rc == SSH_AUTH_ERROR) {
            goto fail;
        }
    }
    if (a->password != NULL) {
        methods = ssh_userauth_list(session, NULL);
        if (methods & SSH_AUTH_METHOD_PASSWORD) {
            last = "ssh_userauth_password";
            rc = ssh_userauth_password(session, NULL, a->password);
        } else if (methods & SSH_AUTH_METHOD_INTERACTIVE) {
            last = "ssh_userauth_kbdint";
            rc = auth_kbdint(session, a->password);
        }
        if (rc == SSH_AUTH_SUCCESS) {
            return 0;
        }
    }
fail:
    fprintf(stderr, "%s: %s\n", last, ssh_get_error(session));
    return -1;
}

static int
write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Runs the command; returns its exit status, or -1 when the channel
 * failed (the message is printed). */
static int
run_command(ssh_session session, const char *command)
{
    ssh_channel channel = NULL;
    char buf[16384];
    int status = -1;
    int n;
    int m;

    channel = ssh_channel_new(session);
    if (channel == NULL) {
        fprintf(stderr, "ssh_channel_new: %s\n", ssh_get_error(session));
        goto out;
    }
    if (ssh_channel_open_session(channel) != SSH_OK) {
        fprintf(stderr, "ssh_channel_open_session: %s\n", ssh_get_error(session));
        goto out;
    }
    if (ssh_channel_request_exec(channel, command) != SSH_OK) {
        fprintf(stderr, "ssh_channel_request_exec: %s\n", ssh_get_error(session));
        goto out;
    }
    /* stdin is /dev/null. */
    ssh_channel_send_eof(channel);
    for (;;) {
        n = ssh_channel_read_timeout(channel, buf, sizeof(buf), 0, 100);
        if (n == SSH_ERROR) {
            fprintf(stderr, "ssh_channel_read: %s\n", ssh_get_error(session));
            goto out;
        }
        if (n > 0) {
            write_all(STDOUT_FILENO, buf, (size_t)n);
        }
        m = ssh_channel_read_nonblocking(channel, buf, sizeof(buf), 1);
        if (m == SSH_EOF) {
            m = 0;      /* unlike ssh_channel_read_timeout, it says so */
        }
        if (m == SSH_ERROR) {
            fprintf(stderr, "ssh_channel_read: %s\n", ssh_get_error(session));
            goto out;
        }
        if (m > 0) {
            write_all(STDERR_FILENO, buf, (size_t)m);
        }
        if (n == 0 && m == 0 &&
            (ssh_channel_is_eof(channel) || ssh_channel_is_closed(channel))) {
            break;
        }
    }
    status = ssh_channel_get_exit_status(channel);
    if (status < 0) {
        status = EXIT_CONN_FAILURE;     /* ended without an exit status */
    }
    ssh_channel_close(channel);
out:
    ssh_channel_free(channel);
    return status;
}

int
main(int argc, char **argv)
{
    struct client_args a;
    ssh_session session = NULL;
    int rc = EXIT_CONN_FAILURE;
    int status;

    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("libssh %s\n", ssh_version(0));
        return 0;
    }
    parse_args(argc, argv, &a);
    deadline_start(2 * a.timeout + 10);

    ssh_init();
    session = ssh_new();
    if (session == NULL) {
        say("ssh_new failed");
        goto out;
    }
    if (set_options(session, &a) != 0) {
        rc = EXIT_USAGE;
        goto out;
    }
    if (ssh_connect(session) != SSH_OK) {
        fprintf(stderr, "ssh_connect: %s\n", ssh_get_error(session));
        goto out;
    }
    if (verify_host(session, a.known_hosts) != 0) {
        goto out;
    }
    if (authenticate(session, &a) != 0) {
        goto out;
    }
    status = run_command(session, a.command);
    if (status >= 0) {
        rc = status;
    }
out:
    if (session != NULL) {
        ssh_disconnect(session);
        ssh_free(session);
    }
    ssh_finalize();
    return rc;
}
