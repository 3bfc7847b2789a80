/*
 * Update records (SPEC §5): the JSON that a publisher signs. A record names an update
 * (`id`, `revision`, `title`, `classification`, `published`) and its files with size,
 * SHA-1, SHA-256 and content URL. Encoding is canonical (sorted keys, compact) so the
 * same record always yields the same bytes.
 */
#ifndef UC_META_H
#define UC_META_H

#include "hash.h"
#include "uc.h"

#include <stdint.h>

#define UC_UUID_LEN 36
#define UC_SUFFIX_MAX 16 /* ".cab", "-express.cab", ... including NUL */
#define UC_NAME_MAX 256

struct uc_update_file {
    char name[UC_NAME_MAX]; /* display name, e.g. the file's original base name */
    uint64_t size;          /* bytes */
    uint8_t sha1[UC_SHA1_LEN];
    uint8_t sha256[UC_SHA256_LEN];
    char suffix[UC_SUFFIX_MAX]; /* what follows the SHA-1 in the content name */
    /* SPEC §13, optional: block_size (UC_BLOCK_SIZE) and the SHA-256 of the list of the
     * blocks' SHA-256s; a record without them stays valid. */
    bool has_blocks;
    uint8_t blocks_sha256[UC_SHA256_LEN];
};

struct uc_update {
    char id[UC_UUID_LEN + 1]; /* lower-case UUID */
    uint64_t revision;
    char *title;          /* owned */
    char *classification; /* owned */
    char published[40];   /* RFC 3339 */
    size_t nfiles;
    struct uc_update_file *files; /* owned */
};

/* Fill id with a fresh random (v4) UUID. Returns 0 or UC_ECRYPTO. */
int uc_uuid_new(char out[UC_UUID_LEN + 1]);
/* Accept a UUID in either case; writes the lower-case form. Returns 0 or -EINVAL. */
int uc_uuid_normalize(const char *in, char out[UC_UUID_LEN + 1]);
/* Current time as RFC 3339 UTC ("2026-11-29T12:00:00Z"). */
void uc_rfc3339_now(char out[40]);

/*
 * Content suffix from a file name: "-express.cab" when the name ends so, else the
 * last ".ext" lower-cased, ".bin" when the name has none. Returns 0 or -EINVAL when
 * the extension has characters a URL path should not carry.
 */
int uc_suffix_from_name(const char *name, char out[UC_SUFFIX_MAX]);
/* Is s a valid content suffix ('.' or '-' first, then [a-z0-9._-], one '.')? */
bool uc_suffix_valid(const char *s);

/* "Content/XX/<SHA1HEX><suffix>" with upper-case hex; out must hold 80 bytes. */
void uc_content_path(const uint8_t sha1[UC_SHA1_LEN], const char *suffix, char *out, size_t len);

/*
 * Parse a content file name "<40 hex SHA-1><suffix>" found in folder xx (which must be
 * its last two hex digits). Hex may be either case; the suffix is lower-cased.
 * Returns true when the name has that form.
 */
bool uc_content_name_parse(const char *xx, const char *name, uint8_t sha1[UC_SHA1_LEN],
                           char suffix[UC_SUFFIX_MAX]);

/*
 * A record may list one file twice, but not two files under one SHA-1 (other size,
 * SHA-256 or extension): the store keeps one file per SHA-1, so which one it kept
 * would depend on order. Returns 1 with the indexes of such a pair (first < second in
 * SHA-1 order), 0 when there is none, -ENOMEM. Decoding refuses such a record.
 */
int uc_update_find_conflict(const struct uc_update *u, size_t *first, size_t *second);

/* Encode to canonical JSON (malloc'd, NUL-terminated). Returns 0, -ENOMEM. */
int uc_update_encode(const struct uc_update *u, char **out_json, size_t *out_len);

/*
 * Decode and validate a record. Every field is checked (types, UUID form, hex lengths,
 * URL consistent with the SHA-1); eb names the first bad field. Returns 0 or UC_EPARSE.
 * On success free with uc_update_free().
 */
int uc_update_decode(const char *json, size_t len, struct uc_update *out, struct uc_errbuf *eb);
void uc_update_free(struct uc_update *u);

#endif
