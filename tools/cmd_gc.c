/*
 * updcache gc [--dry-run]: remove what no one will use.
 *
 *  - tmp/ files of ingests that are no longer running: a live ingest holds an flock on
 *    its file, so gc takes only files whose lock it can get.
 *  - orphans under Content/: files the index does not name. Each candidate is checked
 *    again in a fresh read transaction just before removal, because an ingest records a
 *    file as PENDING before it renames it into Content/.
 *
 *  - client reports older than [store] reports_keep, and the oldest beyond their share
 *    of the index map (the daemon prunes the same way as it writes them).
 *
 *  - evictable files, least recently used first, while the content is above [store]
 *    max_size or the free space below min_free (evict.h); the content counters are
 *    counted afresh first, so a drift cannot make gc evict too much or too little.
 */
#include "cli.h"
#include "evict.h"
#include "strparse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct gc_job {
    struct uc_cli *cli;
    struct uc_store *st;
    bool dry;
    size_t removed, failed;
    uint64_t bytes;
};

static void clean_tmp(struct gc_job *j)
{
    DIR *d = fdopendir(dup(j->st->tmp_fd));
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int fd = openat(j->st->tmp_fd, e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue;
        struct stat sb;
        bool stale = flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &sb) == 0;
        if (stale) {
            printf("%s tmp/%s (%llu bytes, interrupted ingest)\n",
                   j->dry ? "would remove" : "removed", e->d_name, (unsigned long long)sb.st_size);
            if (!j->dry && unlinkat(j->st->tmp_fd, e->d_name, 0)) {
                cli_err(j->cli, "tmp/%s: %s", e->d_name, strerror(errno));
                j->failed++;
            } else {
                j->removed++;
                j->bytes += (uint64_t)sb.st_size;
            }
        }
        close(fd);
    }
    if (d)
        closedir(d);
}

static void clean_orphans(struct gc_job *j)
{
    for (int x = 0; x < 256; x++) {
        char xx[3];
        snprintf(xx, sizeof(xx), "%02X", x);
        int dfd = openat(j->st->content_fd, xx, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        if (!d) {
            if (dfd >= 0)
                close(dfd);
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.' || uc_store_entry_expected(j->st, xx, e->d_name))
                continue;
            struct stat sb;
            if (fstatat(dfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) || !S_ISREG(sb.st_mode))
                continue;
            printf("%s Content/%s/%s (%llu bytes, not in the index)\n",
                   j->dry ? "would remove" : "removed", xx, e->d_name,
                   (unsigned long long)sb.st_size);
            if (!j->dry && unlinkat(dfd, e->d_name, 0)) {
                cli_err(j->cli, "Content/%s/%s: %s", xx, e->d_name, strerror(errno));
                j->failed++;
                continue;
            }
            j->removed++;
            j->bytes += (uint64_t)sb.st_size;
        }
        closedir(d);
    }
}

static void prune_reports(struct gc_job *j)
{
    MDB_txn *txn;
    size_t n = 0;
    int64_t before = (int64_t)time(NULL) - (int64_t)j->cli->cfg.reports_keep;
    int rc = uc_index_begin(j->st->ix, true, &txn);
    if (!rc)
        rc = uc_index_prune_reports(j->st->ix, txn, before,
                                    uc_index_map_size(j->st->ix) / UC_INDEX_REPORTS_SHARE, &n);
    if (!rc && !j->dry)
        rc = uc_index_commit(txn);
    else
        uc_index_abort(txn);
    if (rc) {
        cli_err(j->cli, "%s/index: pruning client reports: %s", j->st->root, uc_strerror(rc));
        j->failed++;
    } else if (n) {
        printf("%s %zu client report%s (older than [store] reports_keep, or past their share "
               "of the index)\n",
               j->dry ? "would prune" : "pruned", n, n == 1 ? "" : "s");
    }
}

static void evict_down(struct gc_job *j)
{
    MDB_txn *txn;
    struct uc_store_stats before, after;
    struct uc_errbuf eb = {{0}};
    int rc = uc_index_begin(j->st->ix, true, &txn);
    if (!rc) {
        rc = uc_evict_recount(j->st, txn);
        uc_index_read_stats(j->st->ix, txn, &before);
        if (!rc)
            rc = uc_index_commit(txn);
        else
            uc_index_abort(txn);
    }
    if (rc) {
        cli_err(j->cli, "%s/index: counting the content: %s", j->st->root, uc_strerror(rc));
        j->failed++;
    } else if ((rc = uc_evict_make_room(j->st, 0, UC_ROOM_CAP | UC_ROOM_FLOOR, &eb))) {
        cli_err(j->cli, "%s", eb.msg);
        j->failed++;
    }
    if (!rc && !uc_index_begin(j->st->ix, false, &txn)) {
        uc_index_read_stats(j->st->ix, txn, &after);
        uc_index_abort(txn);
        char b[32];
        if (after.evictions > before.evictions)
            printf("evicted %llu file(s), %s (least recently used, to keep [store] max_size "
                   "and min_free)\n",
                   (unsigned long long)(after.evictions - before.evictions),
                   uc_fmt_bytes(after.evicted_bytes - before.evicted_bytes, b, sizeof(b)));
    }
}

int cmd_gc(struct uc_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"dry-run", no_argument, 0, 'n'},
                                         {"config", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    struct gc_job j = {.cli = cli};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'n') {
            j.dry = true;
        } else if (c == 'c') {
            cli->config_path = optarg;
        } else if (c == 'h') {
            printf("usage: updcache gc [--dry-run] [--config F]\n\n"
                   "Remove leftovers of interrupted ingests from tmp/ and orphan files under\n"
                   "Content/ that the index does not name; prune client reports older than\n"
                   "[store] reports_keep. --dry-run only lists them.\n");
            return UC_EXIT_OK;
        } else {
            return UC_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        cli_err(cli, "usage: updcache gc [--dry-run]");
        return UC_EXIT_USAGE;
    }
    int ex = cli_open_store(cli, false, false, &j.st);
    if (ex)
        return ex;
    clean_tmp(&j);
    clean_orphans(&j);
    prune_reports(&j);
    if (!j.dry)
        evict_down(&j);
    char b[32];
    fprintf(stderr, "updcache gc: %s %zu file%s, %s%s\n", j.dry ? "would remove" : "removed",
            j.removed, j.removed == 1 ? "" : "s", uc_fmt_bytes(j.bytes, b, sizeof(b)),
            j.failed ? " (some could not be removed)" : "");
    uc_store_close(j.st);
    return j.failed ? UC_EXIT_FAIL : UC_EXIT_OK;
}
