/*
 * profile: the sshd_config-like file that describes one mock server (see
 * profile.h and docs/profile-reference.md).
 *
 * One table lists every keyword with its opcode, flags, argument counts and
 * the shape and default shown in documentation and messages. A line is cut
 * into raw arguments (quotes removed, backslash sequences kept), checked
 * against the row's argument counts, and handed to the opcode. Defaults,
 * algorithm lists and the checks that span several keywords come after the
 * last line, as in sshd: the first value obtained for a keyword wins, so
 * the order of keywords does not matter.
 */
#include "profile/profile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <regex.h>
#include <unistd.h>

#include <libssh/libssh.h>
#include <openssl/evp.h>

#include <sshmock/sshmock.h>

#include "profile/algo.h"
#include "base/util.h"

#define PROFILE__LINE_MAX 4096
#define PROFILE__FILE_MAX (1024 * 1024)   /* a profile is a page, not a log */
#define PROFILE__BANNER_MAX (64 * 1024)
#define PROFILE__KEYFILE_MAX (1024 * 1024)
#define PROFILE__IDENT_MAX 253            /* 255 with CR LF (RFC 4253 4.2) */
#define PROFILE__MAX_AUTH_TRIES_MAX 1000

#define PROFILE__DEFAULT_IDENTIFICATION "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"
#define PROFILE__DEFAULT_PORT 2222
#define PROFILE__DEFAULT_LISTEN "127.0.0.1"
#define PROFILE__DEFAULT_MAX_AUTH_TRIES 6
#define PROFILE__DEFAULT_LOGIN_GRACE 120
#define PROFILE__DEFAULT_EXEC_STATUS 127
#define PROFILE__DEFAULT_EXEC_ERR "sh: 1: %c: not found\n"
#define PROFILE__DEFAULT_PROMPT "%u@sshmock:~$ "

typedef enum {
    PROFILE__OP_DESCRIPTION,
    PROFILE__OP_IDENTIFICATION,
    PROFILE__OP_PORT,
    PROFILE__OP_LISTEN_ADDRESS,
    PROFILE__OP_HOSTKEY,
    PROFILE__OP_KEX,
    PROFILE__OP_CIPHERS,
    PROFILE__OP_MACS,
    PROFILE__OP_HOSTKEY_ALGS,
    PROFILE__OP_PUBKEY_ALGS,
    PROFILE__OP_PASSWORD_AUTH,
    PROFILE__OP_PUBKEY_AUTH,
    PROFILE__OP_KBD_AUTH,
    PROFILE__OP_AUTH_METHODS,
    PROFILE__OP_MAX_AUTH_TRIES,
    PROFILE__OP_LOGIN_GRACE_TIME,
    PROFILE__OP_BANNER,
    PROFILE__OP_ACCOUNT,
    PROFILE__OP_ACCOUNT_KEY,
    PROFILE__OP_ACCOUNT_KEY_FILE,
    PROFILE__OP_EXEC,
    PROFILE__OP_DEFAULT_EXEC,
    PROFILE__OP_SHELL_PROMPT,
    PROFILE__OP_MAX_STARTUPS,
    PROFILE__OP_HOSTKEY_ROTATION,
    PROFILE__OP_FAULT,
    PROFILE__OP_EXPLAIN,
    PROFILE__OP_FIX_CLIENT,
    PROFILE__OP_FIX_SERVER,
    PROFILE__OP_MATRIX_AUTH,
    PROFILE__OP_MATRIX_HOLD,
    PROFILE__OP_MATRIX_KNOWN_HOST,
    PROFILE__OP_CLIENT_OPTIONS,
    PROFILE__OP_CLIENT_FIX,
    PROFILE__OP_EXPECT,
    PROFILE__OP_MATCH,
    PROFILE__OP_INCLUDE,
    PROFILE__OP_IGNORED,
    PROFILE__OP_COUNT
} profile__op_t;

/* Row flags. */
#define PROFILE__F_MULTI   0x1  /* every occurrence counts (else the first wins) */
#define PROFILE__F_IGNORED 0x2  /* sshd keyword without effect here: warn, keep */
#define PROFILE__F_ALIAS   0x4  /* another name of the row above it */
#define PROFILE__F_OWN     0x8  /* sshmock's own keyword, not sshd's */

#define PROFILE__ANY (-1)       /* max_args: no limit */

typedef struct profile__keyword_s {
    const char *name;
    profile__op_t op;
    unsigned flags;
    int min_args;
    int max_args;
    const char *shape;    /* the arguments, for messages and docs */
    const char *defval;   /* the default, for docs (NULL: none) */
} profile__keyword_t;

/* Table order is the order profile_print() writes the settings in. */
static const profile__keyword_t profile__keywords[] = {
    { "Description", PROFILE__OP_DESCRIPTION, PROFILE__F_OWN, 1, PROFILE__ANY,
      "TEXT...", "\"\"" },
    { "Identification", PROFILE__OP_IDENTIFICATION, PROFILE__F_OWN, 1, PROFILE__ANY,
      "SSH-PROTOVERSION-SOFTWAREVERSION [COMMENTS]", PROFILE__DEFAULT_IDENTIFICATION },
    { "Port", PROFILE__OP_PORT, 0, 1, 1, "1..65535", "2222" },
    { "ListenAddress", PROFILE__OP_LISTEN_ADDRESS, 0, 1, 1,
      "ADDRESS | ADDRESS:PORT | [ADDRESS]:PORT", PROFILE__DEFAULT_LISTEN },
    { "HostKey", PROFILE__OP_HOSTKEY, PROFILE__F_MULTI, 1, 1,
      "PATH | generate:ed25519 | generate:ecdsa-256|384|521 | generate:rsa-BITS"
      " | generate:dsa",
      "generate:ed25519, generate:rsa-3072, generate:ecdsa-256" },
    { "KexAlgorithms", PROFILE__OP_KEX, 0, 1, 1, "[+-^]LIST", NULL },
    { "Ciphers", PROFILE__OP_CIPHERS, 0, 1, 1, "[+-^]LIST", NULL },
    { "MACs", PROFILE__OP_MACS, 0, 1, 1, "[+-^]LIST", NULL },
    { "HostKeyAlgorithms", PROFILE__OP_HOSTKEY_ALGS, 0, 1, 1, "[+-^]LIST",
      NULL },
    { "PubkeyAcceptedAlgorithms", PROFILE__OP_PUBKEY_ALGS, 0, 1, 1, "[+-^]LIST",
      NULL },
    { "PubkeyAcceptedKeyTypes", PROFILE__OP_PUBKEY_ALGS, PROFILE__F_ALIAS, 1, 1,
      "[+-^]LIST", NULL },
    { "PasswordAuthentication", PROFILE__OP_PASSWORD_AUTH, 0, 1, 1, "yes|no", "yes" },
    { "PubkeyAuthentication", PROFILE__OP_PUBKEY_AUTH, 0, 1, 1, "yes|no", "yes" },
    { "KbdInteractiveAuthentication", PROFILE__OP_KBD_AUTH, 0, 1, 1, "yes|no",
      "yes" },
    { "ChallengeResponseAuthentication", PROFILE__OP_KBD_AUTH, PROFILE__F_ALIAS,
      1, 1, "yes|no", "yes" },
    { "AuthenticationMethods", PROFILE__OP_AUTH_METHODS, 0, 1, PROFILE__ANY,
      "any | METHOD[,METHOD...] ...", "any" },
    { "MaxAuthTries", PROFILE__OP_MAX_AUTH_TRIES, 0, 1, 1, "1..1000", "6" },
    { "LoginGraceTime", PROFILE__OP_LOGIN_GRACE_TIME, 0, 1, 1,
      "TIME (120, 2m, 1h30m; 0: no limit)", "120" },
    { "Banner", PROFILE__OP_BANNER, 0, 1, 1, "PATH | none", "none" },
    { "MaxStartups", PROFILE__OP_MAX_STARTUPS, 0, 1, 1, "START[:RATE:FULL]",
      "10:30:100" },
    { "HostKeyRotation", PROFILE__OP_HOSTKEY_ROTATION, PROFILE__F_OWN, 1, 1,
      "never | restart | connection", "never" },
    { "Fault", PROFILE__OP_FAULT, PROFILE__F_MULTI | PROFILE__F_OWN, 2, PROFILE__ANY,
      "STAGE ACTION [ARGS...] [when CONDITION]", NULL },
    { "Explain", PROFILE__OP_EXPLAIN, PROFILE__F_MULTI | PROFILE__F_OWN, 1, PROFILE__ANY,
      "TEXT...", NULL },
    { "FixClient", PROFILE__OP_FIX_CLIENT, PROFILE__F_MULTI | PROFILE__F_OWN, 1,
      PROFILE__ANY, "TEXT...", NULL },
    { "FixServer", PROFILE__OP_FIX_SERVER, PROFILE__F_MULTI | PROFILE__F_OWN, 1,
      PROFILE__ANY, "TEXT...", NULL },
    { "MatrixAuth", PROFILE__OP_MATRIX_AUTH, PROFILE__F_OWN, 1, 1,
      "password | key | key-rsa | wrong-password", "password" },
    { "MatrixHold", PROFILE__OP_MATRIX_HOLD, PROFILE__F_OWN, 1, 1, "0..50", "0" },
    { "MatrixKnownHost", PROFILE__OP_MATRIX_KNOWN_HOST, PROFILE__F_OWN, 1, 1, "yes|no",
      "no" },
    { "ClientOptions", PROFILE__OP_CLIENT_OPTIONS, PROFILE__F_MULTI | PROFILE__F_OWN, 2,
      PROFILE__ANY, "CLIENT KEY=VALUE...", NULL },
    { "ClientFix", PROFILE__OP_CLIENT_FIX, PROFILE__F_MULTI | PROFILE__F_OWN, 2,
      PROFILE__ANY, "CLIENT KEY=VALUE...", NULL },
    { "Expect", PROFILE__OP_EXPECT, PROFILE__F_MULTI | PROFILE__F_OWN, 2, 4,
      "CLIENT connect | CLIENT fail STAGE [REGEX]", NULL },
    { "Account", PROFILE__OP_ACCOUNT, PROFILE__F_MULTI | PROFILE__F_OWN, 1, 2,
      "NAME [PASSWORD]", NULL },
    { "AccountKey", PROFILE__OP_ACCOUNT_KEY, PROFILE__F_MULTI | PROFILE__F_OWN, 3,
      PROFILE__ANY, "NAME KEYTYPE BASE64 [COMMENT]", NULL },
    { "AccountKeyFile", PROFILE__OP_ACCOUNT_KEY_FILE,
      PROFILE__F_MULTI | PROFILE__F_OWN, 2, 2, "NAME PATH", NULL },
    { "ExecResponse", PROFILE__OP_EXEC, PROFILE__F_MULTI | PROFILE__F_OWN, 2, 4,
      "COMMAND EXIT_STATUS [STDOUT [STDERR]]", NULL },
    { "DefaultExecResponse", PROFILE__OP_DEFAULT_EXEC, PROFILE__F_OWN, 1, 3,
      "EXIT_STATUS [STDOUT [STDERR]]", "127 \"\" \"sh: 1: %c: not found\\n\"" },
    { "ShellPrompt", PROFILE__OP_SHELL_PROMPT, PROFILE__F_OWN, 1, 1, "STRING",
      "\"%u@sshmock:~$ \"" },
    { "Match", PROFILE__OP_MATCH, 0, 0, PROFILE__ANY, "CRITERIA...", NULL },
    { "Include", PROFILE__OP_INCLUDE, 0, 0, PROFILE__ANY, "PATH...", NULL },

    /* sshd keywords that change nothing in sshmock. They are accepted so a
     * server's sshd_config (or `sshd -T` output) can be pasted in; each one
     * still gets a warning so nobody believes it is being played. */
#define PROFILE__IGNORED(name) \
    { name, PROFILE__OP_IGNORED, PROFILE__F_IGNORED, 1, PROFILE__ANY, "VALUE...", NULL }
    PROFILE__IGNORED("AcceptEnv"),
    PROFILE__IGNORED("AddressFamily"),
    PROFILE__IGNORED("AllowAgentForwarding"),
    PROFILE__IGNORED("AllowGroups"),
    PROFILE__IGNORED("AllowStreamLocalForwarding"),
    PROFILE__IGNORED("AllowTcpForwarding"),
    PROFILE__IGNORED("AllowUsers"),
    PROFILE__IGNORED("AuthorizedKeysCommand"),
    PROFILE__IGNORED("AuthorizedKeysCommandUser"),
    PROFILE__IGNORED("AuthorizedKeysFile"),
    PROFILE__IGNORED("AuthorizedPrincipalsCommand"),
    PROFILE__IGNORED("AuthorizedPrincipalsCommandUser"),
    PROFILE__IGNORED("AuthorizedPrincipalsFile"),
    PROFILE__IGNORED("CASignatureAlgorithms"),
    PROFILE__IGNORED("ChannelTimeout"),
    PROFILE__IGNORED("ChrootDirectory"),
    PROFILE__IGNORED("ClientAliveCountMax"),
    PROFILE__IGNORED("ClientAliveInterval"),
    PROFILE__IGNORED("Compression"),
    PROFILE__IGNORED("DebianBanner"),
    PROFILE__IGNORED("DenyGroups"),
    PROFILE__IGNORED("DenyUsers"),
    PROFILE__IGNORED("DisableForwarding"),
    PROFILE__IGNORED("ExposeAuthInfo"),
    PROFILE__IGNORED("FingerprintHash"),
    PROFILE__IGNORED("ForceCommand"),
    PROFILE__IGNORED("GatewayPorts"),
    PROFILE__IGNORED("GSSAPIAuthentication"),
    PROFILE__IGNORED("GSSAPICleanupCredentials"),
    PROFILE__IGNORED("GSSAPIKexAlgorithms"),
    PROFILE__IGNORED("GSSAPIKeyExchange"),
    PROFILE__IGNORED("GSSAPIStoreCredentialsOnRekey"),
    PROFILE__IGNORED("GSSAPIStrictAcceptorCheck"),
    PROFILE__IGNORED("HostbasedAcceptedAlgorithms"),
    PROFILE__IGNORED("HostbasedAcceptedKeyTypes"),
    PROFILE__IGNORED("HostbasedAuthentication"),
    PROFILE__IGNORED("HostbasedUsesNameFromPacketOnly"),
    PROFILE__IGNORED("HostCertificate"),
    PROFILE__IGNORED("HostKeyAgent"),
    PROFILE__IGNORED("IgnoreRhosts"),
    PROFILE__IGNORED("IgnoreUserKnownHosts"),
    PROFILE__IGNORED("IPQoS"),
    PROFILE__IGNORED("KerberosAuthentication"),
    PROFILE__IGNORED("KerberosGetAFSToken"),
    PROFILE__IGNORED("KerberosOrLocalPasswd"),
    PROFILE__IGNORED("KerberosTicketCleanup"),
    PROFILE__IGNORED("KeyRegenerationInterval"),
    PROFILE__IGNORED("LogLevel"),
    PROFILE__IGNORED("LogVerbose"),
    PROFILE__IGNORED("MaxSessions"),
    PROFILE__IGNORED("ModuliFile"),
    PROFILE__IGNORED("PermitEmptyPasswords"),
    PROFILE__IGNORED("PermitListen"),
    PROFILE__IGNORED("PermitOpen"),
    PROFILE__IGNORED("PermitRootLogin"),
    PROFILE__IGNORED("PermitTTY"),
    PROFILE__IGNORED("PermitTunnel"),
    PROFILE__IGNORED("PermitUserEnvironment"),
    PROFILE__IGNORED("PermitUserRC"),
    PROFILE__IGNORED("PerSourceMaxStartups"),
    PROFILE__IGNORED("PerSourceNetBlockSize"),
    PROFILE__IGNORED("PidFile"),
    PROFILE__IGNORED("PrintLastLog"),
    PROFILE__IGNORED("PrintMotd"),
    PROFILE__IGNORED("Protocol"),
    PROFILE__IGNORED("PubkeyAuthOptions"),
    PROFILE__IGNORED("RDomain"),
    PROFILE__IGNORED("RekeyLimit"),
    PROFILE__IGNORED("RequiredRSASize"),
    PROFILE__IGNORED("RevokedKeys"),
    PROFILE__IGNORED("RhostsRSAAuthentication"),
    PROFILE__IGNORED("RSAAuthentication"),
    PROFILE__IGNORED("SecurityKeyProvider"),
    PROFILE__IGNORED("ServerKeyBits"),
    PROFILE__IGNORED("SetEnv"),
    PROFILE__IGNORED("StreamLocalBindMask"),
    PROFILE__IGNORED("StreamLocalBindUnlink"),
    PROFILE__IGNORED("StrictModes"),
    PROFILE__IGNORED("Subsystem"),
    PROFILE__IGNORED("SyslogFacility"),
    PROFILE__IGNORED("TCPKeepAlive"),
    PROFILE__IGNORED("TrustedUserCAKeys"),
    PROFILE__IGNORED("UnusedConnectionTimeout"),
    PROFILE__IGNORED("UseDNS"),
    PROFILE__IGNORED("UseLogin"),
    PROFILE__IGNORED("UsePAM"),
    PROFILE__IGNORED("UsePrivilegeSeparation"),
    PROFILE__IGNORED("VersionAddendum"),
    PROFILE__IGNORED("X11DisplayOffset"),
    PROFILE__IGNORED("X11Forwarding"),
    PROFILE__IGNORED("X11UseLocalhost"),
    PROFILE__IGNORED("XAuthLocation"),
#undef PROFILE__IGNORED
};

