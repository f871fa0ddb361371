/* The jtm-ingest Kafka loop: consume raw.<feed> in a consumer group, transform, produce to
 * pseudo.<feed> (key pid) or dlq.<feed> (original bytes and key, reject headers), and store a raw
 * offset only when the broker acknowledged what came of that message and of every message before
 * it in the same partition.
 *
 * Delivery guarantees and decisions:
 *   - Per partition, messages get a sequence number in offset order; a delivery report marks one
 *     done and the stored offset advances over the done prefix only (offset N+1 once 0..N are all
 *     acknowledged). A DLQ write counts the same as a pseudo write. Stored offsets are committed by
 *     librdkafka's auto commit, on revoke and on shutdown.
 *   - Broker outage: the producer runs with message.timeout.ms=0 (retry without end, unless
 *     kafka.message.timeout.ms overrides it), so an outage only delays deliveries. When the local
 *     queue is full the loop keeps the message, pauses the partitions, keeps polling (the group
 *     membership stays alive) and resumes when the queue drains: nothing is dropped.
 *   - A delivery report with an error (only permanent failures reach it: a fatal idempotence
 *     error, an unknown or forbidden topic, a finite message.timeout.ms that ran out) stops the
 *     daemon: the failed message's offset and every later one in its partition stay unstored, the
 *     rest is flushed and committed, and jtm_ingest_run returns JTM_EXIT_FAILURE so the service
 *     manager restarts it and the event is consumed again. No event is skipped.
 *   - SIGTERM/SIGINT (jtm_run cleared): stop consuming, flush the producer, store and commit
 *     offsets, close the consumer (its revoke commits again), return JTM_EXIT_OK.
 *   - Revoke: flush the producer, store what was acknowledged, commit, then let the partitions go.
 *     Messages of revoked partitions still in the backlog are dropped unacknowledged (the next
 *     owner reads them again: at least once). */
#ifndef JTM_INGEST_LOOP_H
#define JTM_INGEST_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "metrics.h"
#include "transform.h"

typedef struct jtm_ingest_settings {
    const char *topic_raw, *topic_pseudo, *topic_dlq;
    const char *group_id;
    const char *feed;          /* names the static member: jtm-ingest-<feed>.<instance> */
    const char *instance;      /* see jtm_kafka_supervised_conf (NULL: the host name) */
    const jtm_kvlist *kafka;   /* pass-through, applied over the defaults */
    int batch_max;             /* messages per consume call */
    int poll_ms;               /* consume timeout */
    int stats_interval_ms;     /* stats log line and lag; 0: off */
    int flush_timeout_ms;      /* on revoke and shutdown */
    int start_timeout_ms;      /* wait for the broker at start-up */
} jtm_ingest_settings;

typedef struct jtm_ingest jtm_ingest;

/* Creates the Kafka handles and registers the metrics (jtm_ingest_*) in m. Returns NULL with errstr;
 * *exit_code gets JTM_EXIT_CONFIG (bad kafka.* key) or JTM_EXIT_UNAVAILABLE (no broker). */
jtm_ingest *jtm_ingest_new(const jtm_ingest_settings *s, jtm_transform *t, jtm_metrics *m, int *exit_code,
                           char *errstr, size_t errlen);
/* Runs until jtm_run is cleared or a delivery fails; returns the process exit code. */
int jtm_ingest_run(jtm_ingest *in);
void jtm_ingest_free(jtm_ingest *in);
/* For /healthz (any thread): 0 healthy, else a reason (stopping, delivery_failed, broker_unreachable). */
int jtm_ingest_health(void *ingest, char *reason, size_t len);

#endif
