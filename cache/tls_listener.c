/*
 * The TLS companion listener: see tls_listener.h.
 */
#include "tls_listener.h"

#include "api.h"
#include "fsutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DRAIN_SECONDS 30 /* an old instance's connections get this long after a reload */
#define MAX_OLD 8        /* old instances still draining */
#define TICK_MS 250

struct pending {
    int fd;
    int64_t deadline_ns;
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

struct old_mhd {
    struct MHD_Daemon *mhd;
    int64_t deadline_ns;
};

struct uc_tls {
    struct uc_daemon *d;
    pthread_t thread;
    int epfd, efd;
    int lfd, port;
    struct MHD_Daemon *mhd;
    struct old_mhd old[MAX_OLD];
    /* Connections waiting for their first byte, at most [server] max_connections: past
     * that the oldest gives way (a silent flood cannot lock the port). */
    struct pending *pend;
    unsigned npend, pend_cap;
    char listen_now[64];  /* the address the listener is bound to */
    char https_base[300]; /* for the plain-request 400 */
    /* A reload hands over here; the thread takes it at its next wake-up. */
    pthread_mutex_t mu;
    struct MHD_Daemon *next_mhd;
    int next_lfd, next_port;
    int port_now; /* the port reload() committed to, before the thread takes it over */
    char next_base[300];
    bool stop;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- libmicrohttpd side ---- */

struct body {
    char *data;
    size_t len;
    bool too_large;
    const char *framing; /* static text: why the request is refused, or NULL */
};

/* Keep the URL as received: route.c does the decoding and refuses the unsafe forms. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* One of the live settings' timeouts, read under the reload lock. */
static unsigned live_timeout(struct uc_daemon *d, bool head)
{
    pthread_rwlock_rdlock(&d->live_lock);
    const struct uc_settings *s = atomic_load(&d->live);
    unsigned v = (unsigned)(head ? s->cfg.header_timeout : s->cfg.keepalive_timeout);
    pthread_rwlock_unlock(&d->live_lock);
    return v;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)socket_context;
    struct uc_daemon *d = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&d->tls_connections, 1);
        /* The handshake and the first head get header_timeout (SPEC §3, §6): a stalled
         * handshake is cut like a silent connection. on_request lengthens it. */
        MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, live_timeout(d, true));
    } else {
        atomic_fetch_sub(&d->tls_connections, 1);
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct body *b = *req_cls;
    if (b) {
        free(b->data);
        free(b);
        *req_cls = NULL;
    }
}

static void peer_text(struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "-");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

/* The request target again: libmicrohttpd passes the path and the arguments apart. */
static void rebuild_target(struct MHD_Connection *c, const char *url, char *out, size_t cap)
{
    const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    snprintf(out, cap, "%s%s%s%s%s%s%s", url, since || limit ? "?" : "", since ? "since=" : "",
             since ? since : "", since && limit ? "&" : "", limit ? "limit=" : "",
             limit ? limit : "");
}

/*
 * A response body handed to libmicrohttpd piece by piece, so that /metrics counts the
 * bytes it took to send (none for HEAD, only the part sent of a download that was cut),
 * not the size it was promised.
 */
struct body_src {
    int fd;     /* a SelfUpdate file, or -1 */
    char *data; /* or a body in memory, owned */
    _Atomic uint64_t *sent;
};

static ssize_t body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct body_src *b = cls;
    ssize_t n;
    if (b->fd >= 0) {
        n = pread(b->fd, buf, max, (off_t)pos);
        if (n <= 0)
            return MHD_CONTENT_READER_END_WITH_ERROR; /* shorter than it was: cut */
    } else {
        n = (ssize_t)max; /* libmicrohttpd never asks past the size given */
        memcpy(buf, b->data + pos, max);
    }
    uc_metrics_add(b->sent, (uint64_t)n);
    return n;
}

static void body_free(void *cls)
{
    struct body_src *b = cls;
    if (b->fd >= 0)
        close(b->fd);
    free(b->data);
    free(b);
}

