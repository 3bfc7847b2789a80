/*
 * Config loading. inih gives no line numbers to its handler in Debian's build, so the
 * file is fed through ini_parse_stream with a reader that counts lines; the handler
 * then knows the line of each key, and the reader itself checks section headers (inih
 * does not report sections that hold no keys).
 */
#include "config.h"
#include "strparse.h"

#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_STR, K_PORT, K_U64, K_SIZE, K_DURATION, K_LIST, K_FREE, K_FILL };

struct key_def {
    const char *section, *key;
    enum kind kind;
    size_t off;
    bool is_path;
};

#define F(field) offsetof(struct uc_config, field)
static const struct key_def keys[] = {
    {"server", "name", K_STR, F(name), false},
    {"server", "https_port", K_PORT, F(https_port), false},
    {"server", "http_port", K_PORT, F(http_port), false},
    {"server", "listen", K_STR, F(listen), false},
    {"server", "store", K_STR, F(store), true},
    {"server", "workers", K_U64, F(workers), false},
    {"server", "max_connections", K_U64, F(max_connections), false},
    {"server", "header_timeout", K_DURATION, F(header_timeout), false},
    {"server", "keepalive_timeout", K_DURATION, F(keepalive_timeout), false},
    {"server", "max_request_line", K_SIZE, F(max_request_line), false},
    {"server", "max_header_bytes", K_SIZE, F(max_header_bytes), false},
    {"server", "max_headers", K_U64, F(max_headers), false},
    {"server", "max_ranges", K_U64, F(max_ranges), false},
    {"server", "max_body_bytes", K_SIZE, F(max_body_bytes), false},
    {"server", "hot_cache", K_SIZE, F(hot_cache), false},
    {"server", "access_log", K_STR, F(access_log), true},
    {"server", "error_log", K_STR, F(error_log), true},
    {"server", "pid_file", K_STR, F(pid_file), true},
    {"server", "port_file", K_STR, F(port_file), true},
    {"tls", "cert", K_STR, F(tls_cert), true},
    {"tls", "key", K_STR, F(tls_key), true},
    {"upstream", "url", K_STR, F(upstream_url), false},
    {"upstream", "ca_file", K_STR, F(ca_file), true},
    {"upstream", "resolve", K_LIST, F(resolve), false},
    {"upstream", "content_url", K_STR, F(content_url), false},
    {"upstream", "downstream_id", K_STR, F(downstream_id), false},
    {"upstream", "downstream_secret", K_STR, F(downstream_secret), false},
    {"upstream", "publisher_keys", K_LIST, F(publisher_keys), true},
    {"upstream", "parallel", K_U64, F(parallel), false},
    {"upstream", "interval", K_DURATION, F(interval), false},
    {"upstream", "fill", K_FILL, F(fill_on_demand), false},
    {"auth", "downstreams", K_LIST, F(downstreams), false},
    {"auth", "client_secret", K_STR, F(client_secret), false},
    {"auth", "admin_token", K_STR, F(admin_token), false},
    {"auth", "cookie_ttl", K_DURATION, F(cookie_ttl), false},
    {"store", "max_size", K_SIZE, F(max_size), false},
    {"store", "min_free", K_FREE, F(min_free_pct), false},
    {"store", "index_size", K_SIZE, F(index_size), false},
    {"store", "reports_keep", K_DURATION, F(reports_keep), false},
};
#undef F

struct load_ctx {
    struct uc_config *cfg;
    bool tls_incomplete_ok; /* configure-ssl: it is about to supply name, cert and key */
    const char *file;
    char dir[PATH_MAX];
    FILE *f;
    int line;
    bool partial; /* the reader returned part of a long line */
    int seen_line[UC_ARRAY_LEN(keys)];
    int nerr;
    struct uc_errbuf *eb;
};

__attribute__((format(printf, 2, 3))) static void add_err(struct load_ctx *c, const char *fmt, ...)
{
    c->nerr++;
    if (!c->eb)
        return;
    size_t used = strlen(c->eb->msg);
    if (used + 2 >= sizeof(c->eb->msg))
        return;
    if (used)
        c->eb->msg[used++] = '\n', c->eb->msg[used] = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->eb->msg + used, sizeof(c->eb->msg) - used, fmt, ap);
    va_end(ap);
}

static bool section_known(const char *s)
{
    for (size_t i = 0; i < UC_ARRAY_LEN(keys); i++)
        if (!strcmp(keys[i].section, s))
            return true;
    return false;
}

