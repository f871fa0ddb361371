/* The batch transaction: BEGIN, COPY into the session table linker_in while the batch is consumed
 * (rows are streamed, the batch is never held in memory), staging.apply_batch(group), the
 * derivation of the children it touched (recompute.c), COMMIT. Dedupe, upsert, offsets, NOTIFY
 * and finding refused messages live in schemas/sql; this file moves bytes and decides what a
 * failure means: the server went away (transient: the caller reconnects and redoes the batch from
 * the stored offsets), or messages were refused (staging.isolate_refused marks them, they are
 * dead-lettered and the batch goes on). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "copytext.h"
#include "linker.h"
#include "log.h"
#include "pg.h"

/* One row of linker_in: src_topic, src_partition, src_offset, payload, reject, raw. */
static void copy_row(sbuf *b, const lk_item *it)
{
    if (it->topic) {
        lk_copy_str(b, it->topic);
        sb_putc(b, '\t');
        lk_copy_int(b, it->partition);
        sb_putc(b, '\t');
        lk_copy_int(b, it->offset);
        sb_putc(b, '\t');
    } else {
        sb_puts(b, "\\N\t\\N\t\\N\t");
    }
    if (it->reject) {
        sb_puts(b, "\\N\t");
        lk_copy_str(b, it->reject);
        sb_putc(b, '\t');
        lk_copy_bytea(b, it->data, it->len);
    } else {
        lk_copy_text(b, it->data, it->len);
        sb_puts(b, "\t\\N\t\\N");
    }
    sb_putc(b, '\n');
}

typedef struct pg_failure {
    char sqlstate[6];
    char msg[512];
} pg_failure;

static void failure_from(PGconn *conn, PGresult *r, pg_failure *f)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    snprintf(f->sqlstate, sizeof f->sqlstate, "%s", st ? st : "");
    jtm_pg_result_error(conn, r, f->msg, sizeof f->msg);
}

static int exec_ok(PGconn *conn, const char *sql, pg_failure *f)
{
    PGresult *r = PQexec(conn, sql);
    int ok = r && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
    if (!ok)
        failure_from(conn, r, f);
    PQclear(r);
    return ok ? 0 : -1;
}

static bool is_transient(PGconn *conn, const pg_failure *f)
{
    return jtm_pg_is_broken(conn) || jtm_pg_sqlstate_is_transient(f->sqlstate);
}

bool lk_pg_transient(PGconn *conn, const PGresult *r)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return jtm_pg_is_broken(conn) || (st && jtm_pg_sqlstate_is_transient(st));
}

int lk_session_init(PGconn *conn, char *errstr, size_t errlen)
{
    if (jtm_pg_exec(conn, "SELECT staging.linker_session()", errstr, errlen) != 0)
        return -1;
    return lk_recompute_prepare(conn, errstr, errlen);
}

void lk_load_init(lk_load *l)
{
    memset(l, 0, sizeof *l);
    lk_recompute_init(&l->rc);
}

void lk_load_free(lk_load *l)
{
    lk_load_abort(l);
    sb_free(&l->buf);
    lk_recompute_free(&l->rc);
    memset(l, 0, sizeof *l);
}

static int fail(lk_load *l, const pg_failure *f)
{
    snprintf(l->error, sizeof l->error, "%s", f->msg);
    l->transient = is_transient(l->conn, f);
    return -1;
}

int lk_load_begin(lk_load *l, PGconn *conn)
{
    pg_failure f;
    l->conn = conn;
    l->rows = 0;
    sb_clear(&l->buf);
    l->error[0] = '\0';
    l->transient = false;
    if (exec_ok(conn, "BEGIN", &f) != 0)
        return fail(l, &f);
    l->open = true;
    PGresult *r = PQexec(conn, "COPY linker_in (src_topic, src_partition, src_offset, payload, reject, raw) "
                               "FROM STDIN");
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        failure_from(conn, r, &f);
        PQclear(r);
        return fail(l, &f);
    }
    PQclear(r);
    l->copying = true;
    return 0;
}

