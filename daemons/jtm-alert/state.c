#include "state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detail.h"
#include "episode.h"
#include "labels.h"
#include "log.h"
#include "payload.h"
#include "pg.h"
#include "series.h"

/* alert.farrington: "PRESET[,name=value...]", e.g. "noufaily,b=2". */
static int farrington_from_config(jtm_farrington_params *p, const char *spec, char *errstr, size_t errlen)
{
    jtm_farrington_defaults(p);
    char *copy = strdup(spec ? spec : ""), *save = NULL;
    if (!copy) {
        snprintf(errstr, errlen, "out of memory");
        return -1;
    }
    int rc = 0, first = 1;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0; item = strtok_r(NULL, ",", &save), first = 0) {
        char *eq = strchr(item, '=');
        if (!eq) {
            if (!first) {
                snprintf(errstr, errlen, "alert.farrington: %s: expected name=value after the preset", item);
                rc = -1;
            } else {
                rc = jtm_farrington_preset(p, item, errstr, errlen);
            }
            continue;
        }
        *eq = '\0';
        rc = jtm_farrington_set(p, item, eq + 1, errstr, errlen);
    }
    free(copy);
    return rc != 0 ? -1 : jtm_farrington_check(p, errstr, errlen);
}

int alert_rules_init(alert_rules *r, const alert_config *cfg, char *errstr, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->min_count = (double)cfg->min_count;
    r->report_url = cfg->report_url;
    r->history_weeks = (long)cfg->history_weeks;
    r->series_weeks = (long)cfg->series_weeks;
    if (strcasecmp(cfg->method, "farrington") == 0) {
        r->farrington = 1;
        return farrington_from_config(&r->far, cfg->farrington, errstr, errlen);
    }
    if (jtm_ears_method_parse(cfg->method, &r->ears.method) != 0) {
        snprintf(errstr, errlen, "alert.method must be C1, C2, C3 or farrington");
        return -1;
    }
    r->ears.alpha = cfg->alpha;
    r->ears.baseline = (int)cfg->baseline;
    r->ears.min_sigma = cfg->min_sigma;
    return jtm_ears_params_resolve(&r->ears, errstr, errlen);
}

long alert_detect(const alert_rules *r, const double *x, size_t n, double *upper, int *alarm, char *errstr,
                  size_t errlen)
{
    if (r->farrington)
        return jtm_farrington_run(&r->far, x, n, upper, alarm, errstr, errlen);
    return jtm_ears_run(&r->ears, x, n, upper, alarm, errstr, errlen);
}

size_t alert_detect_first(const alert_rules *r)
{
    return r->farrington ? jtm_farrington_first(&r->far) : jtm_ears_first(&r->ears);
}

const char *alert_method_name(const alert_rules *r)
{
    return r->farrington ? "farrington" : jtm_ears_method_name(r->ears.method);
}

typedef struct firing {
    char *gemeente, *category, *week;
    char *id;
} firing;

typedef struct firing_set {
    firing *items;
    size_t count;
} firing_set;

static void firing_set_free(firing_set *f)
{
    for (size_t i = 0; i < f->count; i++) {
        free(f->items[i].gemeente);
        free(f->items[i].category);
        free(f->items[i].week);
        free(f->items[i].id);
    }
    free(f->items);
}

static int load_firing(PGconn *conn, const char *method, firing_set *out, char *errstr, size_t errlen)
{
    const char *params[1] = {method};
    PGresult *res = PQexecParams(conn,
                                 "SELECT id::text, gemeente, category, week::text FROM ops.alert"
                                 " WHERE method = $1 AND status = 'firing'",
                                 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(conn, res, errstr, errlen);
        PQclear(res);
        return -1;
    }
    int n = PQntuples(res);
    out->items = calloc((size_t)n + 1, sizeof *out->items);
    if (!out->items)
        abort();
    for (int i = 0; i < n; i++) {
        firing *f = &out->items[out->count++];
        f->id = strdup(PQgetvalue(res, i, 0));
        f->gemeente = strdup(PQgetvalue(res, i, 1));
        f->category = strdup(PQgetvalue(res, i, 2));
        f->week = strdup(PQgetvalue(res, i, 3));
        if (!f->id || !f->gemeente || !f->category || !f->week)
            abort();
    }
    PQclear(res);
    return 0;
}

