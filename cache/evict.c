/*
 * Eviction, purge and the content counters (see evict.h).
 */
#include "evict.h"
#include "strparse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int add_signed(struct uc_index *ix, MDB_txn *txn, const char *key, int64_t delta)
{
    uint64_t v = 0;
    int rc = uc_index_get_u64(ix, txn, key, &v);
    if (rc && rc != UC_ENOTFOUND)
        return rc;
    /* A counter never goes below zero: a drift from an older build is cut, not wrapped;
     * gc counts afresh. */
    v = delta < 0 && (uint64_t)-delta > v ? 0 : v + (uint64_t)delta;
    return uc_index_put_u64(ix, txn, key, v);
}

int uc_evict_account(struct uc_store *st, MDB_txn *txn, const struct uc_file_rec *rec, int sign)
{
    int64_t d = sign * (int64_t)rec->size;
    int rc = add_signed(st->ix, txn, "content_bytes", d);
    if (!rc && rec->evictable)
        rc = add_signed(st->ix, txn, "evictable_bytes", d);
    return rc;
}

struct recount {
    uint64_t content, evictable;
};

static int recount_one(void *ctx, const struct uc_file_rec *r)
{
    struct recount *c = ctx;
    if (r->state == UC_FILE_PRESENT) {
        c->content += r->size;
        c->evictable += r->evictable ? r->size : 0;
    }
    return 0;
}

int uc_evict_recount(struct uc_store *st, MDB_txn *txn)
{
    struct recount c = {0};
    int rc = uc_index_each_file(st->ix, txn, recount_one, &c);
    if (!rc)
        rc = uc_index_put_u64(st->ix, txn, "content_bytes", c.content);
    if (!rc)
        rc = uc_index_put_u64(st->ix, txn, "evictable_bytes", c.evictable);
    return rc;
}

struct cand {
    uint8_t sha1[UC_SHA1_LEN];
    int64_t atime;
    uint64_t size;
};

struct cands {
    struct cand *v;
    size_t n, cap;
};

static int collect(void *ctx, const struct uc_file_rec *r)
{
    struct cands *c = ctx;
    if (r->state != UC_FILE_PRESENT || !r->evictable)
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        struct cand *nv = realloc(c->v, cap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        c->v = nv;
        c->cap = cap;
    }
    struct cand *x = &c->v[c->n++];
    memcpy(x->sha1, r->sha1, UC_SHA1_LEN);
    x->atime = r->atime;
    x->size = r->size;
    return 0;
}

static int by_atime(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->atime != y->atime)
        return x->atime < y->atime ? -1 : 1;
    return memcmp(x->sha1, y->sha1, UC_SHA1_LEN);
}

/* Free space and the floor of the store's file system, in bytes. */
static int space(struct uc_store *st, uint64_t *avail, uint64_t *floor)
{
    struct statvfs vfs;
    if (fstatvfs(st->root_fd, &vfs))
        return -errno;
    uint64_t total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
    *avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    *floor = st->min_free_pct ? total / 100 * st->min_free_pct : st->min_free_bytes;
    return 0;
}

/* How many bytes must go: for the cap, and for the floor. */
static uint64_t shortfall(struct uc_store *st, uint64_t content, uint64_t need, unsigned what,
                          uint64_t avail, uint64_t floor)
{
    uint64_t over = 0;
    if ((what & UC_ROOM_CAP) && st->max_size && content + need > st->max_size)
        over = content + need - st->max_size;
    if ((what & UC_ROOM_FLOOR) && avail < floor + need && floor + need - avail > over)
        over = floor + need - avail;
    return over;
}

/* Mark the chosen files EVICTED in one transaction, then unlink their bytes. */
static int evict(struct uc_store *st, struct cand *v, size_t n, uint64_t *freed)
{
    MDB_txn *txn;
    int rc = uc_index_begin(st->ix, true, &txn);
    size_t done = 0;
    uint64_t bytes = 0;
    struct uc_file_rec *gone = calloc(n ? n : 1, sizeof(*gone));
    if (!gone)
        rc = -ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        struct uc_file_rec r;
        rc = uc_index_get_file(st->ix, txn, v[i].sha1, &r);
        if (rc == UC_ENOTFOUND || (!rc && (r.state != UC_FILE_PRESENT || !r.evictable))) {
            rc = 0; /* changed since the walk: someone else decides now */
            continue;
        }
        r.state = UC_FILE_EVICTED;
        if (!rc)
            rc = uc_index_put_file(st->ix, txn, &r);
        if (!rc)
            rc = uc_evict_account(st, txn, &r, -1);
        gone[done++] = r;
        bytes += r.size;
    }
    if (!rc)
        rc = uc_index_add_u64(st->ix, txn, "stat_evictions", done);
    if (!rc)
        rc = uc_index_add_u64(st->ix, txn, "stat_evicted_bytes", bytes);
    if (!rc)
        rc = uc_index_commit(txn);
    else
        uc_index_abort(txn);
    for (size_t i = 0; !rc && i < done; i++) {
        char name[96];
        uc_store_content_name(gone[i].sha1, gone[i].suffix, name, sizeof(name));
        /* A file left behind by a crash here is EVICTED in the index: gc removes it. */
        unlinkat(st->content_fd, name, 0);
    }
    free(gone);
    *freed = rc ? 0 : bytes;
    return rc;
}

