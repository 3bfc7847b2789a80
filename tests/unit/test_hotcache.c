/*
 * Hot-file cache: hits and misses, LRU eviction within the byte budget, pinned entries
 * surviving eviction until released, size limits, and churn far beyond the table size
 * (deleted markers must not degrade it).
 */
#include "hotcache.h"
#include "uc_test.h"

static void key(uint8_t out[UC_SHA1_LEN], uint32_t n)
{
    memset(out, 0, UC_SHA1_LEN);
    memcpy(out, &n, sizeof(n));
}

static void test_hot_lru_and_budget(void **state)
{
    (void)state;
    struct uc_hotcache h;
    assert_int_equal(uc_hot_init(&h, 3000, 1500), 0);
    uint8_t k[UC_SHA1_LEN];
    char data[2000];
    memset(data, 'x', sizeof(data));
    for (uint32_t i = 0; i < 3; i++) {
        key(k, i);
        assert_true(uc_hot_put(&h, k, data, 1000));
    }
    assert_int_equal(h.used, 3000);
    key(k, 0);
    struct uc_hot_entry *e = uc_hot_get(&h, k); /* 0 becomes most recent */
    assert_non_null(e);
    uc_hot_release(&h, e);
    key(k, 3);
    assert_true(uc_hot_put(&h, k, data, 1000)); /* evicts 1, the least recent */
    key(k, 1);
    assert_null(uc_hot_get(&h, k));
    key(k, 0);
    e = uc_hot_get(&h, k);
    assert_non_null(e);
    assert_int_equal(e->len, 1000);
    uc_hot_release(&h, e);
    key(k, 9);
    assert_false(uc_hot_put(&h, k, data, 1501)); /* over max_file */
    assert_int_equal(h.used, 3000);
    assert_int_equal(h.evictions, 1);
    uc_hot_free(&h);
    assert_int_equal(uc_hot_init(&h, 0, 1500), 0); /* off */
    key(k, 0);
    assert_false(uc_hot_put(&h, k, data, 10));
    assert_null(uc_hot_get(&h, k));
    uc_hot_free(&h);
}

static void test_hot_pinned_survives_eviction(void **state)
{
    (void)state;
    struct uc_hotcache h;
    assert_int_equal(uc_hot_init(&h, 1000, 1000), 0);
    uint8_t k[UC_SHA1_LEN];
    char a[1000], b[1000];
    memset(a, 'a', sizeof(a));
    memset(b, 'b', sizeof(b));
    key(k, 1);
    assert_true(uc_hot_put(&h, k, a, 1000));
    struct uc_hot_entry *pinned = uc_hot_get(&h, k);
    key(k, 2);
    assert_true(uc_hot_put(&h, k, b, 1000)); /* evicts 1 from the table... */
    key(k, 1);
    assert_null(uc_hot_get(&h, k));
    assert_memory_equal(pinned->data, a, 1000); /* ...but its bytes stay until release */
    uc_hot_release(&h, pinned);
    uc_hot_free(&h);
}

static void test_hot_churn(void **state)
{
    (void)state;
    struct uc_hotcache h;
    assert_int_equal(uc_hot_init(&h, 64 * 1024, 4096), 0);
    uint8_t k[UC_SHA1_LEN];
    char data[4096] = {0};
    for (uint32_t i = 0; i < 200000; i++) {
        key(k, i);
        snprintf(data, sizeof(data), "%u", i);
        assert_true(uc_hot_put(&h, k, data, 512 + i % 3000));
        assert_true(h.used <= h.budget);
    }
    key(k, 199999);
    struct uc_hot_entry *e = uc_hot_get(&h, k);
    assert_non_null(e);
    assert_string_equal((char *)e->data, "199999");
    uc_hot_release(&h, e);
    assert_true(h.nlive + h.ntomb < h.nslots);
    uc_hot_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hot_lru_and_budget),
        cmocka_unit_test(test_hot_pinned_survives_eviction),
        cmocka_unit_test(test_hot_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
