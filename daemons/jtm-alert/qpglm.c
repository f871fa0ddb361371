#include "qpglm.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QPGLM_EPSILON 1e-8 /* glm.control()$epsilon */
#define QPGLM_MAXIT 25     /* glm.control()$maxit */
#define QPGLM_QR_TOL 1e-11 /* glm.fit: min(1e-7, epsilon / 1000) */

void jtm_qpglm_free(jtm_qpglm *m)
{
    free(m->coef);
    free(m->pivot);
    free(m->good);
    free(m->qr);
    free(m->qraux);
    free(m->mu);
    free(m->wt);
    free(m->resid);
    memset(m, 0, sizeof *m);
}

static double norm2(const double *v, size_t len)
{
    double s = 0;
    for (size_t i = 0; i < len; i++)
        s += v[i] * v[i];
    return sqrt(s);
}

/* Swaps column l of the n x p matrix a (and its bookkeeping) to the end, shifting the rest left. */
static void move_to_end(double *a, size_t n, size_t p, size_t l, double *qraux, double *work1, double *work2,
                        int *pivot, double *tmp)
{
    memcpy(tmp, a + l * n, n * sizeof *tmp);
    memmove(a + l * n, a + (l + 1) * n, (p - l - 1) * n * sizeof *a);
    memcpy(a + (p - 1) * n, tmp, n * sizeof *tmp);
    double q = qraux[l], w1 = work1[l], w2 = work2[l];
    int pv = pivot[l];
    for (size_t j = l + 1; j < p; j++) {
        qraux[j - 1] = qraux[j];
        work1[j - 1] = work1[j];
        work2[j - 1] = work2[j];
        pivot[j - 1] = pivot[j];
    }
    qraux[p - 1] = q;
    work1[p - 1] = w1;
    work2[p - 1] = w2;
    pivot[p - 1] = pv;
}

/* LINPACK dqrdc2 (R's QR with limited pivoting): Householder QR of the n x p matrix a in place;
 * a column whose remaining norm is below QPGLM_QR_TOL of its original norm is moved to the end.
 * Returns the rank. work must hold 2 * p + n doubles. */
static int dqrdc2(double *a, size_t n, size_t p, double *qraux, int *pivot, double *work)
{
    double *work1 = work, *work2 = work + p, *tmp = work + 2 * p;
    for (size_t j = 0; j < p; j++) {
        pivot[j] = (int)j;
        qraux[j] = norm2(a + j * n, n);
        work1[j] = qraux[j];
        work2[j] = qraux[j] == 0 ? 1 : qraux[j];
    }
    size_t lup = n < p ? n : p, k = p;
    for (size_t l = 0; l < lup; l++) {
        while (l < k && qraux[l] < work2[l] * QPGLM_QR_TOL) {
            move_to_end(a, n, p, l, qraux, work1, work2, pivot, tmp);
            k--;
        }
        qraux[l] = 0;
        if (l == n - 1)
            break;
        double *xl = a + l * n;
        double nrmxl = norm2(xl + l, n - l);
        if (nrmxl == 0)
            continue;
        if (xl[l] != 0)
            nrmxl = copysign(nrmxl, xl[l]);
        for (size_t i = l; i < n; i++)
            xl[i] /= nrmxl;
        xl[l] += 1;
        for (size_t j = l + 1; j < p; j++) {
            double *xj = a + j * n, t = 0;
            for (size_t i = l; i < n; i++)
                t -= xl[i] * xj[i];
            t /= xl[l];
            for (size_t i = l; i < n; i++)
                xj[i] += t * xl[i];
            if (qraux[j] != 0) {
                double r = fabs(xj[l]) / qraux[j], tt = 1 - r * r;
                if (tt < 0)
                    tt = 0;
                if (fabs(tt) < 1e-6) {
                    qraux[j] = norm2(xj + l + 1, n - l - 1);
                    work1[j] = qraux[j];
                } else {
                    qraux[j] *= sqrt(tt);
                }
            }
        }
        qraux[l] = xl[l];
        xl[l] = -nrmxl;
    }
    return (int)(k < n ? k : n);
}

/* Applies Householder reflection j of the factorisation to v (length n): H_j v. */
static void reflect(const double *qr, const double *qraux, size_t n, size_t j, double *v)
{
    if (qraux[j] == 0)
        return;
    const double *xj = qr + j * n;
    double t = -qraux[j] * v[j];
    for (size_t i = j + 1; i < n; i++)
        t -= xj[i] * v[i];
    t /= qraux[j];
    v[j] += t * qraux[j];
    for (size_t i = j + 1; i < n; i++)
        v[i] += t * xj[i];
}

/* Number of reflections dqrsl applies for rank k: min(k, n - 1). */
static size_t reflections(size_t n, int rank) { return (size_t)rank < n - 1 ? (size_t)rank : n - 1; }

/* Least squares solution of the factorised system for right-hand side z (overwritten with Q'z):
 * b[0..rank) in pivoted order. */
