/*
 * Counters for /APIRemoting30/stats and /metrics (SPEC §6). Each plain-port worker
 * counts into its own shard (no shared cache lines on the hot path); the TLS listener's
 * threads share one more. Readers sum the shards; every field is a relaxed atomic, so a
 * reading is a consistent-enough snapshot, never a torn value.
 */
#ifndef UC_METRICS_H
#define UC_METRICS_H

#include "route.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define UC_ROOTS (UC_ROOT_CLIENT + 1)

enum uc_port_kind { UC_PORT_HTTP = 0, UC_PORT_HTTPS = 1 };

/* The statuses counted one by one; anything else counts as "other". */
/* clang-format off */
#define UC_METRIC_CODES \
    X(200) X(201) X(202) X(206) X(304) X(400) X(401) X(403) X(404) X(405) X(408) X(411) \
    X(412) X(413) X(414) X(415) X(416) X(431) X(500) X(501) X(502) X(503) X(507)
/* clang-format on */
enum {
#define X(n) UC_MC_##n,
    UC_METRIC_CODES
#undef X
        UC_MC_OTHER,
    UC_MC_COUNT
};

struct uc_metrics {
    _Atomic uint64_t requests[2][UC_ROOTS][UC_MC_COUNT];
    _Atomic uint64_t body_bytes[2];
    _Atomic uint64_t hot_hits, hot_misses;
    _Atomic uint64_t content_hits;        /* GET/HEAD of a file the store holds (a cache hit) */
    _Atomic uint64_t file_bytes_sendfile; /* file bytes sent from the page cache (transmit.c) */
    _Atomic uint64_t file_bytes_splice;   /* file bytes that were not: file -> pipe -> socket */
    _Atomic uint64_t reports_accepted, reports_refused;
    _Atomic uint64_t auth_failures;
    _Atomic uint64_t tls_plain_refused;  /* plain HTTP sent to the TLS port */
    _Atomic uint64_t access_log_dropped; /* lines a failed write lost */
};

void uc_metrics_request(struct uc_metrics *m, enum uc_port_kind port, enum uc_root root, int status,
                        uint64_t body_bytes);
static inline void uc_metrics_inc(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}
static inline void uc_metrics_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* Fill on miss (SPEC §13): kept by the fill thread and the workers (fill.c). */
struct uc_fill_counters {
    _Atomic uint64_t misses;          /* GETs of a file whose record is known, bytes absent */
    _Atomic uint64_t started, joined; /* fills begun, and misses that joined one in progress */
    _Atomic uint64_t bytes;           /* verified bytes written into part files */
    _Atomic uint64_t block_failures;  /* blocks that did not match their digest */
    _Atomic uint64_t failed, published;
    _Atomic uint64_t active; /* started and not yet published or failed */
    _Atomic uint64_t first_byte_ns_sum, first_byte_count; /* start to first verified block */
};

/* Gauges and counters kept elsewhere (the index, the daemon), read at render time. */
struct uc_metrics_extra {
    uint64_t conns_http, conns_https;
    uint64_t store_files, store_updates;
    uint64_t ingest_files, ingest_bytes, sync_runs, sync_files, sync_bytes, verify_failures;
    uint64_t sync_last; /* unix time the last sync run ended; 0: never */
    uint64_t content_bytes, evictable_bytes, max_size, evictions, evicted_bytes; /* SPEC §12 */
    uint64_t reports_stored;
    uint64_t fill_misses, fill_started, fill_joined, fill_bytes, fill_block_failures, fill_failed,
        fill_published, fill_active, fill_first_byte_ns_sum, fill_first_byte_count;
};

/* Sum n shards into out (a plain snapshot). */
void uc_metrics_sum(struct uc_metrics *const *shards, size_t n, struct uc_metrics *out);

/* Requests one shard (or a sum) counted on port, every root and status. */
uint64_t uc_metrics_port_requests(const struct uc_metrics *m, enum uc_port_kind port);
/* Requests counted by n shards, every port, root and status. */
uint64_t uc_metrics_requests_total(struct uc_metrics *const *shards, size_t n);

/* Prometheus text exposition (version 0.0.4) / the stats JSON; malloc'd, NUL-terminated. */
char *uc_metrics_prometheus(const struct uc_metrics *sum, const struct uc_metrics_extra *x);
char *uc_metrics_json(const struct uc_metrics *sum, const struct uc_metrics_extra *x);

#endif
