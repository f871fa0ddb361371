/* Access control of the warehouse (docs/access.md): each role logs in over the test cluster and
 * the tests show what it can and cannot see. Municipality logins see 0 rows of another
 * municipality through tables, views, functions (SECURITY DEFINER too) and COPY; researchers are
 * refused monitor, staging, wh and ops with SQLSTATE 42501; the owner's objects cannot bypass
 * row-level security. Logins are made by ops/jtm-login.sh (roles are cluster-wide, so names are
 * unique per run). */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testenv.h"

static PGconn *connect_as(const char *ci, const char *user)
{
    char buf[2048];
    if (user)
        snprintf(buf, sizeof buf, "%s user=%s", ci, user);
    else
        snprintf(buf, sizeof buf, "%s", ci);
    PGconn *c = PQconnectdb(buf);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "connect as %s: %s", user ? user : "admin", PQerrorMessage(c));
    PGresult *r = PQexec(c, "SET client_min_messages = warning");
    PQclear(r);
    return c;
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

static long count(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    long n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* The statement must fail with the given SQLSTATE (42501: insufficient privilege). */
static void refused(PGconn *c, const char *sql, const char *sqlstate)
{
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_FATAL_ERROR, "expected %s, but it ran: %s", sqlstate, sql);
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    cr_assert(st && strcmp(st, sqlstate) == 0, "%s: SQLSTATE %s (%s), want %s", sql, st ? st : "-",
              PQerrorMessage(c), sqlstate);
    PQclear(r);
}

/* Runs COPY ... TO STDOUT and returns everything it sent (caller frees). */
static char *copy_out(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_COPY_OUT, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    size_t len = 0;
    char *all = calloc(1, 1), *buf = NULL;
    int n;
    while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
        all = realloc(all, len + (size_t)n + 1);
        memcpy(all + len, buf, (size_t)n);
        len += (size_t)n;
        all[len] = '\0';
        PQfreemem(buf);
    }
    cr_assert_eq(n, -1, "COPY ended with %d: %s", n, PQerrorMessage(c));
    r = PQgetResult(c);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
    PQclear(r);
    while ((r = PQgetResult(c)))
        PQclear(r);
    return all;
}

/* ops/jtm-login.sh KIND ARG with --login for municipalities; returns its exit status. */
static int make_login(const char *ci, const char *kind, const char *arg, const char *login)
{
    char cmd[4096];
    if (login)
        snprintf(cmd, sizeof cmd, "%s/ops/jtm-login.sh -d '%s' --login %s %s %s 2>&1", JTM_SOURCE_DIR, ci, login,
                 kind, arg);
    else
        snprintf(cmd, sizeof cmd, "%s/ops/jtm-login.sh -d '%s' %s %s 2>&1", JTM_SOURCE_DIR, ci, kind, arg);
    char *out = NULL;
    int rc = jtm_test_sh(cmd, &out);
    if (rc != 0)
        cr_log_error("%s: %s", cmd, out);
    free(out);
    return rc;
}

static char *unique_login(const char *prefix)
{
    char *u = jtm_test_unique(prefix);
    for (char *p = u; *p; p++)
        if (*p == '-')
            *p = '_';
    return u;
}

/* Two municipalities' rows in every fact table, as the superuser (the linker's path is tested
 * elsewhere; here only who sees what counts). */
static void load_facts(PGconn *admin)
{
    exec_ok(admin,
            "INSERT INTO wh.care_episode (pid, gemeente, category, referrer, requested_on, allocated_on, started_on)"
            " SELECT md5('c' || g || i), g, '45', '01', date '2024-01-01' + i, date '2024-01-10' + i,"
            "        CASE WHEN i % 2 = 0 THEN date '2024-02-01' + i END"
            " FROM unnest(ARRAY['GM0505', 'GM0363']) g, generate_series(1, 12) i;"
            "INSERT INTO wh.route (pid, gemeente, path, first_signal_on, first_care_on, episodes)"
            " SELECT md5('c' || g || i), g, 'JGZ>AMB', date '2023-12-01', date '2024-02-01', 1"
            " FROM unnest(ARRAY['GM0505', 'GM0363']) g, generate_series(1, 12) i;"
            "INSERT INTO wh.episode_waiting (pid, gemeente, category, waiting_from, waiting_until)"
            " SELECT md5('c' || g || i), g, '45', date '2024-01-01' + i, NULL"
            " FROM unnest(ARRAY['GM0505', 'GM0363']) g, generate_series(1, 12) i;"
            "INSERT INTO wh.population_fact (pid, gemeente, birth_month, kind, from_month, to_month)"
            " SELECT md5('c' || g || i), g, date '2014-01-01', 'jgz', date '2024-01-01', date '2024-01-01'"
            " FROM unnest(ARRAY['GM0505', 'GM0363']) g, generate_series(1, 12) i;"
            "INSERT INTO staging.event (feed, event_id, pid, type, occurred_on, recorded_at, status, withdrawn,"
            "  gemeente, payload)"
            " SELECT 'jgz', md5('e' || g), md5('c' || g || 1), 'signal', date '2024-01-01', now(), 1, false, g, '{}'"
            " FROM unnest(ARRAY['GM0505', 'GM0363']) g");
}

