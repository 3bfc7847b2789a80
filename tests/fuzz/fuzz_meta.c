/*
 * libFuzzer target: update record decoding. Invariants: a record that decodes encodes
 * canonically, and that encoding decodes to the same fields (a fixed point).
 */
#include "meta.h"

#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct uc_update u, again;
    struct uc_errbuf eb;
    if (uc_update_decode((const char *)data, size, &u, &eb) != 0)
        return 0;
    char *json = NULL, *json2 = NULL;
    size_t len = 0, len2 = 0;
    if (uc_update_encode(&u, &json, &len) == 0) {
        FUZZ_CHECK(uc_update_decode(json, len, &again, &eb) == 0);
        FUZZ_CHECK(again.nfiles == u.nfiles && again.revision == u.revision);
        FUZZ_CHECK(strcmp(again.id, u.id) == 0 && strcmp(again.title, u.title) == 0);
        FUZZ_CHECK(uc_update_encode(&again, &json2, &len2) == 0);
        FUZZ_CHECK(len == len2 && memcmp(json, json2, len) == 0);
        uc_update_free(&again);
    }
    free(json);
    free(json2);
    uc_update_free(&u);
    return 0;
}
