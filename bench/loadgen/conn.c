/*
 * Connection state machine: connect, write pipelined requests, parse each response
 * head, then skip or hash its body. See conn.h for the states and read phases.
 */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* Wait before reconnecting after a failed connect, so a dead server is not spun on. */
#define RETRY_DELAY_NS 10000000
/* Reads per readiness event, so one busy connection cannot starve the others. */
#define READS_PER_EVENT 64

static void set_state(struct uc_conn *c, enum uc_conn_state s)
{
    c->state = s;
}

static bool measuring(const struct uc_worker *w)
{
    return w->now >= w->run->measure_ns;
}

int uc_conn_init(struct uc_worker *w, struct uc_conn *c)
{
    const struct uc_lg_config *cfg = w->cfg;
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->rbuf = malloc(UC_LG_RBUF);
    c->q = calloc(cfg->pipeline, sizeof(*c->q));
    c->wbuf = malloc(cfg->pipeline * cfg->max_request);
    if (cfg->verify_body)
        c->md = EVP_MD_CTX_new();
    if (!c->rbuf || !c->q || !c->wbuf || (cfg->verify_body && !c->md))
        return -ENOMEM;
    return 0;
}

void uc_conn_free(struct uc_conn *c)
{
    free(c->rbuf);
    free(c->q);
    free(c->wbuf);
    EVP_MD_CTX_free(c->md);
}

static void watch(struct uc_worker *w, struct uc_conn *c, int op, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    c->want_out = out;
    (void)epoll_ctl(w->epfd, op, c->fd, &ev);
}

/* Drop what is in flight; requests that took -n budget give it back. */
static void drop_pending(struct uc_worker *w, struct uc_conn *c)
{
    unsigned back = 0;
    for (unsigned i = 0; i < c->qlen; i++)
        back += c->q[(c->qhead + i) % w->cfg->pipeline].budgeted;
    if (back)
        atomic_fetch_sub(&w->run->issued, back);
    if (back && w->budget_out)
        w->budget_out = false;
    c->qhead = c->qlen = 0;
}

void uc_conn_close(struct uc_worker *w, struct uc_conn *c)
{
    if (c->fd >= 0)
        close(c->fd); /* also removes it from the epoll set */
    c->fd = -1;
    drop_pending(w, c);
    c->rstart = c->rend = 0;
    c->woff = c->wlen = 0;
    c->in_body = false;
    c->status = 0;
    c->peer_close = false;
    set_state(c, UC_CONN_CLOSED);
}

/* Close and open again: after an error, or when the server ended the connection. */
static void reconnect(struct uc_worker *w, struct uc_conn *c, bool delay)
{
    uc_conn_close(w, c);
    if (atomic_load_explicit(&w->run->stop, memory_order_relaxed))
        return;
    if (measuring(w))
        w->st.reconnects++;
    if (delay) {
        c->retry_ns = w->now + RETRY_DELAY_NS;
        set_state(c, UC_CONN_RETRY);
        return;
    }
    uc_conn_open(w, c);
}

/*
 * One response (good or bad) of c finished after warmup. With -n, returns false once
 * the budget of responses is used up, so exactly N are counted; the N-th stops the run.
 * Its status is counted here too, so the by-status table adds up with the totals.
 */
static bool account_response(struct uc_worker *w, struct uc_conn *c)
{
    int status = c->status;
    c->status = 0;
    if (!measuring(w))
        return false;
    uint64_t n = w->cfg->requests;
    if (n) {
        uint64_t k = atomic_fetch_add(&w->run->completed, 1) + 1;
        if (k == n)
            atomic_store(&w->run->stopped_ns, (long long)w->now);
        if (k >= n)
            atomic_store(&w->run->stop, true);
        if (k > n)
            return false;
    }
    if (status > 0 && status < UC_LG_STATUS_MAX)
        w->st.status[status]++;
    return true;
}

/* Say what failed and when, so that a rare failure in a long run can be matched with
 * what the server did then; the first few per worker, to keep a log bounded. */
