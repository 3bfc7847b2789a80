/*
 * Access tracking (SPEC §12): when each file was last served, for LRU eviction. A
 * worker notes a served SHA-1 in its own batch (no lock, no index write, deduplicated
 * so a hot file costs one slot); at most once a second (or when full) the batch is handed
 * to one writer thread, which merges the batches and moves the files' atime forward in
 * one index transaction at most once a second. A crash loses at most the last two
 * seconds of access times, never a record.
 */
#ifndef UC_ACCESS_H
#define UC_ACCESS_H

#include "index.h"

#include <stdbool.h>
#include <stdint.h>

/* Room for a second's distinct files on a busy worker: a batch that fills sooner is
 * handed over more often, and each hand-over is a writer wake-up and a merge of every
 * entry (with 1,024, distinct4k handed over ~90 a second; bench/run access). Pages past
 * what a second actually uses are never touched. */
#define UC_ACCESS_BATCH 16384

struct uc_access_entry {
    uint8_t sha1[UC_SHA1_LEN];
    int64_t when; /* unix seconds */
};

/* A worker's batch: entries, and an open-addressed index into them by SHA-1. */
struct uc_access_batch {
    struct uc_access_entry e[UC_ACCESS_BATCH];
    uint16_t slot[2 * UC_ACCESS_BATCH]; /* entry index + 1; 0 = empty */
    uint32_t n;
    int64_t since; /* wall second of the first entry */
};

struct uc_access;

/* Start the writer over ix (opened writable). Returns 0 or -errno. */
int uc_access_start(struct uc_index *ix, struct uc_access **out);
/* Write what was handed over, stop the thread, free. NULL is a no-op. */
void uc_access_stop(struct uc_access *a);

/*
 * Note that sha1 was served at when. Returns true when the batch is full and should be
 * handed over now (the note itself was kept).
 */
bool uc_access_note(struct uc_access_batch *b, const uint8_t sha1[UC_SHA1_LEN], int64_t when);
/* Hand the batch to the writer (copied; the batch is emptied). Never blocks on the index. */
void uc_access_hand_over(struct uc_access *a, struct uc_access_batch *b);

#endif
