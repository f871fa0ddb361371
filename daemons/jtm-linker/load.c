/* The batch transaction: BEGIN; the batch's messages in chunks as they are consumed (direct.c:
 * new events COPYed straight into staging.event, the rest into the session table linker_in; the
 * batch is never held whole); staging.apply_batch(group) for linker_in; the positions and NOTIFY of
 * the direct rows; the derivation of every touched child (recompute.c); COMMIT. Version rules,
 * offsets of linker_in rows, dead letters and finding refused messages live in schemas/sql; this
 * file moves bytes and decides what a failure means: the server went away (transient: the caller
 * reconnects and redoes the batch from the stored offsets), or messages were refused
 * (staging.isolate_refused marks them, they are dead-lettered and the batch goes on). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linker.h"
#include "log.h"
#include "pg.h"

typedef struct pg_failure {
    char sqlstate[6];
    char msg[512];
} pg_failure;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
    if (lk_direct_prepare(conn, errstr, errlen) != 0)
        return -1;
    return lk_recompute_prepare(conn, errstr, errlen);
}

void lk_load_init(lk_load *l)
{
    memset(l, 0, sizeof *l);
    lk_direct_init(&l->direct);
    lk_recompute_init(&l->rc);
}

void lk_load_free(lk_load *l)
{
    lk_load_abort(l);
    lk_direct_free(&l->direct);
    lk_recompute_free(&l->rc);
    memset(l, 0, sizeof *l);
}

static int fail(lk_load *l, const pg_failure *f)
{
    snprintf(l->error, sizeof l->error, "%s", f->msg);
    l->transient = is_transient(l->conn, f);
    return -1;
}

static int direct_failed(lk_load *l)
{
    snprintf(l->error, sizeof l->error, "%s", l->direct.error);
    l->transient = l->direct.transient || jtm_pg_is_broken(l->conn);
    return -1;
}

int lk_load_begin(lk_load *l, PGconn *conn, const char *group)
{
    pg_failure f;
    l->conn = conn;
    l->group = group;
    l->rows = 0;
    l->error[0] = '\0';
    l->transient = false;
    lk_direct_reset(&l->direct);
    if (exec_ok(conn, "BEGIN", &f) != 0)
        return fail(l, &f);
    l->open = true;
    /* Every lookup of the batch goes through an index (by event id, by pid): a plan made while a
     * table was nearly empty would scan it, and prepared statements keep their plans as the
     * tables grow (a DELETE for 1,000 children went from milliseconds to 0.8 s in
     * bench/linker.sh). apply_batch sets the same for itself; here for the direct path's probe
     * and the derivation, whose statements run nowhere else. */
    if (exec_ok(conn, "SET LOCAL enable_seqscan = off", &f) != 0)
        return fail(l, &f);
    return 0;
}

int lk_load_add(lk_load *l, const lk_item *it)
{
    if (lk_direct_hold(&l->direct, it) != 0) {
        snprintf(l->error, sizeof l->error, "out of memory");
        l->transient = false;
        return -1;
    }
    l->rows++;
    if (lk_direct_full(&l->direct) && lk_direct_flush(&l->direct, l->conn, l->group) != 0)
        return direct_failed(l);
    return 0;
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
    if (l->open) {
        PGresult *r;
        while ((r = PQgetResult(l->conn))) /* an interrupted COPY or query */
            PQclear(r);
        r = PQexec(l->conn, "ROLLBACK");
        PQclear(r);
        l->open = false;
    }
    l->rows = 0;
    lk_direct_reset(&l->direct);
}

static int give_up(lk_load *l, const pg_failure *f, const char *what, char *errstr, size_t errlen)
{
    bool transient = is_transient(l->conn, f);
    snprintf(errstr, errlen, "%s%s", what, f->msg);
    lk_load_abort(l);
    return transient ? LK_LOAD_TRANSIENT : LK_LOAD_FATAL;
}

/* The derivation of the batch's children. 0; or -1 with errstr after a transient failure (the
 * transaction is gone); or 1 when it failed otherwise and the caller should apply the batch
 * again with the SQL rules. */
