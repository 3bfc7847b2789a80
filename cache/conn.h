/*
 * Daemon internals shared by worker.c (the ring loop, accept, receive, timeouts),
 * respond.c (turning a parsed request into a response plan) and transmit.c (sending it).
 *
 * user_data of every SQE is the connection (or worker) pointer with the operation in
 * the low 4 bits; both are allocated with at least 16-byte alignment. A connection is
 * freed only when its count of operations in flight is zero (nothing the kernel may
 * still write to is released early).
 */
#ifndef UC_CONN_H
#define UC_CONN_H

#include "accesslog.h"
#include "daemon.h"
#include "fdcache.h"
#include "freelist.h"
#include "hotcache.h"
#include "range.h"
#include "route.h"

#include <liburing.h>
#include <linux/openat2.h>
#include <lmdb.h>

enum uc_op {
    OP_ACCEPT = 1,
    OP_RECV,
    OP_LINK_TIMEOUT,
    OP_OPEN,
    OP_READ,
    OP_SEND,
    OP_SPLICE_IN,
    OP_POLL_OUT, /* transmit.c: the socket was full, or a turn's budget was used */
    OP_WAKE,
    OP_TICK,
    OP_CANCEL,
    OP_HUP, /* transmit.c: a waiting connection's socket, so closing it completes something */
};
#define OP_MASK 15ULL

enum uc_conn_state {
    C_READ_HEAD, /* waiting for (the rest of) a request head: recv armed */
    C_READ_BODY, /* a report's body (POST) is arriving: recv armed */
    C_OPENING,   /* the file is being opened through the ring */
    C_READING,   /* a small body is being read into the output buffer */
    C_SENDING,   /* segments going out (transmit.c): ring send, sendfile or splice */
    C_LINGER,    /* response sent, write side shut: discarding input until EOF or timeout */
    C_CLOSING,   /* shut down; freed when the last operation in flight completes */
};

/* A response is a list of segments: bytes of the output buffer, or a file range. */
struct uc_seg {
    bool file;
    uint64_t off, len; /* into out (memory) or the file */
};

#define UC_SEG_MAX (2 * 64 + 4)
#define UC_OUT_CAP (64 * 1024 + 16 * 1024) /* small bodies (<= 64 KiB) go out in one send */

/*
 * One request in progress. A connection holds one only from the first byte of a head
 * to the end of its response (and while pipelined bytes wait): an idle keep-alive
 * connection costs its small struct uc_conn and nothing else.
 */
struct uc_xfer {
    struct uc_http_req req;
    int64_t req_start_ns;
    int64_t req_wall_s;
    size_t out_len;
    struct uc_seg segs[UC_SEG_MAX];
    unsigned nseg, seg_i;
    uint64_t seg_done;             /* bytes of segs[seg_i] already on the socket */
    bool direct;                   /* the plan has file ranges: sent from the loop (transmit.c) */
    uint64_t warm_start, warm_end; /* file bytes last found in the page cache */
    unsigned reads_left;
    uint64_t read_expect, read_got; /* small body: bytes asked for and received */
    struct uc_file_rec rec;         /* copied out of the index: LMDB memory is never held */
    struct uc_hot_entry *hot;       /* pinned while this request copies from it, else NULL */
    struct uc_fd_entry *fde;        /* the open-file cache's entry file_fd is borrowed from */
    size_t ix_snapshot;             /* index transaction id the record was read in */
    bool fill_hot;                  /* a whole small file is being read: cache it when done */
    size_t fill_off;                /* where in out its bytes land */
    char name[96];                  /* file to open, relative to Content/ (read at submission) */
    struct open_how how;            /* for SelfUpdate's openat2 (read at submission) */
    struct uc_route route;
    bool cold;                             /* the record is known, the bytes not here: a fill */
    struct uc_fill *fill;                  /* joined (fill.h), or NULL */
    bool fill_waiting;                     /* on the worker's list of fill waiters */
    bool started;                          /* the head went out: a failure can only close */
    struct uc_conn *wait_prev, *wait_next; /* the worker's fill waiters */
    int status;
    uint64_t body_len;
    bool keep;          /* keep-alive after this response */
    bool head_only;     /* HEAD: headers only */
    uint32_t body_need; /* POST: body bytes after the head, consumed with it */
    _Static_assert(UC_MAX_BODY_LIMIT + (1ULL << 20) < UINT32_MAX, "body_need is 32-bit");
    char out[UC_OUT_CAP];
};

