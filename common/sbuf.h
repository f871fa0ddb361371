/* A growable string buffer (report pages, COPY rows). Allocation failure aborts, as common/config.c
 * does: every user would have to give up anyway, and a half-written page or row is worse than none. */
#ifndef JTM_SBUF_H
#define JTM_SBUF_H

#include <stddef.h>

typedef struct sbuf {
    char *s;    /* always NUL-terminated once anything was written; NULL before */
    size_t len; /* bytes, without the NUL */
    size_t cap;
} sbuf;

void sb_free(sbuf *b);
/* Makes room for extra more bytes and the NUL; writers that fill b->s + b->len themselves call it
 * first, then advance len and terminate. */
void sb_reserve(sbuf *b, size_t extra);
void sb_putn(sbuf *b, const char *s, size_t n);
void sb_puts(sbuf *b, const char *s);
void sb_putc(sbuf *b, char c);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empties the buffer, keeping its memory. */
void sb_clear(sbuf *b);
/* The buffer's text ("" when empty); stays owned by b. */
const char *sb_str(sbuf *b);

#endif
