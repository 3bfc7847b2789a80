/*
 * A plain-port connection's life: accept, receive, timer queues, the request state it
 * borrows from its worker's pool, close.
 *
 * Receive: one multishot recv per connection, armed at accept, picking buffers from
 * the worker's provided buffer ring; the bytes are copied into the connection's own
 * input buffer (allocated at the first byte of a request, freed when it goes idle) and
 * the ring buffer is given back at once, so an idle connection holds no buffer at all.
 * A client that pipelines far ahead of a response in progress has its receive
 * cancelled (backpressure: the bytes stay in its socket) until the server catches up.
 * Where the kernel lacks buffer rings or multishot recv, one recv at a time into the
 * input buffer does the same work.
 *
 * Timeouts: each connection sits in one of four FIFO timer queues (conn.h); a tick
 * every TICK_MS closes or answers what has expired at their heads.
 */
#include "conn.h"

#include "fill.h"
#include "transmit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LINGER_SECONDS 2
#define LINGER_BYTES (1024 * 1024)
#define IN_FIRST 4096               /* most request heads fit */
#define IN_BACKPRESSURE (64 * 1024) /* pipelined bytes held before receiving stops */
#define IN_MAX (256 * 1024)         /* what may already be on its way when it stops */
#define XFER_POOL_MAX 128
#define IN_POOL_MAX 1024 /* 4 MiB at most: the churn is per request, not per connection */
/*
 * Every POOL_TRIM_SECONDS the pool keeps only what the busiest moment since the last
 * trim used, plus POOL_SLACK, and the freed heap goes back to the kernel. A request
 * state is 90 KiB and a burst (5,000 keep-alive clients arriving at once) can fill the
 * pool: without this, up to 11 MiB stayed with the worker after the burst (the soak's
 * RSS at rest afterwards: 9.5 MiB before, 7.6 after). Once per 10 s is too seldom for
 * the re-faulting to show in a profile.
 */
#define POOL_TRIM_SECONDS 10
#define POOL_SLACK 8
#define SCRATCH_LEN 65536

/* ---- timer queues ---- */

static void tq_remove(struct uc_conn *c)
{
    if (c->tq == TQ_NONE)
        return;
    struct uc_worker *w = c->w;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->tq_head[c->tq] = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        w->tq_tail[c->tq] = c->prev;
    c->prev = c->next = NULL;
    c->tq = TQ_NONE;
}

/* Append to queue q stamped now; staying in the same queue keeps the first stamp. */
static void tq_enter(struct uc_conn *c, enum uc_tq q, bool restamp)
{
    if (c->tq == q && !restamp)
        return;
    tq_remove(c);
    struct uc_worker *w = c->w;
    c->tq = (uint8_t)q;
    c->tq_since_ns = w->now_ns;
    c->prev = w->tq_tail[q];
    if (w->tq_tail[q])
        w->tq_tail[q]->next = c;
    else
        w->tq_head[q] = c;
    w->tq_tail[q] = c;
}

void uc_conn_progress(struct uc_conn *c)
{
    if (c->state != C_CLOSING)
        tq_enter(c, TQ_BUSY, true);
}

/* ---- request state pool ---- */

static void xfer_reset(struct uc_xfer *x)
{
    uc_http_req_init(&x->req);
    x->out_len = 0;
    x->nseg = x->seg_i = 0;
    x->seg_done = 0;
    x->direct = false;
    x->warm_start = x->warm_end = 0;
    x->reads_left = 0;
    x->read_expect = x->read_got = 0;
    x->hot = NULL;
    x->fde = NULL;
    x->fill_hot = false;
    x->cold = x->started = x->fill_waiting = false;
    x->fill = NULL;
    x->wait_prev = x->wait_next = NULL;
    x->status = 0;
    x->body_len = 0;
    x->keep = x->head_only = false;
    x->body_need = 0;
}

static struct uc_xfer *xfer_get(struct uc_worker *w)
{
    struct uc_xfer *x = uc_freelist_get(&w->xfers);
    if (x)
        xfer_reset(x);
    return x;
}

void uc_conn_drop_file(struct uc_conn *c)
{
    if (c->x && c->x->fill) { /* the part file's descriptor is the fill's */
        uc_tx_unpark(c);
        uc_fill_release(c->x->fill);
        c->x->fill = NULL;
    } else if (c->x && c->x->fde) {
        uc_fdc_release(&c->w->fdc, c->x->fde);
        c->x->fde = NULL;
    } else if (c->file_fd >= 0) {
        close(c->file_fd);
    }
    c->file_fd = -1;
}

