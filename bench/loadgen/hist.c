/*
 * Log-linear histogram: see hist.h for the bucket layout and its precision.
 */
#include "hist.h"

#include <math.h>
#include <string.h>

void uc_hist_init(struct uc_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

unsigned uc_hist_index(uint64_t us)
{
    if (us < UC_HIST_LINEAR)
        return (unsigned)us;
    if (us > UC_HIST_MAX_US)
        us = UC_HIST_MAX_US;
    unsigned e = 63u - (unsigned)__builtin_clzll(us); /* floor(log2(us)), >= 8 */
    unsigned sub = (unsigned)(us >> (e - UC_HIST_SUB_BITS)) & (UC_HIST_SUB - 1);
    return UC_HIST_LINEAR + (e - UC_HIST_MIN_EXP) * UC_HIST_SUB + sub;
}

void uc_hist_bounds(unsigned idx, uint64_t *lo, uint64_t *hi)
{
    if (idx < UC_HIST_LINEAR) {
        *lo = *hi = idx;
        return;
    }
    unsigned e = (idx - UC_HIST_LINEAR) / UC_HIST_SUB + UC_HIST_MIN_EXP;
    uint64_t sub = (idx - UC_HIST_LINEAR) % UC_HIST_SUB;
    uint64_t width = 1ull << (e - UC_HIST_SUB_BITS);
    *lo = (1ull << e) + sub * width;
    *hi = *lo + width - 1;
}

void uc_hist_record(struct uc_hist *h, uint64_t us)
{
    h->bucket[uc_hist_index(us)]++;
    h->count++;
    h->sum += us;
    if (us > h->max)
        h->max = us;
    if (us < h->min)
        h->min = us;
}

void uc_hist_merge(struct uc_hist *dst, const struct uc_hist *src)
{
    for (unsigned i = 0; i < UC_HIST_BUCKETS; i++)
        dst->bucket[i] += src->bucket[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->max > dst->max)
        dst->max = src->max;
    if (src->min < dst->min)
        dst->min = src->min;
}

double uc_hist_percentile(const struct uc_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p <= 0)
        return (double)h->min;
    if (p >= 100)
        return (double)h->max;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < UC_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            uint64_t lo, hi;
            uc_hist_bounds(i, &lo, &hi);
            double mid = ((double)lo + (double)hi) / 2.0;
            if (mid < (double)h->min)
                mid = (double)h->min;
            if (mid > (double)h->max)
                mid = (double)h->max;
            return mid;
        }
    }
    return (double)h->max;
}

double uc_hist_mean(const struct uc_hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0;
}
