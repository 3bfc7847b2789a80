/*
 * One-pass digests: SHA-1 (the WSUS content name), SHA-256 (the signed digest) and
 * XXH3-128 (the fast re-check of `verify --fast`) computed over the same bytes in one
 * read, using OpenSSL's EVP digests (SHA-NI where the CPU has it) and xxHash.
 */
#ifndef UC_HASH_H
#define UC_HASH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UC_SHA1_LEN 20
#define UC_SHA256_LEN 32
#define UC_XXH128_LEN 16
/* Block digests (SPEC §13): SHA-256 of each 1 MiB of a file, the piece size of
 * Delivery Optimization; the last block may be short. */
#define UC_BLOCK_SIZE (1024 * 1024)
/* Blocks of a file of size bytes (an empty file has none). */
#define UC_NBLOCKS(size) (((size) + UC_BLOCK_SIZE - 1) / UC_BLOCK_SIZE)
/* Bytes hashed per step: small enough that the three passes over a chunk hit L2. */
#define UC_HASH_CHUNK (256 * 1024)

struct uc_digest {
    uint64_t size;
    uint8_t sha1[UC_SHA1_LEN];
    uint8_t sha256[UC_SHA256_LEN];
    uint8_t xxh128[UC_XXH128_LEN];        /* canonical (big-endian) XXH128 form, as xxhsum prints */
    bool has_blocks;                      /* with UC_HASH_BLOCKS: */
    uint8_t blocks_sha256[UC_SHA256_LEN]; /* SHA-256 of the blocks' raw SHA-256s in order */
};

enum uc_hash_what {
    UC_HASH_ALL = 0,      /* SHA-1 + SHA-256 + XXH3-128 */
    UC_HASH_XXH_ONLY = 1, /* XXH3-128 only: the memory-speed check */
    UC_HASH_BLOCKS = 2,   /* all of UC_HASH_ALL and the block digests */
};

struct uc_hasher {
    void *sha1;   /* EVP_MD_CTX *, NULL with UC_HASH_XXH_ONLY */
    void *sha256; /* EVP_MD_CTX * */
    void *xxh;    /* XXH3_state_t * */
    uint64_t size;
    void *block;         /* EVP_MD_CTX * of the block being hashed; NULL without blocks */
    uint64_t block_fill; /* its bytes so far */
    uint8_t *blocks;     /* raw SHA-256 of each finished block, UC_SHA256_LEN each */
    size_t nblocks, blocks_cap;
    bool blocks_final; /* the list is a finished file's, kept for take_blocks */
};

/* Start a digest. Returns 0, -ENOMEM or UC_ECRYPTO. Free with uc_hasher_free(). */
int uc_hasher_init(struct uc_hasher *h, enum uc_hash_what what);
void uc_hasher_update(struct uc_hasher *h, const void *data, size_t len);
/*
 * Parts of a hasher touch disjoint state, so each may be fed on its own thread (each in
 * the bytes' order); the file is whole once every part has seen every byte.
 */
enum {
    UC_HASH_PART_SHA1 = 1,   /* SHA-1, XXH3-128 and the size */
    UC_HASH_PART_SHA256 = 2, /* the whole file's SHA-256 */
    UC_HASH_PART_BLOCKS = 4, /* the block digests */
    UC_HASH_PART_ALL = 7,
};
void uc_hasher_update_part(struct uc_hasher *h, unsigned parts, const void *data, size_t len);
/*
 * Finish into out (fields not computed are zeroed); the hasher starts over for the next
 * file. With UC_HASH_BLOCKS the block list stays in h until uc_hasher_take_blocks() or
 * the next uc_hasher_final()/uc_hasher_free().
 */
int uc_hasher_final(struct uc_hasher *h, struct uc_digest *out);
/* The finished file's block digests (malloc'd, *n of UC_SHA256_LEN bytes), now the
 * caller's; NULL with *n = 0 when there are none. */
uint8_t *uc_hasher_take_blocks(struct uc_hasher *h, size_t *n);
void uc_hasher_free(struct uc_hasher *h);

/* Digest a memory buffer. */
int uc_hash_buf(const void *data, size_t len, struct uc_digest *out);

/*
 * Digest an open file from its current offset to EOF. progress, if non-NULL, is
 * advanced by every chunk read (other threads may read it for a progress bar).
 * Returns 0 or -errno.
 */
int uc_hash_fd(int fd, enum uc_hash_what what, struct uc_digest *out, _Atomic uint64_t *progress);
/*
 * SHA-1, SHA-256 and XXH3-128 of a whole file (pread from offset 0, the offset is left
 * alone) with SHA-256 on a second thread: about twice as fast as uc_hash_fd() when a
 * core is free, for a single large file (a fill's end) where there are no other files
 * to spread over the cores. Returns 0 or -errno / UC_ECRYPTO.
 */
int uc_hash_fd_split(int fd, struct uc_digest *out);

#endif
