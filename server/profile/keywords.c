/*
 * keywords: the table of every keyword the profile language knows.
 *
 * Adding a keyword is adding a row: its name, flags, argument counts, the
 * handler that parses it, the printer that shows it, the field it sets,
 * the handler's parameters, and the shape and default the reference and
 * the messages show (internal.h says what each column means). The default
 * is also what the parser fills in when a profile does not set the keyword
 * (parse.c), so it must be written as a profile line would write it.
 */
#include "profile/internal.h"

#include <limits.h>
#include <stddef.h>
#include <strings.h>

#define SLOT(field) offsetof(profile_t, field)
#define NO_SLOT PROFILE__NO_SLOT

static const profile__range_t profile__port_range = { 1, 65535 };
static const profile__range_t profile__auth_tries_range = { 1, 1000 };
/* sshd takes any non-negative int; 0 lets nobody open a session. */
static const profile__range_t profile__sessions_range = { 0, INT_MAX };
static const profile__range_t profile__hold_range = { 0, 50 };

static const char *const profile__rotations[] = { "never", "restart", "connection" };
static const profile__names_t profile__rotation_names = {
    profile__rotations, UTIL_ARRAY_SIZE(profile__rotations)
};

/* In profile_strict_kex_t's order. */
static const char *const profile__strict_kex[] = { "auto", "yes", "no" };
static const profile__names_t profile__strict_kex_names = {
    profile__strict_kex, UTIL_ARRAY_SIZE(profile__strict_kex)
};

static const algo_kind_t profile__kex = ALGO_KEX;
static const algo_kind_t profile__cipher = ALGO_CIPHER;
static const algo_kind_t profile__mac = ALGO_MAC;
static const algo_kind_t profile__hostkey_alg = ALGO_HOSTKEY;
static const algo_kind_t profile__pubkey_alg = ALGO_PUBKEY;

/* ClientOptions and ClientFix: the count that goes with the array. */
static const size_t profile__nclient_options = SLOT(nclient_options);
static const size_t profile__nclient_fixes = SLOT(nclient_fixes);

#define OWN PROFILE__F_OWN
#define MULTI PROFILE__F_MULTI
#define ANY PROFILE__ANY
#define ALGO_ROW(name, flags, field, kind) \
    { name, flags, 1, 1, profile__set_algo, profile__print_string, SLOT(field), \
      &kind, "[+-^]LIST", NULL }
#define FLAG_ROW(name, flags, field, def) \
    { name, flags, 1, 1, profile__set_flag, profile__print_flag, SLOT(field), NULL, \
      "yes|no", def }

