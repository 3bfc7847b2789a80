/*
 * Client reports: validation, the queue and its writer thread (see reports.h).
 */
#include "reports.h"

#include "meta.h"
#include "textbuf.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 256

int uc_report_build(enum uc_report_kind kind, const char *peer, bool tls, const char *body,
                    size_t len, char **out, size_t *out_len, char *detail, size_t dcap)
{
    json_error_t je;
    json_t *rep = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!rep) {
        snprintf(detail, dcap, "body is not valid JSON: %s (line %d, column %d)", je.text, je.line,
                 je.column);
        return 400;
    }
    const char *why = NULL;
    json_t *client = json_object_get(rep, "client"), *events = json_object_get(rep, "events");
    if (!json_is_object(rep))
        why = "body must be a JSON object";
    else if (!json_is_string(client) || !json_string_length(client))
        why = "\"client\" must be a non-empty string";
    else if (kind == UC_REPORT_EVENTS && !json_is_array(events))
        why = "\"events\" must be an array";
    else if (kind == UC_REPORT_EVENTS && json_array_size(events) > UC_REPORT_EVENTS_MAX)
        why = "more than 1000 events in one report";
    if (why) {
        snprintf(detail, dcap, "%s", why);
        json_decref(rep);
        return 400;
    }
    json_decref(rep);
    /* The body goes in as received: it was validated, and jansson writing it again would
     * grow every number to full precision (0.1 as 0.10000000000000001). */
    char when[40];
    uc_rfc3339_now(when);
    json_t *p = json_string(peer);
    char *peer_json = p ? json_dumps(p, JSON_ENCODE_ANY) : NULL;
    json_decref(p);
    struct uc_text t = {0};
    uc_text_put(&t, "{\"kind\":\"%s\",\"received\":\"%s\",\"peer\":%s,\"port\":\"%s\",\"report\":",
                kind == UC_REPORT_EVENTS ? "events" : "inventory", when,
                peer_json ? peer_json : "\"-\"", tls ? "https" : "http");
    free(peer_json);
    uc_text_append(&t, body, len);
    uc_text_append(&t, "}", 1);
    char *s = uc_text_take(&t, out_len);
    if (!s) {
        snprintf(detail, dcap, "out of memory");
        return 503;
    }
    *out = s;
    return 0;
}

struct item {
    char *rec;
    size_t len;
};

struct uc_reports {
    struct uc_index *ix;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct item *q; /* ring of cap items */
    size_t cap, head, n;
    size_t bytes; /* of the records queued or being written: at most UC_REPORTS_QUEUE_BYTES */
    bool stop;
    int64_t keep; /* seconds */
    _Atomic uint64_t stored, pruned;
};

/* b[0..n) in one transaction, old reports pruned first to make room. */
static int write_txn(struct uc_reports *r, const struct item *b, size_t n, size_t *pruned)
{
    MDB_txn *txn;
    uint64_t bytes = 0, budget = uc_index_map_size(r->ix) / UC_INDEX_REPORTS_SHARE;
    for (size_t i = 0; i < n; i++)
        bytes += b[i].len + 64;
    int rc = uc_index_begin(r->ix, true, &txn);
    /* Room first, in the same transaction: old reports go before new ones are added. */
    if (!rc)
        rc = uc_index_prune_reports(r->ix, txn, (int64_t)time(NULL) - r->keep,
                                    budget > bytes ? budget - bytes : 0, pruned);
    for (size_t i = 0; !rc && i < n; i++)
        rc = uc_index_put_report(r->ix, txn, b[i].rec, b[i].len, NULL);
    if (!rc)
        return uc_index_commit(txn);
    uc_index_abort(txn);
    return rc;
}

/*
 * The pages a transaction's prune frees are reused only by later ones, so a full batch
 * (BATCH reports of a flood, queued while the writer was behind) could need more map
 * than is free and fill it, losing the whole batch (it_operator's flood, now and then
 * on a loaded machine). A full map: the batch again in two halves, each its own
 * transaction, down to one report.
 */
static void store_items(struct uc_reports *r, const struct item *b, size_t n)
{
    size_t pruned = 0;
    int rc = write_txn(r, b, n, &pruned);
    if (rc == MDB_MAP_FULL && n > 1) {
        store_items(r, b, n / 2);
        store_items(r, b + n / 2, n - n / 2);
        return;
    }
    if (rc) {
        fprintf(stderr, "updcached: %zu client report(s) lost: cannot write the index: %s%s\n", n,
                uc_strerror(rc), uc_index_hint(rc));
        return;
    }
    atomic_fetch_add(&r->stored, n);
    atomic_fetch_add(&r->pruned, pruned);
}

static void write_batch(struct uc_reports *r, struct item *b, size_t n)
{
    store_items(r, b, n);
    size_t freed = 0;
    for (size_t i = 0; i < n; i++) {
        freed += b[i].len;
        free(b[i].rec);
    }
    pthread_mutex_lock(&r->mu);
    r->bytes -= freed;
    pthread_mutex_unlock(&r->mu);
}

static void *writer(void *arg)
{
    struct uc_reports *r = arg;
    struct item batch[BATCH];
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->n && !r->stop)
            pthread_cond_wait(&r->cv, &r->mu);
        if (!r->n && r->stop)
            break;
        size_t n = 0;
        while (r->n && n < BATCH) {
            batch[n++] = r->q[r->head];
            r->head = (r->head + 1) % r->cap;
            r->n--;
        }
        pthread_mutex_unlock(&r->mu);
        write_batch(r, batch, n);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int uc_reports_start(struct uc_index *ix, size_t max_queued, uint64_t keep_secs,
                     struct uc_reports **out)
{
    struct uc_reports *r = calloc(1, sizeof(*r));
    if (!r || !(r->q = calloc(max_queued, sizeof(*r->q)))) {
        free(r);
        return -ENOMEM;
    }
    r->ix = ix;
    r->cap = max_queued;
    r->keep = (int64_t)keep_secs;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    int rc = pthread_create(&r->thread, NULL, writer, r);
    if (rc) {
        free(r->q);
        free(r);
        return -rc;
    }
    *out = r;
    return 0;
}

bool uc_reports_push(struct uc_reports *r, char *record, size_t len)
{
    pthread_mutex_lock(&r->mu);
    bool ok = r->n < r->cap && !r->stop && r->bytes + len <= UC_REPORTS_QUEUE_BYTES;
    if (ok) {
        r->bytes += len;
        r->q[(r->head + r->n) % r->cap] = (struct item){record, len};
        r->n++;
        pthread_cond_signal(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

uint64_t uc_reports_stored(struct uc_reports *r)
{
    return atomic_load(&r->stored);
}

void uc_reports_stop(struct uc_reports *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->q);
    free(r);
}
