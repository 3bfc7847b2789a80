/*
 * `updcache`: the command-line tool that fills and checks a store (SPEC §7).
 *
 *   updcache keygen --out pub.key
 *   updcache add --key pub.key --title "Demo" file.cab
 *   updcache ls && updcache verify
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*run)(struct uc_cli *cli, int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"keygen", cmd_keygen, "make an Ed25519 publisher key pair, print its key id"},
    {"add", cmd_add, "publish local files as one signed update"},
    {"import", cmd_import, "seed the store from a WSUS content folder (XX/<SHA1>.<ext>)"},
    {"ls", cmd_ls, "list updates and files"},
    {"verify", cmd_verify, "re-verify every stored file (--fast: XXH3 only; --repair)"},
    {"gc", cmd_gc, "remove orphans and leftovers, prune old reports, evict down to max_size"},
    {"purge", cmd_purge, "drop the bytes of files (SHA1... or --update ID) until fetched again"},
    {"mkcert", cmd_mkcert, "make a private CA and a server certificate for a name"},
    {"configure-ssl", cmd_configure_ssl,
     "set the TLS name, certificate and port; the running daemon takes them"},
    {"stats", cmd_stats, "the store's counters (records, ingest, sync, failures, reports)"},
    {"reports", cmd_reports, "list the client reports updcached recorded"},
    {"sync", cmd_sync, "fetch, verify and publish what the upstream has (a downstream)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: updcache SUBCOMMAND [--config F] [options] [args]\n\n"
                 "subcommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\nThe config defaults to %s (defaults apply if it does not exist).\n"
            "Run 'updcache SUBCOMMAND --help' for a subcommand's options;\n"
            "'updcache --version' prints the version.\n"
            "Exit codes: 0 success, 1 failure or problems found, 2 usage or config "
            "error.\n",
            UC_CONFIG_DEFAULT);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return UC_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return UC_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("updcache %s\n", UC_VERSION);
        return UC_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name))
            continue;
        struct uc_cli cli = {.cmd = commands[i].name};
        int ex = commands[i].run(&cli, argc - 1, argv + 1);
        cli_done(&cli);
        return ex;
    }
    fprintf(stderr, "updcache: unknown subcommand '%s'\n\n", argv[1]);
    usage(stderr);
    return UC_EXIT_USAGE;
}
