/*
 * Pure parser for an HTTP/1.1 response head, as the load generator sees it.
 *
 * It does no I/O and keeps no state between calls: the caller hands it the bytes
 * received so far and calls again with more if the head is not complete yet. Only the
 * fields the checks need are extracted (status, Content-Length, Content-Range,
 * Transfer-Encoding, Connection: close); every other header is skipped.
 */
#ifndef UC_LG_RESP_H
#define UC_LG_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum uc_resp_rc {
    UC_RESP_OK = 0,      /* head complete; out is filled */
    UC_RESP_AGAIN = 1,   /* no blank line yet and still under max_head bytes */
    UC_RESP_EPARSE = -1, /* malformed status line or header, or head over max_head */
};

/* Content-Range total when the server sent "*" (unknown length). */
#define UC_RESP_TOTAL_UNKNOWN UINT64_MAX

struct uc_resp {
    int status;              /* three-digit status code */
    size_t head_len;         /* bytes of the head including the blank line = body offset */
    bool has_content_length; /* Content-Length present (duplicates must agree) */
    uint64_t content_length;
    bool has_transfer_encoding; /* any Transfer-Encoding: we only accept identity framing */
    bool chunked;               /* Transfer-Encoding names "chunked" */
    bool conn_close;            /* Connection: close, or HTTP/1.0 without keep-alive */
    bool has_content_range;
    bool content_range_valid; /* "bytes a-b/n" with a <= b < n, or "bytes * /n" is invalid */
    uint64_t range_first;
    uint64_t range_last;
    uint64_t range_total;
};

/*
 * Parse the head at the start of buf[0..len). max_head bounds the head size: a head
 * that is not complete within max_head bytes is a parse error, not AGAIN, so a
 * misbehaving server cannot make the caller buffer without limit.
 * Returns UC_RESP_OK, UC_RESP_AGAIN or UC_RESP_EPARSE; out is valid only on OK.
 */
int uc_resp_parse(const char *buf, size_t len, size_t max_head, struct uc_resp *out);

/* Parse "bytes a-b/n" (the value of Content-Range). Returns true when well formed. */
bool uc_resp_parse_content_range(const char *v, size_t len, uint64_t *first, uint64_t *last,
                                 uint64_t *total);

#endif