static enum MHD_Result respond(struct uc_daemon *d, struct MHD_Connection *c, struct uc_api_resp *r,
                               bool then_close)
{
    struct MHD_Response *resp = NULL;
    bool file = r->fd >= 0;
    struct body_src *src = malloc(sizeof(*src));
    if (!src)
        return MHD_NO;
    /* Takes the body over: a page of envelopes is not copied again before it is sent. */
    *src = (struct body_src){file ? r->fd : -1, file ? NULL : r->body,
                             &d->shards[d->nworkers]->body_bytes[UC_PORT_HTTPS]};
    resp = MHD_create_response_from_callback(file ? r->size : r->len, 64 * 1024, body_read, src,
                                             body_free);
    if (!resp) {
        free(src);
        return MHD_NO;
    }
    r->fd = -1; /* the response owns them now */
    r->body = NULL;
    MHD_add_response_header(resp, "Server", "updcache");
    MHD_add_response_header(resp, "Content-Type", r->content_type);
    MHD_add_response_header(resp, "Cache-Control",
                            file || r->page || r->status != 200 ? "no-store" : "no-cache");
    if (r->hname)
        MHD_add_response_header(resp, r->hname, r->hvalue);
    if (r->page) { /* nothing but the page itself: no script, no outside request */
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'none'; style-src 'unsafe-inline'; "
                                "img-src 'self' data:; form-action 'none'; "
                                "frame-ancestors 'none'; base-uri 'none'");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    }
    if (then_close) /* the rest of the stream cannot be trusted to be a next request */
        MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    uc_metrics_request(d->shards[d->nworkers], UC_PORT_HTTPS, r->root, r->status, 0);
    return ok;
}

struct framing {
    unsigned lengths, encodings;
    const char *first_len;
    bool lengths_differ;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    struct framing *f = cls;
    if (!strcasecmp(key, "Content-Length")) {
        if (f->lengths++ && strcmp(value ? value : "", f->first_len ? f->first_len : ""))
            f->lengths_differ = true;
        if (f->lengths == 1)
            f->first_len = value;
    } else if (!strcasecmp(key, "Transfer-Encoding")) {
        f->encodings++;
    }
    return MHD_YES;
}

/* The plain port's rule (SPEC §3): one way to find the end of a body, or a 400. */
static const char *framing_problem(struct MHD_Connection *c)
{
    struct framing f = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
    if (f.lengths && f.encodings)
        return "both Content-Length and Transfer-Encoding";
    if (f.lengths_differ)
        return "Content-Length given twice with different values";
    return NULL;
}

/* The whole request is here (or refused early): answer it. */
static enum MHD_Result answer(struct uc_daemon *d, struct MHD_Connection *c, const char *url,
                              const char *method, const struct body *b)
{
    char target[UC_ROUTE_PATH_MAX + 96], peer[64];
    rebuild_target(c, url, target, sizeof(target));
    peer_text(c, peer, sizeof(peer));
    struct uc_api_req q = {
        .method = method,
        .target = target,
        .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
        .peer = peer,
        .body = b->data,
        .body_len = b->len,
        .body_too_large = b->too_large,
        .framing = b->framing,
    };
    pthread_rwlock_rdlock(&d->live_lock);
    struct uc_api_resp r;
    uc_api_handle(d, atomic_load(&d->live), &q, &r);
    pthread_rwlock_unlock(&d->live_lock);
    enum MHD_Result ok = respond(d, c, &r, b->framing != NULL);
    uc_api_resp_free(&r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)version;
    struct uc_daemon *d = cls;
    struct body *b = *req_cls;
    if (!b) { /* the head: wait for the body, if any */
        if (!(b = calloc(1, sizeof(*b))))
            return MHD_NO;
        *req_cls = b;
        if ((b->framing = framing_problem(c)))
            return answer(d, c, url, method, b); /* now: the body cannot be read safely */
        /* From here on, silence is a slow sender or keep-alive: keepalive_timeout. */
        MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, live_timeout(d, false));
        return MHD_YES;
    }
    if (b->framing) { /* answered already: whatever follows is not read */
        *upload_data_size = 0;
        return MHD_YES;
    }
    pthread_rwlock_rdlock(&d->live_lock);
    const struct uc_settings *s = atomic_load(&d->live);
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (b->too_large || b->len + n > s->cfg.max_body_bytes) {
            b->too_large = true; /* keep reading, then answer 413 */
        } else {
            char *p = realloc(b->data, b->len + n + 1);
            if (!p) {
                pthread_rwlock_unlock(&d->live_lock);
                return MHD_NO;
            }
            memcpy(p + b->len, upload_data, n);
            b->data = p;
            b->len += n;
            b->data[b->len] = 0;
        }
        *upload_data_size = 0;
        pthread_rwlock_unlock(&d->live_lock);
        return MHD_YES;
    }
    pthread_rwlock_unlock(&d->live_lock);
    return answer(d, c, url, method, b);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fprintf(stderr, "updcached: tls: ");
    vfprintf(stderr, fmt, ap);
}

