/* The report page: one self-contained HTML file (inline CSS, inline SVG, no script, no fonts, no
 * links to anything outside the file; a Content-Security-Policy forbids loading anything), written
 * as polyglot XHTML so a strict XML parser accepts the whole page. Ids the tests look for: the
 * chart ids of charts.h, table-indicators and table-population. */
#ifndef JTM_REPORT_HTML_H
#define JTM_REPORT_HTML_H

#include <stdio.h>

#include "report.h"
#include "xml.h"

/* Renders r into b. Returns 0, or -1 with errstr. */
int jtm_report_render(const jtm_report *r, sbuf *b, char *errstr, size_t errlen);
/* Renders r and writes it to path atomically (a temporary file renamed over path). Returns 0, or
 * -1 with errstr. */
int jtm_report_write(const jtm_report *r, const char *path, char *errstr, size_t errlen);

#endif
