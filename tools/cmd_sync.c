/*
 * updcache sync [--once | --interval D]: this store as a downstream of [upstream] url
 * (SPEC §5-§7). One run:
 *
 *   DSS cookie -> ServerSyncWebService/config (content URL) -> pages of envelopes since
 *   the stored anchor -> every envelope's signature checked against [upstream]
 *   publisher_keys -> the files this store lacks fetched in parallel from the paired
 *   plain port, hashed as they stream, checked against the signed size, SHA-1 and SHA-256
 *   -> each update published (files and verbatim envelope, one crash-safe step) only
 *   when all its files are here -> the anchor advanced past a page only when all of it
 *   was published.
 *
 * A file whose bytes do not match is quarantined with the reason, its update is not
 * published, and the run exits 1 naming it; the rest go on. A transfer that fails is
 * retried with backoff and resumed with Range, in this run and the next.
 *
 * An envelope this store can never accept (no trusted signature, a bad record, a stale
 * revision, a SHA-1 that a stored signed file has with other bytes) is refused for
 * good: kept in quarantine/ with the reason, and the run goes on past it, so one bad
 * envelope cannot stop a downstream; the run still exits 1 naming it. A page must
 * advance the anchor, hold no more envelopes than asked for, and fit a bounded size.
 */
#include "cli.h"
#include "dsse.h"
#include "evict.h"
#include "fsutil.h"
#include "parallel.h"
#include "progress.h"
#include "strparse.h"
#include "sync_net.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAGE 500
#define PAGE_MAX_BYTES (64u << 20) /* one page's answer: 500 envelopes of ~128 KiB */
#define CONFIG_MAX (1u << 20)
/* JSON values an envelope may bring (a handful, and a few more per signature): counted
 * before parsing, so a page of tiny objects cannot cost 100x its size in memory. */
#define VALUES_PER_ENVELOPE 64

struct upd {
    struct uc_update rec;
    char *env; /* envelope JSON, as the upstream keeps it */
    size_t envlen;
};

struct run {
    struct uc_cli *cli;
    struct uc_store *st;
    struct sync_net net;
    struct uc_key *keys;
    size_t nkeys;
    size_t published, failed, files, refused;
    uint64_t bytes;
    struct uc_progress prog;
};

static int load_keys(struct run *r)
{
    const struct uc_config *cfg = &r->cli->cfg;
    r->keys = calloc(cfg->publisher_keys.n, sizeof(*r->keys));
    for (size_t i = 0; r->keys && i < cfg->publisher_keys.n; i++) {
        struct uc_errbuf eb = {{0}};
        if (uc_key_load_public(cfg->publisher_keys.v[i], &r->keys[r->nkeys], &eb)) {
            cli_err(r->cli, "[upstream] publisher_keys: %s", eb.msg);
            return UC_EXIT_USAGE;
        }
        r->nkeys++;
    }
    return r->keys ? 0 : UC_EXIT_FAIL;
}

/*
 * Refuse an envelope for good: kept as quarantine/envelope.<SHA-256>.json with the
 * reason beside it, said once, counted; the anchor moves past it.
 */
static void refuse(struct run *r, struct upd *u, const char *env, size_t len, const char *why)
{
    struct uc_digest dg;
    char hex[65] = "unhashed", path[PATH_MAX], what[160];
    if (!uc_hash_buf(env, len, &dg))
        uc_hex_encode(dg.sha256, UC_SHA256_LEN, hex, false);
    if (u->rec.id[0])
        snprintf(what, sizeof(what), "envelope sha256:%.16s (update %s)", hex, u->rec.id);
    else
        snprintf(what, sizeof(what), "envelope sha256:%.16s", hex);
    snprintf(path, sizeof(path), "%s/quarantine/envelope.%s.json", r->st->root, hex);
    int rc = uc_write_file_atomic(path, env, len, 0644);
    if (!rc) {
        char reason[1400];
        int n = snprintf(reason, sizeof(reason), "%s: refused by sync from %s: %s\n", what,
                         r->net.base, why);
        strncat(path, ".reason", sizeof(path) - strlen(path) - 1);
        rc = uc_write_file_atomic(path, reason, (size_t)n < sizeof(reason) ? (size_t)n : 0, 0644);
    }
    cli_err(r->cli, "%s: refused: %s; %s; sync goes on past it", what, why,
            rc ? "could not be recorded in quarantine/" : "kept in quarantine/ with the reason");
    r->refused++;
    free(u->env);
    u->env = NULL;
    uc_update_free(&u->rec);
}

/* Check one envelope of a page: 1 and u filled, 0 when it was refused, -1 when it could
 * not be looked at (out of memory: the page is tried again). */
