/*
 * A growing text buffer for responses built piece by piece (pages of envelopes, the
 * metrics exposition). An allocation failure makes it failed for good; the caller
 * checks once at the end.
 */
#ifndef UC_TEXTBUF_H
#define UC_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>

struct uc_text {
    char *s; /* NUL-terminated while not failed */
    size_t len, cap;
    bool failed;
};

void uc_text_put(struct uc_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void uc_text_append(struct uc_text *t, const char *data, size_t len);
/* The text (caller frees), or NULL after a failure (the buffer is freed). */
char *uc_text_take(struct uc_text *t, size_t *len);

#endif
