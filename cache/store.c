/*
 * The store: layout, staging (copy + one-pass hash into tmp/), and the crash-safe
 * publish order described in store.h.
 */
#include "store.h"
#include "dsse.h"
#include "evict.h"
#include "fsutil.h"
#include "strparse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static const char *const parts[] = {"Content", "index", "tmp", "quarantine", "SelfUpdate"};

/* The store's parts must be its own directories: a link there is not followed. */
static int open_dir(int at, const char *name)
{
    int fd =
        openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (at == AT_FDCWD ? 0 : O_NOFOLLOW));
    return fd < 0 ? -errno : fd;
}

static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    return mkdir(buf, 0755) && errno != EEXIST ? -errno : 0;
}

/* Make the layout; all 256 Content/XX folders up front so publish never creates one. */
static int create_layout(int root_fd)
{
    for (size_t i = 0; i < UC_ARRAY_LEN(parts); i++) {
        int rc = uc_mkdir_at(root_fd, parts[i], 0755);
        if (rc)
            return rc;
    }
    int cfd = open_dir(root_fd, "Content");
    if (cfd < 0)
        return cfd;
    int rc = 0;
    for (int i = 0; i < 256 && !rc; i++) {
        char xx[3];
        snprintf(xx, sizeof(xx), "%02X", i);
        rc = uc_mkdir_at(cfd, xx, 0755);
    }
    if (!rc)
        rc = uc_fsync_dirfd(cfd);
    close(cfd);
    return rc ? rc : uc_fsync_dirfd(root_fd);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path) ? -errno : 0;
}

/*
 * A new store is built whole in a sibling directory and renamed into place, so a crash
 * during creation never leaves a half-made store (a layout without its index) behind.
 */
static int create_fresh(const char *root, struct uc_errbuf *eb)
{
    char tmp[PATH_MAX], parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", root);
    char *pdir = dirname(parent);
    int rc = mkdir_p(pdir);
    if (rc)
        return uc_errf(eb, rc, "%s: cannot create: %s", pdir, uc_strerror(rc));
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.creating.%d", root, (int)getpid()) >= sizeof(tmp))
        return uc_errf(eb, -ENAMETOOLONG, "%s: path too long", root);
    if (mkdir(tmp, 0755))
        return uc_errf(eb, -errno, "%s: cannot create: %s", tmp, strerror(errno));
    int fd = open_dir(AT_FDCWD, tmp);
    rc = fd < 0 ? fd : create_layout(fd);
    if (fd >= 0)
        close(fd);
    char ixdir[PATH_MAX + 8];
    snprintf(ixdir, sizeof(ixdir), "%s/index", tmp);
    struct uc_index *ix = NULL;
    if (!rc)
        rc = uc_index_open(ixdir, false, &ix, eb);
    uc_index_close(ix);
    /* Someone else may have created the store meanwhile: theirs stands, ours goes. */
    if (!rc && rename(tmp, root) && errno != EEXIST && errno != ENOTEMPTY)
        rc = uc_errf(eb, -errno, "%s: cannot create store: %s", root, strerror(errno));
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (!rc)
        rc = uc_fsync_path(pdir);
    return rc;
}

static bool is_part(const char *name)
{
    for (size_t i = 0; i < UC_ARRAY_LEN(parts); i++)
        if (!strcmp(name, parts[i]))
            return true;
    return false;
}

/*
 * May an existing directory become a store in place? Yes when it is one (it has index/),
 * or holds nothing but parts of one (empty, as systemd's StateDirectory= and package
 * scripts make it, or a layout another process is making right now). Anything else is
 * refused, naming what is there.
 */
static int check_existing(const char *root, struct uc_errbuf *eb)
{
    DIR *d = opendir(root);
    if (!d)
        return uc_errf(eb, -errno, "%s: cannot open store: %s", root, strerror(errno));
    char found[256] = "";
    size_t nfound = 0;
    bool has_index = false;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        has_index |= !strcmp(e->d_name, "index");
        if (is_part(e->d_name) || nfound++ >= 3)
            continue;
        size_t at = strlen(found);
        snprintf(found + at, sizeof(found) - at, "%s'%.60s'", at ? ", " : "", e->d_name);
    }
    closedir(d);
    if (has_index || !nfound)
        return 0;
    return uc_errf(eb, -ENOTEMPTY,
                   "%s: not an updcache store and not empty (found %s%s); give [server] store "
                   "an empty or new directory",
                   root, found, nfound > 3 ? ", ..." : "");
}

