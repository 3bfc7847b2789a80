/*
 * A minimal fork-join pool over pthreads for the tools (add, import, verify). The
 * daemon has its own per-core rings and does not use this.
 */
#include "parallel.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct job {
    size_t n;
    _Atomic size_t next;
    unsigned running; /* guarded by mu; the last worker out signals done */
    pthread_mutex_t mu;
    pthread_cond_t done;
    uc_parallel_cb fn;
    void *ctx;
};

unsigned uc_ncpu(void)
{
    /* The cores this process may run on: under taskset or CPUAffinity= more threads
     * than those only take turns on them. */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n)
            break;
        j->fn(j->ctx, i);
    }
    pthread_mutex_lock(&j->mu);
    if (--j->running == 0)
        pthread_cond_signal(&j->done);
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

int uc_parallel_for(size_t n, unsigned nthreads, uc_parallel_cb fn, uc_parallel_tick_cb tick,
                    void *ctx)
{
    struct job j = {.n = n, .fn = fn, .ctx = ctx};
    pthread_mutex_init(&j.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j.done, &ca);
    pthread_condattr_destroy(&ca);
    if (!nthreads)
        nthreads = uc_ncpu();
    if (nthreads > n)
        nthreads = n ? (unsigned)n : 1;
    pthread_t *t = calloc(nthreads, sizeof(*t));
    unsigned started = 0;
    int rc = t ? 0 : -ENOMEM;
    j.running = nthreads;
    for (; t && started < nthreads; started++) {
        rc = pthread_create(&t[started], NULL, worker, &j);
        if (rc) {
            rc = -rc;
            break;
        }
    }
    pthread_mutex_lock(&j.mu);
    j.running -= nthreads - started;
    pthread_mutex_unlock(&j.mu);
    if (started == 0) {
        j.running = 1;
        worker(&j);
    }
    pthread_mutex_lock(&j.mu);
    while (j.running > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        if (pthread_cond_timedwait(&j.done, &j.mu, &ts) == ETIMEDOUT && tick) {
            pthread_mutex_unlock(&j.mu);
            tick(ctx);
            pthread_mutex_lock(&j.mu);
        }
    }
    pthread_mutex_unlock(&j.mu);
    for (unsigned i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    free(t);
    pthread_cond_destroy(&j.done);
    pthread_mutex_destroy(&j.mu);
    return started ? 0 : rc;
}
