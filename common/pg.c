#include "pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "signals.h"

int jtm_backoff_next(jtm_backoff *b)
{
    if (b->current_ms <= 0)
        b->current_ms = b->initial_ms > 0 ? b->initial_ms : 100;
    else
        b->current_ms = b->current_ms * 2 > b->max_ms ? b->max_ms : b->current_ms * 2;
    /* jitter keeps a fleet of daemons from reconnecting in lock-step */
    unsigned r = (unsigned)rand();
    int jitter = b->current_ms / 5;
    int wait = b->current_ms - jitter + (jitter > 0 ? (int)(r % (unsigned)(2 * jitter + 1)) : 0);
    return wait > 0 ? wait : 1;
}

void jtm_backoff_reset(jtm_backoff *b) { b->current_ms = 0; }

int jtm_sleep_ms_interruptible(int ms)
{
    while (ms > 0) {
        if (!jtm_run)
            return 1;
        int step = ms > 50 ? 50 : ms;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return jtm_run ? 0 : 1;
}

int jtm_pg_conninfo_check(const char *conninfo, char *errstr, size_t errlen)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (!opts) {
        snprintf(errstr, errlen, "invalid PostgreSQL connection settings: %s", perr ? perr : "out of memory");
        for (char *p = errstr; *p; p++)
            if (*p == '\n')
                *p = ' ';
        PQfreemem(perr);
        return -1;
    }
    PQconninfoFree(opts);
    return 0;
}

/* Server notices (e.g. "already exists, skipping") are debug-level log lines, not stderr noise. */
static void notice_to_log(void *arg, const char *message)
{
    (void)arg;
    char q[512];
    log_debug("pg_notice", "message=%s", jtm_log_quote(q, sizeof q, message));
}

PGconn *jtm_pg_connect(const char *conninfo, int max_wait_ms, char *errstr, size_t errlen)
{
    /* A conninfo that does not parse will never connect: fail at once instead of retrying. */
    if (jtm_pg_conninfo_check(conninfo, errstr, errlen) != 0)
        return NULL;
    jtm_backoff b = {200, 10000, 0};
    int waited = 0;
    for (int attempt = 1;; attempt++) {
        PGconn *c = PQconnectdb(conninfo);
        if (c && PQstatus(c) == CONNECTION_OK) {
            PQsetNoticeProcessor(c, notice_to_log, NULL);
            if (attempt > 1)
                log_info("pg_connected", "attempts=%d", attempt);
            return c;
        }
        char msg[512];
        snprintf(msg, sizeof msg, "%s", c ? PQerrorMessage(c) : "out of memory");
        for (char *p = msg; *p; p++)
            if (*p == '\n')
                *p = ' ';
        PQfinish(c);
        int wait = jtm_backoff_next(&b);
        if (!jtm_run || (max_wait_ms > 0 && waited + wait > max_wait_ms)) {
            snprintf(errstr, errlen, "cannot connect to PostgreSQL after %d attempts: %s", attempt, msg);
            return NULL;
        }
        char q[600];
        log_warn("pg_connect_retry", "attempt=%d wait_ms=%d error=%s", attempt, wait, jtm_log_quote(q, sizeof q, msg));
        if (jtm_sleep_ms_interruptible(wait)) {
            snprintf(errstr, errlen, "stopped while connecting to PostgreSQL");
            return NULL;
        }
        waited += wait;
    }
}

bool jtm_pg_is_broken(PGconn *conn) { return !conn || PQstatus(conn) != CONNECTION_OK; }

int jtm_pg_result_error(PGconn *conn, PGresult *res, char *errstr, size_t errlen)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg)
        msg = conn ? PQerrorMessage(conn) : "no connection";
    snprintf(errstr, errlen, "%s%s%s", state ? state : "", state ? " " : "", msg);
    for (char *p = errstr; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return -1;
}

int jtm_pg_exec(PGconn *conn, const char *sql, char *errstr, size_t errlen)
{
    PGresult *r = PQexec(conn, sql);
    int ok = r && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
    int rc = ok ? 0 : jtm_pg_result_error(conn, r, errstr, errlen);
    PQclear(r);
    return rc;
}

bool jtm_pg_sqlstate_is_transient(const char *s)
{
    if (!s || !*s)
        return true; /* no SQLSTATE: the connection failed before the server answered */
    return strncmp(s, "08", 2) == 0 || strncmp(s, "53", 2) == 0 || strncmp(s, "57P", 3) == 0 ||
           strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0 || strcmp(s, "55P03") == 0;
}
