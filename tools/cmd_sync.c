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
 */
#include "cli.h"
#include "dsse.h"
#include "parallel.h"
#include "progress.h"
#include "strparse.h"
#include "sync_net.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE 500

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

/* Check one envelope of a page; on success u is filled. */
static bool take_envelope(struct run *r, json_t *je, size_t idx, struct upd *u)
{
    struct uc_errbuf eb = {{0}};
    struct uc_envelope env = {0};
    u->env = json_dumps(je, JSON_COMPACT); /* jansson keeps key order: the same bytes */
    u->envlen = u->env ? strlen(u->env) : 0;
    int rc = !u->env ? -ENOMEM : uc_dsse_parse(u->env, u->envlen, &env, &eb);
    if (!rc)
        rc = uc_dsse_verify(&env, UC_DSSE_TYPE, r->keys, r->nkeys, NULL, &eb);
    if (!rc)
        rc = uc_update_decode((const char *)env.payload, env.payload_len, &u->rec, &eb);
    uc_envelope_free(&env);
    if (rc) {
        cli_err(r->cli, "envelope %zu of the page: %s; nothing of this update is published", idx,
                eb.msg[0] ? eb.msg : uc_strerror(rc));
        r->refused++;
        free(u->env);
        u->env = NULL;
        return false;
    }
    return true;
}

static bool have_file(struct run *r, const uint8_t sha1[UC_SHA1_LEN])
{
    MDB_txn *txn;
    struct uc_file_rec f;
    if (uc_index_begin(r->st->ix, false, &txn))
        return false;
    int rc = uc_index_get_file(r->st->ix, txn, sha1, &f);
    uc_index_abort(txn);
    return rc == 0 && f.state == UC_FILE_PRESENT;
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
            bool dup = have_file(r, f->sha1);
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
    if (rc)
        uc_index_abort(txn);
    else
        uc_index_commit(txn);
}

/*
 * The transfers, spread over one curl multi per core: a transfer's bytes are hashed on
 * the thread that receives them, so one thread would cap a sync at one core's hashing
 * speed. Then every staged file is fsync'ed, also on all cores.
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

/* One page: returns 0 and sets next and more, or an exit code. */
static int do_page(struct run *r, uint64_t since, uint64_t *next, bool *more, bool *complete)
{
    char path[128], *body = NULL;
    size_t len;
    struct uc_errbuf eb = {{0}};
    snprintf(path, sizeof(path), "ServerSyncWebService/updates?since=%llu&limit=%d",
             (unsigned long long)since, PAGE);
    if (sync_net_get_json(&r->net, path, &body, &len, &eb)) {
        cli_err(r->cli, "%s", eb.msg);
        return UC_EXIT_FAIL;
    }
    json_error_t je;
    json_t *page = json_loadb(body, len, 0, &je);
    free(body);
    json_t *arr = json_object_get(page, "updates");
    json_t *jn = json_object_get(page, "next");
    if (!json_is_array(arr) || !json_is_integer(jn) || json_integer_value(jn) < 0) {
        cli_err(r->cli, "%s%s: not a page of updates", r->net.base, path);
        json_decref(page);
        return UC_EXIT_FAIL;
    }
    *next = (uint64_t)json_integer_value(jn);
    *more = json_is_true(json_object_get(page, "more"));
    size_t n = json_array_size(arr);
    struct upd *us = calloc(n ? n : 1, sizeof(*us));
    *complete = us != NULL;
    for (size_t i = 0; us && i < n; i++)
        if (!take_envelope(r, json_array_get(arr, i), i, &us[i]))
            *complete = false;
    json_decref(page);
    size_t nfs = 0;
    uint64_t total = 0;
    struct sync_file *fs = us ? plan(r, us, n, &nfs, &total) : NULL;
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
    if (sync_net_get_json(&r.net, "ServerSyncWebService/config", &body, &len, &eb)) {
        cli_err(cli, "%s; nothing fetched", eb.msg);
        ex = UC_EXIT_FAIL;
        goto out;
    }
    json_t *jc = json_loadb(body, len, 0, NULL);
    const char *cu = json_string_value(json_object_get(jc, "content_url"));
    if (!cli->cfg.content_url && cu && !strncmp(cu, "http://", 7))
        snprintf(r.net.content, sizeof(r.net.content), "%s%s", cu,
                 cu[strlen(cu) - 1] == '/' ? "" : "/");
    json_decref(jc);
    free(body);
    uint64_t anchor = 0;
    MDB_txn *txn;
    if (!uc_index_begin(r.st->ix, false, &txn)) {
        uc_index_get_u64(r.st->ix, txn, "sync_anchor", &anchor);
        uc_index_abort(txn);
    }
    uint64_t start = anchor;
    for (;;) {
        uint64_t next = anchor;
        bool more = false, complete = false;
        if ((ex = do_page(&r, anchor, &next, &more, &complete)))
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
    count(&r);
    fprintf(stderr,
            "updcache sync: %zu update(s) published, %zu file(s), %llu bytes from %s; anchor "
            "%llu -> %llu%s\n",
            r.published, r.files, (unsigned long long)r.bytes, r.net.base,
            (unsigned long long)start, (unsigned long long)anchor,
            ex ? "; FAILED (see above): run again to retry" : "");
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
