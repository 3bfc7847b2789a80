/*
 * A worker's free list of same-sized blocks (request states, input buffers): reused
 * before malloc, so the hot path does not churn the heap, and cut back to the recent
 * peak so a burst does not stay with the worker. Single-threaded, like its worker.
 */
#ifndef UC_FREELIST_H
#define UC_FREELIST_H

#include <stdbool.h>
#include <stddef.h>

struct uc_freelist {
    void *head;      /* freed blocks, linked through their first bytes */
    size_t size;     /* of every block (at least a pointer) */
    unsigned max;    /* blocks kept at most; more are freed at once */
    unsigned pooled; /* on the list */
    unsigned used;   /* handed out and not back yet */
    unsigned peak;   /* the most used at once since the last trim */
};

void uc_freelist_init(struct uc_freelist *fl, size_t size, unsigned max);
/* A block of fl->size bytes (contents undefined), or NULL when out of memory. */
void *uc_freelist_get(struct uc_freelist *fl);
/* Back to the list, or freed when it holds max. */
void uc_freelist_put(struct uc_freelist *fl, void *p);
/*
 * Keep only what the busiest moment since the last trim used beyond what is in use now,
 * plus slack; true when blocks were freed (the caller may give the heap back).
 */
bool uc_freelist_trim(struct uc_freelist *fl, unsigned slack);
/* Free every pooled block (blocks in use stay the caller's). */
void uc_freelist_free(struct uc_freelist *fl);

#endif
