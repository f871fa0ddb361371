/* Quasi-identifiers in pseudonymised events (issue 16; docs/access.md, Privacy scan). scan.h looks
 * for direct identifiers in any text; this module reads pseudonymised events (pseudo topic dumps,
 * staging.event) as events and looks for what re-identifies in combination:
 *   age_steps   a pid whose events narrow its birth date below its month: an age_months that is
 *               not the calendar months from birth_ym to the month of occurred_on steps on the
 *               birth day. Per pid, an event whose age is one below the calendar months says
 *               "born after this day of the month", and (once any event of the scan shows ages
 *               stepping inside months) one whose age equals them says "born on or before this
 *               day"; a pid whose bounds leave fewer days than its birth month is a finding
 *               (hint: the days left, and the pid's first 8 hex);
 *   code_field  a string in a field that should hold a code (every string field of the event but
 *               its dates and 32-hex hashes) that looks like a BSN (9 digits passing the 11-test),
 *               a postcode (4 digits, optional space, 2 letters), a date (YYYY-MM-DD, DD-MM-YYYY)
 *               or a name (white space, or a capital followed by two or more small letters)
 *               (hint: the field and what it looks like, never the value).
 * Findings are printed on the scan's report stream in its format. Memory: 28 bytes per event. */
#ifndef JTM_PRIVACY_QUASI_H
#define JTM_PRIVACY_QUASI_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

typedef struct jtm_quasi jtm_quasi;

jtm_quasi *jtm_quasi_new(FILE *report, long max_reported);
void jtm_quasi_free(jtm_quasi *q);

/* One text that may hold a pseudonymised event: a JSON object from its first '{' to the end (a
 * topic dump line "key=... value={...}", a staging.event payload). Anything else is skipped. */
void jtm_quasi_event(jtm_quasi *q, const char *source, long line, const char *text, size_t len);
/* jtm_quasi_event with q as a void pointer: the line hook of jtm_scan_file_each (scan.h), so that
 * a file is read once for both scans. */
void jtm_quasi_line(void *q, const char *source, long line, const char *text, size_t len);
/* Every payload of staging.event (when the table exists), in the caller's transaction. Returns 0,
 * or -1 with errstr. */
int jtm_quasi_database(jtm_quasi *q, PGconn *conn, char *errstr, size_t errlen);

/* Evaluates the ages per pid (once; later calls do nothing) and prints the age_steps findings. */
void jtm_quasi_finish(jtm_quasi *q);

long jtm_quasi_events(const jtm_quasi *q);      /* pseudonymised events read */
long jtm_quasi_age_steps(const jtm_quasi *q);   /* pids narrowed below the month (after finish) */
long jtm_quasi_code_fields(const jtm_quasi *q); /* code fields that look like an identifier */

#endif
