/* Unit tests of daemons/jtm-alert/rdist.c against values printed by R 4.2 (sprintf("%.17g")). */
#include <criterion/criterion.h>
#include <math.h>

#include "rdist.h"

static void near(double got, double want, double rel, const char *what)
{
    cr_assert(fabs(got - want) <= rel * fmax(1e-300, fabs(want)), "%s = %.17g, R %.17g", what, got, want);
}

Test(rdist, probabilities_match_r)
{
    near(jtm_pt(-2.1, 17), 0.025479923614567006, 1e-12, "pt(-2.1, 17)");
    near(jtm_pt(0.3, 5.5), 0.61240555721186063, 1e-12, "pt(0.3, 5.5)");
    near(jtm_pt(-30, 3), 4.0676402135819837e-05, 1e-10, "pt(-30, 3)");
    near(jtm_ppois(12, 9.3), 0.85286646657198084, 1e-12, "ppois(12, 9.3)");
    near(jtm_pnbinom(40, 3.2, 0.07), 0.54195797761940545, 1e-12, "pnbinom(40, 3.2, 0.07)");
    cr_assert(isnan(jtm_pt(1, 0)));
    cr_assert_eq(jtm_ppois(-1, 3), 0);
}

Test(rdist, quantiles_match_r)
{
    cr_assert_eq(jtm_qpois(0.95, 9.3), 15);
    cr_assert_eq(jtm_qpois(0.99, 0.02), 1);
    cr_assert_eq(jtm_qpois(0.95, 2400.7), 2482);
    cr_assert_eq(jtm_qnbinom(0.95, 12.5, 0.3), 47);
    cr_assert_eq(jtm_qnbinom(0.99, 0.004, 1.0 / 7), 0);
    cr_assert_eq(jtm_qnbinom(0.95, 5000, 0.999), 9);
    cr_assert_eq(jtm_qpois(0.5, 0), 0);
    cr_assert(isinf(jtm_qpois(1, 3)));
    cr_assert(isnan(jtm_qnbinom(0.5, 1, 0)));
}

Test(rdist, quantile_is_the_smallest_step_reaching_p)
{
    for (double lambda = 0.1; lambda < 300; lambda *= 1.7) {
        double q = jtm_qpois(0.95, lambda);
        cr_assert(jtm_ppois(q, lambda) >= 0.95 && (q == 0 || jtm_ppois(q - 1, lambda) < 0.95), "lambda %g", lambda);
        q = jtm_qnbinom(0.99, lambda, 0.4);
        cr_assert(jtm_pnbinom(q, lambda, 0.4) >= 0.99 && (q == 0 || jtm_pnbinom(q - 1, lambda, 0.4) < 0.99));
    }
}
