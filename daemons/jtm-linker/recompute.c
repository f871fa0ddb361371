/* Deriving a batch's touched children (derive.c) and writing what changed, inside the batch's
 * transaction, after staging.apply_batch.
 *
 * ops.linker_child keeps, per child, its non-withdrawn events in compact form (eventlog.h) and a
 * digest of its rows in each derived table. In chunks of LK_CHUNK children, in pid order:
 *   1. lock their ops.linker_child rows (FOR UPDATE, pid order) and read logs and digests;
 *   2. a child whose batch only added new events (the direct rows of direct.c) is derived from
 *      its log and those events. A child the upsert touched (a correction, withdrawal, move or
 *      resend: staging.apply_batch listed it in linker_touched), or whose log is unknown (NULL:
 *      written by the SQL rules, or from before logs were kept), is rebuilt from its stored events,
 *      read after the lock so that a child another worker just derived is read as committed;
 *   3. derive each child, hash the COPY text of its rows per table, keep the tables whose hash
 *      differs (or is unknown);
 *   4. DELETE those tables' rows of those children, COPY the new rows, save logs and digests.
 * Memory is bounded by the chunk (its logs, rebuilt events and new rows), not by the batch. */
#define OPENSSL_API_COMPAT 10101
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eventlog.h"
#include "grow.h"
#include "linker.h"
#include "pg.h"
#include "rows.h"

#define LK_CHUNK 1000
#define DIGEST_LEN 16
#define PG_EPOCH_DAYS 10957 /* 2000-01-01, PostgreSQL's day 0, in days since 1970-01-01 */

static const char SQL_TOUCHED[] = "SELECT DISTINCT pid FROM linker_touched";
static const char SQL_LOCK[] = "SELECT pid, events, episodes, waiting, route, facts FROM ops.linker_child "
                               "WHERE pid = ANY ($1::text[]) ORDER BY pid FOR UPDATE";
/* The columns derive.h's jtm_event holds, in this order (see fill_event). */
static const char SQL_EVENTS[] =
    "SELECT pid, feed, type, occurred_on, recorded_at, event_id, gemeente, f_reference, f_allocation_no, "
    "f_provider_agb, f_category, f_referrer, f_answer, f_outcome, f_allocated_on::date, f_start_date::date, "
    "f_end_date::date, f_end_reason, f_amount_cents::bigint, f_debit_credit, f_birth_ym "
    "FROM staging.event WHERE pid = ANY ($1::text[]) AND NOT withdrawn";
static const char SQL_SAVE[] =
    "INSERT INTO ops.linker_child AS c (pid, events, episodes, waiting, route, facts) "
    "SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[]) "
    "ON CONFLICT (pid) DO UPDATE SET events = EXCLUDED.events, episodes = EXCLUDED.episodes, "
    "waiting = EXCLUDED.waiting, route = EXCLUDED.route, facts = EXCLUDED.facts";
static const char *const STMT_DELETE[LK_TABLES] = {"lk_delete_episode", "lk_delete_waiting", "lk_delete_route",
                                                   "lk_delete_fact"};

/* One child of the batch. */
struct lk_child {
    const char *pid;
    bool slow;           /* the upsert touched it: rebuild */
    size_t first, count; /* its direct rows in the batch's news */
};

/* What ops.linker_child holds of one child of the chunk. */
struct lk_stored {
    bool row;       /* it has a row */
    bool digests;   /* all four digests known */
    const unsigned char *log;
    size_t log_len; /* log NULL: unknown */
    unsigned char digest[LK_TABLES][DIGEST_LEN];
};

struct lk_row_ref {
    const char *pid;
    int row;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ref_order(const void *a, const void *b)
{
    return strcmp(((const struct lk_row_ref *)a)->pid, ((const struct lk_row_ref *)b)->pid);
}

static int child_order(const void *a, const void *b)
{
    return strcmp(((const struct lk_child *)a)->pid, ((const struct lk_child *)b)->pid);
}

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
    lk_unassigned_free(&rc->unassigned);
    free(rc->ev);
    free(rc->refs);
    free(rc->stored);
    free(rc->children);
    sb_free(&rc->line);
    sb_free(&rc->log);
    sb_free(&rc->hex);
    lk_pgarray_free(&rc->pids);
    lk_pgarray_free(&rc->rebuild);
    lk_pgarray_free(&rc->save_pids);
    lk_pgarray_free(&rc->save_logs);
    for (int t = 0; t < LK_TABLES; t++) {
        sb_free(&rc->copy[t]);
        lk_pgarray_free(&rc->del[t]);
        lk_pgarray_free(&rc->save_digests[t]);
    }
    memset(rc, 0, sizeof *rc);
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
    return PQgetisnull(r, row, col) ? JTM_NO_DATE : be32(PQgetvalue(r, row, col)) + PG_EPOCH_DAYS;
}

