/*
 * updcache ls [--files]: the updates in change order with their files, or (--files)
 * every file record with its state, digests and content path, one per line,
 * tab-separated so scripts can cut it.
 */
#include "cli.h"
#include "dsse.h"
#include "strparse.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *state_name(enum uc_file_state s)
{
    switch (s) {
    case UC_FILE_PRESENT:
        return "present";
    case UC_FILE_PENDING:
        return "pending";
    case UC_FILE_QUARANTINED:
        return "quarantined";
    case UC_FILE_EVICTED:
        return "evicted";
    }
    return "unknown";
}

static int print_file(void *ctx, const struct uc_file_rec *r)
{
    (void)ctx;
    char s1[41], s256[65], path[96];
    uc_hex_encode(r->sha1, UC_SHA1_LEN, s1, true);
    uc_hex_encode(r->sha256, UC_SHA256_LEN, s256, false);
    uc_content_path(r->sha1, r->suffix, path, sizeof(path));
    char used[32];
    time_t t = (time_t)r->atime;
    strftime(used, sizeof(used), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    printf("%s\t%s\t%s\t%llu\t%s\t%s\t%s\n", state_name(r->state), s1, s256,
           (unsigned long long)r->size, path, r->evictable ? "evictable" : "origin", used);
    return 0;
}

struct ls_ctx {
    struct uc_store *st;
    MDB_txn *txn;
};

static int print_update(void *vctx, const struct uc_update_rec *rec)
{
    struct ls_ctx *ctx = vctx;
    struct uc_envelope env = {0};
    struct uc_update u = {0};
    struct uc_errbuf eb = {{0}};
    if (uc_dsse_parse(rec->envelope, rec->envelope_len, &env, &eb) ||
        uc_update_decode((const char *)env.payload, env.payload_len, &u, &eb)) {
        printf("%llu\t%s\t(unreadable record: %s)\n", (unsigned long long)rec->seq, rec->id,
               eb.msg);
        uc_envelope_free(&env);
        return 0;
    }
    uint64_t bytes = 0;
    for (size_t i = 0; i < u.nfiles; i++)
        bytes += u.files[i].size;
    char b[32];
    printf("%llu\t%s\tr%llu\t%s\t%s\t%s\t%zu files, %s\n", (unsigned long long)rec->seq, u.id,
           (unsigned long long)u.revision, u.published, u.classification, u.title, u.nfiles,
           uc_fmt_bytes(bytes, b, sizeof(b)));
    for (size_t i = 0; i < u.nfiles; i++) {
        struct uc_file_rec fr;
        const char *state = "missing";
        if (uc_index_get_file(ctx->st->ix, ctx->txn, u.files[i].sha1, &fr) == 0)
            state = state_name(fr.state);
        char path[96];
        uc_content_path(u.files[i].sha1, u.files[i].suffix, path, sizeof(path));
        printf("\t%s\t%llu\t%s\t%s\n", path, (unsigned long long)u.files[i].size, state,
               u.files[i].name);
    }
    uc_update_free(&u);
    uc_envelope_free(&env);
    return 0;
}

int cmd_ls(struct uc_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"files", no_argument, 0, 'f'},
                                         {"config", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    bool files = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'f') {
            files = true;
        } else if (c == 'c') {
            cli->config_path = optarg;
        } else if (c == 'h') {
            printf("usage: updcache ls [--files] [--config F]\n\n"
                   "List updates (seq, id, revision, published, classification, title) with\n"
                   "their files, or with --files every file: state, SHA-1, SHA-256, size, path,\n"
                   "origin or evictable, and when it was last served (or published).\n");
            return UC_EXIT_OK;
        } else {
            return UC_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        cli_err(cli, "usage: updcache ls [--files]");
        return UC_EXIT_USAGE;
    }
    struct ls_ctx ctx = {0};
    int ex = cli_open_store(cli, false, true, &ctx.st);
    if (ex)
        return ex;
    int rc = uc_index_begin(ctx.st->ix, false, &ctx.txn);
    if (!rc)
        rc = files ? uc_index_each_file(ctx.st->ix, ctx.txn, print_file, NULL)
                   : uc_index_each_change(ctx.st->ix, ctx.txn, 0, print_update, &ctx);
    uc_index_abort(ctx.txn);
    if (rc)
        cli_err(cli, "%s/index: %s", ctx.st->root, uc_strerror(rc));
    uc_store_close(ctx.st);
    return rc ? UC_EXIT_FAIL : UC_EXIT_OK;
}
