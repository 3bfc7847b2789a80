/*
 * Log-linear latency histogram in microseconds, HdrHistogram-like.
 *
 * Values below 256 us get one bucket each. Above, every power-of-two octave is split
 * into 128 equal buckets, so a bucket is at most 1/128 (< 0.8%) of its value wide and
 * the midpoint reported for a percentile is within 0.4% of any value in it. Values
 * over UC_HIST_MAX_US (about 67 s) land in the last bucket; max keeps the exact value.
 * Fixed size (about 21 KiB), no allocation: one per worker thread, merged at the end.
 */
#ifndef UC_LG_HIST_H
#define UC_LG_HIST_H

#include <stdint.h>

#define UC_HIST_LINEAR 256 /* exact buckets for 0..255 us */
#define UC_HIST_SUB_BITS 7 /* 128 buckets per octave above that */
#define UC_HIST_SUB (1u << UC_HIST_SUB_BITS)
#define UC_HIST_MIN_EXP 8  /* first log octave is [2^8, 2^9) */
#define UC_HIST_MAX_EXP 26 /* last octave is [2^26, 2^27) us, 67..134 s */
#define UC_HIST_BUCKETS (UC_HIST_LINEAR + (UC_HIST_MAX_EXP - UC_HIST_MIN_EXP + 1) * UC_HIST_SUB)
#define UC_HIST_MAX_US ((1ull << (UC_HIST_MAX_EXP + 1)) - 1)

struct uc_hist {
    uint64_t count;
    uint64_t sum; /* for the mean */
    uint64_t max;
    uint64_t min;
    uint64_t bucket[UC_HIST_BUCKETS];
};

void uc_hist_init(struct uc_hist *h);
void uc_hist_record(struct uc_hist *h, uint64_t us);
/* Add src's counts to dst. */
void uc_hist_merge(struct uc_hist *dst, const struct uc_hist *src);
/*
 * Value at percentile p (0..100]: the midpoint of the bucket holding the ceil(p% * n)-th
 * smallest value, clamped to [min, max]. 0 when empty.
 */
double uc_hist_percentile(const struct uc_hist *h, double p);
double uc_hist_mean(const struct uc_hist *h);

/* Bucket index for a value, and the [lo, hi] range a bucket covers (for tests). */
unsigned uc_hist_index(uint64_t us);
void uc_hist_bounds(unsigned idx, uint64_t *lo, uint64_t *hi);

#endif
