/* jtm-linker end to end against the broker and PostgreSQL that ops/test.sh started: pseudonymised
 * events (with duplicates, corrections before and after their originals, withdrawals and one
 * poison message; every other message valid by schemas/pseudo.<feed>.schema.json, which the
 * linker checks) produced to unique topics; a clean run; then a run where the linker is SIGKILLed
 * mid-stream several times and PostgreSQL is restarted once (ops/pg.sh restart). Both warehouses
 * must be identical: no event lost, none applied twice. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "kafka.h"
#include "testenv.h"

#define CHILDREN 600

static const char *Q_DUMP =
    "SELECT (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM wh.care_episode t)"
    " || (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM wh.route t)"
    " || (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM wh.episode_waiting t)"
    " || (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM wh.population_fact t)"
    " || (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM monitor.waiting_list_weekly t)"
    " || (SELECT md5(coalesce(string_agg((feed, event_id, pid, type, occurred_on, recorded_at, status, withdrawn,"
    "      payload)::text, '|' ORDER BY feed, event_id), '')) FROM staging.event)"
    " || ' ' || (SELECT count(*) FROM staging.event) || ' ' || (SELECT count(*) FROM wh.care_episode)"
    " || ' ' || (SELECT count(*) FROM ops.linker_dead_letter)";

typedef struct topics {
    char *jgz, *verzuim, *soj;
} topics;

static int delivered_ok, delivered_failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        delivered_failed++;
    else
        delivered_ok++;
}

static void hex32(char out[33], const char *kind, int a, int b)
{
    /* distinct per (kind, a, b); only needs to look like a keyed hash */
    unsigned h = 2166136261u;
    for (const char *p = kind; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    snprintf(out, 33, "%08x%08x%08x%08x", h, (unsigned)a, (unsigned)b, h ^ 0x5a5a5a5au);
}

static void date_plus(char out[11], int days)
{
    struct tm t = {0};
    t.tm_year = 2023 - 1900;
    t.tm_mon = 0;
    t.tm_mday = 1 + days;
    t.tm_hour = 12;
    timegm(&t);
    strftime(out, 11, "%Y-%m-%d", &t);
}

/* One event as the pseudonymiser would publish it. extra: the type's fields, starting with ','. */
static char *event(int child, const char *feed, const char *type, const char *id, int day, int status,
                   int rec_hour, const char *extra)
{
    char eid[33], pid[33], occ[11];
    hex32(eid, id, child, 0); /* a correction or withdrawal keeps the event_id */
    hex32(pid, "pid", child, 0);
    date_plus(occ, day);
    int by = 2006 + child % 17, bm = 1 + child % 12; /* age_months: calendar months (docs/contracts.md) */
    int age = (atoi(occ) - by) * 12 + (atoi(occ + 5) - bm);
    char *s = NULL;
    if (asprintf(&s,
                 "{\"event_id\":\"%s\",\"feed\":\"%s\",\"type\":\"%s\",\"occurred_on\":\"%s\","
                 "\"recorded_at\":\"%sT%02d:00:00Z\",\"status\":%d,\"pid\":\"%s\",\"pid_kind\":\"bsn\","
                 "\"key_id\":\"k2026\",\"client\":{\"birth_ym\":\"%d-%02d\",\"age_months\":%d,\"sex\":%d,"
                 "\"pc4\":\"33%02d\",\"gemeente\":\"GM05%02d\"}%s}",
                 eid, feed, type, occ, occ, rec_hour, status, pid, by, bm, age, child % 3, child % 90 + 10,
                 child % 10, extra) < 0)
        cr_assert_fail("asprintf");
    return s;
}

static void send_event(rd_kafka_t *p, const char *topic, char *json, int child)
{
    char pid[33], err[512];
    hex32(pid, "pid", child, 0);
    cr_assert_eq(jtm_kafka_produce(p, topic, pid, 32, json, strlen(json), NULL, NULL, 10000, err, sizeof err), 0,
                 "%s", err);
    free(json);
}

