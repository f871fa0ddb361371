#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "migrate.h"
#include "pg.h"
#include "testenv.h"

static PGconn *connect_or_die(const char *ci)
{
    PGconn *c = PQconnectdb(ci);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    return c;
}

static long count(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    long n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

Test(migrate, project_migrations_apply_once_and_rerun_is_noop)
{
    char *ci = jtm_test_create_db("migr", 0);
    PGconn *c = connect_or_die(ci);
    char err[1024], dir[4096];
    snprintf(dir, sizeof dir, "%s/schemas/sql", JTM_SOURCE_DIR);
    int first = jtm_migrate(c, dir, NULL, err, sizeof err);
    cr_assert_gt(first, 0, "%s", err);
    cr_assert_eq(jtm_migrate(c, dir, NULL, err, sizeof err), 0, "second run applies nothing: %s", err);
    cr_assert_eq(count(c, "SELECT count(*) FROM ops.schema_migrations"), first);
    PQfinish(c);
    free(ci);
}

Test(migrate, failed_file_leaves_nothing_and_changed_file_is_refused)
{
    char *ci = jtm_test_create_db("migr", 0);
    PGconn *c = connect_or_die(ci);
    char *tmp = jtm_test_tmpdir(), path[4096], err[1024];
    snprintf(path, sizeof path, "%s/0001_a.sql", tmp);
    jtm_test_write_file(path, "CREATE TABLE public.a(x int);", 0644);
    snprintf(path, sizeof path, "%s/0002_b.sql", tmp);
    jtm_test_write_file(path, "CREATE TABLE public.b(x int); SELECT no_such_function();", 0644);
    cr_assert_eq(jtm_migrate(c, tmp, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "0002_b.sql"), "%s", err);
    cr_assert_eq(count(c, "SELECT count(*) FROM pg_tables WHERE tablename = 'b'"), 0, "rolled back");
    cr_assert_eq(count(c, "SELECT count(*) FROM ops.schema_migrations"), 1);
    jtm_test_write_file(path, "CREATE TABLE public.b(x int);", 0644);
    cr_assert_eq(jtm_migrate(c, tmp, NULL, err, sizeof err), 1, "%s", err);
    snprintf(path, sizeof path, "%s/0001_a.sql", tmp);
    jtm_test_write_file(path, "CREATE TABLE public.a(x int, y int);", 0644);
    cr_assert_eq(jtm_migrate(c, tmp, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "0001_a.sql") && strstr(err, "changed"), "%s", err);
    PQfinish(c);
    free(ci);
    free(tmp);
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
              PQerrorMessage(c));
    PQclear(r);
}

static void copy_migration(const char *name, const char *to)
{
    char *cmd = NULL;
    cr_assert(asprintf(&cmd, "cp '%s/schemas/sql/%s' '%s/'", JTM_SOURCE_DIR, name, to) > 0);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 0, "%s", cmd);
    free(cmd);
}

/* Migration 0013 (issue 16): a warehouse loaded before it holds exact ages, which step on the
 * birth day; the migration rewrites them to calendar months, and from then on PostgreSQL refuses a
 * stepping age (check violation 23514) and takes a calendar one. */
Test(migrate, stored_ages_become_calendar_months)
{
    static const char *const before[] = {"0001_schemas.sql", "0002_staging.sql", "0003_wh.sql", "0004_load.sql",
                                         "0005_monitor.sql", "0006_recompute_fast.sql",
                                         "0007_recompute_custom_plans.sql", "0008_recompute_typed.sql",
                                         "0009_recompute_sorted_alloc.sql", "0010_linker_stream.sql",
                                         "0011_linker_derives.sql", "0012_linker_child_log.sql"};
    char *ci = jtm_test_create_db("migr", 0);
    PGconn *c = connect_or_die(ci);
    char *tmp = jtm_test_tmpdir(), err[1024];
    for (size_t i = 0; i < sizeof before / sizeof *before; i++)
        copy_migration(before[i], tmp);
    cr_assert_eq(jtm_migrate(c, tmp, NULL, err, sizeof err), 12, "%s", err);
    /* born 2012-05-17: on 2024-03-10 the exact age was 141, the calendar age is 142 */
#define ROW_SQL "INSERT INTO staging.event (feed, event_id, pid, type, occurred_on, recorded_at, status, "\
                      "withdrawn, gemeente, payload) VALUES ('jgz', '%s', 'fedcba9876543210fedcba9876543210', "\
                      "'signal', '2024-03-10', '2024-03-10T09:00:00Z', 1, false, 'GM0505', "\
                      "'{\"client\": {\"birth_ym\": \"2012-05\", \"age_months\": %d, \"sex\": 1, \"pc4\": \"3311\", "\
                      "\"gemeente\": \"GM0505\"}, \"domain\": \"gezin\"}')"
    char sql[1024];
    snprintf(sql, sizeof sql, ROW_SQL, "0123456789abcdef0123456789abcde1", 141);
    exec_ok(c, sql);
    snprintf(sql, sizeof sql, ROW_SQL, "0123456789abcdef0123456789abcde2", 142);
    exec_ok(c, sql);
    copy_migration("0013_age_calendar_months.sql", tmp);
    cr_assert_eq(jtm_migrate(c, tmp, NULL, err, sizeof err), 1, "%s", err);
    cr_assert_eq(count(c, "SELECT count(*) FROM staging.event WHERE (payload #>> '{client,age_months}')::int = 142"), 2,
                 "the stored exact age was rewritten");
    snprintf(sql, sizeof sql, ROW_SQL, "0123456789abcdef0123456789abcde3", 141);
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_FATAL_ERROR, "a stepping age was stored");
    cr_assert_str_eq(PQresultErrorField(r, PG_DIAG_SQLSTATE), "23514");
    PQclear(r);
    snprintf(sql, sizeof sql, ROW_SQL, "0123456789abcdef0123456789abcde3", 142);
    exec_ok(c, sql);
    PQfinish(c);
    free(ci);
    free(tmp);
}

Test(migrate, jtm_migrate_program_exit_codes)
{
    char *bin = jtm_test_bin("jtm-migrate"), cmd[8192], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s --version", bin);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0);
    cr_assert(strncmp(out, "jtm-migrate ", 12) == 0, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s --bogus 2>&1", bin);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 2);
    snprintf(cmd, sizeof cmd, "%s -c /nonexistent.conf 2>&1", bin);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 78);
    snprintf(cmd, sizeof cmd, "%s -X 'pg.conninfo=host=127.0.0.1 port=1' -X pg.connect_wait_ms=300 2>&1", bin);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 69);
    free(bin);
}

Test(pg, backoff_grows_and_caps)
{
    jtm_backoff b = {100, 1000, 0};
    int w1 = jtm_backoff_next(&b), w2 = jtm_backoff_next(&b);
    cr_assert(w1 >= 80 && w1 <= 120, "%d", w1);
    cr_assert(w2 >= 160 && w2 <= 240, "%d", w2);
    for (int i = 0; i < 10; i++)
        jtm_backoff_next(&b);
    cr_assert_eq(b.current_ms, 1000);
    cr_assert(jtm_pg_sqlstate_is_transient("08006"));
    cr_assert(jtm_pg_sqlstate_is_transient("57P01"));
    cr_assert_not(jtm_pg_sqlstate_is_transient("22P02"));
    cr_assert_not(jtm_pg_sqlstate_is_transient("23505"));
}
