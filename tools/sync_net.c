/*
 * libcurl side of sync: see sync_net.h.
 */
#include "sync_net.h"

#include "fsutil.h"
#include "parallel.h"
#include "strparse.h"
#include "textbuf.h"
#include "upstream.h"
#include "x509.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MACHINE_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define MACHINE_DIR "/etc/ssl/certs"
#define MAX_ATTEMPTS 4
#define LOGIN_MAX (64u << 10)
/* Received bytes are hashed and written in pieces of this size, O_DIRECT where allowed. */
#define PIECE (1u << 20)

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void common(struct sync_net *n, CURL *h, bool tls, char *errbuf)
{
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    /* A transfer slower than the floor for its whole window is cut off and retried: a
     * stalled or trickling upstream cannot hold a sync. */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, n->floor_bps);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, n->floor_secs);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "updcache-sync/1");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (n->resolve)
        curl_easy_setopt(h, CURLOPT_RESOLVE, n->resolve);
    if (tls) {
        /* Trust is the service's: ca_file, else the machine store; nothing per user. */
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
        curl_easy_setopt(h, CURLOPT_CAINFO, n->cfg->ca_file ? n->cfg->ca_file : MACHINE_BUNDLE);
        curl_easy_setopt(h, CURLOPT_CAPATH, n->cfg->ca_file ? NULL : MACHINE_DIR);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    } else {
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    }
}

int sync_net_init(struct sync_net *n, const struct uc_config *cfg, struct uc_errbuf *eb)
{
    memset(n, 0, sizeof(*n));
    n->cfg = cfg;
    n->floor_bps = SYNC_FLOOR_BPS;
    n->floor_secs = SYNC_FLOOR_SECS;
    const char *fl = getenv("UPDCACHE_SYNC_FLOOR");
    if (fl && (sscanf(fl, "%ld/%ld", &n->floor_bps, &n->floor_secs) != 2 || n->floor_bps < 1 ||
               n->floor_secs < 1))
        return uc_errf(eb, UC_ECONFIG,
                       "UPDCACHE_SYNC_FLOOR=%s: give BYTES_PER_S/SECONDS, e.g. 1024/30", fl);
    /* Per-user trust settings are not the service's: make sure nothing below reads them. */
    unsetenv("SSL_CERT_FILE");
    unsetenv("SSL_CERT_DIR");
    unsetenv("CURL_CA_BUNDLE");
    if (!cfg->upstream_url) /* said first: the other settings mean nothing without it */
        return uc_upstream_init(&(struct uc_upstream){0}, cfg, eb);
    if (!cfg->downstream_id || !cfg->downstream_secret)
        return uc_errf(eb, UC_ECONFIG,
                       "[upstream] downstream_id and downstream_secret are required");
    if (!cfg->publisher_keys.n)
        return uc_errf(eb, UC_ECONFIG,
                       "[upstream] publisher_keys is empty: list the public "
                       "keys whose signatures this server accepts");
    struct uc_upstream u;
    int rc = uc_upstream_init(&u, cfg, eb);
    if (rc)
        return rc;
    snprintf(n->host, sizeof(n->host), "%s", u.host);
    n->port = u.port;
    snprintf(n->base, sizeof(n->base), "%s", u.base);
    snprintf(n->content, sizeof(n->content), "%s", u.content);
    n->resolve = u.resolve; /* ours now: sync_net_free frees it */
    /* Twice the cores: a thread blocked in a write to the disk leaves the cores hashing. */
    if (uc_lanes_start(2 * uc_ncpu(), &n->lanes))
        n->lanes = NULL; /* pieces are then hashed on the transfer thread */
    return 0;
}

void sync_net_free(struct sync_net *n)
{
    uc_lanes_stop(n->lanes);
    n->lanes = NULL;
    curl_slist_free_all(n->resolve);
    n->resolve = NULL;
}

struct answer {
    struct uc_text t;
    size_t max;
    bool over; /* the body passed max: cut off */
};

static size_t to_text(char *p, size_t sz, size_t nm, void *ud)
{
    struct answer *a = ud;
    if (a->t.len + sz * nm > a->max) {
        a->over = true;
        return 0;
    }
    uc_text_append(&a->t, p, sz * nm);
    return a->t.failed ? 0 : sz * nm;
}

