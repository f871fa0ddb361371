/* /metrics and /healthz of the running daemons (issue 7, part 1): a synthetic region flows through
 * jtm-ingest x3 and jtm-linker into a fresh database watched by jtm-alert; the counters move as
 * events flow; PostgreSQL is stopped (ops/pg.sh stop) and /healthz of the linker and the alerter
 * turns 503 while ingest (which needs no database) stays 200; after ops/pg.sh start both are 200
 * again by themselves and the linker goes on loading. Also jtm-alert's delivery counters and
 * attempt latency against a receiver that fails once, and a bad metrics.listen is exit 78.
 * This file stops the shared test PostgreSQL: ctest runs it alone (RUN_SERIAL). */
#include <criterion/criterion.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_receiver/receiver.h"
#include "opsenv/opsenv.h"
#include "testenv.h"

static void dump_logs(const char *dir)
{
    static const char *logs[] = {"ingest-jgz.log", "ingest-verzuim.log", "ingest-soj.log", "linker.log", "alert.log"};
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, logs[i]);
        ops_tail(path, 25);
    }
}

Test(health, counters_move_and_healthz_follows_postgresql, .timeout = 300)
{
    char *dir = jtm_test_tmpdir(), *ci = jtm_test_create_db("health", 1), *tag = jtm_test_unique("health");
    char prefix[300], path[1200];
    snprintf(prefix, sizeof prefix, "%s.", tag);
    ops_pipe p;
    ops_pipe_init(&p, dir, jtm_test_bootstrap(), prefix, prefix);
    receiver *rx = rx_start(NULL, 0, 0);

    /* The daemons first, on empty topics: ingest and the alerter log the port they bound (port 0);
     * the linker does not, so it gets a free port picked here. */
    pid_t ing[3];
    int ing_port[3];
    for (int f = 0; f < 3; f++) {
        char log[64];
        snprintf(log, sizeof log, "ingest-%s.log", OPS_FEEDS[f]);
        ing[f] = ops_start_ingest(&p, f, "127.0.0.1:0", log);
        snprintf(path, sizeof path, "%s/%s", dir, log);
        ing_port[f] = ops_log_port(path, 30000);
        cr_assert_gt(ing_port[f], 0, "jtm-ingest %s logged no metrics port", OPS_FEEDS[f]);
    }
    int lk_port = ops_free_port();
    char lk_listen[64];
    snprintf(lk_listen, sizeof lk_listen, "127.0.0.1:%d", lk_port);
    pid_t lk = ops_start_linker(&p, ci, "health-linker", lk_listen, "batch.max = 200\n", "linker.log");
    pid_t al = ops_start_alert(dir, ci, rx->port, "127.0.0.1:0", "schedule.seconds = 2\n", "alert.log");
    snprintf(path, sizeof path, "%s/alert.log", dir);
    int al_port = ops_log_port(path, 30000);
    cr_assert_gt(al_port, 0, "jtm-alert logged no metrics port");

    if (!ops_wait_health(lk_port, 200, 60000) || !ops_wait_health(al_port, 200, 30000))
        dump_logs(dir);
    cr_assert(ops_wait_health(lk_port, 200, 100), "linker /healthz not 200 at start");
    cr_assert(ops_wait_health(al_port, 200, 100), "alert /healthz not 200 at start");
    for (int f = 0; f < 3; f++)
        cr_assert(ops_wait_health(ing_port[f], 200, 30000), "ingest %s /healthz not 200", OPS_FEEDS[f]);
    char *body = NULL;
    cr_assert_eq(ops_http_get(al_port, "/metrics", &body), 200);
    cr_assert(strstr(body, "# TYPE jtm_alert_attempt_duration_ms histogram"), "%s", body);
    cr_assert_eq(ops_metric_in(body, "jtm_alert_pg_up"), 1, "%s", body);
    cr_assert_eq(ops_metric_in(body, "jtm_alert_deliveries_sent_total"), 0, "%s", body);
    free(body);
    cr_assert_eq(ops_metric(lk_port, "jtm_linker_consumed_total"), 0);
    double evals0 = ops_wait_metric(al_port, "jtm_alert_evaluations_total", 1, 20000);
    cr_assert_geq(evals0, 1, "no evaluation at start");

    /* Events flow: every counter on the way moves. */
    long events = ops_synth(&p, 3, 300, 2, NULL);
    cr_assert_gt(events, 500);
    /* The three feeds together must reach every event (one feed alone may be done early). */
    double consumed = 0;
    for (int waited = 0; waited <= 60000; waited += 200) {
        consumed = 0;
        for (int f = 0; f < 3; f++)
            consumed += ops_metric(ing_port[f], "jtm_ingest_consumed_total");
        if (consumed >= (double)events)
            break;
        usleep(200000);
    }
    double lk_consumed = ops_wait_metric(lk_port, "jtm_linker_consumed_total", (double)events * 0.9, 120000);
    if (lk_consumed < (double)events * 0.9)
        dump_logs(dir);
    cr_assert_geq(consumed, (double)events, "ingest consumed %.0f of %ld", consumed, events);
    cr_assert_geq(lk_consumed, (double)events * 0.9, "linker consumed %.0f of %ld", lk_consumed, events);
    cr_assert_gt(ops_metric(lk_port, "jtm_linker_batches_total"), 0);
    cr_assert_gt(ops_metric(lk_port, "jtm_linker_batch_duration_ms_count"), 0);
    /* the linker's NOTIFY (or the 2 s schedule) makes the alerter evaluate again */
    cr_assert_gt(ops_wait_metric(al_port, "jtm_alert_evaluations_total", evals0 + 1, 30000), evals0);

    /* PostgreSQL goes away. The alerter notices by itself; the linker when it next needs the
     * database, so the same region is sent again (duplicates to load). */
    ops_pg("stop");
    cr_assert(ops_alive(lk) && ops_alive(al), "a daemon died with PostgreSQL");
    ops_synth(&p, 3, 300, 2, NULL);
    int al_503 = ops_wait_health(al_port, 503, 30000), lk_503 = ops_wait_health(lk_port, 503, 60000);
    char *reason = NULL;
    ops_http_get(lk_port, "/healthz", &reason);
    double al_up = ops_metric(al_port, "jtm_alert_pg_up");
    for (int f = 0; f < 3; f++)
        cr_assert_eq(ops_http_get(ing_port[f], "/healthz", NULL), 200, "ingest needs no database");
    ops_pg("start");
    if (!al_503 || !lk_503)
        dump_logs(dir);
    cr_assert(al_503, "alert /healthz never turned 503 with PostgreSQL stopped");
    cr_assert(lk_503, "linker /healthz never turned 503 with PostgreSQL stopped");
    cr_assert(reason && strstr(reason, "postgresql"), "503 reason: %s", reason ? reason : "");
    free(reason);
    cr_assert_eq(al_up, 0, "jtm_alert_pg_up while PostgreSQL is stopped");

    /* Back by themselves. */
    int al_200 = ops_wait_health(al_port, 200, 60000), lk_200 = ops_wait_health(lk_port, 200, 60000);
    if (!al_200 || !lk_200)
        dump_logs(dir);
    cr_assert(al_200, "alert /healthz not 200 after PostgreSQL came back");
    cr_assert(lk_200, "linker /healthz not 200 after PostgreSQL came back");
    cr_assert_geq(ops_wait_metric(al_port, "jtm_alert_pg_reconnects_total", 1, 10000), 1);
    cr_assert_eq(ops_metric(al_port, "jtm_alert_pg_up"), 1);
    cr_assert_geq(ops_wait_metric(lk_port, "jtm_linker_resyncs_total", 1, 10000), 1);
    /* the second copy is loaded (as duplicates: nothing changes) */
    double dup = ops_wait_metric(lk_port, "jtm_linker_duplicates_total", (double)events * 0.9, 120000);
    cr_assert_geq(dup, (double)events * 0.9, "linker loaded %.0f duplicates of %ld after the restart", dup, events);
    long staged = ops_query_long(ci, "SELECT count(*) FROM staging.event");
    cr_assert_gt(staged, events / 2, "staged %ld", staged);

    for (int f = 0; f < 3; f++)
        cr_assert_eq(jtm_test_stop(ing[f], SIGTERM, 30000), 0, "ingest %s did not stop cleanly", OPS_FEEDS[f]);
    cr_assert_eq(jtm_test_stop(lk, SIGTERM, 30000), 0, "linker did not stop cleanly");
    cr_assert_eq(jtm_test_stop(al, SIGTERM, 30000), 0, "alert did not stop cleanly");
    rx_stop(rx);
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    jtm_test_sh(cmd, NULL);
    free(dir);
    free(ci);
    free(tag);
}