/* The synthetic stories; returns the number of messages produced. */
static int produce_all(const topics *t)
{
    jtm_kvlist kv = {0};
    char err[512], extra[512], ref[33], alloc[33], sday[11], eday[11];
    jtm_kvlist_set(&kv, "bootstrap.servers", jtm_test_bootstrap());
    rd_kafka_t *p = jtm_kafka_producer_new(&kv, on_delivery, NULL, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    int n = 0;
    for (int c = 0; c < CHILDREN; c++) {
        int d0 = (c * 7) % 500;
        const char *cat = (c % 4 == 0) ? "43" : (c % 4 == 1) ? "45" : (c % 4 == 2) ? "51" : "46";
        hex32(ref, "ref", c, 0);
        hex32(alloc, "alloc", c, 0);
        if (c % 2 == 0) {
            send_event(p, t->jgz, event(c, "jgz", "signal", "sig", d0, 1, 8, ",\"domain\":\"gezin\""), c);
            n++;
        }
        if (c % 5 == 0) {
            date_plus(sday, d0 + 3);
            snprintf(extra, sizeof extra,
                     ",\"kind\":\"lrv\",\"start_date\":\"%s\",\"school_brin\":\"12AB01\",\"school_type\":\"vo\"", sday);
            send_event(p, t->verzuim, event(c, "verzuim", "melding", "mel", d0 + 3, 1, 8, extra), c);
            n++;
        }
        date_plus(sday, d0 + 10);
        snprintf(extra, sizeof extra,
                 ",\"reference\":\"%s\",\"provider_agb\":\"%08d\",\"product\":{\"category\":\"%s\",\"code\":\"X\"},"
                 "\"requested_start\":\"%s\",\"referrer\":\"0%d\"",
                 ref, 10000000 + c % 13, cat, sday, 1 + c % 5);
        char *req = event(c, "soj", "request", "req", d0 + 10, 1, 8, extra);
        send_event(p, t->soj, strdup(req), c);
        n++;
        if (c % 7 == 0) { /* a duplicate delivery */
            send_event(p, t->soj, strdup(req), c);
            n++;
        }
        free(req);
        if (c % 9 == 8) { /* rejected */
            snprintf(extra, sizeof extra, ",\"reference\":\"%s\",\"answer\":\"1\",\"reject_reason\":\"2\"", ref);
            send_event(p, t->soj, event(c, "soj", "answer", "ans", d0 + 20, 1, 8, extra), c);
            n++;
            continue;
        }
        date_plus(sday, d0 + 20);
        snprintf(extra, sizeof extra,
                 ",\"allocation_no\":\"%s\",\"reference\":\"%s\",\"provider_agb\":\"%08d\","
                 "\"product\":{\"category\":\"%s\",\"code\":\"X\"},\"allocated_on\":\"%s\",\"valid_from\":\"%s\","
                 "\"volume\":1,\"unit\":\"04\",\"frequency\":\"2\"",
                 alloc, ref, 10000000 + c % 13, cat, sday, sday);
        char *al = event(c, "soj", "allocation", "all", d0 + 20, 1, 8, extra);
        char *corr = NULL;
        if (c % 5 == 1) { /* corrected: a later decision date, recorded later */
            date_plus(sday, d0 + 25);
            snprintf(extra, sizeof extra,
                     ",\"allocation_no\":\"%s\",\"reference\":\"%s\",\"provider_agb\":\"%08d\","
                     "\"product\":{\"category\":\"%s\",\"code\":\"X\"},\"allocated_on\":\"%s\",\"valid_from\":\"%s\","
                     "\"volume\":1,\"unit\":\"04\",\"frequency\":\"2\",\"change_reason\":\"01\"",
                     alloc, ref, 10000000 + c % 13, cat, sday, sday);
            corr = event(c, "soj", "allocation", "all", d0 + 20, 2, 14, extra);
        }
        if (corr && c % 3 == 0) { /* the correction overtakes its original */
            send_event(p, t->soj, corr, c);
            send_event(p, t->soj, al, c);
        } else {
            send_event(p, t->soj, al, c);
            if (corr)
                send_event(p, t->soj, corr, c);
        }
        n += corr ? 2 : 1;
        if (c % 6 == 5)
            continue; /* still waiting */
        date_plus(sday, d0 + 40);
        snprintf(extra, sizeof extra,
                 ",\"allocation_no\":\"%s\",\"product\":{\"category\":\"%s\",\"code\":\"X\"},\"start_date\":\"%s\"",
                 alloc, cat, sday);
        send_event(p, t->soj, event(c, "soj", "start", "sta", d0 + 40, 1, 8, extra), c);
        n++;
        if (c % 11 == 3) { /* start withdrawn */
            send_event(p, t->soj, event(c, "soj", "start", "sta", d0 + 40, 3, 16, extra), c);
            n++;
            continue;
        }
        if (c % 3 == 0) {
            date_plus(eday, d0 + 150);
            snprintf(extra, sizeof extra,
                     ",\"allocation_no\":\"%s\",\"product\":{\"category\":\"%s\",\"code\":\"X\"},\"start_date\":\"%s\","
                     "\"end_date\":\"%s\",\"end_reason\":\"3%d\"",
                     alloc, cat, sday, eday, 1 + c % 4);
            send_event(p, t->soj, event(c, "soj", "stop", "sto", d0 + 150, 1, 8, extra), c);
            n++;
        }
    }
    const char *poison = "{\"not\": \"a pseudonymised event\"}";
    cr_assert_eq(jtm_kafka_produce(p, t->soj, "x", 1, poison, strlen(poison), NULL, NULL, 10000, err, sizeof err), 0);
    n++;
    int left = 0;
    cr_assert_eq(jtm_kafka_flush(p, 30000, &left, err, sizeof err), 0, "%s", err);
    cr_assert_eq(delivered_failed, 0);
    rd_kafka_destroy(p);
    jtm_kvlist_free(&kv);
    return n;
}

static long applied(const char *conninfo, const char *group)
{
    PGconn *c = PQconnectdb(conninfo);
    long v = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        const char *params[1] = {group};
        PGresult *r = PQexecParams(c, "SELECT coalesce(sum(next_offset), 0) FROM ops.kafka_offset WHERE consumer_group = $1",
                                   1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK)
            v = atol(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

static char *dump(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    cr_assert_eq(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, Q_DUMP);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    char *s = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return s;
}

static pid_t start_linker_batches(const char *dir, const char *conninfo, const topics *t, const char *group, int run,
                                  int workers, int batch_max, int batch_ms)
{
    char *cfg = NULL, *path = NULL, *log = NULL;
    if (asprintf(&cfg,
                 "kafka.bootstrap.servers = %s\npg.conninfo = %s\ntopics.jgz = %s\ntopics.verzuim = %s\n"
                 "topics.soj = %s\ngroup = %s\nbatch.max = %d\nbatch.ms = %d\nstats.interval_ms = 1000\n"
                 "migrate.on_start = true\nworkers = %d\n"
                 /* a SIGKILLed member leaves the group only when its session expires */
                 "kafka.session.timeout.ms = 6000\nkafka.heartbeat.interval.ms = 500\n",
                 jtm_test_bootstrap(), conninfo, t->jgz, t->verzuim, t->soj, group, batch_max, batch_ms,
                 workers) < 0 ||
        asprintf(&path, "%s/%s.conf", dir, group) < 0 || asprintf(&log, "%s/%s-%d.log", dir, group, run) < 0)
        cr_assert_fail("asprintf");
    jtm_test_write_file(path, cfg, 0600);
    char *bin = jtm_test_bin("jtm-linker");
    char *argv[] = {bin, "-c", path, NULL};
    pid_t pid = jtm_test_spawn(argv, log);
    free(bin);
    free(cfg);
    free(path);
    free(log);
    return pid;
}

static pid_t start_linker(const char *dir, const char *conninfo, const topics *t, const char *group, int run,
                          int workers)
{
    return start_linker_batches(dir, conninfo, t, group, run, workers, 60, 50);
}

static long wait_applied(const char *conninfo, const char *group, long total, int timeout_ms)
{
    long v = -1;
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        v = applied(conninfo, group);
        if (v >= total)
            break;
        usleep(100000);
    }
    return v;
}

Test(linker, sigkill_and_pg_restart_equal_a_clean_run, .timeout = 500)
{
    topics t = {jtm_test_unique("pseudo.jgz"), jtm_test_unique("pseudo.verzuim"), jtm_test_unique("pseudo.soj")};
    int total = produce_all(&t);
    char *dir = jtm_test_tmpdir();

    /* clean run */
    char *clean = jtm_test_create_db("linker", 0);
    pid_t pid = start_linker(dir, clean, &t, "clean", 0, 1);
    long got = wait_applied(clean, "clean", total, 120000);
    cr_assert_eq(got, total, "clean run applied %ld of %d", got, total);
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 20000), 0, "linker did not stop cleanly on SIGTERM");
    char *want = dump(clean);

    /* faulty run, with two workers (parallel transactions on disjoint partitions): SIGKILL
     * mid-stream four times, PostgreSQL restarted once while the linker runs */
    char *faulty = jtm_test_create_db("linker", 0);
    long last = 0;
    int kills = 0, run = 0;
    pid = start_linker(dir, faulty, &t, "faulty", run++, 2);
    for (int round = 0; round < 5; round++) {
        /* wait for some progress, then strike */
        for (int waited = 0; waited < 60000; waited += 20) {
            long v = applied(faulty, "faulty");
            if (v > last + total / 12 || v >= total)
                break;
            usleep(20000);
        }
        long v = applied(faulty, "faulty");
        if (v >= total)
            break;
        last = v;
        if (round == 2) {
            char *out = NULL;
            int rc = jtm_test_sh("cd " JTM_SOURCE_DIR " && JTM_PG_NO_MIGRATE=1 ops/pg.sh restart 2>&1", &out);
            cr_assert_eq(rc, 0, "ops/pg.sh restart failed: %s", out ? out : "");
            free(out);
            cr_assert_eq(waitpid(pid, NULL, WNOHANG), 0, "the linker died with PostgreSQL");
            /* the same process must recover: reconnect, re-seek, go on committing */
            long after = wait_applied(faulty, "faulty", last + 1, 60000);
            cr_assert_gt(after, last, "no progress after the PostgreSQL restart");
            last = after;
            continue;
        }
        cr_assert_eq(jtm_test_stop(pid, SIGKILL, 5000), 128 + SIGKILL);
        kills++;
        pid = start_linker(dir, faulty, &t, "faulty", run++, 2);
    }
    got = wait_applied(faulty, "faulty", total, 180000);
    cr_assert_eq(got, total, "faulty run applied %ld of %d", got, total);
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 20000), 0, "linker did not stop cleanly on SIGTERM");
    cr_assert_geq(kills, 2, "the linker finished before it could be killed mid-stream (kills=%d)", kills);
    char *have = dump(faulty);
    cr_assert_str_eq(have, want, "warehouse after faults differs from a clean run");
    /* the poison message is dead-lettered exactly once */
    cr_assert_str_eq(strrchr(want, ' '), " 1", "dead letters: %s", want);

    free(have);
    free(want);
    free(clean);
    free(faulty);
    free(dir);
    free(t.jgz);
    free(t.verzuim);
    free(t.soj);
}

