/*
 * Routing: every cell of the SPEC §2 table on both ports, case-insensitive roots and
 * hex, the content and msdownload forms, and each way of escaping a root.
 */
#include "route.h"
#include "strparse.h"
#include "uc_test.h"

#define SHA "0A1B2C3D4E5F60718293A4B5C6D7E8F9A0B1C2AB"

struct rtcase {
    const char *target;
    enum uc_route_rc plain, tls; /* expected on each port */
    enum uc_root root;
};

static const struct rtcase cases[] = {
    {"/Content/AB/" SHA ".cab", UC_ROUTE_OK, UC_ROUTE_FORBIDDEN, UC_ROOT_CONTENT},
    {"/content/ab/" SHA ".CAB", UC_ROUTE_OK, UC_ROUTE_FORBIDDEN, UC_ROOT_CONTENT},
    {"/CONTENT/Ab/0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2ab-express.cab", UC_ROUTE_OK,
     UC_ROUTE_FORBIDDEN, UC_ROOT_CONTENT},
    {"/Content/AB/" SHA ".cab?x=1", UC_ROUTE_OK, UC_ROUTE_FORBIDDEN, UC_ROOT_CONTENT},
    {"/Content/AC/" SHA ".cab", UC_ROUTE_NOT_FOUND, UC_ROUTE_FORBIDDEN, UC_ROOT_CONTENT},
    {"/Content/AB/" SHA, UC_ROUTE_NOT_FOUND, UC_ROUTE_FORBIDDEN, UC_ROOT_CONTENT},
    {"/Content/AB/x/" SHA ".cab", UC_ROUTE_NOT_FOUND, UC_ROUTE_FORBIDDEN, UC_ROOT_CONTENT},
    {"/c/msdownload/update/software/secu/2026/11/windows11-kb1-x64_"
     "0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2ab.cab",
     UC_ROUTE_OK, UC_ROUTE_FORBIDDEN, UC_ROOT_MSDOWNLOAD},
    {"/d/msdownload/update/x/y_" SHA ".psf", UC_ROUTE_OK, UC_ROUTE_FORBIDDEN, UC_ROOT_MSDOWNLOAD},
    {"/c/msdownload/update/x/noshahere.cab", UC_ROUTE_NOT_FOUND, UC_ROUTE_FORBIDDEN,
     UC_ROOT_MSDOWNLOAD},
    {"/SelfUpdate/wuident.cab", UC_ROUTE_OK, UC_ROUTE_OK, UC_ROOT_SELFUPDATE},
    {"/Inventory/report", UC_ROUTE_OK, UC_ROUTE_OK, UC_ROOT_INVENTORY},
    {"/ReportingWebService/events", UC_ROUTE_OK, UC_ROUTE_OK, UC_ROOT_REPORTING},
    {"/SimpleAuthWebService/token", UC_ROUTE_FORBIDDEN, UC_ROUTE_OK, UC_ROOT_SIMPLEAUTH},
    {"/DSSAuthWebService/token", UC_ROUTE_FORBIDDEN, UC_ROUTE_OK, UC_ROOT_DSSAUTH},
    {"/ServerSyncWebService/updates?since=0", UC_ROUTE_FORBIDDEN, UC_ROUTE_OK, UC_ROOT_SERVERSYNC},
    {"/apiremoting30/metrics", UC_ROUTE_FORBIDDEN, UC_ROUTE_OK, UC_ROOT_APIREMOTING},
    {"/ClientWebService/files/" SHA, UC_ROUTE_FORBIDDEN, UC_ROUTE_OK, UC_ROOT_CLIENT},
    {"/", UC_ROUTE_NOT_FOUND, UC_ROUTE_NOT_FOUND, UC_ROOT_NONE},
    {"/etc/passwd", UC_ROUTE_NOT_FOUND, UC_ROUTE_NOT_FOUND, UC_ROOT_NONE},
    /* escapes: refused on both ports */
    {"/Content/../index/data.mdb", UC_ROUTE_BAD, UC_ROUTE_BAD, UC_ROOT_NONE},
    {"/Content/%2e%2e/index/data.mdb", UC_ROUTE_BAD, UC_ROUTE_BAD, UC_ROOT_NONE},
    {"/Content/%2E./x", UC_ROUTE_BAD, UC_ROUTE_BAD, UC_ROOT_NONE},
    {"/SelfUpdate/./x", UC_ROUTE_BAD, UC_ROUTE_BAD, UC_ROOT_NONE},
    {"/Content/AB%2f" SHA ".cab", UC_ROUTE_BAD, UC_ROUTE_BAD, UC_ROOT_NONE},
    {"/Content/AB\\" SHA ".cab", UC_ROUTE_BAD, UC_ROUTE_BAD, UC_ROOT_NONE},
    {"/Content/AB/" SHA ".cab%00.txt", UC_ROUTE_BAD, UC_ROUTE_BAD, UC_ROOT_NONE},
    {"/Content/AB/%5c", UC_ROUTE_BAD, UC_ROUTE_BAD, UC_ROOT_NONE},
    {"/Content/%zz", UC_ROUTE_BAD, UC_ROUTE_BAD, UC_ROOT_NONE},
    {"/Content/%2", UC_ROUTE_BAD, UC_ROUTE_BAD, UC_ROOT_NONE},
    {"/SelfUpdate/%0d%0aX: y", UC_ROUTE_BAD, UC_ROUTE_BAD, UC_ROOT_NONE},
    /* absolute-form (RFC 9112 §3.2.2): accepted, the authority ignored */
    {"http://cache:8530/Content/AB/" SHA ".cab", UC_ROUTE_OK, UC_ROUTE_FORBIDDEN, UC_ROOT_CONTENT},
    {"HTTPS://cache/SelfUpdate/wuident.cab", UC_ROUTE_OK, UC_ROUTE_OK, UC_ROOT_SELFUPDATE},
    {"http://cache", UC_ROUTE_NOT_FOUND, UC_ROUTE_NOT_FOUND, UC_ROOT_NONE},
    {"http://cache?x", UC_ROUTE_NOT_FOUND, UC_ROUTE_NOT_FOUND, UC_ROOT_NONE},
    {"http://cache/Content/../index/data.mdb", UC_ROUTE_BAD, UC_ROUTE_BAD, UC_ROOT_NONE},
    {"http:///Content/AB/" SHA ".cab", UC_ROUTE_BAD, UC_ROUTE_BAD, UC_ROOT_NONE},
    {"http://u:p@cache/Content/AB/" SHA ".cab", UC_ROUTE_BAD, UC_ROUTE_BAD, UC_ROOT_NONE},
    {"ftp://cache/Content/AB/" SHA ".cab", UC_ROUTE_BAD, UC_ROUTE_BAD, UC_ROOT_NONE},
};

