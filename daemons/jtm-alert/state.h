/* Alert state in PostgreSQL (schemas/sql/0200_alert.sql): runs the detector over every series and
 * moves each (gemeente, category, method) between quiet, firing and resolved. A new episode and
 * its firing notice, or a resolution and its resolved notice, are committed in one transaction
 * (the outbox); deliver.c sends them afterwards. */
#ifndef JTM_ALERT_STATE_H
#define JTM_ALERT_STATE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "conf.h"
#include "ears.h"
#include "farrington.h"

typedef struct alert_rules {
    int farrington;              /* alert.method = farrington: the quasi-Poisson detector below */
    jtm_farrington_params far;   /* checked */
    jtm_ears_params ears; /* resolved */
    double min_count;     /* no episode starts below this observed count */
    long history_weeks;
    long series_weeks;
    const char *report_url; /* template with {gemeente}; NULL or "": notices carry no link */
    const alert_routes *routes; /* which channels each municipality has; NULL: webhook only */
} alert_rules;

/* The rules of the configuration (alert.*), checked. alert.method is C1, C2, C3 or farrington;
 * alert.farrington is "PRESET[,name=value...]" with farringtonFlexible's parameters (farrington.h).
 * Returns 0, or -1 with errstr. */
int alert_rules_init(alert_rules *r, const alert_config *cfg, char *errstr, size_t errlen);

/* The configured detector over x[0..n): bounds and alarms (JTM_EARS_*) per week, NaN / NA before
 * alert_detect_first(r). Returns the monitored weeks (0: too short), or -1 with errstr. */
long alert_detect(const alert_rules *r, const double *x, size_t n, double *upper, int *alarm, char *errstr,
                  size_t errlen);
size_t alert_detect_first(const alert_rules *r);
/* The method's name as ops.alert.method stores it: "C1", "C2", "C3" or "farrington". */
const char *alert_method_name(const alert_rules *r);

typedef struct alert_eval_stats {
    long series, monitored, fired, resolved, silenced;
} alert_eval_stats;

/* Evaluates the latest week of every series. A series with no firing episode starts one when the
 * latest week alarms and its count is at least min_count (at most one episode per week, ever); a
 * firing episode resolves when the latest week is at or under its upper bound. Returns 0, 1 when
 * the waiting-list view does not exist yet, or -1 with errstr (PostgreSQL error; the transaction
 * of the failing series is rolled back, earlier ones stay committed). */
int alert_evaluate(PGconn *conn, const alert_rules *rules, alert_eval_stats *st, char *errstr, size_t errlen);

#endif
