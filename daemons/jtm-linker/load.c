/* The batch transaction: BEGIN, COPY into the session table linker_in while the batch is consumed
 * (rows are streamed, the batch is never held in memory), staging.apply_batch(group), COMMIT.
 * All SQL logic (dedupe, upsert, recompute, offsets, NOTIFY, finding refused messages) lives in
 * schemas/sql; this file moves bytes and decides what a failure means: the server went away
 * (transient: the caller reconnects and redoes the batch from the stored offsets), or messages were
 * refused (staging.isolate_refused marks them, they are dead-lettered and the batch goes on). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linker.h"
#include "log.h"
#include "pg.h"

typedef lk_sbuf sbuf;

static void sb_reserve(sbuf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        abort(); /* out of memory: nothing sensible left to do */
    b->p = p;
    b->cap = cap;
}

static void sb_put(sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* A value in COPY text format: backslash, tab, newline and carriage return escaped. */
static void sb_copy_text(sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, 2 * n);
    char *o = b->p + b->len;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        switch (c) {
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        case '\t': *o++ = '\\'; *o++ = 't'; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        default: *o++ = c;
        }
    }
    b->len = (size_t)(o - b->p);
}

/* bytea hex input (\x...) as COPY text: the backslash itself doubled. */
static void sb_copy_bytea(sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sb_reserve(b, 3 + 2 * n);
    char *o = b->p + b->len;
    *o++ = '\\';
    *o++ = '\\';
    *o++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *o++ = hex[(unsigned char)s[i] >> 4];
        *o++ = hex[(unsigned char)s[i] & 15];
    }
    b->len = (size_t)(o - b->p);
}

static void sb_row(sbuf *b, const lk_item *it)
{
    char num[64];
    if (it->topic) {
        sb_copy_text(b, it->topic, strlen(it->topic));
        int k = snprintf(num, sizeof num, "\t%d\t%lld\t", (int)it->partition, (long long)it->offset);
        sb_put(b, num, (size_t)k);
    } else {
        sb_put(b, "\\N\t\\N\t\\N\t", 9);
    }
    if (it->reject) {
        sb_put(b, "\\N\t", 3);
        sb_copy_text(b, it->reject, strlen(it->reject));
        sb_put(b, "\t", 1);
        sb_copy_bytea(b, it->data, it->len);
    } else {
        sb_copy_text(b, it->data, it->len);
        sb_put(b, "\t\\N\t\\N", 6);
    }
    sb_put(b, "\n", 1);
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

int lk_session_init(PGconn *conn, char *errstr, size_t errlen)
{
    return jtm_pg_exec(conn, "SELECT staging.linker_session()", errstr, errlen);
}

void lk_load_init(lk_load *l) { memset(l, 0, sizeof *l); }

void lk_load_free(lk_load *l)
{
    lk_load_abort(l);
    free(l->buf.p);
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
    l->buf.len = 0;
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
    int rc = PQputCopyData(l->conn, l->buf.p, (int)l->buf.len);
    l->buf.len = 0;
    if (rc != 1) {
        pg_failure f = {{0}, {0}};
        failure_from(l->conn, NULL, &f);
        return fail(l, &f);
    }
    return 0;
}

int lk_load_add(lk_load *l, const lk_item *it)
{
    sb_row(&l->buf, it);
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
    l->buf.len = 0;
}

static int give_up(lk_load *l, const pg_failure *f, const char *what, char *errstr, size_t errlen)
{
    bool transient = is_transient(l->conn, f);
    snprintf(errstr, errlen, "%s%s", what, f->msg);
    lk_load_abort(l);
    return transient ? LK_LOAD_TRANSIENT : LK_LOAD_FATAL;
}

int lk_load_finish(lk_load *l, const char *group, lk_apply_stats *st, char *errstr, size_t errlen)
{
    pg_failure f;
    memset(st, 0, sizeof *st);
    if (!l->open)
        return LK_LOAD_OK;
    if (end_copy(l, &f) != 0)
        return give_up(l, &f, "COPY refused: ", errstr, errlen);
    for (;;) {
        if (exec_ok(l->conn, "SAVEPOINT lk_apply", &f) != 0)
            return give_up(l, &f, "", errstr, errlen);
        if (apply(l->conn, group, st, &f) == 0) {
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
