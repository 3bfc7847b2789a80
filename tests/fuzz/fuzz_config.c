/*
 * libFuzzer target: the config loader (inih driven by our line-counting reader and
 * value parsers). The input is written to a file because the loader reads files.
 * Invariants: it returns 0 or a negative code; on failure it always says why.
 */
#include "config.h"

#include "fuzz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof(path), "/tmp/fuzz_config.%d.conf", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    struct uc_config cfg;
    struct uc_errbuf eb;
    eb.msg[0] = 0;
    int rc = uc_config_load(path, &cfg, &eb);
    FUZZ_CHECK(rc <= 0);
    if (rc == 0) {
        FUZZ_CHECK(cfg.http_port >= 0 && cfg.http_port <= 65535);
        uc_config_free(&cfg);
    } else {
        FUZZ_CHECK(eb.msg[0] != 0);
    }
    unlink(path);
    return 0;
}
