/*
 * The request-head parser: a table of good and bad heads with the expected result,
 * each fed whole, split in two at every byte boundary, and one byte at a time; every
 * way must give the same answer and the same fields.
 */
#include "http_parse.h"
#include "uc_test.h"

static const struct uc_http_limits lim = {8192, 16384, 64};

struct pcase {
    const char *name;
    const char *raw;
    enum uc_parse_rc rc;
    int method; /* for OK */
    const char *target;
    int version;
    int64_t content_length;
    int conn_close;
    const char *range; /* value of Range, or NULL */
};

static const struct pcase cases[] = {
    {"simple GET", "GET /Content/AB/x.cab HTTP/1.1\r\nHost: a\r\n\r\n", UC_PARSE_OK, UC_M_GET,
     "/Content/AB/x.cab", 11, -1, 0, NULL},
    {"HEAD 1.0 closes", "HEAD / HTTP/1.0\r\n\r\n", UC_PARSE_OK, UC_M_HEAD, "/", 10, -1, 1, NULL},
    {"1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", UC_PARSE_OK, UC_M_GET,
     "/", 10, -1, 0, NULL},
    {"leading empty line", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", UC_PARSE_OK, UC_M_GET, "/", 11,
     -1, 0, NULL},
    {"range and OWS", "GET /f HTTP/1.1\r\nHost:a\r\nRange: \t bytes=0-99 \t\r\n\r\n", UC_PARSE_OK,
     UC_M_GET, "/f", 11, -1, 0, "bytes=0-99"},
    {"connection close list", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n",
     UC_PARSE_OK, UC_M_GET, "/", 11, -1, 1, NULL},
    {"POST with length",
     "POST /ReportingWebService/events HTTP/1.1\r\nHost: a\r\n"
     "Content-Length: 12\r\n\r\n",
     UC_PARSE_OK, UC_M_POST, "/ReportingWebService/events", 11, 12, 0, NULL},
    {"empty header value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n", UC_PARSE_OK, UC_M_GET,
     "/", 11, -1, 0, NULL},
    {"obs-text in value", "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n", UC_PARSE_OK,
     UC_M_GET, "/", 11, -1, 0, NULL},
    {"unknown method parses", "BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", UC_PARSE_OK, UC_M_OTHER,
     "/pot", 11, -1, 0, NULL},
    {"missing host in 1.1", "GET / HTTP/1.1\r\n\r\n", UC_PARSE_E_BAD, 0, NULL, 0, 0, 0, NULL},
    {"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", UC_PARSE_E_BAD, 0, NULL, 0, 0, 0,
     NULL},
    {"CL and TE",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
     "Transfer-Encoding: chunked\r\n\r\n",
     UC_PARSE_E_FRAMING, 0, NULL, 0, 0, 0, NULL},
    {"TE and CL",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     "Content-Length: 5\r\n\r\n",
     UC_PARSE_E_FRAMING, 0, NULL, 0, 0, 0, NULL},
    {"duplicate CL, equal",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
     "Content-Length: 5\r\n\r\n",
     UC_PARSE_E_FRAMING, 0, NULL, 0, 0, 0, NULL},
    {"CL with sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", UC_PARSE_E_FRAMING,
     0, NULL, 0, 0, 0, NULL},
    {"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", UC_PARSE_E_FRAMING, 0,
     NULL, 0, 0, 0, NULL},
    {"unknown coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
     UC_PARSE_E_NOT_IMPLEMENTED, 0, NULL, 0, 0, 0, NULL},
    {"NUL in header", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", UC_PARSE_E_BAD, 0, NULL, 0, 0,
     0, NULL},
    {"NUL in target", "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", UC_PARSE_E_BAD, 0, NULL, 0, 0, 0,
     NULL},
    {"bare LF line end", "GET / HTTP/1.1\nHost: a\r\n\r\n", UC_PARSE_E_BAD, 0, NULL, 0, 0, 0, NULL},
    {"bare LF in value", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", UC_PARSE_E_BAD, 0, NULL, 0, 0,
     0, NULL},
    {"bare CR in value", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", UC_PARSE_E_BAD, 0, NULL, 0, 0,
     0, NULL},
    {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", UC_PARSE_E_BAD, 0, NULL, 0, 0, 0,
     NULL},
    {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", UC_PARSE_E_BAD, 0, NULL, 0, 0,
     0, NULL},
    {"two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", UC_PARSE_E_BAD, 0, NULL, 0, 0, 0, NULL},
    {"HTTP/0.9", "GET /\r\n\r\n", UC_PARSE_E_BAD, 0, NULL, 0, 0, 0, NULL},
    {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", UC_PARSE_E_VERSION, 0, NULL, 0, 0, 0, NULL},
    {"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", UC_PARSE_E_BAD, 0, NULL, 0, 0, 0,
     NULL},
    {"target not a path", "GET foo HTTP/1.1\r\nHost: a\r\n\r\n", UC_PARSE_E_BAD, 0, NULL, 0, 0, 0,
     NULL},
    {"authority-form", "GET cache:8530 HTTP/1.1\r\nHost: a\r\n\r\n", UC_PARSE_E_BAD, 0, NULL, 0, 0,
     0, NULL},
    {"absolute-form", "GET http://cache:8530/x HTTP/1.1\r\nHost: a\r\n\r\n", UC_PARSE_OK, UC_M_GET,
     "http://cache:8530/x", 11, -1, 0, NULL},
    {"asterisk for OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", UC_PARSE_OK, UC_M_OTHER, "*",
     11, -1, 0, NULL},
    {"asterisk for GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", UC_PARSE_E_BAD, 0, NULL, 0, 0, 0,
     NULL},
    {"tab in target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", UC_PARSE_E_BAD, 0, NULL, 0, 0, 0,
     NULL},
};

static void expect_fields(const struct pcase *c, const struct uc_http_req *r, const char *buf,
                          const char *how)
{
    if (c->rc != UC_PARSE_OK)
        return;
    if ((int)r->method != c->method || r->version != c->version ||
        r->content_length != c->content_length || (int)r->conn_close != c->conn_close ||
        r->target.len != strlen(c->target) || memcmp(buf + r->target.off, c->target, r->target.len))
        fail_msg("%s (%s): fields differ", c->name, how);
    int ri = r->known[UC_H_RANGE];
    if ((c->range == NULL) != (ri < 0))
        fail_msg("%s (%s): Range presence differs", c->name, how);
    if (c->range) {
        const struct uc_http_span v = r->headers[ri].value;
        if (v.len != strlen(c->range) || memcmp(buf + v.off, c->range, v.len))
            fail_msg("%s (%s): Range value '%.*s'", c->name, how, (int)v.len, buf + v.off);
    }
}

static size_t raw_len(const struct pcase *c)
{
    /* Cases with an embedded NUL: the head ends at the final CRLFCRLF. */
    const char *end = c->raw;
    size_t n = 0;
    for (;;) {
        if (!memcmp(end + n, "\r\n\r\n", 4))
            return n + 4;
        n++;
    }
}

static void test_http_parse_table_every_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct pcase *c = &cases[i];
        size_t len = raw_len(c);
        struct uc_http_req r;
        uc_http_req_init(&r);
        enum uc_parse_rc whole = uc_http_parse(&r, c->raw, len, &lim);
        if (whole != c->rc)
            fail_msg("%s: got %d, want %d", c->name, whole, c->rc);
        expect_fields(c, &r, c->raw, "whole");
        if (whole == UC_PARSE_OK && r.head_len != len)
            fail_msg("%s: head_len %u, want %zu", c->name, r.head_len, len);
        for (size_t k = 0; k <= len; k++) {
            uc_http_req_init(&r);
            enum uc_parse_rc first = uc_http_parse(&r, c->raw, k, &lim);
            enum uc_parse_rc rc =
                first == UC_PARSE_AGAIN ? uc_http_parse(&r, c->raw, len, &lim) : first;
            if (rc != c->rc)
                fail_msg("%s: split at %zu gave %d, want %d", c->name, k, rc, c->rc);
            expect_fields(c, &r, c->raw, "split");
        }
        uc_http_req_init(&r);
        enum uc_parse_rc rc = UC_PARSE_AGAIN;
        for (size_t k = 1; k <= len && rc == UC_PARSE_AGAIN; k++)
            rc = uc_http_parse(&r, c->raw, k, &lim);
        if (rc != c->rc)
            fail_msg("%s: byte by byte gave %d, want %d", c->name, rc, c->rc);
        expect_fields(c, &r, c->raw, "bytewise");
        /* Sticky: asking again gives the same answer. */
        assert_int_equal(uc_http_parse(&r, c->raw, len, &lim), c->rc);
    }
}

