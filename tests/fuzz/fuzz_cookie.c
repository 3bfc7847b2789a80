/*
 * libFuzzer target: bearer cookie checking, which reads whatever a client puts after
 * "Authorization: Bearer". With a fixed key, no input other than a cookie this code
 * made can pass; an accepted one must carry a known role and a NUL-free id.
 */
#include "cookie.h"
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t key[UC_COOKIE_KEY_LEN];
    enum uc_role role = UC_ROLE_NONE;
    char id[UC_COOKIE_ID_MAX + 1];
    enum uc_cookie_rc rc = uc_cookie_check(key, (const char *)data, size, 0, &role, id, sizeof(id));
    FUZZ_CHECK(rc == UC_COOKIE_OK || rc == UC_COOKIE_BAD || rc == UC_COOKIE_EXPIRED);
    if (rc == UC_COOKIE_OK) {
        FUZZ_CHECK(role == UC_ROLE_DSS || role == UC_ROLE_CLIENT);
        FUZZ_CHECK(strlen(id) <= UC_COOKIE_ID_MAX);
        /* Genuine: it must be exactly what make() gives for its fields. */
        char again[UC_COOKIE_MAX];
        uint64_t exp = 0;
        const char *dot = memchr(data, '.', size);
        dot = dot ? memchr(dot + 1, '.', size - (size_t)(dot + 1 - (const char *)data)) : NULL;
        FUZZ_CHECK(dot != NULL);
        for (const char *p = dot + 1; *p != '.'; p++)
            exp = exp * 10 + (uint64_t)(*p - '0');
        FUZZ_CHECK(uc_cookie_make(key, role, id, (int64_t)exp, again, sizeof(again)) == 0);
        FUZZ_CHECK(strlen(again) == size && !memcmp(again, data, size));
    }
    return 0;
}
