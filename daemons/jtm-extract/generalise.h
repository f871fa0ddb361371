/* Generalisation hierarchy of study extracts (docs/access.md, Study extracts): each child's record
 * (its rows: one per care episode, or one without episode fields) at level 0 (finest) to
 * JTM_GEN_LEVELS - 1 (coarsest). A child is released at the finest level at which at least k
 * children still to be placed share its whole record (every column), so that matching on all
 * columns finds at least k children; those that reach no such level are left out.
 *
 *   level  child fields                                  episode rows
 *   0      dates to the month, everything                one per episode, everything, weeks exact
 *   1      dates to the quarter                          dates to the quarter, weeks in bands
 *   2      dates to the year, episodes 0/1/2/3+          year; requested, allocated, category,
 *                                                        provider *; referrer, end reason grouped
 *   3      path as its class (signal, signal>care, care) care level, start year, end reason group
 *   4      path; first signal and care to the year       one row per child, episode fields *
 *   5      as 4, sex and first signal *, path class      as 4
 *   6      as 5, gemeente and first care *, ages 0-11/12+ as 4
 *   7      as 6, path, repeat and episodes *; the main    as 4
 *          care level instead of the set
 *   8      as 7, age *                                   as 4
 * (generalise.c, levels[], is the exact table.)  * "" means not applicable (no episode, no date), "*" withheld by generalisation. group and the
 * generalisation level are in every row. */
#ifndef JTM_EXTRACT_GENERALISE_H
#define JTM_EXTRACT_GENERALISE_H

#include <stddef.h>

#define JTM_GEN_LEVELS 9

/* Columns of the source query (jtm_gen_source_sql), one row per episode ordered by pid. */
enum {
    S_PID = 0, S_GROUP, S_GEMEENTE, S_SEX, S_AGE, S_PATH, S_PATH_CLASS, S_CARE_LEVELS, S_FIRST_SIGNAL,
    S_FIRST_CARE, S_REPEAT, S_EPISODES, S_CARE_LEVEL, S_CATEGORY, S_PROVIDER, S_REFERRER, S_REQUESTED,
    S_ALLOCATED, S_STARTED, S_ENDED, S_END_REASON, S_REJECTED, S_DECISION_DAYS, S_START_DAYS, S_NCOLS
};

/* Output columns after study_pid: G_GROUP .. G_START_WEEKS. */
enum {
    G_GROUP = 0, G_LEVEL, G_GEMEENTE, G_SEX, G_AGE_BAND, G_PATH, G_CARE_LEVELS, G_FIRST_SIGNAL, G_FIRST_CARE,
    G_REPEAT, G_EPISODES, G_CARE_LEVEL, G_CATEGORY, G_PROVIDER, G_REFERRER, G_REQUESTED, G_ALLOCATED,
    G_STARTED, G_ENDED, G_END_REASON, G_REJECTED, G_DECISION_WEEKS, G_START_WEEKS, G_NCOLS
};
#define G_FIRST_EPISODE_FIELD G_CARE_LEVEL

/* The warehouse query (parameter $1: rare_min): one row per care episode of every child with a
 * gemeente, or one row with empty episode fields for a child without episodes; dates as
 * YYYY-MM-DD; values held by fewer than rare_min children (path, category, provider, referrer,
 * end reason) already OTHER. Ordered by pid, so a child's rows are adjacent. Readable by the
 * extractor and by an analyst login (wh.route, wh.care_episode, wh.child_profile). */
extern const char *const jtm_gen_source_sql;

/* One source row: S_NCOLS strings (never NULL; "" for SQL NULL). */
typedef const char *const *jtm_gen_src;

/* One child's record at a level: rows x G_NCOLS strings, owned. */
typedef struct jtm_gen_record {
    char ***rows;
    size_t nrows;
} jtm_gen_record;

/* Generalises a child's n source rows (n >= 1) at level. Returns 0 or -1 (out of memory). */
int jtm_gen_child(const jtm_gen_src *src, size_t n, int level, jtm_gen_record *out);
void jtm_gen_record_free(jtm_gen_record *r);

/* The record as one string: rows sorted, fields joined; equal strings = indistinguishable records.
 * Malloc'd, NULL when out of memory. The same for records read back from the CSV
 * (jtm_gen_signature_rows takes rows of G_NCOLS fields). */
char *jtm_gen_signature(const jtm_gen_record *r);
char *jtm_gen_signature_rows(char ***rows, size_t nrows);

/* Cells of the level-0 record that the record at level shows differently (not applicable cells
 * not counted), and the cells of the level-0 record that are applicable. */
void jtm_gen_loss(const jtm_gen_record *l0, const jtm_gen_record *at, long *generalised, long *cells);

#endif
