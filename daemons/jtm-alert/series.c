#include "series.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

/* Latest history_weeks complete weeks per series; the view fills empty weeks with 0, so the rows of
 * one series are consecutive weeks. The current week is left out until its Sunday has passed: its
 * count is a part-week figure, and judging it fired on weeks that were not over. */
static const char *const SERIES_SQL =
    "SELECT gemeente, category, week_start::text, waiting FROM ("
    " SELECT gemeente, category, week_start, waiting,"
    "  row_number() OVER (PARTITION BY gemeente, category ORDER BY week_start DESC) AS rn"
    " FROM monitor.waiting_list_weekly"
    " WHERE gemeente IS NOT NULL AND category IS NOT NULL AND week_start IS NOT NULL"
    "  AND week_start + 7 <= current_date) s"
    " WHERE rn <= $1 ORDER BY gemeente, category, week_start";

void alert_series_set_free(alert_series_set *s)
{
    for (size_t i = 0; i < s->count; i++) {
        free(s->items[i].gemeente);
        free(s->items[i].category);
        free(s->items[i].week);
        free(s->items[i].waiting);
    }
    free(s->items);
    memset(s, 0, sizeof *s);
}

int alert_series_load(PGconn *conn, long history_weeks, alert_series_set *out, char *errstr, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char limit[24];
    snprintf(limit, sizeof limit, "%ld", history_weeks);
    const char *params[1] = {limit};
    PGresult *res = PQexecParams(conn, SERIES_SQL, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        int missing = state && strcmp(state, "42P01") == 0;
        jtm_pg_result_error(conn, res, errstr, errlen);
        PQclear(res);
        return missing ? 1 : -1;
    }
    int rows = PQntuples(res);
    /* Count the series first so every array is allocated once. */
    size_t nseries = 0;
    for (int i = 0; i < rows; i++)
        if (i == 0 || strcmp(PQgetvalue(res, i, 0), PQgetvalue(res, i - 1, 0)) != 0 ||
            strcmp(PQgetvalue(res, i, 1), PQgetvalue(res, i - 1, 1)) != 0)
            nseries++;
    out->items = calloc(nseries ? nseries : 1, sizeof *out->items);
    if (!out->items)
        goto oom;
    int start = 0;
    for (size_t k = 0; k < nseries; k++) {
        int end = start + 1;
        while (end < rows && strcmp(PQgetvalue(res, end, 0), PQgetvalue(res, start, 0)) == 0 &&
               strcmp(PQgetvalue(res, end, 1), PQgetvalue(res, start, 1)) == 0)
            end++;
        alert_series *s = &out->items[out->count++];
        s->gemeente = strdup(PQgetvalue(res, start, 0));
        s->category = strdup(PQgetvalue(res, start, 1));
        s->n = (size_t)(end - start);
        s->week = calloc(s->n, sizeof *s->week);
        s->waiting = calloc(s->n, sizeof *s->waiting);
        if (!s->gemeente || !s->category || !s->week || !s->waiting)
            goto oom;
        for (int i = start; i < end; i++) {
            snprintf(s->week[i - start], sizeof s->week[0], "%s", PQgetvalue(res, i, 2));
            s->waiting[i - start] = PQgetisnull(res, i, 3) ? 0 : strtod(PQgetvalue(res, i, 3), NULL);
        }
        start = end;
    }
    PQclear(res);
    return 0;
oom:
    PQclear(res);
    alert_series_set_free(out);
    snprintf(errstr, errlen, "out of memory reading the waiting list");
    return -1;
}
