/*
 * The status page: see status_page.h.
 */
#include "status_page.h"

#include "history.h"
#include "strparse.h"
#include "textbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void put_escaped(struct uc_text *t, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            uc_text_put(t, "&lt;");
            break;
        case '>':
            uc_text_put(t, "&gt;");
            break;
        case '&':
            uc_text_put(t, "&amp;");
            break;
        case '"':
            uc_text_put(t, "&quot;");
            break;
        default:
            uc_text_append(t, s, 1);
        }
    }
}

static void when(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!t || !gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(out, cap, "never");
}

/* One row: a label, the number (data-key = its path in the stats JSON). */
static void row(struct uc_text *t, const char *label, const char *key, uint64_t v)
{
    uc_text_put(t, "<tr><th>%s</th><td data-key=\"%s\">%" PRIu64 "</td></tr>\n", label, key, v);
}

/* A byte count: the readable size first, the exact number beside it. */
static void row_bytes(struct uc_text *t, const char *label, const char *key, uint64_t v)
{
    char h[32];
    uc_fmt_bytes(v, h, sizeof(h));
    uc_text_put(
        t, "<tr><th>%s</th><td data-key=\"%s\">%s <small>%" PRIu64 " bytes</small></td></tr>\n",
        label, key, h, v);
}

static void store_card(struct uc_text *t, const struct uc_metrics_extra *x)
{
    uc_text_put(t, "<section><h2>Store</h2>\n");
    if (x->max_size) {
        double pct = 100.0 * (double)x->content_bytes / (double)x->max_size;
        uc_text_put(t,
                    "<div class=\"bar\" role=\"img\" aria-label=\"%.1f%% of the cap\">"
                    "<div style=\"width:%.1f%%\"></div></div><p>%.1f%% of the cap</p>\n",
                    pct, pct > 100 ? 100 : pct, pct);
    } else {
        uc_text_put(t, "<p>No cap: <code>[store] max_size</code> is not set.</p>\n");
    }
    uc_text_put(t, "<table>\n");
    row_bytes(t, "Content", "content.bytes", x->content_bytes);
    row_bytes(t, "Cap (max_size)", "content.max_size", x->max_size);
    row_bytes(t, "Evictable (from an upstream)", "content.evictable_bytes", x->evictable_bytes);
    row(t, "Evictions", "content.evictions", x->evictions);
    row_bytes(t, "Evicted", "content.evicted_bytes", x->evicted_bytes);
    row(t, "File records", "store.files", x->store_files);
    row(t, "Signed updates", "store.updates", x->store_updates);
    uc_text_put(t, "</table></section>\n");
}

static void traffic_card(struct uc_text *t, const struct uc_metrics *m,
                         const struct uc_metrics_extra *x)
{
    uint64_t hits = LOAD(m->content_hits), misses = x->fill_misses;
    uc_text_put(t, "<section><h2>Traffic</h2>\n");
    if (hits + misses)
        uc_text_put(t, "<p>Hit ratio %.1f%%</p>\n", 100.0 * (double)hits / (double)(hits + misses));
    uc_text_put(t, "<table>\n");
    row(t, "Hits (served from the store)", "cache.hits", hits);
    row(t, "Misses (filled from the upstream)", "cache.misses", misses);
    row(t, "Requests, plain port", "requests.http", uc_metrics_port_requests(m, UC_PORT_HTTP));
    row(t, "Requests, TLS port", "requests.https", uc_metrics_port_requests(m, UC_PORT_HTTPS));
    row_bytes(t, "Bytes served, plain port", "body_bytes_sent.http", LOAD(m->body_bytes[0]));
    row_bytes(t, "Bytes served, TLS port", "body_bytes_sent.https", LOAD(m->body_bytes[1]));
    row(t, "Open connections, plain", "connections.http", x->conns_http);
    row(t, "Open connections, TLS", "connections.https", x->conns_https);
    uc_text_put(t, "</table></section>\n");
}

static void fill_card(struct uc_text *t, const struct uc_metrics_extra *x)
{
    uc_text_put(t, "<section><h2>Fills on miss</h2><table>\n");
    row(t, "In progress", "fill.in_progress", x->fill_active);
    row(t, "Started", "fill.started", x->fill_started);
    row(t, "Joined by a later miss", "fill.joined", x->fill_joined);
    row(t, "Published", "fill.published", x->fill_published);
    row(t, "Failed", "fill.failed", x->fill_failed);
    row_bytes(t, "Verified bytes", "fill.bytes", x->fill_bytes);
    uc_text_put(t, "</table></section>\n");
}

static void integrity_card(struct uc_text *t, const struct uc_metrics *m,
                           const struct uc_metrics_extra *x)
{
    bool bad = x->verify_failures || x->fill_block_failures;
    uc_text_put(t, "<section%s><h2>Verification</h2><table>\n", bad ? " class=\"alert\"" : "");
    row(t, "Files that failed their digests", "verification_failures", x->verify_failures);
    row(t, "Fill blocks that failed their digests", "fill.block_verification_failures",
        x->fill_block_failures);
    row(t, "Refused credentials", "auth_failures", LOAD(m->auth_failures));
    uc_text_put(t, "</table></section>\n");
}

