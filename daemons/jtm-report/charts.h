/* The report's charts, each one <svg> with a fixed id the tests look for:
 *   chart-routes         client routes as a Sankey diagram (flow.c)
 *   chart-waiting        waiting list per week, one panel per category, bounds and alarms
 *   chart-decision-days  median and quartiles of decision days per category and quarter
 *   chart-start-days     the same for start days
 * Counts go through the report's suppression when it is public: in labels inside
 * <tspan class="n">, in tooltips always followed by their unit word (kinderen/children,
 * wachtend/waiting, trajecten/episodes). */
#ifndef JTM_REPORT_CHARTS_H
#define JTM_REPORT_CHARTS_H

#include "report.h"
#include "xml.h"

/* Each returns 0, or -1 with errstr (bad data that cannot be drawn). With no data a chart is an
 * <svg> of the same id holding a "no data" line, so the page layout and the ids never change. */
int jtm_chart_routes(sbuf *b, const jtm_report *r, char *errstr, size_t errlen);
int jtm_chart_waiting(sbuf *b, const jtm_report *r, char *errstr, size_t errlen);
/* which: 0 decision days, 1 start days. */
int jtm_chart_days(sbuf *b, const jtm_report *r, int which, char *errstr, size_t errlen);

/* The effective suppression threshold of r: r->threshold when public, else 0 (nothing hidden). */
int jtm_report_threshold(const jtm_report *r);

#endif
