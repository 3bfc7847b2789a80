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
    if (what == UC_HASH_BLOCKS) {
        h->block = EVP_MD_CTX_new();
        if (!h->block || !EVP_DigestInit_ex(h->block, md_sha256, NULL)) {
            uc_hasher_free(h);
            return UC_ECRYPTO;
        }
    }
    return 0;
}

/* Close the current block: its digest joins the list. False when out of memory (the
 * list is then dropped and final reports it). */
static bool end_block(struct uc_hasher *h)
{
    if (h->nblocks == h->blocks_cap) {
        size_t cap = h->blocks_cap ? 2 * h->blocks_cap : 64;
        uint8_t *b = realloc(h->blocks, cap * UC_SHA256_LEN);
        if (!b)
            return false;
        h->blocks = b;
        h->blocks_cap = cap;
    }
    unsigned n = 0;
    uint8_t *dst = h->blocks + h->nblocks * UC_SHA256_LEN;
    if (!EVP_DigestFinal_ex(h->block, dst, &n) || n != UC_SHA256_LEN ||
        !EVP_DigestInit_ex(h->block, md_sha256, NULL))
        return false;
    h->nblocks++;
    h->block_fill = 0;
    return true;
}

static void update_blocks(struct uc_hasher *h, const uint8_t *p, size_t len)
{
    if (h->blocks_final) { /* the last file's list was not taken: start over */
        h->nblocks = 0;
        h->blocks_final = false;
    }
    while (len) {
        size_t room = UC_BLOCK_SIZE - h->block_fill, n = len < room ? len : room;
        EVP_DigestUpdate(h->block, p, n);
        h->block_fill += n;
        p += n;
        len -= n;
        if (h->block_fill == UC_BLOCK_SIZE && !end_block(h)) {
            h->block_fill = UINT64_MAX; /* failed: final says so */
            return;
        }
    }
}

void uc_hasher_update_part(struct uc_hasher *h, unsigned parts, const void *data, size_t len)
{
    if (parts & UC_HASH_PART_SHA1) {
        if (h->sha1)
            EVP_DigestUpdate(h->sha1, data, len);
        XXH3_128bits_update(h->xxh, data, len);
        h->size += len;
    }
    if ((parts & UC_HASH_PART_SHA256) && h->sha256)
        EVP_DigestUpdate(h->sha256, data, len);
    if ((parts & UC_HASH_PART_BLOCKS) && h->block && h->block_fill != UINT64_MAX)
        update_blocks(h, data, len);
}

void uc_hasher_update(struct uc_hasher *h, const void *data, size_t len)
{
    uc_hasher_update_part(h, UC_HASH_PART_ALL, data, len);
}

uint8_t *uc_hasher_take_blocks(struct uc_hasher *h, size_t *n)
{
    uint8_t *b = h->blocks;
    *n = b ? h->nblocks : 0;
    h->blocks = NULL;
    h->nblocks = h->blocks_cap = 0;
    h->blocks_final = false;
    return b;
}

/* The last (short) block, then the digest of the list. */
static int final_blocks(struct uc_hasher *h, struct uc_digest *out)
{
    if (h->block_fill == UINT64_MAX || (h->block_fill && !end_block(h)))
        return -ENOMEM;
    if (!EVP_Digest(h->blocks ? h->blocks : (const uint8_t *)"", h->nblocks * UC_SHA256_LEN,
                    out->blocks_sha256, NULL, md_sha256, NULL))
        return UC_ECRYPTO;
    out->has_blocks = true;
    return 0;
}

int uc_hasher_final(struct uc_hasher *h, struct uc_digest *out)
{
    memset(out, 0, sizeof(*out));
    out->size = h->size;
    if (h->block) {
        if (h->blocks_final) /* an empty file after one whose list was not taken */
            h->nblocks = 0;
        int rc = final_blocks(h, out);
        h->block_fill = 0;
        h->blocks_final = true;
        if (rc)
            return rc;
    }
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
    EVP_MD_CTX_free(h->block);
    free(h->blocks);
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

/* One digest of a whole file read by pread from offset 0; for uc_hash_fd_split(). */
struct one_pass {
    int fd;
    const EVP_MD *md; /* NULL: none, XXH3 only */
    bool xxh;
    uint8_t md_out[UC_SHA256_LEN];
    XXH128_canonical_t xxh_out;
    uint64_t size;
    int rc;
};

static void *one_pass_run(void *arg)
{
    struct one_pass *p = arg;
    p->rc = -ENOMEM;
    EVP_MD_CTX *c = p->md ? EVP_MD_CTX_new() : NULL;
    XXH3_state_t *x = p->xxh ? XXH3_createState() : NULL;
    uint8_t *buf = malloc(UC_HASH_CHUNK);
    if (!buf || (p->md && !c) || (p->xxh && !x))
        goto out;
    p->rc = UC_ECRYPTO;
    if (c && !EVP_DigestInit_ex(c, p->md, NULL))
        goto out;
    if (x)
        XXH3_128bits_reset(x);
    for (p->size = 0;;) {
        ssize_t n = pread(p->fd, buf, UC_HASH_CHUNK, (off_t)p->size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            p->rc = -errno;
            goto out;
        }
        if (n == 0)
            break;
        if (c && !EVP_DigestUpdate(c, buf, (size_t)n))
            goto out;
        if (x)
            XXH3_128bits_update(x, buf, (size_t)n);
        p->size += (uint64_t)n;
    }
    unsigned len = 0;
    if (c && !EVP_DigestFinal_ex(c, p->md_out, &len))
        goto out;
    if (x)
        XXH128_canonicalFromHash(&p->xxh_out, XXH3_128bits_digest(x));
    p->rc = 0;
out:
    free(buf);
    XXH3_freeState(x);
    EVP_MD_CTX_free(c);
    return NULL;
}

int uc_hash_fd_split(int fd, struct uc_digest *out)
{
    memset(out, 0, sizeof(*out));
    pthread_once(&md_once, fetch_mds);
    if (!md_sha1 || !md_sha256)
        return UC_ECRYPTO;
    struct one_pass a = {.fd = fd, .md = md_sha1, .xxh = true}, b = {.fd = fd, .md = md_sha256};
    pthread_t t;
    bool two = pthread_create(&t, NULL, one_pass_run, &b) == 0;
    one_pass_run(&a);
    if (two)
        pthread_join(t, NULL);
    else
        one_pass_run(&b);
    if (a.rc || b.rc)
        return a.rc ? a.rc : b.rc;
    if (a.size != b.size) /* the file changed under us: neither digest describes it */
        return -EIO;
    out->size = a.size;
    memcpy(out->sha1, a.md_out, UC_SHA1_LEN);
    memcpy(out->sha256, b.md_out, UC_SHA256_LEN);
    memcpy(out->xxh128, a.xxh_out.digest, UC_XXH128_LEN);
    return 0;
}
