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

/* Every relation the login may read that has a gemeente column, in any schema. */
static PGresult *readable_gemeente_relations(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT format('%I.%I', n.nspname, cl.relname) FROM pg_class cl"
                            " JOIN pg_namespace n ON n.oid = cl.relnamespace"
                            " JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attname = 'gemeente'"
                            " WHERE cl.relkind IN ('r','p','v','m') AND has_schema_privilege(n.oid, 'USAGE')"
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

    /* Set up after the rows arrived: GM0505's rows move out of the default partitions. */
    char *login = unique_login("gm0505");
    cr_assert_eq(make_login(ci, "municipality", "GM0505", login), 0);
    cr_assert_eq(count(admin, "SELECT count(*) FROM gm0505.care_episode"), 12);
    cr_assert_eq(count(admin, "SELECT count(*) FROM wh.care_episode_unassigned WHERE gemeente = 'GM0505'"), 0);
    cr_assert_eq(count(admin, "SELECT count(*) FROM wh.care_episode"), 24, "the parent still holds everything");
    PGconn *m = connect_as(ci, login);
    cr_assert_eq(count(m, "SELECT count(*) FROM care_episode"), 12, "its schema is its search_path");

    /* Tables and views: every readable relation with a gemeente column shows only GM0505. */
    PGresult *rels = readable_gemeente_relations(m);
    cr_assert_geq(PQntuples(rels), 14, "municipality reads its partitions and views");
    for (int i = 0; i < PQntuples(rels); i++) {
        char q[512];
        cr_expect(strncmp(PQgetvalue(rels, i, 0), "gm0505.", 7) == 0, "%s readable", PQgetvalue(rels, i, 0));
        snprintf(q, sizeof q, "SELECT count(*) FROM %s WHERE gemeente IS DISTINCT FROM 'GM0505'", PQgetvalue(rels, i, 0));
        cr_expect_eq(count(m, q), 0, "%s shows another municipality", PQgetvalue(rels, i, 0));
    }
    PQclear(rels);
    cr_assert_gt(count(m, "SELECT count(*) FROM gm0505.waiting_list_weekly WHERE waiting > 0"), 0);
    cr_assert_eq(count(m, "SELECT count(*) FROM gm0505.alert_history"), 1, "its own alert");

    /* COPY, of a table and of a query. */
    char *out = copy_out(m, "COPY gm0505.care_episode TO STDOUT");
    cr_assert(strstr(out, "GM0505") && !strstr(out, "GM0363"), "COPY table leaks");
    free(out);
    out = copy_out(m, "COPY (SELECT * FROM waiting_list_weekly) TO STDOUT (FORMAT csv)");
    cr_assert(strstr(out, "GM0505") && !strstr(out, "GM0363"), "COPY query leaks");
    free(out);

    /* Turning row security off is refused rather than bypassing it. */
    exec_ok(m, "SET row_security = off");
    refused(m, "SELECT count(*) FROM gm0505.care_episode", "42501");
    exec_ok(m, "RESET row_security");

    /* Not readable at all: the region's tables and views, staging, research, ops; no writes. */
    const char *denied[] = {"SELECT count(*) FROM wh.care_episode", "SELECT count(*) FROM wh.care_episode_unassigned",
                            "SELECT count(*) FROM monitor.waiting_list_weekly", "SELECT count(*) FROM monitor.t_owner_view",
                            "SELECT count(*) FROM monitor.t_alert_view", "SELECT * FROM monitor.t_definer()",
                            "SELECT count(*) FROM staging.event", "SELECT count(*) FROM research.route_paths",
                            "SELECT count(*) FROM ops.kafka_offset", "SELECT count(*) FROM ops.alert",
                            "SELECT count(*) FROM ops.schema_migrations",
                            "INSERT INTO gm0505.care_episode (pid, gemeente) VALUES ('x', 'GM0505')",
                            "INSERT INTO wh.care_episode (pid, gemeente) VALUES ('x', 'GM0363')",
                            "DELETE FROM gm0505.route", "EXPLAIN SELECT * FROM wh.route"};
    for (size_t i = 0; i < sizeof denied / sizeof *denied; i++)
        refused(m, denied[i], "42501");

    /* Even a direct grant (an operator's mistake) shows only its own rows: row-level security is
     * the second line, in tables, owner-rights views and functions alike. */
    char sql[512];
    exec_ok(admin, "GRANT USAGE ON SCHEMA staging, wh, monitor TO jtm_municipality");
    snprintf(sql, sizeof sql, "GRANT SELECT ON staging.event, wh.care_episode, wh.route, monitor.t_owner_view,"
                                " monitor.t_alert_view TO %s", login);
    exec_ok(admin, sql);
    cr_assert_eq(count(m, "SELECT count(*) FROM staging.event WHERE gemeente <> 'GM0505'"), 0);
    cr_assert_eq(count(m, "SELECT count(*) FROM staging.event"), 1);
    cr_assert_eq(count(m, "SELECT count(*) FROM wh.care_episode"), 12);
    cr_assert_eq(count(m, "SELECT count(*) FROM monitor.t_owner_view"), 12, "owner-rights view filtered");
    cr_assert_eq(count(m, "SELECT count(*) FROM monitor.t_alert_view"), 1, "a view over ops.alert is filtered too");
    cr_assert_eq(count(m, "SELECT count(*) FROM monitor.t_definer() g WHERE g <> 'GM0505'"), 0);
    cr_assert_eq(count(m, "SELECT count(*) FROM monitor.t_definer()"), 1);
    cr_assert_eq(count(m, "SELECT monitor.t_definer_plpgsql()"), 0);
    cr_assert_eq(count(m, "SELECT count(*) FROM monitor.t_invoker() g WHERE g <> 'GM0505'"), 0);
    out = copy_out(m, "COPY (SELECT * FROM monitor.t_definer()) TO STDOUT");
    cr_assert(!strstr(out, "GM0363"), "COPY of a function leaks");
    free(out);

    /* SET ROLE from the superuser's session is as narrow as the login. */
    snprintf(sql, sizeof sql, "SET ROLE %s", login);
    exec_ok(admin, sql);
    cr_assert_eq(count(admin, "SELECT count(*) FROM wh.care_episode WHERE gemeente <> 'GM0505'"), 0);
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
    cr_assert_eq(count(m, "SELECT count(*) FROM gm0505.care_episode"), 0, "member of two: nothing");
    cr_assert_eq(count(m, "SELECT count(*) FROM gm0363.care_episode"), 0, "member of two: nothing");
    PQfinish(m);
    /* A bare member of jtm_municipality (no jtm_gmNNNN) sees nothing either. */
    char *bare = unique_login("gmbare"), sql[512];
    snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN IN ROLE jtm_municipality", bare);
    exec_ok(admin, sql);
    m = connect_as(ci, bare);
    refused(m, "SELECT count(*) FROM monitor.waiting_list_weekly", "42501");
    refused(m, "SELECT count(*) FROM wh.route", "42501");
    refused(m, "SELECT count(*) FROM gm0505.route", "42501");
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
    /* A partitioned table is copied as a query: COPY wh.route TO gives nothing under row-level
     * security (PostgreSQL reads ONLY the parent) and is refused without it. */
    char *out = copy_out(a, "COPY (SELECT * FROM wh.route) TO STDOUT");
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
        " WHERE nspname IN ('staging','wh','monitor','research','ops')"
        "   AND NOT (nspname = 'ops' AND proname = ANY (ops.admin_routines()))) x WHERE o <> 'jtm_owner'::regrole";
    cr_assert_eq(count(admin, owned), 0);
    /* The functions the event trigger and the setup run as superuser are the superuser's, pinned to
     * pg_catalog, and nobody else may run them (jtm_owner could replace its own). */
    cr_assert_eq(count(admin, "SELECT count(*) FROM pg_proc p JOIN pg_roles o ON o.oid = p.proowner"
                              " WHERE p.pronamespace = 'ops'::regnamespace AND p.proname = ANY (ops.admin_routines())"
                              "   AND o.rolsuper AND 'search_path=pg_catalog, pg_temp' = ANY (p.proconfig)"
                              "   AND NOT has_function_privilege('jtm_owner', p.oid, 'EXECUTE')"
                              "   AND NOT has_function_privilege('jtm_analyst', p.oid, 'EXECUTE')"),
                 count(admin, "SELECT cardinality(ops.admin_routines())"));
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

/* ---- Municipal isolation against a hostile analyst (docs/access.md, Municipal isolation) ---- */

/* GM0505's rows, the same in every database; with_other adds GM0482's (pids, categories and dates
 * among GM0505's). */
static void load_two(PGconn *admin, int with_other)
{
    const char *codes = with_other ? "ARRAY['GM0505', 'GM0482']" : "ARRAY['GM0505']";
    char sql[4096];
    snprintf(sql, sizeof sql,
             "INSERT INTO wh.care_episode (pid, gemeente, category, referrer, requested_on, allocated_on, started_on,"
             "  ended_on, end_reason)"
             " SELECT md5('c' || g || i), g, CASE WHEN i %% 3 = 0 THEN '47' ELSE '45' END, '01', date '2024-01-01' + i,"
             "        date '2024-01-10' + i, CASE WHEN i %% 2 = 0 THEN date '2024-02-01' + i END,"
             "        CASE WHEN i %% 4 = 0 THEN date '2024-05-01' + i END, CASE WHEN i %% 4 = 0 THEN '31' END"
             " FROM unnest(%s) g, generate_series(1, 12) i;"
             "INSERT INTO wh.route (pid, gemeente, path, first_signal_on, first_care_on, episodes)"
             " SELECT md5('c' || g || i), g, 'JGZ>AMB', date '2023-12-01' + i, date '2024-02-01' + i, 1"
             " FROM unnest(%s) g, generate_series(1, 12) i;"
             "INSERT INTO wh.episode_waiting (pid, gemeente, category, waiting_from, waiting_until)"
             " SELECT md5('c' || g || i), g, '45', date '2024-01-01' + i, CASE WHEN i %% 2 = 0 THEN date '2024-03-01' END"
             " FROM unnest(%s) g, generate_series(1, 12) i;"
             "INSERT INTO wh.population_fact (pid, gemeente, birth_month, kind, from_month, to_month, residential)"
             " SELECT md5('c' || g || i), g, date '2014-01-01', CASE WHEN i %% 2 = 0 THEN 'care' ELSE 'jgz' END,"
             "        date '2024-01-01', date '2024-03-01', i %% 5 = 0"
             " FROM unnest(%s) g, generate_series(1, 12) i;"
             "INSERT INTO ops.alert (gemeente, category, method, week, observed, upper_bound, status, fired_at)"
             " SELECT g, '45', 'C2', date '2024-01-01' + 7 * i, 9, 4, 'resolved', timestamptz '2024-02-01 10:00+00'"
             " FROM unnest(%s) g, generate_series(1, 3) i;",
             codes, codes, codes, codes, codes);
    exec_ok(admin, sql);
    exec_ok(admin, "VACUUM ANALYZE"); /* the same statistics and visibility in both databases */
}

/* Every line a statement returns (EXPLAIN's plan), joined; or "ERROR <sqlstate>". Caller frees. */
static char *output_of(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        for (int i = 0; i < PQntuples(r); i++) {
            for (int j = 0; j < PQnfields(r); j++)
                fprintf(f, "%s%s", j ? "|" : "", PQgetisnull(r, i, j) ? "<null>" : PQgetvalue(r, i, j));
            fputc('\n', f);
        }
    } else {
        const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        fprintf(f, "ERROR %s", st ? st : "?");
    }
    fclose(f);
    PQclear(r);
    return out;
}

