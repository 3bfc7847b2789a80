/*
 * SIGHUP: re-read the config and apply it to the running daemon without dropping a
 * connection. The new settings are built and checked completely on the signal thread
 * (a config error, a port that cannot be bound, an access log that cannot be opened
 * leave everything as it was); then they are published in one pointer store, each
 * worker moves over at its next wake-up, and a moved plain port gets new listeners
 * while the old port's connections finish on their own.
 */
#include "settings.h"

#include "fsutil.h"
#include "tls_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct uc_settings *uc_settings_new(struct uc_config *cfg, unsigned gen)
{
    struct uc_settings *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    s->limits = (struct uc_http_limits){
        (uint32_t)s->cfg.max_request_line, (uint32_t)s->cfg.max_header_bytes,
        (uint32_t)(s->cfg.max_headers < UC_HTTP_HEADERS_CAP ? s->cfg.max_headers
                                                            : UC_HTTP_HEADERS_CAP)};
    s->gen = gen;
    return s;
}

void uc_settings_free(struct uc_settings *s)
{
    if (!s)
        return;
    uc_config_free(&s->cfg);
    free(s);
}

static bool str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* Keys only a restart applies: say so, and keep the running values. */
static void warn_restart_only(const struct uc_config *boot, const struct uc_config *cfg)
{
    if (str_differs(boot->store, cfg->store))
        fprintf(stderr, "updcached: SIGHUP: [server] store changed; it takes a restart\n");
    if (boot->workers != cfg->workers)
        fprintf(stderr, "updcached: SIGHUP: [server] workers changed; it takes a restart\n");
    if (boot->hot_cache != cfg->hot_cache)
        fprintf(stderr, "updcached: SIGHUP: [server] hot_cache changed; it takes a restart\n");
}

static bool access_log_usable(const char *dest)
{
    if (!strcmp(dest, "off") || !strcmp(dest, "-"))
        return true;
    int fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr,
                "updcached: SIGHUP: [server] access_log %s: %s; keeping the running config\n", dest,
                strerror(errno));
        return false;
    }
    close(fd);
    return true;
}

/* Free what no worker uses any more (the boot settings stay: they hold the store). */
static void reap(struct uc_daemon *d)
{
    unsigned low = ~0u;
    for (unsigned i = 0; i < d->nworkers; i++) {
        unsigned g = uc_worker_settings_gen(d->workers[i]);
        low = g < low ? g : low;
    }
    struct uc_settings **pp = &d->retired;
    while (*pp) {
        struct uc_settings *s = *pp;
        if (s->gen < low) {
            *pp = s->retired_next;
            uc_settings_free(s);
        } else {
            pp = &s->retired_next;
        }
    }
}

void uc_settings_free_retired(struct uc_daemon *d)
{
    while (d->retired) {
        struct uc_settings *s = d->retired;
        d->retired = s->retired_next;
        uc_settings_free(s);
    }
}

int uc_settings_write_port_file(const struct uc_daemon *d, const struct uc_config *cfg)
{
    if (!cfg->port_file)
        return 0;
    char text[64];
    int n = d->tls
                ? snprintf(text, sizeof(text), "http=%d\nhttps=%d\n", d->port, uc_tls_port(d->tls))
                : snprintf(text, sizeof(text), "http=%d\n", d->port);
    if (uc_write_file_atomic(cfg->port_file, text, (size_t)n, 0644)) {
        fprintf(stderr, "updcached: [server] port_file %s: %s\n", cfg->port_file, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * The TLS listener follows the new settings: started, stopped, or given the certificate
 * again (configure-ssl may have replaced the files under the same names). Last of the
 * steps that can fail, so a failure here leaves everything as it was.
 */
static int apply_tls(struct uc_daemon *d, const struct uc_settings *s, char *err, size_t errlen)
{
    if (!s->cfg.https_port) {
        if (d->tls)
            fprintf(stderr, "updcached: SIGHUP: https_port removed: TLS listener stopped\n");
        uc_tls_stop(d->tls);
        d->tls = NULL;
        return 0;
    }
    int rc =
        d->tls ? uc_tls_reload(d->tls, s, err, errlen) : uc_tls_start(d, s, &d->tls, err, errlen);
    if (!rc)
        fprintf(stderr, "updcached: SIGHUP: TLS listener on port %d with [tls] cert %s\n",
                s->cfg.https_port, s->cfg.tls_cert);
    return rc;
}

int uc_settings_reload(struct uc_daemon *d)
{
    reap(d);
    struct uc_settings *cur = atomic_load(&d->live);
    struct uc_config cfg;
    struct uc_errbuf eb = {{0}};
    if (uc_config_load(d->boot->cfg.path, &cfg, &eb)) {
        fprintf(stderr, "updcached: SIGHUP: configuration error; keeping the running config:\n%s\n",
                eb.msg);
        return -1;
    }
    warn_restart_only(&d->boot->cfg, &cfg);
    if (!access_log_usable(cfg.access_log)) {
        uc_config_free(&cfg);
        return -1;
    }
    /* A moved plain port: bind it for every worker before anything changes. */
    bool rebind = cfg.http_port != cur->cfg.http_port || strcmp(cfg.listen, cur->cfg.listen);
    int *lfds = NULL, port = d->port;
    if (rebind) {
        lfds = calloc(d->nworkers, sizeof(*lfds));
        char err[256] = "out of memory";
        unsigned got = 0;
        for (; lfds && got < d->nworkers; got++) {
            int fd = uc_listener_new(cfg.listen, got ? port : cfg.http_port,
                                     got ? UC_LISTEN_JOIN : UC_LISTEN_FIRST, err, sizeof(err));
            if (fd < 0)
                break;
            lfds[got] = fd;
            if (got == 0)
                port = uc_listener_port(fd); /* http_port = 0: the others join it */
        }
        if (!lfds || got < d->nworkers) {
            fprintf(stderr, "updcached: SIGHUP: %s; keeping the running config\n", err);
            for (unsigned i = 0; lfds && i < got; i++)
                close(lfds[i]);
            free(lfds);
            uc_config_free(&cfg);
            return -1;
        }
    }
    struct uc_settings *s = uc_settings_new(&cfg, cur->gen + 1);
    char err[512] = "out of memory";
    if (!s || apply_tls(d, s, err, sizeof(err))) {
        fprintf(stderr, "updcached: SIGHUP: %s; keeping the running config\n", err);
        for (unsigned i = 0; lfds && i < d->nworkers; i++)
            close(lfds[i]);
        free(lfds);
        uc_config_free(&cfg);
        uc_settings_free(s);
        return -1;
    }
    pthread_rwlock_wrlock(&d->live_lock); /* no TLS request holds the old one after this */
    atomic_store(&d->live, s);
    pthread_rwlock_unlock(&d->live_lock);
    if (cur != d->boot) {
        cur->retired_next = d->retired;
        d->retired = cur;
    }
    for (unsigned i = 0; i < d->nworkers; i++) {
        if (lfds)
            uc_worker_swap_listener(d->workers[i], lfds[i]);
        else
            uc_worker_wake(d->workers[i]);
    }
    free(lfds);
    if (rebind) {
        d->port = port;
        fprintf(stderr, "updcached: SIGHUP: now serving http://%s:%d/\n", s->cfg.listen, port);
    }
    uc_settings_write_port_file(d, &s->cfg);
    fprintf(stderr, "updcached: SIGHUP: config %s reloaded (generation %u)\n",
            s->cfg.path ? s->cfg.path : "(defaults)", s->gen);
    return 0;
}
