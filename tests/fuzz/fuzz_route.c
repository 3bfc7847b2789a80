/*
 * libFuzzer target: request-target routing. Invariants: whatever is accepted (not 400)
 * has a decoded path with no "." or ".." segment, no backslash and no control byte, on
 * either port; content on the TLS port is never OK.
 */
#include "fuzz.h"
#include "route.h"

#include <string.h>

static void check_path(const char *p)
{
    FUZZ_CHECK(p[0] == '/');
    FUZZ_CHECK(!strstr(p, "/../") && !strstr(p, "/./") && !strchr(p, '\\'));
    size_t n = strlen(p);
    FUZZ_CHECK(!(n >= 3 && !strcmp(p + n - 3, "/..")) && !(n >= 2 && !strcmp(p + n - 2, "/.")));
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)p[i] >= 0x20 && p[i] != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct uc_route r;
    for (int tls = 0; tls <= 1; tls++) {
        enum uc_route_rc rc = uc_route_eval((const char *)data, size, tls, &r);
        if (rc == UC_ROUTE_BAD) {
            FUZZ_CHECK(r.why != NULL);
            continue;
        }
        check_path(r.path);
        if (tls && rc == UC_ROUTE_OK)
            FUZZ_CHECK(r.root != UC_ROOT_CONTENT && r.root != UC_ROOT_MSDOWNLOAD);
    }
    return 0;
}
