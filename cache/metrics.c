/*
 * Counters and their two renderings: see metrics.h.
 */
#include "metrics.h"

#include "textbuf.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int codes[] = {
#define X(n) n,
    UC_METRIC_CODES
#undef X
};

static int code_index(int status)
{
    for (int i = 0; i < UC_MC_OTHER; i++)
        if (codes[i] == status)
            return i;
    return UC_MC_OTHER;
}

void uc_metrics_request(struct uc_metrics *m, enum uc_port_kind port, enum uc_root root, int status,
                        uint64_t body_bytes)
{
    if ((unsigned)root >= UC_ROOTS)
        root = UC_ROOT_NONE;
    uc_metrics_inc(&m->requests[port][root][code_index(status)]);
    atomic_fetch_add_explicit(&m->body_bytes[port], body_bytes, memory_order_relaxed);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define ADD(dst, src) atomic_store_explicit(&(dst), LOAD(dst) + LOAD(src), memory_order_relaxed)

void uc_metrics_sum(struct uc_metrics *const *shards, size_t n, struct uc_metrics *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t s = 0; s < n; s++) {
        const struct uc_metrics *m = shards[s];
        for (int p = 0; p < 2; p++) {
            for (int r = 0; r < UC_ROOTS; r++)
                for (int c = 0; c < UC_MC_COUNT; c++)
                    ADD(out->requests[p][r][c], m->requests[p][r][c]);
            ADD(out->body_bytes[p], m->body_bytes[p]);
        }
        ADD(out->hot_hits, m->hot_hits);
        ADD(out->hot_misses, m->hot_misses);
        ADD(out->content_hits, m->content_hits);
        ADD(out->file_bytes_sendfile, m->file_bytes_sendfile);
        ADD(out->file_bytes_splice, m->file_bytes_splice);
        ADD(out->reports_accepted, m->reports_accepted);
        ADD(out->reports_refused, m->reports_refused);
        ADD(out->auth_failures, m->auth_failures);
        ADD(out->tls_plain_refused, m->tls_plain_refused);
        ADD(out->access_log_dropped, m->access_log_dropped);
    }
}

static const char *port_name(int p)
{
    return p == UC_PORT_HTTPS ? "https" : "http";
}

static const char *root_label(int r)
{
    const char *n = uc_route_root_name((enum uc_root)r);
    return n ? n : "none";
}

static void code_label(int c, char out[8])
{
    if (c == UC_MC_OTHER)
        strcpy(out, "other");
    else
        snprintf(out, 8, "%d", codes[c]);
}