static int take_envelope(struct run *r, json_t *je, size_t idx, struct upd *u)
{
    struct uc_errbuf eb = {{0}};
    struct uc_envelope env = {0};
    u->env = json_dumps(je, JSON_COMPACT); /* jansson keeps key order: the same bytes */
    u->envlen = u->env ? strlen(u->env) : 0;
    if (!u->env) {
        cli_err(r->cli, "envelope %zu of the page: out of memory", idx);
        return -1;
    }
    int rc = uc_dsse_parse(u->env, u->envlen, &env, &eb);
    if (!rc)
        rc = uc_dsse_verify(&env, UC_DSSE_TYPE, r->keys, r->nkeys, NULL, &eb);
    if (!rc)
        rc = uc_update_decode((const char *)env.payload, env.payload_len, &u->rec, &eb);
    else if (env.payload) /* only to name the update it claims to be in the refusal */
        uc_update_decode((const char *)env.payload, env.payload_len, &u->rec, NULL);
    uc_envelope_free(&env);
    MDB_txn *txn = NULL;
    uint64_t stored = 0;
    if (!rc && !(rc = uc_index_begin(r->st->ix, false, &txn))) {
        rc = uc_index_check_revision(r->st->ix, txn, u->rec.id, u->rec.revision, u->env, u->envlen,
                                     &stored);
        uc_index_abort(txn);
        if (rc == UC_ESTALE)
            uc_errf(&eb, rc, "revision %llu is not newer than the stored revision %llu",
                    (unsigned long long)u->rec.revision, (unsigned long long)stored);
        rc = rc == UC_EEXIST ? 0 : rc;
    }
    if (rc)
        refuse(r, u, u->env, u->envlen, eb.msg[0] ? eb.msg : uc_strerror(rc));
    return rc == 0;
}

/* Does a stored signed record other than update except_id name exactly this file? */
struct vouch {
    const struct uc_file_rec *f;
    const char *except_id;
    char by[UC_UUID_LEN + 1];
};

static int vouch_step(void *ctx, const struct uc_update_rec *rec)
{
    struct vouch *v = ctx;
    struct uc_envelope env = {0};
    struct uc_update u = {0};
    int found = 0;
    if (strcmp(rec->id, v->except_id) &&
        !uc_dsse_parse(rec->envelope, rec->envelope_len, &env, NULL) &&
        !uc_update_decode((const char *)env.payload, env.payload_len, &u, NULL))
        for (size_t i = 0; !found && i < u.nfiles; i++)
            found = !memcmp(u.files[i].sha1, v->f->sha1, UC_SHA1_LEN) &&
                    uc_file_same(v->f, u.files[i].size, u.files[i].sha256);
    if (found)
        snprintf(v->by, sizeof(v->by), "%s", rec->id);
    uc_update_free(&u);
    uc_envelope_free(&env);
    return found; /* stops the walk */
}

static bool vouched(struct run *r, const struct uc_file_rec *f, const char *except_id, char *by)
{
    struct vouch v = {f, except_id, ""};
    MDB_txn *txn;
    if (uc_index_begin(r->st->ix, false, &txn))
        return true; /* unsure: keep the stored file, refuse the newcomer */
    int rc = uc_index_each_change(r->st->ix, txn, 0, vouch_step, &v);
    uc_index_abort(txn);
    snprintf(by, UC_UUID_LEN + 1, "%s", v.by);
    return rc != 0;
}

static void digests(const uint8_t sha256[UC_SHA256_LEN], uint64_t size, char *out, size_t len)
{
    char h[65];
    uc_hex_encode(sha256, UC_SHA256_LEN, h, false);
    snprintf(out, len, "SHA-256 %s, %llu bytes", h, (unsigned long long)size);
}

/*
 * One SHA-1, other bytes. Against a file an earlier update of the page names, or a
 * stored file a signed record vouches for, the newcomer is refused (a store keeps one
 * file per SHA-1). A stored file no signed record vouches for (imported by name) is
 * quarantined, and the signed one fetched in its place.
 */
