#include "ears.h"

#include <math.h>
#include <stdio.h>
#include <strings.h>

int jtm_ears_method_parse(const char *s, jtm_ears_method *out)
{
    if (!s)
        return -1;
    if (strcasecmp(s, "C1") == 0)
        *out = JTM_EARS_C1;
    else if (strcasecmp(s, "C2") == 0)
        *out = JTM_EARS_C2;
    else if (strcasecmp(s, "C3") == 0)
        *out = JTM_EARS_C3;
    else
        return -1;
    return 0;
}

const char *jtm_ears_method_name(jtm_ears_method m)
{
    switch (m) {
    case JTM_EARS_C1: return "C1";
    case JTM_EARS_C2: return "C2";
    case JTM_EARS_C3: return "C3";
    }
    return "?";
}

double jtm_ears_default_alpha(jtm_ears_method m) { return m == JTM_EARS_C3 ? 0.025 : 0.001; }

int jtm_ears_params_resolve(jtm_ears_params *p, char *errstr, size_t errlen)
{
    if (p->method < JTM_EARS_C1 || p->method > JTM_EARS_C3) {
        snprintf(errstr, errlen, "method must be C1, C2 or C3");
        return -1;
    }
    if (p->baseline == 0)
        p->baseline = 7;
    if (p->baseline < 3) {
        snprintf(errstr, errlen, "baseline must be at least 3 (as in earsC)");
        return -1;
    }
    if (!(p->alpha > 0))
        p->alpha = jtm_ears_default_alpha(p->method);
    if (!(p->alpha < 1)) {
        snprintf(errstr, errlen, "alpha must be in (0, 1)");
        return -1;
    }
    if (!(p->min_sigma >= 0) || isinf(p->min_sigma)) {
        snprintf(errstr, errlen, "min_sigma must be a finite number >= 0");
        return -1;
    }
    return 0;
}

size_t jtm_ears_first(const jtm_ears_params *p)
{
    return (size_t)p->baseline + (p->method == JTM_EARS_C1 ? 0 : p->method == JTM_EARS_C2 ? 2 : 4);
}

/* R's mean(): a long double sum, divided, then corrected by the mean residual (a second pass). */
static double r_mean(const double *v, int n)
{
    long double s = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    s /= n;
    if (isfinite((double)s)) {
        long double t = 0;
        for (int i = 0; i < n; i++)
            t += v[i] - s;
        s += t / n;
    }
    return (double)s;
}

/* R's sd(): square root of var(), the sum of squared deviations from the two-pass mean over n - 1. */
static double r_sd(const double *v, int n)
{
    long double m = 0;
    for (int i = 0; i < n; i++)
        m += v[i];
    m /= n;
    if (isfinite((double)m)) {
        long double t = 0;
        for (int i = 0; i < n; i++)
            t += v[i] - m;
        m += t / n;
    }
    long double ss = 0;
    for (int i = 0; i < n; i++) {
        long double d = v[i] - m;
        ss += d * d;
    }
    return sqrt((double)(ss / (n - 1)));
}

/* R's pmax(a, b) for one pair: NaN in either argument gives NaN (C's fmax would drop it). */
static double r_pmax(double a, double b)
{
    if (isnan(a) || isnan(b))
        return NAN;
    return a > b ? a : b;
}

/* Reference window of point i (0-based): C1 uses the baseline points just before i; C2 and C3 skip
 * two (lag 2): x[i - baseline - 2 .. i - 3]. */
static const double *window(const jtm_ears_params *p, const double *x, size_t i)
{
    size_t lag = p->method == JTM_EARS_C1 ? 0 : 2;
    return x + (i - (size_t)p->baseline - lag);
}

static int alarm_of(double obs, double ub)
{
    if (isnan(obs) || isnan(ub))
        return JTM_EARS_NA;
    return obs > ub ? JTM_EARS_ALARM : JTM_EARS_NO_ALARM;
}

