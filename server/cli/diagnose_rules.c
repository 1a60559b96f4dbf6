/*
 * diagnose_rules: the failure classes and the words each real client prints
 * for them. Every signature was read from the client's own output (the
 * client matrix records it: sshmock matrix --json), or from the client's
 * source messages where the matrix cannot provoke them (refused TCP).
 *
 * Order matters: diagnose takes the first signature, in this order, that
 * matches any line, so the specific words come before the generic ones
 * ("kex_exchange_identification: Connection closed" before "Connection
 * closed by"). A needle that starts with '^' matches at the start of a
 * line only.
 */
#include <string.h>

#include "cli/diagnose.h"
#include "base/util.h"

const diag_class_t diag_classes[] = {
    { "tcp-refused", "tcp", "nothing listens on that address and port (TCP connection refused)",
      NULL, NULL },
    { "tcp-unreachable", "tcp", "the TCP connection could not be made (timeout, no route, "
      "unknown host)", NULL, NULL },
    { "closed-before-ident", "banner", "the server accepted the TCP connection, then closed it "
      "before sending its SSH identification", "closed-before-ident", "maxstartups" },
    { "maxstartups", "banner", "sshd refused the connection: too many unauthenticated "
      "connections (MaxStartups)", "maxstartups", NULL },
    { "reset", "banner", "the server (or a firewall) reset the connection before the SSH "
      "identification (a firewall's RST, or a server process that exited without reading "
      "the client's bytes)", "reset-before-ident",
      "closed-before-ident,hostkeys-missing,privsep-dir-broken,maxstartups,"
      "closed-after-ident,closed-after-client-kexinit" },
    { "ident-timeout", "timeout", "the server accepted the connection but never sent its SSH "
      "identification", "ident-stall", NULL },
    { "protocol-version", "banner", "the server speaks SSH protocol 1 (or not SSH at all)",
      "protocol-1", NULL },
    { "closed-during-kex", "kex", "the server closed the connection after the identifications, "
      "during key exchange", "closed-after-ident",
      "closed-after-client-kexinit,hostkeys-missing,legacy-dss-only" },
    { "closed", "unknown", "the server closed the connection; the output does not say at which "
      "stage (run the client with -v)", "closed-after-ident",
      "closed-before-ident,closed-after-client-kexinit,hostkeys-missing,maxstartups" },
    { "no-common-kex", "kex", "no key exchange method in common", "legacy-kex-group1",
      "hardened,legacy-cisco-ios,legacy-gex-sha1-1024,putty-no-common-kex" },
    { "no-common-cipher", "kex", "no cipher in common", "legacy-ciphers-cbc",
      "hardened,legacy-arcfour-blowfish,legacy-cisco-ios,putty-no-common-cipher" },
    /* legacy-hmac-md5 first: every current client refuses its MACs, where
     * legacy-macs-sha1's hmac-sha1 fails only hardened client configs, so
     * an import from words that name no list (dbclient's) plays it. */
    { "no-common-mac", "kex", "no MAC in common", "legacy-hmac-md5",
      "legacy-macs-sha1,legacy-hmac-sha1-96" },
    { "dh-group-too-small", "kex", "the server's Diffie-Hellman group exchange sent a group "
      "smaller than the client accepts (OpenSSH 7.0 and later: 2048 bits)",
      "legacy-gex-sha1-1024", NULL },
    { "no-common-hostkey", "kex", "no host key algorithm in common", "legacy-hostkey-ssh-rsa",
      "legacy-openssh5,legacy-dss-only" },
    { "weak-algorithm", "kex", "the client refuses the only algorithm the server offers as "
      "too weak", "legacy-kex-group1", NULL },
    { "hostkey-mismatch", "hostkey", "the server's host key is not the one the client knows "
      "for it", "hostkey-changed", NULL },
    { "hostkey-unverified", "hostkey", "the client could not verify the server's host key "
      "(unknown or changed, in batch mode)", "hostkey-changed", NULL },
    { "mac-error", "auth", "packets failed their integrity check once encryption was on "
      "(corruption on the path, or a broken cipher/MAC implementation)",
      "corrupt-after-newkeys", NULL },
    { "too-many-auth-failures", "auth", "the server disconnected after too many failed "
      "authentication attempts (MaxAuthTries)", "too-many-auth-failures", NULL },
    { "disconnected-during-auth", "auth", "the server disconnected during authentication",
      "too-many-auth-failures", NULL },
    { "auth-denied", "auth", "authentication failed: no method the server allows succeeded",
      "pubkey-only", "rsa-sha1-refused,too-many-auth-failures" },
};
const size_t diag_nclasses = UTIL_ARRAY_SIZE(diag_classes);

