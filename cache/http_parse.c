/*
 * Resumable HTTP/1.x request-head parser. One byte at a time through a state machine,
 * so a head split at any byte boundary parses the same (the unit tests feed every split).
 *
 *   request-line = method SP request-target SP HTTP-version CRLF
 *   field-line   = field-name ":" OWS field-value OWS CRLF
 *   head         = *CRLF request-line *( field-line ) CRLF
 */
#include "http_parse.h"

#include <string.h>
#include <strings.h>

enum state {
    S_START,    /* skipping empty lines before the request line */
    S_START_LF, /* CR seen there, LF must follow */
    S_METHOD,   /* in the method token */
    S_TARGET0,  /* first byte of the request target */
    S_TARGET,   /* in the request target */
    S_VERSION,  /* in "HTTP/x.y" until CR */
    S_RL_LF,    /* LF after the request line */
    S_LINE,     /* start of a field line, or CR of the empty line */
    S_NAME,     /* in a field name, until ':' */
    S_VALUE_WS, /* whitespace before a field value */
    S_VALUE,    /* in a field value, until CR */
    S_HDR_LF,   /* LF after a field line */
    S_END_LF,   /* LF of the empty line that ends the head */
    S_DONE,
    S_FAILED,
};

/* RFC 9110 §5.6.2 tchar */
static bool is_tchar(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr(extra, c));
}

static bool is_vchar(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e;
}

/* field-value bytes: VCHAR / obs-text; SP and HTAB are handled by the caller */
static bool is_value_char(unsigned char c)
{
    return is_vchar(c) || c >= 0x80;
}

void uc_http_req_init(struct uc_http_req *req)
{
    memset(req, 0, sizeof(*req));
    req->content_length = -1;
    for (int i = 0; i < UC_H_KNOWN_COUNT; i++)
        req->known[i] = -1;
}

static enum uc_parse_rc fail(struct uc_http_req *req, enum uc_parse_rc rc)
{
    req->state = S_FAILED;
    req->error = rc;
    return rc;
}

static bool span_is(const char *buf, struct uc_http_span s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && strncasecmp(buf + s.off, lit, n) == 0;
}

static enum uc_http_method classify(const char *buf, struct uc_http_span m)
{
    /* Methods are case-sensitive (RFC 9110 §9.1). */
    if (m.len == 3 && !memcmp(buf + m.off, "GET", 3))
        return UC_M_GET;
    if (m.len == 4 && !memcmp(buf + m.off, "HEAD", 4))
        return UC_M_HEAD;
    if (m.len == 4 && !memcmp(buf + m.off, "POST", 4))
        return UC_M_POST;
    return UC_M_OTHER;
}

static enum uc_parse_rc parse_version(struct uc_http_req *req, const char *buf,
                                      struct uc_http_span v)
{
    const char *p = buf + v.off;
    if (v.len != 8 || memcmp(p, "HTTP/", 5) || p[5] < '0' || p[5] > '9' || p[6] != '.' ||
        p[7] < '0' || p[7] > '9')
        return UC_PARSE_E_BAD;
    if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
        return UC_PARSE_E_VERSION;
    req->version = p[7] == '1' ? 11 : 10;
    return UC_PARSE_OK;
}

static enum uc_parse_rc on_content_length(struct uc_http_req *req, const char *v, uint32_t n)
{
    /* A repeated Content-Length is refused even when equal: one value, one meaning. */
    if (req->content_length >= 0 || n == 0 || n > 18)
        return UC_PARSE_E_FRAMING;
    int64_t x = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return UC_PARSE_E_FRAMING;
        x = x * 10 + (v[i] - '0');
    }
    req->content_length = x;
    return UC_PARSE_OK;
}

static void on_connection(struct uc_http_req *req, const char *v, uint32_t n)
{
    uint32_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        uint32_t start = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        uint32_t len = i - start;
        if (len == 5 && !strncasecmp(v + start, "close", 5))
            req->conn_close = true;
        else if (len == 10 && !strncasecmp(v + start, "keep-alive", 10))
            req->conn_keep_alive = true;
    }
}

