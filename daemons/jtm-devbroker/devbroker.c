#include "devbroker.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "kafka.h"

struct jtm_devbroker {
    rd_kafka_t *rk;              /* hosts the cluster; never a client of it */
    rd_kafka_mock_cluster_t *mc;
    int brokers;
    int up[JTM_DEVBROKER_MAX_BROKERS + 1];  /* by broker id; the mock has no getter */
    int rtt[JTM_DEVBROKER_MAX_BROKERS + 1];
    char **topics; /* created at start-up */
    int *parts;
    int ntopics;
    time_t started;
    unsigned long commands;
};

/* Kafka's legal topic names: 1-249 of [a-zA-Z0-9._-]. */
static int topic_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 249)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
            return 0;
    return 1;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Splits "a,b:8, c" into names and partition counts. */
static int parse_topics(jtm_devbroker *d, const char *list, int partitions, char *errstr, size_t errlen)
{
    char *copy = strdup(list ? list : ""), *save = NULL;
    int rc = -1;
    if (!copy) {
        snprintf(errstr, errlen, "out of memory");
        return -1;
    }
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        char *e = tok + strlen(tok);
        while (e > tok && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (!*tok)
            continue;
        long p = partitions;
        char *colon = strchr(tok, ':');
        if (colon) {
            *colon = '\0';
            if (parse_long(colon + 1, 1, 100000, &p) != 0) {
                snprintf(errstr, errlen, "topics: %s: partitions must be 1..100000", tok);
                goto out;
            }
        }
        if (!topic_name_ok(tok)) {
            snprintf(errstr, errlen, "topics: \"%.64s\" is not a legal topic name ([a-zA-Z0-9._-], 1-249)", tok);
            goto out;
        }
        for (int i = 0; i < d->ntopics; i++)
            if (strcmp(d->topics[i], tok) == 0) {
                snprintf(errstr, errlen, "topics: %s listed twice", tok);
                goto out;
            }
        char **t = realloc(d->topics, (size_t)(d->ntopics + 1) * sizeof *t);
        if (t)
            d->topics = t;
        int *pp = realloc(d->parts, (size_t)(d->ntopics + 1) * sizeof *pp);
        if (pp)
            d->parts = pp;
        if (!t || !pp || !(d->topics[d->ntopics] = strdup(tok))) {
            snprintf(errstr, errlen, "out of memory");
            goto out;
        }
        d->parts[d->ntopics++] = (int)p;
    }
    rc = 0;
out:
    free(copy);
    return rc;
}

int jtm_devbroker_topics_check(const char *topics, int partitions, char *errstr, size_t errlen)
{
    jtm_devbroker scratch;
    memset(&scratch, 0, sizeof scratch);
    int rc = parse_topics(&scratch, topics, partitions, errstr, errlen);
    for (int i = 0; i < scratch.ntopics; i++)
        free(scratch.topics[i]);
    free(scratch.topics);
    free(scratch.parts);
    return rc;
}

