/*
 * libFuzzer target: DSSE envelope parsing and verification. Invariants: parsing never
 * crashes; a parsed envelope's payload length matches its buffer; verification against
 * a fixed key never succeeds for input the fuzzer made (it cannot forge Ed25519).
 */
#include "dsse.h"

#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct uc_key key;
    static int have_key;
    if (!have_key)
        have_key = uc_key_generate(&key) == 0 ? 1 : -1;
    struct uc_envelope env;
    struct uc_errbuf eb;
    if (uc_dsse_parse((const char *)data, size, &env, &eb) != 0)
        return 0;
    FUZZ_CHECK(env.payload[env.payload_len] == 0);
    FUZZ_CHECK(env.nsigs >= 1);
    if (have_key == 1)
        FUZZ_CHECK(uc_dsse_verify(&env, UC_DSSE_TYPE, &key, 1, NULL, &eb) != 0);
    uc_envelope_free(&env);
    return 0;
}
