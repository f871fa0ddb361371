/* Unit tests of common/kafka.c that need no broker: configuration errors, defaults and overrides,
 * the start-up reachability check against a closed port. */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "kafka.h"
#include "testenv.h"

static char err[512];

static const char *conf_value(rd_kafka_t *rk, const char *key, char *buf, size_t len)
{
    size_t n = len;
    cr_assert_eq(rd_kafka_conf_get(rd_kafka_conf(rk), key, buf, &n), RD_KAFKA_CONF_OK, "%s", key);
    return buf;
}

Test(kafka, unknown_key_is_refused_and_named)
{
    jtm_kvlist kv = {0};
    jtm_kvlist_set(&kv, "linger.ms", "10");
    jtm_kvlist_set(&kv, "no.such.property", "whatever");
    err[0] = '\0';
    cr_assert_null(jtm_kafka_conf_new(&kv, err, sizeof err));
    cr_assert(strstr(err, "kafka.no.such.property"), "%s", err);
    cr_assert(strstr(err, "unknown"), "%s", err);
    cr_assert_null(strstr(err, "whatever"), "%s", err);
    jtm_kvlist_free(&kv);
}

Test(kafka, bad_value_names_the_key_never_the_value)
{
    jtm_kvlist kv = {0};
    jtm_kvlist_set(&kv, "linger.ms", "s3cr3t-not-a-number");
    cr_assert_null(jtm_kafka_conf_new(&kv, err, sizeof err));
    cr_assert(strstr(err, "kafka.linger.ms"), "%s", err);
    cr_assert_null(strstr(err, "s3cr3t"), "%s", err);
    jtm_kvlist_free(&kv);

    /* Too short to mask without garbling librdkafka's text: a generic message. */
    jtm_kvlist_set(&kv, "linger.ms", "zz");
    cr_assert_null(jtm_kafka_conf_new(&kv, err, sizeof err));
    cr_assert(strstr(err, "kafka.linger.ms: invalid value"), "%s", err);
    cr_assert_null(strstr(err, "zz"), "%s", err);
    jtm_kvlist_free(&kv);

    /* The same through the producer and consumer constructors. */
    jtm_kvlist_set(&kv, "compression.type", "password123");
    cr_assert_null(jtm_kafka_producer_new(&kv, NULL, NULL, err, sizeof err));
    cr_assert(strstr(err, "kafka.compression.type"), "%s", err);
    cr_assert_null(strstr(err, "password123"), "%s", err);
    cr_assert_null(jtm_kafka_consumer_new(&kv, "g", NULL, NULL, err, sizeof err));
    cr_assert(strstr(err, "kafka.compression.type"), "%s", err);
    jtm_kvlist_free(&kv);
}

