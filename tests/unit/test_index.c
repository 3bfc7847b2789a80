/*
 * The LMDB index: file records put/get/iterate in SHA-1 order, update records with
 * revision rules and a change log, meta counters, and refusal of a newer schema.
 */
#include "index.h"
#include "uc_test.h"

#include <lmdb.h>

static struct uc_file_rec rec(uint8_t b, uint64_t size, enum uc_file_state st)
{
    struct uc_file_rec r = {0};
    memset(r.sha1, b, UC_SHA1_LEN);
    memset(r.sha256, b ^ 0x55, UC_SHA256_LEN);
    memset(r.xxh128, b ^ 0xaa, UC_XXH128_LEN);
    snprintf(r.suffix, sizeof(r.suffix), "-express.cab");
    r.size = size;
    r.ingest_time = 1700000000 + b;
    r.atime = 1800000000 + b;
    r.state = st;
    return r;
}

static struct uc_index *open_fresh(char **dir)
{
    *dir = uct_tmpdir();
    struct uc_index *ix = NULL;
    struct uc_errbuf eb = {{0}};
    assert_int_equal(uc_index_open(*dir, false, &ix, &eb), 0);
    return ix;
}

struct collected {
    uint8_t first[16];
    size_t n;
};

static int collect(void *ctx, const struct uc_file_rec *r)
{
    struct collected *c = ctx;
    if (c->n < 16)
        c->first[c->n] = r->sha1[0];
    c->n++;
    return 0;
}

static int stop_at_two(void *ctx, const struct uc_file_rec *r)
{
    (void)r;
    return ++*(int *)ctx == 2 ? -42 : 0;
}

static void test_index_files_put_get_iterate(void **state)
{
    (void)state;
    char *dir;
    struct uc_index *ix = open_fresh(&dir);
    MDB_txn *txn;
    assert_int_equal(uc_index_begin(ix, true, &txn), 0);
    uint8_t order[] = {0x30, 0x01, 0xff, 0x80};
    for (size_t i = 0; i < 4; i++) {
        struct uc_file_rec r = rec(order[i], (uint64_t)5 << 32 | i, UC_FILE_PRESENT);
        assert_int_equal(uc_index_put_file(ix, txn, &r), 0);
    }
    assert_int_equal(uc_index_commit(txn), 0);

    /* A new read transaction (as another process would) sees every field intact. */
    assert_int_equal(uc_index_begin(ix, false, &txn), 0);
    struct uc_file_rec got, want = rec(0x80, (uint64_t)5 << 32 | 3, UC_FILE_PRESENT);
    assert_int_equal(uc_index_get_file(ix, txn, want.sha1, &got), 0);
    assert_memory_equal(&got, &want, sizeof(got));
    uint8_t missing[UC_SHA1_LEN] = {0x02};
    assert_int_equal(uc_index_get_file(ix, txn, missing, &got), UC_ENOTFOUND);
    struct collected c = {{0}, 0};
    assert_int_equal(uc_index_each_file(ix, txn, collect, &c), 0);
    assert_int_equal(c.n, 4);
    uint8_t sorted[] = {0x01, 0x30, 0x80, 0xff};
    assert_memory_equal(c.first, sorted, 4);
    int count = 0;
    assert_int_equal(uc_index_each_file(ix, txn, stop_at_two, &count), -42);
    uc_index_abort(txn);

    assert_int_equal(uc_index_begin(ix, true, &txn), 0);
    assert_int_equal(uc_index_del_file(ix, txn, want.sha1), 0);
    assert_int_equal(uc_index_get_file(ix, txn, want.sha1, &got), UC_ENOTFOUND);
    assert_int_equal(uc_index_commit(txn), 0);
    uc_index_close(ix);
    uct_rmrf(dir);
}

struct seen {
    char ids[8][UC_UUID_LEN + 1];
    uint64_t seqs[8];
    size_t n;
};

