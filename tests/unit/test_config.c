/*
 * The config loader: defaults, every value form, the WSUS port pairing, relative
 * paths, and errors that name file, line and key (all of them, not just the first).
 */
#include "config.h"
#include "uc_test.h"

#include <errno.h>

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = uct_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    uct_rmrf(dir);
    return 0;
}

static int load(const char *text, struct uc_config *cfg, struct uc_errbuf *eb, char *path)
{
    snprintf(path, PATH_MAX, "%s/uc.conf", dir);
    uct_write_file(path, text, strlen(text));
    return uc_config_load(path, cfg, eb);
}

static void test_config_defaults_and_values(void **state)
{
    (void)state;
    struct uc_config cfg;
    struct uc_errbuf eb = {{0}};
    char path[PATH_MAX], want[PATH_MAX + 16];
    const char *text = "; comment\n"
                       "[server]\n"
                       "store = data/store\n"
                       "max_body_bytes = 2M\n"
                       "header_timeout = 5m\n"
                       "hot_cache = 0\n"
                       "[upstream]\n"
                       "publisher_keys = a.pub, /etc/b.pub\n"
                       "  c.pub\n"
                       "interval = 2d\n"
                       "[store]\n"
                       "min_free = 10G\n";
    assert_int_equal(load(text, &cfg, &eb, path), 0);
    snprintf(want, sizeof(want), "%s/data/store", dir);
    char real[PATH_MAX];
    assert_non_null(realpath(dir, real));
    snprintf(want, sizeof(want), "%s/data/store", real);
    assert_string_equal(cfg.store, want);
    assert_int_equal(cfg.max_body_bytes, 2 << 20);
    assert_int_equal(cfg.header_timeout, 300);
    assert_int_equal(cfg.hot_cache, 0);
    assert_int_equal(cfg.keepalive_timeout, 60);
    assert_int_equal(cfg.http_port, 8530);
    assert_int_equal(cfg.max_ranges, 64);
    assert_int_equal(cfg.publisher_keys.n, 3);
    assert_string_equal(cfg.publisher_keys.v[1], "/etc/b.pub");
    snprintf(want, sizeof(want), "%s/c.pub", real);
    assert_string_equal(cfg.publisher_keys.v[2], want);
    assert_int_equal(cfg.interval, 2 * 86400);
    assert_int_equal(cfg.min_free_bytes, 10ULL << 30);
    assert_int_equal(cfg.min_free_pct, 0);
    uc_config_free(&cfg);
    assert_int_equal(load("[server]\nmax_body_bytes = 64M\n", &cfg, &eb, path), 0);
    assert_int_equal(cfg.max_body_bytes, UC_MAX_BODY_LIMIT);
    uc_config_free(&cfg);
}

static void test_config_port_pairing(void **state)
{
    (void)state;
    struct uc_config cfg;
    struct uc_errbuf eb = {{0}};
    char path[PATH_MAX];
    assert_int_equal(uc_config_paired_http_port(443), 80);
    assert_int_equal(uc_config_paired_http_port(8531), 8530);
#define TLS "name = u.example.org\n[tls]\ncert = c.pem\nkey = c.key\n"
    assert_int_equal(load("[server]\nhttps_port = 443\n" TLS, &cfg, &eb, path), 0);
    assert_int_equal(cfg.http_port, 80);
    uc_config_free(&cfg);
    assert_int_equal(load("[server]\nhttps_port = 8531\nhttp_port = 8530\n" TLS, &cfg, &eb, path),
                     0);
    assert_int_equal(cfg.http_port, 8530);
    uc_config_free(&cfg);
    assert_int_equal(load("[server]\nhttps_port = 8531\nhttp_port = 8080\n", &cfg, &eb, path),
                     UC_ECONFIG);
    assert_non_null(strstr(eb.msg, ":3: [server] http_port: 8080 contradicts https_port 8531"));
    assert_non_null(strstr(eb.msg, "8530"));
    /* TLS needs the name and the certificate: each missing piece is named. */
    assert_int_equal(load("[server]\nhttps_port = 8531\n", &cfg, &eb, path), UC_ECONFIG);
    assert_non_null(strstr(eb.msg, ":2: [server] https_port is set but [server] name is not"));
    assert_non_null(strstr(eb.msg, ":2: [server] https_port is set but [tls] cert and key"));
#undef TLS
}

