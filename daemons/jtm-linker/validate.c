/* What the linker checks before a message goes to PostgreSQL: whatever fails here is dead-lettered
 * with a stable reason code without costing a failed transaction. The message is parsed into a
 * reused flat document (common/jdoc.h, the grammar of jansson's strict mode), not a jansson tree:
 * the linker shares the machine's cores with PostgreSQL, and the tree was most of its CPU.
 *
 * The rule is schemas/pseudo.<feed>.schema.json, checked by the validator jtm-ingest uses
 * (common/schema.h): the linker trusts no edge, so a misconfigured or compromised one cannot put
 * a field, or a value, into the warehouse that the contract does not allow (a name in a code field,
 * a birth date in a free-text field). On top, what a JSON Schema cannot say:
 *   - the integers the warehouse casts (status, volume, amount_cents, client.age_months) are JSON
 *     integers, not reals with a zero fraction (the schema's "integer" takes 1.0);
 *   - client.age_months is the age in calendar months of birth_ym at the month of occurred_on
 *     (age_not_calendar): an age that steps inside a month gives the birth day away.
 * PostgreSQL stays the final judge (staging.isolate_refused finds anything it still refuses). */
#include <stdio.h>
#include <string.h>

#include "date.h"
#include "jdoc.h"
#include "linker.h"

static const char *const feed_names[LK_NFEEDS] = {"jgz", "verzuim", "soj"};

int lk_schemas_load(lk_schemas *s, const char *dir, char *errstr, size_t errlen)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < LK_NFEEDS; i++) {
        char path[4096], err[512];
        snprintf(path, sizeof path, "%s/pseudo.%s.schema.json", dir, feed_names[i]);
        if (!(s->feed[i] = jtm_schema_load(path, err, sizeof err))) {
            snprintf(errstr, errlen, "%s: %s", path, err);
            lk_schemas_free(s);
            return -1;
        }
    }
    return 0;
}

void lk_schemas_free(lk_schemas *s)
{
    for (int i = 0; i < LK_NFEEDS; i++)
        jtm_schema_free(s->feed[i]);
    memset(s, 0, sizeof *s);
}

static int fail(char *reason, size_t rlen, const char *kind, const char *field)
{
    snprintf(reason, rlen, "%s%s%s", kind, field ? ":" : "", field ? field : "");
    return -1;
}

static bool str_is(const jtm_jnode *n, const char *s)
{
    size_t len = strlen(s);
    return n->type == JTM_J_STRING && n->v.str.n == len && memcmp(n->v.str.s, s, len) == 0;
}

/* A member the schema allows as "integer" must be a JSON integer here (PostgreSQL casts its text). */
static int json_int(const jtm_jdoc *d, uint32_t obj, const char *field, const char *path, char *reason, size_t rlen)
{
    uint32_t i = jtm_jdoc_getz(d, obj, field);
    if (i && jtm_jdoc_node(d, i)->type != JTM_J_INT)
        return fail(reason, rlen, "schema:type", path);
    return 0;
}

/* client.age_months == months from birth_ym to the month of occurred_on (both valid: the schema
 * checked their form, and occurred_on is a real date). */
static int age_calendar(const jtm_jdoc *d, uint32_t client, char *reason, size_t rlen)
{
    const jtm_jnode *occ = jtm_jdoc_node(d, jtm_jdoc_getz(d, 0, "occurred_on"));
    const jtm_jnode *bym = jtm_jdoc_node(d, jtm_jdoc_getz(d, client, "birth_ym"));
    const jtm_jnode *age = jtm_jdoc_node(d, jtm_jdoc_getz(d, client, "age_months"));
    jtm_date at, birth;
    char buf[11];
    memcpy(buf, bym->v.str.s, 7);
    memcpy(buf + 7, "-01", 4);
    if (jtm_date_parse(occ->v.str.s, occ->v.str.n, &at) != 0 || jtm_date_parse(buf, 10, &birth) != 0)
        return fail(reason, rlen, "schema:format", "occurred_on");
    if (age->v.i != jtm_date_age_months(birth, at))
        return fail(reason, rlen, "age_not_calendar", NULL);
    return 0;
}

