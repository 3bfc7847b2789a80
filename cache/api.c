/*
 * TLS endpoints: see api.h. Every answer is built whole in memory (pages are bounded by
 * ?limit=), except SelfUpdate files, which the listener streams from their fd.
 */
#include "api.h"

#include "cookie.h"
#include "dsse.h"
#include "reports.h"
#include "route.h"
#include "status_page.h"
#include "strparse.h"
#include "textbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE_DEFAULT 500
#define PAGE_MAX 5000
#define PAGE_FULL UC_EBASE /* stops the index walk; not an error */

static void set_body(struct uc_api_resp *r, int status, const char *type, char *body, size_t len)
{
    free(r->body);
    r->status = status;
    r->content_type = type;
    r->body = body;
    r->len = len;
}

static void json_answer(struct uc_api_resp *r, int status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) {
        s = strdup("{\"error\":\"internal\",\"detail\":\"out of memory\"}");
        status = 503;
    }
    set_body(r, status, "application/json", s, s ? strlen(s) : 0);
}

static void error(struct uc_api_resp *r, int status, const char *code, const char *detail)
{
    json_answer(r, status, json_pack("{s:s, s:s}", "error", code, "detail", detail));
}

static bool eq_ci(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

/* Equal secrets, in time that depends on neither's length nor content: digests of both
 * sides, compared in constant time (a length check first would leak the length). */
static bool secret_eq(const char *a, const char *b)
{
    uint8_t da[UC_SHA256_LEN], db[UC_SHA256_LEN];
    unsigned la = 0, lb = 0;
    bool ok = EVP_Digest(a, strlen(a), da, &la, EVP_sha256(), NULL) == 1 &&
              EVP_Digest(b, strlen(b), db, &lb, EVP_sha256(), NULL) == 1;
    return ok && CRYPTO_memcmp(da, db, sizeof(da)) == 0;
}

/* A name a client chose, fit for a log line: escaped (no forged lines), at most 64 bytes. */
#define LOGNAME_CAP (4 * 64 + 4)
static const char *log_name(const char *s, char out[LOGNAME_CAP])
{
    size_t n = strlen(s);
    out[uc_escape(out, s, n < 64 ? n : 64, LOGNAME_CAP - 1)] = 0;
    return out;
}

static const char *bearer(const struct uc_api_req *q)
{
    const char *a = q->authorization;
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return NULL;
    a += 7;
    while (*a == ' ')
        a++;
    return *a ? a : NULL;
}

static void unauthorized(struct uc_daemon *d, struct uc_api_resp *r, const char *scheme,
                         const char *detail)
{
    uc_metrics_inc(&d->shards[d->nworkers]->auth_failures);
    error(r, 401, "unauthorized", detail);
    r->hname = "WWW-Authenticate";
    snprintf(r->hvalue, sizeof(r->hvalue), "%s realm=\"updcache\"", scheme);
}

int uc_api_cookie_key(const struct uc_daemon *d, const struct uc_settings *s, enum uc_role role,
                      const char *id, uint8_t out[UC_COOKIE_KEY_LEN])
{
    const char *cred = s->cfg.client_secret ? s->cfg.client_secret : "";
    if (role == UC_ROLE_DSS) {
        size_t n = strlen(id);
        cred = NULL;
        for (size_t i = 0; !cred && i < s->cfg.downstreams.n; i++)
            if (!strncmp(s->cfg.downstreams.v[i], id, n) && s->cfg.downstreams.v[i][n] == ':')
                cred = s->cfg.downstreams.v[i];
        if (!cred)
            return -ENOENT;
    }
    struct uc_text t = {0};
    uc_text_put(&t, "%s\n%s", uc_role_name(role), cred);
    char *bind = uc_text_take(&t, NULL);
    int rc = bind ? uc_cookie_bind(d->cookie_key, bind, out) : -ENOMEM;
    if (bind)
        OPENSSL_cleanse(bind, strlen(bind));
    free(bind);
    return rc;
}

/* The request's cookie must be valid and of role want. */
static bool need_cookie(struct uc_daemon *d, const struct uc_settings *s,
                        const struct uc_api_req *q, enum uc_role want, struct uc_api_resp *r)
{
    const char *c = bearer(q);
    if (!c) {
        unauthorized(d, r, "Bearer", "a cookie is required: get one from the token endpoint");
        return false;
    }
    enum uc_role role = UC_ROLE_NONE;
    char id[UC_COOKIE_ID_MAX + 1];
    uint8_t key[UC_COOKIE_KEY_LEN];
    if (!uc_cookie_peek(c, strlen(c), &role, id, sizeof(id))) {
        unauthorized(d, r, "Bearer", "the cookie is not one this server issued");
        return false;
    }
    if (uc_api_cookie_key(d, s, role, id, key)) { /* its credential was removed */
        unauthorized(d, r, "Bearer", "the cookie's credential is no longer accepted here");
        return false;
    }
    enum uc_cookie_rc rc = uc_cookie_check(key, c, strlen(c), time(NULL), &role, id, sizeof(id));
    OPENSSL_cleanse(key, sizeof(key));
    if (rc == UC_COOKIE_EXPIRED) {
        unauthorized(d, r, "Bearer", "the cookie has expired: get a new one");
        return false;
    }
    if (rc != UC_COOKIE_OK) {
        unauthorized(d, r, "Bearer", "the cookie is not one this server issued");
        return false;
    }
    if (role != want) {
        char msg[160];
        snprintf(msg, sizeof(msg), "a %s cookie cannot be used here: this root needs a %s cookie",
                 uc_role_name(role), uc_role_name(want));
        error(r, 403, "forbidden", msg);
        return false;
    }
    return true;
}

static void issue(struct uc_daemon *d, const struct uc_settings *s, enum uc_role role,
                  const char *id, struct uc_api_resp *r)
{
    int64_t exp = (int64_t)time(NULL) + (int64_t)s->cfg.cookie_ttl;
    char cookie[UC_COOKIE_MAX], when[40];
    struct tm tm;
    time_t t = (time_t)exp;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    uint8_t key[UC_COOKIE_KEY_LEN];
    int krc = uc_api_cookie_key(d, s, role, id, key);
    if (krc || uc_cookie_make(key, role, id, exp, cookie, sizeof(cookie))) {
        error(r, 503, "internal", "cannot make a cookie");
        return;
    }
    json_answer(r, 200, json_pack("{s:s, s:s}", "cookie", cookie, "expires", when));
}

/* HTTP Basic credentials, decoded into raw (NUL-terminated): a pointer to the ':' between
 * the user and the password, or NULL when the header is absent or malformed. */
#define BASIC_CAP (3 * 256 / 4 + 4)
static char *basic(const struct uc_api_req *q, char raw[BASIC_CAP], bool *present)
{
    const char *a = q->authorization;
    *present = a && strncasecmp(a, "Basic ", 6) == 0;
    if (!*present)
        return NULL;
    a += 6;
    while (*a == ' ')
        a++;
    size_t n = strlen(a);
    int m = n && n <= 256 && n % 4 == 0
                ? EVP_DecodeBlock((unsigned char *)raw, (const unsigned char *)a, (int)n)
                : -1;
    if (m <= 0)
        return NULL;
    m -= (a[n - 1] == '=') + (a[n - 2] == '=');
    raw[m] = 0;
    char *colon = memchr(raw, ':', (size_t)m);
    return colon && !memchr(raw, 0, (size_t)m) ? colon : NULL;
}

static void dss_token(struct uc_daemon *d, const struct uc_settings *s, const struct uc_api_req *q,
                      struct uc_api_resp *r)
{
    char raw[BASIC_CAP];
    bool present;
    char *colon = basic(q, raw, &present);
    if (!present) {
        unauthorized(d, r, "Basic", "HTTP Basic credentials (downstream id and secret) required");
        return;
    }
    if (!colon) {
        unauthorized(d, r, "Basic", "malformed Basic credentials");
        return;
    }
    bool ok = false;
    for (size_t i = 0; i < s->cfg.downstreams.n; i++)
        ok |= secret_eq((const char *)raw, s->cfg.downstreams.v[i]);
    *colon = 0;
    if (!ok) {
        char esc[LOGNAME_CAP];
        fprintf(stderr,
                "updcached: tls: %s: DSSAuthWebService refused downstream id '%s': "
                "wrong credentials\n",
                q->peer, log_name((const char *)raw, esc));
        unauthorized(d, r, "Basic", "wrong downstream id or secret");
        return;
    }
    issue(d, s, UC_ROLE_DSS, (const char *)raw, r);
}

static void simple_token(struct uc_daemon *d, const struct uc_settings *s,
                         const struct uc_api_req *q, struct uc_api_resp *r)
{
    json_error_t je;
    json_t *j = json_loadb(q->body ? q->body : "", q->body_len, JSON_REJECT_DUPLICATES, &je);
    const char *client = json_string_value(json_object_get(j, "client"));
    json_t *jsecret = json_object_get(j, "secret");
    if (!json_is_object(j) || !client || !*client || strlen(client) > UC_COOKIE_ID_MAX ||
        (jsecret && !json_is_string(jsecret))) {
        json_decref(j);
        error(r, 400, "bad_request",
              "body must be {\"client\": NAME, \"secret\": S} with NAME of 1 to 128 characters");
        return;
    }
    const char *want = s->cfg.client_secret;
    if (want && *want &&
        !secret_eq(json_string_value(jsecret) ? json_string_value(jsecret) : "", want)) {
        char esc[LOGNAME_CAP];
        fprintf(stderr,
                "updcached: tls: %s: SimpleAuthWebService refused client '%s': "
                "wrong secret\n",
                q->peer, log_name(client, esc));
        json_decref(j);
        unauthorized(d, r, "Bearer", "wrong client secret");
        return;
    }
    issue(d, s, UC_ROLE_CLIENT, client, r);
    json_decref(j);
}

/* ?since=N&limit=N, numbers only. */
static bool page_args(const struct uc_api_req *q, uint64_t *since, uint64_t *limit,
                      struct uc_api_resp *r)
{
    *since = 0;
    *limit = PAGE_DEFAULT;
    const char *qs = strchr(q->target, '?');
    for (const char *p = qs ? qs + 1 : NULL; p && *p;) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        char val[24];
        size_t vl = eq ? (size_t)(end - eq - 1) : 0;
        uint64_t *dst = eq && eq - p == 5 && !strncmp(p, "since", 5)   ? since
                        : eq && eq - p == 5 && !strncmp(p, "limit", 5) ? limit
                                                                       : NULL;
        if (dst) {
            if (vl == 0 || vl >= sizeof(val)) {
                error(r, 400, "bad_request", "since and limit take a decimal number");
                return false;
            }
            memcpy(val, eq + 1, vl);
            val[vl] = 0;
            if (uc_parse_u64(val, dst)) {
                error(r, 400, "bad_request", "since and limit take a decimal number");
                return false;
            }
        }
        p = amp ? amp + 1 : NULL;
    }
    /* Anchors go back out as JSON integers; most JSON readers (jansson among them) stop at
     * INT64_MAX, and the index never counts that far. */
    if (*since > INT64_MAX) {
        error(r, 400, "bad_request", "since must be 0 to 9223372036854775807");
        return false;
    }
    if (*limit == 0 || *limit > PAGE_MAX) {
        error(r, 400, "bad_request", "limit must be 1 to 5000");
        return false;
    }
    return true;
}

