/* Integration tests of common/kafka.c against the jtm-devbroker that ops/test.sh started:
 * idempotent produce, group consume with offsets stored by hand, commit, resume after a restart,
 * cooperative rebalancing between two members, headers and lag. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "kafka.h"
#include "testenv.h"

#define NPART_MAX 64

static char err[512];

typedef struct delivery {
    int ok, failed;
} delivery;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    delivery *d = opaque;
    if (m->err)
        d->failed++;
    else
        d->ok++;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void kv_bootstrap(jtm_kvlist *kv)
{
    jtm_kvlist_set(kv, "bootstrap.servers", jtm_test_bootstrap());
}

/* Produces n messages "<i>" keyed "k<i>" with a header seq=<i>, all acknowledged. */
static void produce_n(const char *topic, int n)
{
    jtm_kvlist kv = {0};
    kv_bootstrap(&kv);
    delivery d = {0};
    rd_kafka_t *p = jtm_kafka_producer_new(&kv, on_delivery, &d, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_assert_eq(jtm_kafka_wait_ready(p, 10000, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < n; i++) {
        char key[32], val[32];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(val, sizeof val, "%d", i);
        rd_kafka_headers_t *h = rd_kafka_headers_new(1);
        rd_kafka_header_add(h, "seq", -1, val, -1);
        cr_assert_eq(jtm_kafka_produce(p, topic, key, strlen(key), val, strlen(val), h, NULL, 5000, err, sizeof err),
                     0, "%s", err);
        rd_kafka_poll(p, 0);
    }
    cr_assert_eq(jtm_kafka_flush(p, 30000, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.ok, n, "delivered %d of %d (%d failed)", d.ok, n, d.failed);
    cr_assert_eq(d.failed, 0);
    rd_kafka_destroy(p);
    jtm_kvlist_free(&kv);
}

static rd_kafka_t *consumer_with(const char *group, const char *topic, const char *strategy)
{
    jtm_kvlist kv = {0};
    kv_bootstrap(&kv);
    if (strategy)
        jtm_kvlist_set(&kv, "partition.assignment.strategy", strategy);
    jtm_kvlist_set(&kv, "auto.commit.interval.ms", "60000"); /* commits here come from us or revoke/close */
    /* The mock holds a group whose last member left in "joining" for session.timeout.ms - 1 s
     * before it admits a new member: the 45 s default would make every restart that slow. */
    jtm_kvlist_set(&kv, "session.timeout.ms", "6000");
    rd_kafka_t *c = jtm_kafka_consumer_new(&kv, group, NULL, NULL, err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    jtm_kvlist_free(&kv);
    const char *topics[] = {topic};
    cr_assert_eq(jtm_kafka_subscribe(c, topics, 1, err, sizeof err), 0, "%s", err);
    return c;
}

static rd_kafka_t *consumer(const char *group, const char *topic) { return consumer_with(group, topic, NULL); }

/* First run stores the offsets of the first half of each partition's messages and commits; the
 * restarted consumer must start exactly there and see only the rest. */
Test(it_kafka, consumer_resumes_after_committed_offset, .timeout = 180)
{
    char *topic = jtm_test_unique("itk-resume");
    char *group = jtm_test_unique("itk-group");
    const int n = 400;
    produce_n(topic, n);

    int per_part[NPART_MAX] = {0}, stored[NPART_MAX] = {0}, got = 0, header_checked = 0;
    /* Messages per partition are needed before deciding what "half" is: consume everything. */
    rd_kafka_message_t **kept = calloc((size_t)n, sizeof *kept);
    rd_kafka_t *c = consumer(group, topic);
    double deadline = now_s() + 60;
    while (got < n && now_s() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        cr_assert_lt(m->partition, NPART_MAX);
        cr_assert_eq(m->offset, per_part[m->partition], "partition %d: offsets in order", (int)m->partition);
        per_part[m->partition]++;
        if (!header_checked) {
            const char *v;
            size_t len;
            cr_assert_eq(jtm_kafka_header_get(m, "seq", &v, &len), 0);
            cr_assert_eq(len, m->len);
            cr_assert_eq(memcmp(v, m->payload, len), 0);
            cr_assert_eq(jtm_kafka_header_get(m, "absent", &v, &len), -1);
            header_checked = 1;
        }
        kept[got++] = m;
    }
    cr_assert_eq(got, n, "first run got %d of %d", got, n);
    int expect_rest = 0;
    for (int i = 0; i < got; i++) {
        rd_kafka_message_t *m = kept[i];
        int p = m->partition;
        if (stored[p] < per_part[p] / 2) {
            cr_assert_eq(jtm_kafka_store_offset(c, m, err, sizeof err), 0, "%s", err);
            stored[p]++;
        }
        rd_kafka_message_destroy(m);
    }
    free(kept);
    for (int p = 0; p < NPART_MAX; p++)
        expect_rest += per_part[p] - stored[p];
    cr_assert_eq(rd_kafka_commit(c, NULL, 0), RD_KAFKA_RESP_ERR_NO_ERROR);

    /* Lag as this member sees it: it read everything, so nothing is left. */
    jtm_kafka_lag *lag = NULL;
    size_t nlag = 0;
    double t0 = now_s();
    cr_assert_eq(jtm_kafka_lag_get(c, 5000, &lag, &nlag, err, sizeof err), 0, "%s", err);
    /* Cached watermarks: no per-partition request waiting behind the fetch long-poll (500 ms each). */
    cr_assert_lt(now_s() - t0, 0.4, "lag took %.2f s", now_s() - t0);
    cr_assert_gt(nlag, 0);
    for (size_t i = 0; i < nlag; i++) {
        cr_assert_eq(lag[i].lag, 0, "%s [%d] lag %lld", lag[i].topic, (int)lag[i].partition, (long long)lag[i].lag);
        cr_assert_eq(lag[i].committed, stored[lag[i].partition]);
        cr_assert_eq(lag[i].high, per_part[lag[i].partition]);
    }
    free(lag);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);

    /* Restart: same group. */
    c = consumer(group, topic);
    int first[NPART_MAX], rest = 0;
    for (int p = 0; p < NPART_MAX; p++)
        first[p] = -1;
    deadline = now_s() + 60;
    double quiet_until = 0;
    while (now_s() < deadline && (rest < expect_rest || now_s() < quiet_until)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (!m)
            continue;
        if (!m->err) {
            int p = m->partition;
            if (first[p] < 0)
                first[p] = (int)m->offset;
            cr_assert_geq(m->offset, stored[p], "partition %d: offset %lld was committed already", p,
                          (long long)m->offset);
            cr_assert_eq(jtm_kafka_store_offset(c, m, err, sizeof err), 0, "%s", err);
            if (++rest == expect_rest)
                quiet_until = now_s() + 1.5; /* anything beyond would be a duplicate */
        }
        rd_kafka_message_destroy(m);
    }
    cr_assert_eq(rest, expect_rest, "second run got %d, expected %d", rest, expect_rest);
    for (int p = 0; p < NPART_MAX; p++)
        if (per_part[p] > stored[p])
            cr_assert_eq(first[p], stored[p], "partition %d resumed at %d, committed %d", p, first[p], stored[p]);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    free(topic);
    free(group);
}

static int assigned(rd_kafka_t *c)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    cr_assert_eq(rd_kafka_assignment(c, &l), RD_KAFKA_RESP_ERR_NO_ERROR);
    int n = l->cnt;
    rd_kafka_topic_partition_list_destroy(l);
    return n;
}

/* Two members share the topic: the second takes over part of the partitions, the first keeps the
 * rest, nothing is lost. "range" (the default) is eager, "cooperative-sticky" incremental. */
static void two_members(const char *strategy, const char *protocol)
{
    char *topic = jtm_test_unique("itk-two");
    char *group = jtm_test_unique("itk-two-group");
    const int n = 400;
    produce_n(topic, n);
    char *seen = calloc((size_t)n, 1);
    int unique = 0, per_member[2] = {0, 0};
    rd_kafka_t *c[2] = {consumer_with(group, topic, strategy), NULL};
    double deadline = now_s() + 90;
    while (now_s() < deadline) {
        /* The second member joins only once the first owns every partition and has read some:
         * partitions must move away from a live member. */
        if (!c[1] && unique > 0 && assigned(c[0]) == 4)
            c[1] = consumer_with(group, topic, strategy);
        for (int k = 0; k < 2; k++) {
            if (!c[k])
                continue;
            rd_kafka_message_t *m = rd_kafka_consumer_poll(c[k], 50);
            if (!m)
                continue;
            if (!m->err) {
                int v = atoi((const char *)m->payload);
                cr_assert(v >= 0 && v < n);
                if (!seen[v]++)
                    unique++;
                per_member[k]++;
                cr_assert_eq(jtm_kafka_store_offset(c[k], m, err, sizeof err), 0, "%s", err);
            }
            rd_kafka_message_destroy(m);
        }
        if (c[1] && unique == n && assigned(c[0]) > 0 && assigned(c[1]) > 0 &&
            assigned(c[0]) + assigned(c[1]) == 4)
            break;
    }
    cr_assert_eq(unique, n, "got %d of %d", unique, n);
    cr_assert_not_null(c[1]);
    cr_assert_str_eq(rd_kafka_rebalance_protocol(c[0]), protocol);
    int a0 = assigned(c[0]), a1 = assigned(c[1]);
    cr_assert(a0 > 0 && a1 > 0 && a0 + a1 == 4, "assignments %d + %d", a0, a1);
    for (int k = 0; k < 2; k++) {
        rd_kafka_consumer_close(c[k]);
        rd_kafka_destroy(c[k]);
    }
    free(seen);
    free(topic);
    free(group);
}

Test(it_kafka, cooperative_rebalance_between_two_members, .timeout = 180)
{
    two_members("cooperative-sticky", "COOPERATIVE");
}

Test(it_kafka, eager_rebalance_between_two_members, .timeout = 180)
{
    two_members("range", "EAGER");
}
