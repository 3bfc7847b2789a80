/*
 * LMDB-backed index. Records are packed into fixed little-endian layouts so the file
 * is independent of struct padding; a leading layout byte lets a later schema extend
 * the record without a dump and reload.
 */
#include "index.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Address space, not disk: the file grows only as pages are used, so without [store]
 * index_size the map can grow this far. Every opener asks for the same size. */
#define UC_INDEX_MAPSIZE ((size_t)64 << 30)
#define FILE_REC_LEN 100

struct uc_index {
    MDB_env *env;
    MDB_dbi meta, files, updates, changes;
    MDB_dbi reports; /* 0 when an older store has none and the open was read-only */
    MDB_dbi blocks;  /* the same */
};

int uc_index_rc(int mdb_rc)
{
    if (mdb_rc == 0)
        return 0;
    if (mdb_rc == MDB_NOTFOUND)
        return UC_ENOTFOUND;
    if (mdb_rc > 0)
        return -mdb_rc;
    /* LMDB's own codes (MDB_MAP_FULL, MDB_READERS_FULL, ...) lie between -30799 and
     * -30780, clear of -errno and of UC_E*: kept, so uc_strerror() can name them. */
    return mdb_rc;
}

int uc_index_get_schema(struct uc_index *ix, MDB_txn *txn, uint32_t *out)
{
    MDB_val k = {6, "schema"}, v;
    int rc = mdb_get(txn, ix->meta, &k, &v);
    if (rc)
        return uc_index_rc(rc);
    if (v.mv_size != sizeof(*out))
        return UC_ESCHEMA;
    memcpy(out, v.mv_data, sizeof(*out));
    *out = le32toh(*out);
    return 0;
}

int uc_index_put_schema(struct uc_index *ix, MDB_txn *txn, uint32_t s)
{
    s = htole32(s);
    MDB_val k = {6, "schema"}, v = {sizeof(s), &s};
    return uc_index_rc(mdb_put(txn, ix->meta, &k, &v, 0));
}

static int check_schema(struct uc_index *ix, MDB_txn *txn, const char *dir, bool readonly,
                        struct uc_errbuf *eb)
{
    MDB_val k = {6, "schema"}, v;
    int rc = mdb_get(txn, ix->meta, &k, &v);
    if (rc == MDB_NOTFOUND && !readonly) {
        uint32_t s = htole32(UC_INDEX_SCHEMA);
        v.mv_size = sizeof(s);
        v.mv_data = &s;
        rc = mdb_put(txn, ix->meta, &k, &v, 0);
        return rc ? uc_errf(eb, uc_index_rc(rc), "%s: cannot write schema: %s", dir,
                            mdb_strerror(rc))
                  : 0;
    }
    if (rc)
        return uc_errf(eb, uc_index_rc(rc), "%s: index has no schema version (%s)", dir,
                       mdb_strerror(rc));
    uint32_t s;
    if (v.mv_size != sizeof(s))
        return uc_errf(eb, UC_ESCHEMA, "%s: schema version record is %zu bytes, expected 4", dir,
                       v.mv_size);
    memcpy(&s, v.mv_data, sizeof(s));
    s = le32toh(s);
    if (s > UC_INDEX_SCHEMA)
        return uc_errf(eb, UC_ESCHEMA,
                       "%s: index was written by schema version %u, this updcache knows "
                       "version %d at most; run a newer updcache on this store",
                       dir, s, UC_INDEX_SCHEMA);
    return 0;
}

