/*
 * updcache-bench: HTTP/1.1 load generator that replays an update-client request mix
 * against a server and checks every response. Options and the URL file are read here,
 * workers are started one per thread, and their results merged and reported.
 */
#include "conn.h"
#include "idle.h"
#include "report.h"
#include "strparse.h"
#include "urls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* With -n and no -d, the run still ends after this long. */
#define UC_LG_N_CAP_S 3600.0

static void usage(FILE *f)
{
    fprintf(f,
            "usage: updcache-bench --port P [options]\n"
            "  --host H             server address (default 127.0.0.1)\n"
            "  --port P             server port (required)\n"
            "  --urls FILE          request targets, one per line: PATH [SIZE [SHA256HEX]]\n"
            "  --url PATH           a request target (repeatable)\n"
            "  -c, --connections N  keep-alive connections (default 64)\n"
            "  -t, --threads N      worker threads (default: number of CPUs)\n"
            "  -d, --duration S     measured seconds (default 10)\n"
            "  -n, --requests N     stop after N responses (run capped at 3600 s without -d)\n"
            "  --warmup S           seconds not counted before the measured phase (default 0)\n"
            "  --pipeline D         requests in flight per connection (default 1)\n"
            "  --mix SPEC           kind=weight,... of get, head-get, range1m, small-ranges\n"
            "                       (default get=100)\n"
            "  --rate R             total requests/s, 0 = unlimited (default 0)\n"
            "  --verify-body        SHA-256 of whole-GET bodies against the URL file\n"
            "  --idle N             also hold N idle keep-alive connections (after one GET)\n"
            "  --timeout S          per-response timeout in seconds (default 10)\n"
            "  --seed N             random seed for URL and range choice (default 1)\n"
            "  --json FILE          write the result as JSON\n"
            "  --fail-on-error      exit 1 if any response failed a check\n"
            "  --help               this text\n"
            "exit: 0 run completed, 1 errors with --fail-on-error (or setup failure), 2 usage\n");
}

/* msg, then arg in quotes if given. Returns the usage exit code. */
static int usage_error(const char *msg, const char *arg)
{
    if (arg)
        fprintf(stderr, "updcache-bench: %s '%s' (try --help)\n", msg, arg);
    else
        fprintf(stderr, "updcache-bench: %s (try --help)\n", msg);
    return 2;
}

/* Non-negative seconds, fractions allowed, optional trailing 's'. */
static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0 || v > 1e7)
        return -EINVAL;
    if (*end == 's')
        end++;
    if (*end)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_uint(const char *s, uint64_t max, unsigned *out)
{
    uint64_t v;
    if (uc_parse_u64(s, &v) != 0 || v > max)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

static int resolve(const char *host, unsigned port, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa->sin_addr) == 1)
        return 0;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return -1;
    sa->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
    return 0;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

struct opts {
    struct uc_lg_config cfg;
    struct uc_urlset urls;
    const char *urls_file;
    const char *json;
    bool fail_on_error;
    bool have_duration;
};

enum {
    OPT_HOST = 256,
    OPT_PORT,
    OPT_URLS,
    OPT_URL,
    OPT_WARMUP,
    OPT_PIPELINE,
    OPT_MIX,
    OPT_RATE,
    OPT_VERIFY,
    OPT_IDLE,
    OPT_JSON,
    OPT_TIMEOUT,
    OPT_SEED,
    OPT_FAIL,
    OPT_HELP,
};

static const struct option longopts[] = {
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, OPT_PORT},
    {"urls", required_argument, NULL, OPT_URLS},
    {"url", required_argument, NULL, OPT_URL},
    {"connections", required_argument, NULL, 'c'},
    {"threads", required_argument, NULL, 't'},
    {"duration", required_argument, NULL, 'd'},
    {"requests", required_argument, NULL, 'n'},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"pipeline", required_argument, NULL, OPT_PIPELINE},
    {"mix", required_argument, NULL, OPT_MIX},
    {"rate", required_argument, NULL, OPT_RATE},
    {"verify-body", no_argument, NULL, OPT_VERIFY},
    {"idle", required_argument, NULL, OPT_IDLE},
    {"json", required_argument, NULL, OPT_JSON},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"seed", required_argument, NULL, OPT_SEED},
    {"fail-on-error", no_argument, NULL, OPT_FAIL},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Returns -1 to go on, or the exit code. */
