/*
 * Config text editing for configure-ssl: replace in place, drop repeats, add at the end
 * of the right section or as a new section, remove; comments, other sections and keys
 * with the same name elsewhere are untouched; the result still loads.
 */
#include "config.h"
#include "config_edit.h"
#include "uc_test.h"

static void expect(const char *in, const char *sec, const char *key, const char *val,
                   const char *want)
{
    char *out = uc_config_edit(in, sec, key, val);
    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
}

static void test_config_edit_cases(void **state)
{
    (void)state;
    /* replaced in place, spacing normalised, comment kept */
    expect("[server]\n; the name\nname=old.example.org\nstore = /s\n", "server", "name",
           "new.example.org", "[server]\n; the name\nname = new.example.org\nstore = /s\n");
    /* added at the end of its section, before the next section and its comments */
    expect("[server]\nstore = /s\n\n; tls follows\n[tls]\ncert = a\n", "server", "https_port",
           "8531", "[server]\nstore = /s\nhttps_port = 8531\n\n; tls follows\n[tls]\ncert = a\n");
    /* the same key in another section is not touched */
    expect("[server]\nkey = 1\n[tls]\nkey = a\n", "tls", "key", "b",
           "[server]\nkey = 1\n[tls]\nkey = b\n");
    /* a new section at the end (no trailing newline in the input) */
    expect("[server]\nstore = /s", "tls", "cert", "/c.pem",
           "[server]\nstore = /s\n[tls]\ncert = /c.pem\n");
    /* repeats dropped, removal */
    expect("[server]\nhttp_port = 1\nhttp_port: 2\nstore = /s\n", "server", "http_port", NULL,
           "[server]\nstore = /s\n");
    expect("[server]\nhttp_port = 1\nhttp_port = 2\n", "server", "http_port", "3",
           "[server]\nhttp_port = 3\n");
    /* a key that only starts like another is a different key */
    expect("[server]\nnames = x\n", "server", "name", "a.b", "[server]\nnames = x\nname = a.b\n");
    /* an empty section gets the key right after its header */
    expect("[tls]\n[server]\nstore = /s\n", "tls", "cert", "c",
           "[tls]\ncert = c\n[server]\nstore = /s\n");
    /* issue 17: a byte-order mark hid the first section (a second [server] was added) */
    expect("\xEF\xBB\xBF[server]\nstore = /s\n", "server", "name", "a.b",
           "\xEF\xBB\xBF[server]\nstore = /s\nname = a.b\n");
    /* CRLF files stay CRLF: replaced, added and new-section lines alike */
    expect("[server]\r\nname = x\r\nstore = /s\r\n\r\n[auth]\r\n", "server", "name", "y",
           "[server]\r\nname = y\r\nstore = /s\r\n\r\n[auth]\r\n");
    expect("[server]\r\nstore = /s\r\n\r\n[auth]\r\n", "server", "https_port", "8531",
           "[server]\r\nstore = /s\r\nhttps_port = 8531\r\n\r\n[auth]\r\n");
    expect("[server]\r\nstore = /s\r\n", "tls", "cert", "c",
           "[server]\r\nstore = /s\r\n[tls]\r\ncert = c\r\n");
}

static void test_config_edit_loads(void **state)
{
    (void)state;
    char *dir = uct_tmpdir(), path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/uc.conf", dir);
    const char *base = "[server]\nstore = /s\nhttp_port = 8080\n";
    char *a = uc_config_edit(base, "server", "https_port", "8531");
    char *b = uc_config_edit(a, "server", "http_port", NULL);
    char *c = uc_config_edit(b, "server", "name", "u.example.org");
    char *d = uc_config_edit(c, "tls", "cert", "/c.pem");
    char *e = uc_config_edit(d, "tls", "key", "/c.key");
    uct_write_file(path, e, strlen(e));
    struct uc_config cfg;
    struct uc_errbuf eb = {{0}};
    assert_int_equal(uc_config_load(path, &cfg, &eb), 0);
    assert_int_equal(cfg.https_port, 8531);
    assert_int_equal(cfg.http_port, 8530);
    assert_string_equal(cfg.name, "u.example.org");
    uc_config_free(&cfg);
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
    uct_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_edit_cases),
        cmocka_unit_test(test_config_edit_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