static int open_dbs(struct uc_index *ix, const char *dir, bool readonly, struct uc_errbuf *eb)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(ix->env, NULL, readonly ? MDB_RDONLY : 0, &txn);
    if (rc)
        return uc_errf(eb, uc_index_rc(rc), "%s: %s", dir, mdb_strerror(rc));
    unsigned flags = readonly ? 0 : MDB_CREATE;
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {{"meta", &ix->meta},
               {"files", &ix->files},
               {"updates", &ix->updates},
               {"changes", &ix->changes}};
    for (size_t i = 0; i < UC_ARRAY_LEN(dbs); i++) {
        rc = mdb_dbi_open(txn, dbs[i].name, flags, dbs[i].dbi);
        if (rc) {
            mdb_txn_abort(txn);
            return uc_errf(eb, uc_index_rc(rc), "%s: cannot open database '%s': %s%s", dir,
                           dbs[i].name, mdb_strerror(rc),
                           rc == MDB_NOTFOUND ? " (store not initialized: add or import first)"
                                              : "");
        }
    }
    /* Added after schema 1 without changing it: older builds never look at them, and a
     * read-only open of a store that has none yet sees no reports and no block lists. */
    struct {
        const char *name;
        MDB_dbi *dbi;
    } later[] = {{"reports", &ix->reports}, {"blocks", &ix->blocks}};
    for (size_t i = 0; i < UC_ARRAY_LEN(later); i++) {
        rc = mdb_dbi_open(txn, later[i].name, flags, later[i].dbi);
        if (rc == MDB_NOTFOUND && readonly) {
            *later[i].dbi = 0;
        } else if (rc) {
            mdb_txn_abort(txn);
            return uc_errf(eb, uc_index_rc(rc), "%s: cannot open database '%s': %s", dir,
                           later[i].name, mdb_strerror(rc));
        }
    }
    rc = check_schema(ix, txn, dir, readonly, eb);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = mdb_txn_commit(txn);
    return rc ? uc_errf(eb, uc_index_rc(rc), "%s: %s", dir, mdb_strerror(rc)) : 0;
}

int uc_index_open(const char *dir, bool readonly, struct uc_index **out, struct uc_errbuf *eb)
{
    struct uc_index *ix = calloc(1, sizeof(*ix));
    if (!ix)
        return -ENOMEM;
    int rc = mdb_env_create(&ix->env);
    if (!rc)
        rc = mdb_env_set_maxdbs(ix->env, 8);
    if (!rc)
        rc = mdb_env_set_mapsize(ix->env, UC_INDEX_MAPSIZE);
    /* The first process to open the environment sizes its reader table for all: every
     * opener asks for the same room, enough for the most workers the config allows plus
     * the daemon's other threads and the tools beside it (LMDB's default is 126). */
    if (!rc)
        rc = mdb_env_set_maxreaders(ix->env, UC_INDEX_READERS);
    /* NOTLS: a read txn belongs to its handle, not its thread, so workers can reuse one. */
    if (!rc)
        rc = mdb_env_open(ix->env, dir, MDB_NOTLS | (readonly ? MDB_RDONLY : 0), 0644);
    if (rc) {
        uc_errf(eb, uc_index_rc(rc), "%s: cannot open index: %s", dir, mdb_strerror(rc));
        mdb_env_close(ix->env);
        free(ix);
        return uc_index_rc(rc);
    }
    /* Clear reader slots left by processes that died (a SIGKILLed tool or daemon). */
    int dead = 0;
    mdb_reader_check(ix->env, &dead);
    rc = open_dbs(ix, dir, readonly, eb);
    if (rc) {
        uc_index_close(ix);
        return rc;
    }
    *out = ix;
    return 0;
}

void uc_index_close(struct uc_index *ix)
{
    if (!ix)
        return;
    mdb_env_close(ix->env);
    free(ix);
}

int uc_index_set_size(struct uc_index *ix, uint64_t bytes)
{
    return bytes ? uc_index_rc(mdb_env_set_mapsize(ix->env, (size_t)bytes)) : 0;
}

uint64_t uc_index_map_size(struct uc_index *ix)
{
    MDB_envinfo info;
    return mdb_env_info(ix->env, &info) == 0 ? (uint64_t)info.me_mapsize : 0;
}

const char *uc_index_hint(int rc)
{
    return rc == MDB_MAP_FULL ? " (the index is full: raise [store] index_size, or let "
                                "updcache gc prune old client reports)"
                              : "";
}

MDB_env *uc_index_env(struct uc_index *ix)
{
    return ix->env;
}

int uc_index_begin(struct uc_index *ix, bool write, MDB_txn **out)
{
    return uc_index_rc(mdb_txn_begin(ix->env, NULL, write ? 0 : MDB_RDONLY, out));
}

int uc_index_commit(MDB_txn *txn)
{
    return uc_index_rc(mdb_txn_commit(txn));
}

void uc_index_abort(MDB_txn *txn)
{
    if (txn)
        mdb_txn_abort(txn);
}

/* A cursor loop ends with an LMDB code or with whatever the callback returned. */
static int cursor_rc(int rc)
{
    bool from_mdb = rc > 0 || (rc >= MDB_KEYEXIST && rc <= MDB_LAST_ERRCODE);
    return from_mdb ? uc_index_rc(rc) : rc;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, 8);
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return le64toh(v);
}

