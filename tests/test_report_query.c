/* Unit tests of jtm-report's period and argument checks (daemons/jtm-report/query.c); the queries
 * themselves run in tests/it_report.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "query.h"
#include "report.h"

Test(report_query, period_and_previous_period)
{
    jtm_report r = {0};
    char err[128];
    cr_assert_eq(jtm_report_set_period(&r, "2024-01", "2024-12", err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(r.prev_from, "2023-01");
    cr_assert_str_eq(r.prev_to, "2023-12");
    cr_assert_eq(jtm_report_set_period(&r, "2024-11", "2025-02", err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(r.from, "2024-11");
    cr_assert_str_eq(r.to, "2025-02");
    cr_assert_str_eq(r.prev_from, "2024-07");
    cr_assert_str_eq(r.prev_to, "2024-10");
    cr_assert_eq(jtm_report_set_period(&r, "2024-03", "2024-03", err, sizeof err), 0);
    cr_assert_str_eq(r.prev_from, "2024-02");
    cr_assert_str_eq(r.prev_to, "2024-02");
}

Test(report_query, bad_periods_are_refused)
{
    jtm_report r = {0};
    char err[128];
    const char *bad[][2] = {{"2024-13", "2024-12"}, {"2024-1", "2024-12"}, {"2024/01", "2024-12"},
                            {"2024-05", "2024-04"}, {"2010-01", "2020-12"}, {"1900-01", "1900-02"},
                            {"20x4-01", "2024-02"}, {"2024-00", "2024-02"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(jtm_report_set_period(&r, bad[i][0], bad[i][1], err, sizeof err), -1, "%s..%s", bad[i][0],
                     bad[i][1]);
    cr_assert_eq(jtm_report_set_period(&r, NULL, "2024-01", err, sizeof err), -1);
}

Test(report_query, default_period_ends_this_month)
{
    jtm_report r = {0};
    jtm_report_default_period(&r);
    jtm_date t = jtm_date_today();
    char now[8];
    snprintf(now, sizeof now, "%04d-%02d", t.year, t.month);
    cr_assert_str_eq(r.to, now);
    int fy = atoi(r.from), fm = atoi(r.from + 5);
    cr_assert_eq((t.year * 12 + t.month) - (fy * 12 + fm), 11, "twelve months: %s..%s", r.from, r.to);
}

Test(report_query, gemeente_codes)
{
    cr_assert(jtm_report_gemeente_ok("GM0505"));
    cr_assert_not(jtm_report_gemeente_ok("gm0505"));
    cr_assert_not(jtm_report_gemeente_ok("GM505"));
    cr_assert_not(jtm_report_gemeente_ok("GM05055"));
    cr_assert_not(jtm_report_gemeente_ok("GM05a5"));
    cr_assert_not(jtm_report_gemeente_ok("GM0505'"));
    cr_assert_not(jtm_report_gemeente_ok(NULL));
}
