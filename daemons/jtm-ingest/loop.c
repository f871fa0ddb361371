#include "loop.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka.h"
#include "log.h"
#include "reaper.h"
#include "service.h"
#include "signals.h"

/* A delivery report finds its message again through msg_opaque: partition, assignment generation
 * and sequence number packed into one pointer-sized value (no allocation per message). */
#define SEQ_BITS 40
#define SEQ_MASK ((UINT64_C(1) << SEQ_BITS) - 1)
#define GEN_MASK UINT64_C(0xff)
#define MAX_PARTITIONS 65536
#define REASON_CACHE 64

/* In-order acknowledgement of one raw partition: a ring of the offsets in flight, in the order
 * they were produced (which is offset order). */
typedef struct tracker {
    bool active;
    uint64_t gen;
    int64_t *offs;
    uint8_t *done;
    size_t cap;
    uint64_t head, tail; /* sequence numbers: [head, tail) in flight */
    int64_t store;       /* offset to store next (last acknowledged prefix + 1) */
    bool dirty;
    jtm_gauge *lag;
} tracker;

typedef struct reason_counter {
    char reason[JTM_INGEST_REASON_LEN];
    jtm_counter *c;
} reason_counter;

struct jtm_ingest {
    jtm_ingest_settings s;
    jtm_transform *t;
    jtm_metrics *m;
    rd_kafka_t *c, *p;
    rd_kafka_queue_t *cq;
    rd_kafka_topic_t *out, *dlq;
    tracker *tr;
    size_t ntr;
    jtm_reaper *reaper;        /* destroys consumed messages off this thread */
    uint64_t inflight, max_inflight;
    uint64_t dr_count, dr_seen; /* delivery reports so far; value at the last change */
    int64_t dr_change_ms;
    rd_kafka_message_t **bl; /* backlog: consumed, not yet accepted by the producer; FIFO */
    size_t bl_head, bl_len, bl_cap;
    bool paused;
    atomic_int failed, broker_ok, stopping;
    reason_counter reasons[REASON_CACHE];
    int nreasons;
    jtm_counter *consumed, *published, *dead_lettered, *delivery_errors, *consume_errors;
    jtm_histogram *latency;
    jtm_gauge *g_inflight, *g_paused, *g_broker_up;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- trackers ---- */

static tracker *tracker_get(jtm_ingest *in, int32_t partition, bool create)
{
    if (partition < 0 || partition >= MAX_PARTITIONS)
        return NULL;
    if ((size_t)partition >= in->ntr) {
        if (!create)
            return NULL;
        size_t n = (size_t)partition + 1;
        tracker *tr = realloc(in->tr, n * sizeof *tr);
        if (!tr)
            return NULL;
        memset(tr + in->ntr, 0, (n - in->ntr) * sizeof *tr);
        in->tr = tr;
        in->ntr = n;
    }
    return &in->tr[partition];
}

static void tracker_activate(jtm_ingest *in, int32_t partition)
{
    tracker *t = tracker_get(in, partition, true);
    if (!t)
        return;
    t->gen++;
    t->active = true;
    t->head = t->tail = 0;
    t->store = -1;
    t->dirty = false;
    if (!t->lag) {
        char labels[64];
        snprintf(labels, sizeof labels, "partition=\"%d\"", (int)partition);
        t->lag = jtm_metrics_gauge(in->m, "jtm_ingest_consumer_lag", "messages behind the end of the raw partition",
                                   labels);
    }
}

static void tracker_deactivate(jtm_ingest *in, int32_t partition)
{
    tracker *t = tracker_get(in, partition, false);
    if (t) {
        t->active = false;
        t->dirty = false;
        t->head = t->tail = 0;
    }
}

static bool tracker_reserve(tracker *t)
{
    if (t->tail - t->head < t->cap)
        return true;
    size_t ncap = t->cap ? t->cap * 2 : 1024;
    int64_t *offs = malloc(ncap * sizeof *offs);
    uint8_t *done = malloc(ncap);
    if (!offs || !done) {
        free(offs);
        free(done);
        return false;
    }
    for (uint64_t q = t->head; q < t->tail; q++) {
        offs[q % ncap] = t->offs[q % t->cap];
        done[q % ncap] = t->done[q % t->cap];
    }
    free(t->offs);
    free(t->done);
    t->offs = offs;
    t->done = done;
    t->cap = ncap;
    return true;
}

/* Stores, in one call, every partition whose acknowledged prefix moved. */
static void store_offsets(jtm_ingest *in)
{
    int n = 0;
    for (size_t i = 0; i < in->ntr; i++)
        n += in->tr[i].dirty;
    if (!n)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (size_t i = 0; i < in->ntr; i++)
        if (in->tr[i].dirty) {
            rd_kafka_topic_partition_list_add(l, in->s.topic_raw, (int32_t)i)->offset = in->tr[i].store;
            in->tr[i].dirty = false;
        }
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(in->c, l);
    if (err) /* a partition revoked meanwhile: its next owner reads those messages again */
        log_debug("offset_store_failed", "err=%s", rd_kafka_err2name(err));
    rd_kafka_topic_partition_list_destroy(l);
}

/* ---- delivery reports (run inside rd_kafka_poll/flush on the producer, on this thread) ---- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    jtm_ingest *in = opaque;
    (void)rk;
    uint64_t op = (uint64_t)(uintptr_t)msg->_private;
    int32_t partition = (int32_t)(op >> (SEQ_BITS + 8));
    uint64_t gen = (op >> SEQ_BITS) & GEN_MASK, seq40 = op & SEQ_MASK;
    in->inflight--;
    in->dr_count++;
    if (msg->err) {
        jtm_counter_add(in->delivery_errors, 1);
        if (!atomic_exchange(&in->failed, 1))
            log_error("delivery_failed", "topic=%s source_partition=%d err=%s action=stop_for_restart",
                      rd_kafka_topic_name(msg->rkt), (int)partition, rd_kafka_err2name(msg->err));
        return; /* its offset is never stored: the prefix stops here */
    }
    jtm_counter_add(msg->rkt == in->out ? in->published : in->dead_lettered, 1);
    jtm_histogram_observe(in->latency, (double)rd_kafka_message_latency(msg) / 1e6);
    tracker *t = tracker_get(in, partition, false);
    if (!t || !t->active || (t->gen & GEN_MASK) != gen)
        return; /* the partition was revoked meanwhile */
    uint64_t seq = (t->head & ~SEQ_MASK) | seq40;
    if (seq < t->head)
        seq += SEQ_MASK + 1;
    if (seq >= t->tail)
        return;
    t->done[seq % t->cap] = 1;
    while (t->head < t->tail && t->done[t->head % t->cap]) {
        t->store = t->offs[t->head % t->cap] + 1;
        t->done[t->head % t->cap] = 0;
        t->head++;
        t->dirty = true;
    }
}

