#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "bsn.h"

static jtm_bsn_status check(const char *s, char out[10]) { return jtm_bsn_check(s, strlen(s), out); }

Test(bsn, eleven_test)
{
    char out[10];
    /* 111222333: 9+8+7+12+10+8+9+6-3 = 66 = 6*11 */
    cr_assert_eq(check("111222333", out), JTM_BSN_VALID);
    cr_assert_str_eq(out, "111222333");
    cr_assert_eq(check("123456782", out), JTM_BSN_VALID);
    cr_assert_eq(check("123456789", out), JTM_BSN_INVALID);
    cr_assert_eq(check("111222334", out), JTM_BSN_INVALID);
}

Test(bsn, eight_digits_padded)
{
    char out[10];
    /* 012345672 is valid: 0+8+14+18+20+20+18+14-2 = 110 */
    cr_assert_eq(check("12345672", out), JTM_BSN_VALID);
    cr_assert_str_eq(out, "012345672");
}

Test(bsn, placeholders_and_garbage)
{
    char out[10];
    cr_assert_eq(check("999999999", out), JTM_BSN_PLACEHOLDER);
    cr_assert_eq(check("000000000", out), JTM_BSN_PLACEHOLDER);
    cr_assert_eq(check("00000000", out), JTM_BSN_PLACEHOLDER, "8 zeros pad to the unborn placeholder");
    const char *bad[] = {"", "1234567", "1234567890", "11122233a", "111 22333", "-11222333", "１１１２２２３３３"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(check(bad[i], out), JTM_BSN_INVALID, "accepted %s", bad[i]);
}

Test(bsn, complete_makes_valid_numbers)
{
    char out[10], again[10];
    int made = 0;
    for (int i = 10000000; i < 10000300; i++) {
        char first8[9];
        snprintf(first8, sizeof first8, "%08d", i);
        if (jtm_bsn_complete(first8, out) == 0) {
            made++;
            cr_assert_eq(check(out, again), JTM_BSN_VALID, "%s", out);
        }
    }
    cr_assert_gt(made, 200);
}