/* Runs every probe on both connections and counts the probes whose output differs. */
static int probe_both(PGconn *a, PGconn *b, const char *const *probes, size_t n, int log_first)
{
    static const char *const off[] = {"enable_seqscan", "enable_indexscan", "enable_bitmapscan"};
    static const char *const modes[] = {"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ",
                                        "EXPLAIN (ANALYZE, VERBOSE, COSTS ON, TIMING OFF, SUMMARY OFF) ", ""};
    int differ = 0;
    for (size_t o = 0; o < sizeof off / sizeof *off; o++) {
        char set[128];
        snprintf(set, sizeof set, "RESET ALL; SET %s = off", off[o]);
        exec_ok(a, set);
        exec_ok(b, set);
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < sizeof modes / sizeof *modes; k++) {
                char sql[2048];
                snprintf(sql, sizeof sql, "%s%s", modes[k], probes[i]);
                char *x = output_of(a, sql), *y = output_of(b, sql);
                if (strcmp(x, y) != 0) {
                    if (differ++ < log_first)
                        cr_log_error("%s off: %s\n-- with GM0482's rows:\n%s\n-- without:\n%s", off[o], sql, x, y);
                }
                free(x);
                free(y);
            }
    }
    exec_ok(a, "RESET ALL");
    exec_ok(b, "RESET ALL");
    return differ;
}

