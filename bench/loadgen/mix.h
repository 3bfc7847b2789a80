/*
 * Request kinds of the update-client mix, the request bytes for each, and the result
 * each one must produce. Pure: no sockets, so a harness or a test can drive it alone.
 *
 *   get           whole GET, expect 200 and Content-Length = SIZE
 *   head-get      HEAD (expect 200, Content-Length = SIZE, no body), then a whole GET of
 *                 the same URL on the same connection
 *   range1m       Delivery Optimization: bytes=a-(a+1MiB-1) with a a random multiple of
 *                 1 MiB below SIZE; expect 206 with Content-Range a-min(b,SIZE-1)/SIZE
 *   small-ranges  express/PSF: one random range of 1..16 KiB inside the file; expect 206
 * Kinds that need SIZE fall back to get for URLs without one (or of size 0).
 */
#ifndef UC_LG_MIX_H
#define UC_LG_MIX_H

#include "resp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum uc_kind {
    UC_KIND_GET,
    UC_KIND_HEAD_GET,
    UC_KIND_RANGE1M,
    UC_KIND_SMALL_RANGES,
    UC_KIND_COUNT,
};

/* Error kinds reported by the generator; order is the JSON order. */
enum uc_errkind {
    UC_ERR_CONNECT,
    UC_ERR_READ,
    UC_ERR_TIMEOUT,
    UC_ERR_STATUS,
    UC_ERR_LENGTH,
    UC_ERR_SHORT_BODY,
    UC_ERR_CONTENT_RANGE,
    UC_ERR_DIGEST,
    UC_ERR_FRAMING,
    UC_ERR_PARSE,
    UC_ERR_COUNT,
    UC_ERR_NONE = -1,
};

extern const char *const uc_errkind_name[UC_ERR_COUNT];

#define UC_SIZE_UNKNOWN UINT64_MAX
#define UC_RANGE1M (1ull << 20)

/* One request target and its preformatted requests (built once, copied per request). */
struct uc_url {
    char *path;
    uint64_t size; /* UC_SIZE_UNKNOWN when the url file gave none */
    bool has_sha256;
    uint8_t sha256[32];
    char *get_req; /* "GET path HTTP/1.1\r\nHost: h\r\n\r\n" */
    size_t get_len;
    char *head_req;
    size_t head_len;
};

struct uc_mix {
    uint32_t weight[UC_KIND_COUNT];
    uint32_t total;
    char spec[128]; /* normalised "kind=w,..." for the report */
};

enum uc_method {
    UC_M_GET,
    UC_M_HEAD,
    UC_M_RANGE,
};

/* What one request expects back. Small: one per request in flight. */
struct uc_expect {
    uint32_t url;
    uint8_t method;  /* enum uc_method */
    bool then_get;   /* head-get: issue the GET once this HEAD succeeded */
    bool verify;     /* hash the body and compare with the url's SHA-256 */
    uint16_t status; /* 200 or 206 */
    uint64_t length; /* expected Content-Length, or UC_SIZE_UNKNOWN */
    uint64_t first;  /* ranges: expected Content-Range */
    uint64_t last;
};

/* Parse "get=70,range1m=30". Returns 0 or -EINVAL (unknown kind, bad weight, all 0). */
int uc_mix_parse(const char *spec, struct uc_mix *m);
/* Weighted choice of a kind from a uniform random value. */
enum uc_kind uc_mix_pick(const struct uc_mix *m, uint64_t rnd);

/* Build the preformatted requests of u for host (the Host header value). 0 or -ENOMEM. */
int uc_url_prepare(struct uc_url *u, const char *host);
void uc_url_free(struct uc_url *u);
/* Longest request uc_mix_request() may produce for u. */
size_t uc_url_max_request(const struct uc_url *u);

/*
 * Render one request of kind for url index ui into out (at least uc_url_max_request
 * bytes) and fill *e. rnd supplies the randomness of range choices. head-get renders
 * only the HEAD; the caller issues the GET (kind get) when the HEAD completes.
 * Returns the request length.
 */
size_t uc_mix_request(const struct uc_url *u, uint32_t ui, enum uc_kind kind, uint64_t rnd,
                      bool verify, struct uc_expect *e, char *out);

/*
 * Check a parsed head against what the request expects. Returns UC_ERR_NONE and the
 * number of body bytes to read in *body, or the error kind.
 */
int uc_mix_check(const struct uc_expect *e, const struct uc_url *u, const struct uc_resp *r,
                 uint64_t *body);

#endif