/* Schema 1 -> 2: on a downstream (it has a sync anchor) the files its signed records
 * name came from the upstream and become evictable; everything else stays the origin
 * copy, the reading that never loses a file. */
static int mark_synced(void *ctx, const struct uc_update_rec *u)
{
    struct uc_store *st = ((void **)ctx)[0];
    MDB_txn *txn = ((void **)ctx)[1];
    struct uc_envelope env = {0};
    struct uc_update rec = {0};
    int rc = 0;
    if (!uc_dsse_parse(u->envelope, u->envelope_len, &env, NULL) &&
        !uc_update_decode((const char *)env.payload, env.payload_len, &rec, NULL))
        for (size_t i = 0; !rc && i < rec.nfiles; i++) {
            struct uc_file_rec f;
            if (uc_index_get_file(st->ix, txn, rec.files[i].sha1, &f) == 0 && !f.evictable &&
                uc_file_same(&f, rec.files[i].size, rec.files[i].sha256)) {
                f.evictable = true;
                rc = uc_index_put_file(st->ix, txn, &f);
            }
        }
    uc_update_free(&rec);
    uc_envelope_free(&env);
    return rc;
}

static int migrate(struct uc_store *st, struct uc_errbuf *eb)
{
    MDB_txn *txn;
    uint32_t v = UC_INDEX_SCHEMA;
    uint64_t anchor;
    int rc = uc_index_begin(st->ix, true, &txn);
    if (!rc && (rc = uc_index_get_schema(st->ix, txn, &v)) == 0 && v >= 2) {
        uc_index_abort(txn);
        return 0;
    }
    void *ctx[] = {st, txn};
    if (!rc && uc_index_get_u64(st->ix, txn, "sync_anchor", &anchor) == 0)
        rc = uc_index_each_change(st->ix, txn, 0, mark_synced, ctx);
    if (!rc)
        rc = uc_evict_recount(st, txn);
    if (!rc)
        rc = uc_index_put_schema(st->ix, txn, UC_INDEX_SCHEMA);
    if (!rc)
        rc = uc_index_commit(txn);
    else
        uc_index_abort(txn);
    return rc ? uc_errf(eb, rc, "%s/index: migrating schema %u to %d: %s", st->root, v,
                        UC_INDEX_SCHEMA, uc_strerror(rc))
              : 0;
}

int uc_store_open(const char *root, bool create, bool readonly, struct uc_store **out,
                  struct uc_errbuf *eb)
{
    int rc;
    struct stat sb;
    if (create && !readonly && stat(root, &sb) && errno == ENOENT && (rc = create_fresh(root, eb)))
        return rc;
    if (create && !readonly && (rc = check_existing(root, eb)))
        return rc;
    struct uc_store *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    st->root_fd = st->content_fd = st->tmp_fd = st->quarantine_fd = st->daemon_fd = -1;
    st->root = strdup(root);
    st->min_free_pct = 5;
    rc = st->root ? open_dir(AT_FDCWD, root) : -ENOMEM;
    if (rc < 0) {
        uc_errf(eb, rc, "%s: cannot open store: %s%s", root, uc_strerror(rc),
                rc == -ENOENT ? " (no store here yet: run updcache add or import)" : "");
        goto fail;
    }
    st->root_fd = rc;
    if (create && !readonly && (rc = create_layout(st->root_fd))) {
        uc_errf(eb, rc, "%s: cannot create store layout: %s", root, uc_strerror(rc));
        goto fail;
    }
    int *fds[] = {&st->content_fd, &st->tmp_fd, &st->quarantine_fd};
    const char *names[] = {"Content", "tmp", "quarantine"};
    for (size_t i = 0; i < 3; i++) {
        rc = open_dir(st->root_fd, names[i]);
        if (rc < 0) {
            uc_errf(eb, rc, "%s/%s: %s (is this an updcache store?)", root, names[i],
                    uc_strerror(rc));
            goto fail;
        }
        *fds[i] = rc;
    }
    char ixdir[PATH_MAX];
    snprintf(ixdir, sizeof(ixdir), "%s/index", root);
    rc = uc_index_open(ixdir, readonly, &st->ix, eb);
    if (!rc && !readonly)
        rc = migrate(st, eb);
    if (rc)
        goto fail;
    *out = st;
    return 0;
fail:
    uc_store_close(st);
    return rc;
}

