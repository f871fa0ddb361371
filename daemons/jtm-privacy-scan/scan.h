/* The privacy scan (docs/access.md, Privacy scan): looks through text for what must never get past
 * the edge:
 *   bsn        9 digits passing the 11-test, not inside a longer run of hex digits
 *              (placeholders 999999999 and 000000000 are not citizen numbers);
 *   postcode   4 digits (first not 0), an optional space, 2 capital letters, as a token of its own;
 *   birthdate  a full birth date of the raw input (YYYY-MM-DD) - except dates the raw input also
 *              uses as an event date, and dates on the 1st of a month (the warehouse stores a
 *              coarsened month as its first day), which cannot be told apart (counted, see
 *              jtm_scan_ambiguous_dates);
 *   name       a name of the raw input: the full name, or a capitalised part of it of 3 or more
 *              characters (particles such as "de", "van" are skipped), as a whole word.
 * Findings are reported with a redacted hint only (never the value): the shape for a BSN or a
 * postcode, the year of a date, the initial and length of a name. */
#ifndef JTM_PRIVACY_SCAN_H
#define JTM_PRIVACY_SCAN_H

#include <stddef.h>
#include <stdio.h>

typedef struct jtm_scan jtm_scan;

typedef enum { JTM_FIND_BSN = 0, JTM_FIND_POSTCODE, JTM_FIND_BIRTHDATE, JTM_FIND_NAME, JTM_FIND_KINDS } jtm_find_kind;

jtm_scan *jtm_scan_new(FILE *report, long max_reported);
void jtm_scan_free(jtm_scan *s);

/* Learns names and birth dates from a raw NDJSON file (client.name, client.birth_date; every other
 * date in it is an event date). Returns 0, or -1 with errstr (unreadable file). Lines that are not
 * JSON are skipped and counted. */
int jtm_scan_learn_raw(jtm_scan *s, const char *path, char *errstr, size_t errlen);

/* Scans len bytes of text (any number of lines) from source; line is the number of the first
 * line (for the report). */
void jtm_scan_text(jtm_scan *s, const char *source, long line, const char *text, size_t len);
/* Scans a file line by line. Returns 0 or -1 with errstr. */
int jtm_scan_file(jtm_scan *s, const char *path, char *errstr, size_t errlen);
/* The same, and hands each line to each(arg, ...) too (NULL: none), so that another check reads
 * the file in the same pass. */
typedef void (*jtm_scan_line_fn)(void *arg, const char *source, long line, const char *text, size_t len);
int jtm_scan_file_each(jtm_scan *s, const char *path, jtm_scan_line_fn each, void *arg, char *errstr, size_t errlen);

long jtm_scan_findings(const jtm_scan *s);
long jtm_scan_findings_of(const jtm_scan *s, jtm_find_kind kind);
long jtm_scan_names(const jtm_scan *s);
long jtm_scan_birthdates(const jtm_scan *s);
long jtm_scan_ambiguous_dates(const jtm_scan *s);
/* Bytes scanned so far. */
long long jtm_scan_bytes(const jtm_scan *s);
const char *jtm_find_kind_name(jtm_find_kind k);

#endif
