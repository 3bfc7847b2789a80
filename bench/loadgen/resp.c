/*
 * Response-head parser. The head is located first (the blank line), then parsed line by
 * line; this re-scan per call is cheap because heads are a few hundred bytes and keeps
 * the parser stateless, which is what makes it trivially testable.
 */
#include "resp.h"

#include <string.h>
#include <strings.h>

/* Decimal digits of [p, end) into *out; false on empty, non-digit or overflow. */
static bool parse_dec(const char *p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    if (p == end)
        return false;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool name_is(const char *name, size_t nlen, const char *want)
{
    size_t wlen = strlen(want);
    return nlen == wlen && strncasecmp(name, want, wlen) == 0;
}

/* Does the comma-separated token list [v, v+len) contain tok (case-insensitive)? */
static bool list_has(const char *v, size_t len, const char *tok)
{
    size_t tlen = strlen(tok);
    const char *end = v + len;
    while (v < end) {
        while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
            v++;
        const char *s = v;
        while (v < end && *v != ',')
            v++;
        const char *e = v;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - s) == tlen && strncasecmp(s, tok, tlen) == 0)
            return true;
    }
    return false;
}

bool uc_resp_parse_content_range(const char *v, size_t len, uint64_t *first, uint64_t *last,
                                 uint64_t *total)
{
    const char *end = v + len;
    if (len < 6 || strncasecmp(v, "bytes ", 6) != 0)
        return false;
    const char *p = v + 6;
    const char *dash = memchr(p, '-', (size_t)(end - p));
    if (!dash)
        return false;
    const char *slash = memchr(dash, '/', (size_t)(end - dash));
    if (!slash)
        return false;
    if (!parse_dec(p, dash, first) || !parse_dec(dash + 1, slash, last))
        return false;
    if (slash + 2 == end && slash[1] == '*')
        *total = UC_RESP_TOTAL_UNKNOWN;
    else if (!parse_dec(slash + 1, end, total))
        return false;
    if (*first > *last)
        return false;
    return *total == UC_RESP_TOTAL_UNKNOWN || *last < *total;
}

/* "HTTP/1.x SSS[ reason]" */
static bool parse_status_line(const char *p, const char *end, struct uc_resp *r, int *minor)
{
    if (end - p < 12 || memcmp(p, "HTTP/1.", 7) != 0)
        return false;
    if (p[7] < '0' || p[7] > '9' || p[8] != ' ')
        return false;
    *minor = p[7] - '0';
    for (int i = 9; i < 12; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    if (end - p > 12 && p[12] != ' ')
        return false;
    r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    return r->status >= 100;
}

static bool parse_header(const char *p, const char *end, struct uc_resp *r, bool *keep_alive)
{
    const char *colon = memchr(p, ':', (size_t)(end - p));
    if (!colon || colon == p)
        return false;
    /* RFC 9112 5.1: no whitespace between the field name and the colon. */
    if (colon[-1] == ' ' || colon[-1] == '\t')
        return false;
    const char *name = p;
    size_t nlen = (size_t)(colon - p);
    const char *v = colon + 1;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    const char *ve = end;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    size_t vlen = (size_t)(ve - v);

    if (name_is(name, nlen, "content-length")) {
        uint64_t n;
        if (!parse_dec(v, ve, &n))
            return false;
        /* Differing duplicates make the framing ambiguous (RFC 9112 6.3). */
        if (r->has_content_length && r->content_length != n)
            return false;
        r->has_content_length = true;
        r->content_length = n;
    } else if (name_is(name, nlen, "transfer-encoding")) {
        r->has_transfer_encoding = true;
        if (list_has(v, vlen, "chunked"))
            r->chunked = true;
    } else if (name_is(name, nlen, "content-range")) {
        r->has_content_range = true;
        r->content_range_valid =
            uc_resp_parse_content_range(v, vlen, &r->range_first, &r->range_last, &r->range_total);
    } else if (name_is(name, nlen, "connection")) {
        if (list_has(v, vlen, "close"))
            r->conn_close = true;
        if (list_has(v, vlen, "keep-alive"))
            *keep_alive = true;
    }
    return true;
}

int uc_resp_parse(const char *buf, size_t len, size_t max_head, struct uc_resp *out)
{
    size_t scan = len < max_head ? len : max_head;
    const char *eoh = memmem(buf, scan, "\r\n\r\n", 4);
    if (!eoh)
        return len >= max_head ? UC_RESP_EPARSE : UC_RESP_AGAIN;

    memset(out, 0, sizeof(*out));
    const char *end = eoh + 2; /* one past the CRLF of the last header line */
    const char *p = buf;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    int minor = 1;
    bool keep_alive = false;
    if (!nl || nl == p || nl[-1] != '\r' || !parse_status_line(p, nl - 1, out, &minor))
        return UC_RESP_EPARSE;
    for (p = nl + 1; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl || nl == p || nl[-1] != '\r')
            return UC_RESP_EPARSE;
        /* Obsolete line folding is refused: a line may not start with whitespace. */
        if (*p == ' ' || *p == '\t' || !parse_header(p, nl - 1, out, &keep_alive))
            return UC_RESP_EPARSE;
    }
    if (minor == 0 && !keep_alive)
        out->conn_close = true;
    out->head_len = (size_t)(eoh - buf) + 4;
    return UC_RESP_OK;
}