/* An ignored keyword as written, kept for profile_print(). */
typedef struct profile__ignored_s {
    size_t row;   /* index into profile__keywords */
    char *args;   /* raw arguments, re-quoted where needed */
} profile__ignored_t;

/* What profile_t does not show: the caller only ever sees &full->pub, which
 * is the same address, so profile_free() can get the rest back. */
typedef struct profile__full_s {
    profile_t pub;
    profile__ignored_t *ignored;
    size_t nignored;
} profile__full_t;

/* An authorized key waiting for its account: accounts may be declared
 * after their keys, so keys are attached once every line has been read. */
typedef struct profile__pending_key_s {
    char *account;
    char *key;    /* "type base64 [comment]" */
    int line;
    const char *keyword;
} profile__pending_key_t;

typedef struct profile__parser_s {
    profile__full_t *full;
    const char *path;             /* names the profile in messages */
    FILE *warn;                   /* NULL: warnings dropped */
    char *errbuf;
    size_t errlen;
    int line;
    int seen[PROFILE__OP_COUNT];  /* line of the first occurrence, 0: none */
    char *algo_value[ALGO__COUNT];
    profile__pending_key_t *keys;
    size_t nkeys;
    int *exec_lines;              /* parallel to full->pub.execs */
    int listen_port;              /* from "ListenAddress ADDR:PORT", 0: none */
} profile__parser_t;

/* ---- messages ---------------------------------------------------------- */