static void describe(struct uc_worker *w, const struct uc_conn *c, enum uc_errkind kind, int status)
{
    enum { DESCRIBED_MAX = 20 };
    if (w->described++ >= DESCRIBED_MAX)
        return;
    const struct uc_pending *p = &c->q[c->qhead];
    const char *m = p->e.method == UC_M_HEAD ? "HEAD" : "GET";
    char range[64] = "";
    if (p->e.method == UC_M_RANGE)
        snprintf(range, sizeof(range), " bytes=%llu-%llu", (unsigned long long)p->e.first,
                 (unsigned long long)p->e.last);
    char got[64] = "no head read";
    if (status && c->in_body)
        snprintf(got, sizeof(got), "status %d, %llu of %llu body bytes read", status,
                 (unsigned long long)(c->body_len - c->body_left), (unsigned long long)c->body_len);
    else if (status)
        snprintf(got, sizeof(got), "status %d", status);
    fprintf(stderr, "updcache-bench: %s at %.3f s: %s %s%s sent %.3f s before, %s\n",
            uc_errkind_name[kind], (double)(w->now - w->run->start_ns) / 1e9, m,
            w->cfg->urls[p->e.url].path, range, (double)(w->now - p->sent_ns) / 1e9, got);
}

static void fail(struct uc_worker *w, struct uc_conn *c, enum uc_errkind kind)
{
    bool has_request = kind != UC_ERR_CONNECT && c->qlen > 0;
    if (has_request) {
        /* The failed request completed (badly): its budget is spent, not returned. */
        c->q[c->qhead].budgeted = false;
        int status = c->status; /* account_response() resets it */
        if (account_response(w, c)) {
            w->st.errors[kind]++;
            describe(w, c, kind, status);
        }
    } else if (measuring(w)) {
        w->st.errors[kind]++;
    }
    reconnect(w, c, kind == UC_ERR_CONNECT);
}

void uc_conn_open(struct uc_worker *w, struct uc_conn *c)
{
    c->since_ns = w->now;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fail(w, c, UC_ERR_CONNECT);
        return;
    }
    int one = 1;
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = connect(c->fd, (const struct sockaddr *)&w->cfg->addr, sizeof(w->cfg->addr));
    if (rc < 0 && errno != EINPROGRESS) {
        fail(w, c, UC_ERR_CONNECT);
        return;
    }
    set_state(c, UC_CONN_CONNECTING);
    watch(w, c, EPOLL_CTL_ADD, true);
}

/* Take one request of -n budget (only counted after warmup). */
static bool take_budget(struct uc_worker *w, bool *budgeted)
{
    *budgeted = false;
    if (!w->cfg->requests || !measuring(w))
        return true;
    if (w->budget_out)
        return false;
    uint64_t k = atomic_fetch_add(&w->run->issued, 1);
    if (k >= w->cfg->requests) {
        atomic_fetch_sub(&w->run->issued, 1);
        w->budget_out = true;
        return false;
    }
    *budgeted = true;
    return true;
}

static bool take_token(struct uc_worker *w)
{
    if (w->rate_per_s <= 0)
        return true;
    double allowed = (double)(w->now - w->rate_t0) / 1e9 * w->rate_per_s + 1;
    if ((double)w->rate_sent >= allowed) {
        w->rate_starved = true;
        return false;
    }
    w->rate_sent++;
    return true;
}

static void flush(struct uc_worker *w, struct uc_conn *c)
{
    while (c->woff < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                if (!c->want_out)
                    watch(w, c, EPOLL_CTL_MOD, true);
                return;
            }
            fail(w, c, UC_ERR_READ);
            return;
        }
        c->woff += (size_t)n;
    }
    c->woff = c->wlen = 0;
    if (c->want_out)
        watch(w, c, EPOLL_CTL_MOD, false);
}

void uc_conn_fill(struct uc_worker *w, struct uc_conn *c)
{
    const struct uc_lg_config *cfg = w->cfg;
    if (c->state != UC_CONN_OPEN || c->peer_close ||
        atomic_load_explicit(&w->run->stop, memory_order_relaxed))
        return;
    if (c->woff > 0) {
        memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
        c->wlen -= c->woff;
        c->woff = 0;
    }
    bool queued = false;
    while (c->qlen < cfg->pipeline) {
        bool budgeted;
        if (!take_budget(w, &budgeted))
            break;
        if (!take_token(w)) {
            if (budgeted)
                atomic_fetch_sub(&w->run->issued, 1);
            break;
        }
        uint32_t ui;
        enum uc_kind kind;
        if (c->followup) {
            ui = c->followup_url;
            kind = UC_KIND_GET;
            c->followup = false;
        } else {
            ui = cfg->nurls == 1 ? 0 : (uint32_t)(uc_rand(&w->rng) % cfg->nurls);
            kind = cfg->mix.total == cfg->mix.weight[UC_KIND_GET]
                       ? UC_KIND_GET
                       : uc_mix_pick(&cfg->mix, uc_rand(&w->rng));
        }
        struct uc_pending *p = &c->q[(c->qhead + c->qlen) % cfg->pipeline];
        uint64_t rnd = kind >= UC_KIND_RANGE1M ? uc_rand(&w->rng) : 0;
        c->wlen += uc_mix_request(&cfg->urls[ui], ui, kind, rnd, cfg->verify_body, &p->e,
                                  c->wbuf + c->wlen);
        p->sent_ns = w->now;
        p->budgeted = budgeted;
        c->qlen++;
        queued = true;
        /* head-get: the GET waits for the HEAD's answer, as a real client would. */
        if (p->e.then_get)
            break;
    }
    if (queued && !c->want_out)
        flush(w, c);
}