static int check(const lk_schemas *s, const jtm_jdoc *d, const char *expected_feed, char *reason, size_t rlen)
{
    if (jtm_jdoc_node(d, 0)->type != JTM_J_OBJECT)
        return fail(reason, rlen, "json_parse", NULL);
    uint32_t f = jtm_jdoc_getz(d, 0, "feed");
    if (!f)
        return fail(reason, rlen, "schema:missing", "feed");
    int feed = -1;
    for (int i = 0; i < LK_NFEEDS; i++)
        if (str_is(jtm_jdoc_node(d, f), feed_names[i]))
            feed = i;
    if (feed < 0)
        return fail(reason, rlen, "schema:enum", "feed");
    if (expected_feed && strcmp(feed_names[feed], expected_feed) != 0)
        return fail(reason, rlen, "feed_mismatch", NULL);
    if (jtm_schema_validate_doc(s->feed[feed], d, 0, reason, rlen) != 0)
        return -1;
    uint32_t client = jtm_jdoc_getz(d, 0, "client");
    if (json_int(d, 0, "status", "status", reason, rlen) || json_int(d, 0, "volume", "volume", reason, rlen) ||
        json_int(d, 0, "amount_cents", "amount_cents", reason, rlen) ||
        json_int(d, client, "age_months", "client.age_months", reason, rlen))
        return -1;
    return age_calendar(d, client, reason, rlen);
}

static lk_span span_of(const jtm_jdoc *d, uint32_t obj, const char *field)
{
    uint32_t i = jtm_jdoc_getz(d, obj, field);
    const jtm_jnode *n = jtm_jdoc_node(d, i);
    return i && n->type == JTM_J_STRING ? (lk_span){n->v.str.s, n->v.str.n} : (lk_span){NULL, 0};
}

/* The columns staging.apply_batch takes from a message's envelope, as that function reads them
 * (j->>'feed', ..., coalesce(status, 1), client.gemeente): a message loaded directly must be
 * stored exactly as the upsert would store it. */
static void envelope(const jtm_jdoc *d, lk_envelope *env)
{
    env->feed = span_of(d, 0, "feed");
    env->event_id = span_of(d, 0, "event_id");
    env->pid = span_of(d, 0, "pid");
    env->type = span_of(d, 0, "type");
    env->occurred_on = span_of(d, 0, "occurred_on");
    env->recorded_at = span_of(d, 0, "recorded_at");
    env->gemeente = span_of(d, jtm_jdoc_getz(d, 0, "client"), "gemeente");
    uint32_t st = jtm_jdoc_getz(d, 0, "status");
    env->status = st ? (int)jtm_jdoc_node(d, st)->v.i : 1;
}

int lk_validate_envelope(const lk_schemas *s, jtm_jdoc *doc, const char *data, size_t len, const char *expected_feed,
                         lk_envelope *env, char *reason, size_t rlen)
{
    if (jtm_jdoc_parse(doc, data, len) != 0)
        return fail(reason, rlen, "json_parse", NULL);
    if (check(s, doc, expected_feed, reason, rlen) != 0)
        return -1;
    if (env)
        envelope(doc, env);
    return 0;
}

int lk_validate_doc(const lk_schemas *s, jtm_jdoc *doc, const char *data, size_t len, const char *expected_feed,
                    char *reason, size_t rlen)
{
    return lk_validate_envelope(s, doc, data, len, expected_feed, NULL, reason, rlen);
}

int lk_validate(const lk_schemas *s, const char *data, size_t len, const char *expected_feed, char *reason,
                size_t rlen)
{
    jtm_jdoc doc;
    jtm_jdoc_init(&doc);
    int rc = lk_validate_doc(s, &doc, data, len, expected_feed, reason, rlen);
    jtm_jdoc_free(&doc);
    return rc;
}
