/*
 * Access tracking: the workers' batches and the writer thread (see access.h).
 */
#include "access.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Handed-over batches wait here; past this many, new ones are dropped (counted): a
 * writer that cannot keep up loses access times, not memory. */
#define QUEUE_MAX 256
/* Index commits of access times: at most one per this many ms. */
#define COMMIT_MS 1000
/* Files merged between two commits at most (28 bytes and two slots each). */
#define MERGED_MAX (64 * 1024)

struct uc_access {
    struct uc_index *ix;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct uc_access_entry *q[QUEUE_MAX];
    uint32_t qn[QUEUE_MAX];
    size_t n;
    bool stop;
    _Atomic uint64_t dropped;
};

bool uc_access_note(struct uc_access_batch *b, const uint8_t sha1[UC_SHA1_LEN], int64_t when)
{
    uint32_t h;
    memcpy(&h, sha1, sizeof(h)); /* a SHA-1 is already uniformly spread */
    uint32_t mask = 2 * UC_ACCESS_BATCH - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        uint16_t s = b->slot[i];
        if (!s) {
            if (!b->n)
                b->since = when;
            b->slot[i] = (uint16_t)(b->n + 1);
            memcpy(b->e[b->n].sha1, sha1, UC_SHA1_LEN);
            b->e[b->n++].when = when;
            return b->n == UC_ACCESS_BATCH;
        }
        if (!memcmp(b->e[s - 1].sha1, sha1, UC_SHA1_LEN)) {
            b->e[s - 1].when = when;
            return false;
        }
    }
}

void uc_access_hand_over(struct uc_access *a, struct uc_access_batch *b)
{
    if (!b->n)
        return;
    struct uc_access_entry *copy = malloc(b->n * sizeof(*copy));
    if (copy)
        memcpy(copy, b->e, b->n * sizeof(*copy));
    bool queued = false;
    pthread_mutex_lock(&a->mu);
    if (copy && a->n < QUEUE_MAX) {
        a->q[a->n] = copy;
        a->qn[a->n++] = b->n;
        pthread_cond_signal(&a->cv);
        queued = true;
    }
    pthread_mutex_unlock(&a->mu);
    if (!queued) {
        free(copy);
        atomic_fetch_add(&a->dropped, b->n);
    }
    b->n = 0;
    memset(b->slot, 0, sizeof(b->slot));
}

/*
 * What the writer has merged since its last commit: one entry per file (the latest
 * time), so a file served from every worker a thousand times costs one put.
 */
struct merged {
    struct uc_access_entry *e;
    uint32_t *slot; /* entry index + 1; 0 = empty */
    uint32_t n, cap;
};

static bool merged_init(struct merged *m)
{
    m->n = 0;
    m->cap = MERGED_MAX;
    m->e = malloc(MERGED_MAX * sizeof(*m->e));
    m->slot = calloc(2 * MERGED_MAX, sizeof(*m->slot));
    return m->e && m->slot;
}

/* False when full: commit first. */
static bool merge(struct merged *m, const struct uc_access_entry *in)
{
    uint32_t h, mask = 2 * m->cap - 1;
    memcpy(&h, in->sha1, sizeof(h));
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        uint32_t s = m->slot[i];
        if (!s) {
            if (m->n == m->cap)
                return false;
            m->slot[i] = m->n + 1;
            m->e[m->n++] = *in;
            return true;
        }
        if (!memcmp(m->e[s - 1].sha1, in->sha1, UC_SHA1_LEN)) {
            if (in->when > m->e[s - 1].when)
                m->e[s - 1].when = in->when;
            return true;
        }
    }
}

static uint64_t prefix64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* Most pairs differ in their first 8 bytes: one integer compare instead of a memcmp. */
static int by_sha1(const void *a, const void *b)
{
    const uint8_t *x = ((const struct uc_access_entry *)a)->sha1;
    const uint8_t *y = ((const struct uc_access_entry *)b)->sha1;
    uint64_t px = prefix64(x), py = prefix64(y);
    if (px != py)
        return px < py ? -1 : 1;
    return memcmp(x + 8, y + 8, UC_SHA1_LEN - 8);
}