jtm_devbroker *jtm_devbroker_new(int brokers, int partitions, const char *topics, const jtm_kvlist *kafka,
                                 char *errstr, size_t errlen)
{
    if (brokers < 1 || brokers > JTM_DEVBROKER_MAX_BROKERS) {
        snprintf(errstr, errlen, "brokers must be 1..%d", JTM_DEVBROKER_MAX_BROKERS);
        return NULL;
    }
    if (partitions < 1 || partitions > 100000) {
        snprintf(errstr, errlen, "partitions must be 1..100000");
        return NULL;
    }
    jtm_devbroker *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    d->brokers = brokers;
    d->started = time(NULL);
    for (int i = 1; i <= brokers; i++)
        d->up[i] = 1;
    if (parse_topics(d, topics, partitions, errstr, errlen) != 0)
        goto fail;

    rd_kafka_conf_t *conf = jtm_kafka_conf_new(kafka, errstr, errlen);
    if (!conf)
        goto fail;
    char rderr[512];
    /* The owner only hosts the cluster: no bootstrap servers, so it never connects to the brokers
     * (and never retries, and logs, while they are down). */
    /* Warnings and errors only (the mock's failures are LOG_CRIT/LOG_ERR), which also silences the
     * notice that the owner has no bootstrap servers; kafka.log_level or kafka.debug override. */
    if ((!kafka || !jtm_kvlist_get(kafka, "log_level")) &&
        rd_kafka_conf_set(conf, "log_level", "4", rderr, sizeof rderr) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errlen, "mock cluster configuration refused: %s", rderr);
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    if (rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", rderr, sizeof rderr) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errlen, "mock cluster configuration refused: %s", rderr);
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    /* librdkafka's threads (the mock's included) must not take our signals: the main loop waits
     * for them. They inherit the mask in force when they are created. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    d->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof rderr);
    if (d->rk)
        d->mc = rd_kafka_mock_cluster_new(d->rk, brokers);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!d->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(errstr, errlen, "cannot start the mock cluster: %s", rderr);
        goto fail;
    }
    if (!d->mc) {
        snprintf(errstr, errlen, "cannot start the mock cluster (see the kafka_log lines)");
        goto fail;
    }
    int rf = brokers < 3 ? brokers : 3;
    for (int i = 0; i < d->ntopics; i++) {
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(d->mc, d->topics[i], d->parts[i], rf);
        if (err) {
            snprintf(errstr, errlen, "cannot create topic %s: %s", d->topics[i], rd_kafka_err2str(err));
            goto fail;
        }
    }
    return d;
fail:
    jtm_devbroker_free(d);
    return NULL;
}

const char *jtm_devbroker_bootstrap(const jtm_devbroker *d) { return rd_kafka_mock_cluster_bootstraps(d->mc); }

int jtm_devbroker_topic_count(const jtm_devbroker *d) { return d->ntopics; }

void jtm_devbroker_free(jtm_devbroker *d)
{
    if (!d)
        return;
    if (d->mc)
        rd_kafka_mock_cluster_destroy(d->mc); /* before its owner, as librdkafka requires */
    if (d->rk)
        rd_kafka_destroy(d->rk);
    for (int i = 0; i < d->ntopics; i++)
        free(d->topics[i]);
    free(d->topics);
    free(d->parts);
    free(d);
}

static const rd_kafka_metadata_topic_t *find_topic(const struct rd_kafka_metadata *md, const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, name) == 0)
            return &md->topics[i];
    return NULL;
}

/* A short-lived client of the cluster for one question (check, stats, create): goes through the
 * brokers' listeners like any client, and once destroyed does not keep reconnecting (and logging)
 * while the brokers are down. It never creates a topic by asking for it. */