struct page {
    struct uc_text t;
    uint64_t limit, count, next;
    bool more;
};

static int page_add(void *ctx, const struct uc_update_rec *u)
{
    struct page *p = ctx;
    if (p->count == p->limit) {
        p->more = true;
        return PAGE_FULL;
    }
    if (p->count++)
        uc_text_append(&p->t, ",", 1);
    uc_text_append(&p->t, u->envelope, u->envelope_len); /* verbatim: signatures survive */
    p->next = u->seq;
    return 0;
}

static void updates_page(struct uc_daemon *d, const struct uc_api_req *q, struct uc_api_resp *r)
{
    uint64_t since, limit;
    if (!page_args(q, &since, &limit, r))
        return;
    struct page p = {.limit = limit, .next = since};
    uc_text_append(&p.t, "{\"updates\":[", 12);
    MDB_txn *txn;
    int rc = uc_index_begin(d->store->ix, false, &txn);
    if (!rc) {
        rc = uc_index_each_change(d->store->ix, txn, since, page_add, &p);
        uc_index_abort(txn);
    }
    if (rc < 0 && rc != PAGE_FULL) {
        free(uc_text_take(&p.t, NULL));
        error(r, 503, "index", "the index cannot be read");
        return;
    }
    uc_text_put(&p.t, "],\"next\":%llu,\"more\":%s}", (unsigned long long)p.next,
                p.more ? "true" : "false");
    size_t len;
    char *body = uc_text_take(&p.t, &len);
    if (!body)
        error(r, 503, "internal", "out of memory");
    else
        set_body(r, 200, "application/json", body, len);
}

