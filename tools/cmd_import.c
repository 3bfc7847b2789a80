/*
 * updcache import DIR: seed the store from a WSUS content folder, DIR/XX/<SHA1><ext>.
 * A file is imported only if its SHA-1 equals its name and XX its last two digits;
 * anything else is refused with the expected and actual digest, and the rest goes on
 * (exit 1 at the end if anything was refused). The source folder is never changed.
 * Work runs in batches so a folder of any size needs bounded memory and descriptors.
 */
#include "cli.h"
#include "parallel.h"
#include "progress.h"
#include "strparse.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH_FILES 64
#define BATCH_BYTES ((uint64_t)1 << 30)

struct imp_item {
    char *path;
    uint8_t sha1[UC_SHA1_LEN]; /* from the name */
    char suffix[UC_SUFFIX_MAX];
    uint64_t size;
    bool skip; /* already present */
    struct uc_staged st;
    int rc;
    struct uc_errbuf eb;
};

struct imp_job {
    struct uc_cli *cli;
    struct uc_store *store;
    struct imp_item *items; /* all files found */
    size_t n, cap;
    size_t refused, imported, present;
    struct uc_progress prog;
    size_t lo, hi; /* current batch */
};

static void help(void)
{
    printf("usage: updcache import [--config F] DIR\n\n"
           "Import a WSUS content folder (DIR/XX/<SHA1>.<ext>, e.g. WsusContent). Each file's\n"
           "SHA-1 must equal its name; files that do not match are refused and reported.\n"
           "Exit 0 when everything was imported (or already present), 1 if any was refused.\n");
}

static int add_item(struct imp_job *j, const char *path, const uint8_t *sha1, const char *suffix,
                    uint64_t size)
{
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 256;
        struct imp_item *ni = realloc(j->items, cap * sizeof(*ni));
        if (!ni)
            return -ENOMEM;
        j->items = ni;
        j->cap = cap;
    }
    struct imp_item *it = &j->items[j->n];
    memset(it, 0, sizeof(*it));
    it->path = strdup(path);
    if (!it->path)
        return -ENOMEM;
    memcpy(it->sha1, sha1, UC_SHA1_LEN);
    snprintf(it->suffix, sizeof(it->suffix), "%s", suffix);
    it->size = size;
    it->st.fd = -1;
    j->n++;
    return 0;
}

static void scan_folder(struct imp_job *j, const char *dir, const char *xx)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, xx);
    DIR *d = opendir(path);
    if (!d) {
        cli_err(j->cli, "%s: %s", path, strerror(errno));
        j->refused++;
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char fpath[PATH_MAX];
        struct stat sb;
        if ((size_t)snprintf(fpath, sizeof(fpath), "%s/%s", path, e->d_name) >= sizeof(fpath)) {
            cli_err(j->cli, "%s/%s: path too long; skipped", path, e->d_name);
            j->refused++;
            continue;
        }
        uint8_t sha1[UC_SHA1_LEN];
        char suffix[UC_SUFFIX_MAX];
        if (stat(fpath, &sb) || !S_ISREG(sb.st_mode)) {
            cli_err(j->cli, "%s: not a regular file; skipped", fpath);
            j->refused++;
        } else if (!uc_content_name_parse(xx, e->d_name, sha1, suffix)) {
            cli_err(j->cli,
                    "%s: not a WSUS content name (XX/<40 hex SHA-1>.<ext>, XX = last "
                    "two digits); refused",
                    fpath);
            j->refused++;
        } else if (add_item(j, fpath, sha1, suffix, (uint64_t)sb.st_size)) {
            cli_err(j->cli, "out of memory");
            j->refused++;
        }
    }
    closedir(d);
}

static int scan(struct imp_job *j, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        cli_err(j->cli, "%s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[PATH_MAX];
        struct stat sb;
        if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) >= sizeof(p))
            continue;
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode) && strlen(e->d_name) == 2 &&
            isxdigit((unsigned char)e->d_name[0]) && isxdigit((unsigned char)e->d_name[1])) {
            scan_folder(j, dir, e->d_name);
        } else {
            cli_err(j->cli, "%s: not a content folder XX/; skipped", p);
            j->refused++;
        }
    }
    closedir(d);
    return 0;
}

