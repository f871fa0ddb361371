/* Integration tests of jtm-report against a migrated PostgreSQL with the synthetic warehouse of
 * tests/fixtures/report (two municipalities, small counts, alarm episodes): the page is well-formed
 * and holds every chart, a municipality's report holds nothing of the other municipality, --public
 * shows no count 1..9, exit codes, graceful degradation without the alert tables, and a headless
 * Chromium run (screenshot, no console errors, chart ids in the rendered DOM). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <libpq-fe.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testenv.h"

static const char *const chart_ids[] = {"chart-routes", "chart-waiting", "chart-decision-days",
                                        "chart-start-days", "table-indicators", "table-population"};

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static void exec_sql(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s",
              PQerrorMessage(c));
    PQclear(r);
}

static void load_fixture(PGconn *c, const char *name)
{
    char *path = jtm_test_fixture(name);
    char *sql = slurp(path);
    exec_sql(c, sql);
    free(sql);
    free(path);
}

/* A migrated database with the fixture data (alerts unless without_alerts drops ops.alert), and a
 * config file naming it. */
typedef struct env {
    char *conninfo, *dir, *config;
} env;

static env setup_env(bool without_alerts)
{
    env e = {0};
    e.conninfo = jtm_test_create_db("report", 1);
    PGconn *c = PQconnectdb(e.conninfo);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    load_fixture(c, "report/warehouse.sql");
    if (without_alerts)
        exec_sql(c, "DROP TABLE ops.alert CASCADE");
    else
        load_fixture(c, "report/alerts.sql");
    PQfinish(c);
    e.dir = jtm_test_tmpdir();
    cr_assert_geq(asprintf(&e.config, "%s/report.conf", e.dir), 0);
    char *content = NULL;
    cr_assert_geq(asprintf(&content, "# jtm-report test config\npg.conninfo = %s\nlog.level = warn\n", e.conninfo), 0);
    jtm_test_write_file(e.config, content, 0600);
    free(content);
    return e;
}

static void env_free(env *e)
{
    free(e->conninfo);
    free(e->dir);
    free(e->config);
}

/* Runs jtm-report with args (period 2024-01..2024-12 unless args set one) into dir/name; returns
 * the exit status and, when page is not NULL and it succeeded, the page. */
static int run_report(const env *e, const char *args, const char *name, char **page)
{
    char *bin = jtm_test_bin("jtm-report"), *out = NULL, *cmd = NULL, *log = NULL;
    cr_assert_geq(asprintf(&out, "%s/%s", e->dir, name), 0);
    cr_assert_geq(asprintf(&cmd, "'%s' -c '%s' %s %s -o '%s' 2>&1", bin, e->config,
                           strstr(args, "--from") ? "" : "--from 2024-01 --to 2024-12", args, out),
                  0);
    int rc = jtm_test_sh(cmd, &log);
    if (rc != 0)
        cr_log_info("jtm-report %s: exit %d: %s", args, rc, log);
    if (page)
        *page = rc == 0 ? slurp(out) : NULL;
    free(log);
    free(cmd);
    free(out);
    free(bin);
    return rc;
}

static void assert_charts(const char *page)
{
    for (size_t i = 0; i < sizeof chart_ids / sizeof chart_ids[0]; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "id=\"%s\"", chart_ids[i]);
        cr_assert(strstr(page, needle), "the page lacks %s", chart_ids[i]);
    }
}