static int parse_args(int argc, char **argv, struct opts *o)
{
    struct uc_lg_config *c = &o->cfg;
    unsigned port = 0;
    const char *mix = "get=100";
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    c->host = "127.0.0.1";
    c->connections = 64;
    c->threads = ncpu > 0 ? (unsigned)ncpu : 1;
    c->pipeline = 1;
    c->duration_s = 10;
    c->timeout_s = 10;
    c->seed = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:t:d:n:", longopts, NULL)) != -1) {
        int bad = 0;
        switch (ch) {
        case OPT_HOST:
            c->host = optarg;
            break;
        case OPT_PORT:
            bad = parse_uint(optarg, 65535, &port) || port == 0;
            break;
        case OPT_URLS:
            o->urls_file = optarg;
            break;
        case OPT_URL:
            bad = optarg[0] != '/' || uc_urlset_add(&o->urls, optarg, UC_SIZE_UNKNOWN, NULL);
            break;
        case 'c':
            bad = parse_uint(optarg, 1000000, &c->connections);
            break;
        case 't':
            bad = parse_uint(optarg, 1024, &c->threads) || c->threads == 0;
            break;
        case 'd':
            bad = parse_seconds(optarg, &c->duration_s) || c->duration_s <= 0;
            o->have_duration = true;
            break;
        case 'n':
            bad = uc_parse_u64(optarg, &c->requests) || c->requests == 0;
            break;
        case OPT_WARMUP:
            bad = parse_seconds(optarg, &c->warmup_s);
            break;
        case OPT_PIPELINE:
            bad = parse_uint(optarg, UC_LG_MAX_PIPELINE, &c->pipeline) || c->pipeline == 0;
            break;
        case OPT_MIX:
            mix = optarg;
            break;
        case OPT_RATE:
            bad = parse_seconds(optarg, &c->rate); /* same shape: non-negative number */
            break;
        case OPT_VERIFY:
            c->verify_body = true;
            break;
        case OPT_IDLE:
            bad = parse_uint(optarg, 1000000, &c->idle);
            break;
        case OPT_JSON:
            o->json = optarg;
            break;
        case OPT_TIMEOUT:
            bad = parse_seconds(optarg, &c->timeout_s) || c->timeout_s <= 0;
            break;
        case OPT_SEED:
            bad = uc_parse_u64(optarg, &c->seed);
            break;
        case OPT_FAIL:
            o->fail_on_error = true;
            break;
        case OPT_HELP:
            usage(stdout);
            return 0;
        default:
            return usage_error("bad option", NULL);
        }
        if (bad)
            return usage_error("bad value", optarg);
    }
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    if (!port)
        return usage_error("--port is required", NULL);
    if (uc_mix_parse(mix, &c->mix) != 0)
        return usage_error("bad --mix", mix);
    if (o->urls_file && uc_urls_load(o->urls_file, &o->urls) != 0)
        return 2;
    if (o->urls.n == 0)
        return usage_error("no URLs: give --urls FILE or --url PATH", NULL);
    if (c->connections == 0 && c->requests)
        return usage_error("-n needs connections (-c 0 only holds --idle ones)", NULL);
    if (c->connections == 0 && c->idle == 0)
        return usage_error("nothing to do: -c 0 and no --idle", NULL);
    if (resolve(c->host, port, &c->addr) != 0)
        return usage_error("cannot resolve", c->host);
    if (c->requests && !o->have_duration)
        c->duration_s = UC_LG_N_CAP_S;
    return -1;
}

