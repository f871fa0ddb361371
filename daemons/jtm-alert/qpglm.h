/* A quasi-Poisson GLM with log link, fitted as R's glm(y ~ X, family = quasipoisson, weights = w)
 * fits it (glm.fit with its defaults epsilon 1e-8 and maxit 25): start mu = y + 0.1, iteratively
 * reweighted least squares by Householder QR with LINPACK dqrdc2's rule for dropping a column
 * whose norm falls below 1e-11 of its original norm (its coefficient is then 0, as in glm.fit's
 * iterations), stop when |dev - dev_old| / (|dev| + 0.1) < 1e-8. Because the same iterates are
 * taken and the same stopping rule applied, the estimates agree with R's to rounding, not merely
 * to the convergence tolerance. Like R's glm object, the QR factor and working weights kept for
 * summary(), hatvalues() and predict(se.fit = TRUE) are those of the last iteration, while mu is
 * the final one. */
#ifndef JTM_ALERT_QPGLM_H
#define JTM_ALERT_QPGLM_H

#include <stddef.h>

typedef struct jtm_qpglm {
    size_t n, p;       /* observations, columns of X */
    int converged;     /* glm's $converged */
    int iterations;    /* glm's $iter */
    int rank;          /* $rank */
    double *coef;      /* [p]; 0 for a dropped column */
    int *pivot;        /* [p]: column order of the QR; the first `rank` are kept */
    size_t ng;         /* rows in the last least squares step (positive weight) */
    int *good;         /* [n]: row i took part in it */
    double *qr;        /* [ng * p] column-major Householder vectors and R (LINPACK layout) */
    double *qraux;     /* [p] */
    double *mu;        /* [n] fitted values */
    double *wt;        /* [n] working weights of the last iteration ($weights) */
    double *resid;     /* [n] working residuals (y - mu) / mu ($residuals) */
    double dispersion; /* summary.glm()$dispersion: sum(wt * resid^2) / df_residual */
    double df_residual;
} jtm_qpglm;

/* Fits the model. X is n x p, column-major (X[j * n + i]); prior weights w may be NULL (all 1);
 * y >= 0. Returns 0 (check m->converged), or -1 with errstr when the arguments are unusable, out of
 * memory, or no valid coefficients were found. On success m must be released by jtm_qpglm_free. */
int jtm_qpglm_fit(jtm_qpglm *m, const double *X, const double *y, const double *w, size_t n, size_t p,
                  char *errstr, size_t errlen);
void jtm_qpglm_free(jtm_qpglm *m);

/* hatvalues(): the diagonal of the hat matrix of the last weighted least squares step; values
 * within 10 ulp of 1 are set to 1, as lm.influence does. h must hold n values. */
void jtm_qpglm_hat(const jtm_qpglm *m, double *h);

/* Linear predictor x0 . coef and its standard error sqrt(scale * x0' (X'WX)^-1 x0) over the kept
 * columns, as predict.glm(type = "link", se.fit = TRUE) with dispersion `scale`. */
double jtm_qpglm_predict_link(const jtm_qpglm *m, const double *x0, double scale, double *se);

/* Coefficient j's standard error with dispersion `scale` (NaN when column j was dropped). */
double jtm_qpglm_coef_se(const jtm_qpglm *m, size_t j, double scale);

#endif