/* Two workers need co-partitioned assignments; the cooperative protocol hands out increments that
 * cannot be checked, so the linker refuses to run on it (EX_CONFIG) instead of risking a child's
 * events in two concurrent transactions. */
Test(linker, workers_refuse_an_assignment_that_is_not_copartitioned, .timeout = 120)
{
    topics t = {jtm_test_unique("pseudo.jgz"), jtm_test_unique("pseudo.verzuim"), jtm_test_unique("pseudo.soj")};
    char *db = jtm_test_create_db("linker", 0);
    char *bin = jtm_test_bin("jtm-linker");
    char *cmd = NULL, *out = NULL;
    cr_assert(asprintf(&cmd,
                       "timeout 90 '%s' -X kafka.bootstrap.servers='%s' -X pg.conninfo='%s' -X topics.jgz=%s "
                       "-X topics.verzuim=%s -X topics.soj=%s -X group=coop -X workers=2 "
                       "-X kafka.partition.assignment.strategy=cooperative-sticky -X kafka.allow.auto.create.topics=true "
                       "2>&1; echo exit=$?",
                       bin, jtm_test_bootstrap(), db, t.jgz, t.verzuim, t.soj) > 0);
    jtm_test_sh(cmd, &out);
    cr_assert(strstr(out, "event=workers_not_copartitioned"), "%s", out);
    cr_assert(strstr(out, "exit=78"), "%s", out);
    free(out);
    free(cmd);
    free(bin);
    free(db);
    free(t.jgz);
    free(t.verzuim);
    free(t.soj);
}

