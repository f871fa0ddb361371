#include "xml.h"

#include <string.h>

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one (overlong forms,
 * surrogates and code points above U+10FFFF are refused). */
static size_t utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if ((p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0))
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if ((p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

void sb_put_xml(sbuf *b, const char *s)
{
    if (!s)
        return;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        switch (*p) {
        case '&': sb_puts(b, "&amp;"); p++; continue;
        case '<': sb_puts(b, "&lt;"); p++; continue;
        case '>': sb_puts(b, "&gt;"); p++; continue;
        case '"': sb_puts(b, "&quot;"); p++; continue;
        case '\'': sb_puts(b, "&#39;"); p++; continue;
        default: break;
        }
        if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') {
            sb_puts(b, "\xEF\xBF\xBD");
            p++;
            continue;
        }
        size_t n = utf8_len(p);
        if (n == 0) {
            sb_puts(b, "\xEF\xBF\xBD");
            p++;
            continue;
        }
        /* U+FFFE and U+FFFF are not XML characters either. */
        if (n == 3 && p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF)) {
            sb_puts(b, "\xEF\xBF\xBD");
            p += 3;
            continue;
        }
        sb_putn(b, (const char *)p, n);
        p += n;
    }
}
