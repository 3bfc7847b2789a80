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

/* What uc_evict_make_room() keeps. */
#define UC_ROOM_CAP 1   /* content_bytes + need within st->max_size (when set) */
#define UC_ROOM_FLOOR 2 /* the free space after need above the min_free floor */

/*
 * Make room for need more bytes: evict as above until what `what` names holds. The cap
 * is for a publish (renames into Content/ add content, not disk); the floor for bytes
 * about to be written (tmp/). Returns 0, or -ENOSPC with eb naming the numbers when it
 * cannot hold even with every evictable file gone (then nothing is evicted).
 */
int uc_evict_make_room(struct uc_store *st, uint64_t need, unsigned what, struct uc_errbuf *eb);

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