/* Table order is the order profile_print() writes the settings in. */
const profile__keyword_t profile__keywords[] = {
    { "Description", OWN, 1, ANY, profile__set_text, profile__print_string,
      SLOT(description), NULL, "TEXT...", "\"\"" },
    { "Identification", OWN, 1, ANY, profile__set_identification, profile__print_string,
      SLOT(identification), NULL, "SSH-PROTOVERSION-SOFTWAREVERSION [COMMENTS]",
      "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3" },
    { "Port", PROFILE__F_LISTEN, 1, 1, profile__set_int, profile__print_int,
      SLOT(port), &profile__port_range, "1..65535", "2222" },
    { "ListenAddress", PROFILE__F_LISTEN, 1, 1, profile__set_listen, profile__print_string,
      SLOT(listen_address), NULL, "ADDRESS | ADDRESS:PORT | [ADDRESS]:PORT", "127.0.0.1" },
    /* A MULTI row's default is a list of values, ", " between them. */
    { "HostKey", MULTI, 1, 2, profile__set_hostkey, profile__print_hostkeys, NO_SLOT, NULL,
      "PATH | generate:ed25519 | generate:ecdsa-256|384|521 | generate:rsa-BITS"
      " | generate:dsa",
      "generate:ed25519, generate:rsa-3072, generate:ecdsa-256" },
    ALGO_ROW("KexAlgorithms", 0, kex_algorithms, profile__kex),
    ALGO_ROW("Ciphers", 0, ciphers, profile__cipher),
    ALGO_ROW("MACs", 0, macs, profile__mac),
    ALGO_ROW("HostKeyAlgorithms", 0, hostkey_algorithms, profile__hostkey_alg),
    { "StrictKex", OWN, 1, 1, profile__set_name, profile__print_name, SLOT(strict_kex),
      &profile__strict_kex_names, "auto | yes | no", "auto" },
    ALGO_ROW("PubkeyAcceptedAlgorithms", 0, pubkey_accepted_algorithms, profile__pubkey_alg),
    ALGO_ROW("PubkeyAcceptedKeyTypes", PROFILE__F_ALIAS, pubkey_accepted_algorithms,
             profile__pubkey_alg),
    FLAG_ROW("PasswordAuthentication", 0, password_authentication, "yes"),
    FLAG_ROW("PubkeyAuthentication", 0, pubkey_authentication, "yes"),
    FLAG_ROW("KbdInteractiveAuthentication", 0, kbd_interactive_authentication, "yes"),
    FLAG_ROW("ChallengeResponseAuthentication", PROFILE__F_ALIAS,
             kbd_interactive_authentication, "yes"),
    { "AuthenticationMethods", 0, 1, ANY, profile__set_auth_methods, profile__print_string,
      SLOT(authentication_methods), NULL, "any | METHOD[,METHOD...] ...", "any" },
    { "MaxAuthTries", 0, 1, 1, profile__set_int, profile__print_int,
      SLOT(max_auth_tries), &profile__auth_tries_range, "1..1000", "6" },
    { "MaxSessions", 0, 1, 1, profile__set_int, profile__print_int,
      SLOT(max_sessions), &profile__sessions_range, "0..2147483647", "10" },
    { "LoginGraceTime", 0, 1, 1, profile__set_time, profile__print_int,
      SLOT(login_grace_time), NULL, "TIME (120, 2m, 1h30m; 0: no limit)", "120" },
    { "AuthFailureDelay", 0, 1, 1, profile__set_auth_failure_delay,
      profile__print_auth_failure_delay, SLOT(auth_failure_delay), NULL,
      "pam | sshd | none | TIME (300ms, 2s)", "pam" },
    { "Banner", 0, 1, 1, profile__set_banner, profile__print_banner,
      SLOT(banner_path), NULL, "PATH | none", "none" },
    { "ModuliFile", 0, 1, 1, profile__set_moduli, profile__print_moduli,
      SLOT(moduli_file), NULL, "PATH | none", "none" },
    { "MaxStartups", 0, 1, 1, profile__set_max_startups, profile__print_max_startups,
      NO_SLOT, NULL, "START[:RATE:FULL]", "10:30:100" },
    { "HostKeyRotation", OWN, 1, 1, profile__set_name, profile__print_name,
      SLOT(hostkey_rotation), &profile__rotation_names, "never | restart | connection",
      "never" },
    { "Fault", MULTI | OWN, 2, ANY, profile__set_fault, profile__print_faults, NO_SLOT,
      NULL, "STAGE ACTION [ARGS...] [when CONDITION]", NULL },
    { "Explain", MULTI | OWN, 1, ANY, profile__set_lines, profile__print_lines,
      SLOT(explanation), NULL, "TEXT...", NULL },
    { "FixClient", MULTI | OWN, 1, ANY, profile__set_lines, profile__print_lines,
      SLOT(fix_client), NULL, "TEXT...", NULL },
    { "FixServer", MULTI | OWN, 1, ANY, profile__set_lines, profile__print_lines,
      SLOT(fix_server), NULL, "TEXT...", NULL },
    { "MatrixAuth", OWN, 1, 1, profile__set_name, profile__print_name,
      SLOT(matrix_auth), &profile__matrix_auths,
      "password | key | key-rsa | wrong-password", "password" },
    { "MatrixHold", OWN, 1, 1, profile__set_int, profile__print_int,
      SLOT(matrix_hold), &profile__hold_range, "0..50", "0" },
    FLAG_ROW("MatrixKnownHost", OWN, matrix_known_host, "no"),
    { "ClientOptions", MULTI | OWN, 2, ANY, profile__set_client_opts,
      profile__print_client_opts, SLOT(client_options), &profile__nclient_options,
      "CLIENT KEY=VALUE...", NULL },
    { "ClientFix", MULTI | OWN, 2, ANY, profile__set_client_opts,
      profile__print_client_opts, SLOT(client_fixes), &profile__nclient_fixes,
      "CLIENT KEY=VALUE...", NULL },
    { "Expect", MULTI | OWN, 2, 4, profile__set_expect, profile__print_expects, NO_SLOT,
      NULL, "CLIENT connect | CLIENT fail STAGE [REGEX]", NULL },
    { "Said", MULTI | OWN, 2, ANY, profile__set_said, profile__print_said, NO_SLOT, NULL,
      "CLIENT TEXT...", NULL },
    /* Keys from AccountKey and AccountKeyFile are shown with their account. */
    { "Account", MULTI | OWN, 1, 2, profile__set_account, profile__print_accounts,
      NO_SLOT, NULL, "NAME [PASSWORD]", NULL },
    { "AccountKey", MULTI | OWN, 3, ANY, profile__set_account_key, NULL, NO_SLOT, NULL,
      "NAME KEYTYPE BASE64 [COMMENT]", NULL },
    { "AccountKeyFile", MULTI | OWN, 2, 2, profile__set_account_key_file, NULL, NO_SLOT,
      NULL, "NAME PATH", NULL },
    { "ExecResponse", MULTI | OWN, 2, 4, profile__set_exec, profile__print_execs, NO_SLOT,
      NULL, "COMMAND EXIT_STATUS [STDOUT [STDERR]]", NULL },
    { "DefaultExecResponse", OWN, 1, 3, profile__set_default_exec,
      profile__print_default_exec, SLOT(default_exec), NULL,
      "EXIT_STATUS [STDOUT [STDERR]]", "127 \"\" \"sh: 1: %c: not found\\n\"" },
    { "ShellPrompt", OWN, 1, 1, profile__set_shell_prompt, profile__print_shell_prompt,
      SLOT(shell_prompt), NULL, "STRING", "\"%u@sshmock:~$ \"" },
    { "Match", 0, 0, ANY, profile__set_refused, NULL, NO_SLOT,
      "Match blocks are not supported (sshmock plays one configuration; write one "
      "profile per case)", "CRITERIA...", NULL },
    { "Include", 0, 0, ANY, profile__set_refused, NULL, NO_SLOT,
      "Include is not supported (a profile is one file)", "PATH...", NULL },

    /* sshd keywords that change nothing in sshmock. They are accepted so a
     * server's sshd_config (or `sshd -T` output) can be pasted in; each one
     * still gets a warning so nobody believes it is being played. */
#define PROFILE__IGNORED(name) \
    { name, PROFILE__F_IGNORED | MULTI, 1, ANY, profile__set_ignored, NULL, NO_SLOT, \
      NULL, "VALUE...", NULL }
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
const size_t profile__nkeywords = UTIL_ARRAY_SIZE(profile__keywords);

const profile__keyword_t *
profile__lookup(const char *word)
{
    size_t i;

    for (i = 0; i < profile__nkeywords; i++) {
        if (strcasecmp(profile__keywords[i].name, word) == 0) {
            return &profile__keywords[i];
        }
    }
    return NULL;
}

size_t
profile__main_row(const profile__keyword_t *kw)
{
    size_t row = (size_t)(kw - profile__keywords);

    while (row > 0 && (profile__keywords[row].flags & PROFILE__F_ALIAS) != 0) {
        row--;
    }
    return row;
}

int
profile__seen(const profile__parser_t *ps, const char *name)
{
    const profile__keyword_t *kw = profile__lookup(name);

    return kw != NULL ? ps->seen[profile__main_row(kw)] : 0;
}

void
profile_print_keywords(FILE *f)
{
    size_t r;

    for (r = 0; r < profile__nkeywords; r++) {
        const profile__keyword_t *kw = &profile__keywords[r];
        const char *what = (kw->flags & PROFILE__F_IGNORED) ? "ignored"
                         : (kw->flags & PROFILE__F_ALIAS) ? "alias"
                         : (kw->flags & PROFILE__F_OWN) ? "sshmock"
                         : "sshd";
        const char *defval = kw->defval != NULL ? kw->defval : "-";

        /* Algorithm defaults depend on the linked libssh: ask algo. */
        if (profile__algo_kind(kw) != ALGO__COUNT) {
            defval = algo_default(profile__algo_kind(kw));
        }
        fprintf(f, "%s\t%s\t%s\t%s\n", kw->name, what, kw->shape, defval);
    }
}
