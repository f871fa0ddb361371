/* jtm-alert delivery against a real receiver on loopback: retries with backoff on 500 until 200
 * (delivered once), no retry on 400 (recorded failed), and SIGKILL during delivery followed by a
 * restart: the pending notice is resent with the same idempotency key, and each notice is accepted
 * exactly once by a receiver that honours the key. Every attempt is in ops.alert_attempt. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_receiver/receiver.h"
#include "testenv.h"

static const int SPIKE[21] = {10, 11, 9, 10, 12, 10, 9, 11, 10, 10, 11, 9, 10, 12, 10, 11, 9, 10, 11, 10, 40};

typedef struct fixture {
    PGconn *db;
    char *conninfo, *dir, *secret, *cfg;
    receiver *rx;
} fixture;

/* A database with spiking series for the given municipalities, a receiver and a config routing
 * everything to it. */
static void setup(fixture *fx, const int *script, int nscript, int hold_ms, const char *const *gemeenten, int ng,
                  int timeout_ms)
{
    fx->conninfo = it_alert_db(&fx->db);
    fx->dir = jtm_test_tmpdir();
    fx->rx = rx_start(script, nscript, hold_ms);
    fx->secret = it_secret(fx->dir, "default", "delivery-test-secret-of-32-bytes-or-more");
    for (int i = 0; i < ng; i++)
        it_weeks(fx->db, gemeenten[i], "45", 0, SPIKE, 21);
    char *cfg = NULL;
    cr_assert(asprintf(&fx->cfg, "%s/jtm-alert.conf", fx->dir) > 0);
    cr_assert(asprintf(&cfg,
                       "alert.method = C1\n"
                       "alert.baseline = 7\n"
                       "alert.min_sigma = 0\n"
                       "schedule.seconds = 3600\n"
                       "deliver.backoff_initial_ms = 300\n"
                       "deliver.backoff_max_ms = 2000\n"
                       "deliver.timeout_ms = %d\n"
                       "route.default.url = http://127.0.0.1:%d/hook\n"
                       "route.default.secret_file = %s\n",
                       timeout_ms, fx->rx->port, fx->secret) > 0);
    jtm_test_write_file(fx->cfg, cfg, 0644);
    free(cfg);
}

static void teardown(fixture *fx)
{
    rx_stop(fx->rx);
    PQfinish(fx->db);
    free(fx->conninfo);
    free(fx->dir);
    free(fx->secret);
    free(fx->cfg);
}

Test(alert_delivery, retries_5xx_until_delivered_once, .timeout = 120)
{
    fixture fx;
    static const int script[] = {500, 500};
    static const char *const g[] = {"GM0505"};
    setup(&fx, script, 2, 0, g, 1, 15000);
    pid_t pid = it_start_alert(fx.cfg, fx.conninfo, fx.dir, "alert.log");
    int ok = it_wait_value(fx.db, "SELECT status || ':' || attempts FROM ops.alert_delivery", "delivered:3", 30000);
    if (!ok)
        it_print_log(fx.dir, "alert.log");
    cr_assert(ok, "not delivered after 500, 500, 200");
    usleep(1000000);
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 10000), 0);
    cr_assert_eq(rx_count(fx.rx, NULL), 3);
    cr_assert_str_eq(fx.rx->req[0].key, fx.rx->req[2].key);
    cr_assert_str_eq(fx.rx->req[0].body, fx.rx->req[2].body, "a retry must send the same body");
    cr_assert_eq(fx.rx->req[2].accepted, 1);
    char *seq = it_value(fx.db, "SELECT string_agg(http_status || '/' || outcome, ',' ORDER BY attempt) FROM ops.alert_attempt");
    cr_assert_str_eq(seq, "500/retry,500/retry,200/delivered");
    free(seq);
    /* Backoff: the second retry waited longer than the first's lower bound (300 ms, jitter to 150). */
    cr_assert_eq(it_long(fx.db, "SELECT count(*) FROM (SELECT started_at - lag(finished_at) OVER (ORDER BY attempt) AS gap"
                                " FROM ops.alert_attempt) s WHERE gap >= interval '140 milliseconds'"), 2);
    teardown(&fx);
}