static int
profile__fail(profile__parser_t *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "FILE:LINE: message" (or "FILE: message" for line 0). */
static int
profile__fail(profile__parser_t *ps, int line, const char *fmt, ...)
{
    va_list ap;
    int n = 0;

    if (ps->errbuf == NULL || ps->errlen == 0) {
        return SSHMOCK_EPROFILE;
    }
    if (line > 0) {
        n = snprintf(ps->errbuf, ps->errlen, "%s:%d: ", ps->path, line);
    } else {
        n = snprintf(ps->errbuf, ps->errlen, "%s: ", ps->path);
    }
    if (n >= 0 && (size_t)n < ps->errlen) {
        va_start(ap, fmt);
        vsnprintf(ps->errbuf + n, ps->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return SSHMOCK_EPROFILE;
}

static int
profile__nomem(profile__parser_t *ps)
{
    if (ps->errbuf != NULL && ps->errlen > 0) {
        snprintf(ps->errbuf, ps->errlen, "%s: out of memory", ps->path);
    }
    return SSHMOCK_ENOMEM;
}

static void
profile__warn(profile__parser_t *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
profile__warn(profile__parser_t *ps, int line, const char *fmt, ...)
{
    va_list ap;

    if (ps->warn == NULL) {
        return;
    }
    fprintf(ps->warn, "%s:%d: warning: ", ps->path, line);
    va_start(ap, fmt);
    vfprintf(ps->warn, fmt, ap);
    va_end(ap);
    fputc('\n', ps->warn);
}

/* ---- freeing ----------------------------------------------------------- */

static void
profile__exec_clear(profile_exec_t *e)
{
    free(e->command);
    free(e->out);
    free(e->err);
    memset(e, 0, sizeof *e);
}

static void
profile__account_clear(profile_account_t *a)
{
    size_t i;

    free(a->name);
    if (a->password != NULL) {
        /* Passwords are test data, but nothing is gained by leaving them
         * in freed memory either. */
        memset(a->password, 0, strlen(a->password));
        free(a->password);
    }
    for (i = 0; i < a->nauthorized_keys; i++) {
        free(a->authorized_keys[i]);
    }
    free(a->authorized_keys);
    memset(a, 0, sizeof *a);
}

static void
profile__client_opts_clear(profile_client_opts_t *o)
{
    size_t j;

    free(o->client);
    for (j = 0; j < o->nopts; j++) {
        free(o->opts[j]);
    }
    free(o->opts);
    memset(o, 0, sizeof *o);
}

static void
profile__client_opts_free(profile_client_opts_t *o, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        profile__client_opts_clear(&o[i]);
    }
    free(o);
}

/* The clients the matrix knows; "custom" clients take one of these as
 * their model, so the same names must be used here. */
static const char *const profile__clients[] = {
    "openssh", "plink", "dbclient", "paramiko", "asyncssh", "ssh2", "libssh",
};

static int
profile__known_client(const char *name)
{
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(profile__clients); i++) {
        if (strcmp(profile__clients[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *const profile__stages[] = {
    "tcp", "banner", "kex", "hostkey", "auth", "session", "timeout",
};

void
profile_free(profile_t *p)
{
    profile__full_t *full = (profile__full_t *)p;
    size_t i;

    if (p == NULL) {
        return;
    }
    free(p->path);
    free(p->dir);
    free(p->name);
    free(p->description);
    free(p->identification);
    free(p->kex_algorithms);
    free(p->ciphers);
    free(p->macs);
    free(p->hostkey_algorithms);
    free(p->pubkey_accepted_algorithms);
    free(p->authentication_methods);
    free(p->banner_path);
    free(p->banner);
    free(p->listen_address);
    for (i = 0; i < p->nhostkeys; i++) {
        free(p->hostkeys[i].path);
        free(p->hostkeys[i].spec);
    }
    for (i = 0; i < p->naccounts; i++) {
        profile__account_clear(&p->accounts[i]);
    }
    free(p->accounts);
    for (i = 0; i < p->nexecs; i++) {
        profile__exec_clear(&p->execs[i]);
    }
    free(p->execs);
    profile__exec_clear(&p->default_exec);
    free(p->shell_prompt);
    for (i = 0; i < p->nfaults; i++) {
        fault_rule_free(&p->faults[i]);
    }
    free(p->faults);
    for (i = 0; i < p->nexpects; i++) {
        free(p->expects[i].client);
        free(p->expects[i].stage);
        free(p->expects[i].pattern);
    }
    free(p->expects);
    profile__client_opts_free(p->client_options, p->nclient_options);
    profile__client_opts_free(p->client_fixes, p->nclient_fixes);
    free(p->explanation);
    free(p->fix_client);
    free(p->fix_server);
    for (i = 0; i < full->nignored; i++) {
        free(full->ignored[i].args);
    }
    free(full->ignored);
    free(full);
}

static void
profile__parser_clear(profile__parser_t *ps)
{
    size_t i;

    for (i = 0; i < ALGO__COUNT; i++) {
        free(ps->algo_value[i]);
        ps->algo_value[i] = NULL;
    }
    for (i = 0; i < ps->nkeys; i++) {
        free(ps->keys[i].account);
        free(ps->keys[i].key);
    }
    free(ps->keys);
    ps->keys = NULL;
    ps->nkeys = 0;
    free(ps->exec_lines);
    ps->exec_lines = NULL;
}

/* ---- lexing ------------------------------------------------------------ */

typedef struct profile__args_s {
    char **v;
    int n;
} profile__args_t;

static void
profile__args_free(profile__args_t *a)
{
    int i;

    for (i = 0; i < a->n; i++) {
        free(a->v[i]);
    }
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

static int
profile__args_push(profile__args_t *a, char *s)
{
    char **v = realloc(a->v, (size_t)(a->n + 1) * sizeof *v);

    if (v == NULL) {
        free(s);
        return -1;
    }
    v[a->n++] = s;
    a->v = v;
    return 0;
}

/*
 * Cuts the arguments of a line like sshd does: words are separated by
 * spaces and tabs, double quotes group words, a word that starts with an
 * unquoted '#' starts a comment. A backslash protects the character after
 * it from ending a word or a quote, and both are kept: what a backslash
 * means depends on the argument (profile__unescape), and decoding twice
 * would turn "\\n" into a newline.
 * Returns 0, -1 for an unterminated quote, -2 when out of memory.
 */
static int
profile__split(const char *s, profile__args_t *out)
{
    util_buf_t tok = UTIL_BUF_INIT;

    for (;;) {
        int quoted = 0;

        while (*s == ' ' || *s == '\t') {
            s++;
        }
        if (*s == '\0' || *s == '#') {
            break;
        }
        util_buf_reset(&tok);
        /* An empty quoted word ("") is a word too. */
        if (util_buf_append(&tok, "", 0) < 0) {
            goto nomem;
        }
        while (*s != '\0') {
            if (*s == '\\' && s[1] != '\0') {
                if (util_buf_append(&tok, s, 2) < 0) {
                    goto nomem;
                }
                s += 2;
                continue;
            }
            if (!quoted && (*s == ' ' || *s == '\t')) {
                break;
            }
            if (*s == '"') {
                quoted = !quoted;
            } else if (util_buf_append(&tok, s, 1) < 0) {
                goto nomem;
            }
            s++;
        }
        if (quoted) {
            util_buf_free(&tok);
            return -1;
        }
        if (profile__args_push(out, tok.data) < 0) {
            tok.data = NULL;
            goto nomem;
        }
        tok.data = NULL;
        tok.len = tok.cap = 0;
    }
    util_buf_free(&tok);
    return 0;
nomem:
    util_buf_free(&tok);
    return -2;
}

static int
profile__hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/*
 * Decodes a raw argument. Plain arguments know only \" and \\ (sshd's
 * rule); any other backslash stays as written, so a Windows-looking path
 * survives. Text that a command prints (`full`) also knows \n \t \r and
 * \xHH, and refuses other escapes because a typo there would otherwise
 * show up only in a client's output.
 */
static int
profile__unescape(const char *raw, int full, char **out, size_t *outlen,
                  char *why, size_t whylen)
{
    util_buf_t b = UTIL_BUF_INIT;
    const char *s = raw;

    if (util_buf_append(&b, "", 0) < 0) {
        goto nomem;
    }
    while (*s != '\0') {
        char c = *s;
        int rc = 0;

        if (c != '\\' || s[1] == '\0') {
            if (full && c == '\\') {
                snprintf(why, whylen, "a lone backslash ends the string");
                goto fail;
            }
            rc = util_buf_append(&b, s, 1);
            s++;
        } else if (s[1] == '"' || s[1] == '\\') {
            rc = util_buf_append(&b, s + 1, 1);
            s += 2;
        } else if (!full) {
            rc = util_buf_append(&b, s, 2);
            s += 2;
        } else if (s[1] == 'n' || s[1] == 't' || s[1] == 'r') {
            char d = s[1] == 'n' ? '\n' : s[1] == 't' ? '\t' : '\r';
            rc = util_buf_append(&b, &d, 1);
            s += 2;
        } else if (s[1] == 'x') {
            int hi = profile__hexval(s[2]);
            int lo = hi < 0 ? -1 : profile__hexval(s[3]);
            char d;

            if (hi < 0 || lo < 0) {
                snprintf(why, whylen, "\\x needs two hex digits");
                goto fail;
            }
            d = (char)(hi * 16 + lo);
            rc = util_buf_append(&b, &d, 1);
            s += 4;
        } else {
            snprintf(why, whylen,
                     "unknown escape '\\%c' (known: \\n \\t \\r \\\\ \\\" \\xHH)",
                     s[1]);
            goto fail;
        }
        if (rc < 0) {
            goto nomem;
        }
    }
    *out = b.data;
    if (outlen != NULL) {
        *outlen = b.len;
    }
    return 0;
nomem:
    snprintf(why, whylen, "out of memory");
    util_buf_free(&b);
    return -2;
fail:
    util_buf_free(&b);
    return -1;
}

/* Writes s so that profile__split() reads it back as one raw word. */
static int
profile__buf_word(util_buf_t *b, const char *raw)
{
    if (raw[0] != '\0' && raw[0] != '#' && strpbrk(raw, " \t\"") == NULL) {
        return util_buf_puts(b, raw);
    }
    if (util_buf_puts(b, "\"") < 0 || util_buf_puts(b, raw) < 0) {
        return -1;
    }
    return util_buf_puts(b, "\"");
}

/* Joins decoded words with single spaces, for the rest-of-line keywords. */
static int
profile__join(profile__parser_t *ps, const profile__keyword_t *kw,
              char **argv, int argc, char **out)
{
    util_buf_t b = UTIL_BUF_INIT;
    char why[128];
    int i;

    for (i = 0; i < argc; i++) {
        char *word = NULL;
        int rc = profile__unescape(argv[i], 0, &word, NULL, why, sizeof why);

        if (rc < 0) {
            util_buf_free(&b);
            return rc == -2 ? profile__nomem(ps)
                            : profile__fail(ps, ps->line, "%s: %s", kw->name, why);
        }
        if ((i > 0 && util_buf_puts(&b, " ") < 0) || util_buf_puts(&b, word) < 0) {
            free(word);
            util_buf_free(&b);
            return profile__nomem(ps);
        }
        free(word);
    }
    *out = b.data;
    return 0;
}

/* ---- values ------------------------------------------------------------ */

static int
profile__number(profile__parser_t *ps, const profile__keyword_t *kw,
                const char *arg, long min, long max, int *out)
{
    char *end = NULL;
    long v;

    if (arg[0] < '0' || arg[0] > '9') {
        return profile__fail(ps, ps->line, "%s: '%s' is not a number",
                             kw->name, arg);
    }
    errno = 0;
    v = strtol(arg, &end, 10);
    if (*end != '\0') {
        return profile__fail(ps, ps->line, "%s: '%s' is not a number",
                             kw->name, arg);
    }
    if (errno == ERANGE || v < min || v > max) {
        return profile__fail(ps, ps->line, "%s: %s is out of range (%ld..%ld)",
                             kw->name, arg, min, max);
    }
    *out = (int)v;
    return 0;
}

static int
profile__yesno(profile__parser_t *ps, const profile__keyword_t *kw,
               const char *arg, int *out)
{
    if (strcasecmp(arg, "yes") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(arg, "no") == 0) {
        *out = 0;
        return 0;
    }
    return profile__fail(ps, ps->line, "%s: expected yes or no, got '%s'",
                         kw->name, arg);
}

/* sshd's time format: 120, 2m, 1h30m, 1w; a bare number is seconds. */
static int
profile__time(profile__parser_t *ps, const profile__keyword_t *kw,
              const char *arg, int *out)
{
    const char *s = arg;
    long long total = 0;

    if (*s == '\0') {
        goto bad;
    }
    while (*s != '\0') {
        long long n = 0;
        long long mult = 1;

        if (*s < '0' || *s > '9') {
            goto bad;
        }
        while (*s >= '0' && *s <= '9') {
            n = n * 10 + (*s - '0');
            if (n > INT_MAX) {
                goto range;
            }
            s++;
        }
        switch (*s) {
        case '\0': break;
        case 's': case 'S': s++; break;
        case 'm': case 'M': mult = 60; s++; break;
        case 'h': case 'H': mult = 60 * 60; s++; break;
        case 'd': case 'D': mult = 24 * 60 * 60; s++; break;
        case 'w': case 'W': mult = 7 * 24 * 60 * 60; s++; break;
        default: goto bad;
        }
        total += n * mult;
        if (total > INT_MAX) {
            goto range;
        }
    }
    *out = (int)total;
    return 0;
bad:
    return profile__fail(ps, ps->line,
                         "%s: bad time value '%s' (e.g. 120, 2m, 1h30m)",
                         kw->name, arg);
range:
    return profile__fail(ps, ps->line, "%s: time value '%s' is too large",
                         kw->name, arg);
}

/* ---- keywords ---------------------------------------------------------- */

static int
profile__do_identification(profile__parser_t *ps, const profile__keyword_t *kw,
                           char **argv, int argc, int first)
{
    char *line = NULL;
    const char *c;
    int rc = profile__join(ps, kw, argv, argc, &line);

    if (rc < 0) {
        return rc;
    }
    if (strncmp(line, "SSH-", 4) != 0) {
        rc = profile__fail(ps, ps->line, "%s: '%s' does not start with \"SSH-\"",
                           kw->name, line);
        goto out;
    }
    if (strlen(line) > PROFILE__IDENT_MAX) {
        rc = profile__fail(ps, ps->line,
                           "%s: longer than %d characters (RFC 4253 allows 255 "
                           "with CR LF)", kw->name, PROFILE__IDENT_MAX);
        goto out;
    }
    for (c = line; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) {
            rc = profile__fail(ps, ps->line,
                               "%s: only printable ASCII is allowed", kw->name);
            goto out;
        }
    }
    if (first) {
        ps->full->pub.identification = line;
        line = NULL;
    }
out:
    free(line);
    return rc;
}

static int
profile__do_listen(profile__parser_t *ps, const profile__keyword_t *kw,
                   const char *arg, int first)
{
    unsigned char addr[sizeof(struct in6_addr)];
    char host[INET6_ADDRSTRLEN + 1];
    const char *port = NULL;
    const char *colon = strchr(arg, ':');
    size_t hostlen;
    int portnum = 0;
    int ok;

    /* sshd -T prints "listenaddress 0.0.0.0:22" and "[::]:22", so the
     * forms with a port are accepted as well as a bare address. */
    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');

        if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
            goto bad;
        }
        hostlen = (size_t)(close - arg - 1);
        if (hostlen >= sizeof host) {
            goto bad;
        }
        memcpy(host, arg + 1, hostlen);
        host[hostlen] = '\0';
        ok = inet_pton(AF_INET6, host, addr) == 1;
        if (close[1] == ':') {
            port = close + 2;
        }
    } else if (colon != NULL && strchr(colon + 1, ':') == NULL) {
        hostlen = (size_t)(colon - arg);
        if (hostlen >= sizeof host) {
            goto bad;
        }
        memcpy(host, arg, hostlen);
        host[hostlen] = '\0';
        ok = inet_pton(AF_INET, host, addr) == 1;
        port = colon + 1;
    } else {
        if (strlen(arg) >= sizeof host) {
            goto bad;
        }
        util_strlcpy(host, arg, sizeof host);
        ok = inet_pton(AF_INET, host, addr) == 1 ||
             inet_pton(AF_INET6, host, addr) == 1;
    }
    if (!ok) {
        goto bad;
    }
    if (port != NULL) {
        int rc = profile__number(ps, kw, port, 1, 65535, &portnum);

        if (rc < 0) {
            return rc;
        }
    }
    if (first) {
        ps->full->pub.listen_address = strdup(host);
        if (ps->full->pub.listen_address == NULL) {
            return profile__nomem(ps);
        }
        ps->listen_port = portnum;
    } else {
        profile__warn(ps, ps->line,
                      "%s repeated: sshmock listens on the first one only (line %d)",
                      kw->name, ps->seen[kw->op]);
    }
    return 0;
bad:
    return profile__fail(ps, ps->line,
                         "%s: '%s' is not a numeric IPv4 or IPv6 address "
                         "(optionally ADDRESS:PORT or [ADDRESS]:PORT)",
                         kw->name, arg);
}

static int
profile__do_hostkey(profile__parser_t *ps, const profile__keyword_t *kw,
                    const char *arg)
{
    profile_t *p = &ps->full->pub;
    profile_hostkey_t hk;
    const char *spec = NULL;
    char canon[32];

    memset(&hk, 0, sizeof hk);
    hk.line = ps->line;
    if (p->nhostkeys >= PROFILE_MAX_HOSTKEYS) {
        return profile__fail(ps, ps->line, "%s: too many host keys (at most %d)",
                             kw->name, PROFILE_MAX_HOSTKEYS);
    }
    if (strcmp(arg, "none") == 0) {
        /* The server whose host keys are missing: see hostkey_none. */
        p->hostkey_none = 1;
        return 0;
    }
    if (strncmp(arg, "generate:", 9) != 0) {
        hk.kind = PROFILE_HOSTKEY_FILE;
        hk.path = util_path_join(p->dir, arg);
        if (hk.path == NULL) {
            return profile__nomem(ps);
        }
        /* The key is parsed by the hostkey module; failing here, with a
         * line number, is kinder than failing there without one. */
        if (access(hk.path, R_OK) != 0) {
            int e = errno;
            int rc = profile__fail(ps, ps->line, "%s: cannot read '%s': %s",
                                   kw->name, hk.path, strerror(e));
            free(hk.path);
            return rc;
        }
        p->hostkeys[p->nhostkeys++] = hk;
        return 0;
    }

    spec = arg + 9;
    hk.kind = PROFILE_HOSTKEY_GENERATE;
    if (strcmp(spec, "ed25519") == 0) {
        hk.keytype = SSH_KEYTYPE_ED25519;
        hk.bits = 0;
        util_strlcpy(canon, "ed25519", sizeof canon);
    } else if (strcmp(spec, "ecdsa-256") == 0) {
        hk.keytype = SSH_KEYTYPE_ECDSA_P256;
        hk.bits = 256;
        util_strlcpy(canon, spec, sizeof canon);
    } else if (strcmp(spec, "ecdsa-384") == 0) {
        hk.keytype = SSH_KEYTYPE_ECDSA_P384;
        hk.bits = 384;
        util_strlcpy(canon, spec, sizeof canon);
    } else if (strcmp(spec, "ecdsa-521") == 0) {
        hk.keytype = SSH_KEYTYPE_ECDSA_P521;
        hk.bits = 521;
        util_strlcpy(canon, spec, sizeof canon);
    } else if (strcmp(spec, "dsa") == 0) {
        /* Accepted so old-server profiles can say what they mean; whether
         * the linked libssh can make or use one is the hostkey module's
         * business (libssh 0.10.6 here is built without DSA). */
        hk.keytype = SSH_KEYTYPE_DSS;
        hk.bits = 1024;
        util_strlcpy(canon, "dsa", sizeof canon);
    } else if (strncmp(spec, "rsa-", 4) == 0 && spec[4] >= '0' && spec[4] <= '9') {
        char *end = NULL;
        long bits;

        errno = 0;
        bits = strtol(spec + 4, &end, 10);
        if (*end != '\0' || errno == ERANGE || bits < 1024 || bits > 16384) {
            return profile__fail(ps, ps->line,
                                 "%s: bad RSA size in '%s' (1024..16384 bits)",
                                 kw->name, arg);
        }
        hk.keytype = SSH_KEYTYPE_RSA;
        hk.bits = (int)bits;
        snprintf(canon, sizeof canon, "rsa-%d", hk.bits);
    } else {
        return profile__fail(ps, ps->line,
                             "%s: bad key spec '%s' (expected generate:ed25519, "
                             "generate:ecdsa-256|384|521, generate:rsa-BITS or "
                             "generate:dsa)", kw->name, arg);
    }
    hk.spec = strdup(canon);
    if (hk.spec == NULL) {
        return profile__nomem(ps);
    }
    p->hostkeys[p->nhostkeys++] = hk;
    return 0;
}

static int
profile__do_auth_methods(profile__parser_t *ps, const profile__keyword_t *kw,
                         char **argv, int argc, int first)
{
    static const char *const methods[] = {
        "password", "publickey", "keyboard-interactive", "none"
    };
    util_buf_t b = UTIL_BUF_INIT;
    int i;

    if (strcmp(argv[0], "any") == 0) {
        if (argc > 1) {
            return profile__fail(ps, ps->line,
                                 "%s: \"any\" must be the only argument", kw->name);
        }
    } else {
        for (i = 0; i < argc; i++) {
            const char *s = argv[i];

            if (strcmp(s, "any") == 0) {
                return profile__fail(ps, ps->line,
                                     "%s: \"any\" must be the only argument",
                                     kw->name);
            }
            while (*s != '\0' || s == argv[i]) {
                size_t len = strcspn(s, ",");
                size_t m;
                int found = 0;

                for (m = 0; m < UTIL_ARRAY_SIZE(methods); m++) {
                    if (strlen(methods[m]) == len && strncmp(s, methods[m], len) == 0) {
                        found = 1;
                    }
                }
                if (!found) {
                    return profile__fail(ps, ps->line,
                                         "%s: unknown method '%.*s' in '%s' "
                                         "(expected password, publickey, "
                                         "keyboard-interactive or none)",
                                         kw->name, (int)len, s, argv[i]);
                }
                s += len;
                if (*s == ',') {
                    s++;
                    if (*s == '\0') {
                        return profile__fail(ps, ps->line,
                                             "%s: empty method in '%s'",
                                             kw->name, argv[i]);
                    }
                }
            }
        }
    }
    if (!first) {
        return 0;
    }
    for (i = 0; i < argc; i++) {
        if ((i > 0 && util_buf_puts(&b, " ") < 0) || util_buf_puts(&b, argv[i]) < 0) {
            util_buf_free(&b);
            return profile__nomem(ps);
        }
    }
    ps->full->pub.authentication_methods = b.data;
    return 0;
}

static int
profile__do_banner(profile__parser_t *ps, const profile__keyword_t *kw,
                   const char *arg, int first)
{
    profile_t *p = &ps->full->pub;
    char *path = NULL;
    char *data = NULL;
    size_t len = 0;
    int rc = 0;

    if (strcmp(arg, "none") == 0) {
        return 0;
    }
    path = util_path_join(p->dir, arg);
    if (path == NULL) {
        return profile__nomem(ps);
    }
    errno = 0;
    if (util_read_file(path, PROFILE__BANNER_MAX, &data, &len) < 0) {
        if (errno == EFBIG) {
            rc = profile__fail(ps, ps->line, "%s: '%s' is larger than %d bytes",
                               kw->name, path, PROFILE__BANNER_MAX);
        } else {
            rc = profile__fail(ps, ps->line, "%s: cannot read '%s': %s",
                               kw->name, path, util_read_file_strerror(errno));
        }
        goto out;
    }
    if (memchr(data, '\0', len) != NULL) {
        rc = profile__fail(ps, ps->line, "%s: '%s' contains a NUL byte",
                           kw->name, path);
        goto out;
    }
    if (first) {
        p->banner_path = path;
        p->banner = data;
        path = NULL;
        data = NULL;
    }
out:
    free(path);
    free(data);
    return rc;
}

static int
profile__do_account(profile__parser_t *ps, const profile__keyword_t *kw,
                    char **argv, int argc)
{
    profile_t *p = &ps->full->pub;
    profile_account_t a;
    profile_account_t *grown = NULL;
    char why[128];
    int rc;

    memset(&a, 0, sizeof a);
    rc = profile__unescape(argv[0], 0, &a.name, NULL, why, sizeof why);
    if (rc < 0) {
        return rc == -2 ? profile__nomem(ps)
                        : profile__fail(ps, ps->line, "%s: %s", kw->name, why);
    }
    if (a.name[0] == '\0') {
        rc = profile__fail(ps, ps->line, "%s: empty account name", kw->name);
        goto fail;
    }
    if (profile_account_find(p, a.name) != NULL) {
        rc = profile__fail(ps, ps->line, "%s: '%s' is defined twice",
                           kw->name, a.name);
        goto fail;
    }
    if (argc > 1) {
        rc = profile__unescape(argv[1], 0, &a.password, NULL, why, sizeof why);
        if (rc < 0) {
            rc = rc == -2 ? profile__nomem(ps)
                          : profile__fail(ps, ps->line, "%s: %s", kw->name, why);
            goto fail;
        }
    }
    grown = realloc(p->accounts, (p->naccounts + 1) * sizeof *grown);
    if (grown == NULL) {
        rc = profile__nomem(ps);
        goto fail;
    }
    p->accounts = grown;
    p->accounts[p->naccounts++] = a;
    return 0;
fail:
    profile__account_clear(&a);
    return rc;
}

/*
 * Checks one authorized key: libssh must know the type and parse the data,
 * and the data must say the same type. libssh parses the data as the type
 * it is told and skips the name inside, so the last check is ours.
 */
static int
profile__key_check(const char *type, const char *b64, char *why, size_t whylen)
{
    enum ssh_keytypes_e kt = ssh_key_type_from_name(type);
    unsigned char prefix[72];
    size_t chunk = strlen(b64);
    ssh_key key = NULL;
    uint32_t namelen;
    int n;

    if (kt == SSH_KEYTYPE_UNKNOWN) {
        snprintf(why, whylen, "unknown key type '%s'", type);
        return -1;
    }
    if (ssh_pki_import_pubkey_base64(b64, kt, &key) != 0 || key == NULL) {
        snprintf(why, whylen, "the key data is not a valid %s public key", type);
        return -1;
    }
    ssh_key_free(key);

    /* 96 base64 characters hold 72 bytes: the length and the longest key
     * type name ("sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", 43). */
    if (chunk > 96) {
        chunk = 96;
    }
    chunk -= chunk % 4;
    n = EVP_DecodeBlock(prefix, (const unsigned char *)b64, (int)chunk);
    if (n < 4) {
        snprintf(why, whylen, "the key data is not a valid %s public key", type);
        return -1;
    }
    namelen = ((uint32_t)prefix[0] << 24) | ((uint32_t)prefix[1] << 16) |
              ((uint32_t)prefix[2] << 8) | (uint32_t)prefix[3];
    if (namelen != strlen(type) || namelen > (uint32_t)(n - 4) ||
        memcmp(prefix + 4, type, namelen) != 0) {
        snprintf(why, whylen, "the key data is not of type %s", type);
        return -1;
    }
    return 0;
}

/* Validates "TYPE BASE64 [COMMENT...]" and queues it for the account. */
static int
profile__queue_key(profile__parser_t *ps, const char *keyword, const char *account,
                   char **words, int nwords, const char *where)
{
    profile__pending_key_t pk;
    profile__pending_key_t *grown = NULL;
    util_buf_t b = UTIL_BUF_INIT;
    char why[160];
    int i;

    memset(&pk, 0, sizeof pk);
    if (profile__key_check(words[0], words[1], why, sizeof why) < 0) {
        return profile__fail(ps, ps->line, "%s: %s%s", keyword, where, why);
    }
    /* The same decoding as the name given to Account, so they compare. */
    i = profile__unescape(account, 0, &pk.account, NULL, why, sizeof why);
    if (i < 0) {
        return i == -2 ? profile__nomem(ps)
                       : profile__fail(ps, ps->line, "%s: %s", keyword, why);
    }
    for (i = 0; i < nwords; i++) {
        if ((i > 0 && util_buf_puts(&b, " ") < 0) || util_buf_puts(&b, words[i]) < 0) {
            util_buf_free(&b);
            free(pk.account);
            return profile__nomem(ps);
        }
    }
    pk.key = b.data;
    pk.line = ps->line;
    pk.keyword = keyword;
    grown = realloc(ps->keys, (ps->nkeys + 1) * sizeof *grown);
    if (grown == NULL) {
        free(pk.key);
        free(pk.account);
        return profile__nomem(ps);
    }
    ps->keys = grown;
    ps->keys[ps->nkeys++] = pk;
    return 0;
}

static int
profile__do_account_key(profile__parser_t *ps, const profile__keyword_t *kw,
                        char **argv, int argc)
{
    return profile__queue_key(ps, kw->name, argv[0], argv + 1, argc - 1, "");
}

/* An authorized_keys file: one key per line, '#' comments, no options. */
static int
profile__do_account_key_file(profile__parser_t *ps, const profile__keyword_t *kw,
                             char **argv)
{
    char *path = util_path_join(ps->full->pub.dir, argv[1]);
    profile__args_t words = { NULL, 0 };
    char *data = NULL;
    char *line = NULL;
    char where[300];
    int lineno = 0;
    int nkeys = 0;
    int rc = 0;

    if (path == NULL) {
        return profile__nomem(ps);
    }
    errno = 0;
    if (util_read_file(path, PROFILE__KEYFILE_MAX, &data, NULL) < 0) {
        rc = profile__fail(ps, ps->line, "%s: cannot read '%s': %s", kw->name,
                           path, util_read_file_strerror(errno));
        goto out;
    }
    for (line = data; line != NULL && *line != '\0'; ) {
        char *next = strchr(line, '\n');
        size_t len;

        if (next != NULL) {
            *next++ = '\0';
        }
        lineno++;
        len = strlen(line);
        if (len > 0 && line[len - 1] == '\r') {
            line[len - 1] = '\0';
        }
        profile__args_free(&words);
        rc = profile__split(line, &words);
        if (rc == -2) {
            rc = profile__nomem(ps);
            goto out;
        }
        snprintf(where, sizeof where, "%s:%d: ", argv[1], lineno);
        if (rc == -1) {
            rc = profile__fail(ps, ps->line, "%s: %sunterminated quote",
                               kw->name, where);
            goto out;
        }
        if (words.n > 0) {
            if (words.n < 2) {
                rc = profile__fail(ps, ps->line, "%s: %sexpected KEYTYPE BASE64 "
                                   "[COMMENT]", kw->name, where);
                goto out;
            }
            if (ssh_key_type_from_name(words.v[0]) == SSH_KEYTYPE_UNKNOWN) {
                rc = profile__fail(ps, ps->line,
                                   "%s: %sunknown key type '%s' (authorized_keys "
                                   "options are not supported)", kw->name, where,
                                   words.v[0]);
                goto out;
            }
            rc = profile__queue_key(ps, kw->name, argv[0], words.v, words.n, where);
            if (rc < 0) {
                goto out;
            }
            nkeys++;
        }
        line = next;
    }
    if (nkeys == 0) {
        rc = profile__fail(ps, ps->line, "%s: '%s' holds no key", kw->name, path);
    }
out:
    profile__args_free(&words);
    free(data);
    free(path);
    return rc;
}

/* Fills an exec response from EXIT_STATUS [STDOUT [STDERR]]. */
static int
profile__exec_parse(profile__parser_t *ps, const profile__keyword_t *kw,
                    char **argv, int argc, profile_exec_t *e)
{
    char why[128];
    int rc;

    rc = profile__number(ps, kw, argv[0], 0, 255, &e->exit_status);
    if (rc < 0) {
        return rc;
    }
    rc = profile__unescape(argc > 1 ? argv[1] : "", 1, &e->out, &e->out_len,
                           why, sizeof why);
    if (rc == 0) {
        rc = profile__unescape(argc > 2 ? argv[2] : "", 1, &e->err, &e->err_len,
                               why, sizeof why);
        if (rc == -1) {
            return profile__fail(ps, ps->line, "%s: STDERR: %s", kw->name, why);
        }
    } else if (rc == -1) {
        return profile__fail(ps, ps->line, "%s: STDOUT: %s", kw->name, why);
    }
    return rc == -2 ? profile__nomem(ps) : 0;
}

static int
profile__do_exec(profile__parser_t *ps, const profile__keyword_t *kw,
                 char **argv, int argc)
{
    profile_t *p = &ps->full->pub;
    profile_exec_t e;
    profile_exec_t *grown = NULL;
    int *lines = NULL;
    char why[128];
    size_t i;
    int rc;

    memset(&e, 0, sizeof e);
    rc = profile__unescape(argv[0], 0, &e.command, NULL, why, sizeof why);
    if (rc < 0) {
        return rc == -2 ? profile__nomem(ps)
                        : profile__fail(ps, ps->line, "%s: %s", kw->name, why);
    }
    rc = profile__exec_parse(ps, kw, argv + 1, argc - 1, &e);
    if (rc < 0) {
        goto fail;
    }
    for (i = 0; i < p->nexecs; i++) {
        if (strcmp(p->execs[i].command, e.command) == 0) {
            profile__warn(ps, ps->line,
                          "%s for \"%s\" repeats line %d, which is the one used",
                          kw->name, e.command, ps->exec_lines[i]);
            profile__exec_clear(&e);
            return 0;
        }
    }
    grown = realloc(p->execs, (p->nexecs + 1) * sizeof *grown);
    if (grown == NULL) {
        rc = profile__nomem(ps);
        goto fail;
    }
    p->execs = grown;
    lines = realloc(ps->exec_lines, (p->nexecs + 1) * sizeof *lines);
    if (lines == NULL) {
        rc = profile__nomem(ps);
        goto fail;
    }
    ps->exec_lines = lines;
    ps->exec_lines[p->nexecs] = ps->line;
    p->execs[p->nexecs++] = e;
    return 0;
fail:
    profile__exec_clear(&e);
    return rc;
}

static int
profile__do_shell_prompt(profile__parser_t *ps, const profile__keyword_t *kw,
                         const char *arg, int first)
{
    char *prompt = NULL;
    size_t len = 0;
    char why[128];
    int rc = profile__unescape(arg, 1, &prompt, &len, why, sizeof why);

    if (rc < 0) {
        return rc == -2 ? profile__nomem(ps)
                        : profile__fail(ps, ps->line, "%s: %s", kw->name, why);
    }
    if (strlen(prompt) != len) {
        free(prompt);
        return profile__fail(ps, ps->line, "%s: a NUL byte is not allowed",
                             kw->name);
    }
    if (first) {
        ps->full->pub.shell_prompt = prompt;
    } else {
        free(prompt);
    }
    return 0;
}

static int
profile__do_ignored(profile__parser_t *ps, const profile__keyword_t *kw,
                    char **argv, int argc)
{
    profile__full_t *full = ps->full;
    profile__ignored_t *grown = NULL;
    util_buf_t b = UTIL_BUF_INIT;
    int i;

    profile__warn(ps, ps->line, "%s is accepted but has no effect in sshmock",
                  kw->name);
    for (i = 0; i < argc; i++) {
        if ((i > 0 && util_buf_puts(&b, " ") < 0) || profile__buf_word(&b, argv[i]) < 0) {
            util_buf_free(&b);
            return profile__nomem(ps);
        }
    }
    grown = realloc(full->ignored, (full->nignored + 1) * sizeof *grown);
    if (grown == NULL) {
        util_buf_free(&b);
        return profile__nomem(ps);
    }
    full->ignored = grown;
    full->ignored[full->nignored].row = (size_t)(kw - profile__keywords);
    full->ignored[full->nignored].args = b.data;
    full->nignored++;
    return 0;
}

static algo_kind_t
profile__algo_kind(profile__op_t op)
{
    switch (op) {
    case PROFILE__OP_KEX: return ALGO_KEX;
    case PROFILE__OP_CIPHERS: return ALGO_CIPHER;
    case PROFILE__OP_MACS: return ALGO_MAC;
    case PROFILE__OP_HOSTKEY_ALGS: return ALGO_HOSTKEY;
    case PROFILE__OP_PUBKEY_ALGS: return ALGO_PUBKEY;
    default: return ALGO__COUNT;
    }
}

static int
profile__dispatch(profile__parser_t *ps, const profile__keyword_t *kw,
                  char **argv, int argc, int first)
{
    profile_t *p = &ps->full->pub;
    int rc = 0;
    int v = 0;

    switch (kw->op) {
    case PROFILE__OP_DESCRIPTION: {
        char *text = NULL;

        rc = profile__join(ps, kw, argv, argc, &text);
        if (rc == 0 && first) {
            p->description = text;
        } else {
            free(text);
        }
        return rc;
    }
    case PROFILE__OP_IDENTIFICATION:
        return profile__do_identification(ps, kw, argv, argc, first);
    case PROFILE__OP_PORT:
        rc = profile__number(ps, kw, argv[0], 1, 65535, &v);
        if (rc == 0 && first) {
            p->port = v;
        } else if (rc == 0) {
            profile__warn(ps, ps->line,
                          "%s repeated: sshmock listens on the first one only "
                          "(line %d)", kw->name, ps->seen[kw->op]);
        }
        return rc;
    case PROFILE__OP_LISTEN_ADDRESS:
        return profile__do_listen(ps, kw, argv[0], first);
    case PROFILE__OP_HOSTKEY:
        return profile__do_hostkey(ps, kw, argv[0]);
    case PROFILE__OP_KEX:
    case PROFILE__OP_CIPHERS:
    case PROFILE__OP_MACS:
    case PROFILE__OP_HOSTKEY_ALGS:
    case PROFILE__OP_PUBKEY_ALGS: {
        /* Resolved after the last line, where every list is at hand. */
        algo_kind_t kind = profile__algo_kind(kw->op);

        if (first) {
            ps->algo_value[kind] = strdup(argv[0]);
            if (ps->algo_value[kind] == NULL) {
                return profile__nomem(ps);
            }
        }
        return 0;
    }
    case PROFILE__OP_PASSWORD_AUTH:
        rc = profile__yesno(ps, kw, argv[0], &v);
        if (rc == 0 && first) {
            p->password_authentication = v;
        }
        return rc;
    case PROFILE__OP_PUBKEY_AUTH:
        rc = profile__yesno(ps, kw, argv[0], &v);
        if (rc == 0 && first) {
            p->pubkey_authentication = v;
        }
        return rc;
    case PROFILE__OP_KBD_AUTH:
        rc = profile__yesno(ps, kw, argv[0], &v);
        if (rc == 0 && first) {
            p->kbd_interactive_authentication = v;
        }
        return rc;
    case PROFILE__OP_AUTH_METHODS:
        return profile__do_auth_methods(ps, kw, argv, argc, first);
    case PROFILE__OP_MAX_AUTH_TRIES:
        rc = profile__number(ps, kw, argv[0], 1, PROFILE__MAX_AUTH_TRIES_MAX, &v);
        if (rc == 0 && first) {
            p->max_auth_tries = v;
        }
        return rc;
    case PROFILE__OP_LOGIN_GRACE_TIME:
        rc = profile__time(ps, kw, argv[0], &v);
        if (rc == 0 && first) {
            p->login_grace_time = v;
        }
        return rc;
    case PROFILE__OP_BANNER:
        return profile__do_banner(ps, kw, argv[0], first);
    case PROFILE__OP_ACCOUNT:
        return profile__do_account(ps, kw, argv, argc);
    case PROFILE__OP_ACCOUNT_KEY:
        return profile__do_account_key(ps, kw, argv, argc);
    case PROFILE__OP_ACCOUNT_KEY_FILE:
        return profile__do_account_key_file(ps, kw, argv);
    case PROFILE__OP_EXEC:
        return profile__do_exec(ps, kw, argv, argc);
    case PROFILE__OP_DEFAULT_EXEC:
        if (first) {
            return profile__exec_parse(ps, kw, argv, argc, &p->default_exec);
        } else {
            profile_exec_t scratch;

            memset(&scratch, 0, sizeof scratch);
            rc = profile__exec_parse(ps, kw, argv, argc, &scratch);
            profile__exec_clear(&scratch);
            return rc;
        }
    case PROFILE__OP_SHELL_PROMPT:
        return profile__do_shell_prompt(ps, kw, argv[0], first);
    case PROFILE__OP_MAX_STARTUPS: {
        int start = 0, rate = 100, full_ = 0, n = 0;
        char tail = 0;

        n = sscanf(argv[0], "%d:%d:%d%c", &start, &rate, &full_, &tail);
        if (n == 1 && strspn(argv[0], "0123456789") == strlen(argv[0])) {
            full_ = start; /* sshd: a single number refuses past it */
            rate = 100;
        } else if (n != 3) {
            start = -1;
        }
        if (start < 1 || rate < 1 || rate > 100 || full_ < start) {
            return profile__fail(ps, ps->line, "%s %s: expected START or START:RATE:FULL "
                                 "with 1 <= START <= FULL and RATE from 1 to 100, "
                                 "as in sshd_config", kw->name, argv[0]);
        }
        if (first) {
            p->max_startups_start = start;
            p->max_startups_rate = rate;
            p->max_startups_full = full_;
        }
        return 0;
    }
    case PROFILE__OP_HOSTKEY_ROTATION:
        if (strcasecmp(argv[0], "never") == 0) {
            v = 0;
        } else if (strcasecmp(argv[0], "restart") == 0) {
            v = 1;
        } else if (strcasecmp(argv[0], "connection") == 0) {
            v = 2;
        } else {
            return profile__fail(ps, ps->line, "%s %s: expected never, restart or connection",
                                 kw->name, argv[0]);
        }
        if (first) {
            p->hostkey_rotation = v;
        }
        return 0;
    case PROFILE__OP_FAULT: {
        fault_rule_t r;
        fault_rule_t *grown = NULL;
        char err[512];

        if (fault_rule_parse(&r, argv, argc, err, sizeof err) < 0) {
            fault_rule_free(&r);
            return profile__fail(ps, ps->line, "%s: %s", kw->name, err);
        }
        if (p->nfaults >= FAULT_MAX_RULES) {
            fault_rule_free(&r);
            return profile__fail(ps, ps->line, "%s: too many rules (at most %d)",
                                 kw->name, FAULT_MAX_RULES);
        }
        grown = realloc(p->faults, (p->nfaults + 1) * sizeof *grown);
        if (grown == NULL) {
            fault_rule_free(&r);
            return profile__nomem(ps);
        }
        r.line = ps->line;
        p->faults = grown;
        p->faults[p->nfaults++] = r;
        return 0;
    }
    case PROFILE__OP_EXPLAIN:
    case PROFILE__OP_FIX_CLIENT:
    case PROFILE__OP_FIX_SERVER: {
        char **field = kw->op == PROFILE__OP_EXPLAIN ? &p->explanation
                       : kw->op == PROFILE__OP_FIX_CLIENT ? &p->fix_client : &p->fix_server;
        char *text = NULL;
        util_buf_t b = UTIL_BUF_INIT;

        rc = profile__join(ps, kw, argv, argc, &text);
        if (rc != 0) {
            return rc;
        }
        /* Repeated lines make paragraphs: each is one line of the text. */
        if ((*field != NULL && util_buf_printf(&b, "%s\n", *field) < 0) ||
            util_buf_puts(&b, text) < 0) {
            free(text);
            util_buf_free(&b);
            return profile__nomem(ps);
        }
        free(text);
        free(*field);
        *field = b.data;
        return 0;
    }
    case PROFILE__OP_MATRIX_AUTH: {
        static const char *const names[] = { "password", "key", "key-rsa", "wrong-password" };
        size_t i;

        for (i = 0; i < UTIL_ARRAY_SIZE(names); i++) {
            if (strcasecmp(argv[0], names[i]) == 0) {
                if (first) {
                    p->matrix_auth = (profile_matrix_auth_t)i;
                }
                return 0;
            }
        }
        return profile__fail(ps, ps->line, "%s %s: expected password, key, key-rsa or "
                             "wrong-password", kw->name, argv[0]);
    }
    case PROFILE__OP_MATRIX_HOLD:
        rc = profile__number(ps, kw, argv[0], 0, 50, &v);
        if (rc == 0 && first) {
            p->matrix_hold = v;
        }
        return rc;
    case PROFILE__OP_MATRIX_KNOWN_HOST:
        rc = profile__yesno(ps, kw, argv[0], &v);
        if (rc == 0 && first) {
            p->matrix_known_host = v;
        }
        return rc;
    case PROFILE__OP_CLIENT_OPTIONS:
    case PROFILE__OP_CLIENT_FIX: {
        profile_client_opts_t **arr = kw->op == PROFILE__OP_CLIENT_FIX ? &p->client_fixes
                                                                       : &p->client_options;
        size_t *n = kw->op == PROFILE__OP_CLIENT_FIX ? &p->nclient_fixes : &p->nclient_options;
        profile_client_opts_t *grown = NULL;
        profile_client_opts_t o;
        int i;

        if (!profile__known_client(argv[0])) {
            return profile__fail(ps, ps->line, "%s: unknown client '%s' (clients: openssh, "
                                 "plink, dbclient, paramiko, asyncssh, ssh2, libssh)",
                                 kw->name, argv[0]);
        }
        memset(&o, 0, sizeof o);
        for (i = 1; i < argc; i++) {
            if (strchr(argv[i], '=') == NULL || argv[i][0] == '=') {
                return profile__fail(ps, ps->line, "%s %s: '%s' is not KEY=VALUE", kw->name,
                                     argv[0], argv[i]);
            }
        }
        o.client = strdup(argv[0]);
        o.opts = calloc((size_t)argc, sizeof *o.opts);
        o.line = ps->line;
        if (o.client == NULL || o.opts == NULL) {
            profile__client_opts_clear(&o);
            return profile__nomem(ps);
        }
        for (i = 1; i < argc; i++) {
            o.opts[o.nopts] = strdup(argv[i]);
            if (o.opts[o.nopts] == NULL) {
                profile__client_opts_clear(&o);
                return profile__nomem(ps);
            }
            o.nopts++;
        }
        grown = realloc(*arr, (*n + 1) * sizeof *grown);
        if (grown == NULL) {
            profile__client_opts_clear(&o);
            return profile__nomem(ps);
        }
        *arr = grown;
        (*arr)[(*n)++] = o;
        return 0;
    }
    case PROFILE__OP_EXPECT: {
        profile_expect_t e;
        profile_expect_t *grown = NULL;
        size_t i;
        int stage_ok = 0;

        memset(&e, 0, sizeof e);
        if (!profile__known_client(argv[0])) {
            return profile__fail(ps, ps->line, "%s: unknown client '%s' (clients: openssh, "
                                 "plink, dbclient, paramiko, asyncssh, ssh2, libssh)",
                                 kw->name, argv[0]);
        }
        if (strcmp(argv[1], "connect") == 0 && argc <= 3) {
            e.connect = 1;
        } else if (strcmp(argv[1], "fail") == 0 && argc >= 3) {
            for (i = 0; i < UTIL_ARRAY_SIZE(profile__stages); i++) {
                stage_ok |= strcmp(argv[2], profile__stages[i]) == 0;
            }
            if (!stage_ok) {
                return profile__fail(ps, ps->line, "%s %s fail %s: the stage is one of tcp, "
                                     "banner, kex, hostkey, auth, session, timeout",
                                     kw->name, argv[0], argv[2]);
            }
        } else {
            return profile__fail(ps, ps->line, "%s: expected CLIENT connect [REGEX] or "
                                 "CLIENT fail STAGE [REGEX]", kw->name);
        }
        if (profile_expect_find(p, argv[0]) != NULL) {
            return profile__fail(ps, ps->line, "%s %s: this client already has an "
                                 "expectation (line %d)", kw->name, argv[0],
                                 profile_expect_find(p, argv[0])->line);
        }
        {
            const char *pattern = e.connect ? (argc == 3 ? argv[2] : NULL)
                                            : (argc == 4 ? argv[3] : NULL);
            regex_t re;
            if (pattern != NULL) {
                int rrc = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);
                if (rrc != 0) {
                    char why[128];
                    regerror(rrc, &re, why, sizeof why);
                    return profile__fail(ps, ps->line, "%s %s: bad regex: %s", kw->name,
                                         argv[0], why);
                }
                regfree(&re);
            }
            e.client = strdup(argv[0]);
            e.stage = e.connect ? NULL : strdup(argv[2]);
            e.pattern = pattern != NULL ? strdup(pattern) : NULL;
        }
        e.line = ps->line;
        grown = e.client != NULL ? realloc(p->expects, (p->nexpects + 1) * sizeof *grown) : NULL;
        if (grown == NULL) {
            free(e.client);
            free(e.stage);
            free(e.pattern);
            return profile__nomem(ps);
        }
        p->expects = grown;
        p->expects[p->nexpects++] = e;
        return 0;
    }
    case PROFILE__OP_MATCH:
        return profile__fail(ps, ps->line,
                             "Match blocks are not supported (sshmock plays one "
                             "configuration; write one profile per case)");
    case PROFILE__OP_INCLUDE:
        return profile__fail(ps, ps->line,
                             "Include is not supported (a profile is one file)");
    case PROFILE__OP_IGNORED:
        return profile__do_ignored(ps, kw, argv, argc);
    case PROFILE__OP_COUNT:
        break;
    }
    return profile__fail(ps, ps->line, "%s: internal error", kw->name);
}

static const profile__keyword_t *
profile__lookup(const char *word)
{
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(profile__keywords); i++) {
        if (strcasecmp(profile__keywords[i].name, word) == 0) {
            return &profile__keywords[i];
        }
    }
    return NULL;
}

/* One line, without its newline. */
static int
profile__line(profile__parser_t *ps, char *line)
{
    const profile__keyword_t *kw = NULL;
    profile__args_t args = { NULL, 0 };
    char *s = line;
    char *word = NULL;
    size_t wlen;
    int first;
    int rc;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s == '\0' || *s == '#') {
        return 0;
    }
    /* "Keyword value", "Keyword=value" and "Keyword = value" all work. */
    wlen = strcspn(s, " \t=");
    word = s;
    s += wlen;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s == '=') {
        s++;
    }
    word[wlen] = '\0';   /* the separator is consumed above */

    kw = profile__lookup(word);
    if (kw == NULL) {
        return profile__fail(ps, ps->line, "Bad configuration option: %s", word);
    }
    rc = profile__split(s, &args);
    if (rc == -2) {
        rc = profile__nomem(ps);
        goto out;
    }
    if (rc == -1) {
        rc = profile__fail(ps, ps->line, "%s: unterminated quoted string",
                           kw->name);
        goto out;
    }
    if (args.n < kw->min_args) {
        rc = profile__fail(ps, ps->line, "%s: missing argument (%s %s)",
                           kw->name, kw->name, kw->shape);
        goto out;
    }
    if (kw->max_args != PROFILE__ANY && args.n > kw->max_args) {
        rc = profile__fail(ps, ps->line, "%s: too many arguments (%s %s)",
                           kw->name, kw->name, kw->shape);
        goto out;
    }
    /* As in sshd, a repeated keyword is still checked, but the first value
     * obtained is the one kept (except where every occurrence counts). */
    first = ps->seen[kw->op] == 0 || (kw->flags & PROFILE__F_MULTI) != 0;
    rc = profile__dispatch(ps, kw, args.v, args.n, first);
    if (rc == 0 && ps->seen[kw->op] == 0) {
        ps->seen[kw->op] = ps->line;
    }
out:
    profile__args_free(&args);
    return rc;
}

/* ---- after the last line ------------------------------------------------ */

static int
profile__set_default(char **field, const char *value)
{
    if (*field != NULL) {
        return 0;
    }
    *field = strdup(value);
    return *field == NULL ? -1 : 0;
}

static int
profile__default_hostkeys(profile_t *p)
{
    static const struct {
        const char *spec;
        int keytype;
        int bits;
    } defaults[] = {
        /* ssh-keygen -A, less DSA. */
        { "ed25519", SSH_KEYTYPE_ED25519, 0 },
        { "rsa-3072", SSH_KEYTYPE_RSA, 3072 },
        { "ecdsa-256", SSH_KEYTYPE_ECDSA_P256, 256 },
    };
    size_t i;

    for (i = 0; i < UTIL_ARRAY_SIZE(defaults); i++) {
        profile_hostkey_t *hk = &p->hostkeys[p->nhostkeys];

        memset(hk, 0, sizeof *hk);
        hk->kind = PROFILE_HOSTKEY_GENERATE;
        hk->spec = strdup(defaults[i].spec);
        if (hk->spec == NULL) {
            return -1;
        }
        hk->keytype = defaults[i].keytype;
        hk->bits = defaults[i].bits;
        p->nhostkeys++;
    }
    return 0;
}

/* AuthenticationMethods may only name methods that are switched on. sshd
 * itself only refuses a configuration where no list can be satisfied;
 * sshmock is stricter because a list that can never succeed in a mock is
 * almost certainly a mistake in the profile. */
static int
profile__check_auth_methods(profile__parser_t *ps)
{
    static const struct {
        const char *method;
        profile__op_t op;
        const char *keyword;
    } gates[] = {
        { "password", PROFILE__OP_PASSWORD_AUTH, "PasswordAuthentication" },
        { "publickey", PROFILE__OP_PUBKEY_AUTH, "PubkeyAuthentication" },
        { "keyboard-interactive", PROFILE__OP_KBD_AUTH,
          "KbdInteractiveAuthentication" },
    };
    const profile_t *p = &ps->full->pub;
    size_t g;

    if (strcmp(p->authentication_methods, "any") == 0) {
        return 0;
    }
    for (g = 0; g < UTIL_ARRAY_SIZE(gates); g++) {
        int enabled = gates[g].op == PROFILE__OP_PASSWORD_AUTH ? p->password_authentication
                    : gates[g].op == PROFILE__OP_PUBKEY_AUTH ? p->pubkey_authentication
                    : p->kbd_interactive_authentication;
        const char *s = p->authentication_methods;
        size_t mlen = strlen(gates[g].method);

        if (enabled) {
            continue;
        }
        while (*s != '\0') {
            size_t len = strcspn(s, ", ");

            if (len == mlen && strncmp(s, gates[g].method, len) == 0) {
                return profile__fail(ps, ps->seen[PROFILE__OP_AUTH_METHODS],
                                     "AuthenticationMethods names '%s', but "
                                     "%s is no (line %d)", gates[g].method,
                                     gates[g].keyword, ps->seen[gates[g].op]);
            }
            s += len;
            if (*s != '\0') {
                s++;
            }
        }
    }
    return 0;
}

static int
profile__attach_keys(profile__parser_t *ps)
{
    profile_t *p = &ps->full->pub;
    size_t i;

    for (i = 0; i < ps->nkeys; i++) {
        profile__pending_key_t *pk = &ps->keys[i];
        profile_account_t *a = (profile_account_t *)profile_account_find(p, pk->account);
        char **grown = NULL;

        if (a == NULL) {
            return profile__fail(ps, pk->line, "%s: no Account '%s' is defined",
                                 pk->keyword, pk->account);
        }
        grown = realloc(a->authorized_keys, (a->nauthorized_keys + 1) * sizeof *grown);
        if (grown == NULL) {
            return profile__nomem(ps);
        }
        a->authorized_keys = grown;
        a->authorized_keys[a->nauthorized_keys++] = pk->key;
        pk->key = NULL;
    }
    return 0;
}

static int
profile__finish(profile__parser_t *ps)
{
    profile_t *p = &ps->full->pub;
    size_t k;
    int rc;

    for (k = 0; k < ALGO__COUNT; k++) {
        static const profile__op_t ops[ALGO__COUNT] = {
            [ALGO_KEX] = PROFILE__OP_KEX,
            [ALGO_CIPHER] = PROFILE__OP_CIPHERS,
            [ALGO_MAC] = PROFILE__OP_MACS,
            [ALGO_HOSTKEY] = PROFILE__OP_HOSTKEY_ALGS,
            [ALGO_PUBKEY] = PROFILE__OP_PUBKEY_ALGS,
        };
        char **fields[ALGO__COUNT] = {
            [ALGO_KEX] = &p->kex_algorithms,
            [ALGO_CIPHER] = &p->ciphers,
            [ALGO_MAC] = &p->macs,
            [ALGO_HOSTKEY] = &p->hostkey_algorithms,
            [ALGO_PUBKEY] = &p->pubkey_accepted_algorithms,
        };
        char err[1024];

        if (algo_resolve((algo_kind_t)k, ps->algo_value[k], fields[k], err,
                         sizeof err) < 0) {
            return profile__fail(ps, ps->seen[ops[k]], "%s", err);
        }
    }

    if (!ps->seen[PROFILE__OP_PASSWORD_AUTH]) {
        p->password_authentication = 1;
    }
    if (!ps->seen[PROFILE__OP_PUBKEY_AUTH]) {
        p->pubkey_authentication = 1;
    }
    if (!ps->seen[PROFILE__OP_KBD_AUTH]) {
        p->kbd_interactive_authentication = 1;
    }
    if (!ps->seen[PROFILE__OP_MAX_STARTUPS]) {
        p->max_startups_start = 10; /* sshd's default, 10:30:100 */
        p->max_startups_rate = 30;
        p->max_startups_full = 100;
    }
    if (!ps->seen[PROFILE__OP_MAX_AUTH_TRIES]) {
        p->max_auth_tries = PROFILE__DEFAULT_MAX_AUTH_TRIES;
    }
    if (!ps->seen[PROFILE__OP_LOGIN_GRACE_TIME]) {
        p->login_grace_time = PROFILE__DEFAULT_LOGIN_GRACE;
    }
    /* sshd: a port given with ListenAddress beats Port for that address. */
    if (ps->listen_port != 0) {
        p->port = ps->listen_port;
    } else if (!ps->seen[PROFILE__OP_PORT]) {
        p->port = PROFILE__DEFAULT_PORT;
    }
    if (!ps->seen[PROFILE__OP_DEFAULT_EXEC]) {
        p->default_exec.exit_status = PROFILE__DEFAULT_EXEC_STATUS;
        p->default_exec.out = strdup("");
        p->default_exec.err = strdup(PROFILE__DEFAULT_EXEC_ERR);
        if (p->default_exec.out == NULL || p->default_exec.err == NULL) {
            return profile__nomem(ps);
        }
        p->default_exec.out_len = 0;
        p->default_exec.err_len = strlen(PROFILE__DEFAULT_EXEC_ERR);
    }
    if (profile__set_default(&p->description, "") < 0 ||
        profile__set_default(&p->identification, PROFILE__DEFAULT_IDENTIFICATION) < 0 ||
        profile__set_default(&p->listen_address, PROFILE__DEFAULT_LISTEN) < 0 ||
        profile__set_default(&p->authentication_methods, "any") < 0 ||
        profile__set_default(&p->shell_prompt, PROFILE__DEFAULT_PROMPT) < 0) {
        return profile__nomem(ps);
    }
    if (p->hostkey_none && p->nhostkeys > 0) {
        return profile__fail(ps, ps->seen[PROFILE__OP_HOSTKEY],
                             "HostKey none cannot be combined with other HostKey lines");
    }
    if (p->nhostkeys == 0 && !p->hostkey_none && profile__default_hostkeys(p) < 0) {
        return profile__nomem(ps);
    }
    rc = profile__check_auth_methods(ps);
    if (rc < 0) {
        return rc;
    }
    return profile__attach_keys(ps);
}

/* ---- entry points ------------------------------------------------------ */

static int
profile__names(profile_t *p, const char *path)
{
    const char *base = strrchr(path, '/');
    size_t len;

    base = base == NULL ? path : base + 1;
    len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".conf") == 0) {
        len -= 5;
    }
    p->path = strdup(path);
    p->dir = util_dirname(path);
    p->name = util_strndup(base, len);
    return p->path == NULL || p->dir == NULL || p->name == NULL ? -1 : 0;
}

