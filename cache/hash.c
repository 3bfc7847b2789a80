/*
 * The one-pass hasher. Each chunk is fed to SHA-1, SHA-256 and XXH3 while it is still
 * in cache, so a file is read once however many digests it needs. Callers spread
 * files over threads (see parallel.h) to keep both cores busy.
 */
#include "hash.h"
#include "uc.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

static EVP_MD *md_sha1, *md_sha256;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

/* Explicit fetch once: OpenSSL 3's implicit fetch in EVP_sha1() costs a lookup per init. */
static void fetch_mds(void)
{
    md_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int uc_hasher_init(struct uc_hasher *h, enum uc_hash_what what)
{
    memset(h, 0, sizeof(*h));
    pthread_once(&md_once, fetch_mds);
    if (!md_sha1 || !md_sha256)
        return UC_ECRYPTO;
    h->xxh = XXH3_createState();
    if (!h->xxh)
        return -ENOMEM;
    XXH3_128bits_reset(h->xxh);
    if (what == UC_HASH_XXH_ONLY)
        return 0;
    h->sha1 = EVP_MD_CTX_new();
    h->sha256 = EVP_MD_CTX_new();
    if (!h->sha1 || !h->sha256 || !EVP_DigestInit_ex(h->sha1, md_sha1, NULL) ||
        !EVP_DigestInit_ex(h->sha256, md_sha256, NULL)) {
        uc_hasher_free(h);
        return UC_ECRYPTO;
    }
    return 0;
}

void uc_hasher_update(struct uc_hasher *h, const void *data, size_t len)
{
    if (h->sha1) {
        EVP_DigestUpdate(h->sha1, data, len);
        EVP_DigestUpdate(h->sha256, data, len);
    }
    XXH3_128bits_update(h->xxh, data, len);
    h->size += len;
}

int uc_hasher_final(struct uc_hasher *h, struct uc_digest *out)
{
    memset(out, 0, sizeof(*out));
    out->size = h->size;
    if (h->sha1) {
        unsigned n1 = 0, n2 = 0;
        if (!EVP_DigestFinal_ex(h->sha1, out->sha1, &n1) ||
            !EVP_DigestFinal_ex(h->sha256, out->sha256, &n2) || n1 != UC_SHA1_LEN ||
            n2 != UC_SHA256_LEN)
            return UC_ECRYPTO;
        if (!EVP_DigestInit_ex(h->sha1, md_sha1, NULL) ||
            !EVP_DigestInit_ex(h->sha256, md_sha256, NULL))
            return UC_ECRYPTO;
    }
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(h->xxh));
    memcpy(out->xxh128, c.digest, UC_XXH128_LEN);
    XXH3_128bits_reset(h->xxh);
    h->size = 0;
    return 0;
}

void uc_hasher_free(struct uc_hasher *h)
{
    EVP_MD_CTX_free(h->sha1);
    EVP_MD_CTX_free(h->sha256);
    XXH3_freeState(h->xxh);
    memset(h, 0, sizeof(*h));
}

int uc_hash_buf(const void *data, size_t len, struct uc_digest *out)
{
    struct uc_hasher h;
    int rc = uc_hasher_init(&h, UC_HASH_ALL);
    if (rc)
        return rc;
    uc_hasher_update(&h, data, len);
    rc = uc_hasher_final(&h, out);
    uc_hasher_free(&h);
    return rc;
}

int uc_hash_fd(int fd, enum uc_hash_what what, struct uc_digest *out, _Atomic uint64_t *progress)
{
    struct uc_hasher h;
    int rc = uc_hasher_init(&h, what);
    if (rc)
        return rc;
    uint8_t *buf = aligned_alloc(4096, UC_HASH_CHUNK);
    if (!buf) {
        uc_hasher_free(&h);
        return -ENOMEM;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    for (;;) {
        ssize_t n = read(fd, buf, UC_HASH_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0) {
            rc = uc_hasher_final(&h, out);
            break;
        }
        uc_hasher_update(&h, buf, (size_t)n);
        if (progress)
            atomic_fetch_add_explicit(progress, (uint64_t)n, memory_order_relaxed);
    }
    free(buf);
    uc_hasher_free(&h);
    return rc;
}