static void test_route_table_both_ports(void **state)
{
    (void)state;
    uint8_t want[UC_SHA1_LEN];
    assert_int_equal(uc_hex_decode(SHA, 40, want, UC_SHA1_LEN), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int tls = 0; tls <= 1; tls++) {
            const struct rtcase *c = &cases[i];
            struct uc_route r;
            enum uc_route_rc got = uc_route_eval(c->target, strlen(c->target), tls, &r);
            enum uc_route_rc exp = tls ? c->tls : c->plain;
            if (got != exp)
                fail_msg("%s on %s port: got %d, want %d", c->target, tls ? "TLS" : "plain", got,
                         exp);
            if (got == UC_ROUTE_BAD) {
                assert_non_null(r.why);
                continue;
            }
            if (r.root != c->root)
                fail_msg("%s: root %d, want %d", c->target, r.root, c->root);
            if (got == UC_ROUTE_FORBIDDEN && r.tls_only != !tls)
                fail_msg("%s: tls_only flag wrong", c->target);
            if (got == UC_ROUTE_OK && (r.root == UC_ROOT_CONTENT || r.root == UC_ROOT_MSDOWNLOAD) &&
                memcmp(r.sha1, want, UC_SHA1_LEN))
                fail_msg("%s: wrong SHA-1", c->target);
        }
    }
}

static void test_route_details(void **state)
{
    (void)state;
    struct uc_route r;
    const char *t = "/Content/AB/" SHA "-Express.CAB?a=b";
    assert_int_equal(uc_route_eval(t, strlen(t), false, &r), UC_ROUTE_OK);
    assert_string_equal(r.suffix, "-express.cab");
    assert_int_equal(r.query_off, strlen(t) - 3);
    t = "/ServerSyncWebService/updates?since=5&limit=10";
    assert_int_equal(uc_route_eval(t, strlen(t), true, &r), UC_ROUTE_OK);
    assert_string_equal(r.path, "/ServerSyncWebService/updates");
    assert_string_equal(t + r.query_off, "since=5&limit=10");
    t = "https://cache:8531/ServerSyncWebService/updates?since=5";
    assert_int_equal(uc_route_eval(t, strlen(t), true, &r), UC_ROUTE_OK);
    assert_string_equal(r.path, "/ServerSyncWebService/updates");
    assert_string_equal(t + r.query_off, "since=5");
    assert_string_equal(uc_route_root_name(UC_ROOT_CLIENT), "ClientWebService");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_table_both_ports),
        cmocka_unit_test(test_route_details),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
