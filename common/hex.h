/* One hexadecimal digit. */
#ifndef JTM_HEX_H
#define JTM_HEX_H

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

#endif