static enum uc_parse_rc on_header(struct uc_http_req *req, const char *buf)
{
    int idx = (int)req->nheaders - 1;
    const struct uc_http_header *h = &req->headers[idx];
    const char *v = buf + h->value.off;
    static const struct {
        const char *name;
        enum uc_http_known k;
    } known[] = {{"range", UC_H_RANGE},
                 {"if-range", UC_H_IF_RANGE},
                 {"if-match", UC_H_IF_MATCH},
                 {"if-none-match", UC_H_IF_NONE_MATCH},
                 {"if-modified-since", UC_H_IF_MODIFIED_SINCE},
                 {"if-unmodified-since", UC_H_IF_UNMODIFIED_SINCE},
                 {"host", UC_H_HOST}};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (!span_is(buf, h->name, known[i].name))
            continue;
        if (req->known[known[i].k] >= 0) {
            if (known[i].k == UC_H_HOST)
                return UC_PARSE_E_BAD; /* RFC 9112 §3.2: more than one Host */
            if (known[i].k == UC_H_RANGE)
                req->dup_range = true;
            return UC_PARSE_OK;
        }
        req->known[known[i].k] = (int16_t)idx;
        return UC_PARSE_OK;
    }
    if (span_is(buf, h->name, "content-length")) {
        enum uc_parse_rc rc = on_content_length(req, v, h->value.len);
        return rc ? rc : (req->te_seen ? UC_PARSE_E_FRAMING : UC_PARSE_OK);
    }
    if (span_is(buf, h->name, "transfer-encoding")) {
        if (req->content_length >= 0 || req->te_seen)
            return UC_PARSE_E_FRAMING;
        req->te_seen = true;
        /* We decode no transfer coding but chunked (RFC 9112 §6.1: else 501). */
        if (!span_is(buf, h->value, "chunked"))
            return UC_PARSE_E_NOT_IMPLEMENTED;
        req->chunked = true;
        return UC_PARSE_OK;
    }
    if (span_is(buf, h->name, "connection"))
        on_connection(req, v, h->value.len);
    else if (span_is(buf, h->name, "expect") && span_is(buf, h->value, "100-continue"))
        req->expect_continue = true;
    return UC_PARSE_OK;
}

static enum uc_parse_rc finish(struct uc_http_req *req)
{
    if (req->version == 11 && req->known[UC_H_HOST] < 0)
        return UC_PARSE_E_BAD; /* RFC 9112 §3.2 */
    if (req->version == 10 && !req->conn_keep_alive)
        req->conn_close = true;
    return UC_PARSE_OK;
}

/*
 * RFC 9112 §3.2: origin-form ("/path"), absolute-form ("http://host/path"), or "*" for
 * OPTIONS. Authority-form belongs to CONNECT, which a cache does not do.
 */
static bool target_form_ok(const struct uc_http_req *req, const char *buf)
{
    const char *t = buf + req->target.off;
    uint32_t n = req->target.len;
    if (t[0] == '/')
        return true;
    if (n == 1 && t[0] == '*')
        return req->method_span.len == 7 && !memcmp(buf + req->method_span.off, "OPTIONS", 7);
    return (n > 7 && !strncasecmp(t, "http://", 7)) || (n > 8 && !strncasecmp(t, "https://", 8));
}

/* One byte in a request-line state; returns AGAIN to go on. */
static enum uc_parse_rc step_line(struct uc_http_req *req, const char *buf, uint32_t p,
                                  unsigned char c)
{
    switch (req->state) {
    case S_START:
        if (c == '\r')
            req->state = S_START_LF;
        else if (is_tchar(c))
            req->mark = p, req->state = S_METHOD;
        else
            return UC_PARSE_E_BAD;
        return UC_PARSE_AGAIN;
    case S_START_LF:
        if (c != '\n')
            return UC_PARSE_E_BAD;
        req->state = S_START;
        return UC_PARSE_AGAIN;
    case S_METHOD:
        if (c == ' ') {
            req->method_span = (struct uc_http_span){req->mark, p - req->mark};
            req->method = classify(buf, req->method_span);
            req->state = S_TARGET0;
        } else if (!is_tchar(c)) {
            return UC_PARSE_E_BAD;
        }
        return UC_PARSE_AGAIN;
    case S_TARGET0:
        if (!is_vchar(c))
            return UC_PARSE_E_BAD;
        req->mark = p;
        req->state = S_TARGET;
        return UC_PARSE_AGAIN;
    case S_TARGET:
        if (c == ' ') {
            req->target = (struct uc_http_span){req->mark, p - req->mark};
            if (!target_form_ok(req, buf))
                return UC_PARSE_E_BAD;
            req->mark = p + 1;
            req->state = S_VERSION;
        } else if (!is_vchar(c)) {
            return UC_PARSE_E_BAD;
        }
        return UC_PARSE_AGAIN;
    case S_VERSION:
        if (c == '\r') {
            enum uc_parse_rc rc =
                parse_version(req, buf, (struct uc_http_span){req->mark, p - req->mark});
            if (rc)
                return rc;
            req->state = S_RL_LF;
        } else if (!is_vchar(c) || p - req->mark >= 8) {
            return UC_PARSE_E_BAD;
        }
        return UC_PARSE_AGAIN;
    case S_RL_LF:
        if (c != '\n')
            return UC_PARSE_E_BAD;
        req->state = S_LINE;
        return UC_PARSE_AGAIN;
    }
    return UC_PARSE_E_BAD;
}

