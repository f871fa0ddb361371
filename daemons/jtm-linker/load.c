/* The batch transaction: COPY into the session table linker_in, staging.apply_batch(group), COMMIT.
 * All SQL logic (dedupe, upsert, recompute, offsets, NOTIFY) lives in schemas/sql; this file moves
 * bytes and decides what a failure means: the server went away (transient: the caller reconnects
 * and redoes the batch from the stored offsets), or a message was refused (it is dead-lettered and
 * the batch is retried without it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linker.h"
#include "log.h"
#include "pg.h"

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

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
    long copy_line; /* 1-based COPY line the server blamed, 0 when none */
} pg_failure;

static void failure_from(PGconn *conn, PGresult *r, pg_failure *f)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    snprintf(f->sqlstate, sizeof f->sqlstate, "%s", st ? st : "");
    jtm_pg_result_error(conn, r, f->msg, sizeof f->msg);
    f->copy_line = 0;
    const char *ctx = r ? PQresultErrorField(r, PG_DIAG_CONTEXT) : NULL;
    const char *at = ctx ? strstr(ctx, "COPY linker_in, line ") : NULL;
    if (at)
        f->copy_line = strtol(at + strlen("COPY linker_in, line "), NULL, 10);
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

/* COPYs items[from..to) (rejected ones included, as dead letters) into linker_in. */
static int copy_rows(PGconn *conn, lk_item *items, size_t from, size_t to, sbuf *buf, pg_failure *f)
{
    PGresult *r = PQexec(conn, "COPY linker_in (src_topic, src_partition, src_offset, payload, reject, raw) "
                               "FROM STDIN");
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        failure_from(conn, r, f);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    buf->len = 0;
    int rc = 0;
    for (size_t i = from; i < to && rc == 0; i++) {
        sb_row(buf, &items[i]);
        if (buf->len >= 256 * 1024 || i + 1 == to) {
            if (PQputCopyData(conn, buf->p, (int)buf->len) != 1)
                rc = -1;
            buf->len = 0;
        }
    }
    if (PQputCopyEnd(conn, rc == 0 ? NULL : "client failed") != 1)
        rc = -1;
    r = PQgetResult(conn);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        failure_from(conn, r, f);
        rc = -1;
    }
    PQclear(r);
    while ((r = PQgetResult(conn)))
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
    if (st) {
        st->received = atol(PQgetvalue(r, 0, 0));
        st->loaded = atol(PQgetvalue(r, 0, 1));
        st->duplicates = atol(PQgetvalue(r, 0, 2));
        st->skipped = atol(PQgetvalue(r, 0, 3));
        st->dead_lettered = atol(PQgetvalue(r, 0, 4));
        st->children = atol(PQgetvalue(r, 0, 5));
        st->notified = PQgetvalue(r, 0, 6)[0] == 't';
    }
    PQclear(r);
    return 0;
}

static void rollback(PGconn *conn)
{
    PGresult *r = PQexec(conn, "ROLLBACK");
    PQclear(r);
}

static int is_transient(PGconn *conn, const pg_failure *f)
{
    return jtm_pg_is_broken(conn) || jtm_pg_sqlstate_is_transient(f->sqlstate);
}

static void set_reject(lk_item *it, const pg_failure *f)
{
    free(it->reject);
    if (asprintf(&it->reject, "pg:%s", f->msg) < 0)
        it->reject = NULL;
}

int lk_session_init(PGconn *conn, char *errstr, size_t errlen)
{
    return jtm_pg_exec(conn, "SELECT staging.linker_session()", errstr, errlen);
}

/* One attempt at the whole batch in one transaction. */
static int attempt(PGconn *conn, const char *group, lk_item *items, size_t n, lk_apply_stats *st, sbuf *buf,
                   pg_failure *f)
{
    if (exec_ok(conn, "BEGIN", f) != 0)
        return -1;
    if (copy_rows(conn, items, 0, n, buf, f) != 0 || apply(conn, group, st, f) != 0) {
        rollback(conn);
        return -1;
    }
    return exec_ok(conn, "COMMIT", f);
}

/* Finds the messages PostgreSQL refuses one at a time, each in a savepoint of a transaction that
 * is rolled back at the end (nothing of this pass stays). Returns the number found, or -1 when the
 * server failed meanwhile. */
static long isolate(PGconn *conn, lk_item *items, size_t n, sbuf *buf, pg_failure *f)
{
    long found = 0;
    if (exec_ok(conn, "BEGIN", f) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (items[i].reject)
            continue;
        pg_failure one;
        if (exec_ok(conn, "SAVEPOINT lk_one", f) != 0)
            goto broken;
        if (copy_rows(conn, items, i, i + 1, buf, &one) != 0 || apply(conn, NULL, NULL, &one) != 0) {
            if (is_transient(conn, &one)) {
                *f = one;
                goto broken;
            }
            set_reject(&items[i], &one);
            found++;
            if (exec_ok(conn, "ROLLBACK TO SAVEPOINT lk_one", f) != 0)
                goto broken;
        } else if (exec_ok(conn, "RELEASE SAVEPOINT lk_one", f) != 0) {
            goto broken;
        }
    }
    rollback(conn);
    return found;
broken:
    rollback(conn);
    return -1;
}

int lk_load_batch(PGconn *conn, const char *group, lk_item *items, size_t n, lk_apply_stats *st,
                  char *errstr, size_t errlen)
{
    sbuf buf = {0};
    pg_failure f;
    int rc = LK_LOAD_FATAL;
    memset(st, 0, sizeof *st);
    for (;;) {
        if (attempt(conn, group, items, n, st, &buf, &f) == 0) {
            rc = LK_LOAD_OK;
            break;
        }
        if (is_transient(conn, &f)) {
            snprintf(errstr, errlen, "%s", f.msg);
            rc = LK_LOAD_TRANSIENT;
            break;
        }
        /* Refused data. COPY names the line; otherwise find the culprits one by one. */
        if (f.copy_line >= 1 && (size_t)f.copy_line <= n && !items[f.copy_line - 1].reject) {
            set_reject(&items[f.copy_line - 1], &f);
            continue;
        }
        pg_failure first = f;
        long found = isolate(conn, items, n, &buf, &f);
        if (found < 0) {
            snprintf(errstr, errlen, "%s", f.msg);
            rc = LK_LOAD_TRANSIENT;
            break;
        }
        if (found == 0) {
            snprintf(errstr, errlen, "batch refused but no single message is to blame: %s", first.msg);
            rc = LK_LOAD_FATAL;
            break;
        }
    }
    free(buf.p);
    return rc;
}
