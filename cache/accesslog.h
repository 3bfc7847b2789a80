/*
 * The access log (SPEC §3): Combined Log Format plus the request time in microseconds,
 *
 *   127.0.0.1 - - [29/Nov/2026:12:00:00 +0000] "GET /Content/AB/...cab HTTP/1.1" 206 1048576 "-"
 * "Microsoft BITS/7.8" 412
 *
 * buffered so that a busy worker writes once per batch, not once per request. Each
 * worker owns one; all append to the same file (O_APPEND keeps whole writes intact).
 * reopen() after a rename rotates the log (the daemon calls it on SIGUSR1).
 */
#ifndef UC_ACCESSLOG_H
#define UC_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

#define UC_ACCESSLOG_BUF (64 * 1024)

struct uc_accesslog {
    int fd;           /* -1 when off */
    char *path;       /* owned; NULL for stderr or off */
    size_t len;       /* bytes waiting in buf */
    uint64_t dropped; /* lines lost to write errors (the daemon counts them in /metrics) */
    int last_error;   /* -errno of the last failed write */
    char buf[UC_ACCESSLOG_BUF];
};

struct uc_access {
    const char *client;       /* address text */
    int64_t time;             /* unix seconds of the request */
    const char *request_line; /* raw, as received; escaped when written */
    size_t request_line_len;
    int status;
    uint64_t bytes;                   /* body bytes sent */
    const char *referer, *user_agent; /* raw values, NULL when absent */
    size_t referer_len, user_agent_len;
    uint64_t duration_us; /* first byte received to last byte sent */
};

/* dest: a path (appended to, created 0644), "-" for stderr, "off". Returns 0 or -errno. */
int uc_accesslog_open(struct uc_accesslog *log, const char *dest);
/* Buffer one line; flushes first when it would not fit. Fields the client chose are
 * escaped and cut (ending in "...") so that a line always fits: none is lost to its
 * length. */
void uc_accesslog_add(struct uc_accesslog *log, const struct uc_access *a);
/* Write what is buffered. Returns 0 or -errno (the lines are then dropped, counted). */
int uc_accesslog_flush(struct uc_accesslog *log);
/* Flush, then open the path again (after the old file was renamed away). */
int uc_accesslog_reopen(struct uc_accesslog *log);
void uc_accesslog_close(struct uc_accesslog *log);

#endif
