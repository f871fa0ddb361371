#include "charts.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "flow.h"
#include "suppress.h"
#include "svg.h"

#define CHART_W 1160.0

int jtm_report_threshold(const jtm_report *r) { return r->public_ ? r->threshold : 0; }

static void no_data(sbuf *b, const jtm_report *r, const char *id, const char *title)
{
    svg_open(b, id, CHART_W, 40, title, NULL);
    svg_text(b, 10, 25, "empty", NULL, jtm_i18n(r->lang, M_NO_DATA));
    svg_close(b);
}

/* A count for display under r's suppression when hidden is not already decided. */
static const char *count_text(const jtm_report *r, long v, char out[24])
{
    int t = jtm_report_threshold(r);
    return jtm_supp_format(v, jtm_supp_small(v, t) ? JTM_SUPP_PRIMARY : JTM_SUPP_SHOWN, t, out);
}

/* ---- routes ---- */

int jtm_chart_routes(sbuf *b, const jtm_report *r, char *errstr, size_t errlen)
{
    const char *title = jtm_i18n(r->lang, M_ROUTES);
    jtm_flow f;
    if (jtm_flow_build(r->routes, r->n_routes, jtm_report_threshold(r), &f) != 0) {
        snprintf(errstr, errlen, "a route path has an empty or over-long stage");
        return -1;
    }
    if (f.n_nodes == 0) {
        jtm_flow_free(&f);
        no_data(b, r, "chart-routes", title);
        return 0;
    }
    int columns = 0;
    size_t most = 0;
    for (size_t i = 0; i < f.n_nodes; i++)
        if (f.nodes[i].column + 1 > columns)
            columns = f.nodes[i].column + 1;
    for (int c = 0; c < columns; c++) {
        size_t k = 0;
        for (size_t i = 0; i < f.n_nodes; i++)
            k += f.nodes[i].column == c;
        if (k > most)
            most = k;
    }
    double height = 60.0 * (double)most + 80;
    if (height < 320)
        height = 320;
    svg_flow_geom g = {CHART_W - 40 - 200, height - 60, 16, 14, 0};
    char (*counts)[24] = calloc(f.n_nodes, sizeof *counts);
    char **ntitles = calloc(f.n_nodes, sizeof *ntitles);
    char **ltitles = calloc(f.n_links ? f.n_links : 1, sizeof *ltitles);
    if (!counts || !ntitles || !ltitles)
        abort();
    const char *unit = jtm_i18n(r->lang, M_ROUTES_CHILDREN);
    for (size_t i = 0; i < f.n_nodes; i++) {
        f.nodes[i].label = jtm_i18n_stage(r->lang, f.stages[i]);
        f.nodes[i].count = count_text(r, f.node_children[i], counts[i]);
        char cls[32];
        snprintf(cls, sizeof cls, "s-%s", f.stages[i]);
        /* class names come from a fixed list; anything else gets the neutral class */
        static const char *const known[] = {"JGZ", "VERZUIM", "AMB", "GGZ", "VERBLIJF", "CRISIS", "JB", "JR", "OVERIG"};
        f.nodes[i].cls = "s-OVERIG";
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (strcmp(f.stages[i], known[k]) == 0)
                f.nodes[i].cls = (const char *[]){"s-JGZ", "s-VERZUIM", "s-AMB", "s-GGZ", "s-VERBLIJF", "s-CRISIS",
                                                  "s-JB", "s-JR", "s-OVERIG"}[k];
        if (asprintf(&ntitles[i], "%s (%s %d): %s %s", f.nodes[i].label, jtm_i18n(r->lang, M_ROUTES_STEP),
                     f.nodes[i].column + 1, counts[i], unit) < 0)
            abort();
    }
    for (size_t l = 0; l < f.n_links; l++) {
        char c[24];
        if (asprintf(&ltitles[l], "%s \xE2\x86\x92 %s: %s %s", f.nodes[f.links[l].src].label,
                     f.nodes[f.links[l].dst].label, count_text(r, f.link_children[l], c), unit) < 0)
            abort();
        f.links[l].title = ltitles[l];
    }
    int rc = svg_sankey_layout(f.nodes, f.n_nodes, f.links, f.n_links, &g);
    if (rc == 0) {
        char total[24], desc[256];
        snprintf(desc, sizeof desc, "%s %s", count_text(r, f.total, total), unit);
        svg_open(b, "chart-routes", CHART_W, height, title, desc);
        for (int c = 0; c < columns; c++) {
            char h[48];
            snprintf(h, sizeof h, "%s %d", jtm_i18n(r->lang, M_ROUTES_STEP), c + 1);
            double x = 20 + (columns > 1 ? c * (g.width - g.node_w) / (columns - 1) : 0);
            svg_text(b, x, 20, "colhead", NULL, h);
        }
        svg_group_open(b, "sankey", 20, 40);
        svg_sankey_draw(b, f.nodes, f.n_nodes, f.links, f.n_links, &g, (const char *const *)ntitles);
        svg_group_close(b);
        svg_close(b);
    } else {
        snprintf(errstr, errlen, "route graph layout failed");
    }
    for (size_t i = 0; i < f.n_nodes; i++)
        free(ntitles[i]);
    for (size_t l = 0; l < f.n_links; l++)
        free(ltitles[l]);
    free(ntitles);
    free(ltitles);
    free(counts);
    jtm_flow_free(&f);
    return rc;
}

