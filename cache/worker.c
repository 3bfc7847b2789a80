/*
 * One worker: one io_uring, one SO_REUSEPORT listener (the kernel spreads connections
 * over the workers), its connections (conn.c), a reset LMDB read transaction, an
 * access log, its share of the hot cache.
 *
 * Completion dispatch: user_data = pointer | op. Each connection counts its operations
 * in flight; closing shuts the socket down (pending receives and sends complete) and
 * the memory is freed when the count reaches zero. A tick every TICK_MS expires
 * connection timers, flushes the access log and picks up what the signal thread asked
 * for: stop, log reopen, new settings, a new listener.
 */
#include "access.h"
#include "conn.h"
#include "transmit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RING_ENTRIES 4096
#define DRAIN_SECONDS 10
#define TICK_MS 250 /* timeout resolution */
/* Open content files kept per worker: with 2 descriptors of each of max_connections
 * left for sockets and pipes (updcached.c's open-file limit check counts 4), a few
 * hundred hot files cost little. */
#define FDC_ENTRIES 256

int64_t uc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Room in the worker's queue for want more entries: how many fit (fewer only when out
 * of memory). */
static unsigned cq_room(struct uc_worker *w, unsigned want)
{
    if (w->cq_n + want > w->cq_cap) {
        unsigned cap = w->cq_cap * 2 >= w->cq_n + want ? w->cq_cap * 2 : w->cq_n + want;
        struct uc_cqe *q = realloc(w->cq_q, (size_t)cap * sizeof(*q));
        if (q) {
            w->cq_q = q;
            w->cq_cap = cap;
        }
    }
    return w->cq_n + want <= w->cq_cap ? want : w->cq_cap - w->cq_n;
}

/*
 * Move the completions waiting in the CQ ring to the worker's queue, behind those not
 * handled yet, and free their ring slots. Returns how many moved. The queue starts as
 * large as the ring and the main loop drains it before each reap: it grows only under
 * uc_sqe(), or when the yields queued behind a full reap are many (move_yields).
 */
static unsigned reap(struct uc_worker *w)
{
    unsigned ready = cq_room(w, io_uring_cq_ready(&w->ring)); /* the rest stays in the ring */
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(&w->ring, head, cqe)
    {
        if (n == ready)
            break;
        w->cq_q[w->cq_n++] = (struct uc_cqe){cqe->user_data, cqe->res, cqe->flags};
        n++;
    }
    io_uring_cq_advance(&w->ring, n);
    return n;
}

/* The queued yields (uc_conn_yield) join the queue behind the ring's completions; those
 * that do not fit (out of memory) wait for the next round. */
static void move_yields(struct uc_worker *w)
{
    for (unsigned n = cq_room(w, w->nyield); n; n--) {
        struct uc_conn *c = w->yield_head;
        w->yield_head = c->yield_next;
        c->yield_next = NULL;
        w->nyield--;
        w->cq_q[w->cq_n++] = (struct uc_cqe){(uint64_t)(uintptr_t)c | OP_POLL_OUT, POLLOUT, 0};
    }
    if (!w->yield_head)
        w->yield_tail = NULL;
}

/*
 * The SQ is full: submit it. A kernel whose completion queue is full refuses with
 * -EBUSY (and one short of memory with -EAGAIN) until completions are taken off the
 * ring: they are moved to the worker's queue, to be handled after the one being
 * handled now (never from in here, under a caller that holds a connection), and the
 * submit is tried again. With nothing to move, wait 1 ms for the kernel. Every round
 * submits, frees ring slots or sleeps: it cannot spin.
 */
static void flush_sq(struct uc_worker *w)
{
    int rc = io_uring_submit(&w->ring);
    if (rc > 0 || rc == -EINTR)
        return;
    if (rc == 0 || rc == -EBUSY || rc == -EAGAIN) {
        if (reap(w) == 0)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        return;
    }
    /* The ring itself is broken (EBADF, EFAULT ...): no operation can be queued again,
     * and a caller has no way to go on without one. */
    fprintf(stderr, "updcached: worker %u: io_uring_submit failed: %s; aborting\n", w->id,
            strerror(-rc));
    abort();
}

