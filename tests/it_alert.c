/* jtm-alert end to end with a real webhook receiver on loopback: an injected spike gives the right
 * municipality exactly one firing and one resolved notice (the resolution triggered by the
 * linker's NOTIFY), signed with that municipality's secret; other municipalities get nothing;
 * counts under alert.min_count never fire; a restart repeats nothing. Also the exit codes for
 * bad configuration, refused secret files and an unreachable database. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert_receiver/receiver.h"
#include "testenv.h"

static const int BASE[20] = {10, 11, 9, 10, 12, 10, 9, 11, 10, 10, 11, 9, 10, 12, 10, 11, 9, 10, 11, 10};
static const int SMALL[20] = {0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0};

static char *write_config(const char *dir, int port, const char *s0505, const char *sdefault, const char *extra)
{
    char *path = NULL, *cfg = NULL;
    cr_assert(asprintf(&path, "%s/jtm-alert.conf", dir) > 0);
    cr_assert(asprintf(&cfg,
                       "# test config\n"
                       "alert.method = C1\n"
                       "alert.baseline = 7\n"
                       "alert.min_sigma = 0\n"
                       "alert.min_count = 5\n"
                       "schedule.seconds = 3600\n"
                       "deliver.backoff_initial_ms = 200\n"
                       "deliver.backoff_max_ms = 1000\n"
                       "pg.connect_wait_ms = 10000\n"
                       "route.GM0505.url = http://127.0.0.1:%d/gm0505\n"
                       "route.GM0505.secret_file = %s\n"
                       "route.default.url = http://127.0.0.1:%d/default\n"
                       "route.default.secret_file = %s\n%s",
                       port, s0505, port, sdefault, extra ? extra : "") > 0);
    jtm_test_write_file(path, cfg, 0644);
    free(cfg);
    return path;
}

/* Checks one recorded request: signature with secret, headers, body fields. */
static void check_notice(const rx_request *r, const char *secret, const char *gemeente, const char *status,
                         const char *week)
{
    char want[64];
    rx_expected_signature(secret, r->key, r->ts, r->body, want);
    cr_assert_str_eq(r->sig, want, "signature of %s", r->path);
    long long ts = strtoll(r->ts, NULL, 10);
    cr_assert(llabs((long long)time(NULL) - ts) < 300, "webhook-timestamp %s is not the time of sending", r->ts);
    cr_assert_str_eq(r->ctype, "application/json");
    json_error_t je;
    json_t *j = json_loads(r->body, 0, &je);
    cr_assert_not_null(j, "body is not JSON: %s", je.text);
    cr_assert_str_eq(json_string_value(json_object_get(j, "municipality")), gemeente);
    cr_assert_str_eq(json_string_value(json_object_get(j, "category")), "45");
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), status);
    cr_assert_str_eq(json_string_value(json_object_get(j, "week")), week);
    cr_assert_str_eq(json_string_value(json_object_get(j, "method")), "C1");
    cr_assert_str_eq(json_string_value(json_object_get(j, "idempotency_key")), r->key);
    cr_assert_eq(strlen(r->key), 32);
    cr_assert(json_is_number(json_object_get(j, "observed")));
    cr_assert(json_is_number(json_object_get(j, "upper_bound")));
    json_t *series = json_object_get(j, "series");
    cr_assert_eq(json_array_size(series), 12);
    json_t *lastp = json_array_get(series, 11);
    cr_assert_str_eq(json_string_value(json_object_get(lastp, "week")), week);
    cr_assert_eq(json_integer_value(json_object_get(lastp, "waiting")), json_integer_value(json_object_get(j, "observed")));
    const char *summary = json_string_value(json_object_get(j, "summary"));
    cr_assert_not_null(summary);
    cr_assert_null(strstr(summary, "http"), "summary has a link: %s", summary);
    cr_assert_null(strstr(summary, "www."), "summary has a link: %s", summary);
    json_decref(j);
}