Test(access, explain_tells_a_municipality_nothing_about_another, .timeout = 300)
{
    /* Two databases with the same GM0505 rows; only the first holds GM0482's as well. */
    char *ci[2] = {jtm_test_create_db("access", 1), jtm_test_create_db("access", 1)};
    char *login = unique_login("gm0505spy"), *ctl = unique_login("gm0505ctl");
    PGconn *admin[2], *m[2], *control[2];
    for (int d = 0; d < 2; d++) {
        cr_assert_eq(make_login(ci[d], "municipality", "GM0505", login), 0);
        admin[d] = connect_as(ci[d], NULL);
        load_two(admin[d], d == 0);
        m[d] = connect_as(ci[d], login);
    }
    char foreign_pid[64], sql[1024];
    PGresult *r = PQexec(admin[0], "SELECT md5('cGM04823')");
    snprintf(foreign_pid, sizeof foreign_pid, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    cr_assert_eq(count(admin[0], "SELECT count(*) FROM wh.care_episode WHERE gemeente = 'GM0482'"), 12);

    /* The probes of issue 15: gemeente and category (index condition), pid ranges, one foreign pid
     * with a date (the policy's InitPlan), dates, on every table of the schema ... */
    char p_pid[512], p_initplan[512], p_route_pid[512];
    snprintf(p_pid, sizeof p_pid, "SELECT * FROM gm0505.care_episode WHERE pid >= '%.1s' AND pid < '%.4sz'", foreign_pid,
             foreign_pid);
    snprintf(p_initplan, sizeof p_initplan,
             "SELECT * FROM gm0505.care_episode WHERE pid = '%s' AND started_on <= '2024-06-01'", foreign_pid);
    snprintf(p_route_pid, sizeof p_route_pid, "SELECT * FROM gm0505.route WHERE pid = '%s'", foreign_pid);
    const char *fixed[] = {
        "SELECT * FROM gm0505.care_episode WHERE gemeente = 'GM0482' AND category = '47'",
        "SELECT * FROM gm0505.care_episode WHERE gemeente = 'GM0482'",
        "SELECT * FROM gm0505.care_episode WHERE gemeente >= 'GM0400' AND gemeente < 'GM0500'",
        p_pid,
        p_initplan,
        "SELECT * FROM gm0505.care_episode WHERE started_on BETWEEN '2024-01-05' AND '2024-02-10'",
        "SELECT * FROM gm0505.care_episode WHERE category = '47' AND allocated_on > '2024-01-12'",
        "SELECT count(*) FROM gm0505.care_episode WHERE pid > '8'",
        p_route_pid,
        "SELECT * FROM gm0505.route WHERE gemeente = 'GM0482' AND first_care_on > '2024-02-03'",
        "SELECT * FROM gm0505.episode_waiting WHERE waiting_from >= '2024-01-05' AND gemeente = 'GM0482'",
        "SELECT * FROM gm0505.population_fact WHERE gemeente = 'GM0482' AND from_month >= '2024-01-01'",
    };
    /* ... and every view of the schema (indicators, waiting list, alert history). */
    r = PQexec(m[0], "SELECT relname FROM pg_class WHERE relnamespace = 'gm0505'::regnamespace AND relkind = 'v' ORDER BY 1");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(m[0]));
    int nv = PQntuples(r);
    cr_assert_geq(nv, 12, "population_month, the monitor views and alert_history");
    size_t n = sizeof fixed / sizeof *fixed, np = n + (size_t)nv;
    char **probes = calloc(np, sizeof *probes);
    for (size_t i = 0; i < n; i++)
        probes[i] = strdup(fixed[i]);
    for (int v = 0; v < nv; v++)
        cr_assert(asprintf(&probes[n + (size_t)v], "SELECT * FROM gm0505.%s WHERE gemeente = 'GM0482'",
                           PQgetvalue(r, v, 0)) > 0);
    cr_assert_eq(probe_both(m[0], m[1], (const char *const *)probes, np, 3), 0,
                 "a municipality's EXPLAIN or result depends on another municipality's rows");

    /* Every own row is readable, in every table and view, exactly as the region sees GM0505. */
    for (int v = 0; v < nv + 4; v++) {
        const char *rel = v < nv ? PQgetvalue(r, v, 0)
                                 : (const char *[]){"care_episode", "episode_waiting", "route", "population_fact"}[v - nv];
        const char *region = strcmp(rel, "population_month") == 0 || v >= nv ? "wh" : "monitor";
        char mine[512], theirs[512];
        snprintf(mine, sizeof mine, "SELECT count(*), coalesce(string_agg(x::text, ';' ORDER BY x::text), '') FROM gm0505.%s x",
                 rel);
        if (strcmp(rel, "alert_history") == 0)
            snprintf(theirs, sizeof theirs,
                     "SELECT count(*), coalesce(string_agg(x::text, ';' ORDER BY x::text), '') FROM (SELECT gemeente,"
                     " category, method, week, observed, upper_bound, status, fired_at, resolved_at, resolved_week"
                     " FROM ops.alert WHERE gemeente = 'GM0505') x");
        else
            snprintf(theirs, sizeof theirs,
                     "SELECT count(*), coalesce(string_agg(x::text, ';' ORDER BY x::text), '') FROM %s.%s x"
                     " WHERE gemeente = 'GM0505'", region, rel);
        char *a = output_of(m[0], mine), *b = output_of(admin[0], theirs);
        cr_expect_str_eq(a, b, "%s: the municipality reads other rows than the region has for it", rel);
        cr_expect(strncmp(a, "0|", 2) != 0 || strcmp(rel, "multi_provider_month") == 0, "%s is empty", rel);
        free(a);
        free(b);
    }
    PQclear(r);

    /* The control: a GM0505 login that reads wh.care_episode under row-level security only (the
     * design before 0340) still has the oracle, so these probes can tell. */
    for (int d = 0; d < 2; d++) {
        snprintf(sql, sizeof sql, "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%s') THEN"
                                  " CREATE ROLE %s LOGIN IN ROLE jtm_gm0505; END IF; END $$;"
                                  "GRANT USAGE ON SCHEMA wh TO %s; GRANT SELECT ON wh.care_episode TO %s", ctl, ctl, ctl, ctl);
        exec_ok(admin[d], sql);
        control[d] = connect_as(ci[d], ctl);
        cr_assert_eq(count(control[d], "SELECT count(*) FROM wh.care_episode WHERE gemeente <> 'GM0505'"), 0);
    }
    const char *oracle[] = {"SELECT * FROM wh.care_episode WHERE gemeente = 'GM0482' AND category = '47'"};
    cr_assert_gt(probe_both(control[0], control[1], oracle, 1, 0), 0,
                 "row-level security alone shows no difference: the probes would not find the oracle");

    for (int d = 0; d < 2; d++) {
        PQfinish(control[d]);
        PQfinish(m[d]);
        PQfinish(admin[d]);
        free(ci[d]);
    }
    for (size_t i = 0; i < np; i++)
        free(probes[i]);
    free(probes);
    free(login);
    free(ctl);
}