static int explain(struct sync_net *n, const char *what, CURLcode cc, const char *errbuf,
                   struct uc_errbuf *eb)
{
    if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE)
        return uc_errf(eb, UC_ECRYPTO,
                       "%s: the certificate of %s is not trusted (%s); trust comes from [upstream] "
                       "ca_file (%s) or the machine store only, never SSL_CERT_FILE, SSL_CERT_DIR, "
                       "CURL_CA_BUNDLE or files in a home directory",
                       what, n->host, errbuf[0] ? errbuf : curl_easy_strerror(cc),
                       n->cfg->ca_file ? n->cfg->ca_file : "not set");
    return uc_errf(eb, -EIO, "%s: %s", what, errbuf[0] ? errbuf : curl_easy_strerror(cc));
}

/* One TLS request; the body (JSON, at most max bytes: else -EFBIG) goes to *out. */
static int call(struct sync_net *n, const char *path, bool post_basic, size_t max, char **out,
                size_t *len, long *status, struct uc_errbuf *eb)
{
    CURL *h = curl_easy_init();
    if (!h)
        return uc_errf(eb, -ENOMEM, "out of memory");
    char url[1024], errbuf[CURL_ERROR_SIZE] = "", auth[600];
    snprintf(url, sizeof(url), "%s%s", n->base, path);
    struct answer a = {.max = max};
    struct curl_slist *hdr = NULL;
    common(n, h, true, errbuf);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_text);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
    if (post_basic) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, n->cfg->downstream_id);
        curl_easy_setopt(h, CURLOPT_PASSWORD, n->cfg->downstream_secret);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    } else {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", n->cookie);
        hdr = curl_slist_append(hdr, auth);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    }
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    int rc = 0;
    char mb[32];
    if (a.over)
        rc = uc_errf(eb, -EFBIG, "%s: the answer is larger than %s; refused", url,
                     uc_fmt_bytes(max, mb, sizeof(mb)));
    else if (cc != CURLE_OK)
        rc = explain(n, url, cc, errbuf, eb);
    *out = uc_text_take(&a.t, len);
    if (!rc && !*out)
        rc = uc_errf(eb, -ENOMEM, "%s: out of memory", url);
    return rc;
}

static const char *detail_of(const char *body)
{
    static __thread char d[300];
    json_t *j = json_loads(body ? body : "", 0, NULL);
    snprintf(d, sizeof(d), "%s",
             json_string_value(json_object_get(j, "detail"))
                 ? json_string_value(json_object_get(j, "detail"))
                 : "no detail");
    json_decref(j);
    return d;
}

int sync_net_login(struct sync_net *n, struct uc_errbuf *eb)
{
    char *body = NULL;
    size_t len;
    long status = 0;
    int rc = call(n, "DSSAuthWebService/token", true, LOGIN_MAX, &body, &len, &status, eb);
    if (!rc && status == 401)
        rc = uc_errf(eb, UC_EKEY,
                     "%sDSSAuthWebService/token refused downstream id '%s' (401: %s): check "
                     "[upstream] downstream_id and downstream_secret against the upstream's "
                     "[auth] downstreams",
                     n->base, n->cfg->downstream_id, detail_of(body));
    else if (!rc && status != 200)
        rc = uc_errf(eb, -EIO, "%sDSSAuthWebService/token: HTTP %ld: %s", n->base, status,
                     detail_of(body));
    json_t *j = rc ? NULL : json_loads(body, 0, NULL);
    const char *c = json_string_value(json_object_get(j, "cookie"));
    if (!rc && (!c || strlen(c) >= sizeof(n->cookie)))
        rc = uc_errf(eb, UC_EPARSE, "%sDSSAuthWebService/token: no cookie in the answer", n->base);
    if (!rc)
        snprintf(n->cookie, sizeof(n->cookie), "%s", c);
    json_decref(j);
    free(body);
    return rc;
}

