/*
 * Update records: encode/decode round trip, canonical bytes, and strict refusal of
 * records whose fields are missing, mistyped or inconsistent (URL vs SHA-1).
 */
#include "meta.h"
#include "strparse.h"
#include "uc_test.h"

#include <errno.h>

static struct uc_update sample(struct uc_update_file files[2])
{
    struct uc_update u = {0};
    snprintf(u.id, sizeof(u.id), "3221718f-9f0a-4c01-8e14-7819c47cdfdb");
    u.revision = 7;
    u.title = "Cumulative update";
    u.classification = "Security Updates";
    snprintf(u.published, sizeof(u.published), "2026-11-29T12:00:00Z");
    memset(files, 0, 2 * sizeof(files[0]));
    snprintf(files[0].name, UC_NAME_MAX, "kb1.cab");
    files[0].size = 1000;
    memset(files[0].sha1, 0xab, UC_SHA1_LEN);
    memset(files[0].sha256, 0xcd, UC_SHA256_LEN);
    snprintf(files[0].suffix, UC_SUFFIX_MAX, ".cab");
    snprintf(files[1].name, UC_NAME_MAX, "kb1-express.cab");
    files[1].size = 0;
    memset(files[1].sha1, 0x01, UC_SHA1_LEN);
    snprintf(files[1].suffix, UC_SUFFIX_MAX, "-express.cab");
    u.nfiles = 2;
    u.files = files;
    return u;
}