void uc_store_close(struct uc_store *st)
{
    if (!st)
        return;
    uc_index_close(st->ix);
    int fds[] = {st->root_fd, st->content_fd, st->tmp_fd, st->quarantine_fd, st->daemon_fd};
    for (size_t i = 0; i < UC_ARRAY_LEN(fds); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(st->root);
    free(st);
}

void uc_store_content_name(const uint8_t sha1[UC_SHA1_LEN], const char *suffix, char *out,
                           size_t len)
{
    char hex[2 * UC_SHA1_LEN + 1];
    uc_hex_encode(sha1, UC_SHA1_LEN, hex, true);
    snprintf(out, len, "%s/%s%s", hex + 2 * UC_SHA1_LEN - 2, hex, suffix);
}

bool uc_store_entry_expected(struct uc_store *st, const char *xx, const char *name)
{
    uint8_t sha1[UC_SHA1_LEN];
    char suffix[UC_SUFFIX_MAX];
    if (!uc_content_name_parse(xx, name, sha1, suffix))
        return false;
    MDB_txn *txn;
    if (uc_index_begin(st->ix, false, &txn))
        return true;
    struct uc_file_rec rec;
    int rc = uc_index_get_file(st->ix, txn, sha1, &rec);
    uc_index_abort(txn);
    if (rc == UC_ENOTFOUND)
        return false;
    if (rc)
        return true;
    char want[96], rel[600];
    uc_store_content_name(rec.sha1, rec.suffix, want, sizeof(want));
    snprintf(rel, sizeof(rel), "%s/%s", xx, name);
    return (rec.state == UC_FILE_PRESENT || rec.state == UC_FILE_PENDING) && !strcmp(want, rel);
}

int uc_store_check_space(struct uc_store *st, uint64_t need, struct uc_errbuf *eb)
{
    return uc_evict_make_room(st, need, UC_ROOM_CAP | UC_ROOM_FLOOR, eb);
}

static int copy_hash(int src, int dst, bool direct, struct uc_staged *out,
                     _Atomic uint64_t *progress, struct uc_errbuf *eb)
{
    const char *label = out->label, *tmp_name = out->tmp_name;
    struct uc_hasher h;
    int rc = uc_hasher_init(&h, UC_HASH_BLOCKS);
    if (rc)
        return uc_errf(eb, rc, "%s: cannot start hashing: %s", label, uc_strerror(rc));
    uint8_t *buf = aligned_alloc(4096, UC_HASH_CHUNK);
    if (!buf) {
        uc_hasher_free(&h);
        return uc_errf(eb, -ENOMEM, "%s: out of memory", label);
    }
    posix_fadvise(src, 0, 0, POSIX_FADV_SEQUENTIAL);
    for (;;) {
        ssize_t n = read(src, buf, UC_HASH_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = uc_errf(eb, -errno, "%s: read: %s", label, strerror(errno));
            break;
        }
        if (n == 0) {
            rc = uc_hasher_final(&h, &out->dg);
            if (rc)
                uc_errf(eb, rc, "%s: hashing: %s", label, uc_strerror(rc));
            else
                out->blocks = uc_hasher_take_blocks(&h, &out->nblocks);
            break;
        }
        /* Hash exactly the bytes that are written: the digest describes the tmp file. */
        uc_hasher_update(&h, buf, (size_t)n);
        rc = uc_write_maybe_direct(dst, &direct, buf, (size_t)n);
        if (rc) {
            uc_errf(eb, rc, "%s: writing tmp/%s: %s%s", label, tmp_name, uc_strerror(rc),
                    rc == -ENOSPC ? "; free space on the store's file system and re-run" : "");
            break;
        }
        if (progress)
            atomic_fetch_add_explicit(progress, (uint64_t)n, memory_order_relaxed);
    }
    free(buf);
    uc_hasher_free(&h);
    return rc;
}

int uc_store_stage(struct uc_store *st, int src_fd, const char *label, const char *suffix,
                   struct uc_staged *out, _Atomic uint64_t *progress, struct uc_errbuf *eb)
{
    static _Atomic unsigned counter;
    memset(out, 0, sizeof(*out));
    out->fd = -1;
    snprintf(out->suffix, sizeof(out->suffix), "%s", suffix);
    snprintf(out->tmp_name, sizeof(out->tmp_name), "%d.%u.part", (int)getpid(),
             atomic_fetch_add(&counter, 1));
    struct stat sb;
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
    bool direct = fstat(src_fd, &sb) == 0 && sb.st_size >= UC_DIRECT_MIN;
    int fd = uc_open_beneath(st->tmp_fd, out->tmp_name, flags | (direct ? O_DIRECT : 0), 0600);
    if (fd == -EINVAL && direct) {
        direct = false;
        fd = uc_open_beneath(st->tmp_fd, out->tmp_name, flags, 0600);
    }
    if (fd < 0)
        return uc_errf(eb, fd, "%s/tmp/%s: %s", st->root, out->tmp_name, uc_strerror(fd));
    /* The lock tells gc this file belongs to a live process; it dies with the process. */
    flock(fd, LOCK_EX);
    out->label = label;
    int rc = copy_hash(src_fd, fd, direct, out, progress, eb);
    if (rc) {
        unlinkat(st->tmp_fd, out->tmp_name, 0);
        close(fd);
        return rc;
    }
    out->fd = fd;
    return 0;
}

int uc_store_stage_path(struct uc_store *st, const char *path, const char *suffix,
                        struct uc_staged *out, _Atomic uint64_t *progress, struct uc_errbuf *eb)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        out->fd = -1;
        return uc_errf(eb, -errno, "%s: %s", path, strerror(errno));
    }
    int rc = uc_store_stage(st, fd, path, suffix, out, progress, eb);
    close(fd);
    return rc;
}