static int derive(lk_load *l, lk_apply_stats *st, char *errstr, size_t errlen)
{
    lk_direct *d = &l->direct;
    lk_direct_sort_news(d);
    if ((st->children == 0 && d->n_news == 0) ||
        lk_recompute_run(&l->rc, l->conn, d->news, d->n_news, d->entries.s, &st->derive) == 0) {
        st->children = st->derive.children;
        return 0;
    }
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

/* The direct rows' children by the SQL rules (the fallback of a failed derivation). */
static int derive_direct_in_sql(lk_load *l, pg_failure *f)
{
    const lk_direct *d = &l->direct;
    if (d->n_news == 0)
        return 0;
    sbuf list = {0};
    for (size_t i = 0; i < d->n_news; i++) {
        sb_putc(&list, i ? ',' : '{');
        sb_puts(&list, d->news[i].pid);
    }
    sb_putc(&list, '}');
    const char *v[1] = {list.s};
    PGresult *r = PQexecParams(l->conn, "SELECT wh.recompute_children($1::text[])", 1, NULL, v, NULL, NULL, 0);
    sb_free(&list);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        failure_from(l->conn, r, f);
    PQclear(r);
    return ok ? 0 : -1;
}

int lk_load_finish(lk_load *l, lk_apply_stats *st, char *errstr, size_t errlen)
{
    pg_failure f;
    memset(st, 0, sizeof *st);
    if (!l->open)
        return LK_LOAD_OK;
    if (lk_direct_flush(&l->direct, l->conn, l->group) != 0) {
        direct_failed(l);
        return lk_load_failed(l, errstr, errlen);
    }
    bool sql_rules = false;
    for (;;) {
        if (exec_ok(l->conn, "SAVEPOINT lk_apply", &f) != 0)
            return give_up(l, &f, "", errstr, errlen);
        long long t0 = now_ms();
        if (apply(l->conn, l->group, st, &f) == 0) {
            if (lk_direct_finish(&l->direct, l->conn, l->group) != 0) {
                direct_failed(l);
                int rc = lk_load_failed(l, errstr, errlen);
                lk_load_abort(l);
                return rc;
            }
            long long t1 = now_ms();
            int d = 0;
            if (sql_rules) {
                if (derive_direct_in_sql(l, &f) != 0)
                    return give_up(l, &f, "", errstr, errlen);
            } else {
                d = derive(l, st, errstr, errlen);
            }
            st->apply_ms = (long)(t1 - t0);
            st->derive_ms = (long)(now_ms() - t1);
            if (d < 0)
                return LK_LOAD_TRANSIENT;
            if (d > 0) {
                /* Undo the attempt and let the SQL rules derive, in this transaction: the batch
                 * still loads, exactly once, with the reference result. */
                if (exec_ok(l->conn, "ROLLBACK TO SAVEPOINT lk_apply", &f) != 0 ||
                    exec_ok(l->conn, "SET LOCAL jtm.derive_in_linker = off", &f) != 0)
                    return give_up(l, &f, "", errstr, errlen);
                sql_rules = true;
                continue;
            }
            /* what the direct path did, added to apply_batch's answer for linker_in */
            st->received = (long)l->rows;
            st->loaded += l->direct.loaded;
            st->skipped += l->direct.skipped;
            st->direct = l->direct.loaded;
            st->direct_fallbacks = l->direct.fallbacks;
            st->notified = st->notified || l->direct.soj;
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
    if (lk_load_begin(&l, conn, group) != 0)
        rc = lk_load_failed(&l, errstr, errlen);
    for (size_t i = 0; rc == LK_LOAD_OK && i < n; i++)
        if (lk_load_add(&l, &items[i]) != 0)
            rc = lk_load_failed(&l, errstr, errlen);
    if (rc == LK_LOAD_OK)
        rc = lk_load_finish(&l, st, errstr, errlen);
    lk_load_free(&l);
    return rc;
}
