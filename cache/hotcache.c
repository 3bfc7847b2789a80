/*
 * Hot-file cache. The table holds at most one slot per entry plus deleted markers and
 * is sized for the budget's worst case (every entry the smallest file), so it never
 * grows on the request path.
 */
#include "hotcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define MIN_ENTRY 512 /* sizing assumption: entries smaller than this still take a slot */
static struct uc_hot_entry tomb;
#define TOMB (&tomb)

int uc_hot_init(struct uc_hotcache *h, size_t budget, size_t max_file)
{
    memset(h, 0, sizeof(*h));
    h->budget = budget;
    h->max_file = max_file;
    size_t want = budget / MIN_ENTRY * 2 + 16;
    h->nslots = 16;
    while (h->nslots < want)
        h->nslots <<= 1;
    h->slots = calloc(h->nslots, sizeof(*h->slots));
    return h->slots ? 0 : -ENOMEM;
}

static size_t slot_of(const struct uc_hotcache *h, const uint8_t *sha1)
{
    return (size_t)XXH3_64bits(sha1, UC_SHA1_LEN) & (h->nslots - 1);
}

/* Index of sha1's slot, or of the first free slot for it when absent (*found false). */
static size_t probe(const struct uc_hotcache *h, const uint8_t *sha1, bool *found)
{
    size_t i = slot_of(h, sha1), first_free = SIZE_MAX;
    for (size_t n = 0; n < h->nslots; n++, i = (i + 1) & (h->nslots - 1)) {
        struct uc_hot_entry *e = h->slots[i];
        if (!e) {
            *found = false;
            return first_free != SIZE_MAX ? first_free : i;
        }
        if (e == TOMB) {
            if (first_free == SIZE_MAX)
                first_free = i;
        } else if (!memcmp(e->sha1, sha1, UC_SHA1_LEN)) {
            *found = true;
            return i;
        }
    }
    *found = false;
    return first_free;
}

static void unlink_lru(struct uc_hotcache *h, struct uc_hot_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        h->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        h->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(struct uc_hotcache *h, struct uc_hot_entry *e)
{
    e->next = h->head;
    e->prev = NULL;
    if (h->head)
        h->head->prev = e;
    h->head = e;
    if (!h->tail)
        h->tail = e;
}

static void destroy(struct uc_hot_entry *e)
{
    free(e->data);
    free(e);
}

/* Take e out of the table and the LRU; free it now or at its last release. */
static void evict(struct uc_hotcache *h, struct uc_hot_entry *e)
{
    bool found;
    size_t i = probe(h, e->sha1, &found);
    if (found) {
        h->slots[i] = TOMB;
        h->nlive--;
        h->ntomb++;
    }
    unlink_lru(h, e);
    h->used -= e->len;
    h->evictions++;
    if (e->pins)
        e->dead = true;
    else
        destroy(e);
}

struct uc_hot_entry *uc_hot_get(struct uc_hotcache *h, const uint8_t sha1[UC_SHA1_LEN])
{
    bool found = false;
    size_t i = h->budget ? probe(h, sha1, &found) : 0;
    if (!found) {
        h->misses++;
        return NULL;
    }
    struct uc_hot_entry *e = h->slots[i];
    unlink_lru(h, e);
    push_front(h, e);
    e->pins++;
    h->hits++;
    return e;
}

void uc_hot_release(struct uc_hotcache *h, struct uc_hot_entry *e)
{
    (void)h;
    if (--e->pins == 0 && e->dead)
        destroy(e);
}

/*
 * Deleted markers make misses probe further; past 3/4 of the slots in use, put every
 * live entry back into a cleared table (in place: the LRU list holds them all).
 */
static void rebuild_if_crowded(struct uc_hotcache *h)
{
    if ((h->nlive + h->ntomb) * 4 < h->nslots * 3)
        return;
    memset(h->slots, 0, h->nslots * sizeof(*h->slots));
    h->ntomb = 0;
    for (struct uc_hot_entry *e = h->head; e; e = e->next) {
        bool found;
        h->slots[probe(h, e->sha1, &found)] = e;
    }
}

bool uc_hot_put(struct uc_hotcache *h, const uint8_t sha1[UC_SHA1_LEN], const void *data,
                size_t len)
{
    if (!h->budget || len > h->max_file || len > h->budget)
        return false;
    bool found;
    if (probe(h, sha1, &found) != SIZE_MAX && found)
        return true;
    /* Make room from the cold end; pinned entries leave the table but stay allocated. */
    while (h->used + len > h->budget && h->tail)
        evict(h, h->tail);
    struct uc_hot_entry *e = calloc(1, sizeof(*e));
    if (!e || !(e->data = malloc(len ? len : 1))) {
        free(e);
        return false;
    }
    memcpy(e->sha1, sha1, UC_SHA1_LEN);
    memcpy(e->data, data, len);
    e->len = len;
    size_t i = probe(h, sha1, &found);
    if (i == SIZE_MAX) {
        destroy(e);
        return false;
    }
    if (h->slots[i] == TOMB)
        h->ntomb--;
    h->slots[i] = e;
    h->nlive++;
    push_front(h, e);
    h->used += len;
    rebuild_if_crowded(h);
    return true;
}

void uc_hot_free(struct uc_hotcache *h)
{
    while (h->tail) {
        struct uc_hot_entry *e = h->tail;
        unlink_lru(h, e);
        if (e->pins)
            e->dead = true; /* its holder frees it */
        else
            destroy(e);
    }
    free(h->slots);
    memset(h, 0, sizeof(*h));
}
