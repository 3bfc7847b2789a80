/*
 * Value parsing: sizes, durations and integers, including overflow at the edges.
 */
#include "strparse.h"
#include "uc_test.h"

#include <errno.h>

static void test_strparse_sizes_durations(void **state)
{
    (void)state;
    struct {
        const char *s;
        int rc;
        uint64_t v;
    } sizes[] = {
        {"0", 0, 0},
        {"512", 0, 512},
        {"64K", 0, 65536},
        {"16m", 0, 16 << 20},
        {"2G", 0, 2ULL << 30},
        {"1T", 0, 1ULL << 40},
        {"", -EINVAL, 0},
        {"K", -EINVAL, 0},
        {"-1", -EINVAL, 0},
        {"1.5G", -EINVAL, 0},
        {"1X", -EINVAL, 0},
        {"18446744073709551615", 0, UINT64_MAX},
        {"18446744073709551616", -ERANGE, 0},
        {"17179869184G", -ERANGE, 0},
    };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint64_t v = 0;
        int rc = uc_parse_size(sizes[i].s, &v);
        if (rc != sizes[i].rc || (rc == 0 && v != sizes[i].v))
            fail_msg("size '%s': rc %d v %llu", sizes[i].s, rc, (unsigned long long)v);
    }
    uint64_t d;
    assert_int_equal(uc_parse_duration("90", &d), 0);
    assert_int_equal(d, 90);
    assert_int_equal(uc_parse_duration("10s", &d), 0);
    assert_int_equal(d, 10);
    assert_int_equal(uc_parse_duration("5m", &d), 0);
    assert_int_equal(d, 300);
    assert_int_equal(uc_parse_duration("1h", &d), 0);
    assert_int_equal(d, 3600);
    assert_int_equal(uc_parse_duration("2d", &d), 0);
    assert_int_equal(d, 172800);
    assert_int_equal(uc_parse_duration("1w", &d), -EINVAL);
    bool b;
    assert_int_equal(uc_parse_bool("Yes", &b), 0);
    assert_true(b);
    assert_int_equal(uc_parse_bool("off", &b), 0);
    assert_false(b);
    assert_int_equal(uc_parse_bool("maybe", &b), -EINVAL);
}

static void test_strparse_hex(void **state)
{
    (void)state;
    uint8_t b[3];
    char s[7];
    assert_int_equal(uc_hex_decode("0aFf10", 6, b, 3), 0);
    uc_hex_encode(b, 3, s, true);
    assert_string_equal(s, "0AFF10");
    assert_int_equal(uc_hex_decode("0aFf1", 5, b, 3), -EINVAL);
    assert_int_equal(uc_hex_decode("0aFf1g", 6, b, 3), -EINVAL);
}

static void test_fmt_u64(void **state)
{
    (void)state;
    const uint64_t v[] = {0, 1, 9, 10, 99, 100, 4096, 1048575, 4294967296ULL, UINT64_MAX};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char want[32], got[UC_U64_DIGITS + 1];
        snprintf(want, sizeof(want), "%llu", (unsigned long long)v[i]);
        size_t n = uc_fmt_u64(got, v[i]);
        got[n] = 0;
        assert_string_equal(got, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strparse_sizes_durations),
        cmocka_unit_test(test_strparse_hex),
        cmocka_unit_test(test_fmt_u64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
