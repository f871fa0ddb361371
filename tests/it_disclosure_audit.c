/* jtm-disclosure-audit (docs/access.md, Disclosure audit) against the research views:
 *  - the fixture of issue 21 as the old rule (0310) published it is exposed (exit 1, the two
 *    cases named), the same counts as the views now publish them are not (exit 0);
 *  - a synthetic region (ten municipalities of very different size, three years, every care level,
 *    many small cells) audited as a researcher login at thresholds 10 and 5: nothing exposed. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testenv.h"

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

static char *researcher(const char *ci)
{
    char *login = jtm_test_unique("aud"), cmd[4096];
    for (char *p = login; *p; p++)
        if (*p == '-')
            *p = '_';
    snprintf(cmd, sizeof cmd, "%s/ops/jtm-login.sh -d '%s' researcher %s >/dev/null 2>&1", JTM_SOURCE_DIR, ci, login);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 0);
    return login;
}

static int audit(const char *args, char **out)
{
    char *bin = jtm_test_bin("jtm-disclosure-audit"), cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, args);
    int rc = jtm_test_sh(cmd, out);
    free(bin);
    return rc;
}

static int audit_db(const char *ci, const char *login, char **out)
{
    char args[4096];
    snprintf(args, sizeof args, "--pg '%s user=%s' -X report.max=20", ci, login);
    return audit(args, out);
}

/* Children starting care as in tests/fixtures/access/suppression_cells.csv (layer = year, row =
 * gemeente, column = care level), one episode each, requested four weeks before the start. */
static void load_fixture(PGconn *c)
{
    char *path = jtm_test_fixture("access/suppression_cells.csv"), line[256];
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    exec_ok(c, "CREATE TEMP TABLE cells (layer text, r text, c text, n integer)");
    while (fgets(line, sizeof line, f)) {
        char layer[16], r[16], col[16];
        int n;
        if (sscanf(line, "%15[^,],%15[^,],%15[^,],%d", layer, r, col, &n) != 4)
            continue; /* the header */
        const char *v[4] = {layer, r, col, NULL};
        char nbuf[16];
        snprintf(nbuf, sizeof nbuf, "%d", n);
        v[3] = nbuf;
        PGresult *res = PQexecParams(c, "INSERT INTO cells VALUES ($1, $2, $3, $4::int)", 4, NULL, v, NULL, NULL, 0);
        cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
        PQclear(res);
    }
    fclose(f);
    free(path);
    exec_ok(c,
            "INSERT INTO wh.care_episode (pid, gemeente, category, requested_on, allocated_on, started_on)"
            " SELECT md5(layer || r || c || i), r, CASE c WHEN 'AMB' THEN '45' WHEN 'GGZ' THEN '51'"
            "        WHEN 'VERBLIJF' THEN '43' WHEN 'CRISIS' THEN '46' WHEN 'JB' THEN '48' WHEN 'JR' THEN '47'"
            "        ELSE '99' END, make_date(layer::int, 3, 1), make_date(layer::int, 3, 10), make_date(layer::int, 3, 29)"
            " FROM cells, generate_series(1, n) i");
}

Test(disclosure_audit, issue_21_fixture_exposed_on_old_rule_safe_on_new)
{
    char *old = jtm_test_fixture("access/old_rule_published.csv"), args[4096], *out = NULL;
    snprintf(args, sizeof args, "--csv %s", old);
    cr_assert_eq(audit(args, &out), 1, "%s", out);
    cr_assert(strstr(out, "exposed view=children_in_care_year layer=2023 row=GM1961 col=CRISIS lower=1 upper=1"), "%s", out);
    cr_assert(strstr(out, "exposed view=children_in_care_year layer=2023 row=GM1961 col=JR lower=1 upper=1"), "%s", out);
    cr_assert(strstr(out, "exposed view=children_in_care_year layer=2026 row=GM1978 col=JB lower=7 upper=9"), "%s", out);
    free(out);
    free(old);

    char *ci = jtm_test_create_db("audit", 1);
    PGconn *c = PQconnectdb(ci);
    cr_assert_eq(PQstatus(c), CONNECTION_OK);
    load_fixture(c);
    char *login = researcher(ci);
    cr_assert_eq(audit_db(ci, login, &out), 0, "%s", out);
    cr_assert(strstr(out, "event=audit_done"), "%s", out);
    cr_assert(!strstr(out, "withheld=0 "), "the fixture withholds something: %s", out);
    free(out);
    /* The views tell no reason that bounds a count. */
    PGresult *r = PQexec(c, "SELECT count(*) FROM research.children_in_care_year WHERE suppression IS DISTINCT FROM"
                            " CASE WHEN suppressed THEN 'withheld' END");
    cr_assert_eq(atol(PQgetvalue(r, 0, 0)), 0);
    PQclear(r);
    PQfinish(c);
    free(login);
    free(ci);
}

