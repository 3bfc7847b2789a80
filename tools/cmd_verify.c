/*
 * updcache verify [--fast] [--repair]: re-check a store against its index.
 *
 * Every PRESENT file must exist under Content/ with its indexed size and digests
 * (SHA-1 + SHA-256 + XXH3, or XXH3 alone with --fast, which runs at memory speed);
 * every file under Content/ must be indexed (no orphans); every update record must
 * parse and name indexed files of the size and SHA-256 it gives (and verify, when
 * publisher keys are configured): as files are checked against the index, the bytes
 * served are then the bytes signed.
 * PENDING files are listed, not counted as problems. --repair moves bad files and
 * orphans to quarantine/ and marks bad files PENDING so a later ingest or sync
 * fetches them again. Exit 0 when consistent, 1 when problems were found.
 */
#include "cli.h"
#include "dsse.h"
#include "fsutil.h"
#include "parallel.h"
#include "progress.h"
#include "strparse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum vf_result { VF_OK, VF_MISSING, VF_BAD, VF_IOERR };

struct vf_item {
    struct uc_file_rec rec;
    enum vf_result result;
    char detail[384];
};

struct vf_job {
    struct uc_cli *cli;
    struct uc_store *st;
    struct vf_item *items;
    size_t n, cap;
    bool fast, repair;
    size_t problems, pending, evicted;
    struct uc_progress prog;
};

static int collect(void *ctx, const struct uc_file_rec *r)
{
    struct vf_job *j = ctx;
    if (j->n == j->cap) {
        size_t cap = j->cap ? 2 * j->cap : 1024;
        struct vf_item *ni = realloc(j->items, cap * sizeof(*ni));
        if (!ni)
            return -ENOMEM;
        j->items = ni;
        j->cap = cap;
    }
    memset(&j->items[j->n], 0, sizeof(j->items[j->n]));
    j->items[j->n++].rec = *r;
    return 0;
}

static void digest_mismatch(struct vf_item *it, const char *what, const uint8_t *want,
                            const uint8_t *got, size_t len)
{
    char w[65], g[65];
    uc_hex_encode(want, len, w, false);
    uc_hex_encode(got, len, g, false);
    it->result = VF_BAD;
    snprintf(it->detail, sizeof(it->detail), "%s mismatch: expected %s, actual %s", what, w, g);
}

static void check_one(void *ctx, size_t i)
{
    struct vf_job *j = ctx;
    struct vf_item *it = &j->items[i];
    if (it->rec.state != UC_FILE_PRESENT)
        return;
    char name[96];
    uc_store_content_name(it->rec.sha1, it->rec.suffix, name, sizeof(name));
    int fd = uc_open_beneath(j->st->content_fd, name, O_RDONLY | O_CLOEXEC, 0);
    struct stat sb;
    int err = fd < 0 ? -fd : fstat(fd, &sb) ? errno : 0;
    if (err) {
        it->result = err == ENOENT ? VF_MISSING : VF_IOERR;
        snprintf(it->detail, sizeof(it->detail), "%s",
                 err == ELOOP ? "a symbolic link, not a file" : strerror(err));
        if (fd >= 0)
            close(fd);
        return;
    }
    if ((uint64_t)sb.st_size != it->rec.size) {
        it->result = VF_BAD;
        snprintf(it->detail, sizeof(it->detail), "size mismatch: expected %llu, actual %llu",
                 (unsigned long long)it->rec.size, (unsigned long long)sb.st_size);
        atomic_fetch_add(&j->prog.done_bytes, it->rec.size);
        close(fd);
        return;
    }
    struct uc_digest dg;
    int rc = uc_hash_fd(fd, j->fast ? UC_HASH_XXH_ONLY : UC_HASH_ALL, &dg, &j->prog.done_bytes);
    close(fd);
    atomic_fetch_add(&j->prog.done_items, 1);
    if (rc) {
        it->result = VF_IOERR;
        snprintf(it->detail, sizeof(it->detail), "read: %s", uc_strerror(rc));
    } else if (!j->fast && memcmp(dg.sha1, it->rec.sha1, UC_SHA1_LEN)) {
        digest_mismatch(it, "SHA-1", it->rec.sha1, dg.sha1, UC_SHA1_LEN);
    } else if (!j->fast && memcmp(dg.sha256, it->rec.sha256, UC_SHA256_LEN)) {
        digest_mismatch(it, "SHA-256", it->rec.sha256, dg.sha256, UC_SHA256_LEN);
    } else if (memcmp(dg.xxh128, it->rec.xxh128, UC_XXH128_LEN)) {
        digest_mismatch(it, "XXH3-128", it->rec.xxh128, dg.xxh128, UC_XXH128_LEN);
    }
}

