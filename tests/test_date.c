#include <criterion/criterion.h>
#include <string.h>

#include "date.h"

static int parse(const char *s) { return jtm_date_parse(s, strlen(s), NULL); }

Test(date, accepts_real_calendar_dates)
{
    cr_assert_eq(parse("2024-02-29"), 0);
    cr_assert_eq(parse("2000-02-29"), 0);
    cr_assert_eq(parse("2023-12-31"), 0);
    cr_assert_eq(parse("1900-01-01"), 0);
}

Test(date, rejects_impossible_and_malformed)
{
    const char *bad[] = {"2023-02-29", "2023-02-30", "1900-02-29", "2023-13-01", "2023-00-10", "2023-04-31",
                         "2023-4-01",  "23-04-01",   "2023/04/01", "2023-04-01T", "",          "2023-04-0a",
                         "１２３４-01-01"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(parse(bad[i]), -1, "accepted %s", bad[i]);
}

Test(date, datetime_rfc3339)
{
    const char *good[] = {"2024-03-02T08:00:00Z", "2024-03-02t08:00:00.123456z", "2024-03-02T23:59:60+01:00",
                          "2024-03-02T08:00:00-05:30"};
    const char *bad[] = {"2024-03-02T08:00:00", "2024-03-02T24:00:00Z", "2024-02-30T08:00:00Z",
                         "2024-03-02T08:00:00+0100", "2024-03-02T08:00Z", "2024-03-02T08:00:00.Z"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        cr_assert_eq(jtm_datetime_check(good[i], strlen(good[i])), 0, "refused %s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(jtm_datetime_check(bad[i], strlen(bad[i])), -1, "accepted %s", bad[i]);
}

Test(date, days_round_trip_and_weekday)
{
    jtm_date epoch = {1970, 1, 1};
    cr_assert_eq(jtm_date_to_days(epoch), 0);
    for (long d = -40000; d < 80000; d += 7) {
        jtm_date x = jtm_date_from_days(d);
        cr_assert_eq(jtm_date_to_days(x), d);
    }
    jtm_date monday = {2026, 11, 23};
    cr_assert_eq(jtm_date_weekday(monday), 0);
    jtm_date sunday = {2024, 3, 3};
    cr_assert_eq(jtm_date_weekday(sunday), 6);
    char buf[11];
    jtm_date_format((jtm_date){2024, 2, 9}, buf);
    cr_assert_str_eq(buf, "2024-02-09");
}

Test(date, age_in_calendar_months_ignores_the_days)
{
    jtm_date b = {2012, 5, 15};
    cr_assert_eq(jtm_date_age_months(b, (jtm_date){2012, 5, 1}), 0);
    cr_assert_eq(jtm_date_age_months(b, (jtm_date){2012, 5, 31}), 0);
    cr_assert_eq(jtm_date_age_months(b, (jtm_date){2012, 6, 1}), 1, "steps on the 1st, not on the birth day");
    cr_assert_eq(jtm_date_age_months(b, (jtm_date){2012, 6, 14}), 1);
    cr_assert_eq(jtm_date_age_months(b, (jtm_date){2024, 3, 1}), 142);
    /* the same for every birth day of the month: the age cannot tell them apart */
    for (int day = 1; day <= 31; day++)
        for (int at = 1; at <= 30; at++)
            cr_assert_eq(jtm_date_age_months((jtm_date){2012, 5, day}, (jtm_date){2013, 4, at}), 11);
    cr_assert_eq(jtm_date_age_months(b, (jtm_date){2012, 4, 30}), -1);
}
