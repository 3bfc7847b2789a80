/*
 * Access log: the Combined Log Format line with request time, escaping of what the
 * network sent, buffering (nothing written before a flush), rotation by rename+reopen.
 */
#include "accesslog.h"
#include "uc_test.h"

#include <errno.h>
#include <sys/stat.h>

static char *slurp(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static struct uc_access sample(const char *line)
{
    struct uc_access a = {0};
    a.client = "127.0.0.1";
    a.time = 784111777;
    a.request_line = line;
    a.request_line_len = strlen(line);
    a.status = 206;
    a.bytes = 1048576;
    a.user_agent = "Microsoft BITS/7.8";
    a.user_agent_len = strlen(a.user_agent);
    a.duration_us = 412;
    return a;
}

static void test_accesslog_line_and_buffering(void **state)
{
    (void)state;
    char *dir = uct_tmpdir(), path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/access.log", dir);
    static struct uc_accesslog log;
    assert_int_equal(uc_accesslog_open(&log, path), 0);
    struct uc_access a = sample("GET /Content/AB/x.cab HTTP/1.1");
    uc_accesslog_add(&log, &a);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 0); /* buffered */
    a = sample("GET /a\"b\\c\x01\xff HTTP/1.1");
    a.referer = "http://x/\"";
    a.referer_len = strlen(a.referer);
    uc_accesslog_add(&log, &a);
    assert_int_equal(uc_accesslog_flush(&log), 0);
    assert_string_equal(slurp(path),
                        "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET /Content/AB/x.cab "
                        "HTTP/1.1\" 206 1048576 \"-\" \"Microsoft BITS/7.8\" 412\n"
                        "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET "
                        "/a\\x22b\\x5Cc\\x01\\xFF HTTP/1.1\" 206 1048576 \"http://x/\\x22\" "
                        "\"Microsoft BITS/7.8\" 412\n");
    uc_accesslog_close(&log);
    uct_rmrf(dir);
}

static void test_accesslog_rotation_and_long_lines(void **state)
{
    (void)state;
    char *dir = uct_tmpdir(), path[PATH_MAX], old[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s/access.log", dir);
    snprintf(old, sizeof(old), "%s.1", path);
    static struct uc_accesslog log;
    assert_int_equal(uc_accesslog_open(&log, path), 0);
    struct uc_access a = sample("GET /before HTTP/1.1");
    uc_accesslog_add(&log, &a);
    assert_int_equal(rename(path, old), 0);
    a = sample("GET /buffered-before-reopen HTTP/1.1");
    uc_accesslog_add(&log, &a);
    assert_int_equal(uc_accesslog_reopen(&log), 0); /* flushes into the renamed file */
    a = sample("GET /after HTTP/1.1");
    uc_accesslog_add(&log, &a);
    /* A 10 KB request line is logged, cut, not dropped. */
    static char big[10240];
    memset(big, 'a', sizeof(big) - 1);
    a = sample(big);
    uc_accesslog_add(&log, &a);
    uc_accesslog_close(&log);
    char *s = slurp(old);
    assert_non_null(strstr(s, "/before"));
    assert_non_null(strstr(s, "/buffered-before-reopen"));
    s = slurp(path);
    assert_non_null(strstr(s, "/after"));
    assert_null(strstr(s, "/before"));
    assert_int_equal(strchr(strchr(s, '\n') + 1, '\n')[1], 0); /* exactly two lines */
    static struct uc_accesslog off;
    assert_int_equal(uc_accesslog_open(&off, "off"), 0);
    uc_accesslog_add(&off, &a);
    assert_int_equal(uc_accesslog_flush(&off), 0);
    uct_rmrf(dir);
}

/* Escaping can quadruple a field: it is cut to fit, with a marker, never dropped. */
static void test_accesslog_escaped_fields_cut(void **state)
{
    (void)state;
    char *dir = uct_tmpdir(), path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/access.log", dir);
    static struct uc_accesslog log;
    assert_int_equal(uc_accesslog_open(&log, path), 0);
    static char line[1600], ua[3000], ref[2000], want[4096];
    memcpy(line, "GET /", 5);
    memset(line + 5, '"', sizeof(line) - 6);
    memset(ua, 'u', sizeof(ua) - 1);
    memset(ref, 1, sizeof(ref) - 1);
    struct uc_access a = sample(line);
    a.user_agent = ua;
    a.user_agent_len = strlen(ua);
    a.referer = ref;
    a.referer_len = strlen(ref);
    uc_accesslog_add(&log, &a);
    assert_int_equal(uc_accesslog_flush(&log), 0);
    const char *s = slurp(path);
    assert_true(strlen(s) <= 4096);
    assert_int_equal(strchr(s, '\n')[1], 0); /* one whole line */
    size_t n = (size_t)snprintf(want, sizeof(want), "\"GET /");
    for (int i = 0; i < 510; i++) /* 2048 bytes of field: 5 + 510 * 4 + 3 */
        n += (size_t)snprintf(want + n, sizeof(want) - n, "\\x22");
    snprintf(want + n, sizeof(want) - n, "...\" 206 ");
    assert_non_null(strstr(s, want));
    n = (size_t)snprintf(want, sizeof(want), " \"");
    for (int i = 0; i < 191; i++) /* 191 * 4 + 3 <= 768 */
        n += (size_t)snprintf(want + n, sizeof(want) - n, "\\x01");
    snprintf(want + n, sizeof(want) - n, "...\" \"");
    assert_non_null(strstr(s, want));
    memset(want, 'u', 765);
    snprintf(want + 765, sizeof(want) - 765, "...\" 412\n");
    assert_non_null(strstr(s, want));
    uc_accesslog_close(&log);
    uct_rmrf(dir);
}

/* Lines a failed write loses are counted, and the error kept for the report. */
static void test_accesslog_write_failure_counted(void **state)
{
    (void)state;
    static struct uc_accesslog log;
    if (uc_accesslog_open(&log, "/dev/full") != 0)
        skip();
    struct uc_access a = sample("GET /lost HTTP/1.1");
    for (int i = 0; i < 3; i++)
        uc_accesslog_add(&log, &a);
    assert_int_equal(uc_accesslog_flush(&log), -ENOSPC);
    assert_int_equal(log.dropped, 3);
    assert_int_equal(log.last_error, -ENOSPC);
    uc_accesslog_close(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accesslog_line_and_buffering),
        cmocka_unit_test(test_accesslog_rotation_and_long_lines),
        cmocka_unit_test(test_accesslog_escaped_fields_cut),
        cmocka_unit_test(test_accesslog_write_failure_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