/* ---- small multiples ---- */

#define PANELS_PER_ROW 3
#define PANEL_W (CHART_W / PANELS_PER_ROW)
#define PANEL_H 210.0
#define PAD_L 46.0
#define PAD_R 14.0
#define PAD_T 28.0
#define PAD_B 34.0

/* A legend label after its symbol (symbol_w wide) at *x; moves *x past it. The width is estimated
 * (about 6.5 px a character at 11 px), enough to keep items apart. */
static void legend_label(sbuf *b, double *x, double symbol_w, const char *text)
{
    svg_text(b, *x + symbol_w, 12, "lg", NULL, text);
    *x += symbol_w + 6.5 * (double)strlen(text) + 18;
}

static long day_of(const char *ymd)
{
    jtm_date d;
    if (jtm_date_parse(ymd, strlen(ymd), &d) != 0)
        return LONG_MIN;
    return jtm_date_to_days(d);
}

int jtm_chart_waiting(sbuf *b, const jtm_report *r, char *errstr, size_t errlen)
{
    const char *title = jtm_i18n(r->lang, M_WAITING);
    int t = jtm_report_threshold(r);
    long lo = LONG_MAX, hi = LONG_MIN;
    for (size_t s = 0; s < r->n_waiting; s++)
        for (size_t i = 0; i < r->waiting[s].n; i++) {
            long d = day_of(r->waiting[s].weeks[i].week_start);
            if (d == LONG_MIN) {
                snprintf(errstr, errlen, "waiting list: bad week_start");
                return -1;
            }
            if (d < lo)
                lo = d;
            if (d > hi)
                hi = d;
        }
    if (lo > hi) {
        no_data(b, r, "chart-waiting", title);
        return 0;
    }
    size_t rows = (r->n_waiting + PANELS_PER_ROW - 1) / PANELS_PER_ROW;
    double height = (double)rows * PANEL_H + 34;
    svg_open(b, "chart-waiting", CHART_W, height, title, jtm_i18n(r->lang, M_WAITING_DESC));
    /* legend */
    svg_group_open(b, "legend", 10, 8);
    double lx = 0;
    svg_line(b, lx, 8, lx + 22, 8, "wl");
    legend_label(b, &lx, 28, jtm_i18n(r->lang, M_WAITING_SERIES));
    if (r->alerts_available) {
        svg_line(b, lx, 8, lx + 14, 8, "bound");
        legend_label(b, &lx, 20, jtm_i18n(r->lang, M_WAITING_BOUND));
        svg_circle(b, lx + 4, 8, 4, "alarm", NULL);
        legend_label(b, &lx, 12, jtm_i18n(r->lang, M_WAITING_ALARM));
        svg_rect(b, lx, 2, 14, 12, "firing", NULL);
        legend_label(b, &lx, 20, jtm_i18n(r->lang, M_WAITING_FIRING));
    }
    if (t > 1) {
        svg_rect(b, lx, 2, 22, 12, "suppband", NULL);
        char lg[64];
        snprintf(lg, sizeof lg, "<%d: %s", t, jtm_i18n(r->lang, M_LEGEND_SUPPRESSED));
        legend_label(b, &lx, 28, lg);
    }
    svg_group_close(b);
    const char *unit = jtm_i18n(r->lang, M_WAITING_SERIES);
    for (size_t s = 0; s < r->n_waiting; s++) {
        const rpt_series *se = &r->waiting[s];
        double ox = (double)(s % PANELS_PER_ROW) * PANEL_W, oy = 34 + (double)(s / PANELS_PER_ROW) * PANEL_H;
        svg_group_open(b, "panel", ox, oy);
        svg_text(b, PAD_L, 16, "ptitle", NULL, jtm_i18n_category(r->lang, se->category));
        double max = t > 1 ? 2.0 * t : 5;
        for (size_t i = 0; i < se->n; i++) {
            if (se->weeks[i].waiting > max)
                max = (double)se->weeks[i].waiting;
            if (isfinite(se->weeks[i].upper) && se->weeks[i].upper > max && (t <= 1 || se->weeks[i].upper >= t))
                max = se->weeks[i].upper;
        }
        double step = svg_nice_step(max, 4, t > 1 ? t : 1);
        max = ceil(max / step) * step;
        svg_scale ys = {0, max, PANEL_H - PAD_B, PAD_T};
        svg_scale xs = {(double)lo, (double)(hi > lo ? hi : lo + 7), PAD_L, PANEL_W - PAD_R};
        /* weeks while an alarm of this series was firing */
        for (size_t i = 0; i < se->n; i++) {
            if (!se->weeks[i].firing)
                continue;
            double x0 = svg_map(xs, (double)day_of(se->weeks[i].week_start) - 3.5),
                   x1 = svg_map(xs, (double)day_of(se->weeks[i].week_start) + 3.5);
            if (x0 < PAD_L)
                x0 = PAD_L;
            if (x1 > PANEL_W - PAD_R)
                x1 = PANEL_W - PAD_R;
            svg_rect(b, x0, PAD_T, x1 - x0, PANEL_H - PAD_B - PAD_T, "firing", NULL);
        }
        if (t > 1)
            svg_rect(b, PAD_L, svg_map(ys, t), PANEL_W - PAD_R - PAD_L, svg_map(ys, 0) - svg_map(ys, t), "suppband",
                     NULL);
        svg_axis_y(b, PAD_L, ys, step, PANEL_W - PAD_R - PAD_L);
        svg_axis_x(b, PANEL_H - PAD_B, PAD_L, PANEL_W - PAD_R);
        /* date labels: first, middle and last week of the period */
        long marks[3] = {lo, lo + ((hi - lo) / 14) * 7, hi};
        for (int k = 0; k < 3; k++) {
            if (k > 0 && marks[k] == marks[k - 1])
                continue;
            char ds[11];
            jtm_date_format(jtm_date_from_days(marks[k]), ds);
            svg_text(b, svg_map(xs, (double)marks[k]), PANEL_H - PAD_B + 14, "tick",
                     k == 0 ? "start" : k == 2 ? "end" : "middle", ds);
        }
        double *x = malloc((se->n ? se->n : 1) * sizeof *x), *y = malloc((se->n ? se->n : 1) * sizeof *y),
               *u = malloc((se->n ? se->n : 1) * sizeof *u);
        if (!x || !y || !u)
            abort();
        bool any_bound = false;
        for (size_t i = 0; i < se->n; i++) {
            const rpt_week *w = &se->weeks[i];
            x[i] = svg_map(xs, (double)day_of(w->week_start));
            y[i] = jtm_supp_small(w->waiting, t) ? NAN : svg_map(ys, (double)w->waiting);
            u[i] = isfinite(w->upper) && (t <= 1 || w->upper >= t) ? svg_map(ys, w->upper) : NAN;
            any_bound |= isfinite(u[i]);
        }
        /* The alerter stores the bound of the weeks it fired and resolved: a short dash there. */
        if (any_bound)
            for (size_t i = 0; i < se->n; i++)
                if (isfinite(u[i]))
                    svg_line(b, x[i] - 7, u[i], x[i] + 7, u[i], "bound");
        svg_polyline(b, x, y, se->n, "wl");
        for (size_t i = 0; i < se->n; i++) {
            const rpt_week *w = &se->weeks[i];
            char c[24], tt[160];
            snprintf(tt, sizeof tt, "%s %s: %s %s", jtm_i18n(r->lang, M_WEEK), w->week_start,
                     count_text(r, w->waiting, c), unit);
            double py = isfinite(y[i]) ? y[i] : svg_map(ys, t);
            if (w->alarm) {
                char at[200];
                snprintf(at, sizeof at, "%s \xE2\x80\x94 %s", tt, jtm_i18n(r->lang, M_WAITING_ALARM));
                svg_circle(b, x[i], py, 4.5, "alarm", at);
            } else {
                svg_circle(b, x[i], py, 2.2, isfinite(y[i]) ? "pt" : "pt hidden", tt);
            }
        }
        free(x);
        free(y);
        free(u);
        svg_group_close(b);
    }
    svg_close(b);
    return 0;
}

