/* Deriving a batch's touched children in the linker (derive.c) and writing what changed, inside the
 * batch's transaction, after staging.apply_batch listed the children in linker_touched.
 *
 * Chunks of LK_CHUNK children, in pid order:
 *   1. lock the children's rows in ops.linker_child_digest (FOR UPDATE, pid order) and read the
 *      digests of the rows the linker last wrote for them;
 *   2. read their non-withdrawn events (binary results, through the covering pid index), after
 *      the lock, so a child another worker just derived is read as that worker committed it;
 *   3. derive each child, hash the COPY text of its rows per table, and keep only the tables whose
 *      hash differs (or is unknown);
 *   4. DELETE those tables' rows of those children, COPY the new rows, save the new digests.
 * Memory is bounded by the chunk (its events and its new rows), not by the batch. */
#define OPENSSL_API_COMPAT 10101
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "copytext.h"
#include "linker.h"
#include "pg.h"
#include "rows.h"

#define LK_CHUNK 1000
#define DIGEST_LEN 16
#define PG_EPOCH_DAYS 10957 /* 2000-01-01, PostgreSQL's day 0, in days since 1970-01-01 */

static const char SQL_TOUCHED[] = "SELECT DISTINCT pid FROM linker_touched";
static const char SQL_LOCK[] = "SELECT pid, episodes, waiting, route, facts FROM ops.linker_child_digest "
                               "WHERE pid = ANY ($1::text[]) ORDER BY pid FOR UPDATE";
/* The columns derive.h's lk_event holds, in this order (see fill_event). */
static const char SQL_EVENTS[] =
    "SELECT pid, feed, type, occurred_on, recorded_at, event_id, gemeente, f_reference, f_allocation_no, "
    "f_provider_agb, f_category, f_referrer, f_answer, f_outcome, f_allocated_on::date, f_start_date::date, "
    "f_end_date::date, f_end_reason, f_amount_cents::bigint, f_debit_credit, f_birth_ym "
    "FROM staging.event WHERE pid = ANY ($1::text[]) AND NOT withdrawn";
static const char SQL_SAVE[] =
    "INSERT INTO ops.linker_child_digest AS d (pid, episodes, waiting, route, facts) "
    "SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[]) "
    "ON CONFLICT (pid) DO UPDATE SET episodes = EXCLUDED.episodes, waiting = EXCLUDED.waiting, "
    "route = EXCLUDED.route, facts = EXCLUDED.facts";
static const char *const STMT_DELETE[LK_TABLES] = {"lk_delete_episode", "lk_delete_waiting", "lk_delete_route",
                                                   "lk_delete_fact"};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct lk_row_ref {
    const char *pid;
    int row;
};

static int ref_order(const void *a, const void *b)
{
    return strcmp(((const struct lk_row_ref *)a)->pid, ((const struct lk_row_ref *)b)->pid);
}

