/*
 * What the daemon's threads share. Everything mutable per connection lives in its
 * worker; across workers only the config (read-only), the store's LMDB environment
 * (MVCC, safe for concurrent readers) and a few atomics are shared.
 */
#ifndef UC_DAEMON_H
#define UC_DAEMON_H

#include "config.h"
#include "cookie.h"
#include "history.h"
#include "http_parse.h"
#include "metrics.h"
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * The config as the workers apply it. SIGHUP builds a new one and publishes it; each
 * worker switches at its next wake-up and says so in its ack; the old one is freed
 * once every worker has moved on. Nothing in it changes after publication.
 */
struct uc_settings {
    struct uc_config cfg;
    struct uc_http_limits limits;
    unsigned gen;
    struct uc_settings *retired_next; /* signal thread: waiting until no worker uses it */
};

struct uc_daemon {
    struct uc_settings *boot; /* as loaded at start: store, workers, hot_cache keep these */
    _Atomic(struct uc_settings *) live;
    struct uc_settings *retired; /* replaced settings some worker may still read */
    struct uc_store *store;      /* index opened read-only */
    int selfupdate_fd;           /* O_DIRECTORY fd of store/SelfUpdate */
    int port;                    /* bound plain port */
    unsigned nworkers;
    struct uc_worker **workers;
    _Atomic int stop;         /* SIGTERM/SIGINT: drain and exit */
    _Atomic int reopen_logs;  /* SIGUSR1 generation */
    _Atomic long connections; /* open plain-port connections, all workers */
    _Atomic long tls_connections;
    /* TLS threads read live under this lock; a reload swaps it under the write lock, so
     * a replaced config is never freed under a TLS request. Workers use acks instead. */
    pthread_rwlock_t live_lock;
    struct uc_metrics **shards; /* one per worker, then one for the TLS listener */
    struct uc_reports *reports; /* the writer of client reports */
    struct uc_access *access;   /* the writer of access times; NULL: not tracked */
    struct uc_tls *tls;         /* the companion listener, or NULL without https_port */
    struct uc_fills *fills;     /* fill on miss (fill.h), or NULL when fill = all */
    struct uc_fill_counters fillc;
    struct uc_history history; /* requests per step, sampled by worker 0 (status page) */
    uint8_t cookie_key[UC_COOKIE_KEY_LEN];
};

struct uc_worker;
struct uc_tls;
struct uc_reports;
struct uc_access;
struct uc_fills;

/* Settings owning *cfg (moved in; cfg is zeroed), limits derived; NULL when out of memory. */
struct uc_settings *uc_settings_new(struct uc_config *cfg, unsigned gen);
void uc_settings_free(struct uc_settings *s);

/* Make worker i with its own ring and SO_REUSEPORT listener on d->port (0: pick one). */
int uc_worker_new(struct uc_daemon *d, unsigned i, struct uc_worker **out, char *err,
                  size_t errlen);
/* Run the worker's loop until the daemon stops and its connections have drained. */
void *uc_worker_run(void *arg);
/* Wake the worker's loop (signals, stop). Safe from any thread. */
void uc_worker_wake(struct uc_worker *w);
/* The port the worker's listener is bound to. */
int uc_worker_port(const struct uc_worker *w);
/* The settings generation the worker applies now (any thread). */
unsigned uc_worker_settings_gen(const struct uc_worker *w);
enum uc_listen {
    UC_LISTEN_ALONE, /* one socket (the TLS acceptor) */
    UC_LISTEN_FIRST, /* the first of a SO_REUSEPORT group: the port must be free */
    UC_LISTEN_JOIN,  /* the others of the group, on the first one's port */
};
/* Make a listener on addr:port (0: a free port), or -errno with err set. */
int uc_listener_new(const char *addr, int port, enum uc_listen how, char *err, size_t errlen);
/* The port a listener is bound to. */
int uc_listener_port(int lfd);
/* Hand the worker a new listener to accept on instead of its current one (any thread). */
void uc_worker_swap_listener(struct uc_worker *w, int lfd);
void uc_worker_destroy(struct uc_worker *w);

#endif
