/* The disclosure audit of published tables (docs/access.md, Disclosure audit): what a reader of
 * every research view can derive about each withheld count. Every view is a set of two-way tables
 * (one per layer) with row totals, column totals and a grand total under "TOTAL"; each row and
 * each column of a layer is a line: its inner entries add up to its total. A withheld entry is
 * never 0 (zeros are published); one published as 'primary' is under min_cell. Interval
 * propagation (intervals.h) over all of that gives each withheld entry a feasible interval; one
 * narrower than the threshold (ub - lb < min_width) is exposed. */
#ifndef JTM_DISCLOSURE_AUDIT_H
#define JTM_DISCLOSURE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct jtm_pub_entry {
    char *view, *layer, *r, *c;
    long long n;     /* the published count; unused when suppressed */
    bool suppressed; /* withheld */
    bool primary;    /* the published reason says "primary": 1 <= n < min_cell */
} jtm_pub_entry;

typedef struct jtm_pub {
    jtm_pub_entry *e;
    size_t n, cap;
} jtm_pub;

/* Adds one published entry: count NULL or "" when withheld; reason as published (may be NULL).
 * Returns 0, or -1 (bad count, out of memory) with errstr filled. */
int jtm_pub_add(jtm_pub *p, const char *view, const char *layer, const char *r, const char *c, const char *count,
                const char *reason, char *errstr, size_t errlen);
/* Reads CSV lines view,layer,row,col,count,reason (a header line starting with "view" is skipped;
 * no quoting: keys hold no commas). Returns 0, or -1 with errstr naming the line. */
int jtm_pub_load_csv(jtm_pub *p, FILE *f, char *errstr, size_t errlen);
void jtm_pub_free(jtm_pub *p);

typedef struct jtm_audit_opts {
    int min_cell;   /* the threshold of primary suppression: a 'primary' entry is <= min_cell - 1 */
    int min_width;  /* an interval with ub - lb < min_width is exposed */
    bool cross_view; /* also assume: children starting care in a year and municipality are no more
                        than the care episodes started (children_in_care_year <= waiting_time_year) */
} jtm_audit_opts;

typedef struct jtm_audit_finding {
    size_t entry; /* index into jtm_pub.e */
    long long lb, ub;
} jtm_audit_finding;

typedef struct jtm_audit_result {
    size_t suppressed, exposed, relations;
    int rounds;
    jtm_audit_finding *findings; /* the exposed entries, narrowest first */
    long long *lb, *ub;          /* every entry's bounds */
} jtm_audit_result;

/* Runs the audit. Returns 0 (res filled; res->exposed may be > 0), or -1 with errstr filled when
 * the published numbers contradict themselves or memory ran out. */
int jtm_audit_run(const jtm_pub *p, const jtm_audit_opts *o, jtm_audit_result *res, char *errstr, size_t errlen);
void jtm_audit_result_free(jtm_audit_result *res);

#endif
