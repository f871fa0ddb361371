/* Reads the report's data from the warehouse with libpq: one read-only, repeatable-read
 * transaction (every chart sees the same snapshot), every value a parameter ($1 gemeente or NULL
 * for the whole region, $2 first day of the period, $3 first day after it). Row-level security
 * applies as for any other client: a municipality login gets its own rows only.
 *
 * Sources (schemas/sql): wh.route (paths), monitor.waiting_list_weekly, ops.alert when it exists
 * and is readable (else alerts_available is false), wh.care_episode (decision and start days,
 * indicators, with the definitions of the monitor.*_month views but over the exact period),
 * monitor.prevention_month, wh.population_month (per pc4 when that column exists, else per
 * gemeente). */
#ifndef JTM_REPORT_QUERY_H
#define JTM_REPORT_QUERY_H

#include <libpq-fe.h>
#include <stddef.h>

#include "report.h"

/* Validates and stores the period: from and to as YYYY-MM (from <= to, at most 120 months; years
 * 1900-2199), and sets the previous period (as many months, just before). Returns 0, or -1 with
 * errstr. */
int jtm_report_set_period(jtm_report *r, const char *from, const char *to, char *errstr, size_t errlen);
/* The default period: twelve months up to and including the current one (UTC), so the latest
 * weeks of the waiting list and their alarms are in; the current month is still running. */
void jtm_report_default_period(jtm_report *r);
/* True when s is a CBS municipality code: "GM" and four digits. */
int jtm_report_gemeente_ok(const char *s);

/* research.min_cell() when the research schema has it, else 10. Returns -1 with errstr on a
 * database error. */
int jtm_report_min_cell(PGconn *conn, char *errstr, size_t errlen);

/* Fills r's data (r->gemeente, the period and r->lang already set). Returns 0, or -1 with errstr
 * (the SQLSTATE and message of the failed query); r's data may then be partly filled
 * (jtm_report_free releases it). */
int jtm_report_load(PGconn *conn, jtm_report *r, char *errstr, size_t errlen);

#endif