static void sync_card(struct uc_text *t, const struct uc_metrics_extra *x)
{
    char w[40];
    when((int64_t)x->sync_last, w, sizeof(w));
    uc_text_put(t,
                "<section><h2>Sync and ingest</h2><table>\n"
                "<tr><th>Last sync run</th><td data-key=\"sync.last_run\" data-value=\"%" PRIu64
                "\">%s</td></tr>\n",
                x->sync_last, w);
    row(t, "Sync runs", "sync.runs", x->sync_runs);
    row(t, "Files synced", "sync.files", x->sync_files);
    row_bytes(t, "Bytes synced", "sync.bytes", x->sync_bytes);
    row(t, "Files published here (add, import)", "ingest.files", x->ingest_files);
    row_bytes(t, "Bytes published here", "ingest.bytes", x->ingest_bytes);
    uc_text_put(t, "</table></section>\n");
}

/* Bars of requests per step on a fixed time axis (the whole history wide, now at the
 * right), the running step last and lighter. */
static void chart_svg(struct uc_text *t, const struct uc_status_chart *c)
{
    enum { W = 640, H = 160, PAD = 36, SLOTS = UC_HISTORY_SLOTS + 1 };
    size_t bars = c->n + 1 < SLOTS ? c->n + 1 : SLOTS;
    size_t first = c->n + 1 - bars; /* older steps than the axis holds are not drawn */
    uint64_t top = c->current;
    for (size_t i = first; i < c->n; i++)
        top = c->steps[i] > top ? c->steps[i] : top;
    double bw = (double)(W - PAD) / SLOTS;
    unsigned minutes = (UC_HISTORY_SLOTS * c->step_s + 59) / 60;
    uc_text_put(t,
                "<section class=\"wide\"><h2>Requests per %u s, last %u min</h2>\n"
                "<svg viewBox=\"0 0 %d %d\" width=\"100%%\" role=\"img\" "
                "aria-label=\"requests per %u seconds\">\n"
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n"
                "<text x=\"%d\" y=\"12\" text-anchor=\"end\">%" PRIu64 "</text>\n"
                "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n",
                c->step_s, minutes, W, H + 20, c->step_s, PAD, H, W, H, PAD - 4, top, PAD - 4, H);
    for (size_t i = first; i <= c->n; i++) {
        uint64_t v = i < c->n ? c->steps[i] : c->current;
        double h = top ? (double)(H - 16) * (double)v / (double)top : 0;
        double x = PAD + (double)(SLOTS - bars + (i - first)) * bw;
        uc_text_put(t,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"%s>"
                    "<title>%" PRIu64 " requests</title></rect>\n",
                    x + 1, H - h, bw - 2, h, i < c->n ? "" : " class=\"now\"", v);
    }
    uc_text_put(t,
                "<text x=\"%d\" y=\"%d\">%u min ago</text>"
                "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">now</text>\n</svg></section>\n",
                PAD, H + 16, minutes, W, H + 16);
}

static const char style[] =
    "body{font:15px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2430;background:#f6f7f9}"
    "h1{font-size:1.4em;margin:0}h1 span{color:#5a6577;font-weight:normal}"
    "main{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:1em;"
    "margin-top:1em}"
    "section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:.8em 1em}"
    "section.wide{grid-column:1/-1}section.alert{border-color:#c0392b;background:#fdf1ef}"
    "h2{font-size:1.05em;margin:0 0 .5em}table{border-collapse:collapse;width:100%}"
    "th{text-align:left;font-weight:normal;color:#5a6577;padding:.15em 1em .15em 0}"
    "td{text-align:right;font-variant-numeric:tabular-nums}small{color:#8a93a3}"
    ".bar{height:.8em;background:#e6e9ee;border-radius:4px;overflow:hidden}"
    ".bar div{height:100%;background:#2e7d5b}"
    "svg rect{fill:#3b6ea8}svg rect.now{fill:#9db7d5}svg text{font-size:11px;fill:#5a6577}"
    "svg .axis{stroke:#8a93a3}p{margin:.3em 0}";

char *uc_status_page(const struct uc_metrics *sum, const struct uc_metrics_extra *x,
                     const struct uc_status_chart *chart, const char *name, int64_t now,
                     size_t *len)
{
    struct uc_text t = {0};
    char w[40];
    when(now, w, sizeof(w));
    uc_text_put(&t, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                    "<meta http-equiv=\"refresh\" content=\"10\">"
                    /* an empty icon: the browser does not ask the server for /favicon.ico */
                    "<link rel=\"icon\" href=\"data:,\">"
                    "<title>updcache status");
    if (name && *name) {
        uc_text_put(&t, ": ");
        put_escaped(&t, name);
    }
    uc_text_put(&t, "</title><style>%s</style></head>\n<body><header><h1>updcache", style);
    if (name && *name) {
        uc_text_put(&t, " <span>");
        put_escaped(&t, name);
        uc_text_put(&t, "</span>");
    }
    uc_text_put(&t,
                "</h1><p>As of <time>%s</time>; the same counters as "
                "<code>/APIRemoting30/stats</code>. This page reloads every 10 s.</p>"
                "</header>\n<main>\n",
                w);
    store_card(&t, x);
    traffic_card(&t, sum, x);
    integrity_card(&t, sum, x);
    fill_card(&t, x);
    sync_card(&t, x);
    chart_svg(&t, chart);
    uc_text_put(&t, "</main></body></html>\n");
    return uc_text_take(&t, len);
}