static int str_order(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int fail(lk_recompute *rc, PGconn *conn, PGresult *r)
{
    rc->transient = lk_pg_transient(conn, r);
    jtm_pg_result_error(conn, r, rc->error, sizeof rc->error);
    PQclear(r);
    return -1;
}

static int fail_msg(lk_recompute *rc, const char *msg)
{
    rc->transient = false;
    snprintf(rc->error, sizeof rc->error, "%s", msg);
    return -1;
}

int lk_recompute_prepare(PGconn *conn, char *errstr, size_t errlen)
{
    struct {
        const char *name, *sql;
    } stmts[3 + LK_TABLES] = {{"lk_lock", SQL_LOCK}, {"lk_events", SQL_EVENTS}, {"lk_save", SQL_SAVE}};
    char del[LK_TABLES][128];
    for (int t = 0; t < LK_TABLES; t++) {
        snprintf(del[t], sizeof del[t], "DELETE FROM %s WHERE pid = ANY ($1::text[])", lk_table_name[t]);
        stmts[3 + t].name = STMT_DELETE[t];
        stmts[3 + t].sql = del[t];
    }
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        PGresult *r = PQprepare(conn, stmts[i].name, stmts[i].sql, 0, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            jtm_pg_result_error(conn, r, errstr, errlen);
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    return jtm_pg_exec(conn, "SET jtm.derive_in_linker = on", errstr, errlen);
}

void lk_recompute_init(lk_recompute *rc)
{
    memset(rc, 0, sizeof *rc);
    lk_derived_init(&rc->dv);
    SHA256((const unsigned char *)"", 0, rc->empty_digest);
}

void lk_recompute_free(lk_recompute *rc)
{
    lk_derived_free(&rc->dv);
    free(rc->ev);
    free(rc->refs);
    free(rc->stored);
    free(rc->known);
    sb_free(&rc->pids);
    sb_free(&rc->line);
    sb_free(&rc->save_pids);
    for (int t = 0; t < LK_TABLES; t++) {
        sb_free(&rc->copy[t]);
        sb_free(&rc->del[t]);
        sb_free(&rc->save_digests[t]);
    }
    memset(rc, 0, sizeof *rc);
}

static void list_add(sbuf *b, const char *item)
{
    sb_putc(b, b->len == 0 ? '{' : ',');
    sb_puts(b, item);
}

static const char *list_end(sbuf *b)
{
    if (b->len == 0)
        sb_putc(b, '{');
    sb_putc(b, '}');
    return b->s;
}

/* An element of a bytea[] literal: "\\x<hex>" (the array parser takes one backslash away). */
static void list_add_bytea(sbuf *b, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sb_putc(b, b->len == 0 ? '{' : ',');
    sb_puts(b, "\"\\\\x");
    for (size_t i = 0; i < n; i++) {
        sb_putc(b, hex[p[i] >> 4]);
        sb_putc(b, hex[p[i] & 15]);
    }
    sb_putc(b, '"');
}

static int32_t be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (int32_t)((uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3]);
}

static int64_t be64(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | u[i];
    return (int64_t)v;
}

static const char *text_or_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static int32_t date_or_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? LK_NO_DATE : be32(PQgetvalue(r, row, col)) + PG_EPOCH_DAYS;
}

/* One row of SQL_EVENTS (binary format) as an lk_event; strings point into r. */
static void fill_event(lk_event *e, const PGresult *r, int row)
{
    e->feed = lk_feed_code(PQgetvalue(r, row, 1));
    e->type = lk_type_code(PQgetvalue(r, row, 2));
    e->occurred_on = be32(PQgetvalue(r, row, 3)) + PG_EPOCH_DAYS;
    e->recorded_at = be64(PQgetvalue(r, row, 4));
    e->event_id = PQgetvalue(r, row, 5);
    e->gemeente = text_or_null(r, row, 6);
    e->reference = text_or_null(r, row, 7);
    e->allocation_no = text_or_null(r, row, 8);
    e->provider_agb = text_or_null(r, row, 9);
    e->category = text_or_null(r, row, 10);
    e->referrer = text_or_null(r, row, 11);
    e->answer = text_or_null(r, row, 12);
    e->outcome = text_or_null(r, row, 13);
    e->allocated_on = date_or_null(r, row, 14);
    e->start_date = date_or_null(r, row, 15);
    e->end_date = date_or_null(r, row, 16);
    e->end_reason = text_or_null(r, row, 17);
    e->has_amount = !PQgetisnull(r, row, 18);
    e->amount_cents = e->has_amount ? be64(PQgetvalue(r, row, 18)) : 0;
    e->debit_credit = text_or_null(r, row, 19);
    e->birth_ym = text_or_null(r, row, 20);
}

