#include "daemon.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deliver.h"
#include "mail.h"
#include "log.h"
#include "metrics.h"
#include "pg.h"
#include "service.h"
#include "signals.h"
#include "state.h"

/* What /metrics shows and /healthz reads. The HTTP thread only reads the atomics. */
typedef struct alert_mx {
    jtm_metrics *m;
    jtm_counter *evaluations, *eval_failures, *fired, *resolved, *reconnects;
    jtm_gauge *pg_up_g, *leader_g, *series_g, *last_eval_g;
    alert_deliver_metrics d;
    atomic_int pg_up;
} alert_mx;

static void mx_init(alert_mx *x)
{
    static const double ms[] = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};
    x->m = jtm_metrics_new();
    if (!x->m)
        return;
    x->evaluations = jtm_metrics_counter(x->m, "jtm_alert_evaluations_total", "waiting-list evaluations completed", NULL);
    x->eval_failures = jtm_metrics_counter(x->m, "jtm_alert_evaluation_failures_total",
                                           "evaluations that failed (PostgreSQL error)", NULL);
    x->fired = jtm_metrics_counter(x->m, "jtm_alert_fired_total", "alert episodes started (firing notice queued)", NULL);
    x->resolved = jtm_metrics_counter(x->m, "jtm_alert_resolved_total",
                                      "alert episodes resolved (resolved notice queued)", NULL);
    x->d.delivered = jtm_metrics_counter(x->m, "jtm_alert_deliveries_sent_total",
                                         "webhook attempts answered 2xx (notice delivered)", NULL);
    x->d.retried = jtm_metrics_counter(x->m, "jtm_alert_deliveries_retried_total",
                                       "webhook attempts that failed and will be retried (5xx, 408, 429, timeout)", NULL);
    x->d.failed = jtm_metrics_counter(x->m, "jtm_alert_deliveries_failed_total",
                                      "notices given up (4xx, no route, or max attempts)", NULL);
    x->d.attempt_ms = jtm_metrics_histogram(x->m, "jtm_alert_attempt_duration_ms", "webhook attempt duration", NULL, ms,
                                            sizeof ms / sizeof ms[0]);
    x->reconnects = jtm_metrics_counter(x->m, "jtm_alert_pg_reconnects_total", "PostgreSQL reconnections", NULL);
    x->pg_up_g = jtm_metrics_gauge(x->m, "jtm_alert_pg_up", "1 while connected to PostgreSQL", NULL);
    x->leader_g = jtm_metrics_gauge(x->m, "jtm_alert_leader",
                                    "1 while this process holds the sender lock, 0 while standby", NULL);
    x->series_g = jtm_metrics_gauge(x->m, "jtm_alert_series", "series seen by the last evaluation", NULL);
    x->last_eval_g = jtm_metrics_gauge(x->m, "jtm_alert_last_evaluation_seconds",
                                       "unix time of the last completed evaluation", NULL);
}

static void mx_pg(alert_mx *x, int up)
{
    atomic_store(&x->pg_up, up);
    jtm_gauge_set(x->pg_up_g, up);
}