static int collect_update(void *ctx, const struct uc_update_rec *r)
{
    struct seen *s = ctx;
    memcpy(s->ids[s->n], r->id, sizeof(s->ids[0]));
    s->seqs[s->n++] = r->seq;
    return 0;
}

static void test_index_updates_and_changes(void **state)
{
    (void)state;
    char *dir;
    struct uc_index *ix = open_fresh(&dir);
    const char *a = "aaaaaaaa-0000-4000-8000-000000000001";
    const char *b = "bbbbbbbb-0000-4000-8000-000000000002";
    MDB_txn *txn;
    uint64_t seq = 0;
    assert_int_equal(uc_index_begin(ix, true, &txn), 0);
    assert_int_equal(uc_index_put_update(ix, txn, a, 1, "env-a1", 6, &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(uc_index_put_update(ix, txn, b, 1, "env-b1", 6, &seq), 0);
    assert_int_equal(seq, 2);
    /* Same revision and bytes: already there. Same revision, other bytes: refused. */
    assert_int_equal(uc_index_put_update(ix, txn, a, 1, "env-a1", 6, &seq), UC_EEXIST);
    assert_int_equal(uc_index_put_update(ix, txn, a, 1, "env-aX", 6, &seq), UC_ESTALE);
    assert_int_equal(uc_index_put_update(ix, txn, a, 0, "env-a0", 6, &seq), UC_ESTALE);
    /* A higher revision replaces it and moves to the end of the change log. */
    assert_int_equal(uc_index_put_update(ix, txn, a, 2, "env-a2!", 7, &seq), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(uc_index_commit(txn), 0);

    assert_int_equal(uc_index_begin(ix, false, &txn), 0);
    struct uc_update_rec r;
    assert_int_equal(uc_index_get_update(ix, txn, a, &r), 0);
    assert_int_equal(r.revision, 2);
    assert_int_equal(r.envelope_len, 7);
    assert_memory_equal(r.envelope, "env-a2!", 7);
    struct seen s = {0};
    assert_int_equal(uc_index_each_change(ix, txn, 0, collect_update, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ids[0], b);
    assert_string_equal(s.ids[1], a);
    memset(&s, 0, sizeof(s));
    assert_int_equal(uc_index_each_change(ix, txn, 2, collect_update, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.seqs[0], 3);
    uint64_t last;
    assert_int_equal(uc_index_get_u64(ix, txn, "last_seq", &last), 0);
    assert_int_equal(last, 3);
    assert_int_equal(uc_index_get_u64(ix, txn, "sync_anchor", &last), UC_ENOTFOUND);
    uc_index_abort(txn);
    uc_index_close(ix);
    uct_rmrf(dir);
}

static void test_index_newer_schema_refused(void **state)
{
    (void)state;
    char *dir;
    struct uc_index *ix = open_fresh(&dir);
    uc_index_close(ix);
    /* Write schema 99 with raw LMDB, as a future updcache would. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    uint32_t v = 99;
    MDB_val k = {6, "schema"}, d = {4, &v};
    assert_int_equal(mdb_put(txn, dbi, &k, &d, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    struct uc_errbuf eb = {{0}};
    assert_int_equal(uc_index_open(dir, false, &ix, &eb), UC_ESCHEMA);
    assert_non_null(strstr(eb.msg, dir));
    assert_non_null(strstr(eb.msg, "schema version 99"));
    assert_int_equal(uc_index_open(dir, true, &ix, &eb), UC_ESCHEMA);
    uct_rmrf(dir);
}

static void test_index_readonly_never_creates(void **state)
{
    (void)state;
    char *dir = uct_tmpdir();
    struct uc_index *ix = NULL;
    struct uc_errbuf eb = {{0}};
    assert_int_not_equal(uc_index_open(dir, true, &ix, &eb), 0);
    assert_true(strlen(eb.msg) > 0);
    uct_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_files_put_get_iterate),
        cmocka_unit_test(test_index_updates_and_changes),
        cmocka_unit_test(test_index_newer_schema_refused),
        cmocka_unit_test(test_index_readonly_never_creates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
