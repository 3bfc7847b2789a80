/*
 * updcache add --key KEY --title T FILE...: publish local files as one signed update,
 * the root of a hierarchy. Files are copied and hashed in one pass on every core,
 * fsynced, then the record is built, signed, and checked back (the envelope verifies
 * under the key's public half and every staged file matches the record) before
 * anything is published. One update is all or nothing.
 */
#include "cli.h"
#include "dsse.h"
#include "parallel.h"
#include "progress.h"
#include "strparse.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct add_item {
    const char *path;
    uint64_t size;
    struct uc_staged st;
    int rc;
    struct uc_errbuf eb;
};

struct add_job {
    struct uc_store *store;
    struct add_item *items;
    struct uc_progress prog;
};

static void help(void)
{
    printf("usage: updcache add --key KEY --title TITLE [options] FILE...\n\n"
           "Publish local files as one update signed with KEY (from updcache keygen).\n"
           "  --key KEY               Ed25519 private key (PKCS#8 PEM)\n"
           "  --title TITLE           the update's title\n"
           "  --classification C      default \"Updates\"\n"
           "  --id UUID               update id (default: a new random one)\n"
           "  --revision N            revision (default 1); must grow for an existing id\n"
           "  --config F              config file (for [server] store)\n"
           "Prints the update id and each file's content URL path.\n");
}

static void stage_one(void *ctx, size_t i)
{
    struct add_job *j = ctx;
    struct add_item *it = &j->items[i];
    char suffix[UC_SUFFIX_MAX];
    if (uc_suffix_from_name(it->path, suffix)) {
        it->rc = uc_errf(&it->eb, -EINVAL,
                         "%s: the extension has characters that cannot go "
                         "in a content URL; rename the file",
                         it->path);
        return;
    }
    it->rc = uc_store_stage_path(j->store, it->path, suffix, &it->st, &j->prog.done_bytes, &it->eb);
    if (!it->rc && it->st.dg.size != it->size)
        it->rc =
            uc_errf(&it->eb, UC_ESIZE,
                    "%s: changed while being read (%llu bytes, "
                    "expected %llu); re-run when it is stable",
                    it->path, (unsigned long long)it->st.dg.size, (unsigned long long)it->size);
    atomic_fetch_add(&j->prog.done_items, 1);
}

static void sync_one(void *ctx, size_t i)
{
    struct add_job *j = ctx;
    struct add_item *it = &j->items[i];
    it->rc = uc_store_sync_staged(j->store, &it->st, &it->eb);
}

