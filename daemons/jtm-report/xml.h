/* Text escaped for XML (the report's HTML and SVG). */
#ifndef JTM_REPORT_XML_H
#define JTM_REPORT_XML_H

#include "sbuf.h"

/* Appends text escaped for XML character data and attribute values (both quote styles): & < > " '
 * become entities; control characters other than tab, newline and carriage return, and bytes that
 * are not valid UTF-8, become U+FFFD, so any input gives well-formed XML. NULL appends nothing. */
void sb_put_xml(sbuf *b, const char *s);

#endif