static int health(void *opaque, char *reason, size_t len)
{
    alert_mx *x = opaque;
    if (!atomic_load(&x->pg_up)) {
        snprintf(reason, len, "postgresql unavailable");
        return 1;
    }
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* LISTEN on the channel (quoted as an identifier). */
static int listen_channel(PGconn *conn, const char *channel, char *errstr, size_t errlen)
{
    char *ident = PQescapeIdentifier(conn, channel, strlen(channel));
    if (!ident) {
        snprintf(errstr, errlen, "cannot quote the channel name");
        return -1;
    }
    char sql[300];
    snprintf(sql, sizeof sql, "LISTEN %s", ident);
    PQfreemem(ident);
    return jtm_pg_exec(conn, sql, errstr, errlen);
}

/* True when the schema of 0200_alert.sql is there. */
static int schema_ready(PGconn *conn, char *errstr, size_t errlen)
{
    PGresult *res = PQexec(conn, "SELECT to_regclass('ops.alert_attempt') IS NOT NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(conn, res, errstr, errlen);
        PQclear(res);
        return -1;
    }
    int ok = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return ok;
}

/* One active jtm-alert per database: a session advisory lock, released by PostgreSQL when the
 * holder's connection ends (also after a crash). A second instance waits as a standby, so a
 * rolling restart never has two senders. Returns 1 when held, 0 when stopped while waiting, -1 on
 * a PostgreSQL error. */
static int become_leader(PGconn *conn, char *errstr, size_t errlen)
{
    int logged = 0;
    while (jtm_run) {
        PGresult *res = PQexec(conn, "SELECT pg_try_advisory_lock(hashtext('jtm-alert'))");
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            jtm_pg_result_error(conn, res, errstr, errlen);
            PQclear(res);
            return -1;
        }
        int got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        if (got) {
            if (logged)
                log_info("leader", NULL);
            return 1;
        }
        if (!logged) {
            log_info("standby", "reason=\"another jtm-alert holds the lock on this database\"");
            jtm_service_ready("standby: another jtm-alert holds the lock");
        }
        logged = 1;
        for (int i = 0; i < 4 && jtm_run; i++) {
            jtm_service_watchdog();
            jtm_sleep_ms_interruptible(500);
        }
    }
    return 0;
}

/* Drains notifications; returns how many arrived. */
static int drain_notifies(PGconn *conn)
{
    int n = 0;
    if (!PQconsumeInput(conn))
        return 0;
    PGnotify *nf;
    while ((nf = PQnotifies(conn)) != NULL) {
        n++;
        PQfreemem(nf);
    }
    return n;
}