Test(alert, spike_fires_and_resolves_once_for_the_right_municipality, .timeout = 180)
{
    PGconn *db;
    char *conninfo = it_alert_db(&db);
    char *dir = jtm_test_tmpdir();
    receiver *rx = rx_start(NULL, 0, 0);
    char *s0505 = it_secret(dir, "gm0505", "secret-of-gm0505-at-least-32-bytes"), *sdef = it_secret(dir, "default", "default-secret-of-the-region-32-bytes");
    char *cfg = write_config(dir, rx->port, s0505, sdef, NULL);

    int spike[21], quiet[21], smallspike[21];
    memcpy(spike, BASE, sizeof BASE);
    memcpy(quiet, BASE, sizeof BASE);
    memcpy(smallspike, SMALL, sizeof SMALL);
    spike[20] = 40;
    quiet[20] = 11;
    smallspike[20] = 4; /* alarms, but under alert.min_count */
    it_weeks(db, "GM0505", "45", 0, spike, 21);  /* routed to /gm0505 */
    it_weeks(db, "GM0363", "45", 0, quiet, 21);  /* no alarm */
    it_weeks(db, "GM0599", "45", 0, spike, 21);  /* default route */
    it_weeks(db, "GM0606", "45", 0, smallspike, 21);
    /* Week 20 is 2026-05-25. */

    pid_t pid = it_start_alert(cfg, conninfo, dir, "alert1.log");
    if (!rx_wait(rx, NULL, 2, 30000))
        it_print_log(dir, "alert1.log");
    cr_assert(rx_wait(rx, "/gm0505", 1, 100), "no firing notice for GM0505");
    cr_assert(rx_wait(rx, "/default", 1, 100), "no firing notice on the default route");
    cr_assert(it_wait_value(db, "SELECT count(*) FROM ops.alert_delivery WHERE status = 'delivered'", "2", 10000));

    /* The series falls back; the linker signals; both episodes resolve. */
    int back = 10;
    it_weeks(db, "GM0505", "45", 21, &back, 1);
    it_weeks(db, "GM0363", "45", 21, &back, 1);
    it_weeks(db, "GM0599", "45", 21, &back, 1);
    int zero = 0;
    it_weeks(db, "GM0606", "45", 21, &zero, 1);
    it_exec(db, "NOTIFY jtm_waiting_list");
    if (!rx_wait(rx, NULL, 4, 30000))
        it_print_log(dir, "alert1.log");
    cr_assert(it_wait_value(db, "SELECT count(*) FROM ops.alert_delivery WHERE status = 'delivered'", "4", 10000));
    usleep(1500000); /* nothing more may arrive */
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 10000), 0, "jtm-alert did not stop cleanly on SIGTERM");

    cr_assert_eq(rx_count(rx, "/gm0505"), 2);
    cr_assert_eq(rx_count(rx, "/default"), 2);
    cr_assert_eq(rx_count(rx, NULL), 4);
    const rx_request *f = NULL, *r = NULL, *df = NULL, *dr = NULL;
    for (int i = 0; i < rx->n; i++) {
        const rx_request *q = &rx->req[i];
        int is0505 = strcmp(q->path, "/gm0505") == 0, firing = strstr(q->body, "\"status\":\"firing\"") != NULL;
        if (is0505)
            *(firing ? &f : &r) = q;
        else
            *(firing ? &df : &dr) = q;
    }
    cr_assert(f && r && df && dr, "expected one firing and one resolved per route");
    cr_assert(f < r, "resolved before firing");
    check_notice(f, "secret-of-gm0505-at-least-32-bytes", "GM0505", "firing", "2026-05-25");
    check_notice(r, "secret-of-gm0505-at-least-32-bytes", "GM0505", "resolved", "2026-06-01");
    check_notice(df, "default-secret-of-the-region-32-bytes", "GM0599", "firing", "2026-05-25");
    check_notice(dr, "default-secret-of-the-region-32-bytes", "GM0599", "resolved", "2026-06-01");
    cr_assert_str_neq(f->key, r->key);
    for (int i = 0; i < rx->n; i++)
        cr_assert(rx->req[i].accepted && !rx->req[i].duplicate);

    cr_assert_eq(it_long(db, "SELECT count(*) FROM ops.alert"), 2);
    cr_assert_eq(it_long(db, "SELECT count(*) FROM ops.alert WHERE status = 'resolved' AND week = '2026-05-25'"
                             " AND resolved_week = '2026-06-01' AND observed = 40"), 2);
    cr_assert_eq(it_long(db, "SELECT count(*) FROM ops.alert WHERE gemeente IN ('GM0363', 'GM0606')"), 0);
    cr_assert_eq(it_long(db, "SELECT count(*) FROM ops.alert_delivery WHERE attempts = 1 AND status = 'delivered'"), 4);
    cr_assert_eq(it_long(db, "SELECT count(*) FROM ops.alert_attempt WHERE outcome = 'delivered' AND http_status = 200"), 4);

    /* A restart (evaluation on start, a schedule tick, a NOTIFY) repeats nothing. */
    free(write_config(dir, rx->port, s0505, sdef, "schedule.seconds = 1\n"));
    pid = it_start_alert(cfg, conninfo, dir, "alert2.log");
    usleep(1000000);
    it_exec(db, "NOTIFY jtm_waiting_list");
    usleep(2500000);
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 10000), 0);
    cr_assert_eq(rx_count(rx, NULL), 4, "a restart sent a notice again");
    cr_assert_eq(it_long(db, "SELECT count(*) FROM ops.alert_attempt"), 4);

    rx_stop(rx);
    PQfinish(db);
    free(cfg);
    free(s0505);
    free(sdef);
    free(conninfo);
    free(dir);
}

