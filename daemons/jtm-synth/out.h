/* The two destinations of jtm-synth: NDJSON files (one per feed) and Kafka topics (one per feed,
 * key = event_id). Both give a synth_writer for synth_run. */
#ifndef JTM_SYNTH_OUT_H
#define JTM_SYNTH_OUT_H

#include "config.h"
#include "synth.h"

typedef struct synth_out_file synth_out_file;
/* Creates dir if needed and opens raw.<feed>.ndjson in it (truncated). */
synth_out_file *synth_out_file_new(const char *dir, char *errstr, size_t errlen);
synth_writer synth_out_file_writer(synth_out_file *f);
/* Flushes and closes; returns 0, or -1 with errstr when a write failed. Frees f either way. */
int synth_out_file_close(synth_out_file *f, char *errstr, size_t errlen);

typedef struct synth_out_kafka synth_out_kafka;
/* An idempotent lz4 producer to <prefix>raw.<feed>; kafka holds the kafka.* pass-through keys
 * (bootstrap.servers among them). rate > 0 paces the events to that many per second over all feeds
 * (the same events in the same order, only spread in time); 0 sends them as fast as it can. */
synth_out_kafka *synth_out_kafka_new(const jtm_kvlist *kafka, const char *topic_prefix, double rate, char *errstr,
                                     size_t errlen);
synth_writer synth_out_kafka_writer(synth_out_kafka *k);
/* A metadata round trip within timeout_ms: 0 when a broker answers, else -1 with errstr. */
int synth_out_kafka_wait_ready(synth_out_kafka *k, int timeout_ms, char *errstr, size_t errlen);
/* Waits for every delivery report (up to timeout_ms); returns 0 when all were delivered, else -1
 * with errstr naming the number that failed. *delivered (may be NULL) gets the number of
 * acknowledged messages. Frees k either way. */
int synth_out_kafka_close(synth_out_kafka *k, int timeout_ms, unsigned long long *delivered, char *errstr,
                          size_t errlen);

#endif