/*
 * File record layout v1 (FILE_REC_LEN bytes):
 *   0 layout(1) | 1 state | 2 flags (bit 0: evictable; schema 2) | 3 reserved | 4 size
 *   | 12 ingest_time | 20 atime
 *   | 28 sha256[32] | 60 xxh128[16] | 76 suffix[16] | 92..99 reserved
 */
static void pack_file(const struct uc_file_rec *r, uint8_t *p)
{
    memset(p, 0, FILE_REC_LEN);
    p[0] = 1;
    p[1] = (uint8_t)r->state;
    p[2] = r->evictable ? 1 : 0;
    put_le64(p + 4, r->size);
    put_le64(p + 12, (uint64_t)r->ingest_time);
    put_le64(p + 20, (uint64_t)r->atime);
    memcpy(p + 28, r->sha256, UC_SHA256_LEN);
    memcpy(p + 60, r->xxh128, UC_XXH128_LEN);
    memcpy(p + 76, r->suffix, strnlen(r->suffix, UC_SUFFIX_MAX - 1));
}

static int unpack_file(const MDB_val *k, const MDB_val *v, struct uc_file_rec *r)
{
    const uint8_t *p = v->mv_data;
    if (k->mv_size != UC_SHA1_LEN || v->mv_size < FILE_REC_LEN || p[0] != 1)
        return UC_EINDEX;
    memset(r, 0, sizeof(*r));
    memcpy(r->sha1, k->mv_data, UC_SHA1_LEN);
    r->state = (enum uc_file_state)p[1];
    r->evictable = p[2] & 1; /* 0 in schema-1 records: origin, the safe reading */
    r->size = get_le64(p + 4);
    r->ingest_time = (int64_t)get_le64(p + 12);
    r->atime = (int64_t)get_le64(p + 20);
    memcpy(r->sha256, p + 28, UC_SHA256_LEN);
    memcpy(r->xxh128, p + 60, UC_XXH128_LEN);
    memcpy(r->suffix, p + 76, UC_SUFFIX_MAX - 1);
    return 0;
}

bool uc_file_same(const struct uc_file_rec *rec, uint64_t size, const uint8_t sha256[UC_SHA256_LEN])
{
    return rec->size == size && !memcmp(rec->sha256, sha256, UC_SHA256_LEN);
}

int uc_index_get_file(struct uc_index *ix, MDB_txn *txn, const uint8_t sha1[UC_SHA1_LEN],
                      struct uc_file_rec *out)
{
    MDB_val k = {UC_SHA1_LEN, (void *)sha1}, v;
    int rc = mdb_get(txn, ix->files, &k, &v);
    if (rc)
        return uc_index_rc(rc);
    return unpack_file(&k, &v, out);
}

int uc_index_put_file(struct uc_index *ix, MDB_txn *txn, const struct uc_file_rec *rec)
{
    uint8_t buf[FILE_REC_LEN];
    pack_file(rec, buf);
    MDB_val k = {UC_SHA1_LEN, (void *)rec->sha1}, v = {sizeof(buf), buf};
    return uc_index_rc(mdb_put(txn, ix->files, &k, &v, 0));
}

int uc_index_files_cursor(struct uc_index *ix, MDB_txn *txn, MDB_cursor **out)
{
    return uc_index_rc(mdb_cursor_open(txn, ix->files, out));
}

/* One descent per file (a get then a put was two) and no unpack: the access writer
 * does this for every file served in a second (bench/run access, distinct4k). */
int uc_index_touch_file(MDB_cursor *cur, const uint8_t sha1[UC_SHA1_LEN], int64_t when)
{
    MDB_val k = {UC_SHA1_LEN, (void *)sha1}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
    if (rc)
        return uc_index_rc(rc);
    const uint8_t *p = v.mv_data;
    if (v.mv_size < FILE_REC_LEN || p[0] != 1)
        return UC_EINDEX;
    if (p[1] != UC_FILE_PRESENT || (int64_t)get_le64(p + 20) >= when)
        return 0;
    uint8_t buf[FILE_REC_LEN];
    memcpy(buf, p, FILE_REC_LEN);
    put_le64(buf + 20, (uint64_t)when);
    MDB_val nv = {FILE_REC_LEN, buf};
    return uc_index_rc(mdb_cursor_put(cur, &k, &nv, MDB_CURRENT));
}