Test(alert, exit_codes, .timeout = 120)
{
    char *dir = jtm_test_tmpdir();
    char *bin = jtm_test_bin("jtm-alert");
    char *cmd = NULL, *out = NULL;
    char *good = it_secret(dir, "good", "s3cret-value-of-32-bytes-or-more-x");
    char *bad = NULL;
    cr_assert(asprintf(&bad, "%s/bad.secret", dir) > 0);
    jtm_test_write_file(bad, "s3cret-value-of-32-bytes-or-more-x\n", 0644);

    cr_assert(asprintf(&cmd, "'%s' --version", bin) > 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0);
    cr_assert(strncmp(out, "jtm-alert ", 10) == 0);
    free(out), free(cmd);
    cr_assert(asprintf(&cmd, "'%s' --help", bin) > 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0);
    cr_assert_not_null(strstr(out, "route.<GMxxxx>.url"));
    free(out), free(cmd);
    cr_assert(asprintf(&cmd, "'%s' --nope 2>/dev/null", bin) > 0);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 2);
    free(cmd);
    cr_assert(asprintf(&cmd, "'%s' detect --method C9 </dev/null 2>/dev/null", bin) > 0);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 2);
    free(cmd);
    cr_assert(asprintf(&cmd, "'%s' -X alert.nope=1 2>/dev/null", bin) > 0);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 78);
    free(cmd);
    cr_assert(asprintf(&cmd, "'%s' -X route.default.url=http://127.0.0.1:9/x 2>/dev/null", bin) > 0);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 78, "a route without a secret file");
    free(cmd);
    /* A secret readable by others is refused, and the message does not show it. */
    cr_assert(asprintf(&cmd, "'%s' -X route.default.url=http://127.0.0.1:9/x -X route.default.secret_file=%s 2>&1", bin,
                       bad) > 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 78);
    cr_assert_not_null(strstr(out, "refused"));
    cr_assert_null(strstr(out, "s3cret"));
    free(out), free(cmd);
    cr_assert(asprintf(&cmd, "'%s' -X route.default.url=http://127.0.0.1:9/x -X route.default.secret_file=%s"
                             " -X alert.method=C7 -X 'pg.conninfo=host=127.0.0.1 port=1' 2>/dev/null",
                       bin, good) > 0);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 78, "bad method");
    free(cmd);
    /* No database at start: 69. */
    cr_assert(asprintf(&cmd, "'%s' -X route.default.url=http://127.0.0.1:9/x -X route.default.secret_file=%s"
                             " -X pg.connect_wait_ms=300 -X 'pg.conninfo=host=127.0.0.1 port=1 connect_timeout=1' 2>&1",
                       bin, good) > 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 69);
    cr_assert_null(strstr(out, "s3cret"));
    free(out), free(cmd);
    free(good);
    free(bad);
    free(bin);
    free(dir);
}

/* Against the linker's real monitor.waiting_list_weekly (migration 0005), fed through
 * wh.episode_waiting: a spike in the last complete week fires; a second jtm-alert on the same database
 * stays a standby; after jtm-alert's session is terminated it reconnects, re-evaluates and resolves
 * the episode when the spike is withdrawn. */
