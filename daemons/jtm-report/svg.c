#include "svg.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void svg_open(sbuf *b, const char *id, double w, double h, const char *title, const char *desc)
{
    sb_puts(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"");
    sb_put_xml(b, id);
    sb_printf(b, "\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\" aria-labelledby=\"", w, h,
              w, h);
    sb_put_xml(b, id);
    sb_puts(b, "-title\"><title id=\"");
    sb_put_xml(b, id);
    sb_puts(b, "-title\">");
    sb_put_xml(b, title);
    sb_puts(b, "</title>\n");
    if (desc) {
        sb_puts(b, "<desc>");
        sb_put_xml(b, desc);
        sb_puts(b, "</desc>\n");
    }
}

void svg_close(sbuf *b) { sb_puts(b, "</svg>\n"); }

void svg_group_open(sbuf *b, const char *cls, double dx, double dy)
{
    sb_puts(b, "<g");
    if (cls) {
        sb_puts(b, " class=\"");
        sb_put_xml(b, cls);
        sb_puts(b, "\"");
    }
    if (dx != 0 || dy != 0)
        sb_printf(b, " transform=\"translate(%.1f %.1f)\"", dx, dy);
    sb_puts(b, ">\n");
}

void svg_group_close(sbuf *b) { sb_puts(b, "</g>\n"); }

static void put_class(sbuf *b, const char *cls)
{
    if (cls && *cls) {
        sb_puts(b, " class=\"");
        sb_put_xml(b, cls);
        sb_puts(b, "\"");
    }
}

static void put_title(sbuf *b, const char *title)
{
    if (title) {
        sb_puts(b, "<title>");
        sb_put_xml(b, title);
        sb_puts(b, "</title>");
    }
}

void svg_text(sbuf *b, double x, double y, const char *cls, const char *anchor, const char *text)
{
    sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\"", x, y);
    put_class(b, cls);
    if (anchor && strcmp(anchor, "start") != 0) {
        sb_puts(b, " text-anchor=\"");
        sb_put_xml(b, anchor);
        sb_puts(b, "\"");
    }
    sb_puts(b, ">");
    sb_put_xml(b, text);
    sb_puts(b, "</text>\n");
}

void svg_line(sbuf *b, double x1, double y1, double x2, double y2, const char *cls)
{
    sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"", x1, y1, x2, y2);
    put_class(b, cls);
    sb_puts(b, "/>\n");
}

void svg_rect(sbuf *b, double x, double y, double w, double h, const char *cls, const char *title)
{
    if (w < 0) {
        x += w;
        w = -w;
    }
    if (h < 0) {
        y += h;
        h = -h;
    }
    sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"", x, y, w, h);
    put_class(b, cls);
    if (title) {
        sb_puts(b, ">");
        put_title(b, title);
        sb_puts(b, "</rect>\n");
    } else {
        sb_puts(b, "/>\n");
    }
}

void svg_circle(sbuf *b, double cx, double cy, double r, const char *cls, const char *title)
{
    sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"", cx, cy, r);
    put_class(b, cls);
    if (title) {
        sb_puts(b, ">");
        put_title(b, title);
        sb_puts(b, "</circle>\n");
    } else {
        sb_puts(b, "/>\n");
    }
}

void svg_polyline(sbuf *b, const double *xs, const double *ys, size_t n, const char *cls)
{
    bool any = false, pen = false;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(ys[i]) || !isfinite(xs[i])) {
            pen = false;
            continue;
        }
        if (!any) {
            sb_puts(b, "<path d=\"");
            any = true;
        }
        sb_printf(b, "%s%.1f %.1f ", pen ? "L" : "M", xs[i], ys[i]);
        pen = true;
    }
    if (!any)
        return;
    b->len--; /* the trailing space */
    b->s[b->len] = '\0';
    sb_puts(b, "\"");
    put_class(b, cls);
    sb_puts(b, "/>\n");
}

