/* jtm-synth (jtm_synth_lib): determinism, contract conformance (JSON Schemas in schemas/ plus the
 * BSN 11-test), realism (about 1 in 7 children in care in a year), references that resolve, time
 * order, the waiting-list spike, malformed events, and the command line's exit codes. Small regions
 * so the whole file runs in a few seconds. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bsn.h"
#include "date.h"
#include "schema.h"
#include "out.h"
#include "synth.h"
#include "testenv.h"

typedef struct mem_out {
    char *buf[SYNTH_FEEDS];
    size_t len[SYNTH_FEEDS], cap[SYNTH_FEEDS];
    size_t lines;
} mem_out;

static int mem_write(void *ctx, int feed, const char *key, size_t keylen, const char *json, size_t len,
                     char *errstr, size_t errlen)
{
    mem_out *m = ctx;
    if (m->len[feed] + len + 2 > m->cap[feed]) {
        m->cap[feed] = (m->len[feed] + len + 2) * 2;
        m->buf[feed] = realloc(m->buf[feed], m->cap[feed]);
        cr_assert_not_null(m->buf[feed]);
    }
    memcpy(m->buf[feed] + m->len[feed], json, len);
    m->len[feed] += len;
    m->buf[feed][m->len[feed]++] = '\n';
    m->buf[feed][m->len[feed]] = '\0';
    m->lines++;
    cr_assert(keylen > 0 && keylen < 64, "key length %zu", keylen);
    return 0;
}

static void mem_free(mem_out *m)
{
    for (int i = 0; i < SYNTH_FEEDS; i++)
        free(m->buf[i]);
    memset(m, 0, sizeof *m);
}

static void small(synth_params *p, long children, int years)
{
    synth_params_default(p);
    p->children = children;
    p->years = years;
}

static void run(const synth_params *p, mem_out *m, synth_stats *st)
{
    memset(m, 0, sizeof *m);
    synth_writer w = {mem_write, m};
    char err[512] = "";
    cr_assert_eq(synth_run(p, &w, st, err, sizeof err), 0, "synth_run: %s", err);
}

/* Calls fn for every line (of one feed, or all when only_feed < 0) as parsed JSON (NULL when it
 * does not parse). */
typedef void (*line_fn)(int feed, const char *line, size_t len, json_t *j, void *ctx);
static void each_line_of(const mem_out *m, int only_feed, line_fn fn, void *ctx)
{
    for (int feed = 0; feed < SYNTH_FEEDS; feed++) {
        const char *s = m->buf[feed];
        if (only_feed >= 0 && feed != only_feed)
            continue;
        if (!s)
            continue;
        while (*s) {
            const char *nl = strchr(s, '\n');
            size_t len = (size_t)(nl - s);
            json_t *j = json_loadb(s, len, 0, NULL);
            fn(feed, s, len, j, ctx);
            json_decref(j);
            s = nl + 1;
        }
    }
}

static void each_line(const mem_out *m, line_fn fn, void *ctx) { each_line_of(m, -1, fn, ctx); }

