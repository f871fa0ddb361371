/* The feed schemas in schemas/ against the fixtures in tests/fixtures/schema/<schema>.ndjson: one
 * line per case, {"expect": "valid" | "<reason>", "note": "...", "event": {...}}. Every event
 * type of every feed needs at least one valid fixture, raw and pseudo. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "schema.h"

static jtm_schema *load_schema(const char *name, json_t **doc)
{
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/schemas/%s.schema.json", JTM_SOURCE_DIR, name);
    jtm_schema *s = jtm_schema_load(path, err, sizeof err);
    cr_assert_not_null(s, "%s", err);
    if (doc) {
        json_error_t jerr;
        *doc = json_load_file(path, 0, &jerr);
        cr_assert_not_null(*doc, "%s: %s", path, jerr.text);
    }
    return s;
}

static void run_fixtures(const char *name)
{
    json_t *doc;
    jtm_schema *s = load_schema(name, &doc);
    json_t *types = json_object_get(json_object_get(json_object_get(doc, "properties"), "type"), "enum");
    cr_assert(json_array_size(types) > 0, "%s: no type enum", name);
    size_t ntypes = json_array_size(types), *valid_per_type = calloc(ntypes, sizeof *valid_per_type);

    char path[512];
    snprintf(path, sizeof path, "%s/schema/%s.ndjson", JTM_FIXTURES, name);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, cases = 0, invalid = 0;
    while ((n = getline(&buf, &cap, f)) > 0) {
        lineno++;
        if (n <= 1)
            continue;
        json_error_t jerr;
        json_t *c = json_loadb(buf, (size_t)n, 0, &jerr);
        cr_assert_not_null(c, "%s:%d: %s", path, lineno, jerr.text);
        const char *expect = json_string_value(json_object_get(c, "expect"));
        const char *note = json_string_value(json_object_get(c, "note"));
        json_t *ev = json_object_get(c, "event");
        cr_assert(expect && ev, "%s:%d: needs expect and event", path, lineno);
        char reason[256] = "";
        int rc = jtm_schema_validate(s, ev, reason, sizeof reason);
        if (strcmp(expect, "valid") == 0) {
            cr_expect_eq(rc, 0, "%s:%d (%s): expected valid, got %s", name, lineno, note, reason);
            json_t *t = json_object_get(ev, "type");
            for (size_t i = 0; i < ntypes && rc == 0; i++)
                if (json_is_string(t) && json_equal(t, json_array_get(types, i)))
                    valid_per_type[i]++;
        } else {
            cr_expect_eq(rc, -1, "%s:%d (%s): expected %s, got valid", name, lineno, note, expect);
            cr_expect_str_eq(reason, expect, "%s:%d (%s): expected %s, got %s", name, lineno, note, expect, reason);
            invalid++;
        }
        cases++;
        json_decref(c);
    }
    free(buf);
    fclose(f);
    for (size_t i = 0; i < ntypes; i++)
        cr_expect_gt(valid_per_type[i], 0, "%s: no valid fixture of type %s", name,
                     json_string_value(json_array_get(types, i)));
    cr_expect_gt(invalid, 0, "%s: no invalid fixtures", name);
    cr_log_info("%s: %d cases", name, cases);
    free(valid_per_type);
    json_decref(doc);
    jtm_schema_free(s);
}

Test(feed_schemas, raw_jgz) { run_fixtures("raw.jgz"); }
Test(feed_schemas, raw_verzuim) { run_fixtures("raw.verzuim"); }
Test(feed_schemas, raw_soj) { run_fixtures("raw.soj"); }
Test(feed_schemas, pseudo_jgz) { run_fixtures("pseudo.jgz"); }
Test(feed_schemas, pseudo_verzuim) { run_fixtures("pseudo.verzuim"); }
Test(feed_schemas, pseudo_soj) { run_fixtures("pseudo.soj"); }

/* The raw and pseudo schema of a feed agree on the event types. */
Test(feed_schemas, raw_and_pseudo_types_agree)
{
    const char *feeds[] = {"jgz", "verzuim", "soj"};
    for (size_t i = 0; i < 3; i++) {
        char raw[64], pseudo[64];
        snprintf(raw, sizeof raw, "raw.%s", feeds[i]);
        snprintf(pseudo, sizeof pseudo, "pseudo.%s", feeds[i]);
        json_t *a, *b;
        jtm_schema_free(load_schema(raw, &a));
        jtm_schema_free(load_schema(pseudo, &b));
        json_t *ta = json_object_get(json_object_get(json_object_get(a, "properties"), "type"), "enum");
        json_t *tb = json_object_get(json_object_get(json_object_get(b, "properties"), "type"), "enum");
        cr_expect(json_equal(ta, tb), "%s: raw and pseudo type lists differ", feeds[i]);
        json_decref(a);
        json_decref(b);
    }
}

