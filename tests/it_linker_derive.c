/* The linker's derivation (daemons/jtm-linker/derive.c, recompute.c) against the SQL rules it
 * replaces on the hot path (wh.recompute_children_sql): a synthetic region with corrections,
 * withdrawals, duplicates and late events, pseudonymised as jtm-ingest does, is loaded through the
 * linker's load path (lk_load_batch) in shuffled batches; the same warehouse rebuilt by the SQL
 * rules must hold exactly the same rows in every derived table. Then: what the linker rewrites
 * when events change, and what it leaves alone. Needs the test PostgreSQL (ops/test.sh). */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eventlog.h"
#include "linker.h"
#include "testenv.h"
#include "transform.h"

#define CHILDREN 3000

static const char *const TABLES[] = {"care_episode", "episode_waiting", "route", "population_fact"};
#define NTABLES (sizeof TABLES / sizeof TABLES[0])

typedef struct events {
    char **json;
    const char **topic;
    size_t n, cap;
} events;

static void add_event(events *e, const char *json, size_t len, const char *topic)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4096;
        e->json = realloc(e->json, e->cap * sizeof *e->json);
        e->topic = realloc(e->topic, e->cap * sizeof *e->topic);
        cr_assert(e->json && e->topic);
    }
    e->json[e->n] = strndup(json, len);
    e->topic[e->n] = topic;
    e->n++;
}

/* jtm-synth's raw region, pseudonymised with the test key as jtm-ingest would. */
static void synth_region(events *out)
{
    char *dir = jtm_test_tmpdir();
    char *bin = jtm_test_bin("jtm-synth");
    char *cmd = NULL, *log = NULL;
    cr_assert_geq(asprintf(&cmd, "'%s' --out '%s' --children %d --seed 11 --corrections 0.05 --duplicates 0.02"
                                 " --late 0.03 2>&1", bin, dir, CHILDREN), 0);
    cr_assert_eq(jtm_test_sh(cmd, &log), 0, "jtm-synth failed: %s", log ? log : "");
    char err[512], *keypath = jtm_test_fixture("ingest/key.txt");
    FILE *kf = fopen(keypath, "rb");
    cr_assert_not_null(kf, "%s", keypath);
    char keybytes[256];
    size_t keylen = fread(keybytes, 1, sizeof keybytes, kf);
    fclose(kf);
    jtm_key *key = NULL;
    cr_assert_eq(jtm_key_from_bytes(keybytes, keylen, "ktest", &key, err, sizeof err), 0, "%s", err);
    static const char *const topics[3] = {"pseudo.jgz", "pseudo.verzuim", "pseudo.soj"};
    for (int f = 0; f < 3; f++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/schemas/raw.%s.schema.json", JTM_SOURCE_DIR, jtm_feed_name((jtm_feed)f));
        jtm_schema *schema = jtm_schema_load(path, err, sizeof err);
        cr_assert_not_null(schema, "%s", err);
        jtm_transform *t = jtm_transform_new((jtm_feed)f, key, schema);
        snprintf(path, sizeof path, "%s/raw.%s.ndjson", dir, jtm_feed_name((jtm_feed)f));
        FILE *in = fopen(path, "r");
        cr_assert_not_null(in, "%s", path);
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, in)) > 0) {
            jtm_transform_out o;
            if (jtm_transform_run(t, line, (size_t)(line[len - 1] == '\n' ? len - 1 : len), &o) == JTM_TRANSFORM_OK)
                add_event(out, o.json, o.len, topics[f]);
        }
        free(line);
        fclose(in);
        jtm_transform_free(t);
        jtm_schema_free(schema);
    }
    jtm_key_free(key);
    free(keypath);
    free(cmd);
    free(log);
    free(bin);
    free(dir);
}

/* A fixed permutation (LCG Fisher-Yates): arrival order is not the events' order. */
static void shuffle(events *e, unsigned seed)
{
    for (size_t i = e->n; i > 1; i--) {
        seed = seed * 1103515245u + 12345u;
        size_t j = (seed >> 8) % i;
        char *tj = e->json[j];
        const char *tp = e->topic[j];
        e->json[j] = e->json[i - 1];
        e->topic[j] = e->topic[i - 1];
        e->json[i - 1] = tj;
        e->topic[i - 1] = tp;
    }
}

static void events_free(events *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->json[i]);
    free(e->json);
    free(e->topic);
    memset(e, 0, sizeof *e);
}

static PGconn *connect_db(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

static long query_long(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    long v = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
              PQerrorMessage(c));
    PQclear(r);
}

/* Loads items [from, to) through the linker's path, in batches of `batch`; returns the stats sum.
 * validated: each message is validated first, as the daemon does (batch.c), so that new events take
 * the direct path (direct.c); otherwise every message goes through staging.apply_batch's upsert. */
