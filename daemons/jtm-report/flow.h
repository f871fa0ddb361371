/* Client routes (wh.route.path) as a flow graph for the Sankey chart: column k holds the k-th
 * stage of the children's paths, a link from (k, A) to (k+1, B) carries the children whose path
 * has A then B there. Built through the tree of path prefixes, so that suppression (--public) can
 * hide small routes without breaking conservation: a prefix is shown only when its parent is, and
 * per prefix jtm_supp_line hides children prefixes until the hidden rest (children who stopped
 * there or went on in hidden routes) is 0 or at least the threshold. Every link and node value
 * shown is then a sum of prefix counts of at least the threshold, and a node's outflow never
 * exceeds its inflow. */
#ifndef JTM_REPORT_FLOW_H
#define JTM_REPORT_FLOW_H

#include <stddef.h>

#include "report.h"
#include "svg.h"

#define JTM_FLOW_MAX_COLUMNS 6 /* stages beyond the sixth are cut off (the child ends in column 6) */

typedef struct jtm_flow {
    svg_flow_node *nodes;
    size_t n_nodes;
    svg_flow_link *links;
    size_t n_links;
    char (*stages)[16]; /* stage of each node */
    long *node_children;  /* children through each node */
    long *link_children;  /* children along each link */
    long total;           /* children with a non-empty path */
    long shown;           /* of which in column 0 of the chart */
} jtm_flow;

/* Builds the graph; threshold <= 1 hides nothing. Nodes are ordered by column, then by the stage
 * order JGZ, VERZUIM, AMB, GGZ, VERBLIJF, CRISIS, JB, JR, OVERIG, then other stages by name.
 * Labels, classes and titles of nodes and links are left NULL for the caller. Returns 0 or -1
 * (a path with an empty stage or a stage longer than 15 bytes). */
int jtm_flow_build(const rpt_route *routes, size_t n, int threshold, jtm_flow *out);
void jtm_flow_free(jtm_flow *f);

#endif
