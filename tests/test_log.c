#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>

#include "log.h"

Test(log, quote_plain_and_special)
{
    char buf[64];
    cr_assert_str_eq(jtm_log_quote(buf, sizeof buf, "plain_token-1.2"), "plain_token-1.2");
    cr_assert_str_eq(jtm_log_quote(buf, sizeof buf, "two words"), "\"two words\"");
    cr_assert_str_eq(jtm_log_quote(buf, sizeof buf, "a\"b\\c"), "\"a\\\"b\\\\c\"");
    cr_assert_str_eq(jtm_log_quote(buf, sizeof buf, "line\nbreak"), "\"line\\x0abreak\"");
    cr_assert_str_eq(jtm_log_quote(buf, sizeof buf, ""), "\"\"");
    char small[8];
    jtm_log_quote(small, sizeof small, "a very long value with spaces");
    cr_assert_lt(strlen(small), sizeof small);
}

Test(log, level_parse)
{
    jtm_log_level l;
    cr_assert_eq(jtm_log_level_parse("warn", &l), 0);
    cr_assert_eq(l, JTM_LOG_WARN);
    cr_assert_eq(jtm_log_level_parse("loud", &l), -1);
}

Test(log, one_structured_line, .init = cr_redirect_stderr)
{
    jtm_log_init("jtm-test", JTM_LOG_INFO);
    log_debug("hidden", "x=%d", 1);
    log_info("started", "feed=%s n=%d note=%s", "jgz", 3, "has\nnewline");
    fflush(stderr);
    FILE *f = cr_get_redirected_stderr();
    char line[512];
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert(strncmp(line, "ts=", 3) == 0, "%s", line);
    cr_assert(strstr(line, " level=info prog=jtm-test event=started feed=jgz n=3 note=has newline\n"), "%s", line);
    cr_assert_null(fgets(line, sizeof line, f), "debug line must be filtered and the newline replaced");
}
