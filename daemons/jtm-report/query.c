#include "query.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "pg.h"

/* ---- period ---- */

static int parse_ym(const char *s, int *y, int *m)
{
    if (!s || strlen(s) != 7 || s[4] != '-')
        return -1;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (s[i] < '0' || s[i] > '9'))
            return -1;
    *y = atoi(s);
    *m = atoi(s + 5);
    return *y >= 1900 && *y <= 2199 && *m >= 1 && *m <= 12 ? 0 : -1;
}

static void fmt_ym(int months, char out[8]) /* months since year 0, years 0-9999 */
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%04d-%02d", months / 12 % 10000, months % 12 + 1);
    memcpy(out, tmp, 7);
    out[7] = '\0';
}

int jtm_report_set_period(jtm_report *r, const char *from, const char *to, char *errstr, size_t errlen)
{
    int fy, fm, ty, tm;
    if (parse_ym(from, &fy, &fm) != 0 || parse_ym(to, &ty, &tm) != 0) {
        snprintf(errstr, errlen, "--from and --to must be YYYY-MM");
        return -1;
    }
    int a = fy * 12 + fm - 1, b = ty * 12 + tm - 1;
    if (a > b) {
        snprintf(errstr, errlen, "--from is after --to");
        return -1;
    }
    if (b - a + 1 > 120) {
        snprintf(errstr, errlen, "the period is longer than 120 months");
        return -1;
    }
    if (a - (b - a + 1) < 1900 * 12) {
        snprintf(errstr, errlen, "the previous period starts before 1900");
        return -1;
    }
    fmt_ym(a, r->from);
    fmt_ym(b, r->to);
    fmt_ym(a - (b - a + 1), r->prev_from);
    fmt_ym(a - 1, r->prev_to);
    return 0;
}

void jtm_report_default_period(jtm_report *r)
{
    jtm_date t = jtm_date_today();
    int last = t.year * 12 + t.month - 1; /* this month: the latest waiting-list weeks and alarms are in */
    char from[8], to[8], err[64];
    fmt_ym(last - 11, from);
    fmt_ym(last, to);
    jtm_report_set_period(r, from, to, err, sizeof err);
}

int jtm_report_gemeente_ok(const char *s)
{
    if (!s || strlen(s) != 6 || s[0] != 'G' || s[1] != 'M')
        return 0;
    for (int i = 2; i < 6; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* Months in the period, for monthly averages. */
static int period_months(const char *from, const char *to)
{
    int fy, fm, ty, tm;
    if (parse_ym(from, &fy, &fm) != 0 || parse_ym(to, &ty, &tm) != 0)
        return 1;
    return (ty * 12 + tm) - (fy * 12 + fm) + 1;
}

/* ---- queries ---- */

/* The parameters every query gets: $1 gemeente (NULL: region), $2 first day, $3 first day after,
 * $4 months in the period. */
typedef struct qparams {
    const char *v[4];
    char from[32], until[32], months[16];
    const char *schema; /* a municipality login's own schema (gm0505), or "" (docs/access.md) */
} qparams;

/* A municipality login reads no wh or monitor relation: its schema gmNNNN holds its own partitions
 * and views with the same names. "" for every other login. */
static const char sql_own_schema[] =
    "SELECT CASE WHEN has_schema_privilege('wh', 'USAGE') THEN '' ELSE coalesce((SELECT min(nspname) "
    "FROM pg_namespace WHERE nspname ~ '^gm[0-9]{4}$' AND has_schema_privilege(oid, 'USAGE') "
    "HAVING count(*) = 1), '') END";

/* sql with every wh. and monitor. relation read from schema instead (schema: [a-z0-9]). */
static char *in_schema(const char *sql, const char *schema)
{
    size_t cap = strlen(sql) * 2 + 1, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *p = sql; *p;) {
        size_t skip = 0;
        if (p == sql || !(p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= '0' && p[-1] <= '9'))) {
            if (strncmp(p, "wh.", 3) == 0)
                skip = 2;
            else if (strncmp(p, "monitor.", 8) == 0)
                skip = 7;
        }
        if (skip) {
            len += (size_t)snprintf(out + len, cap - len, "%s", schema);
            p += skip;
        } else {
            out[len++] = *p++;
        }
        out[len] = '\0';
    }
    return out;
}

