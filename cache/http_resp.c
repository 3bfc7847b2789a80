/*
 * Response formatting. Everything goes through one bounded appender so a head that
 * does not fit is reported (length 0), never truncated on the wire.
 */
#include "http_resp.h"
#include "httpdate.h"
#include "strparse.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct out {
    char *p;
    size_t len, cap;
    bool full;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
    if (o->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len)
        o->full = true;
    else
        o->len += (size_t)n;
}

/* The pieces of every response, without vsnprintf's setup (RESULTS.md 2026-12-03 13:50:
 * the printf family was 8% of the worker's time on small ranges). */
static void put_mem(struct out *o, const char *s, size_t n)
{
    if (o->full || n >= o->cap - o->len) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = 0; /* as vsnprintf leaves it: the head is also a C string */
}

#define put_lit(o, s) put_mem((o), "" s, sizeof(s) - 1)

static void put_str(struct out *o, const char *s)
{
    put_mem(o, s, strlen(s));
}

static void put_u64(struct out *o, uint64_t v)
{
    char d[UC_U64_DIGITS];
    put_mem(o, d, uc_fmt_u64(d, v));
}

static size_t done(struct out *o)
{
    return o->full ? 0 : o->len;
}

const char *uc_resp_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 206:
        return "Partial Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 415:
        return "Unsupported Media Type";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 416:
        return "Range Not Satisfiable";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 507:
        return "Insufficient Storage";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

static void common(struct out *o, int status, const struct uc_resp_opts *opt)
{
    /* One Date string per second per thread: formatting it costs more than the rest. */
    static _Thread_local int64_t cached_at = -1;
    static _Thread_local char date[UC_HTTPDATE_LEN + 1];
    if (opt->now != cached_at) {
        uc_httpdate_format(opt->now, date);
        cached_at = opt->now;
    }
    put_lit(o, "HTTP/1.1 ");
    put_u64(o, (uint64_t)(status > 0 ? status : 0));
    put_lit(o, " ");
    put_str(o, uc_resp_reason(status));
    put_lit(o, "\r\nServer: updcache\r\nDate: ");
    put_mem(o, date, UC_HTTPDATE_LEN);
    put_lit(o, "\r\n");
    if (opt->close)
        put_lit(o, "Connection: close\r\n");
    else if (opt->http10)
        put_lit(o, "Connection: keep-alive\r\n");
}

/* Validators and caching headers shared by 200, 206 and 304 (RFC 9110 §15.4.5). */
static void validators(struct out *o, const struct uc_resp_file *f)
{
    char lm[UC_HTTPDATE_LEN + 1], b64[48];
    uc_httpdate_format(f->last_modified, lm);
    if (f->sha256)
        EVP_EncodeBlock((unsigned char *)b64, f->sha256, UC_SHA256_LEN);
    put_lit(o, "ETag: ");
    put_mem(o, f->etag, f->etag_len);
    put_lit(o, "\r\nLast-Modified: ");
    put_mem(o, lm, UC_HTTPDATE_LEN);
    put_lit(o, "\r\n");
    /* Content is addressed by its hash: its bytes never change. A replaceable file's
     * do, so caches keep it briefly and revalidate with the ETag (a 304 is cheap). */
    if (f->replaceable)
        put(o, "Cache-Control: public, max-age=%d\r\n", UC_REPLACEABLE_MAX_AGE);
    else
        put_lit(o, "Cache-Control: public, max-age=31536000, immutable\r\n");
    if (f->sha256) { /* static SelfUpdate files have no indexed digest */
        put_lit(o, "Repr-Digest: sha-256=:");
        put_str(o, b64);
        put_lit(o, ":\r\n");
    }
}

