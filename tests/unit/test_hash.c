/*
 * One-pass hashing: known answers, agreement with openssl dgst and xxhsum run on the
 * same bytes, and independence from how the input is split into updates.
 */
#include "hash.h"
#include "strparse.h"
#include "uc.h"
#include "uc_test.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

static void hex(const uint8_t *b, size_t n, char *out)
{
    uc_hex_encode(b, n, out, false);
}

static uint8_t *pattern(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((i * 31 + 7 + (i >> 13)) % 251);
    return p;
}

/* Digest via openssl dgst / xxhsum of a file with these bytes; compare to ours. */
static void check_against_tools(const uint8_t *data, size_t len)
{
    char *dir = uct_tmpdir(), path[PATH_MAX], cmd[PATH_MAX + 64], line[256], want[130];
    snprintf(path, sizeof(path), "%s/input", dir);
    uct_write_file(path, data, len);
    struct uc_digest dg;
    assert_int_equal(uc_hash_buf(data, len, &dg), 0);
    assert_int_equal(dg.size, len);

    snprintf(cmd, sizeof(cmd), "openssl dgst -sha1 -r '%s'", path);
    assert_true(uct_run_line(cmd, line, sizeof(line)));
    hex(dg.sha1, UC_SHA1_LEN, want);
    assert_memory_equal(line, want, 40);

    snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -r '%s'", path);
    assert_true(uct_run_line(cmd, line, sizeof(line)));
    hex(dg.sha256, UC_SHA256_LEN, want);
    assert_memory_equal(line, want, 64);

    /* The fd path must give the same digests as the buffer path. */
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct uc_digest dg2;
    _Atomic uint64_t progress = 0;
    assert_int_equal(uc_hash_fd(fd, UC_HASH_ALL, &dg2, &progress), 0);
    assert_memory_equal(&dg, &dg2, sizeof(dg));
    assert_int_equal(progress, len);
    /* And the two-thread whole-file path, from offset 0 wherever the offset is. */
    struct uc_digest dg3;
    memset(&dg3, 0xa5, sizeof(dg3));
    assert_int_equal(uc_hash_fd_split(fd, &dg3), 0);
    close(fd);
    assert_memory_equal(&dg, &dg3, sizeof(dg));

    snprintf(cmd, sizeof(cmd), "command -v xxhsum >/dev/null && xxhsum -H2 '%s' 2>/dev/null", path);
    if (uct_run_line(cmd, line, sizeof(line))) {
        hex(dg.xxh128, UC_XXH128_LEN, want);
        assert_memory_equal(line, want, 32);
    } else {
        print_message("xxhsum not installed: XXH3-128 checked by split invariance only\n");
    }
    uct_rmrf(dir);
}

