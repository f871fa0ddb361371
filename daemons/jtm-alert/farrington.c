#include "farrington.h"

#include <errno.h>
#include <float.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ears.h"
#include "qpglm.h"
#include "rdist.h"

void jtm_farrington_defaults(jtm_farrington_params *p)
{
    *p = (jtm_farrington_params){.b = 5,
                                 .w = 3,
                                 .reweight = 1,
                                 .weights_threshold = 2.58,
                                 .alpha = 0.05,
                                 .trend = 1,
                                 .p_threshold_trend = 0.05,
                                 .limit54_cases = 5,
                                 .limit54_period = 4,
                                 .powertrans = JTM_FARRINGTON_POW_2_3,
                                 .no_periods = 1,
                                 .past_weeks_not_included = -1,
                                 .threshold_method = JTM_FARRINGTON_DELTA};
}

int jtm_farrington_preset(jtm_farrington_params *p, const char *name, char *errstr, size_t errlen)
{
    if (name && strcasecmp(name, "farrington") == 0) {
        jtm_farrington_defaults(p);
        return 0;
    }
    if (name && strcasecmp(name, "noufaily") == 0) {
        p->no_periods = 10;
        p->past_weeks_not_included = 26;
        p->weights_threshold = 2.58;
        p->p_threshold_trend = 1;
        p->threshold_method = JTM_FARRINGTON_NBPLUGIN;
        return 0;
    }
    snprintf(errstr, errlen, "preset must be farrington or noufaily");
    return -1;
}

/* ---- parameters from text: one table ---- */

typedef enum { OPT_INT, OPT_DOUBLE, OPT_BOOL, OPT_LIMIT54, OPT_POWER, OPT_THRESHOLD } opt_kind;

typedef struct opt_def {
    jtm_farrington_option o;
    opt_kind kind;
    size_t offset;
} opt_def;

#define FIELD(f) offsetof(jtm_farrington_params, f)
static const opt_def OPTS[] = {
    {{"b", "b", "years back for the reference weeks (default 5)"}, OPT_INT, FIELD(b)},
    {{"w", "w", "half window in weeks around each reference week (default 3)"}, OPT_INT, FIELD(w)},
    {{"alpha", "alpha", "upper bound at the 1 - alpha quantile (default 0.05)"}, OPT_DOUBLE, FIELD(alpha)},
    {{"reweight", "reweight", "TRUE|FALSE: down-weight past outbreaks (default TRUE)"}, OPT_BOOL, FIELD(reweight)},
    {{"weights-threshold", "weightsThreshold", "Anscombe residual above which a week is down-weighted (default 2.58)"},
     OPT_DOUBLE, FIELD(weights_threshold)},
    {{"trend", "trend", "TRUE|FALSE: fit a time trend, kept when significant (default TRUE)"}, OPT_BOOL, FIELD(trend)},
    {{"p-threshold-trend", "pThresholdTrend", "significance level of the trend (default 0.05)"}, OPT_DOUBLE,
     FIELD(p_threshold_trend)},
    {{"limit54", "limit54", "C,P: no bound unless the last P weeks have >= C cases (default 5,4)"}, OPT_LIMIT54,
     FIELD(limit54_cases)},
    {{"powertrans", "powertrans", "2/3, 1/2 or none, for the delta threshold (default 2/3)"}, OPT_POWER,
     FIELD(powertrans)},
    {{"no-periods", "noPeriods", "seasonal factor levels (default 1)"}, OPT_INT, FIELD(no_periods)},
    {{"past-weeks-not-included", "pastWeeksNotIncluded", "recent weeks left out of the fit (default w)"}, OPT_INT,
     FIELD(past_weeks_not_included)},
    {{"threshold-method", "thresholdMethod", "delta, nbPlugin or muan (default delta)"}, OPT_THRESHOLD,
     FIELD(threshold_method)},
};
#define NOPTS (sizeof OPTS / sizeof OPTS[0])