static void qparams_set(qparams *q, const char *gemeente, const char *from_ym, const char *to_ym)
{
    int ty, tm;
    snprintf(q->from, sizeof q->from, "%s-01", from_ym);
    parse_ym(to_ym, &ty, &tm);
    int next = ty * 12 + tm; /* month after, 0-based */
    snprintf(q->until, sizeof q->until, "%04d-%02d-01", next / 12, next % 12 + 1);
    snprintf(q->months, sizeof q->months, "%d", period_months(from_ym, to_ym));
    q->v[0] = gemeente;
    q->v[1] = q->from;
    q->v[2] = q->until;
    q->v[3] = q->months;
    q->schema = "";
}

static PGresult *run(PGconn *c, const char *sql, const qparams *q, char *errstr, size_t errlen)
{
    char *own = q->schema && *q->schema ? in_schema(sql, q->schema) : NULL;
    PGresult *res = PQexecParams(c, own ? own : sql, 4, NULL, q->v, NULL, NULL, 0);
    free(own);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(c, res, errstr, errlen);
        PQclear(res);
        return NULL;
    }
    return res;
}

/* Every statement declares its parameter types, so each is usable whether or not it uses all four. */
#define P_DECL "WITH p AS (SELECT $1::text AS g, $2::date AS d0, $3::date AS d1, $4::integer AS months) "

static const char sql_routes[] = P_DECL
    "SELECT r.path, count(*) FROM wh.route r, p "
    "WHERE coalesce(r.path, '') <> '' AND (p.g IS NULL OR r.gemeente = p.g) "
    "AND least(r.first_signal_on, r.first_care_on) >= p.d0 AND least(r.first_signal_on, r.first_care_on) < p.d1 "
    "GROUP BY r.path ORDER BY r.path";

static const char sql_waiting[] = P_DECL
    "SELECT w.category, w.week_start::text, sum(w.waiting)::bigint FROM monitor.waiting_list_weekly w, p "
    "WHERE (p.g IS NULL OR w.gemeente = p.g) AND w.week_start >= date_trunc('week', p.d0::timestamp)::date "
    "AND w.week_start < p.d1 AND w.category IS NOT NULL "
    "GROUP BY 1, 2 ORDER BY 1, 2";

/* From the catalog, by oid: naming ops.alert to has_table_privilege would fail for a login
 * without USAGE on ops (analysts and municipalities). */
static const char sql_alerts_exist[] =
    "SELECT coalesce((SELECT has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT') "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'ops' AND c.relname = 'alert'), false)";

/* Alarm weeks, firing spans and the bounds the alerter recorded, per category. For the region the
 * bound is left out: it belongs to one municipality's series. */
static const char sql_alerts[] = P_DECL
    "SELECT a.category, a.week::text, CASE WHEN p.g IS NULL THEN NULL ELSE a.upper_bound END, "
    "coalesce(a.resolved_week::text, ''), CASE WHEN p.g IS NULL THEN NULL ELSE a.resolved_upper_bound END "
    "FROM ops.alert a, p WHERE (p.g IS NULL OR a.gemeente = p.g) AND a.week < p.d1 "
    "AND coalesce(a.resolved_week, 'infinity'::date) >= date_trunc('week', p.d0::timestamp)::date "
    "ORDER BY a.category, a.week";

static const char sql_decision[] = P_DECL
    "SELECT e.category, to_char(date_trunc('quarter', e.allocated_on::timestamp), 'YYYY-\"Q\"Q'), count(*), "
    "percentile_cont(0.25) WITHIN GROUP (ORDER BY e.decision_days), "
    "percentile_cont(0.5) WITHIN GROUP (ORDER BY e.decision_days), "
    "percentile_cont(0.75) WITHIN GROUP (ORDER BY e.decision_days) "
    "FROM wh.care_episode e, p WHERE e.decision_days IS NOT NULL AND e.category IS NOT NULL "
    "AND (p.g IS NULL OR e.gemeente = p.g) AND e.allocated_on >= p.d0 AND e.allocated_on < p.d1 "
    "GROUP BY 1, 2 ORDER BY 1, 2";

