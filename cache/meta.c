/*
 * Update record JSON (jansson) <-> struct uc_update. Decoding is strict: a record that
 * drives publishing must not be ambiguous, so unknown types, short digests and URLs
 * that disagree with their SHA-1 are refused with the field's name.
 */
#include "meta.h"
#include "strparse.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int uc_uuid_new(char out[UC_UUID_LEN + 1])
{
    uint8_t b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        return UC_ECRYPTO;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    char hex[33];
    uc_hex_encode(b, 16, hex, false);
    snprintf(out, UC_UUID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
    return 0;
}

int uc_uuid_normalize(const char *in, char out[UC_UUID_LEN + 1])
{
    if (strlen(in) != UC_UUID_LEN)
        return -EINVAL;
    for (size_t i = 0; i < UC_UUID_LEN; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? in[i] != '-' : !isxdigit((unsigned char)in[i]))
            return -EINVAL;
        out[i] = (char)tolower((unsigned char)in[i]);
    }
    out[UC_UUID_LEN] = 0;
    return 0;
}

void uc_rfc3339_now(char out[40])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM). */
static bool rfc3339_valid(const char *s)
{
    const char *shape = "dddd-dd-ddTdd:dd:dd";
    size_t i = 0;
    for (; shape[i]; i++) {
        char c = s[i];
        if (shape[i] == 'd' ? !isdigit((unsigned char)c)
                            : (shape[i] == 'T' ? (c != 'T' && c != 't') : c != shape[i]))
            return false;
    }
    s += i;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return false;
        while (isdigit((unsigned char)*s))
            s++;
    }
    if ((*s == 'Z' || *s == 'z') && s[1] == 0)
        return true;
    if ((*s == '+' || *s == '-') && isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
        s[3] == ':' && isdigit((unsigned char)s[4]) && isdigit((unsigned char)s[5]) && s[6] == 0)
        return true;
    return false;
}

bool uc_suffix_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n >= UC_SUFFIX_MAX || (s[0] != '.' && s[0] != '-'))
        return false;
    int dots = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.')
            dots++;
        else if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-' || c == '_'))
            return false;
    }
    /* Exactly one dot, not last: "-express.cab" or ".cab", never "..". */
    return dots == 1 && s[n - 1] != '.';
}

int uc_suffix_from_name(const char *name, char out[UC_SUFFIX_MAX])
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base || dot[1] == 0) {
        snprintf(out, UC_SUFFIX_MAX, ".bin");
        return 0;
    }
    const char *start = dot;
    size_t blen = strlen(base);
    const char *express = "-express";
    size_t elen = strlen(express);
    if ((size_t)(dot - base) > elen && !strncasecmp(dot - elen, express, elen))
        start = dot - elen;
    size_t n = blen - (size_t)(start - base);
    if (n >= UC_SUFFIX_MAX)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)start[i]);
    out[n] = 0;
    return uc_suffix_valid(out) ? 0 : -EINVAL;
}

void uc_content_path(const uint8_t sha1[UC_SHA1_LEN], const char *suffix, char *out, size_t len)
{
    char hex[2 * UC_SHA1_LEN + 1];
    uc_hex_encode(sha1, UC_SHA1_LEN, hex, true);
    snprintf(out, len, "Content/%s/%s%s", hex + 2 * UC_SHA1_LEN - 2, hex, suffix);
}

bool uc_content_name_parse(const char *xx, const char *name, uint8_t sha1[UC_SHA1_LEN],
                           char suffix[UC_SUFFIX_MAX])
{
    if (strlen(name) < 42 || uc_hex_decode(name, 40, sha1, UC_SHA1_LEN))
        return false;
    if (strlen(xx) != 2 || toupper((unsigned char)xx[0]) != toupper((unsigned char)name[38]) ||
        toupper((unsigned char)xx[1]) != toupper((unsigned char)name[39]))
        return false;
    size_t n = strlen(name + 40);
    if (n >= UC_SUFFIX_MAX)
        return false;
    for (size_t i = 0; i <= n; i++)
        suffix[i] = (char)tolower((unsigned char)name[40 + i]);
    return uc_suffix_valid(suffix);
}

