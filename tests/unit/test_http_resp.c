/*
 * Response heads: the SPEC §3 header set on 200/206, 304 and 416 forms, error bodies,
 * and a multipart/byteranges body assembled from the pieces, compared byte for byte
 * with the RFC 2046 layout and with the precomputed Content-Length.
 */
#include "http_resp.h"
#include "uc_test.h"

static const uint8_t sha[UC_SHA256_LEN] = {
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
static const struct uc_resp_file file = {10000, 784111777, "\"e3b0c442\"", 10, sha, false};
static const struct uc_resp_opts keep = {false, false, 784111777, NULL, false};

static void expect_line(const char *head, const char *line)
{
    char want[256];
    snprintf(want, sizeof(want), "\r\n%s\r\n", line);
    if (!strstr(head, want))
        fail_msg("missing '%s' in:\n%s", line, head);
}

static void test_resp_200_206(void **state)
{
    (void)state;
    char h[1024];
    size_t n = uc_resp_content_head(h, sizeof(h), 200, &file, NULL, NULL, 10000, &keep);
    assert_true(n > 0 && n == strlen(h));
    assert_memory_equal(h, "HTTP/1.1 200 OK\r\n", 17);
    expect_line(h, "Content-Length: 10000");
    expect_line(h, "Content-Type: application/octet-stream");
    expect_line(h, "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT");
    expect_line(h, "ETag: \"e3b0c442\"");
    expect_line(h, "Accept-Ranges: bytes");
    expect_line(h, "Repr-Digest: sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
    expect_line(h, "Cache-Control: public, max-age=31536000, immutable");
    assert_null(strstr(h, "Transfer-Encoding"));
    assert_null(strstr(h, "Connection:"));
    assert_string_equal(h + n - 4, "\r\n\r\n");
    /* A file replaced in place (SelfUpdate) is never immutable. */
    struct uc_resp_file su = {10, 784111777, "\"0123456789abcdef\"", 18, NULL, true};
    uc_resp_content_head(h, sizeof(h), 200, &su, NULL, NULL, 10, &keep);
    expect_line(h, "Cache-Control: public, max-age=300");
    assert_null(strstr(h, "immutable"));
    assert_null(strstr(h, "Repr-Digest"));
    uc_resp_content_head(h, sizeof(h), 304, &su, NULL, NULL, 0, &keep);
    expect_line(h, "Cache-Control: public, max-age=300");
    n = uc_resp_content_head(h, sizeof(h), 200, &file, NULL, NULL, 10000, &keep);
    struct uc_range r = {100, 199};
    const struct uc_resp_opts close10 = {true, true, 784111777, NULL, false};
    n = uc_resp_content_head(h, sizeof(h), 206, &file, &r, NULL, 100, &close10);
    assert_memory_equal(h, "HTTP/1.1 206 Partial Content\r\n", 30);
    expect_line(h, "Content-Range: bytes 100-199/10000");
    expect_line(h, "Content-Length: 100");
    expect_line(h, "Connection: close");
    /* Too small a buffer: 0, never a cut head. */
    assert_int_equal(uc_resp_content_head(h, 40, 200, &file, NULL, NULL, 1, &keep), 0);
}

static void test_resp_304_416_errors(void **state)
{
    (void)state;
    char h[1024];
    uc_resp_content_head(h, sizeof(h), 304, &file, NULL, NULL, 0, &keep);
    expect_line(h, "ETag: \"e3b0c442\"");
    assert_null(strstr(h, "Content-Length"));
    uc_resp_content_head(h, sizeof(h), 416, &file, NULL, NULL, 0, &keep);
    assert_memory_equal(h, "HTTP/1.1 416 Range Not Satisfiable\r\n", 36);
    expect_line(h, "Content-Range: bytes */10000");
    size_t n = uc_resp_error(h, sizeof(h), 405, NULL, &keep);
    assert_true(n > 0);
    expect_line(h, "Allow: GET, HEAD");
    assert_string_equal(strstr(h, "\r\n\r\n") + 4, "405 Method Not Allowed\n");
    const struct uc_resp_opts close = {true, false, 0, NULL, false};
    uc_resp_error(h, sizeof(h), 403, "use https://cache.example.com:8531/ClientWebService/",
                  &close);
    const char *want_body = "403 Forbidden: use https://cache.example.com:8531/ClientWebService/\n";
    assert_string_equal(strstr(h, "\r\n\r\n") + 4, want_body);
    char cl[64];
    snprintf(cl, sizeof(cl), "Content-Length: %zu", strlen(want_body));
    expect_line(h, cl);
    /* HEAD: the same head, the length a GET would get, and nothing after it. */
    const struct uc_resp_opts head = {false, false, 0, NULL, true};
    n = uc_resp_error(h, sizeof(h), 404, NULL, &head);
    expect_line(h, "Content-Length: 14");
    assert_int_equal(n, (size_t)(strstr(h, "\r\n\r\n") + 4 - h));
    n = uc_resp_json(h, sizeof(h), 405, "{}", 2, &head);
    expect_line(h, "Content-Length: 2");
    assert_int_equal(n, (size_t)(strstr(h, "\r\n\r\n") + 4 - h));
}

static void test_resp_multipart(void **state)
{
    (void)state;
    char data[64];
    for (int i = 0; i < 64; i++)
        data[i] = (char)('A' + i % 26);
    const struct uc_range parts[2] = {{0, 2}, {60, 63}};
    char b[UC_BOUNDARY_LEN + 1];
    uc_multipart_boundary(b);
    assert_int_equal(strlen(b), UC_BOUNDARY_LEN);
    char body[1024];
    size_t len = 0;
    for (uint32_t i = 0; i < 2; i++) {
        len += uc_multipart_part_head(body + len, sizeof(body) - len, b, i == 0, &parts[i], 64);
        memcpy(body + len, data + parts[i].first, parts[i].last - parts[i].first + 1);
        len += parts[i].last - parts[i].first + 1;
    }
    len += uc_multipart_tail(body + len, sizeof(body) - len, b);
    body[len] = 0;
    char want[1024];
    snprintf(want, sizeof(want),
             "--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-2/64\r\n"
             "\r\nABC\r\n--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: "
             "bytes 60-63/64\r\n\r\nIJKL\r\n--%s--\r\n",
             b, b, b);
    assert_string_equal(body, want);
    assert_int_equal(uc_multipart_length(b, parts, 2, 64), len);
    char h[1024];
    struct uc_resp_file f = file;
    f.size = 64;
    uc_resp_content_head(h, sizeof(h), 206, &f, NULL, b, len, &keep);
    char ct[128];
    snprintf(ct, sizeof(ct), "Content-Type: multipart/byteranges; boundary=%s", b);
    expect_line(h, ct);
    assert_null(strstr(h, "Content-Range"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resp_200_206),
        cmocka_unit_test(test_resp_304_416_errors),
        cmocka_unit_test(test_resp_multipart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