Test(alert, real_view_spike_standby_and_reconnect, .timeout = 180)
{
    char *conninfo = jtm_test_create_db("alert", 1);
    PGconn *db = it_connect(conninfo);
    char *kind = it_value(db, "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                              " WHERE n.nspname = 'monitor' AND c.relname = 'waiting_list_weekly'");
    cr_assert_str_eq(kind, "v", "monitor.waiting_list_weekly is not a view in the migrations");
    free(kind);
    /* 10 children waiting since 22 weeks ago; one more in every odd week; 30 more last week (the
     * last complete week: the current week is never judged). */
    it_exec(db, "INSERT INTO wh.episode_waiting (pid, gemeente, category, waiting_from, waiting_until)"
                " SELECT 'base' || i, 'GM0505', '45', (date_trunc('week', current_date)::date - 7) - 21 * 7, NULL"
                " FROM generate_series(1, 10) i");
    it_exec(db, "INSERT INTO wh.episode_waiting (pid, gemeente, category, waiting_from, waiting_until)"
                " SELECT 'odd' || k, 'GM0505', '45', (date_trunc('week', current_date)::date - 7) - k * 7,"
                "        (date_trunc('week', current_date)::date - 7) - k * 7 + 7"
                " FROM generate_series(1, 21) k WHERE k % 2 = 1");
    it_exec(db, "INSERT INTO wh.episode_waiting (pid, gemeente, category, waiting_from, waiting_until)"
                " SELECT 'spike' || i, 'GM0505', '45', (date_trunc('week', current_date)::date - 7), NULL"
                " FROM generate_series(1, 30) i");
    /* Of the spike, 12 episodes are allocated (8 at one provider, 4 at another) and wait for a start;
     * one child waits twice (two episodes). The rest wait for the municipality's decision. */
    it_exec(db, "INSERT INTO wh.care_episode (pid, gemeente, category, provider_agb, requested_on, allocated_on)"
                " SELECT 'spike' || i, 'GM0505', '45', CASE WHEN i <= 8 THEN '12345678' ELSE '87654321' END,"
                "        (date_trunc('week', current_date)::date - 7), (date_trunc('week', current_date)::date - 6)"
                " FROM generate_series(1, 12) i");
    it_exec(db, "UPDATE wh.episode_waiting SET pid = 'spike29' WHERE pid = 'spike30'");
    char *week = it_value(db, "SELECT (date_trunc('week', current_date)::date - 7)::text");
    cr_assert_eq(it_long(db, "SELECT waiting FROM monitor.waiting_list_weekly ORDER BY week_start DESC LIMIT 1"), 40);

    char *dir = jtm_test_tmpdir();
    receiver *rx = rx_start(NULL, 0, 0);
    char *s0505 = it_secret(dir, "gm0505", "secret-of-gm0505-at-least-32-bytes"), *sdef = it_secret(dir, "default", "default-secret-of-the-region-32-bytes");
    char *cfg = write_config(dir, rx->port, s0505, sdef, NULL);
    pid_t pid = it_start_alert(cfg, conninfo, dir, "a.log");
    if (!rx_wait(rx, "/gm0505", 1, 30000))
        it_print_log(dir, "a.log");
    cr_assert_eq(rx_count(rx, "/gm0505"), 1);
    check_notice(&rx->req[0], "secret-of-gm0505-at-least-32-bytes", "GM0505", "firing", week);
    /* Who waits: children and episodes, decision and start waits, the providers of the start wait. */
    json_t *j = json_loads(rx->req[0].body, 0, NULL);
    json_t *w = json_object_get(j, "waiting");
    cr_assert_not_null(w, "the notice has no waiting detail: %s", rx->req[0].body);
    cr_assert_eq(json_integer_value(json_object_get(w, "children")), 39);
    cr_assert_eq(json_integer_value(json_object_get(w, "episodes")), 40);
    cr_assert_eq(json_integer_value(json_object_get(w, "for_decision")), 28);
    cr_assert_eq(json_integer_value(json_object_get(w, "for_start")), 12);
    json_t *prov = json_object_get(w, "start_wait_by_provider");
    cr_assert_eq(json_array_size(prov), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(prov, 0), "provider_agb")), "12345678");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(prov, 0), "waiting_for_start")), 8);
    cr_assert_str_eq(json_string_value(json_object_get(j, "municipality_name")), "Dordrecht");
    cr_assert_not_null(strstr(json_string_value(json_object_get(j, "summary")), "Dordrecht (GM0505)"));
    json_decref(j);

    /* A second instance waits: it sends nothing and stops cleanly. */
    pid_t standby = it_start_alert(cfg, conninfo, dir, "b.log");
    char *grep = NULL;
    cr_assert(asprintf(&grep, "for i in $(seq 100); do grep -q event=standby '%s/b.log' && exit 0; sleep 0.1; done; exit 1",
                       dir) > 0);
    cr_assert_eq(jtm_test_sh(grep, NULL), 0, "the second jtm-alert is not a standby");
    free(grep);
    cr_assert_eq(jtm_test_stop(standby, SIGTERM, 10000), 0);

    /* The spike is withdrawn; jtm-alert's session is killed (no NOTIFY): it reconnects and resolves. */
    it_exec(db, "DELETE FROM wh.episode_waiting WHERE pid LIKE 'spike%'");
    cr_assert_eq(it_long(db, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                             " WHERE application_name = 'jtm-alert' AND datname = current_database()"), 1);
    if (!rx_wait(rx, "/gm0505", 2, 60000))
        it_print_log(dir, "a.log");
    cr_assert_eq(rx_count(rx, "/gm0505"), 2);
    check_notice(&rx->req[1], "secret-of-gm0505-at-least-32-bytes", "GM0505", "resolved", week);
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 10000), 0);
    cr_assert_eq(rx_count(rx, NULL), 2);
    char *log = NULL;
    cr_assert(asprintf(&log, "grep -c event=pg_reconnect '%s/a.log'", dir) > 0);
    cr_assert_eq(jtm_test_sh(log, NULL), 0, "no reconnect logged");
    free(log);

    rx_stop(rx);
    PQfinish(db);
    free(week);
    free(cfg);
    free(s0505);
    free(sdef);
    free(conninfo);
    free(dir);
}

