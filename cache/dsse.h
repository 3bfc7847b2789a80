/*
 * Publisher keys (Ed25519) and DSSE envelopes (SPEC §5).
 *
 *   {"payloadType": "application/vnd.updcache.update+json",
 *    "payload": base64(record),
 *    "signatures": [{"keyid": hex(sha256(raw public key)), "sig": base64(ed25519)}]}
 *
 * The signature covers the pre-authentication encoding
 *   "DSSEv1" SP len(type) SP type SP len(payload) SP payload
 * with lengths in ASCII decimal. Envelopes are stored and passed on verbatim, so the
 * publisher's signature verifies at every level of a hierarchy.
 */
#ifndef UC_DSSE_H
#define UC_DSSE_H

#include "uc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UC_DSSE_TYPE "application/vnd.updcache.update+json"
#define UC_KEYID_LEN 64

struct uc_key {
    void *pkey; /* EVP_PKEY *, owned */
    bool has_private;
    char keyid[UC_KEYID_LEN + 1]; /* hex SHA-256 of the raw 32-byte public key */
};

/* Make a fresh Ed25519 key pair. Returns 0 or UC_ECRYPTO. */
int uc_key_generate(struct uc_key *out);
/* Load a PKCS#8 private key (PEM) or SPKI public key (PEM); eb names the file. */
int uc_key_load_private(const char *path, struct uc_key *out, struct uc_errbuf *eb);
int uc_key_load_public(const char *path, struct uc_key *out, struct uc_errbuf *eb);
/* PEM text of the private (PKCS#8) or public (SPKI) half; malloc'd. */
int uc_key_pem(const struct uc_key *k, bool private_half, char **out, size_t *out_len);
void uc_key_free(struct uc_key *k);

struct uc_dsse_sig {
    char keyid[UC_KEYID_LEN + 1]; /* may be empty: then every trusted key is tried */
    uint8_t sig[64];
    size_t siglen;
};

struct uc_envelope {
    char *payload_type; /* owned */
    uint8_t *payload;   /* owned, payload_len bytes plus a NUL for convenience */
    size_t payload_len;
    size_t nsigs;
    struct uc_dsse_sig *sigs; /* owned */
};

/* Sign payload with k and produce envelope JSON (malloc'd). */
int uc_dsse_sign(const struct uc_key *k, const char *payload_type, const void *payload, size_t len,
                 char **out_json, size_t *out_len);

/* Parse envelope JSON strictly (base64, field types). Returns 0 or UC_EPARSE with eb. */
int uc_dsse_parse(const char *json, size_t len, struct uc_envelope *out, struct uc_errbuf *eb);
void uc_envelope_free(struct uc_envelope *env);

/*
 * Verify env against trusted keys: succeeds if one signature by one of the keys
 * verifies over the PAE. Returns 0 (out_keyid, if given, names the key), UC_EKEY when no
 * signature names a trusted key, UC_ESIG when one does but does not verify, or
 * UC_EPARSE when the payload type is not expected_type.
 */
int uc_dsse_verify(const struct uc_envelope *env, const char *expected_type,
                   const struct uc_key *keys, size_t nkeys, const char **out_keyid,
                   struct uc_errbuf *eb);

#endif
