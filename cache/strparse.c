/*
 * Number, size, duration and hex parsing with explicit overflow checks (no atoi,
 * no silent wrap), shared by the config loader and the command-line tool.
 */
#include "strparse.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int uc_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Split "123X" into the number and one trailing suffix letter (0 if none). */
static int split_suffix(const char *s, uint64_t *num, char *suffix)
{
    char digits[32];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(digits))
        return -EINVAL;
    *suffix = 0;
    if (s[n - 1] < '0' || s[n - 1] > '9') {
        *suffix = s[n - 1];
        n--;
    }
    memcpy(digits, s, n);
    digits[n] = 0;
    return uc_parse_u64(digits, num);
}

static int scale(uint64_t v, uint64_t mul, uint64_t *out)
{
    if (mul && v > UINT64_MAX / mul)
        return -ERANGE;
    *out = v * mul;
    return 0;
}

int uc_parse_size(const char *s, uint64_t *out)
{
    uint64_t v;
    char suf;
    int rc = split_suffix(s, &v, &suf);
    if (rc)
        return rc;
    switch (suf) {
    case 0:
        return scale(v, 1, out);
    case 'k':
    case 'K':
        return scale(v, 1ULL << 10, out);
    case 'm':
    case 'M':
        return scale(v, 1ULL << 20, out);
    case 'g':
    case 'G':
        return scale(v, 1ULL << 30, out);
    case 't':
    case 'T':
        return scale(v, 1ULL << 40, out);
    default:
        return -EINVAL;
    }
}

int uc_parse_duration(const char *s, uint64_t *out_seconds)
{
    uint64_t v;
    char suf;
    int rc = split_suffix(s, &v, &suf);
    if (rc)
        return rc;
    switch (suf) {
    case 0:
    case 's':
        return scale(v, 1, out_seconds);
    case 'm':
        return scale(v, 60, out_seconds);
    case 'h':
        return scale(v, 3600, out_seconds);
    case 'd':
        return scale(v, 86400, out_seconds);
    default:
        return -EINVAL;
    }
}

int uc_parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"yes", "true", "on", "1"};
    static const char *no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

void uc_hex_encode(const uint8_t *in, size_t n, char *out, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int uc_hex_decode(const char *in, size_t hexlen, uint8_t *out, size_t n)
{
    if (hexlen != 2 * n)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

const char *uc_fmt_bytes(uint64_t n, char *buf, size_t len)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024 && u + 1 < (sizeof(units) / sizeof(units[0])))
        v /= 1024, u++;
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)n);
    else
        snprintf(buf, len, "%.1f %s", v, units[u]);
    return buf;
}

size_t uc_escape(char *out, const char *s, size_t n, size_t max)
{
    static const char hex[] = "0123456789ABCDEF";
    const size_t mark = 3; /* strlen("...") */
    size_t len = 0, cut = 0;
    bool cut_found = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
        size_t w = plain ? 1 : 4;
        if (!cut_found && len + w + mark > max) {
            cut = len; /* the last place the mark still fits, should the rest not */
            cut_found = true;
        }
        if (len + w > max) {
            memcpy(out + cut, "...", mark);
            return cut + mark;
        }
        if (plain) {
            out[len++] = (char)c;
        } else {
            out[len++] = '\\';
            out[len++] = 'x';
            out[len++] = hex[c >> 4];
            out[len++] = hex[c & 15];
        }
    }
    return len;
}

size_t uc_fmt_u64(char *out, uint64_t v)
{
    char tmp[UC_U64_DIGITS];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}
