/*
 * The store: layout creation, staging with one-pass digests, the publish order
 * (PENDING, rename, PRESENT), duplicates, quarantine of staged and published files.
 */
#include "store.h"
#include "strparse.h"
#include "uc_test.h"

#include <errno.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static int stage_bytes(struct uc_store *st, const char *dir, const char *data, size_t len,
                       struct uc_staged *out)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/src", dir);
    uct_write_file(path, data, len);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    int rc = uc_store_stage(st, fd, path, ".cab", out, NULL, NULL);
    close(fd);
    return rc;
}

static size_t count_entries(const char *path)
{
    DIR *d = opendir(path);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static size_t count_content(const char *root)
{
    char p[PATH_MAX + 16];
    size_t n = 0;
    for (int x = 0; x < 256; x++) {
        snprintf(p, sizeof(p), "%s/Content/%02X", root, x);
        n += count_entries(p);
    }
    return n;
}

static void test_store_publish_flow(void **state)
{
    (void)state;
    char *dir = uct_tmpdir(), root[PATH_MAX], p[PATH_MAX * 2];
    snprintf(root, sizeof(root), "%s/store", dir);
    struct uc_store *st;
    struct uc_errbuf eb = {{0}};
    assert_int_equal(uc_store_open(root, true, false, &st, &eb), 0);
    snprintf(p, sizeof(p), "%s/Content", root);
    assert_int_equal(count_entries(p), 256);

    struct uc_staged s[2];
    assert_int_equal(stage_bytes(st, dir, "abc", 3, &s[0]), 0);
    assert_int_equal(s[0].dg.size, 3);
    snprintf(p, sizeof(p), "%s/tmp", root);
    assert_int_equal(count_entries(p), 1);
    assert_int_equal(uc_store_sync_staged(st, &s[0], &eb), 0);
    assert_int_equal(stage_bytes(st, dir, "", 0, &s[1]), 0);
    assert_int_equal(uc_store_sync_staged(st, &s[1], &eb), 0);

    struct uc_publish_update upd = {"aaaaaaaa-0000-4000-8000-000000000001", 1, "{}", 2};
    uint64_t seq = 0;
    assert_int_equal(uc_store_publish(st, s, 2, &upd, &seq, &eb), 0);
    assert_int_equal(seq, 1);
    snprintf(p, sizeof(p), "%s/tmp", root);
    assert_int_equal(count_entries(p), 0);
    snprintf(p, sizeof(p), "%s/Content/9D/A9993E364706816ABA3E25717850C26C9CD0D89D.cab", root);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0444);
    assert_int_equal(sb.st_size, 3);

    MDB_txn *txn;
    struct uc_file_rec r;
    assert_int_equal(uc_index_begin(st->ix, false, &txn), 0);
    assert_int_equal(uc_index_get_file(st->ix, txn, s[0].dg.sha1, &r), 0);
    assert_int_equal(r.state, UC_FILE_PRESENT);
    assert_string_equal(r.suffix, ".cab");
    assert_memory_equal(r.sha256, s[0].dg.sha256, UC_SHA256_LEN);
    uc_index_abort(txn);

    /* The same bytes again: a duplicate, nothing renamed, tmp cleaned. */
    struct uc_staged again;
    assert_int_equal(stage_bytes(st, dir, "abc", 3, &again), 0);
    assert_int_equal(uc_store_publish(st, &again, 1, NULL, NULL, &eb), 0);
    assert_true(again.duplicate);
    snprintf(p, sizeof(p), "%s/tmp", root);
    assert_int_equal(count_entries(p), 0);

    /* Quarantine of a published file: moved with a reason, marked PENDING. */
    assert_int_equal(uc_store_quarantine_published(st, &r, "test reason", &eb), 0);
    snprintf(p, sizeof(p), "%s/Content/9D/A9993E364706816ABA3E25717850C26C9CD0D89D.cab", root);
    assert_int_not_equal(stat(p, &sb), 0);
    snprintf(p, sizeof(p), "%s/quarantine", root);
    assert_int_equal(count_entries(p), 2); /* the file and its .reason */
    assert_int_equal(uc_index_begin(st->ix, false, &txn), 0);
    assert_int_equal(uc_index_get_file(st->ix, txn, s[0].dg.sha1, &r), 0);
    assert_int_equal(r.state, UC_FILE_PENDING);
    uc_index_abort(txn);
    uc_store_close(st);
    uct_rmrf(dir);
}

