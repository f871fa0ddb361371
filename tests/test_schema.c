/* common/schema.c against the official JSON-Schema-Test-Suite (draft 7, Debian package
 * json-schema-test-suite) for every keyword the validator supports, plus the reason codes and
 * pattern features the feed schemas rely on. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

#define SUITE_DIR "/usr/share/json-schema-test-suite/tests/draft7"

/* Test-suite groups we skip on purpose, by file and group description. Keep this short.
 * definitions.json is not run at all: both its groups validate against the remote draft-07
 * meta-schema ($ref to http://json-schema.org/draft-07/schema#). */
static const struct {
    const char *file, *group, *why;
} SKIPS[] = {
    {"ref.json", "remote ref, containing refs itself", "remote $ref (the draft-07 meta-schema over HTTP)"},
    {"ref.json", "Recursive references between schemas", "$id base-URI changes; only #-pointers are supported"},
};

static bool skipped(const char *file, const char *group)
{
    for (size_t i = 0; i < sizeof SKIPS / sizeof SKIPS[0]; i++)
        if (strcmp(SKIPS[i].file, file) == 0 && strcmp(SKIPS[i].group, group) == 0)
            return true;
    return false;
}

static void run_suite_file(const char *file)
{
    const char *dir = getenv("JTM_SCHEMA_TEST_SUITE") ? getenv("JTM_SCHEMA_TEST_SUITE") : SUITE_DIR;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    json_error_t jerr;
    json_t *groups = json_load_file(path, 0, &jerr);
    cr_assert_not_null(groups, "cannot read %s: %s (install json-schema-test-suite)", path, jerr.text);
    size_t gi, ti, cases = 0;
    json_t *g, *t;
    json_array_foreach(groups, gi, g)
    {
        const char *gdesc = json_string_value(json_object_get(g, "description"));
        if (skipped(file, gdesc))
            continue;
        char err[256] = "";
        jtm_schema *s = jtm_schema_compile(json_object_get(g, "schema"), err, sizeof err);
        cr_assert_not_null(s, "%s / %s: schema does not compile: %s", file, gdesc, err);
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            const char *tdesc = json_string_value(json_object_get(t, "description"));
            bool want = json_is_true(json_object_get(t, "valid"));
            char reason[256] = "";
            int rc = jtm_schema_validate(s, json_object_get(t, "data"), reason, sizeof reason);
            cr_expect_eq(rc == 0, want, "%s / %s / %s: expected %s, got %s", file, gdesc, tdesc,
                         want ? "valid" : "invalid", rc == 0 ? "valid" : reason);
            if (rc != 0)
                cr_expect(strncmp(reason, "schema:", 7) == 0, "%s / %s: reason %s", file, tdesc, reason);
            cases++;
        }
        jtm_schema_free(s);
    }
    cr_expect_gt(cases, 0, "%s: no cases ran", file);
    json_decref(groups);
}

#define SUITE_TEST(name, file)                                                                     \
    Test(schema_suite, name) { run_suite_file(file); }

SUITE_TEST(type, "type.json")
SUITE_TEST(properties, "properties.json")
SUITE_TEST(required, "required.json")
SUITE_TEST(additionalProperties, "additionalProperties.json")
SUITE_TEST(patternProperties, "patternProperties.json")
SUITE_TEST(enum_, "enum.json")
SUITE_TEST(const_, "const.json")
SUITE_TEST(pattern, "pattern.json")
SUITE_TEST(minLength, "minLength.json")
SUITE_TEST(maxLength, "maxLength.json")
SUITE_TEST(minimum, "minimum.json")
SUITE_TEST(maximum, "maximum.json")
SUITE_TEST(exclusiveMinimum, "exclusiveMinimum.json")
SUITE_TEST(exclusiveMaximum, "exclusiveMaximum.json")
SUITE_TEST(multipleOf, "multipleOf.json")
SUITE_TEST(items, "items.json")
SUITE_TEST(additionalItems, "additionalItems.json")
SUITE_TEST(minItems, "minItems.json")
SUITE_TEST(maxItems, "maxItems.json")
SUITE_TEST(allOf, "allOf.json")
SUITE_TEST(anyOf, "anyOf.json")
SUITE_TEST(oneOf, "oneOf.json")
SUITE_TEST(not_, "not.json")
SUITE_TEST(if_then_else, "if-then-else.json")
SUITE_TEST(ref, "ref.json")
SUITE_TEST(boolean_schema, "boolean_schema.json")
SUITE_TEST(default_, "default.json")
SUITE_TEST(format_date, "optional/format/date.json")
SUITE_TEST(format_date_time, "optional/format/date-time.json")
SUITE_TEST(zero_terminated_floats, "optional/zeroTerminatedFloats.json")