Test(access, readers_cannot_take_the_service_locks_or_read_table_statistics, .timeout = 120)
{
    char *ci = jtm_test_create_db("access", 1);
    const char *kinds[] = {"municipality", "analyst", "researcher", "extractor"};
    const char *locks[] = {"SELECT pg_try_advisory_lock(hashtext('jtm-alert'))", "SELECT pg_try_advisory_lock(7365201)",
                           "SELECT pg_advisory_lock(7365201)", "SELECT pg_advisory_xact_lock(7365201)",
                           "SELECT pg_try_advisory_lock_shared(7365201)", "SELECT pg_try_advisory_lock(0, 7365201)",
                           "SELECT pg_advisory_unlock_all()"};
    PGconn *readers[4];
    for (size_t k = 0; k < 4; k++) {
        char *login = unique_login("lockr");
        if (k == 0)
            cr_assert_eq(make_login(ci, kinds[k], "GM0505", login), 0);
        else
            cr_assert_eq(make_login(ci, kinds[k], login, NULL), 0);
        readers[k] = connect_as(ci, login);
        for (size_t i = 0; i < sizeof locks / sizeof *locks; i++)
            refused(readers[k], locks[i], "42501");
        /* nor the per-table statistics: per partition, a municipality's row counts and change rates */
        refused(readers[k], "SELECT sum(n_live_tup) FROM pg_stat_user_tables", "42501");
        refused(readers[k], "SELECT pg_stat_get_tuples_inserted(oid) FROM pg_class WHERE relname = 'route_unassigned'",
                "42501");
        free(login);
    }
    /* jtm-migrate takes and releases its lock while the readers are connected (and have tried). */
    char cmd[4096], *out = NULL, *bin = jtm_test_bin("jtm-migrate");
    snprintf(cmd, sizeof cmd, "timeout 60 %s -X 'pg.conninfo=%s' -X log.level=warn 2>&1", bin, ci);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0, "jtm-migrate: %s", out);
    free(out);
    free(bin);
    for (size_t k = 0; k < 4; k++)
        PQfinish(readers[k]);
    free(ci);
}

