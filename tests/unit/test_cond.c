/*
 * HTTP dates in all three forms, and the preconditions of RFC 9110 §13.2.2 with their
 * precedence, the strong/weak comparisons and If-Range, one row per rule.
 */
#include "cond.h"
#include "httpdate.h"

#include "uc_test.h"
#include <time.h>

#include <errno.h>

static void test_httpdate_forms(void **state)
{
    (void)state;
    int64_t t;
    char s[UC_HTTPDATE_LEN + 1];
    const char *forms[] = {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                           "Sun Nov  6 08:49:37 1994"};
    for (size_t i = 0; i < 3; i++) {
        if (uc_httpdate_parse(forms[i], strlen(forms[i]), &t) || t != 784111777)
            fail_msg("'%s' did not parse to 784111777", forms[i]);
    }
    uc_httpdate_format(784111777, s);
    assert_string_equal(s, "Sun, 06 Nov 1994 08:49:37 GMT");
    uc_httpdate_format(1795953600, s);
    assert_int_equal(uc_httpdate_parse(s, strlen(s), &t), 0);
    assert_int_equal(t, 1795953600);
    const char *bad[] = {"Sun, 06 Nov 1994 08:49:37 GMT ", "Sun, 6 Nov 1994 08:49:37 GMT",
                         "Sun, 06 Foo 1994 08:49:37 GMT",  "Sun, 06 Nov 1994 25:49:37 GMT",
                         "06 Nov 1994 08:49:37 GMT",       "",
                         "Sun, 06 Nov 1994 08:49:37 UTC"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (uc_httpdate_parse(bad[i], strlen(bad[i]), &t) != -EINVAL)
            fail_msg("'%s' should not parse", bad[i]);
}

#define ETAG "\"abc123\""
#define LM 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */

struct ccase {
    const char *name;
    const char *head; /* request head after the request line */
    const char *method;
    enum uc_cond_result want;
    int if_range; /* expected uc_cond_if_range */
};

static const struct ccase cases[] = {
    {"no conditions", "", "GET", UC_COND_PROCEED, 1},
    {"INM match -> 304", "If-None-Match: " ETAG "\r\n", "GET", UC_COND_NOT_MODIFIED, 1},
    {"INM weak match -> 304", "If-None-Match: W/" ETAG "\r\n", "GET", UC_COND_NOT_MODIFIED, 1},
    {"INM list match", "If-None-Match: \"x\", " ETAG "\r\n", "HEAD", UC_COND_NOT_MODIFIED, 1},
    {"INM no match", "If-None-Match: \"x\"\r\n", "GET", UC_COND_PROCEED, 1},
    {"INM star", "If-None-Match: *\r\n", "GET", UC_COND_NOT_MODIFIED, 1},
    {"INM match on POST -> 412", "If-None-Match: " ETAG "\r\n", "POST", UC_COND_FAILED, 1},
    {"IM match", "If-Match: " ETAG "\r\n", "GET", UC_COND_PROCEED, 1},
    {"IM star", "If-Match: *\r\n", "GET", UC_COND_PROCEED, 1},
    {"IM weak never matches", "If-Match: W/" ETAG "\r\n", "GET", UC_COND_FAILED, 1},
    {"IM mismatch -> 412", "If-Match: \"zzz\"\r\n", "GET", UC_COND_FAILED, 1},
    {"IMS equal -> 304", "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n", "GET",
     UC_COND_NOT_MODIFIED, 1},
    {"IMS older -> 200", "If-Modified-Since: Sun, 06 Nov 1994 08:49:36 GMT\r\n", "GET",
     UC_COND_PROCEED, 1},
    {"IMS invalid ignored", "If-Modified-Since: yesterday\r\n", "GET", UC_COND_PROCEED, 1},
    {"IMS ignored with INM",
     "If-None-Match: \"x\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 "
     "08:49:37 GMT\r\n",
     "GET", UC_COND_PROCEED, 1},
    {"IUS older -> 412", "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:36 GMT\r\n", "GET",
     UC_COND_FAILED, 1},
    {"IUS equal passes", "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n", "GET",
     UC_COND_PROCEED, 1},
    {"IUS ignored with IM",
     "If-Match: " ETAG "\r\nIf-Unmodified-Since: Sun, 06 Nov 1994 "
     "08:49:36 GMT\r\n",
     "GET", UC_COND_PROCEED, 1},
    {"IM fails before INM", "If-Match: \"zzz\"\r\nIf-None-Match: " ETAG "\r\n", "GET",
     UC_COND_FAILED, 1},
    {"If-Range etag match", "If-Range: " ETAG "\r\n", "GET", UC_COND_PROCEED, 1},
    {"If-Range etag mismatch", "If-Range: \"old\"\r\n", "GET", UC_COND_PROCEED, 0},
    {"If-Range weak", "If-Range: W/" ETAG "\r\n", "GET", UC_COND_PROCEED, 0},
    {"If-Range date match", "If-Range: Sun, 06 Nov 1994 08:49:37 GMT\r\n", "GET", UC_COND_PROCEED,
     1},
    {"If-Range date other", "If-Range: Sun, 06 Nov 1994 08:49:38 GMT\r\n", "GET", UC_COND_PROCEED,
     0},
    {"If-Range garbage", "If-Range: soon\r\n", "GET", UC_COND_PROCEED, 0},
};

static void test_cond_table(void **state)
{
    (void)state;
    static const struct uc_http_limits lim = {8192, 16384, 64};
    const struct uc_validators v = {ETAG, strlen(ETAG), LM};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s /f HTTP/1.1\r\nHost: a\r\n%s\r\n", cases[i].method,
                 cases[i].head);
        struct uc_http_req req;
        uc_http_req_init(&req);
        assert_int_equal(uc_http_parse(&req, buf, strlen(buf), &lim), UC_PARSE_OK);
        enum uc_cond_result got = uc_cond_eval(&req, buf, &v);
        if (got != cases[i].want)
            fail_msg("%s: got %d, want %d", cases[i].name, got, cases[i].want);
        if ((int)uc_cond_if_range(&req, buf, &v) != cases[i].if_range)
            fail_msg("%s: If-Range gave %d", cases[i].name, !cases[i].if_range);
    }
}

