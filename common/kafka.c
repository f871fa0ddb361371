#include "kafka.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "service.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* librdkafka's syslog levels to ours: 0-3 error, 4 warning, 5-6 info, 7 debug. */
static jtm_log_level map_level(int level)
{
    if (level <= 3)
        return JTM_LOG_ERROR;
    if (level == 4)
        return JTM_LOG_WARN;
    if (level <= 6)
        return JTM_LOG_INFO;
    return JTM_LOG_DEBUG;
}

/* Runs on librdkafka's threads (or from poll when log.queue is set); jtm_log is thread-safe. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    char qfac[64], qmsg[1024];
    jtm_log(map_level(level), "kafka_log", "client=%s fac=%s msg=%s", rd_kafka_name(rk),
            jtm_log_quote(qfac, sizeof qfac, fac ? fac : ""), jtm_log_quote(qmsg, sizeof qmsg, buf ? buf : ""));
}

/* Most errors reported here are transient (a broker went away, all brokers down) and librdkafka
 * retries by itself; a fatal one makes the handle unusable, which jtm_kafka_fatal() tells the loop. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    char qreason[1024];
    int fatal = err == RD_KAFKA_RESP_ERR__FATAL;
    char fatal_reason[512] = "";
    if (fatal)
        rd_kafka_fatal_error(rk, fatal_reason, sizeof fatal_reason);
    jtm_log(fatal ? JTM_LOG_ERROR : JTM_LOG_WARN, "kafka_error", "client=%s err=%s fatal=%d reason=%s",
            rd_kafka_name(rk), rd_kafka_err2name((rd_kafka_resp_err_t)err), fatal,
            jtm_log_quote(qreason, sizeof qreason, fatal ? fatal_reason : (reason ? reason : "")));
}

/* librdkafka's own message for a bad value quotes the value; a password must not reach a log or
 * a terminal, so the message is passed on only with every copy of the value masked, and only when
 * the value is long enough for masking not to garble the rest of the text. */
static void describe_conf_error(char *errstr, size_t errlen, const char *key, const char *value,
                                rd_kafka_conf_res_t res, const char *rderr)
{
    if (res == RD_KAFKA_CONF_UNKNOWN) {
        snprintf(errstr, errlen, "kafka.%s: unknown librdkafka configuration property", key);
        return;
    }
    size_t vlen = value ? strlen(value) : 0;
    if (vlen < 4) {
        snprintf(errstr, errlen, "kafka.%s: invalid value", key);
        return;
    }
    char masked[512];
    size_t o = 0;
    for (const char *p = rderr; *p && o + 4 < sizeof masked;) {
        if (strncmp(p, value, vlen) == 0) {
            memcpy(masked + o, "***", 3);
            o += 3;
            p += vlen;
        } else {
            masked[o++] = *p++;
        }
    }
    masked[o] = '\0';
    snprintf(errstr, errlen, "kafka.%s: invalid value (%s)", key, masked);
}

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr, size_t errlen)
{
    char rderr[512];
    rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, key, value, rderr, sizeof rderr);
    if (res == RD_KAFKA_CONF_OK)
        return 0;
    describe_conf_error(errstr, errlen, key, value, res, rderr);
    return -1;
}

static int apply_list(rd_kafka_conf_t *conf, const jtm_kvlist *kafka, char *errstr, size_t errlen)
{
    for (size_t i = 0; kafka && i < kafka->count; i++)
        if (conf_set(conf, kafka->items[i].key, kafka->items[i].value, errstr, errlen) != 0)
            return -1;
    return 0;
}