int
profile_parse(const char *path, const char *text, size_t len, FILE *warnings,
              profile_t **out, char *errbuf, size_t errlen)
{
    profile__parser_t ps;
    char *copy = NULL;
    char *line = NULL;
    size_t off = 0;
    int rc = 0;

    if (out != NULL) {
        *out = NULL;
    }
    if (errbuf != NULL && errlen > 0) {
        errbuf[0] = '\0';
    }
    memset(&ps, 0, sizeof ps);
    ps.path = path != NULL ? path : "<profile>";
    ps.warn = warnings;
    ps.errbuf = errbuf;
    ps.errlen = errlen;
    if (out == NULL || text == NULL) {
        profile__fail(&ps, 0, "invalid argument");
        return SSHMOCK_EINVAL;
    }
    ps.full = calloc(1, sizeof *ps.full);
    copy = util_strndup(text, len);
    if (ps.full == NULL || copy == NULL || profile__names(&ps.full->pub, ps.path) < 0) {
        rc = profile__nomem(&ps);
        goto out;
    }
    if (memchr(text, '\0', len) != NULL) {
        rc = profile__fail(&ps, 0, "contains a NUL byte; not a text file");
        goto out;
    }

    while (off < len) {
        size_t n = strcspn(copy + off, "\n");

        line = copy + off;
        off += n + (off + n < len ? 1 : 0);
        line[n] = '\0';
        ps.line++;
        if (n > 0 && line[n - 1] == '\r') {
            line[--n] = '\0';
        }
        if (n > PROFILE__LINE_MAX) {
            rc = profile__fail(&ps, ps.line, "line is longer than %d bytes",
                               PROFILE__LINE_MAX);
            goto out;
        }
        rc = profile__line(&ps, line);
        if (rc < 0) {
            goto out;
        }
    }
    rc = profile__finish(&ps);
out:
    profile__parser_clear(&ps);
    free(copy);
    if (rc < 0) {
        profile_free(ps.full != NULL ? &ps.full->pub : NULL);
        return rc;
    }
    *out = &ps.full->pub;
    return 0;
}

