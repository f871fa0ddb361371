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