/* Every relation of wh and monitor that the login may read and that has a gemeente column. */
static PGresult *readable_gemeente_relations(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT format('%I.%I', n.nspname, cl.relname) FROM pg_class cl"
                            " JOIN pg_namespace n ON n.oid = cl.relnamespace"
                            " JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attname = 'gemeente'"
                            " WHERE n.nspname IN ('staging', 'wh', 'monitor', 'research') AND cl.relkind IN ('r','p','v','m')"
                            "   AND has_table_privilege(cl.oid, 'SELECT') ORDER BY 1");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    return r;
}

Test(access, municipality_sees_only_its_own_rows_everywhere)
{
    char *ci = jtm_test_create_db("access", 1);
    PGconn *admin = connect_as(ci, NULL);
    load_facts(admin);
    /* Functions made by a later migration (as the superuser): the event trigger hands them to
     * jtm_owner, and row-level security holds inside them, SECURITY DEFINER included. */
    exec_ok(admin, "CREATE FUNCTION monitor.t_definer() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER"
                   " AS 'SELECT DISTINCT gemeente FROM wh.care_episode';"
                   "CREATE FUNCTION monitor.t_definer_plpgsql() RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER"
                   " AS 'BEGIN RETURN (SELECT count(*) FROM wh.route WHERE gemeente = ''GM0363''); END';"
                   "CREATE FUNCTION monitor.t_invoker() RETURNS SETOF text LANGUAGE sql"
                   " AS 'SELECT DISTINCT gemeente FROM wh.route';"
                   "CREATE VIEW monitor.t_owner_view AS SELECT gemeente, pid FROM wh.care_episode;"
                   "CREATE VIEW monitor.t_alert_view AS SELECT gemeente, category, status FROM ops.alert;"
                   "INSERT INTO ops.alert (gemeente, category, method, week, observed, upper_bound, status)"
                   " VALUES ('GM0505', '45', 'C2', '2024-01-01', 9, 4, 'firing'),"
                   "        ('GM0363', '45', 'C2', '2024-01-01', 9, 4, 'firing');");
    cr_assert_eq(count(admin, "SELECT count(*) FROM pg_proc WHERE proname LIKE 't\\_%' AND proowner <> 'jtm_owner'::regrole"), 0);

    char *login = unique_login("gm0505");
    cr_assert_eq(make_login(ci, "municipality", "GM0505", login), 0);
    PGconn *m = connect_as(ci, login);
    cr_assert_eq(count(m, "SELECT count(*) FROM wh.care_episode"), 12);

    /* Tables and views: every readable relation with a gemeente column shows only GM0505. */
    PGresult *rels = readable_gemeente_relations(m);
    cr_assert_geq(PQntuples(rels), 10, "municipality reads wh and monitor");
    for (int i = 0; i < PQntuples(rels); i++) {
        char q[512];
        snprintf(q, sizeof q, "SELECT count(*) FROM %s WHERE gemeente IS DISTINCT FROM 'GM0505'", PQgetvalue(rels, i, 0));
        cr_expect_eq(count(m, q), 0, "%s shows another municipality", PQgetvalue(rels, i, 0));
    }
    PQclear(rels);
    cr_assert_gt(count(m, "SELECT count(*) FROM monitor.waiting_list_weekly WHERE waiting > 0"), 0);
    cr_assert_eq(count(m, "SELECT count(*) FROM monitor.t_owner_view"), 12, "owner-rights view filtered");
    cr_assert_eq(count(m, "SELECT count(*) FROM monitor.t_alert_view"), 1, "a view over ops.alert is filtered too");

    /* Functions. */
    cr_assert_eq(count(m, "SELECT count(*) FROM monitor.t_definer() g WHERE g <> 'GM0505'"), 0);
    cr_assert_eq(count(m, "SELECT count(*) FROM monitor.t_definer()"), 1);
    cr_assert_eq(count(m, "SELECT monitor.t_definer_plpgsql()"), 0);
    cr_assert_eq(count(m, "SELECT count(*) FROM monitor.t_invoker() g WHERE g <> 'GM0505'"), 0);

    /* COPY, of a table and of a query. */
    char *out = copy_out(m, "COPY wh.care_episode TO STDOUT");
    cr_assert(strstr(out, "GM0505") && !strstr(out, "GM0363"), "COPY table leaks");
    free(out);
    out = copy_out(m, "COPY (SELECT * FROM monitor.waiting_list_weekly) TO STDOUT (FORMAT csv)");
    cr_assert(strstr(out, "GM0505") && !strstr(out, "GM0363"), "COPY query leaks");
    free(out);
    out = copy_out(m, "COPY (SELECT * FROM monitor.t_definer()) TO STDOUT");
    cr_assert(!strstr(out, "GM0363"), "COPY of a function leaks");
    free(out);

    /* Turning row security off is refused rather than bypassing it. */
    exec_ok(m, "SET row_security = off");
    refused(m, "SELECT count(*) FROM wh.care_episode", "42501");
    exec_ok(m, "RESET row_security");

    /* Not readable at all: staging, research, ops; no writes anywhere. */
    refused(m, "SELECT count(*) FROM staging.event", "42501");
    refused(m, "SELECT count(*) FROM research.route_paths", "42501");
    refused(m, "SELECT count(*) FROM ops.kafka_offset", "42501");
    refused(m, "SELECT count(*) FROM ops.schema_migrations", "42501");
    refused(m, "INSERT INTO wh.care_episode (pid, gemeente) VALUES ('x', 'GM0363')", "42501");
    refused(m, "DELETE FROM wh.route", "42501");

    /* Even a direct grant on a table (an operator's mistake) shows only its own rows. */
    char sql[512];
    snprintf(sql, sizeof sql, "GRANT SELECT ON staging.event TO %s", login);
    exec_ok(admin, "GRANT USAGE ON SCHEMA staging TO jtm_municipality");
    exec_ok(admin, sql);
    cr_assert_eq(count(m, "SELECT count(*) FROM staging.event WHERE gemeente <> 'GM0505'"), 0);
    cr_assert_eq(count(m, "SELECT count(*) FROM staging.event"), 1);

    /* SET ROLE from the superuser's session is as narrow as the login. */
    snprintf(sql, sizeof sql, "SET ROLE %s", login);
    exec_ok(admin, sql);
    cr_assert_eq(count(admin, "SELECT count(*) FROM wh.route WHERE gemeente <> 'GM0505'"), 0);
    exec_ok(admin, "RESET ROLE");

    PQfinish(m);
    PQfinish(admin);
    free(login);
    free(ci);
}

