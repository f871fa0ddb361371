/* A researcher's study extract (docs/access.md, Study extracts): every child of the warehouse
 * with a municipality, with
 *   - a study pseudonym instead of pid: keyed hash (common/pseudonym.h) of "study:<id>:" + pid with
 *     the study's own key, so extracts of two studies cannot be joined;
 *   - group: care (a request or episode of youth care) or comparison (known only from JGZ or
 *     absence data: the denominator);
 *   - rare values (fewer than rare_min children in the region) of path, category, provider,
 *     referrer and end reason merged into OTHER;
 *   - k-anonymity over every column: each child's whole record (all its rows) is generalised along
 *     the hierarchy of generalise.h, child by child from the finest level, and released at the
 *     first level at which at least k children still to be placed share it; children that reach
 *     none are left out (suppression last);
 *   - information loss per group (children kept, cells generalised) and the measured risk (the
 *     children of the warehouse read that share each released record) in the metadata;
 *   - rows sorted by study pseudonym, so the order says nothing about pid.
 * The database merges rare values (one parameterised query, generalise.h); this module does the
 * pseudonyms, the levels, the CSV and the metadata; codebook.h writes datapackage.json. */
#ifndef JTM_EXTRACT_H
#define JTM_EXTRACT_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

#include "generalise.h"
#include "pseudonym.h"

typedef struct jtm_extract_params {
    const char *study_id; /* 1-32 of [A-Za-z0-9._-] */
    long long k;          /* smallest set of children sharing a released record, >= 2 */
    long long rare_min;   /* values with fewer children are merged into OTHER */
} jtm_extract_params;

/* Groups reported apart: all children, care, comparison, with residential care (VERBLIJF), with
 * crisis care (CRISIS). */
enum { JTM_XG_ALL = 0, JTM_XG_CARE, JTM_XG_COMPARISON, JTM_XG_RESIDENTIAL, JTM_XG_CRISIS, JTM_XG_N };
extern const char *const jtm_extract_group_names[JTM_XG_N];

typedef struct jtm_extract_group {
    long children_read, children_kept;
    long cells, cells_generalised; /* applicable level-0 cells of the kept children, and how many show coarser */
} jtm_extract_group;

typedef struct jtm_extract_stats {
    long children, rows;                       /* read from the warehouse (rows: level-0 rows) */
    long children_written, rows_written;       /* in the CSV */
    long children_suppressed, rows_suppressed; /* left out (rows: their level-0 rows) */
    long classes, classes_suppressed;          /* released records (sets of >= k children); sets left out */
    long smallest_class_written;               /* 0 when nothing was written */
    long children_by_level[JTM_GEN_LEVELS];
    jtm_extract_group groups[JTM_XG_N];
    /* Risk, measured: for every released child, the children read whose record at its level is
     * the same (what matching all columns against the warehouse finds). */
    long smallest_match;  /* 0 when nothing was written */
    long children_unique; /* released children matching exactly one child */
    double mean_risk;     /* mean of 1 / matches over released children */
} jtm_extract_stats;

/* The CSV columns, in order (header line of the output): study_pid, then generalise.h's G_*. */
extern const char *const jtm_extract_columns[];
extern const size_t jtm_extract_ncolumns;

/* Reads the warehouse through conn, writes the CSV (header + rows) to csv and fills stats.
 * Returns 0, or -1 with errstr (a query or write failure). Logs nothing. */
int jtm_extract_run(PGconn *conn, const jtm_extract_params *p, jtm_key *study_key, FILE *csv,
                    jtm_extract_stats *stats, char *errstr, size_t errlen);

/* Writes the metadata JSON (parameters, hierarchy, counts, groups, risk, date; never the key or
 * its path) to out. Returns 0 or -1. */
int jtm_extract_write_meta(FILE *out, const jtm_extract_params *p, const jtm_extract_stats *s,
                           const char *csv_name, const char *csv_sha256_hex, const char *codebook_name);

/* Writes v as one CSV field (quoted when it holds a comma, quote, CR or LF). */
void jtm_extract_csv_field(FILE *out, const char *v);

#endif
