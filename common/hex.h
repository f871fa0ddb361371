/* Hexadecimal digits: decoding one, encoding bytes. */
#ifndef JTM_HEX_H
#define JTM_HEX_H

#include <stddef.h>

/* The value of hex digit c (either case), or -1. */
static inline int jtm_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Writes n bytes as 2n lowercase hex digits and a NUL to out (2n + 1 bytes). */
static inline void jtm_hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

#endif