struct bad_case {
    const char *text;
    const char *expect; /* substring after "FILE" */
};

static void test_config_errors_name_file_line_key(void **state)
{
    (void)state;
    struct bad_case cases[] = {
        {"[server]\nnmae = x\n", ":2: [server] nmae: unknown key"},
        {"[server]\nworkers = two\n", ":2: [server] workers: bad value 'two'"},
        {"[server]\n\nhot_cache = 12Q\n", ":3: [server] hot_cache: bad value '12Q'"},
        {"[server]\nkeepalive_timeout = 1w\n", ":2: [server] keepalive_timeout: bad value"},
        {"[server]\nhttps_port = 70000\n", ":2: [server] https_port: bad value '70000'"},
        {"[storage]\nmax_size = 1G\n", ":1: unknown section [storage]"},
        {"[server]\nstore = a\nstore = b\n", ":3: [server] store: set again (first set on line 2)"},
        {"[server]\nthis line has no equals\n", ":2: syntax error"},
        {"[store]\nmin_free = 101%\n", ":2: [store] min_free: bad value '101%'"},
        {"[server]\nmax_connections = 99999999999999999999999\n", ":2: [server] max_connections"},
        /* past 32 bits a body length was truncated: a 4 GiB Content-Length read as 29 */
        {"[server]\nmax_body_bytes = 5G\n",
         ":2: [server] max_body_bytes: 5G is too large: at most 64M"},
        {"[server]\nmax_body_bytes = 65537K\n", ":2: [server] max_body_bytes: 65537K is too"},
        /* issue 17: ignored before; 0 closed every TLS connection, 1000000d overflowed */
        {"https_port = 99999\n[server]\n", ":1: https_port: a key before the first [section]"},
        {"[server]\nheader_timeout = 0\n", ":2: [server] header_timeout: 0 is out of range"},
        {"[server]\nheader_timeout = 1000000d\n", ":2: [server] header_timeout: 1000000d is"},
        {"[server]\nkeepalive_timeout = 0s\n", ":2: [server] keepalive_timeout: 0s is out of"},
        {"[auth]\ncookie_ttl = 99999999999d\n", ":2: [auth] cookie_ttl: 99999999999d is out"},
        {"[upstream]\ninterval = 0\n", ":2: [upstream] interval: 0 is out of range"},
        {"[store]\nreports_keep = 0\n", ":2: [store] reports_keep: 0 is out of range"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct uc_config cfg;
        struct uc_errbuf eb = {{0}};
        char path[PATH_MAX], want[PATH_MAX + 128];
        assert_int_equal(load(cases[i].text, &cfg, &eb, path), UC_ECONFIG);
        snprintf(want, sizeof(want), "%s%s", path, cases[i].expect);
        if (!strstr(eb.msg, want))
            fail_msg("case %zu: got '%s', want '%s'", i, eb.msg, want);
    }
}

static void test_config_reports_every_error(void **state)
{
    (void)state;
    struct uc_config cfg;
    struct uc_errbuf eb = {{0}};
    char path[PATH_MAX];
    assert_int_equal(load("[server]\nfoo = 1\nworkers = x\n[tls]\nbar = 2\n", &cfg, &eb, path),
                     UC_ECONFIG);
    assert_non_null(strstr(eb.msg, ":2: [server] foo"));
    assert_non_null(strstr(eb.msg, ":3: [server] workers"));
    assert_non_null(strstr(eb.msg, ":5: [tls] bar"));
}

static void test_config_missing_file(void **state)
{
    (void)state;
    struct uc_config cfg;
    struct uc_errbuf eb = {{0}};
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/nope.conf", dir);
    assert_int_equal(uc_config_load(path, &cfg, &eb), -ENOENT);
    assert_non_null(strstr(eb.msg, path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_and_values),
        cmocka_unit_test(test_config_port_pairing),
        cmocka_unit_test(test_config_errors_name_file_line_key),
        cmocka_unit_test(test_config_reports_every_error),
        cmocka_unit_test(test_config_missing_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
