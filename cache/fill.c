/*
 * The fill engine: see fill.h.
 *
 * Ownership: the registry (fs->list) holds one reference to each fill in it, every
 * joined connection one more; whoever drops the last frees it. Only the fill thread
 * takes fills out of the registry, so it may walk the list outside the lock (joins only
 * push at the head). Per-block state and the transfers belong to the fill thread; the
 * workers see only the ready flags, the outcome and, once a flag is set, the fd.
 */
#include "fill.h"

#include "daemon.h"
#include "fsutil.h"
#include "hash.h"
#include "lanes.h"
#include "parallel.h"
#include "store.h"
#include "strparse.h"
#include "upstream.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PER_FILL 4                      /* ranged GETs in flight for one file */
#define TOTAL 16                        /* and across all fills */
#define BLOCK_TRIES 4                   /* fetches of one block before the fill fails */
#define WANT_MAX 32                     /* blocks waiting clients asked for, newest first */
#define SLOW_BLOCK_NS (100LL * 1000000) /* a block slower than this: the link is the limit */
#define FLOOR_BPS 1024L /* as sync: a transfer slower than this for FLOOR_SECS is retried */
#define FLOOR_SECS 30L
#define PASS_NICE 10 /* the whole-file pass nobody waits for: see pass_run() */

enum { B_MISSING, B_FETCHING, B_DONE };

struct uc_fill {
    struct uc_fills *fs;
    struct uc_file_rec rec;
    char name[96]; /* XX/<SHA1><suffix> under Content/ */
    char url[800];
    char tmp_name[64]; /* fill-<SHA1>.part under tmp/ */
    size_t nblocks;
    uint8_t *digests;       /* nblocks SHA-256s from the index, or NULL: verified whole */
    _Atomic uint8_t *ready; /* 1: verified and written (workers read this) */
    uint8_t *state;         /* B_*: the fill thread's */
    uint8_t *tries;
    size_t ndone, cursor;
    int fd;
    bool set_up;
    unsigned transfers;
    int64_t start_ns, retry_at_ns;
    bool first_done;
    bool slow; /* the last block took over SLOW_BLOCK_NS: one at a time for waiting clients */
    _Atomic int refs;
    _Atomic int outcome; /* 0 running, 1 complete (published), -1 failed */
    int fail_status;
    char fail_why[1536];     /* the log line, then what clients are told */
    uint64_t want[WANT_MAX]; /* under fs->mu */
    unsigned nwant;
    /* The whole-file pass (pass_run) on a thread of its own; the fill thread reads the
     * results once it is back on fs->passed. */
    pthread_t pass;
    bool passing;
    int pass_rc, sync_errno;
    struct uc_digest dg;
    struct uc_fill *next_passed;
    struct uc_fill *next;
};

struct xfer {
    struct uc_fill *f;
    unsigned slot;
    int64_t start_ns;
    size_t k;
    uint64_t off, len, got;
    uint8_t *buf;   /* with lanes: the block, checked and written there */
    EVP_MD_CTX *md; /* without: the block's SHA-256 as it arrives (NULL: no digests) */
    int inline_wrc; /* and the write of each piece straight from curl's buffer */
    CURL *h;        /* NULL once the bytes are in and the check is on a lane */
    char err[CURL_ERROR_SIZE];
    /* The block check and write on a lane (lanes.h): filled in there, read back on the
     * fill thread from fs->verified. */
    struct uc_lane_job job;
    bool verifying, matched;
    int wrc;
    uint8_t digest[UC_SHA256_LEN]; /* the block's SHA-256 as received */
    struct xfer *next_verified;
};