int sync_net_get_json(struct sync_net *n, const char *path, size_t max, char **body, size_t *len,
                      struct uc_errbuf *eb)
{
    long status = 0;
    int rc = call(n, path, false, max, body, len, &status, eb);
    if (!rc && status != 200) {
        rc = uc_errf(eb, status == 401 || status == 403 ? UC_EKEY : -EIO, "%s%s: HTTP %ld: %s",
                     n->base, path, status, detail_of(*body));
        free(*body);
        *body = NULL;
    }
    return rc;
}

/* ---- downloads ---- */

/*
 * Received bytes are copied into a piece; a full piece goes to four lanes (lanes.h):
 * SHA-1 + XXH3, the whole file's SHA-256, the block digests, the write. The digests of
 * one file thus run beside each other and beside other files', on every core, and a
 * write waiting for the disk holds up no hashing, while the transfer thread only
 * receives (issue 14).
 */
enum { LANE_SHA1, LANE_SHA256, LANE_BLOCKS, LANE_WRITE, NLANES };
#define NPIECES 4 /* per transfer: peak memory is parallel x 4 MiB whatever the file size */

struct xfer;

struct piece {
    struct xfer *x;
    uint8_t *buf; /* PIECE bytes, aligned for O_DIRECT */
    size_t len;
    _Atomic unsigned refs; /* lanes still to see it */
    struct uc_lane_job job[NLANES];
};

struct xfer {
    struct sync_file *sf;
    CURL *h;
    int fd;
    char tmp_name[64];
    char errbuf[CURL_ERROR_SIZE];
    struct uc_store *st;
    struct uc_lanes *lanes;
    _Atomic uint64_t *progress;
    struct sync_fetch_stats *stats;
    bool direct; /* the part file is written with O_DIRECT (by the write lane) */
    struct piece pieces[NPIECES];
    struct piece *cur; /* being filled, or NULL */
    struct uc_lane lane[NLANES];
    pthread_mutex_t mu; /* the free pieces and in_flight */
    pthread_cond_t cv;
    struct piece *free_p[NPIECES];
    unsigned nfree, in_flight;
    _Atomic bool write_failed;
    char werr[1024]; /* the write lane's error, read after drain() */
};

