#include "audit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "intervals.h"

static const char *TOTAL = "TOTAL";

int jtm_pub_add(jtm_pub *p, const char *view, const char *layer, const char *r, const char *c, const char *count,
                const char *reason, char *errstr, size_t errlen)
{
    jtm_pub_entry e = {0};
    e.suppressed = !count || !*count;
    if (!e.suppressed) {
        char *end;
        errno = 0;
        e.n = strtoll(count, &end, 10);
        if (errno || *end || e.n < 0) {
            snprintf(errstr, errlen, "count '%.20s' is not a number", count);
            return -1;
        }
    }
    e.primary = e.suppressed && reason && strcmp(reason, "primary") == 0;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 256;
        jtm_pub_entry *q = realloc(p->e, cap * sizeof *q);
        if (!q)
            goto oom;
        p->e = q;
        p->cap = cap;
    }
    e.view = strdup(view);
    e.layer = strdup(layer);
    e.r = strdup(r);
    e.c = strdup(c);
    if (!e.view || !e.layer || !e.r || !e.c) {
        free(e.view);
        free(e.layer);
        free(e.r);
        free(e.c);
        goto oom;
    }
    p->e[p->n++] = e;
    return 0;
oom:
    snprintf(errstr, errlen, "out of memory");
    return -1;
}

int jtm_pub_load_csv(jtm_pub *p, FILE *f, char *errstr, size_t errlen)
{
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int rc = 0;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line || (lineno == 1 && strncmp(line, "view", 4) == 0))
            continue;
        char *field[6] = {0}, *s = line;
        int k = 0;
        for (; k < 6 && s; k++) {
            field[k] = s;
            s = strchr(s, ',');
            if (s)
                *s++ = '\0';
        }
        if (k < 5 || s) {
            snprintf(errstr, errlen, "line %ld: expected view,layer,row,col,count,reason", lineno);
            rc = -1;
            break;
        }
        char err[128];
        if (jtm_pub_add(p, field[0], field[1], field[2], field[3], field[4], field[5], err, sizeof err) != 0) {
            snprintf(errstr, errlen, "line %ld: %s", lineno, err);
            rc = -1;
            break;
        }
    }
    free(line);
    return rc;
}

void jtm_pub_free(jtm_pub *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->e[i].view);
        free(p->e[i].layer);
        free(p->e[i].r);
        free(p->e[i].c);
    }
    free(p->e);
    *p = (jtm_pub){0};
}

/* Sorting entries into lines: by view, layer, then the line key (row or column). */
typedef struct line_item {
    const char *view, *layer, *key;
    size_t i;
} line_item;

static int line_cmp(const line_item *x, const line_item *y)
{
    int d = strcmp(x->view, y->view);
    if (!d)
        d = strcmp(x->layer, y->layer);
    if (!d)
        d = strcmp(x->key, y->key);
    return d;
}

static int line_qcmp(const void *a, const void *b) { return line_cmp(a, b); }

/* One relation per line: inner entries - the line's total = 0. Lines without a total are skipped
 * (nothing published relates them). */
static int add_lines(const jtm_pub *p, jtm_iv *m, const int *var, bool by_col, size_t *nrel)
{
    line_item *idx = malloc((p->n ? p->n : 1) * sizeof *idx);
    int *vars = malloc((p->n ? p->n : 1) * sizeof *vars), *coef = malloc((p->n ? p->n : 1) * sizeof *coef);
    int rc = 0;
    if (!idx || !vars || !coef) {
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < p->n; i++)
        idx[i] = (line_item){p->e[i].view, p->e[i].layer, by_col ? p->e[i].c : p->e[i].r, i};
    qsort(idx, p->n, sizeof *idx, line_qcmp);
    for (size_t a = 0; a < p->n;) {
        size_t b = a, k = 0;
        bool has_total = false;
        while (b < p->n && line_cmp(&idx[a], &idx[b]) == 0) {
            const jtm_pub_entry *e = &p->e[idx[b].i];
            bool is_total = strcmp(by_col ? e->r : e->c, TOTAL) == 0;
            has_total |= is_total;
            vars[k] = var[idx[b].i];
            coef[k++] = is_total ? -1 : 1;
            b++;
        }
        if (has_total && k > 1) {
            if (jtm_iv_relation(m, vars, coef, k, 0, false) != 0) {
                rc = -1;
                goto out;
            }
            (*nrel)++;
        }
        a = b;
    }
out:
    free(idx);
    free(vars);
    free(coef);
    return rc;
}

