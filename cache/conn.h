/*
 * Daemon internals shared by worker.c (the ring loop, accept, receive, timeouts) and
 * respond.c (turning a parsed request into a response plan and sending it).
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
    OP_SPLICE_OUT,
    OP_WAKE,
    OP_TICK,
    OP_CANCEL,
};
#define OP_MASK 15ULL

enum uc_conn_state {
    C_READ_HEAD, /* waiting for (the rest of) a request head: recv armed */
    C_OPENING,   /* the file is being opened through the ring */
    C_READING,   /* a small body is being read into the output buffer */
    C_SENDING,   /* segments going out: send for memory, splice for file ranges */
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

struct uc_conn {
    struct uc_worker *w;
    struct uc_conn *prev, *next; /* the worker's connections */
    int fd;
    unsigned inflight; /* SQEs submitted and not yet completed */
    enum uc_conn_state state;
    char client[48];

    char *in; /* request head bytes, then whatever was pipelined after them */
    uint32_t in_len, in_cap;
    uint64_t lingered; /* bytes discarded while lingering */
    struct uc_http_req req;
    int64_t head_start_ns; /* first byte of the head being read, 0 between requests */
    int64_t req_start_ns;
    int64_t req_wall_s;
    struct __kernel_timespec ts; /* read by the kernel at submission */

    char *out;
    size_t out_len;
    struct uc_seg segs[UC_SEG_MAX];
    unsigned nseg, seg_i;
    uint64_t seg_done; /* bytes of segs[seg_i] already on the socket */
    unsigned reads_left;
    uint64_t read_expect, read_got; /* small body: bytes asked for and received */
    int file_fd;
    int pipe_r, pipe_w;
    uint64_t pipe_fill, pipe_cap;

    struct uc_file_rec rec;   /* copied out of the index: LMDB memory is never held */
    struct uc_hot_entry *hot; /* pinned while this request copies from it, else NULL */
    bool fill_hot;            /* a whole small file is being read: cache it when done */
    size_t fill_off;          /* where in out its bytes land */
    char name[96];            /* file to open, relative to Content/ (read at submission) */
    struct open_how how;      /* for SelfUpdate's openat2 (read at submission) */
    struct uc_route route;
    int status;
    uint64_t body_len;
    bool keep;      /* keep-alive after this response */
    bool head_only; /* HEAD: headers only */
};

struct uc_worker {
    struct uc_daemon *d;
    unsigned id;
    struct io_uring ring;
    bool ring_disabled; /* created with R_DISABLED: the worker thread enables it */
    int lfd, port;
    bool accepting;
    int efd;
    uint64_t efd_val;
    struct __kernel_timespec tick_ts;
    MDB_txn *txn; /* reset read transaction, renewed per lookup */
    struct uc_accesslog log;
    int log_gen;
    struct uc_hotcache hot; /* this worker's share of [server] hot_cache */
    long nconns;
    struct uc_conn *conns; /* list head, for closing idle ones at stop */
    int64_t now_ns;        /* CLOCK_MONOTONIC, for timeouts and durations */
    int64_t wall_s;        /* wall clock, for Date and the access log */
    int64_t stop_deadline_ns;
};

/* worker.c */
struct io_uring_sqe *uc_sqe(struct uc_worker *w);
void uc_conn_submit(struct uc_conn *c, struct io_uring_sqe *sqe, enum uc_op op);
void uc_conn_close(struct uc_conn *c);
void uc_conn_linger(struct uc_conn *c);
void uc_conn_arm_recv(struct uc_conn *c);
void uc_conn_next_request(struct uc_conn *c);
int64_t uc_now_ns(void);

/* respond.c */
void uc_respond_request(struct uc_conn *c);
void uc_respond_error(struct uc_conn *c, int status, const char *detail, bool then_close);
void uc_respond_on_open(struct uc_conn *c, int res);
void uc_respond_on_read(struct uc_conn *c, int res);
void uc_respond_on_send(struct uc_conn *c, enum uc_op op, int res);

#endif
