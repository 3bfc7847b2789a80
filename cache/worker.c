/*
 * One worker: one io_uring, one SO_REUSEPORT listener (the kernel spreads connections
 * over the workers), its connections, a reset LMDB read transaction, an access log.
 *
 * Completion dispatch: user_data = pointer | op. Each connection counts its operations
 * in flight; closing shuts the socket down (pending receives complete) and the memory
 * is freed when the count reaches zero. A receive carries a linked timeout: the idle
 * keep-alive limit between requests, the rest of the header deadline inside one
 * (slowloris). A 1 s tick flushes the access log and checks for stop and log reopen.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

int64_t uc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* An SQE, submitting what is queued when the ring is full (the ring is sized so one
 * flush always frees room). */
struct io_uring_sqe *uc_sqe(struct uc_worker *w)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    while (!sqe) {
        io_uring_submit(&w->ring);
        sqe = io_uring_get_sqe(&w->ring);
    }
    return sqe;
}

void uc_conn_submit(struct uc_conn *c, struct io_uring_sqe *sqe, enum uc_op op)
{
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | op);
    c->inflight++;
}

static void worker_submit(struct uc_worker *w, struct io_uring_sqe *sqe, enum uc_op op)
{
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)w | op);
}

static void free_conn(struct uc_conn *c)
{
    if (c->hot)
        uc_hot_release(&c->w->hot, c->hot);
    if (c->file_fd >= 0)
        close(c->file_fd);
    if (c->pipe_r >= 0) {
        close(c->pipe_r);
        close(c->pipe_w);
    }
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        c->w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->w->nconns--;
    atomic_fetch_sub(&c->w->d->connections, 1);
    free(c->in);
    free(c->out);
    free(c);
}

/*
 * Mark the connection closing and shut its socket down, so pending receives and sends
 * complete. It is freed only by dispatch(), after the handler that got here returns and
 * once nothing is in flight: never under a caller that still holds it.
 */
void uc_conn_close(struct uc_conn *c)
{
    if (c->state != C_CLOSING) {
        c->state = C_CLOSING;
        shutdown(c->fd, SHUT_RDWR);
    }
}

/* A receive into buf with the linked timeout c->ts (which the kernel reads at submit). */
static void submit_recv(struct uc_conn *c, char *buf, size_t len)
{
    struct io_uring_sqe *sqe = uc_sqe(c->w);
    io_uring_prep_recv(sqe, c->fd, buf, len, 0);
    sqe->flags |= IOSQE_IO_LINK;
    uc_conn_submit(c, sqe, OP_RECV);
    sqe = uc_sqe(c->w);
    io_uring_prep_link_timeout(sqe, &c->ts, 0);
    uc_conn_submit(c, sqe, OP_LINK_TIMEOUT);
}

#define LINGER_SECONDS 2
#define LINGER_BYTES (1024 * 1024)

/*
 * Close after a response without losing it: closing a socket with unread input makes
 * the kernel send a reset, which can destroy the response before the client reads it
 * (the rest of an oversized head, a refused body). So shut the write side, discard
 * input for a short, bounded while, then close.
 */
void uc_conn_linger(struct uc_conn *c)
{
    if (c->state == C_CLOSING)
        return;
    if (c->state != C_LINGER) {
        c->state = C_LINGER;
        c->lingered = 0;
        shutdown(c->fd, SHUT_WR);
        c->ts.tv_sec = LINGER_SECONDS;
        c->ts.tv_nsec = 0;
    }
    submit_recv(c, c->in, c->in_cap);
}

void uc_conn_arm_recv(struct uc_conn *c)
{
    struct uc_worker *w = c->w;
    const struct uc_config *cfg = &w->d->cfg;
    int64_t left = (int64_t)cfg->keepalive_timeout * 1000000000;
    if (c->head_start_ns)
        left = c->head_start_ns + (int64_t)cfg->header_timeout * 1000000000 - w->now_ns;
    if (left < 1000000)
        left = 1000000;
    c->ts.tv_sec = left / 1000000000;
    c->ts.tv_nsec = left % 1000000000;
    c->state = C_READ_HEAD;
    submit_recv(c, c->in + c->in_len, c->in_cap - c->in_len);
}

/* Parse what is buffered; respond, wait for more, or refuse. */
static void process_input(struct uc_conn *c)
{
    enum uc_parse_rc rc = uc_http_parse(&c->req, c->in, c->in_len, &c->w->d->limits);
    if (rc == UC_PARSE_AGAIN) {
        if (c->in_len == c->in_cap) /* the parser reports limits first; this is a guard */
            uc_respond_error(c, 431, NULL, true);
        else
            uc_conn_arm_recv(c);
        return;
    }
    if (rc != UC_PARSE_OK) {
        int status = uc_http_parse_status(rc);
        fprintf(stderr, "updcached: %s: bad request head (%d at byte %u)\n", c->client, status,
                c->req.pos);
        uc_respond_error(c, status, NULL, true); /* framing is not trustworthy: close */
        return;
    }
    uc_respond_request(c);
}

