#include "pgarray.h"

#include <string.h>

#define HEADER 20 /* ndim, flags, element type, one dimension's size and lower bound */

static void be32(char *o, uint32_t v)
{
    o[0] = (char)(v >> 24);
    o[1] = (char)(v >> 16);
    o[2] = (char)(v >> 8);
    o[3] = (char)v;
}

void lk_pgarray_reset(lk_pgarray *a, uint32_t oid)
{
    sb_clear(&a->buf);
    sb_reserve(&a->buf, HEADER);
    a->buf.len = HEADER;
    a->n = 0;
    a->oid = oid;
    a->has_null = 0;
}

void lk_pgarray_add(lk_pgarray *a, const void *p, size_t n)
{
    char len[4];
    be32(len, (uint32_t)n);
    sb_putn(&a->buf, len, 4);
    sb_putn(&a->buf, p, n);
    a->n++;
}

void lk_pgarray_add_str(lk_pgarray *a, const char *s) { lk_pgarray_add(a, s, strlen(s)); }

void lk_pgarray_add_null(lk_pgarray *a)
{
    char len[4];
    be32(len, UINT32_MAX); /* -1 */
    sb_putn(&a->buf, len, 4);
    a->n++;
    a->has_null = 1;
}

const char *lk_pgarray_value(lk_pgarray *a, int *len)
{
    char *h = a->buf.s;
    be32(h, a->n ? 1 : 0);
    be32(h + 4, (uint32_t)a->has_null);
    be32(h + 8, a->oid);
    be32(h + 12, a->n);
    be32(h + 16, 1);
    /* an empty array has no dimensions: only the first 12 bytes */
    *len = a->n ? (int)a->buf.len : 12;
    return h;
}

void lk_pgarray_free(lk_pgarray *a)
{
    sb_free(&a->buf);
    memset(a, 0, sizeof *a);
}