size_t uc_resp_content_head(char *out, size_t cap, int status, const struct uc_resp_file *f,
                            const struct uc_range *range, const char *boundary, uint64_t body_len,
                            const struct uc_resp_opts *opt)
{
    struct out o = {out, 0, cap, cap == 0};
    common(&o, status, opt);
    if (status == 416) {
        put(&o, "Content-Range: bytes */%llu\r\nContent-Length: 0\r\n\r\n",
            (unsigned long long)f->size);
        return done(&o);
    }
    validators(&o, f);
    if (status == 304) {
        put(&o, "\r\n");
        return done(&o);
    }
    put_lit(&o, "Accept-Ranges: bytes\r\n");
    if (status == 206 && boundary) {
        put(&o, "Content-Type: multipart/byteranges; boundary=%s\r\n", boundary);
    } else {
        put_lit(&o, "Content-Type: application/octet-stream\r\n");
        if (status == 206) {
            put_lit(&o, "Content-Range: bytes ");
            put_u64(&o, range->first);
            put_lit(&o, "-");
            put_u64(&o, range->last);
            put_lit(&o, "/");
            put_u64(&o, f->size);
            put_lit(&o, "\r\n");
        }
    }
    put_lit(&o, "Content-Length: ");
    put_u64(&o, body_len);
    put_lit(&o, "\r\n\r\n");
    return done(&o);
}

size_t uc_resp_error(char *out, size_t cap, int status, const char *detail,
                     const struct uc_resp_opts *opt)
{
    char body[512];
    int n = snprintf(body, sizeof(body), "%d %s%s%s\n", status, uc_resp_reason(status),
                     detail && *detail ? ": " : "", detail ? detail : "");
    size_t blen = n < 0 ? 0 : (size_t)n < sizeof(body) ? (size_t)n : sizeof(body) - 1;
    struct out o = {out, 0, cap, cap == 0};
    common(&o, status, opt);
    if (status == 405)
        put(&o, "Allow: %s\r\n", opt->allow ? opt->allow : "GET, HEAD");
    put(&o, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n\r\n%.*s", blen,
        opt->head_only ? 0 : (int)blen, body);
    return done(&o);
}

size_t uc_resp_json(char *out, size_t cap, int status, const char *json, size_t len,
                    const struct uc_resp_opts *opt)
{
    struct out o = {out, 0, cap, cap == 0};
    common(&o, status, opt);
    put(&o, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%.*s", len,
        opt->head_only ? 0 : (int)len, json);
    return done(&o);
}

void uc_multipart_boundary(char out[UC_BOUNDARY_LEN + 1])
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    uint8_t r[UC_BOUNDARY_LEN];
    if (RAND_bytes(r, sizeof(r)) != 1)
        memset(r, 7, sizeof(r)); /* a boundary only has to be absent from the parts */
    for (size_t i = 0; i < UC_BOUNDARY_LEN; i++)
        out[i] = alphabet[r[i] % 36];
    out[UC_BOUNDARY_LEN] = 0;
}

size_t uc_multipart_part_head(char *out, size_t cap, const char *boundary, bool first,
                              const struct uc_range *r, uint64_t size)
{
    struct out o = {out, 0, cap, cap == 0};
    put(&o,
        "%s--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes "
        "%llu-%llu/%llu\r\n\r\n",
        first ? "" : "\r\n", boundary, (unsigned long long)r->first, (unsigned long long)r->last,
        (unsigned long long)size);
    return done(&o);
}

size_t uc_multipart_tail(char *out, size_t cap, const char *boundary)
{
    struct out o = {out, 0, cap, cap == 0};
    put(&o, "\r\n--%s--\r\n", boundary);
    return done(&o);
}

uint64_t uc_multipart_length(const char *boundary, const struct uc_range *parts, uint32_t n,
                             uint64_t size)
{
    char tmp[256];
    uint64_t total = uc_multipart_tail(tmp, sizeof(tmp), boundary);
    for (uint32_t i = 0; i < n; i++)
        total += uc_multipart_part_head(tmp, sizeof(tmp), boundary, i == 0, &parts[i], size) +
                 (parts[i].last - parts[i].first + 1);
    return total;
}