struct uc_fills {
    struct uc_daemon *d;
    struct uc_store *st;
    struct uc_upstream up;
    struct uc_fill_counters *c;
    CURLM *multi;
    struct xfer *slot[TOTAL]; /* the transfers in flight */
    uint8_t *buf[TOTAL];      /* each slot's block buffer, kept: a fresh 1 MiB per block was
                               * a new mapping, every page of it faulted in again */
    EVP_MD_CTX *md[TOTAL];    /* without lanes, each slot's digest instead */
    pthread_t thread;
    pthread_mutex_t mu;
    struct uc_fill *list; /* the registry */
    /* Each slot's block is checked against its digest and written on its own lane, so
     * blocks are hashed on every core while this thread receives the next ones. */
    struct uc_lanes *lanes; /* NULL: checked on the fill thread */
    struct uc_lane lane[TOTAL];
    pthread_mutex_t vmu;
    struct xfer *verified;  /* checked, back to the fill thread (under vmu) */
    struct uc_fill *passed; /* whole-file passes done, back to the fill thread (under vmu) */
    _Atomic int stop;
    unsigned transfers;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void fill_free(struct uc_fill *f)
{
    if (f->fd >= 0)
        close(f->fd);
    free(f->digests);
    free((void *)f->ready);
    free(f->state);
    free(f->tries);
    free(f);
}

void uc_fill_release(struct uc_fill *f)
{
    if (f && atomic_fetch_sub(&f->refs, 1) == 1)
        fill_free(f);
}

int uc_fill_fd(const struct uc_fill *f)
{
    return f->fd;
}

/* Blocks became ready or a fill ended: the workers look at their waiting connections. */
static void notify(struct uc_fills *fs)
{
    for (unsigned i = 0; i < fs->d->nworkers; i++)
        uc_worker_wake(fs->d->workers[i]);
}

static void add_want(struct uc_fill *f, uint64_t off)
{
    uint64_t k = off / UC_BLOCK_SIZE;
    unsigned i = 0;
    while (i < f->nwant && f->want[i] != k)
        i++;
    if (i == f->nwant && f->nwant < WANT_MAX)
        f->nwant++;
    if (i == WANT_MAX)
        i = WANT_MAX - 1; /* full: the oldest want gives way */
    memmove(&f->want[1], &f->want[0], i * sizeof(f->want[0]));
    f->want[0] = k;
}

void uc_fill_want(struct uc_fill *f, uint64_t off)
{
    pthread_mutex_lock(&f->fs->mu);
    add_want(f, off);
    pthread_mutex_unlock(&f->fs->mu);
    curl_multi_wakeup(f->fs->multi);
}

int64_t uc_fill_ready(struct uc_fill *f, uint64_t off, uint64_t len, int *status, const char **why)
{
    uint64_t end = off;
    for (size_t k = off / UC_BLOCK_SIZE; k < f->nblocks && end - off < len &&
                                         atomic_load_explicit(&f->ready[k], memory_order_acquire);
         k++) {
        uint64_t bend = (uint64_t)(k + 1) * UC_BLOCK_SIZE;
        end = bend < f->rec.size ? bend : f->rec.size;
    }
    if (end > off)
        return (int64_t)(end - off < len ? end - off : len);
    if (atomic_load_explicit(&f->outcome, memory_order_acquire) < 0) {
        *status = f->fail_status;
        *why = f->fail_why;
        return -1;
    }
    return 0;
}

struct uc_fill *uc_fill_join(struct uc_fills *fs, const struct uc_file_rec *rec, uint64_t off,
                             int *status, const char **why)
{
    uc_metrics_inc(&fs->c->misses);
    pthread_mutex_lock(&fs->mu);
    for (struct uc_fill *f = fs->list; f; f = f->next) {
        /* Only a running fill: a finished one's bytes may have been purged since (the
         * index said they are not here); a new fill finds a copy published meanwhile. */
        if (memcmp(f->rec.sha1, rec->sha1, UC_SHA1_LEN) || atomic_load(&f->outcome) != 0)
            continue;
        if (!uc_file_same(&f->rec, rec->size, rec->sha256))
            continue; /* the same SHA-1, other bytes: never the same file (SHA-1 collides) */
        atomic_fetch_add(&f->refs, 1);
        add_want(f, off);
        pthread_mutex_unlock(&fs->mu);
        uc_metrics_inc(&fs->c->joined);
        curl_multi_wakeup(fs->multi);
        return f;
    }
    struct uc_fill *f = calloc(1, sizeof(*f));
    size_t n = UC_NBLOCKS(rec->size);
    if (f) {
        f->ready = calloc(n + 1, 1);
        f->state = calloc(n + 1, 1);
        f->tries = calloc(n + 1, 1);
    }
    if (!f || !f->ready || !f->state || !f->tries) {
        pthread_mutex_unlock(&fs->mu);
        if (f)
            fill_free(f);
        *status = 503;
        *why = "out of memory for a fill";
        return NULL;
    }
    f->fs = fs;
    f->rec = *rec;
    f->nblocks = n;
    f->fd = -1;
    f->start_ns = mono_ns();
    uc_store_content_name(rec->sha1, rec->suffix, f->name, sizeof(f->name));
    char path[128], hex[2 * UC_SHA1_LEN + 1];
    uc_content_path(rec->sha1, rec->suffix, path, sizeof(path));
    snprintf(f->url, sizeof(f->url), "%s%s", fs->up.content, path);
    uc_hex_encode(rec->sha1, UC_SHA1_LEN, hex, true);
    snprintf(f->tmp_name, sizeof(f->tmp_name), "fill-%s.part", hex);
    atomic_store(&f->refs, 2); /* the registry's and the caller's */
    add_want(f, off);
    f->next = fs->list;
    fs->list = f;
    pthread_mutex_unlock(&fs->mu);
    uc_metrics_inc(&fs->c->started);
    uc_metrics_inc(&fs->c->active);
    curl_multi_wakeup(fs->multi);
    return f;
}

/* ---- the fill thread ---- */

static void fail(struct uc_fill *f, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void drop_transfers(struct uc_fills *fs, struct uc_fill *only);

static void fail(struct uc_fill *f, int status, const char *fmt, ...)
{
    if (atomic_load(&f->outcome) != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->fail_why, sizeof(f->fail_why), fmt, ap);
    va_end(ap);
    f->fail_status = status;
    fprintf(stderr, "updcached: fill Content/%s: %s; the fill stops (verified blocks are kept)\n",
            f->name, f->fail_why);
    /* Clients get what it means for them; the log line above has the digests and URLs. */
    snprintf(f->fail_why, sizeof(f->fail_why), "%s",
             status == 502   ? "the upstream did not deliver bytes matching the signed digests "
                               "(unreachable, or other bytes); try again later (the server log "
                               "names the blocks)"
             : status == 507 ? "no room in the store for this file"
                             : "the fill could not store the file here (see the server log)");
    if (f->fd >= 0)
        flock(f->fd, LOCK_UN); /* the next fill of this file resumes from the part file */
    atomic_store_explicit(&f->outcome, -1, memory_order_release);
    uc_metrics_inc(&f->fs->c->failed);
    atomic_fetch_sub_explicit(&f->fs->c->active, 1, memory_order_relaxed);
    drop_transfers(f->fs, f);
    notify(f->fs);
}

static void mark_ready(struct uc_fill *f, size_t k)
{
    atomic_store_explicit(&f->ready[k], 1, memory_order_release);
}

static uint64_t block_len(const struct uc_fill *f, size_t k)
{
    uint64_t off = (uint64_t)k * UC_BLOCK_SIZE;
    return f->rec.size - off < UC_BLOCK_SIZE ? f->rec.size - off : UC_BLOCK_SIZE;
}

static bool signed_digest_is(const struct uc_fill *f, size_t k, const uint8_t got[UC_SHA256_LEN])
{
    return !memcmp(got, f->digests + k * UC_SHA256_LEN, UC_SHA256_LEN);
}

static bool block_matches(const struct uc_fill *f, size_t k, const uint8_t *buf, uint64_t len,
                          uint8_t got[UC_SHA256_LEN])
{
    unsigned gl = 0;
    return EVP_Digest(buf, len, got, &gl, EVP_sha256(), NULL) == 1 && signed_digest_is(f, k, got);
}

/* A part file left by an earlier fill (a crash, a failed fill): keep the blocks that
 * still match their digests. Without digests nothing can be trusted: start over. */
static void resume(struct uc_fill *f)
{
    struct stat sb;
    if (fstat(f->fd, &sb) || sb.st_size == 0)
        return;
    if (!f->digests) {
        (void)!ftruncate(f->fd, 0);
        return;
    }
    uint8_t *buf = malloc(UC_BLOCK_SIZE);
    size_t kept = 0;
    for (size_t k = 0; buf && k < f->nblocks; k++) {
        uint64_t off = (uint64_t)k * UC_BLOCK_SIZE, len = block_len(f, k);
        uint8_t got[UC_SHA256_LEN];
        if (off + len > (uint64_t)sb.st_size)
            break;
        if (uc_pread_all(f->fd, buf, len, off) != 0 || !block_matches(f, k, buf, len, got))
            continue;
        f->state[k] = B_DONE;
        f->ndone++;
        kept++;
        mark_ready(f, k);
    }
    free(buf);
    if (kept)
        fprintf(stderr, "updcached: fill Content/%s: resuming with %zu of %zu blocks verified\n",
                f->name, kept, f->nblocks);
}

/* The file was published since the miss (a fill that just ended, a sync): serve that. */
static bool already_here(struct uc_fills *fs, struct uc_fill *f, const struct uc_file_rec *now)
{
    if (now->state != UC_FILE_PRESENT || !uc_file_same(now, f->rec.size, f->rec.sha256))
        return false;
    int fd = openat(fs->st->content_fd, f->name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    f->fd = fd;
    /* Counted as what it was for the client: a join of the fill that just ended. */
    atomic_fetch_sub(&fs->c->started, 1);
    uc_metrics_inc(&fs->c->joined);
    for (size_t k = 0; k < f->nblocks; k++)
        mark_ready(f, k);
    atomic_store_explicit(&f->outcome, 1, memory_order_release);
    notify(fs);
    return true;
}

/* First turn of a new fill: its part file, its digests, room on the disk. */
static void set_up(struct uc_fills *fs, struct uc_fill *f)
{
    f->set_up = true;
    MDB_txn *txn;
    const uint8_t *list = NULL;
    size_t n = 0;
    struct uc_file_rec now = {0};
    if (!uc_index_begin(fs->st->ix, false, &txn)) {
        if (uc_index_get_file(fs->st->ix, txn, f->rec.sha1, &now))
            now.state = 0;
        if (uc_index_get_blocks(fs->st->ix, txn, f->rec.sha1, &list, &n) == 0 && n == f->nblocks &&
            n > 0) {
            f->digests = malloc(n * UC_SHA256_LEN);
            if (f->digests)
                memcpy(f->digests, list, n * UC_SHA256_LEN);
        }
        uc_index_abort(txn);
    }
    if (already_here(fs, f, &now))
        return;
    f->fd = openat(fs->st->tmp_fd, f->tmp_name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        fail(f, 503, "tmp/%s: %s", f->tmp_name, strerror(errno));
        return;
    }
    if (flock(f->fd, LOCK_EX | LOCK_NB)) {
        fail(f, 503, "tmp/%s is locked by another process", f->tmp_name);
        return;
    }
    resume(f);
    struct uc_errbuf eb = {{0}};
    uint64_t have = 0;
    for (size_t k = 0; k < f->nblocks; k++)
        have += f->state[k] == B_DONE ? block_len(f, k) : 0;
    if (uc_store_check_space(fs->st, f->rec.size - have, &eb)) {
        fail(f, 507, "no room: %s", eb.msg);
        return;
    }
}

/*
 * With lanes the block is gathered and checked on its lane. Without (one core) each
 * piece is hashed while it is still in the cache from the receive and written straight
 * to the part file: no copy into a block buffer, no second pass over it. Bytes in the
 * part file are served only once their block is marked ready, and a restart checks
 * every block again (resume()), so an unverified block there is never seen.
 */
static size_t body_cb(char *p, size_t sz, size_t nm, void *ud)
{
    struct xfer *x = ud;
    size_t n = sz * nm;
    if (x->got + n > x->len)
        return 0; /* more than the range asked for: not the bytes we want */
    if (x->buf) {
        memcpy(x->buf + x->got, p, n);
    } else {
        if (x->md && !EVP_DigestUpdate(x->md, p, n))
            return 0;
        if ((x->inline_wrc = uc_pwrite_all(x->f->fd, p, n, x->off + x->got)))
            return 0;
    }
    x->got += n;
    return n;
}

static void start_block(struct uc_fills *fs, struct uc_fill *f, size_t k)
{
    unsigned i = 0;
    while (fs->slot[i])
        i++; /* there is one: fs->transfers < TOTAL */
    bool ok = true;
    if (fs->lanes && !fs->buf[i])
        ok = (fs->buf[i] = malloc(UC_BLOCK_SIZE)) != NULL;
    if (!fs->lanes && f->digests && !fs->md[i])
        ok = (fs->md[i] = EVP_MD_CTX_new()) != NULL;
    struct xfer *x = ok ? calloc(1, sizeof(*x)) : NULL;
    if (x)
        x->h = curl_easy_init();
    if (x && !fs->lanes && f->digests)
        x->md = EVP_DigestInit_ex(fs->md[i], EVP_sha256(), NULL) ? fs->md[i] : NULL;
    if (!x || !x->h || (!fs->lanes && f->digests && !x->md)) {
        if (x && x->h)
            curl_easy_cleanup(x->h);
        free(x);
        fail(f, 503, "out of memory for a transfer");
        return;
    }
    x->buf = fs->buf[i];
    x->f = f;
    x->k = k;
    x->start_ns = mono_ns();
    x->off = (uint64_t)k * UC_BLOCK_SIZE;
    x->len = block_len(f, k);
    char range[64];
    snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)x->off,
             (unsigned long long)(x->off + x->len - 1));
    CURL *h = x->h;
    curl_easy_setopt(h, CURLOPT_URL, f->url);
    curl_easy_setopt(h, CURLOPT_RANGE, range);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, FLOOR_BPS);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, FLOOR_SECS);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "updcached-fill/1");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);
    /* A block in few reads: the default 16 KiB meant 64 recv and poll calls per block. */
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
    if (fs->up.resolve)
        curl_easy_setopt(h, CURLOPT_RESOLVE, fs->up.resolve);
    x->slot = i;
    fs->slot[i] = x;
    curl_multi_add_handle(fs->multi, h);
    f->state[k] = B_FETCHING;
    f->transfers++;
    fs->transfers++;
    atomic_fetch_add(&f->refs, 1); /* the transfer's: a failed fill stays until it is gone */
}

