/* jtm-synth against the jtm-devbroker that ops/test.sh started: every event it reports arrives on
 * <prefix>raw.<feed> keyed by its event_id; an unreachable broker is exit 69. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "kafka.h"
#include "testenv.h"

static char err[512];

static long field(const char *log, const char *key)
{
    const char *p = strstr(log, key);
    cr_assert_not_null(p, "no %s in: %s", key, log);
    return atol(p + strlen(key));
}

Test(it_synth, every_event_arrives_keyed_by_event_id)
{
    char *bin = jtm_test_bin("jtm-synth"), *prefix = jtm_test_unique("synth"), cmd[4096], *out = NULL;
    char pfx[256];
    snprintf(pfx, sizeof pfx, "%s.", prefix);
    snprintf(cmd, sizeof cmd, "%s --children 400 --years 2 --dirty 0.01 --kafka %s -X topic.prefix=%s 2>&1", bin,
             jtm_test_bootstrap(), pfx);
    int rc = jtm_test_sh(cmd, &out);
    cr_assert_eq(rc, 0, "jtm-synth exit %d: %s", rc, out);
    long events = field(out, "event=done events=");
    cr_assert_gt(events, 500);

    jtm_kvlist kv = {0};
    jtm_kvlist_set(&kv, "bootstrap.servers", jtm_test_bootstrap());
    rd_kafka_t *c = jtm_kafka_consumer_new(&kv, prefix, NULL, NULL, err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    char t0[300], t1[300], t2[300];
    snprintf(t0, sizeof t0, "%sraw.jgz", pfx);
    snprintf(t1, sizeof t1, "%sraw.verzuim", pfx);
    snprintf(t2, sizeof t2, "%sraw.soj", pfx);
    const char *topics[] = {t0, t1, t2};
    cr_assert_eq(jtm_kafka_subscribe(c, topics, 3, err, sizeof err), 0, "%s", err);
    long got = 0, keyed = 0, malformed = 0;
    time_t until = time(NULL) + 60;
    while (got < events && time(NULL) < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (!m)
            continue;
        if (!m->err) {
            got++;
            json_t *j = json_loadb(m->payload, m->len, 0, NULL);
            const char *id = j ? json_string_value(json_object_get(j, "event_id")) : NULL;
            if (id && m->key && m->key_len == strlen(id) && memcmp(m->key, id, m->key_len) == 0)
                keyed++;
            else
                malformed++; /* the truncated copies cannot be parsed */
            json_decref(j);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    jtm_kvlist_free(&kv);
    cr_assert_eq(got, events, "consumed %ld of %ld", got, events);
    cr_assert_gt(keyed, events * 9 / 10);
    cr_assert_lt(malformed, events / 20);
    free(out);
    free(prefix);
    free(bin);
}

Test(it_synth, unreachable_broker_is_exit_69)
{
    char *bin = jtm_test_bin("jtm-synth"), cmd[4096];
    snprintf(cmd, sizeof cmd, "%s --children 10 --kafka 127.0.0.1:1 -X ready.timeout_ms=1500 >/dev/null 2>&1", bin);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 69);
    free(bin);
}
