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

struct counter {
    const char *key, *name;
    uint64_t v;
};

static int count_report(void *ctx, uint64_t seq, const char *json, size_t len)
{
    (void)seq;
    (void)json;
    (void)len;
    (*(uint64_t *)ctx)++;
    return 0;
}

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
    struct counter cs[] = {
        {NULL, "files", 0},
        {NULL, "updates", 0},
        {"stat_ingest_files", "ingest_files", 0},
        {"stat_ingest_bytes", "ingest_bytes", 0},
        {"stat_sync_runs", "sync_runs", 0},
        {"stat_sync_files", "sync_files", 0},
        {"stat_sync_bytes", "sync_bytes", 0},
        {"stat_verify_failures", "verification_failures", 0},
        {NULL, "reports", 0},
        {"sync_anchor", "sync_anchor", 0},
    };
    size_t n = sizeof(cs) / sizeof(cs[0]);
    MDB_txn *txn;
    int rc = uc_index_begin(st->ix, false, &txn);
    if (!rc) {
        uc_index_counts(st->ix, txn, &cs[0].v, &cs[1].v);
        for (size_t i = 0; i < n; i++)
            if (cs[i].key)
                uc_index_get_u64(st->ix, txn, cs[i].key, &cs[i].v); /* absent: 0 */
        rc = uc_index_each_report(st->ix, txn, 0, count_report, &cs[8].v);
        uc_index_abort(txn);
    }
    uc_store_close(st);
    if (rc) {
        cli_err(cli, "reading the index: %s", uc_strerror(rc));
        return UC_EXIT_FAIL;
    }
    for (size_t i = 0; i < n; i++) {
        if (json)
            printf("%s\"%s\":%llu%s", i ? "," : "{", cs[i].name, (unsigned long long)cs[i].v,
                   i + 1 == n ? "}\n" : "");
        else
            printf("%-22s %llu\n", cs[i].name, (unsigned long long)cs[i].v);
    }
    return UC_EXIT_OK;
}