Test(alert_delivery, timeout_is_retried_with_the_same_key, .timeout = 120)
{
    fixture fx;
    static const char *const g[] = {"GM0505"};
    /* The receiver processes the first request but answers after 3 s; jtm-alert gives up at 1 s. */
    setup(&fx, NULL, 0, 3000, g, 1, 1000);
    pid_t pid = it_start_alert(fx.cfg, fx.conninfo, fx.dir, "alert.log");
    int ok = it_wait_value(fx.db, "SELECT status || ':' || attempts FROM ops.alert_delivery", "delivered:2", 30000);
    if (!ok)
        it_print_log(fx.dir, "alert.log");
    cr_assert(ok, "not delivered after a timeout and a retry");
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 10000), 0);
    cr_assert_eq(rx_count(fx.rx, NULL), 2);
    cr_assert_str_eq(fx.rx->req[0].key, fx.rx->req[1].key);
    cr_assert(fx.rx->req[0].accepted && fx.rx->req[1].duplicate, "the receiver drops the resend by its key");
    char *seq = it_value(fx.db, "SELECT string_agg(coalesce(http_status::text, '-') || '/' || outcome, ',' ORDER BY attempt)"
                                " FROM ops.alert_attempt");
    cr_assert_str_eq(seq, "-/retry,200/delivered");
    free(seq);
    char *err = it_value(fx.db, "SELECT error FROM ops.alert_attempt WHERE attempt = 1");
    cr_assert_not_null(strstr(err, "imeout"), "attempt 1 error: %s", err);
    free(err);
    teardown(&fx);
}

/* Voluntary context switches of a process: each PostgreSQL round trip is at least one, so a loop
 * that spins on queries shows up here even when most of the work is in the server. */
static long ctx_switches(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    long n = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1)
            break;
    fclose(f);
    cr_assert_geq(n, 0);
    return n;
}

Test(alert_delivery, resolved_waits_for_its_firing_notice_without_spinning, .timeout = 120)
{
    fixture fx;
    static const int script[] = {500, 500, 500, 500};
    static const char *const g[] = {"GM0505"};
    setup(&fx, script, 4, 0, g, 1, 15000);
    pid_t pid = it_start_alert(fx.cfg, fx.conninfo, fx.dir, "alert.log");
    cr_assert(rx_wait(fx.rx, NULL, 1, 30000), "no first attempt");
    /* The series falls back while the firing notice is still being retried. */
    int back = 10;
    it_weeks(fx.db, "GM0505", "45", 21, &back, 1);
    it_exec(fx.db, "NOTIFY jtm_waiting_list");
    cr_assert(it_wait_value(fx.db, "SELECT count(*) FROM ops.alert_delivery WHERE kind = 'resolved'", "1", 10000));
    long c0 = ctx_switches(pid);
    usleep(2000000);
    long used = ctx_switches(pid) - c0;
    cr_assert_lt(used, 150, "jtm-alert made %ld round trips in 2 s while a resolved notice waited", used);
    int ok = it_wait_value(fx.db, "SELECT string_agg(kind || ':' || status, ',' ORDER BY id) FROM ops.alert_delivery",
                           "firing:delivered,resolved:delivered", 30000);
    if (!ok)
        it_print_log(fx.dir, "alert.log");
    cr_assert(ok);
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 10000), 0);
    int n = rx_count(fx.rx, NULL);
    cr_assert_eq(n, 6, "4 failed + 1 delivered firing, 1 resolved: %d", n);
    cr_assert_not_null(strstr(fx.rx->req[4].body, "\"status\":\"firing\""));
    cr_assert_not_null(strstr(fx.rx->req[5].body, "\"status\":\"resolved\""), "the resolved notice came before the firing one");
    teardown(&fx);
}