static const char sql_start[] = P_DECL
    "SELECT e.category, to_char(date_trunc('quarter', e.started_on::timestamp), 'YYYY-\"Q\"Q'), count(*), "
    "percentile_cont(0.25) WITHIN GROUP (ORDER BY e.start_days), "
    "percentile_cont(0.5) WITHIN GROUP (ORDER BY e.start_days), "
    "percentile_cont(0.75) WITHIN GROUP (ORDER BY e.start_days) "
    "FROM wh.care_episode e, p WHERE e.start_days IS NOT NULL AND e.category IS NOT NULL "
    "AND (p.g IS NULL OR e.gemeente = p.g) AND e.started_on >= p.d0 AND e.started_on < p.d1 "
    "GROUP BY 1, 2 ORDER BY 1, 2";

static const char sql_has_pc4[] =
    "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'wh' "
    "AND table_name = 'population_month' AND column_name = 'pc4')";

/* %s: the district column, pc4 or gemeente (a fixed identifier, never data). */
static const char sql_population_fmt[] = P_DECL
    "SELECT m.%s, m.age_band, "
    "round(sum(m.children_seen_by_jgz)::numeric / p.months)::bigint, "
    "round(sum(m.children_with_absence)::numeric / p.months)::bigint, "
    "round(sum(m.children_in_care)::numeric / p.months)::bigint, "
    "round(sum(m.children_in_residential_care)::numeric / p.months)::bigint, "
    "round(sum(m.new_care_starts)::numeric / p.months)::bigint "
    "FROM wh.population_month m, p WHERE (p.g IS NULL OR m.gemeente = p.g) AND m.month >= p.d0 AND m.month < p.d1 "
    "AND m.%s IS NOT NULL GROUP BY 1, 2, p.months ORDER BY 1, 2";

/* Indicators: each query returns (have, num, den, value) for one period; definitions follow the
 * monitor.*_month views of schemas/sql/0005_monitor.sql, over the whole period at once. */
typedef struct ind_def {
    int goal;
    jtm_msg label;
    rpt_kind kind;
    const char *sql;
} ind_def;