static bool clear_conflicts(struct run *r, struct upd *us, size_t i)
{
    struct uc_update *u = &us[i].rec;
    char why[900], have[100], want[100], by[UC_UUID_LEN + 1];
    for (size_t k = 0; k < u->nfiles; k++) {
        const struct uc_update_file *f = &u->files[k];
        char path[96];
        uc_content_path(f->sha1, f->suffix, path, sizeof(path));
        digests(f->sha256, f->size, want, sizeof(want));
        for (size_t j = 0; j < i; j++)
            for (size_t m = 0; us[j].env && m < us[j].rec.nfiles; m++) {
                const struct uc_update_file *g = &us[j].rec.files[m];
                if (memcmp(g->sha1, f->sha1, UC_SHA1_LEN) ||
                    (g->size == f->size && !memcmp(g->sha256, f->sha256, UC_SHA256_LEN)))
                    continue;
                digests(g->sha256, g->size, have, sizeof(have));
                snprintf(why, sizeof(why),
                         "file %s (%s) has the SHA-1 of a file of update %s (%s) in the same "
                         "page: a SHA-1 collision",
                         path, want, us[j].rec.id, have);
                refuse(r, &us[i], us[i].env, us[i].envlen, why);
                return false;
            }
        struct uc_file_rec rec;
        MDB_txn *txn;
        if (uc_index_begin(r->st->ix, false, &txn))
            continue;
        int rc = uc_index_get_file(r->st->ix, txn, f->sha1, &rec);
        uc_index_abort(txn);
        if (rc || rec.state == UC_FILE_QUARANTINED || uc_file_same(&rec, f->size, f->sha256))
            continue;
        digests(rec.sha256, rec.size, have, sizeof(have));
        if (vouched(r, &rec, u->id, by)) {
            snprintf(why, sizeof(why),
                     "file %s (%s) has the SHA-1 of the stored file of update %s (%s): a SHA-1 "
                     "collision",
                     path, want, by[0] ? by : "(index unreadable)", have);
            refuse(r, &us[i], us[i].env, us[i].envlen, why);
            return false;
        }
        struct uc_errbuf eb = {{0}};
        snprintf(why, sizeof(why),
                 "sync: %s: these bytes (%s) have the SHA-1 of update %s's file but not its "
                 "%s, and no signed record names them",
                 path, have, u->id, want);
        if (uc_store_forget(r->st, &rec, why, &eb)) {
            cli_err(r->cli, "%s", eb.msg);
            continue; /* publish will refuse the conflict */
        }
        cli_err(r->cli,
                "%s: the stored bytes (%s) are not the signed file of update %s (%s) and no "
                "signed record names them: quarantined; the signed file is fetched",
                path, have, u->id, want);
        r->failed++;
    }
    return true;
}

static bool have_file(struct run *r, const struct uc_update_file *want)
{
    MDB_txn *txn;
    struct uc_file_rec f;
    if (uc_index_begin(r->st->ix, false, &txn))
        return false;
    int rc = uc_index_get_file(r->st->ix, txn, want->sha1, &f);
    uc_index_abort(txn);
    /* An evicted file is not fetched again: that would only churn the disk (SPEC §12). */
    return rc == 0 && (f.state == UC_FILE_PRESENT || f.state == UC_FILE_EVICTED) &&
           uc_file_same(&f, want->size, want->sha256);
}

/* The files of the page's updates that this store lacks, each once. */
static struct sync_file *plan(struct run *r, struct upd *us, size_t n, size_t *nfiles,
                              uint64_t *bytes)
{
    size_t cap = 0;
    for (size_t i = 0; i < n; i++)
        cap += us[i].env ? us[i].rec.nfiles : 0;
    struct sync_file *fs = calloc(cap ? cap : 1, sizeof(*fs));
    *nfiles = 0;
    *bytes = 0;
    for (size_t i = 0; fs && i < n; i++) {
        for (size_t k = 0; us[i].env && k < us[i].rec.nfiles; k++) {
            const struct uc_update_file *f = &us[i].rec.files[k];
            bool dup = have_file(r, f);
            for (size_t j = 0; !dup && j < *nfiles; j++)
                dup = !memcmp(fs[j].f.sha1, f->sha1, UC_SHA1_LEN);
            if (dup)
                continue;
            struct sync_file *sf = &fs[(*nfiles)++];
            sf->f = *f;
            sf->staged.fd = -1;
            char path[128];
            uc_content_path(f->sha1, f->suffix, path, sizeof(path));
            snprintf(sf->url, sizeof(sf->url), "%s%s", r->net.content, path);
            *bytes += f->size;
        }
    }
    return fs;
}

static struct sync_file *find(struct sync_file *fs, size_t n, const uint8_t sha1[UC_SHA1_LEN])
{
    for (size_t i = 0; i < n; i++)
        if (!memcmp(fs[i].f.sha1, sha1, UC_SHA1_LEN))
            return &fs[i];
    return NULL;
}

