/*
 * A store directory (SPEC §4):
 *
 *   Content/XX/<SHA1><suffix>  published files, mode 0444, XX = last two hex digits
 *   index/                     the LMDB environment (index.h)
 *   tmp/                       ingest in progress (same file system, so rename works)
 *   quarantine/                files that failed verification, each with a .reason
 *   SelfUpdate/                static files
 *
 * Publishing follows one order, so that a crash at any point leaves a store that
 * verifies clean and a re-run completes:
 *
 *   1. stage: copy + hash into tmp/<name>.part, holding an flock on it (gc skips locked
 *      files, so it never removes a live ingest's file)
 *   2. fsync every staged file
 *   3. caller verifies the digests against what it trusts (a signed record, a name)
 *   4. index txn: record each new file as PENDING (durable intent)
 *   5. rename into Content/, fsync the Content/XX directories
 *   6. index txn: mark PRESENT, store the update envelope, commit
 *
 * A crash before 4 leaves only tmp/ leftovers (gc removes them). Between 4 and 6 the
 * index says PENDING, so a file in Content/ is expected, not an orphan; the daemon
 * serves only PRESENT files. A crash inside 6 is rolled back by LMDB.
 */
#ifndef UC_STORE_H
#define UC_STORE_H

#include "hash.h"
#include "index.h"
#include "meta.h"
#include "uc.h"

#include <stdatomic.h>
#include <stdbool.h>

/* Files at least this large are written to tmp/ with O_DIRECT where the file system allows. */
#define UC_DIRECT_MIN (8 * 1024 * 1024)

struct uc_store {
    char *root;  /* owned */
    int root_fd; /* O_DIRECTORY fds of the store and its parts */
    int content_fd, tmp_fd, quarantine_fd;
    int daemon_fd; /* updcached.pid, flock held while a daemon serves the store; else -1 */
    struct uc_index *ix;
    uint64_t min_free_pct, min_free_bytes; /* free-space floor for ingest */
    uint64_t max_size;                     /* content bytes kept; 0 = no cap (evict.h) */
};

/*
 * Open the store at root. With create, the layout (and all 256 Content/XX folders) is
 * made on first use. readonly opens the index read-only and never creates.
 */
int uc_store_open(const char *root, bool create, bool readonly, struct uc_store **out,
                  struct uc_errbuf *eb);
void uc_store_close(struct uc_store *st);

/* A file copied into tmp/ and hashed, not yet published. */
struct uc_staged {
    int fd;                     /* open on the tmp file, flock held; -1 when done */
    char tmp_name[64];          /* name inside tmp/ */
    struct uc_digest dg;        /* digests of exactly the bytes written */
    char suffix[UC_SUFFIX_MAX]; /* content suffix to publish under */
    bool duplicate;             /* already PRESENT in the index: nothing to rename */
    const char *label;          /* names the source in errors (borrowed; may be NULL) */
    bool evictable;             /* from an upstream (sync, fill); else the origin copy */
    uint8_t *blocks;            /* block digests (hash.h), owned: publish puts them in the */
    size_t nblocks;             /* index; discard frees them. NULL when none are known */
};

/*
 * Copy src_fd (from its offset to EOF) into tmp/, hashing the same bytes in one pass.
 * label names the source in errors. progress, if set, advances per chunk. No fsync:
 * see uc_store_sync_staged(). On error the tmp file is removed and eb says why.
 */
int uc_store_stage(struct uc_store *st, int src_fd, const char *label, const char *suffix,
                   struct uc_staged *out, _Atomic uint64_t *progress, struct uc_errbuf *eb);
/* uc_store_stage() of the file at path (opened read-only, closed again); path names it. */
int uc_store_stage_path(struct uc_store *st, const char *path, const char *suffix,
                        struct uc_staged *out, _Atomic uint64_t *progress, struct uc_errbuf *eb);
