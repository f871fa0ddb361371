/* Disclosure control for reports meant for outside the region (--public), with the rule the
 * research views use: a count of children below the threshold (10 by default), other than 0, is
 * never shown ("<10"), and further cells are hidden ("x", secondary suppression) so that no total,
 * remainder or difference of shown numbers gives a hidden small count away.
 * A threshold <= 1 suppresses nothing (the internal report). */
#ifndef JTM_REPORT_SUPPRESS_H
#define JTM_REPORT_SUPPRESS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    JTM_SUPP_SHOWN = 0,
    JTM_SUPP_PRIMARY = 1,  /* below the threshold: shown as "<T" */
    JTM_SUPP_SECONDARY = 2 /* at or above it, hidden so the primary ones stay hidden: shown as "x" */
} jtm_supp;

/* True when v is a count that must not be shown: 0 < v < threshold. */
bool jtm_supp_small(long v, int threshold);

/* One total split into parts plus an unshown rest (rest = total - sum(parts), e.g. children whose
 * route ended at a stage). Marks parts below the threshold, then hides the smallest shown parts
 * until what is hidden, total - sum(shown parts), is 0 or at least the threshold. The total itself
 * is taken as shown (the caller suppresses it one level up). marks gets n entries. */
void jtm_supp_line(long total, const long *parts, size_t n, int threshold, jtm_supp *marks);

/* A table with row totals, column totals and a grand total. m holds (rows + 1) x (cols + 1)
 * values, row-major; the caller fills the rows x cols body, this fills the margins (last column:
 * row totals, last row: column totals, last cell: grand total). marks gets the same shape.
 * Every row and every column (with its total) ends up with either nothing hidden, or at least two
 * hidden entries and, when its total is shown, hidden cells summing to at least the threshold.
 * Candidates for secondary suppression are the smallest non-zero shown cells of the line, then
 * zero cells, then the total. */
void jtm_supp_table(long *m, size_t rows, size_t cols, int threshold, jtm_supp *marks);

/* A share num/den may be shown when num, den and den - num are all 0 or at least the threshold. */
bool jtm_supp_share_ok(long num, long den, int threshold);

/* Writes a count for display: the number, "<T" or "x". out needs 24 bytes. */
const char *jtm_supp_format(long v, jtm_supp mark, int threshold, char out[24]);

#endif
