/* The few distribution functions of R's nmath that surveillance::farringtonFlexible needs beyond
 * qnorm() (ears.h): Student's t for the trend test and the Poisson and negative binomial
 * quantiles of the Noufaily threshold. They are computed from the regularised incomplete gamma
 * and beta functions (continued fractions, about 1e-14 relative accuracy), not R's own algorithms,
 * so they agree with R to rounding; the quantiles are integers found by the same search rule as
 * R's qpois()/qnbinom() (smallest y with P(Y <= y) >= p, p fuzzed down by 8 ulp for left
 * continuity), so they agree exactly except within about 1e-14 of a step of the distribution. */
#ifndef JTM_ALERT_RDIST_H
#define JTM_ALERT_RDIST_H

/* pt(t, df): lower tail of Student's t with df > 0 degrees of freedom. NaN for bad arguments. */
double jtm_pt(double t, double df);
/* ppois(y, lambda): P(Y <= y), lambda >= 0. */
double jtm_ppois(double y, double lambda);
/* pnbinom(y, size, prob): P(Y <= y) for the negative binomial with size > 0, 0 < prob <= 1. */
double jtm_pnbinom(double y, double size, double prob);
/* qpois(p, lambda) for 0 <= p <= 1: +Inf at p = 1, NaN for bad arguments. */
double jtm_qpois(double p, double lambda);
/* qnbinom(p, size, prob) for 0 <= p <= 1: 0 when size is 0 or prob is 1, +Inf at p = 1. */
double jtm_qnbinom(double p, double size, double prob);

#endif