static long find_entry(const jtm_pub *p, const char *view, const char *layer, const char *r, const char *c)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->e[i].view, view) == 0 && strcmp(p->e[i].layer, layer) == 0 && strcmp(p->e[i].r, r) == 0 &&
            strcmp(p->e[i].c, c) == 0)
            return (long)i;
    return -1;
}

/* children_in_care_year(year, g, TOTAL) <= waiting_time_year(year, g, TOTAL), g a municipality or
 * TOTAL: every child starting care had an episode start that year. */
static int add_cross_view(const jtm_pub *p, jtm_iv *m, const int *var, size_t *nrel)
{
    for (size_t i = 0; i < p->n; i++) {
        const jtm_pub_entry *e = &p->e[i];
        if (strcmp(e->view, "children_in_care_year") != 0 || strcmp(e->c, TOTAL) != 0)
            continue;
        long j = find_entry(p, "waiting_time_year", e->layer, e->r, TOTAL);
        if (j < 0)
            continue;
        int vars[2] = {var[i], var[j]}, coef[2] = {1, -1};
        if (jtm_iv_relation(m, vars, coef, 2, 0, true) != 0)
            return -1;
        (*nrel)++;
    }
    return 0;
}

static int finding_cmp(const void *a, const void *b)
{
    const jtm_audit_finding *x = a, *y = b;
    long long wx = x->ub - x->lb, wy = y->ub - y->lb;
    if (wx != wy)
        return wx < wy ? -1 : 1;
    return x->entry < y->entry ? -1 : x->entry > y->entry;
}

int jtm_audit_run(const jtm_pub *p, const jtm_audit_opts *o, jtm_audit_result *res, char *errstr, size_t errlen)
{
    *res = (jtm_audit_result){0};
    jtm_iv *m = jtm_iv_new();
    int *var = malloc((p->n ? p->n : 1) * sizeof *var);
    res->lb = malloc((p->n ? p->n : 1) * sizeof *res->lb);
    res->ub = malloc((p->n ? p->n : 1) * sizeof *res->ub);
    res->findings = malloc((p->n ? p->n : 1) * sizeof *res->findings);
    int rc = -1;
    if (!m || !var || !res->lb || !res->ub || !res->findings)
        goto oom;
    for (size_t i = 0; i < p->n; i++) {
        const jtm_pub_entry *e = &p->e[i];
        long long lb = e->suppressed ? 1 : e->n, ub = e->suppressed ? (e->primary ? o->min_cell - 1 : JTM_IV_INF) : e->n;
        if ((var[i] = jtm_iv_var(m, lb, ub)) < 0)
            goto oom;
        res->suppressed += e->suppressed;
    }
    if (add_lines(p, m, var, false, &res->relations) != 0 || add_lines(p, m, var, true, &res->relations) != 0 ||
        (o->cross_view && add_cross_view(p, m, var, &res->relations) != 0))
        goto oom;
    res->rounds = jtm_iv_solve(m, 100000);
    if (res->rounds == -1) {
        snprintf(errstr, errlen, "the published counts contradict each other (a total is not the sum of its line)");
        goto out;
    }
    if (res->rounds == -2) {
        snprintf(errstr, errlen, "interval propagation did not reach a fixed point");
        goto out;
    }
    for (size_t i = 0; i < p->n; i++) {
        jtm_iv_bounds(m, var[i], &res->lb[i], &res->ub[i]);
        if (p->e[i].suppressed && res->ub[i] - res->lb[i] < o->min_width)
            res->findings[res->exposed++] = (jtm_audit_finding){i, res->lb[i], res->ub[i]};
    }
    qsort(res->findings, res->exposed, sizeof *res->findings, finding_cmp);
    rc = 0;
    goto out;
oom:
    snprintf(errstr, errlen, "out of memory");
out:
    jtm_iv_free(m);
    free(var);
    if (rc != 0)
        jtm_audit_result_free(res);
    return rc;
}

void jtm_audit_result_free(jtm_audit_result *res)
{
    free(res->findings);
    free(res->lb);
    free(res->ub);
    *res = (jtm_audit_result){0};
}
