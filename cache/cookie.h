/*
 * Short-lived bearer cookies of the TLS listener (SPEC §6, §11): issued by the
 * DSSAuth and SimpleAuth token endpoints, presented as "Authorization: Bearer C".
 *
 *   C = ROLE "." hex(ID) "." EXPIRES "." hex(HMAC-SHA256(key, ROLE "." hex(ID) "." EXPIRES))
 *
 * The key is random per daemon start: a restart invalidates every cookie, and clients
 * simply ask for a new one, as they do when one expires. The MAC is compared in
 * constant time.
 */
#ifndef UC_COOKIE_H
#define UC_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UC_COOKIE_KEY_LEN 32
#define UC_COOKIE_ID_MAX 128 /* longest id a cookie carries */
#define UC_COOKIE_MAX (16 + 2 * UC_COOKIE_ID_MAX + 24 + 64 + 4)

enum uc_role {
    UC_ROLE_NONE = 0,
    UC_ROLE_DSS,    /* a downstream server (DSSAuthWebService) */
    UC_ROLE_CLIENT, /* a client (SimpleAuthWebService) */
};

enum uc_cookie_rc {
    UC_COOKIE_OK = 0,
    UC_COOKIE_BAD,     /* malformed, or the MAC does not match: forged or another key */
    UC_COOKIE_EXPIRED, /* genuine but past its expiry */
};

/* Fill key with random bytes; 0 or UC_ECRYPTO. */
int uc_cookie_key_new(uint8_t key[UC_COOKIE_KEY_LEN]);

/* Write the cookie for (role, id, expires) into out; 0, -EINVAL (id too long or cap too
 * small) or UC_ECRYPTO. */
int uc_cookie_make(const uint8_t key[UC_COOKIE_KEY_LEN], enum uc_role role, const char *id,
                   int64_t expires, char *out, size_t cap);

/* Check cookie[0..len) at time now; on OK, role and id (NUL-terminated, idcap bytes with
 * room for UC_COOKIE_ID_MAX + 1) are filled. */
enum uc_cookie_rc uc_cookie_check(const uint8_t key[UC_COOKIE_KEY_LEN], const char *cookie,
                                  size_t len, int64_t now, enum uc_role *role, char *id,
                                  size_t idcap);

/* The role and id a cookie claims, NOT verified: only to find the key to check it with. */
bool uc_cookie_peek(const char *cookie, size_t len, enum uc_role *role, char *id, size_t idcap);

/*
 * The key for cookies bound to a credential: HMAC-SHA256(key, bind). A cookie made with
 * it verifies only while the same bind text (a downstream's ID:SECRET entry, the client
 * secret) is configured: removing or changing the credential revokes its cookies.
 */
int uc_cookie_bind(const uint8_t key[UC_COOKIE_KEY_LEN], const char *bind,
                   uint8_t out[UC_COOKIE_KEY_LEN]);

const char *uc_role_name(enum uc_role role);

#endif