/*
 * Timer queues: every connection not closing is in exactly one, appended when it
 * enters it. A queue's timeout is the same for all its members, so each queue is in
 * expiry order and the tick looks only at the heads.
 */
enum uc_tq {
    TQ_FRESH,  /* accepted, not a byte yet, nothing answered: header_timeout (SPEC §3) */
    TQ_IDLE,   /* keep-alive, no bytes of a next request: keepalive_timeout */
    TQ_HEAD,   /* part of a head received: header_timeout from its first byte */
    TQ_BUSY,   /* opening, reading, sending: no progress for keepalive_timeout */
    TQ_LINGER, /* discarding input after the last response */
    TQ_COUNT,
    TQ_NONE = TQ_COUNT,
};

struct uc_conn {
    struct uc_worker *w;
    struct uc_conn *prev, *next; /* the timer queue */
    int64_t tq_since_ns;         /* when it entered the queue (or last made progress) */
    int fd;
    unsigned inflight;          /* SQEs submitted and not yet completed, and a queued yield */
    struct uc_conn *yield_next; /* the worker's yield queue (uc_conn_yield) */
    enum uc_conn_state state;
    uint8_t tq;
    bool recv_armed;  /* a receive is in flight (multishot: until its last CQE) */
    bool recv_cancel; /* its cancellation was asked for (input backpressure) */
    bool recv_in;     /* it is a single-shot recv writing into in: in must not move */
    bool in_pooled;   /* in came from the worker's pool and goes back to it */
    bool rd_eof;      /* the client half-closed: answer what came, then close */
    bool answered;    /* a response was completed: silence from now on is keep-alive */
    bool hup_armed;   /* an OP_HUP poll is in flight */
    char client[46];  /* INET6_ADDRSTRLEN */

    char *in; /* request head bytes, then whatever was pipelined after them; lazy */
    uint32_t in_len, in_cap;
    uint64_t lingered;     /* bytes discarded while lingering */
    int64_t head_start_ns; /* first byte of the head being read, 0 between requests */

    int file_fd;
    int pipe_r, pipe_w;
    uint64_t pipe_fill, pipe_cap;
    struct uc_xfer *x; /* the request in progress, or NULL */
};

/* A completion copied out of the CQ ring: the ring can be emptied before it is handled
 * (worker.c, uc_sqe() under a full completion queue). */
struct uc_cqe {
    uint64_t user_data;
    int32_t res;
    uint32_t flags;
};

/* What the worker applies now; replaced as a whole on SIGHUP (daemon.h). */
#define W_CFG(w) (&(w)->set->cfg)

