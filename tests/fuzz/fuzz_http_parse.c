/*
 * libFuzzer target: the request-head parser. Invariants: every span lies inside the
 * consumed head; head_len never exceeds the input; and feeding the input in two pieces
 * (split at a point taken from the input) gives the same result as feeding it whole.
 */
#include "fuzz.h"
#include "http_parse.h"

#include <string.h>

static void check_spans(const struct uc_http_req *r, size_t len)
{
    FUZZ_CHECK(r->head_len <= len);
    FUZZ_CHECK(r->target.off + r->target.len <= r->head_len);
    FUZZ_CHECK(r->method_span.off + r->method_span.len <= r->head_len);
    FUZZ_CHECK(r->nheaders <= UC_HTTP_HEADERS_CAP);
    for (uint32_t i = 0; i < r->nheaders; i++) {
        FUZZ_CHECK(r->headers[i].name.off + r->headers[i].name.len <= r->head_len);
        FUZZ_CHECK(r->headers[i].value.off + r->headers[i].value.len <= r->head_len);
    }
    for (int k = 0; k < UC_H_KNOWN_COUNT; k++)
        FUZZ_CHECK(r->known[k] < (int)r->nheaders);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct uc_http_limits lim = {8192, 16384, 64};
    static struct uc_http_req whole, split;
    const char *buf = (const char *)data;
    uc_http_req_init(&whole);
    enum uc_parse_rc rc = uc_http_parse(&whole, buf, size, &lim);
    if (rc == UC_PARSE_OK)
        check_spans(&whole, size);
    size_t cut = size ? data[0] % (size + 1) : 0;
    uc_http_req_init(&split);
    enum uc_parse_rc rc2 = uc_http_parse(&split, buf, cut, &lim);
    if (rc2 == UC_PARSE_AGAIN)
        rc2 = uc_http_parse(&split, buf, size, &lim);
    FUZZ_CHECK(rc == rc2);
    if (rc == UC_PARSE_OK) {
        FUZZ_CHECK(whole.head_len == split.head_len && whole.nheaders == split.nheaders);
        FUZZ_CHECK(whole.content_length == split.content_length);
        FUZZ_CHECK(memcmp(whole.known, split.known, sizeof(whole.known)) == 0);
    }
    return 0;
}
