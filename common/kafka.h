/* Kafka plumbing every daemon shares, on librdkafka: handles built from the kafka.* pass-through
 * keys with jtm's defaults under them, librdkafka's own logs routed to jtm_log, a rebalance
 * callback for consumers that store offsets by hand, and small helpers (start-up reachability check,
 * flush that says what stayed undelivered, per-partition lag, header lookup, produce that waits
 * while the local queue is full).
 *
 * Delivery model (design.md): producers are idempotent; consumers run with
 * enable.auto.offset.store=false and enable.auto.commit=true, so an offset is committed (every
 * auto.commit.interval.ms, on revoke and on close) only after the application stored it with
 * jtm_kafka_store_offset(), i.e. after it finished with the message.
 *
 * Thread-safety: everything here may be called from any thread that owns the handle; the log and
 * error callbacks run on librdkafka's threads and only call jtm_log (thread-safe). */
#ifndef JTM_KAFKA_H
#define JTM_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef void (*jtm_kafka_dr_fn)(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);
typedef void (*jtm_kafka_rebalance_fn)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                       rd_kafka_topic_partition_list_t *partitions, void *opaque);

/* A new configuration with every pass-through key (kafka may be NULL) applied in order, the jtm
 * log callback (event=kafka_log) and error callback (event=kafka_error) installed. Returns NULL
 * with errstr naming the offending key on an unknown key or a bad value; the value itself never
 * appears in errstr (it may be a password). Caller owns the result (rd_kafka_conf_destroy, or
 * hand it to rd_kafka_new). */
rd_kafka_conf_t *jtm_kafka_conf_new(const jtm_kvlist *kafka, char *errstr, size_t errlen);

/* An idempotent producer. Defaults, which the pass-through keys override: enable.idempotence=true,
 * compression.type=lz4, linger.ms=5, batch.num.messages=10000,
 * queue.buffering.max.messages=1000000. dr_msg_cb (may be NULL) runs from rd_kafka_poll/flush
 * with opaque as its last argument. Returns NULL with errstr. */
rd_kafka_t *jtm_kafka_producer_new(const jtm_kvlist *kafka, jtm_kafka_dr_fn dr_msg_cb, void *opaque,
                                   char *errstr, size_t errlen);

/* A group consumer with its main queue redirected to the consumer queue (so rd_kafka_consumer_poll
 * serves logs, errors and rebalances). Defaults, which the pass-through keys override:
 * group.id=group_id, enable.auto.offset.store=false, enable.auto.commit=true,
 * auto.offset.reset=earliest, partition.assignment.strategy=range (eager; cooperative-sticky works
 * too, on the devbroker as well, through kafka.partition.assignment.strategy: tests/it_kafka.c runs
 * both). group_id may be NULL only when the pass-through sets group.id. rebalance_cb NULL means
 * jtm_kafka_rebalance_cb; opaque goes to it.
 * Against the devbroker, set kafka.session.timeout.ms=6000 in tests: its mock keeps a group whose
 * last member left closed for session.timeout.ms - 1 s (44 s by default) before a restarted
 * consumer can join. Returns NULL with errstr. */
rd_kafka_t *jtm_kafka_consumer_new(const jtm_kvlist *kafka, const char *group_id,
                                   jtm_kafka_rebalance_fn rebalance_cb, void *opaque, char *errstr,
                                   size_t errlen);

/* Consumer settings for a daemon that a supervisor (systemd's Restart=) restarts after a crash,
 * written into out; the daemon merges its kafka.* keys over them afterwards, so those win:
 *   group.instance.id = "<role>.<instance>": static group membership (KIP-345). A broker that
 *     supports it (Apache Kafka >= 2.3) gives a restarted process its old place and assignment at
 *     once, without waiting for the crashed one's session to expire and without a rebalance. The
 *     name must stay the same across restarts and be unique in the group: instance NULL or "" means
 *     the host name; "off" means no static membership (dynamic members, e.g. autoscaled replicas).
 *     A second process with the same id fences the first (a fatal error: it exits 1).
 *   session.timeout.ms = 10000, heartbeat.interval.ms = 1000: a crashed process that does not come
 *     back gives up its partitions after 10 s (librdkafka: 45 s); longer than a systemd restart
 *     (RestartSec=2s plus start-up), so a restart does not cause a rebalance on a real broker.
 * The rebalance timeout (librdkafka's max.poll.interval.ms, 300 s) stays: it bounds how long a
 * live member may take to rejoin, and a dead one is dropped after the session timeout anyway.
 * The development broker (librdkafka 2.0.2's mock) ignores group.instance.id: there a restarted
 * member is assigned about session.timeout.ms - 1 s after it joins (docs/runbook.md, After a crash).
 * role: [A-Za-z0-9._-] (e.g. "jtm-ingest-soj"). Returns 0, or -1 with errstr when instance holds
 * another character or is longer than 200 bytes, or the host name cannot be read. */
int jtm_kafka_supervised_conf(jtm_kvlist *out, const char *role, const char *instance, char *errstr, size_t errlen);

