/*
 * A store that bounds its disk (SPEC §12). Files that came from an upstream are
 * evictable; files published here (add, import) are the origin copy and are never
 * evicted. Before anything is written that would take the content above max_size, or
 * the file system's free space below min_free, the least recently used evictable files
 * go: their index record says EVICTED first (the daemon stops serving them), then their
 * bytes are unlinked (a send in flight finishes from its open file). Their signed
 * records stay. Files being written are PENDING, never PRESENT, so never chosen.
 *
 * The store keeps two counters in the index meta, moved in the same transaction as the
 * file records they count: content_bytes (PRESENT files) and evictable_bytes.
 */
#ifndef UC_EVICT_H
#define UC_EVICT_H

#include "store.h"

/*
 * Make room for need more bytes: evict as above until content_bytes + need fits
 * st->max_size (when set) and the free space after need stays above the floor.
 * Returns 0, or -ENOSPC with eb naming the numbers when only origin files are left.
 * floor_too: also keep the free-space floor (false where the bytes are on disk already,
 * as in tmp/, and only the content cap moves).
 */
int uc_evict_make_room(struct uc_store *st, uint64_t need, bool floor_too, struct uc_errbuf *eb);

/*
 * Remove the bytes of a PRESENT file now, marking it PENDING so that the next sync (or
 * fill) fetches it again. An origin file only with force: else UC_EEXIST.
 */
int uc_evict_purge(struct uc_store *st, const uint8_t sha1[UC_SHA1_LEN], bool force,
                   struct uc_file_rec *out, struct uc_errbuf *eb);

/* Move the counters for rec entering (sign 1) or leaving (sign -1) the PRESENT state. */
int uc_evict_account(struct uc_store *st, MDB_txn *txn, const struct uc_file_rec *rec, int sign);

/* Count content_bytes and evictable_bytes afresh from the file records (gc, migration). */
int uc_evict_recount(struct uc_store *st, MDB_txn *txn);

#endif
