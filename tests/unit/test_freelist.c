/*
 * A worker's free list: freed blocks are handed out again before malloc, it never holds
 * more than its max, and a trim keeps only the recent burst's room plus slack.
 */
#include "freelist.h"
#include "uc_test.h"

#include <string.h>

static void test_reuse_before_malloc(void **state)
{
    (void)state;
    struct uc_freelist fl;
    uc_freelist_init(&fl, 4096, 4);
    char *a = uc_freelist_get(&fl);
    char *b = uc_freelist_get(&fl);
    assert_non_null(a);
    assert_non_null(b);
    memset(a, 0xAA, 4096); /* the whole block is the caller's */
    assert_int_equal(fl.used, 2);
    uc_freelist_put(&fl, a);
    assert_int_equal(fl.pooled, 1);
    assert_ptr_equal(uc_freelist_get(&fl), a); /* the freed one, not a new one */
    assert_int_equal(fl.pooled, 0);
    uc_freelist_put(&fl, b);
    uc_freelist_put(&fl, a);
    assert_ptr_equal(uc_freelist_get(&fl), a); /* last in, first out: still warm */
    assert_ptr_equal(uc_freelist_get(&fl), b);
    uc_freelist_put(&fl, a);
    uc_freelist_put(&fl, b);
    uc_freelist_free(&fl);
    assert_int_equal(fl.pooled, 0);
    assert_null(fl.head);
}

static void test_max_bounds_the_list(void **state)
{
    (void)state;
    struct uc_freelist fl;
    uc_freelist_init(&fl, 64, 3);
    void *p[10];
    for (int i = 0; i < 10; i++)
        assert_non_null(p[i] = uc_freelist_get(&fl));
    for (int i = 0; i < 10; i++)
        uc_freelist_put(&fl, p[i]); /* ASan's leak check sees the 7 freed at once */
    assert_int_equal(fl.pooled, 3);
    assert_int_equal(fl.used, 0);
    uc_freelist_free(&fl);
}

static void test_trim_keeps_the_recent_burst(void **state)
{
    (void)state;
    struct uc_freelist fl;
    uc_freelist_init(&fl, 128, 100);
    void *p[50];
    for (int i = 0; i < 50; i++)
        p[i] = uc_freelist_get(&fl);
    for (int i = 10; i < 50; i++)
        uc_freelist_put(&fl, p[i]);
    /* The burst since the last trim reached 50 with 10 still in use: room for 40 more. */
    assert_false(uc_freelist_trim(&fl, 2));
    assert_int_equal(fl.pooled, 40);
    /* Quiet since: only the slack stays. */
    assert_true(uc_freelist_trim(&fl, 2));
    assert_int_equal(fl.pooled, 2);
    assert_int_equal(fl.used, 10);
    assert_int_equal(fl.peak, 10);
    for (int i = 0; i < 10; i++)
        uc_freelist_put(&fl, p[i]);
    assert_int_equal(fl.pooled, 12);
    uc_freelist_free(&fl);
}

static void test_tiny_blocks_hold_the_link(void **state)
{
    (void)state;
    struct uc_freelist fl;
    uc_freelist_init(&fl, 1, 2);
    assert_true(fl.size >= sizeof(void *));
    void *a = uc_freelist_get(&fl);
    uc_freelist_put(&fl, a);
    assert_ptr_equal(uc_freelist_get(&fl), a);
    uc_freelist_put(&fl, a);
    uc_freelist_free(&fl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_before_malloc),
        cmocka_unit_test(test_max_bounds_the_list),
        cmocka_unit_test(test_trim_keeps_the_recent_burst),
        cmocka_unit_test(test_tiny_blocks_hold_the_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