struct io_uring_sqe *uc_sqe(struct uc_worker *w)
{
    struct io_uring_sqe *sqe;
    while (!(sqe = io_uring_get_sqe(&w->ring)))
        flush_sq(w);
    return sqe;
}

void uc_conn_submit(struct uc_conn *c, struct io_uring_sqe *sqe, enum uc_op op)
{
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | op);
    c->inflight++;
}

void uc_conn_yield(struct uc_conn *c)
{
    struct uc_worker *w = c->w;
    if (w->yield_tail)
        w->yield_tail->yield_next = c;
    else
        w->yield_head = c;
    w->yield_tail = c;
    w->nyield++;
    c->inflight++; /* held like an operation in flight: a close waits for it */
}

static void worker_submit(struct uc_worker *w, struct io_uring_sqe *sqe, enum uc_op op)
{
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)w | op);
}

static void arm_accept(struct uc_worker *w)
{
    struct io_uring_sqe *sqe = uc_sqe(w);
    /* Non-blocking: transmit.c's sendfile and splice run on the loop and must return
     * EAGAIN when the socket is full. A blocking socket made one client that stopped
     * reading (on a real link, with a small send buffer) stop the whole worker. The
     * ring's own sends and receives poll either way; the EAGAIN one handed to io-wq
     * can then return is retried (conn.c, transmit.c). */
    io_uring_prep_multishot_accept(sqe, w->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    worker_submit(w, sqe, OP_ACCEPT);
    w->accepts_armed++;
}

static void on_accept(struct uc_worker *w, const struct uc_cqe *cqe)
{
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        w->accepts_armed--;
        if (!atomic_load(&w->d->stop) && cqe->res != -ECANCELED && w->lfd >= 0 &&
            w->accepts_armed == 0)
            arm_accept(w);
    }
    if (cqe->res >= 0)
        uc_conn_accepted(w, cqe->res);
}

static void arm_wake(struct uc_worker *w)
{
    struct io_uring_sqe *sqe = uc_sqe(w);
    io_uring_prep_read(sqe, w->efd, &w->efd_val, sizeof(w->efd_val), 0);
    worker_submit(w, sqe, OP_WAKE);
}

static void arm_tick(struct uc_worker *w)
{
    w->tick_ts.tv_sec = 0;
    w->tick_ts.tv_nsec = TICK_MS * 1000000L;
    struct io_uring_sqe *sqe = uc_sqe(w);
    io_uring_prep_timeout(sqe, &w->tick_ts, 0, 0);
    worker_submit(w, sqe, OP_TICK);
}

void uc_worker_wake(struct uc_worker *w)
{
    uint64_t one = 1;
    (void)!write(w->efd, &one, sizeof(one));
}

unsigned uc_worker_settings_gen(const struct uc_worker *w)
{
    return atomic_load(&w->set_gen);
}

void uc_worker_swap_listener(struct uc_worker *w, int lfd)
{
    int old = atomic_exchange(&w->new_lfd, lfd);
    if (old >= 0) /* two reloads before the worker woke up: the first one's is unused */
        close(old);
    uc_worker_wake(w);
}

static void cancel_accept(struct uc_worker *w)
{
    if (!w->accepts_armed)
        return;
    struct io_uring_sqe *sqe = uc_sqe(w);
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)w | OP_ACCEPT, 0);
    worker_submit(w, sqe, OP_CANCEL);
}

/*
 * Flush the access log. Lines a failed write loses are never lost silently: they are
 * counted in /metrics (updcache_access_log_lines_dropped_total), and stderr says so
 * once when losing starts and once when writing works again.
 */
static void flush_log(struct uc_worker *w)
{
    bool had = w->log.len > 0;
    int rc = uc_accesslog_flush(&w->log);
    uint64_t lost = w->log.dropped - w->log_dropped_seen;
    if (lost) {
        atomic_fetch_add_explicit(&w->m->access_log_dropped, lost, memory_order_relaxed);
        w->log_dropped_seen = w->log.dropped;
        if (!w->log_failing)
            fprintf(stderr,
                    "updcached: worker %u: access log write failed: %s; %llu lines lost "
                    "(counted in updcache_access_log_lines_dropped_total)\n",
                    w->id, strerror(-w->log.last_error), (unsigned long long)lost);
        w->log_failing = true;
    } else if (w->log_failing && had && rc == 0) {
        fprintf(stderr, "updcached: worker %u: access log writable again\n", w->id);
        w->log_failing = false;
    }
}