static void release_request(struct uc_conn *c)
{
    struct uc_worker *w = c->w;
    struct uc_xfer *x = c->x;
    uc_conn_drop_file(c);
    if (x) {
        if (x->hot)
            uc_hot_release(&w->hot, x->hot);
        uc_freelist_put(&w->xfers, x);
        c->x = NULL;
    }
    c->in_len = 0;
    /* A single-shot recv still in flight writes into in (a 408 or linger while waiting
     * for a head): freed when it completes, or another connection's next allocation
     * would receive this one's bytes. */
    if (!c->recv_in && c->in) {
        if (c->in_pooled)
            uc_freelist_put(&w->ins, c->in);
        else
            free(c->in);
        c->in = NULL;
        c->in_cap = 0;
        c->in_pooled = false;
    }
}

void uc_worker_pool_init(struct uc_worker *w)
{
    uc_freelist_init(&w->xfers, sizeof(struct uc_xfer), XFER_POOL_MAX);
    uc_freelist_init(&w->ins, IN_FIRST, IN_POOL_MAX);
}

void uc_conn_pool_trim(struct uc_worker *w)
{
    if (w->now_ns < w->pool_trim_ns)
        return;
    w->pool_trim_ns = w->now_ns + POOL_TRIM_SECONDS * 1000000000LL;
    bool cut = uc_freelist_trim(&w->xfers, POOL_SLACK);
    cut |= uc_freelist_trim(&w->ins, POOL_SLACK);
    if (cut)
        malloc_trim(0); /* M_TRIM_THRESHOLD keeps freed heap for the hot path; give it back */
}

void uc_worker_pool_free(struct uc_worker *w)
{
    uc_freelist_free(&w->xfers);
    uc_freelist_free(&w->ins);
}

/* ---- close ---- */

void uc_conn_free(struct uc_conn *c)
{
    struct uc_worker *w = c->w;
    tq_remove(c);
    release_request(c); /* and the file */
    if (c->pipe_r >= 0) {
        close(c->pipe_r);
        close(c->pipe_w);
    }
    close(c->fd);
    w->nconns--;
    atomic_fetch_sub(&w->d->connections, 1);
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
        tq_remove(c);
        shutdown(c->fd, SHUT_RDWR);
    }
}

/* ---- receive ---- */