const jtm_farrington_option *jtm_farrington_option_at(size_t i) { return i < NOPTS ? &OPTS[i].o : NULL; }

static int text_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int text_int(const char *s, int *out)
{
    double v;
    if (text_double(s, &v) != 0 || v != floor(v) || fabs(v) > 1e6)
        return -1;
    *out = (int)v;
    return 0;
}

int jtm_farrington_set(jtm_farrington_params *p, const char *name, const char *value, char *errstr, size_t errlen)
{
    const opt_def *d = NULL;
    for (size_t i = 0; i < NOPTS && !d; i++)
        if (strcmp(name, OPTS[i].o.cli) == 0 || strcmp(name, OPTS[i].o.r_name) == 0)
            d = &OPTS[i];
    if (!d) {
        snprintf(errstr, errlen, "unknown farrington parameter %s", name);
        return -1;
    }
    char *field = (char *)p + d->offset;
    int ok = 0;
    switch (d->kind) {
    case OPT_INT: ok = text_int(value, (int *)(void *)field) == 0; break;
    case OPT_DOUBLE: ok = text_double(value, (double *)(void *)field) == 0; break;
    case OPT_BOOL:
        ok = 1;
        if (strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0)
            *(int *)(void *)field = 1;
        else if (strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0)
            *(int *)(void *)field = 0;
        else
            ok = 0;
        break;
    case OPT_LIMIT54: {
        const char *comma = strchr(value, ',');
        char cases[64];
        if (comma && (size_t)(comma - value) < sizeof cases) {
            memcpy(cases, value, (size_t)(comma - value));
            cases[comma - value] = '\0';
            ok = text_double(cases, &p->limit54_cases) == 0 && text_int(comma + 1, &p->limit54_period) == 0;
        }
        break;
    }
    case OPT_POWER:
        ok = 1;
        if (strcmp(value, "2/3") == 0)
            p->powertrans = JTM_FARRINGTON_POW_2_3;
        else if (strcmp(value, "1/2") == 0)
            p->powertrans = JTM_FARRINGTON_POW_1_2;
        else if (strcasecmp(value, "none") == 0)
            p->powertrans = JTM_FARRINGTON_POW_NONE;
        else
            ok = 0;
        break;
    case OPT_THRESHOLD:
        ok = 1;
        if (strcasecmp(value, "delta") == 0)
            p->threshold_method = JTM_FARRINGTON_DELTA;
        else if (strcasecmp(value, "nbPlugin") == 0)
            p->threshold_method = JTM_FARRINGTON_NBPLUGIN;
        else if (strcasecmp(value, "muan") == 0)
            p->threshold_method = JTM_FARRINGTON_MUAN;
        else
            ok = 0;
        break;
    }
    if (!ok) {
        snprintf(errstr, errlen, "%s: %s", d->o.cli, d->o.help);
        return -1;
    }
    return 0;
}