static void end_transfer(struct uc_fills *fs, struct xfer *x)
{
    fs->slot[x->slot] = NULL;
    if (x->h) {
        curl_multi_remove_handle(fs->multi, x->h);
        curl_easy_cleanup(x->h);
    }
    x->f->transfers--;
    fs->transfers--;
    if (x->f->state[x->k] == B_FETCHING)
        x->f->state[x->k] = B_MISSING;
    uc_fill_release(x->f);
    free(x); /* the buffer stays with its slot */
}

/* End the transfers of one fill (only) or of all (NULL). One whose block is on a lane
 * ends when the lane gives it back (its buffer is in use there). */
static void drop_transfers(struct uc_fills *fs, struct uc_fill *only)
{
    for (unsigned i = 0; i < TOTAL; i++)
        if (fs->slot[i] && !fs->slot[i]->verifying && (!only || fs->slot[i]->f == only))
            end_transfer(fs, fs->slot[i]);
}

/*
 * Which block to fetch next: one a waiting client needs, or one of the few after it;
 * else, when no client waits, the next in order. While a client waits nothing else is
 * started: on a slow link every other transfer would share the bandwidth its block needs.
 */
static bool pick(struct uc_fills *fs, struct uc_fill *f, size_t *out)
{
    pthread_mutex_lock(&fs->mu);
    unsigned w = 0;
    if (!f->digests) /* nothing is ready before the whole file is: wants do not matter */
        f->nwant = 0;
    for (unsigned i = 0; i < f->nwant; i++) /* drop the wants that are done */
        if (f->want[i] < f->nblocks && f->state[f->want[i]] != B_DONE)
            f->want[w++] = f->want[i];
    f->nwant = w;
    /* The first block comes alone: its client's first byte waits for it. On a slow link
     * the blocks a client waits for come one at a time too (parallel transfers would
     * share the bandwidth the next byte needs); on a fast one, PER_FILL of them. */
    size_t ahead = !f->first_done || f->slow ? 1 : PER_FILL;
    for (unsigned i = 0; i < f->nwant; i++) {
        for (size_t k = f->want[i]; k < f->nblocks && k < f->want[i] + ahead; k++) {
            if (f->state[k] == B_MISSING) {
                pthread_mutex_unlock(&fs->mu);
                *out = k;
                return true;
            }
        }
    }
    pthread_mutex_unlock(&fs->mu);
    if (w)
        return false;
    while (f->cursor < f->nblocks && f->state[f->cursor] != B_MISSING)
        f->cursor++;
    size_t k = f->cursor;
    if (k >= f->nblocks) /* behind the cursor: a block that failed and is missing again */
        for (k = 0; k < f->nblocks && f->state[k] != B_MISSING; k++)
            ;
    *out = k;
    return k < f->nblocks;
}