int uc_update_encode(const struct uc_update *u, char **out_json, size_t *out_len)
{
    json_t *files = json_array();
    if (!files)
        return -ENOMEM;
    for (size_t i = 0; i < u->nfiles; i++) {
        const struct uc_update_file *f = &u->files[i];
        char s1[41], s256[65], url[96];
        uc_hex_encode(f->sha1, UC_SHA1_LEN, s1, false);
        uc_hex_encode(f->sha256, UC_SHA256_LEN, s256, false);
        uc_content_path(f->sha1, f->suffix, url, sizeof(url));
        json_t *jf = json_pack("{s:s, s:I, s:s, s:s, s:s}", "name", f->name, "size",
                               (json_int_t)f->size, "sha1", s1, "sha256", s256, "url", url);
        if (jf && f->has_blocks) {
            char sb[65];
            uc_hex_encode(f->blocks_sha256, UC_SHA256_LEN, sb, false);
            if (json_object_set_new(jf, "block_size", json_integer(UC_BLOCK_SIZE)) ||
                json_object_set_new(jf, "blocks_sha256", json_string(sb))) {
                json_decref(jf);
                jf = NULL;
            }
        }
        if (!jf || json_array_append_new(files, jf)) {
            json_decref(files);
            return -ENOMEM;
        }
    }
    json_t *root = json_pack("{s:s, s:I, s:s, s:s, s:s, s:o}", "id", u->id, "revision",
                             (json_int_t)u->revision, "title", u->title ? u->title : "",
                             "classification", u->classification ? u->classification : "",
                             "published", u->published, "files", files);
    if (!root)
        return -ENOMEM;
    char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    if (!s)
        return -ENOMEM;
    *out_json = s;
    *out_len = strlen(s);
    return 0;
}

