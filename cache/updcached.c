/*
 * updcached: the content server (SPEC §2, §3, §6). Serves the plain port from the store
 * with one io_uring worker per core, and the metadata roots on the paired TLS port with
 * the libmicrohttpd companion listener. Runs in the foreground and logs to stderr.
 *
 *   updcached --config /etc/updcache/updcache.conf
 *   updcached --config F --check-config     validate, print the effective ports
 *
 * Signals: SIGTERM/SIGINT drain and exit; SIGHUP re-reads the config and applies it
 * without a restart (settings.c); SIGUSR1 reopens the access log.
 */
#include "access.h"
#include "daemon.h"
#include "fill.h"
#include "fsutil.h"
#include "parallel.h"
#include "reports.h"
#include "settings.h"
#include "tls_listener.h"
#include "x509.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: updcached [--config F] [--check-config]\n\n"
            "Serve the store's update files on the plain HTTP port, and the metadata\n"
            "on the paired TLS port when [server] https_port is set.\n"
            "  --config F       config file (default %s)\n"
            "  --check-config   validate the config, print the effective ports, exit 0 or 2\n"
            "  --version        print the version\n"
            "  --help           print this help\n",
            UC_CONFIG_DEFAULT);
}

/* What configure-ssl checks about [tls] (SPEC §7): files exist and parse, the key is the
 * certificate's, the certificate names [server] name and is valid now. */
static int check_config(const struct uc_config *cfg)
{
    struct uc_errbuf eb = {{0}};
    int64_t not_after;
    if (cfg->https_port && uc_x509_check(cfg->name, cfg->tls_cert, cfg->tls_key, &not_after, &eb)) {
        fprintf(stderr, "updcached: configuration error:\n%s: [tls]: %s\n",
                cfg->path ? cfg->path : "(defaults)", eb.msg);
        return 2;
    }
    printf("config %s: ok\n", cfg->path ? cfg->path : "(none: defaults)");
    printf("http_port=%d\n", cfg->http_port);
    if (cfg->https_port)
        printf("https_port=%d\n", cfg->https_port);
    else
        printf("https_port=off\n");
    printf("listen=%s\nstore=%s\n", cfg->listen, cfg->store);
    if (cfg->https_port)
        printf("name=%s\ncert=%s\nkey=%s\n", cfg->name, cfg->tls_cert, cfg->tls_key);
    return 0;
}

