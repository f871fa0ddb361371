/* Rows for municipalities that are not set up (docs/access.md, Municipal isolation).
 *
 * The fact tables are partitioned by gemeente; a municipality has a partition once
 * ops.municipality_setup made it (listed in ops.municipality). Rows of any other code, and rows
 * without one, land in the default partitions, which only region roles read: loading goes on, and
 * the linker counts those rows (jtm_linker_unassigned_rows_total) and logs rows_unassigned. */
#ifndef JTM_LINKER_UNASSIGNED_H
#define JTM_LINKER_UNASSIGNED_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define LK_UNASSIGNED_REFRESH_MS 60000

typedef struct lk_unassigned {
    char (*codes)[8];     /* set-up codes, sorted */
    size_t n, cap;
    bool known;           /* ops.municipality was read (false: older schema, nothing is counted) */
    long long loaded_ms;  /* when (0: never) */
    long rows;            /* rows counted since lk_unassigned_take */
    char code[8];         /* the first of their codes ("" for a row without gemeente) */
} lk_unassigned;

/* Reads ops.municipality again when it is older than LK_UNASSIGNED_REFRESH_MS (or never read).
 * A schema without the table counts nothing. Returns 0, or -1 with errstr. */
int lk_unassigned_refresh(lk_unassigned *u, PGconn *conn, long long now_ms, char *errstr, size_t errlen);
/* Counts the lines of COPY text (the fact tables' layout: pid, gemeente, ...) whose gemeente is
 * not a set-up municipality. */
void lk_unassigned_scan(lk_unassigned *u, const char *copy, size_t len);
/* Rows counted since the last call (and the first code in *code, "" when without one); resets. */
long lk_unassigned_take(lk_unassigned *u, char code[8]);
void lk_unassigned_free(lk_unassigned *u);

#endif