static void piece_done(struct piece *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    struct xfer *x = p->x;
    pthread_mutex_lock(&x->mu);
    x->free_p[x->nfree++] = p;
    x->in_flight--;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

static void lane_sha1(struct uc_lane_job *j)
{
    struct piece *p = j->arg;
    uc_hasher_update_part(&p->x->sf->h, UC_HASH_PART_SHA1, p->buf, p->len);
    piece_done(p);
}

/*
 * The write goes from the hashed buffer: the digest describes the bytes in the part
 * file, and with O_DIRECT they never pass through the page cache (its copy and
 * writeback were about half of sync's CPU). A failed write leaves the part holding a
 * prefix of the body, which a resume hashes again from the file.
 */
static void lane_write(struct uc_lane_job *j)
{
    struct piece *p = j->arg;
    struct xfer *x = p->x;
    int rc = atomic_load(&x->write_failed)
                 ? 0
                 : uc_write_maybe_direct(x->fd, &x->direct, p->buf, p->len);
    if (rc) {
        snprintf(x->werr, sizeof(x->werr), "%s/tmp/%s: writing: %s%s", x->st->root, x->tmp_name,
                 strerror(-rc),
                 rc == -ENOSPC ? "; free space on the store's file system and re-run" : "");
        atomic_store(&x->write_failed, true);
    }
    piece_done(p);
}

static void lane_sha256(struct uc_lane_job *j)
{
    struct piece *p = j->arg;
    uc_hasher_update_part(&p->x->sf->h, UC_HASH_PART_SHA256, p->buf, p->len);
    piece_done(p);
}

static void lane_blocks(struct uc_lane_job *j)
{
    struct piece *p = j->arg;
    uc_hasher_update_part(&p->x->sf->h, UC_HASH_PART_BLOCKS, p->buf, p->len);
    piece_done(p);
}

static bool xfer_init(struct xfer *x, struct uc_lanes *lanes)
{
    memset(x, 0, sizeof(*x));
    x->fd = -1;
    x->lanes = lanes;
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    void (*fn[NLANES])(struct uc_lane_job *) = {lane_sha1, lane_sha256, lane_blocks, lane_write};
    for (unsigned k = 0; k < NLANES; k++)
        if (lanes)
            uc_lane_init(&x->lane[k], lanes);
    for (unsigned i = 0; i < NPIECES; i++) {
        struct piece *p = &x->pieces[i];
        p->x = x;
        if (!(p->buf = aligned_alloc(UC_DIRECT_ALIGN, PIECE)))
            return false;
        for (unsigned k = 0; k < NLANES; k++)
            p->job[k] = (struct uc_lane_job){.fn = fn[k], .arg = p};
        x->free_p[x->nfree++] = p;
    }
    return true;
}

/* Wait until every piece handed to the lanes has been hashed and written. */
static void drain(struct xfer *x)
{
    pthread_mutex_lock(&x->mu);
    while (x->in_flight)
        pthread_cond_wait(&x->cv, &x->mu);
    pthread_mutex_unlock(&x->mu);
}

static void xfer_free(struct xfer *x)
{
    drain(x);
    for (unsigned k = 0; k < NLANES; k++)
        uc_lane_wait_idle(&x->lane[k]);
    for (unsigned i = 0; i < NPIECES; i++)
        free(x->pieces[i].buf);
    pthread_mutex_destroy(&x->mu);
    pthread_cond_destroy(&x->cv);
}

/* Hand the piece being filled to the lanes. False when a write has already failed (the
 * transfer can stop; write_failed() after drain() is the answer that counts). */
static bool put_buffered(struct xfer *x)
{
    struct piece *p = x->cur;
    if (p && p->len) {
        x->cur = NULL;
        atomic_store(&p->refs, NLANES);
        pthread_mutex_lock(&x->mu);
        x->in_flight++;
        pthread_mutex_unlock(&x->mu);
        for (unsigned k = 0; k < NLANES; k++) {
            if (x->lanes)
                uc_lane_push(&x->lane[k], &p->job[k]);
            else
                p->job[k].fn(&p->job[k]);
        }
    }
    return !atomic_load(&x->write_failed);
}

/* After drain(): did a write fail? Then sf->err says which file and why. */
static bool write_failed(struct xfer *x)
{
    if (!atomic_load(&x->write_failed))
        return false;
    if (!x->sf->err[0])
        snprintf(x->sf->err, sizeof(x->sf->err), "%s", x->werr);
    return true;
}

/* A free piece to receive into: waits while all are in the lanes (back-pressure). */
static struct piece *take_piece(struct xfer *x)
{
    if (!x->cur) {
        pthread_mutex_lock(&x->mu);
        while (!x->nfree)
            pthread_cond_wait(&x->cv, &x->mu);
        x->cur = x->free_p[--x->nfree];
        pthread_mutex_unlock(&x->mu);
        x->cur->len = 0;
    }
    return x->cur;
}

/* Drop what is buffered and not handed over (bytes that must not be written). */
static void drop_buffered(struct xfer *x)
{
    if (x->cur)
        x->cur->len = 0;
}

static size_t on_data(char *p, size_t sz, size_t nm, void *ud)
{
    struct xfer *x = ud;
    struct sync_file *sf = x->sf;
    size_t len = sz * nm;
    if (!sf->status) {
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &sf->status);
        if (sf->have > 0 && sf->status == 200) {
            sf->range_ignored = true; /* the whole file again: our bytes would be doubled */
            return 0;
        }
        if (sf->status != 200 && sf->status != 206)
            return 0;
    }
    if (sf->have + len > sf->f.size) {
        snprintf(sf->err, sizeof(sf->err), "%s: more than the %llu bytes the record says", sf->url,
                 (unsigned long long)sf->f.size);
        return 0;
    }
    sf->have += len;
    atomic_fetch_add(x->progress, len);
    x->stats->bytes += len;
    for (size_t done = 0; done < len;) {
        struct piece *pc = take_piece(x);
        size_t n = len - done < PIECE - pc->len ? len - done : PIECE - pc->len;
        memcpy(pc->buf + pc->len, p + done, n);
        pc->len += n;
        done += n;
        if (pc->len == PIECE && !put_buffered(x))
            return 0;
    }
    return len;
}