int uc_store_sync_staged(struct uc_store *st, struct uc_staged *s, struct uc_errbuf *eb)
{
    if (fsync(s->fd) == 0)
        return 0;
    return uc_errf(eb, -errno, "%s/tmp/%s: fsync: %s", st->root, s->tmp_name, strerror(errno));
}

static void release(struct uc_staged *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

/* The end of a staged file's life (published, discarded or quarantined). */
static void release_all(struct uc_staged *s)
{
    release(s);
    free(s->blocks);
    s->blocks = NULL;
    s->nblocks = 0;
}

void uc_store_discard(struct uc_store *st, struct uc_staged *s)
{
    if (s->fd >= 0)
        unlinkat(st->tmp_fd, s->tmp_name, 0);
    release_all(s);
}

static int write_reason(struct uc_store *st, const char *qname, const char *reason)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/quarantine/%s.reason", st->root, qname);
    char text[2048];
    int n = snprintf(text, sizeof(text), "%s\n", reason);
    return uc_write_file_atomic(path, text, (size_t)n < sizeof(text) ? (size_t)n : 0, 0644);
}

static void quarantine_name(const uint8_t sha1[UC_SHA1_LEN], const char *suffix, char *out,
                            size_t len)
{
    char hex[2 * UC_SHA1_LEN + 1];
    uc_hex_encode(sha1, UC_SHA1_LEN, hex, true);
    snprintf(out, len, "%s%s.%lld.%d", hex, suffix, (long long)time(NULL), (int)getpid());
}

int uc_store_quarantine_staged(struct uc_store *st, struct uc_staged *s, const char *reason)
{
    char qname[128];
    quarantine_name(s->dg.sha1, s->suffix, qname, sizeof(qname));
    int rc = 0;
    if (renameat(st->tmp_fd, s->tmp_name, st->quarantine_fd, qname))
        rc = -errno;
    if (!rc)
        rc = write_reason(st, qname, reason);
    if (rc)
        unlinkat(st->tmp_fd, s->tmp_name, 0);
    release_all(s);
    return rc;
}

static const char *staged_label(const struct uc_staged *s, char *buf, size_t len)
{
    if (s->label)
        return s->label;
    snprintf(buf, len, "tmp/%s", s->tmp_name);
    return buf;
}