int alert_daemon_run(const alert_config *cfg, const alert_routes *routes, const char *conninfo)
{
    char err[1024], q[1100];
    alert_rules rules;
    if (alert_rules_init(&rules, cfg, err, sizeof err) != 0) {
        log_error("config_invalid", "reason=%s", jtm_log_quote(q, sizeof q, err));
        return JTM_EXIT_CONFIG;
    }
    rules.routes = routes;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("curl_init_failed", NULL);
        return JTM_EXIT_SOFTWARE;
    }
    int exit_code = JTM_EXIT_OK;
    alert_sender *sender = NULL;
    alert_mailer *mailer = alert_mailer_new(cfg, routes, err, sizeof err);
    if (!mailer && *err) {
        log_error("config_invalid", "reason=%s", jtm_log_quote(q, sizeof q, err));
        curl_global_cleanup();
        return JTM_EXIT_CONFIG;
    }
    PGconn *conn = NULL;
    alert_mx mx;
    memset(&mx, 0, sizeof mx);
    mx_init(&mx);
    jtm_metrics_http *http = NULL;
    if (!mx.m) {
        log_error("out_of_memory", NULL);
        exit_code = JTM_EXIT_SOFTWARE;
        goto out;
    }
    if (cfg->metrics_listen && *cfg->metrics_listen) {
        http = jtm_metrics_serve(mx.m, cfg->metrics_listen, health, &mx, err, sizeof err);
        if (!http) {
            log_error("metrics_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
            exit_code = JTM_EXIT_CONFIG;
            goto out;
        }
        log_info("metrics_listening", "listen=%s port=%d", cfg->metrics_listen, jtm_metrics_http_port(http));
    }
    conn = jtm_pg_connect(conninfo, (int)cfg->connect_wait_ms, err, sizeof err);
    if (!conn) {
        if (!jtm_run)
            goto out;
        log_error("pg_unavailable", "error=%s", jtm_log_quote(q, sizeof q, err));
        exit_code = JTM_EXIT_UNAVAILABLE;
        goto out;
    }
    mx_pg(&mx, 1);
    int ready = schema_ready(conn, err, sizeof err);
    if (ready <= 0) {
        if (ready < 0)
            log_error("pg_unavailable", "error=%s", jtm_log_quote(q, sizeof q, err));
        else
            log_error("schema_missing", "table=ops.alert_attempt hint=\"run jtm-migrate\"");
        exit_code = JTM_EXIT_UNAVAILABLE;
        goto out;
    }
    int leader = become_leader(conn, err, sizeof err);
    if (leader <= 0) {
        if (leader < 0) {
            log_error("pg_unavailable", "error=%s", jtm_log_quote(q, sizeof q, err));
            exit_code = JTM_EXIT_UNAVAILABLE;
        }
        goto out;
    }
    if (listen_channel(conn, cfg->listen_channel, err, sizeof err) != 0) {
        log_error("pg_unavailable", "error=%s", jtm_log_quote(q, sizeof q, err));
        exit_code = JTM_EXIT_UNAVAILABLE;
        goto out;
    }
    long recovered = alert_deliver_recover(conn, err, sizeof err);
    if (recovered < 0) {
        log_error("pg_unavailable", "error=%s", jtm_log_quote(q, sizeof q, err));
        exit_code = JTM_EXIT_UNAVAILABLE;
        goto out;
    }
    sender = alert_sender_new(cfg, routes, err, sizeof err);
    if (!sender) {
        log_error("curl_init_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
        exit_code = JTM_EXIT_SOFTWARE;
        goto out;
    }
    alert_sender_set_metrics(sender, &mx.d);
    alert_mailer_set_metrics(mailer, &mx.d);
    mx_pg(&mx, 1);
    jtm_gauge_set(mx.leader_g, 1);
    log_info("started", "method=%s farrington=%s alpha=%g baseline=%d min_sigma=%g min_count=%lld schedule_s=%lld "
                        "routes=%zu email=%s interrupted_attempts=%ld",
             alert_method_name(&rules), rules.farrington ? cfg->farrington : "-", rules.ears.alpha,
             rules.ears.baseline, rules.ears.min_sigma, cfg->min_count, cfg->schedule_seconds, routes->count,
             mailer ? "on" : "off", recovered);
    jtm_service_ready("evaluating");

    int need_eval = 1, view_missing_logged = 0;
    long long next_eval = 0, next_deliver = 0, last_eval = now_ms() - cfg->debounce_ms;
    /* After a failed evaluation or delivery pass (a refused statement, not a lost connection),
     * retry sooner than the schedule but no faster than this backoff, so the log does not flood. */
    jtm_backoff eval_backoff = {.initial_ms = 1000, .max_ms = 60000}, deliver_backoff = eval_backoff;
    while (jtm_run) {
        jtm_service_watchdog();
        if (jtm_pg_is_broken(conn)) {
            if (conn)
                log_warn("pg_reconnect", NULL);
            mx_pg(&mx, 0);
            jtm_gauge_set(mx.leader_g, 0);
            PQfinish(conn);
            /* Short connect rounds, so the watchdog is fed while PostgreSQL is away. */
            conn = jtm_pg_connect(conninfo, 5000, err, sizeof err);
            if (!conn) {
                if (!jtm_run)
                    break; /* stopped while reconnecting */
                continue;
            }
            mx_pg(&mx, 1);
            int lead = become_leader(conn, err, sizeof err);
            if (lead == 0)
                break;
            if (lead < 0 || listen_channel(conn, cfg->listen_channel, err, sizeof err) != 0 ||
                alert_deliver_recover(conn, err, sizeof err) < 0) {
                log_warn("pg_error", "error=%s", jtm_log_quote(q, sizeof q, err));
                PQfinish(conn); /* start over: never run without the lock and the LISTEN */
                conn = NULL;
                jtm_sleep_ms_interruptible(1000);
                continue;
            }
            mx_pg(&mx, 1);
            jtm_gauge_set(mx.leader_g, 1);
            jtm_counter_add(mx.reconnects, 1);
            jtm_service_ready("evaluating");
            need_eval = 1; /* notifications may have been missed */
        }
        if ((need_eval && now_ms() >= last_eval + cfg->debounce_ms) || now_ms() >= next_eval) {
            need_eval = 0;
            last_eval = now_ms();
            next_eval = now_ms() + cfg->schedule_seconds * 1000;
            alert_eval_stats st;
            int r = alert_evaluate(conn, &rules, &st, err, sizeof err);
            if (r == 1) {
                if (!view_missing_logged)
                    log_warn("waiting_list_missing", "view=monitor.waiting_list_weekly error=%s",
                             jtm_log_quote(q, sizeof q, err));
                view_missing_logged = 1;
            } else if (r < 0) {
                jtm_counter_add(mx.eval_failures, 1);
                log_error("evaluate_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
                if (!jtm_pg_is_broken(conn))
                    next_eval = now_ms() + jtm_backoff_next(&eval_backoff);
            } else {
                jtm_backoff_reset(&eval_backoff);
                view_missing_logged = 0;
                jtm_counter_add(mx.evaluations, 1);
                jtm_counter_add(mx.fired, (uint64_t)st.fired);
                jtm_counter_add(mx.resolved, (uint64_t)st.resolved);
                jtm_gauge_set(mx.series_g, (double)st.series);
                jtm_gauge_set(mx.last_eval_g, (double)time(NULL));
                log_info("evaluated", "series=%ld monitored=%ld fired=%ld resolved=%ld silenced=%ld", st.series,
                         st.monitored, st.fired, st.resolved, st.silenced);
            }
        }
        long sent = 0;
        if (now_ms() >= next_deliver && !jtm_pg_is_broken(conn)) {
            long mailed = 0;
            if (alert_deliver_due(conn, sender, &sent, err, sizeof err) != 0 ||
                (mailer && alert_mail_due(conn, mailer, &mailed, err, sizeof err) != 0)) {
                log_error("deliver_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
                next_deliver = now_ms() + jtm_backoff_next(&deliver_backoff);
            } else {
                jtm_backoff_reset(&deliver_backoff);
            }
            sent += mailed;
        }
        if (!jtm_run)
            break;
        /* Sleep until a notification, the next evaluation or the next due notice, at most 500 ms so
         * a stop signal is seen quickly. */
        long long wait = next_eval - now_ms();
        if (need_eval && last_eval + cfg->debounce_ms - now_ms() < wait)
            wait = last_eval + cfg->debounce_ms - now_ms();
        long due = jtm_pg_is_broken(conn) ? -1 : alert_deliver_next_due_ms(conn, err, sizeof err);
        if (due == 0 && (sent == 0 || now_ms() < next_deliver))
            due = 100; /* due but not sent (throttled): never spin */
        if (due >= 0 && due < wait)
            wait = due;
        if (wait > 500)
            wait = 500;
        if (wait < 0)
            wait = 0;
        if (wait > 0 && !jtm_pg_is_broken(conn)) {
            struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
            if (pfd.fd >= 0 && poll(&pfd, 1, (int)wait) < 0 && errno != EINTR)
                log_warn("poll_failed", "errno=%d", errno);
        }
        if (!jtm_pg_is_broken(conn) && drain_notifies(conn) > 0)
            need_eval = 1;
        if (jtm_pg_is_broken(conn))
            mx_pg(&mx, 0);
    }
    jtm_service_stopping();
    log_info("stopped", "signal=%d", (int)jtm_stop_signal);
out:
    jtm_metrics_http_stop(http);
    alert_sender_free(sender);
    alert_mailer_free(mailer);
    if (conn)
        PQfinish(conn);
    jtm_metrics_free(mx.m);
    curl_global_cleanup();
    return exit_code;
}