/* As a service login in role jtm_alert (not a superuser), with the grants and row-level security of
 * the access migrations (0300): jtm-alert reads the real view, writes ops.alert*, uses their
 * sequences and takes its advisory lock. */
Test(alert, runs_as_a_jtm_alert_login, .timeout = 120)
{
    char *conninfo = jtm_test_create_db("alert", 1);
    PGconn *db = it_connect(conninfo);
    cr_assert_eq(it_long(db, "SELECT count(*) FROM pg_roles WHERE rolname = 'jtm_alert'"), 1,
                 "role jtm_alert missing: the access migrations should create it");
    char *login = jtm_test_unique("alertsvc"), *sql = NULL, *svc = NULL;
    for (char *p = login; *p; p++)
        if (*p == '-')
            *p = '_';
    cr_assert(asprintf(&sql, "CREATE ROLE %s LOGIN IN ROLE jtm_alert", login) > 0);
    it_exec(db, sql);
    free(sql);
    cr_assert(asprintf(&svc, "%s user=%s", conninfo, login) > 0);
    it_exec(db, "INSERT INTO wh.episode_waiting (pid, gemeente, category, waiting_from, waiting_until)"
                " SELECT 'base' || i, 'GM0505', '45', (date_trunc('week', current_date)::date - 7) - 21 * 7, NULL"
                " FROM generate_series(1, 10) i");
    it_exec(db, "INSERT INTO wh.episode_waiting (pid, gemeente, category, waiting_from, waiting_until)"
                " SELECT 'odd' || k, 'GM0505', '45', (date_trunc('week', current_date)::date - 7) - k * 7,"
                "        (date_trunc('week', current_date)::date - 7) - k * 7 + 7"
                " FROM generate_series(1, 21) k WHERE k % 2 = 1");
    it_exec(db, "INSERT INTO wh.episode_waiting (pid, gemeente, category, waiting_from, waiting_until)"
                " SELECT 'spike' || i, 'GM0505', '45', (date_trunc('week', current_date)::date - 7), NULL"
                " FROM generate_series(1, 30) i");

    char *dir = jtm_test_tmpdir();
    receiver *rx = rx_start(NULL, 0, 0);
    char *s0505 = it_secret(dir, "gm0505", "secret-of-gm0505-at-least-32-bytes"), *sdef = it_secret(dir, "default", "default-secret-of-the-region-32-bytes");
    char *cfg = write_config(dir, rx->port, s0505, sdef, NULL);
    /* A reader login tries to take jtm-alert's leader lock first (issue 15: it used to succeed and
     * keep jtm-alert in standby for ever): refused, and jtm-alert delivers while it is connected. */
    char *reader = NULL, *reader_ci = NULL;
    cr_assert(asprintf(&reader, "%s_reader", login) > 0 && asprintf(&sql, "CREATE ROLE %s LOGIN IN ROLE jtm_analyst", reader) > 0);
    it_exec(db, sql);
    free(sql);
    cr_assert(asprintf(&reader_ci, "%s user=%s", conninfo, reader) > 0);
    PGconn *rd = it_connect(reader_ci);
    PGresult *lr = PQexec(rd, "SELECT pg_try_advisory_lock(hashtext('jtm-alert'))");
    const char *lst = PQresultErrorField(lr, PG_DIAG_SQLSTATE);
    cr_assert(PQresultStatus(lr) == PGRES_FATAL_ERROR && lst && strcmp(lst, "42501") == 0,
              "a reader took jtm-alert's leader lock");
    PQclear(lr);
    pid_t pid = it_start_alert(cfg, svc, dir, "svc.log");
    int ok = it_wait_value(db, "SELECT count(*) FROM ops.alert_delivery WHERE status = 'delivered'", "1", 30000);
    if (!ok)
        it_print_log(dir, "svc.log");
    cr_assert(ok, "jtm-alert as a jtm_alert login did not deliver the alert");
    PQfinish(rd);
    free(reader_ci);
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 10000), 0);
    cr_assert_eq(rx_count(rx, "/gm0505"), 1);
    char *who = NULL;
    cr_assert(asprintf(&who, "SELECT count(*) FROM pg_stat_activity WHERE usename = '%s'", login) > 0);
    cr_assert(it_wait_value(db, who, "0", 5000));
    free(who);

    rx_stop(rx);
    PQfinish(db);
    PGconn *admin = it_connect(jtm_test_pg_admin());
    cr_assert(asprintf(&sql, "DROP ROLE IF EXISTS %s", login) > 0);
    PQclear(PQexec(admin, sql)); /* best effort: the test database still names it in nothing */
    free(sql);
    cr_assert(asprintf(&sql, "DROP ROLE IF EXISTS %s", reader) > 0);
    PQclear(PQexec(admin, sql));
    free(reader);
    PQfinish(admin);
    free(sql);
    free(cfg);
    free(s0505);
    free(sdef);
    free(svc);
    free(login);
    free(conninfo);
    free(dir);
}