/* Checks with xmllint that the page and each inline <svg> on its own are well-formed XML. */
static void assert_well_formed(const env *e, const char *page, const char *name)
{
    char *path = NULL, *cmd = NULL, *out = NULL;
    cr_assert_geq(asprintf(&path, "%s/%s", e->dir, name), 0);
    cr_assert_geq(asprintf(&cmd, "xmllint --noout --nonet '%s' 2>&1", path), 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0, "page %s is not well-formed: %s", name, out);
    free(out);
    free(cmd);
    int n = 0;
    for (const char *p = strstr(page, "<svg "); p; p = strstr(p + 1, "<svg ")) {
        const char *end = strstr(p, "</svg>");
        cr_assert_not_null(end, "an <svg> is not closed");
        char *svg = strndup(p, (size_t)(end + 6 - p)), *spath = NULL;
        cr_assert_geq(asprintf(&spath, "%s/%s.svg%d.svg", e->dir, name, n++), 0);
        jtm_test_write_file(spath, svg, 0644);
        cr_assert_geq(asprintf(&cmd, "xmllint --noout --nonet '%s' 2>&1", spath), 0);
        cr_assert_eq(jtm_test_sh(cmd, &out), 0, "svg %d of %s is not well-formed: %s", n - 1, name, out);
        free(out);
        free(cmd);
        free(spath);
        free(svg);
    }
    cr_assert_geq(n, 4, "every chart is an inline svg");
    free(path);
}

static bool matches(const char *s, const char *pattern)
{
    regex_t re;
    cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    bool m = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return m;
}

/* Counts shown as numbers 1..9: in elements of class "n" (table cells, Sankey labels) and in
 * tooltips, where a count always precedes its unit word. */
static int small_counts(const char *page)
{
    regex_t re;
    cr_assert_eq(regcomp(&re,
                         "class=\"n\">([0-9]+)<|([0-9]+) (kinderen|children|wachtend|waiting|trajecten|episodes)",
                         REG_EXTENDED),
                 0);
    int found = 0;
    regmatch_t m[4];
    for (const char *p = page; regexec(&re, p, 4, m, 0) == 0; p += m[0].rm_eo) {
        int g = m[1].rm_so >= 0 ? 1 : 2;
        long v = strtol(p + m[g].rm_so, NULL, 10);
        found += v >= 1 && v <= 9;
    }
    regfree(&re);
    return found;
}

Test(report, region_report_is_well_formed_and_holds_every_chart)
{
    env e = setup_env(false);
    char *page = NULL;
    cr_assert_eq(run_report(&e, "", "region.html", &page), 0);
    assert_charts(page);
    assert_well_formed(&e, page, "region.html");
    cr_assert_null(strstr(page, "<script"), "no scripts");
    cr_assert_null(strstr(page, "src="), "nothing loaded");
    cr_assert_null(strstr(page, "url("), "nothing loaded");
    /* both municipalities, JR routes, the alarm of GM0505 with its bound left out (region) */
    cr_assert(strstr(page, "GM0642") && strstr(page, "GM0505"));
    cr_assert(strstr(page, "Jeugdreclassering <tspan class=\"n\">"), "JR stage of GM0642 in the Sankey");
    cr_assert(strstr(page, "class=\"firing\""), "alarm periods marked");
    cr_assert(matches(page, "week 2024-10-07: [0-9]+ wachtend \xE2\x80\x94 alarm"), "the alarm week of GM0505 category 45");
    cr_assert_gt(small_counts(page), 0, "the internal report shows small counts (so the public check means something)");
    free(page);
    env_free(&e);
}

Test(report, municipality_report_holds_no_other_municipality)
{
    env e = setup_env(false);
    char *page = NULL;
    cr_assert_eq(run_report(&e, "--gemeente GM0505", "gm0505.html", &page), 0);
    assert_charts(page);
    assert_well_formed(&e, page, "gm0505.html");
    cr_assert(strstr(page, "GM0505"));
    /* GM0642's code, its only stage (JR) and category (48), its path counts 73 and 11, its alarm week */
    cr_assert_null(strstr(page, "GM0642"));
    cr_assert_null(strstr(page, "Jeugdreclassering"));
    cr_assert_null(strstr(page, "48 jeugdbescherming"));
    cr_assert_null(strstr(page, ">73<"));
    cr_assert_null(strstr(page, "73 kinderen"));
    cr_assert_not(matches(page, "2024-06-03: [0-9]+ wachtend \xE2\x80\x94 alarm"), "GM0642's alarm week");
    /* and GM0505's own: the bound the alerter stored at the alarm week */
    cr_assert(strstr(page, "class=\"bound\""), "upper bound marked for a municipality");
    cr_assert(matches(page, "week 2024-10-07: [0-9]+ wachtend \xE2\x80\x94 alarm"), "GM0505's alarm");
    cr_assert(strstr(page, "45 ambulant"));
    free(page);
    env_free(&e);
}

