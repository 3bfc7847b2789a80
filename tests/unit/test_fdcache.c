/*
 * Open-file cache: a hit only for the same index snapshot, size and ingest time; a
 * stale entry is dropped and its descriptor closed; LRU eviction skips pinned entries;
 * a pinned entry replaced or forgotten keeps its descriptor open until released.
 */
#include "fdcache.h"
#include "uc_test.h"

#include <fcntl.h>
#include <unistd.h>

static void key(uint8_t out[UC_SHA1_LEN], uint32_t n)
{
    memset(out, 0xab, UC_SHA1_LEN);
    memcpy(out + 4, &n, sizeof(n)); /* the same bucket bytes: chains get exercised */
}

static int fd_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

static int devnull(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

static void test_fdc_snapshot(void **state)
{
    (void)state;
    struct uc_fdcache c;
    assert_int_equal(uc_fdc_init(&c, 4), 0);
    uint8_t k[UC_SHA1_LEN];
    key(k, 1);
    int fd = devnull();
    struct uc_fd_entry *e = uc_fdc_put(&c, k, fd, 7, 100, 5);
    assert_non_null(e);
    uc_fdc_release(&c, e);
    e = uc_fdc_get(&c, k, 7, 100, 5);
    assert_non_null(e);
    assert_int_equal(e->fd, fd);
    uc_fdc_release(&c, e);
    assert_null(uc_fdc_get(&c, k, 7, 101, 5)); /* another size: dropped and closed */
    assert_false(fd_open(fd));
    assert_null(uc_fdc_get(&c, k, 7, 100, 5));
    fd = devnull();
    e = uc_fdc_put(&c, k, fd, 7, 100, 5);
    uc_fdc_release(&c, e);
    assert_null(uc_fdc_get(&c, k, 8, 100, 5)); /* the index changed since */
    assert_false(fd_open(fd));
    assert_int_equal(c.n, 0);
    uc_fdc_free(&c);
}

static void test_fdc_pins(void **state)
{
    (void)state;
    struct uc_fdcache c;
    assert_int_equal(uc_fdc_init(&c, 2), 0);
    uint8_t k[UC_SHA1_LEN];
    int fds[3];
    struct uc_fd_entry *es[3];
    for (uint32_t i = 0; i < 2; i++) {
        key(k, i);
        fds[i] = devnull();
        es[i] = uc_fdc_put(&c, k, fds[i], 1, 10, 1);
        assert_non_null(es[i]);
    }
    key(k, 2);
    fds[2] = devnull();
    assert_null(uc_fdc_put(&c, k, fds[2], 1, 10, 1)); /* all pinned: the caller keeps it */
    assert_true(fd_open(fds[2]));
    uc_fdc_release(&c, es[0]);
    es[2] = uc_fdc_put(&c, k, fds[2], 1, 10, 1); /* evicts 0, the only unpinned one */
    assert_non_null(es[2]);
    assert_false(fd_open(fds[0]));
    key(k, 1);
    uc_fdc_forget(&c, k); /* pinned: out of the table, still open */
    assert_true(fd_open(fds[1]));
    assert_null(uc_fdc_get(&c, k, 1, 10, 1));
    uc_fdc_release(&c, es[1]);
    assert_false(fd_open(fds[1]));
    uc_fdc_release(&c, es[2]);
    uc_fdc_free(&c);
    assert_false(fd_open(fds[2]));
}

static void test_fdc_off(void **state)
{
    (void)state;
    struct uc_fdcache c;
    assert_int_equal(uc_fdc_init(&c, 0), 0);
    uint8_t k[UC_SHA1_LEN];
    key(k, 1);
    int fd = devnull();
    assert_null(uc_fdc_put(&c, k, fd, 1, 1, 1));
    assert_null(uc_fdc_get(&c, k, 1, 1, 1));
    close(fd);
    uc_fdc_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fdc_snapshot),
        cmocka_unit_test(test_fdc_pins),
        cmocka_unit_test(test_fdc_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
