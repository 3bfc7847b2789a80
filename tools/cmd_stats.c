/*
 * updcache stats [--json]: the store's counters as the index keeps them: records, what
 * add/import and sync published, verification failures, client reports, the sync
 * anchor. The daemon's live counters (requests, bytes, cache hits) are at
 * /APIRemoting30/stats and /metrics.
 */
#include "cli.h"
#include "index.h"

#include <getopt.h>
#include <stdio.h>

int cmd_stats(struct uc_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"config", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j') {
            json = true;
        } else if (c == 'c') {
            cli->config_path = optarg;
        } else if (c == 'h') {
            printf("usage: updcache stats [--json] [--config F]\n\n"
                   "The store's counters: file and update records, what ingest and sync\n"
                   "published, verification failures, client reports, the sync anchor.\n");
            return UC_EXIT_OK;
        } else {
            return UC_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        cli_err(cli, "usage: updcache stats [--json]");
        return UC_EXIT_USAGE;
    }
    struct uc_store *st;
    int ex = cli_open_store(cli, false, true, &st);
    if (ex)
        return ex;
    struct uc_store_stats v;
    MDB_txn *txn;
    int rc = uc_index_begin(st->ix, false, &txn);
    if (!rc) {
        uc_index_read_stats(st->ix, txn, &v);
        uc_index_abort(txn);
    }
    uc_store_close(st);
    if (rc) {
        cli_err(cli, "reading the index: %s", uc_strerror(rc));
        return UC_EXIT_FAIL;
    }
    const struct {
        const char *name;
        uint64_t v;
    } cs[] = {{"files", v.files},
              {"updates", v.updates},
              {"ingest_files", v.ingest_files},
              {"ingest_bytes", v.ingest_bytes},
              {"sync_runs", v.sync_runs},
              {"sync_files", v.sync_files},
              {"sync_bytes", v.sync_bytes},
              {"sync_last_run", v.sync_last},
              {"verification_failures", v.verify_failures},
              {"reports", v.reports},
              {"content_bytes", v.content_bytes},
              {"origin_bytes", v.content_bytes - v.evictable_bytes},
              {"evictable_bytes", v.evictable_bytes},
              {"max_size", cli->cfg.max_size},
              {"evictions", v.evictions},
              {"evicted_bytes", v.evicted_bytes},
              {"sync_anchor", v.sync_anchor}};
    size_t n = sizeof(cs) / sizeof(cs[0]);
    for (size_t i = 0; i < n; i++) {
        if (json)
            printf("%s\"%s\":%llu%s", i ? "," : "{", cs[i].name, (unsigned long long)cs[i].v,
                   i + 1 == n ? "}\n" : "");
        else
            printf("%-22s %llu\n", cs[i].name, (unsigned long long)cs[i].v);
    }
    return UC_EXIT_OK;
}