int jtm_farrington_check(const jtm_farrington_params *p, char *errstr, size_t errlen)
{
    const int F = JTM_FARRINGTON_FREQ;
    const char *bad = NULL;
    if (p->b < 1 || p->b > 50)
        bad = "b must be 1..50 years";
    else if (p->w < 0 || 2 * p->w + 1 > F)
        bad = "w must be 0..25 weeks";
    else if (p->b * (2 * p->w + 1) < 3)
        bad = "b and w give fewer than 3 reference weeks";
    else if (!(p->alpha > 0 && p->alpha < 1))
        bad = "alpha must be in (0, 1)";
    else if (!isfinite(p->weights_threshold))
        bad = "weightsThreshold must be a finite number";
    else if (!(p->p_threshold_trend >= 0 && p->p_threshold_trend <= 1))
        bad = "pThresholdTrend must be in [0, 1]";
    else if (!(p->limit54_cases >= 0) || isinf(p->limit54_cases) || p->limit54_period < 1 ||
             p->limit54_period > F * p->b + p->w + 1)
        bad = "limit54 must be cases >= 0 and 1 <= period <= 52 b + w + 1 weeks";
    else if (p->no_periods < 1 || p->no_periods - 1 > F - 2 * p->w - 1)
        bad = "noPeriods must be 1..52 - 2 w (every seasonal block at least one week)";
    else if (p->past_weeks_not_included < -1 || p->past_weeks_not_included > F - p->w - 1)
        bad = "pastWeeksNotIncluded must be 0..51 - w (it may not reach last year's window)";
    else if (p->powertrans < JTM_FARRINGTON_POW_2_3 || p->powertrans > JTM_FARRINGTON_POW_NONE ||
             p->threshold_method < JTM_FARRINGTON_DELTA || p->threshold_method > JTM_FARRINGTON_MUAN ||
             (p->reweight != 0 && p->reweight != 1) || (p->trend != 0 && p->trend != 1))
        bad = "invalid powertrans, thresholdMethod, reweight or trend";
    if (bad) {
        snprintf(errstr, errlen, "%s", bad);
        return -1;
    }
    return 0;
}

size_t jtm_farrington_first(const jtm_farrington_params *p)
{
    return (size_t)JTM_FARRINGTON_FREQ * (size_t)p->b + (size_t)p->w;
}

/* ---- one judged week ---- */

/* The reference data of week k: rows (week indexes), their seasonal level and the design. */
typedef struct refdata {
    size_t n;       /* rows */
    size_t *week;   /* [n] 0-based week index; wtime is week + 1 (R's 1-based epoch) */
    int *level;     /* [n] seasonal block 1..noPeriods */
    double *y;      /* [n] counts */
    int *lev;       /* [k + 1] scratch: block of every week, 0 for none */
    int levels[JTM_FARRINGTON_FREQ + 1]; /* levels present, ascending */
    int nlevels;
} refdata;

/* surveillance's blocks() and algo.farrington.data.glm() for week k (0-based): the current window
 * and the windows t - 52 i +- w get level noPeriods, with noPeriods > 1 the weeks between two
 * windows are cut into noPeriods - 1 blocks (the first `rest` one week longer); then weeks
 * k - pastWeeksNotIncluded .. k are left out. */
static void reference_data(const jtm_farrington_params *p, const double *x, size_t k, refdata *d)
{
    const int P = p->no_periods, w = p->w, F = JTM_FARRINGTON_FREQ;
    const int pwni = p->past_weeks_not_included < 0 ? p->w : p->past_weeks_not_included;
    memset(d->lev, 0, (k + 1) * sizeof *d->lev);
    for (size_t t = k - (size_t)w; t <= k; t++)
        d->lev[t] = P;
    for (int i = 1; i <= p->b; i++) {
        size_t ref = k - (size_t)(F * i);
        for (size_t t = ref - (size_t)w; t <= ref + (size_t)w; t++)
            d->lev[t] = P;
        if (P == 1)
            continue;
        int period = F - 2 * w - 1, len = period / (P - 1), rest = period % (P - 1);
        size_t t = ref + (size_t)w + 1;
        for (int j = 1; j <= P - 1; j++)
            for (int m = 0; m < len + (j <= rest); m++)
                d->lev[t++] = j;
    }
    for (size_t t = k - (size_t)pwni; t <= k; t++)
        d->lev[t] = 0;
    int present[JTM_FARRINGTON_FREQ + 1] = {0};
    d->n = 0;
    for (size_t t = 0; t <= k; t++)
        if (d->lev[t]) {
            d->week[d->n] = t;
            d->level[d->n] = d->lev[t];
            d->y[d->n] = x[t];
            present[d->lev[t]] = 1;
            d->n++;
        }
    d->nlevels = 0;
    for (int l = 1; l <= P; l++)
        if (present[l])
            d->levels[d->nlevels++] = l;
}

/* Columns of formulaGLM(): (Intercept), wtime when trend, then a treatment-contrast indicator per
 * seasonal level but the first present one (only when noPeriods > 1). */