static int conflict(struct uc_store *st, const struct uc_staged *s, const char *other,
                    uint64_t osize, const uint8_t osha256[UC_SHA256_LEN], struct uc_errbuf *eb)
{
    char lb[96], h1[41], mine[65], theirs[65];
    uc_hex_encode(s->dg.sha1, UC_SHA1_LEN, h1, true);
    uc_hex_encode(s->dg.sha256, UC_SHA256_LEN, mine, false);
    uc_hex_encode(osha256, UC_SHA256_LEN, theirs, false);
    return uc_errf(eb, UC_ECONFLICT,
                   "%s: SHA-1 %s is already %s with other bytes (SHA-256 %s, %llu bytes); this "
                   "file has SHA-256 %s, %llu bytes: a SHA-1 collision, so nothing of this "
                   "publish is stored in %s (content URLs name a file by SHA-1: publish the "
                   "other file under another name, or remove the stored one first)",
                   staged_label(s, lb, sizeof(lb)), h1, other, theirs, (unsigned long long)osize,
                   mine, (unsigned long long)s->dg.size, st->root);
}

static int by_sha1(const void *a, const void *b, void *items)
{
    const struct uc_staged *it = items;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = memcmp(it[i].dg.sha1, it[j].dg.sha1, UC_SHA1_LEN);
    return c ? c : (i > j) - (i < j);
}

/*
 * A second copy of one file in items is marked duplicate (renamed once); a second file
 * with the SHA-1 of another is UC_ECONFLICT. Sorted, so a publish of many files stays
 * O(n log n).
 */
static int find_repeats(struct uc_store *st, struct uc_staged *items, size_t n,
                        struct uc_errbuf *eb)
{
    if (n < 2)
        return 0;
    size_t *ix = malloc(n * sizeof(*ix));
    if (!ix)
        return uc_errf(eb, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        ix[i] = i;
    qsort_r(ix, n, sizeof(*ix), by_sha1, items);
    int rc = 0;
    for (size_t k = 1, first = 0; !rc && k < n; k++) {
        struct uc_staged *a = &items[ix[first]], *b = &items[ix[k]];
        if (memcmp(a->dg.sha1, b->dg.sha1, UC_SHA1_LEN)) {
            first = k;
            continue;
        }
        char lb[96], what[160];
        snprintf(what, sizeof(what), "listed as %s", staged_label(a, lb, sizeof(lb)));
        if (a->dg.size == b->dg.size && !memcmp(a->dg.sha256, b->dg.sha256, UC_SHA256_LEN))
            b->duplicate = true;
        else
            rc = conflict(st, b, what, a->dg.size, a->dg.sha256, eb);
    }
    free(ix);
    return rc;
}

static int check_revision(struct uc_store *st, MDB_txn *txn, const struct uc_publish_update *upd,
                          struct uc_errbuf *eb)
{
    uint64_t stored = 0;
    int rc = uc_index_check_revision(st->ix, txn, upd->id, upd->revision, upd->envelope, upd->len,
                                     &stored);
    if (rc == UC_ESTALE)
        return uc_errf(eb, rc,
                       "update %s: revision %llu is stored already (this is revision %llu); "
                       "nothing published: raise --revision",
                       upd->id, (unsigned long long)stored, (unsigned long long)upd->revision);
    return rc == UC_EEXIST ? 0 : rc;
}

/*
 * Step 4, and the checks that make a publish all or nothing: they run in the same
 * transaction, before any file is renamed into Content/ (repeats were found before).
 */
static int mark_pending(struct uc_store *st, struct uc_staged *items, size_t n,
                        const struct uc_publish_update *upd, time_t now, struct uc_errbuf *eb)
{
    MDB_txn *txn = NULL;
    int rc = uc_index_begin(st->ix, true, &txn);
    if (!rc && upd && (rc = check_revision(st, txn, upd, eb)))
        goto fail;
    for (size_t i = 0; !rc && i < n; i++) {
        struct uc_staged *it = &items[i];
        if (it->duplicate)
            continue;
        struct uc_file_rec rec;
        rc = uc_index_get_file(st->ix, txn, it->dg.sha1, &rec);
        if (rc == 0 && rec.state != UC_FILE_QUARANTINED &&
            !uc_file_same(&rec, it->dg.size, it->dg.sha256)) {
            rc = conflict(st, it, rec.state == UC_FILE_PRESENT ? "stored" : "expected (pending)",
                          rec.size, rec.sha256, eb);
            goto fail;
        }
        if (rc == 0 && rec.state == UC_FILE_PRESENT) {
            it->duplicate = true; /* the same bytes, perhaps under another extension */
            if (rec.evictable && !it->evictable) { /* published here now: the origin copy */
                rc = uc_evict_account(st, txn, &rec, -1);
                rec.evictable = false;
                if (!rc)
                    rc = uc_index_put_file(st->ix, txn, &rec);
                if (!rc)
                    rc = uc_evict_account(st, txn, &rec, 1);
            }
            continue;
        }
        if (rc && rc != UC_ENOTFOUND)
            break;
        memset(&rec, 0, sizeof(rec));
        memcpy(rec.sha1, it->dg.sha1, UC_SHA1_LEN);
        memcpy(rec.sha256, it->dg.sha256, UC_SHA256_LEN);
        memcpy(rec.xxh128, it->dg.xxh128, UC_XXH128_LEN);
        snprintf(rec.suffix, sizeof(rec.suffix), "%s", it->suffix);
        rec.size = it->dg.size;
        rec.ingest_time = rec.atime = now;
        rec.state = UC_FILE_PENDING;
        rec.evictable = it->evictable;
        rc = uc_index_put_file(st->ix, txn, &rec);
    }
    if (!rc)
        return (rc = uc_index_commit(txn)) ? uc_errf(eb, rc, "%s/index: commit: %s%s", st->root,
                                                     uc_strerror(rc), uc_index_hint(rc))
                                           : 0;
    uc_errf(eb, rc, "%s/index: recording pending files: %s%s; nothing published", st->root,
            uc_strerror(rc), uc_index_hint(rc));
fail:
    uc_index_abort(txn);
    return rc;
}

static int move_into_content(struct uc_store *st, struct uc_staged *items, size_t n,
                             struct uc_errbuf *eb)
{
    uint8_t touched[256] = {0};
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (items[i].duplicate)
            continue;
        char name[96];
        uc_store_content_name(items[i].dg.sha1, items[i].suffix, name, sizeof(name));
        if (fchmod(items[i].fd, 0444) ||
            renameat(st->tmp_fd, items[i].tmp_name, st->content_fd, name)) {
            rc = uc_errf(eb, -errno, "%s/Content/%s: publishing: %s", st->root, name,
                         strerror(errno));
            break;
        }
        touched[items[i].dg.sha1[UC_SHA1_LEN - 1]] = 1;
        release(&items[i]);
    }
    /* Make the renames durable before the index says PRESENT. */
    for (int x = 0; x < 256; x++) {
        if (!touched[x])
            continue;
        char xx[3];
        snprintf(xx, sizeof(xx), "%02X", x);
        int dfd = open_dir(st->content_fd, xx);
        int frc = dfd < 0 ? dfd : uc_fsync_dirfd(dfd);
        if (dfd >= 0)
            close(dfd);
        if (frc && !rc)
            rc = uc_errf(eb, frc, "%s/Content/%s: fsync: %s", st->root, xx, uc_strerror(frc));
    }
    return rc;
}