/* ---- decision and start days ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

int jtm_chart_days(sbuf *b, const jtm_report *r, int which, char *errstr, size_t errlen)
{
    const rpt_days *d = which ? r->start : r->decision;
    size_t n = which ? r->n_start : r->n_decision;
    const char *id = which ? "chart-start-days" : "chart-decision-days";
    const char *title = jtm_i18n(r->lang, which ? M_START_DAYS : M_DECISION_DAYS);
    int t = jtm_report_threshold(r);
    /* Distinct categories and quarters, sorted. */
    const char **cats = malloc((n ? n : 1) * sizeof *cats), **qs = malloc((n ? n : 1) * sizeof *qs);
    if (!cats || !qs)
        abort();
    size_t nc = 0, nq = 0;
    double max = which ? 80 : 66; /* room above the norm lines */
    for (size_t i = 0; i < n; i++) {
        if (t > 1 && d[i].n < t)
            continue; /* too few to show a median */
        bool seen = false;
        for (size_t k = 0; k < nc && !seen; k++)
            seen = strcmp(cats[k], d[i].category) == 0;
        if (!seen)
            cats[nc++] = d[i].category;
        seen = false;
        for (size_t k = 0; k < nq && !seen; k++)
            seen = strcmp(qs[k], d[i].quarter) == 0;
        if (!seen)
            qs[nq++] = d[i].quarter;
        if (d[i].q3 > max)
            max = d[i].q3;
    }
    if (nc == 0) {
        free(cats);
        free(qs);
        no_data(b, r, id, title);
        return 0;
    }
    qsort(cats, nc, sizeof *cats, cmp_str);
    qsort(qs, nq, sizeof *qs, cmp_str);
    size_t rows = (nc + PANELS_PER_ROW - 1) / PANELS_PER_ROW;
    svg_open(b, id, CHART_W, (double)rows * PANEL_H + 30, title, jtm_i18n(r->lang, M_DAYS_DESC));
    svg_group_open(b, "legend", 10, 8);
    svg_rect(b, 0, 2, 10, 12, "iqr", NULL);
    svg_text(b, 16, 12, "lg", NULL, jtm_i18n(r->lang, M_IQR));
    svg_circle(b, 110, 8, 3, "median", NULL);
    svg_text(b, 118, 12, "lg", NULL, jtm_i18n(r->lang, M_MEDIAN));
    svg_line(b, 200, 8, 222, 8, "norm");
    svg_text(b, 228, 12, "lg", NULL, which ? "Treeknorm" : jtm_i18n(r->lang, M_NORM_DECISION));
    svg_group_close(b);
    double step = svg_nice_step(max, 4, 7);
    max = ceil(max / step) * step;
    const char *unit = jtm_i18n(r->lang, M_EPISODES), *days = jtm_i18n(r->lang, M_DAYS_UNIT);
    for (size_t c = 0; c < nc; c++) {
        double ox = (double)(c % PANELS_PER_ROW) * PANEL_W, oy = 30 + (double)(c / PANELS_PER_ROW) * PANEL_H;
        svg_group_open(b, "panel", ox, oy);
        svg_text(b, PAD_L, 16, "ptitle", NULL, jtm_i18n_category(r->lang, cats[c]));
        svg_scale ys = {0, max, PANEL_H - PAD_B, PAD_T};
        svg_axis_y(b, PAD_L, ys, step, PANEL_W - PAD_R - PAD_L);
        svg_axis_x(b, PANEL_H - PAD_B, PAD_L, PANEL_W - PAD_R);
        double slot = (PANEL_W - PAD_R - PAD_L) / (double)nq;
        /* norms: 8 weeks to decide; Treeknorm 4 weeks to intake, 10 weeks intake to treatment */
        static const struct {
            double days;
            jtm_msg label;
        } norms[2][2] = {{{56, M_NORM_DECISION}, {0, M_NO_DATA}}, {{28, M_NORM_TREEK_INTAKE}, {70, M_NORM_TREEK_TREAT}}};
        for (int k = 0; k < 2; k++) {
            if (norms[which][k].days <= 0)
                continue;
            double y = svg_map(ys, norms[which][k].days);
            svg_line(b, PAD_L, y, PANEL_W - PAD_R, y, "norm");
            svg_text(b, PANEL_W - PAD_R - 2, y - 3, "normlabel", "end", jtm_i18n(r->lang, norms[which][k].label));
        }
        for (size_t q = 0; q < nq; q++) {
            double x = PAD_L + slot * ((double)q + 0.5);
            if (nq <= 8 || q % ((nq + 7) / 8) == 0)
                svg_text(b, x, PANEL_H - PAD_B + 14, "tick", "middle", qs[q]);
            for (size_t i = 0; i < n; i++) {
                if (strcmp(d[i].category, cats[c]) != 0 || strcmp(d[i].quarter, qs[q]) != 0)
                    continue;
                if (t > 1 && d[i].n < t)
                    continue;
                char tt[256];
                snprintf(tt, sizeof tt, "%s %s: %s %.0f, %s %.0f\xE2\x80\x93%.0f %s (%ld %s)",
                         jtm_i18n_category(r->lang, cats[c]), qs[q], jtm_i18n(r->lang, M_MEDIAN), d[i].median,
                         jtm_i18n(r->lang, M_IQR), d[i].q1, d[i].q3, days, d[i].n, unit);
                double w = slot * 0.5 > 18 ? 18 : slot * 0.5;
                svg_iqr(b, x, w, ys, d[i].q1, d[i].median, d[i].q3, "box", tt);
            }
        }
        svg_group_close(b);
    }
    svg_close(b);
    free(cats);
    free(qs);
    return 0;
}