static bool whole_matches(const struct uc_fill *f)
{
    return f->dg.size == f->rec.size && !memcmp(f->dg.sha1, f->rec.sha1, UC_SHA1_LEN) &&
           !memcmp(f->dg.sha256, f->rec.sha256, UC_SHA256_LEN);
}

/* The whole file's digests, then, when they match, its fsync (SPEC §4: on the disk
 * before it is published). Without block digests nothing was released yet: it is now. */
static void pass_work(struct uc_fill *f)
{
    f->pass_rc = uc_hash_fd_split(f->fd, &f->dg);
    f->sync_errno = 0;
    if (f->pass_rc || !whole_matches(f))
        return;
    if (!f->digests) {
        for (size_t k = 0; k < f->nblocks; k++)
            mark_ready(f, k);
        uc_metrics_add(&f->fs->c->first_byte_ns_sum, (uint64_t)(mono_ns() - f->start_ns));
        uc_metrics_inc(&f->fs->c->first_byte_count);
        notify(f->fs);
    }
    if (fsync(f->fd))
        f->sync_errno = errno;
}

/*
 * Off the fill thread, so other fills go on receiving meanwhile (a 1 GiB pass takes about
 * a second). When every block was released as it matched, nobody waits for this pass
 * (the part file serves until the publish), while the clients are still being sent the
 * tail on the same cores: it runs at a lower priority, so serving goes first. Nice 10,
 * not 19: on a core saturated by serving it still gets about a tenth, so the publish
 * comes in seconds, not minutes. Nice is per thread on Linux and the pass's SHA-256
 * helper inherits it; lowering it needs no privilege (raising it back would), hence a
 * thread per pass. Without block digests the clients wait for it: normal priority.
 */
