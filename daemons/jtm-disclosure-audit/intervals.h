/* Interval propagation over additive relations: the bounds a reader of published tables can
 * derive for the counts that were withheld. Variables are integers with bounds [lb, ub]
 * (JTM_IV_INF = unbounded); relations are sum(coef_i * x_i) = rhs or <= rhs with coef +1 or -1.
 * jtm_iv_solve tightens every bound from every relation until nothing changes (a fixed point).
 * The result is sound (the true values stay inside) and a relaxation of linear programming: an LP
 * over the same relations can find narrower intervals, never wider ones. */
#ifndef JTM_DISCLOSURE_INTERVALS_H
#define JTM_DISCLOSURE_INTERVALS_H

#include <stdbool.h>
#include <stddef.h>

#define JTM_IV_INF 1000000000000LL

typedef struct jtm_iv jtm_iv;

jtm_iv *jtm_iv_new(void);
void jtm_iv_free(jtm_iv *m);

/* A variable with bounds (lb == ub: a published count). Returns its index, or -1 out of memory. */
int jtm_iv_var(jtm_iv *m, long long lb, long long ub);

/* sum(coef[i] * x[vars[i]]) = rhs (le false) or <= rhs (le true); coef[i] is +1 or -1.
 * Returns 0, or -1 on a bad argument or out of memory. */
int jtm_iv_relation(jtm_iv *m, const int *vars, const int *coef, size_t n, long long rhs, bool le);

/* Propagates to a fixed point, at most max_rounds passes over all relations. Returns the passes
 * made, or -1 when the relations are infeasible (a bound crossed), -2 when max_rounds ran out. */
int jtm_iv_solve(jtm_iv *m, int max_rounds);

void jtm_iv_bounds(const jtm_iv *m, int var, long long *lb, long long *ub);
size_t jtm_iv_count(const jtm_iv *m);

#endif