const diag_sig_t diag_sigs[] = {
    /* TCP */
    { "openssh", "tcp-refused", "connect to host ", ": Connection refused" },
    { "plink", "tcp-refused", "Network error: Connection refused", NULL },
    { "ssh2", "tcp-refused", "ECONNREFUSED", NULL },
    { "libssh", "tcp-refused", "Connection refused", "ssh_connect" },
    { NULL, "tcp-refused", "ConnectionRefusedError", NULL },
    { NULL, "tcp-refused", "Connect failed", "Connection refused" },
    { "openssh", "tcp-unreachable", "connect to host ", ": Connection timed out" },
    { "openssh", "tcp-unreachable", "connect to host ", ": No route to host" },
    { "openssh", "tcp-unreachable", "Could not resolve hostname", NULL },
    { "plink", "tcp-unreachable", "Network error: Connection timed out", NULL },
    { "plink", "tcp-unreachable", "Network error: No route to host", NULL },
    { "plink", "tcp-unreachable", "Host does not exist", NULL },

    /* Identification */
    { "openssh", "maxstartups", "Exceeded MaxStartups", NULL },
    { "openssh", "protocol-version", "Protocol major versions differ", NULL },
    { "plink", "protocol-version", "remote only provides (old, insecure) SSH-1", NULL },
    { "dbclient", "protocol-version", "Incompatible remote version", NULL },
    { "paramiko", "protocol-version", "Incompatible version (1.", NULL },
    { "asyncssh", "protocol-version", "Unsupported SSH version", NULL },
    { "ssh2", "protocol-version", "Invalid identification string", NULL },
    { "libssh", "protocol-version", "No version of SSH protocol usable", NULL },
    { "openssh", "reset", "kex_exchange_identification: read: Connection reset by peer", NULL },
    { "openssh", "closed-before-ident", "kex_exchange_identification: Connection closed by "
      "remote host", NULL },
    { "openssh", "ident-timeout", "Connection timed out during banner exchange", NULL },
    { "ssh2", "ident-timeout", "Timed out while waiting for handshake", NULL },
    { "ssh2", "reset", "read ECONNRESET", NULL },
    { "ssh2", "closed-before-ident", "Connection lost before handshake", NULL },
    { "libssh", "ident-timeout", "Timeout connecting to", NULL },
    { "asyncssh", "ident-timeout", "Login timeout expired", NULL },
    { "paramiko", "ident-timeout", "TimeoutError", NULL },
    { "paramiko", "reset", "Error reading SSH protocol banner", "Connection reset by peer" },
    { "paramiko", "closed-before-ident", "Error reading SSH protocol banner", NULL },

    /* Negotiation */
    { "openssh", "no-common-kex", "no matching key exchange method found", NULL },
    { "openssh", "no-common-cipher", "no matching cipher found", NULL },
    { "openssh", "no-common-mac", "no matching MAC found", NULL },
    { "openssh", "no-common-hostkey", "no matching host key type found", NULL },
    { "openssh", "dh-group-too-small", "DH GEX group out of range", NULL },
    { "libssh", "dh-group-too-small", "Invalid dh group parameter p", NULL },
    { "plink", "no-common-kex", "Couldn't agree a key exchange algorithm", NULL },
    { "plink", "no-common-hostkey", "Couldn't agree a host key algorithm", NULL },
    { "plink", "no-common-cipher", "Couldn't agree a client-to-server cipher", NULL },
    { "plink", "no-common-cipher", "Couldn't agree a server-to-client cipher", NULL },
    { "plink", "no-common-mac", "Couldn't agree a client-to-server MAC", NULL },
    { "plink", "no-common-mac", "Couldn't agree a server-to-client MAC", NULL },
    /* PuTTY 0.78 (Debian 12) says the same in other words when nothing in
     * a list is in common: it names the server's whole list as the
     * "selected" algorithm (measured: putty-no-common-kex, -cipher). */
    { "plink", "no-common-kex", "Selected key exchange algorithm \"",
      "does not correspond to any supported algorithm" },
    { "plink", "no-common-hostkey", "Selected host key algorithm \"",
      "does not correspond to any supported algorithm" },
    { "plink", "no-common-cipher", "cipher \"", "does not correspond to any supported algorithm" },
    { "plink", "no-common-mac", "MAC \"", "does not correspond to any supported algorithm" },
    { "plink", "no-common-kex", "The first key-exchange algorithm supported by the server", NULL },
    { "plink", "no-common-cipher", "cipher supported by the server is", NULL },
    { "plink", "no-common-hostkey", "host key type we have stored for this server", NULL },
    { "plink", "weak-algorithm", "Cannot confirm a weak crypto primitive", NULL },
    { "dbclient", "no-common-kex", "No matching algo kex", NULL },
    { "dbclient", "no-common-cipher", "No matching algo enc", NULL },
    { "dbclient", "no-common-mac", "No matching algo mac", NULL },
    { "dbclient", "no-common-hostkey", "No matching algo hostkey", NULL },
    { "paramiko", "no-common-kex", "(no acceptable kex algorithm)", NULL },
    { "paramiko", "no-common-cipher", "(no acceptable ciphers)", NULL },
    { "paramiko", "no-common-mac", "(no acceptable macs)", NULL },
    { "paramiko", "no-common-hostkey", "(no acceptable host key)", NULL },
    { "asyncssh", "no-common-kex", "No matching key exchange algorithm", NULL },
    { "asyncssh", "no-common-cipher", "No matching encryption algorithm", NULL },
    { "asyncssh", "no-common-mac", "No matching MAC algorithm", NULL },
    { "asyncssh", "no-common-hostkey", "No matching host key format", NULL },
    { "ssh2", "no-common-kex", "no matching key exchange algorithm", NULL },
    { "ssh2", "no-common-cipher", "no matching C->S cipher", NULL },
    { "ssh2", "no-common-cipher", "no matching S->C cipher", NULL },
    { "ssh2", "no-common-mac", "no matching C->S MAC", NULL },
    { "ssh2", "no-common-mac", "no matching S->C MAC", NULL },
    { "ssh2", "no-common-hostkey", "no matching host key format", NULL },
    { "libssh", "no-common-kex", "no match for method kex algos", NULL },
    { "libssh", "no-common-cipher", "no match for method encryption", NULL },
    { "libssh", "no-common-mac", "no match for method mac algo", NULL },
    { "libssh", "no-common-hostkey", "no match for method server host key algo", NULL },

    /* Host key */
    { "openssh", "hostkey-mismatch", "REMOTE HOST IDENTIFICATION HAS CHANGED", NULL },
    { "plink", "hostkey-mismatch", "POTENTIAL SECURITY BREACH", NULL },
    { "plink", "hostkey-mismatch", "does not match the one PuTTY has", NULL },
    { "dbclient", "hostkey-mismatch", "host key mismatch for", NULL },
    { "paramiko", "hostkey-mismatch", "BadHostKeyException", NULL },
    { "libssh", "hostkey-mismatch", "SSH_KNOWN_HOSTS_CHANGED", NULL },
    { "openssh", "hostkey-unverified", "Host key verification failed", NULL },
    { "plink", "hostkey-unverified", "Cannot confirm a host key in batch mode", NULL },
    { "asyncssh", "hostkey-unverified", "HostKeyNotVerifiable", NULL },
    { "ssh2", "hostkey-unverified", "Host denied (verification failed)", NULL },

    /* After NEWKEYS */
    { "openssh", "mac-error", "message authentication code incorrect", NULL },
    { "openssh", "mac-error", "Corrupted MAC on input", NULL },
    { "plink", "mac-error", "Incorrect MAC received on packet", NULL },
    { "dbclient", "mac-error", "exited: Error decrypting", NULL },
    { "dbclient", "mac-error", "exited: Integrity error", NULL },
    { "paramiko", "mac-error", "Mismatched MAC", NULL },
    { "asyncssh", "mac-error", "MAC verification failed", NULL },
    { "libssh", "mac-error", "Decryption error", NULL },
    { "libssh", "mac-error", "HMAC error", NULL },
    /* node's OpenSSL error without a reason: what ssh2 reports when an
     * AES-GCM tag does not verify (measured against corrupt-after-newkeys). */
    { "ssh2", "mac-error", "Error: error:00000000:lib(0)::reason(0)", NULL },

    /* Authentication */
    { NULL, "too-many-auth-failures", "Too many authentication failures", NULL },
    { "openssh", "auth-denied", "Permission denied (", NULL },
    { "plink", "auth-denied", "No supported authentication methods available", NULL },
    { "plink", "auth-denied", "Configured password was not accepted", NULL },
    { "plink", "auth-denied", "Access denied", NULL },
    { "dbclient", "auth-denied", "No auth methods could be used", NULL },
    { "paramiko", "auth-denied", "BadAuthenticationType", NULL },
    { "paramiko", "auth-denied", "AuthenticationException", NULL },
    { "paramiko", "auth-denied", "SSHException: Invalid key", NULL },
    /* paramiko 2.12 signs with ssh-rsa because sshd's server-sig-algs lists
     * it, is refused, and dies reading its next key file as DSA. */
    { "paramiko", "auth-denied", "q must be exactly 160, 224, or 256 bits long", NULL },
    { "asyncssh", "auth-denied", "PermissionDenied", NULL },
    { "ssh2", "auth-denied", "All configured authentication methods failed", NULL },
    { "libssh", "auth-denied", "Access denied for '", NULL },

    /* Generic ends: refined by how far the client got. */
    { "openssh", "reset", "Connection reset by peer", NULL },
    { "plink", "reset", "Connection reset by peer", NULL },
    { "ssh2", "reset", "read ECONNRESET", NULL },
    { NULL, "reset", "ConnectionResetError", NULL },
    { NULL, "reset", "Connection reset by peer", NULL },
    { "openssh", "closed-during-kex", "Connection closed by ", " port " },
    { "openssh", "closed-during-kex", "Connection reset by ", " port " },
    { "dbclient", "closed", "Disconnect received", NULL },
    { "plink", "closed", "Remote side unexpectedly closed network connection", NULL },
    { "plink", "closed", "Server unexpectedly closed network connection", NULL },
    { "dbclient", "closed", "Remote closed the connection", NULL },
    { "paramiko", "closed", "EOF in transport thread", NULL },
    { "paramiko", "closed", "EOFError", NULL },
    { "asyncssh", "closed", "ConnectionLost: Connection lost", NULL },
    { "ssh2", "closed", "ssh2 debug: Socket ended", NULL },
    { "libssh", "closed", "Socket error: disconnected", NULL },
    { "libssh", "closed", "Socket error: No such file or directory", NULL },
    /* A client killed on a deadline: the server kept it waiting. */
    { NULL, "ident-timeout", "killed after ", "(--timeout)" },
};
const size_t diag_nsigs = UTIL_ARRAY_SIZE(diag_sigs);