static void qr_solve(const double *qr, const double *qraux, size_t n, int rank, double *z, double *b)
{
    size_t ju = reflections(n, rank);
    for (size_t j = 0; j < ju; j++)
        reflect(qr, qraux, n, j, z);
    for (int j = rank - 1; j >= 0; j--) {
        double s = z[j];
        for (int k = j + 1; k < rank; k++)
            s -= qr[(size_t)k * n + (size_t)j] * b[k];
        b[j] = s / qr[(size_t)j * n + (size_t)j];
    }
}

/* quasipoisson()$dev.resids summed: 2 * sum(w * (y log(y / mu) - (y - mu))), w * mu where y = 0. */
static double deviance(const double *y, const double *mu, const double *w, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1;
        d += 2 * (y[i] > 0 ? wi * (y[i] * log(y[i] / mu[i]) - (y[i] - mu[i])) : mu[i] * wi);
    }
    return d;
}

/* eta = X coef, mu = pmax(exp(eta), DBL_EPSILON) (make.link("log")$linkinv). Returns 0 when every
 * mu is finite and positive (quasipoisson()$validmu). */
static int linear_predictor(const double *X, size_t n, size_t p, const double *coef, double *eta, double *mu)
{
    int valid = 1;
    for (size_t i = 0; i < n; i++) {
        double e = 0;
        for (size_t j = 0; j < p; j++)
            e += X[j * n + i] * coef[j];
        eta[i] = e;
        mu[i] = fmax(exp(e), DBL_EPSILON);
        if (!isfinite(mu[i]) || !(mu[i] > 0))
            valid = 0;
    }
    return valid ? 0 : -1;
}