static void content_base(const struct uc_settings *s, char *out, size_t cap)
{
    uc_url_base(out, cap, false, s->cfg.name ? s->cfg.name : "localhost", s->cfg.http_port);
}

static void sync_config(const struct uc_settings *s, struct uc_api_resp *r)
{
    char base[300];
    content_base(s, base, sizeof(base));
    json_t *keys = json_array();
    for (size_t i = 0; i < s->cfg.publisher_keys.n; i++) {
        struct uc_key k;
        struct uc_errbuf eb = {{0}};
        if (uc_key_load_public(s->cfg.publisher_keys.v[i], &k, &eb) == 0) {
            json_array_append_new(keys, json_string(k.keyid));
            uc_key_free(&k);
        }
    }
    json_answer(r, 200,
                json_pack("{s:s, s:i, s:i, s:s, s:o}", "name", s->cfg.name ? s->cfg.name : "",
                          "https_port", s->cfg.https_port, "http_port", s->cfg.http_port,
                          "content_url", base, "publisher_keys", keys));
}

static void file_location(struct uc_daemon *d, const struct uc_settings *s, const char *hex,
                          struct uc_api_resp *r)
{
    uint8_t sha1[UC_SHA1_LEN];
    if (strlen(hex) != 2 * UC_SHA1_LEN || uc_hex_decode(hex, 2 * UC_SHA1_LEN, sha1, UC_SHA1_LEN)) {
        error(r, 400, "bad_request", "files/ takes a 40-digit hex SHA-1");
        return;
    }
    struct uc_file_rec f;
    MDB_txn *txn;
    int rc = uc_index_begin(d->store->ix, false, &txn);
    if (!rc) {
        rc = uc_index_get_file(d->store->ix, txn, sha1, &f);
        uc_index_abort(txn);
    }
    if (rc == UC_ENOTFOUND || (!rc && f.state != UC_FILE_PRESENT)) {
        error(r, 404, "not_found", "no such file in this store");
        return;
    }
    if (rc) {
        error(r, 503, "index", "the index cannot be read");
        return;
    }
    char base[300], path[128], url[450], h1[41], h256[65];
    content_base(s, base, sizeof(base));
    uc_content_path(f.sha1, f.suffix, path, sizeof(path));
    snprintf(url, sizeof(url), "%s%s", base, path);
    uc_hex_encode(f.sha1, UC_SHA1_LEN, h1, true);
    uc_hex_encode(f.sha256, UC_SHA256_LEN, h256, false);
    json_answer(r, 200,
                json_pack("{s:s, s:s, s:I, s:s}", "sha1", h1, "sha256", h256, "size",
                          (json_int_t)f.size, "url", url));
}