/* ---- backlog and pausing ---- */

static void backlog_push(jtm_ingest *in, rd_kafka_message_t *m)
{
    if (in->bl_len == in->bl_cap) {
        size_t ncap = in->bl_cap ? in->bl_cap * 2 : 256;
        rd_kafka_message_t **b = malloc(ncap * sizeof *b);
        if (!b) { /* cannot keep it: leave it unacknowledged, it is read again after a restart */
            atomic_store(&in->failed, 1);
            rd_kafka_message_destroy(m);
            return;
        }
        for (size_t i = 0; i < in->bl_len; i++)
            b[i] = in->bl[(in->bl_head + i) % in->bl_cap];
        free(in->bl);
        in->bl = b;
        in->bl_cap = ncap;
        in->bl_head = 0;
    }
    in->bl[(in->bl_head + in->bl_len) % in->bl_cap] = m;
    in->bl_len++;
}

static void set_paused(jtm_ingest *in, bool pause)
{
    if (in->paused == pause)
        return;
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(in->c, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a) {
        if (a->cnt && pause)
            rd_kafka_pause_partitions(in->c, a);
        else if (a->cnt)
            rd_kafka_resume_partitions(in->c, a);
        rd_kafka_topic_partition_list_destroy(a);
    }
    in->paused = pause;
    jtm_gauge_set(in->g_paused, pause ? 1 : 0);
    log_info(pause ? "consume_paused" : "consume_resumed", "inflight=%" PRIu64 " backlog=%zu", in->inflight,
             in->bl_len);
}

