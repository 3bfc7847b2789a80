/*
 * Transmission of a planned response (transmit.h). Two paths:
 *
 *   memory only (errors, JSON, hot files, small files and small ranges read into the
 *     buffer through the ring): one send through the ring, whose submission is batched
 *     with every other connection's.
 *   with file ranges: from the worker's own context, on the non-blocking socket.
 *     The memory pieces (the head, multipart part heads and tail) go out by
 *     send(MSG_MORE), so the head leaves in the same packet as the first body bytes.
 *     A file range goes out by sendfile(2) while cachestat(2) says its next window is
 *     in the page cache (nothing is copied on loopback, no io-wq hand-off); a window
 *     that is not goes file -> pipe by a splice through the ring (io_uring runs it in
 *     io-wq, where waiting on the disk stalls no one), then pipe -> socket from here.
 *
 * Socket full (EAGAIN): a POLL_ADD for POLLOUT through the ring resumes the send. One
 * connection sends at most TURN_BYTES per turn and then yields without the ring
 * (uc_conn_yield): it goes on after the completions of the next reap, so the other
 * connections go first, and a socket that is still writable costs no poll. Against a
 * POLL_ADD per turn, in A/B rounds of the same runs (RESULTS.md 2026-12-04), it was
 * within the host's noise: bits +5%, +2%, -3% and +6% in four runs, 1m +3%, do-ranges +2%.
 */
#include "transmit.h"

#include "fill.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define PIPE_WANT (1024 * 1024) /* a cold window is read in chunks of the pipe's size */
/*
 * Per connection per turn of the loop; lighttpd's MAX_WRITE_LIMIT is 256 KiB too.
 * Measured on the 1m scenario (16 clients, 1 MiB files, loopback) on an EPYC host: 1 MiB
 * turns gave 0.68-0.94x lighttpd's rate, 256 and 512 KiB about 1.0x, 128 KiB no better;
 * in the cold scenario 1 MiB turns doubled the hot requests' p99. 128 KiB turns for
 * bodies over 1 MiB, which won on a Xeon host (256m 1.17x lighttpd against 0.89x, bits
 * 1.19x against 0.89x, RESULTS.md 2026-12-03 14:00), lost on the EPYC host in two
 * alternated pairs of bench/run --rounds 2 (256m 0.85x and 0.76x against 0.94x and
 * 1.03x with 256 KiB, bits 0.90x and 0.69x against 1.02x and 1.03x; RESULTS.md "Issue 10
 * on the EPYC host again"). Which host a deployment is like is not known here; 256 KiB is
 * the figure that also met on the Xeon host for responses up to 1 MiB.
 */
#define TURN_BYTES (256 * 1024)
#define WARM_WINDOW (4ULL << 20) /* bytes whose residency one probe establishes */
#define PAGE 4096ULL