static int mark_present(struct uc_store *st, struct uc_staged *items, size_t n, time_t now,
                        const struct uc_publish_update *upd, uint64_t *out_seq,
                        struct uc_errbuf *eb)
{
    MDB_txn *txn;
    int rc = uc_index_begin(st->ix, true, &txn);
    for (size_t i = 0; !rc && i < n; i++) {
        struct uc_file_rec rec;
        if (items[i].blocks) /* also for a file already present (stored before lists) */
            rc = uc_index_put_blocks(st->ix, txn, items[i].dg.sha1, items[i].blocks,
                                     items[i].nblocks);
        if (!rc)
            rc = uc_index_get_file(st->ix, txn, items[i].dg.sha1, &rec);
        if (rc || rec.state == UC_FILE_PRESENT)
            continue;
        rec.state = UC_FILE_PRESENT;
        rec.ingest_time = rec.atime = now;
        rc = uc_index_put_file(st->ix, txn, &rec);
        if (!rc)
            rc = uc_evict_account(st, txn, &rec, 1);
    }
    if (!rc && upd)
        rc = uc_index_put_update(st->ix, txn, upd->id, upd->revision, upd->envelope, upd->len,
                                 out_seq);
    if (rc == UC_EEXIST)
        rc = 0;
    if (rc) {
        uc_index_abort(txn);
        return uc_errf(eb, rc, "%s/index: %s%s; the files are pending: re-run to publish", st->root,
                       uc_strerror(rc),
                       rc == UC_ESTALE ? " (an update with this id and a revision at least as "
                                         "high is stored; raise --revision)"
                                       : uc_index_hint(rc));
    }
    rc = uc_index_commit(txn);
    return rc ? uc_errf(eb, rc, "%s/index: commit: %s%s", st->root, uc_strerror(rc),
                        uc_index_hint(rc))
              : 0;
}