/* The part file is whole: compare with the record, then stage or quarantine it. */
static void complete(struct xfer *x)
{
    struct sync_file *sf = x->sf;
    struct uc_staged s = {.fd = x->fd, .evictable = true}; /* an upstream has it */
    snprintf(s.tmp_name, sizeof(s.tmp_name), "%s", x->tmp_name);
    snprintf(s.suffix, sizeof(s.suffix), "%s", sf->f.suffix);
    uc_hasher_final(&sf->h, &s.dg);
    s.blocks = uc_hasher_take_blocks(&sf->h, &s.nblocks);
    uc_hasher_free(&sf->h);
    sf->hashing = false;
    x->fd = -1; /* the staged file owns it now */
    char name[96], e1[41], a1[41], e256[65], a256[65];
    uc_store_content_name(sf->f.sha1, sf->f.suffix, name, sizeof(name));
    uc_hex_encode(sf->f.sha1, UC_SHA1_LEN, e1, true);
    uc_hex_encode(s.dg.sha1, UC_SHA1_LEN, a1, true);
    uc_hex_encode(sf->f.sha256, UC_SHA256_LEN, e256, false);
    uc_hex_encode(s.dg.sha256, UC_SHA256_LEN, a256, false);
    if (s.dg.size != sf->f.size || memcmp(s.dg.sha1, sf->f.sha1, UC_SHA1_LEN) ||
        memcmp(s.dg.sha256, sf->f.sha256, UC_SHA256_LEN)) {
        snprintf(sf->err, sizeof(sf->err),
                 "Content/%s from %s does not match its signed record: size %llu (expected "
                 "%llu), SHA-1 %s (expected %s), SHA-256 %s (expected %s); quarantined",
                 name, sf->url, (unsigned long long)s.dg.size, (unsigned long long)sf->f.size, a1,
                 e1, a256, e256);
        uc_store_quarantine_staged(x->st, &s, sf->err);
        sf->state = SF_BAD;
        return;
    }
    if (!sf->f.has_blocks || !s.dg.has_blocks ||
        memcmp(s.dg.blocks_sha256, sf->f.blocks_sha256, UC_SHA256_LEN)) {
        /* The bytes are the signed ones; a list the record does not vouch for is not kept. */
        if (sf->f.has_blocks) {
            char eb[65];
            uc_hex_encode(sf->f.blocks_sha256, UC_SHA256_LEN, eb, false);
            uc_hex_encode(s.dg.blocks_sha256, UC_SHA256_LEN, a256, false);
            fprintf(stderr,
                    "updcache sync: Content/%s: its block digests hash to %s, the "
                    "signed record says blocks_sha256 %s; the file is kept without "
                    "them (on-demand downstreams will fetch it whole)\n",
                    name, a256, eb);
        }
        free(s.blocks);
        s.blocks = NULL;
        s.nblocks = 0;
    }
    sf->staged = s; /* fsync'ed later, off the transfer loop (sync_net_flush) */
    sf->state = SF_STAGED;
}

static void give_up_or_retry(struct xfer *x, const char *why)
{
    struct sync_file *sf = x->sf;
    if (why != sf->err)
        snprintf(sf->err, sizeof(sf->err), "%s", why);
    if (x->fd >= 0)
        close(x->fd); /* releases the lock; the part stays for the retry or the next run */
    x->fd = -1;
    if (sf->hashing)
        uc_hasher_free(&sf->h);
    sf->hashing = false;
    if (++sf->attempts < MAX_ATTEMPTS) {
        sf->state = SF_QUEUED;
        sf->not_before = mono() + 0.5 * (double)(1 << (sf->attempts - 1));
        x->stats->retries++;
        fprintf(stderr, "updcache sync: %s; retrying (attempt %d of %d)\n", sf->err,
                sf->attempts + 1, MAX_ATTEMPTS);
    } else {
        sf->state = SF_FAILED;
    }
}