int uc_evict_make_room(struct uc_store *st, uint64_t need, unsigned what, struct uc_errbuf *eb)
{
    MDB_txn *txn;
    uint64_t content = 0, evictable = 0, avail, floor;
    int rc = space(st, &avail, &floor);
    if (rc)
        return uc_errf(eb, rc, "%s: statvfs: %s", st->root, uc_strerror(rc));
    if (!(rc = uc_index_begin(st->ix, false, &txn))) {
        uc_index_get_u64(st->ix, txn, "content_bytes", &content);
        uc_index_get_u64(st->ix, txn, "evictable_bytes", &evictable);
        uc_index_abort(txn);
    }
    uint64_t over = shortfall(st, content, need, what, avail, floor);
    if (!over)
        return 0;
    struct cands c = {0};
    /* What cannot fit even with every evictable file gone evicts nothing. */
    if (over > evictable)
        rc = -ENOSPC;
    else if (!(rc = uc_index_begin(st->ix, false, &txn))) {
        rc = uc_index_each_file(st->ix, txn, collect, &c);
        uc_index_abort(txn);
    }
    if (rc && rc != -ENOSPC) {
        free(c.v);
        return uc_errf(eb, rc, "%s/index: %s", st->root, uc_strerror(rc));
    }
    if (c.n)
        qsort(c.v, c.n, sizeof(*c.v), by_atime);
    size_t k = 0;
    for (uint64_t sum = 0; !rc && k < c.n && sum < over; k++)
        sum += c.v[k].size;
    uint64_t freed = 0;
    rc = k ? evict(st, c.v, k, &freed) : 0;
    free(c.v);
    if (rc)
        return uc_errf(eb, rc, "%s/index: evicting: %s%s", st->root, uc_strerror(rc),
                       uc_index_hint(rc));
    if (space(st, &avail, &floor) == 0 &&
        !shortfall(st, content > freed ? content - freed : 0, need, what, avail, floor))
        return 0;
    char n[32], cb[32], cap[32], a[32], f[32], fr[32];
    uint64_t left = content > freed ? content - freed : 0;
    const char *why = (what & UC_ROOM_CAP) && st->max_size && need > st->max_size
                          ? "more than max_size on its own"
                      : evictable < over ? "not even with every evictable file gone: the rest "
                                           "are origin files, which are never evicted"
                                         : "the evictable files could not be removed";
    return uc_errf(eb, -ENOSPC,
                   "%s: not enough free space: need %s, %s free, floor min_free = %s; content "
                   "%s of max_size %s after evicting %zu file(s) (%s): %s; free space on that "
                   "file system, raise [store] max_size or lower [store] min_free",
                   st->root, uc_fmt_bytes(need, n, sizeof(n)), uc_fmt_bytes(avail, a, sizeof(a)),
                   uc_fmt_bytes(floor, f, sizeof(f)), uc_fmt_bytes(left, cb, sizeof(cb)),
                   st->max_size ? uc_fmt_bytes(st->max_size, cap, sizeof(cap)) : "(none)", k,
                   uc_fmt_bytes(freed, fr, sizeof(fr)), why);
}

int uc_evict_purge(struct uc_store *st, const uint8_t sha1[UC_SHA1_LEN], bool force,
                   struct uc_file_rec *out, struct uc_errbuf *eb)
{
    char hex[41];
    uc_hex_encode(sha1, UC_SHA1_LEN, hex, true);
    MDB_txn *txn;
    int rc = uc_index_begin(st->ix, true, &txn);
    if (!rc)
        rc = uc_index_get_file(st->ix, txn, sha1, out);
    if (!rc && out->state != UC_FILE_PRESENT)
        rc = UC_ENOTFOUND;
    if (!rc && !out->evictable && !force)
        rc = UC_EEXIST;
    if (!rc) {
        out->state = UC_FILE_PENDING; /* the next sync or fill fetches it again */
        rc = uc_index_put_file(st->ix, txn, out);
    }
    if (!rc)
        rc = uc_evict_account(st, txn, out, -1);
    if (!rc)
        rc = uc_index_commit(txn);
    else
        uc_index_abort(txn);
    if (rc == UC_ENOTFOUND)
        return uc_errf(eb, rc, "%s: no bytes of this file are here", hex);
    if (rc == UC_EEXIST)
        return uc_errf(eb, rc,
                       "%s: the origin copy (published here by add or import, no upstream "
                       "has it): not purged; --force purges it anyway",
                       hex);
    if (rc)
        return uc_errf(eb, rc, "%s/index: %s", st->root, uc_strerror(rc));
    char name[96];
    uc_store_content_name(out->sha1, out->suffix, name, sizeof(name));
    if (unlinkat(st->content_fd, name, 0) && errno != ENOENT)
        return uc_errf(eb, -errno, "%s/Content/%s: %s", st->root, name, strerror(errno));
    return 0;
}