static void stage_one(void *ctx, size_t k)
{
    struct imp_job *j = ctx;
    struct imp_item *it = &j->items[j->lo + k];
    if (it->skip)
        return;
    it->rc =
        uc_store_stage_path(j->store, it->path, it->suffix, &it->st, &j->prog.done_bytes, &it->eb);
    if (!it->rc && memcmp(it->st.dg.sha1, it->sha1, UC_SHA1_LEN)) {
        char want[41], got[41];
        uc_hex_encode(it->sha1, UC_SHA1_LEN, want, true);
        uc_hex_encode(it->st.dg.sha1, UC_SHA1_LEN, got, true);
        it->rc = uc_errf(&it->eb, UC_EDIGEST,
                         "%s: SHA-1 mismatch: expected %s (from its name), "
                         "actual %s; not imported (the file is damaged or misnamed)",
                         it->path, want, got);
        uc_store_discard(j->store, &it->st);
    }
    if (!it->rc)
        it->rc = uc_store_sync_staged(j->store, &it->st, &it->eb);
    atomic_fetch_add(&j->prog.done_items, 1);
}

static void tick(void *ctx)
{
    progress_tick(&((struct imp_job *)ctx)->prog);
}

/* Skip files already PRESENT: a re-run after an interruption redoes only the rest. */
static void mark_present(struct imp_job *j)
{
    MDB_txn *txn;
    if (uc_index_begin(j->store->ix, false, &txn))
        return;
    for (size_t i = 0; i < j->n; i++) {
        struct uc_file_rec rec;
        if (uc_index_get_file(j->store->ix, txn, j->items[i].sha1, &rec) == 0 &&
            rec.state == UC_FILE_PRESENT) {
            j->items[i].skip = true;
            j->present++;
            atomic_fetch_add(&j->prog.done_bytes, j->items[i].size);
            atomic_fetch_add(&j->prog.done_items, 1);
        }
    }
    uc_index_abort(txn);
}

static int run_batch(struct imp_job *j)
{
    /* Two stagers per core: while one waits on a direct write, the other hashes. */
    uc_parallel_for(j->hi - j->lo, 2 * uc_ncpu(), stage_one, tick, j);
    struct uc_staged staged[BATCH_FILES];
    size_t ns = 0;
    for (size_t i = j->lo; i < j->hi; i++) {
        struct imp_item *it = &j->items[i];
        if (it->skip)
            continue;
        if (it->rc) {
            if (j->prog.tty && j->prog.drawn)
                fputc('\n', stderr);
            cli_err(j->cli, "%s", it->eb.msg);
            uc_store_discard(j->store, &it->st);
            j->refused++;
            continue;
        }
        staged[ns++] = it->st;
        it->st.fd = -1;
    }
    if (!ns)
        return 0;
    struct uc_errbuf eb = {{0}};
    uint64_t bytes = 0;
    for (size_t i = 0; i < ns; i++)
        bytes += staged[i].dg.size;
    if (uc_store_publish(j->store, staged, ns, NULL, NULL, &eb)) {
        cli_err(j->cli, "%s", eb.msg);
        return -1;
    }
    cli_count(j->store, "stat_ingest_files", ns, "stat_ingest_bytes", bytes);
    j->imported += ns;
    return 0;
}

int cmd_import(struct uc_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'c') {
            cli->config_path = optarg;
        } else if (c == 'h') {
            help();
            return UC_EXIT_OK;
        } else {
            return UC_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_err(cli, "usage: updcache import [--config F] DIR");
        return UC_EXIT_USAGE;
    }
    struct imp_job j = {.cli = cli};
    int ex = cli_open_store(cli, true, false, &j.store);
    if (ex)
        return ex;
    ex = UC_EXIT_FAIL;
    if (scan(&j, argv[optind]) == 0) {
        uint64_t total = 0;
        for (size_t i = 0; i < j.n; i++)
            total += j.items[i].size;
        struct uc_errbuf eb = {{0}};
        progress_init(&j.prog, "import", total, j.n);
        mark_present(&j);
        uint64_t need = 0;
        for (size_t i = 0; i < j.n; i++)
            need += j.items[i].skip ? 0 : j.items[i].size;
        int rc = uc_store_check_space(j.store, need, &eb);
        if (rc)
            cli_err(cli, "%s", eb.msg);
        for (j.lo = 0; !rc && j.lo < j.n; j.lo = j.hi) {
            uint64_t bytes = 0;
            for (j.hi = j.lo; j.hi < j.n && j.hi - j.lo < BATCH_FILES && bytes < BATCH_BYTES;
                 j.hi++)
                bytes += j.items[j.hi].size;
            rc = run_batch(&j);
        }
        progress_finish(&j.prog);
        fprintf(stderr, "updcache import: %zu imported, %zu already present, %zu refused\n",
                j.imported, j.present, j.refused);
        ex = (rc || j.refused) ? UC_EXIT_FAIL : UC_EXIT_OK;
    }
    for (size_t i = 0; i < j.n; i++)
        free(j.items[i].path);
    free(j.items);
    uc_store_close(j.store);
    return ex;
}
