/* A growable string buffer for building the report page. Allocation failure aborts (as
 * common/config.c does): a half-written report is worse than none. */
#ifndef JTM_REPORT_SBUF_H
#define JTM_REPORT_SBUF_H

#include <stddef.h>

typedef struct sbuf {
    char *s;    /* always NUL-terminated once anything was written; NULL before */
    size_t len; /* bytes, without the NUL */
    size_t cap;
} sbuf;

void sb_free(sbuf *b);
void sb_putn(sbuf *b, const char *s, size_t n);
void sb_puts(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends text escaped for XML character data and attribute values (both quote styles): & < > " '
 * become entities; control characters other than tab, newline and carriage return, and bytes that
 * are not valid UTF-8, become U+FFFD, so any input gives well-formed XML. NULL appends nothing. */
void sb_put_xml(sbuf *b, const char *s);
/* The buffer's text ("" when empty); stays owned by b. */
const char *sb_str(sbuf *b);

#endif