void uc_conn_next_request(struct uc_conn *c)
{
    uint32_t used = c->req.head_len;
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    uc_http_req_init(&c->req);
    c->nseg = c->seg_i = 0;
    c->seg_done = c->pipe_fill = 0;
    c->reads_left = 0;
    c->read_expect = c->read_got = 0;
    c->fill_hot = false;
    c->out_len = 0;
    c->head_start_ns = c->in_len ? c->w->now_ns : 0;
    if (c->in_len) /* pipelined: the next head may already be here */
        process_input(c);
    else
        uc_conn_arm_recv(c);
}

static void on_recv(struct uc_conn *c, int res)
{
    if (c->state == C_CLOSING)
        return;
    if (c->state == C_LINGER) {
        c->lingered += res > 0 ? (uint64_t)res : 0;
        if (res > 0 && c->lingered < LINGER_BYTES)
            uc_conn_linger(c);
        else
            uc_conn_close(c);
        return;
    }
    if (res == -ECANCELED) { /* the linked timeout fired */
        if (c->in_len)
            uc_respond_error(c, 408, NULL, true); /* slowloris: cut off */
        else
            uc_conn_close(c); /* idle keep-alive connection */
        return;
    }
    if (res <= 0) {
        uc_conn_close(c);
        return;
    }
    if (c->in_len == 0)
        c->head_start_ns = c->w->now_ns;
    c->in_len += (uint32_t)res;
    process_input(c);
}

static void arm_accept(struct uc_worker *w)
{
    struct io_uring_sqe *sqe = uc_sqe(w);
    io_uring_prep_multishot_accept(sqe, w->lfd, NULL, NULL, SOCK_CLOEXEC);
    worker_submit(w, sqe, OP_ACCEPT);
    w->accepting = true;
}

static void on_accept(struct uc_worker *w, struct io_uring_cqe *cqe)
{
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        w->accepting = false;
        if (!atomic_load(&w->d->stop) && cqe->res != -ECANCELED)
            arm_accept(w);
    }
    if (cqe->res < 0)
        return;
    int fd = cqe->res;
    /* Past max_connections a new connection is closed at once; existing ones go on. */
    if (atomic_fetch_add(&w->d->connections, 1) >= (long)w->d->cfg.max_connections ||
        atomic_load(&w->d->stop)) {
        atomic_fetch_sub(&w->d->connections, 1);
        close(fd);
        return;
    }
    struct uc_conn *c = calloc(1, sizeof(*c));
    uint32_t cap = (uint32_t)w->d->cfg.max_header_bytes;
    if (c) {
        c->in = malloc(cap);
        c->out = malloc(UC_OUT_CAP);
    }
    if (!c || !c->in || !c->out) {
        if (c) {
            free(c->in);
            free(c->out);
        }
        free(c);
        atomic_fetch_sub(&w->d->connections, 1);
        close(fd);
        return;
    }
    c->w = w;
    c->fd = fd;
    c->in_cap = cap;
    c->file_fd = c->pipe_r = c->pipe_w = -1;
    uc_http_req_init(&c->req);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    c->client[0] = '-';
    c->client[1] = 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->client,
                      sizeof(c->client));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, c->client,
                      sizeof(c->client));
    }
    w->nconns++;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    uc_conn_arm_recv(c);
}

static void arm_wake(struct uc_worker *w)
{
    struct io_uring_sqe *sqe = uc_sqe(w);
    io_uring_prep_read(sqe, w->efd, &w->efd_val, sizeof(w->efd_val), 0);
    worker_submit(w, sqe, OP_WAKE);
}

static void arm_tick(struct uc_worker *w)
{
    w->tick_ts.tv_sec = 1;
    w->tick_ts.tv_nsec = 0;
    struct io_uring_sqe *sqe = uc_sqe(w);
    io_uring_prep_timeout(sqe, &w->tick_ts, 0, 0);
    worker_submit(w, sqe, OP_TICK);
}

void uc_worker_wake(struct uc_worker *w)
{
    uint64_t one = 1;
    (void)!write(w->efd, &one, sizeof(one));
}

