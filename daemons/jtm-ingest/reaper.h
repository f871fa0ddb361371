/* Destroys consumed Kafka messages on a thread of its own.
 *
 * librdkafka allocates a consumed message on its fetch thread; destroying it frees into that
 * thread's malloc arena, whose lock the fetch thread takes for every new message. Done on the
 * transforming thread, those frees made it sleep on the arena lock (perf sched in bench/ingest.sh:
 * two thirds of its context switches were such sleeps). Handed over here, the wait, if any, is
 * off the event path. A single-producer, single-consumer ring: only the transforming
 * thread calls jtm_reaper_put. */
#ifndef JTM_INGEST_REAPER_H
#define JTM_INGEST_REAPER_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

typedef struct jtm_reaper jtm_reaper;

/* A reaper with room for cap messages (a power of two is not required), its thread started.
 * NULL when out of memory or the thread cannot start (the caller then destroys inline). */
jtm_reaper *jtm_reaper_new(size_t cap);

/* Hands m over; destroys it at once when the ring is full (or r is NULL). */
void jtm_reaper_put(jtm_reaper *r, rd_kafka_message_t *m);

/* Returns once every message handed over so far is destroyed (before closing the consumer:
 * librdkafka needs all messages back first). */
void jtm_reaper_drain(jtm_reaper *r);

/* Drains, stops the thread, frees. NULL is a no-op. */
void jtm_reaper_free(jtm_reaper *r);

#endif