static void *pass_run(void *arg)
{
    struct uc_fill *f = arg;
    struct uc_fills *fs = f->fs;
    if (f->digests)
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), PASS_NICE);
    pass_work(f);
    pthread_mutex_lock(&fs->vmu);
    f->next_passed = fs->passed;
    fs->passed = f;
    pthread_mutex_unlock(&fs->vmu);
    curl_multi_wakeup(fs->multi);
    return NULL;
}

static void publish_passed(struct uc_fills *fs, struct uc_fill *f);

/* Every block is here: the whole-file pass, then publish_passed(). */
static void finish(struct uc_fills *fs, struct uc_fill *f)
{
    f->passing = true;
    if (pthread_create(&f->pass, NULL, pass_run, f) == 0)
        return;
    f->passing = false; /* no thread to be had: on this one */
    pass_work(f);
    publish_passed(fs, f);
}

/* The whole-file pass is done: publish the file (SPEC §4), or quarantine it. */
static void publish_passed(struct uc_fills *fs, struct uc_fill *f)
{
    if (f->pass_rc) {
        fail(f, 503, "tmp/%s: reading it back: %s", f->tmp_name, strerror(-f->pass_rc));
        return;
    }
    const struct uc_digest *dg = &f->dg;
    if (!whole_matches(f)) {
        char e1[41], a1[41], e256[65], a256[65];
        uc_hex_encode(f->rec.sha1, UC_SHA1_LEN, e1, true);
        uc_hex_encode(dg->sha1, UC_SHA1_LEN, a1, true);
        uc_hex_encode(f->rec.sha256, UC_SHA256_LEN, e256, false);
        uc_hex_encode(dg->sha256, UC_SHA256_LEN, a256, false);
        uc_metrics_inc(&fs->c->block_failures);
        struct uc_staged s = {.fd = dup(f->fd), .dg = *dg, .evictable = true};
        snprintf(s.tmp_name, sizeof(s.tmp_name), "%s", f->tmp_name);
        snprintf(s.suffix, sizeof(s.suffix), "%s", f->rec.suffix);
        char reason[1400];
        snprintf(reason, sizeof(reason),
                 "filled from %s: %llu bytes, SHA-1 %s, SHA-256 %s; the signed record says "
                 "%llu bytes, SHA-1 %s, SHA-256 %s",
                 f->url, (unsigned long long)dg->size, a1, a256, (unsigned long long)f->rec.size,
                 e1, e256);
        if (s.fd >= 0)
            uc_store_quarantine_staged(fs->st, &s, reason);
        fail(f, 502, "%s; quarantined", reason);
        return;
    }
    struct uc_staged s = {.fd = dup(f->fd), .dg = *dg, .evictable = true};
    snprintf(s.tmp_name, sizeof(s.tmp_name), "%s", f->tmp_name);
    snprintf(s.suffix, sizeof(s.suffix), "%s", f->rec.suffix);
    struct uc_errbuf eb = {{0}};
    int bad = s.fd < 0 ? errno : f->sync_errno;
    if (bad)
        snprintf(eb.msg, sizeof(eb.msg), "%s: %s", s.fd < 0 ? "dup" : "fsync", strerror(bad));
    if (bad || uc_store_publish(fs->st, &s, 1, NULL, NULL, &eb)) {
        if (!eb.msg[0])
            snprintf(eb.msg, sizeof(eb.msg), "%s", strerror(errno));
        fprintf(stderr,
                "updcached: fill Content/%s: verified but not published: %s; it is served "
                "from tmp/%s until the fill is dropped\n",
                f->name, eb.msg, f->tmp_name);
        if (s.fd >= 0)
            close(s.fd);
    } else {
        uc_metrics_inc(&fs->c->published);
    }
    atomic_store_explicit(&f->outcome, 1, memory_order_release);
    atomic_fetch_sub_explicit(&fs->c->active, 1, memory_order_relaxed);
    notify(fs);
}

