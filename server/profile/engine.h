#ifndef SSHMOCK_ENGINE_H
#define SSHMOCK_ENGINE_H

/*
 * The SSH engine sshmock is linked with (cmake/engine.cmake): the bundled
 * libssh 0.10.6 with our patches (engine/libssh/patches), or the system's
 * libssh. Each patch that adds an API defines a LIBSSH_SSHMOCK_* macro in
 * the libssh header that declares it; the code tests those macros, so the
 * system engine builds and keeps the behaviour it had.
 */

/* "bundled libssh 0.10.6 + 4 patches" or "system libssh 0.10.6": for
 * --version, `check` and the log line at start. */
const char *engine_description(void);

/* What the linked engine cannot play that the bundled one can, one item
 * per line, each ending in a newline ("" when nothing). */
const char *engine_limits(void);

/* Whether the engine sends this identification itself, so the key exchange
 * hashes it: "SSH-2.0-..." always, "SSH-1.99-..." with the bundled engine.
 * Any other form is played by the wire tap, up to key exchange. */
int engine_sends_identification(const char *identification);

/* Whether the engine can leave kex-strict-s-v00@openssh.com out of its
 * KEXINIT (the system libssh 0.10.6 always adds it). */
int engine_controls_strict_kex(void);

#endif /* SSHMOCK_ENGINE_H */