static struct MHD_Daemon *mhd_new(struct uc_daemon *d, const struct uc_settings *s, char *err,
                                  size_t errlen)
{
    char *cert = NULL, *key = NULL;
    size_t n, keylen = 0;
    int rc = uc_read_file(s->cfg.tls_cert, 1 << 20, &cert, &n);
    const char *which = s->cfg.tls_cert;
    if (!rc) {
        which = s->cfg.tls_key;
        rc = uc_read_file(s->cfg.tls_key, 1 << 20, &key, &keylen);
    }
    if (rc) {
        snprintf(err, errlen, "[tls] %s: %s", which, strerror(-rc));
        free(cert);
        return NULL;
    }
    unsigned threads = d->nworkers < 2 ? 2 : d->nworkers;
    struct MHD_Daemon *m = MHD_start_daemon(
        MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
            MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, d, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_PRIORITIES,
        UC_TLS_PRIORITIES, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT,
        /* Its idle timeout spans a whole connection, sending included: header_timeout
         * there cut slow downloads. Until the first head it is header_timeout again, per
         * connection (on_connection). */
        (unsigned)s->cfg.keepalive_timeout, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)s->cfg.max_connections, MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, d, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        NULL, MHD_OPTION_END);
    /* libmicrohttpd has parsed the PEM by now. */
    OPENSSL_cleanse(key, keylen);
    free(key);
    free(cert);
    if (!m)
        snprintf(err, errlen,
                 "the TLS listener did not start with [tls] cert %s and key %s (see the "
                 "message above: a certificate or key that GnuTLS cannot load?)",
                 s->cfg.tls_cert, s->cfg.tls_key);
    return m;
}

/* ---- the accepting thread ---- */

static void https_base(const struct uc_settings *s, int port, char *out, size_t cap)
{
    uc_url_base(out, cap, true, s->cfg.name, port);
}

static void drop_pending(struct uc_tls *t, unsigned i)
{
    epoll_ctl(t->epfd, EPOLL_CTL_DEL, t->pend[i].fd, NULL);
    t->pend[i] = t->pend[--t->npend];
}

/* Plain HTTP on the TLS port: say so, once, and close. */
static void refuse_plain(struct uc_tls *t, int fd)
{
    char msg[600];
    int body =
        snprintf(msg + 300, 300, "400 Bad Request: this is the TLS port; use %s\n", t->https_base);
    int n = snprintf(msg, 300,
                     "HTTP/1.1 400 Bad Request\r\nServer: updcache\r\nContent-Type: text/plain; "
                     "charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
                     body);
    memmove(msg + n, msg + 300, (size_t)body);
    (void)!send(fd, msg, (size_t)(n + body), MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
    uc_metrics_inc(&t->d->shards[t->d->nworkers]->tls_plain_refused);
}

static void first_byte(struct uc_tls *t, unsigned i)
{
    struct pending p = t->pend[i];
    unsigned char b;
    ssize_t n = recv(p.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    drop_pending(t, i);
    if (n == 1 && b == 0x16) { /* a TLS handshake record */
        if (MHD_add_connection(t->mhd, p.fd, (struct sockaddr *)&p.addr, p.addrlen) != MHD_YES)
            fprintf(stderr, "updcached: tls: a connection could not be handed over: %s\n",
                    strerror(errno));
        return;
    }
    if (n == 1) {
        char peer[64] = "-";
        if (p.addr.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&p.addr)->sin_addr, peer, sizeof(peer));
        fprintf(stderr, "updcached: tls: %s: plain HTTP sent to the TLS port; answered 400\n",
                peer);
        refuse_plain(t, p.fd);
    }
    close(p.fd);
}

static bool grow_pending(struct uc_tls *t, long max)
{
    unsigned cap = t->pend_cap ? t->pend_cap * 2 : 256;
    if (cap > (unsigned long)max)
        cap = (unsigned)max;
    if (cap <= t->pend_cap)
        return false;
    struct pending *p = realloc(t->pend, cap * sizeof(*p));
    if (!p)
        return false;
    t->pend = p;
    t->pend_cap = cap;
    return true;
}

static void accept_all(struct uc_tls *t)
{
    for (;;) {
        struct pending p = {.addrlen = sizeof(p.addr)};
        p.fd =
            accept4(t->lfd, (struct sockaddr *)&p.addr, &p.addrlen, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (p.fd < 0)
            return;
        /* Read under the lock: a reload may retire these settings at any time. */
        pthread_rwlock_rdlock(&t->d->live_lock);
        const struct uc_settings *s = atomic_load(&t->d->live);
        long max = (long)s->cfg.max_connections;
        int64_t timeout_ns = (int64_t)s->cfg.header_timeout * 1000000000;
        pthread_rwlock_unlock(&t->d->live_lock);
        if (atomic_load(&t->d->tls_connections) >= max) {
            close(p.fd); /* refused at once, as on the plain port */
            continue;
        }
        if (t->npend >= (unsigned)max || (t->npend == t->pend_cap && !grow_pending(t, max))) {
            if (!t->npend) {
                close(p.fd);
                continue;
            }
            unsigned old = 0; /* the one that has been silent longest */
            for (unsigned j = 1; j < t->npend; j++)
                if (t->pend[j].deadline_ns < t->pend[old].deadline_ns)
                    old = j;
            int ofd = t->pend[old].fd;
            drop_pending(t, old);
            close(ofd);
        }
        p.deadline_ns = now_ns() + timeout_ns;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)p.fd};
        if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, p.fd, &ev)) {
            close(p.fd);
            continue;
        }
        t->pend[t->npend++] = p;
    }
}

