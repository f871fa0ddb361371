/* Cheap checks before a message goes to PostgreSQL: whatever fails here is dead-lettered with a
 * stable reason code without costing a failed transaction. PostgreSQL stays the final judge
 * (staging.isolate_refused finds anything it still refuses). The message is parsed into a reused
 * flat document (common/jdoc.h, the grammar of jansson's strict mode), not a jansson tree: the
 * linker shares the machine's cores with PostgreSQL, and the tree was most of its CPU. */
#include <stdio.h>
#include <string.h>

#include "date.h"
#include "jdoc.h"
#include "linker.h"

static int fail(char *reason, size_t rlen, const char *kind, const char *field)
{
    snprintf(reason, rlen, "%s%s%s", kind, field ? ":" : "", field ? field : "");
    return -1;
}

static bool is_hex32(const jtm_jnode *n)
{
    if (n->v.str.n != 32)
        return false;
    for (size_t i = 0; i < 32; i++) {
        char c = n->v.str.s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

static bool str_is(const jtm_jnode *n, const char *s)
{
    size_t len = strlen(s);
    return n->v.str.n == len && memcmp(n->v.str.s, s, len) == 0;
}

/* A required string member: 0 with *out, else -1 with the reason. */
static int req_str(const jtm_jdoc *d, uint32_t obj, const char *field, const jtm_jnode **out, char *reason,
                   size_t rlen)
{
    uint32_t i = jtm_jdoc_getz(d, obj, field);
    if (!i)
        return fail(reason, rlen, "schema:missing", field);
    const jtm_jnode *n = jtm_jdoc_node(d, i);
    if (n->type != JTM_J_STRING)
        return fail(reason, rlen, "schema:invalid", field);
    *out = n;
    return 0;
}

/* An optional date member must be a real calendar date when present. */
static int opt_date(const jtm_jdoc *d, const char *field, char *reason, size_t rlen)
{
    uint32_t i = jtm_jdoc_getz(d, 0, field);
    jtm_date date;
    if (!i)
        return 0;
    const jtm_jnode *n = jtm_jdoc_node(d, i);
    if (n->type != JTM_J_STRING || jtm_date_parse(n->v.str.s, n->v.str.n, &date) != 0)
        return fail(reason, rlen, "schema:invalid", field);
    return 0;
}

static int opt_count(const jtm_jdoc *d, const char *field, char *reason, size_t rlen)
{
    uint32_t i = jtm_jdoc_getz(d, 0, field);
    if (i && (jtm_jdoc_node(d, i)->type != JTM_J_INT || jtm_jdoc_node(d, i)->v.i < 0))
        return fail(reason, rlen, "schema:invalid", field);
    return 0;
}

/* SOJ messages of an allocation (allocation, start, stop, invoice) carry product.category
 * (contracts.md): the derivation takes an episode's category, and its residential flag, from it. */
static bool needs_category(const jtm_jdoc *d)
{
    const jtm_jnode *feed = jtm_jdoc_node(d, jtm_jdoc_getz(d, 0, "feed"));
    const jtm_jnode *type = jtm_jdoc_node(d, jtm_jdoc_getz(d, 0, "type"));
    return str_is(feed, "soj") && (str_is(type, "allocation") || str_is(type, "start") || str_is(type, "stop") ||
                                   str_is(type, "invoice"));
}

static int product_category(const jtm_jdoc *d, char *reason, size_t rlen)
{
    uint32_t product = jtm_jdoc_getz(d, 0, "product");
    if (!product)
        return fail(reason, rlen, "schema:missing", "product");
    if (jtm_jdoc_node(d, product)->type != JTM_J_OBJECT)
        return fail(reason, rlen, "schema:invalid", "product");
    uint32_t category = jtm_jdoc_getz(d, product, "category");
    if (!category)
        return fail(reason, rlen, "schema:missing", "product.category");
    if (jtm_jdoc_node(d, category)->type != JTM_J_STRING)
        return fail(reason, rlen, "schema:invalid", "product.category");
    return 0;
}

static int check(const jtm_jdoc *d, const char *expected_feed, char *reason, size_t rlen)
{
    static const char *const date_fields[] = {"allocated_on", "start_date", "end_date", "valid_from",
                                              "valid_to", "requested_start", NULL};
    const jtm_jnode *s;
    jtm_date date;
    if (jtm_jdoc_node(d, 0)->type != JTM_J_OBJECT)
        return fail(reason, rlen, "json_parse", NULL);
    if (req_str(d, 0, "event_id", &s, reason, rlen) != 0)
        return -1;
    if (!is_hex32(s))
        return fail(reason, rlen, "schema:invalid", "event_id");
    if (req_str(d, 0, "feed", &s, reason, rlen) != 0)
        return -1;
    if (!str_is(s, "jgz") && !str_is(s, "verzuim") && !str_is(s, "soj"))
        return fail(reason, rlen, "schema:invalid", "feed");
    if (expected_feed && !str_is(s, expected_feed))
        return fail(reason, rlen, "feed_mismatch", NULL);
    if (req_str(d, 0, "type", &s, reason, rlen) != 0)
        return -1;
    if (s->v.str.n == 0)
        return fail(reason, rlen, "schema:invalid", "type");
    if (req_str(d, 0, "occurred_on", &s, reason, rlen) != 0)
        return -1;
    if (jtm_date_parse(s->v.str.s, s->v.str.n, &date) != 0)
        return fail(reason, rlen, "schema:invalid", "occurred_on");
    if (req_str(d, 0, "recorded_at", &s, reason, rlen) != 0)
        return -1;
    if (jtm_datetime_check(s->v.str.s, s->v.str.n) != 0)
        return fail(reason, rlen, "schema:invalid", "recorded_at");
    uint32_t st = jtm_jdoc_getz(d, 0, "status");
    if (st && (jtm_jdoc_node(d, st)->type != JTM_J_INT || jtm_jdoc_node(d, st)->v.i < 1 ||
               jtm_jdoc_node(d, st)->v.i > 3))
        return fail(reason, rlen, "schema:invalid", "status");
    if (req_str(d, 0, "pid", &s, reason, rlen) != 0)
        return -1;
    if (!is_hex32(s))
        return fail(reason, rlen, "schema:invalid", "pid");
    uint32_t client = jtm_jdoc_getz(d, 0, "client");
    if (!client)
        return fail(reason, rlen, "schema:missing", "client");
    if (jtm_jdoc_node(d, client)->type != JTM_J_OBJECT)
        return fail(reason, rlen, "schema:invalid", "client");
    uint32_t gm = jtm_jdoc_getz(d, client, "gemeente");
    if (!gm)
        return fail(reason, rlen, "schema:missing", "client.gemeente");
    if (jtm_jdoc_node(d, gm)->type != JTM_J_STRING)
        return fail(reason, rlen, "schema:invalid", "client.gemeente");
    uint32_t bym = jtm_jdoc_getz(d, client, "birth_ym");
    if (bym) {
        const jtm_jnode *n = jtm_jdoc_node(d, bym);
        char buf[11];
        if (n->type != JTM_J_STRING || n->v.str.n != 7 ||
            (memcpy(buf, n->v.str.s, 7), memcpy(buf + 7, "-01", 4), jtm_date_parse(buf, 10, &date) != 0))
            return fail(reason, rlen, "schema:invalid", "client.birth_ym");
    }
    for (int i = 0; date_fields[i]; i++)
        if (opt_date(d, date_fields[i], reason, rlen) != 0)
            return -1;
    if (needs_category(d) && product_category(d, reason, rlen) != 0)
        return -1;
    if (opt_count(d, "amount_cents", reason, rlen) != 0 || opt_count(d, "volume", reason, rlen) != 0)
        return -1;
    return 0;
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

int lk_validate_envelope(jtm_jdoc *doc, const char *data, size_t len, const char *expected_feed, lk_envelope *env,
                         char *reason, size_t rlen)
{
    if (jtm_jdoc_parse(doc, data, len) != 0)
        return fail(reason, rlen, "json_parse", NULL);
    if (check(doc, expected_feed, reason, rlen) != 0)
        return -1;
    if (env)
        envelope(doc, env);
    return 0;
}

int lk_validate_doc(jtm_jdoc *doc, const char *data, size_t len, const char *expected_feed, char *reason,
                    size_t rlen)
{
    return lk_validate_envelope(doc, data, len, expected_feed, NULL, reason, rlen);
}

int lk_validate(const char *data, size_t len, const char *expected_feed, char *reason, size_t rlen)
{
    jtm_jdoc doc;
    jtm_jdoc_init(&doc);
    int rc = lk_validate_doc(&doc, data, len, expected_feed, reason, rlen);
    jtm_jdoc_free(&doc);
    return rc;
}
