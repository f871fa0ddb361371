/* common/jdoc: the flat JSON document jtm-ingest parses events into. The fuzz target compares it
 * with jansson on arbitrary bytes; here, the cases that matter by name. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "jdoc.h"

static jtm_jdoc d;

static void setup(void) { jtm_jdoc_init(&d); }
static void teardown(void) { jtm_jdoc_free(&d); }

static int parse(const char *s) { return jtm_jdoc_parse(&d, s, strlen(s)); }

/* Parses s and checks the tree equals jansson's. */
static void same_as_jansson(const char *s)
{
    json_error_t e;
    json_t *want = json_loads(s, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
    cr_assert(want, "jansson refuses %s: %s", s, e.text);
    cr_assert_eq(parse(s), 0, "refused: %s", s);
    json_t *got = jtm_jdoc_to_json(&d, 0);
    cr_assert(json_equal(want, got), "different tree for %s", s);
    json_decref(want);
    json_decref(got);
}

TestSuite(jdoc, .init = setup, .fini = teardown);

Test(jdoc, parses_what_jansson_parses)
{
    same_as_jansson("{\"event_id\":\"e1\",\"client\":{\"bsn\":\"123456782\",\"sex\":1},\"n\":[1,-2,3.5,1e3,true,false,null]}");
    same_as_jansson("\"caf\\u00e9 \\ud83d\\ude00 \\\" \\\\ \\/ \\b\\f\\n\\r\\t\"");
    same_as_jansson("  [ ]  ");
    same_as_jansson("{}");
    same_as_jansson("-0");
    same_as_jansson("9223372036854775807");
    same_as_jansson("-9223372036854775808");
    same_as_jansson("12345678901234567");
    same_as_jansson("{\"\":1,\"k\":\"\"}");
    same_as_jansson("\"héllo ✓ 😀\"");
}

Test(jdoc, refuses_what_jansson_refuses)
{
    const char *bad[] = {"",           "{",           "{\"a\":1,}",       "[1,]",          "01",
                         "1.",         ".5",          "1e",               "+1",            "\"a",
                         "\"\\x\"",    "\"\\u0000\"", "\"\\ud800\"",      "\"\\udc00x\"",  "\"a\tb\"",
                         "tru",        "nul",         "[1] [2]",          "{\"a\" 1}",     "{1:2}",
                         "9223372036854775808",      "-9223372036854775809", "1e400",    "\"\xc3\x28\"",
                         "\"\xe0\x80\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "[1]\x01"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_error_t e;
        json_t *j = json_loads(bad[i], JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
        cr_expect_null(j, "jansson accepts case %zu", i);
        json_decref(j);
        cr_expect_eq(parse(bad[i]), -1, "accepted case %zu: %s", i, bad[i]);
    }
    cr_assert_eq(jtm_jdoc_parse(&d, "[1\0]", 4), -1, "a NUL byte is always refused");
    cr_assert_eq(jtm_jdoc_parse(&d, "\"a\0b\"", 5), -1);
}

Test(jdoc, refuses_duplicate_keys_in_small_and_large_objects)
{
    cr_assert_eq(parse("{\"a\":1,\"b\":2,\"a\":3}"), -1);
    char big[2048];
    size_t n = (size_t)snprintf(big, sizeof big, "{");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s\"key%d\":%d", i ? "," : "", i, i);
    snprintf(big + n, sizeof big - n, "}");
    cr_assert_eq(parse(big), 0);
    snprintf(big + n, sizeof big - n, ",\"key17\":0}");
    cr_assert_eq(parse(big), -1, "duplicate in a hashed object");
}

Test(jdoc, finds_members_by_key_in_small_and_large_objects)
{
    char big[4096];
    size_t n = (size_t)snprintf(big, sizeof big, "{\"small\":{\"x\":1,\"y\":\"two\"}");
    for (int i = 0; i < 60; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, ",\"k%d_with_a_rather_long_name_%d\":%d", i, i, i * 7);
    snprintf(big + n, sizeof big - n, "}");
    cr_assert_eq(parse(big), 0);
    cr_assert_eq(jtm_jdoc_node(&d, 0)->count, 61);
    for (int i = 0; i < 60; i++) {
        char k[64];
        snprintf(k, sizeof k, "k%d_with_a_rather_long_name_%d", i, i);
        uint32_t v = jtm_jdoc_getz(&d, 0, k);
        cr_assert_neq(v, 0, "%s not found", k);
        cr_assert_eq(jtm_jdoc_node(&d, v)->type, JTM_J_INT);
        cr_assert_eq(jtm_jdoc_node(&d, v)->v.i, i * 7);
    }
    cr_assert_eq(jtm_jdoc_getz(&d, 0, "k60_with_a_rather_long_name_60"), 0);
    uint32_t s = jtm_jdoc_getz(&d, 0, "small");
    cr_assert_neq(s, 0);
    uint32_t y = jtm_jdoc_getz(&d, s, "y");
    cr_assert_eq(jtm_jdoc_node(&d, y)->type, JTM_J_STRING);
    cr_assert_eq(jtm_jdoc_node(&d, y)->v.str.n, 3);
    cr_assert_eq(memcmp(jtm_jdoc_node(&d, y)->v.str.s, "two", 3), 0);
    cr_assert_eq(jtm_jdoc_getz(&d, s, "z"), 0);
    cr_assert_eq(jtm_jdoc_getz(&d, y, "y"), 0, "a string has no members");
}

Test(jdoc, escaped_strings_survive_later_strings)
{
    /* decoded strings live in the document's own buffer: each keeps its bytes */
    cr_assert_eq(parse("{\"a\\n\":\"x\\ty\",\"b\":\"\\u00e9\",\"c\\\"\":\"plain\"}"), 0);
    uint32_t a = jtm_jdoc_get(&d, 0, "a\n", 2), c = jtm_jdoc_get(&d, 0, "c\"", 2);
    cr_assert_neq(a, 0);
    cr_assert_neq(c, 0);
    cr_assert_eq(memcmp(jtm_jdoc_node(&d, a)->v.str.s, "x\ty", 3), 0);
    uint32_t b = jtm_jdoc_getz(&d, 0, "b");
    cr_assert_eq(memcmp(jtm_jdoc_node(&d, b)->v.str.s, "\xc3\xa9", 2), 0);
}

Test(jdoc, nesting_limit)
{
    static char deep[2 * (JTM_JDOC_MAX_DEPTH + 1) + 1];
    memset(deep, '[', JTM_JDOC_MAX_DEPTH);
    memset(deep + JTM_JDOC_MAX_DEPTH, ']', JTM_JDOC_MAX_DEPTH);
    cr_assert_eq(jtm_jdoc_parse(&d, deep, 2 * JTM_JDOC_MAX_DEPTH), 0);
    memset(deep, '[', JTM_JDOC_MAX_DEPTH + 1);
    memset(deep + JTM_JDOC_MAX_DEPTH + 1, ']', JTM_JDOC_MAX_DEPTH + 1);
    cr_assert_eq(jtm_jdoc_parse(&d, deep, 2 * (JTM_JDOC_MAX_DEPTH + 1)), -1);
}

Test(jdoc, from_json_builds_the_same_document)
{
    const char *s = "{\"a\":[1,2.5,{\"b\":null}],\"c\":\"d\",\"e\":true,\"f\":{\"g\":-7}}";
    json_t *j = json_loads(s, 0, NULL);
    cr_assert_eq(jtm_jdoc_from_json(&d, j), 0);
    json_t *back = jtm_jdoc_to_json(&d, 0);
    cr_assert(json_equal(j, back));
    uint32_t f = jtm_jdoc_getz(&d, 0, "f");
    cr_assert_eq(jtm_jdoc_node(&d, jtm_jdoc_getz(&d, f, "g"))->v.i, -7);
    json_decref(back);
    json_decref(j);
}

Test(jdoc, reuse_across_parses)
{
    for (int i = 0; i < 1000; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "{\"i\":%d,\"s\":\"v\\u%04x\"}", i, 0x41 + i % 26);
        cr_assert_eq(parse(buf), 0);
        cr_assert_eq(jtm_jdoc_node(&d, jtm_jdoc_getz(&d, 0, "i"))->v.i, i);
        cr_assert_eq(jtm_jdoc_node(&d, jtm_jdoc_getz(&d, 0, "s"))->v.str.s[1], (char)(0x41 + i % 26));
    }
}