static const ind_def indicators[] = {
    {1, M_IND_JGZ_SEEN, RPT_COUNT,
     P_DECL "SELECT count(*) > 0, coalesce(round(sum(v.children_seen_by_jgz)::numeric / p.months), 0)::bigint, 0, 0 "
            "FROM monitor.prevention_month v, p WHERE (p.g IS NULL OR v.gemeente = p.g) "
            "AND v.month >= p.d0 AND v.month < p.d1 GROUP BY p.months"},
    {1, M_IND_EARLY_SIGNAL, RPT_SHARE,
     P_DECL "SELECT true, count(r.days_signal_to_care), count(*), 0 FROM wh.route r, p "
            "WHERE (p.g IS NULL OR r.gemeente = p.g) AND r.first_care_on >= p.d0 AND r.first_care_on < p.d1"},
    {2, M_IND_REF_MEDICAL, RPT_SHARE,
     P_DECL "SELECT true, count(*) FILTER (WHERE e.referrer IN ('02', '05')), count(*), 0 FROM wh.care_episode e, p "
            "WHERE (p.g IS NULL OR e.gemeente = p.g) AND e.allocated_on >= p.d0 AND e.allocated_on < p.d1 "
            "AND e.referrer IS NOT NULL"},
    {2, M_IND_REF_LOCAL, RPT_SHARE,
     P_DECL "SELECT true, count(*) FILTER (WHERE e.referrer IN ('01', '03')), count(*), 0 FROM wh.care_episode e, p "
            "WHERE (p.g IS NULL OR e.gemeente = p.g) AND e.allocated_on >= p.d0 AND e.allocated_on < p.d1 "
            "AND e.referrer IS NOT NULL"},
    {3, M_IND_SIGNAL_TO_CARE, RPT_DAYS,
     P_DECL "SELECT true, count(*), 0, coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY r.days_signal_to_care), 0) "
            "FROM wh.route r, p WHERE (p.g IS NULL OR r.gemeente = p.g) AND r.days_signal_to_care IS NOT NULL "
            "AND r.first_care_on >= p.d0 AND r.first_care_on < p.d1"},
    {3, M_IND_DECISION_MEDIAN, RPT_DAYS,
     P_DECL "SELECT true, count(*), 0, coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY e.decision_days), 0) "
            "FROM wh.care_episode e, p WHERE (p.g IS NULL OR e.gemeente = p.g) AND e.decision_days IS NOT NULL "
            "AND e.allocated_on >= p.d0 AND e.allocated_on < p.d1"},
    {3, M_IND_START_MEDIAN, RPT_DAYS,
     P_DECL "SELECT true, count(*), 0, coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY e.start_days), 0) "
            "FROM wh.care_episode e, p WHERE (p.g IS NULL OR e.gemeente = p.g) AND e.start_days IS NOT NULL "
            "AND e.started_on >= p.d0 AND e.started_on < p.d1"},
    {3, M_IND_WAITING_END, RPT_COUNT,
     /* one pass over the view (it is computed whole on every read): the last week's total */
     P_DECL "SELECT true, x.total, 0, 0 FROM (SELECT w.week_start, sum(w.waiting)::bigint AS total "
            "FROM monitor.waiting_list_weekly w, p WHERE (p.g IS NULL OR w.gemeente = p.g) "
            "AND w.week_start < p.d1 AND w.week_start >= date_trunc('week', p.d0::timestamp)::date "
            "GROUP BY w.week_start ORDER BY w.week_start DESC LIMIT 1) x"},
    {3, M_IND_RESIDENTIAL, RPT_SHARE,
     P_DECL "SELECT true, count(*) FILTER (WHERE e.category IN ('43', '44')), count(*), 0 FROM wh.care_episode e, p "
            "WHERE (p.g IS NULL OR e.gemeente = p.g) AND e.started_on >= p.d0 AND e.started_on < p.d1"},
    {3, M_IND_REPEAT, RPT_SHARE,
     P_DECL "SELECT true, count(*) FILTER (WHERE EXISTS (SELECT 1 FROM wh.care_episode a WHERE a.pid = b.pid "
            "AND a.ended_on IS NOT NULL AND b.started_on > a.ended_on "
            "AND b.started_on <= a.ended_on + interval '5 years')), count(*), 0 FROM wh.care_episode b, p "
            "WHERE (p.g IS NULL OR b.gemeente = p.g) AND b.started_on >= p.d0 AND b.started_on < p.d1"},
    {4, M_IND_MULTI_PROVIDER, RPT_COUNT,
     P_DECL ", ep AS (SELECT e.pid, e.gemeente, e.provider_agb, e.started_on AS s, "
            "coalesce(e.ended_on, current_date) AS e FROM wh.care_episode e, p WHERE e.started_on IS NOT NULL "
            "AND e.provider_agb IS NOT NULL AND (p.g IS NULL OR e.gemeente = p.g)) "
            "SELECT true, count(DISTINCT a.pid), 0, 0 FROM ep a JOIN ep b ON b.pid = a.pid "
            "AND a.provider_agb < b.provider_agb, p WHERE greatest(a.s, b.s) <= least(a.e, b.e) "
            "AND greatest(a.s, b.s) < p.d1 AND least(a.e, b.e) >= p.d0"},
    {4, M_IND_CROSS_FEED, RPT_SHARE,
     P_DECL "SELECT true, count(*) FILTER (WHERE ('>' || r.path || '>') ~ '>(JGZ|VERZUIM)>' "
            "AND ('>' || r.path || '>') ~ '>(AMB|GGZ|VERBLIJF|CRISIS|JB|JR|OVERIG)>' "
            "OR (('>' || r.path || '>') ~ '>JGZ>' AND ('>' || r.path || '>') ~ '>VERZUIM>')), count(*), 0 "
            "FROM wh.route r, p WHERE (p.g IS NULL OR r.gemeente = p.g) AND coalesce(r.path, '') <> '' "
            "AND least(r.first_signal_on, r.first_care_on) >= p.d0 AND least(r.first_signal_on, r.first_care_on) < p.d1"},
    {5, M_IND_PLANNED_END, RPT_SHARE,
     P_DECL "SELECT true, count(*) FILTER (WHERE e.end_reason = '31'), count(*), 0 FROM wh.care_episode e, p "
            "WHERE (p.g IS NULL OR e.gemeente = p.g) AND e.ended_on >= p.d0 AND e.ended_on < p.d1 "
            "AND e.end_reason IN ('31', '32', '33', '34', '35')"},
};

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