static const char *sget(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

Test(synth, same_seed_same_bytes_other_seed_differs)
{
    synth_params p;
    small(&p, 1500, 2);
    p.dirty = 0.01;
    mem_out a, b, c;
    run(&p, &a, NULL);
    run(&p, &b, NULL);
    for (int f = 0; f < SYNTH_FEEDS; f++) {
        cr_assert_gt(a.len[f], 0, "feed %s empty", synth_feed_names[f]);
        cr_assert_eq(a.len[f], b.len[f]);
        cr_assert(memcmp(a.buf[f], b.buf[f], a.len[f]) == 0, "feed %s differs between runs", synth_feed_names[f]);
    }
    p.seed = 2;
    run(&p, &c, NULL);
    int differs = 0;
    for (int f = 0; f < SYNTH_FEEDS; f++)
        differs |= a.len[f] != c.len[f] || memcmp(a.buf[f], c.buf[f], a.len[f]) != 0;
    cr_assert(differs, "seed 2 gave the same output as seed 1");
    mem_free(&a);
    mem_free(&b);
    mem_free(&c);
}

typedef struct conform_ctx {
    jtm_schema *schema[SYNTH_FEEDS];
    size_t n, placeholders;
    char last_ts[SYNTH_FEEDS][32];
    json_t *seen; /* event_id -> true, per feed prefix */
} conform_ctx;

static void check_conform(int feed, const char *line, size_t len, json_t *j, void *vctx)
{
    conform_ctx *c = vctx;
    cr_assert_not_null(j, "not JSON: %.*s", (int)len, line);
    c->n++;
    char reason[256];
    if (c->schema[feed])
        cr_assert_eq(jtm_schema_validate(c->schema[feed], j, reason, sizeof reason), 0, "%s: %.*s", reason, (int)len, line);
    /* Required fields checked by hand too (the schema files may change under us). */
    static const char *const env[] = {"event_id", "feed", "type", "occurred_on", "recorded_at"};
    for (int i = 0; i < 5; i++)
        cr_assert_not_null(sget(j, env[i]), "missing %s: %.*s", env[i], (int)len, line);
    cr_assert_str_eq(sget(j, "feed"), synth_feed_names[feed]);
    cr_assert(json_is_integer(json_object_get(j, "status")));
    json_t *client = json_object_get(j, "client");
    const char *bsn = sget(client, "bsn");
    cr_assert_not_null(bsn);
    char norm[10];
    jtm_bsn_status bs = jtm_bsn_check(bsn, strlen(bsn), norm);
    cr_assert(bs == JTM_BSN_VALID || bs == JTM_BSN_PLACEHOLDER, "bad BSN %s", bsn);
    c->placeholders += bs == JTM_BSN_PLACEHOLDER;
    jtm_date d;
    const char *bd = sget(client, "birth_date"), *occ = sget(j, "occurred_on"), *pc = sget(client, "postcode");
    cr_assert(bd && jtm_date_parse(bd, strlen(bd), &d) == 0);
    cr_assert(occ && jtm_date_parse(occ, strlen(occ), &d) == 0);
    cr_assert(jtm_datetime_check(sget(j, "recorded_at"), strlen(sget(j, "recorded_at"))) == 0);
    cr_assert(pc && (strlen(pc) == 6 || (strlen(pc) == 7 && pc[4] == ' ')), "postcode %s", pc);
    cr_assert(strncmp(sget(client, "gemeente"), "GM", 2) == 0);
    static const char *const req[SYNTH_TYPES][8] = {
        {"moment", "outcome"}, {"domain"}, {"to"}, {"trigger", "advice"},
        {"kind", "start_date", "school_brin", "school_type"}, {"article", "valid_from"}, {"melding_ref", "outcome"},
        {"reference", "provider_agb", "requested_start", "referrer"}, {"reference", "answer"},
        {"allocation_no", "provider_agb", "allocated_on", "valid_from", "unit", "frequency"},
        {"allocation_no", "start_date"}, {"allocation_no", "start_date", "end_date", "end_reason"},
        {"invoice_no", "allocation_no", "period_start", "period_end", "unit", "debit_credit"}};
    int type = -1;
    for (int t = 0; t < SYNTH_TYPES; t++)
        if (strcmp(sget(j, "type"), synth_type_names[t]) == 0)
            type = t;
    cr_assert_geq(type, 0);
    cr_assert_eq(synth_type_feed[type], feed);
    for (int i = 0; i < 8 && req[type][i]; i++)
        cr_assert_not_null(sget(j, req[type][i]), "%s lacks %s", synth_type_names[type], req[type][i]);
    if (feed == SYNTH_FEED_SOJ && type != SYNTH_T_ANSWER)
        cr_assert(json_is_object(json_object_get(j, "product")));
    /* Stream order: recorded_at never goes back, except for a resend of an event already sent. */
    const char *ts = sget(j, "recorded_at"), *id = sget(j, "event_id");
    if (strcmp(ts, c->last_ts[feed]) < 0)
        cr_assert_not_null(json_object_get(c->seen, id), "out of order and not a resend: %.*s", (int)len, line);
    else
        snprintf(c->last_ts[feed], sizeof c->last_ts[feed], "%s", ts);
    json_object_set_new(c->seen, id, json_true());
}

Test(synth, events_meet_the_contract)
{
    synth_params p;
    small(&p, 3000, 3);
    p.corrections = 0.05;
    p.duplicates = 0.05;
    p.late = 0.05;
    p.placeholders = 0.5;
    mem_out m;
    synth_stats st;
    run(&p, &m, &st);
    conform_ctx c;
    memset(&c, 0, sizeof c);
    c.seen = json_object();
    int have_schemas = 0;
    for (int f = 0; f < SYNTH_FEEDS; f++) {
        char path[1024], err[512];
        snprintf(path, sizeof path, "%s/schemas/raw.%s.schema.json", JTM_SOURCE_DIR, synth_feed_names[f]);
        if (access(path, R_OK) == 0) {
            c.schema[f] = jtm_schema_load(path, err, sizeof err);
            cr_assert_not_null(c.schema[f], "%s: %s", path, err);
            have_schemas++;
        }
    }
    cr_log_info("validating against %d schema files", have_schemas);
    each_line(&m, check_conform, &c);
    cr_assert_eq(c.n, st.events);
    cr_assert_gt(c.placeholders, 0, "no placeholder BSNs at all");
    for (int t = 0; t < SYNTH_TYPES; t++)
        cr_assert_gt(st.by_type[t], 0, "no %s events", synth_type_names[t]);
    cr_assert_gt(st.changed, 0);
    cr_assert_gt(st.withdrawn, 0);
    cr_assert_gt(st.duplicates, 0);
    cr_assert_gt(st.late, 0);
    for (int f = 0; f < SYNTH_FEEDS; f++)
        jtm_schema_free(c.schema[f]);
    json_decref(c.seen);
    mem_free(&m);
}

typedef struct care_ctx {
    json_t *requests;    /* reference -> occurred_on */
    json_t *allocations; /* allocation_no -> allocated_on */
    json_t *meldingen;   /* event_id -> true */
    json_t *in_care;     /* bsn -> true: invoiced for a period in the year */
    const char *year;
    int pass;
    size_t refs_checked, unresolved;
    size_t referrer[10], n_requests;
} care_ctx;

static void collect_refs(int feed, const char *line, size_t len, json_t *j, void *vctx)
{
    care_ctx *c = vctx;
    const char *type = sget(j, "type");
    if (c->pass == 0) {
        if (strcmp(type, "request") == 0) {
            json_object_set_new(c->requests, sget(j, "reference"), json_string(sget(j, "occurred_on")));
            if (json_integer_value(json_object_get(j, "status")) == 1) {
                c->n_requests++;
                c->referrer[atoi(sget(j, "referrer"))]++;
            }
        } else if (strcmp(type, "allocation") == 0)
            json_object_set_new(c->allocations, sget(j, "allocation_no"), json_string(sget(j, "allocated_on")));
        else if (strcmp(type, "melding") == 0)
            json_object_set_new(c->meldingen, sget(j, "event_id"), json_true());
        else if (strcmp(type, "invoice") == 0 && strncmp(sget(j, "period_start"), c->year, 4) == 0)
            json_object_set_new(c->in_care, sget(json_object_get(j, "client"), "bsn"), json_true());
        return;
    }
    const char *ref = NULL;
    json_t *in = NULL;
    const char *date = NULL;
    if (strcmp(type, "allocation") == 0 && (ref = sget(j, "reference"))) {
        in = c->requests;
        date = sget(j, "allocated_on");
    } else if (strcmp(type, "answer") == 0) {
        ref = sget(j, "reference");
        in = c->requests;
        date = sget(j, "occurred_on");
    } else if (strcmp(type, "start") == 0 || strcmp(type, "stop") == 0 || strcmp(type, "invoice") == 0) {
        ref = sget(j, "allocation_no");
        in = c->allocations;
        date = strcmp(type, "invoice") == 0 ? sget(j, "period_start") : sget(j, "start_date");
    } else if (strcmp(type, "resolved") == 0) {
        ref = sget(j, "melding_ref");
        in = c->meldingen;
    }
    if (!ref)
        return;
    c->refs_checked++;
    json_t *hit = json_object_get(in, ref);
    if (!hit) {
        c->unresolved++;
        cr_log_error("unresolved: %.*s", (int)len, line);
        return;
    }
    if (date && json_is_string(hit))
        cr_assert(strcmp(json_string_value(hit), date) <= 0, "refers to something later: %.*s", (int)len, line);
}

Test(synth, references_resolve_and_one_in_seven_in_care)
{
    synth_params p;
    small(&p, 6000, 3);
    mem_out m;
    run(&p, &m, NULL);
    care_ctx c;
    memset(&c, 0, sizeof c);
    c.requests = json_object();
    c.allocations = json_object();
    c.meldingen = json_object();
    c.in_care = json_object();
    c.year = "2023";
    for (c.pass = 0; c.pass < 2; c.pass++) /* JGZ events refer to nothing */
        for (int f = SYNTH_FEED_VERZUIM; f <= SYNTH_FEED_SOJ; f++)
            each_line_of(&m, f, collect_refs, &c);
    cr_assert_gt(c.refs_checked, 1000);
    cr_assert_eq(c.unresolved, 0, "%zu of %zu references do not resolve", c.unresolved, c.refs_checked);
    double share = (double)json_object_size(c.in_care) / (double)p.children;
    cr_log_info("in care in 2023: %.3f", share);
    cr_assert(share > 0.10 && share < 0.19, "in care in a year: %.3f, expected about 1 in 7", share);
    /* Referrer shares roughly as in the region: GP about a third, local team close behind. */
    double gp = (double)c.referrer[2] / (double)c.n_requests, team = (double)c.referrer[1] / (double)c.n_requests;
    cr_assert(gp > 0.25 && gp < 0.45, "GP share %.3f", gp);
    cr_assert(team > 0.20 && team < 0.40, "local team share %.3f", team);
    cr_assert_eq(c.referrer[7], 0, "referrer 07 does not exist");
    json_decref(c.requests);
    json_decref(c.allocations);
    json_decref(c.meldingen);
    json_decref(c.in_care);
    mem_free(&m);
}

typedef struct spike_ctx {
    const char *gm, *cat, *from, *to;
    size_t requests;
} spike_ctx;

static void count_spike(int feed, const char *line, size_t len, json_t *j, void *vctx)
{
    spike_ctx *s = vctx;
    if (feed != SYNTH_FEED_SOJ || strcmp(sget(j, "type"), "request") != 0 ||
        json_integer_value(json_object_get(j, "status")) != 1)
        return;
    const char *occ = sget(j, "occurred_on");
    if (strcmp(sget(json_object_get(j, "client"), "gemeente"), s->gm) == 0 &&
        strcmp(sget(json_object_get(j, "product"), "category"), s->cat) == 0 && strcmp(occ, s->from) >= 0 &&
        strcmp(occ, s->to) < 0)
        s->requests++;
}

typedef struct wait_ctx {
    const char *gm, *cat, *day;
    json_t *req;   /* reference -> occurred_on */
    json_t *alloc; /* allocation_no -> [reference or null, allocated_on] */
    json_t *start; /* allocation_no -> start_date */
} wait_ctx;

static void collect_wait(int feed, const char *line, size_t len, json_t *j, void *vctx)
{
    wait_ctx *w = vctx;
    const char *type = sget(j, "type");
    if (feed != SYNTH_FEED_SOJ || strcmp(sget(json_object_get(j, "client"), "gemeente"), w->gm) != 0 ||
        !json_object_get(j, "product") || strcmp(sget(json_object_get(j, "product"), "category"), w->cat) != 0)
        return;
    if (strcmp(type, "request") == 0)
        json_object_set_new(w->req, sget(j, "reference"), json_string(sget(j, "occurred_on")));
    else if (strcmp(type, "allocation") == 0)
        json_object_set_new(w->alloc, sget(j, "allocation_no"),
                            json_pack("[s?s]", sget(j, "reference"), sget(j, "allocated_on")));
    else if (strcmp(type, "start") == 0)
        json_object_set_new(w->start, sget(j, "allocation_no"), json_string(sget(j, "start_date")));
}

/* Allocated episodes of gm/cat waiting on each of days[0..n-1] (rejected requests never reach an
 * allocation), into counts. */
static void waiting_on(const mem_out *m, const char *gm, const char *cat, const char *const *days, long *counts, int n)
{
    wait_ctx w = {gm, cat, NULL, json_object(), json_object(), json_object()};
    each_line_of(m, SYNTH_FEED_SOJ, collect_wait, &w);
    for (int i = 0; i < n; i++) {
        const char *no, *day = days[i];
        json_t *a;
        counts[i] = 0;
        json_object_foreach(w.alloc, no, a)
        {
            const char *ref = json_string_value(json_array_get(a, 0));
            const char *since = json_string_value(json_array_get(a, 1));
            if (ref && json_object_get(w.req, ref))
                since = json_string_value(json_object_get(w.req, ref));
            const char *started = json_string_value(json_object_get(w.start, no));
            if (strcmp(since, day) <= 0 && (!started || strcmp(started, day) > 0))
                counts[i]++;
        }
    }
    json_decref(w.req);
    json_decref(w.alloc);
    json_decref(w.start);
}

Test(synth, spike_raises_requests)
{
    synth_params p;
    small(&p, 8000, 2);
    p.duplicates = p.corrections = 0;
    char err[256];
    mem_out base, spiked;
    run(&p, &base, NULL);
    cr_assert_eq(synth_parse_spike(&p, "GM0505:45:2022-W10:4", err, sizeof err), 0, "%s", err);
    cr_assert_eq(p.spikes[0].first_day, jtm_date_to_days((jtm_date){2022, 3, 7}), "ISO 2022-W10 starts Monday 7 March");
    run(&p, &spiked, NULL);
    spike_ctx a = {"GM0505", "45", "2022-03-07", "2022-04-18", 0}, b = a;
    each_line_of(&base, SYNTH_FEED_SOJ, count_spike, &a);
    each_line_of(&spiked, SYNTH_FEED_SOJ, count_spike, &b);
    cr_log_info("requests in the spike weeks: %zu without, %zu with the spike", a.requests, b.requests);
    cr_assert_gt(b.requests, 2 * a.requests + 5, "spike %zu vs base %zu", b.requests, a.requests);
    /* The waiting list (design.md: requested, or allocated without a request, and not yet started)
     * rises clearly during the spike and falls back within a few months. */
    static const char *const days[] = {"2022-03-06", "2022-04-17", "2022-07-31"};
    long counts[3];
    waiting_on(&spiked, "GM0505", "45", days, counts, 3);
    long before = counts[0], peak = counts[1], after = counts[2];
    cr_log_info("waiting list GM0505/45: %ld before, %ld at the end of the spike, %ld in July", before, peak, after);
    cr_assert_gt(peak, 2 * before, "waiting list %ld -> %ld", before, peak);
    cr_assert_lt(after * 2, peak + before, "no fall back: %ld -> %ld -> %ld", before, peak, after);
    /* Other municipalities are untouched. */
    spike_ctx x = {"GM0642", "45", "2022-03-07", "2022-04-18", 0}, y = x;
    each_line_of(&base, SYNTH_FEED_SOJ, count_spike, &x);
    each_line_of(&spiked, SYNTH_FEED_SOJ, count_spike, &y);
    cr_assert_eq(x.requests, y.requests);
    mem_free(&base);
    mem_free(&spiked);
}

static void count_rejects(int feed, const char *line, size_t len, json_t *j, void *vctx)
{
    size_t *bad = vctx;
    if (!j) {
        bad[0]++;
        return;
    }
    const char *id = sget(j, "event_id");
    if (!id || strlen(id) < 2 || strcmp(id + strlen(id) - 2, ".x") != 0)
        return;
    /* A malformed copy: something about it must be wrong per contracts.md. */
    json_t *client = json_object_get(j, "client");
    const char *bsn = sget(client, "bsn"), *occ = sget(j, "occurred_on"), *feedname = sget(j, "feed");
    char norm[10];
    int broken = !bsn || jtm_bsn_check(bsn, strlen(bsn), norm) == JTM_BSN_INVALID || !occ ||
                 jtm_date_parse(occ, strlen(occ), NULL) != 0 || strcmp(feedname, synth_feed_names[feed]) != 0 ||
                 !json_is_integer(json_object_get(j, "status")) ||
                 json_integer_value(json_object_get(client, "sex")) > 2;
    int known_type = 0;
    for (int t = 0; t < SYNTH_TYPES; t++)
        known_type |= strcmp(sget(j, "type"), synth_type_names[t]) == 0;
    cr_assert(broken || !known_type, "malformed copy is valid: %.*s", (int)len, line);
    bad[0]++;
}

Test(synth, dirty_events_are_malformed)
{
    synth_params p;
    small(&p, 1500, 2);
    p.dirty = 0.05;
    mem_out m;
    synth_stats st;
    run(&p, &m, &st);
    size_t bad = 0;
    each_line(&m, count_rejects, &bad);
    cr_assert_gt(st.dirty, 50);
    cr_assert_eq(bad, st.dirty);
    mem_free(&m);
}

Test(synth, parse_errors)
{
    synth_params p;
    synth_params_default(&p);
    char err[256];
    cr_assert_eq(synth_parse_spike(&p, "GM9999:45:2022-W10", err, sizeof err), -1);
    cr_assert_eq(synth_parse_spike(&p, "GM0505:99:2022-W10", err, sizeof err), -1);
    cr_assert_eq(synth_parse_spike(&p, "GM0505:45:2021-W53", err, sizeof err), -1);
    cr_assert_eq(synth_parse_spike(&p, "GM0505:45:2020-W53", err, sizeof err), 0, "%s", err);
    cr_assert_eq(synth_parse_municipalities(&p, "GM0505,GM0505", err, sizeof err), -1);
    cr_assert_eq(synth_parse_municipalities(&p, "GM9999", err, sizeof err), -1);
    cr_assert_eq(synth_parse_municipalities(&p, "GM0505,GM9999:1234-1236:10", err, sizeof err), 0, "%s", err);
    cr_assert_eq(p.n_munis, 2);
}

Test(synth, command_line_exit_codes)
{
    char *bin = jtm_test_bin("jtm-synth"), *dir = jtm_test_tmpdir(), cmd[8192], *out = NULL;
    if (access(bin, X_OK) != 0)
        cr_skip_test("%s not built", bin);
    snprintf(cmd, sizeof cmd, "%s --help >/dev/null 2>&1", bin);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd, "%s --children many --out %s 2>/dev/null", bin, dir);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 2);
    snprintf(cmd, sizeof cmd, "%s --bogus 2>/dev/null", bin);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 2);
    snprintf(cmd, sizeof cmd, "%s --spike GM0505:45:nope --out %s 2>/dev/null", bin, dir);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 2);
    snprintf(cmd, sizeof cmd, "printf 'children = -3\\n' > %s/bad.conf && %s -c %s/bad.conf --out %s 2>/dev/null", dir,
             bin, dir, dir);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 78);
    snprintf(cmd, sizeof cmd, "%s --children 300 --years 1 --seed 7 --out %s/a 2>/dev/null && %s --children 300 "
                              "--years 1 --seed 7 --out %s/b 2>/dev/null && cat %s/a/raw.*.ndjson | md5sum && cat "
                              "%s/b/raw.*.ndjson | md5sum",
             bin, dir, bin, dir, dir, dir);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0);
    cr_assert(out && strlen(out) > 66 && strncmp(out, out + strlen(out) / 2, 32) == 0, "files differ: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    jtm_test_sh(cmd, NULL);
    free(bin);
    free(dir);
}

/* The Kafka writer against librdkafka's in-process mock cluster: every event acknowledged. */
Test(synth, kafka_writer_delivers_everything)
{
    synth_params p;
    small(&p, 400, 1);
    jtm_kvlist kafka = {0};
    jtm_kvlist_set(&kafka, "test.mock.num.brokers", "1");
    jtm_kvlist_set(&kafka, "bootstrap.servers", "unused:9092");
    jtm_kvlist_set(&kafka, "linger.ms", "1");
    char err[512] = "";
    synth_out_kafka *k = synth_out_kafka_new(&kafka, "t.", 0, err, sizeof err);
    cr_assert_not_null(k, "%s", err);
    synth_writer w = synth_out_kafka_writer(k);
    synth_stats st;
    cr_assert_eq(synth_run(&p, &w, &st, err, sizeof err), 0, "%s", err);
    unsigned long long delivered = 0;
    cr_assert_eq(synth_out_kafka_close(k, 30000, &delivered, err, sizeof err), 0, "%s", err);
    cr_assert_gt(st.events, 100);
    cr_assert_eq(delivered, st.events);
    jtm_kvlist_free(&kafka);
}
