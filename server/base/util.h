/*
 * util: the few helpers every module needs (growable buffer, file reading,
 * path joining, JSON string escaping). Allocation failures are reported, not
 * hidden: functions return -1 (or NULL) and leave their output untouched.
 */
#ifndef SSHMOCK_UTIL_H
#define SSHMOCK_UTIL_H

#include <stdarg.h>
#include <errno.h>
#include <stddef.h>

#define UTIL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The send_disconnect argument of the close paths (wire, sess, conn):
 * 0 closes without a DISCONNECT, 1 sends one with the engine's default
 * reason (11, by application), UTIL_DISCONNECT_REASON(n) one with reason n
 * (RFC 4253 11.1), where the engine can (sshd_session_shutdown()). */
#define UTIL_DISCONNECT_REASON(n) (0x100 | ((int)(n) & 0xff))
#define UTIL_DISCONNECT_REASON_OF(v) (((v) & 0x100) != 0 ? ((v) & 0xff) : 0)
#define UTIL_DISCONNECT_PROTOCOL_ERROR 2

typedef struct util_buf_s {
    char *data;   /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
} util_buf_t;

#define UTIL_BUF_INIT { NULL, 0, 0 }

int util_buf_append(util_buf_t *b, const void *data, size_t len);
int util_buf_puts(util_buf_t *b, const char *s);
int util_buf_printf(util_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int util_buf_vprintf(util_buf_t *b, const char *fmt, va_list ap);
/* Appends s as the inside of a JSON string (quotes not included). */
int util_buf_json_escape(util_buf_t *b, const char *s);
/* Drops the first n bytes. */
void util_buf_consume(util_buf_t *b, size_t n);
void util_buf_reset(util_buf_t *b);
void util_buf_free(util_buf_t *b);

char *util_strdup(const char *s);          /* NULL in, NULL out */
char *util_strndup(const char *s, size_t n);

/* Reads a whole regular file (at most max bytes) into a NUL-terminated
 * buffer. Never blocks on a FIFO or device: anything but a regular file
 * fails with errno UTIL_ENOTREG (EISDIR for a directory), a larger file
 * with EFBIG. util_read_file_strerror() words the failure for a message. */
#define UTIL_ENOTREG ENODEV /* no errno says "not a regular file" */
int util_read_file(const char *path, size_t max, char **data, size_t *len);
const char *util_read_file_strerror(int err);

/* dir/path, or path itself when it is absolute or dir is NULL/empty. */
char *util_path_join(const char *dir, const char *path);

/* Directory part of a path ("." when it has none). */
char *util_dirname(const char *path);

/* mkdir -p with the given mode for the directories it creates. */
int util_mkdirs(const char *path, unsigned mode);

/* Copies s into a fixed buffer, always terminated, truncating. */
void util_strlcpy(char *dst, const char *src, size_t size);

/* Comma-separated lists ("a,b,c", as in a KEXINIT or sshd_config): the
 * next element at *cursor (not terminated, possibly empty) with its length
 * in *len, or NULL at the end of the list. */
const char *util_list_next(const char **cursor, size_t *len);

/* Whether a comma-separated list has an element equal to the n bytes at
 * name. */
int util_list_has(const char *list, const char *name, size_t n);

#endif /* SSHMOCK_UTIL_H */