Test(access, login_in_no_or_two_municipalities_sees_nothing)
{
    char *ci = jtm_test_create_db("access", 1);
    PGconn *admin = connect_as(ci, NULL);
    load_facts(admin);
    char *login = unique_login("gmtwo");
    cr_assert_eq(make_login(ci, "municipality", "GM0505", login), 0);
    cr_assert_eq(make_login(ci, "municipality", "GM0363", login), 0);
    PGconn *m = connect_as(ci, login);
    cr_assert_eq(count(m, "SELECT count(*) FROM wh.care_episode"), 0, "member of two: nothing");
    PQfinish(m);
    /* A bare member of jtm_municipality (no jtm_gmNNNN) sees nothing either. */
    char *bare = unique_login("gmbare"), sql[512];
    snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN IN ROLE jtm_municipality", bare);
    exec_ok(admin, sql);
    m = connect_as(ci, bare);
    cr_assert_eq(count(m, "SELECT count(*) FROM monitor.waiting_list_weekly"), 0);
    cr_assert_eq(count(m, "SELECT count(*) FROM wh.route"), 0);
    PQfinish(m);
    PQfinish(admin);
    free(bare);
    free(login);
    free(ci);
}

Test(access, analyst_sees_all_municipalities_but_not_staging_research_ops)
{
    char *ci = jtm_test_create_db("access", 1);
    PGconn *admin = connect_as(ci, NULL);
    load_facts(admin);
    char *login = unique_login("ana");
    cr_assert_eq(make_login(ci, "analyst", login, NULL), 0);
    PGconn *a = connect_as(ci, login);
    cr_assert_eq(count(a, "SELECT count(DISTINCT gemeente) FROM wh.care_episode"), 2);
    cr_assert_eq(count(a, "SELECT count(DISTINCT gemeente) FROM monitor.waiting_list_weekly"), 2);
    char *out = copy_out(a, "COPY wh.route TO STDOUT");
    cr_assert(strstr(out, "GM0505") && strstr(out, "GM0363"));
    free(out);
    refused(a, "SELECT 1 FROM staging.event", "42501");
    refused(a, "SELECT 1 FROM research.children_in_care_year", "42501");
    refused(a, "SELECT 1 FROM ops.alert", "42501");
    refused(a, "UPDATE wh.route SET path = ''", "42501");
    PQfinish(a);
    PQfinish(admin);
    free(login);
    free(ci);
}