static void retire(struct uc_tls *t, struct MHD_Daemon *m)
{
    unsigned slot = 0;
    for (unsigned i = 0; i < MAX_OLD; i++) {
        if (!t->old[i].mhd) {
            slot = i;
            break;
        }
        if (t->old[i].deadline_ns < t->old[slot].deadline_ns)
            slot = i;
    }
    /* Too many reloads at once: the oldest drain is cut short, never the newest one's
     * (its connections are the most recent). */
    if (t->old[slot].mhd)
        MHD_stop_daemon(t->old[slot].mhd);
    t->old[slot] = (struct old_mhd){m, now_ns() + (int64_t)DRAIN_SECONDS * 1000000000};
}

static void reap_old(struct uc_tls *t, bool all)
{
    int64_t now = now_ns();
    for (unsigned i = 0; i < MAX_OLD; i++) {
        struct old_mhd *o = &t->old[i];
        if (!o->mhd)
            continue;
        const union MHD_DaemonInfo *di =
            MHD_get_daemon_info(o->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (all || now > o->deadline_ns || !di || di->num_connections == 0) {
            MHD_stop_daemon(o->mhd);
            o->mhd = NULL;
        }
    }
}

/* Take what a reload prepared. */
static void take_reload(struct uc_tls *t)
{
    pthread_mutex_lock(&t->mu);
    if (t->next_mhd) {
        retire(t, t->mhd);
        t->mhd = t->next_mhd;
        t->next_mhd = NULL;
        memcpy(t->https_base, t->next_base, sizeof(t->https_base));
    }
    if (t->next_lfd >= 0) {
        epoll_ctl(t->epfd, EPOLL_CTL_DEL, t->lfd, NULL);
        close(t->lfd);
        t->lfd = t->next_lfd;
        t->port = t->next_port;
        t->next_lfd = -1;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)t->lfd};
        epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->lfd, &ev);
    }
    pthread_mutex_unlock(&t->mu);
}

static void *acceptor(void *arg)
{
    struct uc_tls *t = arg;
    for (;;) {
        struct epoll_event evs[64];
        int n = epoll_wait(t->epfd, evs, 64, TICK_MS);
        pthread_mutex_lock(&t->mu);
        bool stop = t->stop;
        pthread_mutex_unlock(&t->mu);
        if (stop)
            break;
        for (int i = 0; i < n; i++) {
            int fd = (int)evs[i].data.u64;
            if (fd == t->efd) {
                uint64_t v;
                (void)!read(t->efd, &v, sizeof(v));
                take_reload(t);
            } else if (fd == t->lfd) {
                accept_all(t);
            } else {
                for (unsigned j = 0; j < t->npend; j++)
                    if (t->pend[j].fd == fd) {
                        first_byte(t, j);
                        break;
                    }
            }
        }
        int64_t now = now_ns();
        for (unsigned j = 0; j < t->npend;) {
            if (now > t->pend[j].deadline_ns) { /* connected, never spoke */
                int fd = t->pend[j].fd;
                drop_pending(t, j);
                close(fd);
            } else {
                j++;
            }
        }
        reap_old(t, false);
    }
    return NULL;
}

