/*
 * Overflow-checked parsing of the value forms the config and CLI accept.
 */
#ifndef UC_STRPARSE_H
#define UC_STRPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decimal unsigned integer, whole string, no sign. Returns 0 or -EINVAL/-ERANGE. */
int uc_parse_u64(const char *s, uint64_t *out);

/* Size with optional K, M, G, T suffix (powers of 1024), e.g. "64M". */
int uc_parse_size(const char *s, uint64_t *out);

/* Duration in seconds with optional s, m, h, d suffix; a bare number is seconds. */
int uc_parse_duration(const char *s, uint64_t *out_seconds);

/* "yes/no/true/false/on/off/1/0". */
int uc_parse_bool(const char *s, bool *out);

/* Lower-case hex encoding of n bytes into out (2n+1 bytes incl. NUL). */
void uc_hex_encode(const uint8_t *in, size_t n, char *out, bool upper);

/* Decode exactly 2n hex digits (either case) into n bytes. Returns 0 or -EINVAL. */
int uc_hex_decode(const char *in, size_t hexlen, uint8_t *out, size_t n);

/* Human-readable byte count ("1.5 GiB") into buf. Returns buf. */
/*
 * s[0..n) for a log line: quotes, backslashes, control and non-ASCII bytes as \xHH, so
 * that what a client sent cannot forge a line or a field. At most max bytes (a cut
 * ends in "..."); returns the length written (no NUL).
 */
size_t uc_escape(char *out, const char *s, size_t n, size_t max);
const char *uc_fmt_bytes(uint64_t n, char *buf, size_t len);

#define UC_U64_DIGITS 20
/* v in decimal into out (at most UC_U64_DIGITS bytes, no NUL); returns the length. On
 * the request path instead of snprintf, whose setup costs more than the digits. */
size_t uc_fmt_u64(char *out, uint64_t v);

#endif
