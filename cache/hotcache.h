/*
 * A bounded in-memory cache of small hot files, keyed by SHA-1, one per worker (no
 * locks). Lookups hash the key with XXH3 into an open-addressing table; a doubly linked
 * list keeps least-recently-used order for eviction. An entry handed out is pinned until
 * the caller releases it, because the kernel may still be sending from its bytes.
 */
#ifndef UC_HOTCACHE_H
#define UC_HOTCACHE_H

#include "hash.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uc_hot_entry {
    uint8_t sha1[UC_SHA1_LEN];
    uint32_t pins; /* sends in flight from data */
    size_t len;
    uint8_t *data;                    /* owned */
    struct uc_hot_entry *prev, *next; /* LRU list: head = most recent */
    bool dead;                        /* evicted while pinned: freed at the last release */
};

struct uc_hotcache {
    size_t budget;               /* bytes of file data at most */
    size_t max_file;             /* larger files are never cached */
    size_t used;                 /* bytes held by live entries */
    size_t nslots;               /* power of two */
    struct uc_hot_entry **slots; /* open addressing; NULL = empty, TOMB = deleted */
    size_t nlive, ntomb;         /* occupied and deleted slots */
    struct uc_hot_entry *head, *tail;
    uint64_t hits, misses, evictions;
};

/* budget 0 turns the cache off (every get misses). Returns 0 or -ENOMEM. */
int uc_hot_init(struct uc_hotcache *h, size_t budget, size_t max_file);
void uc_hot_free(struct uc_hotcache *h);

/* Look up and pin; NULL on a miss. Release with uc_hot_release() when the send is done. */
struct uc_hot_entry *uc_hot_get(struct uc_hotcache *h, const uint8_t sha1[UC_SHA1_LEN]);
void uc_hot_release(struct uc_hotcache *h, struct uc_hot_entry *e);

/*
 * Copy len bytes in under sha1, evicting unpinned least-recently-used entries to make
 * room. Returns false (nothing cached) when the file is too large, the room cannot be
 * made, or memory is short. An existing entry for sha1 is left as it is.
 */
bool uc_hot_put(struct uc_hotcache *h, const uint8_t sha1[UC_SHA1_LEN], const void *data,
                size_t len);

#endif