static void copy_field(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

static int load_routes(PGconn *c, jtm_report *r, const qparams *q, char *errstr, size_t errlen)
{
    PGresult *res = run(c, sql_routes, q, errstr, errlen);
    if (!res)
        return -1;
    int n = PQntuples(res);
    r->routes = xcalloc((size_t)n, sizeof *r->routes);
    for (int i = 0; i < n; i++) {
        r->routes[i].path = strdup(PQgetvalue(res, i, 0));
        if (!r->routes[i].path)
            abort();
        r->routes[i].children = atol(PQgetvalue(res, i, 1));
        r->n_routes++;
    }
    PQclear(res);
    return 0;
}

static rpt_series *series_for(jtm_report *r, const char *category)
{
    for (size_t s = 0; s < r->n_waiting; s++)
        if (strcmp(r->waiting[s].category, category) == 0)
            return &r->waiting[s];
    return NULL;
}

static int load_waiting(PGconn *c, jtm_report *r, const qparams *q, char *errstr, size_t errlen)
{
    PGresult *res = run(c, sql_waiting, q, errstr, errlen);
    if (!res)
        return -1;
    int n = PQntuples(res);
    /* Rows come sorted by category: one series per run of equal categories. */
    r->waiting = xcalloc((size_t)n, sizeof *r->waiting);
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && strcmp(PQgetvalue(res, j, 0), PQgetvalue(res, i, 0)) == 0)
            j++;
        rpt_series *s = &r->waiting[r->n_waiting++];
        copy_field(s->category, sizeof s->category, PQgetvalue(res, i, 0));
        s->weeks = xcalloc((size_t)(j - i), sizeof *s->weeks);
        for (int k = i; k < j; k++) {
            rpt_week *w = &s->weeks[s->n++];
            copy_field(w->week_start, sizeof w->week_start, PQgetvalue(res, k, 1));
            w->waiting = atol(PQgetvalue(res, k, 2));
            w->upper = NAN;
        }
        i = j;
    }
    PQclear(res);

    res = PQexec(c, sql_alerts_exist);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(c, res, errstr, errlen);
        PQclear(res);
        return -1;
    }
    r->alerts_available = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!r->alerts_available)
        return 0;
    res = run(c, sql_alerts, q, errstr, errlen);
    if (!res)
        return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        rpt_series *s = series_for(r, PQgetvalue(res, i, 0));
        if (!s)
            continue;
        const char *week = PQgetvalue(res, i, 1), *resolved = PQgetvalue(res, i, 3);
        for (size_t k = 0; k < s->n; k++) {
            rpt_week *w = &s->weeks[k];
            int cmp = strcmp(w->week_start, week);
            if (cmp == 0) {
                w->alarm = true;
                if (!PQgetisnull(res, i, 2))
                    w->upper = atof(PQgetvalue(res, i, 2));
            }
            if (cmp >= 0 && (!*resolved || strcmp(w->week_start, resolved) < 0))
                w->firing = true;
            if (*resolved && strcmp(w->week_start, resolved) == 0 && !PQgetisnull(res, i, 4))
                w->upper = atof(PQgetvalue(res, i, 4));
        }
    }
    PQclear(res);
    return 0;
}

static int load_days(PGconn *c, const char *sql, rpt_days **out, size_t *n_out, const qparams *q, char *errstr,
                     size_t errlen)
{
    PGresult *res = run(c, sql, q, errstr, errlen);
    if (!res)
        return -1;
    int n = PQntuples(res);
    *out = xcalloc((size_t)n, sizeof **out);
    for (int i = 0; i < n; i++) {
        rpt_days *d = &(*out)[i];
        copy_field(d->category, sizeof d->category, PQgetvalue(res, i, 0));
        copy_field(d->quarter, sizeof d->quarter, PQgetvalue(res, i, 1));
        d->n = atol(PQgetvalue(res, i, 2));
        d->q1 = atof(PQgetvalue(res, i, 3));
        d->median = atof(PQgetvalue(res, i, 4));
        d->q3 = atof(PQgetvalue(res, i, 5));
    }
    *n_out = (size_t)n;
    PQclear(res);
    return 0;
}

static int load_value(PGconn *c, const char *sql, const qparams *q, rpt_value *v, char *errstr, size_t errlen)
{
    PGresult *res = run(c, sql, q, errstr, errlen);
    if (!res)
        return -1;
    memset(v, 0, sizeof *v);
    if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
        v->have = true;
        v->num = atol(PQgetvalue(res, 0, 1));
        v->den = atol(PQgetvalue(res, 0, 2));
        v->value = atof(PQgetvalue(res, 0, 3));
    }
    PQclear(res);
    return 0;
}