/* SPEC §13: the block digests of a file whose record has blocks_sha256, whether or not
 * its bytes are here (an on-demand level passes them down before it holds the file). */
static void block_list(struct uc_daemon *d, const char *hex, struct uc_api_resp *r)
{
    uint8_t sha1[UC_SHA1_LEN];
    if (strlen(hex) != 2 * UC_SHA1_LEN || uc_hex_decode(hex, 2 * UC_SHA1_LEN, sha1, UC_SHA1_LEN)) {
        error(r, 400, "bad_request", "blocks/ takes a 40-digit hex SHA-1");
        return;
    }
    MDB_txn *txn;
    const uint8_t *list = NULL;
    size_t n = 0;
    char *body = NULL;
    int rc = uc_index_begin(d->store->ix, false, &txn);
    if (!rc) {
        rc = uc_index_get_blocks(d->store->ix, txn, sha1, &list, &n);
        if (!rc && !(body = malloc(n * UC_SHA256_LEN + 1)))
            rc = -ENOMEM;
        if (!rc)
            memcpy(body, list, n * UC_SHA256_LEN);
        uc_index_abort(txn);
    }
    if (rc == UC_ENOTFOUND)
        error(r, 404, "not_found", "no block digests for this SHA-1 here");
    else if (rc)
        error(r, 503, "index", "the index cannot be read");
    else
        set_body(r, 200, "application/octet-stream", body, n * UC_SHA256_LEN);
}

