#include "freelist.h"

#include <stdlib.h>

void uc_freelist_init(struct uc_freelist *fl, size_t size, unsigned max)
{
    *fl = (struct uc_freelist){.size = size < sizeof(void *) ? sizeof(void *) : size, .max = max};
}

/* The most recently freed block (still warm in the cache), or NULL. */
static void *pop(struct uc_freelist *fl)
{
    void *p = fl->head;
    if (p) {
        fl->head = *(void **)p;
        fl->pooled--;
    }
    return p;
}

void *uc_freelist_get(struct uc_freelist *fl)
{
    void *p = pop(fl);
    if (!p && !(p = malloc(fl->size)))
        return NULL;
    if (++fl->used > fl->peak)
        fl->peak = fl->used;
    return p;
}

void uc_freelist_put(struct uc_freelist *fl, void *p)
{
    fl->used--;
    if (fl->pooled >= fl->max) {
        free(p);
        return;
    }
    *(void **)p = fl->head;
    fl->head = p;
    fl->pooled++;
}

bool uc_freelist_trim(struct uc_freelist *fl, unsigned slack)
{
    unsigned keep = fl->peak - fl->used + slack; /* room for the same burst again */
    fl->peak = fl->used;
    bool cut = fl->pooled > keep;
    while (fl->pooled > keep)
        free(pop(fl));
    return cut;
}

void uc_freelist_free(struct uc_freelist *fl)
{
    void *p;
    while ((p = pop(fl)))
        free(p);
}