int
profile_parse_string(const char *path, const char *text, profile_t **out,
                     char *errbuf, size_t errlen)
{
    return profile_parse(path, text, text != NULL ? strlen(text) : 0, stderr,
                         out, errbuf, errlen);
}

int
profile_load(const char *path, profile_t **out, char *errbuf, size_t errlen)
{
    return profile_load_warn(path, stderr, out, errbuf, errlen);
}

int
profile_load_warn(const char *path, FILE *warnings, profile_t **out, char *errbuf,
                  size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    int rc;

    if (out != NULL) {
        *out = NULL;
    }
    if (path == NULL || out == NULL) {
        if (errbuf != NULL && errlen > 0) {
            snprintf(errbuf, errlen, "profile: invalid argument");
        }
        return SSHMOCK_EINVAL;
    }
    errno = 0;
    if (util_read_file(path, PROFILE__FILE_MAX, &data, &len) < 0) {
        if (errbuf != NULL && errlen > 0) {
            snprintf(errbuf, errlen, "%s: cannot read: %s", path,
                     util_read_file_strerror(errno));
        }
        return SSHMOCK_EPROFILE;
    }
    rc = profile_parse(path, data, len, warnings, out, errbuf, errlen);
    free(data);
    return rc;
}

/* ---- look-ups ---------------------------------------------------------- */