/* New settings: the access log may have moved. */
static void take_settings(struct uc_worker *w, const struct uc_settings *s)
{
    const char *was = w->set->cfg.access_log, *now = s->cfg.access_log;
    if (strcmp(was, now) != 0) {
        flush_log(w);
        w->log_dropped_seen = 0; /* a new log counts from zero */
        uc_accesslog_close(&w->log);
        int rc = uc_accesslog_open(&w->log, now);
        if (rc)
            fprintf(stderr, "updcached: [server] access_log %s: %s; access logging is off\n", now,
                    strerror(-rc));
    }
    w->set = s;
    atomic_store(&w->set_gen, s->gen);
}

/* Stop, log reopen, settings, listener: what the signal thread asked for. */
static void housekeeping(struct uc_worker *w)
{
    int gen = atomic_load(&w->d->reopen_logs);
    if (gen != w->log_gen) {
        w->log_gen = gen;
        uc_accesslog_reopen(&w->log);
    }
    const struct uc_settings *s = atomic_load(&w->d->live);
    if (s != w->set)
        take_settings(w, s);
    int nl = atomic_exchange(&w->new_lfd, -1);
    if (nl >= 0 && (atomic_load(&w->d->stop) || w->lfd < 0)) {
        close(nl);
    } else if (nl >= 0) {
        /* The cancel is queued before the new accept, so it cannot match the new one. */
        cancel_accept(w);
        close(w->lfd);
        w->lfd = nl;
        arm_accept(w);
    }
    if (atomic_load(&w->d->stop) && w->lfd >= 0) {
        cancel_accept(w);
        close(w->lfd);
        w->lfd = -1;
        w->stop_deadline_ns = w->now_ns + (int64_t)DRAIN_SECONDS * 1000000000;
    }
    if (atomic_load(&w->d->stop))
        uc_conn_close_idle(w);
}

static void dispatch(struct uc_worker *w, const struct uc_cqe *cqe)
{
    uint64_t ud = cqe->user_data;
    enum uc_op op = (enum uc_op)(ud & OP_MASK);
    void *p = (void *)(uintptr_t)(ud & ~OP_MASK);
    switch (op) {
    case OP_ACCEPT:
        on_accept(w, cqe);
        return;
    case OP_WAKE:
        housekeeping(w);
        if (w->fill_waiters) /* the fill thread verified blocks, or a fill ended */
            uc_tx_fill_wake(w);
        arm_wake(w);
        return;
    case OP_TICK:
        if (w->id == 0) /* one sampler for the status page's chart */
            uc_history_sample(&w->d->history, w->wall_s,
                              uc_metrics_requests_total(w->d->shards, w->d->nworkers + 1));
        uc_conn_timers(w);
        uc_conn_pool_trim(w);
        flush_log(w);
        if (w->acc && w->acc->n && w->wall_s > w->acc->since)
            uc_access_hand_over(w->d->access, w->acc); /* at most a second old */
        housekeeping(w);
        arm_tick(w);
        return;
    case OP_CANCEL:
        return;
    default:
        break;
    }
    struct uc_conn *c = p;
    if (op == OP_RECV) {
        uc_conn_on_recv(c, cqe); /* counts itself: a multishot recv completes many times */
    } else {
        c->inflight--;
        if (op == OP_OPEN) {
            if (c->state == C_CLOSING) {
                if (cqe->res >= 0)
                    close(cqe->res);
            } else {
                uc_respond_on_open(c, cqe->res);
            }
        } else if (op == OP_READ) {
            if (c->state != C_CLOSING)
                uc_respond_on_read(c, cqe->res);
        } else if (c->state != C_CLOSING) {
            uc_tx_on_complete(c, op, cqe->res);
        }
    }
    if (c->state == C_CLOSING && c->inflight == 0)
        uc_conn_free(c);
}

/*
 * liburing 2.3 declares io_uring_enable_rings() but Debian's library does not export
 * it; the operation is one io_uring_register() opcode.
 */