/* ---- lifecycle ---- */

static void wake(struct uc_tls *t)
{
    uint64_t one = 1;
    (void)!write(t->efd, &one, sizeof(one));
}

int uc_tls_start(struct uc_daemon *d, const struct uc_settings *s, struct uc_tls **out, char *err,
                 size_t errlen)
{
    *out = NULL;
    if (!s->cfg.https_port)
        return 0;
    struct uc_tls *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->d = d;
    t->next_lfd = -1;
    t->epfd = epoll_create1(EPOLL_CLOEXEC);
    t->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&t->mu, NULL);
    t->lfd = uc_listener_new(s->cfg.listen, s->cfg.https_port, UC_LISTEN_ALONE, err, errlen);
    if (t->lfd < 0 || t->epfd < 0 || t->efd < 0 || !(t->mhd = mhd_new(d, s, err, errlen))) {
        int rc = t->lfd < 0 ? t->lfd : -EIO;
        if (t->lfd >= 0)
            close(t->lfd);
        close(t->epfd);
        close(t->efd);
        free(t);
        return rc;
    }
    t->port = t->port_now = uc_listener_port(t->lfd);
    snprintf(t->listen_now, sizeof(t->listen_now), "%s", s->cfg.listen);
    fcntl(t->lfd, F_SETFL, O_NONBLOCK); /* accept_all() takes until EAGAIN */
    https_base(s, t->port, t->https_base, sizeof(t->https_base));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)t->lfd};
    epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->lfd, &ev);
    ev.data.u64 = (uint64_t)t->efd;
    epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->efd, &ev);
    /* Accepted sockets are non-blocking for the peek; libmicrohttpd expects that too. */
    int rc = pthread_create(&t->thread, NULL, acceptor, t);
    if (rc) {
        snprintf(err, errlen, "cannot start the TLS acceptor thread");
        MHD_stop_daemon(t->mhd);
        close(t->lfd);
        close(t->epfd);
        close(t->efd);
        free(t);
        return -rc;
    }
    *out = t;
    return 0;
}

int uc_tls_port(struct uc_tls *t)
{
    pthread_mutex_lock(&t->mu);
    int p = t->port_now;
    pthread_mutex_unlock(&t->mu);
    return p;
}

int uc_tls_reload(struct uc_tls *t, const struct uc_settings *s, char *err, size_t errlen)
{
    int cur_port = uc_tls_port(t), lfd = -1, port = cur_port;
    pthread_mutex_lock(&t->mu);
    bool moved = strcmp(t->listen_now, s->cfg.listen) != 0;
    pthread_mutex_unlock(&t->mu);
    if (s->cfg.https_port != cur_port || moved) {
        lfd = uc_listener_new(s->cfg.listen, s->cfg.https_port, UC_LISTEN_ALONE, err, errlen);
        if (lfd < 0)
            return lfd;
        port = uc_listener_port(lfd);
        fcntl(lfd, F_SETFL, O_NONBLOCK);
    }
    struct MHD_Daemon *m = mhd_new(t->d, s, err, errlen);
    if (!m) {
        if (lfd >= 0)
            close(lfd);
        return -EIO;
    }
    pthread_mutex_lock(&t->mu);
    if (t->next_mhd) /* an earlier reload not yet taken: this one replaces it */
        MHD_stop_daemon(t->next_mhd);
    if (t->next_lfd >= 0)
        close(t->next_lfd);
    t->next_mhd = m;
    t->next_lfd = lfd;
    t->next_port = port;
    t->port_now = port;
    snprintf(t->listen_now, sizeof(t->listen_now), "%s", s->cfg.listen);
    https_base(s, port, t->next_base, sizeof(t->next_base));
    pthread_mutex_unlock(&t->mu);
    wake(t);
    return 0;
}

void uc_tls_stop(struct uc_tls *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_mutex_unlock(&t->mu);
    wake(t);
    pthread_join(t->thread, NULL);
    for (unsigned j = 0; j < t->npend; j++)
        close(t->pend[j].fd);
    take_reload(t);
    reap_old(t, true);
    MHD_stop_daemon(t->mhd);
    close(t->lfd);
    close(t->epfd);
    close(t->efd);
    pthread_mutex_destroy(&t->mu);
    free(t->pend);
    free(t);
}
