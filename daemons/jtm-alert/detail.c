#include "detail.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

/* The episodes waiting on the Sunday ($3 + 6) exactly as monitor.waiting_list_weekly counts them
 * (waiting_from <= Sunday < waiting_until), each with its allocation as known by that Sunday. An
 * episode_waiting row is the waiting span of one care episode, keyed by child, municipality,
 * category and waiting_from (requested_on, or allocated_on without a request). */
#define WAITING_CTE                                                                                    \
    "WITH w AS ("                                                                                      \
    " SELECT ew.pid, CASE WHEN e.allocated_on <= $3::date + 6 THEN e.provider_agb END AS start_wait_at" \
    " FROM wh.episode_waiting ew"                                                                      \
    " LEFT JOIN LATERAL (SELECT ce.allocated_on, ce.provider_agb FROM wh.care_episode ce"              \
    "   WHERE ce.pid = ew.pid AND ce.gemeente = ew.gemeente AND ce.category = ew.category"             \
    "     AND coalesce(ce.requested_on, ce.allocated_on) = ew.waiting_from"                            \
    "   ORDER BY ce.allocated_on NULLS LAST LIMIT 1) e ON true"                                        \
    " WHERE ew.gemeente = $1 AND ew.category = $2 AND ew.waiting_from <= $3::date + 6"                 \
    "   AND (ew.waiting_until IS NULL OR ew.waiting_until > $3::date + 6))"

static const char *const COUNTS_SQL =
    WAITING_CTE " SELECT count(DISTINCT pid), count(*), count(*) FILTER (WHERE start_wait_at IS NULL),"
                " count(*) FILTER (WHERE start_wait_at IS NOT NULL),"
                " (SELECT coalesce(json_agg(json_build_array(agb, n) ORDER BY n DESC, agb), '[]')::text FROM ("
                "   SELECT start_wait_at AS agb, count(*) AS n FROM w WHERE start_wait_at IS NOT NULL"
                "   GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $4) p)"
                " FROM w";

/* Reads the providers' JSON array [["12345678", 20], ...] written by COUNTS_SQL. */
static int parse_providers(const char *text, alert_wait_detail *d)
{
    json_t *a = json_loads(text, 0, NULL);
    if (!json_is_array(a)) {
        json_decref(a);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(a) && d->nproviders < ALERT_DETAIL_PROVIDERS; i++) {
        json_t *e = json_array_get(a, i);
        const char *agb = json_string_value(json_array_get(e, 0));
        if (!agb)
            continue;
        alert_provider_wait *pw = &d->providers[d->nproviders++];
        snprintf(pw->agb, sizeof pw->agb, "%s", agb);
        pw->episodes = (long)json_integer_value(json_array_get(e, 1));
    }
    json_decref(a);
    return 0;
}

int alert_wait_detail_load(PGconn *conn, const char *gemeente, const char *category, const char *week_start,
                           alert_wait_detail *d, char *errstr, size_t errlen)
{
    memset(d, 0, sizeof *d);
    char limit[8];
    snprintf(limit, sizeof limit, "%d", ALERT_DETAIL_PROVIDERS);
    const char *params[4] = {gemeente, category, week_start, limit};
    PGresult *res = PQexecParams(conn, COUNTS_SQL, 4, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        jtm_pg_result_error(conn, res, errstr, errlen);
        PQclear(res);
        return -1;
    }
    d->children = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    d->episodes = strtol(PQgetvalue(res, 0, 1), NULL, 10);
    d->for_decision = strtol(PQgetvalue(res, 0, 2), NULL, 10);
    d->for_start = strtol(PQgetvalue(res, 0, 3), NULL, 10);
    int rc = parse_providers(PQgetvalue(res, 0, 4), d);
    PQclear(res);
    if (rc != 0)
        snprintf(errstr, errlen, "unexpected provider list from the waiting-list detail query");
    return rc;
}
