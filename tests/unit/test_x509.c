/*
 * Certificates: which names count as fully qualified, mkcert's output checked by the
 * openssl tool (chain verifies, SAN is the name), and the configure-ssl checks: wrong
 * name, a key that is not the certificate's.
 */
#include "uc_test.h"
#include "x509.h"

#include <time.h>

static void test_fqdn(void **state)
{
    (void)state;
    const char *why;
    const char *good[] = {"updates.example.org", "a.b", "x-1.example.org", "updates.example.org."};
    const char *bad[] = {"updates",     "localhost", "127.0.0.1",  "::1",  "[::1]",
                         "a..b",        ".a.b",      "-a.example", "a-.b", "a_b.example",
                         "a b.example", "",          "a.b:443"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(uc_fqdn_valid(good[i], &why));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        assert_false(uc_fqdn_valid(bad[i], &why));
        assert_non_null(why);
    }
}

static void test_mkcert_and_check(void **state)
{
    (void)state;
    char *dir = uct_tmpdir(), cmd[3 * PATH_MAX], line[256], cert[PATH_MAX + 32], key[PATH_MAX + 32];
    struct uc_errbuf eb = {{0}};
    assert_int_equal(uc_x509_mkcert("u.example.org", dir, 30, &eb), 0);
    snprintf(cert, sizeof(cert), "%s/u.example.org.pem", dir);
    snprintf(key, sizeof(key), "%s/u.example.org.key", dir);
    /* The chain verifies with the CA, for this name, as a TLS server. */
    snprintf(cmd, sizeof(cmd),
             "openssl verify -CAfile %s/ca.pem -verify_hostname u.example.org -purpose "
             "sslserver %s 2>&1",
             dir, cert);
    assert_true(uct_run_line(cmd, line, sizeof(line)));
    assert_non_null(strstr(line, ": OK"));
    int64_t not_after = 0;
    assert_int_equal(uc_x509_check("u.example.org", cert, key, &not_after, &eb), 0);
    assert_true(not_after > 29 * 86400 && not_after - (int64_t)time(NULL) < 31 * 86400);
    assert_int_not_equal(uc_x509_check("v.example.org", cert, key, &not_after, &eb), 0);
    assert_non_null(strstr(eb.msg, "is not a certificate for v.example.org"));
    /* Another pair: its key does not match the first certificate. */
    char other[PATH_MAX + 8], okey[PATH_MAX + 32];
    snprintf(other, sizeof(other), "%s/o", dir);
    assert_int_equal(uc_x509_mkcert("u.example.org", other, 30, &eb), 0);
    snprintf(okey, sizeof(okey), "%s/u.example.org.key", other);
    assert_int_not_equal(uc_x509_check("u.example.org", cert, okey, &not_after, &eb), 0);
    assert_non_null(strstr(eb.msg, "is not the private key of"));
    assert_int_not_equal(uc_x509_mkcert("single", dir, 30, &eb), 0);
    uct_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fqdn),
        cmocka_unit_test(test_mkcert_and_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