/* The admin token: as Bearer (scripts), or as the password of HTTP Basic, whatever the
 * user name, so that a browser asked by the status page's challenge can send it. */
static const char *admin_token(const struct uc_api_req *q, char raw[BASIC_CAP])
{
    const char *tok = bearer(q);
    bool present;
    char *colon = tok ? NULL : basic(q, raw, &present);
    return tok ? tok : colon ? colon + 1 : NULL;
}

static void status_page(struct uc_daemon *d, const struct uc_settings *s,
                        const struct uc_metrics *sum, const struct uc_metrics_extra *x,
                        struct uc_api_resp *r)
{
    uint64_t steps[UC_HISTORY_SLOTS];
    struct uc_status_chart c = {.steps = steps, .step_s = UC_HISTORY_STEP_S};
    int64_t end;
    c.n = uc_history_read(&d->history, steps, UC_HISTORY_SLOTS, &c.current, &end);
    size_t len;
    char *page = uc_status_page(sum, x, &c, s->cfg.name, (int64_t)time(NULL), &len);
    if (!page) {
        error(r, 503, "internal", "out of memory");
        return;
    }
    set_body(r, 200, "text/html; charset=utf-8", page, len);
    r->page = true;
}

static void admin(struct uc_daemon *d, const struct uc_settings *s, const struct uc_api_req *q,
                  const char *sub, struct uc_api_resp *r)
{
    const char *want = s->cfg.admin_token;
    if (!want || !*want) {
        error(r, 403, "forbidden", "no [auth] admin_token is configured on this server");
        return;
    }
    char raw[BASIC_CAP];
    const char *tok = admin_token(q, raw);
    if (!tok || !secret_eq(tok, want)) {
        fprintf(stderr, "updcached: tls: %s: APIRemoting30: %s admin token\n", q->peer,
                tok ? "wrong" : "missing");
        /* the page challenges with Basic: a browser then asks its user for the token */
        unauthorized(d, r, eq_ci(sub, "status") ? "Basic" : "Bearer",
                     tok ? "wrong admin token" : "admin token required");
        OPENSSL_cleanse(raw, sizeof(raw));
        return;
    }
    OPENSSL_cleanse(raw, sizeof(raw));
    struct uc_metrics sum;
    struct uc_metrics_extra x;
    uc_metrics_sum(d->shards, d->nworkers + 1, &sum);
    uc_api_metrics_extra(d, &x);
    if (eq_ci(sub, "stats")) {
        char *j = uc_metrics_json(&sum, &x);
        if (j)
            set_body(r, 200, "application/json", j, strlen(j));
        else
            error(r, 503, "internal", "out of memory");
    } else if (eq_ci(sub, "metrics")) {
        char *t = uc_metrics_prometheus(&sum, &x);
        if (t)
            set_body(r, 200, "text/plain; version=0.0.4; charset=utf-8", t, strlen(t));
        else
            error(r, 503, "internal", "out of memory");
    } else if (eq_ci(sub, "status")) {
        status_page(d, s, &sum, &x, r);
    } else {
        error(r, 404, "not_found", "APIRemoting30 has stats, metrics and status");
    }
}

static void report(struct uc_daemon *d, const struct uc_api_req *q, enum uc_report_kind kind,
                   struct uc_api_resp *r)
{
    struct uc_metrics *m = d->shards[d->nworkers];
    if (q->body_too_large) {
        uc_metrics_inc(&m->reports_refused);
        error(r, 413, "too_large", "the report is larger than [server] max_body_bytes");
        return;
    }
    char *rec, detail[200];
    size_t len;
    int st = uc_report_build(kind, q->peer, true, q->body ? q->body : "", q->body_len, &rec, &len,
                             detail, sizeof(detail));
    if (st) {
        uc_metrics_inc(&m->reports_refused);
        error(r, st, "bad_request", detail);
        return;
    }
    if (!uc_reports_push(d->reports, rec, len)) {
        free(rec);
        uc_metrics_inc(&m->reports_refused);
        error(r, 503, "busy", "too many reports waiting to be written; retry later");
        return;
    }
    uc_metrics_inc(&m->reports_accepted);
    json_answer(r, 202, json_pack("{s:b}", "accepted", 1));
}