static lk_apply_stats load_path(PGconn *c, const events *e, size_t from, size_t to, size_t batch, bool validated)
{
    lk_apply_stats sum;
    memset(&sum, 0, sizeof sum);
    lk_load l;
    lk_load_init(&l);
    jtm_jdoc doc;
    jtm_jdoc_init(&doc);
    sbuf scratch = {0};
    char err[1024];
    lk_schemas schemas;
    cr_assert_eq(lk_schemas_load(&schemas, JTM_SOURCE_DIR "/schemas", err, sizeof err), 0, "%s", err);
    for (size_t at = from; at < to; at += batch) {
        size_t n = to - at < batch ? to - at : batch;
        cr_assert_eq(lk_load_begin(&l, c, NULL), 0, "%s", l.error);
        for (size_t i = 0; i < n; i++) {
            const char *json = e->json[at + i];
            lk_item it = {.topic = e->topic[at + i], .offset = (int64_t)(at + i), .data = json, .len = strlen(json)};
            lk_envelope env;
            jtm_event ev;
            char reason[128];
            if (validated) {
                cr_assert_eq(lk_validate_envelope(&schemas, &doc, json, it.len, NULL, &env, reason, sizeof reason), 0,
                             "%s: %s", reason, json);
                if (jtm_event_from_doc(&doc, &ev, &scratch)) {
                    it.env = &env;
                    it.event = &ev;
                }
            }
            cr_assert_eq(lk_load_add(&l, &it), 0, "%s", l.error);
        }
        lk_apply_stats st;
        cr_assert_eq(lk_load_finish(&l, &st, err, sizeof err), LK_LOAD_OK, "%s", err);
        cr_assert_not(st.derived_in_sql, "the linker's derivation failed and fell back to SQL");
        cr_assert_eq(st.direct_fallbacks, 0);
        sum.loaded += st.loaded;
        sum.direct += st.direct;
        sum.children += st.children;
        sum.derive.children += st.derive.children;
        sum.derive.children_rewritten += st.derive.children_rewritten;
        sum.derive.rows_written += st.derive.rows_written;
        sum.derive.children_rebuilt += st.derive.children_rebuilt;
        sum.derive.events_logged += st.derive.events_logged;
    }
    jtm_jdoc_free(&doc);
    lk_schemas_free(&schemas);
    sb_free(&scratch);
    lk_load_free(&l);
    return sum;
}

static lk_apply_stats load_range(PGconn *c, const events *e, size_t from, size_t to, size_t batch)
{
    return load_path(c, e, from, to, batch, true);
}

/* Everything the linker stores and derives, as one text. Not the source position: of two identical
 * copies of an event (a resend), either may be the one whose position is recorded. */
static char *dump(PGconn *c)
{
    static const char q[] =
        "SELECT (SELECT md5(coalesce(string_agg((feed, event_id, pid, type, occurred_on, recorded_at, status,"
        "  withdrawn, gemeente, payload)::text, '|' ORDER BY feed, event_id), '')) FROM staging.event)"
        " || (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM wh.care_episode t)"
        " || (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM wh.route t)"
        " || (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM wh.episode_waiting t)"
        " || (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM wh.population_fact t)"
        " || ' ' || (SELECT count(*) FROM staging.event)";
    PGresult *r = PQexec(c, q);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    char *s = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return s;
}

