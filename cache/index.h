/*
 * The LMDB index of a store (SPEC §4). Named databases:
 *
 *   meta     "schema" -> u32, "last_seq" -> u64, "sync_anchor" -> u64
 *   files    SHA-1 (20 bytes) -> file record (size, SHA-256, XXH3-128, suffix,
 *            ingest time, last access, state)
 *   updates  update id (36-byte UUID) -> seq u64 | revision u64 | envelope bytes
 *   changes  seq (u64 big-endian, so keys sort in order) -> update id
 *   reports  seq (u64 big-endian) -> a client report as received (JSON, see reports.h)
 *   blocks   SHA-1 (20 bytes) -> the file's block digests (SPEC §13): the raw SHA-256 of
 *            each UC_BLOCK_SIZE block in order; present only for records with
 *            blocks_sha256, and checked against it before it was put here
 *
 * Tools write it while the daemon reads it from another process: LMDB's MVCC gives
 * readers a consistent snapshot without locks. Integers in values are little-endian.
 * The schema version guards against an older build misreading a newer layout.
 */
#ifndef UC_INDEX_H
#define UC_INDEX_H

#include "hash.h"
#include "meta.h"
#include "uc.h"

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

/* 2: file records carry an evictable flag and may be EVICTED (SPEC §12); a schema-1
 * store is migrated by its first writable open (store.c). */
#define UC_INDEX_SCHEMA 2

/* Reader slots in the environment's lock file: [server] workers is capped (at
 * UC_WORKERS_MAX, config.h) so that the daemon (one slot a worker, a few for its other
 * threads) and the tools beside it fit. */
#define UC_INDEX_READERS 2048

enum uc_file_state {
    UC_FILE_PRESENT = 1,     /* whole, verified, under Content/: served */
    UC_FILE_PENDING = 2,     /* expected but not (yet) published: fetch or re-run ingest */
    UC_FILE_QUARANTINED = 3, /* failed verification; bytes moved to quarantine/ */
    UC_FILE_EVICTED = 4,     /* bytes removed to make room; the signed record stays */
};

struct uc_file_rec {
    uint8_t sha1[UC_SHA1_LEN];
    uint64_t size;
    uint8_t sha256[UC_SHA256_LEN];
    uint8_t xxh128[UC_XXH128_LEN];
    char suffix[UC_SUFFIX_MAX];
    int64_t ingest_time; /* unix seconds: Last-Modified of the content */
    int64_t atime;       /* unix seconds of last use, for LRU eviction */
    enum uc_file_state state;
    bool evictable; /* came from an upstream; false: the origin copy (add, import) */
};

/*
 * Are these the bytes rec describes? URLs and the index name a file by its SHA-1, but
 * SHA-1 collisions exist: two files are the same file only when size and SHA-256 match.
 */
bool uc_file_same(const struct uc_file_rec *rec, uint64_t size,
                  const uint8_t sha256[UC_SHA256_LEN]);

struct uc_update_rec {
    char id[UC_UUID_LEN + 1];
    uint64_t seq; /* position in the change log */
    uint64_t revision;
    const char *envelope; /* borrowed from the txn: valid until it ends */
    size_t envelope_len;
};

struct uc_index;

/*
 * Open (creating with the current schema when writable and empty) the environment in
 * dir. Read-only opens never create. Returns 0, UC_ESCHEMA (newer schema: eb says which),
 * UC_EINDEX or -errno.
 */
int uc_index_open(const char *dir, bool readonly, struct uc_index **out, struct uc_errbuf *eb);
void uc_index_close(struct uc_index *ix);

/*
 * Bound the map at bytes ([store] index_size; 0 keeps the default, which lets it grow
 * far). Call right after open, before any transaction of this process.
 */
int uc_index_set_size(struct uc_index *ix, uint64_t bytes);
uint64_t uc_index_map_size(struct uc_index *ix);
/* What to tell an operator about an index error, e.g. a full map ("" when nothing). */
const char *uc_index_hint(int rc);

/* The LMDB environment, for callers that keep their own reset/renewed read txn. */
MDB_env *uc_index_env(struct uc_index *ix);

/* Transactions: one writer at a time across processes; readers never block. */
int uc_index_begin(struct uc_index *ix, bool write, MDB_txn **out);
int uc_index_commit(MDB_txn *txn);
void uc_index_abort(MDB_txn *txn);

/* Files. get returns UC_ENOTFOUND when absent. */
int uc_index_get_file(struct uc_index *ix, MDB_txn *txn, const uint8_t sha1[UC_SHA1_LEN],
                      struct uc_file_rec *out);
int uc_index_put_file(struct uc_index *ix, MDB_txn *txn, const struct uc_file_rec *rec);
int uc_index_del_file(struct uc_index *ix, MDB_txn *txn, const uint8_t sha1[UC_SHA1_LEN]);
/*
 * Move a PRESENT file's atime forward to when (never back; other states are left alone)
 * through a cursor on the files database of a write txn (closed with mdb_cursor_close
 * before the txn ends). 0 when done or left alone, UC_ENOTFOUND without a record.
 */