/* cachestat(2), Linux 6.5; glibc and the kernel headers here do not declare it yet. */
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif
struct uc_cachestat_range {
    uint64_t off, len;
};
struct uc_cachestat {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

/* -1: not known yet; 0: cachestat cannot be used (mincore then); 1: it works. */
static _Atomic int have_cachestat = -1;

/* Pages of [off, off + len) in the page cache, the way fincore counts them: a mapping
 * never touched (no page is faulted in or read), mincore, unmap. Three calls instead of
 * one: the fallback for where cachestat is refused. */
static bool cached_by_mincore(int fd, uint64_t off, uint64_t len)
{
    uint64_t start = off / PAGE * PAGE, span = off + len - start;
    size_t pages = (size_t)((span + PAGE - 1) / PAGE);
    unsigned char vec[WARM_WINDOW / PAGE + 2]; /* a window, not page-aligned */
    if (pages > sizeof(vec))
        return false;
    void *m = mmap(NULL, (size_t)span, PROT_READ, MAP_SHARED, fd, (off_t)start);
    if (m == MAP_FAILED)
        return false;
    int rc = mincore(m, (size_t)span, vec);
    munmap(m, (size_t)span);
    if (rc)
        return false;
    for (size_t i = 0; i < pages; i++)
        if (!(vec[i] & 1))
            return false;
    return true;
}

static bool cached_by_cachestat(int fd, uint64_t off, uint64_t len, bool *usable)
{
    struct uc_cachestat_range r = {off, len};
    struct uc_cachestat cs;
    *usable = true;
    if (syscall(__NR_cachestat, fd, &r, &cs, 0) != 0) {
        /* ENOSYS: Linux < 6.5. EPERM: a seccomp filter whose tables predate the call
         * (systemd 252's SystemCallFilter= on Debian 12 answers it so). */
        if (errno == ENOSYS || errno == EPERM) {
            *usable = false;
            fprintf(stderr,
                    "updcached: cachestat(2) is %s: the page cache is probed with mincore(2)\n",
                    errno == ENOSYS ? "not in this kernel (Linux < 6.5)"
                                    : "refused (a seccomp filter that does not know it)");
        }
        return false;
    }
    uint64_t pages = (off + len - 1) / PAGE - off / PAGE + 1;
    return cs.nr_cache >= pages;
}

/*
 * Is [off, off + len) of fd in the page cache, so that sendfile() will not wait on a
 * disk read? cachestat counts the pages present (mincore where cachestat is not there);
 * a page still being read in (our own splice's readahead) is present but not up to
 * date, so the last page is also read with RWF_NOWAIT, which fails rather than wait. A
 * page evicted between this probe and the sendfile makes that one sendfile wait: a
 * narrow race, not a path.
 */
static bool resident(int fd, uint64_t off, uint64_t len)
{
    int have = atomic_load_explicit(&have_cachestat, memory_order_relaxed);
    if (have < 0 && getenv("UPDCACHED_NO_CACHESTAT")) { /* tests: the filtered case */
        atomic_store(&have_cachestat, have = 0);
        fprintf(stderr, "updcached: UPDCACHED_NO_CACHESTAT: the page cache is probed with "
                        "mincore(2)\n");
    }
    bool cached;
    if (have != 0) {
        bool usable;
        cached = cached_by_cachestat(fd, off, len, &usable);
        atomic_store_explicit(&have_cachestat, usable ? 1 : 0, memory_order_relaxed);
        if (!usable)
            cached = cached_by_mincore(fd, off, len);
    } else {
        cached = cached_by_mincore(fd, off, len);
    }
    if (!cached)
        return false;
    char b;
    struct iovec iov = {&b, 1};
    return preadv2(fd, &iov, 1, (off_t)(off + len - 1), RWF_NOWAIT) == 1;
}

static int ensure_pipe(struct uc_conn *c)
{
    if (c->pipe_r >= 0)
        return 0;
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
        return -errno;
    c->pipe_r = p[0];
    c->pipe_w = p[1];
    int got = fcntl(c->pipe_w, F_SETPIPE_SZ, PIPE_WANT);
    c->pipe_cap = got > 0 ? (uint64_t)got : 65536;
    return 0;
}

static void wait_writable(struct uc_conn *c)
{
    struct io_uring_sqe *sqe = uc_sqe(c->w);
    io_uring_prep_poll_add(sqe, c->fd, POLLOUT);
    uc_conn_submit(c, sqe, OP_POLL_OUT);
}

/* Wait on the worker's list for the fill to reach pos. */
static void park(struct uc_conn *c, uint64_t pos)
{
    struct uc_xfer *x = c->x;
    uc_fill_want(x->fill, pos);
    if (!x->fill_waiting) {
        x->fill_waiting = true;
        x->wait_prev = NULL;
        x->wait_next = c->w->fill_waiters;
        if (x->wait_next)
            x->wait_next->x->wait_prev = c;
        c->w->fill_waiters = c;
    }
    /* Something in flight, so that a close (timer, stop) completes it and frees c. */
    if (!c->hup_armed) {
        struct io_uring_sqe *sqe = uc_sqe(c->w);
        io_uring_prep_poll_add(sqe, c->fd, POLLHUP | POLLERR);
        c->hup_armed = true;
        uc_conn_submit(c, sqe, OP_HUP);
    }
}

void uc_tx_unpark(struct uc_conn *c)
{
    struct uc_xfer *x = c->x;
    if (!x || !x->fill_waiting)
        return;
    if (x->wait_prev)
        x->wait_prev->x->wait_next = x->wait_next;
    else
        c->w->fill_waiters = x->wait_next;
    if (x->wait_next)
        x->wait_next->x->wait_prev = x->wait_prev;
    x->wait_prev = x->wait_next = NULL;
    x->fill_waiting = false;
}

/* The head of a fill's response waits for its first body byte: true to go on. */
static bool first_byte_ready(struct uc_conn *c)
{
    struct uc_xfer *x = c->x;
    for (unsigned i = 0; i < x->nseg; i++) {
        if (!x->segs[i].file)
            continue;
        int st;
        const char *why;
        int64_t n = uc_fill_ready(x->fill, x->segs[i].off, 1, &st, &why);
        if (n > 0)
            return true;
        if (n < 0) {
            char detail[300];
            snprintf(detail, sizeof(detail), "filling from the upstream failed: %s", why);
            uc_respond_error(c, st, detail, false);
        } else {
            park(c, x->segs[i].off);
        }
        return false;
    }
    return true;
}

/* Bytes of the response after the current position and n more: MSG_MORE if any. */
static bool more_after(const struct uc_xfer *x, uint64_t n)
{
    return x->seg_i + 1 < x->nseg || x->seg_done + n < x->segs[x->seg_i].len;
}

/* Step past finished segments; true when the whole plan is sent. */
static bool plan_done(struct uc_xfer *x)
{
    while (x->seg_i < x->nseg && x->seg_done == x->segs[x->seg_i].len) {
        x->seg_i++;
        x->seg_done = 0;
    }
    return x->seg_i == x->nseg;
}

/* A cold window: file -> pipe through the ring (io-wq may wait on the disk there). */
static void splice_in(struct uc_conn *c, const struct uc_seg *s, uint64_t left)
{
    if (ensure_pipe(c)) {
        uc_conn_close(c);
        return;
    }
    uint64_t chunk = left < c->pipe_cap ? left : c->pipe_cap;
    struct io_uring_sqe *sqe = uc_sqe(c->w);
    /* Blocking on the file side is io-wq's to do; the pipe has room for all of chunk. */
    io_uring_prep_splice(sqe, c->file_fd, (int64_t)(s->off + c->x->seg_done), c->pipe_w, -1,
                         (unsigned)chunk, SPLICE_F_MOVE);
    uc_conn_submit(c, sqe, OP_SPLICE_IN);
}

/*
 * One non-blocking write of at most max bytes of the current segment: what the pipe
 * holds, a memory piece, or a resident file window. Returns the bytes written, 0 when
 * the caller must wait (socket full, or a cold window went to the ring), -1 when the
 * connection is closing.
 */
static ssize_t write_some(struct uc_conn *c, uint64_t max, bool *async)
{
    struct uc_xfer *x = c->x;
    const struct uc_seg *s = &x->segs[x->seg_i];
    ssize_t n;
    if (c->pipe_fill) {
        uint64_t want = c->pipe_fill < max ? c->pipe_fill : max;
        n = splice(c->pipe_r, NULL, c->fd, NULL, want,
                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (more_after(x, want) ? SPLICE_F_MORE : 0));
        if (n > 0) {
            c->pipe_fill -= (uint64_t)n;
            uc_metrics_add(&c->w->m->file_bytes_splice, (uint64_t)n);
        }
    } else if (!s->file) {
        uint64_t left = s->len - x->seg_done;
        uint64_t want = left < max ? left : max;
        n = send(c->fd, x->out + s->off + x->seg_done, want,
                 MSG_DONTWAIT | MSG_NOSIGNAL | (more_after(x, want) ? MSG_MORE : 0));
    } else {
        uint64_t pos = s->off + x->seg_done, left = s->len - x->seg_done;
        if (x->fill) { /* only what has been verified */
            int st;
            const char *why;
            int64_t ok = uc_fill_ready(x->fill, pos, left, &st, &why);
            if (ok < 0) {
                fprintf(stderr,
                        "updcached: %s: Content/%s: the fill failed after the response "
                        "started (%s); closing (everything sent was verified)\n",
                        c->client, x->name, why);
                uc_conn_close(c);
                return -1;
            }
            if (ok == 0) {
                park(c, pos);
                *async = true;
                return 0;
            }
            left = (uint64_t)ok;
            c->file_fd = uc_fill_fd(x->fill);
        }
        if (pos < x->warm_start || pos >= x->warm_end) {
            uint64_t win = left < WARM_WINDOW ? left : WARM_WINDOW;
            if (!resident(c->file_fd, pos, win)) {
                *async = true;
                splice_in(c, s, left);
                return 0;
            }
            x->warm_start = pos;
            x->warm_end = pos + win;
        }
        uint64_t want = x->warm_end - pos;
        if (want > left)
            want = left;
        if (want > max)
            want = max;
        off_t o = (off_t)pos;
        n = sendfile(c->fd, c->file_fd, &o, want);
        if (n == 0) { /* the file is shorter than its record: framing is lost */
            fprintf(stderr, "updcached: %s: file shorter than indexed; closing\n", x->name);
            uc_conn_close(c);
            return -1;
        }
        if (n > 0)
            uc_metrics_add(&c->w->m->file_bytes_sendfile, (uint64_t)n);
    }
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EINTR)
        return 0;
    uc_conn_close(c); /* the client went away, or the socket failed */
    return -1;
}