/* About 4,000 children over three years in ten municipalities from 3% to 30% of the region, care
 * levels from common (AMB) to rare (JR, CRISIS, OVERIG), waiting times 0-20 weeks; routes from
 * the same children. Deterministic (setseed). */
static void load_region(PGconn *c)
{
    exec_ok(c,
            "SELECT setseed(0.21);"
            "CREATE TEMP TABLE g (gemeente text, lo float8, hi float8);"
            "INSERT INTO g VALUES ('GM0505', 0, 0.30), ('GM0642', 0.30, 0.42), ('GM0590', 0.42, 0.52),"
            " ('GM1978', 0.52, 0.61), ('GM1961', 0.61, 0.70), ('GM0512', 0.70, 0.78), ('GM0531', 0.78, 0.85),"
            " ('GM0610', 0.85, 0.91), ('GM0523', 0.91, 0.97), ('GM0482', 0.97, 1.0);"
            "CREATE TEMP TABLE kid AS SELECT i, md5('region' || i) AS pid, random() AS u, random() AS v,"
            "  2024 + floor(random() * 3)::int AS y, floor(random() * 140)::int AS wait"
            " FROM generate_series(1, 4000) i;"
            "INSERT INTO wh.care_episode (pid, gemeente, category, requested_on, allocated_on, started_on)"
            " SELECT k.pid, g.gemeente,"
            "        CASE WHEN k.v < 0.55 THEN '45' WHEN k.v < 0.75 THEN '51' WHEN k.v < 0.84 THEN '43'"
            "             WHEN k.v < 0.90 THEN '48' WHEN k.v < 0.94 THEN '46' WHEN k.v < 0.97 THEN '47' ELSE '99' END,"
            "        make_date(k.y, 1, 1) + (k.i % 300), make_date(k.y, 1, 1) + (k.i % 300) + k.wait / 2,"
            "        make_date(k.y, 1, 1) + (k.i % 300) + k.wait"
            " FROM kid k JOIN g ON k.u >= g.lo AND k.u < g.hi;"
            "INSERT INTO wh.route (pid, gemeente, path, episodes)"
            " SELECT e.pid, e.gemeente, CASE WHEN k.i % 7 = 0 THEN 'JGZ>' ELSE '' END"
            "        || CASE WHEN k.i % 11 = 0 THEN 'VERZUIM>' ELSE '' END || wh.care_level(e.category), 1"
            " FROM wh.care_episode e JOIN kid k ON k.pid = e.pid");
}

Test(disclosure_audit, synthetic_region_nothing_exposed_at_10_and_5)
{
    char *ci = jtm_test_create_db("audit", 1), *out = NULL;
    PGconn *c = PQconnectdb(ci);
    cr_assert_eq(PQstatus(c), CONNECTION_OK);
    load_region(c);
    char *login = researcher(ci);
    cr_assert_eq(audit_db(ci, login, &out), 0, "%s", out);
    cr_assert(strstr(out, "min_cell=10 "), "%s", out);
    cr_assert(!strstr(out, "withheld=0 "), "the region withholds something: %s", out);
    free(out);
    exec_ok(c, "UPDATE research.settings SET value = '5' WHERE name = 'min_cell'");
    cr_assert_eq(audit_db(ci, login, &out), 0, "%s", out);
    cr_assert(strstr(out, "min_cell=5 "), "%s", out);
    free(out);
    PQfinish(c);
    free(login);
    free(ci);
}
