/* The waiting-list series jtm-alert watches: monitor.waiting_list_weekly, one series per
 * (gemeente, category), oldest week first, the last history_weeks weeks of each. */
#ifndef JTM_ALERT_SERIES_H
#define JTM_ALERT_SERIES_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct alert_series {
    char *gemeente;
    char *category;
    size_t n;
    char (*week)[11]; /* "YYYY-MM-DD", week_start */
    double *waiting;
} alert_series;

typedef struct alert_series_set {
    alert_series *items;
    size_t count;
} alert_series_set;

/* Reads the series. Returns 0; 1 when monitor.waiting_list_weekly does not exist (yet: the
 * linker's migrations create it), with out empty; -1 with errstr on any other error. */
int alert_series_load(PGconn *conn, long history_weeks, alert_series_set *out, char *errstr, size_t errlen);
void alert_series_set_free(alert_series_set *s);

#endif