/* The direct path (new events COPYed into staging.event) stores exactly what the upsert stores. */
Test(linker_derive, direct_and_upsert_paths_store_the_same, .timeout = 300)
{
    events e = {0};
    synth_region(&e);
    shuffle(&e, 7u);
    char *ca = jtm_test_create_db("linker", 1), *cb = jtm_test_create_db("linker", 1);
    PGconn *a = connect_db(ca), *b = connect_db(cb);
    char err[1024];
    cr_assert_eq(lk_session_init(a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(lk_session_init(b, err, sizeof err), 0, "%s", err);
    lk_apply_stats sa = load_path(a, &e, 0, e.n, 3001, true);
    lk_apply_stats sb = load_path(b, &e, 0, e.n, 3001, false);
    cr_assert_gt(sa.direct, (long)e.n / 2, "only %ld of %zu events went direct", sa.direct, e.n);
    cr_assert_eq(sb.direct, 0);
    /* versions written: the direct path may write a repeated event's first version before the upsert
     * writes the newer one, where the upsert alone keeps one version per event and batch */
    cr_assert_geq(sa.loaded, sb.loaded);
    char *da = dump(a), *db = dump(b);
    cr_assert_str_eq(da, db, "the direct path stored or derived something else than the upsert (databases %s, %s)",
                     PQdb(a), PQdb(b));
    free(da);
    free(db);
    PQfinish(a);
    PQfinish(b);
    free(ca);
    free(cb);
    events_free(&e);
}

/* Every derived row the linker wrote equals what the SQL rules write for the same events. */
Test(linker_derive, the_linkers_rows_equal_the_sql_rules, .timeout = 300)
{
    events e = {0};
    synth_region(&e);
    cr_assert_gt(e.n, (size_t)CHILDREN * 3, "only %zu pseudonymised events", e.n);
    shuffle(&e, 20261204u);
    char *conninfo = jtm_test_create_db("linker", 1);
    PGconn *c = connect_db(conninfo);
    char err[1024];
    cr_assert_eq(lk_session_init(c, err, sizeof err), 0, "%s", err);
    /* uneven batches: a child's events arrive over several of them, out of order */
    lk_apply_stats s1 = load_range(c, &e, 0, e.n / 3, 997);
    lk_apply_stats s2 = load_range(c, &e, e.n / 3, e.n, 4001);
    /* most children were derived from their logs and the batch's new events, the rest rebuilt
     * (corrections, withdrawals, resends) */
    long derived = s1.derive.children + s2.derive.children, rebuilt = s1.derive.children_rebuilt + s2.derive.children_rebuilt;
    cr_assert_gt(s2.derive.events_logged, 0);
    cr_assert(rebuilt > 0 && rebuilt * 4 < derived, "%ld of %ld derivations rebuilt", rebuilt, derived);

    PGconn *sql = connect_db(conninfo);
    exec_ok(sql, "CREATE SCHEMA linker_rows");
    long rows[NTABLES];
    for (size_t t = 0; t < NTABLES; t++) {
        char q[256];
        snprintf(q, sizeof q, "CREATE TABLE linker_rows.%s AS SELECT * FROM wh.%s", TABLES[t], TABLES[t]);
        exec_ok(sql, q);
        snprintf(q, sizeof q, "SELECT count(*) FROM linker_rows.%s", TABLES[t]);
        rows[t] = query_long(sql, q);
    }
    /* not vacuous: the region has episodes, waits, routes and facts of every kind */
    cr_assert_gt(rows[0], 500, "care_episode rows: %ld", rows[0]);
    cr_assert_gt(rows[1], 100, "episode_waiting rows: %ld", rows[1]);
    cr_assert_gt(rows[2], CHILDREN / 2, "route rows: %ld", rows[2]);
    cr_assert_gt(rows[3], CHILDREN, "population_fact rows: %ld", rows[3]);
    cr_assert_gt(query_long(sql, "SELECT count(*) FROM staging.event WHERE withdrawn"), 10);
    cr_assert_gt(query_long(sql, "SELECT count(*) FROM staging.event WHERE status = 2"), 10);
    cr_assert_gt(query_long(sql, "SELECT count(DISTINCT kind) FROM wh.population_fact"), 2);
    cr_assert_gt(query_long(sql, "SELECT count(*) FROM wh.route WHERE repeat_care"), 0);
    cr_assert_gt(query_long(sql, "SELECT count(*) FROM wh.care_episode WHERE rejected"), 0);

    /* the SQL rules, from scratch (this session does not derive in the linker) */
    exec_ok(sql, "TRUNCATE wh.care_episode, wh.episode_waiting, wh.route, wh.population_fact");
    exec_ok(sql, "SELECT wh.recompute_all()");
    for (size_t t = 0; t < NTABLES; t++) {
        char q[512];
        snprintf(q, sizeof q,
                 "SELECT (SELECT count(*) FROM (SELECT * FROM linker_rows.%s EXCEPT ALL SELECT * FROM wh.%s) a) * 1000000"
                 " + (SELECT count(*) FROM (SELECT * FROM wh.%s EXCEPT ALL SELECT * FROM linker_rows.%s) b)",
                 TABLES[t], TABLES[t], TABLES[t], TABLES[t]);
        long diff = query_long(sql, q);
        if (diff != 0) {
            snprintf(q, sizeof q,
                     "SELECT string_agg(s, E'\\n') FROM (SELECT 'linker ' || x::text AS s FROM (SELECT * FROM "
                     "linker_rows.%s EXCEPT ALL SELECT * FROM wh.%s) x LIMIT 5) a",
                     TABLES[t], TABLES[t]);
            PGresult *r = PQexec(sql, q);
            cr_log_error("%s", PQgetvalue(r, 0, 0));
            PQclear(r);
            snprintf(q, sizeof q,
                     "SELECT string_agg(s, E'\\n') FROM (SELECT 'sql    ' || x::text AS s FROM (SELECT * FROM "
                     "wh.%s EXCEPT ALL SELECT * FROM linker_rows.%s) x LIMIT 5) a",
                     TABLES[t], TABLES[t]);
            r = PQexec(sql, q);
            cr_log_error("%s", PQgetvalue(r, 0, 0));
            PQclear(r);
        }
        cr_expect_eq(diff, 0, "wh.%s: %ld rows only the linker wrote, %ld only the SQL rules", TABLES[t],
                     diff / 1000000, diff % 1000000);
    }
    PQfinish(sql);
    PQfinish(c);
    free(conninfo);
    events_free(&e);
}

/* Digests: a re-sent event that changes nothing derived rewrites nothing; a new invoice rewrites
 * only its child's episode rows; after the SQL rules ran, the linker trusts no digest it did not
 * write. */
Test(linker_derive, only_changed_rows_are_rewritten, .timeout = 300)
{
    events e = {0};
    synth_region(&e);
    char *conninfo = jtm_test_create_db("linker", 1);
    PGconn *c = connect_db(conninfo);
    char err[1024];
    cr_assert_eq(lk_session_init(c, err, sizeof err), 0, "%s", err);
    load_range(c, &e, 0, e.n, 5000);

    /* A later version of 200 invoices with nothing changed but recorded_at: loaded (the version
     * wins), the children derived, nothing they show changed. */
    PGresult *r = PQexec(c, "SELECT jsonb_set(payload, '{recorded_at}', '\"2026-01-01T00:00:00Z\"')::text FROM"
                            " staging.event WHERE type = 'invoice' AND NOT withdrawn ORDER BY event_id LIMIT 200");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    events again = {0};
    for (int i = 0; i < PQntuples(r); i++)
        add_event(&again, PQgetvalue(r, i, 0), strlen(PQgetvalue(r, i, 0)), "pseudo.soj");
    PQclear(r);
    lk_apply_stats st = load_range(c, &again, 0, again.n, again.n);
    cr_assert_eq(st.loaded, 200);
    cr_assert_gt(st.derive.children, 0);
    cr_assert_eq(st.derive.children_rewritten, 0, "%ld children rewritten for unchanged rows",
                 st.derive.children_rewritten);
    cr_assert_eq(st.derive.rows_written, 0);
    events_free(&again);

    /* A new debit on 50 allocations: those children's care_episode rows only. */
    r = PQexec(c, "SELECT jsonb_set(jsonb_set(payload, '{event_id}', to_jsonb(md5('extra:' || event_id))),"
                  " '{amount_cents}', '1')::text, pid FROM staging.event"
                  " WHERE type = 'invoice' AND NOT withdrawn ORDER BY event_id DESC LIMIT 50");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    for (int i = 0; i < PQntuples(r); i++)
        add_event(&again, PQgetvalue(r, i, 0), strlen(PQgetvalue(r, i, 0)), "pseudo.soj");
    PQclear(r);
    long episodes_of_them =
        query_long(c, "SELECT count(*) FROM wh.care_episode WHERE pid IN (SELECT pid FROM staging.event"
                      " WHERE type = 'invoice' AND NOT withdrawn ORDER BY event_id DESC LIMIT 50)");
    long children = query_long(c, "SELECT count(DISTINCT pid) FROM (SELECT pid FROM staging.event"
                                   " WHERE type = 'invoice' AND NOT withdrawn ORDER BY event_id DESC LIMIT 50) s");
    st = load_range(c, &again, 0, again.n, again.n);
    cr_assert_eq(st.loaded, 50);
    cr_assert_eq(st.derive.children, children);
    cr_assert_eq(st.derive.children_rewritten, children);
    cr_assert_eq(st.derive.rows_written, episodes_of_them, "rows written %ld, the children's episodes %ld",
                 st.derive.rows_written, episodes_of_them);
    events_free(&again);

    /* The SQL rules rewrite everything and forget the digests: the next derivation rewrites. */
    PGconn *sql = connect_db(conninfo);
    exec_ok(sql, "SELECT wh.recompute_all()");
    cr_assert_eq(query_long(sql, "SELECT count(*) FROM ops.linker_child WHERE route IS NOT NULL OR events IS NOT NULL"), 0);
    PQfinish(sql);
    r = PQexec(c, "SELECT jsonb_set(payload, '{recorded_at}', '\"2026-02-01T00:00:00Z\"')::text FROM"
                  " staging.event WHERE type = 'invoice' AND NOT withdrawn ORDER BY event_id LIMIT 20");
    for (int i = 0; i < PQntuples(r); i++)
        add_event(&again, PQgetvalue(r, i, 0), strlen(PQgetvalue(r, i, 0)), "pseudo.soj");
    PQclear(r);
    st = load_range(c, &again, 0, again.n, again.n);
    cr_assert_eq(st.derive.children_rewritten, st.derive.children);
    cr_assert_eq(query_long(c, "SELECT count(*) FROM wh.route r JOIN wh.route s USING (pid) WHERE r.ctid <> s.ctid"),
                 0, "a route row twice");
    events_free(&again);
    PQfinish(c);
    free(conninfo);
    events_free(&e);
}