/* On a lane: the block against its signed digest, and, when it matches, into the part
 * file; then back to the fill thread. */
static void check_block(struct uc_lane_job *j)
{
    struct xfer *x = j->arg;
    struct uc_fill *f = x->f;
    if (x->buf) {
        x->matched = !f->digests || block_matches(f, x->k, x->buf, x->len, x->digest);
        x->wrc = x->matched ? uc_pwrite_all(f->fd, x->buf, x->len, x->off) : 0;
    } else { /* hashed and written as it came (body_cb) */
        unsigned gl = 0;
        x->matched = !f->digests || (EVP_DigestFinal_ex(x->md, x->digest, &gl) == 1 &&
                                     signed_digest_is(f, x->k, x->digest));
        x->wrc = 0;
    }
    struct uc_fills *fs = f->fs;
    pthread_mutex_lock(&fs->vmu);
    x->next_verified = fs->verified;
    fs->verified = x;
    pthread_mutex_unlock(&fs->vmu);
    curl_multi_wakeup(fs->multi);
}

/* A block failed (problem says how): fetch it again, or fail the fill past BLOCK_TRIES. */
static void block_failed(struct uc_fills *fs, struct xfer *x, const char *problem)
{
    struct uc_fill *f = x->f;
    unsigned t = ++f->tries[x->k];
    fprintf(stderr, "updcached: fill Content/%s: block %zu (bytes %llu-%llu) from %s: %s%s\n",
            f->name, x->k, (unsigned long long)x->off, (unsigned long long)(x->off + x->len - 1),
            f->url, problem, t < BLOCK_TRIES ? "; fetching it again" : "");
    size_t k = x->k;
    end_transfer(fs, x);
    if (t >= BLOCK_TRIES)
        fail(f, 502, "block %zu failed %u times; last: %s", k, t, problem);
    else
        f->retry_at_ns = mono_ns() + (int64_t)t * 250000000;
}