Test(kafka, producer_defaults_and_overrides)
{
    jtm_kvlist kv = {0};
    jtm_kvlist_set(&kv, "bootstrap.servers", "127.0.0.1:1");
    jtm_kvlist_set(&kv, "linger.ms", "50");
    rd_kafka_t *rk = jtm_kafka_producer_new(&kv, NULL, NULL, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    char buf[128];
    cr_assert_str_eq(conf_value(rk, "enable.idempotence", buf, sizeof buf), "true");
    cr_assert_str_eq(conf_value(rk, "compression.type", buf, sizeof buf), "lz4");
    cr_assert_str_eq(conf_value(rk, "linger.ms", buf, sizeof buf), "50"); /* the user wins */
    cr_assert_str_eq(conf_value(rk, "batch.num.messages", buf, sizeof buf), "10000");
    cr_assert_str_eq(conf_value(rk, "queue.buffering.max.messages", buf, sizeof buf), "1000000");
    int left = -1;
    cr_assert_eq(jtm_kafka_flush(rk, 100, &left, err, sizeof err), 0, "%s", err);
    cr_assert_eq(left, 0);
    rd_kafka_destroy(rk);
    jtm_kvlist_free(&kv);
}

Test(kafka, consumer_defaults_group_and_overrides)
{
    jtm_kvlist kv = {0};
    jtm_kvlist_set(&kv, "bootstrap.servers", "127.0.0.1:1");
    rd_kafka_t *rk = jtm_kafka_consumer_new(&kv, "from-arg", NULL, NULL, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    char buf[128];
    cr_assert_str_eq(conf_value(rk, "group.id", buf, sizeof buf), "from-arg");
    cr_assert_str_eq(conf_value(rk, "enable.auto.offset.store", buf, sizeof buf), "false");
    cr_assert_str_eq(conf_value(rk, "enable.auto.commit", buf, sizeof buf), "true");
    conf_value(rk, "auto.offset.reset", buf, sizeof buf); /* librdkafka reads back its alias */
    cr_assert(strcmp(buf, "earliest") == 0 || strcmp(buf, "smallest") == 0, "%s", buf);
    cr_assert_str_eq(conf_value(rk, "partition.assignment.strategy", buf, sizeof buf), "range");
    rd_kafka_destroy(rk);

    jtm_kvlist_set(&kv, "group.id", "from-config");
    jtm_kvlist_set(&kv, "auto.offset.reset", "latest");
    rk = jtm_kafka_consumer_new(&kv, "from-arg", NULL, NULL, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    cr_assert_str_eq(conf_value(rk, "group.id", buf, sizeof buf), "from-config");
    conf_value(rk, "auto.offset.reset", buf, sizeof buf);
    cr_assert(strcmp(buf, "latest") == 0 || strcmp(buf, "largest") == 0, "%s", buf);
    rd_kafka_destroy(rk);
    jtm_kvlist_free(&kv);
}

Test(kafka, consumer_needs_a_group)
{
    cr_assert_null(jtm_kafka_consumer_new(NULL, NULL, NULL, NULL, err, sizeof err));
    cr_assert(strstr(err, "group"), "%s", err);
}

Test(kafka, subscribe_needs_topics)
{
    rd_kafka_t *rk = jtm_kafka_consumer_new(NULL, "g", NULL, NULL, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    cr_assert_eq(jtm_kafka_subscribe(rk, NULL, 0, err, sizeof err), -1);
    rd_kafka_destroy(rk);
}

Test(kafka, wait_ready_fails_when_nobody_listens)
{
    jtm_kvlist kv = {0};
    jtm_kvlist_set(&kv, "bootstrap.servers", "127.0.0.1:1");
    jtm_kvlist_set(&kv, "log_level", "0"); /* the refused connections are expected here */
    rd_kafka_t *rk = jtm_kafka_producer_new(&kv, NULL, NULL, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    cr_assert_eq(jtm_kafka_wait_ready(rk, 800, err, sizeof err), -1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    cr_assert(s >= 0.7 && s < 5, "took %.2f s", s);
    cr_assert(strstr(err, "no Kafka broker answered"), "%s", err);
    cr_assert_eq(jtm_kafka_fatal(rk, err, sizeof err), 0);
    rd_kafka_destroy(rk);
    jtm_kvlist_free(&kv);
}

Test(kafka, supervised_conf_static_member_named_after_role_and_instance)
{
    jtm_kvlist kv = {0};
    cr_assert_eq(jtm_kafka_supervised_conf(&kv, "jtm-ingest-soj", "edge-2", err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(jtm_kvlist_get(&kv, "group.instance.id"), "jtm-ingest-soj.edge-2");
    cr_assert_str_eq(jtm_kvlist_get(&kv, "session.timeout.ms"), "10000");
    cr_assert_str_eq(jtm_kvlist_get(&kv, "heartbeat.interval.ms"), "1000");
    /* the daemon's kafka.* keys go over it and win */
    jtm_kvlist user = {0};
    jtm_kvlist_set(&user, "group.instance.id", "mine");
    jtm_kvlist_set(&user, "session.timeout.ms", "6000");
    jtm_kvlist_merge(&kv, &user);
    cr_assert_str_eq(jtm_kvlist_get(&kv, "group.instance.id"), "mine");
    cr_assert_str_eq(jtm_kvlist_get(&kv, "session.timeout.ms"), "6000");
    rd_kafka_t *rk = jtm_kafka_consumer_new(&kv, "g", NULL, NULL, err, sizeof err);
    cr_assert_not_null(rk, "%s", err);
    char buf[256];
    cr_assert_str_eq(conf_value(rk, "group.instance.id", buf, sizeof buf), "mine");
    rd_kafka_destroy(rk);
    jtm_kvlist_free(&user);
    jtm_kvlist_free(&kv);
}

Test(kafka, supervised_conf_defaults_to_the_host_name_and_can_be_off)
{
    char host[256], want[300];
    cr_assert_eq(gethostname(host, sizeof host), 0);
    snprintf(want, sizeof want, "jtm-linker.%s", host);
    jtm_kvlist kv = {0};
    cr_assert_eq(jtm_kafka_supervised_conf(&kv, "jtm-linker", NULL, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(jtm_kvlist_get(&kv, "group.instance.id"), want);
    jtm_kvlist_free(&kv);
    cr_assert_eq(jtm_kafka_supervised_conf(&kv, "jtm-linker", "", err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(jtm_kvlist_get(&kv, "group.instance.id"), want);
    jtm_kvlist_free(&kv);
    cr_assert_eq(jtm_kafka_supervised_conf(&kv, "jtm-linker", "off", err, sizeof err), 0, "%s", err);
    cr_assert_null(jtm_kvlist_get(&kv, "group.instance.id"));
    cr_assert_str_eq(jtm_kvlist_get(&kv, "session.timeout.ms"), "10000");
    jtm_kvlist_free(&kv);
}

Test(kafka, supervised_conf_refuses_names_kafka_would_refuse)
{
    const char *bad[] = {"a b", "edge/1", "x@y", "ünï"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jtm_kvlist kv = {0};
        err[0] = '\0';
        cr_assert_eq(jtm_kafka_supervised_conf(&kv, "jtm-linker", bad[i], err, sizeof err), -1, "%s", bad[i]);
        cr_assert(strstr(err, "instance"), "%s", err);
        jtm_kvlist_free(&kv);
    }
    char longname[260];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    jtm_kvlist kv = {0};
    cr_assert_eq(jtm_kafka_supervised_conf(&kv, "jtm-linker", longname, err, sizeof err), -1);
    jtm_kvlist_free(&kv);
}