/* A backlog fills batches up to batch.max although batch.ms (1 ms) could never collect that many:
 * at the deadline the worker sees the lag and goes on. Each touched child is then derived once per
 * large batch instead of once per sliver of the backlog. */
Test(linker, a_backlog_fills_batches_to_batch_max, .timeout = 200)
{
    topics t = {jtm_test_unique("pseudo.jgz"), jtm_test_unique("pseudo.verzuim"), jtm_test_unique("pseudo.soj")};
    int total = produce_all(&t);
    char *dir = jtm_test_tmpdir();
    char *db = jtm_test_create_db("linker", 0);
    pid_t pid = start_linker_batches(dir, db, &t, "backlog", 0, 1, 1000, 1);
    long got = wait_applied(db, "backlog", total, 120000);
    cr_assert_eq(got, total, "applied %ld of %d", got, total);
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 20000), 0, "linker did not stop cleanly on SIGTERM");
    /* the stats line written at exit: batches=N */
    char *cmd = NULL, *out = NULL;
    cr_assert_geq(asprintf(&cmd, "grep -o 'batches=[0-9]*' '%s/backlog-0.log' | tail -n 1 | cut -d= -f2", dir), 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0);
    long batches = atol(out ? out : "0");
    /* ceil(total / 1000) full batches, and one cut short while the first fetches had not yet told
     * the consumer how far behind it was */
    long want = (total + 999) / 1000 + 1;
    cr_assert(batches >= 1 && batches <= want, "%ld events in %ld batches (at most %ld expected)", (long)total,
              batches, want);
    free(cmd);
    free(out);
    free(db);
    free(dir);
    free(t.jgz);
    free(t.verzuim);
    free(t.soj);
}

