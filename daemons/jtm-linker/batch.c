/* Collecting a batch: as many messages as arrive within batch.ms of the first one, up to batch.max
 * messages or batch.bytes. Validation runs here, while the batch fills, so PostgreSQL only sees
 * messages that look like pseudonymised events. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linker.h"
#include "log.h"
#include "signals.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void lk_batch_init(lk_batch *b) { memset(b, 0, sizeof *b); }

void lk_batch_clear(lk_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->items[i].reject);
        rd_kafka_message_destroy(b->msgs[i]);
    }
    b->n = 0;
    b->bytes = 0;
}

void lk_batch_free(lk_batch *b)
{
    lk_batch_clear(b);
    free(b->msgs);
    free(b->items);
    memset(b, 0, sizeof *b);
}

static void push(lk_batch *b, rd_kafka_message_t *m, const char *const *topics, const char *const *feeds,
                 int ntopics)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        rd_kafka_message_t **msgs = realloc(b->msgs, cap * sizeof *msgs);
        lk_item *items = msgs ? realloc(b->items, cap * sizeof *items) : NULL;
        if (!msgs || !items)
            abort();
        b->msgs = msgs;
        b->items = items;
        b->cap = cap;
    }
    const char *topic = rd_kafka_topic_name(m->rkt);
    const char *feed = NULL;
    for (int i = 0; i < ntopics; i++)
        if (strcmp(topic, topics[i]) == 0)
            feed = feeds[i];
    lk_item *it = &b->items[b->n];
    it->topic = topic;
    it->partition = m->partition;
    it->offset = m->offset;
    it->data = m->payload ? (const char *)m->payload : "";
    it->len = m->payload ? m->len : 0;
    it->reject = NULL;
    char reason[128];
    if (lk_validate(it->data, it->len, feed, reason, sizeof reason) != 0)
        it->reject = strdup(reason);
    b->msgs[b->n++] = m;
    b->bytes += it->len;
}

size_t lk_batch_collect(rd_kafka_t *rk, lk_batch *b, size_t max, size_t max_bytes, int max_ms,
                        const char *const *topics, const char *const *feeds, int ntopics,
                        unsigned long *consumer_errors)
{
    long long deadline = 0;
    while (jtm_run && b->n < max && b->bytes < max_bytes) {
        int wait = 100;
        if (b->n > 0) {
            long long left = deadline - now_ms();
            if (left <= 0)
                break;
            wait = left < 100 ? (int)left : 100;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, wait);
        if (!m) {
            if (b->n == 0)
                return 0; /* idle: let the caller tick stats and check its state */
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
        if (b->n == 0)
            deadline = now_ms() + max_ms;
        push(b, m, topics, feeds, ntopics);
    }
    return b->n;
}
