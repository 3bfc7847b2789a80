/*
 * Config text editing: see config_edit.h. Lines are classified the way inih reads
 * them: "[name]" starts a section, "key = value" or "key: value" sets a key, ';' and '#'
 * start comments.
 */
#include "config_edit.h"

#include "textbuf.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* The section a header line names, into out; false when the line is not a header. */
static bool header(const char *p, const char *end, char *out, size_t cap)
{
    p = skip_ws(p, end);
    if (p == end || *p != '[')
        return false;
    const char *close = memchr(p, ']', (size_t)(end - p));
    if (!close || (size_t)(close - p - 1) >= cap)
        return false;
    memcpy(out, p + 1, (size_t)(close - p - 1));
    out[close - p - 1] = 0;
    return true;
}

static bool is_key(const char *p, const char *end, const char *key)
{
    p = skip_ws(p, end);
    size_t n = strlen(key);
    if ((size_t)(end - p) < n || strncmp(p, key, n) != 0)
        return false;
    p = skip_ws(p + n, end);
    return p < end && (*p == '=' || *p == ':');
}

static void add_line(struct uc_text *t, const char *key, const char *value, const char *eol)
{
    uc_text_put(t, "%s = %s%s", key, value, eol);
}

/* Insert the key's line at offset at of the text built so far. */
static void insert_line(struct uc_text *t, size_t at, const char *key, const char *value,
                        const char *eol)
{
    char *tail = t->failed ? NULL : strdup(t->s + at);
    if (!tail) {
        t->failed = true; /* never a file with its end cut off */
        return;
    }
    t->len = at;
    add_line(t, key, value, eol);
    uc_text_append(t, tail, strlen(tail));
    free(tail);
}

char *uc_config_edit(const char *text, const char *section, const char *key, const char *value)
{
    struct uc_text t = {0};
    uc_text_append(&t, "", 0);
    /* A byte-order mark stays where it is (inih skips it); lines keep the file's ending. */
    if (!strncmp(text, "\xEF\xBB\xBF", 3)) {
        uc_text_append(&t, text, 3);
        text += 3;
    }
    const char *first_nl = strchr(text, '\n');
    const char *eol = first_nl && first_nl > text && first_nl[-1] == '\r' ? "\r\n" : "\n";
    char cur[128] = "";
    bool done = value == NULL, seen_section = false;
    size_t insert_at = 0; /* after the last content line of the section */
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
        const char *next = nl ? nl + 1 : end;
        if (end > p && end[-1] == '\r')
            end--; /* the line's text, without its CR */
        char name[128];
        if (header(p, end, name, sizeof(name))) {
            if (!done && seen_section && !strcmp(cur, section)) {
                /* leaving the section without the key: add it where the section ends */
                insert_line(&t, insert_at, key, value, eol);
                done = true;
            }
            strcpy(cur, name);
            seen_section |= !strcmp(cur, section);
        } else if (!strcmp(cur, section) && is_key(p, end, key)) {
            if (!done) {
                add_line(&t, key, value, eol);
                done = true;
            }
            p = next; /* replaced, or a repeat: dropped */
            continue;
        }
        uc_text_append(&t, p, (size_t)(next - p));
        if (!nl)
            uc_text_append(&t, eol, strlen(eol));
        const char *q = skip_ws(p, end);
        if (!strcmp(cur, section) && q < end && *q != ';' && *q != '#')
            insert_at = t.len;
        p = next;
    }
    if (!done && seen_section) {
        insert_line(&t, insert_at, key, value, eol);
    } else if (!done) {
        uc_text_put(&t, "%s[%s]%s", t.len && t.s[t.len - 1] != '\n' ? eol : "", section, eol);
        add_line(&t, key, value, eol);
    }
    return uc_text_take(&t, NULL);
}