static void test_store_quarantine_staged_and_discard(void **state)
{
    (void)state;
    char *dir = uct_tmpdir(), root[PATH_MAX], p[PATH_MAX * 2];
    snprintf(root, sizeof(root), "%s/store", dir);
    struct uc_store *st;
    assert_int_equal(uc_store_open(root, true, false, &st, NULL), 0);
    struct uc_staged s;
    assert_int_equal(stage_bytes(st, dir, "tampered", 8, &s), 0);
    assert_int_equal(uc_store_quarantine_staged(st, &s, "SHA-256 mismatch"), 0);
    assert_int_equal(s.fd, -1);
    snprintf(p, sizeof(p), "%s/quarantine", root);
    assert_int_equal(count_entries(p), 2);
    assert_int_equal(stage_bytes(st, dir, "unused", 6, &s), 0);
    uc_store_discard(st, &s);
    snprintf(p, sizeof(p), "%s/tmp", root);
    assert_int_equal(count_entries(p), 0);
    uc_store_close(st);
    uct_rmrf(dir);
}

/* Large files take the O_DIRECT path; the unaligned tail falls back to buffered I/O. */
static void test_store_large_file_direct_path(void **state)
{
    (void)state;
    char *dir = uct_tmpdir(), root[PATH_MAX], p[PATH_MAX * 2];
    snprintf(root, sizeof(root), "%s/store", dir);
    struct uc_store *st;
    assert_int_equal(uc_store_open(root, true, false, &st, NULL), 0);
    size_t n = UC_DIRECT_MIN + UC_HASH_CHUNK + 7;
    uint8_t *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)(i * 131 + (i >> 12));
    struct uc_staged s;
    assert_int_equal(stage_bytes(st, dir, (const char *)data, n, &s), 0);
    struct uc_digest want;
    assert_int_equal(uc_hash_buf(data, n, &want), 0);
    assert_int_equal(s.dg.size, want.size);
    assert_memory_equal(s.dg.sha1, want.sha1, UC_SHA1_LEN);
    assert_memory_equal(s.dg.sha256, want.sha256, UC_SHA256_LEN);
    assert_memory_equal(s.dg.xxh128, want.xxh128, UC_XXH128_LEN);
    /* Staging also takes the block digests (SPEC §13), one per started MiB. */
    assert_true(s.dg.has_blocks);
    assert_int_equal(s.nblocks, UC_NBLOCKS(n));
    assert_int_equal(uc_store_sync_staged(st, &s, NULL), 0);
    assert_int_equal(uc_store_publish(st, &s, 1, NULL, NULL, NULL), 0);
    char name[96];
    uc_store_content_name(want.sha1, ".cab", name, sizeof(name));
    snprintf(p, sizeof(p), "%s/Content/%s", root, name);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    uint8_t *back = malloc(n + 1);
    assert_int_equal(fread(back, 1, n + 1, f), n);
    fclose(f);
    assert_memory_equal(back, data, n);
    free(back);
    free(data);
    uc_store_close(st);
    uct_rmrf(dir);
}

static void test_store_space_floor(void **state)
{
    (void)state;
    char *dir = uct_tmpdir(), root[PATH_MAX];
    snprintf(root, sizeof(root), "%s/store", dir);
    struct uc_store *st;
    assert_int_equal(uc_store_open(root, true, false, &st, NULL), 0);
    struct uc_errbuf eb = {{0}};
    assert_int_equal(uc_store_check_space(st, 1, &eb), 0);
    assert_int_equal(uc_store_check_space(st, UINT64_MAX / 2, &eb), -ENOSPC);
    assert_non_null(strstr(eb.msg, "min_free"));
    uc_store_close(st);
    uct_rmrf(dir);
}