/* The arithmetic split against gmtime_r: every day boundary across leap years and
 * centuries (1900 not leap, 2000 leap, 2100 not), and random seconds up to 9999. */
static void test_utc_split_matches_gmtime(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 400000; i++) {
        int64_t t;
        if (i < 200000) {
            t = (int64_t)i * 86400 + (i % 3 == 0 ? 0 : i % 3 == 1 ? 86399 : 43210);
        } else {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            t = (int64_t)(x % 253402300800ULL);
        }
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        struct uc_utc u;
        uc_utc_split(t, &u);
        if (u.year != tm.tm_year + 1900 || u.mon != tm.tm_mon || u.mday != tm.tm_mday ||
            u.hour != tm.tm_hour || u.min != tm.tm_min || u.sec != tm.tm_sec ||
            u.wday != tm.tm_wday)
            fail_msg("t=%lld: %d-%d-%d %d:%d:%d wday %d, gmtime_r %d-%d-%d %d:%d:%d wday %d",
                     (long long)t, u.year, u.mon, u.mday, u.hour, u.min, u.sec, u.wday,
                     tm.tm_year + 1900, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     tm.tm_wday);
        if (i % 997 == 0) { /* and the formatted date against strftime's */
            char want[64], got[UC_HTTPDATE_LEN + 1];
            strftime(want, sizeof(want), "%a, %d %b %Y %H:%M:%S GMT", &tm);
            uc_httpdate_format(t, got);
            assert_string_equal(got, want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_httpdate_forms),
        cmocka_unit_test(test_utc_split_matches_gmtime),
        cmocka_unit_test(test_cond_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
