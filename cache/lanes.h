/*
 * Serial lanes on a thread pool. Jobs pushed to one lane run one at a time, in the
 * order they were pushed; different lanes run at once on the pool's threads. A fetch
 * gives each digest of a file its own lane: SHA-1 and SHA-256 of one stream cannot be
 * split, but they can run beside each other and beside other files' (issue 14).
 */
#ifndef UC_LANES_H
#define UC_LANES_H

#include <stdbool.h>

struct uc_lane_job {
    struct uc_lane_job *next;
    void (*fn)(struct uc_lane_job *j); /* may reuse or free j: the lane is done with it */
    void *arg;
};

struct uc_lanes;

struct uc_lane {
    struct uc_lanes *pool;
    struct uc_lane_job *head, *tail;
    struct uc_lane *next_ready;
    bool active; /* in the ready list or running a job */
};

/* Start nthreads threads (0: one per core). Returns 0 or -errno. */
int uc_lanes_start(unsigned nthreads, struct uc_lanes **out);
/* Run what was pushed, then stop the threads and free the pool. NULL is a no-op. */
void uc_lanes_stop(struct uc_lanes *p);

void uc_lane_init(struct uc_lane *l, struct uc_lanes *p);
void uc_lane_push(struct uc_lane *l, struct uc_lane_job *j);
/*
 * Wait until the pool is done with l: its jobs have run and no thread touches it any
 * more (a job's own "I am done" signal comes before that). Call before l's memory goes.
 */
void uc_lane_wait_idle(struct uc_lane *l);

#endif
