/*
 * updcache purge SHA1... | --update ID [--force]: drop the bytes of files now (a corrupt
 * upstream release, a withdrawn update). Their signed records stay and they are marked
 * pending, so they answer 404 until the next sync (or a fill) brings them back. Origin
 * files (published here by add or import, which no upstream can give again) only with
 * --force. Prints what it removed; exit 1 if anything was refused.
 */
#include "cli.h"
#include "dsse.h"
#include "evict.h"
#include "strparse.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct purge_job {
    struct uc_cli *cli;
    struct uc_store *st;
    bool force;
    size_t removed, refused;
    uint64_t bytes;
};

static void purge_one(struct purge_job *j, const uint8_t sha1[UC_SHA1_LEN])
{
    struct uc_file_rec rec;
    struct uc_errbuf eb = {{0}};
    if (uc_evict_purge(j->st, sha1, j->force, &rec, &eb)) {
        cli_err(j->cli, "%s", eb.msg);
        j->refused++;
        return;
    }
    char path[96], b[32];
    uc_content_path(rec.sha1, rec.suffix, path, sizeof(path));
    printf("purged %s (%s, %s)\n", path, uc_fmt_bytes(rec.size, b, sizeof(b)),
           rec.evictable ? "from the upstream: the next sync fetches it again"
                         : "the origin copy: publish it again to serve it");
    j->removed++;
    j->bytes += rec.size;
}

/* The files of update id, from its stored record. */
static int update_files(struct purge_job *j, const char *id_arg, struct uc_update *u)
{
    char id[UC_UUID_LEN + 1];
    if (uc_uuid_normalize(id_arg, id)) {
        cli_err(j->cli, "--update %s: not a UUID", id_arg);
        return UC_EXIT_USAGE;
    }
    MDB_txn *txn = NULL;
    struct uc_update_rec rec;
    struct uc_envelope env = {0};
    struct uc_errbuf eb = {{0}};
    int rc = uc_index_begin(j->st->ix, false, &txn);
    if (!rc)
        rc = uc_index_get_update(j->st->ix, txn, id, &rec);
    if (!rc)
        rc = uc_dsse_parse(rec.envelope, rec.envelope_len, &env, &eb);
    if (!rc)
        rc = uc_update_decode((const char *)env.payload, env.payload_len, u, &eb);
    uc_envelope_free(&env);
    uc_index_abort(txn);
    if (rc)
        cli_err(j->cli, "update %s: %s", id,
                rc == UC_ENOTFOUND ? "no such update in this store" : eb.msg);
    return rc ? UC_EXIT_FAIL : UC_EXIT_OK;
}

int cmd_purge(struct uc_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"update", required_argument, 0, 'u'},
                                         {"force", no_argument, 0, 'f'},
                                         {"config", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    struct purge_job j = {.cli = cli};
    const char *update = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'u') {
            update = optarg;
        } else if (c == 'f') {
            j.force = true;
        } else if (c == 'c') {
            cli->config_path = optarg;
        } else if (c == 'h') {
            printf("usage: updcache purge [--force] [--config F] SHA1... | --update ID\n\n"
                   "Drop the bytes of files now; they answer 404 until the next sync (or a\n"
                   "fill) fetches them again. Origin files (add, import) only with --force.\n");
            return UC_EXIT_OK;
        } else {
            return UC_EXIT_USAGE;
        }
    }
    if ((update != NULL) == (optind < argc)) {
        cli_err(cli, "usage: updcache purge [--force] SHA1... | --update ID (see --help)");
        return UC_EXIT_USAGE;
    }
    uint8_t(*sha1s)[UC_SHA1_LEN] = calloc((size_t)(argc - optind) + 1, UC_SHA1_LEN);
    for (int i = optind; sha1s && i < argc; i++)
        if (strlen(argv[i]) != 40 || uc_hex_decode(argv[i], 40, sha1s[i - optind], UC_SHA1_LEN)) {
            cli_err(cli, "%s: not a SHA-1 (40 hex digits)", argv[i]);
            free(sha1s);
            return UC_EXIT_USAGE;
        }
    int ex = sha1s ? cli_open_store(cli, false, false, &j.st) : UC_EXIT_FAIL;
    struct uc_update u = {0};
    if (!ex && update)
        ex = update_files(&j, update, &u);
    for (size_t i = 0; !ex && update && i < u.nfiles; i++)
        purge_one(&j, u.files[i].sha1);
    for (int i = optind; !ex && i < argc; i++)
        purge_one(&j, sha1s[i - optind]);
    if (!ex) {
        char b[32];
        fprintf(stderr, "updcache purge: %zu file(s), %s removed; %zu refused\n", j.removed,
                uc_fmt_bytes(j.bytes, b, sizeof(b)), j.refused);
        ex = j.refused ? UC_EXIT_FAIL : UC_EXIT_OK;
    }
    uc_update_free(&u);
    free(sha1s);
    uc_store_close(j.st);
    return ex;
}