static void tick(void *ctx)
{
    progress_tick(&((struct vf_job *)ctx)->prog);
}

static int cmp_sha1(const void *key, const void *elem)
{
    return memcmp(key, ((const struct vf_item *)elem)->rec.sha1, UC_SHA1_LEN);
}

static void problem(struct vf_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct vf_job *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    j->problems++;
}

static void quarantine_orphan(struct vf_job *j, const char *rel)
{
    char qname[700], reason[700];
    const char *slash = strchr(rel, '/');
    snprintf(qname, sizeof(qname), "orphan.%s.%d", slash ? slash + 1 : rel, (int)getpid());
    snprintf(reason, sizeof(reason), "orphan: Content/%s had no index record", rel);
    if (renameat(j->st->content_fd, rel, j->st->quarantine_fd, qname)) {
        printf("  could not quarantine Content/%s: %s\n", rel, strerror(errno));
        return;
    }
    char rpath[PATH_MAX + 800];
    snprintf(rpath, sizeof(rpath), "%s/quarantine/%s.reason", j->st->root, qname);
    FILE *f = fopen(rpath, "w");
    if (f) {
        fprintf(f, "%s\n", reason);
        fclose(f);
    }
    printf("  moved to quarantine/%s\n", qname);
}

/* Orphans: anything under Content/ that the index does not expect there. */
static void scan_orphans(struct vf_job *j)
{
    DIR *top = fdopendir(dup(j->st->content_fd));
    struct dirent *e;
    while (top && (e = readdir(top))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int dfd = openat(j->st->content_fd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
            if (dfd >= 0)
                close(dfd);
            problem(j, "Content/%s: unexpected entry (not a content folder XX/)", e->d_name);
            continue;
        }
        struct dirent *f;
        while ((f = readdir(d))) {
            if (!strcmp(f->d_name, ".") || !strcmp(f->d_name, ".."))
                continue;
            uint8_t sha1[UC_SHA1_LEN];
            char suffix[UC_SUFFIX_MAX], rel[600];
            snprintf(rel, sizeof(rel), "%s/%s", e->d_name, f->d_name);
            struct vf_item *it = NULL;
            if (uc_content_name_parse(e->d_name, f->d_name, sha1, suffix))
                it = bsearch(sha1, j->items, j->n, sizeof(*j->items), cmp_sha1);
            char want[96];
            if (it)
                uc_store_content_name(it->rec.sha1, it->rec.suffix, want, sizeof(want));
            if (it && it->rec.state == UC_FILE_EVICTED && !strcmp(want, rel)) {
                printf("evicted: Content/%s: bytes still on disk (updcache gc removes them)\n",
                       rel);
                continue;
            }
            if (it && it->rec.state != UC_FILE_QUARANTINED && !strcmp(want, rel))
                continue;
            /* Not in our snapshot; an ingest running now may have published it since. */
            if (uc_store_entry_expected(j->st, e->d_name, f->d_name))
                continue;
            problem(j, "Content/%s: orphan: not in the index%s", rel,
                    j->repair ? "" : " (updcache gc removes it, verify --repair quarantines it)");
            if (j->repair)
                quarantine_orphan(j, rel);
        }
        closedir(d);
    }
    if (top)
        closedir(top);
}

