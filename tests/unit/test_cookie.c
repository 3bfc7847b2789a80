/*
 * Bearer cookies: a round trip per role, expiry, and every way a forged cookie can
 * differ (any one byte changed, another key, truncated, a role or expiry rewritten
 * without the MAC, garbage).
 */
#include "cookie.h"
#include "uc_test.h"

static void test_cookie_round_trip(void **state)
{
    (void)state;
    uint8_t key[UC_COOKIE_KEY_LEN];
    assert_int_equal(uc_cookie_key_new(key), 0);
    char c[UC_COOKIE_MAX], id[UC_COOKIE_ID_MAX + 1];
    enum uc_role role;
    assert_int_equal(uc_cookie_make(key, UC_ROLE_DSS, "branch-1", 2000, c, sizeof(c)), 0);
    assert_int_equal(uc_cookie_check(key, c, strlen(c), 1999, &role, id, sizeof(id)), UC_COOKIE_OK);
    assert_int_equal(role, UC_ROLE_DSS);
    assert_string_equal(id, "branch-1");
    assert_int_equal(uc_cookie_check(key, c, strlen(c), 2000, &role, id, sizeof(id)),
                     UC_COOKIE_EXPIRED);
    /* Ids with the separator and odd bytes survive (they are hex inside). */
    assert_int_equal(uc_cookie_make(key, UC_ROLE_CLIENT, "pc.7 \"x\"", 5000, c, sizeof(c)), 0);
    assert_int_equal(uc_cookie_check(key, c, strlen(c), 10, &role, id, sizeof(id)), UC_COOKIE_OK);
    assert_int_equal(role, UC_ROLE_CLIENT);
    assert_string_equal(id, "pc.7 \"x\"");
    char longid[UC_COOKIE_ID_MAX + 2];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = 0;
    assert_int_not_equal(uc_cookie_make(key, UC_ROLE_CLIENT, longid, 5000, c, sizeof(c)), 0);
}

static void test_cookie_forgeries(void **state)
{
    (void)state;
    uint8_t key[UC_COOKIE_KEY_LEN], other[UC_COOKIE_KEY_LEN];
    assert_int_equal(uc_cookie_key_new(key), 0);
    assert_int_equal(uc_cookie_key_new(other), 0);
    char c[UC_COOKIE_MAX], id[UC_COOKIE_ID_MAX + 1];
    enum uc_role role;
    assert_int_equal(uc_cookie_make(key, UC_ROLE_CLIENT, "pc1", 9000, c, sizeof(c)), 0);
    size_t n = strlen(c);
    assert_int_equal(uc_cookie_check(other, c, n, 1, &role, id, sizeof(id)), UC_COOKIE_BAD);
    for (size_t i = 0; i < n; i++) { /* every single-byte change is caught */
        char f[UC_COOKIE_MAX];
        memcpy(f, c, n + 1);
        f[i] = f[i] == '0' ? '1' : '0';
        assert_int_equal(uc_cookie_check(key, f, n, 1, &role, id, sizeof(id)), UC_COOKIE_BAD);
    }
    for (size_t k = 0; k < n; k++) /* and every truncation */
        assert_int_equal(uc_cookie_check(key, c, k, 1, &role, id, sizeof(id)), UC_COOKIE_BAD);
    /* A client cookie rewritten to claim the dss role keeps its MAC: refused. */
    char f[UC_COOKIE_MAX];
    snprintf(f, sizeof(f), "dss%s", c + strlen("client"));
    assert_int_equal(uc_cookie_check(key, f, strlen(f), 1, &role, id, sizeof(id)), UC_COOKIE_BAD);
    /* A later expiry, same MAC: refused. */
    char *dot = strchr(strchr(c, '.') + 1, '.');
    snprintf(f, sizeof(f), "%.*s.99999%s", (int)(dot - c), c, dot + 5);
    assert_int_equal(uc_cookie_check(key, f, strlen(f), 1, &role, id, sizeof(id)), UC_COOKIE_BAD);
    const char *junk[] = {"", ".", "...", "client..1.", "x.y.z.", "Bearer abc"};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        assert_int_equal(uc_cookie_check(key, junk[i], strlen(junk[i]), 1, &role, id, sizeof(id)),
                         UC_COOKIE_BAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie_round_trip),
        cmocka_unit_test(test_cookie_forgeries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
