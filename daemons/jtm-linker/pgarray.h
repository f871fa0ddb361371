/* One-dimensional array parameters in PostgreSQL's binary format (text[], bytea[]), for
 * PQexecPrepared with paramFormats 1: no quoting, no hex, no array_in parsing on the server. */
#ifndef JTM_LINKER_PGARRAY_H
#define JTM_LINKER_PGARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

#define LK_OID_BYTEA 17
#define LK_OID_TEXT 25

typedef struct lk_pgarray {
    sbuf buf;
    uint32_t n, oid;
    int has_null;
} lk_pgarray;

/* Empties a (keeping its memory) for elements of type oid. */
void lk_pgarray_reset(lk_pgarray *a, uint32_t oid);
void lk_pgarray_add(lk_pgarray *a, const void *p, size_t n);
void lk_pgarray_add_str(lk_pgarray *a, const char *s);
void lk_pgarray_add_null(lk_pgarray *a);
/* The parameter's bytes (valid until the next change of a); *len its length. */
const char *lk_pgarray_value(lk_pgarray *a, int *len);
void lk_pgarray_free(lk_pgarray *a);

#endif