rd_kafka_conf_t *jtm_kafka_conf_new(const jtm_kvlist *kafka, char *errstr, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    if (apply_list(conf, kafka, errstr, errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

/* Applies defaults, then the pass-through list on top, so a user's kafka.* key always wins. */
static rd_kafka_conf_t *conf_with_defaults(const char *const defaults[][2], const jtm_kvlist *kafka,
                                           char *errstr, size_t errlen)
{
    rd_kafka_conf_t *conf = jtm_kafka_conf_new(NULL, errstr, errlen);
    if (!conf)
        return NULL;
    for (int i = 0; defaults[i][0]; i++)
        if (conf_set(conf, defaults[i][0], defaults[i][1], errstr, errlen) != 0)
            goto fail;
    if (apply_list(conf, kafka, errstr, errlen) != 0)
        goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_t *jtm_kafka_producer_new(const jtm_kvlist *kafka, jtm_kafka_dr_fn dr_msg_cb, void *opaque,
                                   char *errstr, size_t errlen)
{
    static const char *const defaults[][2] = {
        {"enable.idempotence", "true"},
        {"compression.type", "lz4"},
        {"linger.ms", "5"},
        {"batch.num.messages", "10000"},
        {"queue.buffering.max.messages", "1000000"},
        {NULL, NULL},
    };
    rd_kafka_conf_t *conf = conf_with_defaults(defaults, kafka, errstr, errlen);
    if (!conf)
        return NULL;
    if (dr_msg_cb)
        rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_opaque(conf, opaque);
    char rderr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof rderr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(errstr, errlen, "cannot create Kafka producer: %s", rderr);
        return NULL;
    }
    return rk;
}

rd_kafka_t *jtm_kafka_consumer_new(const jtm_kvlist *kafka, const char *group_id,
                                   jtm_kafka_rebalance_fn rebalance_cb, void *opaque, char *errstr,
                                   size_t errlen)
{
    /* range (eager rebalancing), not cooperative-sticky: with librdkafka 2.0.2 a cooperative
     * consumer fetched about 500 messages/s after its first prefetch from the dev broker (fetches
     * waited out fetch.wait.max.ms one partition at a time), while range consumed the same 88k
     * events in 2 s. (A plain poll loop without pause/resume or lag queries was as fast under
     * both: 100k events in 64 partitions, 0.07 s range, 0.09 s cooperative-sticky; the interaction
     * with jtm-ingest's loop is not pinned down.) Operators on a real cluster can still set
     * kafka.partition.assignment.strategy=cooperative-sticky; the rebalance callback handles both. */
    static const char *const defaults[][2] = {
        {"enable.auto.offset.store", "false"},
        {"enable.auto.commit", "true"},
        {"auto.offset.reset", "earliest"},
        {"partition.assignment.strategy", "range"},
        {NULL, NULL},
    };
    rd_kafka_conf_t *conf = jtm_kafka_conf_new(NULL, errstr, errlen);
    if (!conf)
        return NULL;
    if (group_id && conf_set(conf, "group.id", group_id, errstr, errlen) != 0)
        goto fail;
    for (int i = 0; defaults[i][0]; i++)
        if (conf_set(conf, defaults[i][0], defaults[i][1], errstr, errlen) != 0)
            goto fail;
    if (apply_list(conf, kafka, errstr, errlen) != 0)
        goto fail;
    char gid[256];
    size_t gidlen = sizeof gid;
    if (rd_kafka_conf_get(conf, "group.id", gid, &gidlen) != RD_KAFKA_CONF_OK || gid[0] == '\0') {
        snprintf(errstr, errlen, "Kafka consumer: no group id (pass one or set kafka.group.id)");
        goto fail;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb ? rebalance_cb : jtm_kafka_rebalance_cb);
    rd_kafka_conf_set_opaque(conf, opaque);
    char rderr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rderr, sizeof rderr);
    if (!rk) {
        snprintf(errstr, errlen, "cannot create Kafka consumer: %s", rderr);
        goto fail;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Kafka's rule for group.instance.id: ASCII letters, digits, '.', '_' and '-'. */
static int instance_name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return 0;
    return 1;
}

int jtm_kafka_supervised_conf(jtm_kvlist *out, const char *role, const char *instance, char *errstr, size_t errlen)
{
    jtm_kvlist_set(out, "session.timeout.ms", "10000");
    jtm_kvlist_set(out, "heartbeat.interval.ms", "1000");
    if (instance && strcmp(instance, "off") == 0)
        return 0;
    char host[256];
    if (!instance || !*instance) {
        if (gethostname(host, sizeof host) != 0) {
            snprintf(errstr, errlen, "instance: cannot read the host name (%s); set instance", strerror(errno));
            return -1;
        }
        host[sizeof host - 1] = '\0';
        instance = host;
    }
    if (!instance_name_ok(instance, 200)) {
        snprintf(errstr, errlen, "instance: use 1-200 letters, digits, '.', '_' or '-' (Kafka's group.instance.id)");
        return -1;
    }
    char id[512];
    snprintf(id, sizeof id, "%s.%s", role, instance);
    jtm_kvlist_set(out, "group.instance.id", id);
    return 0;
}

int jtm_kafka_subscribe(rd_kafka_t *rk, const char *const *topics, int n, char *errstr, size_t errlen)
{
    if (n <= 0) {
        snprintf(errstr, errlen, "subscribe: no topics");
        return -1;
    }
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        snprintf(errstr, errlen, "subscribe to %s%s: %s", topics[0], n > 1 ? " and others" : "",
                 rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

int jtm_kafka_wait_ready(rd_kafka_t *rk, int timeout_ms, char *errstr, size_t errlen)
{
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    for (;;) {
        int64_t left = deadline - now_ms();
        int wait = left > 2000 ? 2000 : left < 100 ? 100 : (int)left;
        const struct rd_kafka_metadata *md = NULL;
        err = rd_kafka_metadata(rk, 0, NULL, &md, wait);
        if (!err) {
            int brokers = md->broker_cnt;
            rd_kafka_metadata_destroy(md);
            if (brokers > 0)
                return 0;
            err = RD_KAFKA_RESP_ERR__TRANSPORT;
        }
        if (now_ms() >= deadline)
            break;
        /* A refused connection fails at once: do not spin on it. */
        rd_kafka_poll(rk, 100);
    }
    snprintf(errstr, errlen, "no Kafka broker answered within %d ms: %s", timeout_ms, rd_kafka_err2str(err));
    return -1;
}

void jtm_kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
    (void)opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t ret = RD_KAFKA_RESP_ERR_NO_ERROR;
    const char *what;
    int lost = 0;
    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        what = "assign";
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, partitions);
        else
            ret = rd_kafka_assign(rk, partitions);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        what = "revoke";
        lost = rd_kafka_assignment_lost(rk);
        if (!lost) {
            /* A group coordinator may refuse it while the group rebalances (the mock always
             * does): then the next owner re-reads from the last commit. Duplicates, not loss. */
            rd_kafka_resp_err_t cerr = rd_kafka_commit(rk, NULL, 0);
            if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
                jtm_log(cerr == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ? JTM_LOG_INFO : JTM_LOG_WARN,
                        "kafka_commit_failed", "client=%s when=revoke err=%s effect=redelivery", rd_kafka_name(rk),
                        rd_kafka_err2name(cerr));
        }
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, partitions);
        else
            ret = rd_kafka_assign(rk, NULL);
        break;
    default:
        what = "error";
        /* librdkafka's advice: drop the whole assignment (assign(NULL) is legal under both
         * protocols); the group hands the partitions out again. */
        log_warn("kafka_rebalance_error", "client=%s err=%s", rd_kafka_name(rk), rd_kafka_err2name(err));
        ret = rd_kafka_assign(rk, NULL);
        break;
    }
    if (error) {
        log_error("kafka_rebalance_failed", "client=%s op=%s err=%s", rd_kafka_name(rk), what,
                  rd_kafka_error_name(error));
        rd_kafka_error_destroy(error);
    } else if (ret) {
        log_error("kafka_rebalance_failed", "client=%s op=%s err=%s", rd_kafka_name(rk), what,
                  rd_kafka_err2name(ret));
    }
    log_info("kafka_rebalance", "client=%s op=%s protocol=%s partitions=%d lost=%d", rd_kafka_name(rk), what,
             cooperative ? "cooperative" : "eager", partitions ? partitions->cnt : 0, lost);
}

int jtm_kafka_store_offset(rd_kafka_t *rk, const rd_kafka_message_t *msg, char *errstr, size_t errlen)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, rd_kafka_topic_name(msg->rkt), msg->partition)->offset =
        msg->offset + 1;
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(rk, list);
    if (!err && list->elems[0].err)
        err = list->elems[0].err;
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        snprintf(errstr, errlen, "store offset %s [%d] %lld: %s", rd_kafka_topic_name(msg->rkt),
                 (int)msg->partition, (long long)msg->offset, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

int jtm_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key, size_t keylen,
                      const void *value, size_t len, rd_kafka_headers_t *headers, void *msg_opaque,
                      int block_ms, char *errstr, size_t errlen)
{
    int64_t deadline = block_ms >= 0 ? now_ms() + block_ms : INT64_MAX;
    for (;;) {
        rd_kafka_resp_err_t err;
        if (headers)
            err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, keylen),
                                    RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
        else
            err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, keylen),
                                    RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
        if (!err)
            return 0;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || now_ms() >= deadline) {
            snprintf(errstr, errlen, "produce to %s: %s", topic, rd_kafka_err2str(err));
            return -1;
        }
        /* Delivery reports free queue space; serving them is what unblocks us. */
        rd_kafka_poll(rk, 50);
    }
}