static void tick(void *ctx)
{
    progress_tick(&((struct add_job *)ctx)->prog);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Sign the record, then check the envelope back as a downstream would. */
static int sign_and_check(struct uc_cli *cli, const struct uc_key *key, const struct uc_update *u,
                          const struct add_item *items, char **out_env, size_t *out_len)
{
    char *json = NULL;
    size_t jlen = 0;
    struct uc_envelope env = {0};
    struct uc_update back = {0};
    struct uc_errbuf eb = {{0}};
    int rc = uc_update_encode(u, &json, &jlen);
    if (!rc)
        rc = uc_dsse_sign(key, UC_DSSE_TYPE, json, jlen, out_env, out_len);
    if (!rc)
        rc = uc_dsse_parse(*out_env, *out_len, &env, &eb);
    if (!rc)
        rc = uc_dsse_verify(&env, UC_DSSE_TYPE, key, 1, NULL, &eb);
    if (!rc)
        rc = uc_update_decode((const char *)env.payload, env.payload_len, &back, &eb);
    for (size_t i = 0; !rc && i < back.nfiles; i++) {
        const struct uc_digest *dg = &items[i].st.dg;
        if (back.files[i].size != dg->size || memcmp(back.files[i].sha1, dg->sha1, 20) ||
            memcmp(back.files[i].sha256, dg->sha256, 32))
            rc = uc_errf(&eb, UC_EDIGEST, "%s: staged copy does not match the signed record",
                         items[i].path);
    }
    if (rc)
        cli_err(cli, "signing the update failed: %s", eb.msg[0] ? eb.msg : uc_strerror(rc));
    free(json);
    uc_envelope_free(&env);
    uc_update_free(&back);
    return rc;
}

struct add_opts {
    const char *key, *title, *cls, *id;
    uint64_t revision;
};

static int parse_opts(struct uc_cli *cli, int argc, char **argv, struct add_opts *o)
{
    static const struct option opts[] = {{"key", required_argument, 0, 'k'},
                                         {"title", required_argument, 0, 't'},
                                         {"classification", required_argument, 0, 'C'},
                                         {"id", required_argument, 0, 'i'},
                                         {"revision", required_argument, 0, 'r'},
                                         {"config", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            o->key = optarg;
            break;
        case 't':
            o->title = optarg;
            break;
        case 'C':
            o->cls = optarg;
            break;
        case 'i':
            o->id = optarg;
            break;
        case 'r':
            if (uc_parse_u64(optarg, &o->revision)) {
                cli_err(cli, "--revision: '%s' is not a whole number", optarg);
                return UC_EXIT_USAGE;
            }
            break;
        case 'c':
            cli->config_path = optarg;
            break;
        case 'h':
            help();
            return -1;
        default:
            return UC_EXIT_USAGE;
        }
    }
    if (!o->key || !o->title || optind >= argc) {
        cli_err(cli, "usage: updcache add --key KEY --title TITLE FILE... (see --help)");
        return UC_EXIT_USAGE;
    }
    return UC_EXIT_OK;
}

/* A stale --revision is refused before any byte is staged (publish checks it again). */
static int check_revision(struct uc_cli *cli, const struct add_opts *o, struct uc_store *st)
{
    char id[UC_UUID_LEN + 1];
    if (!o->id || uc_uuid_normalize(o->id, id))
        return UC_EXIT_OK; /* a new id, or one build_update() refuses */
    MDB_txn *txn = NULL;
    uint64_t stored = 0;
    int rc = uc_index_begin(st->ix, false, &txn);
    if (!rc)
        rc = uc_index_check_revision(st->ix, txn, id, o->revision, NULL, 0, &stored);
    uc_index_abort(txn);
    if (rc == UC_ESTALE) {
        cli_err(cli,
                "update %s: revision %llu is stored already (--revision %llu); nothing "
                "published: raise --revision",
                id, (unsigned long long)stored, (unsigned long long)o->revision);
        return UC_EXIT_FAIL;
    }
    if (rc) {
        cli_err(cli, "%s/index: %s", st->root, uc_strerror(rc));
        return UC_EXIT_FAIL;
    }
    return UC_EXIT_OK;
}

static int check_inputs(struct uc_cli *cli, struct add_item *items, size_t n, uint64_t *total)
{
    int ex = UC_EXIT_OK;
    *total = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        if (stat(items[i].path, &sb)) {
            cli_err(cli, "%s: %s", items[i].path, strerror(errno));
            ex = UC_EXIT_FAIL;
        } else if (!S_ISREG(sb.st_mode)) {
            cli_err(cli, "%s: not a regular file", items[i].path);
            ex = UC_EXIT_FAIL;
        } else if (strlen(base_name(items[i].path)) >= UC_NAME_MAX) {
            cli_err(cli, "%s: file name longer than %d bytes", items[i].path, UC_NAME_MAX - 1);
            ex = UC_EXIT_FAIL;
        }
        items[i].size = (uint64_t)sb.st_size;
        *total += items[i].size;
    }
    return ex;
}

static int build_update(struct uc_cli *cli, const struct add_opts *o, struct add_item *items,
                        size_t n, struct uc_update *u)
{
    memset(u, 0, sizeof(*u));
    if (o->id ? uc_uuid_normalize(o->id, u->id) : uc_uuid_new(u->id)) {
        cli_err(cli, "--id: '%s' is not a UUID", o->id ? o->id : "");
        return UC_EXIT_USAGE;
    }
    u->revision = o->revision;
    u->title = (char *)o->title;
    u->classification = (char *)(o->cls ? o->cls : "Updates");
    uc_rfc3339_now(u->published);
    u->nfiles = n;
    u->files = calloc(n, sizeof(*u->files));
    if (!u->files)
        return UC_EXIT_FAIL;
    for (size_t i = 0; i < n; i++) {
        struct uc_update_file *f = &u->files[i];
        snprintf(f->name, sizeof(f->name), "%s", base_name(items[i].path));
        f->size = items[i].st.dg.size;
        memcpy(f->sha1, items[i].st.dg.sha1, UC_SHA1_LEN);
        memcpy(f->sha256, items[i].st.dg.sha256, UC_SHA256_LEN);
        f->has_blocks = items[i].st.dg.has_blocks;
        memcpy(f->blocks_sha256, items[i].st.dg.blocks_sha256, UC_SHA256_LEN);
        snprintf(f->suffix, sizeof(f->suffix), "%s", items[i].st.suffix);
    }
    return UC_EXIT_OK;
}

/* Two files with one SHA-1 and other bytes cannot be one update: say which, with both. */
static int check_collisions(struct uc_cli *cli, const struct uc_update *u,
                            const struct add_item *items)
{
    size_t a, b;
    int rc = uc_update_find_conflict(u, &a, &b);
    if (rc <= 0)
        return rc ? UC_EXIT_FAIL : UC_EXIT_OK;
    char h1[41], s1[65], s2[65];
    uc_hex_encode(u->files[a].sha1, UC_SHA1_LEN, h1, true);
    uc_hex_encode(u->files[a].sha256, UC_SHA256_LEN, s1, false);
    uc_hex_encode(u->files[b].sha256, UC_SHA256_LEN, s2, false);
    cli_err(cli,
            "%s and %s have the same SHA-1 %s but other bytes or extensions (SHA-256 %s, %llu "
            "bytes; SHA-256 %s, %llu bytes): %s; nothing published (an update names one "
            "file per SHA-1)",
            items[a].path, items[b].path, h1, s1, (unsigned long long)u->files[a].size, s2,
            (unsigned long long)u->files[b].size,
            strcmp(s1, s2) ? "a SHA-1 collision" : "the same file under two extensions");
    return UC_EXIT_FAIL;
}