static size_t ncols(const jtm_farrington_params *p, const refdata *d, int trend)
{
    return 1 + (trend ? 1 : 0) + (p->no_periods > 1 ? (size_t)d->nlevels - 1 : 0);
}

static void design_row(const jtm_farrington_params *p, const refdata *d, int trend, double wtime, int level,
                       double *row, size_t stride)
{
    size_t c = 0;
    row[stride * c++] = 1;
    if (trend)
        row[stride * c++] = wtime;
    if (p->no_periods > 1)
        for (int l = 1; l < d->nlevels; l++)
            row[stride * c++] = level == d->levels[l] ? 1 : 0;
}

static void design(const jtm_farrington_params *p, const refdata *d, int trend, double *X)
{
    for (size_t i = 0; i < d->n; i++)
        design_row(p, d, trend, (double)d->week[i] + 1, d->level[i], X + i, d->n);
}

/* The model algo.farrington.fitGLM.flexible() returns, with what the rest needs. */
typedef struct fitted {
    jtm_qpglm m;
    int trend;   /* the model has wtime */
    double phi;  /* max(dispersion, 1) of the final fit */
    double disp; /* what summary() of the returned object gives: R replaces the working weights by
                    the reweighting weights omega before predict() and summary() see them */
} fitted;

static double r_max1(double v) { return isnan(v) ? NAN : v > 1 ? v : 1; }

/* R's x^y for the powers used here (x*x for y = 2, as R's arithmetic does). */
static double r_pow(double x, double y) { return y == 2.0 ? x * x : pow(x, y); }

/* algo.farrington.fitGLM.flexible(): fit, fall back to no trend when it does not converge, then
 * reweight by Anscombe residuals and refit. Returns 1 with a model, 0 for R's NULL (no
 * convergence), -1 on error. */
static int fit_flexible(const jtm_farrington_params *p, const refdata *d, int trend, double *X, double *omega,
                        double *hat, fitted *f, char *errstr, size_t errlen)
{
    memset(f, 0, sizeof *f);
    design(p, d, trend, X);
    if (jtm_qpglm_fit(&f->m, X, d->y, NULL, d->n, ncols(p, d, trend), errstr, errlen) != 0)
        return -1;
    if (!f->m.converged && trend) {
        jtm_qpglm_free(&f->m);
        trend = 0;
        design(p, d, trend, X);
        if (jtm_qpglm_fit(&f->m, X, d->y, NULL, d->n, ncols(p, d, trend), errstr, errlen) != 0)
            return -1;
    }
    if (!f->m.converged) {
        jtm_qpglm_free(&f->m);
        return 0;
    }
    f->trend = trend;
    f->phi = r_max1(f->m.dispersion);
    f->disp = f->m.dispersion;
    if (!p->reweight)
        return 1;
    /* anscombe.residuals() and algo.farrington.assign.weights(). */
    jtm_qpglm_hat(&f->m, hat);
    double denom = 0;
    for (size_t i = 0; i < d->n; i++) {
        double mu = f->m.mu[i];
        double a = 1.5 * (pow(d->y[i], 2.0 / 3) * pow(mu, -1.0 / 6) - pow(mu, 0.5));
        double s = a / sqrt(f->phi * (1 - hat[i]));
        if (isnan(s)) {
            snprintf(errstr, errlen, "Anscombe residual is NaN");
            jtm_qpglm_free(&f->m);
            return -1;
        }
        omega[i] = s; /* keep s for now */
        denom += s > p->weights_threshold ? r_pow(s, -2.0) : 1;
    }
    double gamma = (double)d->n / denom;
    for (size_t i = 0; i < d->n; i++)
        omega[i] = omega[i] > p->weights_threshold ? gamma * r_pow(omega[i], -2.0) : gamma;
    jtm_qpglm_free(&f->m);
    if (jtm_qpglm_fit(&f->m, X, d->y, omega, d->n, ncols(p, d, trend), errstr, errlen) != 0)
        return -1;
    f->phi = r_max1(f->m.dispersion);
    double ss = 0;
    for (size_t i = 0; i < d->n; i++)
        if (omega[i] > 0)
            ss += omega[i] * f->m.resid[i] * f->m.resid[i];
    f->disp = f->m.df_residual > 0 ? ss / f->m.df_residual : NAN;
    return 1;
}