static rd_kafka_t *probe_new(jtm_devbroker *d, char *errstr, size_t errlen)
{
    rd_kafka_conf_t *conf = jtm_kafka_conf_new(NULL, errstr, errlen);
    if (!conf)
        return NULL;
    char rderr[512];
    if (rd_kafka_conf_set(conf, "bootstrap.servers", jtm_devbroker_bootstrap(d), rderr, sizeof rderr) ||
        rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", rderr, sizeof rderr) ||
        rd_kafka_conf_set(conf, "client.id", "jtm-devbroker-probe", rderr, sizeof rderr)) {
        snprintf(errstr, errlen, "probe configuration: %s", rderr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof rderr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(errstr, errlen, "probe: %s", rderr);
    }
    return rk;
}

int jtm_devbroker_check(jtm_devbroker *d, int timeout_ms, char *errstr, size_t errlen)
{
    rd_kafka_t *rk = probe_new(d, errstr, errlen);
    if (!rk)
        return -1;
    if (jtm_kafka_wait_ready(rk, timeout_ms, errstr, errlen) != 0) {
        rd_kafka_destroy(rk);
        return -1;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (err) {
        snprintf(errstr, errlen, "metadata: %s", rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < d->ntopics && rc == 0; i++) {
        const rd_kafka_metadata_topic_t *t = find_topic(md, d->topics[i]);
        if (!t || t->err || t->partition_cnt != d->parts[i]) {
            snprintf(errstr, errlen, "topic %s: not served as created (%s, %d partitions)", d->topics[i],
                     t ? rd_kafka_err2name(t->err) : "missing", t ? t->partition_cnt : 0);
            rc = -1;
        }
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

int jtm_devbroker_set_up(jtm_devbroker *d, int broker_id, int up, char *errstr, size_t errlen)
{
    int from = broker_id < 0 ? 1 : broker_id, to = broker_id < 0 ? d->brokers : broker_id;
    if (from < 1 || to > d->brokers) {
        snprintf(errstr, errlen, "no broker %d (brokers are 1..%d)", broker_id, d->brokers);
        return -1;
    }
    for (int id = from; id <= to; id++) {
        rd_kafka_resp_err_t err =
            up ? rd_kafka_mock_broker_set_up(d->mc, id) : rd_kafka_mock_broker_set_down(d->mc, id);
        if (err) {
            snprintf(errstr, errlen, "broker %d %s: %s", id, up ? "up" : "down", rd_kafka_err2str(err));
            return -1;
        }
        d->up[id] = up;
    }
    return 0;
}

/* Kafka API keys by name, for the "errors" command (numbers work too). */
static const struct {
    const char *name;
    int key;
} api_keys[] = {
    {"Produce", 0},         {"Fetch", 1},           {"ListOffsets", 2},     {"Metadata", 3},
    {"OffsetCommit", 8},    {"OffsetFetch", 9},     {"FindCoordinator", 10}, {"JoinGroup", 11},
    {"Heartbeat", 12},      {"LeaveGroup", 13},     {"SyncGroup", 14},      {"DescribeGroups", 15},
    {"ListGroups", 16},     {"ApiVersions", 18},    {"CreateTopics", 19},   {"InitProducerId", 22},
    {"OffsetForLeaderEpoch", 23}, {"AddPartitionsToTxn", 24}, {"AddOffsetsToTxn", 25}, {"EndTxn", 26},
    {"TxnOffsetCommit", 28},
};

static int parse_api_key(const char *s, int *out)
{
    long v;
    if (parse_long(s, 0, 999, &v) == 0) {
        *out = (int)v;
        return 0;
    }
    for (size_t i = 0; i < sizeof api_keys / sizeof api_keys[0]; i++)
        if (strcasecmp(s, api_keys[i].name) == 0) {
            *out = api_keys[i].key;
            return 0;
        }
    return -1;
}

/* A Kafka error code by number or by librdkafka's name (NOT_LEADER_FOR_PARTITION, with or without
 * the RD_KAFKA_RESP_ERR_ prefix). */
static int parse_error_code(const char *s, rd_kafka_resp_err_t *out)
{
    long v;
    if (parse_long(s, -1000, 1000, &v) == 0) {
        if (v == 0)
            return -1;
        *out = (rd_kafka_resp_err_t)v;
        return 0;
    }
    if (strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0)
        s += 18;
    const struct rd_kafka_err_desc *descs;
    size_t n;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++)
        if (descs[i].name && descs[i].code != 0 && strcasecmp(descs[i].name, s) == 0) {
            *out = descs[i].code;
            return 0;
        }
    return -1;
}

static int parse_broker(jtm_devbroker *d, const char *s, int *out)
{
    long v;
    if (s && strcmp(s, "all") == 0) {
        *out = -1;
        return 0;
    }
    if (parse_long(s, 1, d->brokers, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

static int count_up(const jtm_devbroker *d)
{
    int n = 0;
    for (int i = 1; i <= d->brokers; i++)
        n += d->up[i];
    return n;
}

/* stats: cluster-wide counts, or per partition of one topic. Messages are offsets: "appended" is the
 * sum of end offsets, "retained" what the mock still holds, "pruned" what its retention dropped. */
static int cmd_stats(jtm_devbroker *d, const char *topic, char *reply, size_t replylen)
{
    int up = count_up(d);
    long uptime = (long)(time(NULL) - d->started);
    if (up < d->brokers) {
        /* A metadata request could hang on a down leader: answer from what we know. */
        snprintf(reply, replylen, "ok brokers=%d up=%d uptime_s=%ld commands=%lu offsets=unavailable", d->brokers,
                 up, uptime, d->commands);
        return 0;
    }
    char perr[256];
    rd_kafka_t *rk = probe_new(d, perr, sizeof perr);
    if (!rk) {
        snprintf(reply, replylen, "error: %s", perr);
        return -1;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 2000);
    if (err) {
        snprintf(reply, replylen, "error: metadata: %s", rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        return -1;
    }
    long long appended = 0, retained = 0;
    int partitions = 0, topics = 0;
    size_t o = 0;
    int rc = 0;
    if (topic) {
        const rd_kafka_metadata_topic_t *t = find_topic(md, topic);
        if (!t) {
            snprintf(reply, replylen, "error: no topic %s", topic);
            rc = -1;
            goto out;
        }
        o = (size_t)snprintf(reply, replylen, "ok topic=%s partitions=%d", topic, t->partition_cnt);
        for (int p = 0; p < t->partition_cnt && o < replylen; p++) {
            int64_t lo = -1, hi = -1;
            rd_kafka_query_watermark_offsets(rk, topic, t->partitions[p].id, &lo, &hi, 1000);
            o += (size_t)snprintf(reply + o, replylen - o, " p%d=%lld..%lld", (int)t->partitions[p].id,
                                  (long long)lo, (long long)hi);
        }
        goto out;
    }
    for (int i = 0; i < md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *t = &md->topics[i];
        if (t->err)
            continue;
        topics++;
        for (int p = 0; p < t->partition_cnt; p++) {
            int64_t lo = -1, hi = -1;
            partitions++;
            if (rd_kafka_query_watermark_offsets(rk, t->topic, t->partitions[p].id, &lo, &hi, 1000) == 0) {
                appended += hi;
                retained += hi - lo;
            }
        }
    }
    snprintf(reply, replylen,
             "ok brokers=%d up=%d topics=%d partitions=%d appended=%lld retained=%lld pruned=%lld uptime_s=%ld "
             "commands=%lu",
             d->brokers, up, topics, partitions, appended, retained, appended - retained, uptime, d->commands);
out:
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

static int cmd_create(jtm_devbroker *d, const char *topic, const char *parts, char *reply, size_t replylen)
{
    long p;
    if (!topic || !topic_name_ok(topic)) {
        snprintf(reply, replylen, "error: create: topic name must be 1-249 of [a-zA-Z0-9._-]");
        return -1;
    }
    if (parse_long(parts, 1, 100000, &p) != 0) {
        snprintf(reply, replylen, "error: create: partitions must be 1..100000");
        return -1;
    }
    /* The mock asserts on a duplicate create: look first (a full listing never auto-creates). */
    char perr[256];
    rd_kafka_t *rk = probe_new(d, perr, sizeof perr);
    if (!rk) {
        snprintf(reply, replylen, "error: %s", perr);
        return -1;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 2000);
    if (err) {
        snprintf(reply, replylen, "error: metadata: %s", rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        return -1;
    }
    int exists = find_topic(md, topic) != NULL;
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    if (exists) {
        snprintf(reply, replylen, "error: topic %s exists", topic);
        return -1;
    }
    err = rd_kafka_mock_topic_create(d->mc, topic, (int)p, d->brokers < 3 ? d->brokers : 3);
    if (err) {
        snprintf(reply, replylen, "error: create %s: %s", topic, rd_kafka_err2str(err));
        return -1;
    }
    snprintf(reply, replylen, "ok topic=%s partitions=%ld", topic, p);
    return 0;
}

/* leader <topic> <partition|all> <broker>: the mock never moves leadership by itself (a down
 * broker's partitions just stall); this is how a fault test simulates a fail-over. */
static int cmd_leader(jtm_devbroker *d, const char *topic, const char *part, const char *broker, char *reply,
                      size_t replylen)
{
    long p = -1;
    int id;
    if (!topic_name_ok(topic) || (strcmp(part, "all") != 0 && parse_long(part, 0, 99999, &p) != 0) ||
        parse_broker(d, broker, &id) != 0 || id < 0) {
        snprintf(reply, replylen, "error: usage: leader <topic> <partition|all> <1..%d>", d->brokers);
        return -1;
    }
    int from = (int)p, to = (int)p;
    if (p < 0) {
        char perr[256];
        rd_kafka_t *rk = probe_new(d, perr, sizeof perr);
        if (!rk) {
            snprintf(reply, replylen, "error: %s", perr);
            return -1;
        }
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 2000);
        const rd_kafka_metadata_topic_t *t = err ? NULL : find_topic(md, topic);
        from = 0;
        to = t ? t->partition_cnt - 1 : -1;
        if (md)
            rd_kafka_metadata_destroy(md);
        rd_kafka_destroy(rk);
        if (!t) {
            snprintf(reply, replylen, "error: no topic %s%s%s", topic, err ? ": " : "", err ? rd_kafka_err2str(err) : "");
            return -1;
        }
    }
    for (int i = from; i <= to; i++) {
        rd_kafka_resp_err_t err = rd_kafka_mock_partition_set_leader(d->mc, topic, i, id);
        if (err) {
            snprintf(reply, replylen, "error: leader %s [%d]: %s", topic, i, rd_kafka_err2str(err));
            return -1;
        }
    }
    snprintf(reply, replylen, "ok topic=%s partitions=%d leader=%d", topic, to - from + 1, id);
    return 0;
}

const char *jtm_devbroker_help(void)
{
    return "ok commands: down <id|all>; up <id|all>; rtt <id|all> <ms>; errors <api> <error> <count>; "
           "clear <api>; create <topic> <partitions>; leader <topic> <partition|all> <id>; stats [topic]; help";
}

int jtm_devbroker_command(jtm_devbroker *d, const char *line, char *reply, size_t replylen)
{
    char buf[1024], *save = NULL, *tok[6] = {0};
    int n = 0, id;
    long v;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == 5) {
            snprintf(reply, replylen, "error: too many arguments");
            return -1;
        }
        tok[n++] = t;
    }
    if (n == 0) {
        snprintf(reply, replylen, "error: empty command (try help)");
        return -1;
    }
    d->commands++;
    const char *cmd = tok[0];
    char err[256];
    if (strcmp(cmd, "down") == 0 || strcmp(cmd, "up") == 0) {
        int up = cmd[0] == 'u';
        if (n != 2 || parse_broker(d, tok[1], &id) != 0) {
            snprintf(reply, replylen, "error: usage: %s <1..%d|all>", cmd, d->brokers);
            return -1;
        }
        if (jtm_devbroker_set_up(d, id, up, err, sizeof err) != 0) {
            snprintf(reply, replylen, "error: %s", err);
            return -1;
        }
        snprintf(reply, replylen, "ok brokers_up=%d", count_up(d));
        return 0;
    }
    if (strcmp(cmd, "rtt") == 0) {
        if (n != 3 || parse_broker(d, tok[1], &id) != 0 || parse_long(tok[2], 0, 600000, &v) != 0) {
            snprintf(reply, replylen, "error: usage: rtt <1..%d|all> <0..600000 ms>", d->brokers);
            return -1;
        }
        for (int b = id < 0 ? 1 : id; b <= (id < 0 ? d->brokers : id); b++) {
            rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_rtt(d->mc, b, (int)v);
            if (e) {
                snprintf(reply, replylen, "error: rtt broker %d: %s", b, rd_kafka_err2str(e));
                return -1;
            }
            d->rtt[b] = (int)v;
        }
        snprintf(reply, replylen, "ok rtt_ms=%ld", v);
        return 0;
    }
    if (strcmp(cmd, "errors") == 0) {
        int api;
        rd_kafka_resp_err_t code;
        if (n != 4 || parse_api_key(tok[1], &api) != 0 || parse_error_code(tok[2], &code) != 0 ||
            parse_long(tok[3], 1, 100000, &v) != 0) {
            snprintf(reply, replylen,
                     "error: usage: errors <api key: number or name, e.g. Produce> <error: code or name, e.g. "
                     "NOT_LEADER_FOR_PARTITION> <count 1..100000>");
            return -1;
        }
        rd_kafka_resp_err_t *errs = malloc((size_t)v * sizeof *errs);
        if (!errs) {
            snprintf(reply, replylen, "error: out of memory");
            return -1;
        }
        for (long i = 0; i < v; i++)
            errs[i] = code;
        rd_kafka_mock_push_request_errors_array(d->mc, (int16_t)api, (size_t)v, errs);
        free(errs);
        snprintf(reply, replylen, "ok api=%d error=%s count=%ld", api, rd_kafka_err2name(code), v);
        return 0;
    }
    if (strcmp(cmd, "clear") == 0) {
        int api;
        if (n != 2 || parse_api_key(tok[1], &api) != 0) {
            snprintf(reply, replylen, "error: usage: clear <api key>");
            return -1;
        }
        rd_kafka_mock_clear_request_errors(d->mc, (int16_t)api);
        snprintf(reply, replylen, "ok api=%d", api);
        return 0;
    }
    if (strcmp(cmd, "create") == 0) {
        if (n != 3) {
            snprintf(reply, replylen, "error: usage: create <topic> <partitions>");
            return -1;
        }
        return cmd_create(d, tok[1], tok[2], reply, replylen);
    }
    if (strcmp(cmd, "leader") == 0) {
        if (n != 4) {
            snprintf(reply, replylen, "error: usage: leader <topic> <partition|all> <1..%d>", d->brokers);
            return -1;
        }
        return cmd_leader(d, tok[1], tok[2], tok[3], reply, replylen);
    }
    if (strcmp(cmd, "stats") == 0) {
        if (n > 2) {
            snprintf(reply, replylen, "error: usage: stats [topic]");
            return -1;
        }
        return cmd_stats(d, tok[1], reply, replylen);
    }
    if (strcmp(cmd, "help") == 0) {
        snprintf(reply, replylen, "%s", jtm_devbroker_help());
        return 0;
    }
    d->commands--;
    snprintf(reply, replylen, "error: unknown command %.32s (try help)", cmd);
    return -1;
}

int jtm_devbroker_write_file(const char *path, const char *s, char *errstr, size_t errlen)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp) {
        snprintf(errstr, errlen, "%s: path too long", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(errstr, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t len = strlen(s);
    int ok = write(fd, s, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            saved = errno;
        unlink(tmp);
        snprintf(errstr, errlen, "cannot write %s: %s", path, strerror(saved));
        return -1;
    }
    return 0;
}