Test(access, researcher_reads_research_only)
{
    char *ci = jtm_test_create_db("access", 1);
    PGconn *admin = connect_as(ci, NULL);
    load_facts(admin);
    char *login = unique_login("res");
    cr_assert_eq(make_login(ci, "researcher", login, NULL), 0);
    PGconn *r = connect_as(ci, login);
    const char *denied[] = {"SELECT 1 FROM monitor.waiting_list_weekly", "SELECT 1 FROM staging.event",
                            "SELECT 1 FROM wh.care_episode", "SELECT 1 FROM wh.route",
                            "SELECT 1 FROM wh.population_month", "SELECT 1 FROM ops.kafka_offset",
                            "COPY wh.care_episode TO STDOUT", "COPY (SELECT * FROM monitor.waiting_list_weekly) TO STDOUT",
                            "UPDATE research.settings SET value = '1'", "SELECT wh.recompute_all(10)"};
    for (size_t i = 0; i < sizeof denied / sizeof *denied; i++)
        refused(r, denied[i], "42501");
    /* The research views read all municipalities (aggregated). */
    cr_assert_gt(count(r, "SELECT count(*) FROM research.route_paths"), 0);
    cr_assert_eq(count(r, "SELECT children FROM research.route_paths WHERE gemeente = 'TOTAL' AND path = 'TOTAL'"), 24);
    /* and a researcher cannot lower the threshold: it is a table, not a GUC of his session. */
    exec_ok(r, "SET jtm.min_cell = '1'");
    cr_assert_eq(count(r, "SELECT research.min_cell()"), 10);
    PQfinish(r);
    PQfinish(admin);
    free(login);
    free(ci);
}

Test(access, linker_writes_facts_and_offsets_but_reads_no_research_or_monitor)
{
    char *ci = jtm_test_create_db("access", 1);
    char *login = unique_login("lnk");
    cr_assert_eq(make_login(ci, "linker", login, NULL), 0);
    PGconn *l = connect_as(ci, login);
    exec_ok(l, "INSERT INTO wh.care_episode (pid, gemeente) VALUES (md5('x'), 'GM0363'), (md5('y'), 'GM0505')");
    cr_assert_eq(count(l, "SELECT count(*) FROM wh.care_episode"), 2);
    exec_ok(l, "INSERT INTO ops.kafka_offset (consumer_group, topic, partition, next_offset) VALUES ('g', 't', 0, 1)");
    exec_ok(l, "SELECT staging.linker_session()");
    exec_ok(l, "SELECT * FROM staging.load_ndjson('')");
    refused(l, "SELECT 1 FROM research.route_paths", "42501");
    refused(l, "SELECT 1 FROM monitor.waiting_list_weekly", "42501");
    refused(l, "SELECT 1 FROM ops.schema_migrations", "42501");
    PQfinish(l);
    free(login);
    free(ci);
}

