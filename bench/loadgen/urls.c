/*
 * The URL list: --url arguments and the --urls file.
 */
#include "urls.h"

#include "strparse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bound on memory for absurd inputs; millions of distinct files are fine. */
#define UC_LG_MAX_URLS (64u * 1024 * 1024)

int uc_urlset_add(struct uc_urlset *s, const char *path, uint64_t size, const uint8_t *sha)
{
    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 64;
        if (cap > UC_LG_MAX_URLS)
            return -E2BIG;
        struct uc_url *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    struct uc_url *u = &s->v[s->n];
    memset(u, 0, sizeof(*u));
    u->path = strdup(path);
    if (!u->path)
        return -ENOMEM;
    u->size = size;
    if (sha) {
        u->has_sha256 = true;
        memcpy(u->sha256, sha, 32);
    }
    s->n++;
    return 0;
}

int uc_urls_load(const char *file, struct uc_urlset *s)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "updcache-bench: %s: %s\n", file, strerror(errno));
        return -1;
    }
    char line[8192];
    unsigned lineno = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        lineno++;
        char *save = NULL;
        char *path = strtok_r(line, " \t\r\n", &save);
        if (!path || path[0] == '#')
            continue;
        char *size_s = strtok_r(NULL, " \t\r\n", &save);
        char *sha_s = size_s ? strtok_r(NULL, " \t\r\n", &save) : NULL;
        uint64_t size = UC_SIZE_UNKNOWN;
        uint8_t sha[32];
        bool ok = path[0] == '/' && !strtok_r(NULL, " \t\r\n", &save);
        if (ok && size_s)
            ok = uc_parse_u64(size_s, &size) == 0 && size != UC_SIZE_UNKNOWN;
        if (ok && sha_s)
            ok = strlen(sha_s) == 64 && uc_hex_decode(sha_s, 64, sha, 32) == 0;
        if (!ok) {
            fprintf(stderr, "updcache-bench: %s:%u: expected PATH [SIZE [SHA256HEX]]\n", file,
                    lineno);
            rc = -1;
            break;
        }
        if (uc_urlset_add(s, path, size, sha_s ? sha : NULL) != 0) {
            fprintf(stderr, "updcache-bench: %s: too many URLs\n", file);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}
