#include "freelist.h"

#include <stdlib.h>

void uc_freelist_init(struct uc_freelist *fl, size_t size, unsigned max)
{
    *fl = (struct uc_freelist){.size = size < sizeof(void *) ? sizeof(void *) : size, .max = max};
}

void *uc_freelist_get(struct uc_freelist *fl)
{
    void *p = fl->head;
    if (p) {
        fl->head = *(void **)p;
        fl->pooled--;
    } else if (!(p = malloc(fl->size))) {
        return NULL;
    }
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
    if (fl->pooled <= keep)
        return false;
    while (fl->pooled > keep) {
        void *p = fl->head;
        fl->head = *(void **)p;
        fl->pooled--;
        free(p);
    }
    return true;
}

void uc_freelist_free(struct uc_freelist *fl)
{
    while (fl->head) {
        void *p = fl->head;
        fl->head = *(void **)p;
        free(p);
    }
    fl->pooled = 0;
}