int jtm_kafka_flush(rd_kafka_t *rk, int timeout_ms, int *left, char *errstr, size_t errlen)
{
    /* In slices of at most a second, feeding the systemd watchdog between them: a flush may take
     * longer than WatchdogSec while the broker is away, and that is waiting, not hanging. */
    int waited = 0;
    do { /* at least once: flush also serves delivery reports already waiting */
        int slice = timeout_ms - waited < 1000 ? timeout_ms - waited : 1000;
        rd_kafka_flush(rk, slice > 0 ? slice : 0);
        waited += slice > 0 ? slice : 1;
        jtm_service_watchdog();
    } while (rd_kafka_outq_len(rk) > 0 && waited < timeout_ms);
    int n = rd_kafka_outq_len(rk);
    if (left)
        *left = n;
    if (n > 0) {
        snprintf(errstr, errlen, "%d message(s) or request(s) still undelivered after %d ms", n, timeout_ms);
        return -1;
    }
    return 0;
}

int jtm_kafka_header_get(const rd_kafka_message_t *msg, const char *name, const char **val, size_t *len)
{
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || !hdrs)
        return -1;
    const void *v = NULL;
    size_t sz = 0;
    if (rd_kafka_header_get_last(hdrs, name, &v, &sz) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    *val = v;
    *len = sz;
    return 0;
}