/* The block is checked and written (check_block): release it, or fetch it again. */
static void on_checked(struct uc_fills *fs, struct xfer *x)
{
    struct uc_fill *f = x->f;
    x->verifying = false;
    if (atomic_load(&f->outcome) != 0) {
        end_transfer(fs, x);
        return;
    }
    if (!x->matched) {
        char e[65], a[65], problem[200];
        uc_hex_encode(f->digests + x->k * UC_SHA256_LEN, UC_SHA256_LEN, e, false);
        uc_hex_encode(x->digest, UC_SHA256_LEN, a, false);
        snprintf(problem, sizeof(problem), "SHA-256 %s, the signed block list says %s", a, e);
        uc_metrics_inc(&fs->c->block_failures);
        block_failed(fs, x, problem);
        return;
    }
    if (x->wrc) {
        int wrc = x->wrc;
        end_transfer(fs, x);
        fail(f, 503, "tmp/%s: writing: %s", f->tmp_name, strerror(-wrc));
        return;
    }
    f->state[x->k] = B_DONE;
    f->ndone++;
    f->slow = mono_ns() - x->start_ns > SLOW_BLOCK_NS;
    uc_metrics_add(&fs->c->bytes, x->len);
    if (f->digests) {
        mark_ready(f, x->k);
        if (!f->first_done) {
            f->first_done = true;
            uc_metrics_add(&fs->c->first_byte_ns_sum, (uint64_t)(mono_ns() - f->start_ns));
            uc_metrics_inc(&fs->c->first_byte_count);
        }
        notify(fs);
    }
    end_transfer(fs, x);
    if (f->ndone == f->nblocks)
        finish(fs, f);
}

static void on_done(struct uc_fills *fs, CURLMsg *msg)
{
    struct xfer *x = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
    struct uc_fill *f = x->f;
    long code = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
    CURLcode res = msg->data.result;
    if (atomic_load(&f->outcome) != 0) {
        end_transfer(fs, x);
        return;
    }
    bool whole = code == 200 && x->off == 0 && x->len == f->rec.size;
    char problem[CURL_ERROR_SIZE + 128] = "";
    if (x->inline_wrc) {
        int wrc = x->inline_wrc;
        end_transfer(fs, x);
        fail(f, 503, "tmp/%s: writing: %s", f->tmp_name, strerror(-wrc));
        return;
    }
    if (res != CURLE_OK)
        snprintf(problem, sizeof(problem), "%s", x->err[0] ? x->err : curl_easy_strerror(res));
    else if (code != 206 && !whole)
        snprintf(problem, sizeof(problem), "HTTP %ld (206 expected)", code);
    else if (x->got != x->len)
        snprintf(problem, sizeof(problem), "%llu bytes (%llu expected)", (unsigned long long)x->got,
                 (unsigned long long)x->len);
    if (problem[0]) {
        block_failed(fs, x, problem);
        return;
    }
    /* The bytes are in: the connection is done with, the block goes to its lane. */
    curl_multi_remove_handle(fs->multi, x->h);
    curl_easy_cleanup(x->h);
    x->h = NULL;
    x->verifying = true;
    x->job = (struct uc_lane_job){.fn = check_block, .arg = x};
    if (fs->lanes) {
        uc_lane_push(&fs->lane[x->slot], &x->job);
        return;
    }
    check_block(&x->job);
}

/* What the lanes and the whole-file passes gave back. */
static void take_checked(struct uc_fills *fs)
{
    pthread_mutex_lock(&fs->vmu);
    struct xfer *x = fs->verified;
    fs->verified = NULL;
    struct uc_fill *f = fs->passed;
    fs->passed = NULL;
    pthread_mutex_unlock(&fs->vmu);
    while (x) {
        struct xfer *next = x->next_verified;
        on_checked(fs, x);
        x = next;
    }
    while (f) {
        struct uc_fill *next = f->next_passed;
        pthread_join(f->pass, NULL);
        f->passing = false;
        publish_passed(fs, f);
        f = next;
    }
}

/* Take ended fills out of the registry (their clients keep them until they are done). */
static void reap(struct uc_fills *fs)
{
    pthread_mutex_lock(&fs->mu);
    for (struct uc_fill **pp = &fs->list; *pp;) {
        struct uc_fill *f = *pp;
        if (atomic_load(&f->outcome) != 0) {
            *pp = f->next;
            uc_fill_release(f);
        } else {
            pp = &f->next;
        }
    }
    pthread_mutex_unlock(&fs->mu);
}

