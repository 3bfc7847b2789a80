/*
 * Ed25519 keys and DSSE envelopes with OpenSSL 3 (EVP one-shot DigestSign/Verify, as
 * Ed25519 has no separate digest) and jansson. Base64 is OpenSSL's EVP_EncodeBlock.
 */
#include "dsse.h"
#include "strparse.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_keyid(struct uc_key *k)
{
    uint8_t raw[32], md[32];
    size_t rawlen = sizeof(raw);
    unsigned mdlen = 0;
    if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &rawlen) != 1 || rawlen != 32 ||
        EVP_Digest(raw, rawlen, md, &mdlen, EVP_sha256(), NULL) != 1)
        return UC_ECRYPTO;
    uc_hex_encode(md, sizeof(md), k->keyid, false);
    return 0;
}

int uc_key_generate(struct uc_key *out)
{
    memset(out, 0, sizeof(*out));
    out->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!out->pkey)
        return UC_ECRYPTO;
    out->has_private = true;
    return set_keyid(out);
}

static int load_key(const char *path, bool private_half, struct uc_key *out, struct uc_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "r");
    if (!f)
        return uc_errf(eb, -errno, "%s: cannot open key: %s", path, strerror(errno));
    EVP_PKEY *pk = private_half ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
                                : PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!pk)
        return uc_errf(eb, UC_EPARSE, "%s: not a PEM %s key", path,
                       private_half ? "PKCS#8 private" : "SPKI public");
    if (EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pk);
        return uc_errf(eb, UC_EPARSE, "%s: key is not Ed25519 (make one with updcache keygen)",
                       path);
    }
    out->pkey = pk;
    out->has_private = private_half;
    return set_keyid(out);
}

int uc_key_load_private(const char *path, struct uc_key *out, struct uc_errbuf *eb)
{
    return load_key(path, true, out, eb);
}

int uc_key_load_public(const char *path, struct uc_key *out, struct uc_errbuf *eb)
{
    return load_key(path, false, out, eb);
}

int uc_key_pem(const struct uc_key *k, bool private_half, char **out, size_t *out_len)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return -ENOMEM;
    int ok = private_half ? PEM_write_bio_PrivateKey(b, k->pkey, NULL, NULL, 0, NULL, NULL)
                          : PEM_write_bio_PUBKEY(b, k->pkey);
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    int rc = UC_ECRYPTO;
    if (ok == 1 && n > 0 && (*out = malloc((size_t)n + 1))) {
        memcpy(*out, data, (size_t)n);
        (*out)[n] = 0;
        *out_len = (size_t)n;
        rc = 0;
    }
    BIO_free(b);
    return rc;
}

void uc_key_free(struct uc_key *k)
{
    EVP_PKEY_free(k->pkey);
    memset(k, 0, sizeof(*k));
}

/* PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body */
static uint8_t *pae(const char *type, const void *body, size_t len, size_t *out_len)
{
    char head[64];
    size_t tlen = strlen(type);
    int h1 = snprintf(head, sizeof(head), "DSSEv1 %zu ", tlen);
    char mid[32];
    int h2 = snprintf(mid, sizeof(mid), " %zu ", len);
    size_t total = (size_t)h1 + tlen + (size_t)h2 + len;
    uint8_t *p = malloc(total ? total : 1);
    if (!p)
        return NULL;
    memcpy(p, head, (size_t)h1);
    memcpy(p + h1, type, tlen);
    memcpy(p + h1 + tlen, mid, (size_t)h2);
    if (len)
        memcpy(p + h1 + tlen + h2, body, len);
    *out_len = total;
    return p;
}

static char *b64_encode(const void *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

/* Strict standard base64 with padding; returns malloc'd bytes (NUL-terminated). */
static uint8_t *b64_decode(const char *s, size_t *out_len)
{
    size_t n = strlen(s);
    if (n % 4 || n > (size_t)1 << 30)
        return NULL;
    uint8_t *out = malloc(n / 4 * 3 + 1);
    if (!out)
        return NULL;
    int m = n ? EVP_DecodeBlock(out, (const unsigned char *)s, (int)n) : 0;
    if (m < 0) {
        free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts padding as zero bytes; take them back off. */
    size_t pad = (n >= 1 && s[n - 1] == '=') + (n >= 2 && s[n - 2] == '=');
    *out_len = (size_t)m - pad;
    out[*out_len] = 0;
    return out;
}

int uc_dsse_sign(const struct uc_key *k, const char *payload_type, const void *payload, size_t len,
                 char **out_json, size_t *out_len)
{
    size_t plen;
    uint8_t *msg = pae(payload_type, payload, len, &plen);
    if (!msg)
        return -ENOMEM;
    uint8_t sig[64];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestSign(ctx, sig, &siglen, msg, plen) == 1;
    EVP_MD_CTX_free(ctx);
    free(msg);
    if (!ok)
        return UC_ECRYPTO;
    char *b64p = b64_encode(payload, len), *b64s = b64_encode(sig, siglen);
    json_t *root = NULL;
    if (b64p && b64s)
        root = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "payloadType", payload_type, "payload", b64p,
                         "signatures", "keyid", k->keyid, "sig", b64s);
    free(b64p);
    free(b64s);
    char *s = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!s)
        return -ENOMEM;
    *out_json = s;
    *out_len = strlen(s);
    return 0;
}

