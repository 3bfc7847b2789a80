/*
 * From a parsed request head to bytes on the socket. The decisions are the pure
 * modules' (route, cond, range, http_resp); this file sequences them with the ring:
 *
 *   route -> index lookup (reset/renewed read txn, record copied out)
 *         -> openat through the ring -> preconditions -> ranges -> plan
 *   plan  -> segments: small (head + body <= UC_OUT_CAP): the body read into the output
 *            buffer, one memory segment; large: the head, then file ranges (and part
 *            heads for multipart), for transmit.c to send
 */
#include "access.h"
#include "cond.h"
#include "conn.h"
#include "fill.h"
#include "http_resp.h"
#include "reports.h"
#include "route.h"
#include "strparse.h"
#include "transmit.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

static struct uc_resp_opts opts(const struct uc_conn *c)
{
    /* The method as far as it was parsed: a HEAD refused at any stage gets no body. */
    return (struct uc_resp_opts){!c->x->keep, c->x->req.version == 10, c->w->wall_s, NULL,
                                 c->x->req.method == UC_M_HEAD};
}

static bool serve_hot(struct uc_conn *c);
static bool serve_open(struct uc_conn *c);
static void serve_cold(struct uc_conn *c);

/* Send the whole response already formatted in out (len bytes; body_len for the log). */
static void send_out(struct uc_conn *c, int status, size_t len, uint64_t body_len)
{
    c->x->status = status;
    c->x->out_len = len;
    c->x->body_len = body_len;
    c->x->nseg = 1;
    c->x->segs[0] = (struct uc_seg){false, 0, len};
    uc_tx_start(c);
}

static void error_allow(struct uc_conn *c, int status, const char *detail, bool then_close,
                        const char *allow)
{
    if (then_close)
        c->x->keep = false;
    uc_conn_drop_file(c);
    struct uc_resp_opts o = opts(c);
    o.allow = allow;
    send_out(c, status, uc_resp_error(c->x->out, UC_OUT_CAP, status, detail, &o), 0);
}

void uc_respond_error(struct uc_conn *c, int status, const char *detail, bool then_close)
{
    error_allow(c, status, detail, then_close, NULL);
}

/* A JSON answer (the report endpoints speak JSON on both ports). */
static void respond_json(struct uc_conn *c, int status, json_t *j, bool then_close)
{
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!body) {
        uc_respond_error(c, 503, "out of memory", true);
        return;
    }
    if (then_close)
        c->x->keep = false;
    struct uc_resp_opts o = opts(c);
    size_t blen = strlen(body);
    size_t len = uc_resp_json(c->x->out, UC_OUT_CAP, status, body, blen, &o);
    free(body);
    send_out(c, status, len, blen);
}

static void json_error(struct uc_conn *c, int status, const char *code, const char *detail,
                       bool then_close)
{
    respond_json(c, status, json_pack("{s:s, s:s}", "error", code, "detail", detail), then_close);
}

/*
 * RFC 9110 §10.1.1: a client that sent Expect: 100-continue waits for this before its
 * body. Written directly, non-blocking: through the ring it could be overtaken by the
 * final response's send if it had to wait for socket space. A full socket buffer
 * (the client reads nothing) skips it; the client sends its body after its own
 * timeout. False when the connection has to close (a part of it went out).
 */
