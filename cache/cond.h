/*
 * Conditional requests (RFC 9110 §13): the preconditions, evaluated in the order of
 * §13.2.2, and If-Range (§13.1.5). A pure decider over the parsed request head and the
 * file's validators; it runs before the range decider (range.h).
 */
#ifndef UC_COND_H
#define UC_COND_H

#include "http_parse.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uc_validators {
    const char *etag; /* strong entity-tag with its quotes, e.g. "\"9f86d0...\"" */
    size_t etag_len;
    int64_t last_modified; /* unix seconds */
};

enum uc_cond_result {
    UC_COND_PROCEED = 0,        /* evaluate Range, then answer 200/206 */
    UC_COND_NOT_MODIFIED = 304, /* GET/HEAD whose cached copy is current */
    UC_COND_FAILED = 412,       /* a precondition is false */
};

/* Evaluate If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since in order. */
enum uc_cond_result uc_cond_eval(const struct uc_http_req *req, const char *buf,
                                 const struct uc_validators *v);

/*
 * Should the Range field apply? True without If-Range; with it, only when its strong
 * entity-tag equals ours exactly, or its date equals Last-Modified (§13.1.5). False
 * means: ignore Range and send the whole file with 200.
 */
bool uc_cond_if_range(const struct uc_http_req *req, const char *buf,
                      const struct uc_validators *v);

#endif
