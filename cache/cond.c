/*
 * RFC 9110 §13.2.2 precedence:
 *   1. If-Match          false -> 412
 *   2. If-Unmodified-Since (only without If-Match)   false -> 412
 *   3. If-None-Match     false -> 304 for GET/HEAD, else 412
 *   4. If-Modified-Since (only GET/HEAD, only without If-None-Match)  false -> 304
 * If-Match uses the strong comparison, If-None-Match the weak one (§8.8.3.2). A date
 * field that does not parse is ignored, as §13.1.3 and §13.1.4 require.
 */
#include "cond.h"
#include "httpdate.h"

#include <string.h>

enum cmp { STRONG, WEAK };

static const struct uc_http_span *field(const struct uc_http_req *req, enum uc_http_known k)
{
    return req->known[k] >= 0 ? &req->headers[req->known[k]].value : NULL;
}

/*
 * Does the entity-tag list in v (or "*") contain a tag matching ours? Opaque tags are
 * compared byte for byte; with STRONG, a weak tag ("W/...") never matches. A malformed
 * element ends the list: what was matched so far stands.
 */
static bool list_matches(const char *p, size_t n, const struct uc_validators *val, enum cmp how)
{
    const char *end = p + n;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (end - p == 1 && *p == '*')
        return true; /* the file exists, so "*" matches */
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        if (p >= end)
            break;
        bool weak = end - p >= 2 && p[0] == 'W' && p[1] == '/';
        if (weak)
            p += 2;
        if (p >= end || *p != '"')
            return false;
        const char *close = memchr(p + 1, '"', (size_t)(end - p - 1));
        if (!close)
            return false;
        size_t len = (size_t)(close + 1 - p);
        if ((!weak || how == WEAK) && len == val->etag_len && !memcmp(p, val->etag, len))
            return true;
        p = close + 1;
    }
    return false;
}

static bool date_field(const struct uc_http_req *req, const char *buf, enum uc_http_known k,
                       int64_t *out)
{
    const struct uc_http_span *f = field(req, k);
    return f && uc_httpdate_parse(buf + f->off, f->len, out) == 0;
}

enum uc_cond_result uc_cond_eval(const struct uc_http_req *req, const char *buf,
                                 const struct uc_validators *v)
{
    bool get_head = req->method == UC_M_GET || req->method == UC_M_HEAD;
    const struct uc_http_span *im = field(req, UC_H_IF_MATCH);
    const struct uc_http_span *inm = field(req, UC_H_IF_NONE_MATCH);
    int64_t t;
    if (im) {
        if (!list_matches(buf + im->off, im->len, v, STRONG))
            return UC_COND_FAILED;
    } else if (date_field(req, buf, UC_H_IF_UNMODIFIED_SINCE, &t) && v->last_modified > t) {
        return UC_COND_FAILED;
    }
    if (inm) {
        if (list_matches(buf + inm->off, inm->len, v, WEAK))
            return get_head ? UC_COND_NOT_MODIFIED : UC_COND_FAILED;
    } else if (get_head && date_field(req, buf, UC_H_IF_MODIFIED_SINCE, &t) &&
               v->last_modified <= t) {
        return UC_COND_NOT_MODIFIED;
    }
    return UC_COND_PROCEED;
}

bool uc_cond_if_range(const struct uc_http_req *req, const char *buf, const struct uc_validators *v)
{
    const struct uc_http_span *f = field(req, UC_H_IF_RANGE);
    if (!f)
        return true;
    const char *p = buf + f->off;
    if (f->len >= 1 && p[0] == '"')
        return f->len == v->etag_len && !memcmp(p, v->etag, f->len);
    if (f->len >= 2 && p[0] == 'W' && p[1] == '/')
        return false; /* §13.1.5: a weak tag never validates a range */
    int64_t t;
    return uc_httpdate_parse(p, f->len, &t) == 0 && t == v->last_modified;
}
