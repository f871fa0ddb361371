/* What a municipality needs to act on a waiting-list alert: who is waiting in the week judged,
 * children as well as episodes, split into those waiting for the municipality's decision and those
 * waiting for a provider to start, and the providers holding most of the start wait. Read from
 * wh.episode_waiting (the rows behind monitor.waiting_list_weekly) and wh.care_episode. */
#ifndef JTM_ALERT_DETAIL_H
#define JTM_ALERT_DETAIL_H

#include <libpq-fe.h>
#include <stddef.h>

#define ALERT_DETAIL_PROVIDERS 3

typedef struct alert_provider_wait {
    char agb[16]; /* 8-digit AGB code of the provider */
    long episodes;
} alert_provider_wait;

typedef struct alert_wait_detail {
    long children;     /* distinct children waiting on the Sunday of the week */
    long episodes;     /* episodes waiting (the series' count) */
    long for_decision; /* requested, not (yet) allocated by that Sunday */
    long for_start;    /* allocated, care not started by that Sunday */
    size_t nproviders; /* providers with most episodes waiting for a start, most first */
    alert_provider_wait providers[ALERT_DETAIL_PROVIDERS];
} alert_wait_detail;

/* Fills d for gemeente, category and the week starting on week_start (YYYY-MM-DD, a Monday).
 * Returns 0, or -1 with errstr. */
int alert_wait_detail_load(PGconn *conn, const char *gemeente, const char *category, const char *week_start,
                           alert_wait_detail *d, char *errstr, size_t errlen);

#endif