static void test_meta_round_trip(void **state)
{
    (void)state;
    struct uc_update_file files[2];
    struct uc_update u = sample(files), back;
    char *json, *again;
    size_t len, len2;
    assert_int_equal(uc_update_encode(&u, &json, &len), 0);
    assert_non_null(
        strstr(json, "\"url\":\"Content/AB/ABABABABABABABABABABABABABABABABABABABAB.cab\""));
    assert_int_equal(uc_update_decode(json, len, &back, NULL), 0);
    assert_string_equal(back.id, u.id);
    assert_int_equal(back.revision, 7);
    assert_string_equal(back.title, u.title);
    assert_string_equal(back.classification, u.classification);
    assert_string_equal(back.published, u.published);
    assert_int_equal(back.nfiles, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_string_equal(back.files[i].name, files[i].name);
        assert_int_equal(back.files[i].size, files[i].size);
        assert_memory_equal(back.files[i].sha1, files[i].sha1, UC_SHA1_LEN);
        assert_memory_equal(back.files[i].sha256, files[i].sha256, UC_SHA256_LEN);
        assert_string_equal(back.files[i].suffix, files[i].suffix);
    }
    /* Canonical: decoding and encoding again gives the same bytes. */
    assert_int_equal(uc_update_encode(&back, &again, &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(json, again, len);
    uc_update_free(&back);
    free(json);
    free(again);
}

static void test_meta_rejects_bad_records(void **state)
{
    (void)state;
    const char *f_ok = "{\"name\":\"a.cab\",\"size\":1,\"sha1\":\"" /* 40 */
                       "0000000000000000000000000000000000000001\",\"sha256\":\""
                       "00000000000000000000000000000000000000000000000000000000000000ff\","
                       "\"url\":\"Content/01/0000000000000000000000000000000000000001.cab\"}";
    char ok[1024];
    snprintf(ok, sizeof(ok),
             "{\"id\":\"3221718f-9f0a-4c01-8e14-7819c47cdfdb\",\"revision\":1,\"title\":\"t\","
             "\"classification\":\"c\",\"published\":\"2026-01-02T03:04:05.5+01:00\","
             "\"files\":[%s]}",
             f_ok);
    struct uc_update u;
    assert_int_equal(uc_update_decode(ok, strlen(ok), &u, NULL), 0);
    uc_update_free(&u);

    struct {
        const char *from, *to, *field;
    } cases[] = {
        {"3221718f-9f0a", "3221718f+9f0a", "id"},
        {"\"revision\":1", "\"revision\":-1", "revision"},
        {"\"revision\":1", "\"revision\":\"1\"", "revision"},
        {"\"title\":\"t\"", "\"title\":3", "title"},
        {"2026-01-02T03", "2026-01-02 03", "published"},
        {"\"size\":1", "\"size\":-5", "size"},
        {"0000000000000000000000000000000000000001\",\"sha256", "00000001\",\"sha256", "sha1"},
        {"00000000ff\"", "0000000fg\"", "sha256"},
        {"Content/01/", "Content/02/", "url"},
        {".cab\"}", ".c/b\"}", "url"},
        {"\"name\":\"a.cab\"", "\"name\":\"../a.cab\"", "name"},
        {"\"files\":[", "\"files\":{\"x\":[", "JSON"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char bad[1024];
        const char *at = strstr(ok, cases[i].from);
        assert_non_null(at);
        snprintf(bad, sizeof(bad), "%.*s%s%s", (int)(at - ok), ok, cases[i].to,
                 at + strlen(cases[i].from));
        struct uc_errbuf eb = {{0}};
        assert_int_equal(uc_update_decode(bad, strlen(bad), &u, &eb), UC_EPARSE);
        if (!strstr(eb.msg, cases[i].field))
            fail_msg("case %zu: error '%s' does not name '%s'", i, eb.msg, cases[i].field);
    }
}

/* Block digests (SPEC §13): optional, both keys or neither, block_size 1 MiB only. */
static void test_meta_blocks(void **state)
{
    (void)state;
    struct uc_update_file files[2];
    struct uc_update u = sample(files), back;
    files[0].has_blocks = true;
    memset(files[0].blocks_sha256, 0x5e, UC_SHA256_LEN);
    char *json;
    size_t len;
    assert_int_equal(uc_update_encode(&u, &json, &len), 0);
    assert_non_null(strstr(json, "\"block_size\":1048576,\"blocks_sha256\":\"5e5e"));
    assert_int_equal(uc_update_decode(json, len, &back, NULL), 0);
    assert_true(back.files[0].has_blocks);
    assert_false(back.files[1].has_blocks); /* a file without them stays valid */
    assert_memory_equal(back.files[0].blocks_sha256, files[0].blocks_sha256, UC_SHA256_LEN);
    uc_update_free(&back);
    struct {
        const char *from, *to, *field;
    } cases[] = {
        {"\"block_size\":1048576", "\"block_size\":65536", "block_size"},
        {"\"block_size\":1048576,", "", "block_size"},
        {"\"blocks_sha256\":\"5e", "\"blocks_sha256\":\"5", "blocks_sha256"},
        {"\"blocks_sha256\":\"5e", "\"blocks_sha256\":\"zz", "blocks_sha256"},
    };
    for (size_t i = 0; i < UC_ARRAY_LEN(cases); i++) {
        char bad[2048];
        const char *at = strstr(json, cases[i].from);
        assert_non_null(at);
        snprintf(bad, sizeof(bad), "%.*s%s%s", (int)(at - json), json, cases[i].to,
                 at + strlen(cases[i].from));
        struct uc_errbuf eb = {{0}};
        assert_int_equal(uc_update_decode(bad, strlen(bad), &back, &eb), UC_EPARSE);
        if (!strstr(eb.msg, cases[i].field))
            fail_msg("case %zu: error '%s' does not name '%s'", i, eb.msg, cases[i].field);
    }
    free(json);
}

/* One SHA-1 twice in a record: the same file listed twice is fine, two files are not. */
static void test_meta_one_sha1_two_files(void **state)
{
    (void)state;
    const char *what[] = {NULL, "size", "SHA-256", "url"};
    for (size_t c = 0; c < UC_ARRAY_LEN(what); c++) {
        struct uc_update_file files[4];
        struct uc_update u = sample(files);
        files[2] = files[0];
        snprintf(files[2].name, UC_NAME_MAX, "again.cab");
        files[3] = files[1];
        if (c == 1)
            files[2].size++;
        else if (c == 2)
            files[2].sha256[31] ^= 1;
        else if (c == 3)
            snprintf(files[2].suffix, UC_SUFFIX_MAX, ".exe");
        u.nfiles = 4;
        u.files = files;
        char *json;
        size_t len;
        struct uc_update back;
        struct uc_errbuf eb = {{0}};
        assert_int_equal(uc_update_encode(&u, &json, &len), 0);
        int rc = uc_update_decode(json, len, &back, &eb);
        free(json);
        if (!what[c]) {
            assert_int_equal(rc, 0);
            assert_int_equal(back.nfiles, 4);
            uc_update_free(&back);
            continue;
        }
        assert_int_equal(rc, UC_EPARSE);
        if (!strstr(eb.msg, what[c]) || !strstr(eb.msg, "files[0] and files[2]") ||
            !strstr(eb.msg, "ABABABABAB"))
            fail_msg("case %zu: '%s' does not name both files, the SHA-1 and '%s'", c, eb.msg,
                     what[c]);
    }
}

static void test_meta_suffix_rules(void **state)
{
    (void)state;
    char s[UC_SUFFIX_MAX];
    assert_int_equal(uc_suffix_from_name("/x/Windows10-KB5001.MSU", s), 0);
    assert_string_equal(s, ".msu");
    assert_int_equal(uc_suffix_from_name("kb1-express.cab", s), 0);
    assert_string_equal(s, "-express.cab");
    assert_int_equal(uc_suffix_from_name("README", s), 0);
    assert_string_equal(s, ".bin");
    assert_int_equal(uc_suffix_from_name("a.c%2fb", s), -EINVAL);
    assert_false(uc_suffix_valid(".."));
    assert_false(uc_suffix_valid(".ca b"));
    assert_false(uc_suffix_valid("cab"));
    assert_true(uc_suffix_valid(".esd"));
    uint8_t sha1[UC_SHA1_LEN];
    /* The folder must be the last two digits of the name. */
    assert_false(
        uc_content_name_parse("0F", "00000000000000000000000000000000000000AF.CAB", sha1, s));
    assert_true(
        uc_content_name_parse("AF", "00000000000000000000000000000000000000AF.CAB", sha1, s));
    assert_string_equal(s, ".cab");
    assert_false(uc_content_name_parse("AF", "00000000000000000000000000000000000000AF", sha1, s));
    char id[UC_UUID_LEN + 1], id2[UC_UUID_LEN + 1];
    assert_int_equal(uc_uuid_new(id), 0);
    assert_int_equal(uc_uuid_normalize(id, id2), 0);
    assert_string_equal(id, id2);
    assert_int_equal(id[14], '4');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta_round_trip),   cmocka_unit_test(test_meta_rejects_bad_records),
        cmocka_unit_test(test_meta_suffix_rules), cmocka_unit_test(test_meta_one_sha1_two_files),
        cmocka_unit_test(test_meta_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