int uc_index_files_cursor(struct uc_index *ix, MDB_txn *txn, MDB_cursor **out);
int uc_index_touch_file(MDB_cursor *cur, const uint8_t sha1[UC_SHA1_LEN], int64_t when);
/* A file's block digests: n of UC_SHA256_LEN bytes. get points into the map (valid for
 * txn). UC_ENOTFOUND when there are none (or, read-only, the store has no such database). */
int uc_index_put_blocks(struct uc_index *ix, MDB_txn *txn, const uint8_t sha1[UC_SHA1_LEN],
                        const uint8_t *list, size_t n);
int uc_index_get_blocks(struct uc_index *ix, MDB_txn *txn, const uint8_t sha1[UC_SHA1_LEN],
                        const uint8_t **list, size_t *n);
/* Call fn for each file in SHA-1 order; a non-zero return from fn stops and is returned. */
typedef int (*uc_index_file_cb)(void *ctx, const struct uc_file_rec *rec);
int uc_index_each_file(struct uc_index *ix, MDB_txn *txn, uc_index_file_cb fn, void *ctx);

/*
 * Store an envelope under its update id and append it to the change log. A revision
 * lower than or equal to the stored one is refused (UC_ESTALE; UC_EEXIST when the
 * stored envelope is byte-identical). out_seq receives the new change sequence.
 */
/*
 * May update id at revision be stored? 0 when it is new or newer; UC_EEXIST when the
 * same envelope is stored (envelope may be NULL: then any equal revision is UC_ESTALE);
 * UC_ESTALE when the stored revision (in *stored, if given) is at least as high.
 */
int uc_index_check_revision(struct uc_index *ix, MDB_txn *txn, const char *id, uint64_t revision,
                            const char *envelope, size_t len, uint64_t *stored);
int uc_index_put_update(struct uc_index *ix, MDB_txn *txn, const char *id, uint64_t revision,
                        const char *envelope, size_t len, uint64_t *out_seq);
int uc_index_get_update(struct uc_index *ix, MDB_txn *txn, const char *id,
                        struct uc_update_rec *out);
typedef int (*uc_index_update_cb)(void *ctx, const struct uc_update_rec *rec);
/* Updates in change order with seq > since. */
int uc_index_each_change(struct uc_index *ix, MDB_txn *txn, uint64_t since, uc_index_update_cb fn,
                         void *ctx);

/* meta key/value helpers for u64 values; get returns UC_ENOTFOUND when absent. */
int uc_index_get_u64(struct uc_index *ix, MDB_txn *txn, const char *key, uint64_t *out);
int uc_index_put_u64(struct uc_index *ix, MDB_txn *txn, const char *key, uint64_t v);

/* Add delta to a meta u64 counter (absent counts as 0). */
int uc_index_add_u64(struct uc_index *ix, MDB_txn *txn, const char *key, uint64_t delta);

/* Every counter the index keeps: records (any state), and the stat_* and sync_anchor
 * values of meta that add, import and sync advance. */
struct uc_store_stats {
    uint64_t files, updates, reports;
    uint64_t content_bytes, evictable_bytes, evictions, evicted_bytes;
    uint64_t ingest_files, ingest_bytes;
    uint64_t sync_runs, sync_files, sync_bytes, verify_failures, sync_anchor;
    uint64_t sync_last; /* unix time the last sync run ended; 0: never */
};
/* Read them all in txn (a counter never written reads 0). */
void uc_index_read_stats(struct uc_index *ix, MDB_txn *txn, struct uc_store_stats *out);

/* Client reports: appended with the next sequence number, listed in order after since. */
int uc_index_put_report(struct uc_index *ix, MDB_txn *txn, const char *json, size_t len,
                        uint64_t *out_seq);
typedef int (*uc_index_report_cb)(void *ctx, uint64_t seq, const char *json, size_t len);
int uc_index_each_report(struct uc_index *ix, MDB_txn *txn, uint64_t since, uc_index_report_cb fn,
                         void *ctx);

/*
 * Drop client reports from the oldest on: those received before the unix time before,
 * and more while the reports take more than max_bytes of the map, so that reports
 * never crowd out the records that matter. *removed counts them.
 */
int uc_index_prune_reports(struct uc_index *ix, MDB_txn *txn, int64_t before, uint64_t max_bytes,
                           size_t *removed);
/* The share of the map client reports may take. */
#define UC_INDEX_REPORTS_SHARE 4 /* one quarter */

/* The schema version stored in meta. */
int uc_index_get_schema(struct uc_index *ix, MDB_txn *txn, uint32_t *out);
int uc_index_put_schema(struct uc_index *ix, MDB_txn *txn, uint32_t v);

/* Map an LMDB return code onto the uc_err convention. */
int uc_index_rc(int mdb_rc);

#endif
