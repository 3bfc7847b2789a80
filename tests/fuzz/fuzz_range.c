/*
 * libFuzzer target: the Range decider. The first 8 bytes pick the representation size
 * and limits, the rest is the field value. Invariants on UC_RANGE_OK: 1..max_parts
 * parts, each inside the file, sorted, disjoint and not adjacent, so the bytes sent
 * never exceed the file size (no amplification).
 */
#include "fuzz.h"
#include "range.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    uint64_t fsize = 0;
    memcpy(&fsize, data, 6); /* up to 2^48: past 4 GiB */
    uint32_t max_parts = 1 + data[6] % 64, cap = 1 + data[7];
    struct uc_range parts[256];
    uint32_t n = 0;
    enum uc_range_result rc =
        uc_range_eval((const char *)data + 8, size - 8, fsize, max_parts, parts, cap, &n);
    FUZZ_CHECK(rc == UC_RANGE_IGNORE || rc == UC_RANGE_OK || rc == UC_RANGE_UNSAT);
    if (rc != UC_RANGE_OK)
        return 0;
    FUZZ_CHECK(n >= 1 && n <= max_parts && n <= cap);
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        FUZZ_CHECK(parts[i].first <= parts[i].last && parts[i].last < fsize);
        if (i)
            FUZZ_CHECK(parts[i].first > parts[i - 1].last + 1);
        total += parts[i].last - parts[i].first + 1;
    }
    FUZZ_CHECK(total <= fsize);
    return 0;
}