/* Bytes that publishing items adds to the content: what is not PRESENT already. */
static uint64_t new_bytes(struct uc_store *st, const struct uc_staged *items, size_t n)
{
    MDB_txn *txn;
    uint64_t sum = 0;
    if (uc_index_begin(st->ix, false, &txn))
        return 0;
    for (size_t i = 0; i < n; i++) {
        struct uc_file_rec r;
        if (!items[i].duplicate &&
            (uc_index_get_file(st->ix, txn, items[i].dg.sha1, &r) || r.state != UC_FILE_PRESENT))
            sum += items[i].dg.size;
    }
    uc_index_abort(txn);
    return sum;
}

int uc_store_publish(struct uc_store *st, struct uc_staged *items, size_t n,
                     const struct uc_publish_update *upd, uint64_t *out_seq, struct uc_errbuf *eb)
{
    time_t now = time(NULL);
    /* The bytes are in tmp/ already (the floor was kept when they were written): only
     * the content cap moves with the renames. */
    int rc = find_repeats(st, items, n, eb);
    if (!rc && st->max_size)
        rc = uc_evict_make_room(st, new_bytes(st, items, n), UC_ROOM_CAP, eb);
    if (!rc)
        rc = mark_pending(st, items, n, upd, now, eb);
    if (!rc)
        rc = move_into_content(st, items, n, eb);
    if (!rc)
        rc = mark_present(st, items, n, now, upd, out_seq, eb);
    for (size_t i = 0; i < n; i++)
        uc_store_discard(st, &items[i]);
    return rc;
}

/*
 * fill = on-demand (SPEC §13): a signed record whose files are not fetched. Each file
 * not known yet is recorded EVICTED and evictable (absent, to be filled from the
 * upstream), with its block list; a known file keeps its state, and one known with other
 * bytes refuses the whole record, as a publish of the bytes would.
 */
int uc_store_publish_records(struct uc_store *st, const struct uc_update *u, uint8_t *const *lists,
                             const size_t *nlists, const struct uc_publish_update *upd,
                             uint64_t *out_seq, struct uc_errbuf *eb)
{
    MDB_txn *txn = NULL;
    int rc = uc_index_begin(st->ix, true, &txn);
    if (rc)
        return uc_errf(eb, rc, "%s/index: %s", st->root, uc_strerror(rc));
    if ((rc = check_revision(st, txn, upd, eb)))
        goto fail;
    for (size_t i = 0; !rc && i < u->nfiles; i++) {
        const struct uc_update_file *f = &u->files[i];
        struct uc_file_rec rec;
        rc = uc_index_get_file(st->ix, txn, f->sha1, &rec);
        if (rc == 0 && rec.state != UC_FILE_QUARANTINED &&
            !uc_file_same(&rec, f->size, f->sha256)) {
            struct uc_staged as = {.label = f->name};
            memcpy(as.dg.sha1, f->sha1, UC_SHA1_LEN);
            memcpy(as.dg.sha256, f->sha256, UC_SHA256_LEN);
            as.dg.size = f->size;
            rc = conflict(st, &as, rec.state == UC_FILE_PRESENT ? "stored" : "recorded", rec.size,
                          rec.sha256, eb);
            goto fail;
        }
        if (rc == UC_ENOTFOUND) {
            memset(&rec, 0, sizeof(rec));
            memcpy(rec.sha1, f->sha1, UC_SHA1_LEN);
            memcpy(rec.sha256, f->sha256, UC_SHA256_LEN);
            snprintf(rec.suffix, sizeof(rec.suffix), "%s", f->suffix);
            rec.size = f->size;
            rec.state = UC_FILE_EVICTED;
            rec.evictable = true;
            rc = uc_index_put_file(st->ix, txn, &rec);
        }
        if (!rc && lists && lists[i])
            rc = uc_index_put_blocks(st->ix, txn, f->sha1, lists[i], nlists[i]);
    }
    if (!rc)
        rc = uc_index_put_update(st->ix, txn, upd->id, upd->revision, upd->envelope, upd->len,
                                 out_seq);
    if (rc == UC_EEXIST)
        rc = 0;
    if (rc) {
        uc_errf(eb, rc, "%s/index: recording update %s: %s%s", st->root, upd->id, uc_strerror(rc),
                uc_index_hint(rc));
        goto fail;
    }
    rc = uc_index_commit(txn);
    return rc ? uc_errf(eb, rc, "%s/index: commit: %s%s", st->root, uc_strerror(rc),
                        uc_index_hint(rc))
              : 0;
fail:
    uc_index_abort(txn);
    return rc;
}