static void report(const struct uc_update *u, uint64_t total, size_t n, double t_copy,
                   double t_sync, double t_pub)
{
    printf("%s\n", u->id);
    for (size_t i = 0; i < u->nfiles; i++) {
        char path[96];
        uc_content_path(u->files[i].sha1, u->files[i].suffix, path, sizeof(path));
        printf("  %s  %s\n", path, u->files[i].name);
    }
    double all = t_copy + t_sync + t_pub;
    fprintf(stderr,
            "updcache add: %zu files, %llu bytes in %.3f s: copy+hash %.3f s (%.1f MB/s), "
            "fsync %.3f s, publish %.3f s, overall %.1f MB/s\n",
            n, (unsigned long long)total, all, t_copy,
            t_copy > 0 ? (double)total / t_copy / 1e6 : 0.0, t_sync, t_pub,
            all > 0 ? (double)total / all / 1e6 : 0.0);
}

int cmd_add(struct uc_cli *cli, int argc, char **argv)
{
    struct add_opts o = {.revision = 1};
    int ex = parse_opts(cli, argc, argv, &o);
    if (ex)
        return ex < 0 ? UC_EXIT_OK : ex;
    size_t n = (size_t)(argc - optind);
    struct add_job j = {0};
    struct uc_key key = {0};
    struct uc_update u = {0};
    struct uc_errbuf eb = {{0}};
    char *env = NULL;
    size_t envlen = 0;
    uint64_t total = 0;
    j.items = calloc(n, sizeof(*j.items));
    if (!j.items)
        return UC_EXIT_FAIL;
    for (size_t i = 0; i < n; i++) {
        j.items[i].path = argv[optind + (int)i];
        j.items[i].st.fd = -1;
    }
    cli_raise_nofile();
    if ((ex = check_inputs(cli, j.items, n, &total)))
        goto out;
    if (uc_key_load_private(o.key, &key, &eb)) {
        cli_err(cli, "%s", eb.msg);
        ex = UC_EXIT_FAIL;
        goto out;
    }
    if ((ex = cli_open_store(cli, true, false, &j.store)) ||
        (ex = check_revision(cli, &o, j.store)))
        goto out;
    if (uc_store_check_space(j.store, total, &eb)) {
        cli_err(cli, "%s", eb.msg);
        ex = UC_EXIT_FAIL;
        goto out;
    }
    progress_init(&j.prog, "add", total, n);
    double t0 = cli_now();
    /* Two stagers per core: while one waits on a direct write, the other hashes. */
    uc_parallel_for(n, 2 * uc_ncpu(), stage_one, tick, &j);
    progress_finish(&j.prog);
    double t1 = cli_now();
    for (size_t i = 0; i < n; i++)
        if (j.items[i].rc) {
            cli_err(cli, "%s", j.items[i].eb.msg);
            ex = UC_EXIT_FAIL;
        }
    if (ex)
        goto out;
    uc_parallel_for(n, 0, sync_one, NULL, &j);
    for (size_t i = 0; i < n; i++)
        if (j.items[i].rc) {
            cli_err(cli, "%s", j.items[i].eb.msg);
            ex = UC_EXIT_FAIL;
        }
    double t2 = cli_now();
    if (ex || (ex = build_update(cli, &o, j.items, n, &u)) ||
        (ex = check_collisions(cli, &u, j.items)))
        goto out;
    if (sign_and_check(cli, &key, &u, j.items, &env, &envlen)) {
        ex = UC_EXIT_FAIL;
        goto out;
    }
    struct uc_staged *staged = calloc(n, sizeof(*staged));
    if (!staged) {
        ex = UC_EXIT_FAIL;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        staged[i] = j.items[i].st;
        j.items[i].st.fd = -1; /* ownership moves to publish */
        j.items[i].st.blocks = NULL;
    }
    struct uc_publish_update pu = {u.id, u.revision, env, envlen};
    int rc = uc_store_publish(j.store, staged, n, &pu, NULL, &eb);
    free(staged);
    if (rc) {
        cli_err(cli, "%s", eb.msg);
        ex = UC_EXIT_FAIL;
        goto out;
    }
    cli_count(j.store, "stat_ingest_files", n, "stat_ingest_bytes", total);
    report(&u, total, n, t1 - t0, t2 - t1, cli_now() - t2);
out:
    for (size_t i = 0; j.store && i < n; i++)
        uc_store_discard(j.store, &j.items[i].st);
    free(u.files);
    free(env);
    free(j.items);
    uc_key_free(&key);
    uc_store_close(j.store);
    return ex;
}
