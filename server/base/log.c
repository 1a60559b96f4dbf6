#include "base/log.h"

#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base/util.h"

int
log_open(log_t *log, FILE *human, const char *json_path, const char *profile)
{
    memset(log, 0, sizeof *log);
    log->human = human;
    log->profile = profile;
    if (json_path != NULL) {
        log->json = fopen(json_path, "a");
        if (log->json == NULL) {
            return -1;
        }
        log->own_json = 1;
    }
    return 0;
}

void
log_close(log_t *log)
{
    if (log->own_json && log->json != NULL) {
        fclose(log->json);
    }
    log->json = NULL;
    log->human = NULL;
}

static void
log__timestamp(char *buf, size_t len)
{
    struct timeval tv;
    struct tm tm;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000));
}

/* A value needs quotes on the human line when it is empty or would not read
 * back as one token. */
static int
log__needs_quotes(const char *v)
{
    if (*v == '\0') {
        return 1;
    }
    for (; *v != '\0'; v++) {
        if (*v == ' ' || *v == '"' || *v == '=' || (unsigned char)*v < 0x20) {
            return 1;
        }
    }
    return 0;
}

void
log_event(log_t *log, uint64_t conn, const char *event, ...)
{
    util_buf_t h = UTIL_BUF_INIT;
    util_buf_t j = UTIL_BUF_INIT;
    char ts[96];
    va_list ap;
    const char *k = NULL;

    if (log == NULL || (log->human == NULL && log->json == NULL)) {
        return;
    }
    log__timestamp(ts, sizeof ts);
    util_buf_printf(&h, "%s sshmock conn=%llu %s", ts, (unsigned long long)conn, event);
    util_buf_printf(&j, "{\"ts\":\"%s\",\"conn\":%llu,\"event\":\"", ts,
                    (unsigned long long)conn);
    util_buf_json_escape(&j, event);
    util_buf_puts(&j, "\"");
    if (log->profile != NULL) {
        util_buf_puts(&j, ",\"profile\":\"");
        util_buf_json_escape(&j, log->profile);
        util_buf_puts(&j, "\"");
    }

    va_start(ap, event);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        if (v == NULL) {
            continue;
        }
        if (log__needs_quotes(v)) {
            util_buf_printf(&h, " %s=\"", k);
            util_buf_json_escape(&h, v); /* same escaping keeps the line one line */
            util_buf_puts(&h, "\"");
        } else {
            util_buf_printf(&h, " %s=%s", k, v);
        }
        util_buf_printf(&j, ",\"%s\":\"", k);
        util_buf_json_escape(&j, v);
        util_buf_puts(&j, "\"");
    }
    va_end(ap);

    util_buf_puts(&h, "\n");
    util_buf_puts(&j, "}\n");
    if (log->human != NULL && h.data != NULL) {
        fwrite(h.data, 1, h.len, log->human);
        fflush(log->human);
    }
    if (log->json != NULL && j.data != NULL) {
        fwrite(j.data, 1, j.len, log->json);
        fflush(log->json);
    }
    util_buf_free(&h);
    util_buf_free(&j);
}
