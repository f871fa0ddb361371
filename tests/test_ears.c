/* Unit tests of the EARS detector (daemons/jtm-alert/ears.c): the normal quantile against R's
 * qnorm(), and hand-checked C1/C2/C3 cases. The full comparison with R is tests/it_alert_r.c. */
#include <criterion/criterion.h>
#include <math.h>

#include "ears.h"

Test(ears, qnorm_matches_r)
{
    /* sprintf("%.17g", qnorm(p)) in R 4.2. */
    static const struct {
        double p, q;
    } cases[] = {
        {0.999, 3.0902323061678132},   {0.975, 1.9599639845400536},  {0.99, 2.3263478740408408},
        {0.9, 1.2815515655446008},     {0.5, 0},                     {0.6, 0.25334710313579978},
        {0.95, 1.6448536269514715},    {0.9999, 3.7190164854557084}, {1e-10, -6.3613409024040557},
        {0.3, -0.52440051270804067},   {0.9999999, 5.1993375822906618},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double q = jtm_qnorm(cases[i].p);
        cr_assert(fabs(q - cases[i].q) <= 4e-16 * fmax(1, fabs(cases[i].q)), "qnorm(%.17g) = %.17g, R %.17g",
                  cases[i].p, q, cases[i].q);
    }
    cr_assert(isinf(jtm_qnorm(1)) && jtm_qnorm(1) > 0);
    cr_assert(isinf(jtm_qnorm(0)) && jtm_qnorm(0) < 0);
    cr_assert(isnan(jtm_qnorm(1.5)));
    for (double p = 0.001; p < 1; p += 0.01)
        cr_assert(fabs(jtm_qnorm(p) + jtm_qnorm(1 - p)) < 1e-12, "symmetry at %g", p);
}

Test(ears, defaults_as_earsC)
{
    char err[128];
    jtm_ears_params p = {.method = JTM_EARS_C3};
    cr_assert_eq(jtm_ears_params_resolve(&p, err, sizeof err), 0);
    cr_assert_eq(p.baseline, 7);
    cr_assert_eq(p.alpha, 0.025);
    p = (jtm_ears_params){.method = JTM_EARS_C1};
    cr_assert_eq(jtm_ears_params_resolve(&p, err, sizeof err), 0);
    cr_assert_eq(p.alpha, 0.001);
    p = (jtm_ears_params){.method = JTM_EARS_C2, .baseline = 2};
    cr_assert_eq(jtm_ears_params_resolve(&p, err, sizeof err), -1);
    p = (jtm_ears_params){.method = JTM_EARS_C2, .min_sigma = -1};
    cr_assert_eq(jtm_ears_params_resolve(&p, err, sizeof err), -1);
    jtm_ears_method m;
    cr_assert_eq(jtm_ears_method_parse("c2", &m), 0);
    cr_assert_eq(m, JTM_EARS_C2);
    cr_assert_eq(jtm_ears_method_parse("C4", &m), -1);
}

Test(ears, c1_by_hand)
{
    /* Baseline 1..7: mean 4, sd sqrt(28/6); bound 4 + qnorm(0.999) * 2.1602. */
    double x[] = {1, 2, 3, 4, 5, 6, 7, 20, 4};
    double ub[9];
    int al[9];
    char err[64];
    jtm_ears_params p = {.method = JTM_EARS_C1};
    jtm_ears_params_resolve(&p, err, sizeof err);
    cr_assert_eq(jtm_ears_first(&p), 7);
    cr_assert_eq(jtm_ears_run(&p, x, 9, ub, al, err, sizeof err), 2);
    cr_assert(isnan(ub[6]) && al[6] == JTM_EARS_NA);
    double expect = 4 + jtm_qnorm(0.999) * sqrt(28.0 / 6);
    cr_assert(fabs(ub[7] - expect) < 1e-12);
    cr_assert_eq(al[7], JTM_EARS_ALARM);
    cr_assert_eq(al[8], JTM_EARS_NO_ALARM);
}

Test(ears, flat_baseline)
{
    double x[14] = {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 9};
    double ub[14];
    int al[14];
    char err[64];
    /* C1 and C2: zero sd gives the mean as the bound, and 9 > 5 alarms. */
    jtm_ears_params p = {.method = JTM_EARS_C2, .alpha = 0.001};
    jtm_ears_params_resolve(&p, err, sizeof err);
    cr_assert_eq(jtm_ears_run(&p, x, 14, ub, al, err, sizeof err), 5);
    cr_assert_eq(ub[13], 5);
    cr_assert_eq(al[13], JTM_EARS_ALARM);
    cr_assert_eq(al[12], JTM_EARS_NO_ALARM);
    /* C3 without minSigma divides 0 by 0: earsC gives NaN and NA; minSigma makes it defined. */
    p = (jtm_ears_params){.method = JTM_EARS_C3, .alpha = 0.001};
    jtm_ears_params_resolve(&p, err, sizeof err);
    cr_assert_eq(jtm_ears_run(&p, x, 14, ub, al, err, sizeof err), 3);
    cr_assert(isnan(ub[13]) && al[13] == JTM_EARS_NA);
    p.min_sigma = 1;
    cr_assert_eq(jtm_ears_run(&p, x, 14, ub, al, err, sizeof err), 3);
    cr_assert(fabs(ub[13] - (9 + jtm_qnorm(0.999))) < 1e-12);
    cr_assert_eq(al[13], JTM_EARS_NO_ALARM);
}

Test(ears, too_short)
{
    double x[5] = {1, 2, 3, 4, 5}, ub[5];
    int al[5];
    char err[64];
    jtm_ears_params p = {.method = JTM_EARS_C1};
    jtm_ears_params_resolve(&p, err, sizeof err);
    cr_assert_eq(jtm_ears_run(&p, x, 5, ub, al, err, sizeof err), 0);
}
