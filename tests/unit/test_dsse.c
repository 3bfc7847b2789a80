/*
 * DSSE envelopes with Ed25519: a round trip verifies; a changed payload, a changed
 * signature, an unknown key, a wrong payload type and malformed envelopes are refused;
 * keys survive a PEM round trip with the same key id.
 */
#include "dsse.h"
#include "strparse.h"
#include "uc_test.h"

#include <jansson.h>
#include <openssl/evp.h>

static const char *payload = "{\"id\":\"x\",\"title\":\"hello\"}";

static char *sign(const struct uc_key *k, size_t *len)
{
    char *env = NULL;
    assert_int_equal(uc_dsse_sign(k, UC_DSSE_TYPE, payload, strlen(payload), &env, len), 0);
    return env;
}

static int verify_json(const char *json, const struct uc_key *keys, size_t n)
{
    struct uc_envelope env;
    struct uc_errbuf eb = {{0}};
    int rc = uc_dsse_parse(json, strlen(json), &env, &eb);
    if (rc)
        return rc;
    rc = uc_dsse_verify(&env, UC_DSSE_TYPE, keys, n, NULL, &eb);
    if (rc)
        assert_true(strlen(eb.msg) > 0); /* every refusal says why */
    uc_envelope_free(&env);
    return rc;
}

/* Replace field (top level or in signatures[0]) with value in the envelope JSON. */
static char *with_field(const char *json, bool in_sig, const char *field, const char *value)
{
    json_t *root = json_loads(json, 0, NULL);
    assert_non_null(root);
    json_t *obj = in_sig ? json_array_get(json_object_get(root, "signatures"), 0) : root;
    json_object_set_new(obj, field, json_string(value));
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

static void test_dsse_round_trip(void **state)
{
    (void)state;
    struct uc_key k;
    assert_int_equal(uc_key_generate(&k), 0);
    size_t len;
    char *env = sign(&k, &len);
    struct uc_envelope e;
    assert_int_equal(uc_dsse_parse(env, len, &e, NULL), 0);
    assert_int_equal(e.payload_len, strlen(payload));
    assert_memory_equal(e.payload, payload, e.payload_len);
    assert_string_equal(e.sigs[0].keyid, k.keyid);
    const char *kid = NULL;
    assert_int_equal(uc_dsse_verify(&e, UC_DSSE_TYPE, &k, 1, &kid, NULL), 0);
    assert_string_equal(kid, k.keyid);
    uc_envelope_free(&e);
    free(env);
    uc_key_free(&k);
}

static void test_dsse_changed_payload(void **state)
{
    (void)state;
    struct uc_key k;
    assert_int_equal(uc_key_generate(&k), 0);
    size_t len;
    char *env = sign(&k, &len);
    /* base64 of a payload differing in one character */
    const char *other = "{\"id\":\"x\",\"title\":\"hellp\"}";
    char b64[128];
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)other, (int)strlen(other));
    char *bad = with_field(env, false, "payload", b64);
    assert_int_equal(verify_json(bad, &k, 1), UC_ESIG);
    free(bad);
    free(env);
    uc_key_free(&k);
}

static void test_dsse_changed_signature(void **state)
{
    (void)state;
    struct uc_key k;
    assert_int_equal(uc_key_generate(&k), 0);
    size_t len;
    char *env = sign(&k, &len);
    json_t *root = json_loads(env, 0, NULL);
    const char *sig = json_string_value(
        json_object_get(json_array_get(json_object_get(root, "signatures"), 0), "sig"));
    char flipped[128];
    snprintf(flipped, sizeof(flipped), "%s", sig);
    flipped[5] = flipped[5] == 'A' ? 'B' : 'A'; /* flips bits of byte 3 */
    char *bad = with_field(env, true, "sig", flipped);
    json_decref(root);
    assert_int_equal(verify_json(bad, &k, 1), UC_ESIG);
    free(bad);
    free(env);
    uc_key_free(&k);
}

