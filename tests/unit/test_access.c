/*
 * Access tracking: a worker's batch keeps one entry per SHA-1 with its latest time and
 * says when it is full; the writer moves atime forward for PRESENT files only, never
 * back, and leaves other states alone.
 */
#include "access.h"
#include "uc_test.h"

#include <unistd.h>

static void sha1_of(uint32_t i, uint8_t out[UC_SHA1_LEN])
{
    memset(out, 0x5a, UC_SHA1_LEN);
    memcpy(out, &i, sizeof(i));
    out[UC_SHA1_LEN - 1] = (uint8_t)(i * 7);
}

static void test_access_batch_dedup_and_full(void **state)
{
    (void)state;
    struct uc_access_batch *b = calloc(1, sizeof(*b));
    uint8_t s[UC_SHA1_LEN];
    sha1_of(1, s);
    assert_false(uc_access_note(b, s, 100));
    assert_false(uc_access_note(b, s, 105));
    assert_int_equal(b->n, 1);
    assert_int_equal(b->e[0].when, 105);
    assert_int_equal(b->since, 100);
    for (uint32_t i = 2; i < UC_ACCESS_BATCH; i++) {
        sha1_of(i, s);
        assert_false(uc_access_note(b, s, 200));
    }
    sha1_of(UC_ACCESS_BATCH, s);
    assert_true(uc_access_note(b, s, 201)); /* the last slot: hand over now */
    assert_int_equal(b->n, UC_ACCESS_BATCH);
    free(b);
}

static void test_access_writer(void **state)
{
    (void)state;
    char *dir = uct_tmpdir();
    struct uc_index *ix;
    struct uc_errbuf eb = {{0}};
    assert_int_equal(uc_index_open(dir, false, &ix, &eb), 0);
    MDB_txn *txn;
    assert_int_equal(uc_index_begin(ix, true, &txn), 0);
    struct uc_file_rec r[3];
    memset(r, 0, sizeof(r));
    for (uint32_t i = 0; i < 3; i++) {
        sha1_of(i, r[i].sha1);
        r[i].size = 10;
        r[i].atime = 1000;
        r[i].state = i == 2 ? UC_FILE_EVICTED : UC_FILE_PRESENT;
        assert_int_equal(uc_index_put_file(ix, txn, &r[i]), 0);
    }
    assert_int_equal(uc_index_commit(txn), 0);
    struct uc_access *a;
    assert_int_equal(uc_access_start(ix, &a), 0);
    struct uc_access_batch *b = calloc(1, sizeof(*b));
    uc_access_note(b, r[0].sha1, 2000); /* forward */
    uc_access_note(b, r[1].sha1, 500);  /* never back */
    uc_access_note(b, r[2].sha1, 2000); /* not PRESENT: left alone */
    uint8_t none[UC_SHA1_LEN] = {0};    /* no record (purged since): first in SHA-1 */
    uc_access_note(b, none, 2000);      /* order, and the others are still written */
    uc_access_hand_over(a, b);
    assert_int_equal(b->n, 0);
    uc_access_stop(a); /* writes what was handed over */
    assert_int_equal(uc_index_begin(ix, false, &txn), 0);
    struct uc_file_rec got;
    int64_t want[3] = {2000, 1000, 1000};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(uc_index_get_file(ix, txn, r[i].sha1, &got), 0);
        assert_int_equal(got.atime, want[i]);
        assert_int_equal(got.state, r[i].state);
    }
    uc_index_abort(txn);
    free(b);
    uc_index_close(ix);
    uct_rmrf(dir);
}

/* Batches handed over many times a second (here every 20 ms for a second) are merged:
 * a commit a second, not one per batch, and the latest time wins. */
static void test_access_writer_merges(void **state)
{
    (void)state;
    char *dir = uct_tmpdir();
    struct uc_index *ix;
    struct uc_errbuf eb = {{0}};
    assert_int_equal(uc_index_open(dir, false, &ix, &eb), 0);
    MDB_txn *txn;
    struct uc_file_rec r = {0};
    sha1_of(7, r.sha1);
    r.size = 10;
    r.atime = 1000;
    r.state = UC_FILE_PRESENT;
    assert_int_equal(uc_index_begin(ix, true, &txn), 0);
    assert_int_equal(uc_index_put_file(ix, txn, &r), 0);
    assert_int_equal(uc_index_commit(txn), 0);
    struct uc_access *a;
    assert_int_equal(uc_access_start(ix, &a), 0);
    struct uc_access_batch *b = calloc(1, sizeof(*b));
    uc_access_note(b, r.sha1, 1500);
    uc_access_hand_over(a, b);
    usleep(300 * 1000); /* the first batch is committed at once */
    assert_int_equal(uc_index_begin(ix, false, &txn), 0);
    size_t t0 = mdb_txn_id(txn);
    uc_index_abort(txn);
    for (int i = 1; i <= 50; i++) {
        uc_access_note(b, r.sha1, 2000 + i);
        uc_access_hand_over(a, b);
        usleep(20 * 1000);
    }
    usleep(1500 * 1000); /* past the next commit */
    struct uc_file_rec got;
    assert_int_equal(uc_index_begin(ix, false, &txn), 0);
    size_t t1 = mdb_txn_id(txn);
    assert_int_equal(uc_index_get_file(ix, txn, r.sha1, &got), 0);
    uc_index_abort(txn);
    assert_int_equal(got.atime, 2050);
    if (t1 - t0 > 3) /* 2 by the clock; one more for a slow host */
        fail_msg("50 batches in a second took %zu commits", t1 - t0);
    uc_access_stop(a);
    free(b);
    uc_index_close(ix);
    uct_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access_batch_dedup_and_full),
        cmocka_unit_test(test_access_writer),
        cmocka_unit_test(test_access_writer_merges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