static void test_http_parse_limits(void **state)
{
    (void)state;
    static char buf[120000];
    struct uc_http_req r;
    /* A 20 KB request line: 414, decided as soon as the limit is crossed. */
    memset(buf, 'a', sizeof(buf));
    memcpy(buf, "GET /", 5);
    uc_http_req_init(&r);
    assert_int_equal(uc_http_parse(&r, buf, 20000, &lim), UC_PARSE_E_URI_TOO_LONG);
    assert_int_equal(uc_http_parse_status(UC_PARSE_E_URI_TOO_LONG), 414);
    /* A 10 KB header line in a head under max_header_bytes: 431, as nginx and Apache
     * refuse it; a line of exactly max_request_line bytes is fine. */
    int n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
    memset(buf + n, 'b', 10000);
    memcpy(buf + n + 10000, "\r\n\r\n", 4);
    uc_http_req_init(&r);
    assert_int_equal(uc_http_parse(&r, buf, (size_t)n + 10004, &lim), UC_PARSE_E_LINE_TOO_LONG);
    assert_int_equal(uc_http_parse_status(UC_PARSE_E_LINE_TOO_LONG), 431);
    n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nX-Big: ");
    int fill = 8192 - 7 - 2; /* "X-Big: " and CRLF: exactly max_request_line */
    memset(buf + n, 'b', (size_t)fill);
    n += fill;
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\nHost: a\r\n\r\n");
    uc_http_req_init(&r);
    assert_int_equal(uc_http_parse(&r, buf, (size_t)n, &lim), UC_PARSE_OK);
    /* Lines under the limit that make a head over max_header_bytes: 431. */
    n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < 4; i++) {
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X-%d: ", i);
        memset(buf + n, 'b', 5000);
        n += 5000;
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
    }
    uc_http_req_init(&r);
    assert_int_equal(uc_http_parse(&r, buf, (size_t)n, &lim), UC_PARSE_E_HEAD_TOO_LARGE);
    assert_int_equal(uc_http_parse_status(UC_PARSE_E_HEAD_TOO_LARGE), 431);
    /* More fields than max_headers: 431; exactly max_headers: fine. */
    for (uint32_t count = 63; count <= 64; count++) {
        n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: a\r\n");
        for (uint32_t i = 1; i < count + 1; i++)
            n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X-%u: v\r\n", i);
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
        uc_http_req_init(&r);
        assert_int_equal(uc_http_parse(&r, buf, (size_t)n, &lim),
                         count + 1 <= 64 ? UC_PARSE_OK : UC_PARSE_E_HEAD_TOO_LARGE);
    }
}