static int open_store(struct uc_daemon *d)
{
    const struct uc_config *cfg = &d->boot->cfg;
    struct uc_errbuf eb = {{0}};
    struct uc_store *st = NULL;
    /* A fresh machine may start the daemon before the first ingest: a missing or empty
     * directory is made a store (SPEC §4). Writable: the daemon records client reports
     * (one LMDB writer at a time, shared with the tools; readers never wait). */
    int rc = uc_store_open(cfg->store, true, false, &st, &eb);
    if (rc || (rc = uc_index_set_size(st->ix, cfg->index_size))) {
        fprintf(stderr, "updcached: %s\n", eb.msg[0] ? eb.msg : uc_strerror(rc));
        uc_store_close(st);
        return -1;
    }
    d->store = st;
    long other = 0;
    rc = uc_store_mark_daemon(st, &other);
    if (rc == -EBUSY)
        fprintf(stderr,
                "updcached: another updcached (pid %ld) serves %s too; updcache configure-ssl "
                "reaches that one\n",
                other, st->root);
    else if (rc)
        fprintf(stderr,
                "updcached: %s/updcached.pid: %s (updcache configure-ssl cannot find "
                "this daemon without [server] pid_file)\n",
                st->root, uc_strerror(rc));
    d->selfupdate_fd = openat(st->root_fd, "SelfUpdate", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->selfupdate_fd < 0) {
        fprintf(stderr, "updcached: %s/SelfUpdate: %s\n", st->root, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Each connection holds a socket, and while sending a file and a pipe: raise the soft
 * open-file limit to the hard one, and say so when max_connections cannot fit under it.
 */
static void raise_nofile(const struct uc_config *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur != RLIM_INFINITY && cfg->max_connections * 4 + 64 > rl.rlim_cur)
        fprintf(stderr,
                "updcached: open-file limit %llu is low for max_connections = %llu "
                "(up to 4 descriptors each); raise it (LimitNOFILE= in systemd)\n",
                (unsigned long long)rl.rlim_cur, (unsigned long long)cfg->max_connections);
}

static int write_files(const struct uc_daemon *d)
{
    const struct uc_config *cfg = &d->boot->cfg;
    if (cfg->pid_file) {
        char text[64];
        int n = snprintf(text, sizeof(text), "%d\n", (int)getpid());
        if (uc_write_file_atomic(cfg->pid_file, text, (size_t)n, 0644)) {
            fprintf(stderr, "updcached: [server] pid_file %s: %s\n", cfg->pid_file,
                    strerror(errno));
            return -1;
        }
    }
    return uc_settings_write_port_file(d, cfg);
}

static int start_workers(struct uc_daemon *d, pthread_t *threads)
{
    char err[256];
    d->port = d->boot->cfg.http_port;
    for (unsigned i = 0; i < d->nworkers; i++) {
        if (uc_worker_new(d, i, &d->workers[i], err, sizeof(err))) {
            fprintf(stderr, "updcached: %s\n", err);
            return -1;
        }
        d->port = uc_worker_port(d->workers[0]); /* http_port = 0: the others join it */
    }
    for (unsigned i = 0; i < d->nworkers; i++)
        if (pthread_create(&threads[i], NULL, uc_worker_run, d->workers[i])) {
            fprintf(stderr, "updcached: cannot start worker %u\n", i);
            return -1;
        }
    return 0;
}

static int start_reports(struct uc_daemon *d)
{
    int rc = uc_reports_start(d->store->ix, 4096, d->boot->cfg.reports_keep, &d->reports);
    if (rc)
        fprintf(stderr, "updcached: cannot start the report writer: %s\n", strerror(-rc));
    /* UPDCACHED_NO_ACCESS_TRACKING=1 turns it off, for bench/run's on-versus-off rows. */
    const char *off = getenv("UPDCACHED_NO_ACCESS_TRACKING");
    if (!rc && !(off && *off == '1') && (rc = uc_access_start(d->store->ix, &d->access)))
        fprintf(stderr, "updcached: cannot start the access-time writer: %s\n", strerror(-rc));
    return rc;
}

/* Fill on miss (SPEC §13): before the workers, which join fills from their first request. */
static int start_fills(struct uc_daemon *d)
{
    char err[600];
    if (uc_fills_start(d, &d->fills, err, sizeof(err))) {
        fprintf(stderr, "updcached: %s\n", err);
        return -1;
    }
    return 0;
}

static int start_tls(struct uc_daemon *d)
{
    char err[512];
    if (uc_tls_start(d, d->boot, &d->tls, err, sizeof(err))) {
        fprintf(stderr, "updcached: %s\n", err);
        return -1;
    }
    return 0;
}

/* The main thread waits for signals; workers never see them. */
static void signal_loop(struct uc_daemon *d, const sigset_t *set)
{
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig))
            continue;
        if (sig == SIGUSR1) {
            atomic_fetch_add(&d->reopen_logs, 1);
        } else if (sig == SIGHUP) {
            uc_settings_reload(d); /* wakes the workers itself */
            continue;
        } else {
            fprintf(stderr, "updcached: signal %d: draining connections and exiting\n", sig);
            atomic_store(&d->stop, 1);
        }
        for (unsigned i = 0; i < d->nworkers; i++)
            uc_worker_wake(d->workers[i]);
        if (atomic_load(&d->stop))
            return;
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"check-config", no_argument, 0, 'k'},
                                         {"help", no_argument, 0, 'h'},
                                         {"version", no_argument, 0, 'V'},
                                         {0, 0, 0, 0}};
    const char *path = NULL;
    bool check = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch == 'c') {
            path = optarg;
        } else if (ch == 'k') {
            check = true;
        } else if (ch == 'h') {
            usage(stdout);
            return 0;
        } else if (ch == 'V') {
            printf("updcached %s\n", UC_VERSION);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    static struct uc_daemon d;
    struct uc_errbuf eb = {{0}};
    struct uc_config cfg;
    if (uc_config_load(path, &cfg, &eb)) {
        fprintf(stderr, "updcached: configuration error:\n%s\n", eb.msg);
        return 2;
    }
    if (check) {
        int rc = check_config(&cfg);
        uc_config_free(&cfg);
        return rc;
    }
    d.boot = uc_settings_new(&cfg, 1);
    if (!d.boot)
        return 1;
    atomic_store(&d.live, d.boot);
    /* Request state is taken and given back at every request: glibc's default would hand
     * freed heap back to the kernel and fault it in again on the next request (seen as
     * page faults in the top of a profile under load). Keep up to 32 MiB of it. */
    mallopt(M_TRIM_THRESHOLD, 32 << 20);
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    pthread_rwlock_init(&d.live_lock, NULL);
    uc_history_init(&d.history);
    if (uc_cookie_key_new(d.cookie_key)) {
        fprintf(stderr, "updcached: cannot get random bytes for the cookie key\n");
        return 1;
    }
    d.nworkers = d.boot->cfg.workers ? (unsigned)d.boot->cfg.workers : uc_ncpu();
    d.workers = calloc(d.nworkers, sizeof(*d.workers));
    d.shards = calloc(d.nworkers + 1, sizeof(*d.shards));
    for (unsigned i = 0; d.shards && i <= d.nworkers; i++)
        if (!(d.shards[i] = aligned_alloc(64, (sizeof(struct uc_metrics) + 63) & ~(size_t)63)))
            return 1;
        else
            memset(d.shards[i], 0, sizeof(struct uc_metrics));
    pthread_t *threads = calloc(d.nworkers, sizeof(*threads));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by the workers */
    signal(SIGPIPE, SIG_IGN);
    raise_nofile(&d.boot->cfg);
    if (!d.workers || !d.shards || !threads || open_store(&d) || start_reports(&d) ||
        start_fills(&d) || start_workers(&d, threads) || start_tls(&d) || write_files(&d))
        return 1;
    fprintf(stderr, "updcached: serving http://%s:%d/ with %u workers from %s\n",
            d.boot->cfg.listen, d.port, d.nworkers, d.boot->cfg.store);
    if (d.tls)
        fprintf(stderr, "updcached: serving https://%s:%d/ (metadata) on %s\n", d.boot->cfg.name,
                uc_tls_port(d.tls), d.boot->cfg.listen);
    signal_loop(&d, &set);
    uc_tls_stop(d.tls);
    for (unsigned i = 0; i < d.nworkers; i++)
        pthread_join(threads[i], NULL);
    uc_reports_stop(d.reports);
    uc_access_stop(d.access); /* after the workers: they hand over their last batch */
    uc_fills_stop(d.fills);   /* before the workers go: it wakes them */
    for (unsigned i = 0; i < d.nworkers; i++)
        uc_worker_destroy(d.workers[i]);
    if (d.boot->cfg.pid_file)
        unlink(d.boot->cfg.pid_file);
    close(d.selfupdate_fd);
    uc_store_close(d.store);
    struct uc_settings *live = atomic_load(&d.live);
    if (live != d.boot)
        uc_settings_free(live);
    uc_settings_free_retired(&d);
    uc_settings_free(d.boot);
    free(d.workers);
    for (unsigned i = 0; i <= d.nworkers; i++)
        free(d.shards[i]);
    free(d.shards);
    free(threads);
    uc_history_destroy(&d.history);
    return 0;
}
