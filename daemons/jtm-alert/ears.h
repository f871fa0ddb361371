/* EARS aberration detectors C1, C2 and C3, defined exactly as earsC() in the R package
 * surveillance (1.20): the same reference windows, sample mean and standard deviation (n - 1),
 * minSigma floor, upper bound formulas, NaN propagation and monitored range. The R comparison test
 * (tests/it_alert_r.c) holds this to 1e-6 on the upper bounds and exactly on the alarms. */
#ifndef JTM_ALERT_EARS_H
#define JTM_ALERT_EARS_H

#include <stddef.h>

typedef enum { JTM_EARS_C1 = 1, JTM_EARS_C2 = 2, JTM_EARS_C3 = 3 } jtm_ears_method;

typedef struct jtm_ears_params {
    jtm_ears_method method;
    double alpha;     /* upper bound at the 1 - alpha normal quantile; <= 0: earsC's default */
    int baseline;     /* reference weeks, >= 3 (earsC refuses less); 0: 7 */
    double min_sigma; /* floor of the standard deviation, >= 0 */
} jtm_ears_params;

/* Alarm values: earsC gives NA when the upper bound is NaN (C3 over a flat baseline, minSigma 0). */
#define JTM_EARS_NO_ALARM 0
#define JTM_EARS_ALARM 1
#define JTM_EARS_NA (-1)

/* Parses "C1", "C2", "C3" (case-insensitive). Returns 0 or -1. */
int jtm_ears_method_parse(const char *s, jtm_ears_method *out);
const char *jtm_ears_method_name(jtm_ears_method m);
/* earsC's alpha when the control list leaves it out: 0.001 for C1 and C2, 0.025 for C3. */
double jtm_ears_default_alpha(jtm_ears_method m);
/* Fills defaults (alpha, baseline) and checks the ranges. Returns 0, or -1 with errstr. */
int jtm_ears_params_resolve(jtm_ears_params *p, char *errstr, size_t errlen);

/* Index (0-based) of the first monitored point: baseline, baseline + 2 or baseline + 4 for C1,
 * C2, C3 (earsC's range starts at baseline + 1, + 3, + 5 counted from 1). */
size_t jtm_ears_first(const jtm_ears_params *p);

/* Runs the detector over x[0..n). For each i >= jtm_ears_first(p) writes upper[i] and alarm[i]
 * (JTM_EARS_*); entries before that are set to NaN and JTM_EARS_NA. Returns the number of
 * monitored points (0 when the series is too short), or -1 with errstr when p is invalid
 * (p must have been resolved). */
long jtm_ears_run(const jtm_ears_params *p, const double *x, size_t n, double *upper, int *alarm,
                  char *errstr, size_t errlen);

/* The standard normal quantile, Wichura's AS 241 (PPND16) as R's qnorm() computes it: about
 * 1e-16 relative accuracy. NaN outside (0, 1); -Inf/Inf at 0 and 1. */
double jtm_qnorm(double p);

#endif