/* fgets for inih, counting lines and checking "[section]" headers as they pass. */
static char *read_line(char *str, int num, void *stream)
{
    struct load_ctx *c = stream;
    char *s = fgets(str, num, c->f);
    if (!s)
        return NULL;
    if (!c->partial)
        c->line++;
    size_t n = strlen(s);
    bool was_partial = c->partial;
    c->partial = n > 0 && s[n - 1] != '\n' && !feof(c->f);
    if (c->partial && !was_partial)
        add_err(c,
                "%s:%d: line longer than %d characters; split a long list over several "
                "indented lines",
                c->file, c->line, num - 2);
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '[' && !was_partial) {
        const char *end = strchr(p, ']');
        char name[64];
        size_t len = end ? (size_t)(end - p - 1) : 0;
        if (!end || len >= sizeof(name)) {
            add_err(c, "%s:%d: malformed section header", c->file, c->line);
        } else {
            memcpy(name, p + 1, len);
            name[len] = 0;
            if (!section_known(name))
                add_err(c,
                        "%s:%d: unknown section [%s] (known: server, tls, upstream, auth, "
                        "store)",
                        c->file, c->line, name);
        }
    }
    return s;
}

static int resolve_path(struct load_ctx *c, const char *v, char **out)
{
    char buf[PATH_MAX];
    /* "-" (stderr) and "off" are not paths. */
    if (v[0] == '/' || !c->dir[0] || !strcmp(v, "-") || !strcmp(v, "off"))
        snprintf(buf, sizeof(buf), "%s", v);
    else if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", c->dir, v) >= sizeof(buf))
        return -ENAMETOOLONG;
    char *s = strdup(buf);
    if (!s)
        return -ENOMEM;
    free(*out);
    *out = s;
    return 0;
}

static int list_add(struct load_ctx *c, const struct key_def *k, const char *value)
{
    struct uc_strlist *l = (struct uc_strlist *)((char *)c->cfg + k->off);
    char *copy = strdup(value), *save = NULL;
    if (!copy)
        return -ENOMEM;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        char *end = tok + strlen(tok);
        while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = 0;
        if (!*tok)
            continue;
        char **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
        if (!nv) {
            free(copy);
            return -ENOMEM;
        }
        l->v = nv;
        l->v[l->n] = NULL;
        int rc = k->is_path ? resolve_path(c, tok, &l->v[l->n]) : 0;
        if (!k->is_path && !(l->v[l->n] = strdup(tok)))
            rc = -ENOMEM;
        if (rc) {
            free(copy);
            return rc;
        }
        l->n++;
    }
    free(copy);
    return 0;
}

static const char *kind_hint(enum kind k)
{
    switch (k) {
    case K_PORT:
        return "a port number 0-65535";
    case K_U64:
        return "a whole number";
    case K_SIZE:
        return "a size such as 512, 64K, 16M, 2G, 1T";
    case K_DURATION:
        return "a duration such as 30, 30s, 5m, 1h, 1d";
    case K_FREE:
        return "a percentage such as 5% or a size such as 10G";
    case K_FILL:
        return "all or on-demand";
    default:
        return "a value";
    }
}

static int set_value(struct load_ctx *c, const struct key_def *k, const char *value)
{
    void *field = (char *)c->cfg + k->off;
    uint64_t v = 0;
    int rc = 0;
    switch (k->kind) {
    case K_STR:
        if (k->is_path)
            return resolve_path(c, value, (char **)field);
        free(*(char **)field);
        return (*(char **)field = strdup(value)) ? 0 : -ENOMEM;
    case K_LIST:
        return list_add(c, k, value);
    case K_FILL:
        if (strcmp(value, "all") && strcmp(value, "on-demand"))
            return -EINVAL;
        *(bool *)field = strcmp(value, "on-demand") == 0;
        return 0;
    case K_PORT:
        rc = uc_parse_u64(value, &v);
        if (rc || v > 65535)
            return -EINVAL;
        *(int *)field = (int)v;
        return 0;
    case K_U64:
        rc = uc_parse_u64(value, &v);
        break;
    case K_SIZE:
        rc = uc_parse_size(value, &v);
        break;
    case K_DURATION:
        rc = uc_parse_duration(value, &v);
        break;
    case K_FREE: {
        size_t n = strlen(value);
        if (n > 1 && value[n - 1] == '%') {
            char num[16];
            if (n - 1 >= sizeof(num))
                return -EINVAL;
            memcpy(num, value, n - 1);
            num[n - 1] = 0;
            rc = uc_parse_u64(num, &v);
            if (rc || v > 100)
                return -EINVAL;
            c->cfg->min_free_pct = v;
            c->cfg->min_free_bytes = 0;
            return 0;
        }
        rc = uc_parse_size(value, &c->cfg->min_free_bytes);
        c->cfg->min_free_pct = 0;
        return rc;
    }
    }
    if (!rc)
        *(uint64_t *)field = v;
    return rc;
}

/* Sizes with an upper bound the daemon depends on (a bigger value would be truncated or
 * would let one request hold that much memory). */
