/*
 * Requests per step over the last minutes, for the status page's chart (SPEC §14). One
 * thread samples the running total of requests (worker 0's tick); TLS threads read the
 * slots for a page. A mutex is enough: one sample every second, one read per page.
 */
#ifndef UC_HISTORY_H
#define UC_HISTORY_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define UC_HISTORY_STEP_S 10
#define UC_HISTORY_SLOTS 60 /* ten minutes */

struct uc_history {
    pthread_mutex_t mu;
    int64_t at;     /* start of the step being counted (unix seconds); 0: not started */
    uint64_t base;  /* the running total when that step began */
    uint64_t total; /* the running total at the last sample */
    uint64_t slots[UC_HISTORY_SLOTS]; /* finished steps, a ring */
    unsigned head, n;                 /* next slot to write; how many hold a step */
};

void uc_history_init(struct uc_history *h);
void uc_history_destroy(struct uc_history *h);

/* Note the running total at unix time now. Steps with no sample at all (a loop stalled
 * for longer than a step) are recorded as empty: the total's rise goes to the step in
 * which it was seen. */
void uc_history_sample(struct uc_history *h, int64_t now, uint64_t total);

/* Copy the finished steps, oldest first, into out (cap slots); returns how many. *current
 * gets the requests of the step still running, *end the unix time the last finished step
 * ended (0 when none has). */
size_t uc_history_read(struct uc_history *h, uint64_t *out, size_t cap, uint64_t *current,
                       int64_t *end);

#endif
