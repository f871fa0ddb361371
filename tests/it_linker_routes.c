/* Linked facts of hand-made children (tests/fixtures/linker/make_fixtures.py tells their stories),
 * loaded through the linker's SQL path (staging.apply_batch, via staging.load_ndjson): the exact
 * rows of wh.care_episode, wh.route and monitor.waiting_list_weekly; the same tables whatever the
 * order, batching and duplication of the events; and the C load path (lk_load_batch) with Kafka
 * positions and a message PostgreSQL refuses. Needs the test PostgreSQL (ops/test.sh). */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linker.h"
#include "testenv.h"

#define CHILDREN "(VALUES ('A'), ('B'), ('C'), ('D'), ('E'), ('G')) c(l)"

static const char *Q_EPISODES =
    "SELECT coalesce(string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s', c.l, e.gemeente, e.category,"
    " e.provider_agb, e.referrer, e.requested_on, e.allocated_on, e.started_on, e.ended_on, e.end_reason,"
    " e.rejected, e.decision_days, e.start_days, e.invoiced_cents), E'\\n'"
    " ORDER BY c.l, coalesce(e.requested_on, e.allocated_on)), '')"
    " FROM wh.care_episode e JOIN " CHILDREN " ON e.pid = md5('bsn:' || c.l)";
static const char *Q_ROUTES =
    "SELECT coalesce(string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s', c.l, r.gemeente, r.path, r.first_signal_on,"
    " r.first_care_on, r.days_signal_to_care, r.episodes, r.repeat_care), E'\\n' ORDER BY c.l), '')"
    " FROM wh.route r JOIN " CHILDREN " ON r.pid = md5('bsn:' || c.l)";
static const char *Q_WAITING =
    "SELECT coalesce(string_agg(format('%s|%s|%s|%s', week_start, gemeente, category, waiting), E'\\n'"
    " ORDER BY gemeente, category, week_start), '')"
    " FROM monitor.waiting_list_weekly WHERE week_start < '2024-10-01'";
/* Everything the linker derives, as one text per relation, for whole-warehouse comparisons. */
static const char *Q_DUMP =
    "SELECT (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM wh.care_episode t)"
    " || (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM wh.route t)"
    " || (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM wh.episode_waiting t)"
    " || (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM wh.population_fact t)"
    " || (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM wh.population_month t)"
    " || (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM monitor.waiting_list_weekly t)"
    " || (SELECT md5(coalesce(string_agg((feed, event_id, pid, type, occurred_on, recorded_at, status, withdrawn,"
    "      payload)::text, '|' ORDER BY feed, event_id), '')) FROM staging.event)";

/* The corrections the tests send, as SQL over the loaded warehouse: A's second start withdrawn,
 * then changed back (status 2), and B's request moved to child G. */
#define A_STA2 " FROM staging.event WHERE event_id = md5('event:soj:A-sta2')"
#define WITHDRAWN "jsonb_set(jsonb_set(payload, '{status}', '3'), '{recorded_at}', '\"2024-09-10T08:00:00Z\"')::text"
#define REINSTATED "jsonb_set(jsonb_set(payload, '{status}', '2'), '{recorded_at}', '\"2024-09-11T08:00:00Z\"')::text"
#define B_REQ1 " FROM staging.event WHERE event_id = md5('event:soj:B-req1')"
#define MOVED_TO_G                                                                                       \
    "jsonb_set(jsonb_set(jsonb_set(payload, '{status}', '2'), '{recorded_at}', '\"2024-03-05T08:00:00Z\"'),"   \
    " '{pid}', to_jsonb(md5('bsn:G')))::text"