/* The "then" branch of the allOf entry for event type t. */
static json_t *type_branch(json_t *doc, const char *t)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "allOf"), i, e)
    {
        json_t *c = json_object_get(json_object_get(json_object_get(json_object_get(e, "if"), "properties"), "type"),
                                    "const");
        if (json_is_string(c) && strcmp(json_string_value(c), t) == 0)
            return json_object_get(e, "then");
    }
    return NULL;
}

/* Raw and pseudo schemas are kept by hand: they must name the same fields and require the same per
 * type, and every field a pseudo type branch lets through must be defined at the top. */
Test(feed_schemas, raw_and_pseudo_fields_agree)
{
    const char *feeds[] = {"jgz", "verzuim", "soj"};
    const char *added[] = {"pid", "pid_kind", "key_id"};
    for (size_t f = 0; f < 3; f++) {
        char raw[64], pseudo[64];
        snprintf(raw, sizeof raw, "raw.%s", feeds[f]);
        snprintf(pseudo, sizeof pseudo, "pseudo.%s", feeds[f]);
        json_t *a, *b;
        jtm_schema_free(load_schema(raw, &a));
        jtm_schema_free(load_schema(pseudo, &b));
        json_t *pa = json_object_get(a, "properties"), *pb = json_object_get(b, "properties");
        cr_expect_eq(json_object_size(pa) + 3, json_object_size(pb), "%s: field counts differ", feeds[f]);
        const char *k;
        json_t *v;
        json_object_foreach(pa, k, v) cr_expect_not_null(json_object_get(pb, k), "%s: pseudo lacks %s", feeds[f], k);
        for (size_t i = 0; i < 3; i++)
            cr_expect_not_null(json_object_get(pb, added[i]), "%s: pseudo lacks %s", feeds[f], added[i]);
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(json_object_get(pa, "type"), "enum"), i, t)
        {
            const char *type = json_string_value(t);
            json_t *ta = type_branch(a, type), *tb = type_branch(b, type);
            cr_assert(ta && tb, "%s %s: no allOf branch", feeds[f], type);
            cr_expect(json_equal(json_object_get(ta, "required"), json_object_get(tb, "required")),
                      "%s %s: raw and pseudo require different fields", feeds[f], type);
            cr_expect(json_is_false(json_object_get(tb, "additionalProperties")), "%s %s: pseudo branch not closed",
                      feeds[f], type);
            json_object_foreach(json_object_get(tb, "properties"), k, v)
                cr_expect_not_null(json_object_get(pb, k), "%s %s: %s is not defined", feeds[f], type, k);
            json_t *req;
            size_t r;
            json_array_foreach(json_object_get(b, "required"), r, req)
                cr_expect_not_null(json_object_get(json_object_get(tb, "properties"), json_string_value(req)),
                                   "%s %s: branch does not let %s through", feeds[f], type, json_string_value(req));
            json_array_foreach(json_object_get(tb, "required"), r, req)
                cr_expect_not_null(json_object_get(json_object_get(tb, "properties"), json_string_value(req)),
                                   "%s %s: branch requires %s but does not let it through", feeds[f], type,
                                   json_string_value(req));
        }
        json_decref(a);
        json_decref(b);
    }
}

/* A rough budget check (the sanitizer build is several times slower than release): validating
 * a typical raw SOJ allocation must stay well under 50 us even here. bench/schema_bench.c measures
 * the release build. */
Test(feed_schemas, validate_is_fast_enough)
{
    jtm_schema *s = load_schema("raw.soj", NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/schema/raw.soj.ndjson", JTM_FIXTURES);
    json_error_t jerr;
    json_t *lines = json_load_file(path, JSON_DISABLE_EOF_CHECK, &jerr);
    cr_assert_not_null(lines, "%s", jerr.text);
    json_t *ev = json_object_get(lines, "event");
    int n = 20000;
    struct timespec t0, t1;
    /* CPU time of this thread, as bench/schema_bench.c: wall time on the shared box also counts
     * the other builds and tests (a run at load 12 measured 50 us of wall per validate) */
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    for (int i = 0; i < n; i++)
        cr_assert_eq(jtm_schema_validate(s, ev, NULL, 0), 0);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / n;
    cr_log_info("raw.soj %s: %.0f ns per validate (this build)",
                json_string_value(json_object_get(ev, "type")), ns);
    cr_expect_lt(ns, 50000.0);
    json_decref(lines);
    jtm_schema_free(s);
}