static void test_dsse_unknown_key(void **state)
{
    (void)state;
    struct uc_key k, other;
    assert_int_equal(uc_key_generate(&k), 0);
    assert_int_equal(uc_key_generate(&other), 0);
    assert_string_not_equal(k.keyid, other.keyid);
    size_t len;
    char *env = sign(&k, &len);
    assert_int_equal(verify_json(env, &other, 1), UC_EKEY);
    /* A signature that claims the trusted key's id but was made by another key. */
    char *claim = with_field(env, true, "keyid", other.keyid);
    assert_int_equal(verify_json(claim, &other, 1), UC_ESIG);
    /* With both keys trusted the genuine signature is found. */
    struct uc_key both[2] = {other, k};
    assert_int_equal(verify_json(env, both, 2), 0);
    free(claim);
    free(env);
    uc_key_free(&k);
    uc_key_free(&other);
}

static void test_dsse_wrong_type_and_malformed(void **state)
{
    (void)state;
    struct uc_key k;
    assert_int_equal(uc_key_generate(&k), 0);
    size_t len;
    char *env = sign(&k, &len);
    char *typed = with_field(env, false, "payloadType", "text/plain");
    assert_int_equal(verify_json(typed, &k, 1), UC_EPARSE);
    const char *bad[] = {
        "",
        "[]",
        "{\"payloadType\":\"t\"}",
        "{\"payloadType\":\"t\",\"payload\":\"@@@@\",\"signatures\":[{\"sig\":\"AAAA\"}]}",
        "{\"payloadType\":\"t\",\"payload\":\"YWJj\",\"signatures\":[]}",
        "{\"payloadType\":\"t\",\"payload\":\"YWJj\",\"signatures\":[{\"sig\":5}]}",
        "{\"payloadType\":\"t\",\"payload\":\"YWJj\",\"payload\":\"YWJj\",\"signatures\":[]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct uc_envelope e;
        struct uc_errbuf eb = {{0}};
        assert_int_equal(uc_dsse_parse(bad[i], strlen(bad[i]), &e, &eb), UC_EPARSE);
        assert_true(strlen(eb.msg) > 0);
    }
    free(typed);
    free(env);
    uc_key_free(&k);
}

static void test_dsse_key_pem_round_trip(void **state)
{
    (void)state;
    struct uc_key k, priv, pub;
    assert_int_equal(uc_key_generate(&k), 0);
    char *dir = uct_tmpdir(), p1[PATH_MAX], p2[PATH_MAX], *pem;
    size_t n;
    snprintf(p1, sizeof(p1), "%s/k", dir);
    snprintf(p2, sizeof(p2), "%s/k.pub", dir);
    assert_int_equal(uc_key_pem(&k, true, &pem, &n), 0);
    assert_non_null(strstr(pem, "BEGIN PRIVATE KEY"));
    uct_write_file(p1, pem, n);
    free(pem);
    assert_int_equal(uc_key_pem(&k, false, &pem, &n), 0);
    assert_non_null(strstr(pem, "BEGIN PUBLIC KEY"));
    uct_write_file(p2, pem, n);
    free(pem);
    assert_int_equal(uc_key_load_private(p1, &priv, NULL), 0);
    assert_int_equal(uc_key_load_public(p2, &pub, NULL), 0);
    assert_string_equal(priv.keyid, k.keyid);
    assert_string_equal(pub.keyid, k.keyid);
    /* Signed with the loaded private half, verified with the loaded public half. */
    size_t len;
    char *env = sign(&priv, &len);
    assert_int_equal(verify_json(env, &pub, 1), 0);
    /* A public key file is not accepted as a private key, and vice versa. */
    struct uc_key x;
    struct uc_errbuf eb = {{0}};
    assert_int_equal(uc_key_load_private(p2, &x, &eb), UC_EPARSE);
    assert_non_null(strstr(eb.msg, p2));
    free(env);
    uc_key_free(&k);
    uc_key_free(&priv);
    uc_key_free(&pub);
    uct_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dsse_round_trip),
        cmocka_unit_test(test_dsse_changed_payload),
        cmocka_unit_test(test_dsse_changed_signature),
        cmocka_unit_test(test_dsse_unknown_key),
        cmocka_unit_test(test_dsse_wrong_type_and_malformed),
        cmocka_unit_test(test_dsse_key_pem_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
