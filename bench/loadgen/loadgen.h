/*
 * Shared run description and per-thread results of updcache-bench.
 *
 * Threads share only uc_lg_run (read-only after start, plus a few atomics); each worker
 * owns its connections, epoll instance, RNG and uc_lg_stats, merged by main at the end.
 */
#ifndef UC_LG_LOADGEN_H
#define UC_LG_LOADGEN_H

#include "hist.h"
#include "mix.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define UC_LG_MAX_PIPELINE 1024
#define UC_LG_STATUS_MAX 600

struct uc_lg_config {
    const char *host;
    struct sockaddr_in addr;
    struct uc_url *urls;
    uint32_t nurls;
    unsigned connections;
    unsigned threads;
    unsigned pipeline;
    double duration_s; /* measured phase; with -n and no -d a cap */
    uint64_t requests; /* -n: stop after this many responses (0 = by duration) */
    double warmup_s;
    double rate; /* total requests/s, 0 = unlimited */
    bool verify_body;
    unsigned idle;
    double timeout_s;
    uint64_t seed;
    struct uc_mix mix;
    size_t max_request; /* longest rendered request over all URLs */
};

struct uc_lg_run {
    const struct uc_lg_config *cfg;
    int64_t start_ns;   /* CLOCK_MONOTONIC when workers start */
    int64_t measure_ns; /* end of warmup: responses from here on are counted */
    int64_t end_ns;     /* stop sending and close */
    atomic_bool stop;
    atomic_uint_fast64_t issued;    /* -n budget: requests sent after warmup */
    atomic_uint_fast64_t completed; /* -n: responses (good or bad) after warmup */
    atomic_llong stopped_ns;        /* when the N-th response of -n arrived, else 0 */
};

struct uc_lg_stats {
    uint64_t requests;       /* good responses */
    uint64_t bytes;          /* body bytes of good responses */
    uint64_t bytes_verified; /* of those, bytes whose SHA-256 matched (--verify-body) */
    uint64_t errors[UC_ERR_COUNT];
    uint64_t status[UC_LG_STATUS_MAX];
    uint64_t reconnects;
    struct uc_hist hist;
};

/* CLOCK_MONOTONIC in ns (vDSO: no syscall). */
int64_t uc_lg_now(void);

#endif