static void arm_recv(struct uc_conn *c)
{
    struct uc_worker *w = c->w;
    if (c->recv_armed || c->state == C_CLOSING || c->rd_eof)
        return;
    struct io_uring_sqe *sqe = uc_sqe(w);
    if (w->multishot) {
        io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = UC_BGID;
    } else if (c->state == C_LINGER) {
        io_uring_prep_recv(sqe, c->fd, w->scratch, SCRATCH_LEN, 0); /* bytes thrown away */
    } else {
        io_uring_prep_recv(sqe, c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        c->recv_in = true;
    }
    uc_conn_submit(c, sqe, OP_RECV);
    c->recv_armed = true;
}

/* Room for want more input bytes, up to max; false when that would pass max. */
static bool in_reserve(struct uc_conn *c, uint32_t want, uint32_t max)
{
    if (c->in_cap - c->in_len >= want)
        return true;
    if (c->recv_in || (uint64_t)c->in_len + want > max)
        return false;
    uint32_t cap = c->in_cap ? c->in_cap : IN_FIRST;
    while (cap < c->in_len + want)
        cap *= 2;
    if (cap > max)
        cap = max;
    bool pooled = !c->in && cap == IN_FIRST;
    char *in = pooled         ? uc_freelist_get(&c->w->ins)
               : c->in_pooled ? malloc(cap)
                              : realloc(c->in, cap);
    if (!in)
        return false;
    if (c->in_pooled) { /* outgrown: its block goes back to the pool */
        memcpy(in, c->in, c->in_len);
        uc_freelist_put(&c->w->ins, c->in);
    }
    c->in = in;
    c->in_cap = cap;
    c->in_pooled = pooled;
    return true;
}

/* The request state for the head now arriving. */
static bool begin_head(struct uc_conn *c)
{
    if (!c->x && !(c->x = xfer_get(c->w)))
        return false;
    if (!c->head_start_ns)
        c->head_start_ns = c->w->now_ns;
    tq_enter(c, TQ_HEAD, false);
    return true;
}

/* Wait for (the rest of) a head. */
static void want_head(struct uc_conn *c)
{
    struct uc_worker *w = c->w;
    c->state = C_READ_HEAD;
    if (c->rd_eof) { /* every complete request has been answered; no more can come */
        uc_conn_close(c);
        return;
    }
    if (c->in_len == 0) {
        tq_enter(c, c->answered ? TQ_IDLE : TQ_FRESH, false);
    } else if (!begin_head(c)) {
        uc_conn_close(c);
        return;
    }
    if (!w->multishot && !c->recv_armed &&
        !in_reserve(c, (uint32_t)W_CFG(w)->max_header_bytes - c->in_len,
                    (uint32_t)W_CFG(w)->max_header_bytes)) {
        uc_conn_close(c); /* out of memory */
        return;
    }
    arm_recv(c);
}

/* Parse what is buffered; respond, wait for more, or refuse. */
static void process_input(struct uc_conn *c)
{
    struct uc_worker *w = c->w;
    enum uc_parse_rc rc = uc_http_parse(&c->x->req, c->in, c->in_len, &w->set->limits);
    if (rc == UC_PARSE_AGAIN && c->in_len >= W_CFG(w)->max_header_bytes) {
        uc_respond_error(c, 431, NULL, true); /* full, and the head has not ended */
        return;
    }
    if (rc == UC_PARSE_AGAIN) {
        want_head(c);
        return;
    }
    if (rc != UC_PARSE_OK) {
        int status = uc_http_parse_status(rc);
        fprintf(stderr, "updcached: %s: bad request head (%d at byte %u)\n", c->client, status,
                c->x->req.pos);
        uc_respond_error(c, status, NULL, true); /* framing is not trustworthy: close */
        return;
    }
    tq_enter(c, TQ_BUSY, true);
    uc_respond_request(c);
}

void uc_conn_next_request(struct uc_conn *c)
{
    struct uc_xfer *x = c->x;
    uint32_t used = x->req.head_len + x->body_need;
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    c->pipe_fill = 0;
    c->head_start_ns = 0;
    if (c->in_len == 0) { /* idle: keep nothing but the socket */
        release_request(c);
        want_head(c);
        return;
    }
    xfer_reset(x); /* pipelined: the next head may already be here */
    c->state = C_READ_HEAD;
    if (!begin_head(c)) {
        uc_conn_close(c);
        return;
    }
    process_input(c);
}

void uc_conn_want_body(struct uc_conn *c)
{
    uint32_t total = c->x->req.head_len + c->x->body_need;
    if (c->rd_eof) { /* the rest of the body will never come */
        uc_conn_close(c);
        return;
    }
    if (c->state != C_READ_BODY) {
        c->state = C_READ_BODY;
        tq_enter(c, TQ_HEAD, true); /* the body gets header_timeout too */
    }
    if (!in_reserve(c, total - c->in_len, total)) {
        uc_conn_close(c);
        return;
    }
    arm_recv(c);
}

/*
 * Close after a response without losing it: closing a socket with unread input makes
 * the kernel send a reset, which can destroy the response before the client reads it
 * (the rest of an oversized head, a refused body). So shut the write side, discard
 * input for a short, bounded while, then close.
 */
void uc_conn_linger(struct uc_conn *c)
{
    if (c->state == C_CLOSING || c->state == C_LINGER)
        return;
    if (c->rd_eof) { /* no unread input can make the close a reset */
        uc_conn_close(c);
        return;
    }
    c->state = C_LINGER;
    c->lingered = 0;
    shutdown(c->fd, SHUT_WR);
    release_request(c);
    tq_enter(c, TQ_LINGER, true);
    arm_recv(c);
}

/* Bytes from a provided buffer (multishot) into the input buffer. */
static bool take_bytes(struct uc_conn *c, const char *data, uint32_t len)
{
    uint32_t max = c->state == C_READ_HEAD   ? (uint32_t)W_CFG(c->w)->max_header_bytes
                   : c->state == C_READ_BODY ? c->x->req.head_len + c->x->body_need + IN_MAX
                                             : IN_MAX;
    if (c->state == C_READ_HEAD && c->in_len + len > max)
        max = c->in_len + len; /* the parser refuses it with the right status */
    if (!in_reserve(c, len, max)) {
        fprintf(stderr,
                "updcached: %s: more than %u bytes pipelined ahead of the response in "
                "progress; closing\n",
                c->client, IN_MAX);
        return false;
    }
    memcpy(c->in + c->in_len, data, len);
    c->in_len += len;
    return true;
}

static void give_back(struct uc_worker *w, unsigned bid)
{
    io_uring_buf_ring_add(w->br, w->br_bufs + (size_t)bid * UC_BR_BUF, UC_BR_BUF, (uint16_t)bid,
                          io_uring_buf_ring_mask(UC_BR_ENTRIES), (int)w->br_added++);
}

static void on_bytes(struct uc_conn *c, const char *data, uint32_t len)
{
    struct uc_worker *w = c->w;
    if (c->state == C_LINGER) {
        c->lingered += len;
        if (c->lingered >= LINGER_BYTES)
            uc_conn_close(c);
        return;
    }
    bool was_empty = c->in_len == 0;
    if (data && !take_bytes(c, data, len)) {
        uc_conn_close(c);
        return;
    }
    if (!data) /* single-shot: the kernel wrote into the input buffer */
        c->in_len += len;
    if (c->state == C_READ_BODY) {
        if (c->in_len >= c->x->req.head_len + c->x->body_need)
            uc_respond_body_ready(c);
        else if (!w->multishot)
            uc_conn_want_body(c);
        return;
    }
    if (c->state != C_READ_HEAD) {
        /* Pipelined ahead of the response in progress: read on once it is sent. */
        if (w->multishot && c->in_len >= IN_BACKPRESSURE && c->recv_armed && !c->recv_cancel) {
            struct io_uring_sqe *sqe = uc_sqe(w);
            io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)c | OP_RECV, 0);
            io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)w | OP_CANCEL);
            c->recv_cancel = true;
        }
        return;
    }
    if (was_empty && !begin_head(c)) {
        uc_conn_close(c);
        return;
    }
    process_input(c);
}