/* Open the part file, hash what is already there, prepare the transfer. */
static bool start(struct xfer *x, struct sync_net *n, struct sync_file *sf)
{
    x->sf = sf;
    x->fd = -1;
    char hex[41];
    uc_hex_encode(sf->f.sha1, UC_SHA1_LEN, hex, true);
    snprintf(x->tmp_name, sizeof(x->tmp_name), "s-%s.part", hex);
    sf->status = 0;
    sf->range_ignored = false;
    sf->err[0] = 0;
    x->fd = uc_open_beneath(x->st->tmp_fd, x->tmp_name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (x->fd < 0 || flock(x->fd, LOCK_EX | LOCK_NB)) {
        snprintf(sf->err, sizeof(sf->err), "%s/tmp/%s: %s", x->st->root, x->tmp_name,
                 errno == EWOULDBLOCK ? "another sync is fetching this file" : strerror(errno));
        if (x->fd >= 0)
            close(x->fd);
        x->fd = -1;
        sf->state = SF_FAILED;
        return false;
    }
    struct stat sb;
    fstat(x->fd, &sb);
    sf->have = (uint64_t)sb.st_size;
    if (sf->have > sf->f.size && ftruncate(x->fd, 0) == 0)
        sf->have = 0;
    drop_buffered(x);
    atomic_store(&x->write_failed, false);
    x->werr[0] = 0;
    x->direct = sf->f.size >= UC_DIRECT_MIN;
    uint64_t aligned = sf->have / UC_DIRECT_ALIGN * UC_DIRECT_ALIGN;
    if (x->direct && aligned != sf->have) { /* a few bytes again, for aligned writes */
        if (ftruncate(x->fd, (off_t)aligned) == 0)
            sf->have = aligned;
        else
            x->direct = false;
    }
    uc_hasher_init(&sf->h, UC_HASH_BLOCKS);
    sf->hashing = true;
    /* Resume: the bytes already here count, so hash them first. */
    char *buf = malloc(1 << 20);
    uint64_t off = 0;
    while (buf && off < sf->have) {
        ssize_t r = pread(x->fd, buf, 1 << 20, (off_t)off);
        if (r <= 0)
            break;
        uc_hasher_update(&sf->h, buf, (size_t)r);
        off += (uint64_t)r;
    }
    free(buf);
    if (off != sf->have) { /* unreadable part: start over */
        uc_hasher_free(&sf->h);
        uc_hasher_init(&sf->h, UC_HASH_BLOCKS);
        sf->have = 0;
        if (ftruncate(x->fd, 0)) {
            /* Old bytes past what gets written would stay in the file unhashed. */
            snprintf(sf->err, sizeof(sf->err), "%s/tmp/%s: cannot start it over: %s", x->st->root,
                     x->tmp_name, strerror(errno));
            uc_hasher_free(&sf->h);
            sf->hashing = false;
            close(x->fd);
            x->fd = -1;
            sf->state = SF_FAILED;
            return false;
        }
    }
    lseek(x->fd, (off_t)sf->have, SEEK_SET);
    int fl = x->direct ? fcntl(x->fd, F_GETFL) : -1;
    x->direct = fl >= 0 && fcntl(x->fd, F_SETFL, fl | O_DIRECT) == 0;
    if (sf->have == sf->f.size) {
        complete(x);
        return false;
    }
    x->h = curl_easy_init();
    common(n, x->h, false, x->errbuf);
    x->errbuf[0] = 0;
    curl_easy_setopt(x->h, CURLOPT_URL, sf->url);
    curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(x->h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->h, CURLOPT_BUFFERSIZE, 512L * 1024); /* fewer, larger writes */
    /* A bandwidth cap per transfer (bytes/s), for sharing a thin link and for tests that
     * need a sync to take a while. */
    const char *rate = getenv("UPDCACHE_SYNC_RATE");
    uint64_t bps;
    if (rate && !uc_parse_size(rate, &bps) && bps)
        curl_easy_setopt(x->h, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)bps);
    char range[48];
    if (sf->have) {
        snprintf(range, sizeof(range), "%llu-", (unsigned long long)sf->have);
        curl_easy_setopt(x->h, CURLOPT_RANGE, range);
    }
    sf->state = SF_RUNNING;
    return true;
}

