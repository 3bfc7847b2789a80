/*
 * updcache import DIR: seed the store from a WSUS content folder, DIR/XX/<SHA1><ext>.
 * A file is imported only if its SHA-1 equals its name and XX its last two digits;
 * anything else is refused with the expected and actual digest, and the rest goes on
 * (exit 1 at the end if anything was refused). A file whose SHA-1 is stored already
 * is hashed too: it is "already present" only with the same size and SHA-256, and a
 * SHA-1 collision is refused; two files in the folder with one SHA-1 (under two
 * extensions) import the first by name and refuse the other. Links are not followed.
 * The source folder is never changed.
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
    bool known;  /* the index has a record of this SHA-1 (rec) */
    bool stored; /* ... and it is PRESENT: hash and compare, do not copy */
    struct uc_file_rec rec;
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
        if (lstat(fpath, &sb) || !S_ISREG(sb.st_mode)) {
            cli_err(j->cli, "%s: not a regular file%s; skipped", fpath,
                    S_ISLNK(sb.st_mode) ? " (a symbolic link: import reads no links)" : "");
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
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode) && strlen(e->d_name) == 2 &&
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

static void refuse_digest(struct imp_item *it, const char *what, const uint8_t *want,
                          const uint8_t *got, size_t len, const char *why)
{
    char w[65], g[65];
    uc_hex_encode(want, len, w, len == UC_SHA1_LEN);
    uc_hex_encode(got, len, g, len == UC_SHA1_LEN);
    it->rc = uc_errf(&it->eb, len == UC_SHA1_LEN ? UC_EDIGEST : UC_ECONFLICT,
                     "%s: %s mismatch: expected %s (%s), actual %s; not imported", it->path, what,
                     w, why, g);
}

/* A SHA-1 the store has: the same file only if size and SHA-256 match what is stored. */
static void compare_stored(struct imp_job *j, struct imp_item *it, int fd)
{
    struct uc_digest dg;
    int rc = uc_hash_fd(fd, UC_HASH_ALL, &dg, &j->prog.done_bytes);
    if (rc) {
        it->rc = uc_errf(&it->eb, rc, "%s: read: %s", it->path, uc_strerror(rc));
    } else if (memcmp(dg.sha1, it->sha1, UC_SHA1_LEN)) {
        refuse_digest(it, "SHA-1", it->sha1, dg.sha1, UC_SHA1_LEN,
                      "from its name; the file is damaged or misnamed");
    } else if (!uc_file_same(&it->rec, dg.size, dg.sha256)) {
        refuse_digest(it, "SHA-256", it->rec.sha256, dg.sha256, UC_SHA256_LEN,
                      "of the stored file with this SHA-1: a SHA-1 collision");
    } else if (strcmp(it->rec.suffix, it->suffix)) {
        char path[96];
        uc_content_path(it->rec.sha1, it->rec.suffix, path, sizeof(path));
        fprintf(stderr, "updcache import: %s: already present as %s (the same bytes)\n", it->path,
                path);
    }
}

static void stage_one(void *ctx, size_t k)
{
    struct imp_job *j = ctx;
    struct imp_item *it = &j->items[j->lo + k];
    if (it->rc)
        return;
    int fd = open(it->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        it->rc = uc_errf(&it->eb, -errno, "%s: %s", it->path, strerror(errno));
    } else if (it->stored) {
        compare_stored(j, it, fd);
    } else {
        it->rc = uc_store_stage(j->store, fd, it->path, it->suffix, &it->st, &j->prog.done_bytes,
                                &it->eb);
        if (!it->rc && memcmp(it->st.dg.sha1, it->sha1, UC_SHA1_LEN)) {
            refuse_digest(it, "SHA-1", it->sha1, it->st.dg.sha1, UC_SHA1_LEN,
                          "from its name; the file is damaged or misnamed");
        } else if (!it->rc && it->known &&
                   !uc_file_same(&it->rec, it->st.dg.size, it->st.dg.sha256)) {
            refuse_digest(it, "SHA-256", it->rec.sha256, it->st.dg.sha256, UC_SHA256_LEN,
                          "of the file a signed record expects under this SHA-1: a SHA-1 "
                          "collision");
        }
        if (it->rc)
            uc_store_discard(j->store, &it->st);
        if (!it->rc)
            it->rc = uc_store_sync_staged(j->store, &it->st, &it->eb);
    }
    if (fd >= 0)
        close(fd);
    atomic_fetch_add(&j->prog.done_items, 1);
}

static void tick(void *ctx)
{
    progress_tick(&((struct imp_job *)ctx)->prog);
}

/* Files whose SHA-1 is PRESENT are compared, not copied: a re-run redoes only the rest. */
static void mark_stored(struct imp_job *j)
{
    MDB_txn *txn;
    if (uc_index_begin(j->store->ix, false, &txn))
        return;
    for (size_t i = 0; i < j->n; i++) {
        struct imp_item *it = &j->items[i];
        it->known = uc_index_get_file(j->store->ix, txn, it->sha1, &it->rec) == 0 &&
                    it->rec.state != UC_FILE_QUARANTINED;
        it->stored = it->known && it->rec.state == UC_FILE_PRESENT;
    }
    uc_index_abort(txn);
}

static int by_sha1_path(const void *a, const void *b)
{
    const struct imp_item *x = a, *y = b;
    int c = memcmp(x->sha1, y->sha1, UC_SHA1_LEN);
    return c ? c : strcmp(x->path, y->path);
}

/* One SHA-1 under two names (XX/<S>.cab and XX/<S>.exe): the store keeps one file per
 * SHA-1, so the first name is imported and the others are refused up front. */
static void refuse_second_names(struct imp_job *j)
{
    qsort(j->items, j->n, sizeof(*j->items), by_sha1_path);
    for (size_t i = 1; i < j->n; i++) {
        struct imp_item *first = &j->items[i - 1], *it = &j->items[i];
        if (memcmp(first->sha1, it->sha1, UC_SHA1_LEN))
            continue;
        while (first > j->items && !memcmp(first[-1].sha1, it->sha1, UC_SHA1_LEN))
            first--;
        it->rc = uc_errf(&it->eb, UC_EEXIST,
                         "%s: not imported: %s has the same SHA-1 and is imported instead (a "
                         "store keeps one file per SHA-1; remove or rename the duplicate)",
                         it->path, first->path);
        atomic_fetch_add(&j->prog.done_bytes, it->size);
    }
}

static int run_batch(struct imp_job *j)
{
    /* Two stagers per core: while one waits on a direct write, the other hashes. */
    uc_parallel_for(j->hi - j->lo, 2 * uc_ncpu(), stage_one, tick, j);
    struct uc_staged staged[BATCH_FILES];
    size_t ns = 0;
    for (size_t i = j->lo; i < j->hi; i++) {
        struct imp_item *it = &j->items[i];
        if (it->rc) {
            if (j->prog.tty && j->prog.drawn)
                fputc('\n', stderr);
            cli_err(j->cli, "%s", it->eb.msg);
            uc_store_discard(j->store, &it->st);
            j->refused++;
            continue;
        }
        if (it->stored) {
            j->present++;
            continue;
        }
        staged[ns++] = it->st;
        it->st.fd = -1;
        it->st.blocks = NULL;
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
        refuse_second_names(&j);
        mark_stored(&j);
        uint64_t need = 0;
        for (size_t i = 0; i < j.n; i++)
            need += j.items[i].stored || j.items[i].rc ? 0 : j.items[i].size;
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