/* Municipal isolation (docs/access.md): rows of a municipality that is set up land in its own
 * partition; rows of one that is not (GM0500..GM0509 but GM0505 here) still load, into the default partitions, and the
 * linker says so: a rows_unassigned line and jtm_linker_unassigned_rows_total. */
Test(linker, rows_of_a_municipality_not_set_up_load_and_are_reported, .timeout = 200)
{
    topics t = {jtm_test_unique("pseudo.jgz"), jtm_test_unique("pseudo.verzuim"), jtm_test_unique("pseudo.soj")};
    int total = produce_all(&t);
    char *dir = jtm_test_tmpdir();
    char *db = jtm_test_create_db("linker", 1);
    PGconn *c = PQconnectdb(db);
    cr_assert_eq(PQstatus(c), CONNECTION_OK);
    PQclear(PQexec(c, "SELECT ops.municipality_setup('GM0505')"));
    pid_t pid = start_linker(dir, db, &t, "unassigned", 0, 1);
    long got = wait_applied(db, "unassigned", total, 120000);
    cr_assert_eq(got, total, "applied %ld of %d", got, total);
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 20000), 0, "linker did not stop cleanly on SIGTERM");
    const char *checks[][2] = {
        {"SELECT count(*) > 0 FROM gm0505.route", "t"},
        {"SELECT count(*) FROM wh.route_unassigned WHERE gemeente = 'GM0505'", "0"},
        {"SELECT count(*) > 0 FROM wh.route_unassigned WHERE gemeente = 'GM0500'", "t"},
        {"SELECT count(*) FROM wh.care_episode_unassigned WHERE gemeente = 'GM0505'", "0"},
        {"SELECT count(*) FROM wh.route WHERE gemeente = 'GM0505'", NULL},
    };
    for (size_t i = 0; i < sizeof checks / sizeof *checks; i++) {
        PGresult *r = PQexec(c, checks[i][0]);
        cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", checks[i][0], PQerrorMessage(c));
        if (checks[i][1])
            cr_expect_str_eq(PQgetvalue(r, 0, 0), checks[i][1], "%s", checks[i][0]);
        else
            cr_expect_gt(atol(PQgetvalue(r, 0, 0)), 0, "%s", checks[i][0]);
        PQclear(r);
    }
    PQfinish(c);
    char *cmd = NULL, *out = NULL;
    cr_assert_geq(asprintf(&cmd, "grep -c 'event=rows_unassigned .*gemeente=' '%s/unassigned-0.log';"
                                 " grep -o 'unassigned_rows=[0-9]*' '%s/unassigned-0.log' | tail -n 1 | cut -d= -f2",
                           dir, dir), 0);
    jtm_test_sh(cmd, &out);
    long lines = 0, rows = 0;
    cr_assert_eq(sscanf(out ? out : "", "%ld %ld", &lines, &rows), 2, "log: %s", out ? out : "");
    cr_expect_geq(lines, 1, "no rows_unassigned line");
    cr_expect_gt(rows, 0, "jtm_linker_unassigned_rows_total stayed 0");
    free(cmd);
    free(out);
    free(db);
    free(dir);
    free(t.jgz);
    free(t.verzuim);
    free(t.soj);
}