static void family(struct uc_text *t, const char *name, const char *type, const char *help)
{
    uc_text_put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one unlabelled sample. */
static void single(struct uc_text *t, const char *name, const char *type, const char *help,
                   uint64_t v)
{
    family(t, name, type, help);
    uc_text_put(t, "%s %llu\n", name, (unsigned long long)v);
}

char *uc_metrics_prometheus(const struct uc_metrics *m, const struct uc_metrics_extra *x)
{
    struct uc_text t = {0};
    family(&t, "updcache_requests_total", "counter",
           "Requests answered, by port, virtual root and status code.");
    for (int p = 0; p < 2; p++)
        for (int r = 0; r < UC_ROOTS; r++)
            for (int c = 0; c < UC_MC_COUNT; c++) {
                uint64_t v = LOAD(m->requests[p][r][c]);
                if (!v)
                    continue;
                char code[8];
                code_label(c, code);
                uc_text_put(&t,
                            "updcache_requests_total{port=\"%s\",root=\"%s\",code=\"%s\"} %llu\n",
                            port_name(p), root_label(r), code, (unsigned long long)v);
            }
    family(&t, "updcache_body_bytes_sent_total", "counter", "Response body bytes sent, by port.");
    for (int p = 0; p < 2; p++)
        uc_text_put(&t, "updcache_body_bytes_sent_total{port=\"%s\"} %llu\n", port_name(p),
                    (unsigned long long)LOAD(m->body_bytes[p]));
    single(&t, "updcache_hot_cache_hits_total", "counter", "Small files served from memory.",
           LOAD(m->hot_hits));
    single(&t, "updcache_hot_cache_misses_total", "counter",
           "Small files read from disk (then cached).", LOAD(m->hot_misses));
    family(&t, "updcache_file_bytes_sent_total", "counter",
           "Large-response file bytes, by path: sendfile from the page cache, or splice "
           "through the ring for ranges that were not cached.");
    uc_text_put(&t,
                "updcache_file_bytes_sent_total{path=\"sendfile\"} %llu\n"
                "updcache_file_bytes_sent_total{path=\"splice\"} %llu\n",
                (unsigned long long)LOAD(m->file_bytes_sendfile),
                (unsigned long long)LOAD(m->file_bytes_splice));
    family(&t, "updcache_connections", "gauge", "Open connections, by port.");
    uc_text_put(
        &t, "updcache_connections{port=\"http\"} %llu\nupdcache_connections{port=\"https\"} %llu\n",
        (unsigned long long)x->conns_http, (unsigned long long)x->conns_https);
    single(&t, "updcache_store_files", "gauge", "File records in the index (any state).",
           x->store_files);
    single(&t, "updcache_store_updates", "gauge", "Signed updates in the store.", x->store_updates);
    family(&t, "updcache_content_bytes", "gauge",
           "Bytes of files present, by kind (origin: add, import; evictable: from an upstream).");
    uc_text_put(&t,
                "updcache_content_bytes{kind=\"origin\"} %llu\n"
                "updcache_content_bytes{kind=\"evictable\"} %llu\n",
                (unsigned long long)(x->content_bytes - x->evictable_bytes),
                (unsigned long long)x->evictable_bytes);
    single(&t, "updcache_content_max_bytes", "gauge", "[store] max_size (0: no cap).", x->max_size);
    single(&t, "updcache_evictions_total", "counter", "Files evicted to make room.", x->evictions);
    single(&t, "updcache_evicted_bytes_total", "counter", "Bytes evicted to make room.",
           x->evicted_bytes);
    single(&t, "updcache_cache_hits_total", "counter",
           "GETs and HEADs of a file the store holds (answered without the upstream).",
           LOAD(m->content_hits));
    single(&t, "updcache_fills_in_progress", "gauge", "Fills started and not yet ended.",
           x->fill_active);
    single(&t, "updcache_fill_misses_total", "counter",
           "GETs of a file whose signed record is here and whose bytes are not (SPEC 13).",
           x->fill_misses);
    family(&t, "updcache_fills_total", "counter",
           "Fills on miss: started, joined by a later miss, published, failed.");
    uc_text_put(&t,
                "updcache_fills_total{event=\"started\"} %llu\n"
                "updcache_fills_total{event=\"joined\"} %llu\n"
                "updcache_fills_total{event=\"published\"} %llu\n"
                "updcache_fills_total{event=\"failed\"} %llu\n",
                (unsigned long long)x->fill_started, (unsigned long long)x->fill_joined,
                (unsigned long long)x->fill_published, (unsigned long long)x->fill_failed);
    single(&t, "updcache_fill_bytes_total", "counter",
           "Verified bytes written by fills (each block once).", x->fill_bytes);
    single(&t, "updcache_fill_block_verification_failures_total", "counter",
           "Fetched blocks (or whole files) that did not match their signed digests.",
           x->fill_block_failures);
    family(&t, "updcache_fill_first_verified_byte_seconds", "summary",
           "Time from the start of a fill to its first verified byte.");
    uc_text_put(&t,
                "updcache_fill_first_verified_byte_seconds_sum %.6f\n"
                "updcache_fill_first_verified_byte_seconds_count %llu\n",
                (double)x->fill_first_byte_ns_sum / 1e9,
                (unsigned long long)x->fill_first_byte_count);
    single(&t, "updcache_ingest_files_total", "counter", "Files published by add and import.",
           x->ingest_files);
    single(&t, "updcache_ingest_bytes_total", "counter", "Bytes published by add and import.",
           x->ingest_bytes);
    single(&t, "updcache_sync_runs_total", "counter", "Completed sync runs.", x->sync_runs);
    single(&t, "updcache_sync_files_total", "counter", "Files published by sync.", x->sync_files);
    single(&t, "updcache_sync_last_run_timestamp_seconds", "gauge",
           "When the last sync run ended (unix time; 0: never).", x->sync_last);
    single(&t, "updcache_sync_bytes_total", "counter", "Bytes published by sync.", x->sync_bytes);
    single(&t, "updcache_verification_failures_total", "counter",
           "Files that failed digest verification (ingest, sync, verify).", x->verify_failures);
    family(&t, "updcache_reports_total", "counter", "Client reports, by outcome.");
    uc_text_put(&t, "updcache_reports_total{outcome=\"accepted\"} %llu\n",
                (unsigned long long)LOAD(m->reports_accepted));
    uc_text_put(&t, "updcache_reports_total{outcome=\"refused\"} %llu\n",
                (unsigned long long)LOAD(m->reports_refused));
    single(&t, "updcache_auth_failures_total", "counter",
           "Requests refused for missing, bad or expired credentials.", LOAD(m->auth_failures));
    single(&t, "updcache_tls_plain_requests_total", "counter",
           "Plain HTTP requests refused on the TLS port.", LOAD(m->tls_plain_refused));
    single(&t, "updcache_access_log_lines_dropped_total", "counter",
           "Access log lines lost because the log could not be written.",
           LOAD(m->access_log_dropped));
    return uc_text_take(&t, NULL);
}

uint64_t uc_metrics_port_requests(const struct uc_metrics *m, enum uc_port_kind port)
{
    uint64_t n = 0;
    for (int r = 0; r < UC_ROOTS; r++)
        for (int c = 0; c < UC_MC_COUNT; c++)
            n += LOAD(m->requests[port][r][c]);
    return n;
}

uint64_t uc_metrics_requests_total(struct uc_metrics *const *shards, size_t n)
{
    uint64_t total = 0;
    for (size_t s = 0; s < n; s++)
        total += uc_metrics_port_requests(shards[s], UC_PORT_HTTP) +
                 uc_metrics_port_requests(shards[s], UC_PORT_HTTPS);
    return total;
}

char *uc_metrics_json(const struct uc_metrics *m, const struct uc_metrics_extra *x)
{
    json_t *req = json_object();
    for (int p = 0; p < 2; p++) {
        json_t *byroot = json_object();
        for (int r = 0; r < UC_ROOTS; r++) {
            json_t *bycode = json_object();
            for (int c = 0; c < UC_MC_COUNT; c++) {
                uint64_t v = LOAD(m->requests[p][r][c]);
                char code[8];
                code_label(c, code);
                if (v)
                    json_object_set_new(bycode, code, json_integer((json_int_t)v));
            }
            if (json_object_size(bycode))
                json_object_set_new(byroot, root_label(r), bycode);
            else
                json_decref(bycode);
        }
        json_object_set_new(req, port_name(p), byroot);
    }
    json_t *root = json_pack(
        "{s:o, s:{s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I}, "
        "s:{s:I, s:I, s:I, s:I}, s:I, s:{s:I, s:I, s:I}, s:I, s:I, s:I, s:{s:I, s:I}}",
        "requests", req, "body_bytes_sent", "http", (json_int_t)LOAD(m->body_bytes[0]), "https",
        (json_int_t)LOAD(m->body_bytes[1]), "hot_cache", "hits", (json_int_t)LOAD(m->hot_hits),
        "misses", (json_int_t)LOAD(m->hot_misses), "connections", "http", (json_int_t)x->conns_http,
        "https", (json_int_t)x->conns_https, "store", "files", (json_int_t)x->store_files,
        "updates", (json_int_t)x->store_updates, "ingest", "files", (json_int_t)x->ingest_files,
        "bytes", (json_int_t)x->ingest_bytes, "sync", "runs", (json_int_t)x->sync_runs, "files",
        (json_int_t)x->sync_files, "bytes", (json_int_t)x->sync_bytes, "last_run",
        (json_int_t)x->sync_last, "verification_failures", (json_int_t)x->verify_failures,
        "reports", "accepted", (json_int_t)LOAD(m->reports_accepted), "refused",
        (json_int_t)LOAD(m->reports_refused), "stored", (json_int_t)x->reports_stored,
        "auth_failures", (json_int_t)LOAD(m->auth_failures), "tls_plain_requests_refused",
        (json_int_t)LOAD(m->tls_plain_refused), "access_log_lines_dropped",
        (json_int_t)LOAD(m->access_log_dropped), "cache", "hits", (json_int_t)LOAD(m->content_hits),
        "misses", (json_int_t)x->fill_misses);
    if (root)
        json_object_set_new(
            root, "content",
            json_pack("{s:I, s:I, s:I, s:I, s:I}", "bytes", (json_int_t)x->content_bytes,
                      "evictable_bytes", (json_int_t)x->evictable_bytes, "max_size",
                      (json_int_t)x->max_size, "evictions", (json_int_t)x->evictions,
                      "evicted_bytes", (json_int_t)x->evicted_bytes));
    if (root)
        json_object_set_new(
            root, "fill",
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "misses",
                      (json_int_t)x->fill_misses, "in_progress", (json_int_t)x->fill_active,
                      "started", (json_int_t)x->fill_started, "joined", (json_int_t)x->fill_joined,
                      "published", (json_int_t)x->fill_published, "failed",
                      (json_int_t)x->fill_failed, "bytes", (json_int_t)x->fill_bytes,
                      "block_verification_failures", (json_int_t)x->fill_block_failures,
                      "first_verified_byte_ns_sum", (json_int_t)x->fill_first_byte_ns_sum,
                      "first_verified_byte_count", (json_int_t)x->fill_first_byte_count));
    char *s = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return s;
}