/* ---- one message ---- */

static jtm_counter *reject_counter(jtm_ingest *in, const char *reason)
{
    for (int i = 0; i < in->nreasons; i++)
        if (strcmp(in->reasons[i].reason, reason) == 0)
            return in->reasons[i].c;
    char esc[JTM_INGEST_REASON_LEN * 2], labels[JTM_INGEST_REASON_LEN * 2 + 16];
    snprintf(labels, sizeof labels, "reason=\"%s\"", jtm_metrics_label_escape(esc, sizeof esc, reason));
    jtm_counter *c = jtm_metrics_counter(in->m, "jtm_ingest_rejected_total", "raw events rejected, by reason", labels);
    if (in->nreasons < REASON_CACHE) {
        snprintf(in->reasons[in->nreasons].reason, JTM_INGEST_REASON_LEN, "%s", reason);
        in->reasons[in->nreasons++].c = c;
    }
    return c;
}

static rd_kafka_headers_t *reject_headers(const rd_kafka_message_t *m, const char *reason)
{
    rd_kafka_headers_t *orig = NULL, *h;
    if (rd_kafka_message_headers(m, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR && orig)
        h = rd_kafka_headers_copy(orig);
    else
        h = rd_kafka_headers_new(4);
    char num[24];
    rd_kafka_header_add(h, "jtm.reject.reason", -1, reason, -1);
    rd_kafka_header_add(h, "jtm.source.topic", -1, rd_kafka_topic_name(m->rkt), -1);
    snprintf(num, sizeof num, "%d", (int)m->partition);
    rd_kafka_header_add(h, "jtm.source.partition", -1, num, -1);
    snprintf(num, sizeof num, "%" PRId64, m->offset);
    rd_kafka_header_add(h, "jtm.source.offset", -1, num, -1);
    return h;
}

typedef enum { P_DONE, P_FULL, P_FATAL } presult;

/* Transforms and hands m to the producer. P_DONE: m was produced (and destroyed) or dropped;
 * P_FULL: the local queue is full, the caller keeps m; P_FATAL: stop (m destroyed, not stored). */
static presult process(jtm_ingest *in, rd_kafka_message_t *m)
{
    tracker *t = tracker_get(in, m->partition, false);
    if (!t || !t->active) { /* not ours (any more): the owner reads it */
        rd_kafka_message_destroy(m);
        return P_DONE;
    }
    if (!tracker_reserve(t)) {
        log_error("out_of_memory", "where=tracker");
        rd_kafka_message_destroy(m);
        return P_FATAL;
    }
    jtm_transform_out o;
    jtm_transform_rc rc = jtm_transform_run(in->t, m->payload, m->len, &o);
    if (rc == JTM_TRANSFORM_ERROR) {
        char q[256];
        log_error("transform_failed", "partition=%d offset=%" PRId64 " error=%s", (int)m->partition, m->offset,
                  jtm_log_quote(q, sizeof q, o.reason));
        rd_kafka_message_destroy(m);
        return P_FATAL;
    }
    uint64_t seq = t->tail;
    void *op = (void *)(uintptr_t)(((uint64_t)m->partition << (SEQ_BITS + 8)) | ((t->gen & GEN_MASK) << SEQ_BITS) |
                                   (seq & SEQ_MASK));
    rd_kafka_resp_err_t err;
    rd_kafka_headers_t *h = NULL;
    if (rc == JTM_TRANSFORM_OK) {
        err = rd_kafka_producev(in->p, RD_KAFKA_V_RKT(in->out), RD_KAFKA_V_KEY(o.pid, 32),
                                RD_KAFKA_V_VALUE((void *)o.json, o.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_OPAQUE(op), RD_KAFKA_V_END);
    } else {
        h = reject_headers(m, o.reason);
        err = rd_kafka_producev(in->p, RD_KAFKA_V_RKT(in->dlq), RD_KAFKA_V_KEY(m->key, m->key_len),
                                RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(op), RD_KAFKA_V_END);
    }
    if (err) {
        if (h)
            rd_kafka_headers_destroy(h);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return P_FULL;
        log_error("produce_failed", "partition=%d offset=%" PRId64 " err=%s action=stop_for_restart",
                  (int)m->partition, m->offset, rd_kafka_err2name(err));
        rd_kafka_message_destroy(m);
        return P_FATAL;
    }
    t->offs[seq % t->cap] = m->offset;
    t->done[seq % t->cap] = 0;
    t->tail++;
    in->inflight++;
    if (rc == JTM_TRANSFORM_REJECT)
        jtm_counter_add(reject_counter(in, o.reason), 1);
    jtm_reaper_put(in->reaper, m);
    return P_DONE;
}

/* Hands over backlog messages in order until the producer refuses one. */
static void drain_backlog(jtm_ingest *in)
{
    while (in->bl_len && !atomic_load(&in->failed)) {
        rd_kafka_message_t *m = in->bl[in->bl_head];
        presult r = process(in, m);
        if (r == P_FULL)
            return;
        in->bl_head = (in->bl_head + 1) % in->bl_cap;
        in->bl_len--;
        if (r == P_FATAL)
            atomic_store(&in->failed, 1);
    }
}

static void drop_backlog(jtm_ingest *in, const rd_kafka_topic_partition_list_t *only)
{
    size_t keep = 0;
    for (size_t i = 0; i < in->bl_len; i++) {
        rd_kafka_message_t *m = in->bl[(in->bl_head + i) % in->bl_cap];
        bool drop = !only;
        for (int k = 0; only && k < only->cnt; k++)
            drop |= only->elems[k].partition == m->partition;
        if (drop)
            rd_kafka_message_destroy(m);
        else
            in->bl[(in->bl_head + keep++) % in->bl_cap] = m;
    }
    in->bl_len = keep;
}

/* ---- rebalance ---- */

static void flush_and_store(jtm_ingest *in, const char *when)
{
    int left = 0;
    char err[256];
    if (jtm_kafka_flush(in->p, in->s.flush_timeout_ms, &left, err, sizeof err) != 0)
        log_warn("flush_incomplete", "when=%s undelivered=%d note=offsets_not_stored", when, left);
    store_offsets(in);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    jtm_ingest *in = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++)
            tracker_activate(in, parts->elems[i].partition);
        jtm_kafka_rebalance_cb(rk, err, parts, NULL);
        if (in->paused)
            rd_kafka_pause_partitions(rk, parts);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        drop_backlog(in, parts);
        if (!rd_kafka_assignment_lost(rk))
            flush_and_store(in, "revoke");
    }
    jtm_kafka_rebalance_cb(rk, err, parts, NULL); /* commits what was stored, then unassigns */
    for (int i = 0; i < parts->cnt; i++)
        tracker_deactivate(in, parts->elems[i].partition);
}