/* The prediction for week k on the link scale with its standard error (predict.glm with the
 * object's summary dispersion). */
static double predict_link(const jtm_farrington_params *p, const refdata *d, const fitted *f, size_t k, double *se)
{
    double x0[2 + JTM_FARRINGTON_FREQ];
    design_row(p, d, f->trend, (double)k + 1, p->no_periods, x0, 1);
    return jtm_qpglm_predict_link(&f->m, x0, f->disp, se);
}

/* algo.farrington.threshold.farrington(): the upper end of the (1 - alpha) interval on the power
 * scale, transformed back; R's sort(na.last = FALSE)[2] is the larger end that is not NaN. */
static double threshold_delta(const jtm_farrington_params *p, double mu0, double se_fit, double phi, double z)
{
    double tau = phi + se_fit * se_fit / mu0, se, e;
    switch (p->powertrans) {
    case JTM_FARRINGTON_POW_NONE:
        se = sqrt(mu0 * tau);
        e = 1;
        break;
    case JTM_FARRINGTON_POW_1_2:
        se = sqrt(1.0 / 4 * tau);
        e = 1.0 / 2;
        break;
    default:
        se = sqrt(4.0 / 9 * pow(mu0, 1.0 / 3) * tau);
        e = 2.0 / 3;
        break;
    }
    double base = r_pow(mu0, e);
    double lo = r_pow(base - z * se, 1 / e), hi = r_pow(base + z * se, 1 / e);
    if (isnan(lo))
        return hi;
    if (isnan(hi))
        return lo;
    return lo > hi ? lo : hi;
}

/* algo.farrington.threshold.noufaily(): the 1 - alpha quantile of the negative binomial with mean
 * mu0 and dispersion phi (Poisson when phi <= 1), mu0 the fitted mean ("nbPlugin") or its upper
 * 1 - alpha quantile ("muan"). */
static double threshold_noufaily(const jtm_farrington_params *p, double eta0, double se_eta, double phi, double z)
{
    double mu0 = exp(p->threshold_method == JTM_FARRINGTON_NBPLUGIN ? eta0 : eta0 + se_eta * z);
    if (isnan(mu0) || mu0 == INFINITY)
        return NAN;
    if (phi > 1)
        return jtm_qnbinom(1 - p->alpha, mu0 / (phi - 1), 1 / phi);
    return jtm_qpois(1 - p->alpha, mu0);
}

/* Scratch space for one run, sized for the longest reference data. */
typedef struct work {
    refdata d;
    double *X, *omega, *hat;
} work;

static void work_free(work *w)
{
    free(w->d.week);
    free(w->d.level);
    free(w->d.y);
    free(w->d.lev);
    free(w->X);
    free(w->omega);
    free(w->hat);
}

static int work_alloc(work *w, size_t n)
{
    memset(w, 0, sizeof *w);
    w->d.week = calloc(n, sizeof *w->d.week);
    w->d.level = calloc(n, sizeof *w->d.level);
    w->d.y = calloc(n, sizeof *w->d.y);
    w->d.lev = calloc(n, sizeof *w->d.lev);
    w->X = calloc(n * (2 + JTM_FARRINGTON_FREQ), sizeof *w->X);
    w->omega = calloc(n, sizeof *w->omega);
    w->hat = calloc(n, sizeof *w->hat);
    if (w->d.week && w->d.level && w->d.y && w->d.lev && w->X && w->omega && w->hat)
        return 0;
    work_free(w);
    return -1;
}

