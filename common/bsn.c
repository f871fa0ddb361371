#include "bsn.h"

#include <string.h>

int jtm_bsn_weighted_sum(const char d[9])
{
    int s = 0;
    for (int i = 0; i < 8; i++)
        s += (9 - i) * (d[i] - '0');
    return s - (d[8] - '0');
}

jtm_bsn_status jtm_bsn_check(const char *s, size_t len, char out[10])
{
    char d[10];
    if (len == 8) {
        d[0] = '0';
        memcpy(d + 1, s, 8);
    } else if (len == 9) {
        memcpy(d, s, 9);
    } else {
        return JTM_BSN_INVALID;
    }
    d[9] = '\0';
    for (int i = 0; i < 9; i++)
        if (d[i] < '0' || d[i] > '9')
            return JTM_BSN_INVALID;
    if (strcmp(d, "999999999") == 0 || strcmp(d, "000000000") == 0) {
        memcpy(out, d, 10);
        return JTM_BSN_PLACEHOLDER;
    }
    int sum = jtm_bsn_weighted_sum(d);
    if (sum == 0 || sum % 11 != 0)
        return JTM_BSN_INVALID;
    memcpy(out, d, 10);
    return JTM_BSN_VALID;
}

int jtm_bsn_complete(const char first8[8], char out[10])
{
    char d[9];
    memcpy(d, first8, 8);
    for (char c = '0'; c <= '9'; c++) {
        d[8] = c;
        int sum = jtm_bsn_weighted_sum(d);
        if (sum != 0 && sum % 11 == 0) {
            memcpy(out, d, 9);
            out[9] = '\0';
            return 0;
        }
    }
    return -1;
}