/* Publish update u when every file is here; false (said why) when it cannot be. */
static bool publish(struct run *r, struct upd *u, struct sync_file *fs, size_t nfs)
{
    struct uc_staged *items = calloc(u->rec.nfiles ? u->rec.nfiles : 1, sizeof(*items));
    size_t k = 0;
    bool ok = items != NULL;
    for (size_t i = 0; ok && i < u->rec.nfiles; i++) {
        struct sync_file *sf = find(fs, nfs, u->rec.files[i].sha1);
        if (!sf || sf->state == SF_PUBLISHED) /* here before this run, or published with an
                                               * earlier update of this run */
            continue;
        if (sf->state == SF_STAGED) {
            items[k++] = sf->staged;
            sf->staged.fd = -1;
            sf->staged.blocks = NULL; /* publish owns both now */
            sf->state = SF_PUBLISHED; /* an update sharing it finds it present */
            r->bytes += sf->f.size;
            r->files++;
        } else {
            ok = false;
        }
    }
    struct uc_errbuf eb = {{0}};
    struct uc_publish_update pu = {u->rec.id, u->rec.revision, u->env, u->envlen};
    if (!items)
        return false;
    /* Files that verified are published either way (a signed record vouches for them);
     * the record itself only with all of its files. */
    if ((ok || k) && uc_store_publish(r->st, items, k, ok ? &pu : NULL, NULL, &eb)) {
        cli_err(r->cli, "update %s: %s", u->rec.id, eb.msg);
        ok = false;
    }
    if (!ok)
        cli_err(r->cli,
                "update %s (%s): record not published: a file is missing or bad (see "
                "above)",
                u->rec.id, u->rec.title);
    free(items);
    return ok;
}

/*
 * A file's block list from the upstream (TLS), accepted only when it has one digest per
 * block and hashes to the signed blocks_sha256. NULL (said why) when it cannot be had.
 */
static uint8_t *fetch_blocks(struct run *r, const struct uc_update_file *f, size_t *n)
{
    char hex[41], path[96], *body = NULL;
    size_t len = 0, want = UC_NBLOCKS(f->size) * UC_SHA256_LEN;
    struct uc_errbuf eb = {{0}};
    uc_hex_encode(f->sha1, UC_SHA1_LEN, hex, true);
    snprintf(path, sizeof(path), "ServerSyncWebService/blocks/%s", hex);
    if (sync_net_get_json(&r->net, path, want + 1, &body, &len, &eb)) {
        cli_err(r->cli, "%s", eb.msg);
        return NULL;
    }
    uint8_t got[UC_SHA256_LEN];
    char eh[65], ah[65];
    unsigned gl = 0;
    EVP_Digest(body, len, got, &gl, EVP_sha256(), NULL);
    if (len != want || memcmp(got, f->blocks_sha256, UC_SHA256_LEN)) {
        uc_hex_encode(f->blocks_sha256, UC_SHA256_LEN, eh, false);
        uc_hex_encode(got, UC_SHA256_LEN, ah, false);
        cli_err(r->cli,
                "%s%s: %zu bytes hashing to %s; the signed record of %s (%llu bytes) says %zu "
                "bytes hashing to %s: refused, the record is not stored (the next run tries "
                "again)",
                r->net.base, path, len, ah, f->name, (unsigned long long)f->size, want, eh);
        r->failed++;
        free(body);
        return NULL;
    }
    *n = len / UC_SHA256_LEN;
    return (uint8_t *)body;
}

/* A list stored here was checked against the signed digest of these bytes before. */
static bool have_blocks(struct run *r, const struct uc_update_file *f)
{
    const uint8_t *list;
    size_t n;
    MDB_txn *txn;
    bool known = false;
    if (!uc_index_begin(r->st->ix, false, &txn)) {
        known = uc_index_get_blocks(r->st->ix, txn, f->sha1, &list, &n) == 0;
        uc_index_abort(txn);
    }
    return known;
}

/* fill = on-demand: the record and its files' block lists, no file bytes (SPEC §13). */
static bool publish_record(struct run *r, struct upd *u)
{
    size_t nf = u->rec.nfiles;
    uint8_t **lists = calloc(nf ? nf : 1, sizeof(*lists));
    size_t *nl = calloc(nf ? nf : 1, sizeof(*nl));
    bool ok = lists && nl;
    for (size_t i = 0; ok && i < nf; i++) {
        const struct uc_update_file *f = &u->rec.files[i];
        if (f->has_blocks && f->size && !have_blocks(r, f)) /* an empty file has none */
            ok = (lists[i] = fetch_blocks(r, f, &nl[i])) != NULL;
    }
    struct uc_errbuf eb = {{0}};
    struct uc_publish_update pu = {u->rec.id, u->rec.revision, u->env, u->envlen};
    if (ok && uc_store_publish_records(r->st, &u->rec, lists, nl, &pu, NULL, &eb)) {
        cli_err(r->cli, "update %s: %s", u->rec.id, eb.msg);
        ok = false;
    }
    for (size_t i = 0; lists && i < nf; i++)
        free(lists[i]);
    free(lists);
    free(nl);
    return ok;
}

static int set_anchor(struct run *r, uint64_t anchor)
{
    MDB_txn *txn;
    int rc = uc_index_begin(r->st->ix, true, &txn);
    if (!rc)
        rc = uc_index_put_u64(r->st->ix, txn, "sync_anchor", anchor);
    if (!rc)
        return uc_index_commit(txn);
    uc_index_abort(txn);
    return rc;
}

