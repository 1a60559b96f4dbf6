/*
 * engine: which libssh the server runs on and what it can play
 * (cmake/engine.cmake builds the bundled one; see engine.h).
 */
#include "profile/engine.h"

#include <string.h>

#include <libssh/libssh.h>
#include <libssh/server.h>

#ifndef SSHMOCK_ENGINE_DESC
#define SSHMOCK_ENGINE_DESC "libssh (unknown build)"
#endif

const char *
engine_description(void)
{
    return SSHMOCK_ENGINE_DESC;
}

const char *
engine_limits(void)
{
    return ""
#ifndef SSHMOCK_ENGINE_BUNDLED
           "ssh-dss host keys, blowfish-cbc (built without WITH_DSA and "
           "WITH_BLOWFISH_CIPHER): offer-only\n"
           "client identification lines over 128 bytes are refused "
           "(RFC 4253 allows 255)\n"
#endif
#ifndef LIBSSH_SSHMOCK_DISCONNECT_CODE
           "DISCONNECT after key exchange always has reason 11 (by application): "
           "MaxAuthTries and the disconnect fault action cannot send other codes\n"
#endif
#ifndef LIBSSH_SSHMOCK_STRICT_KEX_CONTROL
           "kex-strict-s-v00@openssh.com is in every KEXINIT that reaches key "
           "exchange, whatever StrictKex or the identification say\n"
#endif
#ifndef LIBSSH_SSHMOCK_FULL_IDENTIFICATION
           "SSH-1.99 identifications are played up to key exchange only\n"
#endif
        ;
}

int
engine_sends_identification(const char *identification)
{
    if (identification == NULL || strncmp(identification, "SSH-2.0-", 8) == 0) {
        return 1;
    }
#ifdef LIBSSH_SSHMOCK_FULL_IDENTIFICATION
    /* SSH-1.99 announces SSH-2 with SSH-1 compatibility (RFC 4253 5.1): the
     * rest of the session is SSH-2. */
    return strncmp(identification, "SSH-1.99-", 9) == 0;
#else
    return 0;
#endif
}

int
engine_controls_strict_kex(void)
{
#ifdef LIBSSH_SSHMOCK_STRICT_KEX_CONTROL
    return 1;
#else
    return 0;
#endif
}
