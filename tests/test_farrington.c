/* Unit tests of daemons/jtm-alert/farrington.c: defaults, presets, parameters from text, range
 * checks, and hand-checkable runs. The full comparison with R is in tests/it_alert_r.c. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "farrington.h"

Test(farrington, defaults_and_presets_as_r)
{
    jtm_farrington_params p;
    char err[160];
    jtm_farrington_defaults(&p);
    cr_assert_eq(p.b, 5);
    cr_assert_eq(p.w, 3);
    cr_assert_eq(p.alpha, 0.05);
    cr_assert_eq(p.weights_threshold, 2.58);
    cr_assert_eq(p.no_periods, 1);
    cr_assert_eq(p.past_weeks_not_included, -1);
    cr_assert_eq(p.threshold_method, JTM_FARRINGTON_DELTA);
    cr_assert_eq(jtm_farrington_first(&p), 263);
    cr_assert_eq(jtm_farrington_preset(&p, "noufaily", err, sizeof err), 0);
    cr_assert_eq(p.no_periods, 10);
    cr_assert_eq(p.past_weeks_not_included, 26);
    cr_assert_eq(p.p_threshold_trend, 1);
    cr_assert_eq(p.threshold_method, JTM_FARRINGTON_NBPLUGIN);
    cr_assert_eq(jtm_farrington_check(&p, err, sizeof err), 0, "%s", err);
    cr_assert_eq(jtm_farrington_preset(&p, "farrington", err, sizeof err), 0);
    cr_assert_eq(p.no_periods, 1);
    cr_assert_eq(jtm_farrington_preset(&p, "cusum", err, sizeof err), -1);
}

Test(farrington, parameters_from_text)
{
    jtm_farrington_params p;
    char err[160];
    jtm_farrington_defaults(&p);
    cr_assert_eq(jtm_farrington_set(&p, "limit54", "3,2", err, sizeof err), 0);
    cr_assert_eq(p.limit54_cases, 3);
    cr_assert_eq(p.limit54_period, 2);
    cr_assert_eq(jtm_farrington_set(&p, "thresholdMethod", "muan", err, sizeof err), 0);
    cr_assert_eq(p.threshold_method, JTM_FARRINGTON_MUAN);
    cr_assert_eq(jtm_farrington_set(&p, "powertrans", "1/2", err, sizeof err), 0);
    cr_assert_eq(p.powertrans, JTM_FARRINGTON_POW_1_2);
    cr_assert_eq(jtm_farrington_set(&p, "reweight", "FALSE", err, sizeof err), 0);
    cr_assert_eq(p.reweight, 0);
    cr_assert_eq(jtm_farrington_set(&p, "b", "2.5", err, sizeof err), -1);
    cr_assert(strstr(err, "b:"), "%s", err);
    cr_assert_eq(jtm_farrington_set(&p, "powertrans", "3/4", err, sizeof err), -1);
    cr_assert_eq(jtm_farrington_set(&p, "limit54", "5", err, sizeof err), -1);
    cr_assert_eq(jtm_farrington_set(&p, "nosuch", "1", err, sizeof err), -1);
}

Test(farrington, refuses_what_r_cannot_do)
{
    jtm_farrington_params p;
    char err[160];
    jtm_farrington_defaults(&p);
    p.no_periods = 47; /* 52 - 2 * 3 - 1 = 45 weeks between windows: at most 46 levels */
    cr_assert_eq(jtm_farrington_check(&p, err, sizeof err), -1);
    cr_assert(strstr(err, "noPeriods"), "%s", err);
    jtm_farrington_defaults(&p);
    p.b = 1;
    p.w = 0;
    cr_assert_eq(jtm_farrington_check(&p, err, sizeof err), -1);
    jtm_farrington_defaults(&p);
    p.past_weeks_not_included = 49;
    cr_assert_eq(jtm_farrington_check(&p, err, sizeof err), -1);
    jtm_farrington_defaults(&p);
    double x[300] = {0}, up[300];
    int al[300];
    x[10] = -1;
    cr_assert_eq(jtm_farrington_run(&p, x, 300, up, al, err, sizeof err), -1);
    cr_assert(strstr(err, "week 11"), "%s", err);
}

Test(farrington, short_series_judges_nothing)
{
    jtm_farrington_params p;
    char err[160];
    jtm_farrington_defaults(&p);
    double x[263], up[263];
    int al[263];
    for (int i = 0; i < 263; i++)
        x[i] = 10;
    cr_assert_eq(jtm_farrington_run(&p, x, 263, up, al, err, sizeof err), 0);
    cr_assert(isnan(up[262]));
    cr_assert_eq(al[262], JTM_FARRINGTON_NA);
}

/* A constant series: the GLM fits mu = 10 exactly, phi = 1, no trend; the bound is then the
 * delta rule's (10^(2/3) + z sqrt(4/9 10^(1/3) (1 + se^2/10)))^(3/2) and a spike of 40 alarms. */
Test(farrington, spike_over_a_flat_series_alarms)
{
    jtm_farrington_params p;
    char err[160];
    jtm_farrington_defaults(&p);
    enum { N = 270 };
    double x[N], up[N];
    int al[N];
    for (int i = 0; i < N; i++)
        x[i] = 10;
    x[N - 1] = 40;
    cr_assert_eq(jtm_farrington_run(&p, x, N, up, al, err, sizeof err), N - 263, "%s", err);
    cr_assert(up[N - 2] > 14 && up[N - 2] < 17, "bound %g", up[N - 2]);
    cr_assert_eq(al[N - 2], JTM_FARRINGTON_NO_ALARM);
    cr_assert_eq(al[N - 1], JTM_FARRINGTON_ALARM);
    x[N - 1] = 0; /* limit54: 30 cases in the last 4 weeks still give a bound; 0 never alarms */
    cr_assert_eq(jtm_farrington_run(&p, x, N, up, al, err, sizeof err), N - 263);
    cr_assert_eq(al[N - 1], JTM_FARRINGTON_NO_ALARM);
    for (int i = 0; i < N; i++)
        x[i] = 1;
    cr_assert_eq(jtm_farrington_run(&p, x, N, up, al, err, sizeof err), N - 263);
    cr_assert(isnan(up[N - 1]), "4 cases in 4 weeks: no bound (limit54)");
    cr_assert_eq(al[N - 1], JTM_FARRINGTON_NO_ALARM);
}