/* Start what the running fills can use of the free transfer slots. */
static void schedule(struct uc_fills *fs, int64_t now)
{
    pthread_mutex_lock(&fs->mu);
    struct uc_fill *head = fs->list;
    pthread_mutex_unlock(&fs->mu);
    for (struct uc_fill *f = head; f; f = f->next) {
        if (atomic_load(&f->outcome) != 0)
            continue;
        if (!f->set_up) {
            set_up(fs, f);
            if (atomic_load(&f->outcome) != 0)
                continue;
            if (f->ndone)
                notify(fs); /* blocks kept from before are ready now */
            if (f->ndone == f->nblocks) {
                finish(fs, f);
                continue;
            }
        }
        if (now < f->retry_at_ns)
            continue;
        size_t k;
        while (fs->transfers < TOTAL && f->transfers < PER_FILL && pick(fs, f, &k) &&
               atomic_load(&f->outcome) == 0)
            start_block(fs, f, k);
    }
}

static void *run(void *arg)
{
    struct uc_fills *fs = arg;
    while (!atomic_load(&fs->stop)) {
        int64_t now = mono_ns();
        reap(fs);
        schedule(fs, now);
        int running = 0;
        curl_multi_perform(fs->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(fs->multi, &left)))
            if (msg->msg == CURLMSG_DONE)
                on_done(fs, msg);
        take_checked(fs);
        /* Woken by joins and wants (curl_multi_wakeup); the timeout covers retries. */
        curl_multi_poll(fs->multi, NULL, 0, 250, NULL);
    }
    return NULL;
}

int uc_fills_start(struct uc_daemon *d, struct uc_fills **out, char *err, size_t errlen)
{
    *out = NULL;
    const struct uc_config *cfg = &d->boot->cfg;
    if (!cfg->fill_on_demand || !cfg->upstream_url)
        return 0;
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any other thread uses libcurl */
    struct uc_fills *fs = calloc(1, sizeof(*fs));
    if (!fs) {
        snprintf(err, errlen, "fill: out of memory");
        return -1;
    }
    struct uc_errbuf eb = {{0}};
    if (uc_upstream_init(&fs->up, cfg, &eb)) {
        snprintf(err, errlen, "fill = on-demand: %s", eb.msg);
        free(fs);
        return -1;
    }
    fs->d = d;
    fs->st = d->store;
    fs->c = &d->fillc;
    pthread_mutex_init(&fs->mu, NULL);
    pthread_mutex_init(&fs->vmu, NULL);
    /* On one core a lane only adds a hand-off per block: bench/run fill (the front pinned
     * to a core) took 1.00 s for case a with lanes, 0.69 s without. */
    if (uc_ncpu() < 2 || uc_lanes_start(0, &fs->lanes))
        fs->lanes = NULL; /* blocks are then checked on the fill thread */
    for (unsigned i = 0; fs->lanes && i < TOTAL; i++)
        uc_lane_init(&fs->lane[i], fs->lanes);
    fs->multi = curl_multi_init();
    if (!fs->multi || pthread_create(&fs->thread, NULL, run, fs)) {
        snprintf(err, errlen, "fill: cannot start the fill thread");
        if (fs->multi)
            curl_multi_cleanup(fs->multi);
        uc_lanes_stop(fs->lanes);
        uc_upstream_free(&fs->up);
        free(fs);
        return -1;
    }
    *out = fs;
    return 0;
}

void uc_fills_stop(struct uc_fills *fs)
{
    if (!fs)
        return;
    atomic_store(&fs->stop, 1);
    curl_multi_wakeup(fs->multi);
    pthread_join(fs->thread, NULL);
    uc_lanes_stop(fs->lanes); /* the blocks on lanes are checked and given back */
    fs->lanes = NULL;
    for (struct xfer *x = fs->verified; x; x = x->next_verified)
        x->verifying = false;
    fs->verified = NULL;
    drop_transfers(fs, NULL);
    for (struct uc_fill *f = fs->list, *n; f; f = n) {
        n = f->next;
        /* A pass still running is waited for, not published: the next start resumes
         * the part file, its blocks verified again. */
        if (f->passing)
            pthread_join(f->pass, NULL);
        uc_fill_release(f);
    }
    curl_multi_cleanup(fs->multi);
    for (unsigned i = 0; i < TOTAL; i++) {
        free(fs->buf[i]);
        EVP_MD_CTX_free(fs->md[i]);
    }
    uc_upstream_free(&fs->up);
    pthread_mutex_destroy(&fs->mu);
    pthread_mutex_destroy(&fs->vmu);
    free(fs);
}