static int grow(void **p, size_t *cap, size_t n, size_t sz)
{
    if (n <= *cap)
        return 0;
    size_t c = *cap ? *cap : 256;
    while (c < n)
        c *= 2;
    void *q = realloc(*p, c * sz);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* Derives one child and queues what changed. stored: its four digests, or NULL when unknown. */
static int derive_one(lk_recompute *rc, const char *pid, lk_event *ev, size_t n, const unsigned char *stored,
                      lk_recompute_stats *st)
{
    if (lk_derive_child(&rc->dv, ev, n) != 0)
        return fail_msg(rc, "derivation failed (out of memory, or an invoiced sum beyond bigint)");
    unsigned char digest[LK_TABLES][SHA256_DIGEST_LENGTH];
    bool changed = stored == NULL;
    for (int t = 0; t < LK_TABLES; t++) {
        sb_clear(&rc->line);
        lk_rows_append(&rc->line, t, pid, &rc->dv);
        SHA256((const unsigned char *)sb_str(&rc->line), rc->line.len, digest[t]);
        const unsigned char *old = stored ? stored + t * DIGEST_LEN : NULL;
        if (old && memcmp(old, digest[t], DIGEST_LEN) == 0)
            continue;
        changed = true;
        /* a table known to hold nothing of this child needs no DELETE */
        if (!old || memcmp(old, rc->empty_digest, DIGEST_LEN) != 0)
            list_add(&rc->del[t], pid);
        sb_putn(&rc->copy[t], sb_str(&rc->line), rc->line.len);
        for (const char *p = sb_str(&rc->line); *p; p++)
            st->rows_written += *p == '\n';
    }
    if (changed) {
        st->children_rewritten++;
        list_add(&rc->save_pids, pid);
        for (int t = 0; t < LK_TABLES; t++)
            list_add_bytea(&rc->save_digests[t], digest[t], DIGEST_LEN);
    }
    return 0;
}

static int copy_rows(lk_recompute *rc, PGconn *conn, int t)
{
    char sql[512];
    snprintf(sql, sizeof sql, "COPY %s (%s) FROM STDIN", lk_table_name[t], lk_table_columns[t]);
    PGresult *r = PQexec(conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        return fail(rc, conn, r);
    PQclear(r);
    if (PQputCopyData(conn, rc->copy[t].s, (int)rc->copy[t].len) != 1 || PQputCopyEnd(conn, NULL) != 1)
        return fail(rc, conn, NULL);
    r = PQgetResult(conn);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) {
        fail(rc, conn, r);
        while ((r = PQgetResult(conn)))
            PQclear(r);
        return -1;
    }
    PQclear(r);
    while ((r = PQgetResult(conn)))
        PQclear(r);
    return 0;
}

static int exec_prepared(lk_recompute *rc, PGconn *conn, const char *stmt, int n, const char *const *values,
                         int binary_result, PGresult **out)
{
    PGresult *r = PQexecPrepared(conn, stmt, n, values, NULL, NULL, binary_result);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK)
        return fail(rc, conn, r);
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

/* Writes the chunk's queued changes: deletes first, then the new rows, then the digests. */
static int write_chunk(lk_recompute *rc, PGconn *conn)
{
    for (int t = 0; t < LK_TABLES; t++) {
        if (rc->del[t].len == 0)
            continue;
        const char *v[1] = {list_end(&rc->del[t])};
        if (exec_prepared(rc, conn, STMT_DELETE[t], 1, v, 0, NULL) != 0)
            return -1;
    }
    for (int t = 0; t < LK_TABLES; t++)
        if (rc->copy[t].len > 0 && copy_rows(rc, conn, t) != 0)
            return -1;
    if (rc->save_pids.len > 0) {
        const char *v[1 + LK_TABLES] = {list_end(&rc->save_pids)};
        for (int t = 0; t < LK_TABLES; t++)
            v[1 + t] = list_end(&rc->save_digests[t]);
        if (exec_prepared(rc, conn, "lk_save", 1 + LK_TABLES, v, 0, NULL) != 0)
            return -1;
    }
    return 0;
}

static void chunk_reset(lk_recompute *rc)
{
    sb_clear(&rc->pids);
    sb_clear(&rc->save_pids);
    for (int t = 0; t < LK_TABLES; t++) {
        sb_clear(&rc->copy[t]);
        sb_clear(&rc->del[t]);
        sb_clear(&rc->save_digests[t]);
    }
}

/* The stored digests of each of the chunk's children, aligned with pids (NULL: no row, or a
 * table's digest unknown). */
static int read_digests(lk_recompute *rc, const PGresult *r, char *const *pids, size_t n)
{
    if (grow((void **)&rc->stored, &rc->cap_stored, n * LK_TABLES * DIGEST_LEN + 1, 1) != 0 ||
        grow((void **)&rc->known, &rc->cap_known, n, sizeof *rc->known) != 0)
        return fail_msg(rc, "out of memory");
    memset(rc->known, 0, n * sizeof *rc->known);
    for (int row = 0; row < PQntuples(r); row++) {
        const char *pid = PQgetvalue(r, row, 0);
        char *const *at = bsearch(&pid, pids, n, sizeof *pids, str_order);
        if (!at)
            continue;
        size_t i = (size_t)(at - pids);
        bool all = true;
        for (int t = 0; t < LK_TABLES; t++) {
            if (PQgetisnull(r, row, 1 + t) || PQgetlength(r, row, 1 + t) != DIGEST_LEN) {
                all = false;
                break;
            }
            memcpy(rc->stored + (i * LK_TABLES + t) * DIGEST_LEN, PQgetvalue(r, row, 1 + t), DIGEST_LEN);
        }
        rc->known[i] = all;
    }
    return 0;
}

/* One chunk: pids sorted, n <= LK_CHUNK. */
static int run_chunk(lk_recompute *rc, PGconn *conn, char *const *pids, size_t n, lk_recompute_stats *st)
{
    chunk_reset(rc);
    for (size_t i = 0; i < n; i++)
        list_add(&rc->pids, pids[i]);
    const char *v[1] = {list_end(&rc->pids)};
    PGresult *locked = NULL, *events = NULL;
    int ret = -1;
    long long t0 = now_ms();
    if (exec_prepared(rc, conn, "lk_lock", 1, v, 1, &locked) != 0 || read_digests(rc, locked, pids, n) != 0 ||
        exec_prepared(rc, conn, "lk_events", 1, v, 1, &events) != 0)
        goto out;
    st->read_ms += now_ms() - t0;
    int nrows = PQntuples(events);
    if (grow((void **)&rc->refs, &rc->cap_refs, (size_t)nrows, sizeof *rc->refs) != 0 ||
        grow((void **)&rc->ev, &rc->cap_ev, (size_t)nrows + 1, sizeof *rc->ev) != 0) {
        fail_msg(rc, "out of memory");
        goto out;
    }
    for (int row = 0; row < nrows; row++)
        rc->refs[row] = (struct lk_row_ref){PQgetvalue(events, row, 0), row};
    if (nrows > 1)
        qsort(rc->refs, (size_t)nrows, sizeof *rc->refs, ref_order);
    st->events_read += nrows;
    size_t k = 0; /* next row in pid order */
    for (size_t i = 0; i < n; i++) {
        while (k < (size_t)nrows && strcmp(rc->refs[k].pid, pids[i]) < 0)
            k++; /* a row of no child in the chunk: cannot happen, skip it */
        size_t m = 0;
        for (; k < (size_t)nrows && strcmp(rc->refs[k].pid, pids[i]) == 0; k++)
            fill_event(&rc->ev[m++], events, rc->refs[k].row);
        const unsigned char *stored = rc->known[i] ? rc->stored + i * LK_TABLES * DIGEST_LEN : NULL;
        if (derive_one(rc, pids[i], rc->ev, m, stored, st) != 0)
            goto out;
    }
    st->children += n;
    t0 = now_ms();
    ret = write_chunk(rc, conn);
    st->write_ms += now_ms() - t0;
out:
    PQclear(locked);
    PQclear(events);
    return ret;
}

int lk_recompute_run(lk_recompute *rc, PGconn *conn, char (*extra)[33], size_t n_extra, lk_recompute_stats *st)
{
    memset(st, 0, sizeof *st);
    rc->error[0] = '\0';
    rc->transient = false;
    /* Every statement below finds rows by pid through an index; the batch transaction runs with
     * enable_seqscan off (load.c), so their plans are made that way. Not prepared:
     * linker_touched is made by the first staging.apply_batch of the session. */
    PGresult *touched = PQexec(conn, SQL_TOUCHED);
    if (PQresultStatus(touched) != PGRES_TUPLES_OK)
        return fail(rc, conn, touched);
    size_t nt = (size_t)PQntuples(touched), n = 0;
    char **pids = malloc((nt + n_extra + 1) * sizeof *pids);
    if (!pids) {
        PQclear(touched);
        return fail_msg(rc, "out of memory");
    }
    for (size_t i = 0; i < nt; i++)
        pids[n++] = PQgetvalue(touched, (int)i, 0);
    for (size_t i = 0; i < n_extra; i++)
        pids[n++] = extra[i];
    if (n > 1)
        qsort(pids, n, sizeof *pids, str_order);
    size_t m = 0; /* a child of both lists once */
    for (size_t i = 0; i < n; i++)
        if (m == 0 || strcmp(pids[m - 1], pids[i]) != 0)
            pids[m++] = pids[i];
    int ret = 0;
    for (size_t at = 0; at < m && ret == 0; at += LK_CHUNK)
        ret = run_chunk(rc, conn, pids + at, m - at < LK_CHUNK ? m - at : LK_CHUNK, st);
    free(pids);
    PQclear(touched);
    return ret;
}
