/*
 * updcache reports [--since N] [--limit N]: the client reports updcached recorded from
 * POST /ReportingWebService/events and /Inventory/report, one JSON line each, oldest
 * first, with their sequence numbers.
 */
#include "cli.h"
#include "index.h"
#include "strparse.h"

#include <getopt.h>
#include <stdio.h>

struct listing {
    uint64_t limit, n;
};

static int print_one(void *ctx, uint64_t seq, const char *json, size_t len)
{
    struct listing *l = ctx;
    if (l->limit && l->n == l->limit)
        return UC_EBASE; /* enough: stops the walk */
    l->n++;
    printf("{\"seq\":%llu,\"record\":%.*s}\n", (unsigned long long)seq, (int)len, json);
    return 0;
}

int cmd_reports(struct uc_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"since", required_argument, 0, 's'},
                                         {"limit", required_argument, 0, 'l'},
                                         {"config", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    uint64_t since = 0;
    struct listing l = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if ((c == 's' && uc_parse_u64(optarg, &since)) ||
            (c == 'l' && uc_parse_u64(optarg, &l.limit))) {
            cli_err(cli, "--%s takes a number", c == 's' ? "since" : "limit");
            return UC_EXIT_USAGE;
        } else if (c == 'c') {
            cli->config_path = optarg;
        } else if (c == 'h') {
            printf("usage: updcache reports [--since SEQ] [--limit N] [--config F]\n\n"
                   "List client reports recorded by updcached (events and inventory), one\n"
                   "JSON line each: {\"seq\": N, \"record\": {...}}.\n");
            return UC_EXIT_OK;
        } else if (c == '?') {
            return UC_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        cli_err(cli, "usage: updcache reports [--since SEQ] [--limit N]");
        return UC_EXIT_USAGE;
    }
    struct uc_store *st;
    int ex = cli_open_store(cli, false, true, &st);
    if (ex)
        return ex;
    MDB_txn *txn;
    int rc = uc_index_begin(st->ix, false, &txn);
    if (!rc) {
        rc = uc_index_each_report(st->ix, txn, since, print_one, &l);
        uc_index_abort(txn);
    }
    uc_store_close(st);
    if (rc < 0 && rc != UC_EBASE) {
        cli_err(cli, "reading the index: %s", uc_strerror(rc));
        return UC_EXIT_FAIL;
    }
    return UC_EXIT_OK;
}