struct upd_ctx {
    struct vf_job *j;
    MDB_txn *txn;
    struct uc_key *keys;
    size_t nkeys;
};

/* The index's file under this SHA-1 must be the one the signed record describes. */
static void check_record_file(struct upd_ctx *c, const char *id, const struct uc_update_file *f)
{
    struct uc_file_rec fr;
    char path[96];
    uc_content_path(f->sha1, f->suffix, path, sizeof(path));
    int rc = uc_index_get_file(c->j->st->ix, c->txn, f->sha1, &fr);
    if (rc == UC_ENOTFOUND) {
        problem(c->j, "update %s: file %s (%s) has no index record", id, path, f->name);
    } else if (rc) {
        problem(c->j, "update %s: file %s: index: %s", id, path, uc_strerror(rc));
    } else if (!uc_file_same(&fr, f->size, f->sha256)) {
        char want[65], got[65];
        uc_hex_encode(f->sha256, UC_SHA256_LEN, want, false);
        uc_hex_encode(fr.sha256, UC_SHA256_LEN, got, false);
        problem(c->j,
                "update %s: file %s (%s): the signed record says SHA-256 %s, %llu bytes; the "
                "store's file with this SHA-1 has SHA-256 %s, %llu bytes (not the signed file: "
                "updcache sync replaces it, or remove it and publish again)",
                id, path, f->name, want, (unsigned long long)f->size, got,
                (unsigned long long)fr.size);
    }
}

static int check_update(void *vctx, const struct uc_update_rec *rec)
{
    struct upd_ctx *c = vctx;
    struct uc_envelope env = {0};
    struct uc_update u = {0};
    struct uc_errbuf eb = {{0}};
    if (uc_dsse_parse(rec->envelope, rec->envelope_len, &env, &eb) ||
        (c->nkeys && uc_dsse_verify(&env, UC_DSSE_TYPE, c->keys, c->nkeys, NULL, &eb)) ||
        uc_update_decode((const char *)env.payload, env.payload_len, &u, &eb)) {
        problem(c->j, "update %s: %s", rec->id, eb.msg);
    } else {
        for (size_t i = 0; i < u.nfiles; i++)
            check_record_file(c, rec->id, &u.files[i]);
    }
    uc_update_free(&u);
    uc_envelope_free(&env);
    return 0;
}

static void check_updates(struct vf_job *j)
{
    struct upd_ctx c = {.j = j};
    const struct uc_strlist *pk = &j->cli->cfg.publisher_keys;
    c.keys = calloc(pk->n ? pk->n : 1, sizeof(*c.keys));
    for (size_t i = 0; c.keys && i < pk->n; i++) {
        struct uc_errbuf eb = {{0}};
        if (uc_key_load_public(pk->v[i], &c.keys[c.nkeys], &eb) == 0)
            c.nkeys++;
        else
            problem(j, "%s", eb.msg);
    }
    if (uc_index_begin(j->st->ix, false, &c.txn) == 0) {
        uc_index_each_change(j->st->ix, c.txn, 0, check_update, &c);
        uc_index_abort(c.txn);
    }
    for (size_t i = 0; i < c.nkeys; i++)
        uc_key_free(&c.keys[i]);
    free(c.keys);
}