/* One transaction for everything merged: atime only moves forward, only for files
 * still PRESENT (an evicted or quarantined one keeps its state). In SHA-1 order, so
 * consecutive files share the tree's pages instead of missing the cache on each. */
static void write_all(struct uc_access *a, struct merged *m)
{
    if (!m->n)
        return;
    qsort(m->e, m->n, sizeof(*m->e), by_sha1);
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    int rc = uc_index_begin(a->ix, true, &txn);
    if (!rc && (rc = uc_index_files_cursor(a->ix, txn, &cur)))
        uc_index_abort(txn);
    for (uint32_t i = 0; !rc && i < m->n; i++) {
        rc = uc_index_touch_file(cur, m->e[i].sha1, m->e[i].when);
        if (rc == UC_ENOTFOUND || rc == UC_EINDEX) /* removed since served; not ours to mend */
            rc = 0;
    }
    if (cur)
        mdb_cursor_close(cur);
    if (cur && !rc)
        rc = uc_index_commit(txn);
    else if (cur)
        uc_index_abort(txn);
    if (rc)
        fprintf(stderr, "updcached: access times not recorded: %s%s\n", uc_strerror(rc),
                uc_index_hint(rc));
    m->n = 0;
    memset(m->slot, 0, 2 * m->cap * sizeof(*m->slot));
}

static struct timespec after(struct timespec t, long ms)
{
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static bool reached(const struct timespec *now, const struct timespec *t)
{
    return now->tv_sec > t->tv_sec || (now->tv_sec == t->tv_sec && now->tv_nsec >= t->tv_nsec);
}

/*
 * Batches are merged as they arrive and committed at most once per COMMIT_MS: with
 * thousands of distinct files a second the workers hand over a full batch many times
 * a second, and a commit (with its fdatasync) per batch cost the server a sixth of its
 * CPU (bench/run access, distinct4k).
 */
static void *writer(void *arg)
{
    struct uc_access *a = arg;
    struct uc_access_entry *q[QUEUE_MAX];
    uint32_t qn[QUEUE_MAX];
    struct merged m;
    if (!merged_init(&m)) {
        fprintf(stderr, "updcached: out of memory: access times are not recorded\n");
        free(m.e);
        free(m.slot);
        m.e = NULL;
    }
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&a->mu);
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        while (!a->stop && (m.n ? !reached(&now, &next) : !a->n)) {
            if (m.n)
                pthread_cond_timedwait(&a->cv, &a->mu, &next);
            else
                pthread_cond_wait(&a->cv, &a->mu);
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (a->n)
                break; /* merge what came, then wait on */
        }
        size_t n = a->n;
        bool stop = a->stop;
        memcpy(q, a->q, n * sizeof(*q));
        memcpy(qn, a->qn, n * sizeof(*qn));
        a->n = 0;
        pthread_mutex_unlock(&a->mu);
        for (size_t k = 0; k < n; k++) {
            for (uint32_t i = 0; m.e && i < qn[k]; i++)
                if (!merge(&m, &q[k][i])) { /* full: commit now, start over */
                    write_all(a, &m);
                    merge(&m, &q[k][i]);
                }
            free(q[k]);
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (m.e && (stop || reached(&now, &next))) {
            write_all(a, &m);
            next = after(now, COMMIT_MS);
        }
        pthread_mutex_lock(&a->mu);
        if (stop && !a->n)
            break;
    }
    pthread_mutex_unlock(&a->mu);
    free(m.e);
    free(m.slot);
    return NULL;
}

int uc_access_start(struct uc_index *ix, struct uc_access **out)
{
    struct uc_access *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->ix = ix;
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_t ca; /* the commit deadline is on the monotonic clock */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&a->thread, NULL, writer, a);
    if (rc) {
        free(a);
        return -rc;
    }
    *out = a;
    return 0;
}

void uc_access_stop(struct uc_access *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    uint64_t lost = atomic_load(&a->dropped);
    if (lost)
        fprintf(stderr, "updcached: %llu access time(s) not recorded (the writer fell behind)\n",
                (unsigned long long)lost);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a);
}
