#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "testenv.h"

typedef struct sample_config {
    char *name;
    long long batch_max;
    double ratio;
    bool enabled;
    char *secret;
} sample_config;

static const jtm_option sample_options[] = {
    JTM_OPT_STR("name", "default-name", name, sample_config, "a name"),
    JTM_OPT_INT("batch.max", "100", 1, 1000, batch_max, sample_config, "batch size"),
    JTM_OPT_DBL("ratio", "0.5", 0, 1, ratio, sample_config, "a ratio"),
    JTM_OPT_BOOL("enabled", "false", enabled, sample_config, "a switch"),
    JTM_OPT_SECRET("secret", NULL, secret, sample_config, "a secret"),
    JTM_OPT_END,
};

static char err[512];

Test(config, defaults_apply)
{
    sample_config c = {0};
    jtm_passthrough pt = {0};
    cr_assert_eq(jtm_config_load(sample_options, &c, &pt, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(c.name, "default-name");
    cr_assert_eq(c.batch_max, 100);
    cr_assert_float_eq(c.ratio, 0.5, 1e-12);
    cr_assert_not(c.enabled);
    cr_assert_null(c.secret);
    jtm_config_free(sample_options, &c, &pt);
}

Test(config, file_values_and_passthrough)
{
    sample_config c = {0};
    jtm_passthrough pt = {0};
    char *path = jtm_test_fixture("config/sample.conf");
    cr_assert_eq(jtm_config_load(sample_options, &c, &pt, path, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(c.name, "jtm sample = with equals");
    cr_assert_eq(c.batch_max, 500);
    cr_assert_float_eq(c.ratio, 0.25, 1e-12);
    cr_assert(c.enabled);
    cr_assert_str_eq(jtm_kvlist_get(&pt.kafka, "bootstrap.servers"), "127.0.0.1:9092");
    cr_assert_str_eq(jtm_kvlist_get(&pt.kafka, "sasl.password"), "s3cret");
    char *ci = jtm_config_pg_conninfo(&pt);
    cr_assert_str_eq(ci, "host=/tmp port=5432 application_name='jtm-test'");
    free(ci);
    free(path);
    jtm_config_free(sample_options, &c, &pt);
}

Test(config, environment_overrides_file)
{
    sample_config c = {0};
    jtm_passthrough pt = {0};
    char *path = jtm_test_fixture("config/sample.conf");
    setenv("JTM_BATCH_MAX", "42", 1);
    setenv("JTM_KAFKA_BOOTSTRAP_SERVERS", "10.0.0.1:9093", 1);
    setenv("JTM_PG_CONNECT_TIMEOUT", "7", 1);
    cr_assert_eq(jtm_config_load(sample_options, &c, &pt, path, err, sizeof err), 0, "%s", err);
    unsetenv("JTM_BATCH_MAX");
    unsetenv("JTM_KAFKA_BOOTSTRAP_SERVERS");
    unsetenv("JTM_PG_CONNECT_TIMEOUT");
    cr_assert_eq(c.batch_max, 42);
    cr_assert_str_eq(jtm_kvlist_get(&pt.kafka, "bootstrap.servers"), "10.0.0.1:9093");
    cr_assert_str_eq(jtm_kvlist_get(&pt.pg, "connect_timeout"), "7");
    free(path);
    jtm_config_free(sample_options, &c, &pt);
}

Test(config, errors_name_file_and_line)
{
    sample_config c = {0};
    jtm_passthrough pt = {0};
    char *p1 = jtm_test_fixture("config/bad_int.conf");
    cr_assert_eq(jtm_config_load(sample_options, &c, &pt, p1, err, sizeof err), -1);
    cr_assert(strstr(err, "bad_int.conf:1") && strstr(err, "batch.max"), "%s", err);
    char *p2 = jtm_test_fixture("config/bad_line.conf");
    cr_assert_eq(jtm_config_load(sample_options, &c, &pt, p2, err, sizeof err), -1);
    cr_assert(strstr(err, "bad_line.conf:2"), "%s", err);
    char *p3 = jtm_test_fixture("config/unknown.conf");
    cr_assert_eq(jtm_config_load(sample_options, &c, &pt, p3, err, sizeof err), -1);
    cr_assert(strstr(err, "unknown option unknown.option"), "%s", err);
    cr_assert_eq(jtm_config_load(sample_options, &c, &pt, "/nonexistent/x.conf", err, sizeof err), -1);
    cr_assert(strstr(err, "/nonexistent/x.conf"), "%s", err);
    free(p1);
    free(p2);
    free(p3);
    jtm_config_free(sample_options, &c, &pt);
}

Test(config, bounds_and_types)
{
    sample_config c = {0};
    jtm_passthrough pt = {0};
    cr_assert_eq(jtm_config_defaults(sample_options, &c, err, sizeof err), 0);
    cr_assert_eq(jtm_config_set(sample_options, &c, &pt, "batch.max", "0", err, sizeof err), -1);
    cr_assert(strstr(err, "out of range"), "%s", err);
    cr_assert_eq(jtm_config_set(sample_options, &c, &pt, "ratio", "nan", err, sizeof err), -1);
    cr_assert_eq(jtm_config_set(sample_options, &c, &pt, "enabled", "maybe", err, sizeof err), -1);
    cr_assert_eq(jtm_config_set(sample_options, &c, &pt, "secret", "hunter2", err, sizeof err), 0);
    cr_assert_eq(jtm_config_set(sample_options, &c, &pt, "enabled", "hunter2", err, sizeof err), -1);
    cr_assert_null(strstr(err, "hunter2"), "an error must not echo values: %s", err);
    jtm_config_free(sample_options, &c, &pt);
}

Test(config, conninfo_quotes_values)
{
    jtm_passthrough pt = {0};
    jtm_kvlist_set(&pt.pg, "password", "it's a \\ test");
    jtm_kvlist_set(&pt.pg, "dbname", "jtm");
    char *ci = jtm_config_pg_conninfo(&pt);
    cr_assert_str_eq(ci, "password='it\\'s a \\\\ test' dbname='jtm'");
    free(ci);
    jtm_kvlist_set(&pt.pg, "conninfo", "postgresql://u@h/db");
    ci = jtm_config_pg_conninfo(&pt);
    cr_assert_str_eq(ci, "postgresql://u@h/db");
    free(ci);
    jtm_kvlist_free(&pt.pg);
}

typedef struct leveled_config {
    char *log_level;
    long long n;
} leveled_config;

static const jtm_option leveled_options[] = {
    JTM_OPT_STR("log.level", "info", log_level, leveled_config, "level"),
    JTM_OPT_INT("n", "1", 0, 100, n, leveled_config, "a number"),
    JTM_OPT_END,
};

Test(config, startup_applies_command_line_last_and_log_level)
{
    leveled_config c = {0};
    jtm_passthrough pt = {0};
    jtm_kvlist cli = {0};
    cr_assert_eq(jtm_config_cli_add(&cli, "n=5"), 0);
    cr_assert_eq(jtm_config_cli_add(&cli, "n=7"), 0, "a later setting wins");
    cr_assert_eq(jtm_config_cli_add(&cli, "kafka.client.id=x=y"), 0, "the value may hold '='");
    cr_assert_eq(jtm_config_cli_add(&cli, "no-equals"), -1);
    cr_assert_eq(jtm_config_cli_add(&cli, "=v"), -1);
    setenv("JTM_N", "3", 1);
    cr_assert_eq(jtm_config_startup(leveled_options, &c, &pt, NULL, &cli, err, sizeof err), 0, "%s", err);
    unsetenv("JTM_N");
    cr_assert_eq(c.n, 7);
    cr_assert_str_eq(jtm_kvlist_get(&pt.kafka, "client.id"), "x=y");
    jtm_kvlist_set(&cli, "log.level", "loud");
    cr_assert_eq(jtm_config_startup(leveled_options, &c, &pt, NULL, &cli, err, sizeof err), -1);
    cr_assert(strstr(err, "log.level"), "%s", err);
    jtm_kvlist_set(&cli, "n", "1000");
    cr_assert_eq(jtm_config_startup(leveled_options, &c, &pt, NULL, &cli, err, sizeof err), -1);
    cr_assert(strstr(err, "command line") && strstr(err, "n"), "%s", err);
    jtm_kvlist_free(&cli);
    jtm_config_free(leveled_options, &c, &pt);
}

Test(config, own_prefix_keys_are_kept_for_the_program)
{
    sample_config c = {0};
    jtm_passthrough pt = {.own_prefix = "route."};
    cr_assert_eq(jtm_config_defaults(sample_options, &c, err, sizeof err), 0);
    cr_assert_eq(jtm_config_set(sample_options, &c, &pt, "route.GM0505.url", "http://a", err, sizeof err), 0);
    cr_assert_eq(jtm_config_set(sample_options, &c, &pt, "route.default.url", "http://b", err, sizeof err), 0);
    cr_assert_eq(jtm_config_set(sample_options, &c, &pt, "routes", "x", err, sizeof err), -1, "only the prefix");
    cr_assert_eq(pt.own.count, 2);
    cr_assert_str_eq(pt.own.items[0].key, "route.GM0505.url");
    cr_assert_str_eq(jtm_kvlist_get(&pt.own, "route.default.url"), "http://b");
    jtm_config_free(sample_options, &c, &pt);
    cr_assert_eq(pt.own.count, 0);
}
