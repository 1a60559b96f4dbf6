#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static int
util__buf_reserve(util_buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    size_t cap = b->cap ? b->cap : 64;
    char *p = NULL;

    if (need < b->len) {
        return -1; /* overflow */
    }
    if (need <= b->cap) {
        return 0;
    }
    while (cap < need) {
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (p == NULL) {
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int
util_buf_append(util_buf_t *b, const void *data, size_t len)
{
    if (util__buf_reserve(b, len) < 0) {
        return -1;
    }
    if (len > 0) {
        memcpy(b->data + b->len, data, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int
util_buf_puts(util_buf_t *b, const char *s)
{
    return util_buf_append(b, s, strlen(s));
}

int
util_buf_vprintf(util_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || util__buf_reserve(b, (size_t)n) < 0) {
        return -1;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int
util_buf_printf(util_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = util_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int
util_buf_json_escape(util_buf_t *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    for (; *p != '\0'; p++) {
        int rc;
        switch (*p) {
        case '"': rc = util_buf_puts(b, "\\\""); break;
        case '\\': rc = util_buf_puts(b, "\\\\"); break;
        case '\n': rc = util_buf_puts(b, "\\n"); break;
        case '\r': rc = util_buf_puts(b, "\\r"); break;
        case '\t': rc = util_buf_puts(b, "\\t"); break;
        default:
            /* Control bytes and bytes that are not ASCII are escaped so the
             * log stays valid JSON whatever a client sends as its banner. */
            if (*p < 0x20 || *p >= 0x7f) {
                rc = util_buf_printf(b, "\\u%04x", *p);
            } else {
                rc = util_buf_append(b, p, 1);
            }
        }
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

void
util_buf_consume(util_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data != NULL) {
        b->data[b->len] = '\0';
    }
}

void
util_buf_reset(util_buf_t *b)
{
    b->len = 0;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

void
util_buf_free(util_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *
util_strdup(const char *s)
{
    return s == NULL ? NULL : strdup(s);
}

char *
util_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p == NULL) {
        return NULL;
    }
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int
util_read_file(const char *path, size_t max, char **data, size_t *len)
{
    util_buf_t b = UTIL_BUF_INIT;
    char chunk[4096];
    struct stat st;
    ssize_t n;
    int fd;
    int rc = -1;

    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer and
     * hang the caller (check, serve, a reload) forever. Only regular files
     * are read; anything else is refused before a byte is read. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        errno = S_ISDIR(st.st_mode) ? EISDIR : UTIL_ENOTREG;
        goto out;
    }
    for (;;) {
        n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            goto out;
        }
        if (n == 0) {
            break;
        }
        if (b.len + (size_t)n > max) {
            errno = EFBIG;
            goto out;
        }
        if (util_buf_append(&b, chunk, (size_t)n) < 0) {
            goto out;
        }
    }
    if (util_buf_append(&b, "", 0) < 0) { /* an empty file still gets a buffer */
        goto out;
    }
    *data = b.data;
    if (len != NULL) {
        *len = b.len;
    }
    b.data = NULL;
    rc = 0;
out:
    util_buf_free(&b);
    close(fd);
    return rc;
}

const char *
util_read_file_strerror(int err)
{
    switch (err) {
    case UTIL_ENOTREG: return "not a regular file (a FIFO, socket or device)";
    case EISDIR: return "is a directory";
    case EFBIG: return "file too large";
    case 0: return strerror(EIO);
    default: return strerror(err);
    }
}

char *
util_path_join(const char *dir, const char *path)
{
    util_buf_t b = UTIL_BUF_INIT;

    if (path == NULL) {
        return NULL;
    }
    if (path[0] == '/' || dir == NULL || dir[0] == '\0' || strcmp(dir, ".") == 0) {
        return strdup(path);
    }
    if (util_buf_printf(&b, "%s/%s", dir, path) < 0) {
        util_buf_free(&b);
        return NULL;
    }
    return b.data;
}

char *
util_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL) {
        return strdup(".");
    }
    if (slash == path) {
        return strdup("/");
    }
    return util_strndup(path, (size_t)(slash - path));
}

int
util_mkdirs(const char *path, unsigned mode)
{
    char *copy = strdup(path);
    char *p = NULL;
    int rc = 0;

    if (copy == NULL) {
        return -1;
    }
    for (p = copy + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(copy, (mode_t)mode) < 0 && errno != EEXIST) {
                rc = -1;
                break;
            }
            *p = saved;
            if (saved == '\0') {
                break;
            }
        }
    }
    free(copy);
    return rc;
}

void
util_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n;

    if (size == 0) {
        return;
    }
    n = strlen(src);
    if (n >= size) {
        n = size - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

const char *
util_list_next(const char **cursor, size_t *len)
{
    const char *elem = *cursor;

    if (*elem == '\0') {
        return NULL;
    }
    *len = strcspn(elem, ",");
    *cursor = elem + *len + (elem[*len] == ',');
    return elem;
}

int
util_list_has(const char *list, const char *name, size_t n)
{
    const char *elem;
    size_t len;

    while ((elem = util_list_next(&list, &len)) != NULL) {
        if (len == n && memcmp(elem, name, n) == 0) {
            return 1;
        }
    }
    return 0;
}