static const char *get_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int get_u64(json_t *o, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -EINVAL;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int decode_file(json_t *jf, size_t i, struct uc_update_file *f, struct uc_errbuf *eb)
{
    const char *name = get_str(jf, "name"), *s1 = get_str(jf, "sha1");
    const char *s256 = get_str(jf, "sha256"), *url = get_str(jf, "url");
    if (!json_is_object(jf))
        return uc_errf(eb, UC_EPARSE, "files[%zu] is not an object", i);
    if (!name || !*name || strlen(name) >= UC_NAME_MAX || strchr(name, '/'))
        return uc_errf(eb, UC_EPARSE, "files[%zu].name missing, too long or has '/'", i);
    snprintf(f->name, sizeof(f->name), "%s", name);
    if (get_u64(jf, "size", &f->size))
        return uc_errf(eb, UC_EPARSE, "files[%zu].size is not a non-negative integer", i);
    if (!s1 || uc_hex_decode(s1, strlen(s1), f->sha1, UC_SHA1_LEN))
        return uc_errf(eb, UC_EPARSE, "files[%zu].sha1 is not 40 hex digits", i);
    if (!s256 || uc_hex_decode(s256, strlen(s256), f->sha256, UC_SHA256_LEN))
        return uc_errf(eb, UC_EPARSE, "files[%zu].sha256 is not 64 hex digits", i);
    /* The URL is derived data; accept it only if it says exactly what the SHA-1 says. */
    char want_prefix[96];
    uc_content_path(f->sha1, "", want_prefix, sizeof(want_prefix));
    size_t plen = strlen(want_prefix);
    if (!url || strncasecmp(url, want_prefix, plen) || !uc_suffix_valid(url + plen))
        return uc_errf(eb, UC_EPARSE, "files[%zu].url must be %s<ext>, got %s", i, want_prefix,
                       url ? url : "(missing)");
    snprintf(f->suffix, sizeof(f->suffix), "%s", url + plen);
    json_t *bs = json_object_get(jf, "block_size");
    const char *bd = get_str(jf, "blocks_sha256");
    if (!bs && !json_object_get(jf, "blocks_sha256"))
        return 0;
    if (!json_is_integer(bs) || json_integer_value(bs) != UC_BLOCK_SIZE)
        return uc_errf(eb, UC_EPARSE,
                       "files[%zu].block_size must be %d (1 MiB) beside "
                       "blocks_sha256",
                       i, UC_BLOCK_SIZE);
    if (!bd || uc_hex_decode(bd, strlen(bd), f->blocks_sha256, UC_SHA256_LEN))
        return uc_errf(eb, UC_EPARSE, "files[%zu].blocks_sha256 is not 64 hex digits", i);
    f->has_blocks = true;
    return 0;
}

static int by_sha1(const void *a, const void *b, void *files)
{
    const struct uc_update_file *f = files;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = memcmp(f[i].sha1, f[j].sha1, UC_SHA1_LEN);
    return c ? c : (i > j) - (i < j);
}

int uc_update_find_conflict(const struct uc_update *u, size_t *first, size_t *second)
{
    if (u->nfiles < 2)
        return 0;
    size_t *ix = malloc(u->nfiles * sizeof(*ix));
    if (!ix)
        return -ENOMEM;
    for (size_t i = 0; i < u->nfiles; i++)
        ix[i] = i;
    qsort_r(ix, u->nfiles, sizeof(*ix), by_sha1, u->files);
    int found = 0;
    for (size_t k = 1; !found && k < u->nfiles; k++) {
        const struct uc_update_file *a = &u->files[ix[k - 1]], *b = &u->files[ix[k]];
        found = !memcmp(a->sha1, b->sha1, UC_SHA1_LEN) &&
                (a->size != b->size || memcmp(a->sha256, b->sha256, UC_SHA256_LEN) ||
                 strcmp(a->suffix, b->suffix) ||
                 (a->has_blocks && b->has_blocks &&
                  memcmp(a->blocks_sha256, b->blocks_sha256, UC_SHA256_LEN)));
        *first = ix[k - 1];
        *second = ix[k];
    }
    free(ix);
    return found;
}

static int check_duplicates(const struct uc_update *u, struct uc_errbuf *eb)
{
    size_t i, j;
    int rc = uc_update_find_conflict(u, &i, &j);
    if (rc <= 0)
        return rc;
    const struct uc_update_file *a = &u->files[i], *b = &u->files[j];
    char h[41];
    uc_hex_encode(a->sha1, UC_SHA1_LEN, h, true);
    return uc_errf(eb, UC_EPARSE,
                   "files[%zu] and files[%zu] both have SHA-1 %s but differ in %s: a record "
                   "names one file per SHA-1",
                   i, j, h,
                   a->size != b->size                                 ? "size"
                   : memcmp(a->sha256, b->sha256, UC_SHA256_LEN) != 0 ? "SHA-256"
                   : strcmp(a->suffix, b->suffix) != 0                ? "url"
                                                                      : "blocks_sha256");
}

int uc_update_decode(const char *json, size_t len, struct uc_update *out, struct uc_errbuf *eb)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return uc_errf(eb, UC_EPARSE, "record JSON: %s at line %d column %d", jerr.text, jerr.line,
                       jerr.column);
    struct uc_update u = {0};
    int rc = UC_EPARSE;
    const char *id = get_str(root, "id"), *title = get_str(root, "title");
    const char *cls = get_str(root, "classification"), *pub = get_str(root, "published");
    json_t *files = json_object_get(root, "files");
    if (!json_is_object(root)) {
        uc_errf(eb, rc, "record is not a JSON object");
    } else if (!id || uc_uuid_normalize(id, u.id)) {
        uc_errf(eb, rc, "record field 'id' is not a UUID");
    } else if (get_u64(root, "revision", &u.revision)) {
        uc_errf(eb, rc, "record field 'revision' is not a non-negative integer");
    } else if (!title || !cls) {
        uc_errf(eb, rc, "record field '%s' is missing or not a string",
                !title ? "title" : "classification");
    } else if (!pub || strlen(pub) >= sizeof(u.published) || !rfc3339_valid(pub)) {
        uc_errf(eb, rc, "record field 'published' is not an RFC 3339 date-time");
    } else if (!json_is_array(files)) {
        uc_errf(eb, rc, "record field 'files' is not an array");
    } else {
        snprintf(u.published, sizeof(u.published), "%s", pub);
        u.title = strdup(title);
        u.classification = strdup(cls);
        u.nfiles = json_array_size(files);
        u.files = calloc(u.nfiles ? u.nfiles : 1, sizeof(*u.files));
        rc = (u.title && u.classification && u.files) ? 0 : -ENOMEM;
        for (size_t i = 0; rc == 0 && i < u.nfiles; i++)
            rc = decode_file(json_array_get(files, i), i, &u.files[i], eb);
        if (!rc)
            rc = check_duplicates(&u, eb);
    }
    json_decref(root);
    if (rc) {
        uc_update_free(&u);
        return rc;
    }
    *out = u;
    return 0;
}

void uc_update_free(struct uc_update *u)
{
    free(u->title);
    free(u->classification);
    free(u->files);
    memset(u, 0, sizeof(*u));
}