/* How far a client got, from its progress lines (-v for OpenSSH, the event
 * log for PuTTY, the library logs the drivers print). */
const diag_marker_t diag_markers[] = {
    { "openssh", DIAG_PROGRESS_TCP, "Connection established." },
    { "openssh", DIAG_PROGRESS_IDENT_SENT, "Local version string" },
    /* ssh's words when the server's identification never came: it was
     * waiting for it (also without -v). */
    { "openssh", DIAG_PROGRESS_IDENT_SENT, "kex_exchange_identification: " },
    { "openssh", DIAG_PROGRESS_IDENT_RECV, "Remote protocol version" },
    { "openssh", DIAG_PROGRESS_KEX, "SSH2_MSG_KEXINIT received" },
    { "openssh", DIAG_PROGRESS_KEX, "kex: algorithm:" },
    { "openssh", DIAG_PROGRESS_NEWKEYS, "SSH2_MSG_NEWKEYS received" },
    { "openssh", DIAG_PROGRESS_AUTH, "Authentications that can continue" },
    { "plink", DIAG_PROGRESS_TCP, "Connected to " },
    { "plink", DIAG_PROGRESS_IDENT_SENT, "We claim version" },
    { "plink", DIAG_PROGRESS_IDENT_RECV, "Remote version:" },
    { "plink", DIAG_PROGRESS_KEX, "key exchange with" },
    { "plink", DIAG_PROGRESS_KEX, "Doing Diffie-Hellman" },
    { "plink", DIAG_PROGRESS_NEWKEYS, "inbound encryption" },
    { "plink", DIAG_PROGRESS_AUTH, "authentication" },
    { "dbclient", DIAG_PROGRESS_NEWKEYS, "is not in the trusted hosts file" },
    { "dbclient", DIAG_PROGRESS_AUTH, "Login for " },
    { "paramiko", DIAG_PROGRESS_IDENT_SENT, "Local version/idstring" },
    { "paramiko", DIAG_PROGRESS_IDENT_RECV, "Connected (version" },
    { "paramiko", DIAG_PROGRESS_KEX, "=== Key exchange possibilities ===" },
    { "paramiko", DIAG_PROGRESS_KEX, "=== End of kex handshake ===" },
    { "paramiko", DIAG_PROGRESS_AUTH, "Authentication (" },
    { "asyncssh", DIAG_PROGRESS_IDENT_SENT, "Sending version" },
    { "asyncssh", DIAG_PROGRESS_IDENT_RECV, "Requesting key exchange" },
    { "asyncssh", DIAG_PROGRESS_KEX, "Beginning key exchange" },
    { "asyncssh", DIAG_PROGRESS_AUTH, "Beginning auth" },
    { "ssh2", DIAG_PROGRESS_TCP, "Socket connected" },
    { "ssh2", DIAG_PROGRESS_IDENT_RECV, "Remote ident" },
    { "ssh2", DIAG_PROGRESS_IDENT_RECV, "Outbound: Sending KEXINIT" },
    { "ssh2", DIAG_PROGRESS_KEX, "Sending KEXECDH_INIT" },
    { "ssh2", DIAG_PROGRESS_KEX, "Sending KEXDH_INIT" },
    { "ssh2", DIAG_PROGRESS_NEWKEYS, "ssh2 event handshake" },
    { "ssh2", DIAG_PROGRESS_AUTH, "USERAUTH_REQUEST" },
};
const size_t diag_nmarkers = UTIL_ARRAY_SIZE(diag_markers);

