/*
 * Access log: the Combined Log Format line with request time, escaping of what the
 * network sent, buffering (nothing written before a flush), rotation by rename+reopen.
 */
#include "accesslog.h"
#include "uc_test.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accesslog_line_and_buffering),
        cmocka_unit_test(test_accesslog_rotation_and_long_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
