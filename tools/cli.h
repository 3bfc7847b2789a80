/*
 * What every `updcache` subcommand shares: its name for messages, --config handling,
 * opening the store, and the exit codes of SPEC §11 (0 ok, 1 failed or found problems,
 * 2 usage or configuration error).
 */
#ifndef UC_CLI_H
#define UC_CLI_H

#include "config.h"
#include "store.h"

#include <stdbool.h>

enum { UC_EXIT_OK = 0, UC_EXIT_FAIL = 1, UC_EXIT_USAGE = 2 };

struct uc_cli {
    const char *cmd;         /* subcommand name, for messages */
    const char *config_path; /* --config, or NULL for the default */
    struct uc_config cfg;
    bool cfg_loaded;
};

/* "updcache CMD: message" on stderr. */
void cli_err(const struct uc_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Load the config; on error print every problem and return UC_EXIT_USAGE. */
int cli_load_config(struct uc_cli *cli);
/* Load config (if not yet) and open the store; prints and returns an exit code. */
int cli_open_store(struct uc_cli *cli, bool create, bool readonly, struct uc_store **out);
void cli_done(struct uc_cli *cli);
/* Raise the open-file limit to its hard maximum (add keeps every staged file open). */
void cli_raise_nofile(void);
/* Add to two of the index's counters (stat_*), best effort. */
void cli_count(struct uc_store *st, const char *files_key, uint64_t files, const char *bytes_key,
               uint64_t bytes);
/* Monotonic seconds. */
double cli_now(void);

int cmd_keygen(struct uc_cli *cli, int argc, char **argv);
int cmd_add(struct uc_cli *cli, int argc, char **argv);
int cmd_import(struct uc_cli *cli, int argc, char **argv);
int cmd_ls(struct uc_cli *cli, int argc, char **argv);
int cmd_verify(struct uc_cli *cli, int argc, char **argv);
int cmd_gc(struct uc_cli *cli, int argc, char **argv);
int cmd_mkcert(struct uc_cli *cli, int argc, char **argv);
int cmd_configure_ssl(struct uc_cli *cli, int argc, char **argv);
int cmd_reports(struct uc_cli *cli, int argc, char **argv);
int cmd_sync(struct uc_cli *cli, int argc, char **argv);
int cmd_stats(struct uc_cli *cli, int argc, char **argv);
int cmd_purge(struct uc_cli *cli, int argc, char **argv);

#endif
