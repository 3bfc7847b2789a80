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

/* One transaction for everything queued: atime only moves forward, only for files
 * still PRESENT (an evicted or quarantined one keeps its state). */
static void write_all(struct uc_access *a, struct uc_access_entry **q, uint32_t *qn, size_t n)
{
    MDB_txn *txn;
    int rc = uc_index_begin(a->ix, true, &txn);
    for (size_t k = 0; !rc && k < n; k++)
        for (uint32_t i = 0; !rc && i < qn[k]; i++) {
            struct uc_file_rec r;
            if (uc_index_get_file(a->ix, txn, q[k][i].sha1, &r) || r.state != UC_FILE_PRESENT ||
                r.atime >= q[k][i].when)
                continue;
            r.atime = q[k][i].when;
            rc = uc_index_put_file(a->ix, txn, &r);
        }
    if (!rc)
        rc = uc_index_commit(txn);
    else
        uc_index_abort(txn);
    if (rc)
        fprintf(stderr, "updcached: access times not recorded: %s%s\n", uc_strerror(rc),
                uc_index_hint(rc));
}

static void *writer(void *arg)
{
    struct uc_access *a = arg;
    struct uc_access_entry *q[QUEUE_MAX];
    uint32_t qn[QUEUE_MAX];
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->n && !a->stop)
            pthread_cond_wait(&a->cv, &a->mu);
        size_t n = a->n;
        if (!n && a->stop)
            break;
        memcpy(q, a->q, n * sizeof(*q));
        memcpy(qn, a->qn, n * sizeof(*qn));
        a->n = 0;
        pthread_mutex_unlock(&a->mu);
        write_all(a, q, qn, n);
        for (size_t k = 0; k < n; k++)
            free(q[k]);
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

int uc_access_start(struct uc_index *ix, struct uc_access **out)
{
    struct uc_access *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->ix = ix;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
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