static bool send_continue(struct uc_conn *c)
{
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    ssize_t n = send(c->fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    return n == (ssize_t)sizeof(msg) - 1 || (n < 0 && (errno == EAGAIN || errno == EINTR));
}

/* POST /ReportingWebService/events, /Inventory/report: read the body, then answer. */
static void start_post(struct uc_conn *c)
{
    const struct uc_http_req *r = &c->x->req;
    uint64_t max = W_CFG(c->w)->max_body_bytes;
    if (r->chunked || r->content_length < 0) {
        json_error(c, 411, "length_required", "send the report with a Content-Length", true);
        return;
    }
    if ((uint64_t)r->content_length > max) {
        uc_metrics_inc(&c->w->m->reports_refused);
        char msg[128];
        snprintf(msg, sizeof(msg), "the report is %lld bytes; [server] max_body_bytes is %llu",
                 (long long)r->content_length, (unsigned long long)max);
        json_error(c, 413, "too_large", msg, true);
        return;
    }
    c->x->body_need = (uint32_t)r->content_length;
    if (c->in_len >= r->head_len + c->x->body_need) {
        uc_respond_body_ready(c);
        return;
    }
    if (r->expect_continue && r->version == 11 && c->in_len == r->head_len && !send_continue(c)) {
        uc_conn_close(c);
        return;
    }
    uc_conn_want_body(c);
}

void uc_respond_body_ready(struct uc_conn *c)
{
    struct uc_xfer *x = c->x;
    c->state = C_SENDING; /* not reading any more; start_sending follows */
    uc_conn_progress(c);
    char *rec, detail[200];
    size_t len;
    enum uc_report_kind kind =
        x->route.root == UC_ROOT_REPORTING ? UC_REPORT_EVENTS : UC_REPORT_INVENTORY;
    int st = uc_report_build(kind, c->client, false, c->in + x->req.head_len, x->body_need, &rec,
                             &len, detail, sizeof(detail));
    if (!st && !uc_reports_push(c->w->d->reports, rec, len)) {
        free(rec);
        st = 503;
        snprintf(detail, sizeof(detail), "too many reports waiting to be written; retry later");
    }
    if (st) {
        uc_metrics_inc(&c->w->m->reports_refused);
        json_error(c, st, st == 503 ? "busy" : "bad_request", detail, false);
        return;
    }
    uc_metrics_inc(&c->w->m->reports_accepted);
    respond_json(c, 202, json_pack("{s:b}", "accepted", 1), false);
}

/* The standard methods this server knows but does not allow here: 405, others 501. */
static bool known_method(const struct uc_http_req *r, const char *buf)
{
    static const char *known[] = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (r->method_span.len == strlen(known[i]) &&
            !memcmp(buf + r->method_span.off, known[i], r->method_span.len))
            return true;
    return false;
}

/* 403 naming the https:// URL; a body the client sent is not read: close after. */
static void forbidden(struct uc_conn *c, bool then_close)
{
    const struct uc_config *cfg = W_CFG(c->w);
    char detail[UC_ROUTE_PATH_MAX + 512], base[300];
    const char *root = uc_route_root_name(c->x->route.root);
    if (cfg->https_port && cfg->name) {
        uc_url_base(base, sizeof(base), true, cfg->name, cfg->https_port);
        snprintf(detail, sizeof(detail), "%s is served over TLS only: use %s%s", root, base,
                 c->x->route.path + 1);
    } else
        snprintf(detail, sizeof(detail),
                 "%s is served over TLS only, and TLS is not configured on this server: run "
                 "updcache configure-ssl",
                 root);
    uc_respond_error(c, 403, detail, then_close);
}

static int lookup(struct uc_worker *w, const uint8_t sha1[UC_SHA1_LEN], struct uc_file_rec *rec,
                  size_t *snapshot)
{
    if (mdb_txn_renew(w->txn))
        return UC_EINDEX;
    *snapshot = mdb_txn_id(w->txn); /* what the open-file cache is valid for */
    int rc = uc_index_get_file(w->d->store->ix, w->txn, sha1, rec);
    mdb_txn_reset(w->txn); /* never hold a snapshot across a ring wait */
    return rc;
}

static void open_file(struct uc_conn *c)
{
    struct uc_daemon *d = c->w->d;
    struct io_uring_sqe *sqe = uc_sqe(c->w);
    /* Both stay beneath their directory: no "..", and no symlink planted in the store
     * can point a request at a file outside it. */
    c->x->how =
        (struct open_how){.flags = O_RDONLY | O_CLOEXEC,
                          .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    if (c->x->route.root == UC_ROOT_SELFUPDATE) {
        io_uring_prep_openat2(sqe, d->selfupdate_fd, c->x->route.path + strlen("/SelfUpdate/"),
                              &c->x->how);
    } else {
        uc_store_content_name(c->x->rec.sha1, c->x->rec.suffix, c->x->name, sizeof(c->x->name));
        io_uring_prep_openat2(sqe, d->store->content_fd, c->x->name, &c->x->how);
    }
    c->state = C_OPENING;
    uc_conn_submit(c, sqe, OP_OPEN);
}

/* Known by a signed record, bytes not here: evicted, or purged (PENDING, from an upstream:
 * `updcache purge` leaves it so for sync to fetch again). SPEC §12, §13. */
static bool fillable(const struct uc_file_rec *rec)
{
    return rec->state == UC_FILE_EVICTED || (rec->state == UC_FILE_PENDING && rec->evictable);
}

/* SPEC §3: a /Content/ name is the stored file's, digest and extension (any case);
 * only the msdownload form resolves by SHA-1 alone. */
static bool name_matches(const struct uc_xfer *x)
{
    return x->route.root != UC_ROOT_CONTENT || !strcmp(x->route.suffix, x->rec.suffix);
}

void uc_respond_request(struct uc_conn *c)
{
    struct uc_http_req *r = &c->x->req;
    struct uc_daemon *d = c->w->d;
    c->x->req_start_ns = c->head_start_ns ? c->head_start_ns : c->w->now_ns;
    c->x->req_wall_s = c->w->wall_s;
    c->x->keep = !r->conn_close && !atomic_load(&d->stop) && !c->rd_eof;
    c->x->head_only = r->method == UC_M_HEAD;
    c->x->status = 0;
    bool body = r->content_length > 0 || r->chunked;
    enum uc_route_rc rr = uc_route_eval(c->in + r->target.off, r->target.len, false, &c->x->route);
    /* A TLS-only root is refused before anything else, whatever the method: the answer
     * names where the client should go (SPEC §2). */
    if (rr == UC_ROUTE_FORBIDDEN) {
        forbidden(c, body);
        return;
    }
    if (r->method == UC_M_POST && rr == UC_ROUTE_OK &&
        (c->x->route.root == UC_ROOT_REPORTING || c->x->route.root == UC_ROOT_INVENTORY)) {
        const char *sub = c->x->route.path + 1 + strlen(uc_route_root_name(c->x->route.root));
        const char *want = c->x->route.root == UC_ROOT_REPORTING ? "/events" : "/report";
        if (strcasecmp(sub, want) == 0) {
            start_post(c);
            return;
        }
        uc_respond_error(c, 404, NULL, body);
        return;
    }
    if (r->method != UC_M_GET && r->method != UC_M_HEAD) {
        c->x->route.root = UC_ROOT_NONE;
        if (known_method(r, c->in))
            uc_respond_error(c, 405, NULL, body);
        else
            uc_respond_error(c, 501, "method not implemented", true);
        return;
    }
    if (body) {
        c->x->route.root = UC_ROOT_NONE;
        uc_respond_error(c, 400, "a GET or HEAD request carries no body", true);
        return;
    }
    if (rr == UC_ROUTE_BAD) {
        fprintf(stderr, "updcached: %s: refused request target: %s\n", c->client, c->x->route.why);
        uc_respond_error(c, 400, c->x->route.why, true);
        return;
    }
    if (rr == UC_ROUTE_NOT_FOUND) {
        uc_respond_error(c, 404, NULL, false);
        return;
    }
    switch (c->x->route.root) {
    case UC_ROOT_CONTENT:
    case UC_ROOT_MSDOWNLOAD: {
        /* The index is asked every time, before the hot cache: a file quarantined by
         * verify --repair stops being served at once. */
        int rc = lookup(c->w, c->x->route.sha1, &c->x->rec, &c->x->ix_snapshot);
        bool present = rc == 0 && c->x->rec.state == UC_FILE_PRESENT && name_matches(c->x);
        if (rc == 0 && c->x->rec.state != UC_FILE_PRESENT)
            uc_fdc_forget(&c->w->fdc, c->x->route.sha1); /* quarantined, purged, evicted */
        if (present && !c->x->head_only && c->w->acc &&
            uc_access_note(c->w->acc, c->x->rec.sha1, c->w->wall_s))
            uc_access_hand_over(c->w->d->access, c->w->acc);
        if (present)
            uc_metrics_inc(&c->w->m->content_hits);
        if (present && (serve_hot(c) || serve_open(c)))
            return;
        if (present)
            open_file(c);
        else if (rc == 0 && fillable(&c->x->rec) && name_matches(c->x) && c->w->d->fills)
            serve_cold(c);
        else if (rc == 0 || rc == UC_ENOTFOUND)
            uc_respond_error(c, 404, NULL, false);
        else
            uc_respond_error(c, 503, "index unavailable", false);
        return;
    }
    case UC_ROOT_SELFUPDATE:
        open_file(c);
        return;
    default: /* Inventory and ReportingWebService take reports by POST */
        error_allow(c, 405, NULL, false, "POST");
        return;
    }
}

/* Append a memory piece to the plan (out must have room: checked by the caller). */
static void add_mem(struct uc_conn *c, const char *data, size_t len)
{
    if (c->x->nseg && !c->x->segs[c->x->nseg - 1].file &&
        c->x->segs[c->x->nseg - 1].off + c->x->segs[c->x->nseg - 1].len == c->x->out_len)
        c->x->segs[c->x->nseg - 1].len += len;
    else
        c->x->segs[c->x->nseg++] = (struct uc_seg){false, c->x->out_len, len};
    if (data)
        memcpy(c->x->out + c->x->out_len, data, len);
    c->x->out_len += len;
}

/* A file range: read into out now (small response) or left to transmit.c. */
static void add_file(struct uc_conn *c, uint64_t off, uint64_t len, bool small)
{
    if (len == 0)
        return;
    if (c->x->hot) { /* from the hot cache: a copy into the output buffer, no I/O */
        add_mem(c, (const char *)c->x->hot->data + off, len);
        return;
    }
    if (!small) {
        c->x->segs[c->x->nseg++] = (struct uc_seg){true, off, len};
        return;
    }
    struct io_uring_sqe *sqe = uc_sqe(c->w);
    io_uring_prep_read(sqe, c->file_fd, c->x->out + c->x->out_len, (unsigned)len, off);
    c->x->reads_left++;
    c->x->read_expect += len;
    uc_conn_submit(c, sqe, OP_READ);
    add_mem(c, NULL, len);
}

/*
 * A SelfUpdate file is replaced in place (wuident.cab), possibly keeping its size and,
 * with touch -d, its mtime; hashing its bytes on every request would cost a read of
 * the whole file on the event loop. Its ctime, though, changes with every write,
 * rename or touch and cannot be set back, and a replacement by rename is a new inode:
 * the strong ETag is a hash of inode, size, mtime and ctime (nanoseconds), cheap and
 * different whenever the bytes can have changed. Hashed, so inode numbers do not leak.
 */
static void selfupdate_etag(const struct stat *sb, char *etag, size_t cap)
{
    const uint64_t key[] = {(uint64_t)sb->st_dev,          (uint64_t)sb->st_ino,
                            (uint64_t)sb->st_size,         (uint64_t)sb->st_mtim.tv_sec,
                            (uint64_t)sb->st_mtim.tv_nsec, (uint64_t)sb->st_ctim.tv_sec,
                            (uint64_t)sb->st_ctim.tv_nsec};
    snprintf(etag, cap, "\"%016llx\"", (unsigned long long)XXH3_64bits(key, sizeof(key)));
}

static bool validators_for(struct uc_conn *c, struct uc_resp_file *f, char *etag, size_t cap)
{
    if (c->x->route.root == UC_ROOT_SELFUPDATE) {
        struct stat sb;
        if (fstat(c->file_fd, &sb) || !S_ISREG(sb.st_mode))
            return false;
        selfupdate_etag(&sb, etag, cap);
        *f = (struct uc_resp_file){(uint64_t)sb.st_size, sb.st_mtime, etag,
                                   strlen(etag),         NULL,        true};
        return true;
    }
    /* Strong ETag from the content hash: the bytes of an address never change. */
    etag[0] = '"';
    uc_hex_encode(c->x->rec.sha256, 16, etag + 1, false);
    etag[33] = '"';
    etag[34] = 0;
    *f = (struct uc_resp_file){c->x->rec.size, c->x->rec.ingest_time, etag, 34, c->x->rec.sha256,
                               false};
    return true;
}

static void plan(struct uc_conn *c, const struct uc_resp_file *f);

/*
 * The signed record is here, the bytes are not (SPEC §13): answer from the record; a
 * body comes from the fill, which plan() joins once it knows which bytes are wanted
 * (HEAD, 304 and 416 need none).
 */
static void serve_cold(struct uc_conn *c)
{
    c->x->cold = true;
    uc_store_content_name(c->x->rec.sha1, c->x->rec.suffix, c->x->name, sizeof(c->x->name));
    struct uc_resp_file f;
    char etag[80];
    validators_for(c, &f, etag, sizeof(etag));
    plan(c, &f);
}

/* Join the fill for a cold plan's file segments; false when it answered an error. */
static bool join_fill(struct uc_conn *c)
{
    struct uc_xfer *x = c->x;
    for (unsigned i = 0; i < x->nseg; i++) {
        if (!x->segs[i].file)
            continue;
        int status = 503;
        const char *why = "cannot fill";
        x->fill = uc_fill_join(c->w->d->fills, &x->rec, x->segs[i].off, &status, &why);
        if (x->fill)
            return true;
        fprintf(stderr, "updcached: %s: Content/%s: %s\n", c->client, x->name, why);
        uc_respond_error(c, status, why, false);
        return false;
    }
    return true;
}

/* A file the worker already holds open for this index snapshot: no openat, no close. */
static bool serve_open(struct uc_conn *c)
{
    struct uc_xfer *x = c->x;
    x->fde = uc_fdc_get(&c->w->fdc, x->rec.sha1, x->ix_snapshot, x->rec.size, x->rec.ingest_time);
    if (!x->fde)
        return false;
    c->file_fd = x->fde->fd;
    struct uc_resp_file f;
    char etag[80];
    validators_for(c, &f, etag, sizeof(etag));
    plan(c, &f);
    return true;
}

/* A hot small file answers without opening anything. */
static bool serve_hot(struct uc_conn *c)
{
    struct uc_hot_entry *e = uc_hot_get(&c->w->hot, c->x->rec.sha1);
    if (!e) {
        if (c->w->hot.budget && c->x->rec.size <= c->w->hot.max_file)
            uc_metrics_inc(&c->w->m->hot_misses);
        return false;
    }
    uc_metrics_inc(&c->w->m->hot_hits);
    if (e->len != c->x->rec.size) { /* cannot happen for content addressed by hash */
        uc_hot_release(&c->w->hot, e);
        return false;
    }
    c->x->hot = e;
    struct uc_resp_file f;
    char etag[80];
    validators_for(c, &f, etag, sizeof(etag));
    plan(c, &f);
    /* plan() copied what it needed into the output buffer. */
    if (c->x->hot) {
        uc_hot_release(&c->w->hot, c->x->hot);
        c->x->hot = NULL;
    }
    return true;
}

static void plan(struct uc_conn *c, const struct uc_resp_file *f)
{
    struct uc_validators v = {f->etag, f->etag_len, f->last_modified};
    struct uc_resp_opts o = opts(c);
    enum uc_cond_result cr = uc_cond_eval(&c->x->req, c->in, &v);
    if (cr == UC_COND_FAILED) {
        uc_respond_error(c, 412, NULL, false);
        return;
    }
    struct uc_range parts[256];
    uint32_t n = 0;
    enum uc_range_result rr = UC_RANGE_IGNORE;
    int ri = c->x->req.known[UC_H_RANGE];
    uint64_t max_ranges = W_CFG(c->w)->max_ranges;
    uint32_t max_parts = max_ranges < 64 ? (uint32_t)max_ranges : 64;
    if (cr == UC_COND_PROCEED && ri >= 0 && !c->x->req.dup_range &&
        uc_cond_if_range(&c->x->req, c->in, &v))
        rr = uc_range_eval(c->in + c->x->req.headers[ri].value.off, c->x->req.headers[ri].value.len,
                           f->size, max_parts ? max_parts : 1, parts, 256, &n);
    char boundary[UC_BOUNDARY_LEN + 1];
    bool multi = rr == UC_RANGE_OK && n > 1;
    c->x->status = cr == UC_COND_NOT_MODIFIED ? 304
                   : rr == UC_RANGE_UNSAT     ? 416
                   : rr == UC_RANGE_OK        ? 206
                                              : 200;
    if (multi) {
        uc_multipart_boundary(boundary);
        c->x->body_len = uc_multipart_length(boundary, parts, n, f->size);
    } else if (c->x->status == 206) {
        c->x->body_len = parts[0].last - parts[0].first + 1;
    } else {
        c->x->body_len = c->x->status == 200 ? f->size : 0;
    }
    c->x->out_len = uc_resp_content_head(c->x->out, UC_OUT_CAP, c->x->status, f, parts,
                                         multi ? boundary : NULL, c->x->body_len, &o);
    c->x->nseg = 1;
    c->x->segs[0] = (struct uc_seg){false, 0, c->x->out_len};
    if (c->x->head_only || c->x->body_len == 0) {
        uc_tx_start(c);
        return;
    }
    /*
     * A cold file's bytes come from the fill, range by range: never read whole here. A
     * small body (a whole small file, or express's 1-16 KiB ranges) is read into the
     * buffer through the ring and goes out in one send: no page probe and no sendfile
     * from the loop. By sendfile instead, express was 1.00x and 0.99x nginx on the EPYC
     * host, read 1.94x and 2.25x (RESULTS.md, "Issue 10 on the EPYC host again"); on the Xeon
     * host sendfile was ahead, 0.84x against 0.77-0.79x (RESULTS.md "Issue 10 on the
     * Xeon host"): the syscalls cost more on the one, the copy on the other.
     */
    bool small = !c->x->cold && c->x->out_len + c->x->body_len <= UC_OUT_CAP;
    if (c->x->status == 200) {
        c->x->fill_hot = small && !c->x->hot && c->x->route.root != UC_ROOT_SELFUPDATE;
        c->x->fill_off = c->x->out_len;
        add_file(c, 0, f->size, small);
    } else if (!multi) {
        add_file(c, parts[0].first, c->x->body_len, small);
    } else {
        for (uint32_t i = 0; i < n; i++) {
            char ph[256];
            size_t hl =
                uc_multipart_part_head(ph, sizeof(ph), boundary, i == 0, &parts[i], f->size);
            add_mem(c, ph, hl);
            add_file(c, parts[i].first, parts[i].last - parts[i].first + 1, small);
        }
        char tail[64];
        add_mem(c, tail, uc_multipart_tail(tail, sizeof(tail), boundary));
    }
    if (c->x->cold && !join_fill(c))
        return;
    if (c->x->reads_left)
        c->state = C_READING; /* on_read sends once every read is back */
    else
        uc_tx_start(c);
}

void uc_respond_on_open(struct uc_conn *c, int res)
{
    if (res < 0) {
        if (c->x->route.root != UC_ROOT_SELFUPDATE && (res == -ELOOP || res == -EXDEV))
            fprintf(stderr, "updcached: Content/%s: a symlink in the store; not followed (404)\n",
                    c->x->name);
        else if (c->x->route.root != UC_ROOT_SELFUPDATE)
            fprintf(stderr, "updcached: Content/%s: indexed as present but cannot be opened: %s\n",
                    c->x->name, strerror(-res));
        uc_respond_error(c, res == -ENOENT || res == -ELOOP || res == -EXDEV ? 404 : 503, NULL,
                         false);
        return;
    }
    c->file_fd = res;
    if (c->x->route.root != UC_ROOT_SELFUPDATE) /* replaced in place: never kept open */
        c->x->fde = uc_fdc_put(&c->w->fdc, c->x->rec.sha1, res, c->x->ix_snapshot, c->x->rec.size,
                               c->x->rec.ingest_time);
    struct uc_resp_file f;
    char etag[80];
    if (!validators_for(c, &f, etag, sizeof(etag))) {
        uc_respond_error(c, 404, NULL, false);
        return;
    }
    plan(c, &f);
}

void uc_respond_on_read(struct uc_conn *c, int res)
{
    c->x->reads_left--;
    if (res > 0)
        c->x->read_got += (uint64_t)res;
    if (c->x->reads_left)
        return; /* the others still write into the output buffer */
    /* Whole ranges of a regular file were asked for: less means an error or truncation. */
    if (res < 0 || c->x->read_got != c->x->read_expect) {
        fprintf(stderr, "updcached: %s: read %llu of %llu bytes; answering 503\n", c->x->name,
                (unsigned long long)c->x->read_got, (unsigned long long)c->x->read_expect);
        uc_respond_error(c, 503, "read error", true);
        return;
    }
    if (c->x->fill_hot) /* the bytes just read are the whole, verified file */
        uc_hot_put(&c->w->hot, c->x->rec.sha1, c->x->out + c->x->fill_off, c->x->rec.size);
    uc_tx_start(c);
}

static struct uc_http_span find_header(const struct uc_conn *c, const char *name)
{
    for (uint32_t i = 0; i < c->x->req.nheaders; i++) {
        const struct uc_http_span n = c->x->req.headers[i].name;
        if (n.len == strlen(name) && !strncasecmp(c->in + n.off, name, n.len))
            return c->x->req.headers[i].value;
    }
    return (struct uc_http_span){0, 0};
}

static void log_access(struct uc_conn *c)
{
    if (c->w->log.fd < 0)
        return; /* access_log = off: do not even look for the headers */
    const struct uc_http_req *r = &c->x->req;
    const char *line = c->in + r->method_span.off;
    const char *eol = memchr(line, '\r', r->head_len - r->method_span.off);
    struct uc_http_span ua = find_header(c, "user-agent"), ref = find_header(c, "referer");
    struct uc_access a = {
        .client = c->client,
        .time = c->x->req_wall_s,
        .request_line = line,
        .request_line_len = eol ? (size_t)(eol - line) : 0,
        .status = c->x->status,
        .bytes = c->x->head_only ? 0 : c->x->body_len,
        .referer = ref.len ? c->in + ref.off : NULL,
        .referer_len = ref.len,
        .user_agent = ua.len ? c->in + ua.off : NULL,
        .user_agent_len = ua.len,
        .duration_us = (uint64_t)(c->w->now_ns - c->x->req_start_ns) / 1000,
    };
    uc_accesslog_add(&c->w->log, &a);
}

void uc_respond_done(struct uc_conn *c)
{
    uc_conn_drop_file(c);
    c->answered = true;
    if (c->x->req.head_len) {
        log_access(c);
        uc_metrics_request(c->w->m, UC_PORT_HTTP, c->x->route.root, c->x->status,
                           c->x->head_only ? 0 : c->x->body_len);
    }
    if (!c->x->keep || atomic_load(&c->w->d->stop)) {
        uc_conn_linger(c);
        return;
    }
    uc_conn_next_request(c);
}