/* Move Content/<rec's name> to quarantine/ with a reason; a missing file is no error. */
static int quarantine_content(struct uc_store *st, const struct uc_file_rec *rec,
                              const char *reason, struct uc_errbuf *eb)
{
    char name[96], qname[128];
    uc_store_content_name(rec->sha1, rec->suffix, name, sizeof(name));
    quarantine_name(rec->sha1, rec->suffix, qname, sizeof(qname));
    int rc = 0;
    if (renameat(st->content_fd, name, st->quarantine_fd, qname) == 0)
        rc = write_reason(st, qname, reason);
    else if (errno != ENOENT)
        rc = -errno;
    if (!rc)
        rc = uc_fsync_dirfd(st->quarantine_fd);
    return rc ? uc_errf(eb, rc, "%s/Content/%s: quarantine: %s", st->root, name, uc_strerror(rc))
              : 0;
}

int uc_store_quarantine_published(struct uc_store *st, const struct uc_file_rec *rec,
                                  const char *reason, struct uc_errbuf *eb)
{
    int rc = quarantine_content(st, rec, reason, eb);
    if (rc)
        return rc;
    MDB_txn *txn;
    struct uc_file_rec r = *rec, was;
    r.state = UC_FILE_PENDING;
    rc = uc_index_begin(st->ix, true, &txn);
    if (!rc && uc_index_get_file(st->ix, txn, rec->sha1, &was) == 0 && was.state == UC_FILE_PRESENT)
        rc = uc_evict_account(st, txn, &was, -1);
    if (!rc)
        rc = uc_index_put_file(st->ix, txn, &r);
    if (!rc)
        return uc_index_commit(txn);
    uc_index_abort(txn);
    char name[96];
    uc_store_content_name(rec->sha1, rec->suffix, name, sizeof(name));
    return uc_errf(eb, rc, "%s/index: marking %s pending: %s", st->root, name, uc_strerror(rc));
}

int uc_store_forget(struct uc_store *st, const struct uc_file_rec *rec, const char *reason,
                    struct uc_errbuf *eb)
{
    /* Index first: the daemon stops serving the bytes before they move. */
    MDB_txn *txn;
    struct uc_file_rec was;
    int rc = uc_index_begin(st->ix, true, &txn);
    if (!rc && uc_index_get_file(st->ix, txn, rec->sha1, &was) == 0 && was.state == UC_FILE_PRESENT)
        rc = uc_evict_account(st, txn, &was, -1);
    if (!rc)
        rc = uc_index_del_file(st->ix, txn, rec->sha1);
    if (!rc)
        rc = uc_index_commit(txn);
    else
        uc_index_abort(txn);
    if (rc)
        return uc_errf(eb, rc, "%s/index: dropping a file record: %s", st->root, uc_strerror(rc));
    return quarantine_content(st, rec, reason, eb);
}

#define DAEMON_FILE "updcached.pid"

static long read_pid(int fd)
{
    char text[32] = "";
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
    uint64_t pid = 0;
    text[n > 0 ? n : 0] = 0;
    text[strcspn(text, "\n")] = 0;
    return uc_parse_u64(text, &pid) || pid < 2 || pid > INT32_MAX ? 0 : (long)pid;
}

int uc_store_mark_daemon(struct uc_store *st, long *other)
{
    int fd = openat(st->root_fd, DAEMON_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        int rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        *other = read_pid(fd);
        close(fd);
        return rc;
    }
    char text[32];
    int n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) || pwrite(fd, text, (size_t)n, 0) != n) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    st->daemon_fd = fd;
    return 0;
}

long uc_store_daemon_pid(const char *root)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/" DAEMON_FILE, root);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    long pid = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK) /* held: a live daemon */
        pid = read_pid(fd);
    close(fd);
    return pid;
}