static void selfupdate(struct uc_daemon *d, const char *path, struct uc_api_resp *r)
{
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC,
                           .resolve =
                               RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, d->selfupdate_fd, path, &how, sizeof(how));
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        error(r, 404, "not_found", "no such file under SelfUpdate/");
        return;
    }
    r->status = 200;
    r->content_type = "application/octet-stream";
    r->fd = fd;
    r->size = (uint64_t)sb.st_size;
    r->mtime = sb.st_mtime;
}

static void method_not_allowed(struct uc_api_resp *r, const char *allow)
{
    error(r, 405, "method_not_allowed", allow);
    r->hname = "Allow";
    snprintf(r->hvalue, sizeof(r->hvalue), "%s", allow);
}

/* Dispatch within a root; sub is the path after "/Root/". */
static void in_root(struct uc_daemon *d, const struct uc_settings *s, const struct uc_api_req *q,
                    enum uc_root root, const char *sub, struct uc_api_resp *r)
{
    bool get = eq_ci(q->method, "GET") || eq_ci(q->method, "HEAD");
    bool post = eq_ci(q->method, "POST");
    switch (root) {
    case UC_ROOT_DSSAUTH:
    case UC_ROOT_SIMPLEAUTH:
        if (!eq_ci(sub, "token")) {
            error(r, 404, "not_found", "the token endpoint is token");
            return;
        }
        if (!post) {
            method_not_allowed(r, "POST");
            return;
        }
        if (q->body_too_large) { /* SPEC §8: the limit covers tokens too */
            error(r, 413, "too_large", "the body is larger than [server] max_body_bytes");
            return;
        }
        root == UC_ROOT_DSSAUTH ? dss_token(d, s, q, r) : simple_token(d, s, q, r);
        return;
    case UC_ROOT_SERVERSYNC:
        if (!get) {
            method_not_allowed(r, "GET, HEAD");
            return;
        }
        if (!eq_ci(sub, "updates") && !eq_ci(sub, "config") && strncasecmp(sub, "blocks/", 7)) {
            error(r, 404, "not_found",
                  "ServerSyncWebService has updates, config and blocks/<SHA1>");
            return;
        }
        if (!need_cookie(d, s, q, UC_ROLE_DSS, r))
            return;
        if (eq_ci(sub, "updates"))
            updates_page(d, q, r);
        else if (eq_ci(sub, "config"))
            sync_config(s, r);
        else
            block_list(d, sub + 7, r);
        return;
    case UC_ROOT_CLIENT:
        if (!get) {
            method_not_allowed(r, "GET, HEAD");
            return;
        }
        if (!eq_ci(sub, "updates") && strncasecmp(sub, "files/", 6) != 0) {
            error(r, 404, "not_found", "ClientWebService has updates and files/<SHA1>");
            return;
        }
        if (!need_cookie(d, s, q, UC_ROLE_CLIENT, r))
            return;
        {
            eq_ci(sub, "updates") ? updates_page(d, q, r) : file_location(d, s, sub + 6, r);
            return;
        }
    case UC_ROOT_APIREMOTING:
        if (!get) {
            method_not_allowed(r, "GET, HEAD");
            return;
        }
        {
            admin(d, s, q, sub, r);
            return;
        }
    case UC_ROOT_REPORTING:
    case UC_ROOT_INVENTORY: {
        const char *want = root == UC_ROOT_REPORTING ? "events" : "report";
        if (!eq_ci(sub, want)) {
            error(r, 404, "not_found",
                  root == UC_ROOT_REPORTING ? "reports go to ReportingWebService/events"
                                            : "reports go to Inventory/report");
            return;
        }
        if (!post) {
            method_not_allowed(r, "POST");
            return;
        }
        {
            report(d, q, root == UC_ROOT_REPORTING ? UC_REPORT_EVENTS : UC_REPORT_INVENTORY, r);
            return;
        }
    }
    case UC_ROOT_SELFUPDATE:
        if (!get) {
            method_not_allowed(r, "GET, HEAD");
            return;
        }
        {
            selfupdate(d, sub, r);
            return;
        }
    default: {
        error(r, 404, "not_found", "no such root");
        return;
    }
    }
}

