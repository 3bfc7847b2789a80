/*
 * The TLS companion listener (SPEC §6): libmicrohttpd (GnuTLS) serving the metadata
 * roots through api.c on https_port.
 *
 * updcached accepts the TLS port's connections itself, on one small thread, and looks
 * at each one's first byte before handing it to libmicrohttpd: a TLS handshake starts
 * with 0x16; anything else is a plain HTTP request sent to the wrong port and gets a
 * 400 naming the https:// URL (libmicrohttpd would only drop it). A connection that
 * sends nothing is closed after header_timeout.
 *
 * Reload (configure-ssl, SIGHUP): a new libmicrohttpd instance is started with the new
 * certificate first, and only then takes the new connections; the old one finishes its
 * connections (up to 30 s) and stops. A changed port gets a new listening socket.
 */
#ifndef UC_TLS_LISTENER_H
#define UC_TLS_LISTENER_H

#include "daemon.h"

/* GnuTLS priorities: TLS 1.3 and 1.2 only; 1.2 with ECDHE and AEAD suites only. */
#define UC_TLS_PRIORITIES                                                                          \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:"            \
    "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

/* Start on s's https_port (0 in s means none: returns 0 with *out NULL). */
int uc_tls_start(struct uc_daemon *d, const struct uc_settings *s, struct uc_tls **out, char *err,
                 size_t errlen);
/* The bound TLS port. */
int uc_tls_port(struct uc_tls *t);
/*
 * Apply new settings: a changed certificate, key, name or port. Everything is checked
 * and prepared first; on failure (err says why) the running listener is untouched.
 */
int uc_tls_reload(struct uc_tls *t, const struct uc_settings *s, char *err, size_t errlen);
/* Stop accepting, finish (briefly) and free. */
void uc_tls_stop(struct uc_tls *t);

#endif
