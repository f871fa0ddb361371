/* lk_validate (daemons/jtm-linker/validate.c): the checks that dead-letter a message before it
 * costs a PostgreSQL transaction, with stable reason codes: schemas/pseudo.<feed>.schema.json with
 * jtm-ingest's validator, and what a schema cannot say. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "linker.h"

#define HEAD(type)                                                                                       \
    "{\"event_id\":\"0123456789abcdef0123456789abcdef\",\"feed\":\"soj\",\"type\":\"" type "\","          \
    "\"occurred_on\":\"2024-03-01\",\"recorded_at\":\"2024-03-02T08:00:00Z\",\"status\":1,"              \
    "\"pid\":\"fedcba9876543210fedcba9876543210\",\"pid_kind\":\"bsn\",\"key_id\":\"k2026\","             \
    "\"client\":{\"birth_ym\":\"2012-05\",\"age_months\":142,\"sex\":1,\"pc4\":\"3311\",\"gemeente\":\"GM0505\"}"
#define PRODUCT ",\"product\":{\"category\":\"45\",\"code\":\"45A12\"}"
#define ALLOC ",\"allocation_no\":\"0123456789abcdef0123456789abcdef\""
#define START(extra) HEAD("start") ALLOC PRODUCT ",\"start_date\":\"2024-03-01\"" extra "}"

static lk_schemas schemas;

static void load_schemas(void)
{
    char err[1024];
    cr_assert_eq(lk_schemas_load(&schemas, JTM_SOURCE_DIR "/schemas", err, sizeof err), 0, "%s", err);
}

static void free_schemas(void) { lk_schemas_free(&schemas); }

TestSuite(linker_validate, .init = load_schemas, .fini = free_schemas);

static const char *check(const char *json, const char *feed)
{
    static char reason[128];
    if (lk_validate(&schemas, json, strlen(json), feed, reason, sizeof reason) == 0)
        return "ok";
    return reason;
}

Test(linker_validate, accepts_a_pseudonymised_event)
{
    cr_assert_str_eq(check(START(""), "soj"), "ok");
    cr_assert_str_eq(check(START(""), NULL), "ok");
}

Test(linker_validate, reasons)
{
    cr_assert_str_eq(check("not json", "soj"), "json_parse");
    cr_assert_str_eq(check("[1,2]", "soj"), "json_parse");
    cr_assert_str_eq(check("{\"event_id\":\"0123456789abcdef0123456789abcdef\"}", "soj"), "schema:missing:feed");
    cr_assert_str_eq(check("{\"feed\":\"kafka\"}", NULL), "schema:enum:feed");
    cr_assert_str_eq(check("{\"feed\":\"soj\"}", "soj"), "schema:missing:event_id");
    cr_assert_str_eq(check("{\"event_id\":\"ABC\",\"feed\":\"soj\"}", "soj"), "schema:pattern:event_id");
    cr_assert_str_eq(check(START(""), "jgz"), "feed_mismatch");
    cr_assert_str_eq(check(HEAD("start") ALLOC PRODUCT ",\"start_date\":\"2024-02-30\"}", "soj"),
                     "schema:format:start_date");
    cr_assert_str_eq(check(START(",\"amount_cents\":-5"), "soj"), "schema:range:amount_cents");
}

/* The schema closes every event to the fields of its type (a misconfigured or compromised edge
 * cannot pass on a supplier's extra field) and bounds every string by its standard. */
Test(linker_validate, the_pseudo_schema_decides)
{
    cr_assert_str_eq(check(START(",\"notes\":\"Jan de Vries\""), "soj"), "schema:additional:notes");
    cr_assert_str_eq(check(START(",\"amount_cents\":100"), "soj"), "schema:additional:amount_cents",
                     "a field of another type");
    cr_assert_str_eq(check(HEAD("start") ALLOC ",\"product\":{\"category\":\"45\",\"code\":\"Jan de Vries 111222333\"}"
                                               ",\"start_date\":\"2024-03-01\"}",
                           "soj"),
                     "schema:length:product.code");
    cr_assert_str_eq(check(HEAD("start") ALLOC ",\"product\":{\"category\":\"45\",\"code\":\"45A12\",\"bsn\":\"111222333\"}"
                                               ",\"start_date\":\"2024-03-01\"}",
                           "soj"),
                     "schema:additional:product.bsn");
    const char *name_in_client =
        "{\"event_id\":\"0123456789abcdef0123456789abcdef\",\"feed\":\"jgz\",\"type\":\"signal\","
        "\"occurred_on\":\"2024-03-01\",\"recorded_at\":\"2024-03-02T08:00:00Z\",\"status\":1,"
        "\"pid\":\"fedcba9876543210fedcba9876543210\",\"pid_kind\":\"bsn\",\"key_id\":\"k2026\","
        "\"client\":{\"birth_ym\":\"2012-05\",\"age_months\":142,\"sex\":1,\"pc4\":\"3311\",\"gemeente\":\"GM0505\","
        "\"name\":\"Jan de Vries\"},\"domain\":\"gezin\"}";
    cr_assert_str_eq(check(name_in_client, "jgz"), "schema:additional:client.name");
    cr_assert_str_eq(check(START(",\"recorded_at\":\"x\""), "soj"), "json_parse", "a duplicate key");
}

