/*
 * Range requests (RFC 9110 §14.1-§14.2) for one representation of a known size. A pure
 * decider: it parses the Range field value, drops unsatisfiable parts, sorts and merges
 * overlapping or adjacent parts (so one request cannot ask for the same bytes many
 * times), and applies the part limit. It never sees a socket.
 *
 *   Range: bytes=0-499          first 500 bytes        -> 206, Content-Range 0-499/size
 *   Range: bytes=9500-          from 9500 to the end
 *   Range: bytes=-500           last 500 bytes
 *   Range: bytes=0-0,-1         two parts              -> 206 multipart/byteranges
 */
#ifndef UC_RANGE_H
#define UC_RANGE_H

#include <stddef.h>
#include <stdint.h>

enum uc_range_result {
    UC_RANGE_IGNORE = 0, /* no usable Range (absent, other unit, bad syntax): serve 200 */
    UC_RANGE_OK = 1,     /* satisfiable: 206 with *n parts */
    UC_RANGE_UNSAT = 2,  /* nothing satisfiable, or more parts than allowed: 416 */
};

struct uc_range {
    uint64_t first, last; /* inclusive byte positions, last < size */
};

/*
 * Decide on the Range field value v[0..len) for a representation of size bytes.
 * out has room for cap parts; parts beyond cap before merging make the request
 * unsatisfiable, as do more than max_parts after merging (SPEC: max_ranges -> 416).
 * On UC_RANGE_OK *n is 1..max_parts and out[] is sorted, disjoint and non-adjacent.
 */
enum uc_range_result uc_range_eval(const char *v, size_t len, uint64_t size, uint32_t max_parts,
                                   struct uc_range *out, uint32_t cap, uint32_t *n);

#endif