static const struct {
    const char *key;
    uint64_t max;
    const char *max_text, *why;
} size_caps[] = {
    {"max_body_bytes", UC_MAX_BODY_LIMIT, "64M", "a body is buffered whole in memory"},
};

/* Durations the daemon turns into deadlines: 0 would close every connection at once,
 * and seconds beyond these would overflow a nanosecond clock or outlive any use. */
static const struct {
    const char *key;
    uint64_t min, max;
    const char *range;
} duration_caps[] = {
    {"header_timeout", 1, 3600, "1s to 1h"},
    {"keepalive_timeout", 1, 86400, "1s to 1d"},
    {"interval", 1, 30 * 86400, "1s to 30d"},
    {"cookie_ttl", 1, 30 * 86400, "1s to 30d"},
    {"reports_keep", 1, 3650 * 86400ULL, "1s to 3650d"},
};

static void check_duration(struct load_ctx *c, const struct key_def *k, const char *value)
{
    uint64_t v = *(uint64_t *)((char *)c->cfg + k->off);
    for (size_t i = 0; i < UC_ARRAY_LEN(duration_caps); i++)
        if (!strcmp(k->key, duration_caps[i].key) &&
            (v < duration_caps[i].min || v > duration_caps[i].max))
            add_err(c, "%s:%d: [%s] %s: %s is out of range: give %s", c->file, c->line, k->section,
                    k->key, value, duration_caps[i].range);
}

static void check_cap(struct load_ctx *c, const struct key_def *k, const char *value)
{
    for (size_t i = 0; i < UC_ARRAY_LEN(size_caps); i++)
        if (!strcmp(k->key, size_caps[i].key) &&
            *(uint64_t *)((char *)c->cfg + k->off) > size_caps[i].max)
            add_err(c, "%s:%d: [%s] %s: %s is too large: at most %s (%s)", c->file, c->line,
                    k->section, k->key, value, size_caps[i].max_text, size_caps[i].why);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct load_ctx *c = user;
    if (!*section) {
        add_err(c,
                "%s:%d: %s: a key before the first [section]; put it under the section it "
                "belongs to (e.g. [server])",
                c->file, c->line, name);
        return 1;
    }
    if (!section_known(section))
        return 1; /* already reported by the reader */
    for (size_t i = 0; i < UC_ARRAY_LEN(keys); i++) {
        const struct key_def *k = &keys[i];
        if (strcmp(k->section, section) || strcmp(k->key, name))
            continue;
        /* Lists may continue on indented lines or repeat; scalars may not repeat. */
        if (c->seen_line[i] && k->kind != K_LIST) {
            add_err(c, "%s:%d: [%s] %s: set again (first set on line %d)", c->file, c->line,
                    section, name, c->seen_line[i]);
            return 1;
        }
        c->seen_line[i] = c->line;
        int rc = set_value(c, k, value);
        if (rc == -EINVAL || rc == -ERANGE)
            add_err(c, "%s:%d: [%s] %s: bad value '%s', expected %s", c->file, c->line, section,
                    name, value, kind_hint(k->kind));
        else if (rc)
            add_err(c, "%s:%d: [%s] %s: %s", c->file, c->line, section, name, strerror(-rc));
        else if (k->kind == K_SIZE)
            check_cap(c, k, value);
        else if (k->kind == K_DURATION)
            check_duration(c, k, value);
        return 1;
    }
    add_err(c, "%s:%d: [%s] %s: unknown key", c->file, c->line, section, name);
    return 1;
}

void uc_url_base(char *out, size_t cap, bool tls, const char *host, int port)
{
    if (port == (tls ? 443 : 80))
        snprintf(out, cap, "%s://%s/", tls ? "https" : "http", host);
    else
        snprintf(out, cap, "%s://%s:%d/", tls ? "https" : "http", host, port);
}

int uc_config_paired_http_port(int https_port)
{
    return https_port == 443 ? 80 : https_port - 1;
}

static int line_of(const struct load_ctx *c, const char *key)
{
    for (size_t i = 0; i < UC_ARRAY_LEN(keys); i++)
        if (!strcmp(keys[i].key, key))
            return c->seen_line[i];
    return 0;
}

