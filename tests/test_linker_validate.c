/* lk_validate (daemons/jtm-linker/validate.c): the checks that dead-letter a message before it
 * costs a PostgreSQL transaction, with stable reason codes. */
#include <criterion/criterion.h>
#include <string.h>

#include "linker.h"

#define HEAD(type)                                                                                       \
    "{\"event_id\":\"0123456789abcdef0123456789abcdef\",\"feed\":\"soj\",\"type\":\"" type "\","          \
    "\"occurred_on\":\"2024-03-01\",\"recorded_at\":\"2024-03-02T08:00:00Z\",\"status\":1,"              \
    "\"pid\":\"fedcba9876543210fedcba9876543210\",\"pid_kind\":\"bsn\",\"key_id\":\"k2026\","             \
    "\"client\":{\"birth_ym\":\"2012-05\",\"age_months\":141,\"sex\":1,\"pc4\":\"3311\",\"gemeente\":\"GM0505\"}"
#define ENV(extra) HEAD("start") ",\"product\":{\"category\":\"45\",\"code\":\"45A12\"}" extra "}"

static const char *check(const char *json, const char *feed)
{
    static char reason[128];
    if (lk_validate(json, strlen(json), feed, reason, sizeof reason) == 0)
        return "ok";
    return reason;
}

Test(linker_validate, accepts_a_pseudonymised_event)
{
    cr_assert_str_eq(check(ENV(",\"allocation_no\":\"0123456789abcdef0123456789abcdef\",\"start_date\":\"2024-03-01\""),
                           "soj"),
                     "ok");
    cr_assert_str_eq(check(ENV(""), NULL), "ok");
}

Test(linker_validate, reasons)
{
    cr_assert_str_eq(check("not json", "soj"), "json_parse");
    cr_assert_str_eq(check("[1,2]", "soj"), "json_parse");
    cr_assert_str_eq(check("{\"feed\":\"soj\"}", "soj"), "schema:missing:event_id");
    cr_assert_str_eq(check("{\"event_id\":\"ABC\"}", "soj"), "schema:invalid:event_id");
    cr_assert_str_eq(check(ENV(""), "jgz"), "feed_mismatch");
    cr_assert_str_eq(check(ENV(",\"start_date\":\"2024-02-30\""), "soj"), "schema:invalid:start_date");
    cr_assert_str_eq(check(ENV(",\"amount_cents\":-5"), "soj"), "schema:invalid:amount_cents");
}

/* An allocation's messages carry the category the derivation takes an episode's level from. */
Test(linker_validate, allocation_messages_need_a_product_category)
{
    cr_assert_str_eq(check(HEAD("invoice") "}", "soj"), "schema:missing:product");
    cr_assert_str_eq(check(HEAD("stop") ",\"product\":\"45\"}", "soj"), "schema:invalid:product");
    cr_assert_str_eq(check(HEAD("allocation") ",\"product\":{\"code\":\"45A12\"}}", "soj"),
                     "schema:missing:product.category");
    cr_assert_str_eq(check(HEAD("start") ",\"product\":{\"category\":45}}", "soj"),
                     "schema:invalid:product.category");
    cr_assert_str_eq(check(HEAD("request") "}", "soj"), "ok", "a request's episode may take its category later");
}

Test(linker_validate, envelope_fields)
{
    const char *bad_status = "{\"event_id\":\"0123456789abcdef0123456789abcdef\",\"feed\":\"soj\",\"type\":\"x\","
                             "\"occurred_on\":\"2024-03-01\",\"recorded_at\":\"2024-03-02T08:00:00Z\",\"status\":4}";
    cr_assert_str_eq(check(bad_status, NULL), "schema:invalid:status");
    const char *bad_date = "{\"event_id\":\"0123456789abcdef0123456789abcdef\",\"feed\":\"soj\",\"type\":\"x\","
                           "\"occurred_on\":\"2024-13-01\"}";
    cr_assert_str_eq(check(bad_date, NULL), "schema:invalid:occurred_on");
    const char *no_client = "{\"event_id\":\"0123456789abcdef0123456789abcdef\",\"feed\":\"soj\",\"type\":\"x\","
                            "\"occurred_on\":\"2024-03-01\",\"recorded_at\":\"2024-03-02T08:00:00Z\","
                            "\"pid\":\"fedcba9876543210fedcba9876543210\"}";
    cr_assert_str_eq(check(no_client, NULL), "schema:missing:client");
    const char *bad_bym = "{\"event_id\":\"0123456789abcdef0123456789abcdef\",\"feed\":\"soj\",\"type\":\"x\","
                          "\"occurred_on\":\"2024-03-01\",\"recorded_at\":\"2024-03-02T08:00:00Z\","
                          "\"pid\":\"fedcba9876543210fedcba9876543210\",\"client\":{\"gemeente\":\"GM0505\","
                          "\"birth_ym\":\"2012-13\"}}";
    cr_assert_str_eq(check(bad_bym, NULL), "schema:invalid:client.birth_ym");
}

/* The grammar is jansson's strict one (common/jdoc.h), and one document serves message after
 * message: a failure leaves nothing behind for the next. */
Test(linker_validate, strict_grammar_and_a_reused_document)
{
    cr_assert_str_eq(check(ENV(",\"type\":\"stop\""), "soj"), "json_parse", "duplicate key");
    cr_assert_str_eq(check(ENV(",\"referrer\":\"a\\u0000b\""), "soj"), "json_parse", "\\u0000 (PostgreSQL's jsonb refuses it)");
    cr_assert_str_eq(check(ENV(",\"amount_cents\":99999999999999999999999"), "soj"), "json_parse", "integer overflow");
    cr_assert_str_eq(check("\"just a string\"", "soj"), "json_parse");
    jtm_jdoc doc;
    jtm_jdoc_init(&doc);
    char reason[128];
    const char *good = ENV(",\"allocation_no\":\"0123456789abcdef0123456789abcdef\",\"amount_cents\":1250");
    const char *bad = ENV(",\"amount_cents\":\"12\"");
    cr_assert_eq(lk_validate_doc(&doc, good, strlen(good), "soj", reason, sizeof reason), 0);
    cr_assert_eq(lk_validate_doc(&doc, bad, strlen(bad), "soj", reason, sizeof reason), -1);
    cr_assert_str_eq(reason, "schema:invalid:amount_cents");
    cr_assert_eq(lk_validate_doc(&doc, "{", 1, "soj", reason, sizeof reason), -1);
    cr_assert_str_eq(reason, "json_parse");
    cr_assert_eq(lk_validate_doc(&doc, good, strlen(good), "soj", reason, sizeof reason), 0);
    jtm_jdoc_free(&doc);
}