static void test_http_parse_pipelined(void **state)
{
    (void)state;
    const char *two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\n";
    struct uc_http_req r;
    uc_http_req_init(&r);
    assert_int_equal(uc_http_parse(&r, two, strlen(two), &lim), UC_PARSE_OK);
    assert_int_equal(r.method, UC_M_GET);
    uint32_t used = r.head_len;
    uc_http_req_init(&r);
    assert_int_equal(uc_http_parse(&r, two + used, strlen(two) - used, &lim), UC_PARSE_OK);
    assert_int_equal(r.method, UC_M_HEAD);
    assert_int_equal(used + r.head_len, strlen(two));
}

static void test_http_parse_expect(void **state)
{
    (void)state;
    static const struct {
        const char *raw;
        bool want;
    } rows[] = {
        {"POST /r HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", true},
        {"POST /r HTTP/1.1\r\nHost: a\r\nexpect:  100-Continue \r\n\r\n", true},
        {"POST /r HTTP/1.1\r\nHost: a\r\nExpect: 100-continue-ish\r\n\r\n", false},
        {"POST /r HTTP/1.1\r\nHost: a\r\nX-Expect: 100-continue\r\n\r\n", false},
        {"POST /r HTTP/1.1\r\nHost: a\r\n\r\n", false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct uc_http_req r;
        uc_http_req_init(&r);
        assert_int_equal(uc_http_parse(&r, rows[i].raw, strlen(rows[i].raw), &lim), UC_PARSE_OK);
        if (r.expect_continue != rows[i].want)
            fail_msg("row %zu: expect_continue %d", i, r.expect_continue);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_parse_table_every_split),
        cmocka_unit_test(test_http_parse_limits),
        cmocka_unit_test(test_http_parse_pipelined),
        cmocka_unit_test(test_http_parse_expect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
