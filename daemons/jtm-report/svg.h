/* SVG chart primitives written as text: an <svg> element with an id, axes, lines, bars, markers,
 * median + quartile bars and a Sankey (flow) layout with nodes and ribbons. All text passes through
 * sb_put_xml, so labels from the database cannot break the markup. Coordinates are printed with
 * one decimal. Styling is by class; the page's inline CSS (html.c) gives the classes their look. */
#ifndef JTM_REPORT_SVG_H
#define JTM_REPORT_SVG_H

#include <stddef.h>

#include "xml.h"

/* <svg id=... viewBox="0 0 w h" role="img"> with a <title> (and <desc> when desc is not NULL). */
void svg_open(sbuf *b, const char *id, double w, double h, const char *title, const char *desc);
void svg_close(sbuf *b);
/* <g> with an optional class and translation; svg_group_close ends it. */
void svg_group_open(sbuf *b, const char *cls, double dx, double dy);
void svg_group_close(sbuf *b);

/* anchor: "start", "middle" or "end" (NULL: start). */
void svg_text(sbuf *b, double x, double y, const char *cls, const char *anchor, const char *text);
void svg_line(sbuf *b, double x1, double y1, double x2, double y2, const char *cls);
/* A rectangle; title (may be NULL) becomes its tooltip. */
void svg_rect(sbuf *b, double x, double y, double w, double h, const char *cls, const char *title);
void svg_circle(sbuf *b, double cx, double cy, double r, const char *cls, const char *title);
/* A polyline through (xs[i], ys[i]); a NaN y breaks the line (one <path> with several M). Draws
 * nothing when no point is finite. */
void svg_polyline(sbuf *b, const double *xs, const double *ys, size_t n, const char *cls);

/* A step for axis ticks: 1, 2 or 5 times a power of ten, at least min_step, giving about
 * target ticks from 0 to max. */
double svg_nice_step(double max, int target, double min_step);
/* A linear map from [d0, d1] to [r0, r1]. */
typedef struct svg_scale {
    double d0, d1, r0, r1;
} svg_scale;
double svg_map(svg_scale s, double v);
/* A vertical axis at x for s (r0 bottom, r1 top) with ticks every step from d0 to d1, labels to the
 * left, light grid lines to x + grid_w (0: none). */
void svg_axis_y(sbuf *b, double x, svg_scale s, double step, double grid_w);
/* A horizontal axis line at y from x0 to x1. */
void svg_axis_x(sbuf *b, double y, double x0, double x1);

/* Median and quartiles of one group at x (centre), width w: a bar from q1 to q3 and a dot at the
 * median, on the vertical scale s. */
void svg_iqr(sbuf *b, double x, double w, svg_scale s, double q1, double median, double q3, const char *cls,
             const char *title);

/* Sankey layout. Nodes sit in columns (0 = left); a node's value is the larger of its inflow and
 * outflow (at least what the caller set). Every ribbon keeps its width value * scale along its
 * length; ribbons leave a node stacked from its top in the order of their targets and arrive
 * stacked in the order of their sources, so a node's ribbons never overlap or overflow it. */
typedef struct svg_flow_node {
    const char *label; /* drawn next to the node */
    const char *count; /* drawn after the label in a <tspan class="n"> (NULL: none) */
    const char *cls;   /* class of the node and of ribbons leaving it (NULL: "flow") */
    int column;
    double value;
    /* layout, filled by svg_sankey_layout */
    double x, y, h;
} svg_flow_node;

typedef struct svg_flow_link {
    int src, dst;   /* node indices; dst must be in a later column */
    double value;
    const char *title; /* tooltip (NULL: none) */
    /* layout */
    double sy, ty, w;
} svg_flow_link;

typedef struct svg_flow_geom {
    double width, height; /* drawing area */
    double node_w;        /* node bar width */
    double pad;           /* vertical gap between nodes of one column */
    double scale;         /* out: pixels per unit of value */
} svg_flow_geom;

/* Computes node values, positions and ribbon offsets. Returns 0, or -1 when a link points to a
 * missing node or does not go rightwards. */
int svg_sankey_layout(svg_flow_node *nodes, size_t nn, svg_flow_link *links, size_t nl, svg_flow_geom *g);
/* Draws ribbons, then nodes, then labels (right of each node: leave room after the last column);
 * node_titles[i] (may be NULL) is node i's tooltip. */
void svg_sankey_draw(sbuf *b, const svg_flow_node *nodes, size_t nn, const svg_flow_link *links, size_t nl,
                     const svg_flow_geom *g, const char *const *node_titles);

#endif
