/* common/pattern.c: the ECMA 262 subset, and the DFA agreeing with the NFA it is built from. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "pattern.h"

static jtm_pattern *compile(const char *src)
{
    char err[160] = "";
    jtm_pattern *p = jtm_pattern_compile(src, strlen(src), err, sizeof err);
    cr_assert_not_null(p, "%s: %s", src, err);
    return p;
}

static bool search(const char *src, const char *s)
{
    jtm_pattern *p = compile(src);
    bool r = jtm_pattern_search(p, s, strlen(s));
    cr_expect_eq(r, jtm_pattern_search_nfa(p, s, strlen(s)), "%s on \"%s\": DFA and NFA differ", src, s);
    jtm_pattern_free(p);
    return r;
}

Test(pattern, feed_patterns_get_a_dfa)
{
    const char *feed[] = {"^[A-Za-z0-9._:-]{1,64}$", "^[0-9]{8,9}$", "^[1-9][0-9]{3} ?[A-Za-z]{2}$", "^GM[0-9]{4}$",
                          "^[0-9A-Z]{4}[0-9]{2}$", "^[0-9]{8}$", "^[0-9a-f]{32}$", "^[0-9]{2}$", "^[1-9][0-9]{3}$",
                          "^(19|2[01])[0-9]{2}-(0[1-9]|1[0-2])$"};
    for (size_t i = 0; i < sizeof feed / sizeof feed[0]; i++) {
        jtm_pattern *p = compile(feed[i]);
        cr_expect(jtm_pattern_has_dfa(p), "%s has no DFA", feed[i]);
        jtm_pattern_free(p);
    }
}

Test(pattern, semantics)
{
    cr_expect(search("b", "abc"));
    cr_expect(!search("^b", "abc"));
    cr_expect(search("c$", "abc"));
    cr_expect(!search("b$", "abc\n")); /* $ is the end of input only */
    cr_expect(search("^$", ""));
    cr_expect(search("^a{0}$", ""));
    cr_expect(search("^(a|ab)(c|bcd)$", "abcd"));
    cr_expect(search("^[\\]a]+$", "]a]"));
    cr_expect(search("^[]]$", "]") == false); /* ECMA: [] is an empty class, then a literal ] */
    cr_expect(search("^[]]$", "") == false);
    cr_expect(search("^\\x41\\u0042$", "AB"));
    cr_expect(search("^\\ud83d\\ude00$", "\xf0\x9f\x98\x80"));
    cr_expect(search("^.$", "\xf0\x9f\x98\x80"));
    cr_expect(!search("^..$", "\xf0\x9f\x98\x80"));
    cr_expect(search("^[^x]$", "\xf0\x9f\x98\x80"));
    cr_expect(search("^a+?b*?$", "aab"));
    cr_expect(search("x{,3}", "x{,3}")); /* not a count: literal */
    cr_expect(search("^\\W\\D\\S$", "- x"));
}

Test(pattern, errors_and_fallback)
{
    const char *bad[] = {"(", ")", "a++", "*a", "[b-a]", "[a", "a{3,2}", "x{2000}", "\\"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[160] = "";
        jtm_pattern *p = jtm_pattern_compile(bad[i], strlen(bad[i]), err, sizeof err);
        cr_expect_null(p, "%s compiled", bad[i]);
        cr_expect_neq(err[0], '\0');
        jtm_pattern_free(p);
    }
    /* back references and \b are valid ECMA the built-in matcher leaves to POSIX */
    jtm_pattern *p = compile("^(ab)\\1$");
    cr_expect(jtm_pattern_search(p, "abab", 4));
    cr_expect(!jtm_pattern_search(p, "abba", 4));
    jtm_pattern_free(p);
}

/* Random patterns over a small alphabet, random inputs: the DFA must answer as the NFA does. */
static unsigned long long rng = 0x9E3779B97F4A7C15ull;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void gen(char *o, size_t cap, int depth)
{
    static const char *atoms[] = {"a", "b", "[ab]", "[^a]", "\\d", "1", "[0-9a]", "\\s", "\\S", "[^\\d]", "\\w"};
    int n = 1 + (int)rnd(3);
    for (int i = 0; i < n && strlen(o) + 40 < cap; i++) {
        unsigned k = rnd(depth < 3 ? 14 : 11);
        if (k < 11)
            strcat(o, atoms[k]);
        else if (k == 11)
            strcat(o, "^");
        else if (k == 12)
            strcat(o, "$");
        else {
            strcat(o, "(");
            gen(o, cap, depth + 1);
            if (rnd(2)) {
                strcat(o, "|");
                gen(o, cap, depth + 1);
            }
            strcat(o, ")");
        }
        switch (rnd(8)) {
        case 0: strcat(o, "*"); break;
        case 1: strcat(o, "+"); break;
        case 2: strcat(o, "?"); break;
        case 3: {
            char q[16];
            unsigned a = rnd(3);
            snprintf(q, sizeof q, "{%u,%u}", a, a + rnd(3));
            strcat(o, q);
            break;
        }
        default: break;
        }
    }
}

Test(pattern, dfa_agrees_with_nfa)
{
    static const char *chars[] = {"a", "b", "1", " ", "\xc3\xa9", "\xc2\xa0", "\n", "_"};
    int dfas = 0;
    for (int it = 0; it < 3000; it++) {
        char src[512] = "";
        if (rnd(2))
            strcat(src, "^");
        gen(src, sizeof src - 2, 0);
        if (rnd(2))
            strcat(src, "$");
        char err[160];
        jtm_pattern *p = jtm_pattern_compile(src, strlen(src), err, sizeof err);
        if (!p)
            continue;
        dfas += jtm_pattern_has_dfa(p);
        for (int k = 0; k < 30; k++) {
            char s[64] = "";
            for (unsigned i = 0, n = rnd(8); i < n; i++)
                strcat(s, chars[rnd(8)]);
            bool d = jtm_pattern_search(p, s, strlen(s)), nfa = jtm_pattern_search_nfa(p, s, strlen(s));
            cr_assert_eq(d, nfa, "pattern %s on \"%s\": DFA %d, NFA %d", src, s, d, nfa);
        }
        jtm_pattern_free(p);
    }
    cr_expect_gt(dfas, 1000);
}