/* Stop, log reopen: what the signal thread asked for. */
static void housekeeping(struct uc_worker *w)
{
    int gen = atomic_load(&w->d->reopen_logs);
    if (gen != w->log_gen) {
        w->log_gen = gen;
        uc_accesslog_reopen(&w->log);
    }
    if (atomic_load(&w->d->stop) && w->lfd >= 0) {
        if (w->accepting) {
            struct io_uring_sqe *sqe = uc_sqe(w);
            io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)w | OP_ACCEPT, 0);
            worker_submit(w, sqe, OP_CANCEL);
        }
        close(w->lfd);
        w->lfd = -1;
        w->stop_deadline_ns = w->now_ns + (int64_t)DRAIN_SECONDS * 1000000000;
    }
    if (atomic_load(&w->d->stop)) {
        /* Idle keep-alive connections go now; responses in progress finish first. */
        for (struct uc_conn *c = w->conns, *next; c; c = next) {
            next = c->next;
            if ((c->state == C_READ_HEAD && c->in_len == 0) || c->state == C_LINGER)
                uc_conn_close(c);
        }
    }
}

static void dispatch(struct uc_worker *w, struct io_uring_cqe *cqe)
{
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    enum uc_op op = (enum uc_op)(ud & OP_MASK);
    void *p = (void *)(uintptr_t)(ud & ~OP_MASK);
    switch (op) {
    case OP_ACCEPT:
        on_accept(w, cqe);
        return;
    case OP_WAKE:
        housekeeping(w);
        arm_wake(w);
        return;
    case OP_TICK:
        uc_accesslog_flush(&w->log);
        housekeeping(w);
        arm_tick(w);
        return;
    case OP_CANCEL:
        return;
    default:
        break;
    }
    struct uc_conn *c = p;
    c->inflight--;
    switch (op) {
    case OP_RECV:
        on_recv(c, cqe->res);
        break;
    case OP_LINK_TIMEOUT:
        break;
    case OP_OPEN:
        if (c->state == C_CLOSING) {
            if (cqe->res >= 0)
                close(cqe->res);
        } else {
            uc_respond_on_open(c, cqe->res);
        }
        break;
    case OP_READ:
        if (c->state != C_CLOSING)
            uc_respond_on_read(c, cqe->res);
        break;
    default:
        if (c->state != C_CLOSING)
            uc_respond_on_send(c, op, cqe->res);
        break;
    }
    if (c->state == C_CLOSING && c->inflight == 0)
        free_conn(c);
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
    arm_accept(w);
    arm_wake(w);
    arm_tick(w);
    for (;;) {
        rc = io_uring_submit_and_wait(&w->ring, 1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            /* Not a transient condition: spinning on it would burn a core forever. */
            fprintf(stderr, "updcached: worker %u: io_uring_enter failed: %s; stopping\n", w->id,
                    strerror(-rc));
            atomic_store(&w->d->stop, 1);
            break;
        }
        w->now_ns = uc_now_ns();
        w->wall_s = time(NULL);
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&w->ring, head, cqe)
        {
            dispatch(w, cqe);
            seen++;
        }
        io_uring_cq_advance(&w->ring, seen);
        if (atomic_load(&w->d->stop) && w->lfd < 0 &&
            (w->nconns == 0 || w->now_ns > w->stop_deadline_ns))
            break;
    }
    uc_accesslog_flush(&w->log);
    return NULL;
}

static int make_listener(struct uc_daemon *d, int port, char *err, size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, d->cfg.listen, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "[server] listen: '%s' is not an IPv4 address", d->cfg.listen);
        return -EINVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4096)) {
        int rc = -errno;
        snprintf(err, errlen, "cannot listen on %s:%d: %s", d->cfg.listen, port, strerror(-rc));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    return fd;
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
    int rc = setup_ring(w);
    if (rc) {
        snprintf(err, errlen, "io_uring setup failed: %s", strerror(-rc));
        free(w);
        return rc;
    }
    rc = make_listener(d, d->port, err, errlen);
    if (rc < 0)
        goto fail;
    w->lfd = rc;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    getsockname(w->lfd, (struct sockaddr *)&sa, &sl);
    w->port = ntohs(sa.sin_port);
    w->efd = eventfd(0, EFD_CLOEXEC);
    rc = w->efd < 0 ? -errno : mdb_txn_begin(uc_index_env(d->store->ix), NULL, MDB_RDONLY, &w->txn);
    if (rc) {
        snprintf(err, errlen, "worker setup: %s", rc < 0 ? strerror(-rc) : mdb_strerror(rc));
        goto fail;
    }
    mdb_txn_reset(w->txn);
    /* Each worker caches its own hot files: no locks; the budget is shared out. */
    rc = uc_hot_init(&w->hot, d->cfg.hot_cache / d->nworkers, 64 * 1024);
    if (rc) {
        snprintf(err, errlen, "[server] hot_cache: %s", strerror(-rc));
        goto fail;
    }
    rc = uc_accesslog_open(&w->log, d->cfg.access_log);
    if (rc) {
        snprintf(err, errlen, "[server] access_log %s: %s", d->cfg.access_log, strerror(-rc));
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
    io_uring_queue_exit(&w->ring);
    free(w);
}
