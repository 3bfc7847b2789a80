/*
 * Response heads for the plain port (SPEC §3), formatted into a caller's bounded
 * buffer: content responses with every header the spec lists, short plain-text error
 * responses, and the framing of multipart/byteranges bodies, whose total length is
 * known in advance because bodies are never chunked.
 */
#ifndef UC_HTTP_RESP_H
#define UC_HTTP_RESP_H

#include "hash.h"
#include "range.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UC_BOUNDARY_LEN 24

/* What a content response says about its file. */
struct uc_resp_file {
    uint64_t size;
    int64_t last_modified; /* unix seconds */
    const char *etag;      /* strong entity-tag, quotes included */
    size_t etag_len;
    const uint8_t *sha256; /* UC_SHA256_LEN bytes, for Repr-Digest */
    bool replaceable;      /* may change in place (SelfUpdate): short max-age, never immutable */
};

/* How long a cache may keep a replaceable file before asking again (with its ETag). */
#define UC_REPLACEABLE_MAX_AGE 300

struct uc_resp_opts {
    bool close;        /* Connection: close, else keep-alive is implied (HTTP/1.1) */
    bool http10;       /* answer "HTTP/1.0"-compatible: keep-alive must be announced */
    int64_t now;       /* for Date */
    const char *allow; /* 405's Allow header; NULL: "GET, HEAD" */
    bool head_only;    /* answers a HEAD: the head says what a GET would get, no body */
};

/*
 * Head of a 200 (whole file), 206 (one part: range, or several: boundary set), 304 or
 * 416. For multipart, body_len is the total from uc_multipart_length(). Returns the
 * head length, or 0 if cap is too small.
 */
size_t uc_resp_content_head(char *out, size_t cap, int status, const struct uc_resp_file *f,
                            const struct uc_range *range, const char *boundary, uint64_t body_len,
                            const struct uc_resp_opts *o);

/*
 * A complete short error response: head plus a one-line plain-text body naming the
 * status and detail (e.g. the https:// URL to use); with head_only the head alone, its
 * Content-Length still the body's. 405 carries "Allow: GET, HEAD". Returns the total
 * length, or 0 if cap is too small.
 */
size_t uc_resp_error(char *out, size_t cap, int status, const char *detail,
                     const struct uc_resp_opts *o);

/* A complete application/json response (head_only: without its body). Returns the
 * total length, or 0 if cap is too small. */
size_t uc_resp_json(char *out, size_t cap, int status, const char *json, size_t len,
                    const struct uc_resp_opts *o);

/* Reason phrase for a status code. */
const char *uc_resp_reason(int status);

/* A random multipart boundary of UC_BOUNDARY_LEN characters (out holds one more). */
void uc_multipart_boundary(char out[UC_BOUNDARY_LEN + 1]);
/* Part header: the delimiter line and the part's Content-Type and Content-Range. */
size_t uc_multipart_part_head(char *out, size_t cap, const char *boundary, bool first,
                              const struct uc_range *r, uint64_t size);
/* The closing delimiter. */
size_t uc_multipart_tail(char *out, size_t cap, const char *boundary);
/* Exact body length of a multipart/byteranges response for these parts. */
uint64_t uc_multipart_length(const char *boundary, const struct uc_range *parts, uint32_t n,
                             uint64_t size);

#endif