/* Words only one client writes, to tell who wrote the input. */
const diag_marker_t diag_client_marks[] = {
    { "openssh", 0, "^debug1: " },
    { "openssh", 0, "^debug2: " },
    { "openssh", 0, "^debug3: " },
    { "openssh", 0, "^OpenSSH_" },
    { "openssh", 0, "Unable to negotiate with" },
    { "openssh", 0, "kex_exchange_identification" },
    { "openssh", 0, "ssh_dispatch_run_fatal" },
    { "openssh", 0, "ssh: connect to host" },
    { "openssh", 0, "Permission denied (" },
    { "plink", 0, "Event Log: " },
    { "plink", 0, "FATAL ERROR: " },
    { "plink", 0, "PuTTY" },
    { "plink", 0, "We claim version" },
    { "dbclient", 0, "dbclient: " },
    { "paramiko", 0, "paramiko" },
    { "asyncssh", 0, "asyncssh" },
    { "ssh2", 0, "ssh2 event " },
    { "ssh2", 0, "ssh2 debug: " },
    { "libssh", 0, "ssh_connect: " },
    { "libssh", 0, "ssh_userauth_" },
    { "libssh", 0, "ssh_session_is_known_server" },
};
const size_t diag_nclient_marks = UTIL_ARRAY_SIZE(diag_client_marks);

const diag_class_t *
diag_class_find(const char *id)
{
    size_t i;

    for (i = 0; id != NULL && i < diag_nclasses; i++) {
        if (strcmp(diag_classes[i].id, id) == 0) {
            return &diag_classes[i];
        }
    }
    return NULL;
}
