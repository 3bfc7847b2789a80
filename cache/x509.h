/*
 * Certificates for the TLS listener (SPEC §7): making a lab CA and server certificate
 * (`updcache mkcert`), and the checks `updcache configure-ssl` runs before it lets a
 * certificate near the config: the name is a fully qualified DNS name, the certificate
 * is for that name, the key is its key, and it is valid now. OpenSSL does the work.
 */
#ifndef UC_X509_H
#define UC_X509_H

#include "uc.h"

#include <stdbool.h>

/*
 * A fully qualified DNS name: at least two labels of letters, digits and hyphens (not
 * at either end), 1-63 characters each, 253 in all; not an IP address literal. On
 * false, why says what is wrong.
 */
bool uc_fqdn_valid(const char *name, const char **why);

/*
 * Write dir/ca.pem, dir/ca.key, dir/NAME.pem (server certificate, then the CA) and
 * dir/NAME.key: ECDSA P-256, SAN = DNS:NAME, server certificate valid for days days.
 * Keys are mode 0600. Returns 0 or an error in eb.
 */
int uc_x509_mkcert(const char *name, const char *dir, int days, struct uc_errbuf *eb);

/*
 * Check that cert_path's first certificate names host, that key_path is its private
 * key, and that it is valid now. Returns 0 or UC_EPARSE / UC_ECRYPTO with the reason in
 * eb; *not_after receives the expiry (unix seconds) when the certificate loads.
 */
int uc_x509_check(const char *host, const char *cert_path, const char *key_path, int64_t *not_after,
                  struct uc_errbuf *eb);

#endif
