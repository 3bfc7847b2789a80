/*
 * Open-file cache, one per worker (no locks): descriptors of content files kept open
 * across requests, so a hot large file costs no openat/close per request.
 *
 * The index stays the authority. An entry is valid only for the index snapshot it was
 * opened under (the LMDB transaction id of the read that found the file present):
 * every publish, quarantine, purge and eviction commits to the index, so the next
 * request sees another snapshot and opens the file afresh (a re-published SHA-1 is a
 * new inode). The caller consults the index first on every request and forgets the
 * entry at once when the file is no longer present. An entry handed out is pinned
 * until released, because the kernel may still read from its descriptor; a pinned
 * entry that is replaced or evicted is closed at its last release.
 */
#ifndef UC_FDCACHE_H
#define UC_FDCACHE_H

#include "hash.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uc_fd_entry {
    uint8_t sha1[UC_SHA1_LEN];
    int fd;                          /* owned */
    size_t snapshot;                 /* index transaction id it was opened under */
    uint64_t size;                   /* the index record's, as a second check */
    int64_t ingest_time;             /* likewise */
    uint32_t pins;                   /* responses reading from fd */
    bool dead;                       /* out of the table: closed at the last release */
    struct uc_fd_entry *hnext;       /* hash chain */
    struct uc_fd_entry *prev, *next; /* LRU list: head = most recent */
};

struct uc_fdcache {
    unsigned cap;      /* live entries at most; 0: the cache is off */
    unsigned n;        /* live entries */
    unsigned nbuckets; /* power of two */
    struct uc_fd_entry **buckets;
    struct uc_fd_entry *head, *tail;
    uint64_t hits, misses;
};

/* cap 0 turns the cache off (every get misses, every put returns NULL). 0 or -ENOMEM. */
int uc_fdc_init(struct uc_fdcache *c, unsigned cap);
/* Close every descriptor; pinned entries must have been released. */
void uc_fdc_free(struct uc_fdcache *c);

/*
 * The entry for sha1 opened under snapshot with this size and ingest time, pinned; NULL
 * on a miss. An entry for sha1 from another snapshot (or with other values) is dropped.
 */
struct uc_fd_entry *uc_fdc_get(struct uc_fdcache *c, const uint8_t sha1[UC_SHA1_LEN],
                               size_t snapshot, uint64_t size, int64_t ingest_time);

/*
 * Take ownership of fd under sha1, replacing any entry for it and evicting the least
 * recently used unpinned entry when full. Returns the new entry, pinned, or NULL when
 * nothing can be cached (off, every entry pinned, out of memory): fd stays the caller's.
 */
struct uc_fd_entry *uc_fdc_put(struct uc_fdcache *c, const uint8_t sha1[UC_SHA1_LEN], int fd,
                               size_t snapshot, uint64_t size, int64_t ingest_time);

/* The index no longer calls sha1 present: drop its entry now. */
void uc_fdc_forget(struct uc_fdcache *c, const uint8_t sha1[UC_SHA1_LEN]);

void uc_fdc_release(struct uc_fdcache *c, struct uc_fd_entry *e);

#endif
