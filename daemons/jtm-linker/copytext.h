/* Values in PostgreSQL's COPY text format (tab-separated columns, \N for NULL): the linker's batch
 * rows into linker_in and its derived rows into the wh tables. The caller writes the separators. */
#ifndef JTM_LINKER_COPYTEXT_H
#define JTM_LINKER_COPYTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

/* Text with backslash, tab, newline and carriage return escaped. */
void lk_copy_text(sbuf *b, const char *s, size_t n);
/* A NUL-terminated string, or \N when s is NULL. */
void lk_copy_str(sbuf *b, const char *s);
/* bytea in hex input form (\x...), its backslash escaped. */
void lk_copy_bytea(sbuf *b, const void *p, size_t n);
/* YYYY-MM-DD of days since 1970-01-01, or \N for INT32_MIN (common/eventlog.h's JTM_NO_DATE). */
void lk_copy_date(sbuf *b, int32_t days);
void lk_copy_int(sbuf *b, long long v);
void lk_copy_bool(sbuf *b, bool v);
void lk_copy_null(sbuf *b);

#endif
