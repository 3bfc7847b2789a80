/*
 * libFuzzer target: the TLS listener's request handling (api.c), run against a real
 * store made once per process in a temp directory: three signed updates published the
 * way `updcache add` does, a file the index knows only as pending, SelfUpdate files
 * with symlinks beside them, and an [auth] section with downstreams, a client secret
 * and an admin token. Input layout:
 *
 *   byte 0: (b & 7) says what Authorization carries, (b & 8) sets body_too_large
 *     0 none          1 AUTH verbatim          2 Bearer + a genuine dss cookie for AUTH
 *     3 Bearer + a genuine client cookie      4 Bearer + the admin token
 *     5 Basic + base64(AUTH)                  6 Bearer + an expired dss cookie
 *     7 Bearer + AUTH
 *   then METHOD '\n' TARGET '\n' AUTH '\n' BODY (the rest, any bytes)
 *
 * so the ASCII digits '0'..'7' at the start of a seed name the modes. The fuzzer cannot
 * forge an HMAC, so modes 2, 3 and 6 let it reach what lies behind a cookie. Invariants:
 * every answer is a well-formed response (JSON errors carry error and detail, 401 and
 * 405 their header); only genuine credentials of the right role get a 200 behind a
 * cookie or the admin token; an issued cookie checks out with the role asked for; a
 * file location names a published file; no file bytes leave except a SelfUpdate
 * regular file, never one reached through a symlink or from outside SelfUpdate/.
 */
#include "api.h"
#include "dsse.h"
#include "fsutil.h"
#include "fuzz.h"
#include "meta.h"
#include "reports.h"
#include "strparse.h"

#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ADMIN_TOKEN "adm-7f3c9e21b4d04a8d95e6c0f1a2b3c4d5"
#define CLIENT_SECRET "client-secret-9d2e"
#define NPUB 4 /* files published by the updates below */

static struct {
    char dir[64];
    struct uc_daemon d;
    struct uc_settings *s;
    struct uc_metrics *shard;
    uint8_t published[NPUB][UC_SHA1_LEN];
    ino_t selfupdate_ino[2]; /* the regular files under SelfUpdate/ */
    bool ready;
} fx;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Runs at exit (libFuzzer's -max_total_time, the replay driver's return), so neither a
 * leak check nor /dev/shm is left with the fixture. */
