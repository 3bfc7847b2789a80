/*
 * Serial lanes: each lane runs its jobs one at a time in push order, lanes run at once,
 * stop runs what was pushed; and a hasher fed part by part on three lanes (as sync
 * does) gives the digests of a one-thread pass.
 */
#include "hash.h"
#include "lanes.h"
#include "uc_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define LANES 4
#define JOBS 500

struct rec {
    struct uc_lane_job job;
    int lane, seq;
};

static int next_seq[LANES];
static _Atomic int running[LANES], overlap, concurrent, peak, out_of_order;

static void record(struct uc_lane_job *j)
{
    struct rec *r = j->arg;
    if (atomic_fetch_add(&running[r->lane], 1))
        atomic_fetch_add(&overlap, 1); /* two jobs of one lane at once */
    int c = atomic_fetch_add(&concurrent, 1) + 1;
    for (int p = atomic_load(&peak); c > p && !atomic_compare_exchange_weak(&peak, &p, c);)
        ;
    if (r->seq % 50 == 0)
        usleep(2000);                /* long enough for another thread to take another lane */
    if (next_seq[r->lane] != r->seq) /* counted: cmocka asserts only on the test's thread */
        atomic_fetch_add(&out_of_order, 1);
    next_seq[r->lane] = r->seq + 1;
    atomic_fetch_sub(&concurrent, 1);
    atomic_fetch_sub(&running[r->lane], 1);
}

static void test_lanes_order_and_overlap(void **state)
{
    (void)state;
    struct uc_lanes *p;
    assert_int_equal(uc_lanes_start(3, &p), 0);
    struct uc_lane l[LANES];
    for (int k = 0; k < LANES; k++)
        uc_lane_init(&l[k], p);
    struct rec *recs = calloc(LANES * JOBS, sizeof(*recs));
    for (int s = 0; s < JOBS; s++)
        for (int k = 0; k < LANES; k++) {
            struct rec *r = &recs[s * LANES + k];
            *r = (struct rec){.job = {.fn = record, .arg = r}, .lane = k, .seq = s};
            uc_lane_push(&l[k], &r->job);
        }
    uc_lanes_stop(p); /* runs everything pushed first */
    for (int k = 0; k < LANES; k++)
        assert_int_equal(next_seq[k], JOBS);
    assert_int_equal(atomic_load(&overlap), 0);
    assert_int_equal(atomic_load(&out_of_order), 0);
    assert_true(atomic_load(&peak) >= 2); /* lanes did run beside each other */
    free(recs);
}

struct owned {
    struct uc_lane lane;
    struct uc_lane_job job;
    _Atomic int done;
};

static void signal_done(struct uc_lane_job *j)
{
    atomic_store(&((struct owned *)j->arg)->done, 1);
}

/* A job's own "done" comes before its thread lets go of the lane: the owner frees the
 * lane only after uc_lane_wait_idle (without it, ASan and TSan see the pool's thread
 * read the freed lane; sync frees its transfers' lanes this way). */
static void test_lane_freed_after_wait_idle(void **state)
{
    (void)state;
    struct uc_lanes *p;
    assert_int_equal(uc_lanes_start(2, &p), 0);
    for (int i = 0; i < 300; i++) {
        struct owned *o = calloc(1, sizeof(*o));
        uc_lane_init(&o->lane, p);
        o->job = (struct uc_lane_job){.fn = signal_done, .arg = o};
        uc_lane_push(&o->lane, &o->job);
        while (!atomic_load(&o->done))
            ;
        uc_lane_wait_idle(&o->lane);
        free(o);
    }
    uc_lanes_stop(p);
}

struct part_job {
    struct uc_lane_job job;
    struct uc_hasher *h;
    unsigned part;
    const uint8_t *p;
    size_t len;
};

static void feed(struct uc_lane_job *j)
{
    struct part_job *pj = j->arg;
    uc_hasher_update_part(pj->h, pj->part, pj->p, pj->len);
}

static void test_hasher_parts_on_lanes(void **state)
{
    (void)state;
    size_t n = 5 * UC_BLOCK_SIZE + 12345, piece = UC_BLOCK_SIZE / 3;
    uint8_t *buf = malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(i * 2654435761u >> 13);
    struct uc_hasher one, three;
    assert_int_equal(uc_hasher_init(&one, UC_HASH_BLOCKS), 0);
    assert_int_equal(uc_hasher_init(&three, UC_HASH_BLOCKS), 0);
    uc_hasher_update(&one, buf, n);
    struct uc_lanes *p;
    assert_int_equal(uc_lanes_start(3, &p), 0);
    struct uc_lane l[3];
    const unsigned parts[3] = {UC_HASH_PART_SHA1, UC_HASH_PART_SHA256, UC_HASH_PART_BLOCKS};
    size_t npieces = (n + piece - 1) / piece;
    struct part_job *jobs = calloc(3 * npieces, sizeof(*jobs));
    for (int k = 0; k < 3; k++)
        uc_lane_init(&l[k], p);
    for (size_t i = 0; i < npieces; i++)
        for (int k = 0; k < 3; k++) {
            struct part_job *pj = &jobs[i * 3 + k];
            size_t off = i * piece;
            *pj = (struct part_job){.job = {.fn = feed, .arg = pj},
                                    .h = &three,
                                    .part = parts[k],
                                    .p = buf + off,
                                    .len = n - off < piece ? n - off : piece};
            uc_lane_push(&l[k], &pj->job);
        }
    uc_lanes_stop(p);
    struct uc_digest a, b;
    assert_int_equal(uc_hasher_final(&one, &a), 0);
    assert_int_equal(uc_hasher_final(&three, &b), 0);
    assert_int_equal(b.size, n);
    assert_true(b.has_blocks);
    assert_memory_equal(&a, &b, sizeof(a));
    uc_hasher_free(&one);
    uc_hasher_free(&three);
    free(jobs);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lanes_order_and_overlap),
        cmocka_unit_test(test_lane_freed_after_wait_idle),
        cmocka_unit_test(test_hasher_parts_on_lanes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
