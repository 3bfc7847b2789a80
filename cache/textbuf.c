/*
 * Growing text buffer: see textbuf.h.
 */
#include "textbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(struct uc_text *t, size_t more)
{
    if (t->failed)
        return false;
    if (t->cap - t->len > more)
        return true;
    size_t cap = t->cap ? t->cap : 4096;
    while (cap - t->len <= more)
        cap *= 2;
    char *s = realloc(t->s, cap);
    if (!s) {
        t->failed = true;
        return false;
    }
    t->s = s;
    t->cap = cap;
    return true;
}

void uc_text_append(struct uc_text *t, const char *data, size_t len)
{
    if (!reserve(t, len))
        return;
    memcpy(t->s + t->len, data, len);
    t->len += len;
    t->s[t->len] = 0;
}

void uc_text_put(struct uc_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(t, (size_t)n)) {
        t->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

char *uc_text_take(struct uc_text *t, size_t *len)
{
    if (t->failed || !reserve(t, 0)) {
        free(t->s);
        *t = (struct uc_text){0};
        return NULL;
    }
    char *s = t->s;
    if (len)
        *len = t->len;
    *t = (struct uc_text){0};
    return s;
}