/* Subscribes to n topics. Returns 0, or -1 with errstr. */
int jtm_kafka_subscribe(rd_kafka_t *rk, const char *const *topics, int n, char *errstr, size_t errlen);

/* A metadata round trip, retried until timeout_ms: confirms a broker answers. Daemons call it at
 * start-up and exit JTM_EXIT_UNAVAILABLE when it fails. Returns 0, or -1 with errstr. */
int jtm_kafka_wait_ready(rd_kafka_t *rk, int timeout_ms, char *errstr, size_t errlen);

/* The default rebalance callback for consumers that store offsets by hand. On assignment it
 * assigns (eager) or incrementally assigns (cooperative). On revocation it first commits the
 * offsets stored so far (synchronously, unless the partitions were lost: then they may already
 * belong to someone else), then unassigns, so the next owner starts after the last message this
 * consumer finished. Logs event=kafka_rebalance with the partition count. A coordinator may refuse
 * that commit while the group rebalances (the devbroker's mock always does; real brokers do in
 * some states): the next owner then re-reads what came after the last commit, so consumers must
 * tolerate redelivery (at least once), and tests count distinct events, not messages. */
void jtm_kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t *partitions, void *opaque);

/* Marks msg as done: stores msg offset + 1 for the next commit. Returns 0, or -1 with errstr
 * (for example when the partition was revoked meanwhile: the message will be redelivered to the
 * next owner, which is what at-least-once wants). */
int jtm_kafka_store_offset(rd_kafka_t *rk, const rd_kafka_message_t *msg, char *errstr, size_t errlen);

/* Produces a copy of value (and key) to topic, partitioned by key, with headers (may be NULL; on
 * success librdkafka owns them, on failure the caller still does). While the local queue is full
 * it serves delivery reports (rd_kafka_poll) and retries, for at most block_ms (-1: no limit).
 * msg_opaque reaches the delivery report. Returns 0, or -1 with errstr. */
int jtm_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key, size_t keylen,
                      const void *value, size_t len, rd_kafka_headers_t *headers, void *msg_opaque,
                      int block_ms, char *errstr, size_t errlen);

/* Waits up to timeout_ms for every queued and in-flight message to be delivered (or to fail:
 * failures arrive in the delivery report). Returns 0 when nothing is left, else -1 with errstr
 * saying how many messages stay undelivered; *left (may be NULL) gets that number. */
int jtm_kafka_flush(rd_kafka_t *rk, int timeout_ms, int *left, char *errstr, size_t errlen);

/* The last header named name of msg: *val points into the message (valid while msg lives; NULL
 * for a null-valued header), *len its length. Returns 0 when found, -1 when not. */
int jtm_kafka_header_get(const rd_kafka_message_t *msg, const char *name, const char **val, size_t *len);

/* Consumer lag of one assigned partition. */
typedef struct jtm_kafka_lag {
    char topic[256];
    int32_t partition;
    int64_t position;  /* next offset this consumer will read; -1 when unknown (nothing read yet) */
    int64_t committed; /* committed offset of the group; -1 when none */
    int64_t low, high; /* watermarks: first retained offset (-1 unless statistics.interval.ms is
                        * set or the broker was asked) and end offset (-1 when unknown) */
    int64_t lag;       /* high - (position, else committed, else low, else 0); -1 when high is unknown */
} jtm_kafka_lag;

/* Lag of every partition assigned to this consumer, cheaply enough for every metrics tick:
 * positions and high watermarks come from librdkafka's cache (every fetch response carries the
 * high watermark), committed offsets from one request to the group coordinator. Only partitions
 * with no cached watermark yet (assigned, not fetched) are asked of their leader, and only within
 * what is left of timeout_ms; the call returns in about timeout_ms at most. (Asking every partition
 * would not do: a leader answers a connection's requests in order, so each question waits behind
 * the consumer's long-polling fetch, fetch.wait.max.ms, 500 ms by default, per partition.)
 * *out (malloc'd, caller frees) gets *n entries; 0 entries when nothing is assigned. Returns 0, or
 * -1 with errstr. */
int jtm_kafka_lag_get(rd_kafka_t *rk, int timeout_ms, jtm_kafka_lag **out, size_t *n, char *errstr,
                      size_t errlen);

/* Non-zero when librdkafka raised a fatal error on this handle (an idempotent producer that can no
 * longer guarantee ordering, a fenced consumer): the handle is unusable, the daemon must exit
 * (JTM_EXIT_FAILURE) after logging errstr. */
int jtm_kafka_fatal(rd_kafka_t *rk, char *errstr, size_t errlen);

/* Sets gauge <name>{topic="...",partition="..."} to each assigned partition's lag, from what the
 * consumer already knows (its position and the watermarks of its last fetch): no broker round trip,
 * so a stats tick never stalls the loop. Partitions not fetched yet are left out. */
struct jtm_metrics;
void jtm_kafka_lag_publish(rd_kafka_t *rk, struct jtm_metrics *m, const char *name, const char *help);

/* The sum of those lags: messages waiting for this consumer, as far as it knows without asking. */
int64_t jtm_kafka_lag_cached_total(rd_kafka_t *rk);

#endif
