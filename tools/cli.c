/*
 * Shared command-line plumbing for the subcommands.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

void cli_err(const struct uc_cli *cli, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "updcache %s: ", cli->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_load_config(struct uc_cli *cli)
{
    if (cli->cfg_loaded)
        return UC_EXIT_OK;
    struct uc_errbuf eb = {{0}};
    int rc = uc_config_load(cli->config_path, &cli->cfg, &eb);
    if (rc) {
        cli_err(cli, "configuration error:\n%s", eb.msg);
        return UC_EXIT_USAGE;
    }
    cli->cfg_loaded = true;
    return UC_EXIT_OK;
}

int cli_open_store(struct uc_cli *cli, bool create, bool readonly, struct uc_store **out)
{
    int ex = cli_load_config(cli);
    if (ex)
        return ex;
    struct uc_errbuf eb = {{0}};
    int rc = uc_store_open(cli->cfg.store, create, readonly, out, &eb);
    if (rc) {
        cli_err(cli, "%s", eb.msg);
        return rc == UC_ESCHEMA ? UC_EXIT_USAGE : UC_EXIT_FAIL;
    }
    if ((rc = uc_index_set_size((*out)->ix, cli->cfg.index_size))) {
        cli_err(cli, "[store] index_size: %s", uc_strerror(rc));
        uc_store_close(*out);
        *out = NULL;
        return UC_EXIT_FAIL;
    }
    (*out)->max_size = cli->cfg.max_size;
    (*out)->min_free_pct = cli->cfg.min_free_pct;
    (*out)->min_free_bytes = cli->cfg.min_free_bytes;
    return UC_EXIT_OK;
}

void cli_done(struct uc_cli *cli)
{
    if (cli->cfg_loaded)
        uc_config_free(&cli->cfg);
    cli->cfg_loaded = false;
}

void cli_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_count(struct uc_store *st, const char *files_key, uint64_t files, const char *bytes_key,
               uint64_t bytes)
{
    MDB_txn *txn;
    if (uc_index_begin(st->ix, true, &txn))
        return; /* counters are best effort: the published data is what matters */
    int rc = uc_index_add_u64(st->ix, txn, files_key, files);
    if (!rc)
        rc = uc_index_add_u64(st->ix, txn, bytes_key, bytes);
    if (rc)
        uc_index_abort(txn);
    else
        uc_index_commit(txn);
}
