#include "intervals.h"

#include <stdlib.h>

typedef struct rel {
    size_t first, n; /* terms[first .. first+n) */
    long long rhs;
    bool le;
} rel;

typedef struct term {
    int var, coef;
} term;

struct jtm_iv {
    long long *lb, *ub;
    size_t nvars, capvars;
    term *terms;
    size_t nterms, capterms;
    rel *rels;
    size_t nrels, caprels;
};

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return false;
    *p = q;
    *cap = c;
    return true;
}

jtm_iv *jtm_iv_new(void) { return calloc(1, sizeof(jtm_iv)); }

void jtm_iv_free(jtm_iv *m)
{
    if (!m)
        return;
    free(m->lb);
    free(m->ub);
    free(m->terms);
    free(m->rels);
    free(m);
}

int jtm_iv_var(jtm_iv *m, long long lb, long long ub)
{
    size_t cap = m->capvars;
    if (!grow((void **)&m->lb, &cap, m->nvars + 1, sizeof *m->lb))
        return -1;
    cap = m->capvars;
    if (!grow((void **)&m->ub, &cap, m->nvars + 1, sizeof *m->ub))
        return -1;
    m->capvars = cap;
    m->lb[m->nvars] = lb < -JTM_IV_INF ? -JTM_IV_INF : lb;
    m->ub[m->nvars] = ub > JTM_IV_INF ? JTM_IV_INF : ub;
    return (int)m->nvars++;
}

int jtm_iv_relation(jtm_iv *m, const int *vars, const int *coef, size_t n, long long rhs, bool le)
{
    for (size_t i = 0; i < n; i++)
        if (vars[i] < 0 || (size_t)vars[i] >= m->nvars || (coef[i] != 1 && coef[i] != -1))
            return -1;
    if (!grow((void **)&m->terms, &m->capterms, m->nterms + n, sizeof *m->terms) ||
        !grow((void **)&m->rels, &m->caprels, m->nrels + 1, sizeof *m->rels))
        return -1;
    m->rels[m->nrels++] = (rel){.first = m->nterms, .n = n, .rhs = rhs, .le = le};
    for (size_t i = 0; i < n; i++)
        m->terms[m->nterms++] = (term){vars[i], coef[i]};
    return 0;
}

/* Range of coef * x; an infinite end stays infinite (counted apart, never summed). */
static void term_range(const jtm_iv *m, term t, long long *lo, long long *hi)
{
    long long l = m->lb[t.var], u = m->ub[t.var];
    if (t.coef > 0) {
        *lo = l <= -JTM_IV_INF ? -JTM_IV_INF : l;
        *hi = u >= JTM_IV_INF ? JTM_IV_INF : u;
    } else {
        *lo = u >= JTM_IV_INF ? -JTM_IV_INF : -u;
        *hi = l <= -JTM_IV_INF ? JTM_IV_INF : -l;
    }
}

/* One relation: sum of the others' ranges, with infinite ends counted, bounds each term. */
static int propagate(jtm_iv *m, const rel *r, bool *changed)
{
    long long slo = 0, shi = 0;
    int inflo = 0, infhi = 0;
    for (size_t i = 0; i < r->n; i++) {
        long long lo, hi;
        term_range(m, m->terms[r->first + i], &lo, &hi);
        if (lo <= -JTM_IV_INF)
            inflo++;
        else
            slo += lo;
        if (hi >= JTM_IV_INF)
            infhi++;
        else
            shi += hi;
    }
    for (size_t i = 0; i < r->n; i++) {
        term t = m->terms[r->first + i];
        long long lo, hi;
        term_range(m, t, &lo, &hi);
        /* others' low sum, finite only when no other term is unbounded below */
        int olo_inf = inflo - (lo <= -JTM_IV_INF), ohi_inf = infhi - (hi >= JTM_IV_INF);
        long long olo = slo - (lo <= -JTM_IV_INF ? 0 : lo), ohi = shi - (hi >= JTM_IV_INF ? 0 : hi);
        /* coef*x = rhs - others (equality) or <= rhs - others (le) */
        long long nhi = olo_inf ? JTM_IV_INF : r->rhs - olo;
        long long nlo = (r->le || ohi_inf) ? -JTM_IV_INF : r->rhs - ohi;
        long long xl, xu; /* in terms of x */
        if (t.coef > 0) {
            xl = nlo;
            xu = nhi;
        } else {
            xl = nhi >= JTM_IV_INF ? -JTM_IV_INF : -nhi;
            xu = nlo <= -JTM_IV_INF ? JTM_IV_INF : -nlo;
        }
        if (xl > m->lb[t.var] && xl > -JTM_IV_INF) {
            m->lb[t.var] = xl;
            *changed = true;
        }
        if (xu < m->ub[t.var] && xu < JTM_IV_INF) {
            m->ub[t.var] = xu;
            *changed = true;
        }
        if (m->lb[t.var] > m->ub[t.var])
            return -1;
    }
    return 0;
}

int jtm_iv_solve(jtm_iv *m, int max_rounds)
{
    for (int round = 1; round <= max_rounds; round++) {
        bool changed = false;
        for (size_t k = 0; k < m->nrels; k++)
            if (propagate(m, &m->rels[k], &changed) != 0)
                return -1;
        if (!changed)
            return round;
    }
    return -2;
}

void jtm_iv_bounds(const jtm_iv *m, int var, long long *lb, long long *ub)
{
    *lb = m->lb[var];
    *ub = m->ub[var];
}

size_t jtm_iv_count(const jtm_iv *m) { return m->nvars; }
