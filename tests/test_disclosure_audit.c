/* jtm-disclosure-audit's library: interval propagation (intervals.h) and the audit of published
 * tables (audit.h), on small cases worked by hand and on the fixture of issue 21: tables as the old
 * rule (0310) published them, where two withheld cells of a line are each exactly 1 and three
 * others each lie in [7, 9]. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "intervals.h"
#include "testenv.h"

Test(intervals, two_unknowns_in_a_line_of_two_are_each_one)
{
    jtm_iv *m = jtm_iv_new();
    int a = jtm_iv_var(m, 1, JTM_IV_INF), b = jtm_iv_var(m, 1, JTM_IV_INF), pub = jtm_iv_var(m, 182, 182),
        tot = jtm_iv_var(m, 184, 184);
    int vars[4] = {a, b, pub, tot}, coef[4] = {1, 1, 1, -1};
    cr_assert_eq(jtm_iv_relation(m, vars, coef, 4, 0, false), 0);
    cr_assert_gt(jtm_iv_solve(m, 100), 0);
    long long lb, ub;
    jtm_iv_bounds(m, a, &lb, &ub);
    cr_assert_eq(lb, 1);
    cr_assert_eq(ub, 1);
    jtm_iv_bounds(m, b, &lb, &ub);
    cr_assert_eq(lb, 1);
    cr_assert_eq(ub, 1);
    jtm_iv_free(m);
}

Test(intervals, unknown_total_and_inequalities)
{
    /* x + y = t, t unknown, x <= 9 (primary), y published 40; and t <= 45 from elsewhere. */
    jtm_iv *m = jtm_iv_new();
    int x = jtm_iv_var(m, 1, 9), y = jtm_iv_var(m, 40, 40), t = jtm_iv_var(m, 1, JTM_IV_INF);
    int v1[3] = {x, y, t}, c1[3] = {1, 1, -1};
    int v2[1] = {t}, c2[1] = {1};
    cr_assert_eq(jtm_iv_relation(m, v1, c1, 3, 0, false), 0);
    cr_assert_eq(jtm_iv_relation(m, v2, c2, 1, 45, true), 0);
    cr_assert_gt(jtm_iv_solve(m, 100), 0);
    long long lb, ub;
    jtm_iv_bounds(m, t, &lb, &ub);
    cr_assert_eq(lb, 41);
    cr_assert_eq(ub, 45);
    jtm_iv_bounds(m, x, &lb, &ub);
    cr_assert_eq(lb, 1);
    cr_assert_eq(ub, 5);
    /* Nothing bounds a line whose every entry is unknown. */
    int z = jtm_iv_var(m, 1, JTM_IV_INF), w = jtm_iv_var(m, 1, JTM_IV_INF);
    int v3[2] = {z, w}, c3[2] = {1, -1};
    cr_assert_eq(jtm_iv_relation(m, v3, c3, 2, 0, false), 0);
    cr_assert_gt(jtm_iv_solve(m, 100), 0);
    jtm_iv_bounds(m, z, &lb, &ub);
    cr_assert_eq(ub, JTM_IV_INF);
    /* Contradictions are reported, not bounded. */
    int v4[2] = {y, x}, c4[2] = {1, 1};
    cr_assert_eq(jtm_iv_relation(m, v4, c4, 2, 30, false), 0);
    cr_assert_eq(jtm_iv_solve(m, 100), -1);
    int bad[1] = {99}, one[1] = {1};
    cr_assert_eq(jtm_iv_relation(m, bad, one, 1, 0, false), -1);
    jtm_iv_free(m);
}

static int find(const jtm_pub *p, const jtm_audit_result *r, const char *layer, const char *row, const char *col,
                long long *lb, long long *ub)
{
    for (size_t k = 0; k < r->exposed; k++) {
        const jtm_pub_entry *e = &p->e[r->findings[k].entry];
        if (!strcmp(e->layer, layer) && !strcmp(e->r, row) && !strcmp(e->c, col)) {
            *lb = r->findings[k].lb;
            *ub = r->findings[k].ub;
            return 1;
        }
    }
    return 0;
}

Test(audit, old_rule_fixture_exposes_the_two_cases_of_issue_21)
{
    char *path = jtm_test_fixture("access/old_rule_published.csv"), err[256];
    FILE *f = fopen(path, "r");
    cr_assert(f, "%s", path);
    jtm_pub p = {0};
    cr_assert_eq(jtm_pub_load_csv(&p, f, err, sizeof err), 0, "%s", err);
    fclose(f);
    jtm_audit_opts o = {.min_cell = 10, .min_width = 10};
    jtm_audit_result r;
    cr_assert_eq(jtm_audit_run(&p, &o, &r, err, sizeof err), 0, "%s", err);
    long long lb, ub;
    /* Case 1: 2023 GM1961, total 184, published 182: CRISIS and JR are each exactly 1. */
    cr_assert(find(&p, &r, "2023", "GM1961", "CRISIS", &lb, &ub));
    cr_assert(lb == 1 && ub == 1, "[%lld, %lld]", lb, ub);
    cr_assert(find(&p, &r, "2023", "GM1961", "JR", &lb, &ub));
    cr_assert(lb == 1 && ub == 1, "[%lld, %lld]", lb, ub);
    /* Case 2: 2026 GM1978, three 'primary' cells (each <= 9) summing to 25: each in [7, 9]. */
    const char *cols[3] = {"CRISIS", "JB", "JR"};
    for (int i = 0; i < 3; i++) {
        cr_assert(find(&p, &r, "2026", "GM1978", cols[i], &lb, &ub), "%s", cols[i]);
        cr_assert(lb == 7 && ub == 9, "%s [%lld, %lld]", cols[i], lb, ub);
    }
    /* Narrowest first. */
    cr_assert_eq(r.findings[0].ub - r.findings[0].lb, 0);
    cr_assert_eq(r.suppressed, 14);
    jtm_audit_result_free(&r);
    jtm_pub_free(&p);
    free(path);
}

Test(audit, csv_errors_name_the_line)
{
    char err[256];
    jtm_pub p = {0};
    FILE *f = fmemopen((char[]){"view,layer,row,col,count,reason\nv,l,r,c,12x,\n"}, 44, "r");
    cr_assert_eq(jtm_pub_load_csv(&p, f, err, sizeof err), -1);
    cr_assert(strstr(err, "line 2"), "%s", err);
    fclose(f);
    jtm_pub_free(&p);
}