/* Send from here until the plan is done, the socket is full or the turn is used up. */
static void pump_direct(struct uc_conn *c)
{
    struct uc_xfer *x = c->x;
    uint64_t budget = TURN_BYTES;
    while (!plan_done(x)) {
        if (budget == 0) { /* yield: the others' completions of the batch go first */
            uc_conn_yield(c);
            return;
        }
        bool async = false;
        ssize_t n = write_some(c, budget, &async);
        if (n < 0 || async)
            return;
        if (n == 0) {
            wait_writable(c);
            return;
        }
        x->seg_done += (uint64_t)n;
        budget -= (uint64_t)n < budget ? (uint64_t)n : budget;
        uc_conn_progress(c); /* a reader that stops reading is cut off by the timer */
    }
    uc_respond_done(c);
}

/* A memory-only plan: the next piece through the ring. */
static void pump_ring(struct uc_conn *c)
{
    struct uc_xfer *x = c->x;
    if (plan_done(x)) {
        uc_respond_done(c);
        return;
    }
    const struct uc_seg *s = &x->segs[x->seg_i];
    struct io_uring_sqe *sqe = uc_sqe(c->w);
    io_uring_prep_send(sqe, c->fd, x->out + s->off + x->seg_done, s->len - x->seg_done,
                       MSG_NOSIGNAL | (x->seg_i + 1 < x->nseg ? MSG_MORE : 0));
    uc_conn_submit(c, sqe, OP_SEND);
}

