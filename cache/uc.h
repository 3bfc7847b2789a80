/*
 * Common definitions for libupdcache: error codes and a few macros.
 *
 * Fallible functions return 0 on success or a negative value: -errno for a system
 * failure, or one of the UC_E* codes below, which live far below -4095 so they never
 * collide with an errno. uc_strerror() decodes both.
 */
#ifndef UC_H
#define UC_H

#include <stddef.h>
#include <stdint.h>

#define UC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define uc_likely(x) __builtin_expect(!!(x), 1)
#define uc_unlikely(x) __builtin_expect(!!(x), 0)

enum uc_err {
    UC_EBASE = -10000,
    UC_EPARSE = -10001,    /* malformed input (JSON, PEM, config value) */
    UC_ESIG = -10002,      /* a signature did not verify */
    UC_EKEY = -10003,      /* no signature by a trusted key */
    UC_EDIGEST = -10004,   /* bytes do not match the expected digest */
    UC_ESCHEMA = -10005,   /* index written by a newer schema */
    UC_ENOTFOUND = -10006, /* no such record */
    UC_ECONFIG = -10007,   /* configuration error */
    UC_ECRYPTO = -10008,   /* OpenSSL failure */
    UC_EINDEX = -10009,    /* LMDB failure */
    UC_ESIZE = -10010,     /* size mismatch */
    UC_EEXIST = -10011,    /* already exists */
    UC_ESTALE = -10012,    /* record older than the one stored */
    UC_ECONFLICT = -10013, /* same SHA-1 as a stored file, other bytes (SHA-256 or size) */
};

/* Decode a negative return value (errno or UC_E*) into a static string. */
const char *uc_strerror(int rc);

/*
 * A bounded message buffer that travels with a fallible call, so the function that
 * sees the cause can say which file, key or digest was wrong. Callers print it once.
 */
struct uc_errbuf {
    char msg[1024];
};

/* Format into eb (if non-NULL). Always returns rc, so callers can `return uc_errf(...)`. */
int uc_errf(struct uc_errbuf *eb, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
