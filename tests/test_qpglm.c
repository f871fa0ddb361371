/* Unit tests of daemons/jtm-alert/qpglm.c against R 4.2:
 * d <- data.frame(y = c(3,5,2,8,4,6,30,5,7,4), t = 1:10); m <- glm(y ~ t, data = d, family = quasipoisson)
 * coef(m), summary(m)$dispersion, hatvalues(m), m$iter, predict(m, data.frame(t = 11), se.fit = TRUE). */
#include <criterion/criterion.h>
#include <math.h>

#include "qpglm.h"

static const double Y[10] = {3, 5, 2, 8, 4, 6, 30, 5, 7, 4};

static void design(double *X, int with_copy)
{
    for (int i = 0; i < 10; i++) {
        X[i] = 1;
        X[10 + i] = i + 1;
        if (with_copy)
            X[20 + i] = 2 * (i + 1); /* a column the QR must drop */
    }
}

static void near(double got, double want, const char *what)
{
    cr_assert(fabs(got - want) <= 1e-12 * fmax(1, fabs(want)), "%s = %.17g, R %.17g", what, got, want);
}

Test(qpglm, matches_r_glm)
{
    double X[30], h[10], se;
    char err[128];
    jtm_qpglm m;
    design(X, 0);
    cr_assert_eq(jtm_qpglm_fit(&m, X, Y, NULL, 10, 2, err, sizeof err), 0, "%s", err);
    cr_assert(m.converged);
    cr_assert_eq(m.iterations, 5);
    cr_assert_eq(m.rank, 2);
    near(m.coef[0], 1.4861262693420803, "intercept");
    near(m.coef[1], 0.087938134366955897, "slope");
    near(m.dispersion, 8.7471937514670515, "dispersion");
    jtm_qpglm_hat(&m, h);
    near(h[0], 0.28878481539770445, "hat[1]");
    near(h[6], 0.119095856250836, "hat[7]");
    double x0[2] = {1, 11};
    near(jtm_qpglm_predict_link(&m, x0, m.dispersion, &se), 2.4534457473785949, "fit");
    near(se, 0.6774974222549931, "se.fit");
    jtm_qpglm_free(&m);
}

Test(qpglm, drops_a_dependent_column_as_r_does)
{
    double X[30], se;
    char err[128];
    jtm_qpglm m;
    design(X, 1);
    cr_assert_eq(jtm_qpglm_fit(&m, X, Y, NULL, 10, 3, err, sizeof err), 0, "%s", err);
    cr_assert_eq(m.rank, 2);
    cr_assert_eq(m.pivot[2], 2);
    cr_assert_eq(m.coef[2], 0);
    near(m.coef[1], 0.087938134366955897, "slope");
    cr_assert(isnan(jtm_qpglm_coef_se(&m, 2, 1)));
    double x0[3] = {1, 11, 22};
    near(jtm_qpglm_predict_link(&m, x0, m.dispersion, &se), 2.4534457473785949, "fit");
    jtm_qpglm_free(&m);
}

Test(qpglm, refuses_negative_counts)
{
    double X[10], y[10] = {1, 2, -1, 3, 4, 5, 6, 7, 8, 9};
    char err[128];
    jtm_qpglm m;
    for (int i = 0; i < 10; i++)
        X[i] = 1;
    cr_assert_eq(jtm_qpglm_fit(&m, X, y, NULL, 10, 1, err, sizeof err), -1);
    cr_assert(strstr(err, ">= 0"));
}