/* An allocation's messages carry the category the derivation takes an episode's level from. */
Test(linker_validate, allocation_messages_need_a_product_category)
{
    cr_assert_str_eq(check(HEAD("start") ALLOC ",\"start_date\":\"2024-03-01\"}", "soj"), "schema:missing:product");
    cr_assert_str_eq(check(HEAD("stop") ALLOC ",\"product\":\"45\"}", "soj"), "schema:type:product");
    cr_assert_str_eq(check(HEAD("start") ALLOC ",\"product\":{\"code\":\"45A12\"},\"start_date\":\"2024-03-01\"}", "soj"),
                     "schema:missing:product.category");
    cr_assert_str_eq(check(HEAD("start") ALLOC ",\"product\":{\"category\":45,\"code\":\"45A12\"},\"start_date\":\"2024-03-01\"}",
                           "soj"),
                     "schema:type:product.category");
}

/* What a JSON Schema cannot say. */
Test(linker_validate, integers_and_the_calendar_age)
{
    cr_assert_str_eq(check(HEAD("start") ALLOC PRODUCT ",\"start_date\":\"2024-03-01\",\"status\":1.0}", "soj"),
                     "json_parse", "status given twice");
    const char *real_status =
        "{\"event_id\":\"0123456789abcdef0123456789abcdef\",\"feed\":\"jgz\",\"type\":\"signal\","
        "\"occurred_on\":\"2024-03-01\",\"recorded_at\":\"2024-03-02T08:00:00Z\",\"status\":1.0,"
        "\"pid\":\"fedcba9876543210fedcba9876543210\",\"pid_kind\":\"bsn\",\"key_id\":\"k2026\","
        "\"client\":{\"birth_ym\":\"2012-05\",\"age_months\":142,\"sex\":1,\"pc4\":\"3311\",\"gemeente\":\"GM0505\"},"
        "\"domain\":\"gezin\"}";
    cr_assert_str_eq(check(real_status, "jgz"), "schema:type:status");
    /* the exact age of a child born on 2012-05-15 on 2024-03-01: 141, one less than the calendar age */
    char stepping[1024];
    snprintf(stepping, sizeof stepping, "%s", START(""));
    char *age = strstr(stepping, "\"age_months\":142");
    cr_assert_not_null(age);
    memcpy(age, "\"age_months\":141", 16);
    cr_assert_str_eq(check(stepping, "soj"), "age_not_calendar");
}

Test(linker_validate, envelope_fields)
{
    const char *bad_status = "{\"event_id\":\"0123456789abcdef0123456789abcdef\",\"feed\":\"soj\",\"type\":\"start\","
                             "\"occurred_on\":\"2024-03-01\",\"recorded_at\":\"2024-03-02T08:00:00Z\",\"status\":4}";
    cr_assert_str_eq(check(bad_status, NULL), "schema:enum:status");
    const char *bad_date = "{\"event_id\":\"0123456789abcdef0123456789abcdef\",\"feed\":\"soj\",\"type\":\"start\","
                           "\"occurred_on\":\"2024-13-01\"}";
    cr_assert_str_eq(check(bad_date, NULL), "schema:format:occurred_on");
    const char *no_client = "{\"event_id\":\"0123456789abcdef0123456789abcdef\",\"feed\":\"soj\",\"type\":\"start\","
                            "\"occurred_on\":\"2024-03-01\",\"recorded_at\":\"2024-03-02T08:00:00Z\",\"status\":1,"
                            "\"pid\":\"fedcba9876543210fedcba9876543210\",\"pid_kind\":\"bsn\",\"key_id\":\"k2026\"}";
    cr_assert_str_eq(check(no_client, NULL), "schema:missing:client");
    const char *bad_bym = "{\"event_id\":\"0123456789abcdef0123456789abcdef\",\"feed\":\"soj\",\"type\":\"start\","
                          "\"occurred_on\":\"2024-03-01\",\"recorded_at\":\"2024-03-02T08:00:00Z\",\"status\":1,"
                          "\"pid\":\"fedcba9876543210fedcba9876543210\",\"pid_kind\":\"bsn\",\"key_id\":\"k2026\","
                          "\"client\":{\"gemeente\":\"GM0505\",\"birth_ym\":\"2012-13\"}}";
    cr_assert_str_eq(check(bad_bym, NULL), "schema:pattern:client.birth_ym");
}

/* The grammar is jansson's strict one (common/jdoc.h), and one document serves message after
 * message: a failure leaves nothing behind for the next. */
Test(linker_validate, strict_grammar_and_a_reused_document)
{
    cr_assert_str_eq(check(START(",\"type\":\"stop\""), "soj"), "json_parse", "duplicate key");
    cr_assert_str_eq(check(START(",\"referrer\":\"a\\u0000b\""), "soj"), "json_parse", "\\u0000 (PostgreSQL's jsonb refuses it)");
    cr_assert_str_eq(check(START(",\"amount_cents\":99999999999999999999999"), "soj"), "json_parse", "integer overflow");
    cr_assert_str_eq(check("\"just a string\"", "soj"), "json_parse");
    jtm_jdoc doc;
    jtm_jdoc_init(&doc);
    char reason[128];
    const char *good = START("");
    const char *bad = HEAD("start") ALLOC PRODUCT ",\"start_date\":2024}";
    cr_assert_eq(lk_validate_doc(&schemas, &doc, good, strlen(good), "soj", reason, sizeof reason), 0, "%s", reason);
    cr_assert_eq(lk_validate_doc(&schemas, &doc, bad, strlen(bad), "soj", reason, sizeof reason), -1);
    cr_assert_str_eq(reason, "schema:type:start_date");
    cr_assert_eq(lk_validate_doc(&schemas, &doc, "{", 1, "soj", reason, sizeof reason), -1);
    cr_assert_str_eq(reason, "json_parse");
    cr_assert_eq(lk_validate_doc(&schemas, &doc, good, strlen(good), "soj", reason, sizeof reason), 0, "%s", reason);
    jtm_jdoc_free(&doc);
}