static int prepare_urls(struct opts *o)
{
    struct uc_lg_config *c = &o->cfg;
    char host[300];
    unsigned port = ntohs(c->addr.sin_port);
    if (port == 80)
        snprintf(host, sizeof(host), "%s", c->host);
    else
        snprintf(host, sizeof(host), "%s:%u", c->host, port);
    c->urls = o->urls.v;
    c->nurls = o->urls.n;
    for (uint32_t i = 0; i < c->nurls; i++) {
        if (uc_url_prepare(&c->urls[i], host) != 0)
            return -1;
        size_t m = uc_url_max_request(&c->urls[i]);
        if (m > c->max_request)
            c->max_request = m;
    }
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Start workers, wait for the end time or the -n stop, join, merge into res. */
static int run_workers(const struct uc_lg_config *cfg, struct uc_lg_run *run,
                       struct uc_lg_result *res)
{
    unsigned nt = cfg->threads < cfg->connections ? cfg->threads : cfg->connections;
    struct uc_worker *w = calloc(nt ? nt : 1, sizeof(*w));
    struct uc_conn *conns = calloc(cfg->connections ? cfg->connections : 1, sizeof(*conns));
    int rc = w && conns ? 0 : -ENOMEM;
    unsigned next = 0, started = 0;
    for (unsigned i = 0; rc == 0 && i < nt; i++) {
        w[i].run = run;
        w[i].cfg = cfg;
        w[i].id = i;
        w[i].conns = conns + next;
        w[i].nconns = cfg->connections / nt + (i < cfg->connections % nt);
        w[i].rng = (cfg->seed + 1) * 0x9E3779B97F4A7C15ull + i * 0xBF58476D1CE4E5B9ull;
        w[i].rate_per_s = cfg->rate / nt;
        uc_hist_init(&w[i].st.hist);
        next += w[i].nconns;
        for (unsigned j = 0; rc == 0 && j < w[i].nconns; j++)
            rc = uc_conn_init(&w[i], &w[i].conns[j]);
    }
    res->threads = nt;
    uc_hist_init(&res->st.hist);
    for (unsigned i = 0; rc == 0 && i < nt; i++) {
        if (pthread_create(&w[i].thread, NULL, uc_worker_main, &w[i]) != 0)
            rc = -EAGAIN;
        else
            started++;
    }
    /* Bounded by end_ns; -n ends sooner through the stop flag. */
    while (rc == 0 && !atomic_load(&run->stop) && uc_lg_now() < run->end_ns)
        sleep_ms(10);
    int64_t stop_at = uc_lg_now();
    atomic_store(&run->stop, true);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(w[i].thread, NULL);
        if (w[i].fatal && !rc)
            rc = w[i].fatal;
        struct uc_lg_stats *s = &w[i].st;
        res->st.requests += s->requests;
        res->st.bytes += s->bytes;
        res->st.bytes_verified += s->bytes_verified;
        res->st.reconnects += s->reconnects;
        for (int k = 0; k < UC_ERR_COUNT; k++)
            res->st.errors[k] += s->errors[k];
        for (int k = 0; k < UC_LG_STATUS_MAX; k++)
            res->st.status[k] += s->status[k];
        uc_hist_merge(&res->st.hist, &s->hist);
    }
    int64_t stopped = atomic_load(&run->stopped_ns);
    int64_t end = stopped ? stopped : (stop_at < run->end_ns ? stop_at : run->end_ns);
    res->duration_s = end > run->measure_ns ? (double)(end - run->measure_ns) / 1e9 : 0;
    for (unsigned i = 0; i < cfg->connections && conns; i++)
        uc_conn_free(&conns[i]);
    free(conns);
    free(w);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o;
    memset(&o, 0, sizeof(o));
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    struct uc_lg_config *cfg = &o.cfg;
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    if (prepare_urls(&o) != 0) {
        fprintf(stderr, "updcache-bench: out of memory\n");
        return 1;
    }

    struct uc_idle idle = {0};
    if (cfg->idle && uc_idle_open(cfg, cfg->idle, &idle) != 0) {
        fprintf(stderr, "updcache-bench: out of memory\n");
        return 1;
    }
    if (idle.failed)
        fprintf(stderr, "updcache-bench: %u of %u idle connections failed to open\n", idle.failed,
                cfg->idle);

    static struct uc_lg_run run;
    static struct uc_lg_result res;
    run.cfg = cfg;
    run.start_ns = uc_lg_now();
    run.measure_ns = run.start_ns + (int64_t)(cfg->warmup_s * 1e9);
    run.end_ns = run.measure_ns + (int64_t)(cfg->duration_s * 1e9);
    res.idle_wanted = cfg->idle;
    int wrc = run_workers(cfg, &run, &res);
    if (wrc != 0) {
        fprintf(stderr, "updcache-bench: worker setup failed: %s\n", strerror(-wrc));
        return 1;
    }
    if (cfg->idle) {
        res.idle_open = uc_idle_count_open(&idle);
        uc_idle_close(&idle);
    }

    uc_lg_print_summary(stdout, cfg, &res);
    if (o.json && uc_lg_write_json(o.json, cfg, &res) != 0)
        rc = 1;
    else
        rc = 0;
    if (o.fail_on_error && uc_lg_error_total(&res) > 0)
        rc = 1;
    for (uint32_t i = 0; i < cfg->nurls; i++)
        uc_url_free(&cfg->urls[i]);
    free(cfg->urls);
    return rc;
}