static void teardown(void)
{
    if (fx.d.reports)
        uc_reports_stop(fx.d.reports);
    if (fx.d.selfupdate_fd >= 0)
        close(fx.d.selfupdate_fd);
    uc_store_close(fx.d.store);
    if (fx.s)
        uc_config_free(&fx.s->cfg);
    free(fx.s);
    free(fx.shard);
    free(fx.d.shards);
    if (fx.dir[0])
        nftw(fx.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void put(const char *dir, const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FUZZ_CHECK(uc_write_file(p, text, strlen(text), 0644, 0) == 0);
}

/* Publish one update of the given files (names under dir/src) as `updcache add` does:
 * stage, fsync, sign a record of the staged digests, publish. */
static void publish(struct uc_store *st, const struct uc_key *key, const char *const *names,
                    size_t n, size_t *next_pub)
{
    struct uc_staged staged[2];
    struct uc_update_file files[2];
    struct uc_errbuf eb = {{0}};
    FUZZ_CHECK(n <= 2);
    memset(files, 0, sizeof(files));
    for (size_t i = 0; i < n; i++) {
        char p[256], suffix[UC_SUFFIX_MAX];
        snprintf(p, sizeof(p), "%s/src/%s", fx.dir, names[i]);
        FUZZ_CHECK(uc_suffix_from_name(names[i], suffix) == 0);
        FUZZ_CHECK(uc_store_stage_path(st, p, suffix, &staged[i], NULL, &eb) == 0);
        FUZZ_CHECK(uc_store_sync_staged(st, &staged[i], &eb) == 0);
        snprintf(files[i].name, sizeof(files[i].name), "%s", names[i]);
        files[i].size = staged[i].dg.size;
        memcpy(files[i].sha1, staged[i].dg.sha1, UC_SHA1_LEN);
        memcpy(files[i].sha256, staged[i].dg.sha256, UC_SHA256_LEN);
        memcpy(files[i].suffix, suffix, sizeof(suffix));
        memcpy(fx.published[(*next_pub)++], staged[i].dg.sha1, UC_SHA1_LEN);
    }
    char title[] = "Fuzz update", cls[] = "Security Updates";
    struct uc_update u = {.revision = 1, .title = title, .classification = cls};
    u.nfiles = n;
    u.files = files;
    FUZZ_CHECK(uc_uuid_new(u.id) == 0);
    uc_rfc3339_now(u.published);
    char *json = NULL, *env = NULL;
    size_t jlen = 0, elen = 0;
    FUZZ_CHECK(uc_update_encode(&u, &json, &jlen) == 0);
    FUZZ_CHECK(uc_dsse_sign(key, UC_DSSE_TYPE, json, jlen, &env, &elen) == 0);
    struct uc_publish_update pu = {u.id, u.revision, env, elen};
    uint64_t seq = 0;
    FUZZ_CHECK(uc_store_publish(st, staged, n, &pu, &seq, &eb) == 0);
    free(json);
    free(env);
}

static void make_selfupdate(struct uc_store *st)
{
    char su[128], p[256];
    struct stat sb;
    snprintf(su, sizeof(su), "%s/store/SelfUpdate", fx.dir);
    put(su, "wuident.cab", "self-update cab\n");
    snprintf(p, sizeof(p), "%s/WSUS3", su);
    FUZZ_CHECK(mkdir(p, 0755) == 0);
    put(p, "wuaueng.dll", "agent\n");
    /* What must never be served: a symlink inside, and what lies outside SelfUpdate/. */
    FUZZ_CHECK(symlinkat("wuident.cab", st->root_fd, "SelfUpdate/link.cab") == 0);
    FUZZ_CHECK(symlinkat("../index", st->root_fd, "SelfUpdate/up") == 0);
    put(fx.dir, "store/secret.txt", "not for clients\n");
    FUZZ_CHECK(fstatat(st->root_fd, "SelfUpdate/wuident.cab", &sb, 0) == 0);
    fx.selfupdate_ino[0] = sb.st_ino;
    FUZZ_CHECK(fstatat(st->root_fd, "SelfUpdate/WSUS3/wuaueng.dll", &sb, 0) == 0);
    fx.selfupdate_ino[1] = sb.st_ino;
}

/* A file the index knows but does not hold (a sync in progress): files/ must say 404. */
static void put_pending(struct uc_store *st)
{
    struct uc_file_rec rec = {0};
    memset(rec.sha1, 0xab, UC_SHA1_LEN);
    memcpy(rec.suffix, ".cab", 5);
    rec.size = 3;
    rec.state = UC_FILE_PENDING;
    MDB_txn *txn;
    FUZZ_CHECK(uc_index_begin(st->ix, true, &txn) == 0);
    FUZZ_CHECK(uc_index_put_file(st->ix, txn, &rec) == 0);
    FUZZ_CHECK(uc_index_commit(txn) == 0);
}

static void setup(void)
{
    /* tmpfs when there is one: the report writer commits (and fsyncs) as inputs arrive. */
    snprintf(fx.dir, sizeof(fx.dir), "%s/ucfuzz-api.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    FUZZ_CHECK(mkdtemp(fx.dir) != NULL);
    fx.d.selfupdate_fd = -1;
    atexit(teardown);

    char p[256], conf[1024];
    struct uc_key key;
    char *pem = NULL;
    size_t pemlen = 0;
    FUZZ_CHECK(uc_key_generate(&key) == 0 && uc_key_pem(&key, false, &pem, &pemlen) == 0);
    snprintf(p, sizeof(p), "%s/publisher.pub", fx.dir);
    FUZZ_CHECK(uc_write_file(p, pem, pemlen, 0644, 0) == 0);
    free(pem);
    snprintf(conf, sizeof(conf),
             "[server]\nname = updcache.fuzz.test\nhttps_port = 8531\nstore = store\n"
             "[upstream]\npublisher_keys = publisher.pub\n"
             "[auth]\ndownstreams = dss1:secret-one, branch-7:s3cr:et\n"
             "client_secret = " CLIENT_SECRET "\nadmin_token = " ADMIN_TOKEN "\n");
    put(fx.dir, "updcache.conf", conf);
    struct uc_config cfg;
    struct uc_errbuf eb = {{0}};
    snprintf(p, sizeof(p), "%s/updcache.conf", fx.dir);
    if (uc_config_load_ex(p, &cfg, true, &eb)) {
        fprintf(stderr, "fuzz_api: %s\n", eb.msg);
        abort();
    }
    /* By hand: uc_settings_new() lives with the daemon's reload code (workers, TLS). */
    FUZZ_CHECK((fx.s = calloc(1, sizeof(*fx.s))) != NULL);
    fx.s->cfg = cfg;
    fx.s->gen = 1;

    struct uc_store *st = NULL;
    FUZZ_CHECK(uc_store_open(fx.s->cfg.store, true, false, &st, &eb) == 0);
    fx.d.store = st;
    snprintf(p, sizeof(p), "%s/src", fx.dir);
    FUZZ_CHECK(mkdir(p, 0755) == 0);
    put(p, "windows10.0-kb5034441-x64.cab", "cab one\n");
    put(p, "windows10.0-kb5034441-x64-express.cab", "express\n");
    put(p, "defender-update.exe", "MZ defender\n");
    put(p, "servicing.msu", "msu bytes\n");
    static const char *const u1[] = {"windows10.0-kb5034441-x64.cab",
                                     "windows10.0-kb5034441-x64-express.cab"};
    static const char *const u2[] = {"defender-update.exe"}, *const u3[] = {"servicing.msu"};
    size_t npub = 0;
    publish(st, &key, u1, 2, &npub);
    publish(st, &key, u2, 1, &npub);
    publish(st, &key, u3, 1, &npub);
    FUZZ_CHECK(npub == NPUB);
    uc_key_free(&key);
    put_pending(st);
    make_selfupdate(st);
    fx.d.selfupdate_fd = openat(st->root_fd, "SelfUpdate", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    FUZZ_CHECK(fx.d.selfupdate_fd >= 0);

    fx.d.boot = fx.s;
    atomic_store(&fx.d.live, fx.s);
    fx.d.nworkers = 0; /* shards[0] is then the TLS listener's */
    fx.shard = calloc(1, sizeof(*fx.shard));
    fx.d.shards = calloc(1, sizeof(*fx.d.shards));
    FUZZ_CHECK(fx.shard && fx.d.shards);
    fx.d.shards[0] = fx.shard;
    /* A fixed key: a crasher that carries a cookie made by mode 2 or 3 replays alike. */
    memset(fx.d.cookie_key, 0x5a, sizeof(fx.d.cookie_key));
    FUZZ_CHECK(uc_reports_start(st->ix, 4096, fx.s->cfg.reports_keep, &fx.d.reports) == 0);
    uc_history_init(&fx.d.history);
    fx.ready = true;
}

/* The mode's Authorization value in out (cap bytes); NULL for none. */
static const char *authorization(unsigned mode, const char *field, char *out, size_t cap)
{
    char cookie[UC_COOKIE_MAX];
    const char *id = *field && strlen(field) <= UC_COOKIE_ID_MAX ? field : "dss1";
    int64_t now = (int64_t)time(NULL);
    switch (mode) {
    case 1:
        return field;
    case 2:
    case 3:
    case 6: {
        enum uc_role role = mode == 3 ? UC_ROLE_CLIENT : UC_ROLE_DSS;
        /* Bound to the credential as the daemon binds it; an id without one gets a cookie
         * under the bare server key, which must be refused. */
        uint8_t key[UC_COOKIE_KEY_LEN];
        if (uc_api_cookie_key(&fx.d, fx.s, role, id, key))
            memcpy(key, fx.d.cookie_key, sizeof(key));
        if (uc_cookie_make(key, role, id, mode == 6 ? now - 5 : now + 3600, cookie, sizeof(cookie)))
            return NULL;
        snprintf(out, cap, "Bearer %s", cookie);
        return out;
    }
    case 4:
        return "Bearer " ADMIN_TOKEN;
    case 5: {
        size_t n = strlen(field);
        if (n > 3 * 256 / 4)
            return NULL;
        memcpy(out, "Basic ", 6);
        EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)field, (int)n);
        return out;
    }
    case 7:
        snprintf(out, cap, "Bearer %s", field);
        return out;
    default:
        return NULL;
    }
}

static const char *json_str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* A 200 from a token endpoint: the cookie is genuine, of the role asked for, for a
 * configured downstream id or with the configured client secret given. */
static void check_token(const struct uc_api_req *q, enum uc_root root, json_t *j)
{
    const char *c = json_str(j, "cookie");
    FUZZ_CHECK(c != NULL && json_str(j, "expires") != NULL);
    enum uc_role role = UC_ROLE_NONE;
    char id[UC_COOKIE_ID_MAX + 1];
    uint8_t key[UC_COOKIE_KEY_LEN];
    FUZZ_CHECK(uc_cookie_peek(c, strlen(c), &role, id, sizeof(id)));
    FUZZ_CHECK(uc_api_cookie_key(&fx.d, fx.s, role, id, key) == 0);
    FUZZ_CHECK(uc_cookie_check(key, c, strlen(c), (int64_t)time(NULL), &role, id, sizeof(id)) ==
               UC_COOKIE_OK);
    if (root == UC_ROOT_DSSAUTH) {
        FUZZ_CHECK(role == UC_ROLE_DSS);
        FUZZ_CHECK(!strcmp(id, "dss1") || !strcmp(id, "branch-7"));
    } else {
        FUZZ_CHECK(role == UC_ROLE_CLIENT);
        json_t *b = json_loadb(q->body, q->body_len, JSON_REJECT_DUPLICATES, NULL);
        const char *secret = json_str(b, "secret");
        FUZZ_CHECK(secret && !strcmp(secret, CLIENT_SECRET) && !strcmp(id, json_str(b, "client")));
        json_decref(b);
    }
}

static void check_location(json_t *j)
{
    const char *h = json_str(j, "sha1"), *url = json_str(j, "url");
    FUZZ_CHECK(h && strlen(h) == 2 * UC_SHA1_LEN && url && json_str(j, "sha256"));
    bool known = false;
    for (size_t i = 0; i < NPUB; i++) {
        char hex[2 * UC_SHA1_LEN + 1];
        uc_hex_encode(fx.published[i], UC_SHA1_LEN, hex, true);
        known |= !strcmp(hex, h);
    }
    FUZZ_CHECK(known);
    FUZZ_CHECK(!strncmp(url, "http://updcache.fuzz.test:8530/Content/", 39) && strstr(url, h));
}

static void check_page(json_t *j)
{
    json_t *ups = json_object_get(j, "updates");
    FUZZ_CHECK(json_is_array(ups) && json_array_size(ups) <= 3);
    FUZZ_CHECK(json_is_integer(json_object_get(j, "next")));
    FUZZ_CHECK(json_is_boolean(json_object_get(j, "more")));
    for (size_t i = 0; i < json_array_size(ups); i++) {
        const char *type = json_str(json_array_get(ups, i), "payloadType");
        FUZZ_CHECK(type && !strcmp(type, UC_DSSE_TYPE));
    }
}

/* Mode 5 whose Basic password is the admin token: genuine admin credentials too (the
 * status page's browser login), whatever the user name. */
static bool basic_admin(const struct uc_api_req *q, unsigned mode)
{
    unsigned char raw[3 * 256 / 4 + 4];
    const char *a = q->authorization;
    if (mode != 5 || !a)
        return false;
    int n = EVP_DecodeBlock(raw, (const unsigned char *)a + 6, (int)strlen(a + 6));
    if (n <= 0)
        return false;
    n -= (a[strlen(a) - 1] == '=') + (a[strlen(a) - 2] == '=');
    raw[n] = 0;
    const char *colon = memchr(raw, ':', (size_t)n);
    return colon && !strcmp(colon + 1, ADMIN_TOKEN);
}

static void check(const struct uc_api_req *q, unsigned mode, const struct uc_api_resp *r)
{
    static const int known[] = {200, 202, 400, 401, 403, 404, 405, 413, 415, 503};
    bool ok = false;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        ok |= r->status == known[i];
    FUZZ_CHECK(ok);
    if (r->status == 401)
        FUZZ_CHECK(r->hname && !strcmp(r->hname, "WWW-Authenticate"));
    if (r->status == 405)
        FUZZ_CHECK(r->hname && !strcmp(r->hname, "Allow"));
    FUZZ_CHECK(r->status != 202 || r->root == UC_ROOT_REPORTING || r->root == UC_ROOT_INVENTORY);
    if (r->fd >= 0) {
        struct stat sb;
        FUZZ_CHECK(r->root == UC_ROOT_SELFUPDATE && r->status == 200 && !r->body);
        FUZZ_CHECK(fstat(r->fd, &sb) == 0 && (uint64_t)sb.st_size == r->size);
        FUZZ_CHECK(sb.st_ino == fx.selfupdate_ino[0] || sb.st_ino == fx.selfupdate_ino[1]);
        return;
    }
    FUZZ_CHECK(r->body && r->content_type && strlen(r->body) == r->len);
    if (r->status == 200) {
        FUZZ_CHECK(r->root != UC_ROOT_CONTENT && r->root != UC_ROOT_MSDOWNLOAD);
        FUZZ_CHECK(r->root != UC_ROOT_SERVERSYNC || mode == 2);
        FUZZ_CHECK(r->root != UC_ROOT_CLIENT || mode == 3);
        FUZZ_CHECK(r->root != UC_ROOT_APIREMOTING || mode == 4 || basic_admin(q, mode));
    }
    /* The status page is HTML, sent with the no-outside-loads policy; nothing else is. */
    FUZZ_CHECK(r->page ==
               (r->status == 200 && !strcmp(r->content_type, "text/html; charset=utf-8")));
    if (strcmp(r->content_type, "application/json") != 0)
        return;
    json_t *j = json_loadb(r->body, r->len, 0, NULL);
    FUZZ_CHECK(json_is_object(j));
    if (r->status >= 400) {
        FUZZ_CHECK(json_str(j, "error") && json_str(j, "detail"));
    } else if (r->status == 200 && (r->root == UC_ROOT_DSSAUTH || r->root == UC_ROOT_SIMPLEAUTH)) {
        check_token(q, r->root, j);
    } else if (r->status == 200 && json_object_get(j, "updates")) {
        check_page(j);
    } else if (r->status == 200 && r->root == UC_ROOT_CLIENT) {
        check_location(j);
    }
    json_decref(j);
}

/* The next '\n'-terminated field of [*p, end) as a NUL-terminated copy in out. */
static void field(const char **p, const char *end, char *out, size_t cap)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = (size_t)((nl ? nl : end) - *p);
    n = n < cap - 1 ? n : cap - 1;
    memcpy(out, *p, n);
    out[n] = 0;
    *p = nl ? nl + 1 : end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fx.ready)
        setup();
    if (size < 1)
        return 0;
    static char method[64], target[4096], auth[1024], hdr[1200];
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    unsigned mode = data[0] & 7u;
    field(&p, end, method, sizeof(method));
    field(&p, end, target, sizeof(target));
    field(&p, end, auth, sizeof(auth));
    struct uc_api_req q = {
        .method = method,
        .target = target,
        .authorization = authorization(mode, auth, hdr, sizeof(hdr)),
        .peer = "192.0.2.7",
        .body = p,
        .body_len = (size_t)(end - p),
        .body_too_large = (data[0] & 8u) != 0,
    };
    if (!q.authorization)
        mode = 0;
    struct uc_api_resp r;
    uc_api_handle(&fx.d, fx.s, &q, &r);
    check(&q, mode, &r);
    uc_api_resp_free(&r);
    return 0;
}