/* --- our own cases ------------------------------------------------------------------------- */

static jtm_schema *compile_str(const char *text)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    cr_assert_not_null(doc, "bad test schema: %s", jerr.text);
    char err[256] = "";
    jtm_schema *s = jtm_schema_compile(doc, err, sizeof err);
    cr_assert_not_null(s, "compile: %s", err);
    json_decref(doc);
    return s;
}

/* "" when valid, else the reason. */
static const char *check(const jtm_schema *s, const char *instance)
{
    static char reason[256];
    json_error_t jerr;
    json_t *j = json_loads(instance, JSON_DECODE_ANY, &jerr);
    cr_assert_not_null(j, "bad test instance %s: %s", instance, jerr.text);
    reason[0] = '\0';
    int rc = jtm_schema_validate(s, j, reason, sizeof reason);
    json_decref(j);
    cr_assert_eq(rc == 0, reason[0] == '\0', "rc %d with reason \"%s\"", rc, reason);
    return reason;
}

static bool matches(const char *pattern, const char *text)
{
    char buf[512];
    snprintf(buf, sizeof buf, "{\"type\":\"string\",\"pattern\":%s}", pattern);
    jtm_schema *s = compile_str(buf);
    char inst[256];
    json_t *j = json_string(text);
    char *dump = json_dumps(j, JSON_ENCODE_ANY);
    snprintf(inst, sizeof inst, "%s", dump);
    free(dump);
    json_decref(j);
    bool ok = check(s, inst)[0] == '\0';
    jtm_schema_free(s);
    return ok;
}

Test(schema, reason_paths)
{
    jtm_schema *s = compile_str(
        "{\"type\":\"object\",\"required\":[\"a\",\"c\"],\"properties\":{"
        "\"a\":{\"type\":\"object\",\"required\":[\"b\"],\"properties\":{\"b\":{\"type\":\"integer\"}}},"
        "\"list\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"x\":{\"enum\":[\"1\",\"2\"]}}}},"
        "\"d\":{\"type\":\"string\",\"format\":\"date\"},"
        "\"s\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":3},"
        "\"n\":{\"type\":\"integer\",\"minimum\":0},"
        "\"k\":{\"const\":\"x\"},"
        "\"closed\":{\"type\":\"object\",\"properties\":{\"p\":{}},\"additionalProperties\":false},"
        "\"o\":{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}}}");
    cr_expect_str_eq(check(s, "[]"), "schema:type:$");
    cr_expect_str_eq(check(s, "{}"), "schema:missing:a");
    cr_expect_str_eq(check(s, "{\"a\":{}}"), "schema:missing:a.b");
    cr_expect_str_eq(check(s, "{\"a\":{\"b\":\"1\"},\"c\":1}"), "schema:type:a.b");
    cr_expect_str_eq(check(s, "{\"a\":{\"b\":1}}"), "schema:missing:c");
    cr_expect_str_eq(check(s, "{\"a\":{\"b\":1.0},\"c\":1}"), "");
    cr_expect_str_eq(check(s, "{\"a\":{\"b\":1},\"c\":1,\"list\":[{\"x\":\"1\"},{\"x\":\"3\"}]}"),
                     "schema:enum:list[1].x");
    cr_expect_str_eq(check(s, "{\"a\":{\"b\":1},\"c\":1,\"d\":\"2023-02-30\"}"), "schema:format:d");
    cr_expect_str_eq(check(s, "{\"a\":{\"b\":1},\"c\":1,\"d\":\"2024-02-29\"}"), "");
    cr_expect_str_eq(check(s, "{\"a\":{\"b\":1},\"c\":1,\"s\":\"\xc3\xa9\xc3\xa9\"}"), "");
    cr_expect_str_eq(check(s, "{\"a\":{\"b\":1},\"c\":1,\"s\":\"\xc3\xa9\"}"), "schema:length:s");
    cr_expect_str_eq(check(s, "{\"a\":{\"b\":1},\"c\":1,\"n\":-1}"), "schema:range:n");
    cr_expect_str_eq(check(s, "{\"a\":{\"b\":1},\"c\":1,\"k\":\"y\"}"), "schema:const:k");
    cr_expect_str_eq(check(s, "{\"a\":{\"b\":1},\"c\":1,\"closed\":{\"p\":1,\"q\":2}}"),
                     "schema:additional:closed.q");
    cr_expect_str_eq(check(s, "{\"a\":{\"b\":1},\"c\":1,\"o\":true}"), "schema:oneof:o");
    /* properties order decides which error comes first */
    cr_expect_str_eq(check(s, "{\"a\":{\"b\":1},\"c\":1,\"n\":-1,\"d\":\"x\"}"), "schema:format:d");
    jtm_schema_free(s);
}

