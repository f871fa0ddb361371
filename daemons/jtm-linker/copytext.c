#include "copytext.h"

#include <stdio.h>
#include <string.h>

#include "date.h"

void lk_copy_text(sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, 2 * n);
    char *o = b->s + b->len;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        switch (c) {
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        case '\t': *o++ = '\\'; *o++ = 't'; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        default: *o++ = c;
        }
    }
    b->len = (size_t)(o - b->s);
    b->s[b->len] = '\0';
}

void lk_copy_null(sbuf *b) { sb_putn(b, "\\N", 2); }

void lk_copy_str(sbuf *b, const char *s)
{
    if (s)
        lk_copy_text(b, s, strlen(s));
    else
        lk_copy_null(b);
}

void lk_copy_bytea(sbuf *b, const void *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = p;
    sb_reserve(b, 3 + 2 * n);
    char *o = b->s + b->len;
    *o++ = '\\';
    *o++ = '\\';
    *o++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *o++ = hex[s[i] >> 4];
        *o++ = hex[s[i] & 15];
    }
    b->len = (size_t)(o - b->s);
    b->s[b->len] = '\0';
}

void lk_copy_date(sbuf *b, int32_t days)
{
    if (days == INT32_MIN) {
        lk_copy_null(b);
        return;
    }
    char out[11];
    jtm_date_format(jtm_date_from_days(days), out);
    sb_putn(b, out, 10);
}

void lk_copy_int(sbuf *b, long long v)
{
    char num[24];
    int k = snprintf(num, sizeof num, "%lld", v);
    sb_putn(b, num, (size_t)k);
}

void lk_copy_bool(sbuf *b, bool v) { sb_putc(b, v ? 't' : 'f'); }