static void count(struct run *r)
{
    MDB_txn *txn;
    if (uc_index_begin(r->st->ix, true, &txn))
        return;
    int rc = uc_index_add_u64(r->st->ix, txn, "stat_sync_runs", 1);
    if (!rc)
        rc = uc_index_add_u64(r->st->ix, txn, "stat_sync_files", r->files);
    if (!rc)
        rc = uc_index_add_u64(r->st->ix, txn, "stat_sync_bytes", r->bytes);
    if (!rc)
        rc = uc_index_add_u64(r->st->ix, txn, "stat_verify_failures", r->failed);
    if (!rc)
        rc = uc_index_put_u64(r->st->ix, txn, "stat_sync_last", (uint64_t)time(NULL));
    if (rc)
        uc_index_abort(txn);
    else
        uc_index_commit(txn);
}

/*
 * The transfers, spread over one curl multi per core, so that receiving is not one
 * core's work; their pieces are hashed and written on the lanes of sync_net.c. Then
 * every staged file is fsync'ed, also on all cores.
 */
struct group {
    struct run *r;
    struct sync_file **members; /* into the page's files */
    struct sync_file *copy;     /* what this thread works on */
    size_t n;
    unsigned parallel;
    struct sync_fetch_stats stats;
};

struct fetch_job {
    struct run *r;
    struct group *gs;
};

static void fetch_group(void *ctx, size_t i)
{
    struct group *g = &((struct fetch_job *)ctx)->gs[i];
    if (g->n)
        sync_fetch_all(&g->r->net, g->r->st, g->copy, g->n, g->parallel, &g->r->prog.done_bytes,
                       NULL, NULL, &g->stats);
}

struct flush {
    struct run *r;
    struct sync_file *fs;
};

/* uc_parallel_for hands its tick the same context as its work: both start with run. */
static void job_tick(void *ctx)
{
    progress_tick(&(*(struct run **)ctx)->prog);
}

static void flush_one(void *ctx, size_t i)
{
    struct flush *f = ctx;
    struct sync_file *sf = &f->fs[i];
    struct uc_errbuf eb = {{0}};
    if (sf->state == SF_STAGED && uc_store_sync_staged(f->r->st, &sf->staged, &eb)) {
        snprintf(sf->err, sizeof(sf->err), "%s", eb.msg);
        uc_store_discard(f->r->st, &sf->staged);
        sf->state = SF_FAILED;
    }
}

static void fetch(struct run *r, struct sync_file *fs, size_t nfs)
{
    unsigned ng = uc_ncpu(), par = (unsigned)r->cli->cfg.parallel;
    ng = ng > par ? par : ng;
    ng = ng ? ng : 1;
    struct group *gs = calloc(ng, sizeof(*gs));
    for (unsigned g = 0; gs && g < ng; g++) {
        gs[g].r = r;
        gs[g].members = calloc(nfs / ng + 1, sizeof(*gs[g].members));
        gs[g].copy = calloc(nfs / ng + 1, sizeof(*gs[g].copy));
        gs[g].parallel = par / ng + (g < par % ng);
    }
    for (size_t i = 0; i < nfs; i++) { /* round robin keeps the groups' sizes close */
        struct group *g = gs ? &gs[i % ng] : NULL;
        if (g && g->members && g->copy) {
            g->members[g->n] = &fs[i];
            g->copy[g->n++] = fs[i];
        } else {
            fs[i].state = SF_FAILED;
            snprintf(fs[i].err, sizeof(fs[i].err), "out of memory");
        }
    }
    struct fetch_job job = {r, gs};
    if (gs)
        uc_parallel_for(ng, ng, fetch_group, job_tick, &job);
    for (unsigned g = 0; gs && g < ng; g++) {
        for (size_t k = 0; k < gs[g].n; k++)
            *gs[g].members[k] = gs[g].copy[k];
        free(gs[g].members);
        free(gs[g].copy);
    }
    free(gs);
    struct flush f = {r, fs};
    uc_parallel_for(nfs, 0, flush_one, job_tick, &f);
}

/* JSON values in body (objects, arrays and the items and members they hold), counted
 * without parsing: what jansson would allocate a node for, near enough. */
static size_t json_values(const char *body, size_t len)
{
    size_t n = 1;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else {
            n += c == '{' || c == '[' || c == ',' || c == ':';
        }
    }
    return n;
}

/*
 * GET one page. An answer past PAGE_MAX_BYTES is asked for again with a smaller limit
 * (a page of very large envelopes); *limit keeps what worked for the rest of the run.
 */