void uc_conn_on_recv(struct uc_conn *c, const struct uc_cqe *cqe)
{
    struct uc_worker *w = c->w;
    bool last = !(cqe->flags & IORING_CQE_F_MORE);
    int res = cqe->res;
    const char *data = NULL;
    bool into_in = false;
    if (last) {
        c->inflight--;
        c->recv_armed = false;
        c->recv_cancel = false;
        into_in = c->recv_in;
        c->recv_in = false;
    }
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        data = w->br_bufs + (size_t)bid * UC_BR_BUF;
        if (res > 0 && c->state != C_CLOSING)
            on_bytes(c, data, (uint32_t)res);
        give_back(w, bid); /* copied out (or discarded): the kernel may reuse it */
    } else if (res > 0 && c->state != C_CLOSING) {
        on_bytes(c, NULL, (uint32_t)res);
    }
    if (into_in && c->state == C_LINGER) /* the buffer release_request() had to keep */
        release_request(c);
    if (c->state == C_CLOSING)
        return;
    if (res == -EINVAL && w->multishot && c->in_len == 0) {
        /* Buffer rings registered but multishot recv refused: a kernel before 6.0. */
        fprintf(stderr,
                "updcached: worker %u: multishot recv not supported; receiving one "
                "request at a time\n",
                w->id);
        w->multishot = false;
    } else if (res == 0 && c->state != C_READ_HEAD && c->state != C_READ_BODY &&
               c->state != C_LINGER) {
        /* A half-close after complete requests (RFC 9112 §9.6): their responses are
         * still wanted. Receiving stops; want_head() closes once they are sent. */
        c->rd_eof = true;
        return;
    } else if (res == 0 || (res < 0 && res != -ENOBUFS && res != -ECANCELED && res != -EAGAIN)) {
        uc_conn_close(c); /* end of input, or the socket failed */
        return;
    }
    if (!last || c->recv_armed)
        return;
    /* Receiving stopped (single-shot done, buffers ran out, backpressure, fallback, or
     * EAGAIN from io-wq on the non-blocking socket): resume where the connection wants
     * input now. */
    if (c->state == C_LINGER)
        arm_recv(c);
    else if (c->state == C_READ_HEAD)
        want_head(c);
    else if (c->state == C_READ_BODY)
        uc_conn_want_body(c);
    else if (w->multishot && c->in_len < IN_BACKPRESSURE)
        arm_recv(c);
}

