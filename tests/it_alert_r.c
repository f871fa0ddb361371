/* jtm-alert detect against the reference implementation: surveillance::earsC in R, on generated
 * series (flat, seasonal, zero variance, spikes, small counts, overdispersed, short) for C1, C2,
 * C3 and several alpha / baseline / minSigma settings, including earsC's own defaults; and
 * surveillance::farringtonFlexible on seven-year weekly series (flat, seasonal, trend, past
 * outbreaks, overdispersed, seasonal with trend and outbreaks, small counts, mostly zeros, large
 * counts) for R's defaults, the Noufaily preset and four other settings, over the last 80 judged
 * weeks of each run (every earlier week was judged too, to get there). Upper bounds must agree
 * to 1e-6 (earsC absolutely; farringtonFlexible absolutely up to 1 and relatively above, since its
 * bounds reach 1e129 on a nearly empty series; NaN where R gives NA or NaN) and alarms exactly.
 * Needs Rscript and r-cran-surveillance (ops/packages.d/alert.txt). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testenv.h"

static char **split_lines(char *text, size_t *n)
{
    size_t cap = 64;
    char **v = malloc(cap * sizeof *v);
    *n = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (*n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[(*n)++] = l;
    }
    return v;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)len + 1);
    cr_assert_eq(fread(s, 1, (size_t)len, f), (size_t)len);
    s[len] = '\0';
    fclose(f);
    return s;
}

/* Compares R's reference file with jtm-alert's output; returns the largest difference of the upper
 * bounds (absolute, or relative to max(1, |R's bound|) when `relative`) and adds the compared
 * points and alarms to the counters. With `relative` (farringtonFlexible, where R judged only the
 * last weeks) jtm-alert's earlier lines are skipped; the t of every compared line must agree. */
static double compare(const char *what, char *ref, char *got, int relative, long *points, long *alarms, long *nans)
{
    size_t nr, ng;
    char **r = split_lines(ref, &nr), **g = split_lines(got, &ng);
    cr_assert(nr > 1 && (relative ? nr <= ng : nr == ng), "%s: R printed %zu lines, jtm-alert %zu", what, nr, ng);
    cr_assert_str_eq(g[0], "t,count,upperbound,alarm", "%s: header", what);
    double maxdiff = 0;
    size_t skip = ng - nr;
    for (size_t i = 1; i < nr; i++) {
        char tr[32], tg[32], ar[8], ag[8];
        double cr_, cg, ur, ug;
        char ubr[64], ubg[64];
        cr_assert_eq(sscanf(r[i], "%31[^,],%lf,%63[^,],%7s", tr, &cr_, ubr, ar), 4, "%s: R line %s", what, r[i]);
        cr_assert_eq(sscanf(g[i + skip], "%31[^,],%lf,%63[^,],%7s", tg, &cg, ubg, ag), 4, "%s: line %s", what, g[i + skip]);
        cr_assert_str_eq(tg, tr, "%s: line %zu t", what, i);
        cr_assert_eq(cg, cr_, "%s: t=%s count", what, tr);
        ur = strtod(ubr, NULL);
        ug = strtod(ubg, NULL);
        if (isnan(ur) || isnan(ug)) {
            cr_assert(isnan(ur) && isnan(ug), "%s: t=%s upperbound R %s jtm %s", what, tr, ubr, ubg);
            (*nans)++;
        } else {
            double d = fabs(ur - ug) / (relative ? fmax(1, fabs(ur)) : 1);
            cr_assert(d <= 1e-6, "%s: t=%s upperbound R %s jtm %s", what, tr, ubr, ubg);
            if (d > maxdiff)
                maxdiff = d;
        }
        cr_assert_str_eq(ag, ar, "%s: t=%s alarm R %s jtm %s", what, tr, ar, ag);
        (*points)++;
        if (strcmp(ar, "1") == 0)
            (*alarms)++;
    }
    free(r);
    free(g);
    return maxdiff;
}

/* A reference run of R: the fixture script writes the series, R's output and manifest.tsv into a
 * fresh folder. The caller frees the folder name and the manifest text (rows point into it) with
 * reference_done(). */
typedef struct reference {
    char *dir, *manifest;
    char **rows;
    size_t n;
} reference;

static reference reference_run(const char *fixture)
{
    reference r = {.dir = jtm_test_tmpdir()};
    char *script = jtm_test_fixture(fixture), *cmd = NULL, *out = NULL, *mpath = NULL;
    cr_assert(asprintf(&cmd, "Rscript --vanilla '%s' '%s' 2>&1", script, r.dir) > 0);
    int rc = jtm_test_sh(cmd, &out);
    cr_assert_eq(rc, 0, "Rscript failed (%d): %s", rc, out);
    cr_assert(asprintf(&mpath, "%s/manifest.tsv", r.dir) > 0);
    r.manifest = slurp(mpath);
    r.rows = split_lines(r.manifest, &r.n);
    free(mpath);
    free(out);
    free(cmd);
    free(script);
    return r;
}

static void reference_done(reference *r)
{
    char *cmd = NULL;
    cr_assert(asprintf(&cmd, "rm -rf '%s'", r->dir) > 0);
    jtm_test_sh(cmd, NULL);
    free(cmd);
    free(r->rows);
    free(r->manifest);
    free(r->dir);
}