/* The head at rbuf[rstart..] is complete: check it and enter the body phase. */
static bool on_head(struct uc_worker *w, struct uc_conn *c, const struct uc_resp *r)
{
    struct uc_pending *p = &c->q[c->qhead];
    const struct uc_url *u = &w->cfg->urls[p->e.url];
    c->status = r->status;
    uint64_t body = 0;
    int err = uc_mix_check(&p->e, u, r, &body);
    if (err != UC_ERR_NONE) {
        fail(w, c, (enum uc_errkind)err);
        return false;
    }
    c->rstart += r->head_len;
    c->in_body = true;
    c->body_left = c->body_len = body;
    c->peer_close = c->peer_close || r->conn_close;
    c->hashing = p->e.verify;
    if (c->hashing)
        EVP_DigestInit_ex(c->md, EVP_sha256(), NULL);
    return true;
}

/* The body is complete: verify, count, and maybe continue a head-get. */
static bool on_complete(struct uc_worker *w, struct uc_conn *c)
{
    struct uc_pending *p = &c->q[c->qhead];
    const struct uc_url *u = &w->cfg->urls[p->e.url];
    if (c->hashing) {
        uint8_t md[32];
        unsigned mdlen = 0;
        EVP_DigestFinal_ex(c->md, md, &mdlen);
        if (mdlen != 32 || memcmp(md, u->sha256, 32) != 0) {
            fail(w, c, UC_ERR_DIGEST);
            return false;
        }
    }
    c->in_body = false;
    if (account_response(w, c)) {
        w->st.requests++;
        w->st.bytes += c->body_len;
        if (c->hashing)
            w->st.bytes_verified += c->body_len;
        int64_t us = (w->now - p->sent_ns) / 1000;
        uc_hist_record(&w->st.hist, us > 0 ? (uint64_t)us : 0);
    }
    if (p->e.then_get) {
        c->followup = true;
        c->followup_url = p->e.url;
    }
    c->qhead = (c->qhead + 1) % w->cfg->pipeline;
    c->qlen--;
    if (c->peer_close) {
        /* The server ends the connection here; anything pipelined behind is lost. */
        reconnect(w, c, false);
        return false;
    }
    return true;
}

/* Consume buffered bytes: heads and bodies. false if the connection was reset. */
static bool process_buffer(struct uc_worker *w, struct uc_conn *c, bool *need_read)
{
    for (;;) {
        size_t avail = c->rend - c->rstart;
        if (!c->in_body) {
            if (c->qlen == 0) {
                if (avail) {
                    /* Bytes nobody asked for: the framing is off. */
                    fail(w, c, UC_ERR_PARSE);
                    return false;
                }
                *need_read = false;
                return true;
            }
            if (!avail) {
                *need_read = true;
                return true;
            }
            struct uc_resp r;
            int rc = uc_resp_parse(c->rbuf + c->rstart, avail, UC_LG_RBUF, &r);
            if (rc == UC_RESP_AGAIN) {
                *need_read = true;
                return true;
            }
            if (rc != UC_RESP_OK) {
                fail(w, c, UC_ERR_PARSE);
                return false;
            }
            if (!on_head(w, c, &r))
                return false;
            continue;
        }
        size_t take = avail < c->body_left ? avail : (size_t)c->body_left;
        if (c->hashing && take)
            EVP_DigestUpdate(c->md, c->rbuf + c->rstart, take);
        c->rstart += take;
        c->body_left -= take;
        if (c->body_left) {
            *need_read = true;
            return true;
        }
        if (!on_complete(w, c))
            return false;
    }
}