/* One line of docs/access.md's privilege table: | `role` | `obj`, `obj` | PRIV, PRIV | */
static void documented_grants(PGconn *c)
{
    char path[1024], line[4096];
    snprintf(path, sizeof path, "%s/docs/access.md", JTM_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    exec_ok(c, "CREATE TEMP TABLE documented (role text, pat text, wild boolean, priv text)");
    int in = 0, rows = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "## ", 3) == 0)
            in = strncmp(line, "## Privileges", 13) == 0;
        if (!in || strncmp(line, "| `", 3) != 0)
            continue;
        char *cells[3] = {0}, *save = NULL, *p = line + 1;
        for (int i = 0; i < 3; i++)
            cells[i] = strtok_r(i ? NULL : p, "|", &save);
        cr_assert(cells[0] && cells[1] && cells[2], "privilege row: %s", line);
        char role[128] = "";
        sscanf(cells[0], " `%127[^`]`", role);
        for (char *o = strchr(cells[1], '`'); o; o = strchr(o, '`')) {
            char *e = strchr(o + 1, '`');
            cr_assert_not_null(e, "%s", line);
            *e = '\0';
            char pat[512], *q = pat;
            for (const char *s = o + 1; *s && q < pat + sizeof pat - 3; s++) {
                if (*s == '*')
                    *q++ = '%';
                else if (*s == '_' || *s == '%') {
                    *q++ = '\\';
                    *q++ = *s;
                } else
                    *q++ = *s;
            }
            *q = '\0';
            char *privs = strdup(cells[2]), *ps = NULL;
            for (char *pv = strtok_r(privs, ", \n", &ps); pv; pv = strtok_r(NULL, ", \n", &ps)) {
                const char *v[4] = {role, pat, strchr(o + 1, '*') ? "t" : "f", pv};
                PGresult *r = PQexecParams(c, "INSERT INTO documented VALUES ($1, $2, $3, $4)", 4, NULL, v, NULL, NULL, 0);
                cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
                PQclear(r);
                rows++;
            }
            free(privs);
            o = e + 1;
        }
    }
    fclose(f);
    cr_assert_gt(rows, 40, "docs/access.md has no privilege table");
}