static int flush(lk_load *l)
{
    if (l->buf.len == 0)
        return 0;
    int rc = PQputCopyData(l->conn, l->buf.s, (int)l->buf.len);
    sb_clear(&l->buf);
    if (rc != 1) {
        pg_failure f = {{0}, {0}};
        failure_from(l->conn, NULL, &f);
        return fail(l, &f);
    }
    return 0;
}

int lk_load_add(lk_load *l, const lk_item *it)
{
    copy_row(&l->buf, it);
    l->rows++;
    return l->buf.len >= 256 * 1024 ? flush(l) : 0;
}

/* Ends the COPY; 0, or -1 with the failure in f. */
static int end_copy(lk_load *l, pg_failure *f)
{
    int rc = 0;
    if (flush(l) != 0) {
        snprintf(f->msg, sizeof f->msg, "%s", l->error);
        f->sqlstate[0] = '\0';
        rc = -1;
    }
    if (PQputCopyEnd(l->conn, rc == 0 ? NULL : "client failed") != 1 && rc == 0) {
        failure_from(l->conn, NULL, f);
        rc = -1;
    }
    l->copying = false;
    PGresult *r = PQgetResult(l->conn);
    if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK) {
        failure_from(l->conn, r, f);
        rc = -1;
    }
    PQclear(r);
    while ((r = PQgetResult(l->conn)))
        PQclear(r);
    return rc;
}

static int apply(PGconn *conn, const char *group, lk_apply_stats *st, pg_failure *f)
{
    const char *params[1] = {group};
    PGresult *r = PQexecParams(conn,
                               "SELECT received, loaded, duplicates, skipped, dead_lettered, children, notified "
                               "FROM staging.apply_batch($1)",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        failure_from(conn, r, f);
        PQclear(r);
        return -1;
    }
    st->received = atol(PQgetvalue(r, 0, 0));
    st->loaded = atol(PQgetvalue(r, 0, 1));
    st->duplicates = atol(PQgetvalue(r, 0, 2));
    st->skipped = atol(PQgetvalue(r, 0, 3));
    st->dead_lettered = atol(PQgetvalue(r, 0, 4));
    st->children = atol(PQgetvalue(r, 0, 5));
    st->notified = PQgetvalue(r, 0, 6)[0] == 't';
    PQclear(r);
    return 0;
}

/* staging.isolate_refused(): the number of messages it marked, or -1 with f. */
static long isolate(PGconn *conn, pg_failure *f)
{
    PGresult *r = PQexec(conn, "SELECT staging.isolate_refused()");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        failure_from(conn, r, f);
        PQclear(r);
        return -1;
    }
    long found = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return found;
}

void lk_load_abort(lk_load *l)
{
    if (l->copying) {
        PQputCopyEnd(l->conn, "batch abandoned");
        PGresult *r;
        while ((r = PQgetResult(l->conn)))
            PQclear(r);
        l->copying = false;
    }
    if (l->open) {
        PGresult *r = PQexec(l->conn, "ROLLBACK");
        PQclear(r);
        l->open = false;
    }
    l->rows = 0;
    sb_clear(&l->buf);
}