/* EOF from the server: an error if a response was due or under way. */
static void on_eof(struct uc_worker *w, struct uc_conn *c)
{
    if (c->in_body)
        fail(w, c, UC_ERR_SHORT_BODY);
    else if (c->qlen > 0)
        fail(w, c, UC_ERR_READ);
    else
        reconnect(w, c, false);
}

/*
 * Read and process until the socket is drained or the per-event read budget is spent.
 * Returns false if the connection was closed or reset on the way.
 */
static bool read_some(struct uc_worker *w, struct uc_conn *c)
{
    for (int i = 0; i < READS_PER_EVENT; i++) {
        bool need_read;
        if (!process_buffer(w, c, &need_read))
            return false;
        ssize_t n;
        size_t want;
        if (c->in_body && !c->hashing) {
            /*
             * Discard in the kernel: no copy of body bytes at all. Linux TCP honours
             * MSG_TRUNC and never touches the buffer, so it is NULL; TSan's recv
             * interceptor does not know that and reports a race on address 0.
             */
            want = c->body_left > (1u << 30) ? (1u << 30) : (size_t)c->body_left;
            n = recv(c->fd, NULL, want, MSG_TRUNC | MSG_DONTWAIT);
            if (n > 0) {
                c->body_left -= (uint64_t)n;
                if (!c->body_left && !on_complete(w, c))
                    return false;
            }
        } else if (c->in_body) {
            want = c->body_left > UC_LG_SCRATCH ? UC_LG_SCRATCH : (size_t)c->body_left;
            n = recv(c->fd, w->scratch, want, MSG_DONTWAIT);
            if (n > 0) {
                EVP_DigestUpdate(c->md, w->scratch, (size_t)n);
                c->body_left -= (uint64_t)n;
                if (!c->body_left && !on_complete(w, c))
                    return false;
            }
        } else {
            if (c->rstart > 0) {
                memmove(c->rbuf, c->rbuf + c->rstart, c->rend - c->rstart);
                c->rend -= c->rstart;
                c->rstart = 0;
            }
            want = UC_LG_RBUF - c->rend;
            if (want == 0) {
                fail(w, c, UC_ERR_PARSE); /* head larger than the buffer */
                return false;
            }
            n = recv(c->fd, c->rbuf + c->rend, want, MSG_DONTWAIT);
            if (n > 0)
                c->rend += (size_t)n;
        }
        if (n == 0) {
            on_eof(w, c);
            return false;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return true;
            fail(w, c, UC_ERR_READ);
            return false;
        }
        /*
         * A short read means the socket is drained for now: process what came and
         * wait for the next readiness event instead of paying for a recv that
         * returns EAGAIN.
         */
        if ((size_t)n < want)
            return process_buffer(w, c, &need_read);
    }
    return true;
}

static void on_readable(struct uc_worker *w, struct uc_conn *c)
{
    /* Refill once per event, after all responses it brought: one send for the batch. */
    if (read_some(w, c) && c->state == UC_CONN_OPEN)
        uc_conn_fill(w, c);
}

static void on_connected(struct uc_worker *w, struct uc_conn *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
        fail(w, c, UC_ERR_CONNECT);
        return;
    }
    set_state(c, UC_CONN_OPEN);
    watch(w, c, EPOLL_CTL_MOD, false);
    uc_conn_fill(w, c);
}

void uc_conn_on_event(struct uc_worker *w, struct uc_conn *c, uint32_t events)
{
    if (c->state == UC_CONN_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            on_connected(w, c);
        return;
    }
    if (c->state != UC_CONN_OPEN)
        return;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(w, c);
    if (c->state == UC_CONN_OPEN && (events & EPOLLOUT) && c->want_out)
        flush(w, c);
}

void uc_conn_tick(struct uc_worker *w, struct uc_conn *c)
{
    int64_t timeout = (int64_t)(w->cfg->timeout_s * 1e9);
    switch (c->state) {
    case UC_CONN_CONNECTING:
        if (w->now - c->since_ns > timeout)
            fail(w, c, UC_ERR_CONNECT);
        break;
    case UC_CONN_OPEN:
        if (c->qlen && w->now - c->q[c->qhead].sent_ns > timeout)
            fail(w, c, UC_ERR_TIMEOUT);
        else if (c->qlen < w->cfg->pipeline && !c->peer_close)
            uc_conn_fill(w, c); /* picks up budget or tokens that came back */
        break;
    case UC_CONN_RETRY:
        if (w->now >= c->retry_ns)
            uc_conn_open(w, c);
        break;
    case UC_CONN_CLOSED:
        break;
    }
}
