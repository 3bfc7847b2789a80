/*
 * Human and JSON reports. Rates divide by the measured duration only (warmup excluded),
 * and only good responses count: a fast wrong answer never raises requests/s.
 */
#include "report.h"

#include <jansson.h>
#include <stdio.h>

uint64_t uc_lg_error_total(const struct uc_lg_result *r)
{
    uint64_t n = 0;
    for (int i = 0; i < UC_ERR_COUNT; i++)
        n += r->st.errors[i];
    return n;
}

static double per_s(uint64_t n, double s)
{
    return s > 0 ? (double)n / s : 0;
}

void uc_lg_print_summary(FILE *f, const struct uc_lg_config *cfg, const struct uc_lg_result *r)
{
    const struct uc_lg_stats *st = &r->st;
    const struct uc_hist *h = &st->hist;
    double bps = per_s(st->bytes, r->duration_s);
    fprintf(f, "updcache-bench: %s:%u, %u threads, %u connections, pipeline %u, mix %s\n",
            cfg->host, (unsigned)ntohs(cfg->addr.sin_port), r->threads, cfg->connections,
            cfg->pipeline, cfg->mix.spec);
    fprintf(f, "  requests    %llu in %.3f s, %.1f req/s\n", (unsigned long long)st->requests,
            r->duration_s, per_s(st->requests, r->duration_s));
    fprintf(f, "  body bytes  %llu, %.3f GiB/s (%.1f MB/s)\n", (unsigned long long)st->bytes,
            bps / (1024.0 * 1024 * 1024), bps / 1e6);
    fprintf(f, "  latency us  p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %llu  mean %.1f\n",
            uc_hist_percentile(h, 50), uc_hist_percentile(h, 90), uc_hist_percentile(h, 99),
            uc_hist_percentile(h, 99.9), (unsigned long long)h->max, uc_hist_mean(h));
    fprintf(f, "  status     ");
    for (int s = 0; s < UC_LG_STATUS_MAX; s++)
        if (st->status[s])
            fprintf(f, " %d=%llu", s, (unsigned long long)st->status[s]);
    fprintf(f, "\n  errors     ");
    if (!uc_lg_error_total(r))
        fprintf(f, " none");
    for (int i = 0; i < UC_ERR_COUNT; i++)
        if (st->errors[i])
            fprintf(f, " %s=%llu", uc_errkind_name[i], (unsigned long long)st->errors[i]);
    fprintf(f, "\n  reconnects  %llu\n", (unsigned long long)st->reconnects);
    if (r->idle_wanted)
        fprintf(f, "  idle open   %u of %u\n", r->idle_open, r->idle_wanted);
}

int uc_lg_write_json(const char *path, const struct uc_lg_config *cfg, const struct uc_lg_result *r)
{
    const struct uc_lg_stats *st = &r->st;
    const struct uc_hist *h = &st->hist;
    json_t *lat =
        json_pack("{s:f,s:f,s:f,s:f,s:f,s:f}", "p50", uc_hist_percentile(h, 50), "p90",
                  uc_hist_percentile(h, 90), "p99", uc_hist_percentile(h, 99), "p999",
                  uc_hist_percentile(h, 99.9), "max", (double)h->max, "mean", uc_hist_mean(h));
    json_t *errs = json_object();
    for (int i = 0; i < UC_ERR_COUNT; i++)
        json_object_set_new(errs, uc_errkind_name[i], json_integer((json_int_t)st->errors[i]));
    json_t *status = json_object();
    for (int s = 0; s < UC_LG_STATUS_MAX; s++) {
        if (!st->status[s])
            continue;
        char key[8];
        snprintf(key, sizeof(key), "%d", s);
        json_object_set_new(status, key, json_integer((json_int_t)st->status[s]));
    }
    json_t *doc = json_pack(
        "{s:I,s:f,s:f,s:I,s:I,s:f,s:o,s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:s}", "requests",
        (json_int_t)st->requests, "duration_s", r->duration_s, "rps",
        per_s(st->requests, r->duration_s), "bytes", (json_int_t)st->bytes, "bytes_verified",
        (json_int_t)st->bytes_verified, "bytes_per_s", per_s(st->bytes, r->duration_s),
        "latency_us", lat, "errors", errs, "status", status, "reconnects",
        (json_int_t)st->reconnects, "idle_open", (json_int_t)r->idle_open, "threads",
        (json_int_t)r->threads, "connections", (json_int_t)cfg->connections, "pipeline",
        (json_int_t)cfg->pipeline, "mix", cfg->mix.spec);
    if (!doc) {
        fprintf(stderr, "updcache-bench: cannot build JSON result\n");
        return -1;
    }
    int rc =
        json_dump_file(doc, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(doc);
    if (rc != 0) {
        fprintf(stderr, "updcache-bench: cannot write %s\n", path);
        return -1;
    }
    return 0;
}