static void test_hash_empty(void **state)
{
    (void)state;
    struct uc_digest dg;
    char h[130];
    assert_int_equal(uc_hash_buf("", 0, &dg), 0);
    hex(dg.sha1, UC_SHA1_LEN, h);
    assert_string_equal(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    hex(dg.sha256, UC_SHA256_LEN, h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hex(dg.xxh128, UC_XXH128_LEN, h);
    assert_string_equal(h, "99aa06d3014798d86001c324468d497f");
    check_against_tools((const uint8_t *)"", 0);
}

static void test_hash_abc(void **state)
{
    (void)state;
    struct uc_digest dg;
    char h[130];
    assert_int_equal(uc_hash_buf("abc", 3, &dg), 0);
    hex(dg.sha1, UC_SHA1_LEN, h);
    assert_string_equal(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
    hex(dg.sha256, UC_SHA256_LEN, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_against_tools((const uint8_t *)"abc", 3);
}

static void test_hash_multi_mib_patterns(void **state)
{
    (void)state;
    /* Sizes straddle the internal chunk size so partial last chunks are covered. */
    size_t sizes[] = {UC_HASH_CHUNK - 1, UC_HASH_CHUNK, UC_HASH_CHUNK + 1, 3 * 1024 * 1024 + 17,
                      8 * 1024 * 1024};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *p = pattern(sizes[i]);
        check_against_tools(p, sizes[i]);
        free(p);
    }
}

static void test_hash_split_invariance(void **state)
{
    (void)state;
    size_t n = 2 * 1024 * 1024 + 333;
    uint8_t *p = pattern(n);
    struct uc_digest whole, parts;
    assert_int_equal(uc_hash_buf(p, n, &whole), 0);
    struct uc_hasher h;
    assert_int_equal(uc_hasher_init(&h, UC_HASH_ALL), 0);
    size_t off = 0, step = 1;
    while (off < n) {
        size_t k = step < n - off ? step : n - off;
        uc_hasher_update(&h, p + off, k);
        off += k;
        step = step * 3 + 1; /* 1, 4, 13, 40, ... uneven pieces */
    }
    assert_int_equal(uc_hasher_final(&h, &parts), 0);
    assert_memory_equal(&whole, &parts, sizeof(whole));
    /* A finished hasher starts over: hashing "abc" now gives the known answer. */
    uc_hasher_update(&h, "abc", 3);
    assert_int_equal(uc_hasher_final(&h, &parts), 0);
    char hx[41];
    hex(parts.sha1, UC_SHA1_LEN, hx);
    assert_string_equal(hx, "a9993e364706816aba3e25717850c26c9cd0d89d");
    uc_hasher_free(&h);
    free(p);
}

static void test_hash_xxh_only(void **state)
{
    (void)state;
    size_t n = 1024 * 1024;
    uint8_t *p = pattern(n);
    char *dir = uct_tmpdir(), path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/x", dir);
    uct_write_file(path, p, n);
    struct uc_digest full, fast;
    assert_int_equal(uc_hash_buf(p, n, &full), 0);
    int fd = open(path, O_RDONLY);
    assert_int_equal(uc_hash_fd(fd, UC_HASH_XXH_ONLY, &fast, NULL), 0);
    close(fd);
    assert_memory_equal(full.xxh128, fast.xxh128, UC_XXH128_LEN);
    uint8_t zero[UC_SHA256_LEN] = {0};
    assert_memory_equal(fast.sha256, zero, UC_SHA256_LEN);
    uct_rmrf(dir);
    free(p);
}

/* Block digests: each 1 MiB block's SHA-256 (computed here with one EVP call per block),
 * for sizes around the block boundary and pieces that straddle it; then the hasher's
 * next file starts a new list. */
static void test_hash_blocks(void **state)
{
    (void)state;
    const size_t B = UC_BLOCK_SIZE;
    const size_t sizes[] = {0, 1, B - 1, B, B + 1, 3 * B + B / 2};
    for (size_t si = 0; si < UC_ARRAY_LEN(sizes); si++) {
        size_t n = sizes[si], nb = UC_NBLOCKS(n);
        uint8_t *p = pattern(n), *want = calloc(nb + 1, UC_SHA256_LEN);
        assert_non_null(want);
        for (size_t b = 0; b < nb; b++) {
            size_t len = n - b * B < B ? n - b * B : B;
            assert_int_equal(
                EVP_Digest(p + b * B, len, want + b * UC_SHA256_LEN, NULL, EVP_sha256(), NULL), 1);
        }
        uint8_t want_all[UC_SHA256_LEN];
        assert_int_equal(EVP_Digest(want, nb * UC_SHA256_LEN, want_all, NULL, EVP_sha256(), NULL),
                         1);
        struct uc_hasher h;
        assert_int_equal(uc_hasher_init(&h, UC_HASH_BLOCKS), 0);
        for (int round = 0; round < 2; round++) { /* the second: a reused hasher */
            size_t off = 0, step = 7;
            while (off < n) {
                size_t k = step < n - off ? step : n - off;
                uc_hasher_update(&h, p + off, k);
                off += k;
                step = step * 5 + 3;
            }
            struct uc_digest d, plain;
            assert_int_equal(uc_hasher_final(&h, &d), 0);
            assert_true(d.has_blocks);
            assert_memory_equal(d.blocks_sha256, want_all, UC_SHA256_LEN);
            assert_int_equal(uc_hash_buf(p, n, &plain), 0);
            assert_memory_equal(d.sha256, plain.sha256, UC_SHA256_LEN);
            assert_memory_equal(d.sha1, plain.sha1, UC_SHA1_LEN);
            size_t got_n = 99;
            uint8_t *got = round ? uc_hasher_take_blocks(&h, &got_n) : NULL;
            if (round) {
                assert_int_equal(got_n, nb);
                if (nb)
                    assert_memory_equal(got, want, nb * UC_SHA256_LEN);
            }
            free(got); /* round 0: not taken, the next file's list starts over */
        }
        uc_hasher_free(&h);
        free(want);
        free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_empty),
        cmocka_unit_test(test_hash_abc),
        cmocka_unit_test(test_hash_multi_mib_patterns),
        cmocka_unit_test(test_hash_split_invariance),
        cmocka_unit_test(test_hash_xxh_only),
        cmocka_unit_test(test_hash_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