struct uc_worker {
    struct uc_daemon *d;
    unsigned id;
    struct io_uring ring;
    bool ring_disabled; /* created with R_DISABLED: the worker thread enables it */
    int lfd, port;
    unsigned accepts_armed; /* multishot accepts in flight (two across a listener swap) */
    int efd;
    uint64_t efd_val;
    struct __kernel_timespec tick_ts;
    const struct uc_settings *set; /* taken from the daemon at each generation change */
    _Atomic unsigned set_gen;      /* the generation of set: the signal thread reads it */
    _Atomic int new_lfd;           /* a listener handed over by a reload, or -1 */
    MDB_txn *txn;                  /* reset read transaction, renewed per lookup */
    struct uc_accesslog log;
    int log_gen;
    uint64_t log_dropped_seen;   /* log.dropped already added to the metrics */
    bool log_failing;            /* the last flush lost lines: said once on stderr */
    struct uc_hotcache hot;      /* this worker's share of [server] hot_cache */
    struct uc_fdcache fdc;       /* content files kept open across requests */
    struct uc_access_batch *acc; /* files served since the last hand-over (access.h) */
    struct uc_metrics *m;        /* this worker's shard of the counters */
    long nconns;
    struct uc_conn *tq_head[TQ_COUNT], *tq_tail[TQ_COUNT];
    struct uc_cqe *cq_q; /* completions taken from the ring, handled in order */
    unsigned cq_n, cq_pos, cq_cap;
    /* Connections that used their turn, resumed after the next reap (uc_conn_yield). */
    struct uc_conn *yield_head, *yield_tail;
    unsigned nyield;
    struct uc_conn *fill_waiters; /* connections waiting for fill blocks (transmit.c) */
    struct uc_freelist xfers;     /* request states, reused before malloc */
    struct uc_freelist ins;       /* first-size input buffers, likewise */
    int64_t pool_trim_ns;         /* when the pools are next cut to the recent peak */
    /* Provided buffer ring for multishot receive (NULL: single-shot fallback). */
    struct io_uring_buf_ring *br;
    char *br_bufs;
    unsigned br_added; /* buffers given back since the last advance */
    bool multishot;
    char *scratch;  /* single-shot fallback: where lingering input is discarded */
    int64_t now_ns; /* CLOCK_MONOTONIC, for timeouts and durations */
    int64_t wall_s; /* wall clock, for Date and the access log */
    int64_t next_timer_ns;
    int64_t stop_deadline_ns;
};

#define UC_BGID 0          /* the one provided buffer group of each ring */
#define UC_BR_ENTRIES 1024 /* power of two */
#define UC_BR_BUF 2048     /* a request head larger than this spans buffers */

/* worker.c */
struct io_uring_sqe *uc_sqe(struct uc_worker *w);
void uc_conn_submit(struct uc_conn *c, struct io_uring_sqe *sqe, enum uc_op op);
/* An OP_POLL_OUT completion for c after those of the next reap, without the ring. */
void uc_conn_yield(struct uc_conn *c);
int64_t uc_now_ns(void);

/* conn.c */
void uc_conn_accepted(struct uc_worker *w, int fd);
void uc_conn_on_recv(struct uc_conn *c, const struct uc_cqe *cqe);
void uc_conn_close(struct uc_conn *c);
/* Done with the response's file: unpin the open-file cache's entry, or close our own. */
void uc_conn_drop_file(struct uc_conn *c);
void uc_conn_free(struct uc_conn *c);
void uc_conn_linger(struct uc_conn *c);
void uc_conn_next_request(struct uc_conn *c);
/* Wait for the rest of a POST body (x->body_need bytes after the head). */
void uc_conn_want_body(struct uc_conn *c);
/* Re-stamp a busy connection: it made progress. */
void uc_conn_progress(struct uc_conn *c);
/* Close or answer what has timed out at the heads of the timer queues. */
void uc_conn_timers(struct uc_worker *w);
void uc_conn_close_idle(struct uc_worker *w);
/* Register the provided buffer ring (worker thread); false: single-shot fallback. */
bool uc_conn_setup_multishot(struct uc_worker *w);
/* Hand the buffers given back since the last call to the kernel. */
void uc_conn_buffers_advance(struct uc_worker *w);
/* The worker's pools of request states and input buffers, empty. */
void uc_worker_pool_init(struct uc_worker *w);
/* Cut those pools to what the last few seconds needed. */
void uc_conn_pool_trim(struct uc_worker *w);
void uc_worker_pool_free(struct uc_worker *w);

/* respond.c: the planner (route -> index -> open -> preconditions -> ranges -> plan) */
void uc_respond_request(struct uc_conn *c);
void uc_respond_error(struct uc_conn *c, int status, const char *detail, bool then_close);
void uc_respond_on_open(struct uc_conn *c, int res);
void uc_respond_on_read(struct uc_conn *c, int res);
/* transmit.c sent the whole plan: log, count, then keep-alive or close. */
void uc_respond_done(struct uc_conn *c);
/* The whole POST body is buffered: answer it. */
void uc_respond_body_ready(struct uc_conn *c);

#endif