const profile_account_t *
profile_account_find(const profile_t *p, const char *user)
{
    size_t i;

    if (p == NULL || user == NULL) {
        return NULL;
    }
    for (i = 0; i < p->naccounts; i++) {
        if (strcmp(p->accounts[i].name, user) == 0) {
            return &p->accounts[i];
        }
    }
    return NULL;
}

const profile_expect_t *
profile_expect_find(const profile_t *p, const char *client)
{
    size_t i;

    for (i = 0; i < p->nexpects; i++) {
        if (strcmp(p->expects[i].client, client) == 0) {
            return &p->expects[i];
        }
    }
    return NULL;
}

static const profile_client_opts_t *
profile__opts_find(const profile_client_opts_t *arr, size_t n, const char *client)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(arr[i].client, client) == 0) {
            return &arr[i];
        }
    }
    return NULL;
}

const profile_client_opts_t *
profile_client_options_find(const profile_t *p, const char *client)
{
    return profile__opts_find(p->client_options, p->nclient_options, client);
}

const profile_client_opts_t *
profile_client_fix_find(const profile_t *p, const char *client)
{
    return profile__opts_find(p->client_fixes, p->nclient_fixes, client);
}

const char *
profile_matrix_auth_name(profile_matrix_auth_t a)
{
    switch (a) {
    case PROFILE_MATRIX_AUTH_PASSWORD: return "password";
    case PROFILE_MATRIX_AUTH_KEY: return "key";
    case PROFILE_MATRIX_AUTH_KEY_RSA: return "key-rsa";
    case PROFILE_MATRIX_AUTH_WRONG_PASSWORD: return "wrong-password";
    }
    return "?";
}