/* fsync a staged file. */
int uc_store_sync_staged(struct uc_store *st, struct uc_staged *s, struct uc_errbuf *eb);
/* Remove a staged file that will not be published. */
void uc_store_discard(struct uc_store *st, struct uc_staged *s);
/* Move a staged file to quarantine/ with a reason file. */
int uc_store_quarantine_staged(struct uc_store *st, struct uc_staged *s, const char *reason);

/* What the final index transaction of a publish also records (may be NULL). */
struct uc_publish_update {
    const char *id;
    uint64_t revision;
    const char *envelope;
    size_t len;
};

/*
 * Steps 4-6 above for n synced, verified staged files, and the update if given. Files
 * already PRESENT with the same size and SHA-256 are not replaced (their staged copy is
 * discarded), nor is a second copy of one file in items. Nothing at all is published
 * (UC_ECONFLICT) when a file has the SHA-1 of a stored or listed file with other bytes,
 * nor (UC_ESTALE) when the update's revision is not newer than the stored one. Every
 * staged file is consumed (fd closed) whether or not this succeeds.
 */
int uc_store_publish(struct uc_store *st, struct uc_staged *items, size_t n,
                     const struct uc_publish_update *upd, uint64_t *out_seq, struct uc_errbuf *eb);
/*
 * The records of an update without its files (fill = on-demand, SPEC §13): files not
 * known yet are recorded absent (EVICTED, evictable) and lists[i], when set, becomes
 * files[i]'s block list (nlists[i] digests). Refuses (UC_ECONFLICT) a file known here
 * with other bytes, and a stale revision, naming them in eb.
 */
int uc_store_publish_records(struct uc_store *st, const struct uc_update *u, uint8_t *const *lists,
                             const size_t *nlists, const struct uc_publish_update *upd,
                             uint64_t *out_seq, struct uc_errbuf *eb);

/*
 * Make room before writing need bytes: evicts least-recently-used evictable files
 * (evict.h) to keep max_size and the free-space floor; returns 0, or -ENOSPC with eb
 * naming the store, the numbers and what to do.
 */
int uc_store_check_space(struct uc_store *st, uint64_t need, struct uc_errbuf *eb);

/*
 * Move the bytes of rec (if present) to quarantine/ with a reason and drop its index
 * record: for a file that no signed record vouches for and that stands in the way of
 * one that does (same SHA-1, other bytes).
 */
int uc_store_forget(struct uc_store *st, const struct uc_file_rec *rec, const char *reason,
                    struct uc_errbuf *eb);

/* Move a published file to quarantine/ with a reason and mark it PENDING. */
int uc_store_quarantine_published(struct uc_store *st, const struct uc_file_rec *rec,
                                  const char *reason, struct uc_errbuf *eb);

/*
 * Does the index, in a fresh read transaction, expect the file Content/xx/name? True
 * for a PRESENT or PENDING record under exactly that name (an EVICTED file's bytes left
 * by a crash between its index commit and its unlink are not expected: gc removes them). Callers
 * that found a candidate orphan by comparing an older snapshot ask again here, because an ingest
 * records a file as PENDING before it renames it into Content/. On an index error the
 * answer is true (keep the file).
 */
bool uc_store_entry_expected(struct uc_store *st, const char *xx, const char *name);

/*
 * The daemon's mark in its store, so that tools find it without a [server] pid_file:
 * store/updcached.pid holds the daemon's pid under an flock held for its whole life, so
 * a file left by one that died is known stale. -EBUSY (and *other) when another live
 * daemon holds it.
 */
int uc_store_mark_daemon(struct uc_store *st, long *other);
/* The pid of the live daemon that serves the store at root: > 0, or 0 when none runs. */
long uc_store_daemon_pid(const char *root);

/* "XX/<SHA1><suffix>" relative to Content/. out must hold 80 bytes. */
void uc_store_content_name(const uint8_t sha1[UC_SHA1_LEN], const char *suffix, char *out,
                           size_t len);

#endif