Test(report, public_report_shows_no_count_under_the_threshold)
{
    env e = setup_env(false);
    const char *variants[] = {"--gemeente GM0505 --public", "--public", "--public --lang en"};
    for (size_t i = 0; i < 3; i++) {
        char *page = NULL, name[32];
        snprintf(name, sizeof name, "public%zu.html", i);
        cr_assert_eq(run_report(&e, variants[i], name, &page), 0);
        assert_charts(page);
        assert_well_formed(&e, page, name);
        cr_assert_eq(small_counts(page), 0, "%s shows counts 1..9", variants[i]);
        cr_assert(strstr(page, "&lt;10"), "%s marks suppressed counts as <10", variants[i]);
        cr_assert(strstr(page, "id=\"public-note\""));
        free(page);
    }
    /* research.min_cell() is the default threshold: raise it and the page says so */
    PGconn *c = PQconnectdb(e.conninfo);
    exec_sql(c, "UPDATE research.settings SET value = '20' WHERE name = 'min_cell'");
    PQfinish(c);
    char *page = NULL;
    cr_assert_eq(run_report(&e, "--public", "public20.html", &page), 0);
    cr_assert(strstr(page, "&lt;20"));
    cr_assert_null(strstr(page, "&lt;10"));
    free(page);
    env_free(&e);
}

Test(report, population_per_pc4_when_the_warehouse_has_it)
{
    env e = setup_env(false);
    char *page = NULL;
    cr_assert_eq(run_report(&e, "--gemeente GM0505", "gemeente.html", &page), 0);
    cr_assert(strstr(page, "niet per postcodegebied"), "without pc4 the page says it shows municipalities");
    free(page);
    PGconn *c = PQconnectdb(e.conninfo);
    load_fixture(c, "report/population_pc4.sql");
    PQfinish(c);
    cr_assert_eq(run_report(&e, "--gemeente GM0505", "pc4.html", &page), 0);
    assert_well_formed(&e, page, "pc4.html");
    cr_assert(strstr(page, "Wijk (pc4)"));
    cr_assert(strstr(page, "<th>3311</th>") && strstr(page, "<th>3312</th>"), "GM0505's districts");
    cr_assert_null(strstr(page, "3350"), "no district of GM0642");
    cr_assert_null(strstr(page, "niet per postcodegebied"));
    free(page);
    env_free(&e);
}

/* Runs ops/jtm-login.sh against the test cluster; returns the login name (caller frees). */
static char *make_login(const env *e, const char *kind, const char *arg, const char *prefix)
{
    char *login = NULL, *cmd = NULL, *out = NULL;
    cr_assert_geq(asprintf(&login, "%s_%d", prefix, (int)getpid()), 0);
    if (strcmp(kind, "municipality") == 0)
        cr_assert_geq(asprintf(&cmd, "'%s/ops/jtm-login.sh' -d \"%s\" --login %s municipality %s 2>&1", JTM_SOURCE_DIR,
                               e->conninfo, login, arg),
                      0);
    else
        cr_assert_geq(asprintf(&cmd, "'%s/ops/jtm-login.sh' -d \"%s\" %s %s 2>&1", JTM_SOURCE_DIR, e->conninfo, kind,
                               login),
                      0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0, "jtm-login: %s", out);
    free(out);
    free(cmd);
    return login;
}

/* The report reads as whoever logs in: a municipality login gets its own rows whatever --gemeente
 * says (row-level security), and an analyst, who may not read ops, gets the report without alarms. */