long jtm_ears_run(const jtm_ears_params *p, const double *x, size_t n, double *upper, int *alarm,
                  char *errstr, size_t errlen)
{
    if (p->method < JTM_EARS_C1 || p->method > JTM_EARS_C3 || p->baseline < 3 || !(p->alpha > 0) ||
        !(p->alpha < 1) || !(p->min_sigma >= 0)) {
        snprintf(errstr, errlen, "invalid detector parameters");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        upper[i] = NAN;
        alarm[i] = JTM_EARS_NA;
    }
    size_t first = jtm_ears_first(p);
    if (n <= first)
        return 0;
    const int b = p->baseline;
    const double z = jtm_qnorm(1 - p->alpha);
    if (p->method != JTM_EARS_C3) {
        for (size_t i = first; i < n; i++) {
            const double *w = window(p, x, i);
            upper[i] = r_mean(w, b) + z * r_pmax(r_sd(w, b), p->min_sigma);
            alarm[i] = alarm_of(x[i], upper[i]);
        }
        return (long)(n - first);
    }
    /* C3: the C2 statistic (x - mean) / max(sd, minSigma) at i - 2, i - 1 (and i); earsC's bound is
     * x[i] + max(sd_i, minSigma) * (z - sum of max(0, C2 - 1) over i - 2 and i - 1), floored at 0. */
    for (size_t i = first; i < n; i++) {
        double part = 0;
        for (size_t k = i - 2; k < i; k++) {
            const double *w = window(p, x, k);
            double c2 = (x[k] - r_mean(w, b)) / r_pmax(r_sd(w, b), p->min_sigma);
            part += r_pmax(0, c2 - 1);
        }
        const double *w = window(p, x, i);
        double ub = x[i] + r_pmax(r_sd(w, b), p->min_sigma) * (z - part);
        upper[i] = r_pmax(0, ub);
        alarm[i] = alarm_of(x[i], upper[i]);
    }
    return (long)(n - first);
}

/* AS 241 (PPND16), Wichura 1988, with R's choice of the tail argument (0.5 - p + 0.5). */
double jtm_qnorm(double p)
{
    if (isnan(p) || p < 0 || p > 1)
        return NAN;
    if (p == 0)
        return -INFINITY;
    if (p == 1)
        return INFINITY;
    double q = p - 0.5, r, val;
    if (fabs(q) <= .425) {
        r = .180625 - q * q;
        val = q *
              (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r + 67265.770927008700853) * r +
                   45921.953931549871457) * r + 13731.693765509461125) * r + 1971.5909503065514427) * r +
                133.14166789178437745) * r + 3.387132872796366608) /
              (((((((r * 5226.495278852545925 + 28729.085735721942674) * r + 39307.89580009271061) * r +
                   21213.794301586595867) * r + 5394.1960214247511077) * r + 687.1870074920579083) * r +
                42.313330701600911252) * r + 1.);
        return val;
    }
    r = q < 0 ? p : (0.5 - p + 0.5);
    r = sqrt(-log(r));
    if (r <= 5.) {
        r += -1.6;
        val = (((((((r * 7.7454501427834140764e-4 + .0227238449892691845833) * r + .24178072517745061177) * r +
                   1.27045825245236838258) * r + 3.64784832476320460504) * r + 5.7694972214606914055) * r +
                4.6303378461565452959) * r + 1.42343711074968357734) /
              (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r + .0151986665636164571966) * r +
                   .14810397642748007459) * r + .68976733498510000455) * r + 1.6763848301838038494) * r +
                2.05319162663775882187) * r + 1.);
    } else {
        r += -5.;
        val = (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r + .0012426609473880784386) * r +
                   .026532189526576123093) * r + .29656057182850489123) * r + 1.7848265399172913358) * r +
                5.4637849111641143699) * r + 6.6579046435011037772) /
              (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) * r +
                   7.868691311456132591e-4) * r + .0148753612908506148525) * r + .13692988092273580531) * r +
                .59983220655588793769) * r + 1.);
    }
    return q < 0.0 ? -val : val;
}