int jtm_kafka_lag_get(rd_kafka_t *rk, int timeout_ms, jtm_kafka_lag **out, size_t *n, char *errstr,
                      size_t errlen)
{
    *out = NULL;
    *n = 0;
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    rd_kafka_topic_partition_list_t *pos = NULL, *com = NULL;
    jtm_kafka_lag *res = NULL;
    int rc = -1;
    rd_kafka_resp_err_t err = rd_kafka_assignment(rk, &pos);
    if (err) {
        snprintf(errstr, errlen, "lag: assignment: %s", rd_kafka_err2str(err));
        goto out;
    }
    if (pos->cnt == 0) {
        rc = 0;
        goto out;
    }
    com = rd_kafka_topic_partition_list_copy(pos);
    if ((err = rd_kafka_position(rk, pos)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errlen, "lag: position: %s", rd_kafka_err2str(err));
        goto out;
    }
    if ((err = rd_kafka_committed(rk, com, timeout_ms > 0 ? timeout_ms : 1)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errlen, "lag: committed offsets: %s", rd_kafka_err2str(err));
        goto out;
    }
    res = calloc((size_t)pos->cnt, sizeof *res);
    if (!res) {
        snprintf(errstr, errlen, "lag: out of memory");
        goto out;
    }
    for (int i = 0; i < pos->cnt; i++) {
        jtm_kafka_lag *l = &res[i];
        const rd_kafka_topic_partition_t *p = &pos->elems[i];
        snprintf(l->topic, sizeof l->topic, "%s", p->topic);
        l->partition = p->partition;
        l->position = p->offset >= 0 ? p->offset : -1;
        l->committed = com->elems[i].offset >= 0 ? com->elems[i].offset : -1;
        int64_t lo = RD_KAFKA_OFFSET_INVALID, hi = RD_KAFKA_OFFSET_INVALID;
        rd_kafka_get_watermark_offsets(rk, p->topic, p->partition, &lo, &hi);
        int64_t left = deadline - now_ms();
        if (hi < 0 && left > 0 &&
            rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &lo, &hi, (int)left) != 0)
            lo = hi = RD_KAFKA_OFFSET_INVALID;
        l->low = lo >= 0 ? lo : -1;
        l->high = hi >= 0 ? hi : -1;
        l->lag = -1;
        if (l->high >= 0) {
            int64_t from = l->position >= 0 ? l->position : l->committed >= 0 ? l->committed : l->low >= 0 ? l->low : 0;
            l->lag = l->high > from ? l->high - from : 0;
        }
    }
    *out = res;
    *n = (size_t)pos->cnt;
    res = NULL;
    rc = 0;