/* A batch that grew because a backlog waited ends when the backlog is gone: the live events that
 * follow commit within batch.ms, instead of waiting in a batch that collects them toward
 * batch.max (here 5,000: at 20 events/s that batch would hold them for two minutes). */
Test(linker, a_backlog_batch_ends_with_the_backlog, .timeout = 200)
{
    topics t = {jtm_test_unique("pseudo.jgz"), jtm_test_unique("pseudo.verzuim"), jtm_test_unique("pseudo.soj")};
    int total = produce_all(&t);
    char *dir = jtm_test_tmpdir();
    char *db = jtm_test_create_db("linker", 0);
    pid_t pid = start_linker_batches(dir, db, &t, "trickle", 0, 1, 5000, 1);
    /* 8 s of live JGZ contacts, 20 a second, from the start: they follow the backlog */
    jtm_kvlist kv = {0};
    char err[512];
    jtm_kvlist_set(&kv, "bootstrap.servers", jtm_test_bootstrap());
    jtm_kvlist_set(&kv, "linger.ms", "0");
    rd_kafka_t *p = jtm_kafka_producer_new(&kv, on_delivery, NULL, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    int live = 160;
    for (int i = 0; i < live; i++) {
        send_event(p, t.jgz, event(i, "jgz", "contact", "live", 400, 1, 9, ",\"moment\":\"0-4\",\"outcome\":\"advies\""),
                   i);
        rd_kafka_poll(p, 0);
        usleep(50000);
    }
    int left = 0;
    cr_assert_eq(jtm_kafka_flush(p, 10000, &left, err, sizeof err), 0, "%s", err);
    long got = applied(db, "trickle");
    /* all but about the last two seconds of the live feed are in */
    cr_assert_geq(got, total + live - 40, "applied %ld of %d when the live feed ended", got, total + live);
    cr_assert_eq(wait_applied(db, "trickle", total + live, 30000), total + live);
    cr_assert_eq(jtm_test_stop(pid, SIGTERM, 20000), 0, "linker did not stop cleanly on SIGTERM");
    rd_kafka_destroy(p);
    jtm_kvlist_free(&kv);
    free(db);
    free(dir);
    free(t.jgz);
    free(t.verzuim);
    free(t.soj);
}
