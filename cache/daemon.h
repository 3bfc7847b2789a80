/*
 * What the daemon's threads share. Everything mutable per connection lives in its
 * worker; across workers only the config (read-only), the store's LMDB environment
 * (MVCC, safe for concurrent readers) and a few atomics are shared.
 */
#ifndef UC_DAEMON_H
#define UC_DAEMON_H

#include "config.h"
#include "http_parse.h"
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct uc_daemon {
    struct uc_config cfg;
    struct uc_store *store; /* index opened read-only */
    int selfupdate_fd;      /* O_DIRECTORY fd of store/SelfUpdate */
    struct uc_http_limits limits;
    int port; /* bound plain port */
    unsigned nworkers;
    struct uc_worker **workers;
    _Atomic int stop;         /* SIGTERM/SIGINT: drain and exit */
    _Atomic int reopen_logs;  /* SIGUSR1 generation */
    _Atomic long connections; /* open plain-port connections, all workers */
};

struct uc_worker;

/* Make worker i with its own ring and SO_REUSEPORT listener on d->port (0: pick one). */
int uc_worker_new(struct uc_daemon *d, unsigned i, struct uc_worker **out, char *err,
                  size_t errlen);
/* Run the worker's loop until the daemon stops and its connections have drained. */
void *uc_worker_run(void *arg);
/* Wake the worker's loop (signals, stop). Safe from any thread. */
void uc_worker_wake(struct uc_worker *w);
/* The port the worker's listener is bound to. */
int uc_worker_port(const struct uc_worker *w);
void uc_worker_destroy(struct uc_worker *w);

#endif
