/*
 * sshd: the libssh adapter. It configures one ssh_bind per profile, starts
 * a non-blocking libssh session on the connection's end of the socketpair,
 * and drives it from the libuv loop: ssh_handle_key_exchange() until it
 * stops answering SSH_AGAIN, then ssh_event_dopoll(event, 0). UV_WRITABLE
 * is armed only while libssh reports output pending (ssh_get_poll_flags),
 * the way h2o's uv-binding arms it only while it has something to write.
 */
#ifndef SSHMOCK_SSHD_H
#define SSHMOCK_SSHD_H

#include <libssh/libssh.h>
#include <libssh/server.h>
#include <stddef.h>

#include "ssh/hostkey.h"
#include "profile/profile.h"

struct conn_s;

/* A configured ssh_bind: algorithms, identification, host keys. The keys
 * are copied into the bind (it owns its copies). */
int sshd_bind_new(const profile_t *p, const hostkey_set_t *keys, ssh_bind *out,
                  char *err, size_t errlen);

/* Creates the session on fd and starts polling it. */
int sshd_session_start(struct conn_s *c, int fd);

/* Runs libssh for whatever its socket has, then re-arms the poll. */
void sshd_drive(struct conn_s *c);

/* Stops polling, tells libssh to disconnect (with the reason when asked)
 * and so closes libssh's end of the socketpair. */
void sshd_session_shutdown(struct conn_s *c);

/* Frees the session; after the poll handle has closed. */
void sshd_session_free(struct conn_s *c);

#endif /* SSHMOCK_SSHD_H */