static int enable_ring(struct uc_worker *w)
{
    long rc =
        syscall(__NR_io_uring_register, w->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    return rc < 0 ? -errno : 0;
}

void *uc_worker_run(void *arg)
{
    struct uc_worker *w = arg;
    w->now_ns = uc_now_ns();
    w->wall_s = time(NULL);
    int rc = w->ring_disabled ? enable_ring(w) : 0;
    if (rc) {
        fprintf(stderr, "updcached: worker %u: cannot enable its ring: %s\n", w->id, strerror(-rc));
        atomic_store(&w->d->stop, 1);
        return NULL;
    }
    bool ms = uc_conn_setup_multishot(w);
    if (w->id == 0)
        fprintf(stderr, "updcached: receiving with %s\n",
                ms ? "multishot recv and a provided buffer ring"
                   : "one recv at a time (no buffer ring: kernel too old, or "
                     "UPDCACHED_NO_MULTISHOT set)");
    arm_accept(w);
    arm_wake(w);
    arm_tick(w);
    for (;;) {
        /* Connections that used their turn are resumed without waiting for the ring. */
        rc = io_uring_submit_and_wait(&w->ring, w->nyield ? 0 : 1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            /* Not a transient condition: spinning on it would burn a core forever. */
            fprintf(stderr, "updcached: worker %u: io_uring_enter failed: %s; stopping\n", w->id,
                    strerror(-rc));
            atomic_store(&w->d->stop, 1);
            break;
        }
        w->now_ns = uc_now_ns();
        w->wall_s = time(NULL);
        reap(w);
        move_yields(w);
        /* A handler may reap more (uc_sqe()): they join the end of the queue, in order.
         * Each entry is copied out first, as the queue may move when it grows. */
        while (w->cq_pos < w->cq_n) {
            struct uc_cqe cqe = w->cq_q[w->cq_pos++];
            dispatch(w, &cqe);
        }
        w->cq_pos = w->cq_n = 0;
        uc_conn_buffers_advance(w);
        if (atomic_load(&w->d->stop) && w->lfd < 0 &&
            (w->nconns == 0 || w->now_ns > w->stop_deadline_ns))
            break;
    }
    flush_log(w);
    if (w->acc)
        uc_access_hand_over(w->d->access, w->acc);
    return NULL;
}

static int bind_listen(const struct sockaddr_in *sa, bool reuseport, bool do_listen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
        bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) || (do_listen && listen(fd, 4096))) {
        int rc = -errno;
        if (fd >= 0)
            close(fd);
        return rc;
    }
    return fd;
}

int uc_listener_new(const char *addr, int port, enum uc_listen how, char *err, size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "[server] listen: '%s' is not an IPv4 address", addr);
        return -EINVAL;
    }
    if (how == UC_LISTEN_FIRST) {
        /* SO_REUSEPORT would let this bind join another process's listeners on the same
         * port (a second updcached would start "fine" and steal half the connections):
         * make sure the port is free with a plain bind first (0: let it pick one). */
        int probe = bind_listen(&sa, false, false);
        if (probe < 0) {
            snprintf(err, errlen, "cannot listen on %s:%d: %s%s", addr, port, strerror(-probe),
                     probe == -EADDRINUSE ? " (another updcached or web server has it?)" : "");
            return probe;
        }
        sa.sin_port = htons((uint16_t)uc_listener_port(probe));
        close(probe);
    }
    int fd = bind_listen(&sa, how != UC_LISTEN_ALONE, true);
    if (fd < 0)
        snprintf(err, errlen, "cannot listen on %s:%d: %s%s", addr, ntohs(sa.sin_port),
                 strerror(-fd),
                 fd == -EADDRINUSE ? " (another updcached or web server has it?)" : "");
    return fd;
}

int uc_listener_port(int lfd)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    if (getsockname(lfd, (struct sockaddr *)&sa, &sl))
        return -1;
    return ntohs(sa.sin_port);
}

static int setup_ring(struct uc_worker *w)
{
    /* Newer flags first; older kernels refuse them with EINVAL, so fall back. */
    /* SINGLE_ISSUER binds the ring to the thread that enables it: created disabled here
     * (main thread), enabled by the worker thread in uc_worker_run(). */
    unsigned tries[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_R_DISABLED |
                            IORING_SETUP_COOP_TASKRUN,
                        IORING_SETUP_COOP_TASKRUN, 0};
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]) && rc == -EINVAL; i++) {
        struct io_uring_params p = {.flags = tries[i]};
        rc = io_uring_queue_init_params(RING_ENTRIES, &w->ring, &p);
        if (rc == 0)
            w->ring_disabled = tries[i] & IORING_SETUP_R_DISABLED;
    }
    return rc;
}

