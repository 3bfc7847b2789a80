/*
 * Request kinds, request rendering and response expectations: see mix.h.
 */
#include "mix.h"

#include "strparse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const uc_errkind_name[UC_ERR_COUNT] = {
    "connect",    "read",          "timeout", "status",  "length",
    "short_body", "content_range", "digest",  "framing", "parse",
};

static const char *const kind_name[UC_KIND_COUNT] = {"get", "head-get", "range1m", "small-ranges"};

int uc_mix_parse(const char *spec, struct uc_mix *m)
{
    memset(m, 0, sizeof(*m));
    const char *p = spec;
    while (*p) {
        const char *eq = strchr(p, '=');
        const char *comma = strchr(p, ',');
        if (!comma)
            comma = p + strlen(p);
        if (!eq || eq > comma)
            return -EINVAL;
        int k = -1;
        for (int i = 0; i < UC_KIND_COUNT; i++)
            if ((size_t)(eq - p) == strlen(kind_name[i]) &&
                memcmp(p, kind_name[i], (size_t)(eq - p)) == 0)
                k = i;
        if (k < 0 || eq + 1 == comma)
            return -EINVAL;
        uint64_t w = 0;
        for (const char *d = eq + 1; d < comma; d++) {
            if (*d < '0' || *d > '9')
                return -EINVAL;
            w = w * 10 + (uint64_t)(*d - '0');
            if (w > 1000000)
                return -EINVAL;
        }
        m->weight[k] += (uint32_t)w;
        m->total += (uint32_t)w;
        p = *comma ? comma + 1 : comma;
    }
    if (m->total == 0)
        return -EINVAL;
    size_t off = 0;
    for (int i = 0; i < UC_KIND_COUNT; i++) {
        if (!m->weight[i])
            continue;
        int n = snprintf(m->spec + off, sizeof(m->spec) - off, "%s%s=%u", off ? "," : "",
                         kind_name[i], m->weight[i]);
        if (n < 0 || (size_t)n >= sizeof(m->spec) - off)
            return -EINVAL;
        off += (size_t)n;
    }
    return 0;
}

enum uc_kind uc_mix_pick(const struct uc_mix *m, uint64_t rnd)
{
    uint32_t x = (uint32_t)(rnd % m->total);
    for (int i = 0; i < UC_KIND_COUNT; i++) {
        if (x < m->weight[i])
            return (enum uc_kind)i;
        x -= m->weight[i];
    }
    return UC_KIND_GET;
}

static char *fmt_request(const char *method, const char *path, const char *host, size_t *len)
{
    int n = snprintf(NULL, 0, "%s %s HTTP/1.1\r\nHost: %s\r\n\r\n", method, path, host);
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    snprintf(s, (size_t)n + 1, "%s %s HTTP/1.1\r\nHost: %s\r\n\r\n", method, path, host);
    *len = (size_t)n;
    return s;
}

int uc_url_prepare(struct uc_url *u, const char *host)
{
    u->get_req = fmt_request("GET", u->path, host, &u->get_len);
    u->head_req = fmt_request("HEAD", u->path, host, &u->head_len);
    return u->get_req && u->head_req ? 0 : -ENOMEM;
}

void uc_url_free(struct uc_url *u)
{
    free(u->path);
    free(u->get_req);
    free(u->head_req);
}

/* "Range: bytes=" + two 20-digit numbers + "-" + "\r\n" */
#define RANGE_HDR_MAX 64

size_t uc_url_max_request(const struct uc_url *u)
{
    return u->get_len + RANGE_HDR_MAX;
}

/* The GET with "Range: bytes=a-b" spliced in before the blank line. */
static size_t render_range(const struct uc_url *u, uint64_t a, uint64_t b, char *out)
{
    size_t n = u->get_len - 2;
    memcpy(out, u->get_req, n);
    memcpy(out + n, "Range: bytes=", 13);
    n += 13;
    n += uc_fmt_u64(out + n, a);
    out[n++] = '-';
    n += uc_fmt_u64(out + n, b);
    memcpy(out + n, "\r\n\r\n", 4);
    return n + 4;
}

size_t uc_mix_request(const struct uc_url *u, uint32_t ui, enum uc_kind kind, uint64_t rnd,
                      bool verify, struct uc_expect *e, char *out)
{
    bool sized = u->size != UC_SIZE_UNKNOWN && u->size > 0;
    memset(e, 0, sizeof(*e));
    e->url = ui;
    e->length = u->size;
    if (!sized && (kind == UC_KIND_RANGE1M || kind == UC_KIND_SMALL_RANGES))
        kind = UC_KIND_GET;

    switch (kind) {
    case UC_KIND_HEAD_GET:
        e->method = UC_M_HEAD;
        e->status = 200;
        e->then_get = true;
        memcpy(out, u->head_req, u->head_len);
        return u->head_len;
    case UC_KIND_RANGE1M: {
        uint64_t chunks = (u->size + UC_RANGE1M - 1) / UC_RANGE1M;
        uint64_t a = (rnd % chunks) * UC_RANGE1M;
        uint64_t b = a + UC_RANGE1M - 1;
        e->method = UC_M_RANGE;
        e->status = 206;
        e->first = a;
        e->last = b < u->size ? b : u->size - 1;
        e->length = e->last - e->first + 1;
        return render_range(u, a, b, out);
    }
    case UC_KIND_SMALL_RANGES: {
        /* Length 1..16 KiB, then an offset that keeps the range inside the file. */
        uint64_t len = 1024 + (rnd & 0xffffffff) % (15 * 1024 + 1);
        if (len > u->size)
            len = u->size;
        /* A second 64-bit draw from rnd, so offsets reach past 4 GiB in large files. */
        uint64_t r2 = rnd * 0x9E3779B97F4A7C15ull;
        r2 ^= r2 >> 29;
        uint64_t a = r2 % (u->size - len + 1);
        e->method = UC_M_RANGE;
        e->status = 206;
        e->first = a;
        e->last = a + len - 1;
        e->length = len;
        return render_range(u, a, a + len - 1, out);
    }
    case UC_KIND_GET:
    default:
        e->method = UC_M_GET;
        e->status = 200;
        e->verify = verify && u->has_sha256;
        memcpy(out, u->get_req, u->get_len);
        return u->get_len;
    }
}

int uc_mix_check(const struct uc_expect *e, const struct uc_url *u, const struct uc_resp *r,
                 uint64_t *body)
{
    /* Framing first: with chunked coding neither the length nor the body can be trusted. */
    if (r->has_transfer_encoding)
        return UC_ERR_FRAMING;
    if (r->status != e->status)
        return UC_ERR_STATUS;
    if (!r->has_content_length)
        return UC_ERR_LENGTH;
    if (e->method == UC_M_RANGE) {
        if (!r->has_content_range || !r->content_range_valid || r->range_first != e->first ||
            r->range_last != e->last || r->range_total != u->size)
            return UC_ERR_CONTENT_RANGE;
        if (r->content_length != e->length)
            return UC_ERR_LENGTH;
    } else if (e->length != UC_SIZE_UNKNOWN && r->content_length != e->length) {
        return UC_ERR_LENGTH;
    }
    *body = e->method == UC_M_HEAD ? 0 : r->content_length;
    return UC_ERR_NONE;
}