/* Every grant of the warehouse's schemas, their functions and the advisory-lock functions to
 * PUBLIC or a jtm_* role (owners left out), municipalities folded into jtm_gmNNNN / gmNNNN. */
#define ACTUAL_GRANTS \
    "WITH rel AS (" \
    "  SELECT n.nspname || '.' || c.relname AS obj, c.relowner AS owner," \
    "         coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's'::\"char\" ELSE 'r'::\"char\" END, c.relowner)) AS acl" \
    "    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace" \
    "   WHERE (n.nspname IN ('staging','wh','monitor','research','ops') OR n.nspname ~ '^gm[0-9]{4}$')" \
    "     AND c.relkind IN ('r','p','v','m','S','f')" \
    "  UNION ALL SELECT n.nspname || '.' || p.proname || '()', p.proowner, coalesce(p.proacl, acldefault('f'::\"char\", p.proowner))" \
    "    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace" \
    "   WHERE n.nspname IN ('staging','wh','monitor','research','ops') OR n.nspname ~ '^gm[0-9]{4}$'" \
    "      OR (n.nspname = 'pg_catalog' AND p.proname LIKE 'pg\\_%advisory\\_%')" \
    "  UNION ALL SELECT 'schema ' || n.nspname, n.nspowner, coalesce(n.nspacl, acldefault('n'::\"char\", n.nspowner))" \
    "    FROM pg_namespace n WHERE n.nspname IN ('staging','wh','monitor','research','ops') OR n.nspname ~ '^gm[0-9]{4}$'" \
    "), g AS (SELECT obj, owner, (aclexplode(acl)).* FROM rel)" \
    " SELECT DISTINCT regexp_replace(CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE grantee::regrole::text END," \
    "        '^jtm_gm[0-9]{4}$', 'jtm_gmNNNN') AS role," \
    "        regexp_replace(obj, '\\mgm[0-9]{4}\\M', 'gmNNNN') AS obj, privilege_type AS priv" \
    "   FROM g WHERE grantee <> owner AND (grantee = 0 OR grantee::regrole::text LIKE 'jtm\\_%')"