int uc_worker_new(struct uc_daemon *d, unsigned i, struct uc_worker **out, char *err, size_t errlen)
{
    struct uc_worker *w = aligned_alloc(64, (sizeof(*w) + 63) & ~(size_t)63);
    if (!w)
        return -ENOMEM;
    memset(w, 0, sizeof(*w));
    w->d = d;
    w->id = i;
    w->lfd = w->efd = -1;
    w->log.fd = -1;
    w->set = d->boot;
    w->m = d->shards[i];
    w->set_gen = d->boot->gen;
    w->new_lfd = -1;
    uc_worker_pool_init(w);
    int rc = setup_ring(w);
    if (rc) {
        snprintf(err, errlen, "io_uring setup failed: %s", strerror(-rc));
        free(w);
        return rc;
    }
    w->cq_cap = w->ring.cq.ring_entries;
    w->cq_q = malloc((size_t)w->cq_cap * sizeof(*w->cq_q));
    if (!w->cq_q) {
        snprintf(err, errlen, "worker setup: %s", strerror(ENOMEM));
        rc = -ENOMEM;
        goto fail;
    }
    rc = uc_listener_new(d->boot->cfg.listen, d->port, i == 0 ? UC_LISTEN_FIRST : UC_LISTEN_JOIN,
                         err, errlen);
    if (rc < 0)
        goto fail;
    w->lfd = rc;
    w->port = uc_listener_port(w->lfd);
    w->efd = eventfd(0, EFD_CLOEXEC);
    rc = w->efd < 0
             ? -errno
             : uc_index_rc(mdb_txn_begin(uc_index_env(d->store->ix), NULL, MDB_RDONLY, &w->txn));
    if (rc) {
        snprintf(err, errlen, "worker setup: %s%s", uc_strerror(rc),
                 rc == MDB_READERS_FULL ? " (the index's reader table is full: fewer [server] "
                                          "workers, or stop the other processes using the store)"
                                        : "");
        goto fail;
    }
    mdb_txn_reset(w->txn);
    /* Each worker caches its own hot files: no locks; the budget is shared out. */
    w->acc = d->access ? calloc(1, sizeof(*w->acc)) : NULL;
    if (d->access && !w->acc) {
        snprintf(err, errlen, "worker setup: out of memory");
        rc = -ENOMEM;
        goto fail;
    }
    rc = uc_hot_init(&w->hot, d->boot->cfg.hot_cache / d->nworkers, 64 * 1024);
    if (rc) {
        snprintf(err, errlen, "[server] hot_cache: %s", strerror(-rc));
        goto fail;
    }
    rc = uc_fdc_init(&w->fdc, FDC_ENTRIES);
    if (rc) {
        snprintf(err, errlen, "worker setup: %s", strerror(-rc));
        goto fail;
    }
    rc = uc_accesslog_open(&w->log, d->boot->cfg.access_log);
    if (rc) {
        snprintf(err, errlen, "[server] access_log %s: %s", d->boot->cfg.access_log, strerror(-rc));
        goto fail;
    }
    *out = w;
    return 0;
fail:
    uc_worker_destroy(w);
    return rc < 0 ? rc : -EIO;
}

int uc_worker_port(const struct uc_worker *w)
{
    return w->port;
}

void uc_worker_destroy(struct uc_worker *w)
{
    if (!w)
        return;
    if (w->txn)
        mdb_txn_abort(w->txn);
    if (w->lfd >= 0)
        close(w->lfd);
    if (w->efd >= 0)
        close(w->efd);
    uc_accesslog_close(&w->log);
    uc_hot_free(&w->hot);
    free(w->acc);
    uc_fdc_free(&w->fdc);
    io_uring_queue_exit(&w->ring); /* unregisters the buffer ring */
    int nl = atomic_exchange(&w->new_lfd, -1);
    if (nl >= 0)
        close(nl);
    uc_worker_pool_free(w);
    free(w->cq_q);
    free(w->br);
    free(w->br_bufs);
    free(w->scratch);
    free(w);
}
