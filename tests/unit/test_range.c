/*
 * Range decisions, one row per RFC 9110 §14 rule or edge: the three forms, whitespace
 * and empty list elements, invalid syntax ignored, unsatisfiable parts dropped, overlaps
 * merged, and the part limit.
 */
#include "range.h"
#include "uc_test.h"

struct rcase {
    const char *v;
    uint64_t size;
    uint32_t max_parts;
    enum uc_range_result want;
    const char *parts; /* "a-b,c-d" after coalescing, for UC_RANGE_OK */
};

static const struct rcase cases[] = {
    {"bytes=0-499", 10000, 64, UC_RANGE_OK, "0-499"},
    {"bytes=500-999", 10000, 64, UC_RANGE_OK, "500-999"},
    {"bytes=-500", 10000, 64, UC_RANGE_OK, "9500-9999"},
    {"bytes=9500-", 10000, 64, UC_RANGE_OK, "9500-9999"},
    {"bytes=0-0,-1", 10000, 64, UC_RANGE_OK, "0-0,9999-9999"},
    {"bytes=0-999999", 10000, 64, UC_RANGE_OK, "0-9999"},  /* last clipped */
    {"bytes=-20000", 10000, 64, UC_RANGE_OK, "0-9999"},    /* suffix > size */
    {"Bytes=0-1", 10, 64, UC_RANGE_OK, "0-1"},             /* unit is case-insensitive */
    {"bytes= 0-1 , 4-5 ", 10, 64, UC_RANGE_OK, "0-1,4-5"}, /* OWS */
    {"bytes=,0-1,,", 10, 64, UC_RANGE_OK, "0-1"},          /* empty elements */
    {"bytes=0-4,2-8", 10, 64, UC_RANGE_OK, "0-8"},         /* overlap merged */
    {"bytes=0-4,5-8", 10, 64, UC_RANGE_OK, "0-8"},         /* adjacent merged */
    {"bytes=5-8,0-1", 10, 64, UC_RANGE_OK, "0-1,5-8"},     /* sorted */
    {"bytes=0-0,0-0,0-0,0-0", 10, 1, UC_RANGE_OK, "0-0"},  /* repeats cost nothing */
    {"bytes=0-1,3-4,6-7", 10, 2, UC_RANGE_UNSAT, NULL},    /* over max_parts */
    {"bytes=10-20", 10, 64, UC_RANGE_UNSAT, NULL},         /* first-pos >= size */
    {"bytes=-0", 10, 64, UC_RANGE_UNSAT, NULL},            /* zero suffix */
    {"bytes=0-1", 0, 64, UC_RANGE_UNSAT, NULL},            /* empty file */
    {"bytes=-5", 0, 64, UC_RANGE_UNSAT, NULL},
    {"bytes=10-20,0-1", 10, 64, UC_RANGE_OK, "0-1"}, /* unsatisfiable part dropped */
    {"bytes=5-1", 10, 64, UC_RANGE_IGNORE, NULL},    /* last < first: invalid */
    {"bytes=a-1", 10, 64, UC_RANGE_IGNORE, NULL},
    {"bytes=1", 10, 64, UC_RANGE_IGNORE, NULL},
    {"bytes=", 10, 64, UC_RANGE_IGNORE, NULL},
    {"bytes=,", 10, 64, UC_RANGE_IGNORE, NULL},
    {"bytes=--1", 10, 64, UC_RANGE_IGNORE, NULL},
    {"bytes=0-1;x", 10, 64, UC_RANGE_IGNORE, NULL},
    {"items=0-1", 10, 64, UC_RANGE_IGNORE, NULL}, /* other unit */
    {"bytes 0-1", 10, 64, UC_RANGE_IGNORE, NULL},
    /* Numbers past 64 bits are past the end of any file (§14.1.1), never a syntax error:
     * a satisfiable range must not fall back to a whole-file 200. */
    {"bytes=18446744073709551616-", 10, 64, UC_RANGE_UNSAT, NULL},
    {"bytes=99999999999999999999-", 10, 64, UC_RANGE_UNSAT, NULL},
    {"bytes=0-99999999999999999999", 10, 64, UC_RANGE_OK, "0-9"},
    {"bytes=-99999999999999999999", 10, 64, UC_RANGE_OK, "0-9"},
    {"bytes=3-18446744073709551615", 10, 64, UC_RANGE_OK, "3-9"},
    {"bytes=99999999999999999999-99999999999999999999,2-3", 10, 64, UC_RANGE_OK, "2-3"},
    {"bytes=99999999999999999999-5", 10, 64, UC_RANGE_IGNORE, NULL}, /* last < first */
    {"bytes=4294967296-4294967297", 5000000000ULL, 64, UC_RANGE_OK,
     "4294967296-4294967297"}, /* past 4 GiB */
};

static void format_parts(const struct uc_range *r, uint32_t n, char *out, size_t len)
{
    size_t used = 0;
    out[0] = 0;
    for (uint32_t i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%llu-%llu", i ? "," : "",
                                 (unsigned long long)r[i].first, (unsigned long long)r[i].last);
}

static void test_range_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct rcase *c = &cases[i];
        struct uc_range parts[16];
        uint32_t n = 0;
        enum uc_range_result got =
            uc_range_eval(c->v, strlen(c->v), c->size, c->max_parts, parts, 16, &n);
        if (got != c->want)
            fail_msg("'%s' size %llu: got %d, want %d", c->v, (unsigned long long)c->size, got,
                     c->want);
        if (got == UC_RANGE_OK) {
            char s[256];
            format_parts(parts, n, s, sizeof(s));
            if (strcmp(s, c->parts))
                fail_msg("'%s': parts %s, want %s", c->v, s, c->parts);
        }
    }
}

static void test_range_cap_before_merge(void **state)
{
    (void)state;
    /* More satisfiable parts than the caller's table holds: refused, never truncated. */
    char v[4096] = "bytes=";
    for (int i = 0; i < 40; i++)
        snprintf(v + strlen(v), sizeof(v) - strlen(v), "%s%d-%d", i ? "," : "", i * 10, i * 10 + 1);
    struct uc_range parts[32];
    uint32_t n = 0;
    assert_int_equal(uc_range_eval(v, strlen(v), 1000, 64, parts, 32, &n), UC_RANGE_UNSAT);
    assert_int_equal(uc_range_eval(v, strlen(v), 1000, 64, parts, 16, &n), UC_RANGE_UNSAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_table),
        cmocka_unit_test(test_range_cap_before_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
