/*
 * Open-file cache (fdcache.h). Chained hash on the SHA-1's first bytes (keys are files
 * the index calls present, not chosen by clients), an LRU list for eviction. Entries are
 * allocated one by one, at most cap of them live, plus pinned dead ones.
 */
#include "fdcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int uc_fdc_init(struct uc_fdcache *c, unsigned cap)
{
    memset(c, 0, sizeof(*c));
    c->cap = cap;
    c->nbuckets = 16;
    while (c->nbuckets < cap * 2)
        c->nbuckets <<= 1;
    c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
    return c->buckets ? 0 : -ENOMEM;
}

static unsigned bucket_of(const struct uc_fdcache *c, const uint8_t *sha1)
{
    uint32_t h;
    memcpy(&h, sha1, sizeof(h));
    return h & (c->nbuckets - 1);
}

/* Take e out of the table and the LRU list; close it unless a response still reads it. */
static void drop(struct uc_fdcache *c, struct uc_fd_entry *e)
{
    struct uc_fd_entry **pp = &c->buckets[bucket_of(c, e->sha1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    c->n--;
    if (e->pins) {
        e->dead = true;
        return;
    }
    close(e->fd);
    free(e);
}

static struct uc_fd_entry *find(const struct uc_fdcache *c, const uint8_t *sha1)
{
    if (!c->buckets)
        return NULL;
    for (struct uc_fd_entry *e = c->buckets[bucket_of(c, sha1)]; e; e = e->hnext)
        if (!memcmp(e->sha1, sha1, UC_SHA1_LEN))
            return e;
    return NULL;
}

static void to_front(struct uc_fdcache *c, struct uc_fd_entry *e)
{
    if (c->head == e)
        return;
    e->prev->next = e->next; /* not the head: it has a prev */
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = NULL;
    e->next = c->head;
    c->head->prev = e;
    c->head = e;
}

struct uc_fd_entry *uc_fdc_get(struct uc_fdcache *c, const uint8_t sha1[UC_SHA1_LEN],
                               size_t snapshot, uint64_t size, int64_t ingest_time)
{
    struct uc_fd_entry *e = find(c, sha1);
    if (e && (e->snapshot != snapshot || e->size != size || e->ingest_time != ingest_time)) {
        drop(c, e); /* the index changed since it was opened: open afresh */
        e = NULL;
    }
    if (!e) {
        c->misses++;
        return NULL;
    }
    c->hits++;
    to_front(c, e);
    e->pins++;
    return e;
}

struct uc_fd_entry *uc_fdc_put(struct uc_fdcache *c, const uint8_t sha1[UC_SHA1_LEN], int fd,
                               size_t snapshot, uint64_t size, int64_t ingest_time)
{
    if (!c->cap)
        return NULL;
    struct uc_fd_entry *old = find(c, sha1);
    if (old)
        drop(c, old);
    if (c->n >= c->cap) {
        struct uc_fd_entry *v = c->tail;
        while (v && v->pins)
            v = v->prev;
        if (!v)
            return NULL;
        drop(c, v);
    }
    struct uc_fd_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    memcpy(e->sha1, sha1, UC_SHA1_LEN);
    e->fd = fd;
    e->snapshot = snapshot;
    e->size = size;
    e->ingest_time = ingest_time;
    e->pins = 1;
    unsigned b = bucket_of(c, sha1);
    e->hnext = c->buckets[b];
    c->buckets[b] = e;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    else
        c->tail = e;
    c->head = e;
    c->n++;
    return e;
}

void uc_fdc_forget(struct uc_fdcache *c, const uint8_t sha1[UC_SHA1_LEN])
{
    struct uc_fd_entry *e = find(c, sha1);
    if (e)
        drop(c, e);
}

void uc_fdc_release(struct uc_fdcache *c, struct uc_fd_entry *e)
{
    (void)c;
    if (--e->pins == 0 && e->dead) {
        close(e->fd);
        free(e);
    }
}

void uc_fdc_free(struct uc_fdcache *c)
{
    while (c->head)
        drop(c, c->head);
    free(c->buckets);
    c->buckets = NULL;
}
