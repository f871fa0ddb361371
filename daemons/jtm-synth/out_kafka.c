/* Kafka destination: one idempotent lz4 producer (common/kafka.h defaults), topics
 * <prefix>raw.<feed>, key = event_id. Delivery failures are counted in the delivery report and
 * make the close fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"
#include "out.h"

struct synth_out_kafka {
    rd_kafka_t *rk;
    char topic[SYNTH_FEEDS][256];
    unsigned long long delivered, failed;
    rd_kafka_resp_err_t first_err;
};

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
    if (jtm_kafka_produce(k->rk, k->topic[feed], key, keylen, json, len, NULL, NULL, -1, errstr, errlen) != 0)
        return -1;
    rd_kafka_poll(k->rk, 0);
    return 0;
}

synth_out_kafka *synth_out_kafka_new(const jtm_kvlist *kafka, const char *topic_prefix, char *errstr,
                                     size_t errlen)
{
    synth_out_kafka *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(errstr, errlen, "out of memory");
        return NULL;
    }
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
