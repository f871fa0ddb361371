/* PostgreSQL plumbing shared by the linker, the alerter and the tools: connecting with retry and
 * backoff, and small helpers that turn a PGresult into an error string. All SQL with values is
 * parameterised (PQexecParams / prepared statements); nothing here builds SQL from data. */
#ifndef JTM_PG_H
#define JTM_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct jtm_backoff {
    int initial_ms; /* first wait */
    int max_ms;     /* cap */
    int current_ms; /* state; 0 before the first wait */
} jtm_backoff;

/* Next wait: doubles up to max, with +-20% jitter. */
int jtm_backoff_next(jtm_backoff *b);
void jtm_backoff_reset(jtm_backoff *b);
/* Sleeps ms milliseconds in small steps, returning early (1) when jtm_run was cleared. */
int jtm_sleep_ms_interruptible(int ms);

/* Checks that conninfo parses (unknown keywords, bad quoting): a config error, not an outage. */
int jtm_pg_conninfo_check(const char *conninfo, char *errstr, size_t errlen);
/* Connects, retrying with backoff while jtm_run is set, up to max_wait_ms in total (0: until
 * stopped); a conninfo that does not parse fails at once. Each failed attempt is logged as event=pg_connect_retry (never the conninfo, which may
 * hold a password). Returns NULL with errstr when it gave up. */
PGconn *jtm_pg_connect(const char *conninfo, int max_wait_ms, char *errstr, size_t errlen);
/* True when the connection is usable (status OK); after a failed query callers use this to
 * decide between "the data was refused" and "the server went away". */
bool jtm_pg_is_broken(PGconn *conn);
/* Runs a statement without parameters that returns no rows (BEGIN, COMMIT, SET ...). */
int jtm_pg_exec(PGconn *conn, const char *sql, char *errstr, size_t errlen);
/* Copies the error of a failed result (SQLSTATE and primary message) into errstr; returns -1. */
int jtm_pg_result_error(PGconn *conn, PGresult *res, char *errstr, size_t errlen);
/* SQLSTATE classes that mean "the connection or server failed, retry the batch": 08 connection,
 * 57P01-03 admin shutdown / crash / cannot connect now, 53 insufficient resources, 40001/40P01
 * serialisation and deadlock. Anything else means the data was refused. */
bool jtm_pg_sqlstate_is_transient(const char *sqlstate);

#endif
