/*
 * The plain-port HTTP/1.x request-head parser (RFC 9112 §2-§6), hand-written because it
 * sits on the hot path. It is resumable: the caller keeps the received bytes in one
 * buffer and calls again with the longer buffer; parsing continues where it stopped.
 * It never allocates and never reads a socket; results are offsets into the buffer.
 *
 * Strict where leniency has been used for request smuggling: bare CR or LF, NUL and
 * other control bytes, whitespace before a header colon, obs-fold, duplicate or
 * non-numeric Content-Length, Content-Length together with Transfer-Encoding, and a
 * missing or repeated Host in HTTP/1.1 are all refused.
 */
#ifndef UC_HTTP_PARSE_H
#define UC_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bound for the per-request header table; the configured max_headers may be lower. */
#define UC_HTTP_HEADERS_CAP 128

enum uc_parse_rc {
    UC_PARSE_OK = 0,                 /* head complete: req->head_len bytes consumed */
    UC_PARSE_AGAIN = 1,              /* need more bytes */
    UC_PARSE_E_BAD = -1,             /* malformed: 400 */
    UC_PARSE_E_FRAMING = -2,         /* ambiguous message length: 400 and close */
    UC_PARSE_E_URI_TOO_LONG = -3,    /* request line over max_request_line: 414 */
    UC_PARSE_E_HEAD_TOO_LARGE = -4,  /* head over max_header_bytes or max_headers: 431 */
    UC_PARSE_E_VERSION = -5,         /* not HTTP/1.0 or 1.1: 505 */
    UC_PARSE_E_NOT_IMPLEMENTED = -6, /* a transfer coding we do not know: 501 */
    UC_PARSE_E_LINE_TOO_LONG = -7,   /* a field line over max_request_line: 431 */
};

enum uc_http_method { UC_M_OTHER = 0, UC_M_GET, UC_M_HEAD, UC_M_POST };

/* Headers the server acts on, found while parsing (index into headers[], or -1). */
enum uc_http_known {
    UC_H_RANGE,
    UC_H_IF_RANGE,
    UC_H_IF_MATCH,
    UC_H_IF_NONE_MATCH,
    UC_H_IF_MODIFIED_SINCE,
    UC_H_IF_UNMODIFIED_SINCE,
    UC_H_HOST,
    UC_H_KNOWN_COUNT
};

struct uc_http_limits {
    uint32_t max_request_line; /* bytes, CRLF included */
    uint32_t max_header_bytes; /* bytes of the whole head */
    uint32_t max_headers;      /* header fields, at most UC_HTTP_HEADERS_CAP */
};

struct uc_http_span {
    uint32_t off, len; /* into the caller's buffer */
};

struct uc_http_header {
    struct uc_http_span name, value; /* value without surrounding whitespace */
};

struct uc_http_req {
    /* parser state: private */
    int state;
    uint32_t pos;        /* next byte to look at; after an error, the offending byte */
    uint32_t mark;       /* start of the token being read */
    uint32_t line_start; /* start of the current line */
    uint32_t value_end;  /* end of the value without trailing whitespace */
    int error;           /* sticky: the first error, returned by every later call */
    bool te_seen;

    /* results, valid after UC_PARSE_OK */
    uint32_t head_len; /* bytes of the head, final CRLF included */
    enum uc_http_method method;
    struct uc_http_span method_span, target;
    int version; /* 10 or 11 */
    uint32_t nheaders;
    struct uc_http_header headers[UC_HTTP_HEADERS_CAP];
    int16_t known[UC_H_KNOWN_COUNT];
    bool dup_range;         /* more than one Range field: the range is ignored */
    int64_t content_length; /* -1 when absent */
    bool chunked;           /* Transfer-Encoding: chunked (the body is the caller's business) */
    bool conn_close;        /* Connection: close, or HTTP/1.0 without keep-alive */
    bool conn_keep_alive;
    bool expect_continue; /* Expect: 100-continue (RFC 9110 §10.1.1) */
};

/* Reset req for a new request (keep-alive reuses the struct). */
void uc_http_req_init(struct uc_http_req *req);

/*
 * Parse the head in buf[0..len). Call again with the same buf grown by more bytes after
 * UC_PARSE_AGAIN. After an error every later call returns the same error.
 */
enum uc_parse_rc uc_http_parse(struct uc_http_req *req, const char *buf, size_t len,
                               const struct uc_http_limits *lim);

/* The HTTP status for an error code (400, 414, 431, 505, 501), 0 for OK/AGAIN. */
int uc_http_parse_status(enum uc_parse_rc rc);

#endif