static int get_page(struct run *r, uint64_t since, unsigned *limit, char *path, size_t plen,
                    char **body, size_t *len)
{
    struct uc_errbuf eb = {{0}};
    for (;;) {
        snprintf(path, plen, "ServerSyncWebService/updates?since=%llu&limit=%u",
                 (unsigned long long)since, *limit);
        int rc = sync_net_get_json(&r->net, path, PAGE_MAX_BYTES, body, len, &eb);
        if (rc == -EFBIG && *limit > 1) {
            free(*body);
            *limit = *limit / 8 ? *limit / 8 : 1;
            continue;
        }
        if (rc)
            cli_err(r->cli, "%s", eb.msg);
        return rc ? UC_EXIT_FAIL : 0;
    }
}

/*
 * Parse and check a page: at most limit envelopes, no more JSON than they carry, and an
 * anchor that moves. Returns the updates array (owned by *page) or NULL, said why.
 */
static json_t *read_page(struct run *r, const char *path, char *body, size_t len, unsigned limit,
                         uint64_t since, json_t **page, uint64_t *next, bool *more)
{
    const char *what = NULL;
    char why[200];
    size_t values = json_values(body, len), cap = (size_t)limit * VALUES_PER_ENVELOPE + 64;
    json_t *arr = NULL;
    *page = NULL;
    if (values > cap) {
        snprintf(why, sizeof(why), "%zu JSON values, more than %u envelopes carry (%zu)", values,
                 limit, cap);
        what = why;
    } else if (!(*page = json_loadb(body, len, 0, NULL)) ||
               !json_is_array(arr = json_object_get(*page, "updates")) ||
               !json_is_integer(json_object_get(*page, "next")) ||
               json_integer_value(json_object_get(*page, "next")) < 0) {
        what = "not a page of updates";
    } else {
        *next = (uint64_t)json_integer_value(json_object_get(*page, "next"));
        *more = json_is_true(json_object_get(*page, "more"));
        size_t n = json_array_size(arr);
        if (n > limit)
            snprintf(why, sizeof(why), "%zu envelopes, more than the %u asked for", n, limit);
        else if (*next < since || ((*more || n) && *next == since))
            snprintf(why, sizeof(why),
                     "\"next\": %llu does not advance past since=%llu (with %zu envelopes%s)",
                     (unsigned long long)*next, (unsigned long long)since, n,
                     *more ? " and \"more\": true" : "");
        else
            return arr;
        what = why;
    }
    cli_err(r->cli, "%s%s: %s; refused, nothing after it is fetched (the upstream is broken)",
            r->net.base, path, what);
    json_decref(*page);
    *page = NULL;
    return NULL;
}

/*
 * Room for the files before they are fetched, file by file, so that what fits is
 * fetched and a file that can never fit fails alone (its update waits). The staged
 * files all sit in tmp/ until the page is published: the free-space floor is kept for
 * their sum (evicting least-recently-used files, evict.h). The content cap is kept at
 * each publish, which may evict files published earlier in the same run: here only a
 * file larger than max_size on its own is refused.
 */
static void make_room(struct run *r, struct sync_file *fs, size_t nfs)
{
    uint64_t staged = 0, cap = r->st->max_size;
    for (size_t i = 0; fs && i < nfs; i++) {
        struct uc_errbuf eb = {{0}};
        char a[32], b[32];
        if (cap && fs[i].f.size > cap) {
            uc_errf(&eb, -ENOSPC, "%s is larger than [store] max_size %s on its own",
                    uc_fmt_bytes(fs[i].f.size, a, sizeof(a)), uc_fmt_bytes(cap, b, sizeof(b)));
        } else if (uc_evict_make_room(r->st, staged + fs[i].f.size, UC_ROOM_FLOOR, &eb) == 0) {
            staged += fs[i].f.size;
            continue;
        }
        fs[i].state = SF_FAILED;
        snprintf(fs[i].err, sizeof(fs[i].err), "%s: not fetched: %s", fs[i].url, eb.msg);
    }
}