static int give_up(lk_load *l, const pg_failure *f, const char *what, char *errstr, size_t errlen)
{
    bool transient = is_transient(l->conn, f);
    snprintf(errstr, errlen, "%s%s", what, f->msg);
    lk_load_abort(l);
    return transient ? LK_LOAD_TRANSIENT : LK_LOAD_FATAL;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The derivation of the applied batch's children. 0; or -1 with errstr after a transient failure
 * (the transaction is gone); or 1 when it failed otherwise and the caller should apply the batch
 * again with the SQL rules. */
static int derive(lk_load *l, lk_apply_stats *st, char *errstr, size_t errlen)
{
    if (st->children == 0 || lk_recompute_run(&l->rc, l->conn, &st->derive) == 0)
        return 0;
    if (l->rc.transient) {
        snprintf(errstr, errlen, "%s", l->rc.error);
        lk_load_abort(l);
        return -1;
    }
    char q[600];
    log_error("derive_failed", "children=%ld error=%s note=\"batch applied with the SQL rules instead\"",
              st->children, jtm_log_quote(q, sizeof q, l->rc.error));
    return 1;
}

int lk_load_finish(lk_load *l, const char *group, lk_apply_stats *st, char *errstr, size_t errlen)
{
    pg_failure f;
    memset(st, 0, sizeof *st);
    if (!l->open)
        return LK_LOAD_OK;
    if (end_copy(l, &f) != 0)
        return give_up(l, &f, "COPY refused: ", errstr, errlen);
    bool sql_rules = false;
    for (;;) {
        if (exec_ok(l->conn, "SAVEPOINT lk_apply", &f) != 0)
            return give_up(l, &f, "", errstr, errlen);
        long long t0 = now_ms();
        if (apply(l->conn, group, st, &f) == 0) {
            long long t1 = now_ms();
            int d = sql_rules ? 0 : derive(l, st, errstr, errlen);
            st->apply_ms = (long)(t1 - t0);
            st->derive_ms = (long)(now_ms() - t1);
            if (d < 0)
                return LK_LOAD_TRANSIENT;
            if (d > 0) {
                /* Undo the attempt and let staging.apply_batch run the SQL rules in this
                 * transaction: the batch still loads, exactly once, with the reference result. */
                if (exec_ok(l->conn, "ROLLBACK TO SAVEPOINT lk_apply", &f) != 0 ||
                    exec_ok(l->conn, "SET LOCAL jtm.derive_in_linker = off", &f) != 0)
                    return give_up(l, &f, "", errstr, errlen);
                sql_rules = true;
                continue;
            }
            st->derived_in_sql = sql_rules;
            if (exec_ok(l->conn, "COMMIT", &f) != 0) {
                l->open = false; /* a failed COMMIT ends the transaction */
                return give_up(l, &f, "", errstr, errlen);
            }
            l->open = false;
            return LK_LOAD_OK;
        }
        if (is_transient(l->conn, &f))
            return give_up(l, &f, "", errstr, errlen);
        /* Refused data: undo the attempt (linker_in is as COPYed), mark the culprits, retry. */
        pg_failure first = f;
        if (exec_ok(l->conn, "ROLLBACK TO SAVEPOINT lk_apply", &f) != 0)
            return give_up(l, &f, "", errstr, errlen);
        long found = isolate(l->conn, &f);
        if (found < 0)
            return give_up(l, &f, "", errstr, errlen);
        if (found == 0)
            return give_up(l, &first, "batch refused but no single message is to blame: ", errstr, errlen);
        char q[600];
        log_warn("pg_refused_messages", "messages=%ld first_error=%s", found, jtm_log_quote(q, sizeof q, first.msg));
    }
}

int lk_load_failed(const lk_load *l, char *errstr, size_t errlen)
{
    snprintf(errstr, errlen, "%s", l->error);
    return l->transient ? LK_LOAD_TRANSIENT : LK_LOAD_FATAL;
}

int lk_load_batch(PGconn *conn, const char *group, lk_item *items, size_t n, lk_apply_stats *st,
                  char *errstr, size_t errlen)
{
    lk_load l;
    lk_load_init(&l);
    memset(st, 0, sizeof *st);
    int rc = LK_LOAD_OK;
    if (lk_load_begin(&l, conn) != 0)
        rc = lk_load_failed(&l, errstr, errlen);
    for (size_t i = 0; rc == LK_LOAD_OK && i < n; i++)
        if (lk_load_add(&l, &items[i]) != 0)
            rc = lk_load_failed(&l, errstr, errlen);
    if (rc == LK_LOAD_OK)
        rc = lk_load_finish(&l, group, st, errstr, errlen);
    lk_load_free(&l);
    return rc;
}