void uc_tx_start(struct uc_conn *c)
{
    struct uc_xfer *x = c->x;
    c->state = C_SENDING;
    uc_conn_progress(c);
    if (x->fill && !x->started && !first_byte_ready(c))
        return;
    x->started = true;
    x->seg_i = 0;
    x->seg_done = 0;
    x->direct = false;
    for (unsigned i = 0; i < x->nseg; i++)
        x->direct |= x->segs[i].file;
    if (x->direct)
        pump_direct(c);
    else
        pump_ring(c);
}

void uc_tx_fill_wake(struct uc_worker *w)
{
    struct uc_conn *list = w->fill_waiters;
    w->fill_waiters = NULL;
    while (list) {
        struct uc_conn *c = list;
        list = c->x->wait_next;
        if (list)
            list->x->wait_prev = NULL;
        c->x->wait_next = NULL;
        c->x->fill_waiting = false;
        if (c->state == C_CLOSING)
            continue;
        uc_conn_progress(c);
        if (!c->x->started)
            uc_tx_start(c);
        else
            pump_direct(c);
    }
}

void uc_tx_on_complete(struct uc_conn *c, enum uc_op op, int res)
{
    if (op == OP_HUP) { /* the peer is gone (or we closed): a send would fail anyway */
        c->hup_armed = false;
        if (res > 0 && (res & (POLLHUP | POLLERR)))
            uc_conn_close(c);
        return;
    }
    if (op == OP_POLL_OUT) {
        /* Writable, or an error the next write reports. */
        pump_direct(c);
        return;
    }
    if (op == OP_SPLICE_IN) {
        if (res <= 0) {
            if (res == 0) /* the file is shorter than its record: framing is lost */
                fprintf(stderr, "updcached: %s: file shorter than indexed; closing\n", c->x->name);
            else
                fprintf(stderr, "updcached: %s: read failed: %s; closing\n", c->x->name,
                        strerror(-res));
            uc_conn_close(c);
            return;
        }
        c->pipe_fill += (uint64_t)res;
        uc_conn_progress(c);
        pump_direct(c);
        return;
    }
    if (res == -EAGAIN) { /* OP_SEND handed to io-wq, on the non-blocking socket */
        wait_writable(c); /* and pump_direct() sends the rest of the memory pieces */
        return;
    }
    if (res <= 0) { /* OP_SEND: the client went away, or the socket failed */
        uc_conn_close(c);
        return;
    }
    c->x->seg_done += (uint64_t)res;
    uc_conn_progress(c);
    pump_ring(c);
}