int jtm_qpglm_fit(jtm_qpglm *m, const double *X, const double *y, const double *w, size_t n, size_t p,
                  char *errstr, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (n < 1 || p < 1) {
        snprintf(errstr, errlen, "glm needs at least one observation and one column");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!(y[i] >= 0) || isinf(y[i]) || (w && (!(w[i] >= 0) || isinf(w[i])))) {
            snprintf(errstr, errlen, "glm: counts and weights must be finite and >= 0");
            return -1;
        }
    m->n = n;
    m->p = p;
    m->coef = calloc(p, sizeof *m->coef);
    m->pivot = calloc(p, sizeof *m->pivot);
    m->good = calloc(n, sizeof *m->good);
    m->qr = calloc(n * p, sizeof *m->qr);
    m->qraux = calloc(p, sizeof *m->qraux);
    m->mu = calloc(n, sizeof *m->mu);
    m->wt = calloc(n, sizeof *m->wt);
    m->resid = calloc(n, sizeof *m->resid);
    double *eta = calloc(n, sizeof *eta), *z = calloc(n, sizeof *z), *wk = calloc(n, sizeof *wk);
    double *start = calloc(p, sizeof *start), *coefold = calloc(p, sizeof *coefold), *b = calloc(p, sizeof *b);
    double *work = calloc(2 * p + n, sizeof *work);
    int rc = -1, have_old = 0;
    if (!m->coef || !m->pivot || !m->good || !m->qr || !m->qraux || !m->mu || !m->wt || !m->resid || !eta || !z ||
        !wk || !start || !coefold || !b || !work) {
        snprintf(errstr, errlen, "glm: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        eta[i] = log(y[i] + 0.1); /* quasipoisson()$initialize: mustart <- y + 0.1 */
        m->mu[i] = fmax(exp(eta[i]), DBL_EPSILON);
    }
    double devold = deviance(y, m->mu, w, n);
    for (int iter = 1; iter <= QPGLM_MAXIT; iter++) {
        m->iterations = iter;
        size_t ng = 0;
        for (size_t i = 0; i < n; i++) {
            double mu_eta = fmax(exp(eta[i]), DBL_EPSILON), wi = w ? w[i] : 1;
            m->good[i] = wi > 0 && mu_eta != 0;
            if (!m->good[i])
                continue;
            z[ng] = eta[i] + (y[i] - m->mu[i]) / mu_eta;
            wk[ng] = sqrt(wi * mu_eta * mu_eta / m->mu[i]);
            ng++;
        }
        m->ng = ng;
        if (ng == 0)
            break; /* glm.fit: "no observations informative at iteration"; not converged */
        for (size_t j = 0; j < p; j++) {
            size_t r = 0;
            for (size_t i = 0; i < n; i++)
                if (m->good[i]) {
                    m->qr[j * ng + r] = X[j * n + i] * wk[r];
                    r++;
                }
        }
        for (size_t r = 0; r < ng; r++)
            z[r] *= wk[r];
        m->rank = dqrdc2(m->qr, ng, p, m->qraux, m->pivot, work);
        qr_solve(m->qr, m->qraux, ng, m->rank, z, b);
        int finite = 1;
        memset(start, 0, p * sizeof *start);
        for (int j = 0; j < m->rank; j++) {
            start[m->pivot[j]] = b[j];
            if (!isfinite(b[j]))
                finite = 0;
        }
        if (!finite)
            break; /* glm.fit: "non-finite coefficients at iteration"; not converged */
        for (size_t i = 0, r = 0; i < n; i++)
            if (m->good[i])
                m->wt[i] = wk[r] * wk[r], r++;
            else
                m->wt[i] = 0;
        int valid = linear_predictor(X, n, p, start, eta, m->mu) == 0;
        double dev = valid ? deviance(y, m->mu, w, n) : NAN;
        /* glm.fit's step halving towards the previous coefficients while the step is invalid. */
        for (int ii = 1; !(valid && isfinite(dev)); ii++) {
            if (!have_old || ii > QPGLM_MAXIT) {
                snprintf(errstr, errlen, "glm: no valid set of coefficients found");
                goto out;
            }
            for (size_t j = 0; j < p; j++)
                start[j] = (start[j] + coefold[j]) / 2;
            valid = linear_predictor(X, n, p, start, eta, m->mu) == 0;
            dev = valid ? deviance(y, m->mu, w, n) : NAN;
        }
        memcpy(m->coef, start, p * sizeof *start);
        if (fabs(dev - devold) / (fabs(dev) + 0.1) < QPGLM_EPSILON) {
            m->converged = 1;
            break;
        }
        devold = dev;
        memcpy(coefold, start, p * sizeof *start);
        have_old = 1;
    }
    size_t n_ok = 0;
    double ss = 0;
    for (size_t i = 0; i < n; i++) {
        m->resid[i] = (y[i] - m->mu[i]) / fmax(exp(eta[i]), DBL_EPSILON);
        if (!w || w[i] != 0)
            n_ok++;
        if (m->wt[i] > 0)
            ss += m->wt[i] * m->resid[i] * m->resid[i];
    }
    m->df_residual = (double)n_ok - m->rank;
    m->dispersion = m->df_residual > 0 ? ss / m->df_residual : NAN;
    rc = 0;
out:
    free(eta);
    free(z);
    free(wk);
    free(start);
    free(coefold);
    free(b);
    free(work);
    if (rc != 0)
        jtm_qpglm_free(m);
    return rc;
}

void jtm_qpglm_hat(const jtm_qpglm *m, double *h)
{
    size_t ng = m->ng, ju = reflections(ng, m->rank);
    double *q = calloc(ng ? ng : 1, sizeof *q);
    for (size_t i = 0; i < m->n; i++)
        h[i] = 0;
    if (!q) {
        for (size_t i = 0; i < m->n; i++)
            h[i] = NAN;
        return;
    }
    double *hg = calloc(ng ? ng : 1, sizeof *hg);
    if (!hg) {
        free(q);
        for (size_t i = 0; i < m->n; i++)
            h[i] = NAN;
        return;
    }
    /* Column j of Q is H_0 H_1 ... H_{ju-1} e_j (dqrsl's qy on a unit vector, as lminfl does). */
    for (int j = 0; j < m->rank; j++) {
        memset(q, 0, ng * sizeof *q);
        q[j] = 1;
        for (size_t l = ju; l-- > 0;)
            reflect(m->qr, m->qraux, ng, l, q);
        for (size_t r = 0; r < ng; r++)
            hg[r] += q[r] * q[r];
    }
    for (size_t i = 0, r = 0; i < m->n; i++)
        if (m->good[i]) {
            h[i] = hg[r] > 1 - 10 * DBL_EPSILON ? 1 : hg[r];
            r++;
        }
    free(hg);
    free(q);
}

double jtm_qpglm_predict_link(const jtm_qpglm *m, const double *x0, double scale, double *se)
{
    double fit = 0, ss = 0;
    size_t ng = m->ng;
    for (size_t j = 0; j < m->p; j++)
        fit += x0[j] * m->coef[j];
    /* se^2 = scale * |R^-T x0|^2 over the kept (pivoted) columns. */
    double u[m->rank > 0 ? m->rank : 1];
    for (int j = 0; j < m->rank; j++) {
        double s = x0[m->pivot[j]];
        for (int k = 0; k < j; k++)
            s -= m->qr[(size_t)j * ng + (size_t)k] * u[k];
        u[j] = s / m->qr[(size_t)j * ng + (size_t)j];
        ss += u[j] * u[j];
    }
    if (se)
        *se = sqrt(ss * scale);
    return fit;
}

double jtm_qpglm_coef_se(const jtm_qpglm *m, size_t j, double scale)
{
    int kept = 0;
    for (int k = 0; k < m->rank; k++)
        if ((size_t)m->pivot[k] == j)
            kept = 1;
    if (!kept || j >= m->p)
        return NAN;
    double e[m->p], se;
    memset(e, 0, sizeof e);
    e[j] = 1;
    jtm_qpglm_predict_link(m, e, scale, &se);
    return se;
}