static const firing *find_firing(const firing_set *f, const char *gemeente, const char *category)
{
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->items[i].gemeente, gemeente) == 0 && strcmp(f->items[i].category, category) == 0)
            return &f->items[i];
    return NULL;
}

static void fmt_double(char *buf, size_t len, double v) { snprintf(buf, len, "%.17g", v); }

/* The report link of gemeente: the template with each {gemeente} replaced; NULL without a template.
 * Caller frees. */
static char *report_link(const char *tmpl, const char *gemeente)
{
    if (!tmpl || !*tmpl)
        return NULL;
    size_t n = 0;
    for (const char *p = tmpl; (p = strstr(p, "{gemeente}")) != NULL; p += 10)
        n++;
    char *out = malloc(strlen(tmpl) + n * strlen(gemeente) + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{gemeente}", 10) == 0) {
            o = stpcpy(o, gemeente);
            p += 10;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

/* The notice body for the latest week of s, with who waits in that week. Returns NULL with errstr. */
static char *notice_body(PGconn *conn, const alert_rules *rules, const alert_series *s, const double *upper,
                         const char *status, const char *key, char *errstr, size_t errlen)
{
    size_t last = s->n - 1;
    size_t k = (size_t)rules->series_weeks < s->n ? (size_t)rules->series_weeks : s->n;
    alert_wait_detail detail;
    if (alert_wait_detail_load(conn, s->gemeente, s->category, s->week[last], &detail, errstr, errlen) != 0)
        return NULL;
    /* The detail is read after the series: when the linker changed the list in between, the two
     * would disagree, and a notice must not contradict itself. The next evaluation has both. */
    int consistent = detail.episodes == (long)s->waiting[last];
    if (!consistent)
        log_info("notice_without_detail", "gemeente=%s category=%s week=%s series=%.0f detail=%ld", s->gemeente,
                 s->category, s->week[last], s->waiting[last], detail.episodes);
    char *link = report_link(rules->report_url, s->gemeente);
    alert_notice n = {
        .gemeente = s->gemeente,
        .category = s->category,
        .method = alert_method_name(rules),
        .week = s->week[last],
        .status = status,
        .observed = s->waiting[last],
        .upper_bound = upper[last],
        .idempotency_key = key,
        .n = k,
        .weeks = s->week + (s->n - k),
        .waiting = s->waiting + (s->n - k),
        .upper = upper + (s->n - k),
        .gemeente_name = jtm_label_gemeente(s->gemeente),
        .category_label = jtm_label_category(JTM_LABEL_NL, s->category),
        .detail = consistent ? &detail : NULL,
        .report_url = link,
    };
    char *body = alert_notice_json(&n);
    free(link);
    if (!body)
        snprintf(errstr, errlen, "cannot build the notice");
    return body;
}

static int rollback_error(PGconn *conn, PGresult *res, char *errstr, size_t errlen)
{
    jtm_pg_result_error(conn, res, errstr, errlen);
    PQclear(res);
    char ignore[64];
    jtm_pg_exec(conn, "ROLLBACK", ignore, sizeof ignore);
    return -1;
}

static int insert_one(PGconn *conn, const char *alert_id, const char *kind, const char *gemeente, const char *key,
                      const char *body, const char *channel, char *errstr, size_t errlen)
{
    const char *params[6] = {alert_id, kind, gemeente, key, body, channel};
    PGresult *res = PQexecParams(conn,
                                 "INSERT INTO ops.alert_delivery (alert_id, kind, gemeente, idempotency_key, body, channel)"
                                 " VALUES ($1, $2, $3, $4, $5, $6)",
                                 6, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        return rollback_error(conn, res, errstr, errlen);
    PQclear(res);
    return 0;
}

/* Queues the notice on every channel the municipality's route has: a webhook when a route has a
 * url, an e-mail when one has addresses. With no route at all the webhook delivery is still queued,
 * and fails visibly as "no route" (deliver.c). */
static int insert_delivery(PGconn *conn, const alert_rules *rules, const char *alert_id, const char *kind,
                           const char *gemeente, const char *key, const char *body, char *errstr, size_t errlen)
{
    int email = rules->routes && alert_routes_find_email(rules->routes, gemeente) != NULL;
    int webhook = !rules->routes || alert_routes_find_webhook(rules->routes, gemeente) != NULL || !email;
    if (webhook && insert_one(conn, alert_id, kind, gemeente, key, body, "webhook", errstr, errlen) != 0)
        return -1;
    if (email && insert_one(conn, alert_id, kind, gemeente, key, body, "email", errstr, errlen) != 0)
        return -1;
    return 0;
}

/* Starts an episode for the latest week of s and queues its firing notice, in one transaction.
 * Returns 1 when started, 2 when a silence held it (recorded as 'silenced', nothing queued), 0 when
 * this week already had an episode, -1 on error. */
static int fire(PGconn *conn, const alert_rules *rules, const alert_series *s, const double *upper, char *errstr,
                size_t errlen)
{
    size_t last = s->n - 1;
    const char *method = alert_method_name(rules);
    char obs[40], ub[40], key[33];
    fmt_double(obs, sizeof obs, s->waiting[last]);
    fmt_double(ub, sizeof ub, upper[last]);
    alert_idempotency_key(s->gemeente, s->category, method, s->week[last], "firing", key);
    char *body = notice_body(conn, rules, s, upper, "firing", key, errstr, errlen);
    if (!body)
        return -1;
    int rc = -1;
    if (jtm_pg_exec(conn, "BEGIN", errstr, errlen) != 0)
        goto out;
    /* Under an active silence the alarm is recorded as 'silenced' and no notice is queued. */
    const char *params[6] = {s->gemeente, s->category, method, s->week[last], obs, ub};
    PGresult *res = PQexecParams(conn,
                                 "INSERT INTO ops.alert (gemeente, category, method, week, observed, upper_bound, status)"
                                 " SELECT $1, $2, $3, $4, $5, $6, CASE WHEN EXISTS (SELECT 1 FROM ops.alert_silence z"
                                 "  WHERE z.gemeente = $1 AND (z.category IS NULL OR z.category = $2)"
                                 "  AND z.until >= current_date AND z.lifted_at IS NULL) THEN 'silenced' ELSE 'firing' END"
                                 " ON CONFLICT DO NOTHING RETURNING id::text, status",
                                 6, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rollback_error(conn, res, errstr, errlen);
        goto out;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        rc = jtm_pg_exec(conn, "ROLLBACK", errstr, errlen) == 0 ? 0 : -1;
        goto out;
    }
    char id[32];
    snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    int silenced = strcmp(PQgetvalue(res, 0, 1), "silenced") == 0;
    PQclear(res);
    if (!silenced && insert_delivery(conn, rules, id, "firing", s->gemeente, key, body, errstr, errlen) != 0)
        goto out;
    if (jtm_pg_exec(conn, "COMMIT", errstr, errlen) != 0)
        goto out;
    rc = silenced ? 2 : 1;
out:
    free(body);
    return rc;
}

/* Resolves episode f with the latest week of s and queues its resolved notice, in one transaction.
 * Returns 1 when resolved, 0 when it was no longer firing, -1 on error. */
static int resolve(PGconn *conn, const alert_rules *rules, const firing *f, const alert_series *s,
                   const double *upper, char *errstr, size_t errlen)
{
    size_t last = s->n - 1;
    const char *method = alert_method_name(rules);
    char obs[40], ub[40], key[33];
    fmt_double(obs, sizeof obs, s->waiting[last]);
    fmt_double(ub, sizeof ub, upper[last]);
    alert_idempotency_key(s->gemeente, s->category, method, f->week, "resolved", key);
    char *body = notice_body(conn, rules, s, upper, "resolved", key, errstr, errlen);
    if (!body)
        return -1;
    int rc = -1;
    if (jtm_pg_exec(conn, "BEGIN", errstr, errlen) != 0)
        goto out;
    const char *params[4] = {f->id, s->week[last], obs, ub};
    PGresult *res = PQexecParams(conn,
                                 "UPDATE ops.alert SET status = 'resolved', resolved_at = now(), resolved_week = $2,"
                                 " resolved_observed = $3, resolved_upper_bound = $4"
                                 " WHERE id = $1 AND status = 'firing' RETURNING id",
                                 4, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rollback_error(conn, res, errstr, errlen);
        goto out;
    }
    int updated = PQntuples(res);
    PQclear(res);
    if (!updated) {
        rc = jtm_pg_exec(conn, "ROLLBACK", errstr, errlen) == 0 ? 0 : -1;
        goto out;
    }
    if (insert_delivery(conn, rules, f->id, "resolved", s->gemeente, key, body, errstr, errlen) != 0)
        goto out;
    if (jtm_pg_exec(conn, "COMMIT", errstr, errlen) != 0)
        goto out;
    rc = 1;
out:
    free(body);
    return rc;
}

int alert_evaluate(PGconn *conn, const alert_rules *rules, alert_eval_stats *st, char *errstr, size_t errlen)
{
    memset(st, 0, sizeof *st);
    alert_series_set set = {0};
    firing_set firing_now = {0};
    double *upper = NULL;
    int *alarm = NULL;
    long history = rules->history_weeks;
    if (history < (long)alert_detect_first(rules) + 1)
        history = (long)alert_detect_first(rules) + 1;
    int rc = alert_series_load(conn, history, &set, errstr, errlen);
    if (rc != 0)
        return rc;
    const char *method = alert_method_name(rules);
    if (load_firing(conn, method, &firing_now, errstr, errlen) != 0) {
        rc = -1;
        goto out;
    }
    upper = calloc((size_t)history, sizeof *upper);
    alarm = calloc((size_t)history, sizeof *alarm);
    if (!upper || !alarm)
        abort();
    for (size_t i = 0; i < set.count; i++) {
        const alert_series *s = &set.items[i];
        st->series++;
        if (alert_detect(rules, s->waiting, s->n, upper, alarm, errstr, errlen) <= 0)
            continue; /* too short to judge yet */
        st->monitored++;
        size_t last = s->n - 1;
        const firing *f = find_firing(&firing_now, s->gemeente, s->category);
        int r = 0;
        alert_action act = alert_episode_step(f != NULL, alarm[last], s->waiting[last], rules->min_count);
        if (act == ALERT_FIRE) {
            r = fire(conn, rules, s, upper, errstr, errlen);
            if (r == 2) {
                st->silenced++;
                log_info("alert_silenced", "gemeente=%s category=%s method=%s week=%s observed=%.0f upper_bound=%.2f",
                         s->gemeente, s->category, method, s->week[last], s->waiting[last], upper[last]);
            } else if (r > 0) {
                st->fired++;
                log_info("alert_firing", "gemeente=%s category=%s method=%s week=%s observed=%.0f upper_bound=%.2f",
                         s->gemeente, s->category, method, s->week[last], s->waiting[last], upper[last]);
            }
        } else if (act == ALERT_RESOLVE) {
            r = resolve(conn, rules, f, s, upper, errstr, errlen);
            if (r > 0) {
                st->resolved++;
                log_info("alert_resolved",
                         "gemeente=%s category=%s method=%s week=%s fired_week=%s observed=%.0f upper_bound=%.2f",
                         s->gemeente, s->category, method, s->week[last], f->week, s->waiting[last], upper[last]);
            }
        }
        if (r < 0) {
            rc = -1;
            goto out;
        }
    }
out:
    free(upper);
    free(alarm);
    firing_set_free(&firing_now);
    alert_series_set_free(&set);
    return rc;
}
