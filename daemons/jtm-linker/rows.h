/* The COPY text of a child's derived rows, one function per table, in the column order of
 * LK_COLUMNS_* (what the linker COPYs into). The text is also what the linker's digest of a
 * child's rows is taken over, so it must be a pure function of the derivation. */
#ifndef JTM_LINKER_ROWS_H
#define JTM_LINKER_ROWS_H

#include "derive.h"
#include "sbuf.h"

enum lk_table { LK_TABLE_EPISODE, LK_TABLE_WAITING, LK_TABLE_ROUTE, LK_TABLE_FACT, LK_TABLES };

/* Qualified name and COPY column list of each table. */
extern const char *const lk_table_name[LK_TABLES];
extern const char *const lk_table_columns[LK_TABLES];

/* Appends the child's rows of table t (zero or more lines, each ending in a newline). */
void lk_rows_append(sbuf *b, int t, const char *pid, const lk_derived *d);

#endif
