/*
 * Certificates: see x509.h.
 */
#include "x509.h"

#include "fsutil.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool uc_fqdn_valid(const char *name, const char **why)
{
    unsigned char buf[sizeof(struct in6_addr)];
    size_t len = strlen(name);
    if (inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1 ||
        (len > 2 && name[0] == '[')) {
        *why = "an IP address is not a fully qualified domain name; clients check the "
               "certificate against a DNS name";
        return false;
    }
    if (len == 0 || len > 253) {
        *why = "a DNS name has 1 to 253 characters";
        return false;
    }
    unsigned labels = 0;
    for (const char *p = name; *p;) {
        const char *dot = strchr(p, '.'), *end = dot ? dot : p + strlen(p);
        size_t n = (size_t)(end - p);
        if (n == 0 || n > 63) {
            *why = "each label of a DNS name has 1 to 63 characters (no empty labels)";
            return false;
        }
        for (const char *q = p; q < end; q++)
            if (!isalnum((unsigned char)*q) && *q != '-') {
                *why = "a DNS name has letters, digits, hyphens and dots only";
                return false;
            }
        if (p[0] == '-' || end[-1] == '-') {
            *why = "a DNS label neither starts nor ends with a hyphen";
            return false;
        }
        labels++;
        p = dot ? dot + 1 : end;
        if (dot && !*p) /* a trailing dot: the root, allowed once */
            break;
    }
    if (labels < 2) {
        *why = "a single-label name is not fully qualified: use the full DNS name "
               "(e.g. updates.example.org)";
        return false;
    }
    return true;
}

static int ossl_err(struct uc_errbuf *eb, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return uc_errf(eb, UC_ECRYPTO, "%s%s%s", what, *buf ? ": " : "", buf);
}

static EVP_PKEY *ec_key(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    bool ok = ext && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

static X509 *new_cert(EVP_PKEY *key, const char *cn, int days)
{
    X509 *c = X509_new();
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    if (!c || RAND_bytes(serial, sizeof(serial)) != 1)
        goto fail;
    serial[0] &= 0x7f; /* positive */
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    X509_NAME *nm = X509_get_subject_name(c);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c)) || !X509_set_version(c, 2) ||
        !X509_gmtime_adj(X509_getm_notBefore(c), -300) ||
        !X509_gmtime_adj(X509_getm_notAfter(c), (long)days * 86400) || !X509_set_pubkey(c, key) ||
        !X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_UTF8, (const unsigned char *)"updcache", -1,
                                    -1, 0))
        goto fail;
    /* X.509 caps a CN at 64 characters; a longer name lives in the SAN alone, which is
     * what clients match anyway (RFC 6125). */
    if (strlen(cn) <= 64 &&
        !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0))
        goto fail;
    BN_free(bn);
    return c;
fail:
    BN_free(bn);
    X509_free(c);
    return NULL;
}

static int write_pem(const char *path, int mode, X509 *c1, X509 *c2, EVP_PKEY *key,
                     struct uc_errbuf *eb)
{
    BIO *b = BIO_new(BIO_s_mem());
    bool ok = b && (!c1 || PEM_write_bio_X509(b, c1)) && (!c2 || PEM_write_bio_X509(b, c2)) &&
              (!key || PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL));
    char *data = NULL;
    long n = ok ? BIO_get_mem_data(b, &data) : 0;
    int rc = ok ? uc_write_file_atomic(path, data, (size_t)n, (mode_t)mode) : UC_ECRYPTO;
    BIO_free(b);
    if (rc == UC_ECRYPTO)
        return ossl_err(eb, "encoding PEM");
    return rc ? uc_errf(eb, rc, "%s: %s", path, strerror(-rc)) : 0;
}