int uc_index_put_blocks(struct uc_index *ix, MDB_txn *txn, const uint8_t sha1[UC_SHA1_LEN],
                        const uint8_t *list, size_t n)
{
    if (!ix->blocks)
        return UC_ENOTFOUND;
    MDB_val k = {UC_SHA1_LEN, (void *)sha1}, v = {n * UC_SHA256_LEN, (void *)list};
    return uc_index_rc(mdb_put(txn, ix->blocks, &k, &v, 0));
}

int uc_index_get_blocks(struct uc_index *ix, MDB_txn *txn, const uint8_t sha1[UC_SHA1_LEN],
                        const uint8_t **list, size_t *n)
{
    if (!ix->blocks)
        return UC_ENOTFOUND;
    MDB_val k = {UC_SHA1_LEN, (void *)sha1}, v;
    int rc = mdb_get(txn, ix->blocks, &k, &v);
    if (rc)
        return uc_index_rc(rc);
    if (v.mv_size % UC_SHA256_LEN)
        return UC_EPARSE;
    *list = v.mv_data;
    *n = v.mv_size / UC_SHA256_LEN;
    return 0;
}

int uc_index_del_file(struct uc_index *ix, MDB_txn *txn, const uint8_t sha1[UC_SHA1_LEN])
{
    MDB_val k = {UC_SHA1_LEN, (void *)sha1};
    return uc_index_rc(mdb_del(txn, ix->files, &k, NULL));
}

int uc_index_each_file(struct uc_index *ix, MDB_txn *txn, uc_index_file_cb fn, void *ctx)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, ix->files, &cur);
    if (rc)
        return uc_index_rc(rc);
    MDB_val k, v;
    int op = MDB_FIRST;
    while ((rc = mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op)) == 0) {
        op = MDB_NEXT;
        struct uc_file_rec r;
        rc = unpack_file(&k, &v, &r);
        if (!rc)
            rc = fn(ctx, &r);
        if (rc)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : cursor_rc(rc);
}

#define UPDATE_HDR 16

static int unpack_update(const MDB_val *k, const MDB_val *v, struct uc_update_rec *out)
{
    if (k->mv_size != UC_UUID_LEN || v->mv_size < UPDATE_HDR)
        return UC_EINDEX;
    memcpy(out->id, k->mv_data, UC_UUID_LEN);
    out->id[UC_UUID_LEN] = 0;
    out->seq = get_le64(v->mv_data);
    out->revision = get_le64((const uint8_t *)v->mv_data + 8);
    out->envelope = (const char *)v->mv_data + UPDATE_HDR;
    out->envelope_len = v->mv_size - UPDATE_HDR;
    return 0;
}

int uc_index_get_update(struct uc_index *ix, MDB_txn *txn, const char *id,
                        struct uc_update_rec *out)
{
    if (strlen(id) != UC_UUID_LEN)
        return UC_ENOTFOUND;
    MDB_val k = {UC_UUID_LEN, (void *)id}, v;
    int rc = mdb_get(txn, ix->updates, &k, &v);
    if (rc)
        return uc_index_rc(rc);
    return unpack_update(&k, &v, out);
}

int uc_index_check_revision(struct uc_index *ix, MDB_txn *txn, const char *id, uint64_t revision,
                            const char *envelope, size_t len, uint64_t *stored)
{
    struct uc_update_rec old;
    int rc = uc_index_get_update(ix, txn, id, &old);
    if (rc)
        return rc == UC_ENOTFOUND ? 0 : rc;
    if (stored)
        *stored = old.revision;
    if (revision > old.revision)
        return 0;
    bool same = revision == old.revision && envelope && old.envelope_len == len &&
                !memcmp(old.envelope, envelope, len);
    return same ? UC_EEXIST : UC_ESTALE;
}

