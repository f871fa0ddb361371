/* Calendar dates as the contracts use them: "YYYY-MM-DD" proleptic Gregorian, and RFC 3339
 * timestamps. Days are counted from 1970-01-01 (day 0), so differences are plain subtraction. */
#ifndef JTM_DATE_H
#define JTM_DATE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct jtm_date {
    int year, month, day;
} jtm_date;

/* Strict: exactly 10 characters, a real calendar date (2023-02-30 fails), years 1900-2199.
 * len is the string length (the input need not be NUL-terminated). Returns 0 or -1. */
int jtm_date_parse(const char *s, size_t len, jtm_date *out);
/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), 't'/'z' accepted, leap second 60
 * accepted as RFC 3339 allows. Returns 0 or -1. */
int jtm_datetime_check(const char *s, size_t len);

bool jtm_date_is_leap(int year);
int jtm_date_days_in_month(int year, int month);
/* Days since 1970-01-01 (negative before). */
long jtm_date_to_days(jtm_date d);
jtm_date jtm_date_from_days(long days);
/* Age in calendar months: (year, month) of at minus (year, month) of birth; the days of both are
 * ignored, so the age steps on the first of each month for every child born in the same month and
 * a sequence of ages says nothing about the birth day (the pseudonymised event's age_months,
 * docs/contracts.md). Negative when at's month is before birth's. */
int jtm_date_age_months(jtm_date birth, jtm_date at);
/* 0 = Monday ... 6 = Sunday. */
int jtm_date_weekday(jtm_date d);
/* Writes "YYYY-MM-DD" (11 bytes with NUL). */
void jtm_date_format(jtm_date d, char out[11]);
/* Today in UTC. */
jtm_date jtm_date_today(void);

#endif