int uc_x509_mkcert(const char *name, const char *dir, int days, struct uc_errbuf *eb)
{
    const char *why;
    if (!uc_fqdn_valid(name, &why))
        return uc_errf(eb, UC_EPARSE, "'%s': %s", name, why);
    if (days < 1 || days > 3650)
        return uc_errf(eb, UC_EPARSE, "--days %d: give 1 to 3650", days);
    int rc = UC_ECRYPTO;
    EVP_PKEY *cakey = ec_key(), *key = ec_key();
    X509 *ca = cakey ? new_cert(cakey, "updcache lab CA", days + 365) : NULL;
    X509 *srv = key ? new_cert(key, name, days) : NULL;
    char san[300];
    snprintf(san, sizeof(san), "DNS:%s", name);
    if (!ca || !srv || !X509_set_issuer_name(ca, X509_get_subject_name(ca)) ||
        !add_ext(ca, ca, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
        !add_ext(ca, ca, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        !add_ext(ca, ca, NID_subject_key_identifier, "hash") ||
        !X509_sign(ca, cakey, EVP_sha256()) ||
        !X509_set_issuer_name(srv, X509_get_subject_name(ca)) ||
        !add_ext(srv, ca, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(srv, ca, NID_key_usage, "critical,digitalSignature") ||
        !add_ext(srv, ca, NID_ext_key_usage, "serverAuth") ||
        !add_ext(srv, ca, NID_subject_alt_name, san) ||
        !add_ext(srv, ca, NID_authority_key_identifier, "keyid:always") ||
        !X509_sign(srv, cakey, EVP_sha256())) {
        rc = ossl_err(eb, "making the certificates");
        goto done;
    }
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s", dir); /* like mkdir -p */
    rc = 0;
    for (char *s = p + 1; !rc && *s; s++)
        if (*s == '/') {
            *s = 0;
            rc = uc_mkdir_at(AT_FDCWD, p, 0755);
            *s = '/';
        }
    if (!rc)
        rc = uc_mkdir_at(AT_FDCWD, dir, 0755);
    if (rc) {
        rc = uc_errf(eb, rc, "%s: %s", dir, strerror(-rc));
        goto done;
    }
    snprintf(p, sizeof(p), "%s/ca.pem", dir);
    rc = write_pem(p, 0644, ca, NULL, NULL, eb);
    snprintf(p, sizeof(p), "%s/ca.key", dir);
    if (!rc)
        rc = write_pem(p, 0600, NULL, NULL, cakey, eb);
    snprintf(p, sizeof(p), "%s/%s.pem", dir, name);
    if (!rc)
        rc = write_pem(p, 0644, srv, ca, NULL, eb);
    snprintf(p, sizeof(p), "%s/%s.key", dir, name);
    if (!rc)
        rc = write_pem(p, 0600, NULL, NULL, key, eb);
done:
    X509_free(ca);
    X509_free(srv);
    EVP_PKEY_free(cakey);
    EVP_PKEY_free(key);
    return rc;
}

int uc_x509_check(const char *host, const char *cert_path, const char *key_path, int64_t *not_after,
                  struct uc_errbuf *eb)
{
    int rc = 0;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    FILE *f = fopen(cert_path, "r");
    if (!f)
        return uc_errf(eb, -errno, "%s: %s", cert_path, strerror(errno));
    cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!cert) {
        ERR_clear_error();
        return uc_errf(eb, UC_EPARSE, "%s: no PEM certificate in it", cert_path);
    }
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm))
        *not_after = (int64_t)timegm(&tm);
    f = fopen(key_path, "r");
    if (!f) {
        rc = uc_errf(eb, -errno, "%s: %s", key_path, strerror(errno));
        goto done;
    }
    key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    char *cn_host = NULL;
    if (!key) {
        ERR_clear_error();
        rc = uc_errf(eb, UC_EPARSE, "%s: no PEM private key in it", key_path);
    } else if (X509_check_host(cert, host, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, &cn_host) !=
               1) {
        rc = uc_errf(eb, UC_EPARSE,
                     "%s is not a certificate for %s (its subject alternative names do not "
                     "include it): make one for this name (updcache mkcert %s --out DIR)",
                     cert_path, host, host);
    } else if (X509_check_private_key(cert, key) != 1) {
        ERR_clear_error();
        rc = uc_errf(eb, UC_EPARSE, "%s is not the private key of %s", key_path, cert_path);
    } else if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
        char when[64] = "?";
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
        rc = uc_errf(eb, UC_EPARSE, "%s expired on %s: renew it", cert_path, when);
    } else if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) {
        rc = uc_errf(eb, UC_EPARSE, "%s is not valid yet (check the clock)", cert_path);
    }
    OPENSSL_free(cn_host);
done:
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}