/* What a documented pattern names: relations (a wildcard leaves out sequences and the default
 * partitions), functions, schemas; municipalities folded as above. */
#define DOCUMENTED_OBJECTS \
    "SELECT DISTINCT regexp_replace(n.nspname || '.' || c.relname, '\\mgm[0-9]{4}\\M', 'gmNNNN') AS obj," \
    "       c.relkind = 'S' OR (c.relispartition AND n.nspname !~ '^gm[0-9]{4}$') AS not_wild" \
    "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace" \
    " WHERE (n.nspname IN ('staging','wh','monitor','research','ops') OR n.nspname ~ '^gm[0-9]{4}$')" \
    "   AND c.relkind IN ('r','p','v','m','S','f')" \
    " UNION SELECT regexp_replace(n.nspname || '.' || p.proname || '()', '\\mgm[0-9]{4}\\M', 'gmNNNN'), false" \
    "  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace" \
    " WHERE n.nspname IN ('staging','wh','monitor','research','ops') OR (n.nspname = 'pg_catalog' AND p.proname LIKE 'pg\\_%advisory\\_%')" \
    " UNION SELECT regexp_replace('schema ' || nspname, '\\mgm[0-9]{4}\\M', 'gmNNNN'), false FROM pg_namespace" \
    " WHERE nspname IN ('staging','wh','monitor','research','ops') OR nspname ~ '^gm[0-9]{4}$'"

/* Logs each row of a one-column query as an error with a label (none when label is NULL); returns
 * how many there were. */
static int log_rows(PGconn *c, const char *sql, const char *label)
{
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    int n = PQntuples(r);
    for (int i = 0; label && i < n; i++)
        cr_log_error("%s: %s", label, PQgetvalue(r, i, 0));
    PQclear(r);
    return n;
}

Test(access, privileges_are_exactly_the_documented_ones)
{
    char *ci = jtm_test_create_db("access", 1);
    char *m1 = unique_login("gmpriv"), *m2 = unique_login("gmpriv");
    cr_assert_eq(make_login(ci, "municipality", "GM0505", m1), 0);
    cr_assert_eq(make_login(ci, "municipality", "GM0482", m2), 0);
    PGconn *admin = connect_as(ci, NULL);
    documented_grants(admin);
    exec_ok(admin, "CREATE TEMP TABLE actual AS " ACTUAL_GRANTS);
    exec_ok(admin, "CREATE TEMP TABLE objects AS " DOCUMENTED_OBJECTS);
    cr_assert_gt(count(admin, "SELECT count(*) FROM actual"), 40);
    /* Grants the table does not list, then listed grants (or objects) the catalog lacks. */
#define UNDOCUMENTED                                                                                          \
    "SELECT a.role || ' ' || a.priv || ' ON ' || a.obj FROM %s a WHERE NOT EXISTS"                             \
    " (SELECT 1 FROM documented d WHERE d.role = a.role AND a.obj LIKE d.pat AND d.priv = a.priv"              \
    "   AND (d.pat LIKE '%%()') = (a.obj LIKE '%%()'))"
    char sql[1024];
    snprintf(sql, sizeof sql, UNDOCUMENTED, "actual");
    cr_expect_eq(log_rows(admin, sql, "granted, not in docs/access.md"), 0, "grants that docs/access.md does not list");
    cr_expect_eq(log_rows(admin,
                          "SELECT d.role || ' ' || d.priv || ' ON ' || coalesce(o.obj, d.pat || ' (no such object)')"
                          "  FROM documented d LEFT JOIN objects o ON o.obj LIKE d.pat AND (NOT d.wild OR NOT o.not_wild)"
                          "   AND (d.pat LIKE '%()') = (o.obj LIKE '%()')"
                          " WHERE o.obj IS NULL OR NOT EXISTS (SELECT 1 FROM actual a WHERE a.role = d.role"
                          "                                    AND a.obj = o.obj AND a.priv = d.priv)",
                          "in docs/access.md, not granted"),
                 0, "grants that docs/access.md lists but the catalog lacks");
    /* The check can fail: one grant too many is found. */
    exec_ok(admin, "GRANT SELECT ON ops.kafka_offset TO jtm_alert");
    exec_ok(admin, "CREATE TEMP TABLE actual2 AS " ACTUAL_GRANTS);
    snprintf(sql, sizeof sql, UNDOCUMENTED, "actual2");
    cr_assert_eq(log_rows(admin, sql, NULL), 1);
    PQfinish(admin);
    free(m1);
    free(m2);
    free(ci);
}