static size_t count_tmp(struct vf_job *j)
{
    DIR *d = fdopendir(dup(j->st->tmp_fd));
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void report_items(struct vf_job *j)
{
    for (size_t i = 0; i < j->n; i++) {
        struct vf_item *it = &j->items[i];
        char path[96];
        uc_content_path(it->rec.sha1, it->rec.suffix, path, sizeof(path));
        if (it->rec.state == UC_FILE_PENDING) {
            printf("pending: %s (to be fetched or ingested again)\n", path);
            j->pending++;
            continue;
        }
        if (it->rec.state == UC_FILE_EVICTED) {
            printf("evicted: %s (absent: removed to make room; its signed record stays)\n", path);
            j->evicted++;
            continue;
        }
        if (it->result == VF_OK)
            continue;
        problem(j, "%s: %s%s", path, it->result == VF_MISSING ? "missing: " : "", it->detail);
        if (!j->repair || it->result == VF_IOERR)
            continue;
        struct uc_errbuf eb = {{0}};
        char reason[512];
        snprintf(reason, sizeof(reason), "verify: %s: %s", path, it->detail);
        if (uc_store_quarantine_published(j->st, &it->rec, reason, &eb))
            printf("  repair failed: %s\n", eb.msg);
        else
            printf("  %s; marked pending\n",
                   it->result == VF_MISSING ? "missing" : "moved to quarantine/");
    }
}

int cmd_verify(struct uc_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"fast", no_argument, 0, 'f'},
                                         {"repair", no_argument, 0, 'r'},
                                         {"config", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    struct vf_job j = {.cli = cli};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'f') {
            j.fast = true;
        } else if (c == 'r') {
            j.repair = true;
        } else if (c == 'c') {
            cli->config_path = optarg;
        } else if (c == 'h') {
            printf("usage: updcache verify [--fast] [--repair] [--config F]\n\n"
                   "Re-check every stored file against the index (SHA-1, SHA-256 and XXH3;\n"
                   "--fast: XXH3 only), look for orphans and unreadable update records.\n"
                   "--repair quarantines bad files and orphans and marks bad files pending.\n"
                   "Exit 0 when the store is consistent, 1 when problems were found.\n");
            return UC_EXIT_OK;
        } else {
            return UC_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        cli_err(cli, "usage: updcache verify [--fast] [--repair]");
        return UC_EXIT_USAGE;
    }
    int ex = cli_open_store(cli, false, !j.repair, &j.st);
    if (ex)
        return ex;
    MDB_txn *txn;
    int rc = uc_index_begin(j.st->ix, false, &txn);
    if (!rc)
        rc = uc_index_each_file(j.st->ix, txn, collect, &j);
    uc_index_abort(txn);
    if (rc) {
        cli_err(cli, "%s/index: %s", j.st->root, uc_strerror(rc));
        free(j.items);
        uc_store_close(j.st);
        return UC_EXIT_FAIL;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < j.n; i++)
        total += j.items[i].rec.state == UC_FILE_PRESENT ? j.items[i].rec.size : 0;
    progress_init(&j.prog, "verify", total, j.n);
    double t0 = cli_now();
    uc_parallel_for(j.n, 0, check_one, tick, &j);
    progress_finish(&j.prog);
    double secs = cli_now() - t0;
    report_items(&j);
    scan_orphans(&j);
    check_updates(&j);
    size_t tmp = count_tmp(&j);
    char b[32];
    fprintf(stderr,
            "updcache verify: %zu files (%s) checked with %s in %.2f s (%.0f MB/s): "
            "%zu problem%s, %zu pending, %zu evicted%s\n",
            j.n, uc_fmt_bytes(total, b, sizeof(b)),
            j.fast ? "XXH3-128" : "SHA-1 + SHA-256 + XXH3-128", secs,
            secs > 0 ? (double)total / secs / 1e6 : 0.0, j.problems, j.problems == 1 ? "" : "s",
            j.pending, j.evicted, j.repair && j.problems ? ", repaired" : "");
    if (tmp)
        fprintf(stderr,
                "updcache verify: %zu file%s in tmp/ (an ingest running or interrupted; "
                "updcache gc removes stale ones)\n",
                tmp, tmp == 1 ? "" : "s");
    free(j.items);
    uc_store_close(j.st);
    return j.problems ? UC_EXIT_FAIL : UC_EXIT_OK;
}
