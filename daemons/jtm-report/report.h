/* The report's data, as query.c reads it from the warehouse and html.c renders it. Nothing here
 * knows SQL or HTML: tests build a jtm_report by hand and render it. All strings are owned by the
 * report (jtm_report_free). */
#ifndef JTM_REPORT_REPORT_H
#define JTM_REPORT_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "i18n.h"

/* Children per distinct wh.route.path (stages joined by '>'). */
typedef struct rpt_route {
    char *path;
    long children;
} rpt_route;

/* One week of one waiting-list series. */
typedef struct rpt_week {
    char week_start[11]; /* YYYY-MM-DD, a Monday */
    long waiting;
    double upper; /* upper bound the alerter computed for this week (at firing or resolution); NAN when none */
    bool alarm;   /* an alarm fired this week */
    bool firing;  /* an alarm of this series was firing during this week */
} rpt_week;

typedef struct rpt_series {
    char category[8];
    rpt_week *weeks;
    size_t n;
} rpt_series;

/* Median and quartiles of decision or start days of one category in one quarter. */
typedef struct rpt_days {
    char category[8];
    char quarter[8]; /* "2024-Q1" */
    long n;
    double q1, median, q3;
} rpt_days;

typedef enum { RPT_COUNT, RPT_SHARE, RPT_DAYS } rpt_kind;

/* One period's value of an indicator: a count (num), a share (num/den) or a median of days
 * (value, over num observations). have is false when there is nothing to compute. */
typedef struct rpt_value {
    bool have;
    long num, den;
    double value;
} rpt_value;

typedef struct rpt_indicator {
    int goal; /* 1..5 */
    jtm_msg label;
    rpt_kind kind;
    rpt_value cur, prev;
} rpt_indicator;

#define RPT_POP_MEASURES 5 /* seen by JGZ, absence report, in care, residential, new care starts */

typedef struct rpt_pop {
    char district[16]; /* pc4, or the gemeente code when the warehouse has no pc4 */
    char age_band[8];  /* "0-3", "4-11", "12-17", "18-23" */
    long v[RPT_POP_MEASURES];
} rpt_pop;

typedef struct jtm_report {
    /* what was asked */
    char *gemeente; /* NULL: the whole region */
    char from[8], to[8]; /* YYYY-MM, inclusive */
    char prev_from[8], prev_to[8];
    jtm_lang lang;
    bool public_;
    int threshold; /* suppression threshold when public_ */
    char generated[32];

    rpt_route *routes;
    size_t n_routes;

    rpt_series *waiting;
    size_t n_waiting;
    bool alerts_available; /* the alert tables exist (ops.alert...) */

    rpt_days *decision, *start;
    size_t n_decision, n_start;

    rpt_indicator *indicators;
    size_t n_indicators;

    rpt_pop *population;
    size_t n_population;
    bool population_by_pc4; /* false: districts are gemeenten */
} jtm_report;

void jtm_report_free(jtm_report *r);

#endif