Test(report, logins_see_what_their_role_allows)
{
    env e = setup_env(false);
    char *muni = make_login(&e, "municipality", "GM0642", "rptmuni");
    char *analyst = make_login(&e, "analyst", NULL, "rptanalyst");
    char *page = NULL, *args = NULL;

    cr_assert_geq(asprintf(&args, "-X pg.user=%s", muni), 0);
    cr_assert_eq(run_report(&e, args, "muni.html", &page), 0);
    assert_charts(page);
    cr_assert(strstr(page, "Jeugdreclassering"), "its own routes");
    cr_assert_null(strstr(page, "Verzuim <tspan"), "no VERZUIM route: only GM0505 has those");
    cr_assert_null(strstr(page, "<th>GM0505</th>"), "no population rows of GM0505");
    free(page);
    free(args);
    cr_assert_geq(asprintf(&args, "-X pg.user=%s --gemeente GM0505", muni), 0);
    cr_assert_eq(run_report(&e, args, "muni-other.html", &page), 0);
    cr_assert_null(strstr(page, "<tspan class=\"n\">"), "no route of another municipality");
    cr_assert_null(strstr(page, "45 ambulant"), "no waiting list of another municipality");
    free(page);
    free(args);

    cr_assert_geq(asprintf(&args, "-X pg.user=%s", analyst), 0);
    cr_assert_eq(run_report(&e, args, "analyst.html", &page), 0);
    assert_charts(page);
    cr_assert(strstr(page, "<th>GM0505</th>") && strstr(page, "<th>GM0642</th>"), "an analyst sees the region");
    cr_assert(strstr(page, "id=\"no-alerts\""), "ops.alert is not readable for an analyst");
    free(page);
    free(args);
    free(muni);
    free(analyst);
    env_free(&e);
}

Test(report, english_labels)
{
    env e = setup_env(false);
    char *page = NULL;
    cr_assert_eq(run_report(&e, "--lang en --gemeente GM0505", "en.html", &page), 0);
    cr_assert(strstr(page, "lang=\"en\""));
    cr_assert(strstr(page, "Client routes"));
    cr_assert(strstr(page, "Decision days (request to allocation)"));
    cr_assert_null(strstr(page, "Cliëntroutes"));
    free(page);
    env_free(&e);
}

Test(report, degrades_without_alert_tables)
{
    env e = setup_env(true);
    char *page = NULL;
    cr_assert_eq(run_report(&e, "--gemeente GM0505", "noalerts.html", &page), 0);
    assert_charts(page);
    cr_assert(strstr(page, "id=\"no-alerts\""));
    cr_assert_null(strstr(page, "class=\"firing\""));
    free(page);
    env_free(&e);
}

Test(report, exit_codes)
{
    env e = setup_env(false);
    cr_assert_eq(run_report(&e, "--gemeente 0505", "x.html", NULL), 2);
    cr_assert_eq(run_report(&e, "--from 2024-13 --to 2024-12", "x.html", NULL), 2);
    cr_assert_eq(run_report(&e, "--from 2024-05 --to 2024-01", "x.html", NULL), 2);
    cr_assert_eq(run_report(&e, "--lang de", "x.html", NULL), 2);
    cr_assert_eq(run_report(&e, "--nonsense", "x.html", NULL), 2);
    cr_assert_eq(run_report(&e, "-X no.such.key=1", "x.html", NULL), 78);
    cr_assert_eq(run_report(&e, "-X pg.connect_wait_ms=300 -X 'pg.conninfo=host=127.0.0.1 port=1 dbname=x'", "x.html",
                            NULL),
                 69);
    cr_assert_eq(run_report(&e, "", "no/such/dir/x.html", NULL), 74);
    char *bin = jtm_test_bin("jtm-report"), *cmd = NULL, *out = NULL;
    cr_assert_geq(asprintf(&cmd, "'%s' --help", bin), 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0);
    cr_assert(strstr(out, "--public") && strstr(out, "report.min_cell"));
    free(out);
    free(cmd);
    cr_assert_geq(asprintf(&cmd, "'%s' --version", bin), 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0);
    cr_assert(strstr(out, "jtm-report "));
    free(out);
    free(cmd);
    free(bin);
    env_free(&e);
}