int uc_index_put_update(struct uc_index *ix, MDB_txn *txn, const char *id, uint64_t revision,
                        const char *envelope, size_t len, uint64_t *out_seq)
{
    struct uc_update_rec old;
    int rc = uc_index_check_revision(ix, txn, id, revision, envelope, len, NULL);
    if (rc)
        return rc;
    rc = uc_index_get_update(ix, txn, id, &old);
    if (rc == 0) {
        /* The superseded revision's change-log entry goes; the new one is appended. */
        uint64_t be = htobe64(old.seq);
        MDB_val ck = {8, &be};
        mdb_del(txn, ix->changes, &ck, NULL);
    } else if (rc != UC_ENOTFOUND) {
        return rc;
    }
    uint64_t seq = 0;
    rc = uc_index_get_u64(ix, txn, "last_seq", &seq);
    if (rc && rc != UC_ENOTFOUND)
        return rc;
    seq++;
    MDB_val k = {UC_UUID_LEN, (void *)id}, v;
    v.mv_size = UPDATE_HDR + len;
    rc = mdb_put(txn, ix->updates, &k, &v, MDB_RESERVE);
    if (rc)
        return uc_index_rc(rc);
    put_le64(v.mv_data, seq);
    put_le64((uint8_t *)v.mv_data + 8, revision);
    memcpy((uint8_t *)v.mv_data + UPDATE_HDR, envelope, len);
    uint64_t be = htobe64(seq);
    MDB_val ck = {8, &be}, cv = {UC_UUID_LEN, (void *)id};
    rc = mdb_put(txn, ix->changes, &ck, &cv, MDB_APPEND);
    if (rc)
        return uc_index_rc(rc);
    rc = uc_index_put_u64(ix, txn, "last_seq", seq);
    if (!rc && out_seq)
        *out_seq = seq;
    return rc;
}

/* Walk a database keyed by big-endian u64 sequence numbers from since + 1 on; a non-zero
 * return of step stops the walk and is returned. */
typedef int (*seq_step)(void *ctx, uint64_t seq, const MDB_val *v);

static int walk_from(MDB_txn *txn, MDB_dbi dbi, uint64_t since, seq_step step, void *ctx)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return uc_index_rc(rc);
    uint64_t be = htobe64(since + 1);
    MDB_val k = {8, &be}, v;
    int op = MDB_SET_RANGE;
    while ((rc = mdb_cursor_get(cur, &k, &v, (MDB_cursor_op)op)) == 0) {
        op = MDB_NEXT;
        if (k.mv_size != 8) {
            rc = UC_EINDEX;
            break;
        }
        memcpy(&be, k.mv_data, 8);
        if ((rc = step(ctx, be64toh(be), &v)))
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : cursor_rc(rc);
}

struct change_walk {
    struct uc_index *ix;
    MDB_txn *txn;
    uc_index_update_cb fn;
    void *ctx;
};

static int change_step(void *ctx, uint64_t seq, const MDB_val *v)
{
    (void)seq;
    struct change_walk *w = ctx;
    char id[UC_UUID_LEN + 1];
    if (v->mv_size != UC_UUID_LEN)
        return UC_EINDEX;
    memcpy(id, v->mv_data, UC_UUID_LEN);
    id[UC_UUID_LEN] = 0;
    struct uc_update_rec r;
    int rc = uc_index_get_update(w->ix, w->txn, id, &r);
    return rc ? rc : w->fn(w->ctx, &r);
}

int uc_index_each_change(struct uc_index *ix, MDB_txn *txn, uint64_t since, uc_index_update_cb fn,
                         void *ctx)
{
    struct change_walk w = {ix, txn, fn, ctx};
    return walk_from(txn, ix->changes, since, change_step, &w);
}

int uc_index_get_u64(struct uc_index *ix, MDB_txn *txn, const char *key, uint64_t *out)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    int rc = mdb_get(txn, ix->meta, &k, &v);
    if (rc)
        return uc_index_rc(rc);
    if (v.mv_size != 8)
        return UC_EINDEX;
    *out = get_le64(v.mv_data);
    return 0;
}

int uc_index_put_u64(struct uc_index *ix, MDB_txn *txn, const char *key, uint64_t val)
{
    uint8_t buf[8];
    put_le64(buf, val);
    MDB_val k = {strlen(key), (void *)key}, v = {8, buf};
    return uc_index_rc(mdb_put(txn, ix->meta, &k, &v, 0));
}

int uc_index_add_u64(struct uc_index *ix, MDB_txn *txn, const char *key, uint64_t delta)
{
    uint64_t v = 0;
    int rc = uc_index_get_u64(ix, txn, key, &v);
    if (rc && rc != UC_ENOTFOUND)
        return rc;
    return uc_index_put_u64(ix, txn, key, v + delta);
}