/* ---- set-up ---- */

static void register_metrics(jtm_ingest *in)
{
    static const double lat[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    jtm_metrics *m = in->m;
    in->consumed = jtm_metrics_counter(m, "jtm_ingest_consumed_total", "raw messages consumed", NULL);
    in->published = jtm_metrics_counter(m, "jtm_ingest_published_total", "pseudonymised events acknowledged", NULL);
    in->dead_lettered =
        jtm_metrics_counter(m, "jtm_ingest_dead_lettered_total", "rejected raw events acknowledged by the DLQ", NULL);
    in->delivery_errors =
        jtm_metrics_counter(m, "jtm_ingest_delivery_errors_total", "deliveries that failed for good", NULL);
    in->consume_errors = jtm_metrics_counter(m, "jtm_ingest_consume_errors_total", "consumer errors", NULL);
    in->latency = jtm_metrics_histogram(m, "jtm_ingest_delivery_latency_seconds",
                                        "produce to broker acknowledgement", NULL, lat, sizeof lat / sizeof *lat);
    in->g_inflight = jtm_metrics_gauge(m, "jtm_ingest_inflight", "messages produced, not yet acknowledged", NULL);
    in->g_paused = jtm_metrics_gauge(m, "jtm_ingest_paused", "1 while consumption waits for the producer", NULL);
    in->g_broker_up = jtm_metrics_gauge(m, "jtm_ingest_broker_up", "1 when the last broker round trip worked", NULL);
}

jtm_ingest *jtm_ingest_new(const jtm_ingest_settings *s, jtm_transform *t, jtm_metrics *m, int *exit_code,
                           char *errstr, size_t errlen)
{
    *exit_code = JTM_EXIT_CONFIG;
    jtm_ingest *in = calloc(1, sizeof *in);
    if (!in) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    in->s = *s;
    in->t = t;
    in->m = m;
    in->max_inflight = 200000;
    in->dr_change_ms = now_ms();
    atomic_init(&in->failed, 0);
    atomic_init(&in->broker_ok, 1);
    atomic_init(&in->stopping, 0);
    register_metrics(in);

    /* Deliveries retry until they succeed unless the operator sets a limit (see loop.h).
     * linger.ms 50 instead of the shared 5: at 100k events/s over 64 partitions, 5 ms made batches
     * of about 8 messages per partition; 50 ms cut the broker's CPU to a third and this process's
     * system time and context switches to less than half (bench/ingest.sh). It costs up to 45 ms
     * more latency per event; kafka.linger.ms overrides it. */
    jtm_kvlist pk = {0};
    jtm_kvlist_set(&pk, "message.timeout.ms", "0");
    jtm_kvlist_set(&pk, "linger.ms", "50");
    jtm_kvlist_merge(&pk, s->kafka);
    in->p = jtm_kafka_producer_new(&pk, on_delivery, in, errstr, errlen);
    jtm_kvlist_free(&pk);
    if (!in->p)
        goto fail;
    /* Prefetch bounds above librdkafka's defaults (queued.min.messages 100000,
     * queued.max.messages.kbytes 65536), which count the whole consumer queue: once it holds that
     * much, librdkafka 2.0 stops fetching every partition for a fixed second. This loop drains
     * 100,000 events in well under a second, then sat idle for the rest: at about 0.6 of a kcat
     * pass-through with a third of its time waiting on an empty queue (bench/ingest.sh, perf
     * sched). With room for about a second of work it keeps up with the pass-through; the cost is
     * memory while a backlog lasts (peak RSS 217 MiB on the 1M-event benchmark instead of 130).
     * kafka.queued.* override both; on librdkafka >= 2.1, kafka.fetch.queue.backoff.ms shortens the
     * pause instead. */
    jtm_kvlist ck = {0};
    char role[64];
    snprintf(role, sizeof role, "jtm-ingest-%s", s->feed ? s->feed : "feed");
    if (jtm_kafka_supervised_conf(&ck, role, s->instance, errstr, errlen) != 0) {
        jtm_kvlist_free(&ck);
        goto fail;
    }
    jtm_kvlist_set(&ck, "queued.min.messages", "250000");
    jtm_kvlist_set(&ck, "queued.max.messages.kbytes", "98304");
    jtm_kvlist_merge(&ck, s->kafka);
    in->c = jtm_kafka_consumer_new(&ck, s->group_id, on_rebalance, in, errstr, errlen);
    jtm_kvlist_free(&ck);
    if (!in->c)
        goto fail;
    char member[512] = "";
    size_t mlen = sizeof member;
    if (rd_kafka_conf_get(rd_kafka_conf(in->c), "group.instance.id", member, &mlen) != RD_KAFKA_CONF_OK)
        member[0] = '\0';
    log_info("kafka_member", "group=%s instance_id=%s static=%d", s->group_id, *member ? member : "-", *member != '\0');
    in->out = rd_kafka_topic_new(in->p, s->topic_pseudo, NULL);
    in->dlq = rd_kafka_topic_new(in->p, s->topic_dlq, NULL);
    in->cq = rd_kafka_queue_get_consumer(in->c);
    in->reaper = jtm_reaper_new(65536); /* NULL: messages are destroyed inline */
    if (!in->out || !in->dlq || !in->cq) {
        snprintf(errstr, errlen, "cannot create Kafka topic handles");
        goto fail;
    }
    *exit_code = JTM_EXIT_UNAVAILABLE;
    if (jtm_kafka_wait_ready(in->p, s->start_timeout_ms, errstr, errlen) != 0)
        goto fail;
    const char *topics[] = {s->topic_raw};
    if (jtm_kafka_subscribe(in->c, topics, 1, errstr, errlen) != 0)
        goto fail;
    *exit_code = JTM_EXIT_OK;
    return in;
fail:
    jtm_ingest_free(in);
    return NULL;
}

void jtm_ingest_free(jtm_ingest *in)
{
    if (!in)
        return;
    drop_backlog(in, NULL);
    free(in->bl);
    jtm_reaper_free(in->reaper); /* every message back before the consumer goes */
    if (in->cq)
        rd_kafka_queue_destroy(in->cq);
    if (in->c)
        rd_kafka_destroy(in->c);
    if (in->out)
        rd_kafka_topic_destroy(in->out);
    if (in->dlq)
        rd_kafka_topic_destroy(in->dlq);
    if (in->p)
        rd_kafka_destroy(in->p);
    for (size_t i = 0; i < in->ntr; i++) {
        free(in->tr[i].offs);
        free(in->tr[i].done);
    }
    free(in->tr);
    free(in);
}

int jtm_ingest_health(void *opaque, char *reason, size_t len)
{
    jtm_ingest *in = opaque;
    const char *r = atomic_load(&in->stopping)    ? "stopping"
                    : atomic_load(&in->failed)    ? "delivery_failed"
                    : !atomic_load(&in->broker_ok) ? "broker_unreachable"
                                                  : NULL;
    if (!r)
        return 0;
    snprintf(reason, len, "%s", r);
    return 1;
}

/* ---- the loop ---- */

/* Lag from what the consumer already knows (position and the watermarks of the last fetch): no
 * broker round trip, so the tick never stalls the loop. The broker counts as unreachable when
 * messages are in flight and no delivery report arrived for JTM_INGEST_STALL_MS. */
#define JTM_INGEST_STALL_MS 15000
static void stats_tick(jtm_ingest *in, bool log_line)
{
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(in->c, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a) {
        rd_kafka_position(in->c, a);
        for (int i = 0; i < a->cnt; i++) {
            int64_t lo = -1, hi = -1;
            tracker *t = tracker_get(in, a->elems[i].partition, false);
            if (!t || rd_kafka_get_watermark_offsets(in->c, a->elems[i].topic, a->elems[i].partition, &lo, &hi) ||
                hi < 0)
                continue;
            int64_t pos = a->elems[i].offset >= 0 ? a->elems[i].offset : lo;
            if (pos >= 0)
                jtm_gauge_set(t->lag, (double)(hi > pos ? hi - pos : 0));
        }
        rd_kafka_topic_partition_list_destroy(a);
    }
    int64_t now = now_ms();
    if (in->dr_seen != in->dr_count || in->inflight == 0) {
        in->dr_seen = in->dr_count;
        in->dr_change_ms = now;
    }
    int ok = now - in->dr_change_ms < JTM_INGEST_STALL_MS;
    if (ok != atomic_load(&in->broker_ok))
        log_warn(ok ? "broker_reachable" : "broker_unreachable", "inflight=%" PRIu64 " stalled_ms=%" PRId64,
                 in->inflight, now - in->dr_change_ms);
    atomic_store(&in->broker_ok, ok);
    jtm_gauge_set(in->g_broker_up, ok);
    jtm_gauge_set(in->g_inflight, (double)in->inflight);
    if (log_line) {
        char line[3800];
        log_info("stats", "%s", jtm_metrics_log_line(in->m, "jtm_ingest_", line, sizeof line));
    }
}

int jtm_ingest_run(jtm_ingest *in)
{
    int batch = in->s.batch_max > 0 ? in->s.batch_max : 1000;
    rd_kafka_message_t **msgs = calloc((size_t)batch, sizeof *msgs);
    if (!msgs) {
        log_error("out_of_memory", "where=batch");
        return JTM_EXIT_FAILURE;
    }
    int64_t next_stats = now_ms() + (in->s.stats_interval_ms > 0 ? in->s.stats_interval_ms : 10000);
    int64_t next_error_log = 0, next_store = 0;
    jtm_service_ready("consuming");
    log_info("consuming", "topic=%s pseudo=%s dlq=%s group=%s", in->s.topic_raw, in->s.topic_pseudo, in->s.topic_dlq,
             in->s.group_id);
    while (jtm_run && !atomic_load(&in->failed)) {
        jtm_transform_set_today(in->t, jtm_date_today());
        /* Blocked: keep the message order, wait for deliveries, stay in the group. */
        bool blocked = in->bl_len > 0 || in->inflight >= in->max_inflight;
        if (blocked || in->paused) {
            rd_kafka_poll(in->p, in->bl_len || in->inflight >= in->max_inflight ? 20 : 0);
            drain_backlog(in);
            if (in->bl_len || in->inflight >= in->max_inflight / 2)
                set_paused(in, true);
            else
                set_paused(in, false);
        }
        /* What is there, without waiting; only an empty queue waits (poll.ms) for one message.
         * consume_batch_queue with a timeout waits until the batch is full, which delayed every
         * event of a quiet feed by up to poll.ms. */
        ssize_t n = rd_kafka_consume_batch_queue(in->cq, 0, msgs, (size_t)batch);
        if (n == 0 && !in->paused)
            n = rd_kafka_consume_batch_queue(in->cq, in->s.poll_ms, msgs, 1);
        if (n < 0)
            n = 0;
        uint64_t consumed = 0;
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = msgs[i];
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                    jtm_counter_add(in->consume_errors, 1);
                    if (now_ms() >= next_error_log) {
                        log_warn("consume_error", "err=%s", rd_kafka_err2name(m->err));
                        next_error_log = now_ms() + 10000;
                    }
                }
                rd_kafka_message_destroy(m);
                continue;
            }
            consumed++;
            if (in->bl_len) {
                backlog_push(in, m);
                continue;
            }
            presult r = process(in, m);
            if (r == P_FULL) {
                backlog_push(in, m);
                set_paused(in, true);
            } else if (r == P_FATAL) {
                atomic_store(&in->failed, 1);
                for (ssize_t k = i + 1; k < n; k++)
                    rd_kafka_message_destroy(msgs[k]);
                break;
            }
        }
        jtm_counter_add(in->consumed, consumed);
        rd_kafka_poll(in->p, 0);
        jtm_service_watchdog();
        int64_t now = now_ms();
        /* Offsets go to the consumer at most every 100 ms (auto-commit sends them every 5 s;
         * a rebalance and the shutdown store at once): an iteration may hold only a few
         * messages now that it does not wait for a full batch. */
        if (now >= next_store) {
            store_offsets(in);
            next_store = now + 100;
        }
        if (now >= next_stats) {
            char err[256];
            if (jtm_kafka_fatal(in->p, err, sizeof err) || jtm_kafka_fatal(in->c, err, sizeof err)) {
                char q[300];
                log_error("kafka_fatal", "error=%s action=stop_for_restart", jtm_log_quote(q, sizeof q, err));
                atomic_store(&in->failed, 1);
            }
            stats_tick(in, in->s.stats_interval_ms > 0);
            next_stats = now + (in->s.stats_interval_ms > 0 ? in->s.stats_interval_ms : 10000);
        }
    }
    free(msgs);

    /* Shutdown: nothing new, finish what is in flight, store and commit, leave the group. */
    atomic_store(&in->stopping, 1);
    jtm_service_stopping();
    bool failed = atomic_load(&in->failed);
    log_info("stopping", "signal=%d failed=%d inflight=%" PRIu64 " backlog=%zu", (int)jtm_stop_signal, failed,
             in->inflight, in->bl_len);
    drop_backlog(in, NULL);
    jtm_reaper_drain(in->reaper);
    flush_and_store(in, "shutdown");
    rd_kafka_resp_err_t cerr = rd_kafka_commit(in->c, NULL, 0);
    if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("kafka_commit_failed", "when=shutdown err=%s", rd_kafka_err2name(cerr));
    rd_kafka_consumer_close(in->c);
    stats_tick(in, true);
    log_info("stopped", "exit=%d", failed ? JTM_EXIT_FAILURE : JTM_EXIT_OK);
    return failed ? JTM_EXIT_FAILURE : JTM_EXIT_OK;
}
