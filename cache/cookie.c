/*
 * Bearer cookies: see cookie.h.
 */
#include "cookie.h"

#include "strparse.h"
#include "uc.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAC_LEN 32

const char *uc_role_name(enum uc_role role)
{
    return role == UC_ROLE_DSS ? "dss" : role == UC_ROLE_CLIENT ? "client" : "none";
}

int uc_cookie_key_new(uint8_t key[UC_COOKIE_KEY_LEN])
{
    return RAND_bytes(key, UC_COOKIE_KEY_LEN) == 1 ? 0 : UC_ECRYPTO;
}

static int mac(const uint8_t key[UC_COOKIE_KEY_LEN], const char *data, size_t len,
               uint8_t out[MAC_LEN])
{
    size_t got = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, UC_COOKIE_KEY_LEN,
                   (const unsigned char *)data, len, out, MAC_LEN, &got) ||
        got != MAC_LEN)
        return UC_ECRYPTO;
    return 0;
}

int uc_cookie_make(const uint8_t key[UC_COOKIE_KEY_LEN], enum uc_role role, const char *id,
                   int64_t expires, char *out, size_t cap)
{
    size_t idlen = strlen(id);
    if (idlen > UC_COOKIE_ID_MAX || role == UC_ROLE_NONE || cap < UC_COOKIE_MAX)
        return -EINVAL;
    char idhex[2 * UC_COOKIE_ID_MAX + 1];
    uc_hex_encode((const uint8_t *)id, idlen, idhex, false);
    int n = snprintf(out, cap, "%s.%s.%lld.", uc_role_name(role), idhex, (long long)expires);
    uint8_t m[MAC_LEN];
    int rc = mac(key, out, (size_t)n - 1, m);
    if (rc)
        return rc;
    uc_hex_encode(m, MAC_LEN, out + n, false);
    return 0;
}

/* The fields of cookie[0..signed_len - 1): role, id and expiry, or false. */
static bool parse_fields(const char *cookie, size_t signed_len, enum uc_role *role, char *id,
                         uint64_t *exp)
{
    char buf[UC_COOKIE_MAX];
    memcpy(buf, cookie, signed_len - 1);
    buf[signed_len - 1] = 0;
    char *dot1 = strchr(buf, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot2)
        return false;
    *dot1 = *dot2 = 0;
    enum uc_role r = !strcmp(buf, "dss")      ? UC_ROLE_DSS
                     : !strcmp(buf, "client") ? UC_ROLE_CLIENT
                                              : UC_ROLE_NONE;
    size_t hexlen = strlen(dot1 + 1);
    if (r == UC_ROLE_NONE || hexlen % 2 || hexlen / 2 > UC_COOKIE_ID_MAX ||
        uc_hex_decode(dot1 + 1, hexlen, (uint8_t *)id, hexlen / 2) || uc_parse_u64(dot2 + 1, exp))
        return false;
    id[hexlen / 2] = 0;
    if (memchr(id, 0, hexlen / 2))
        return false;
    *role = r;
    return true;
}

/* The signed part's length, or 0 when cookie[0..len) cannot be one. */
static size_t signed_part(const char *cookie, size_t len)
{
    if (len < 2 * MAC_LEN + 6 || len >= UC_COOKIE_MAX)
        return 0;
    size_t n = len - 2 * MAC_LEN;
    return cookie[n - 1] == '.' ? n : 0;
}

bool uc_cookie_peek(const char *cookie, size_t len, enum uc_role *role, char *id, size_t idcap)
{
    size_t n = signed_part(cookie, len);
    uint64_t exp;
    return n && idcap >= UC_COOKIE_ID_MAX + 1 && parse_fields(cookie, n, role, id, &exp);
}

enum uc_cookie_rc uc_cookie_check(const uint8_t key[UC_COOKIE_KEY_LEN], const char *cookie,
                                  size_t len, int64_t now, enum uc_role *role, char *id,
                                  size_t idcap)
{
    size_t signed_len = signed_part(cookie, len);
    if (!signed_len || idcap < UC_COOKIE_ID_MAX + 1)
        return UC_COOKIE_BAD;
    uint8_t want[MAC_LEN], got[MAC_LEN];
    if (uc_hex_decode(cookie + signed_len, 2 * MAC_LEN, got, MAC_LEN) ||
        mac(key, cookie, signed_len - 1, want) || CRYPTO_memcmp(want, got, MAC_LEN) != 0)
        return UC_COOKIE_BAD;
    /* Authentic from here on: the fields are ours, but parse them carefully anyway. */
    enum uc_role r;
    uint64_t exp;
    if (!parse_fields(cookie, signed_len, &r, id, &exp))
        return UC_COOKIE_BAD;
    if ((int64_t)exp <= now)
        return UC_COOKIE_EXPIRED;
    *role = r;
    return UC_COOKIE_OK;
}

int uc_cookie_bind(const uint8_t key[UC_COOKIE_KEY_LEN], const char *bind,
                   uint8_t out[UC_COOKIE_KEY_LEN])
{
    return mac(key, bind, strlen(bind), out);
}
