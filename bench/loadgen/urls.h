/*
 * The URL list: --url arguments and the --urls file ("PATH [SIZE [SHA256HEX]]" per line;
 * blank lines and lines starting with '#' are skipped).
 */
#ifndef UC_LG_URLS_H
#define UC_LG_URLS_H

#include "mix.h"

#include <stdint.h>

struct uc_urlset {
    struct uc_url *v;
    uint32_t n, cap;
};

/* Append a target (path copied). size may be UC_SIZE_UNKNOWN, sha256 NULL. 0 or -errno. */
int uc_urlset_add(struct uc_urlset *s, const char *path, uint64_t size, const uint8_t *sha256);

/* Append every line of file. 0, or -1 with the file:line named on stderr. */
int uc_urls_load(const char *file, struct uc_urlset *s);

#endif