int uc_index_put_report(struct uc_index *ix, MDB_txn *txn, const char *json, size_t len,
                        uint64_t *out_seq)
{
    if (!ix->reports)
        return UC_ENOTFOUND;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, ix->reports, &cur);
    if (rc)
        return uc_index_rc(rc);
    MDB_val k, v;
    uint64_t seq = 1;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8) {
        uint64_t be;
        memcpy(&be, k.mv_data, 8);
        seq = be64toh(be) + 1;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return uc_index_rc(rc);
    uint64_t be = htobe64(seq);
    k = (MDB_val){8, &be};
    v = (MDB_val){len, (void *)json};
    rc = mdb_put(txn, ix->reports, &k, &v, MDB_APPEND);
    if (rc)
        return uc_index_rc(rc);
    if (out_seq)
        *out_seq = seq;
    return 0;
}

struct report_walk {
    uc_index_report_cb fn;
    void *ctx;
};

static int report_step(void *ctx, uint64_t seq, const MDB_val *v)
{
    struct report_walk *w = ctx;
    return w->fn(w->ctx, seq, v->mv_data, v->mv_size);
}

int uc_index_each_report(struct uc_index *ix, MDB_txn *txn, uint64_t since, uc_index_report_cb fn,
                         void *ctx)
{
    if (!ix->reports)
        return 0;
    struct report_walk w = {fn, ctx};
    return walk_from(txn, ix->reports, since, report_step, &w);
}

void uc_index_read_stats(struct uc_index *ix, MDB_txn *txn, struct uc_store_stats *out)
{
    memset(out, 0, sizeof(*out));
    MDB_stat st;
    out->files = mdb_stat(txn, ix->files, &st) == 0 ? st.ms_entries : 0;
    out->updates = mdb_stat(txn, ix->updates, &st) == 0 ? st.ms_entries : 0;
    out->reports = ix->reports && mdb_stat(txn, ix->reports, &st) == 0 ? st.ms_entries : 0;
    struct {
        const char *key;
        uint64_t *dst;
    } c[] = {
        {"stat_ingest_files", &out->ingest_files}, {"stat_ingest_bytes", &out->ingest_bytes},
        {"content_bytes", &out->content_bytes},    {"evictable_bytes", &out->evictable_bytes},
        {"stat_evictions", &out->evictions},       {"stat_evicted_bytes", &out->evicted_bytes},
        {"stat_sync_runs", &out->sync_runs},       {"stat_sync_files", &out->sync_files},
        {"stat_sync_bytes", &out->sync_bytes},     {"stat_verify_failures", &out->verify_failures},
        {"sync_anchor", &out->sync_anchor},        {"stat_sync_last", &out->sync_last}};
    for (size_t i = 0; i < UC_ARRAY_LEN(c); i++)
        uc_index_get_u64(ix, txn, c[i].key, c[i].dst); /* absent: stays 0 */
}

/* When a report was received: its "received" field (uc_rfc3339_now's form), or 0. */
static int64_t received_at(const MDB_val *v)
{
    static const char tag[] = "\"received\":\"";
    const char *p = memmem(v->mv_data, v->mv_size, tag, sizeof(tag) - 1);
    struct tm tm = {0};
    if (!p || (size_t)((const char *)v->mv_data + v->mv_size - p) < sizeof(tag) + 20)
        return 0;
    char when[21];
    memcpy(when, p + sizeof(tag) - 1, 20);
    when[20] = 0;
    const char *end = strptime(when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return end && !*end ? (int64_t)timegm(&tm) : 0;
}

static uint64_t reports_bytes(struct uc_index *ix, MDB_txn *txn)
{
    MDB_stat st;
    if (mdb_stat(txn, ix->reports, &st))
        return 0;
    return (uint64_t)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
}

int uc_index_prune_reports(struct uc_index *ix, MDB_txn *txn, int64_t before, uint64_t max_bytes,
                           size_t *removed)
{
    *removed = 0;
    if (!ix->reports)
        return 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, ix->reports, &cur);
    if (rc)
        return uc_index_rc(rc);
    MDB_val k, v;
    bool over = reports_bytes(ix, txn) > max_bytes;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        if (!over && received_at(&v) >= before)
            break;
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
        /* The page count moves only as pages empty: look again every so often. */
        if (++*removed % 64 == 0)
            over = reports_bytes(ix, txn) > max_bytes;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : uc_index_rc(rc);
}