void uc_api_handle(struct uc_daemon *d, const struct uc_settings *s, const struct uc_api_req *q,
                   struct uc_api_resp *r)
{
    memset(r, 0, sizeof(*r));
    r->fd = -1;
    struct uc_route rt;
    enum uc_route_rc rc = uc_route_eval(q->target, strlen(q->target), true, &rt);
    r->root = rt.root;
    if (q->framing) { /* where the body ends is unclear: a smuggling attempt or a bug */
        fprintf(stderr, "updcached: tls: %s: refused request: %s\n", q->peer, q->framing);
        error(r, 400, "bad_request", q->framing);
        return;
    }
    if (rc == UC_ROUTE_BAD) {
        fprintf(stderr, "updcached: tls: %s: refused request target: %s\n", q->peer, rt.why);
        {
            error(r, 400, "bad_request", rt.why);
            return;
        }
    }
    if (rc == UC_ROUTE_NOT_FOUND) {
        error(r, 404, "not_found", "no such root on this server");
        return;
    }
    if (rc == UC_ROUTE_FORBIDDEN) {
        /* Content never leaves the TLS port: point at the plain port instead. */
        char base[300], msg[UC_ROUTE_PATH_MAX + 400];
        content_base(s, base, sizeof(base));
        snprintf(msg, sizeof(msg), "files are served on the plain port only: %s%s", base,
                 rt.path[0] == '/' ? rt.path + 1 : rt.path);
        {
            error(r, 403, "forbidden", msg);
            return;
        }
    }
    const char *name = uc_route_root_name(rt.root);
    const char *sub = rt.path + 1 + strlen(name);
    sub += *sub == '/';
    in_root(d, s, q, rt.root, sub, r);
}

void uc_api_resp_free(struct uc_api_resp *r)
{
    free(r->body);
    r->body = NULL;
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

void uc_api_metrics_extra(struct uc_daemon *d, struct uc_metrics_extra *x)
{
    memset(x, 0, sizeof(*x));
    x->conns_http = (uint64_t)atomic_load(&d->connections);
    x->conns_https = (uint64_t)atomic_load(&d->tls_connections);
    x->reports_stored = d->reports ? uc_reports_stored(d->reports) : 0;
    struct uc_index *ix = d->store->ix;
    MDB_txn *txn;
    if (uc_index_begin(ix, false, &txn))
        return;
    struct uc_store_stats st;
    uc_index_read_stats(ix, txn, &st);
    uc_index_abort(txn);
    x->store_files = st.files;
    x->store_updates = st.updates;
    x->ingest_files = st.ingest_files;
    x->ingest_bytes = st.ingest_bytes;
    x->sync_runs = st.sync_runs;
    x->sync_files = st.sync_files;
    x->sync_bytes = st.sync_bytes;
    x->sync_last = st.sync_last;
    x->verify_failures = st.verify_failures;
    x->content_bytes = st.content_bytes;
    x->evictable_bytes = st.evictable_bytes;
    x->max_size = d->boot->cfg.max_size;
    x->evictions = st.evictions;
    x->evicted_bytes = st.evicted_bytes;
    const struct uc_fill_counters *f = &d->fillc;
    x->fill_misses = atomic_load(&f->misses);
    x->fill_started = atomic_load(&f->started);
    x->fill_joined = atomic_load(&f->joined);
    x->fill_bytes = atomic_load(&f->bytes);
    x->fill_block_failures = atomic_load(&f->block_failures);
    x->fill_failed = atomic_load(&f->failed);
    x->fill_published = atomic_load(&f->published);
    x->fill_active = atomic_load(&f->active);
    x->fill_first_byte_ns_sum = atomic_load(&f->first_byte_ns_sum);
    x->fill_first_byte_count = atomic_load(&f->first_byte_count);
}