static int parse_sigs(json_t *arr, struct uc_envelope *env, struct uc_errbuf *eb)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 64)
        return uc_errf(eb, UC_EPARSE, "envelope 'signatures' must be an array of 1 to 64");
    env->nsigs = json_array_size(arr);
    env->sigs = calloc(env->nsigs, sizeof(*env->sigs));
    if (!env->sigs)
        return -ENOMEM;
    for (size_t i = 0; i < env->nsigs; i++) {
        json_t *js = json_array_get(arr, i);
        json_t *jk = json_object_get(js, "keyid"), *jsig = json_object_get(js, "sig");
        if (!json_is_string(jsig))
            return uc_errf(eb, UC_EPARSE, "envelope signatures[%zu].sig is not a string", i);
        if (jk && !json_is_string(jk))
            return uc_errf(eb, UC_EPARSE, "envelope signatures[%zu].keyid is not a string", i);
        const char *kid = jk ? json_string_value(jk) : "";
        if (strlen(kid) > UC_KEYID_LEN)
            return uc_errf(eb, UC_EPARSE, "envelope signatures[%zu].keyid is too long", i);
        snprintf(env->sigs[i].keyid, sizeof(env->sigs[i].keyid), "%s", kid);
        size_t n;
        uint8_t *raw = b64_decode(json_string_value(jsig), &n);
        if (!raw || n > sizeof(env->sigs[i].sig)) {
            free(raw);
            return uc_errf(eb, UC_EPARSE,
                           "envelope signatures[%zu].sig is not base64 of a "
                           "64-byte signature",
                           i);
        }
        memcpy(env->sigs[i].sig, raw, n);
        env->sigs[i].siglen = n;
        free(raw);
    }
    return 0;
}

int uc_dsse_parse(const char *json, size_t len, struct uc_envelope *out, struct uc_errbuf *eb)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return uc_errf(eb, UC_EPARSE, "envelope JSON: %s at line %d column %d", jerr.text,
                       jerr.line, jerr.column);
    struct uc_envelope env = {0};
    int rc = UC_EPARSE;
    json_t *jt = json_object_get(root, "payloadType"), *jp = json_object_get(root, "payload");
    if (!json_is_string(jt) || !json_is_string(jp)) {
        uc_errf(eb, rc, "envelope needs string fields 'payloadType' and 'payload'");
    } else if (!(env.payload = b64_decode(json_string_value(jp), &env.payload_len))) {
        uc_errf(eb, rc, "envelope 'payload' is not valid base64");
    } else if (!(env.payload_type = strdup(json_string_value(jt)))) {
        rc = -ENOMEM;
    } else {
        rc = parse_sigs(json_object_get(root, "signatures"), &env, eb);
    }
    json_decref(root);
    if (rc) {
        uc_envelope_free(&env);
        return rc;
    }
    *out = env;
    return 0;
}

void uc_envelope_free(struct uc_envelope *env)
{
    free(env->payload_type);
    free(env->payload);
    free(env->sigs);
    memset(env, 0, sizeof(*env));
}

static bool verify_one(const struct uc_key *k, const uint8_t *msg, size_t mlen,
                       const struct uc_dsse_sig *s)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
              EVP_DigestVerify(ctx, s->sig, s->siglen, msg, mlen) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

int uc_dsse_verify(const struct uc_envelope *env, const char *expected_type,
                   const struct uc_key *keys, size_t nkeys, const char **out_keyid,
                   struct uc_errbuf *eb)
{
    if (strcmp(env->payload_type, expected_type))
        return uc_errf(eb, UC_EPARSE, "envelope payloadType is '%s', expected '%s'",
                       env->payload_type, expected_type);
    size_t mlen;
    uint8_t *msg = pae(env->payload_type, env->payload, env->payload_len, &mlen);
    if (!msg)
        return -ENOMEM;
    int rc = UC_EKEY;
    const char *bad_keyid = NULL;
    for (size_t i = 0; i < env->nsigs && rc; i++) {
        const struct uc_dsse_sig *s = &env->sigs[i];
        for (size_t k = 0; k < nkeys && rc; k++) {
            if (s->keyid[0] && strcmp(s->keyid, keys[k].keyid))
                continue;
            if (verify_one(&keys[k], msg, mlen, s)) {
                rc = 0;
                if (out_keyid)
                    *out_keyid = keys[k].keyid;
            } else if (s->keyid[0]) {
                rc = UC_ESIG;
                bad_keyid = keys[k].keyid;
            }
        }
    }
    free(msg);
    if (rc == UC_ESIG)
        uc_errf(eb, rc, "signature by key %s does not verify: payload or signature changed",
                bad_keyid);
    else if (rc == UC_EKEY)
        uc_errf(eb, rc, "no signature by a trusted publisher key (envelope names %s%s)",
                env->nsigs && env->sigs[0].keyid[0] ? "key " : "no key id",
                env->nsigs ? env->sigs[0].keyid : "");
    return rc;
}