/* One SHA-1 for two files (forged onto a staged copy: a collision without the vectors):
 * nothing of the publish is stored; a second copy of one file is renamed once. */
static void test_store_publish_same_sha1(void **state)
{
    (void)state;
    char *dir = uct_tmpdir(), root[PATH_MAX], p[PATH_MAX * 2];
    snprintf(root, sizeof(root), "%s/store", dir);
    struct uc_store *st;
    struct uc_errbuf eb = {{0}};
    assert_int_equal(uc_store_open(root, true, false, &st, &eb), 0);
    struct uc_staged s[3];
    assert_int_equal(stage_bytes(st, dir, "first", 5, &s[0]), 0);
    assert_int_equal(stage_bytes(st, dir, "first", 5, &s[1]), 0);
    assert_int_equal(uc_store_publish(st, s, 2, NULL, NULL, &eb), 0);
    assert_int_equal(count_content(root), 1);
    snprintf(p, sizeof(p), "%s/tmp", root);
    assert_int_equal(count_entries(p), 0);

    /* Another file under the stored SHA-1: refused, naming both SHA-256. */
    uint8_t sha1[UC_SHA1_LEN], sha256[UC_SHA256_LEN];
    assert_int_equal(stage_bytes(st, dir, "first", 5, &s[0]), 0);
    memcpy(sha1, s[0].dg.sha1, UC_SHA1_LEN);
    memcpy(sha256, s[0].dg.sha256, UC_SHA256_LEN);
    uc_store_discard(st, &s[0]);
    assert_int_equal(stage_bytes(st, dir, "other", 5, &s[0]), 0);
    memcpy(s[0].dg.sha1, sha1, UC_SHA1_LEN);
    struct uc_publish_update upd = {"aaaaaaaa-0000-4000-8000-000000000002", 1, "{}", 2};
    assert_int_equal(uc_store_publish(st, s, 1, &upd, NULL, &eb), UC_ECONFLICT);
    char hex[65];
    uc_hex_encode(sha256, UC_SHA256_LEN, hex, false);
    assert_non_null(strstr(eb.msg, hex));
    assert_non_null(strstr(eb.msg, "SHA-1 collision"));
    MDB_txn *txn;
    struct uc_update_rec ur;
    assert_int_equal(uc_index_begin(st->ix, false, &txn), 0);
    assert_int_equal(uc_index_get_update(st->ix, txn, upd.id, &ur), UC_ENOTFOUND);
    uc_index_abort(txn);

    /* Two files with one SHA-1 in one publish: refused whole. */
    assert_int_equal(stage_bytes(st, dir, "third", 5, &s[0]), 0);
    assert_int_equal(stage_bytes(st, dir, "forth", 5, &s[1]), 0);
    assert_int_equal(stage_bytes(st, dir, "fifth", 5, &s[2]), 0);
    memcpy(s[2].dg.sha1, s[0].dg.sha1, UC_SHA1_LEN);
    assert_int_equal(uc_store_publish(st, s, 3, NULL, NULL, &eb), UC_ECONFLICT);
    assert_non_null(strstr(eb.msg, "listed as"));
    assert_int_equal(count_content(root), 1);
    snprintf(p, sizeof(p), "%s/tmp", root);
    assert_int_equal(count_entries(p), 0);
    uc_store_close(st);
    uct_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_publish_flow),
        cmocka_unit_test(test_store_publish_same_sha1),
        cmocka_unit_test(test_store_quarantine_staged_and_discard),
        cmocka_unit_test(test_store_large_file_direct_path),
        cmocka_unit_test(test_store_space_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
