/*
 * updcache-bench's pure parts: the response-head parser (table of heads, and every
 * split point to prove AGAIN is safe), the log-linear histogram (percentiles of known
 * distributions within 1%), and the mix (spec parsing, request rendering, checks).
 */
#include "hist.h"
#include "mix.h"
#include "resp.h"
#include "strparse.h"
#include "uc_test.h"

#include <math.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum { OK = UC_RESP_OK, AGAIN = UC_RESP_AGAIN, BAD = UC_RESP_EPARSE };

static void test_resp_table(void **state)
{
    (void)state;
    struct {
        const char *in;
        int rc;
        int status;
        int has_cl;
        uint64_t cl;
        int te;
        int close;
        int cr_valid;
        uint64_t first, last, total;
    } rows[] = {
        /* in, rc, status, has Content-Length, its value, TE, close, Content-Range ok, a-b/n */
        {"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n", OK, 200, 1, 4096, 0, 0, 0, 0, 0, 0},
        {"HTTP/1.1 200 OK\r\ncontent-length:  12 \r\nServer: x\r\n\r\nbody", OK, 200, 1, 12, 0, 0,
         0, 0, 0, 0},
        {"HTTP/1.1 204 No Content\r\n\r\n", OK, 204, 0, 0, 0, 0, 0, 0, 0, 0},
        {"HTTP/1.1 200\r\nContent-Length: 5\r\n\r\n", OK, 200, 1, 5, 0, 0, 0, 0, 0, 0},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", OK, 200, 0, 0, 1, 0, 0, 0, 0, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n", OK, 200, 1, 1, 0, 1,
         0, 0, 0, 0},
        {"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", OK, 200, 1, 1, 0, 1, 0, 0, 0, 0},
        {"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: Keep-Alive\r\n\r\n", OK, 200, 1, 1, 0,
         0, 0, 0, 0, 0},
        {"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-1048575/5000000\r\n"
         "Content-Length: 1048576\r\n\r\n",
         OK, 206, 1, 1048576, 0, 0, 1, 0, 1048575, 5000000},
        {"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 10-5/100\r\n"
         "Content-Length: 1\r\n\r\n",
         OK, 206, 1, 1, 0, 0, 0, 0, 0, 0},
        {"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-100/100\r\n"
         "Content-Length: 101\r\n\r\n",
         OK, 206, 1, 101, 0, 0, 0, 0, 0, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 4", AGAIN, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r", AGAIN, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {"", AGAIN, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {"HTTP/2 200 OK\r\n\r\n", BAD, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {"HTTP/1.1 20 OK\r\n\r\n", BAD, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {"HTTP/1.1 200OK\r\n\r\n", BAD, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 4x\r\n\r\n", BAD, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n", BAD, 0, 0, 0, 0, 0, 0,
         0, 0, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", BAD, 0, 0, 0, 0, 0,
         0, 0, 0, 0},
        {"HTTP/1.1 200 OK\r\nContent-Length : 4\r\n\r\n", BAD, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", BAD, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n", BAD, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {"HTTP/1.1 200 OK\nContent-Length: 4\r\n\r\n", BAD, 0, 0, 0, 0, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        struct uc_resp r;
        size_t len = strlen(rows[i].in);
        int rc = uc_resp_parse(rows[i].in, len, 16384, &r);
        if (rc != rows[i].rc)
            fail_msg("row %zu: rc %d, want %d", i, rc, rows[i].rc);
        if (rc != UC_RESP_OK)
            continue;
        const char *body = strstr(rows[i].in, "\r\n\r\n") + 4;
        assert_int_equal(r.head_len, (size_t)(body - rows[i].in));
        assert_int_equal(r.status, rows[i].status);
        assert_int_equal(r.has_content_length, rows[i].has_cl);
        if (rows[i].has_cl)
            assert_int_equal(r.content_length, rows[i].cl);
        assert_int_equal(r.has_transfer_encoding, rows[i].te);
        assert_int_equal(r.chunked, rows[i].te);
        assert_int_equal(r.conn_close, rows[i].close);
        assert_int_equal(r.content_range_valid, rows[i].cr_valid);
        if (rows[i].cr_valid) {
            assert_true(r.has_content_range);
            assert_int_equal(r.range_first, rows[i].first);
            assert_int_equal(r.range_last, rows[i].last);
            assert_int_equal(r.range_total, rows[i].total);
        }
    }
}

/* Every prefix of a valid head is AGAIN, and the whole head parses the same. */
static void test_resp_split(void **state)
{
    (void)state;
    const char *h = "HTTP/1.1 206 Partial Content\r\nServer: nginx\r\n"
                    "Content-Range: bytes 1048576-2097151/3000000\r\nContent-Length: 1048576\r\n"
                    "Connection: keep-alive\r\n\r\nBODY";
    size_t head = strstr(h, "\r\n\r\n") + 4 - h;
    for (size_t cut = 0; cut < head; cut++) {
        struct uc_resp r;
        assert_int_equal(uc_resp_parse(h, cut, 16384, &r), UC_RESP_AGAIN);
    }
    struct uc_resp r;
    assert_int_equal(uc_resp_parse(h, strlen(h), 16384, &r), UC_RESP_OK);
    assert_int_equal(r.head_len, head);
    assert_int_equal(r.range_first, 1048576);
    assert_int_equal(r.range_last, 2097151);
    /* A head that does not end within max_head is an error, not an endless AGAIN. */
    assert_int_equal(uc_resp_parse(h, head, head - 1, &r), UC_RESP_EPARSE);
}

static void test_content_range(void **state)
{
    (void)state;
    uint64_t a, b, n;
    const char *ok = "bytes 0-0/1";
    assert_true(uc_resp_parse_content_range(ok, strlen(ok), &a, &b, &n));
    const char *star = "bytes 5-9/*";
    assert_true(uc_resp_parse_content_range(star, strlen(star), &a, &b, &n));
    assert_int_equal(n, UC_RESP_TOTAL_UNKNOWN);
    const char *bad[] = {"bytes */100", "bytes 1-/100", "bytes -5/100", "bits 0-1/2",
                         "bytes 0-1",   "bytes 0-1/",   "bytes 0-1/1"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        if (uc_resp_parse_content_range(bad[i], strlen(bad[i]), &a, &b, &n))
            fail_msg("accepted '%s'", bad[i]);
}

/* Deterministic uniform values for the histogram tests. */
static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Percentiles from the histogram against exact order statistics, within 1%. */
static void check_against_exact(uint64_t *v, size_t n)
{
    static struct uc_hist h;
    uc_hist_init(&h);
    for (size_t i = 0; i < n; i++)
        uc_hist_record(&h, v[i]);
    qsort(v, n, sizeof(*v), cmp_u64);
    const double ps[] = {1, 10, 50, 90, 99, 99.9, 99.99};
    for (size_t i = 0; i < ARRAY_LEN(ps); i++) {
        size_t rank = (size_t)ceil(ps[i] / 100.0 * (double)n);
        double exact = (double)v[rank - 1];
        double got = uc_hist_percentile(&h, ps[i]);
        if (fabs(got - exact) > exact * 0.01 + 0.5)
            fail_msg("p%g: got %.1f, exact %.1f", ps[i], got, exact);
    }
    assert_int_equal(uc_hist_percentile(&h, 100), v[n - 1]);
    assert_int_equal(h.max, v[n - 1]);
    assert_int_equal(h.count, n);
}

static void test_hist_distributions(void **state)
{
    (void)state;
    size_t n = 200000;
    uint64_t *v = malloc(n * sizeof(*v));
    assert_non_null(v);
    uint64_t s = 42;
    /* Uniform 1 us .. 10 ms. */
    for (size_t i = 0; i < n; i++)
        v[i] = 1 + lcg(&s) % 10000;
    check_against_exact(v, n);
    /* Exponential, mean 500 us: a long tail like real latencies. */
    for (size_t i = 0; i < n; i++) {
        double u = ((double)lcg(&s) + 1) / 2147483649.0;
        v[i] = (uint64_t)(-log(u) * 500.0) + 1;
    }
    check_against_exact(v, n);
    /* Log-uniform over 1 us .. 60 s: every octave of the range. */
    for (size_t i = 0; i < n; i++) {
        double u = (double)lcg(&s) / 2147483648.0;
        v[i] = (uint64_t)exp(u * log(60e6));
    }
    check_against_exact(v, n);
    free(v);

    static struct uc_hist a, b;
    uc_hist_init(&a);
    uc_hist_init(&b);
    for (uint64_t i = 1; i <= 1000; i++)
        uc_hist_record(i <= 500 ? &a : &b, i * 1000);
    uc_hist_merge(&a, &b);
    assert_int_equal(a.count, 1000);
    assert_true(fabs(uc_hist_percentile(&a, 50) - 500000) <= 5000);
    assert_true(fabs(uc_hist_mean(&a) - 500500) < 1);
    uc_hist_init(&b);
    assert_int_equal(uc_hist_percentile(&b, 99), 0);
}

/* Buckets tile the value range with no gap and each is under 1% of its value wide. */
static void test_hist_buckets(void **state)
{
    (void)state;
    uint64_t prev_hi = 0;
    for (unsigned i = 0; i < UC_HIST_BUCKETS; i++) {
        uint64_t lo, hi;
        uc_hist_bounds(i, &lo, &hi);
        if (i)
            assert_int_equal(lo, prev_hi + 1);
        assert_true((double)(hi - lo) <= (double)lo * 0.01);
        assert_int_equal(uc_hist_index(lo), i);
        assert_int_equal(uc_hist_index(hi), i);
        prev_hi = hi;
    }
    assert_true(prev_hi >= 60000000);
    assert_int_equal(uc_hist_index(UINT64_MAX), UC_HIST_BUCKETS - 1);
}

static void test_mix(void **state)
{
    (void)state;
    struct uc_mix m;
    assert_int_equal(uc_mix_parse("get=100", &m), 0);
    assert_string_equal(m.spec, "get=100");
    assert_int_equal(uc_mix_parse("range1m=30,get=70,head-get=0", &m), 0);
    assert_string_equal(m.spec, "get=70,range1m=30");
    assert_int_equal(uc_mix_pick(&m, 69), UC_KIND_GET);
    assert_int_equal(uc_mix_pick(&m, 70), UC_KIND_RANGE1M);
    const char *bad[] = {"", "get", "get=", "get=x", "put=1", "get=0", "get=1,,range1m=1"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        if (uc_mix_parse(bad[i], &m) == 0)
            fail_msg("accepted mix '%s'", bad[i]);

    struct uc_url u = {.path = strdup("/Content/AB/x.cab"), .size = 3 * 1048576 + 10};
    assert_int_equal(uc_url_prepare(&u, "127.0.0.1:8080"), 0);
    char out[512];
    struct uc_expect e;
    size_t n = uc_mix_request(&u, 0, UC_KIND_GET, 0, false, &e, out);
    out[n] = 0;
    assert_string_equal(out, "GET /Content/AB/x.cab HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
    assert_int_equal(e.status, 200);
    assert_int_equal(e.length, u.size);

    /* range1m on the last (short) chunk: request 1 MiB, expect up to EOF. */
    n = uc_mix_request(&u, 0, UC_KIND_RANGE1M, 3, false, &e, out);
    out[n] = 0;
    assert_non_null(strstr(out, "\r\nRange: bytes=3145728-4194303\r\n\r\n"));
    assert_int_equal(e.first, 3145728);
    assert_int_equal(e.last, 3145737);
    assert_int_equal(e.length, 10);

    struct uc_resp r = {.status = 206,
                        .has_content_length = true,
                        .content_length = 10,
                        .has_content_range = true,
                        .content_range_valid = true,
                        .range_first = 3145728,
                        .range_last = 3145737,
                        .range_total = u.size};
    uint64_t body;
    assert_int_equal(uc_mix_check(&e, &u, &r, &body), UC_ERR_NONE);
    assert_int_equal(body, 10);
    r.range_first++;
    assert_int_equal(uc_mix_check(&e, &u, &r, &body), UC_ERR_CONTENT_RANGE);
    r.range_first--;
    r.content_length = 11;
    assert_int_equal(uc_mix_check(&e, &u, &r, &body), UC_ERR_LENGTH);
    r.status = 200;
    assert_int_equal(uc_mix_check(&e, &u, &r, &body), UC_ERR_STATUS);
    r.has_transfer_encoding = true;
    assert_int_equal(uc_mix_check(&e, &u, &r, &body), UC_ERR_FRAMING);

    /* Small file: bytes=0-1048575 expects the whole file as 0-(size-1)/size. */
    struct uc_url small = {.path = strdup("/s"), .size = 4096};
    assert_int_equal(uc_url_prepare(&small, "h"), 0);
    n = uc_mix_request(&small, 0, UC_KIND_RANGE1M, 12345, false, &e, out);
    out[n] = 0;
    assert_non_null(strstr(out, "Range: bytes=0-1048575\r\n"));
    assert_int_equal(e.last, 4095);

    /* small-ranges stay inside the file, 1..16 KiB long. */
    uint64_t s = 7;
    for (int i = 0; i < 10000; i++) {
        uc_mix_request(&u, 0, UC_KIND_SMALL_RANGES, lcg(&s) << 31 ^ lcg(&s), false, &e, out);
        assert_true(e.length >= 1024 && e.length <= 16384);
        assert_true(e.last < u.size && e.last - e.first + 1 == e.length);
    }
    /* HEAD of head-get: 200, SIZE as Content-Length, no body. */
    n = uc_mix_request(&small, 0, UC_KIND_HEAD_GET, 0, false, &e, out);
    assert_true(e.then_get && e.method == UC_M_HEAD);
    struct uc_resp hr = {.status = 200, .has_content_length = true, .content_length = 4096};
    assert_int_equal(uc_mix_check(&e, &small, &hr, &body), UC_ERR_NONE);
    assert_int_equal(body, 0);
    hr.content_length = 4095;
    assert_int_equal(uc_mix_check(&e, &small, &hr, &body), UC_ERR_LENGTH);

    /* Unknown size: ranges fall back to a whole GET checked only for a Content-Length. */
    struct uc_url unk = {.path = strdup("/u"), .size = UC_SIZE_UNKNOWN};
    assert_int_equal(uc_url_prepare(&unk, "h"), 0);
    uc_mix_request(&unk, 0, UC_KIND_RANGE1M, 1, false, &e, out);
    assert_int_equal(e.method, UC_M_GET);
    hr.content_length = 77;
    assert_int_equal(uc_mix_check(&e, &unk, &hr, &body), UC_ERR_NONE);
    hr.has_content_length = false;
    assert_int_equal(uc_mix_check(&e, &unk, &hr, &body), UC_ERR_LENGTH);

    char dec[24];
    assert_int_equal(uc_fmt_u64(dec, 0), 1);
    assert_int_equal(uc_fmt_u64(dec, UINT64_MAX), 20);
    assert_memory_equal(dec, "18446744073709551615", 20);
    uc_url_free(&u);
    uc_url_free(&small);
    uc_url_free(&unk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resp_table),    cmocka_unit_test(test_resp_split),
        cmocka_unit_test(test_content_range), cmocka_unit_test(test_hist_distributions),
        cmocka_unit_test(test_hist_buckets),  cmocka_unit_test(test_mix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