double svg_nice_step(double max, int target, double min_step)
{
    if (target < 1)
        target = 1;
    double raw = max > 0 ? max / target : 1;
    if (raw < min_step)
        raw = min_step;
    double p = pow(10, floor(log10(raw)));
    double step = p;
    if (raw > 5 * p)
        step = 10 * p;
    else if (raw > 2 * p)
        step = 5 * p;
    else if (raw > p)
        step = 2 * p;
    if (step < min_step)
        step = min_step;
    if (step < 1)
        step = 1; /* counts and days: whole numbers only */
    return step;
}

double svg_map(svg_scale s, double v)
{
    if (s.d1 == s.d0)
        return s.r0;
    return s.r0 + (v - s.d0) * (s.r1 - s.r0) / (s.d1 - s.d0);
}

void svg_axis_y(sbuf *b, double x, svg_scale s, double step, double grid_w)
{
    svg_line(b, x, s.r0, x, s.r1, "axis");
    if (step <= 0)
        return;
    for (double v = s.d0; v <= s.d1 + step * 1e-9; v += step) {
        double y = svg_map(s, v);
        if (grid_w > 0 && v > s.d0)
            svg_line(b, x, y, x + grid_w, y, "grid");
        svg_line(b, x - 3, y, x, y, "axis");
        char t[32];
        snprintf(t, sizeof t, "%.0f", v);
        svg_text(b, x - 5, y + 3.5, "tick", "end", t);
    }
}

void svg_axis_x(sbuf *b, double y, double x0, double x1) { svg_line(b, x0, y, x1, y, "axis"); }

void svg_iqr(sbuf *b, double x, double w, svg_scale s, double q1, double median, double q3, const char *cls,
             const char *title)
{
    sb_puts(b, "<g");
    put_class(b, cls);
    sb_puts(b, ">");
    put_title(b, title);
    sb_puts(b, "\n");
    double y1 = svg_map(s, q3), y0 = svg_map(s, q1);
    svg_rect(b, x - w / 2, y1, w, y0 - y1 < 1 ? 1 : y0 - y1, "iqr", NULL);
    svg_circle(b, x, svg_map(s, median), w / 2 < 2.5 ? w / 2 : 2.5, "median", NULL);
    sb_puts(b, "</g>\n");
}

/* ---- Sankey ---- */

typedef struct link_ref {
    const svg_flow_link *l;
    const svg_flow_node *other; /* the node at the far end */
    size_t idx;
} link_ref;