/* ---- accept ---- */

void uc_conn_accepted(struct uc_worker *w, int fd)
{
    /* Past max_connections a new connection is closed at once; existing ones go on. */
    if (atomic_fetch_add(&w->d->connections, 1) >= (long)W_CFG(w)->max_connections ||
        atomic_load(&w->d->stop)) {
        atomic_fetch_sub(&w->d->connections, 1);
        close(fd);
        return;
    }
    struct uc_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        atomic_fetch_sub(&w->d->connections, 1);
        close(fd);
        return;
    }
    c->w = w;
    c->fd = fd;
    c->tq = TQ_NONE;
    c->file_fd = c->pipe_r = c->pipe_w = -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    c->client[0] = '-';
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->client,
                      sizeof(c->client));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, c->client,
                      sizeof(c->client));
    }
    w->nconns++;
    want_head(c);
}

/* ---- timers ---- */

static bool expired(const struct uc_conn *c, uint64_t seconds)
{
    return c->w->now_ns - c->tq_since_ns >= (int64_t)seconds * 1000000000;
}

void uc_conn_timers(struct uc_worker *w)
{
    const struct uc_config *cfg = W_CFG(w);
    struct uc_conn *c;
    while ((c = w->tq_head[TQ_FRESH]) && expired(c, cfg->header_timeout))
        uc_conn_close(c); /* never said a word: nothing to answer */
    while ((c = w->tq_head[TQ_IDLE]) && expired(c, cfg->keepalive_timeout))
        uc_conn_close(c);
    while ((c = w->tq_head[TQ_HEAD]) && expired(c, cfg->header_timeout))
        uc_respond_error(c, 408, NULL, true); /* slowloris: cut off (leaves the queue) */
    while ((c = w->tq_head[TQ_BUSY]) && expired(c, cfg->keepalive_timeout)) {
        fprintf(stderr, "updcached: %s: no progress for %llu s (client not reading); closing\n",
                c->client, (unsigned long long)cfg->keepalive_timeout);
        uc_conn_close(c);
    }
    while ((c = w->tq_head[TQ_LINGER]) && expired(c, LINGER_SECONDS))
        uc_conn_close(c);
}

/* At stop: idle keep-alive connections go now; responses in progress finish first. */
void uc_conn_close_idle(struct uc_worker *w)
{
    struct uc_conn *c;
    while ((c = w->tq_head[TQ_IDLE]) || (c = w->tq_head[TQ_FRESH]))
        uc_conn_close(c);
    while ((c = w->tq_head[TQ_LINGER]))
        uc_conn_close(c);
}

/* ---- the provided buffer ring ---- */

bool uc_conn_setup_multishot(struct uc_worker *w)
{
    w->scratch = malloc(SCRATCH_LEN);
    if (getenv("UPDCACHED_NO_MULTISHOT")) /* tests run the fallback path with this */
        return false;
    void *ring = aligned_alloc(4096, UC_BR_ENTRIES * sizeof(struct io_uring_buf));
    char *bufs = aligned_alloc(4096, (size_t)UC_BR_ENTRIES * UC_BR_BUF);
    struct io_uring_buf_reg reg = {
        .ring_addr = (uintptr_t)ring, .ring_entries = UC_BR_ENTRIES, .bgid = UC_BGID};
    if (!ring || !bufs || io_uring_register_buf_ring(&w->ring, &reg, 0) != 0) {
        free(ring);
        free(bufs);
        return false;
    }
    /* The kernel takes the buffers in ring order, so they would become resident one
     * receive at a time (2 KB more RSS per request for the first 1,024): the soak read
     * that as growth. Touched now, the worker's memory is what it will be under load. */
    memset(bufs, 0, (size_t)UC_BR_ENTRIES * UC_BR_BUF);
    w->br = ring;
    w->br_bufs = bufs;
    io_uring_buf_ring_init(w->br);
    for (unsigned i = 0; i < UC_BR_ENTRIES; i++)
        give_back(w, i);
    uc_conn_buffers_advance(w);
    w->multishot = true;
    return true;
}

void uc_conn_buffers_advance(struct uc_worker *w)
{
    if (w->br_added) {
        io_uring_buf_ring_advance(w->br, (int)w->br_added);
        w->br_added = 0;
    }
}
