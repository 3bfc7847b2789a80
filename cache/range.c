/*
 * Range parsing and coalescing. Syntax (RFC 9110 §14.1.1):
 *
 *   ranges-specifier = range-unit "=" range-set
 *   range-set        = 1#range-spec          ; comma list, empty elements allowed
 *   range-spec       = int-range / suffix-range
 *   int-range        = first-pos "-" [ last-pos ]
 *   suffix-range     = "-" suffix-length
 *
 * A syntactically invalid field is ignored (§14.2: the server MAY ignore it), which
 * serves the whole file with 200, as the SPEC asks.
 */
#include "range.h"

#include <stdbool.h>
#include <stdlib.h>
#include <strings.h>

struct cursor {
    const char *p, *end;
};

static void skip_ows(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/*
 * 1*DIGIT; false when there is no digit. A number past 64 bits saturates at UINT64_MAX:
 * it is past the end of any file, which is all the decisions below need to know
 * (§14.1.1: a last-pos past the end means the end, a suffix longer than the file
 * means all of it, a first-pos past the end is unsatisfiable).
 */
static bool read_num(struct cursor *c, uint64_t *out)
{
    const char *start = c->p;
    uint64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        unsigned d = (unsigned)(*c->p - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
        c->p++;
    }
    *out = v;
    return c->p > start;
}

/* One range-spec; *sat says whether it selects any byte of the representation. */
static bool read_spec(struct cursor *c, uint64_t size, struct uc_range *r, bool *sat)
{
    uint64_t a, b;
    if (c->p < c->end && *c->p == '-') {
        c->p++;
        if (!read_num(c, &b))
            return false;
        *sat = b > 0 && size > 0;
        if (*sat)
            *r = (struct uc_range){b >= size ? 0 : size - b, size - 1};
        return true;
    }
    if (!read_num(c, &a) || c->p >= c->end || *c->p != '-')
        return false;
    c->p++;
    bool has_last = read_num(c, &b);
    if (has_last && b < a)
        return false; /* §14.1.1: invalid if last-pos < first-pos */
    *sat = a < size;
    if (*sat)
        *r = (struct uc_range){a, has_last && b < size - 1 ? b : size - 1};
    return true;
}

static int cmp_first(const void *x, const void *y)
{
    const struct uc_range *a = x, *b = y;
    return a->first < b->first ? -1 : a->first > b->first;
}

/* Sort and merge overlapping or adjacent parts; returns the new count. */
static uint32_t coalesce(struct uc_range *r, uint32_t n)
{
    qsort(r, n, sizeof(*r), cmp_first);
    uint32_t out = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (out && r[i].first <= r[out - 1].last + 1) {
            if (r[i].last > r[out - 1].last)
                r[out - 1].last = r[i].last;
        } else {
            r[out++] = r[i];
        }
    }
    return out;
}

enum uc_range_result uc_range_eval(const char *v, size_t len, uint64_t size, uint32_t max_parts,
                                   struct uc_range *out, uint32_t cap, uint32_t *n)
{
    struct cursor c = {v, v + len};
    if (len < 6 || strncasecmp(v, "bytes=", 6))
        return UC_RANGE_IGNORE;
    c.p += 6;
    uint32_t got = 0;
    bool any_spec = false, overflow = false;
    while (c.p < c.end) {
        skip_ows(&c);
        if (c.p < c.end && *c.p == ',') { /* empty list element */
            c.p++;
            continue;
        }
        struct uc_range r;
        bool sat = false;
        if (!read_spec(&c, size, &r, &sat))
            return UC_RANGE_IGNORE;
        any_spec = true;
        if (sat) {
            if (got < cap)
                out[got++] = r;
            else
                overflow = true;
        }
        skip_ows(&c);
        if (c.p < c.end && *c.p != ',')
            return UC_RANGE_IGNORE;
    }
    if (!any_spec)
        return UC_RANGE_IGNORE;
    if (overflow || got == 0)
        return UC_RANGE_UNSAT;
    got = coalesce(out, got);
    if (got > max_parts)
        return UC_RANGE_UNSAT;
    *n = got;
    return UC_RANGE_OK;
}