/* A silenced series sends nothing while the silence holds, and the history shows both the silence
 * and the alarm it held back; other municipalities still get theirs; a lifted silence lets the
 * next alarm through. Set, listed and lifted with jtm-alert silence. */
Test(alert, silenced_series_sends_nothing_and_history_shows_it, .timeout = 120)
{
    PGconn *db;
    char *conninfo = it_alert_db(&db);
    char *dir = jtm_test_tmpdir();
    receiver *rx = rx_start(NULL, 0, 0);
    char *s0505 = it_secret(dir, "gm0505", "secret-of-gm0505-at-least-32-bytes"),
         *sdef = it_secret(dir, "default", "default-secret-of-the-region-32-bytes");
    char *cfg = write_config(dir, rx->port, s0505, sdef, NULL);
    int spike[21];
    memcpy(spike, BASE, sizeof BASE);
    spike[20] = 40;
    it_weeks(db, "GM0505", "45", 0, spike, 21);
    it_weeks(db, "GM0599", "45", 0, spike, 21);

    char *bin = jtm_test_bin("jtm-alert"), *cmd = NULL, *out = NULL;
    cr_assert(asprintf(&cmd, "'%s' silence -c '%s' -X 'pg.conninfo=%s' GM0505 45 --until \"$(date -d '+14 days' +%%F)\""
                             " --reason 'bekend: nieuwe aanbieder neemt wachtenden over'", bin, cfg, conninfo) > 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0, "%s", out ? out : "");
    cr_assert_not_null(strstr(out, "GM0505\t45\t"), "%s", out);
    free(out), free(cmd);
    /* Usage errors: no reason, a bad code, two modes. */
    cr_assert(asprintf(&cmd, "'%s' silence -X 'pg.conninfo=%s' GM0505 45 --until 2030-01-01 2>/dev/null", bin,
                       conninfo) > 0);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 2);
    free(cmd);
    cr_assert(asprintf(&cmd, "'%s' silence -X 'pg.conninfo=%s' GM505 45 --until 2030-01-01 --reason x 2>/dev/null",
                       bin, conninfo) > 0);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 2);
    free(cmd);

    pid_t pid = it_start_alert(cfg, conninfo, dir, "silence1.log");
    cr_assert(rx_wait(rx, "/default", 1, 30000), "GM0599 is not silenced and must be told");
    cr_assert(it_wait_value(db, "SELECT count(*) FROM ops.alert WHERE gemeente = 'GM0505' AND status = 'silenced'"
                                " AND week = '2026-05-25'", "1", 10000), "the held-back alarm is not in the history");
    usleep(1500000); /* nothing may arrive for GM0505 */
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 10000), 0);
    cr_assert_eq(rx_count(rx, "/gm0505"), 0, "a silenced series sent a notice");
    cr_assert_eq(it_long(db, "SELECT count(*) FROM ops.alert_delivery WHERE gemeente = 'GM0505'"), 0);

    /* The history lists the silence (who, until, why) and it can be lifted. */
    cr_assert(asprintf(&cmd, "'%s' silence -X 'pg.conninfo=%s' --list", bin, conninfo) > 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0);
    cr_assert_not_null(strstr(out, "bekend: nieuwe aanbieder"), "%s", out);
    cr_assert_not_null(strstr(out, "\tactive"), "%s", out);
    free(out), free(cmd);
    char *id = it_value(db, "SELECT id::text FROM ops.alert_silence WHERE gemeente = 'GM0505'");
    cr_assert(asprintf(&cmd, "'%s' silence -X 'pg.conninfo=%s' --lift %s", bin, conninfo, id) > 0);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 0);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 65, "lifting twice");
    free(cmd);

    /* The next week alarms again: now it is sent. */
    int next = 100;
    it_weeks(db, "GM0505", "45", 21, &next, 1);
    it_weeks(db, "GM0599", "45", 21, &next, 1);
    pid = it_start_alert(cfg, conninfo, dir, "silence2.log");
    if (!rx_wait(rx, "/gm0505", 1, 30000))
        it_print_log(dir, "silence2.log");
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 10000), 0);
    cr_assert_eq(rx_count(rx, "/gm0505"), 1);
    cr_assert_eq(it_long(db, "SELECT count(*) FROM ops.alert WHERE gemeente = 'GM0505' AND status = 'firing'"
                             " AND week = '2026-06-01'"), 1);
    rx_stop(rx);
    PQfinish(db);
    free(id), free(bin), free(cfg), free(s0505), free(sdef), free(conninfo), free(dir);
}

