#include "rdist.h"

#include <float.h>
#include <math.h>

#include "ears.h"

#define RDIST_EPS 1e-16
#define RDIST_MAXIT 1000000

/* Regularised lower incomplete gamma P(a, x) by its series; good for x < a + 1. */
static double gamma_series(double a, double x)
{
    double ap = a, del = 1.0 / a, sum = del;
    for (int n = 0; n < RDIST_MAXIT; n++) {
        ap += 1;
        del *= x / ap;
        sum += del;
        if (fabs(del) < fabs(sum) * RDIST_EPS)
            break;
    }
    return sum * exp(-x + a * log(x) - lgamma(a));
}

#define RDIST_TINY (DBL_MIN / DBL_EPSILON)

static double not_tiny(double v) { return fabs(v) < RDIST_TINY ? RDIST_TINY : v; }

/* One step of the modified Lentz evaluation of a continued fraction b0 + a1/(b1 + a2/(b2 + ...)):
 * updates the state c, d and returns the factor the value is multiplied by. */
static double lentz_step(double an, double bn, double *c, double *d)
{
    *d = 1 / not_tiny(an * *d + bn);
    *c = not_tiny(bn + an / *c);
    return *d * *c;
}

/* Regularised upper incomplete gamma Q(a, x) by its continued fraction; good for x >= a + 1. */
static double gamma_cfrac(double a, double x)
{
    double b = x + 1 - a, c = 1 / RDIST_TINY, d = 1 / b, h = d;
    for (int i = 1; i < RDIST_MAXIT; i++) {
        b += 2;
        double del = lentz_step(-i * (i - a), b, &c, &d);
        h *= del;
        if (fabs(del - 1) < RDIST_EPS)
            break;
    }
    return exp(-x + a * log(x) - lgamma(a)) * h;
}

/* Q(a, x) = 1 - P(a, x), the upper tail, computed on the side where it does not cancel. */
static double gamma_q(double a, double x)
{
    if (x <= 0)
        return 1;
    if (x < a + 1)
        return 1 - gamma_series(a, x);
    return gamma_cfrac(a, x);
}

/* Continued fraction of the incomplete beta (Numerical Recipes' betacf, modified Lentz). */
static double beta_cfrac(double a, double b, double x)
{
    double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 / not_tiny(1 - qab * x / qap), h = d;
    for (int m = 1; m < RDIST_MAXIT; m++) {
        int m2 = 2 * m;
        h *= lentz_step(m * (b - m) * x / ((qam + m2) * (a + m2)), 1, &c, &d);
        double del = lentz_step(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)), 1, &c, &d);
        h *= del;
        if (fabs(del - 1) < RDIST_EPS)
            break;
    }
    return h;
}

/* Regularised incomplete beta I_x(a, b), a, b > 0, 0 <= x <= 1. */
static double beta_inc(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double lfront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1) / (a + b + 2))
        return exp(lfront) * beta_cfrac(a, b, x) / a;
    return 1 - exp(lfront) * beta_cfrac(b, a, 1 - x) / b;
}

double jtm_pt(double t, double df)
{
    if (isnan(t) || !(df > 0))
        return NAN;
    if (isinf(t))
        return t < 0 ? 0 : 1;
    double tail = 0.5 * beta_inc(df / 2, 0.5, df / (df + t * t));
    return t < 0 ? tail : 1 - tail;
}

double jtm_ppois(double y, double lambda)
{
    if (isnan(y) || !(lambda >= 0))
        return NAN;
    if (y < 0)
        return 0;
    if (lambda == 0 || isinf(y))
        return 1;
    return gamma_q(floor(y + 1e-7) + 1, lambda);
}

double jtm_pnbinom(double y, double size, double prob)
{
    if (isnan(y) || !(size >= 0) || !(prob > 0 && prob <= 1))
        return NAN;
    if (y < 0)
        return 0;
    if (size == 0 || prob == 1 || isinf(y))
        return 1;
    return beta_inc(size, floor(y + 1e-7) + 1, prob);
}

typedef double (*cdf_fn)(double y, double a, double b);

static double cdf_pois(double y, double lambda, double unused)
{
    (void)unused;
    return jtm_ppois(y, lambda);
}

/* Above this mean the quantile is the Cornish-Fisher value: its error (a few units at most) is far
 * below 1e-6 of the quantile, while the continued fractions would need ~sqrt(mean) terms. */
#define RDIST_CF_ONLY 1e9

/* Smallest integer y >= 0 with cdf(y) >= p: bracketed from the Cornish-Fisher start as R does,
 * then bisected (to an integer, or to 1e-15 of y where doubles no longer hold every integer). */
static double discrete_quantile(double p, double mu, double sigma, double gamma, cdf_fn cdf, double a, double b)
{
    double z = jtm_qnorm(p);
    double y = nearbyint(mu + sigma * (z + gamma * (z * z - 1) / 6));
    if (!(y >= 0))
        y = 0;
    if (mu > RDIST_CF_ONLY || isinf(y))
        return y;
    p *= 1 - 8 * DBL_EPSILON;
    double lo, hi, step = 1;
    if (cdf(y, a, b) >= p) {
        hi = y;
        for (lo = y - step; lo >= 0 && cdf(lo, a, b) >= p; lo = y - step) {
            hi = lo;
            step *= 2;
        }
        if (lo < 0)
            lo = -1;
    } else {
        lo = y;
        for (hi = y + step; cdf(hi, a, b) < p; hi = y + step) {
            lo = hi;
            step *= 2;
        }
    }
    while (hi - lo > 1 && hi - lo > 1e-15 * hi) {
        double mid = floor(lo + (hi - lo) / 2);
        if (cdf(mid, a, b) >= p)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

double jtm_qpois(double p, double lambda)
{
    if (isnan(p) || p < 0 || p > 1 || !(lambda >= 0) || isinf(lambda))
        return NAN;
    if (lambda == 0 || p == 0)
        return 0;
    if (p == 1)
        return INFINITY;
    double sigma = sqrt(lambda);
    return discrete_quantile(p, lambda, sigma, 1.0 / sigma, cdf_pois, lambda, 0);
}

double jtm_qnbinom(double p, double size, double prob)
{
    if (isnan(p) || p < 0 || p > 1 || !(size >= 0) || isinf(size) || !(prob > 0 && prob <= 1))
        return NAN;
    if (prob == 1 || size == 0 || p == 0)
        return 0;
    if (p == 1)
        return INFINITY;
    double Q = 1.0 / prob, P = (1.0 - prob) * Q;
    double mu = size * P, sigma = sqrt(size * P * Q), gamma = (Q + P) / sigma;
    return discrete_quantile(p, mu, sigma, gamma, jtm_pnbinom, size, prob);
}
