/*
 * The status page's history and rendering: steps are counted where the rise was seen,
 * stalled steps count as empty, the ring keeps the newest ten minutes; the page escapes
 * the server name, carries every counter the status page promises under its stats key,
 * and draws one bar per step plus the running one.
 */
#include "history.h"
#include "status_page.h"
#include "uc_test.h"

#include <stdlib.h>

static void test_history_steps(void **state)
{
    (void)state;
    struct uc_history h;
    uc_history_init(&h);
    uint64_t out[UC_HISTORY_SLOTS], cur;
    int64_t end;
    assert_int_equal(uc_history_read(&h, out, UC_HISTORY_SLOTS, &cur, &end), 0);
    uc_history_sample(&h, 1000, 100); /* the running total when sampling began */
    uc_history_sample(&h, 1005, 130);
    uc_history_sample(&h, 1009, 150);
    assert_int_equal(uc_history_read(&h, out, UC_HISTORY_SLOTS, &cur, &end), 0);
    assert_int_equal(cur, 50);
    uc_history_sample(&h, 1010, 160); /* a new step: the 10 since 1009 belong to it */
    assert_int_equal(uc_history_read(&h, out, UC_HISTORY_SLOTS, &cur, &end), 1);
    assert_int_equal(out[0], 50);
    assert_int_equal(cur, 10);
    assert_int_equal(end, 1010);
    uc_history_sample(&h, 1042, 200); /* stalled over two whole steps */
    size_t n = uc_history_read(&h, out, UC_HISTORY_SLOTS, &cur, &end);
    assert_int_equal(n, 4);
    assert_int_equal(out[1], 10);
    assert_int_equal(out[2], 0);
    assert_int_equal(out[3], 0);
    assert_int_equal(cur, 40);
    uint64_t total = 200;
    /* wrap the ring: a rise of i seen in step i; the newest steps stay */
    for (int i = 0; i < 2 * UC_HISTORY_SLOTS; i++)
        uc_history_sample(&h, 1050 + 10 * i, total += (uint64_t)i);
    n = uc_history_read(&h, out, UC_HISTORY_SLOTS, &cur, &end);
    assert_int_equal(n, UC_HISTORY_SLOTS);
    assert_int_equal(cur, 2 * UC_HISTORY_SLOTS - 1);
    assert_int_equal(out[UC_HISTORY_SLOTS - 1], 2 * UC_HISTORY_SLOTS - 2);
    assert_int_equal(out[0], UC_HISTORY_SLOTS - 1);
    uc_history_sample(&h, 500, total); /* the clock went back: start over */
    assert_int_equal(uc_history_read(&h, out, UC_HISTORY_SLOTS, &cur, &end), 0);
    uc_history_destroy(&h);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_page(void **state)
{
    (void)state;
    struct uc_metrics m;
    memset(&m, 0, sizeof(m));
    atomic_store(&m.content_hits, 41);
    atomic_store(&m.requests[UC_PORT_HTTP][UC_ROOT_CONTENT][0], 40);
    atomic_store(&m.requests[UC_PORT_HTTP][UC_ROOT_NONE][UC_MC_OTHER], 2);
    struct uc_metrics_extra x = {.content_bytes = 3 << 20,
                                 .max_size = 4 << 20,
                                 .fill_misses = 7,
                                 .fill_active = 2,
                                 .verify_failures = 1,
                                 .sync_last = 1764672000};
    uint64_t steps[] = {5, 0, 9};
    struct uc_status_chart c = {.steps = steps, .n = 3, .current = 4, .step_s = 10};
    size_t len;
    char *p = uc_status_page(&m, &x, &c, "a<b>&\"c", 1764672060, &len);
    assert_non_null(p);
    assert_int_equal(strlen(p), len);
    assert_non_null(strstr(p, "a&lt;b&gt;&amp;&quot;c"));
    assert_null(strstr(p, "a<b>"));
    assert_non_null(strstr(p, "data-key=\"cache.hits\">41<"));
    assert_non_null(strstr(p, "data-key=\"cache.misses\">7<"));
    assert_non_null(strstr(p, "data-key=\"requests.http\">42<"));
    assert_non_null(strstr(p, "data-key=\"fill.in_progress\">2<"));
    assert_non_null(strstr(p, "data-key=\"verification_failures\">1<"));
    assert_non_null(strstr(p, "data-key=\"content.bytes\">3.0 MiB <small>3145728 bytes"));
    assert_non_null(strstr(p, ">2025-12-02 10:40:00 UTC<")); /* the last sync */
    assert_non_null(strstr(p, "75.0% of the cap"));
    assert_non_null(strstr(p, "<section class=\"alert\"><h2>Verification"));
    assert_int_equal(count(p, "<rect "), 4);
    assert_int_equal(count(p, "<rect x"), 4);
    assert_int_equal(count(p, " class=\"now\""), 1);
    assert_null(strstr(p, "<script"));
    assert_null(strstr(p, "src="));
    free(p);
    x.max_size = 0;
    x.sync_last = 0;
    p = uc_status_page(&m, &x, &c, NULL, 0, &len);
    assert_non_null(p);
    assert_non_null(strstr(p, "No cap"));
    assert_non_null(strstr(p, "data-value=\"0\">never<"));
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_steps),
        cmocka_unit_test(test_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