static int load_population(PGconn *c, jtm_report *r, const qparams *q, char *errstr, size_t errlen)
{
    PGresult *res = PQexec(c, sql_has_pc4);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(c, res, errstr, errlen);
        PQclear(res);
        return -1;
    }
    r->population_by_pc4 = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    const char *col = r->population_by_pc4 ? "pc4" : "gemeente";
    char sql[sizeof sql_population_fmt + 32];
    snprintf(sql, sizeof sql, sql_population_fmt, col, col);
    res = run(c, sql, q, errstr, errlen);
    if (!res)
        return -1;
    int n = PQntuples(res);
    r->population = xcalloc((size_t)n, sizeof *r->population);
    for (int i = 0; i < n; i++) {
        rpt_pop *p = &r->population[r->n_population++];
        copy_field(p->district, sizeof p->district, PQgetvalue(res, i, 0));
        copy_field(p->age_band, sizeof p->age_band, PQgetvalue(res, i, 1));
        for (int k = 0; k < RPT_POP_MEASURES; k++)
            p->v[k] = atol(PQgetvalue(res, i, 2 + k));
    }
    PQclear(res);
    return 0;
}

int jtm_report_min_cell(PGconn *conn, char *errstr, size_t errlen)
{
    PGresult *res = PQexec(conn, "SELECT CASE WHEN coalesce((SELECT bool_or(has_schema_privilege(n.oid, 'USAGE') "
                                 "AND has_function_privilege(p.oid, 'EXECUTE')) FROM pg_proc p "
                                 "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'research' "
                                 "AND p.proname = 'min_cell' AND p.pronargs = 0), false) THEN 1 ELSE 0 END");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(conn, res, errstr, errlen);
        PQclear(res);
        return -1;
    }
    bool have = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
    PQclear(res);
    if (!have)
        return 10;
    res = PQexec(conn, "SELECT research.min_cell()");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* The function exists but cannot be used (no access to research.settings): the default. */
        PQclear(res);
        return 10;
    }
    int v = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v >= 2 ? v : 10;
}

int jtm_report_load(PGconn *conn, jtm_report *r, char *errstr, size_t errlen)
{
    int rc = -1;
    if (jtm_pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", errstr, errlen) != 0)
        return -1;
    qparams cur, prev;
    qparams_set(&cur, r->gemeente, r->from, r->to);
    qparams_set(&prev, r->gemeente, r->prev_from, r->prev_to);
    char schema[16] = "";
    PGresult *own = PQexec(conn, sql_own_schema);
    if (PQresultStatus(own) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(conn, own, errstr, errlen);
        PQclear(own);
        goto out;
    }
    snprintf(schema, sizeof schema, "%s", PQgetvalue(own, 0, 0));
    PQclear(own);
    cur.schema = prev.schema = schema;
    if (load_routes(conn, r, &cur, errstr, errlen) != 0 || load_waiting(conn, r, &cur, errstr, errlen) != 0 ||
        load_days(conn, sql_decision, &r->decision, &r->n_decision, &cur, errstr, errlen) != 0 ||
        load_days(conn, sql_start, &r->start, &r->n_start, &cur, errstr, errlen) != 0 ||
        load_population(conn, r, &cur, errstr, errlen) != 0)
        goto out;
    size_t n = sizeof indicators / sizeof indicators[0];
    r->indicators = xcalloc(n, sizeof *r->indicators);
    for (size_t i = 0; i < n; i++) {
        rpt_indicator *ind = &r->indicators[i];
        ind->goal = indicators[i].goal;
        ind->label = indicators[i].label;
        ind->kind = indicators[i].kind;
        r->n_indicators++;
        if (load_value(conn, indicators[i].sql, &cur, &ind->cur, errstr, errlen) != 0 ||
            load_value(conn, indicators[i].sql, &prev, &ind->prev, errstr, errlen) != 0)
            goto out;
    }
    rc = 0;
out:
    {
        char e2[256];
        jtm_pg_exec(conn, rc == 0 ? "COMMIT" : "ROLLBACK", e2, sizeof e2);
    }
    return rc;
}
