/* Collecting a batch: as many messages as arrive within batch.ms of the first one, up to batch.max
 * messages or batch.bytes; when batch.ms is up and a backlog waits (at least a tenth of batch.max
 * behind in this worker's partitions), the batch goes on to batch.max or batch.bytes while it
 * waits. Each
 * message is validated (so PostgreSQL only sees messages that look like pseudonymised events),
 * handed to the batch's load (which holds at most a chunk of them, direct.c) and destroyed: the
 * daemon's memory does not grow with the batch. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eventlog.h"
#include "kafka.h"
#include "linker.h"
#include "log.h"
#include "signals.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void lk_batch_init(lk_batch *b, const lk_schemas *schemas)
{
    memset(b, 0, sizeof *b);
    b->last = -1;
    b->schemas = schemas;
    jtm_jdoc_init(&b->doc);
}

void lk_batch_clear(lk_batch *b)
{
    if (b->next)
        rd_kafka_topic_partition_list_destroy(b->next);
    b->next = NULL;
    b->n = 0;
    b->bytes = 0;
    b->last = -1;
    b->load_failed = false;
}

void lk_batch_free(lk_batch *b)
{
    lk_batch_clear(b);
    jtm_jdoc_free(&b->doc);
    sb_free(&b->scratch);
}

/* Remembers offset + 1 of the message's partition; messages come in runs of one partition, so the
 * entry of the previous message is tried first. */
static void note_position(lk_batch *b, const char *topic, int32_t partition, int64_t offset)
{
    rd_kafka_topic_partition_t *p = NULL;
    if (b->last >= 0 && b->last < b->next->cnt) {
        p = &b->next->elems[b->last];
        if (p->partition != partition || strcmp(p->topic, topic) != 0)
            p = NULL;
    }
    if (!p)
        p = rd_kafka_topic_partition_list_find(b->next, topic, partition);
    if (!p) {
        p = rd_kafka_topic_partition_list_add(b->next, topic, partition);
        p->offset = -1;
    }
    if (offset + 1 > p->offset)
        p->offset = offset + 1;
    b->last = (int)(p - b->next->elems);
}

/* Validates and sends one message; returns 0, or -1 when the send failed. */
static int add(lk_batch *b, lk_load *load, const rd_kafka_message_t *m, const char *const *topics,
               const char *const *feeds, int ntopics)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    const char *feed = NULL;
    for (int i = 0; i < ntopics; i++)
        if (strcmp(topic, topics[i]) == 0)
            feed = feeds[i];
    lk_item it = {
        .topic = topic,
        .partition = m->partition,
        .offset = m->offset,
        .data = m->payload ? (const char *)m->payload : "",
        .len = m->payload ? m->len : 0,
        .reject = NULL,
    };
    char reason[128];
    lk_envelope env;
    jtm_event ev;
    if (lk_validate_envelope(b->schemas, &b->doc, it.data, it.len, feed, &env, reason, sizeof reason) != 0)
        it.reject = reason;
    else if (jtm_event_from_doc(&b->doc, &ev, &b->scratch)) {
        it.env = &env; /* may be loaded directly */
        it.event = &ev;
    }
    int rc = lk_load_add(load, &it);
    note_position(b, topic, m->partition, m->offset);
    b->n++;
    b->bytes += it.len;
    return rc;
}

/* A backlog worth a large batch: at least this share of batch.max waiting. At 5,000 events/s the
 * lag per worker stays at a few thousand, so steady-state batches keep the batch.ms bound. */
#define LK_BACKLOG_SHARE 10
/* 100 ms polls without a message that end a backlog batch */
#define LK_BACKLOG_IDLE_POLLS 12
/* How often a backlog batch looks whether the backlog is gone */
#define LK_BACKLOG_CHECK_MS 100

size_t lk_batch_collect(rd_kafka_t *rk, lk_batch *b, lk_load *load, PGconn *conn, const char *group, size_t max,
                        size_t max_bytes, int max_ms, const char *const *topics, const char *const *feeds,
                        int ntopics, unsigned long *consumer_errors)
{
    long long deadline = 0, next_check = 0;
    bool backlog = false;
    int idle_polls = 0;
    const int64_t backlog_min = (int64_t)(max / LK_BACKLOG_SHARE);
    while (jtm_run && b->n < max && b->bytes < max_bytes) {
        int wait = 100;
        if (b->n > 0 && !backlog) {
            long long left = deadline - now_ms();
            if (left <= 0) {
                if (jtm_kafka_lag_cached_total(rk) < backlog_min)
                    break;
                backlog = true; /* no deadline from here on */
                next_check = now_ms() + LK_BACKLOG_CHECK_MS;
            }
            wait = left <= 0 ? 100 : left < 100 ? (int)left : 100;
        } else if (backlog && now_ms() >= next_check) {
            /* The backlog is consumed: end the batch now. Waiting for batch.max would hold a
             * live feed's events in an ever longer batch (at 5,000 events/s after a stall of a
             * few seconds: a 100,000-event batch collected for tens of seconds). */
            if (jtm_kafka_lag_cached_total(rk) < backlog_min)
                break;
            next_check = now_ms() + LK_BACKLOG_CHECK_MS;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, wait);
        if (m)
            idle_polls = 0;
        if (!m) {
            if (b->n == 0)
                return 0; /* idle: let the caller tick stats and check its state */
            /* In a backlog an empty poll is librdkafka's fetch pause (up to 1 s after its queue
             * filled during the last apply), not the end of the input: wait it out. */
            if (backlog && ++idle_polls >= LK_BACKLOG_IDLE_POLLS)
                break;
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                char q[256];
                (*consumer_errors)++;
                log_warn("kafka_consume_error", "error=%s", jtm_log_quote(q, sizeof q, rd_kafka_err2str(m->err)));
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        if (b->n == 0) {
            deadline = now_ms() + max_ms;
            if (!b->next)
                b->next = rd_kafka_topic_partition_list_new(16);
            if (lk_load_begin(load, conn, group) != 0) {
                b->load_failed = true;
                b->n = 1; /* consumed and not loaded: the caller re-seeks */
                rd_kafka_message_destroy(m);
                return b->n;
            }
        }
        int rc = add(b, load, m, topics, feeds, ntopics);
        rd_kafka_message_destroy(m);
        if (rc != 0) {
            b->load_failed = true;
            break;
        }
    }
    return b->n;
}