/* One page: returns 0 and sets next and more, or an exit code. */
static int do_page(struct run *r, uint64_t since, unsigned *limit, uint64_t *next, bool *more,
                   bool *complete)
{
    char path[128], *body = NULL;
    size_t len;
    json_t *page;
    int ex = get_page(r, since, limit, path, sizeof(path), &body, &len);
    json_t *arr = ex ? NULL : read_page(r, path, body, len, *limit, since, &page, next, more);
    free(body);
    if (!arr)
        return UC_EXIT_FAIL;
    size_t n = json_array_size(arr);
    struct upd *us = calloc(n ? n : 1, sizeof(*us));
    *complete = us != NULL;
    for (size_t i = 0; us && i < n; i++)
        if (take_envelope(r, json_array_get(arr, i), i, &us[i]) < 0)
            *complete = false; /* not refused: the next run tries this page again */
    json_decref(page);
    for (size_t i = 0; us && i < n; i++)
        if (us[i].env)
            clear_conflicts(r, us, i);
    if (r->cli->cfg.fill_on_demand) {
        for (size_t i = 0; us && i < n; i++) {
            if (us[i].env && publish_record(r, &us[i]))
                r->published++;
            else if (us[i].env)
                *complete = false;
            free(us[i].env);
            uc_update_free(&us[i].rec);
        }
        free(us);
        return 0;
    }
    size_t nfs = 0;
    uint64_t total = 0;
    struct sync_file *fs = us ? plan(r, us, n, &nfs, &total) : NULL;
    make_room(r, fs, nfs);
    progress_init(&r->prog, "sync", total, nfs);
    if (fs && nfs)
        fetch(r, fs, nfs);
    progress_finish(&r->prog);
    for (size_t i = 0; fs && i < nfs; i++)
        if (fs[i].state == SF_FAILED || fs[i].state == SF_BAD) {
            cli_err(r->cli, "%s", fs[i].err);
            r->failed += fs[i].state == SF_BAD;
        }
    for (size_t i = 0; us && i < n; i++) {
        if (!us[i].env)
            continue;
        if (publish(r, &us[i], fs, nfs))
            r->published++;
        else
            *complete = false;
    }
    for (size_t i = 0; fs && i < nfs; i++)
        if (fs[i].state == SF_STAGED) /* not claimed by any update: should not happen */
            uc_store_discard(r->st, &fs[i].staged);
    for (size_t i = 0; us && i < n; i++) {
        free(us[i].env);
        uc_update_free(&us[i].rec);
    }
    free(us);
    free(fs);
    return fs || !nfs ? 0 : UC_EXIT_FAIL;
}

/* Files from the upstream that are PENDING again (purged, or quarantined by verify
 * --repair) belong to records synced before: fetched again from what the index says. */
struct pending {
    struct run *r;
    struct sync_file *fs;
    size_t n, cap;
};

static int collect_pending(void *ctx, const struct uc_file_rec *f)
{
    struct pending *p = ctx;
    if (f->state != UC_FILE_PENDING || !f->evictable)
        return 0;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        struct sync_file *nf = realloc(p->fs, cap * sizeof(*nf));
        if (!nf)
            return -ENOMEM;
        p->fs = nf;
        p->cap = cap;
    }
    struct sync_file *sf = memset(&p->fs[p->n++], 0, sizeof(*sf));
    memcpy(sf->f.sha1, f->sha1, UC_SHA1_LEN);
    memcpy(sf->f.sha256, f->sha256, UC_SHA256_LEN);
    sf->f.size = f->size;
    snprintf(sf->f.suffix, sizeof(sf->f.suffix), "%s", f->suffix);
    snprintf(sf->f.name, sizeof(sf->f.name), "%s", "(pending)");
    sf->staged.fd = -1;
    char path[128];
    uc_content_path(f->sha1, f->suffix, path, sizeof(path));
    snprintf(sf->url, sizeof(sf->url), "%s%s", p->r->net.content, path);
    return 0;
}

static int refetch_pending(struct run *r)
{
    struct pending p = {.r = r};
    MDB_txn *txn;
    int rc = uc_index_begin(r->st->ix, false, &txn);
    if (!rc) {
        rc = uc_index_each_file(r->st->ix, txn, collect_pending, &p);
        uc_index_abort(txn);
    }
    uint64_t total = 0;
    for (size_t i = 0; i < p.n; i++)
        total += p.fs[i].f.size;
    if (!rc && p.n) {
        make_room(r, p.fs, p.n);
        progress_init(&r->prog, "sync", total, p.n);
        fetch(r, p.fs, p.n);
        progress_finish(&r->prog);
    }
    size_t bad = 0;
    for (size_t i = 0; i < p.n; i++) {
        struct uc_errbuf eb = {{0}};
        if (p.fs[i].state == SF_STAGED &&
            uc_store_publish(r->st, &p.fs[i].staged, 1, NULL, NULL, &eb) == 0) {
            r->files++;
            r->bytes += p.fs[i].f.size;
            continue;
        }
        cli_err(r->cli, "%s", p.fs[i].state == SF_STAGED ? eb.msg : p.fs[i].err);
        r->failed += p.fs[i].state == SF_BAD;
        bad++;
    }
    free(p.fs);
    if (rc)
        cli_err(r->cli, "%s/index: %s", r->st->root, uc_strerror(rc));
    return rc || bad ? UC_EXIT_FAIL : 0;
}

