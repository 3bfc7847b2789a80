/*
 * Access log formatting and buffering. Request lines and header values come from the
 * network: quotes, backslashes, control and non-ASCII bytes are written as \xHH so a
 * client cannot forge log lines or break a parser of the log.
 */
#include "accesslog.h"

#include "fsutil.h"
#include "httpdate.h"
#include "strparse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int open_path(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
}

int uc_accesslog_open(struct uc_accesslog *log, const char *dest)
{
    log->len = 0;
    log->dropped = 0;
    log->last_error = 0;
    log->path = NULL;
    log->fd = -1;
    if (!strcmp(dest, "off"))
        return 0;
    if (!strcmp(dest, "-")) {
        log->fd = STDERR_FILENO;
        return 0;
    }
    log->path = strdup(dest);
    if (!log->path)
        return -ENOMEM;
    int fd = open_path(dest);
    if (fd < 0) {
        free(log->path);
        log->path = NULL;
        return fd;
    }
    log->fd = fd;
    return 0;
}

/*
 * Room, in escaped bytes, for each field the client chooses. With the fixed parts
 * (address, date, status, sizes) a line always fits LOG_LINE_MAX, so no line is ever
 * dropped for its length: a longer field is cut and ends in "...".
 */
#define LOG_LINE_MAX 4096
#define REQUEST_LINE_MAX 2048
#define REFERER_MAX 768
#define USER_AGENT_MAX 768

/* A field between quotes, "-" when absent. */
static size_t put_quoted(char *out, const char *v, size_t n, size_t max)
{
    size_t len = 0;
    out[len++] = '"';
    if (v) {
        len += uc_escape(out + len, v, n, max);
    } else {
        out[len++] = '-';
    }
    out[len++] = '"';
    return len;
}

/* The line for a, at most LOG_LINE_MAX bytes. */
#define WHEN_LEN 27 /* "[06/Nov/1994:08:49:37 +0000" */

/* The time field, formatted once a second per thread (the line is written per request). */
static const char *when_of(int64_t t)
{
    static _Thread_local int64_t at = -1;
    static _Thread_local char when[WHEN_LEN + 1];
    if (t != at) {
        struct uc_utc u;
        uc_utc_split(t > 0 ? t : 0, &u);
        when[0] = '[';
        uc_fmt_2d(when + 1, u.mday);
        when[3] = '/';
        memcpy(when + 4, uc_month_abbr[u.mon], 3);
        when[7] = '/';
        uc_fmt_year_clock(when + 8, &u, ':');
        memcpy(when + 21, " +0000", 6);
        at = t;
    }
    return when;
}

static size_t put_u64_then(char *out, uint64_t v, char sep)
{
    size_t n = uc_fmt_u64(out, v);
    out[n] = sep;
    return n + 1;
}

static size_t format_line(char out[LOG_LINE_MAX], const struct uc_access *a)
{
    /* The client text is an address the daemon formatted, never network bytes. */
    size_t len = strnlen(a->client, 64);
    memcpy(out, a->client, len);
    memcpy(out + len, " - - ", 5);
    len += 5;
    memcpy(out + len, when_of(a->time), WHEN_LEN);
    len += WHEN_LEN;
    memcpy(out + len, "] ", 2);
    len += 2;
    len += put_quoted(out + len, a->request_line, a->request_line_len, REQUEST_LINE_MAX);
    out[len++] = ' ';
    len += put_u64_then(out + len, (uint64_t)(a->status > 0 ? a->status : 0), ' ');
    len += put_u64_then(out + len, a->bytes, ' ');
    len += put_quoted(out + len, a->referer, a->referer_len, REFERER_MAX);
    out[len++] = ' ';
    len += put_quoted(out + len, a->user_agent, a->user_agent_len, USER_AGENT_MAX);
    out[len++] = ' ';
    len += put_u64_then(out + len, a->duration_us, '\n');
    return len;
}

_Static_assert(64 + 5 + WHEN_LEN + 2 + 1 + 2 * (UC_U64_DIGITS + 1) + 1 + 1 + UC_U64_DIGITS + 1 +
                       3 * 2 + REQUEST_LINE_MAX + REFERER_MAX + USER_AGENT_MAX <=
                   LOG_LINE_MAX,
               "a formatted line always fits");

void uc_accesslog_add(struct uc_accesslog *log, const struct uc_access *a)
{
    if (log->fd < 0)
        return;
    char line[LOG_LINE_MAX];
    size_t n = format_line(line, a);
    if (log->len + n > sizeof(log->buf))
        uc_accesslog_flush(log); /* a failed write is counted in dropped */
    memcpy(log->buf + log->len, line, n);
    log->len += n;
}

int uc_accesslog_flush(struct uc_accesslog *log)
{
    if (log->fd < 0 || log->len == 0)
        return 0;
    int rc = uc_write_all(log->fd, log->buf, log->len);
    if (rc) {
        log->last_error = rc;
        size_t lines = 0;
        for (size_t i = 0; i < log->len; i++)
            lines += log->buf[i] == '\n';
        log->dropped += lines;
    }
    log->len = 0;
    return rc;
}

int uc_accesslog_reopen(struct uc_accesslog *log)
{
    int rc = uc_accesslog_flush(log);
    if (!log->path)
        return rc;
    int fd = open_path(log->path);
    if (fd < 0)
        return fd; /* keep writing to the old file rather than losing lines */
    close(log->fd);
    log->fd = fd;
    return rc;
}

void uc_accesslog_close(struct uc_accesslog *log)
{
    uc_accesslog_flush(log);
    if (log->path && log->fd >= 0)
        close(log->fd);
    free(log->path);
    log->path = NULL;
    log->fd = -1;
}
