/* Kafka destination: one idempotent lz4 producer (common/kafka.h defaults), topics
 * <prefix>raw.<feed>, key = event_id, optionally paced to a steady rate. Delivery failures are
 * counted in the delivery report and make the close fail. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka.h"
#include "out.h"

struct synth_out_kafka {
    rd_kafka_t *rk;
    char topic[SYNTH_FEEDS][256];
    unsigned long long delivered, failed;
    rd_kafka_resp_err_t first_err;
    double rate;          /* events per second; 0: as fast as the broker takes them */
    int64_t t0_ns;        /* when the first event went out */
    unsigned long long n; /* events produced */
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Event n is due at t0 + n / rate: waits for it while serving delivery reports, so the pace
 * holds over the run (a late event is sent at once and the ones after catch up). */
static void pace(synth_out_kafka *k)
{
    if (k->rate <= 0)
        return;
    if (k->n == 0)
        k->t0_ns = mono_ns();
    int64_t due = k->t0_ns + (int64_t)((double)k->n * 1e9 / k->rate);
    for (int64_t left = due - mono_ns(); left > 0; left = due - mono_ns()) {
        if (left >= 1000000) {
            rd_kafka_poll(k->rk, (int)(left / 1000000));
        } else {
            struct timespec ts = {0, (long)left};
            nanosleep(&ts, NULL);
        }
    }
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    synth_out_kafka *k = opaque;
    if (msg->err) {
        if (!k->failed)
            k->first_err = msg->err;
        k->failed++;
    } else {
        k->delivered++;
    }
}

static int kafka_write(void *ctx, int feed, const char *key, size_t keylen, const char *json, size_t len,
                       char *errstr, size_t errlen)
{
    synth_out_kafka *k = ctx;
    pace(k);
    k->n++;
    if (jtm_kafka_produce(k->rk, k->topic[feed], key, keylen, json, len, NULL, NULL, -1, errstr, errlen) != 0)
        return -1;
    rd_kafka_poll(k->rk, 0);
    return 0;
}

synth_out_kafka *synth_out_kafka_new(const jtm_kvlist *kafka, const char *topic_prefix, double rate, char *errstr,
                                     size_t errlen)
{
    synth_out_kafka *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
    k->rate = rate;
    for (int i = 0; i < SYNTH_FEEDS; i++)
        snprintf(k->topic[i], sizeof k->topic[i], "%sraw.%s", topic_prefix ? topic_prefix : "", synth_feed_names[i]);
    k->rk = jtm_kafka_producer_new(kafka, on_delivery, k, errstr, errlen);
    if (!k->rk) {
        free(k);
        return NULL;
    }
    return k;
}

synth_writer synth_out_kafka_writer(synth_out_kafka *k)
{
    synth_writer w = {kafka_write, k};
    return w;
}

int synth_out_kafka_wait_ready(synth_out_kafka *k, int timeout_ms, char *errstr, size_t errlen)
{
    return jtm_kafka_wait_ready(k->rk, timeout_ms, errstr, errlen);
}

int synth_out_kafka_close(synth_out_kafka *k, int timeout_ms, unsigned long long *delivered, char *errstr,
                          size_t errlen)
{
    int left = 0, rc = 0;
    if (jtm_kafka_flush(k->rk, timeout_ms, &left, errstr, errlen) != 0)
        rc = -1;
    else if (k->failed) {
        snprintf(errstr, errlen, "%llu of %llu messages not delivered (first error: %s)", k->failed,
                 k->failed + k->delivered, rd_kafka_err2str(k->first_err));
        rc = -1;
    }
    if (delivered)
        *delivered = k->delivered;
    rd_kafka_destroy(k->rk);
    free(k);
    return rc;
}
