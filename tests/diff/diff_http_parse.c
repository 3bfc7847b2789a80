/*
 * Differential test (SPEC §9): our request-head parser against libhttp-parser 2.9 on
 * generated requests. Valid requests from a small grammar must parse the same in both
 * (method, target, every header name and value). Mutated requests (one byte inserted,
 * replaced or removed) may be refused by us where http-parser is lenient, since we are
 * strict on purpose; but whatever we accept, http-parser must accept too, with the same
 * fields. Seeded, bounded: UC_DIFF_N requests of each kind (default 20000).
 */
#include "http_parse.h"

#include <http_parser.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXH 32

struct view {
    char method[16];
    char url[2048];
    size_t nh;
    char name[MAXH][128], value[MAXH][512];
    int last_was_value;
    int done;
};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static void cat(char *dst, size_t cap, const char *at, size_t len)
{
    size_t have = strlen(dst);
    if (have + len >= cap)
        len = cap - have - 1;
    memcpy(dst + have, at, len);
    dst[have + len] = 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct view *v = p->data;
    cat(v->url, sizeof(v->url), at, len);
    return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
    struct view *v = p->data;
    if (v->last_was_value || v->nh == 0) {
        if (v->nh == MAXH)
            return 1;
        v->nh++;
        v->name[v->nh - 1][0] = v->value[v->nh - 1][0] = 0;
    }
    v->last_was_value = 0;
    cat(v->name[v->nh - 1], sizeof(v->name[0]), at, len);
    return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
    struct view *v = p->data;
    v->last_was_value = 1;
    cat(v->value[v->nh - 1], sizeof(v->value[0]), at, len);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct view *v = p->data;
    v->done = 1;
    snprintf(v->method, sizeof(v->method), "%s", http_method_str((enum http_method)p->method));
    return 1; /* stop: the body is not the head parser's business */
}

/* http-parser's view; returns 1 when it accepted a complete head. */
static int theirs(const char *buf, size_t len, struct view *v)
{
    memset(v, 0, sizeof(*v));
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_url = on_url;
    s.on_header_field = on_field;
    s.on_header_value = on_value;
    s.on_headers_complete = on_headers_complete;
    http_parser p;
    http_parser_init(&p, HTTP_REQUEST);
    p.data = v;
    http_parser_execute(&p, &s, buf, len);
    return v->done &&
           (HTTP_PARSER_ERRNO(&p) == HPE_OK || HTTP_PARSER_ERRNO(&p) == HPE_CB_headers_complete);
}

static const char *methods[] = {"GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE"};
static const char *names[] = {"User-Agent",      "Accept",     "Range",           "If-Range",
                              "If-None-Match",   "Connection", "X-Forwarded-For", "Cache-Control",
                              "Accept-Encoding", "X-A_b.c~1"};
