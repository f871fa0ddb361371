/* The quasi-Poisson outbreak detector of Farrington et al. (1996) with the improvements of
 * Noufaily et al. (2013), defined exactly as farringtonFlexible() in the R package surveillance
 * (1.20) for a weekly series without dates: jtm_farrington_run(p, x, n, ...) equals
 *
 *     farringtonFlexible(sts(observed = matrix(x, ncol = 1), frequency = 52),
 *                        control = list(b =, w =, reweight =, weightsThreshold =, alpha =,
 *                                       trend =, pThresholdTrend =, limit54 =, powertrans =,
 *                                       noPeriods =, pastWeeksNotIncluded =, thresholdMethod =))
 *
 * with the default range (52 b + w + 1):n and no population offset. For each judged week t it
 * takes the reference weeks t - 52 i +- w (i = 1..b), with noPeriods > 1 also the rest of each
 * year cut into noPeriods - 1 seasonal blocks (surveillance's blocks()), leaves out the last
 * pastWeeksNotIncluded weeks, fits a quasi-Poisson GLM (intercept, trend, seasonal factor) by
 * R's IRLS (qpglm.h), down-weights past outbreaks by Anscombe residuals above weightsThreshold,
 * refits, drops the trend unless it is significant at pThresholdTrend, b >= 3 and the prediction
 * does not extrapolate, and computes the upper bound by the chosen threshold method. The R
 * comparison test (tests/it_alert_farrington_r.c) holds this to 1e-6 on the upper bounds and
 * exactly on the alarms. */
#ifndef JTM_ALERT_FARRINGTON_H
#define JTM_ALERT_FARRINGTON_H

#include <stddef.h>

#define JTM_FARRINGTON_FREQ 52 /* weeks per year: only weekly series */

typedef enum { JTM_FARRINGTON_POW_2_3, JTM_FARRINGTON_POW_1_2, JTM_FARRINGTON_POW_NONE } jtm_farrington_powertrans;
typedef enum {
    JTM_FARRINGTON_DELTA,    /* Farrington 1996: normal approximation on the power scale */
    JTM_FARRINGTON_NBPLUGIN, /* Noufaily 2013: negative binomial quantile at the fitted mean */
    JTM_FARRINGTON_MUAN      /* ... at the upper 1 - alpha quantile of the fitted mean */
} jtm_farrington_threshold;

typedef struct jtm_farrington_params {
    int b;                         /* years back; R default 5 */
    int w;                         /* half window in weeks; 3 */
    int reweight;                  /* down-weight past outbreaks; 1 */
    double weights_threshold;      /* Anscombe residual above which a week is down-weighted; 2.58 */
    double alpha;                  /* upper bound at the 1 - alpha quantile; 0.05 */
    int trend;                     /* fit a linear trend (kept only when significant); 1 */
    double p_threshold_trend;      /* significance level of the trend; 0.05 */
    double limit54_cases;          /* no bound unless the last limit54_period weeks (this one */
    int limit54_period;            /* included) have at least limit54_cases; 5 and 4 */
    jtm_farrington_powertrans powertrans;       /* for "delta": "2/3" */
    int no_periods;                /* seasonal factor levels; 1 = Farrington's reference windows only */
    int past_weeks_not_included;   /* recent weeks left out of the fit; -1 (R's NULL) = w */
    jtm_farrington_threshold threshold_method; /* "delta" */
} jtm_farrington_params;

/* Alarm values, as jtm_ears_*: NA when no model could be fitted for the week. */
#define JTM_FARRINGTON_NO_ALARM 0
#define JTM_FARRINGTON_ALARM 1
#define JTM_FARRINGTON_NA (-1)

/* farringtonFlexible's defaults. */
void jtm_farrington_defaults(jtm_farrington_params *p);

/* Applies a named preset on top of *p: "farrington" (R's defaults) or "noufaily" (Noufaily et al.
 * 2013 as the R documentation shows it: noPeriods 10, pastWeeksNotIncluded 26, weightsThreshold
 * 2.58, pThresholdTrend 1, thresholdMethod "nbPlugin"). Returns 0, or -1 with errstr. */
int jtm_farrington_preset(jtm_farrington_params *p, const char *name, char *errstr, size_t errlen);

/* One settable parameter: its command-line name (--b, --weights-threshold, ...), the name of the
 * control list entry in R, and a one-line help text. */
typedef struct jtm_farrington_option {
    const char *cli;
    const char *r_name;
    const char *help;
} jtm_farrington_option;

/* Entry i of the table of settable parameters, NULL past its end. */
const jtm_farrington_option *jtm_farrington_option_at(size_t i);

/* Sets the parameter whose cli or R name is `name` from its text value (numbers; TRUE/FALSE or
 * 1/0 for flags; "5,4" for limit54; "2/3", "1/2", "none"; "delta", "nbPlugin", "muan").
 * Returns 0, or -1 with errstr naming the parameter and what it accepts. */
int jtm_farrington_set(jtm_farrington_params *p, const char *name, const char *value, char *errstr,
                       size_t errlen);

/* Checks the ranges (including that noPeriods - 1 seasonal blocks fit between the windows and
 * that the left-out weeks do not reach last year's window). Returns 0, or -1 with errstr. */
int jtm_farrington_check(const jtm_farrington_params *p, char *errstr, size_t errlen);

/* Index (0-based) of the first judged week: 52 b + w (R's range starts at 52 b + w + 1). */
size_t jtm_farrington_first(const jtm_farrington_params *p);

/* Runs the detector over the weekly counts x[0..n) (finite, >= 0). For each i >= first writes
 * upper[i] (NaN where R gives NA: too few cases by limit54, or no model) and alarm[i]
 * (JTM_FARRINGTON_*; R's alarm is count > bound, count not 0, with enough cases); entries before
 * first are NaN and NA. Returns the number of judged weeks (0 when the series is too short), or
 * -1 with errstr for invalid parameters or counts, or out of memory. */
long jtm_farrington_run(const jtm_farrington_params *p, const double *x, size_t n, double *upper, int *alarm,
                        char *errstr, size_t errlen);

#endif
