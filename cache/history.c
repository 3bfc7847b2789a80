/*
 * Requests per step: see history.h.
 */
#include "history.h"

#include <string.h>

void uc_history_init(struct uc_history *h)
{
    memset(h, 0, sizeof(*h));
    pthread_mutex_init(&h->mu, NULL);
}

void uc_history_destroy(struct uc_history *h)
{
    pthread_mutex_destroy(&h->mu);
}

static void push(struct uc_history *h, uint64_t v)
{
    h->slots[h->head] = v;
    h->head = (h->head + 1) % UC_HISTORY_SLOTS;
    if (h->n < UC_HISTORY_SLOTS)
        h->n++;
}

void uc_history_sample(struct uc_history *h, int64_t now, uint64_t total)
{
    pthread_mutex_lock(&h->mu);
    if (!h->at) {
        h->at = now - now % UC_HISTORY_STEP_S;
        h->base = total;
    } else if (now >= h->at + UC_HISTORY_STEP_S) {
        /* the step that ended gets what was counted up to its last sample; the rise since
         * then happened in the step now running (or in one of the skipped ones) */
        push(h, h->total - h->base);
        int64_t start = now - now % UC_HISTORY_STEP_S;
        int64_t skipped = (start - h->at) / UC_HISTORY_STEP_S - 1;
        for (int64_t i = 0; i < skipped && i < UC_HISTORY_SLOTS; i++)
            push(h, 0);
        h->at = start;
        h->base = h->total;
    } else if (now < h->at) { /* the clock went back: start over rather than draw nonsense */
        h->n = h->head = 0;
        h->at = now - now % UC_HISTORY_STEP_S;
        h->base = total;
    }
    h->total = total;
    pthread_mutex_unlock(&h->mu);
}

size_t uc_history_read(struct uc_history *h, uint64_t *out, size_t cap, uint64_t *current,
                       int64_t *end)
{
    pthread_mutex_lock(&h->mu);
    size_t n = h->n < cap ? h->n : cap;
    for (size_t i = 0; i < n; i++)
        out[i] = h->slots[(h->head + UC_HISTORY_SLOTS - n + i) % UC_HISTORY_SLOTS];
    *current = h->total - h->base;
    *end = h->n ? h->at : 0;
    pthread_mutex_unlock(&h->mu);
    return n;
}