/* algo.farrington.glm() and the threshold for week k: 1 with *upper (before limit54) and the
 * prediction on the scale the score uses, 0 when R has no model (NA), -1 on error. */
static int judge_week(const jtm_farrington_params *p, const double *x, size_t k, work *w, double *upper,
                      double *pred, char *errstr, size_t errlen)
{
    refdata *d = &w->d;
    reference_data(p, x, k, d);
    fitted f;
    int rc = fit_flexible(p, d, p->trend, w->X, w->omega, w->hat, &f, errstr, errlen);
    if (rc <= 0)
        return rc;
    const double z = jtm_qnorm(1 - p->alpha);
    if (f.trend) {
        /* Keep the trend only with b >= 3, significance and no extrapolation beyond the data. */
        double se, fit = fmax(exp(predict_link(p, d, &f, k, &se)), DBL_EPSILON), ymax = 0;
        for (size_t i = 0; i < d->n; i++)
            ymax = d->y[i] > ymax ? d->y[i] : ymax;
        double t = f.m.coef[1] / jtm_qpglm_coef_se(&f.m, 1, f.disp);
        double pval = 2 * jtm_pt(-fabs(t), f.m.df_residual);
        int keep = 0;
        if (p->b >= 3 && fit <= ymax) {
            if (isnan(pval)) {
                snprintf(errstr, errlen, "week %zu: trend p-value is NaN", k + 1);
                jtm_qpglm_free(&f.m);
                return -1;
            }
            keep = pval < p->p_threshold_trend;
        }
        if (!keep) {
            jtm_qpglm_free(&f.m);
            rc = fit_flexible(p, d, 0, w->X, w->omega, w->hat, &f, errstr, errlen);
            if (rc <= 0)
                return rc;
        }
    }
    double se_eta, eta0 = predict_link(p, d, &f, k, &se_eta);
    if (p->threshold_method == JTM_FARRINGTON_DELTA) {
        double mu_eta = fmax(exp(eta0), DBL_EPSILON);
        *pred = mu_eta;
        *upper = threshold_delta(p, mu_eta, se_eta * mu_eta, f.phi, z);
    } else {
        *pred = eta0;
        *upper = threshold_noufaily(p, eta0, se_eta, f.phi, z);
    }
    jtm_qpglm_free(&f.m);
    return 1;
}

long jtm_farrington_run(const jtm_farrington_params *p, const double *x, size_t n, double *upper, int *alarm,
                        char *errstr, size_t errlen)
{
    if (jtm_farrington_check(p, errstr, errlen) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] >= 0) || isinf(x[i])) {
            snprintf(errstr, errlen, "week %zu: count must be a finite number >= 0", i + 1);
            return -1;
        }
        upper[i] = NAN;
        alarm[i] = JTM_FARRINGTON_NA;
    }
    size_t first = jtm_farrington_first(p);
    if (n <= first)
        return 0;
    work w;
    if (work_alloc(&w, n) != 0) {
        snprintf(errstr, errlen, "out of memory");
        return -1;
    }
    long rc = (long)(n - first);
    for (size_t k = first; k < n; k++) {
        double ub, pred;
        int got = judge_week(p, x, k, &w, &ub, &pred, errstr, errlen);
        if (got < 0) {
            rc = -1;
            break;
        }
        if (got == 0)
            continue; /* R: no model with or without trend, upper bound and alarm NA */
        double cases = 0;
        for (size_t t = k + 1 - (size_t)p->limit54_period; t <= k; t++)
            cases += x[t];
        int enough = cases >= p->limit54_cases;
        double score = isnan(ub) ? NAN : (x[k] - pred) / (ub - pred);
        upper[k] = enough ? ub : NAN;
        alarm[k] = enough && !isnan(score) && score > 1 && x[k] != 0 ? JTM_FARRINGTON_ALARM : JTM_FARRINGTON_NO_ALARM;
    }
    work_free(&w);
    return rc;
}