static char *read_fixture(const char *name)
{
    char *path = jtm_test_fixture(name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0'; /* expected files end with a newline, query results do not */
    fclose(f);
    free(path);
    return buf;
}

static PGconn *fresh_db(void)
{
    char *conninfo = jtm_test_create_db("linker", 1);
    PGconn *c = PQconnectdb(conninfo);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    free(conninfo);
    PGresult *r = PQexec(c, "SET client_min_messages = warning");
    PQclear(r);
    return c;
}

static char *query_text(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    char *s = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return s;
}

static long query_long(PGconn *c, const char *sql)
{
    char *s = query_text(c, sql);
    long v = atol(s);
    free(s);
    return v;
}

/* Loads ndjson (lines) as one batch; returns staging.load_ndjson's "loaded". */
static long load(PGconn *c, const char *ndjson)
{
    const char *params[1] = {ndjson};
    PGresult *r = PQexecParams(c, "SELECT loaded FROM staging.load_ndjson($1)", 1, NULL, params, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "load: %s", PQerrorMessage(c));
    long n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* Splits a fixture into lines (in place); returns the count. */
static size_t split_lines(char *text, char **lines, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    return n;
}

/* Loads the lines one batch per event, in the order given by step (+1 forward, -1 backward). */
static void load_each(PGconn *c, char **lines, size_t n, int step)
{
    for (size_t k = 0; k < n; k++)
        load(c, lines[step > 0 ? k : n - 1 - k]);
}

static void assert_expected(PGconn *c)
{
    char *want = read_fixture("linker/expected_care_episode.txt");
    char *got = query_text(c, Q_EPISODES);
    cr_assert_str_eq(got, want, "wh.care_episode\n--- got ---\n%s\n--- want ---\n%s", got, want);
    free(want);
    free(got);
    want = read_fixture("linker/expected_route.txt");
    got = query_text(c, Q_ROUTES);
    cr_assert_str_eq(got, want, "wh.route\n--- got ---\n%s\n--- want ---\n%s", got, want);
    free(want);
    free(got);
    want = read_fixture("linker/expected_waiting_list.txt");
    got = query_text(c, Q_WAITING);
    cr_assert_str_eq(got, want, "monitor.waiting_list_weekly\n--- got ---\n%s\n--- want ---\n%s", got, want);
    free(want);
    free(got);
    /* After the fixed range every series runs, without gaps, to the current week: 0 everywhere
     * except D's crisis episode (GM0482, 46), whose start was withdrawn, so it still waits. */
    cr_assert_eq(query_long(c, "SELECT count(*) FROM monitor.waiting_list_weekly WHERE week_start >= '2024-10-01'"
                               " AND waiting <> CASE WHEN gemeente = 'GM0482' AND category = '46' THEN 1 ELSE 0 END"),
                 0);
    cr_assert_eq(query_long(c, "SELECT count(*) FROM (SELECT gemeente, category FROM monitor.waiting_list_weekly"
                               " GROUP BY 1, 2 HAVING max(week_start) <> date_trunc('week', current_date)::date"
                               " OR count(*) <> (max(week_start) - min(week_start)) / 7 + 1) s"),
                 0);
    cr_assert_eq(query_long(c, "SELECT count(DISTINCT (gemeente, category)) FROM monitor.waiting_list_weekly"), 4);
}

Test(linker_routes, scenarios_exact_rows)
{
    PGconn *c = fresh_db();
    char *all = read_fixture("linker/scenarios.ndjson");
    /* 29 lines: 4 are superseded versions or withdrawals of an event already in the file */
    cr_assert_eq(load(c, all), 25);
    assert_expected(c);
    /* a second delivery of everything changes nothing */
    cr_assert_eq(load(c, all), 0);
    assert_expected(c);
    cr_assert_eq(query_long(c, "SELECT count(*) FROM staging.event WHERE withdrawn"), 2);
    free(all);
    PQfinish(c);
}

Test(linker_routes, order_batching_and_duplicates_do_not_matter)
{
    PGconn *a = fresh_db(), *b = fresh_db(), *d = fresh_db(), *e = fresh_db();
    char *all = read_fixture("linker/scenarios.ndjson");
    char *shuffled = read_fixture("linker/shuffled.ndjson");
    load(a, all);
    load(b, shuffled); /* another order, with duplicates, one batch */
    char *lines[128];
    char *copy = strdup(all);
    size_t n = split_lines(copy, lines, 128);
    cr_assert_eq(n, 29);
    load_each(d, lines, n, -1); /* one event per batch, backwards: every status 1 after its status 2/3 */
    char *copy2 = strdup(shuffled);
    n = split_lines(copy2, lines, 128);
    load_each(e, lines, n, +1);
    assert_expected(b);
    assert_expected(d);
    assert_expected(e);
    char *da = query_text(a, Q_DUMP), *db = query_text(b, Q_DUMP), *dd = query_text(d, Q_DUMP),
         *de = query_text(e, Q_DUMP);
    cr_assert_str_eq(db, da, "shuffled with duplicates differs from in order");
    cr_assert_str_eq(dd, da, "one per batch backwards differs from in order");
    cr_assert_str_eq(de, da, "shuffled one per batch differs from in order");
    free(da);
    free(db);
    free(dd);
    free(de);
    free(copy);
    free(copy2);
    free(all);
    free(shuffled);
    PQfinish(a);
    PQfinish(b);
    PQfinish(d);
    PQfinish(e);
}

Test(linker_routes, withdrawal_and_reinstatement)
{
    PGconn *c = fresh_db();
    char *all = read_fixture("linker/scenarios.ndjson");
    load(c, all);
    /* Withdraw A's second start (a later status 3): the VERBLIJF episode is no longer started, so the
     * path, the episode count and repeat care change, and A waits again from 2024-08-01. */
    const char *withdraw = "SELECT staging.load_ndjson(" WITHDRAWN ")" A_STA2;
    free(query_text(c, withdraw));
    char *route = query_text(c, "SELECT format('%s|%s|%s', path, episodes, repeat_care) FROM wh.route"
                                " WHERE pid = md5('bsn:A')");
    cr_assert_str_eq(route, "JGZ>VERZUIM>AMB|1|f");
    free(route);
    cr_assert_eq(query_long(c, "SELECT waiting FROM monitor.waiting_list_weekly WHERE gemeente = 'GM0505'"
                               " AND category = '43' AND week_start = '2024-09-30'"),
                 1);
    /* ... and a later status 2 of the same start brings it back: the original result */
    const char *reinstate = "SELECT staging.load_ndjson(" REINSTATED ")" A_STA2;
    free(query_text(c, reinstate));
    assert_expected(c);
    free(all);
    PQfinish(c);
}

Test(linker_routes, correction_moves_event_to_another_child)
{
    PGconn *c = fresh_db();
    char *all = read_fixture("linker/scenarios.ndjson");
    load(c, all);
    /* B's request corrected (status 2) to child G: B loses its episode and route, G gains it. */
    const char *move = "SELECT staging.load_ndjson(" MOVED_TO_G ")" B_REQ1;
    free(query_text(c, move));
    cr_assert_eq(query_long(c, "SELECT count(*) FROM wh.care_episode WHERE pid = md5('bsn:B')"), 0);
    cr_assert_eq(query_long(c, "SELECT count(*) FROM wh.care_episode WHERE pid = md5('bsn:G')"), 1);
    /* B's answer still exists, so B keeps a route row; G's episode is not rejected (the answer is B's) */
    cr_assert_eq(query_long(c, "SELECT count(*) FROM wh.route WHERE pid = md5('bsn:B')"), 1);
    cr_assert_eq(query_long(c, "SELECT count(*) FROM wh.care_episode WHERE pid = md5('bsn:G') AND NOT rejected"), 1);
    free(all);
    PQfinish(c);
}

/* The C load path: Kafka positions are stored with the data, a replay is skipped, a message that
 * passes the linker's checks but that PostgreSQL refuses is dead-lettered and the rest goes on. */
Test(linker_routes, load_batch_offsets_and_dead_letters)
{
    char *conninfo = jtm_test_create_db("linker", 1);
    PGconn *c = PQconnectdb(conninfo);
    cr_assert_eq(PQstatus(c), CONNECTION_OK);
    char err[1024];
    cr_assert_eq(lk_session_init(c, err, sizeof err), 0, "%s", err);
    char *all = read_fixture("linker/scenarios.ndjson");
    char *lines[128];
    size_t n = split_lines(all, lines, 128);
    lk_item items[132];
    memset(items, 0, sizeof items);
    for (size_t i = 0; i < n; i++) {
        items[i].topic = "t.soj";
        items[i].partition = 0;
        items[i].offset = 100 + (long)i;
        items[i].data = lines[i];
        items[i].len = strlen(lines[i]);
    }
    /* a message the checks pass (dates are only checked where the recompute reads them) but
     * PostgreSQL refuses: an invoice whose amount overflows bigint */
    static const char refused[] =
        "{\"event_id\":\"0123456789abcdef0123456789abcdef\",\"feed\":\"soj\",\"type\":\"invoice\","
        "\"occurred_on\":\"2024-04-05\",\"recorded_at\":\"2024-04-05T08:00:00Z\",\"status\":1,"
        "\"pid\":\"0123456789abcdef0123456789abcdef\",\"client\":{\"gemeente\":\"GM0505\"},"
        "\"allocation_no\":\"0123456789abcdef0123456789abcdef\",\"product\":{\"category\":\"45\",\"code\":\"X\"},"
        "\"amount_cents\":99999999999999999999999,"
        "\"debit_credit\":\"D\"}";
    items[n] = (lk_item){.topic = "t.soj", .offset = 100 + (long)n, .data = refused, .len = strlen(refused)};
    /* one the checks refuse */
    items[n + 1] = (lk_item){.topic = "t.soj", .offset = 101 + (long)n, .data = "{\"event_id\":1}", .len = 14,
                             .reject = strdup("schema:invalid:event_id")};
    /* a second refused message, so that the bisection has two culprits in different halves */
    static const char refused2[] =
        "{\"event_id\":\"fedcba9876543210fedcba9876543210\",\"feed\":\"soj\",\"type\":\"invoice\","
        "\"occurred_on\":\"2024-04-06\",\"recorded_at\":\"2024-04-06T08:00:00Z\",\"status\":1,"
        "\"pid\":\"fedcba9876543210fedcba9876543210\",\"client\":{\"gemeente\":\"GM0505\"},"
        "\"allocation_no\":\"fedcba9876543210fedcba9876543210\",\"product\":{\"category\":\"45\",\"code\":\"X\"},"
        "\"amount_cents\":-99999999999999999999999,"
        "\"debit_credit\":\"C\"}";
    memmove(&items[1], &items[0], (n + 2) * sizeof items[0]);
    items[0] = (lk_item){.topic = "t.soj", .offset = 99, .data = refused2, .len = strlen(refused2)};
    size_t total = n + 3;
    lk_apply_stats st;
    cr_assert_eq(lk_load_batch(c, "g", items, total, &st, err, sizeof err), LK_LOAD_OK, "%s", err);
    cr_assert_eq(st.loaded, 25);
    cr_assert_eq(st.dead_lettered, 3);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM ops.linker_dead_letter WHERE \"offset\" = %ld AND reason LIKE 'pg:22003 %%'",
             100 + (long)n);
    cr_assert_eq(query_long(c, sql), 1, "the refused invoice is dead-lettered with its SQLSTATE");
    cr_assert_eq(query_long(c, "SELECT count(*) FROM ops.linker_dead_letter WHERE \"offset\" = 99"
                               " AND reason LIKE 'pg:22003 %'"),
                 1, "so is the second one");
    cr_assert_eq(query_long(c, "SELECT next_offset FROM ops.kafka_offset WHERE consumer_group = 'g'"
                               " AND topic = 't.soj' AND partition = 0"),
                 102 + (long)n);
    cr_assert_eq(query_long(c, "SELECT count(*) FROM ops.linker_dead_letter WHERE reason LIKE 'pg:%'"), 2);
    cr_assert_eq(query_long(c, "SELECT count(*) FROM ops.linker_dead_letter WHERE reason = 'schema:invalid:event_id'"),
                 1);
    assert_expected(c);
    /* the same batch again (a replay after a crash before the consumer moved on): all skipped */
    cr_assert_eq(lk_load_batch(c, "g", items, total, &st, err, sizeof err), LK_LOAD_OK, "%s", err);
    cr_assert_eq(st.skipped, (long)total);
    cr_assert_eq(st.loaded, 0);
    cr_assert_eq(query_long(c, "SELECT count(*) FROM ops.linker_dead_letter"), 3);
    assert_expected(c);
    for (size_t i = 0; i < total; i++)
        free(items[i].reject);
    free(all);
    free(conninfo);
    PQfinish(c);
}

/* The linker's own derivation (lk_session_init turns it on for the connection): the same stories
 * through lk_load_batch, in the orders and batchings above, give the expected rows and the same
 * warehouse as the SQL rules. */
static PGconn *linker_db(void)
{
    PGconn *c = fresh_db();
    char err[1024];
    cr_assert_eq(lk_session_init(c, err, sizeof err), 0, "%s", err);
    return c;
}

/* Loads lines[0..n) through the linker's load path, `per` messages a batch, no Kafka positions. */
static void load_c(PGconn *c, char **lines, size_t n, size_t per)
{
    lk_item items[128];
    char err[1024];
    cr_assert_leq(per, 128);
    for (size_t at = 0; at < n; at += per) {
        size_t m = n - at < per ? n - at : per;
        for (size_t i = 0; i < m; i++)
            items[i] = (lk_item){.topic = "t.soj", .offset = (int64_t)(at + i), .data = lines[at + i],
                                 .len = strlen(lines[at + i])};
        lk_apply_stats st;
        cr_assert_eq(lk_load_batch(c, NULL, items, m, &st, err, sizeof err), LK_LOAD_OK, "%s", err);
        cr_assert_not(st.derived_in_sql);
    }
}

/* One event given as SQL over the loaded warehouse, through the linker's path. */
static void load_c_query(PGconn *c, const char *sql)
{
    char *line = query_text(c, sql);
    load_c(c, &line, 1, 1);
    free(line);
}

Test(linker_routes, the_linkers_derivation_gives_the_same_warehouse)
{
    PGconn *ref = fresh_db(), *a = linker_db(), *b = linker_db(), *d = linker_db(), *e = linker_db();
    char *all = read_fixture("linker/scenarios.ndjson");
    char *shuffled = read_fixture("linker/shuffled.ndjson");
    load(ref, all); /* the SQL rules */
    char *lines[128], *copy = strdup(all), *copy2 = strdup(shuffled);
    size_t n = split_lines(copy, lines, 128);
    char *back[128];
    for (size_t i = 0; i < n; i++)
        back[i] = lines[n - 1 - i];
    load_c(a, lines, n, n);    /* one batch, in order */
    load_c(d, back, n, 1);     /* one event per batch, backwards */
    char *slines[128];
    size_t sn = split_lines(copy2, slines, 128);
    load_c(b, slines, sn, sn); /* shuffled with duplicates, one batch */
    load_c(e, slines, sn, 3);  /* shuffled, batches of three */
    char *want = query_text(ref, Q_DUMP);
    PGconn *all_c[] = {a, b, d, e};
    const char *what[] = {"one batch in order", "shuffled with duplicates", "one per batch backwards",
                          "shuffled in batches of three"};
    for (int i = 0; i < 4; i++) {
        assert_expected(all_c[i]);
        char *got = query_text(all_c[i], Q_DUMP);
        cr_assert_str_eq(got, want, "%s: the linker's warehouse differs from the SQL rules'", what[i]);
        free(got);
    }
    /* a second delivery of everything changes nothing */
    load_c(a, lines, n, n);
    assert_expected(a);
    free(want);
    free(copy);
    free(copy2);
    free(all);
    free(shuffled);
    PQfinish(ref);
    PQfinish(a);
    PQfinish(b);
    PQfinish(d);
    PQfinish(e);
}

Test(linker_routes, the_linkers_derivation_follows_withdrawals_and_moves)
{
    PGconn *c = linker_db();
    char *all = read_fixture("linker/scenarios.ndjson");
    char *lines[128];
    size_t n = split_lines(all, lines, 128);
    load_c(c, lines, n, n);
    load_c_query(c, "SELECT " WITHDRAWN A_STA2);
    char *route = query_text(c, "SELECT format('%s|%s|%s', path, episodes, repeat_care) FROM wh.route"
                                " WHERE pid = md5('bsn:A')");
    cr_assert_str_eq(route, "JGZ>VERZUIM>AMB|1|f");
    free(route);
    cr_assert_eq(query_long(c, "SELECT waiting FROM monitor.waiting_list_weekly WHERE gemeente = 'GM0505'"
                               " AND category = '43' AND week_start = '2024-09-30'"),
                 1);
    load_c_query(c, "SELECT " REINSTATED A_STA2);
    assert_expected(c);
    /* B's request corrected to child G: B loses its episode, G gains it, on both sides at once */
    load_c_query(c, "SELECT " MOVED_TO_G B_REQ1);
    cr_assert_eq(query_long(c, "SELECT count(*) FROM wh.care_episode WHERE pid = md5('bsn:B')"), 0);
    cr_assert_eq(query_long(c, "SELECT count(*) FROM wh.care_episode WHERE pid = md5('bsn:G') AND NOT rejected"), 1);
    cr_assert_eq(query_long(c, "SELECT count(*) FROM wh.route WHERE pid = md5('bsn:B')"), 1);
    /* and the SQL rules agree with all of it */
    char *mine = query_text(c, Q_DUMP);
    PGresult *r = PQexec(c, "SET jtm.derive_in_linker = off");
    PQclear(r);
    free(query_text(c, "SELECT wh.recompute_all()::text"));
    char *sql = query_text(c, Q_DUMP);
    cr_assert_str_eq(mine, sql, "after withdrawals and moves the linker's rows differ from the SQL rules'");
    free(mine);
    free(sql);
    free(all);
    PQfinish(c);
}
