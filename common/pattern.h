/* ECMA 262 regular expressions as JSON Schema's "pattern" and "patternProperties" use them:
 * a yes/no search (not anchored: "^" and "$" anchor), code-point aware, on UTF-8 text.
 *
 * Supported: literals, ., [...] classes with ranges and negation, \d \D \w \W \s \S,
 * \t \n \r \f \v \0 \xHH \uHHHH (surrogate pairs joined), identity escapes of punctuation, groups
 * (...) and (?:...), |, ^, $, and the quantifiers ? * + {n} {n,} {n,m} (lazy forms accepted: they
 * do not change a yes/no answer). A "{" that does not start a count is a literal.
 *
 * A pattern compiles to a Thompson NFA (at most 1024 steps; x{2000} is refused) matched in linear
 * time with no allocation. When the pattern treats every non-ASCII code point alike (no ".", no
 * non-ASCII literal, classes hold all of them or none; every feed-schema pattern) and needs at
 * most 256 states, a DFA table is also built at compile time: one table step per character.
 * A pattern with back references, \b, \B, look-around or Annex-B escapes falls back to POSIX
 * regcomp(REG_EXTENDED) (glibc's regexec may allocate). Syntax errors ("a++", "(", "[b-a]") fail.
 */
#ifndef JTM_PATTERN_H
#define JTM_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct jtm_pattern jtm_pattern;

/* Compiles src (len bytes of UTF-8, need not be NUL-terminated). NULL and errstr on failure. */
jtm_pattern *jtm_pattern_compile(const char *src, size_t len, char *errstr, size_t errlen);
void jtm_pattern_free(jtm_pattern *p);
/* Does p match somewhere in s (len bytes of valid UTF-8)? Thread-safe on a shared p. */
bool jtm_pattern_search(const jtm_pattern *p, const char *s, size_t len);
/* For tests: the NFA path alone (the reference the DFA must agree with), and whether a DFA exists. */
bool jtm_pattern_search_nfa(const jtm_pattern *p, const char *s, size_t len);
bool jtm_pattern_has_dfa(const jtm_pattern *p);

#endif