/* Cross-key rules: the WSUS port pairing, and what TLS needs. */
static void check_rules(struct load_ctx *c)
{
    struct uc_config *cfg = c->cfg;
    if (cfg->workers > UC_WORKERS_MAX)
        add_err(c, "%s:%d: [server] workers: %llu is more than %d; use 0 (one per core) or fewer",
                c->file, line_of(c, "workers"), (unsigned long long)cfg->workers, UC_WORKERS_MAX);
    if (cfg->index_size && cfg->index_size < ((uint64_t)1 << 20))
        add_err(c, "%s:%d: [store] index_size: at least 1M (or leave it out: the index grows)",
                c->file, line_of(c, "index_size"));
    if (!line_of(c, "https_port"))
        return;
    if (cfg->https_port < 2) {
        add_err(c,
                "%s:%d: [server] https_port: %d has no paired plain port (443 -> 80, N -> "
                "N-1)",
                c->file, line_of(c, "https_port"), cfg->https_port);
        return;
    }
    int derived = uc_config_paired_http_port(cfg->https_port);
    if (line_of(c, "http_port") && cfg->http_port != derived)
        add_err(c,
                "%s:%d: [server] http_port: %d contradicts https_port %d, whose paired "
                "plain port is %d (443 -> 80, any other N -> N-1); remove http_port or set "
                "it to %d",
                c->file, line_of(c, "http_port"), cfg->http_port, cfg->https_port, derived,
                derived);
    cfg->http_port = derived;
    if (c->tls_incomplete_ok)
        return;
    if (!cfg->name || !*cfg->name)
        add_err(c,
                "%s:%d: [server] https_port is set but [server] name is not: TLS needs the "
                "server's fully qualified name (updcache configure-ssl sets both)",
                c->file, line_of(c, "https_port"));
    if (!cfg->tls_cert || !cfg->tls_key)
        add_err(c,
                "%s:%d: [server] https_port is set but [tls] cert and key are not: give the "
                "certificate and key files (updcache configure-ssl sets them)",
                c->file, line_of(c, "https_port"));
}

static void free_str(char **s)
{
    free(*s);
    *s = NULL;
}

static void free_list(struct uc_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int uc_config_defaults(struct uc_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->http_port = 8530;
    cfg->listen = strdup("0.0.0.0");
    cfg->store = strdup("/var/lib/updcache");
    cfg->access_log = strdup("-");
    cfg->error_log = strdup("-");
    cfg->max_connections = 10000;
    cfg->header_timeout = 10;
    cfg->keepalive_timeout = 60;
    cfg->max_request_line = 8 << 10;
    cfg->max_header_bytes = 16 << 10;
    cfg->max_headers = 64;
    cfg->max_ranges = 64;
    cfg->max_body_bytes = 64 << 10;
    cfg->hot_cache = 64 << 20;
    cfg->parallel = 8;
    cfg->interval = 3600;
    cfg->cookie_ttl = 3600;
    cfg->min_free_pct = 5;
    cfg->reports_keep = 30 * 86400;
    if (!cfg->listen || !cfg->store || !cfg->access_log || !cfg->error_log) {
        uc_config_free(cfg);
        return -ENOMEM;
    }
    return 0;
}

int uc_config_load(const char *path, struct uc_config *cfg, struct uc_errbuf *eb)
{
    return uc_config_load_ex(path, cfg, false, eb);
}

int uc_config_load_ex(const char *path, struct uc_config *cfg, bool tls_incomplete_ok,
                      struct uc_errbuf *eb)
{
    int rc = uc_config_defaults(cfg);
    if (rc)
        return rc;
    bool explicit_path = path != NULL;
    if (!path)
        path = UC_CONFIG_DEFAULT;
    struct load_ctx c = {
        .cfg = cfg, .file = path, .eb = eb, .tls_incomplete_ok = tls_incomplete_ok};
    if (eb)
        eb->msg[0] = 0;
    c.f = fopen(path, "r");
    if (!c.f) {
        rc = -errno;
        if (!explicit_path && rc == -ENOENT)
            return 0;
        uc_config_free(cfg);
        return uc_errf(eb, rc, "%s: cannot read config: %s", path, strerror(-rc));
    }
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    if (!realpath(dirname(tmp), c.dir))
        c.dir[0] = 0;
    cfg->path = strdup(path);
    int line = ini_parse_stream(read_line, &c, handler, &c);
    fclose(c.f);
    if (line > 0)
        add_err(&c, "%s:%d: syntax error (expected [section] or key = value)", path, line);
    else if (line < 0)
        add_err(&c, "%s: cannot parse (out of memory)", path);
    check_rules(&c);
    if (c.nerr) {
        uc_config_free(cfg);
        return UC_ECONFIG;
    }
    return 0;
}

void uc_config_free(struct uc_config *cfg)
{
    char **strs[] = {&cfg->path,          &cfg->name,          &cfg->listen,
                     &cfg->store,         &cfg->access_log,    &cfg->error_log,
                     &cfg->pid_file,      &cfg->port_file,     &cfg->tls_cert,
                     &cfg->tls_key,       &cfg->upstream_url,  &cfg->ca_file,
                     &cfg->content_url,   &cfg->downstream_id, &cfg->downstream_secret,
                     &cfg->client_secret, &cfg->admin_token};
    for (size_t i = 0; i < UC_ARRAY_LEN(strs); i++)
        free_str(strs[i]);
    free_list(&cfg->resolve);
    free_list(&cfg->publisher_keys);
    free_list(&cfg->downstreams);
}