/* Delivery counters and the attempt histogram: a receiver that answers 500 once, then 200. */
Test(health, alert_delivery_counters, .timeout = 120)
{
    (void)it_secret; /* receiver.h's helper; this file writes its secrets through opsenv.h */
    PGconn *db;
    char *ci = it_alert_db(&db), *dir = jtm_test_tmpdir(), path[1200];
    static const int script[] = {500};
    receiver *rx = rx_start(script, 1, 0);
    int spike[21] = {10, 11, 9, 10, 12, 10, 9, 11, 10, 10, 11, 9, 10, 12, 10, 11, 9, 10, 11, 10, 40};
    it_weeks(db, "GM0505", "45", 0, spike, 21);
    pid_t al = ops_start_alert(dir, ci, rx->port, "127.0.0.1:0", NULL, "alert.log");
    snprintf(path, sizeof path, "%s/alert.log", dir);
    int port = ops_log_port(path, 30000);
    cr_assert_gt(port, 0);
    if (!rx_wait(rx, NULL, 2, 30000))
        ops_tail(path, 30);
    cr_assert(rx_wait(rx, NULL, 2, 100), "expected a failed and a retried request");
    cr_assert_eq(ops_wait_metric(port, "jtm_alert_deliveries_sent_total", 1, 10000), 1);
    char *body = NULL;
    cr_assert_eq(ops_http_get(port, "/metrics", &body), 200);
    cr_assert_eq(ops_metric_in(body, "jtm_alert_fired_total"), 1, "%s", body);
    cr_assert_eq(ops_metric_in(body, "jtm_alert_deliveries_retried_total"), 1, "%s", body);
    cr_assert_eq(ops_metric_in(body, "jtm_alert_deliveries_failed_total"), 0, "%s", body);
    cr_assert_eq(ops_metric_in(body, "jtm_alert_attempt_duration_ms_count"), 2, "%s", body);
    cr_assert_eq(ops_metric_in(body, "jtm_alert_leader"), 1, "%s", body);
    cr_assert_geq(ops_metric_in(body, "jtm_alert_series"), 1, "%s", body);
    free(body);
    cr_assert_eq(ops_http_get(port, "/healthz", NULL), 200);
    cr_assert_eq(jtm_test_stop(al, SIGTERM, 20000), 0);
    rx_stop(rx);
    PQfinish(db);
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    jtm_test_sh(cmd, NULL);
    free(dir);
    free(ci);
}

Test(health, bad_metrics_listen_is_exit_78, .timeout = 60)
{
    char *ci = jtm_test_create_db("health", 1), *dir = jtm_test_tmpdir();
    pid_t al = ops_start_alert(dir, ci, 9, "256.1.1.1:http-nope", NULL, "alert.log");
    int st = jtm_test_stop(al, 0, 20000);
    cr_assert_eq(st, 78, "jtm-alert with a bad metrics.listen: exit %d", st);
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    jtm_test_sh(cmd, NULL);
    free(dir);
    free(ci);
}