/* ---- headless Chromium ---- */

static const char *chromium_flags =
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
    "--disable-component-update --disable-sync --disable-dev-shm-usage --hide-scrollbars";

/* Runs chromium on file://page with extra flags; stdout+stderr in *out. */
static int chromium(const char *dir, const char *extra, const char *page, char **out)
{
    char *cmd = NULL;
    cr_assert_geq(asprintf(&cmd,
                           "profile=$(mktemp -d '%s/chromium-XXXXXX') && timeout 120 chromium %s "
                           "--user-data-dir=\"$profile\" --enable-logging=stderr --v=0 %s 'file://%s' 2>&1; "
                           "rc=$?; rm -rf \"$profile\"; exit $rc",
                           dir, chromium_flags, extra, page),
                  0);
    int rc = jtm_test_sh(cmd, out);
    free(cmd);
    return rc;
}

/* Console errors as Chromium logs them with --enable-logging: CONSOLE lines, uncaught exceptions,
 * refused loads (the page's Content-Security-Policy). */
static bool console_errors(const char *log)
{
    return strstr(log, ":CONSOLE") || strstr(log, "Uncaught") || strstr(log, "Refused to") ||
           strstr(log, "Failed to load resource");
}

Test(report_browser, chromium_renders_the_report_without_console_errors)
{
    if (jtm_test_sh("command -v chromium >/dev/null 2>&1", NULL) != 0)
        cr_skip_test("chromium is not installed (ops/packages.d/report.txt installs it)");
    env e = setup_env(false);
    char *page = NULL, *log = NULL, *path = NULL, *shot = NULL, *flags = NULL;
    cr_assert_eq(run_report(&e, "", "browser.html", &page), 0);
    cr_assert_geq(asprintf(&path, "%s/browser.html", e.dir), 0);

    /* The detector works: a page with a script error is caught. */
    char *probe = NULL;
    cr_assert_geq(asprintf(&probe, "%s/probe.html", e.dir), 0);
    jtm_test_write_file(probe, "<!DOCTYPE html><html><body><script>no_such_function();</script></body></html>", 0644);
    chromium(e.dir, "--dump-dom", probe, &log);
    cr_assert(console_errors(log), "the console check must see a script error: %s", log);
    free(log);
    free(probe);

    /* The screenshot goes where it outlives the test when ops/test.sh gave a state folder. */
    const char *state = getenv("JTM_TEST_STATE");
    cr_assert_geq(asprintf(&shot, "%s/report-screenshot.png", state && *state ? state : e.dir), 0);
    unlink(shot);
    cr_assert_geq(asprintf(&flags, "--window-size=1280,4200 --screenshot='%s'", shot), 0);
    int rc = chromium(e.dir, flags, path, &log);
    cr_assert_eq(rc, 0, "chromium --screenshot failed: %s", log);
    cr_assert_not(console_errors(log), "console errors: %s", log);
    struct stat st;
    cr_assert_eq(stat(shot, &st), 0, "no screenshot: %s", log);
    cr_assert_gt(st.st_size, 50000, "the screenshot is nearly empty");
    cr_log_info("screenshot: %s", shot);
    free(log);

    rc = chromium(e.dir, "--dump-dom", path, &log);
    cr_assert_eq(rc, 0, "chromium --dump-dom failed");
    cr_assert_not(console_errors(log), "console errors: %s", log);
    assert_charts(log);
    cr_assert(strstr(log, "<path d=\"M"), "ribbons and lines rendered");
    free(log);
    free(flags);
    free(shot);
    free(path);
    free(page);
    env_free(&e);
}