out:
    free(res);
    if (pos)
        rd_kafka_topic_partition_list_destroy(pos);
    if (com)
        rd_kafka_topic_partition_list_destroy(com);
    return rc;
}

int jtm_kafka_fatal(rd_kafka_t *rk, char *errstr, size_t errlen)
{
    return rd_kafka_fatal_error(rk, errstr, errlen) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Calls fn for each assigned partition with a cached high watermark: its lag from the consumer's
 * position (else the low watermark). No broker round trip. */
static void each_cached_lag(rd_kafka_t *rk, void (*fn)(void *ctx, const char *topic, int32_t partition, int64_t lag),
                            void *ctx)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(rk, &a) != RD_KAFKA_RESP_ERR_NO_ERROR || !a)
        return;
    rd_kafka_position(rk, a);
    for (int i = 0; i < a->cnt; i++) {
        int64_t lo = -1, hi = -1;
        if (rd_kafka_get_watermark_offsets(rk, a->elems[i].topic, a->elems[i].partition, &lo, &hi) != 0 || hi < 0)
            continue;
        int64_t pos = a->elems[i].offset >= 0 ? a->elems[i].offset : lo;
        if (pos < 0)
            continue;
        fn(ctx, a->elems[i].topic, a->elems[i].partition, hi > pos ? hi - pos : 0);
    }
    rd_kafka_topic_partition_list_destroy(a);
}

typedef struct lag_gauges {
    jtm_metrics *m;
    const char *name, *help;
} lag_gauges;

static void set_lag_gauge(void *ctx, const char *topic, int32_t partition, int64_t lag)
{
    lag_gauges *g = ctx;
    char t[300], labels[400];
    snprintf(labels, sizeof labels, "topic=\"%s\",partition=\"%d\"", jtm_metrics_label_escape(t, sizeof t, topic),
             (int)partition);
    jtm_gauge_set(jtm_metrics_gauge(g->m, g->name, g->help, labels), (double)lag);
}

void jtm_kafka_lag_publish(rd_kafka_t *rk, jtm_metrics *m, const char *name, const char *help)
{
    lag_gauges g = {m, name, help};
    each_cached_lag(rk, set_lag_gauge, &g);
}

static void add_lag(void *ctx, const char *topic, int32_t partition, int64_t lag)
{
    (void)topic;
    (void)partition;
    *(int64_t *)ctx += lag;
}

int64_t jtm_kafka_lag_cached_total(rd_kafka_t *rk)
{
    int64_t total = 0;
    each_cached_lag(rk, add_lag, &total);
    return total;
}