Test(schema, reason_truncated_and_null)
{
    jtm_schema *s = compile_str("{\"required\":[\"a_long_property_name\"]}");
    json_t *j = json_object();
    char small[12];
    cr_expect_eq(jtm_schema_validate(s, j, small, sizeof small), -1);
    cr_expect_eq(strlen(small), sizeof small - 1);
    cr_expect_eq(jtm_schema_validate(s, j, NULL, 0), -1);
    json_decref(j);
    jtm_schema_free(s);
}

Test(schema, if_then_reports_the_inner_field)
{
    jtm_schema *s = compile_str(
        "{\"type\":\"object\",\"properties\":{\"type\":{\"enum\":[\"a\",\"b\"]}},\"allOf\":["
        "{\"if\":{\"properties\":{\"type\":{\"const\":\"a\"}},\"required\":[\"type\"]},"
        "\"then\":{\"required\":[\"x\"]}},"
        "{\"if\":{\"properties\":{\"type\":{\"const\":\"b\"}},\"required\":[\"type\"]},"
        "\"then\":{\"required\":[\"y\"],\"properties\":{\"type\":true,\"y\":true},\"additionalProperties\":false}}]}");
    cr_expect_str_eq(check(s, "{\"type\":\"a\"}"), "schema:missing:x");
    cr_expect_str_eq(check(s, "{\"type\":\"b\"}"), "schema:missing:y");
    cr_expect_str_eq(check(s, "{\"type\":\"b\",\"y\":1,\"x\":1}"), "schema:additional:x");
    cr_expect_str_eq(check(s, "{\"type\":\"c\"}"), "schema:enum:type");
    cr_expect_str_eq(check(s, "{\"type\":\"a\",\"x\":0,\"z\":0}"), "");
    jtm_schema_free(s);
}

Test(schema, ref_loop_hits_depth)
{
    jtm_schema *s = compile_str("{\"definitions\":{\"a\":{\"$ref\":\"#/definitions/b\"},"
                                "\"b\":{\"$ref\":\"#/definitions/a\"}},\"$ref\":\"#/definitions/a\"}");
    cr_expect_str_eq(check(s, "1"), "schema:depth:$");
    jtm_schema_free(s);
}

Test(schema, compile_errors)
{
    const char *bad[] = {
        "{\"$ref\":\"http://example.com/x.json\"}",
        "{\"$ref\":\"#/definitions/nope\"}",
        "{\"type\":\"integr\"}",
        "{\"minLength\":-1}",
        "{\"pattern\":\"(\"}",
        "{\"pattern\":\"a++\"}",
        "{\"pattern\":\"x{2000}\"}",
        "{\"patternProperties\":{\"[b-a]\":{}}}",
        "{\"required\":\"a\"}",
        "{\"properties\":{\"a\":3}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *doc = json_loads(bad[i], 0, NULL);
        char err[256] = "";
        jtm_schema *s = jtm_schema_compile(doc, err, sizeof err);
        cr_expect_null(s, "%s compiled", bad[i]);
        cr_expect_neq(err[0], '\0', "%s: no error text", bad[i]);
        jtm_schema_free(s);
        json_decref(doc);
    }
    char err[256] = "";
    cr_expect_null(jtm_schema_load("/nonexistent/x.json", err, sizeof err));
    cr_expect_neq(err[0], '\0');
}