const profile_exec_t *
profile_exec_find(const profile_t *p, const char *command)
{
    size_t i;

    if (p == NULL) {
        return NULL;
    }
    if (command != NULL) {
        for (i = 0; i < p->nexecs; i++) {
            if (strcmp(p->execs[i].command, command) == 0) {
                return &p->execs[i];
            }
        }
    }
    return &p->default_exec;
}

/* ---- printing ---------------------------------------------------------- */

/* Quoted, with what the parser decodes encoded again. `full`: the text a
 * command prints (\n \t \r \xHH too); else only \" and \\. */
static void
profile__print_quoted(FILE *f, const char *s, size_t len, int full)
{
    size_t i;

    fputc('"', f);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
        } else if (full && c == '\n') {
            fputs("\\n", f);
        } else if (full && c == '\t') {
            fputs("\\t", f);
        } else if (full && c == '\r') {
            fputs("\\r", f);
        } else if (full && (c < 0x20 || c >= 0x7f)) {
            fprintf(f, "\\x%02x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

/* A word, quoted only when it has to be. */
static void
profile__print_word(FILE *f, const char *s)
{
    if (s[0] != '\0' && s[0] != '#' && strpbrk(s, " \t\"\\") == NULL) {
        fputs(s, f);
    } else {
        profile__print_quoted(f, s, strlen(s), 0);
    }
}

static void
profile__print_exec(FILE *f, const profile_exec_t *e)
{
    fprintf(f, " %d ", e->exit_status);
    profile__print_quoted(f, e->out, e->out_len, 1);
    fputc(' ', f);
    profile__print_quoted(f, e->err, e->err_len, 1);
    fputc('\n', f);
}

/* "type base64 comment" -> "type SHA256:... comment", as ssh-keygen -l. */
static void
profile__print_key(FILE *f, const char *account, const char *key)
{
    size_t tlen = strcspn(key, " ");
    const char *b64 = key + tlen + (key[tlen] == ' ' ? 1 : 0);
    size_t blen = strcspn(b64, " ");
    const char *comment = b64 + blen + (b64[blen] == ' ' ? 1 : 0);
    char *type = util_strndup(key, tlen);
    char *data = util_strndup(b64, blen);
    ssh_key k = NULL;
    unsigned char *hash = NULL;
    size_t hlen = 0;
    char *fp = NULL;

    if (type != NULL && data != NULL &&
        ssh_pki_import_pubkey_base64(data, ssh_key_type_from_name(type), &k) == 0 &&
        ssh_get_publickey_hash(k, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == 0) {
        fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
    }
    fputs("accountkey ", f);
    profile__print_word(f, account);
    fprintf(f, " %.*s %s", (int)tlen, key, fp != NULL ? fp : "?");
    if (*comment != '\0') {
        fprintf(f, " %s", comment);
    }
    fputc('\n', f);
    if (fp != NULL) {
        ssh_string_free_char(fp);
    }
    if (hash != NULL) {
        ssh_clean_pubkey_hash(&hash);
    }
    ssh_key_free(k);
    free(type);
    free(data);
}

static void
profile__print_row(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                   const char *lname)
{
    size_t i;
    size_t j;

    switch (kw->op) {
    case PROFILE__OP_DESCRIPTION:
        fprintf(f, "%s %s\n", lname, p->description);
        break;
    case PROFILE__OP_IDENTIFICATION:
        fprintf(f, "%s %s\n", lname, p->identification);
        break;
    case PROFILE__OP_PORT:
        fprintf(f, "%s %d\n", lname, p->port);
        break;
    case PROFILE__OP_LISTEN_ADDRESS:
        fprintf(f, "%s %s\n", lname, p->listen_address);
        break;
    case PROFILE__OP_HOSTKEY:
        for (i = 0; i < p->nhostkeys; i++) {
            if (p->hostkeys[i].kind == PROFILE_HOSTKEY_GENERATE) {
                fprintf(f, "%s generate:%s\n", lname, p->hostkeys[i].spec);
            } else {
                fprintf(f, "%s ", lname);
                profile__print_word(f, p->hostkeys[i].path);
                fputc('\n', f);
            }
        }
        break;
    case PROFILE__OP_KEX:
        fprintf(f, "%s %s\n", lname, p->kex_algorithms);
        break;
    case PROFILE__OP_CIPHERS:
        fprintf(f, "%s %s\n", lname, p->ciphers);
        break;
    case PROFILE__OP_MACS:
        fprintf(f, "%s %s\n", lname, p->macs);
        break;
    case PROFILE__OP_HOSTKEY_ALGS:
        fprintf(f, "%s %s\n", lname, p->hostkey_algorithms);
        break;
    case PROFILE__OP_PUBKEY_ALGS:
        fprintf(f, "%s %s\n", lname, p->pubkey_accepted_algorithms);
        break;
    case PROFILE__OP_PASSWORD_AUTH:
        fprintf(f, "%s %s\n", lname, p->password_authentication ? "yes" : "no");
        break;
    case PROFILE__OP_PUBKEY_AUTH:
        fprintf(f, "%s %s\n", lname, p->pubkey_authentication ? "yes" : "no");
        break;
    case PROFILE__OP_KBD_AUTH:
        fprintf(f, "%s %s\n", lname,
                p->kbd_interactive_authentication ? "yes" : "no");
        break;
    case PROFILE__OP_AUTH_METHODS:
        fprintf(f, "%s %s\n", lname, p->authentication_methods);
        break;
    case PROFILE__OP_MAX_AUTH_TRIES:
        fprintf(f, "%s %d\n", lname, p->max_auth_tries);
        break;
    case PROFILE__OP_LOGIN_GRACE_TIME:
        fprintf(f, "%s %d\n", lname, p->login_grace_time);
        break;
    case PROFILE__OP_BANNER:
        fprintf(f, "%s ", lname);
        profile__print_word(f, p->banner_path != NULL ? p->banner_path : "none");
        fputc('\n', f);
        break;
    case PROFILE__OP_ACCOUNT:
        /* Keys from AccountKey and AccountKeyFile are shown with their
         * account, where they ended up. */
        for (i = 0; i < p->naccounts; i++) {
            const profile_account_t *a = &p->accounts[i];

            fprintf(f, "%s ", lname);
            profile__print_word(f, a->name);
            fprintf(f, " %s\n", a->password != NULL ? "<set>" : "<none>");
            for (j = 0; j < a->nauthorized_keys; j++) {
                profile__print_key(f, a->name, a->authorized_keys[j]);
            }
        }
        break;
    case PROFILE__OP_EXEC:
        for (i = 0; i < p->nexecs; i++) {
            fprintf(f, "%s ", lname);
            profile__print_quoted(f, p->execs[i].command,
                                  strlen(p->execs[i].command), 0);
            profile__print_exec(f, &p->execs[i]);
        }
        break;
    case PROFILE__OP_DEFAULT_EXEC:
        fputs(lname, f);
        profile__print_exec(f, &p->default_exec);
        break;
    case PROFILE__OP_SHELL_PROMPT:
        fprintf(f, "%s ", lname);
        profile__print_quoted(f, p->shell_prompt, strlen(p->shell_prompt), 1);
        fputc('\n', f);
        break;
    case PROFILE__OP_MAX_STARTUPS:
        fprintf(f, "%s %d:%d:%d\n", lname, p->max_startups_start, p->max_startups_rate,
                p->max_startups_full);
        break;
    case PROFILE__OP_HOSTKEY_ROTATION:
        fprintf(f, "%s %s\n", lname, p->hostkey_rotation == 2 ? "connection"
                : p->hostkey_rotation == 1 ? "restart" : "never");
        break;
    case PROFILE__OP_FAULT:
        for (i = 0; i < p->nfaults; i++) {
            util_buf_t b = UTIL_BUF_INIT;
            fault_rule_format(&p->faults[i], &b);
            fprintf(f, "%s %s\n", lname, b.data != NULL ? b.data : "");
            util_buf_free(&b);
        }
        break;
    case PROFILE__OP_EXPLAIN:
    case PROFILE__OP_FIX_CLIENT:
    case PROFILE__OP_FIX_SERVER: {
        const char *t = kw->op == PROFILE__OP_EXPLAIN ? p->explanation
                        : kw->op == PROFILE__OP_FIX_CLIENT ? p->fix_client : p->fix_server;
        const char *nl = NULL;

        while (t != NULL && *t != '\0') {
            nl = strchr(t, '\n');
            fprintf(f, "%s %.*s\n", lname, (int)(nl != NULL ? nl - t : (long)strlen(t)), t);
            t = nl != NULL ? nl + 1 : NULL;
        }
        break;
    }
    case PROFILE__OP_MATRIX_AUTH:
        fprintf(f, "%s %s\n", lname, profile_matrix_auth_name(p->matrix_auth));
        break;
    case PROFILE__OP_MATRIX_HOLD:
        fprintf(f, "%s %d\n", lname, p->matrix_hold);
        break;
    case PROFILE__OP_MATRIX_KNOWN_HOST:
        fprintf(f, "%s %s\n", lname, p->matrix_known_host ? "yes" : "no");
        break;
    case PROFILE__OP_CLIENT_OPTIONS:
    case PROFILE__OP_CLIENT_FIX: {
        const profile_client_opts_t *arr = kw->op == PROFILE__OP_CLIENT_FIX ? p->client_fixes
                                                                            : p->client_options;
        size_t n = kw->op == PROFILE__OP_CLIENT_FIX ? p->nclient_fixes : p->nclient_options;

        for (i = 0; i < n; i++) {
            fprintf(f, "%s %s", lname, arr[i].client);
            for (j = 0; j < arr[i].nopts; j++) {
                fputc(' ', f);
                profile__print_word(f, arr[i].opts[j]);
            }
            fputc('\n', f);
        }
        break;
    }
    case PROFILE__OP_EXPECT:
        for (i = 0; i < p->nexpects; i++) {
            const profile_expect_t *e = &p->expects[i];
            fprintf(f, "%s %s %s", lname, e->client, e->connect ? "connect" : "fail");
            if (e->stage != NULL) {
                fprintf(f, " %s", e->stage);
            }
            if (e->pattern != NULL) {
                fputc(' ', f);
                profile__print_quoted(f, e->pattern, strlen(e->pattern), 0);
            }
            fputc('\n', f);
        }
        break;
    case PROFILE__OP_ACCOUNT_KEY:
    case PROFILE__OP_ACCOUNT_KEY_FILE:
    case PROFILE__OP_MATCH:
    case PROFILE__OP_INCLUDE:
    case PROFILE__OP_IGNORED:
    case PROFILE__OP_COUNT:
        break;
    }
}

static void
profile__lower(char *dst, const char *src, size_t size)
{
    size_t i;

    for (i = 0; i + 1 < size && src[i] != '\0'; i++) {
        dst[i] = (char)((src[i] >= 'A' && src[i] <= 'Z') ? src[i] - 'A' + 'a' : src[i]);
    }
    dst[i] = '\0';
}

void
profile_print(const profile_t *p, FILE *f)
{
    const profile__full_t *full = (const profile__full_t *)p;
    char lname[64];
    size_t r;
    size_t i;

    if (p == NULL || f == NULL) {
        return;
    }
    fprintf(f, "# profile %s (%s)\n", p->name, p->path);
    for (r = 0; r < UTIL_ARRAY_SIZE(profile__keywords); r++) {
        const profile__keyword_t *kw = &profile__keywords[r];

        if ((kw->flags & (PROFILE__F_ALIAS | PROFILE__F_IGNORED)) != 0) {
            continue;
        }
        profile__lower(lname, kw->name, sizeof lname);
        profile__print_row(f, p, kw, lname);
    }
    if (full->nignored == 0) {
        return;
    }
    fputs("# accepted, but without effect in sshmock:\n", f);
    for (r = 0; r < UTIL_ARRAY_SIZE(profile__keywords); r++) {
        for (i = 0; i < full->nignored; i++) {
            if (full->ignored[i].row == r) {
                profile__lower(lname, profile__keywords[r].name, sizeof lname);
                fprintf(f, "%s %s\n", lname, full->ignored[i].args);
            }
        }
    }
}

void
profile_print_keywords(FILE *f)
{
    size_t r;

    for (r = 0; r < UTIL_ARRAY_SIZE(profile__keywords); r++) {
        const profile__keyword_t *kw = &profile__keywords[r];
        const char *what = (kw->flags & PROFILE__F_IGNORED) ? "ignored"
                         : (kw->flags & PROFILE__F_ALIAS) ? "alias"
                         : (kw->flags & PROFILE__F_OWN) ? "sshmock"
                         : "sshd";

        const char *defval = kw->defval != NULL ? kw->defval : "-";

        /* Algorithm defaults depend on the linked libssh: ask algo. */
        if (profile__algo_kind(kw->op) != ALGO__COUNT) {
            defval = algo_default(profile__algo_kind(kw->op));
        }
        fprintf(f, "%s\t%s\t%s\t%s\n", kw->name, what, kw->shape, defval);
    }
}