/* One row of SQL_EVENTS (binary format) as an jtm_event; strings point into r. */
static void fill_event(jtm_event *e, const PGresult *r, int row)
{
    e->feed = jtm_event_feed_code(PQgetvalue(r, row, 1));
    e->type = jtm_event_type_code(PQgetvalue(r, row, 2));
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

static int exec_prepared(lk_recompute *rc, PGconn *conn, const char *stmt, int n, const char *const *values,
                         const int *lengths, const int *formats, int binary_result, PGresult **out)
{
    PGresult *r = PQexecPrepared(conn, stmt, n, values, lengths, formats, binary_result);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK)
        return fail(rc, conn, r);
    if (out)
        *out = r;
    else
        PQclear(r);
    return 0;
}

/* A prepared statement whose one parameter is the binary array a. */
static int exec_with_array(lk_recompute *rc, PGconn *conn, const char *stmt, lk_pgarray *a, PGresult **out)
{
    int len, fmt = 1;
    const char *v = lk_pgarray_value(a, &len);
    return exec_prepared(rc, conn, stmt, 1, &v, &len, &fmt, 1, out);
}

/* Derives one child and queues what changed (the caller filled rc->ev[0..n)). */
static int derive_one(lk_recompute *rc, const char *pid, size_t n, const struct lk_stored *stored,
                      lk_recompute_stats *st)
{
    if (lk_derive_child(&rc->dv, rc->ev, n) != 0)
        return fail_msg(rc, "derivation failed (out of memory, or an invoiced sum beyond bigint)");
    /* the log after the derivation: its events in the derivation's order, so one set of events
     * always gives the same bytes */
    jtm_eventlog_begin(&rc->log);
    for (size_t i = 0; i < n; i++)
        jtm_eventlog_append(&rc->log, &rc->ev[i]);
    bool save = !stored->row || !stored->log || stored->log_len != rc->log.len ||
                memcmp(stored->log, rc->log.s, rc->log.len) != 0;
    bool rows = false;
    unsigned char digest[LK_TABLES][SHA256_DIGEST_LENGTH];
    for (int t = 0; t < LK_TABLES; t++) {
        sb_clear(&rc->line);
        lk_rows_append(&rc->line, t, pid, &rc->dv);
        SHA256((const unsigned char *)sb_str(&rc->line), rc->line.len, digest[t]);
        const unsigned char *old = stored->digests ? stored->digest[t] : NULL;
        if (old && memcmp(old, digest[t], DIGEST_LEN) == 0)
            continue;
        rows = true;
        /* a table known to hold nothing of this child needs no DELETE */
        if (!old || memcmp(old, rc->empty_digest, DIGEST_LEN) != 0)
            lk_pgarray_add_str(&rc->del[t], pid);
        sb_putn(&rc->copy[t], sb_str(&rc->line), rc->line.len);
        lk_unassigned_scan(&rc->unassigned, sb_str(&rc->line), rc->line.len);
        for (const char *p = sb_str(&rc->line); *p; p++)
            st->rows_written += *p == '\n';
    }
    st->children_rewritten += rows;
    if (save || rows) {
        lk_pgarray_add_str(&rc->save_pids, pid);
        lk_pgarray_add(&rc->save_logs, rc->log.s, rc->log.len);
        for (int t = 0; t < LK_TABLES; t++)
            lk_pgarray_add(&rc->save_digests[t], digest[t], DIGEST_LEN);
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
    if (ok)
        PQclear(r);
    else
        fail(rc, conn, r);
    while ((r = PQgetResult(conn)))
        PQclear(r);
    return ok ? 0 : -1;
}

/* Writes the chunk's queued changes: deletes first, then the new rows, then logs and digests. */
static int write_chunk(lk_recompute *rc, PGconn *conn)
{
    for (int t = 0; t < LK_TABLES; t++)
        if (rc->del[t].n > 0 && exec_with_array(rc, conn, STMT_DELETE[t], &rc->del[t], NULL) != 0)
            return -1;
    for (int t = 0; t < LK_TABLES; t++)
        if (rc->copy[t].len > 0 && copy_rows(rc, conn, t) != 0)
            return -1;
    if (rc->save_pids.n == 0)
        return 0;
    const char *v[2 + LK_TABLES];
    int len[2 + LK_TABLES], fmt[2 + LK_TABLES];
    v[0] = lk_pgarray_value(&rc->save_pids, &len[0]);
    v[1] = lk_pgarray_value(&rc->save_logs, &len[1]);
    for (int t = 0; t < LK_TABLES; t++)
        v[2 + t] = lk_pgarray_value(&rc->save_digests[t], &len[2 + t]);
    for (int i = 0; i < 2 + LK_TABLES; i++)
        fmt[i] = 1;
    return exec_prepared(rc, conn, "lk_save", 2 + LK_TABLES, v, len, fmt, 0, NULL);
}

static void chunk_reset(lk_recompute *rc)
{
    lk_pgarray_reset(&rc->pids, LK_OID_TEXT);
    lk_pgarray_reset(&rc->rebuild, LK_OID_TEXT);
    lk_pgarray_reset(&rc->save_pids, LK_OID_TEXT);
    lk_pgarray_reset(&rc->save_logs, LK_OID_BYTEA);
    for (int t = 0; t < LK_TABLES; t++) {
        sb_clear(&rc->copy[t]);
        lk_pgarray_reset(&rc->del[t], LK_OID_TEXT);
        lk_pgarray_reset(&rc->save_digests[t], LK_OID_BYTEA);
    }
}

static int by_pid(const void *key, const void *elem)
{
    return strcmp(*(const char *const *)key, ((const struct lk_child *)elem)->pid);
}

/* What ops.linker_child holds of each of the chunk's children (r: SQL_LOCK's rows). */
static int read_stored(lk_recompute *rc, const PGresult *r, const struct lk_child *ch, size_t n)
{
    if (lk_grow((void **)&rc->stored, &rc->cap_stored, n, sizeof *rc->stored) != 0)
        return fail_msg(rc, "out of memory");
    memset(rc->stored, 0, n * sizeof *rc->stored);
    for (int row = 0; row < PQntuples(r); row++) {
        const char *pid = PQgetvalue(r, row, 0);
        const struct lk_child *at = bsearch(&pid, ch, n, sizeof *ch, by_pid);
        if (!at)
            continue;
        struct lk_stored *s = &rc->stored[at - ch];
        s->row = true;
        if (!PQgetisnull(r, row, 1)) {
            s->log = (const unsigned char *)PQgetvalue(r, row, 1);
            s->log_len = (size_t)PQgetlength(r, row, 1);
        }
        s->digests = true;
        for (int t = 0; t < LK_TABLES; t++) {
            if (PQgetisnull(r, row, 2 + t) || PQgetlength(r, row, 2 + t) != DIGEST_LEN) {
                s->digests = false;
                break;
            }
            memcpy(s->digest[t], PQgetvalue(r, row, 2 + t), DIGEST_LEN);
        }
    }
    return 0;
}

/* A child is rebuilt from staging.event when the upsert touched it or its log cannot be used. */
static bool needs_rebuild(const struct lk_child *c, const struct lk_stored *s)
{
    return c->slow || (s->row && (!s->log || s->log_len == 0 || s->log[0] != JTM_EVENTLOG_VERSION));
}

static int room_for(lk_recompute *rc, size_t n)
{
    return lk_grow((void **)&rc->ev, &rc->cap_ev, n + 1, sizeof *rc->ev);
}

/* One chunk: ch sorted by pid, n <= LK_CHUNK. */
static int run_chunk(lk_recompute *rc, PGconn *conn, const struct lk_child *ch, size_t n, const lk_new *news,
                     const char *entries, lk_recompute_stats *st)
{
    chunk_reset(rc);
    for (size_t i = 0; i < n; i++)
        lk_pgarray_add_str(&rc->pids, ch[i].pid);
    PGresult *locked = NULL, *events = NULL;
    int ret = -1;
    long long t0 = now_ms();
    if (exec_with_array(rc, conn, "lk_lock", &rc->pids, &locked) != 0 || read_stored(rc, locked, ch, n) != 0)
        goto out;
    size_t nrebuild = 0;
    for (size_t i = 0; i < n; i++)
        if (needs_rebuild(&ch[i], &rc->stored[i])) {
            lk_pgarray_add_str(&rc->rebuild, ch[i].pid);
            nrebuild++;
        }
    int nrows = 0;
    if (nrebuild > 0) {
        if (exec_with_array(rc, conn, "lk_events", &rc->rebuild, &events) != 0)
            goto out;
        nrows = PQntuples(events);
    }
    st->read_ms += now_ms() - t0;
    st->children_rebuilt += (long)nrebuild;
    st->events_read += nrows;
    if (lk_grow((void **)&rc->refs, &rc->cap_refs, (size_t)nrows + 1, sizeof *rc->refs) != 0) {
        fail_msg(rc, "out of memory");
        goto out;
    }
    for (int row = 0; row < nrows; row++)
        rc->refs[row] = (struct lk_row_ref){PQgetvalue(events, row, 0), row};
    if (nrows > 1)
        qsort(rc->refs, (size_t)nrows, sizeof *rc->refs, ref_order);
    size_t k = 0; /* next rebuilt row in pid order */
    for (size_t i = 0; i < n; i++) {
        const struct lk_stored *s = &rc->stored[i];
        size_t m = 0;
        if (needs_rebuild(&ch[i], s)) {
            while (k < (size_t)nrows && strcmp(rc->refs[k].pid, ch[i].pid) < 0)
                k++;
            size_t end = k;
            while (end < (size_t)nrows && strcmp(rc->refs[end].pid, ch[i].pid) == 0)
                end++;
            if (room_for(rc, end - k) != 0) {
                fail_msg(rc, "out of memory");
                goto out;
            }
            for (; k < end; k++)
                fill_event(&rc->ev[m++], events, rc->refs[k].row);
        } else {
            /* its log and the batch's new events of it */
            size_t bytes = s->log ? s->log_len : 0;
            for (size_t j = 0; j < ch[i].count; j++)
                bytes += news[ch[i].first + j].len;
            sb_clear(&rc->hex);
            sb_reserve(&rc->hex, jtm_eventlog_hex_room(bytes));
            if ((s->log && jtm_eventlog_decode(s->log, s->log_len, &rc->ev, &m, &rc->cap_ev, &rc->hex) != 0)) {
                fail_msg(rc, "a child's event log does not decode");
                goto out;
            }
            for (size_t j = 0; j < ch[i].count; j++) {
                const lk_new *nw = &news[ch[i].first + j];
                if (jtm_eventlog_decode_entries((const unsigned char *)entries + nw->off, nw->len, &rc->ev, &m,
                                               &rc->cap_ev, &rc->hex) != 0) {
                    fail_msg(rc, "a new event does not decode");
                    goto out;
                }
            }
            st->events_logged += (long)m;
        }
        if (derive_one(rc, ch[i].pid, m, s, st) != 0)
            goto out;
    }
    st->children += (long)n;
    t0 = now_ms();
    ret = write_chunk(rc, conn);
    st->write_ms += now_ms() - t0;
out:
    PQclear(locked);
    PQclear(events);
    return ret;
}

int lk_recompute_run(lk_recompute *rc, PGconn *conn, const lk_new *news, size_t n_news, const char *entries,
                     lk_recompute_stats *st)
{
    memset(st, 0, sizeof *st);
    rc->error[0] = '\0';
    rc->transient = false;
    /* Every statement below finds rows by pid through an index; the batch transaction runs with
     * enable_seqscan off (load.c), so their plans are made that way. Not prepared:
     * linker_touched is made by the first staging.apply_batch of the session. */
    char ignore[8];
    lk_unassigned_take(&rc->unassigned, ignore); /* what a failed batch counted */
    if (lk_unassigned_refresh(&rc->unassigned, conn, now_ms(), rc->error, sizeof rc->error) != 0) {
        rc->transient = lk_pg_transient(conn, NULL);
        return -1;
    }
    PGresult *touched = PQexec(conn, SQL_TOUCHED);
    if (PQresultStatus(touched) != PGRES_TUPLES_OK)
        return fail(rc, conn, touched);
    size_t nt = (size_t)PQntuples(touched), n = 0;
    if (lk_grow((void **)&rc->children, &rc->cap_children, nt + n_news + 1, sizeof *rc->children) != 0) {
        PQclear(touched);
        return fail_msg(rc, "out of memory");
    }
    struct lk_child *ch = rc->children;
    for (size_t i = 0; i < nt; i++)
        ch[n++] = (struct lk_child){PQgetvalue(touched, (int)i, 0), true, 0, 0};
    for (size_t i = 0; i < n_news;) { /* news are sorted by pid: one child per run */
        size_t j = i;
        while (j < n_news && strcmp(news[j].pid, news[i].pid) == 0)
            j++;
        ch[n++] = (struct lk_child){news[i].pid, false, i, j - i};
        i = j;
    }
    if (n > 1)
        qsort(ch, n, sizeof *ch, child_order);
    size_t m = 0; /* a child of both lists once: rebuilt, and its direct rows are in staging.event */
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && strcmp(ch[m - 1].pid, ch[i].pid) == 0) {
            ch[m - 1].slow = true;
            continue;
        }
        ch[m++] = ch[i];
    }
    int ret = 0;
    for (size_t at = 0; at < m && ret == 0; at += LK_CHUNK)
        ret = run_chunk(rc, conn, ch + at, m - at < LK_CHUNK ? m - at : LK_CHUNK, news, entries, st);
    PQclear(touched);
    st->rows_unassigned = lk_unassigned_take(&rc->unassigned, st->unassigned_code);
    return ret;
}