/* One byte in a field-line state; returns AGAIN to go on, OK at the end of the head. */
static enum uc_parse_rc step_field(struct uc_http_req *req, const char *buf, uint32_t p,
                                   unsigned char c, const struct uc_http_limits *lim)
{
    struct uc_http_header *h = &req->headers[req->nheaders];
    switch (req->state) {
    case S_LINE:
        if (c == '\r') {
            req->state = S_END_LF;
            return UC_PARSE_AGAIN;
        }
        /* Leading whitespace would be obs-fold (RFC 9112 §5.2): refused. */
        if (!is_tchar(c))
            return UC_PARSE_E_BAD;
        if (req->nheaders >= lim->max_headers || req->nheaders >= UC_HTTP_HEADERS_CAP)
            return UC_PARSE_E_HEAD_TOO_LARGE;
        req->mark = p;
        req->state = S_NAME;
        return UC_PARSE_AGAIN;
    case S_NAME:
        if (c == ':') {
            h->name = (struct uc_http_span){req->mark, p - req->mark};
            req->state = S_VALUE_WS;
        } else if (!is_tchar(c)) {
            return UC_PARSE_E_BAD; /* includes whitespace before the colon (§5.1) */
        }
        return UC_PARSE_AGAIN;
    case S_VALUE_WS:
        if (c == ' ' || c == '\t')
            return UC_PARSE_AGAIN;
        req->mark = req->value_end = p;
        if (c == '\r') {
            req->state = S_HDR_LF;
        } else if (is_value_char(c)) {
            req->value_end = p + 1;
            req->state = S_VALUE;
        } else {
            return UC_PARSE_E_BAD;
        }
        return UC_PARSE_AGAIN;
    case S_VALUE:
        if (c == '\r')
            req->state = S_HDR_LF;
        else if (is_value_char(c))
            req->value_end = p + 1;
        else if (c != ' ' && c != '\t')
            return UC_PARSE_E_BAD; /* NUL, bare LF, other controls */
        return UC_PARSE_AGAIN;
    case S_HDR_LF: {
        if (c != '\n')
            return UC_PARSE_E_BAD;
        h->value = (struct uc_http_span){req->mark, req->value_end - req->mark};
        req->nheaders++;
        enum uc_parse_rc rc = on_header(req, buf);
        if (rc)
            return rc;
        req->state = S_LINE;
        return UC_PARSE_AGAIN;
    }
    case S_END_LF:
        if (c != '\n')
            return UC_PARSE_E_BAD;
        req->head_len = p + 1;
        req->state = S_DONE;
        return finish(req);
    }
    return UC_PARSE_E_BAD;
}

enum uc_parse_rc uc_http_parse(struct uc_http_req *req, const char *buf, size_t len,
                               const struct uc_http_limits *lim)
{
    if (req->state == S_DONE)
        return UC_PARSE_OK;
    if (req->state == S_FAILED)
        return (enum uc_parse_rc)req->error;
    for (uint32_t p = req->pos; p < len; p++) {
        unsigned char c = (unsigned char)buf[p];
        bool in_line = req->state < S_LINE;
        if (in_line && p >= lim->max_request_line)
            return fail(req, UC_PARSE_E_URI_TOO_LONG);
        /* Every field line is bounded by max_request_line too, as nginx's
         * large_client_header_buffers bounds each line (SPEC §3): 431. */
        if (req->state == S_LINE)
            req->line_start = p;
        else if (!in_line && p - req->line_start >= lim->max_request_line)
            return fail(req, UC_PARSE_E_LINE_TOO_LONG);
        if (p >= lim->max_header_bytes)
            return fail(req, UC_PARSE_E_HEAD_TOO_LARGE);
        enum uc_parse_rc rc = in_line ? step_line(req, buf, p, c) : step_field(req, buf, p, c, lim);
        if (rc == UC_PARSE_OK) {
            req->pos = p + 1;
            return UC_PARSE_OK;
        }
        if (rc != UC_PARSE_AGAIN) {
            req->pos = p; /* the offending byte, for the log */
            return fail(req, rc);
        }
    }
    req->pos = (uint32_t)len;
    return UC_PARSE_AGAIN;
}

int uc_http_parse_status(enum uc_parse_rc rc)
{
    switch (rc) {
    case UC_PARSE_OK:
    case UC_PARSE_AGAIN:
        return 0;
    case UC_PARSE_E_URI_TOO_LONG:
        return 414;
    case UC_PARSE_E_HEAD_TOO_LARGE:
    case UC_PARSE_E_LINE_TOO_LONG:
        return 431;
    case UC_PARSE_E_VERSION:
        return 505;
    case UC_PARSE_E_NOT_IMPLEMENTED:
        return 501;
    case UC_PARSE_E_BAD:
    case UC_PARSE_E_FRAMING:
        break;
    }
    return 400;
}
