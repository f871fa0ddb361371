/* Growing an array of the linker's scratch state: reused from batch to batch, so it only grows. */
#ifndef JTM_LINKER_GROW_H
#define JTM_LINKER_GROW_H

#include <stdlib.h>

/* Room for n elements of size sz at *p (capacity *cap elements), doubling. 0, or -1 when memory
 * ran out (*p and *cap unchanged). */
static inline int lk_grow(void **p, size_t *cap, size_t n, size_t sz)
{
    if (n <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < n)
        c *= 2;
    void *q = realloc(*p, c * sz);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

#endif
