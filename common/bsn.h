/* The Dutch citizen number (BSN) and its 11-test, as ../shared/contracts.md defines it. */
#ifndef JTM_BSN_H
#define JTM_BSN_H

#include <stddef.h>

typedef enum {
    JTM_BSN_VALID = 0,       /* passes the 11-test */
    JTM_BSN_PLACEHOLDER = 1, /* 999999999 (unknown) or 000000000 (unborn): fallback pseudonym */
    JTM_BSN_INVALID = -1     /* wrong length, not digits, or fails the 11-test */
} jtm_bsn_status;

/* Checks s (len bytes, not necessarily NUL-terminated). An 8-digit number is padded with a leading
 * zero; the normalised 9 digits are written to out (10 bytes with NUL) unless the result is INVALID. */
jtm_bsn_status jtm_bsn_check(const char *s, size_t len, char out[10]);
/* The weighted sum 9*d1 + ... + 2*d8 - d9 of 9 digits. */
int jtm_bsn_weighted_sum(const char digits9[9]);
/* Completes 8 given leading digits with a check digit so the 11-test passes; returns -1 when no
 * digit 0-9 does (the caller picks other leading digits). Used by the synthetic region only. */
int jtm_bsn_complete(const char first8[8], char out[10]);

#endif