Test(access, owner_objects_cannot_bypass_row_security)
{
    char *ci = jtm_test_create_db("access", 1);
    PGconn *admin = connect_as(ci, NULL);
    /* The owner is neither superuser nor BYPASSRLS; it owns every warehouse object. */
    cr_assert_eq(count(admin, "SELECT count(*) FROM pg_roles WHERE rolname = 'jtm_owner' AND NOT rolsuper"
                              " AND NOT rolbypassrls AND NOT rolcanlogin"), 1);
    const char *owned =
        "SELECT count(*) FROM (SELECT relowner AS o FROM pg_class cl JOIN pg_namespace n ON n.oid = relnamespace"
        " WHERE nspname IN ('staging','wh','monitor','research','ops') AND relkind IN ('r','p','v','m')"
        " UNION ALL SELECT proowner FROM pg_proc p JOIN pg_namespace n ON n.oid = pronamespace"
        " WHERE nspname IN ('staging','wh','monitor','research','ops')) x WHERE o <> 'jtm_owner'::regrole";
    cr_assert_eq(count(admin, owned), 0);
    const char *unprotected =
        "SELECT count(*) FROM pg_class cl JOIN pg_namespace n ON n.oid = relnamespace"
        " JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attname = 'gemeente'"
        " WHERE nspname IN ('staging','wh','monitor','ops') AND relkind IN ('r','p')"
        " AND NOT (relrowsecurity AND relforcerowsecurity)";
    cr_assert_eq(count(admin, unprotected), 0);
    /* A table, a partitioned table with a partition, and a view added later are secured at once. */
    exec_ok(admin, "CREATE TABLE wh.t_later (pid text, gemeente text);"
                   "CREATE TABLE wh.t_parted (gemeente text, m date) PARTITION BY RANGE (m);"
                   "CREATE TABLE wh.t_parted_2024 PARTITION OF wh.t_parted FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
                   "CREATE VIEW monitor.t_later_view AS SELECT * FROM wh.t_later;"
                   "CREATE TABLE wh.t_plain (x int); ALTER TABLE wh.t_plain ADD COLUMN gemeente text;");
    cr_assert_eq(count(admin, owned), 0);
    cr_assert_eq(count(admin, unprotected), 0);
    cr_assert_eq(count(admin, "SELECT count(*) FROM pg_policy WHERE polname = 'jtm_gemeente_scope'"
                              " AND polrelid IN ('wh.t_later'::regclass, 'wh.t_parted'::regclass,"
                              " 'wh.t_parted_2024'::regclass, 'wh.t_plain'::regclass)"), 4);
    /* A materialized view cannot carry row-level security: no municipality grant. */
    exec_ok(admin, "CREATE MATERIALIZED VIEW monitor.t_mat AS SELECT gemeente FROM wh.route");
    cr_assert_eq(count(admin, "SELECT count(*) FROM pg_class WHERE oid = 'monitor.t_mat'::regclass"
                              " AND has_table_privilege('jtm_municipality', oid, 'SELECT')"), 0);
    cr_assert_eq(count(admin, "SELECT count(*) FROM pg_class WHERE oid = 'monitor.t_mat'::regclass"
                              " AND has_table_privilege('jtm_analyst', oid, 'SELECT')"), 1);
    /* DDL outside the warehouse schemas (a linker's temp table) is left alone. */
    exec_ok(admin, "CREATE TEMP TABLE t_tmp (gemeente text)");
    cr_assert_eq(count(admin, "SELECT count(*) FROM pg_class WHERE oid = 't_tmp'::regclass AND relrowsecurity"), 0);
    PQfinish(admin);
    free(ci);
}

Test(access, migrations_rerun_and_roles_survive_many_databases)
{
    /* Roles exist already (earlier tests, other databases): migrating again must not fail. */
    char *a = jtm_test_create_db("access", 1), *b = jtm_test_create_db("access", 1);
    PGconn *c = connect_as(b, NULL);
    cr_assert_eq(count(c, "SELECT count(*) FROM pg_roles WHERE rolname IN ('jtm_owner','jtm_linker','jtm_analyst',"
                          "'jtm_municipality','jtm_researcher','jtm_extractor','jtm_alert')"), 7);
    exec_ok(c, "SELECT ops.secure_all()");
    PQfinish(c);
    free(a);
    free(b);
}

Test(access, login_command_refuses_bad_input)
{
    char *ci = jtm_test_create_db("access", 0);
    char cmd[8192], *tmp = jtm_test_tmpdir(), pw[2048];
    const char *bad[] = {"municipality GM05", "municipality 'GM0505; DROP ROLE x'", "researcher 'a\"b'",
                         "researcher Upper", "researcher jtm_owner", "wizard x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(cmd, sizeof cmd, "%s/ops/jtm-login.sh -d '%s' %s >/dev/null 2>&1", JTM_SOURCE_DIR, ci, bad[i]);
        cr_assert_eq(jtm_test_sh(cmd, NULL), 2, "%s", bad[i]);
    }
    snprintf(pw, sizeof pw, "%s/pw", tmp);
    jtm_test_write_file(pw, "correct horse battery staple\n", 0644);
    snprintf(cmd, sizeof cmd, "%s/ops/jtm-login.sh -d '%s' researcher r_%d %s >/dev/null 2>&1", JTM_SOURCE_DIR, ci,
             (int)getpid(), pw);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 78, "group-readable password file refused");
    unlink(pw);
    rmdir(tmp);
    free(tmp);
    free(ci);
}