static void finished(struct xfer *x, CURLcode cc)
{
    struct sync_file *sf = x->sf;
    char why[1900];
    if (sf->range_ignored)
        drop_buffered(x); /* bytes of the whole file, not of the part: never written */
    else
        put_buffered(x);
    drain(x); /* the digests and the part file are whole from here on */
    if (write_failed(x))
        cc = CURLE_WRITE_ERROR; /* sf->err says which file and why */
    struct stat sb = {0};
    if (cc == CURLE_OK && sf->have == sf->f.size && (sf->status == 200 || sf->status == 206)) {
        /* The digests are of the buffers: the part must hold all of them too. */
        if (fstat(x->fd, &sb) == 0 && (uint64_t)sb.st_size == sf->have) {
            complete(x);
        } else {
            snprintf(why, sizeof(why), "%s/tmp/%s: holds %lld bytes after writing %llu",
                     x->st->root, x->tmp_name, (long long)sb.st_size, (unsigned long long)sf->have);
            give_up_or_retry(x, why);
        }
    } else if (sf->range_ignored) {
        snprintf(why, sizeof(why),
                 "%s: asked for bytes %llu- and got the whole file (200); starting over", sf->url,
                 (unsigned long long)sf->have);
        /* If this fails the retry resumes from the part as it is (re-hashed): still right. */
        (void)!ftruncate(x->fd, 0);
        give_up_or_retry(x, why);
    } else if (sf->err[0]) {
        give_up_or_retry(x, sf->err);
    } else if (sf->status && sf->status != 200 && sf->status != 206) {
        snprintf(why, sizeof(why), "%s: HTTP %ld", sf->url, sf->status);
        give_up_or_retry(x, why);
    } else if (cc == CURLE_OK) {
        snprintf(why, sizeof(why), "%s: the body ended after %llu of %llu bytes", sf->url,
                 (unsigned long long)sf->have, (unsigned long long)sf->f.size);
        give_up_or_retry(x, why);
    } else {
        snprintf(why, sizeof(why), "%s: %s (after %llu of %llu bytes)", sf->url,
                 x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc), (unsigned long long)sf->have,
                 (unsigned long long)sf->f.size);
        give_up_or_retry(x, why);
    }
}

void sync_fetch_all(struct sync_net *n, struct uc_store *st, struct sync_file *files, size_t nfiles,
                    unsigned parallel, _Atomic uint64_t *progress_bytes, void (*tick)(void *),
                    void *tick_ctx, struct sync_fetch_stats *stats)
{
    CURLM *m = curl_multi_init();
    struct xfer *xs = calloc(parallel, sizeof(*xs));
    unsigned running = 0, ready = 0;
    while (xs && ready < parallel && xfer_init(&xs[ready], n->lanes))
        ready++;
    if (!m || !xs || ready < parallel) {
        for (size_t i = 0; i < nfiles; i++)
            if (files[i].state == SF_QUEUED) {
                files[i].state = SF_FAILED;
                snprintf(files[i].err, sizeof(files[i].err), "out of memory");
            }
        for (unsigned i = 0; xs && i <= ready && i < parallel; i++)
            xfer_free(&xs[i]);
        free(xs);
        curl_multi_cleanup(m);
        return;
    }
    for (;;) {
        double now = mono();
        bool waiting = false;
        for (size_t i = 0; i < nfiles && running < parallel; i++) {
            if (files[i].state != SF_QUEUED)
                continue;
            if (files[i].not_before > now) {
                waiting = true;
                continue;
            }
            unsigned slot = 0;
            while (xs[slot].sf)
                slot++;
            struct xfer *x = &xs[slot];
            x->st = st;
            x->progress = progress_bytes;
            x->stats = stats;
            if (start(x, n, &files[i])) {
                curl_multi_add_handle(m, x->h);
                running++;
            } else {
                x->sf = NULL;
            }
        }
        if (!running && !waiting)
            break;
        int still;
        curl_multi_perform(m, &still);
        CURLMsg *msg;
        int q;
        while ((msg = curl_multi_info_read(m, &q))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct xfer *x;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            CURLcode cc = msg->data.result;
            curl_multi_remove_handle(m, x->h);
            finished(x, cc);
            curl_easy_cleanup(x->h);
            x->h = NULL;
            x->sf = NULL;
            running--;
        }
        curl_multi_poll(m, NULL, 0, 100, NULL);
        if (tick)
            tick(tick_ctx);
    }
    for (unsigned i = 0; i < parallel; i++)
        xfer_free(&xs[i]);
    free(xs);
    curl_multi_cleanup(m);
}
