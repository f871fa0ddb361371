/* A researcher's study extract (docs/access.md, Study extracts): routes and care episodes of the
 * warehouse with
 *   - a study pseudonym instead of pid: keyed hash (common/pseudonym.h) of "study:<id>:" + pid with
 *     the study's own key, so extracts of two studies cannot be joined;
 *   - dates coarsened to the month, ages in bands, day counts in whole weeks;
 *   - rare values (fewer than rare_min children in the region) of path, category, provider,
 *     referrer and end reason merged into OTHER;
 *   - k-anonymity on the quasi-identifiers (gemeente, age band, sex, path): every child of a class
 *     with fewer than k children is left out, with all its rows;
 *   - rows sorted by study pseudonym, so the order says nothing about pid.
 * The database does the coarsening (one parameterised query); this module does the pseudonyms,
 * the k-anonymity check and the CSV. */
#ifndef JTM_EXTRACT_H
#define JTM_EXTRACT_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

#include "pseudonym.h"

typedef struct jtm_extract_params {
    const char *study_id; /* 1-32 of [A-Za-z0-9._-] */
    long long k;          /* smallest class published, >= 2 */
    long long rare_min;   /* values with fewer children are merged into OTHER */
} jtm_extract_params;

typedef struct jtm_extract_stats {
    long children, rows;                       /* read from the warehouse */
    long children_written, rows_written;       /* in the CSV */
    long children_suppressed, rows_suppressed; /* left out by the k-anonymity check */
    long classes, classes_suppressed;          /* equivalence classes of the quasi-identifiers */
    long smallest_class_written;               /* 0 when nothing was written */
} jtm_extract_stats;

/* The CSV columns, in order (header line of the output). */
extern const char *const jtm_extract_columns[];
extern const size_t jtm_extract_ncolumns;

/* Reads the warehouse through conn, writes the CSV (header + rows) to csv and fills stats.
 * Returns 0, or -1 with errstr (a query or write failure). Logs nothing. */
int jtm_extract_run(PGconn *conn, const jtm_extract_params *p, jtm_key *study_key, FILE *csv,
                    jtm_extract_stats *stats, char *errstr, size_t errlen);

/* Writes the metadata JSON (parameters, counts, date; never the key or its path) to out.
 * Returns 0 or -1. */
int jtm_extract_write_meta(FILE *out, const jtm_extract_params *p, const jtm_extract_stats *s,
                           const char *csv_name, const char *csv_sha256_hex);

/* Writes v as one CSV field (quoted when it holds a comma, quote, CR or LF). */
void jtm_extract_csv_field(FILE *out, const char *v);

#endif