/* The server log of the test PostgreSQL (ops/test.sh exports JTM_PGDATA). */
static char *server_log(void)
{
    const char *d = getenv("JTM_PGDATA");
    cr_assert(d && *d, "JTM_PGDATA is not set: run through ops/test.sh");
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/server.log", d) > 0);
    char *cmd = NULL, *out = NULL;
    cr_assert(asprintf(&cmd, "cat '%s'", path) > 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0, "cannot read %s", path);
    free(cmd);
    free(path);
    return out;
}

/* Waits up to 10 s for a server log line holding all of a, b and c. */
static int log_has_line(const char *a, const char *b, const char *c)
{
    for (int waited = 0; waited < 10000; waited += 100) {
        char *log = server_log();
        int found = 0;
        for (char *line = strtok(log, "\n"); line && !found; line = strtok(NULL, "\n"))
            found = strstr(line, a) && strstr(line, b) && strstr(line, c);
        free(log);
        if (found)
            return 1;
        usleep(100000);
    }
    return 0;
}

Test(access, audit_log_records_a_municipality_select_under_its_login)
{
    char *ci = jtm_test_create_db("access", 1);
    char *login = unique_login("gmaudit"), *marker = unique_login("audit_marker"), who[160], sql[512];
    cr_assert_eq(make_login(ci, "municipality", "GM0505", login), 0);
    PGconn *m = connect_as(ci, login);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM gm0505.care_episode WHERE pid <> '%s'", marker);
    cr_assert_eq(count(m, sql), 0);
    PQfinish(m);
    snprintf(who, sizeof who, "user=%s ", login);
    cr_assert(log_has_line(who, "AUDIT: SESSION,", marker), "no pgaudit line of %s's SELECT in the server log", login);
    cr_assert(log_has_line(who, "READ,SELECT,TABLE,gm0505.care_episode", marker), "the relation read is not named");
    cr_assert(log_has_line(who, "connection authorized", login), "the session is not logged");
    cr_assert(log_has_line(who, "disconnection", login), "the session's end is not logged");
    free(marker);
    free(login);
    free(ci);
}

Test(access, login_password_reaches_the_server_only_as_a_scram_verifier)
{
    char *ci = jtm_test_create_db("access", 1);
    char *tmp = jtm_test_tmpdir(), pw[1024], cmd[8192], *out = NULL, secret[128];
    char *login = unique_login("gmscram");
    snprintf(secret, sizeof secret, "plain-%d-correct-horse-battery", (int)getpid());
    snprintf(pw, sizeof pw, "%s/pw", tmp);
    char content[256];
    snprintf(content, sizeof content, "%s\n", secret);
    jtm_test_write_file(pw, content, 0600);
    /* With every statement of the admin session audited: an ALTER ROLE ... PASSWORD 'plaintext'
     * would be in the log. */
    snprintf(cmd, sizeof cmd, "%s/ops/jtm-login.sh -d '%s options=-cpgaudit.log=all' --login %s municipality GM0505 %s 2>&1",
             JTM_SOURCE_DIR, ci, login, pw);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0, "%s", out);
    free(out);
    PGconn *admin = connect_as(ci, NULL);
    char q[512];
    snprintf(q, sizeof q, "SELECT count(*) FROM pg_authid WHERE rolname = '%s' AND rolpassword LIKE 'SCRAM-SHA-256$4096:%%'",
             login);
    cr_assert_eq(count(admin, q), 1, "no SCRAM verifier stored");
    cr_assert(log_has_line("ALTER ROLE", "PASSWORD", login), "the audited ALTER ROLE is not in the log");
    /* Neither the password nor the verifier (an offline-guessing target) is in the log. */
    snprintf(q, sizeof q, "SELECT rolpassword FROM pg_authid WHERE rolname = '%s'", login);
    PGresult *v = PQexec(admin, q);
    cr_assert_eq(PQntuples(v), 1);
    char *log = server_log();
    cr_assert_null(strstr(log, secret), "the password reached the server log");
    cr_assert_null(strstr(log, PQgetvalue(v, 0, 0)), "the verifier reached the server log");
    free(log);
    PQclear(v);
    PQfinish(admin);
    unlink(pw);
    rmdir(tmp);
    free(tmp);
    free(login);
    free(ci);
}