/* detect --method farrington: what it refuses, with which exit code and message (no database). */
Test(alert, detect_farrington_refusals, .timeout = 120)
{
    static const struct {
        const char *args, *input;
        int rc;
        const char *msg;
    } cases[] = {
        {"--method farrington --b 2.5", "", 2, "--b:"},
        {"--method farrington --powertrans 3/4", "", 2, "--powertrans:"},
        {"--method farrington --threshold-method cusum", "", 2, "--threshold-method:"},
        {"--method farrington --limit54 5", "", 2, "--limit54:"},
        {"--method farrington --preset nope", "", 2, "preset must be"},
        {"--method farrington --no-periods 47", "", 2, "noPeriods"},
        {"--method farrington --past-weeks-not-included 49", "", 2, "pastWeeksNotIncluded"},
        {"--method farrington --baseline 7", "", 2, "EARS"},
        {"--method C1 --preset noufaily", "", 2, "need --method farrington"},
        {"--method C2 --b 3", "", 2, "need --method farrington"},
        {"--method farrington", "1,4\\n2,-3\\n", 65, "week 2: count must be"},
        {"--method farrington --preset noufaily --w 2", "1,4\\n", 0, "t,count,upperbound,alarm"},
    };
    char *bin = jtm_test_bin("jtm-alert");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *cmd = NULL, *out = NULL;
        cr_assert(asprintf(&cmd, "printf '%s' | '%s' detect %s 2>&1", cases[i].input, bin, cases[i].args) > 0);
        int rc = jtm_test_sh(cmd, &out);
        cr_assert_eq(rc, cases[i].rc, "%s: exit %d, want %d: %s", cases[i].args, rc, cases[i].rc, out);
        cr_assert_not_null(strstr(out, cases[i].msg), "%s: %s", cases[i].args, out);
        free(out);
        free(cmd);
    }
    free(bin);
}