/* Runs `jtm-alert detect ARGS` on series_<series>.csv of the reference folder and compares its
 * output with R's ref_<refname>.csv (see compare()). */
static double compare_run(const reference *r, const char *bin, const char *args, const char *series,
                          const char *refname, const char *what, int relative, long *points, long *alarms, long *nans)
{
    char *cmd = NULL, *got = NULL, *rpath = NULL;
    cr_assert(asprintf(&cmd, "'%s' detect %s < '%s/series_%s.csv'", bin, args, r->dir, series) > 0);
    int rc = jtm_test_sh(cmd, &got);
    cr_assert_eq(rc, 0, "%s exited %d: %s", cmd, rc, got);
    cr_assert(asprintf(&rpath, "%s/ref_%s.csv", r->dir, refname) > 0);
    char *ref = slurp(rpath);
    double d = compare(what, ref, got, relative, points, alarms, nans);
    free(ref);
    free(rpath);
    free(got);
    free(cmd);
    return d;
}

Test(alert_r, detect_matches_surveillance_earsC, .timeout = 300)
{
    reference ref_run = reference_run("alert/earsc_reference.R");
    char *bin = jtm_test_bin("jtm-alert"), **rows = ref_run.rows;
    size_t nm = ref_run.n;
    cr_assert_geq(nm, 90, "manifest has only %zu comparisons", nm);
    long points = 0, alarms = 0, nans = 0, per_method[4] = {0};
    double maxdiff = 0;
    for (size_t i = 0; i < nm; i++) {
        char name[64], method[8], setting[32], alpha[32], baseline[16], msig[32];
        cr_assert_eq(sscanf(rows[i], "%63s %7s %31s %31s %15s %31s", name, method, setting, alpha, baseline, msig), 6);
        char args[256];
        int len = snprintf(args, sizeof args, "--method %s --baseline %s", method, baseline);
        if (strcmp(alpha, "-") != 0)
            len += snprintf(args + len, sizeof args - (size_t)len, " --alpha %s", alpha);
        if (strcmp(msig, "-") != 0)
            snprintf(args + len, sizeof args - (size_t)len, " --min-sigma %s", msig);
        char what[160], refname[160];
        snprintf(what, sizeof what, "%s %s %s", name, method, setting);
        snprintf(refname, sizeof refname, "%s_%s_%s", name, method, setting);
        long before = points;
        double d = compare_run(&ref_run, bin, args, name, refname, what, 0, &points, &alarms, &nans);
        per_method[method[1] - '0'] += points - before;
        if (d > maxdiff)
            maxdiff = d;
    }
    cr_log_info("earsC comparison: %zu runs, %ld points (C1 %ld, C2 %ld, C3 %ld), %ld alarms, %ld NaN bounds, "
                "max |upperbound difference| %.3g",
                nm, points, per_method[1], per_method[2], per_method[3], alarms, nans, maxdiff);
    fprintf(stderr, "earsC comparison: %zu runs, %ld points (C1 %ld, C2 %ld, C3 %ld), %ld alarms, %ld NaN bounds, "
                    "max |upperbound difference| %.3g\n",
            nm, points, per_method[1], per_method[2], per_method[3], alarms, nans, maxdiff);
    cr_assert_gt(alarms, 10, "the series should raise alarms");
    cr_assert_gt(nans, 0, "the zero-variance series should give NaN C3 bounds");
    reference_done(&ref_run);
    free(bin);
}

Test(alert_r, detect_matches_surveillance_farringtonFlexible, .timeout = 560)
{
    reference ref_run = reference_run("alert/farrington_reference.R");
    char *bin = jtm_test_bin("jtm-alert"), **rows = ref_run.rows;
    size_t nm = ref_run.n;
    cr_assert_geq(nm, 50, "manifest has only %zu comparisons", nm);
    long points = 0, alarms = 0, nans = 0;
    double maxdiff = 0;
    for (size_t i = 0; i < nm; i++) {
        char name[64], setting[32], args[256] = "";
        cr_assert_geq(sscanf(rows[i], "%63[^\t]\t%31[^\t]\t%255[^\n]", name, setting, args), 2, "manifest: %s", rows[i]);
        char what[160], refname[160], fargs[300];
        snprintf(what, sizeof what, "farrington %s %s", name, setting);
        snprintf(refname, sizeof refname, "%s_%s", name, setting);
        snprintf(fargs, sizeof fargs, "--method farrington %s", args);
        double d = compare_run(&ref_run, bin, fargs, name, refname, what, 1, &points, &alarms, &nans);
        if (d > maxdiff)
            maxdiff = d;
    }
    cr_log_info("farringtonFlexible comparison: %zu runs, %ld points, %ld alarms, %ld NA bounds, "
                "max upperbound difference (relative above 1) %.3g",
                nm, points, alarms, nans, maxdiff);
    fprintf(stderr, "farringtonFlexible comparison: %zu runs, %ld points, %ld alarms, %ld NA bounds, "
                    "max upperbound difference (relative above 1) %.3g\n",
            nm, points, alarms, nans, maxdiff);
    cr_assert_gt(alarms, 50, "the series should raise alarms");
    cr_assert_gt(nans, 0, "limit54 should leave small-count weeks without a bound");
    reference_done(&ref_run);
    free(bin);
}