static int sync_once(struct uc_cli *cli)
{
    struct run r = {.cli = cli};
    struct uc_errbuf eb = {{0}};
    int ex = cli_open_store(cli, true, false, &r.st);
    if (ex)
        return ex;
    if (sync_net_init(&r.net, &cli->cfg, &eb)) {
        cli_err(cli, "%s; nothing fetched", eb.msg);
        ex = UC_EXIT_USAGE;
        goto out;
    }
    if ((ex = load_keys(&r)))
        goto out;
    if (sync_net_login(&r.net, &eb)) {
        cli_err(cli, "%s; nothing fetched", eb.msg);
        ex = UC_EXIT_FAIL;
        goto out;
    }
    char *body = NULL;
    size_t len;
    if (sync_net_get_json(&r.net, "ServerSyncWebService/config", CONFIG_MAX, &body, &len, &eb)) {
        cli_err(cli, "%s; nothing fetched", eb.msg);
        ex = UC_EXIT_FAIL;
        goto out;
    }
    /* Files come from the paired plain port of the configured url (or content_url): behind
     * a relay, NAT or balancer the upstream's own idea of its address is wrong (SPEC §7). */
    json_t *jc = json_loadb(body, len, 0, NULL);
    const char *cu = json_string_value(json_object_get(jc, "content_url"));
    if (cu && strncmp(cu, r.net.content, strlen(cu)))
        fprintf(stderr,
                "updcache sync: the upstream says its files are at %s; fetching them from %s "
                "(the paired plain port of [upstream] url, or [upstream] content_url)\n",
                cu, r.net.content);
    json_decref(jc);
    free(body);
    uint64_t anchor = 0;
    MDB_txn *txn;
    if (!uc_index_begin(r.st->ix, false, &txn)) {
        uc_index_get_u64(r.st->ix, txn, "sync_anchor", &anchor);
        uc_index_abort(txn);
    }
    uint64_t start = anchor;
    unsigned limit = PAGE;
    for (;;) {
        uint64_t next = anchor;
        bool more = false, complete = false;
        if ((ex = do_page(&r, anchor, &limit, &next, &more, &complete)))
            break;
        if (!complete) { /* the anchor stays: the next run tries this page again */
            ex = UC_EXIT_FAIL;
            break;
        }
        if (next > anchor && set_anchor(&r, next)) {
            cli_err(cli, "cannot store the sync anchor");
            ex = UC_EXIT_FAIL;
            break;
        }
        anchor = next > anchor ? next : anchor;
        if (!more)
            break;
    }
    if (!ex && !cli->cfg.fill_on_demand) /* on-demand: the daemon fills them again */
        ex = refetch_pending(&r);
    if (!ex && r.refused)
        ex = UC_EXIT_FAIL; /* after all the work that could be done (SPEC §11) */
    count(&r);
    fprintf(stderr,
            "updcache sync: %zu update(s) published, %zu file(s), %llu bytes from %s; %zu "
            "envelope(s) refused; anchor %llu -> %llu%s\n",
            r.published, r.files, (unsigned long long)r.bytes, r.net.base, r.refused,
            (unsigned long long)start, (unsigned long long)anchor,
            ex && ex == UC_EXIT_FAIL && !r.refused ? "; FAILED (see above): run again to retry"
            : ex                                   ? "; FAILED (see above)"
                                                   : "");
out:
    for (size_t i = 0; i < r.nkeys; i++)
        uc_key_free(&r.keys[i]);
    free(r.keys);
    sync_net_free(&r.net);
    uc_store_close(r.st);
    return ex;
}

int cmd_sync(struct uc_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"once", no_argument, 0, 'o'},
                                         {"interval", optional_argument, 0, 'i'},
                                         {"config", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    bool once = true;
    const char *interval = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'o') {
            once = true;
        } else if (c == 'i') {
            once = false;
            interval = optarg;
        } else if (c == 'c') {
            cli->config_path = optarg;
        } else if (c == 'h') {
            printf("usage: updcache sync [--once | --interval[=D]] [--config F]\n\n"
                   "Fetch signed updates and their files from [upstream] url, verify them\n"
                   "and publish them here. --once (the default) runs once; --interval runs\n"
                   "every D (default [upstream] interval) until stopped.\n");
            return UC_EXIT_OK;
        } else {
            return UC_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        cli_err(cli, "usage: updcache sync [--once | --interval[=D]]");
        return UC_EXIT_USAGE;
    }
    int ex = cli_load_config(cli);
    if (ex)
        return ex;
    uint64_t period = cli->cfg.interval;
    if (interval && uc_parse_duration(interval, &period)) {
        cli_err(cli, "--interval %s: give a duration (30s, 15m, 1h)", interval);
        return UC_EXIT_USAGE;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (;;) {
        ex = sync_once(cli);
        if (once || ex == UC_EXIT_USAGE)
            break;
        sleep((unsigned)(period ? period : 3600));
    }
    curl_global_cleanup();
    return ex;
}
