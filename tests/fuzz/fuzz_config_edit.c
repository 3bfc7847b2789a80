/*
 * libFuzzer target: config text editing (configure-ssl rewrites operators' files). The
 * first byte picks the operation; the rest is the file. Invariants: setting a key then
 * setting it again changes nothing; removing it takes the set line out again; an edit
 * never loses another section's header.
 */
#include "config_edit.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* Lines that start with header (not the same text inside a value). */
static size_t headers(const char *s, const char *header)
{
    size_t n = 0, len = strlen(header);
    for (const char *p = s; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        n += strncmp(p, header, len) == 0;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    if (strlen(text) != size - 1 || strchr(text, '\r')) { /* text files, NUL-free */
        free(text);
        return 0;
    }
    const char *sec = data[0] & 1 ? "tls" : "server";
    const char *key = data[0] & 2 ? "cert" : "name";
    char *once = uc_config_edit(text, sec, key, "v.example.org");
    FUZZ_CHECK(once != NULL);
    char *twice = uc_config_edit(once, sec, key, "v.example.org");
    FUZZ_CHECK(twice != NULL && strcmp(once, twice) == 0);
    char *gone = uc_config_edit(once, sec, key, NULL);
    FUZZ_CHECK(gone != NULL);
    FUZZ_CHECK(count(gone, "v.example.org") < count(once, "v.example.org") ||
               !strstr(once, "v.example.org"));
    /* Another section's header lines are all still there. */
    FUZZ_CHECK(headers(once, "[auth]") == headers(text, "[auth]"));
    free(text);
    free(once);
    free(twice);
    free(gone);
    return 0;
}