/* The key hash is seeded per process (issue 16): keys that an attacker made collide for the
 * unseeded hash (here: 64 keys in one of 1,024 slots with seed 0) spread out under the process's
 * seed, and the seed is drawn (not zero) and stays the same. */
Test(jdoc, key_hash_is_seeded_per_process)
{
    static const uint64_t zero[2] = {0, 0};
    enum { N = 64, SLOTS = 1024 };
    char keys[N][16];
    int n = 0;
    uint32_t target = jtm_jdoc_key_hash_seeded(zero, "k0", 2) & (SLOTS - 1);
    for (long i = 0; n < N && i < 10000000; i++) {
        char k[16];
        int len = snprintf(k, sizeof k, "k%ld", i);
        if ((jtm_jdoc_key_hash_seeded(zero, k, (size_t)len) & (SLOTS - 1)) == target)
            memcpy(keys[n++], k, sizeof k);
    }
    cr_assert_eq(n, N, "found %d colliding keys", n);
    uint64_t seed[2], again[2];
    jtm_jdoc_hash_seed(seed);
    jtm_jdoc_hash_seed(again);
    cr_assert(seed[0] | seed[1], "the seed was drawn");
    cr_assert(seed[0] == again[0] && seed[1] == again[1], "one seed per process");
    int load[SLOTS] = {0}, worst = 0;
    for (int i = 0; i < N; i++) {
        int h = (int)(jtm_jdoc_key_hash_seeded(seed, keys[i], strlen(keys[i])) & (SLOTS - 1));
        if (++load[h] > worst)
            worst = load[h];
    }
    cr_assert_lt(worst, 8, "%d of the %d keys still share a slot", worst, N);
}
