/*
 * Access log formatting and buffering. Request lines and header values come from the
 * network: quotes, backslashes, control and non-ASCII bytes are written as \xHH so a
 * client cannot forge log lines or break a parser of the log.
 */
#include "accesslog.h"
#include "fsutil.h"

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

/* Append s[0..n) escaped; returns false when the line buffer is full. */
static bool put_escaped(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
        if (*len + (plain ? 1 : 4) >= cap)
            return false;
        if (plain) {
            out[(*len)++] = (char)c;
        } else {
            out[(*len)++] = '\\';
            out[(*len)++] = 'x';
            out[(*len)++] = hex[c >> 4];
            out[(*len)++] = hex[c & 15];
        }
    }
    return true;
}

static bool put_raw(char *out, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len + n >= cap)
        return false;
    memcpy(out + *len, s, n);
    *len += n;
    return true;
}

/* A header value, or "-" when absent, between quotes. */
static bool put_quoted(char *out, size_t cap, size_t *len, const char *v, size_t n)
{
    return put_raw(out, cap, len, "\"") &&
           (v ? put_escaped(out, cap, len, v, n) : put_raw(out, cap, len, "-")) &&
           put_raw(out, cap, len, "\"");
}

/* The line for a, or 0 when it does not fit in cap. */
static size_t format_line(char *out, size_t cap, const struct uc_access *a)
{
    char head[128], mid[64], tail[32];
    time_t t = (time_t)a->time;
    struct tm tm;
    gmtime_r(&t, &tm);
    char when[40];
    strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S +0000", &tm);
    snprintf(head, sizeof(head), "%s - - [%s] ", a->client, when);
    snprintf(mid, sizeof(mid), " %d %llu ", a->status, (unsigned long long)a->bytes);
    snprintf(tail, sizeof(tail), " %llu\n", (unsigned long long)a->duration_us);
    size_t len = 0;
    bool ok = put_raw(out, cap, &len, head) &&
              put_quoted(out, cap, &len, a->request_line, a->request_line_len) &&
              put_raw(out, cap, &len, mid) &&
              put_quoted(out, cap, &len, a->referer, a->referer_len) &&
              put_raw(out, cap, &len, " ") &&
              put_quoted(out, cap, &len, a->user_agent, a->user_agent_len) &&
              put_raw(out, cap, &len, tail);
    return ok ? len : 0;
}

void uc_accesslog_add(struct uc_accesslog *log, const struct uc_access *a)
{
    if (log->fd < 0)
        return;
    char line[4096];
    size_t n = format_line(line, sizeof(line), a);
    if (n == 0) {
        /* A line longer than 4 KiB (a huge request line): log it cut, never drop it. */
        struct uc_access cut = *a;
        cut.request_line_len = a->request_line_len > 1024 ? 1024 : a->request_line_len;
        cut.referer_len = a->referer_len > 512 ? 512 : a->referer_len;
        cut.user_agent_len = a->user_agent_len > 512 ? 512 : a->user_agent_len;
        n = format_line(line, sizeof(line), &cut);
    }
    if (log->len + n > sizeof(log->buf))
        uc_accesslog_flush(log);
    memcpy(log->buf + log->len, line, n);
    log->len += n;
}

int uc_accesslog_flush(struct uc_accesslog *log)
{
    if (log->fd < 0 || log->len == 0)
        return 0;
    int rc = uc_write_all(log->fd, log->buf, log->len);
    if (rc) {
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
