/*
 * One client connection of a worker and the worker that drives it.
 *
 * States (every change goes through conn.c's set_state):
 *   CLOSED      no socket (before start, after stop)
 *   CONNECTING  non-blocking connect in progress, waiting for EPOLLOUT
 *   OPEN        connected; up to `pipeline` requests in flight, responses read in order
 *   RETRY       a connect failed; reopen at retry_ns (so a dead server is not spun on)
 *
 * Reading an OPEN connection alternates two phases per response: HEAD (bytes go into
 * rbuf until the parser finds the blank line) and BODY (body_left bytes are taken from
 * what rbuf already holds, then discarded in the kernel with MSG_TRUNC, or read into
 * the worker's scratch buffer and hashed with --verify-body). Any error closes the
 * socket, drops the requests in flight and reconnects.
 */
#ifndef UC_LG_CONN_H
#define UC_LG_CONN_H

#include "loadgen.h"
#include "resp.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UC_LG_RBUF 16384 /* response head limit, and the first read of every response */
#define UC_LG_SCRATCH (256 * 1024)

enum uc_conn_state {
    UC_CONN_CLOSED,
    UC_CONN_CONNECTING,
    UC_CONN_OPEN,
    UC_CONN_RETRY,
};

struct uc_pending {
    struct uc_expect e;
    int64_t sent_ns;
    bool budgeted; /* took one unit of the -n budget: give it back if dropped */
};

struct uc_conn {
    int fd;
    enum uc_conn_state state;
    int64_t since_ns; /* connect start, for the connect timeout */
    int64_t retry_ns;
    bool want_out;   /* EPOLLOUT registered */
    bool peer_close; /* last response said Connection: close: send nothing more */
    bool followup;   /* head-get: next request is the GET of followup_url */
    uint32_t followup_url;

    char *rbuf;
    size_t rstart, rend; /* unconsumed bytes are rbuf[rstart..rend) */
    int status;          /* of the response being read, 0 until its head is parsed */
    bool in_body;
    bool hashing;
    uint64_t body_left;
    uint64_t body_len;
    EVP_MD_CTX *md; /* --verify-body only */

    struct uc_pending *q; /* ring of requests in flight, oldest at qhead */
    unsigned qhead, qlen;

    char *wbuf; /* rendered requests not yet written */
    size_t woff, wlen;
};

struct uc_worker {
    struct uc_lg_run *run;
    const struct uc_lg_config *cfg;
    unsigned id;
    int epfd;
    struct uc_conn *conns;
    unsigned nconns;
    uint64_t rng;
    int64_t now; /* sampled once per event batch */
    char *scratch;
    /* --rate: tokens accrue at rate_per_s from rate_t0; rate_sent were spent */
    double rate_per_s;
    int64_t rate_t0;
    uint64_t rate_sent;
    bool rate_starved; /* some connection could not send for lack of tokens */
    bool budget_out;   /* -n budget was exhausted when last asked */
    struct uc_lg_stats st;
    pthread_t thread;
    int fatal;          /* setup failure (-errno), reported by main */
    unsigned described; /* failures told on stderr */
};

/* Allocate a connection's buffers. 0 or -ENOMEM. */
int uc_conn_init(struct uc_worker *w, struct uc_conn *c);
void uc_conn_free(struct uc_conn *c);
/* Start a non-blocking connect. Failures are counted and retried, never fatal. */
void uc_conn_open(struct uc_worker *w, struct uc_conn *c);
/* Handle epoll events for c. */
void uc_conn_on_event(struct uc_worker *w, struct uc_conn *c, uint32_t events);
/* Timeouts and delayed reconnects; called every few ms. */
void uc_conn_tick(struct uc_worker *w, struct uc_conn *c);
/* Queue and write as many requests as pipeline, rate and budget allow. */
void uc_conn_fill(struct uc_worker *w, struct uc_conn *c);
/* Close without counting anything (end of run). */
void uc_conn_close(struct uc_worker *w, struct uc_conn *c);

/* Worker thread body: connect, run the event loop until the run stops, close. */
void *uc_worker_main(void *arg);

static inline uint64_t uc_rand(uint64_t *s)
{
    /* xorshift64*: fast, and a fixed seed gives a reproducible request sequence. */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

#endif