Test(alert_delivery, no_retry_on_4xx, .timeout = 120)
{
    fixture fx;
    static const int script[] = {400};
    static const char *const g[] = {"GM0505"};
    setup(&fx, script, 1, 0, g, 1, 15000);
    pid_t pid = it_start_alert(fx.cfg, fx.conninfo, fx.dir, "alert.log");
    int ok = it_wait_value(fx.db, "SELECT status || ':' || attempts FROM ops.alert_delivery", "failed:1", 30000);
    if (!ok)
        it_print_log(fx.dir, "alert.log");
    cr_assert(ok, "a 400 was not recorded as failed after one attempt");
    usleep(2000000); /* longer than the backoff: no retry may come */
    it_exec(fx.db, "NOTIFY jtm_waiting_list");
    usleep(500000);
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 10000), 0);
    cr_assert_eq(rx_count(fx.rx, NULL), 1);
    char *seq = it_value(fx.db, "SELECT string_agg(http_status || '/' || outcome, ',') FROM ops.alert_attempt");
    cr_assert_str_eq(seq, "400/failed");
    free(seq);
    cr_assert_eq(it_long(fx.db, "SELECT last_http_status FROM ops.alert_delivery"), 400);
    teardown(&fx);
}

Test(alert_delivery, sigkill_during_delivery_then_restart_accepts_each_notice_once, .timeout = 180)
{
    fixture fx;
    static const char *const g[] = {"GM0505", "GM0363", "GM0599"};
    /* The receiver takes the first notice, then holds its answer for 4 s: jtm-alert is killed
     * while it waits, after the receiver processed the notice and before the outcome is recorded. */
    setup(&fx, NULL, 0, 4000, g, 3, 15000);
    pid_t pid = it_start_alert(fx.cfg, fx.conninfo, fx.dir, "alert1.log");
    int ok = rx_wait(fx.rx, NULL, 1, 30000);
    if (!ok)
        it_print_log(fx.dir, "alert1.log");
    cr_assert(ok, "no delivery started");
    usleep(300000);
    cr_assert_eq(jtm_test_stop(pid, SIGKILL, 5000), 128 + SIGKILL);
    cr_assert_eq(it_long(fx.db, "SELECT count(*) FROM ops.alert_delivery"), 3, "the outbox holds all three notices");
    cr_assert_eq(it_long(fx.db, "SELECT count(*) FROM ops.alert_attempt WHERE outcome IS NULL"), 1);
    cr_assert_eq(it_long(fx.db, "SELECT count(*) FROM ops.alert_delivery WHERE status = 'pending'"), 3);

    pid = it_start_alert(fx.cfg, fx.conninfo, fx.dir, "alert2.log");
    ok = it_wait_value(fx.db, "SELECT count(*) FROM ops.alert_delivery WHERE status = 'delivered'", "3", 30000);
    if (!ok)
        it_print_log(fx.dir, "alert2.log");
    cr_assert(ok, "not all notices delivered after the restart");
    usleep(1000000);
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 10000), 0);

    /* Each idempotency key accepted exactly once; the killed one arrived twice (one duplicate). */
    int n = rx_count(fx.rx, NULL), accepted = 0, duplicates = 0;
    cr_assert_eq(n, 4, "expected 3 notices plus one resend, got %d requests", n);
    for (int i = 0; i < n; i++) {
        int acc_for_key = 0;
        for (int k = 0; k < n; k++)
            if (strcmp(fx.rx->req[k].key, fx.rx->req[i].key) == 0)
                acc_for_key += fx.rx->req[k].accepted;
        cr_assert_eq(acc_for_key, 1, "key %s accepted %d times", fx.rx->req[i].key, acc_for_key);
        accepted += fx.rx->req[i].accepted;
        duplicates += fx.rx->req[i].duplicate;
    }
    cr_assert_eq(accepted, 3);
    cr_assert_eq(duplicates, 1);
    cr_assert_str_eq(fx.rx->req[0].key, fx.rx->req[1].key, "the resend carries the same key");
    cr_assert_str_eq(fx.rx->req[0].body, fx.rx->req[1].body);
    cr_assert_eq(it_long(fx.db, "SELECT count(*) FROM ops.alert"), 3, "no duplicate episodes after the restart");
    char *seq = it_value(fx.db, "SELECT string_agg(coalesce(http_status::text, '-') || '/' || outcome, ',' ORDER BY id)"
                                " FROM ops.alert_attempt");
    cr_assert_str_eq(seq, "-/interrupted,200/delivered,200/delivered,200/delivered");
    free(seq);
    teardown(&fx);
}