static int cmp_other_y(const void *a, const void *b)
{
    const link_ref *x = a, *y = b;
    if (x->other->y != y->other->y)
        return x->other->y < y->other->y ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int svg_sankey_layout(svg_flow_node *nodes, size_t nn, svg_flow_link *links, size_t nl, svg_flow_geom *g)
{
    int columns = 0;
    for (size_t i = 0; i < nl; i++) {
        if (links[i].src < 0 || links[i].dst < 0 || (size_t)links[i].src >= nn || (size_t)links[i].dst >= nn)
            return -1;
        if (nodes[links[i].dst].column <= nodes[links[i].src].column)
            return -1;
    }
    double *in = calloc(nn ? nn : 1, sizeof *in), *out = calloc(nn ? nn : 1, sizeof *out);
    if (!in || !out)
        abort();
    for (size_t i = 0; i < nl; i++) {
        out[links[i].src] += links[i].value;
        in[links[i].dst] += links[i].value;
    }
    for (size_t i = 0; i < nn; i++) {
        if (in[i] > nodes[i].value)
            nodes[i].value = in[i];
        if (out[i] > nodes[i].value)
            nodes[i].value = out[i];
        if (nodes[i].column + 1 > columns)
            columns = nodes[i].column + 1;
    }
    /* The scale is set by the fullest column so every column fits the height. */
    double scale = 0;
    for (int c = 0; c < columns; c++) {
        double sum = 0;
        int count = 0;
        for (size_t i = 0; i < nn; i++)
            if (nodes[i].column == c) {
                sum += nodes[i].value;
                count++;
            }
        if (sum <= 0)
            continue;
        double k = (g->height - g->pad * (count - 1)) / sum;
        if (scale == 0 || k < scale)
            scale = k;
    }
    if (scale < 0)
        scale = 0;
    g->scale = scale;
    double span = columns > 1 ? (g->width - g->node_w) / (columns - 1) : 0;
    for (int c = 0; c < columns; c++) {
        double y = 0;
        for (size_t i = 0; i < nn; i++) /* caller's order within a column is kept */
            if (nodes[i].column == c) {
                nodes[i].x = c * span;
                nodes[i].y = y;
                nodes[i].h = nodes[i].value * scale;
                y += nodes[i].h + g->pad;
            }
    }
    /* Ribbon ends: stacked from each node's top, ordered by the position of the other end. */
    link_ref *refs = malloc((nl ? nl : 1) * sizeof *refs);
    if (!refs)
        abort();
    for (size_t n = 0; n < nn; n++) {
        size_t k = 0;
        for (size_t i = 0; i < nl; i++)
            if ((size_t)links[i].src == n)
                refs[k++] = (link_ref){&links[i], &nodes[links[i].dst], i};
        qsort(refs, k, sizeof *refs, cmp_other_y);
        double y = nodes[n].y;
        for (size_t j = 0; j < k; j++) {
            svg_flow_link *l = &links[refs[j].idx];
            l->w = l->value * scale;
            l->sy = y;
            y += l->w;
        }
        k = 0;
        for (size_t i = 0; i < nl; i++)
            if ((size_t)links[i].dst == n)
                refs[k++] = (link_ref){&links[i], &nodes[links[i].src], i};
        qsort(refs, k, sizeof *refs, cmp_other_y);
        y = nodes[n].y;
        for (size_t j = 0; j < k; j++) {
            svg_flow_link *l = &links[refs[j].idx];
            l->ty = y;
            y += l->value * scale;
        }
    }
    free(refs);
    free(in);
    free(out);
    return 0;
}

void svg_sankey_draw(sbuf *b, const svg_flow_node *nodes, size_t nn, const svg_flow_link *links, size_t nl,
                     const svg_flow_geom *g, const char *const *node_titles)
{
    int last = 0;
    for (size_t i = 0; i < nn; i++)
        if (nodes[i].column > last)
            last = nodes[i].column;
    for (size_t i = 0; i < nl; i++) {
        const svg_flow_link *l = &links[i];
        const svg_flow_node *s = &nodes[l->src], *t = &nodes[l->dst];
        double x0 = s->x + g->node_w, x1 = t->x, xm = (x0 + x1) / 2;
        sb_printf(b,
                  "<path d=\"M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f L%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f Z\"",
                  x0, l->sy, xm, l->sy, xm, l->ty, x1, l->ty, x1, l->ty + l->w, xm, l->ty + l->w, xm, l->sy + l->w,
                  x0, l->sy + l->w);
        sb_puts(b, " class=\"ribbon ");
        sb_put_xml(b, s->cls ? s->cls : "flow");
        sb_puts(b, "\">");
        put_title(b, l->title);
        sb_puts(b, "</path>\n");
    }
    for (size_t i = 0; i < nn; i++) {
        const svg_flow_node *n = &nodes[i];
        sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"node ", n->x, n->y,
                  g->node_w, n->h < 1 ? 1 : n->h);
        sb_put_xml(b, n->cls ? n->cls : "flow");
        sb_puts(b, "\">");
        put_title(b, node_titles ? node_titles[i] : NULL);
        sb_puts(b, "</rect>\n");
        (void)last;
        bool left = false; /* labels go right of the node; the caller leaves room after the last column */
        double tx = n->x + g->node_w + 4;
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"nlabel\"%s>", tx, n->y + n->h / 2 + 4,
                  left ? " text-anchor=\"end\"" : "");
        sb_put_xml(b, n->label);
        if (n->count) {
            sb_puts(b, " <tspan class=\"n\">");
            sb_put_xml(b, n->count);
            sb_puts(b, "</tspan>");
        }
        sb_puts(b, "</text>\n");
    }
}
