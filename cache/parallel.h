/*
 * Run a job over n items on a few threads (one per core by default), so that hashing
 * several files keeps every core busy. Items are handed out one at a time from an
 * atomic counter, which balances files of unequal size.
 */
#ifndef UC_PARALLEL_H
#define UC_PARALLEL_H

#include <stddef.h>

/* Work on item i; runs on any of the threads. */
typedef void (*uc_parallel_cb)(void *ctx, size_t i);
/* Called on the calling thread about ten times a second while work runs (may be NULL). */
typedef void (*uc_parallel_tick_cb)(void *ctx);

/* Number of cores this process may run on (its CPU affinity; at least 1). */
unsigned uc_ncpu(void);

/*
 * Run fn(ctx, i) for i in [0, n) on nthreads threads (0 = uc_ncpu()), calling tick
 * from the caller's thread meanwhile. Returns 0 or -errno if no thread could start (in
 * which case the work ran on the caller's thread).
 */
int uc_parallel_for(size_t n, unsigned nthreads, uc_parallel_cb fn, uc_parallel_tick_cb tick,
                    void *ctx);

#endif