Test(schema, patterns)
{
    cr_expect(matches("\"^[0-9]{8,9}$\"", "123456782"));
    cr_expect(matches("\"^[0-9]{8,9}$\"", "12345678"));
    cr_expect(!matches("\"^[0-9]{8,9}$\"", "1234567"));
    cr_expect(!matches("\"^[0-9]{8,9}$\"", "1234567890"));
    cr_expect(!matches("\"^[0-9]{8,9}$\"", "12345678a"));
    cr_expect(matches("\"^[1-9][0-9]{3} ?[A-Za-z]{2}$\"", "3311 AB"));
    cr_expect(matches("\"^[1-9][0-9]{3} ?[A-Za-z]{2}$\"", "3311ab"));
    cr_expect(!matches("\"^[1-9][0-9]{3} ?[A-Za-z]{2}$\"", "0311AB"));
    cr_expect(!matches("\"^[1-9][0-9]{3} ?[A-Za-z]{2}$\"", "3311  AB"));
    cr_expect(matches("\"^(19|2[01])[0-9]{2}-(0[1-9]|1[0-2])$\"", "2012-05"));
    cr_expect(!matches("\"^(19|2[01])[0-9]{2}-(0[1-9]|1[0-2])$\"", "2012-13"));
    cr_expect(!matches("\"^(19|2[01])[0-9]{2}-(0[1-9]|1[0-2])$\"", "1812-01"));
    cr_expect(matches("\"^[A-Za-z0-9._:-]{1,64}$\"", "ev:2024.01_a-b"));
    cr_expect(!matches("\"^[A-Za-z0-9._:-]{1,64}$\"", "ev 1"));
    cr_expect(matches("\"^\\\\d+\\\\.\\\\d{2}$\"", "12.50"));
    cr_expect(!matches("\"^\\\\d+\\\\.\\\\d{2}$\"", "12x50"));
    cr_expect(matches("\"^\\\\w+$\"", "a_1"));
    cr_expect(!matches("\"^\\\\w+$\"", "a-1"));
    cr_expect(matches("\"^[^\\\\s]+$\"", "abc"));
    cr_expect(!matches("\"^[^\\\\s]+$\"", "a c"));
    cr_expect(matches("\"^.$\"", "\xc3\xa9"));        /* one code point */
    cr_expect(matches("\"^\\\\u00e9$\"", "\xc3\xa9")); /* \uHHHH */
    cr_expect(matches("\"b\"", "abc"));                /* not anchored */
    cr_expect(matches("\"a{2\"", "xa{2"));             /* '{' without a count is a literal */
    cr_expect(matches("\"^(?:ab)*c$\"", "ababc"));
    cr_expect(!matches("\"^(?:ab)*c$\"", "abac"));
    cr_expect(matches("\"^(a|)$\"", ""));
    cr_expect(matches("\"^$\"", ""));
    cr_expect(matches("\"^(a*)*$\"", "aaaa"));
    /* non-ASCII input and classes (the DFA treats every non-ASCII code point alike; others run the NFA) */
    cr_expect(matches("\"^[^a]$\"", "\xc3\xa9"));
    cr_expect(!matches("\"^[^a]$\"", "\xc3\xa9\xc3\xa9"));
    cr_expect(matches("\"^[^a]{2}$\"", "\xc3\xa9\xe2\x82\xac"));
    cr_expect(!matches("\"^[a-z]$\"", "\xc3\xa9"));
    cr_expect(matches("\"^\\\\S+$\"", "\xc3\xa9x"));
    cr_expect(!matches("\"^\\\\S+$\"", "x\xc2\xa0"));             /* U+00A0 is \s */
    cr_expect(matches("\"^[\xce\xb1-\xcf\x89]+$\"", "\xce\xb2\xce\xb3")); /* [α-ω] */
    cr_expect(!matches("\"^[\xce\xb1-\xcf\x89]+$\"", "\xce\xb2" "a"));
    cr_expect(matches("\"caf\xc3\xa9\"", "un caf\xc3\xa9"));
    cr_expect(matches("\"^a.c$\"", "a\xe2\x82\xac" "c"));
    cr_expect(!matches("\"^a.c$\"", "a\nc"));
    /* larger than the DFA limit: still matches through the NFA */
    cr_expect(matches("\"^(a|b)*a[ab]{8}$\"", "bbaabababab"));
    cr_expect(!matches("\"^(a|b)*a[ab]{8}$\"", "abbbbbbbbbbb"));
    cr_expect(matches("\"^(a|b|c|d)*[ab]{0,40}x{3}$\"", "abcdabxxx"));
    cr_expect(matches("\"^[0-9a-f]{32}$\"", "0123456789abcdef0123456789abcdef"));
    cr_expect(!matches("\"^[0-9a-f]{32}$\"", "0123456789abcdef0123456789abcdeF"));
    cr_expect(!matches("\"^[0-9a-f]{32}$\"", "0123456789abcdef0123456789abcdef0"));
    /* falls back to POSIX */
    cr_expect(matches("\"^(a)\\\\1$\"", "aa"));
}