static const char pathchars[] = "abcdefghijklmnopqrstuvwxyzABCDEF0123456789-._~!$&'()*+,;=:@/";
static const char valchars[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789 -_.:;/=,\"()[]{}<>?@!#$%&'*+^`|~\\";

static size_t gen_valid(char *b, size_t cap)
{
    size_t n = 0;
    int v11 = rnd(4) != 0;
    n += (size_t)snprintf(b + n, cap - n, "%s /", methods[rnd(6)]);
    for (uint32_t i = 0, len = rnd(60); i < len; i++)
        b[n++] = pathchars[rnd(sizeof(pathchars) - 1)];
    if (rnd(3) == 0)
        n += (size_t)snprintf(b + n, cap - n, "?since=%u&x=%%41", rnd(1000));
    n += (size_t)snprintf(b + n, cap - n, " HTTP/1.%d\r\n", v11);
    if (v11 || rnd(2))
        n += (size_t)snprintf(b + n, cap - n, "Host: cache%u.example.com:8530\r\n", rnd(9));
    for (uint32_t h = 0, nh = rnd(12); h < nh; h++) {
        n += (size_t)snprintf(b + n, cap - n, "%s:%s", names[rnd(10)], rnd(2) ? " " : "");
        uint32_t len = 1 + rnd(40);
        for (uint32_t i = 0; i < len; i++) {
            char c = valchars[rnd(sizeof(valchars) - 1)];
            b[n++] = (c == ' ' && (i == 0 || i + 1 == len)) ? 'x' : c; /* no edge OWS */
        }
        n += (size_t)snprintf(b + n, cap - n, "\r\n");
    }
    n += (size_t)snprintf(b + n, cap - n, "\r\n");
    return n;
}

static size_t mutate(char *b, size_t n, size_t cap)
{
    static const char pick[] = {0,          '\r', '\n', ' ', '\t', ':', 0x7f,
                                (char)0x80, '%',  'a',  '/', '.',  '"'};
    size_t at = rnd((uint32_t)n);
    char c = pick[rnd(sizeof(pick))];
    switch (rnd(3)) {
    case 0: /* insert */
        if (n + 1 >= cap)
            return n;
        memmove(b + at + 1, b + at, n - at);
        b[at] = c;
        return n + 1;
    case 1: /* replace */
        b[at] = c;
        return n;
    default: /* delete */
        memmove(b + at, b + at + 1, n - at - 1);
        return n - 1;
    }
}

/* Compare the two views; returns 0 when they agree. */
static int compare(const char *buf, const struct uc_http_req *r, const struct view *v,
                   const char **what)
{
    if (strlen(v->method) != r->method_span.len ||
        memcmp(v->method, buf + r->method_span.off, r->method_span.len))
        return *what = "method", 1;
    if (strlen(v->url) != r->target.len || memcmp(v->url, buf + r->target.off, r->target.len))
        return *what = "target", 1;
    if (v->nh != r->nheaders)
        return *what = "header count", 1;
    for (size_t i = 0; i < v->nh; i++) {
        const struct uc_http_header *h = &r->headers[i];
        if (strlen(v->name[i]) != h->name.len || memcmp(v->name[i], buf + h->name.off, h->name.len))
            return *what = "header name", 1;
        /* http-parser keeps trailing whitespace in a value; RFC 9110 §5.5 does not. */
        size_t vl = strlen(v->value[i]);
        while (vl && (v->value[i][vl - 1] == ' ' || v->value[i][vl - 1] == '\t'))
            vl--;
        if (vl != h->value.len || memcmp(v->value[i], buf + h->value.off, h->value.len))
            return *what = "header value", 1;
    }
    return 0;
}

static int known_method(const char *buf, const struct uc_http_req *r)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (r->method_span.len == strlen(methods[i]) &&
            !memcmp(buf + r->method_span.off, methods[i], r->method_span.len))
            return 1;
    return 0;
}

int main(void)
{
    static const struct uc_http_limits lim = {8192, 16384, 64};
    const char *env = getenv("UC_DIFF_N");
    long total = env ? atol(env) : 20000;
    long agree = 0, stricter = 0, both_refuse = 0, fail = 0, skipped = 0;
    static char buf[8192];
    static struct view v;
    static struct uc_http_req r;
    for (long i = 0; i < 2 * total && fail < 10; i++) {
        int mutated = i >= total;
        size_t n = gen_valid(buf, sizeof(buf) - 64);
        if (mutated)
            n = mutate(buf, n, sizeof(buf));
        uc_http_req_init(&r);
        enum uc_parse_rc ours = uc_http_parse(&r, buf, n, &lim);
        int ok_theirs = theirs(buf, n, &v);
        const char *what = NULL;
        if (ours == UC_PARSE_OK && !known_method(buf, &r)) {
            skipped++; /* an extension method: http-parser knows a fixed list */
        } else if (ours == UC_PARSE_OK && ok_theirs && !compare(buf, &r, &v, &what)) {
            agree++;
        } else if (ours == UC_PARSE_OK) {
            fail++;
            fprintf(stderr, "FAIL (%s): we accept, http-parser %s: %s\n---\n%.*s\n---\n",
                    mutated ? "mutated" : "valid", ok_theirs ? "differs" : "refuses",
                    what ? what : "-", (int)n, buf);
        } else if (!mutated) {
            fail++;
            fprintf(stderr, "FAIL (valid): we refuse (%d)\n---\n%.*s\n---\n", ours, (int)n, buf);
        } else if (ok_theirs) {
            stricter++;
        } else {
            both_refuse++;
        }
    }
    printf("%ld requests: %ld agree, %ld refused by both, %ld refused by us only (stricter), "
           "%ld extension methods skipped\n",
           2 * total, agree, both_refuse, stricter, skipped);
    printf("%ld passed, %ld failed\n", agree + both_refuse + stricter, fail);
    return fail != 0;
}
