/* jtm-ingest: the edge daemon. Consumes raw.<feed>, validates and pseudonymises each event
 * (transform.c), publishes to pseudo.<feed> keyed by pid, dead-letters rejects to dlq.<feed>, and
 * stores a raw offset only after the broker acknowledged what came of it (loop.c). One process per
 * feed; more than one per feed share the raw partitions through the consumer group. */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "pseudonym.h"
#include "schema.h"
#include "signals.h"
#include "transform.h"

typedef struct ingest_config {
    char *feed;
    char *key_file, *key_id;
    char *schema_dir;
    char *topic_raw, *topic_pseudo, *topic_dlq;
    char *group_id;
    char *instance;
    long long batch_max, poll_ms, stats_interval_ms, flush_timeout_ms, start_timeout_ms;
    char *metrics_listen;
    char *log_level;
} ingest_config;

#define T ingest_config
static const jtm_option ingest_options[] = {
    JTM_OPT_STR("feed", NULL, feed, T, "jgz, verzuim or soj (or --feed)"),
    JTM_OPT_STR("key.file", NULL, key_file, T, "region key file: >= 32 bytes, mode 0600 or stricter"),
    JTM_OPT_STR("key.id", NULL, key_id, T, "id of that key, written as key_id into every event (e.g. k2026)"),
    JTM_OPT_STR("schema.dir", JTM_SOURCE_DIR "/schemas", schema_dir, T, "folder with raw.<feed>.schema.json"),
    JTM_OPT_STR("topic.raw", NULL, topic_raw, T, "input topic (default raw.<feed>)"),
    JTM_OPT_STR("topic.pseudo", NULL, topic_pseudo, T, "output topic (default pseudo.<feed>)"),
    JTM_OPT_STR("topic.dlq", NULL, topic_dlq, T, "dead-letter topic (default dlq.<feed>)"),
    JTM_OPT_STR("group.id", NULL, group_id, T, "consumer group (default jtm-ingest-<feed>)"),
    JTM_OPT_STR("instance", "", instance, T,
                "this process's lasting name in its group: static membership, group.instance.id = "
                "jtm-ingest-<feed>.<instance> (default the host name; off: none)"),
    JTM_OPT_INT("batch.max", "1000", 1, 100000, batch_max, T, "messages per consume call"),
    JTM_OPT_INT("poll.ms", "100", 1, 10000, poll_ms, T, "consume wait when idle"),
    JTM_OPT_INT("stats.interval.ms", "10000", 0, 86400000, stats_interval_ms, T,
                "stats log line and consumer lag every so often (0: no log line)"),
    JTM_OPT_INT("flush.timeout.ms", "30000", 100, 3600000, flush_timeout_ms, T,
                "wait for deliveries on revoke and shutdown"),
    JTM_OPT_INT("start.timeout.ms", "30000", 100, 3600000, start_timeout_ms, T,
                "wait for a broker at start-up (then exit 69)"),
    JTM_OPT_STR("metrics.listen", "", metrics_listen, T,
                "host:port for /metrics and /healthz; empty: off (one port per feed, e.g. 9464-9466)"),
    JTM_OPT_STR("log.level", "info", log_level, T, "debug, info, warn or error"),
    JTM_OPT_END,
};
#undef T

static void usage(FILE *out)
{
    fprintf(out, "usage: jtm-ingest --feed jgz|verzuim|soj -c FILE [-X key=value]...\n"
                 "Validates and pseudonymises raw.<feed> into pseudo.<feed>; rejects go to dlq.<feed>.\n"
                 "  -f, --feed FEED       the feed (same as -X feed=FEED)\n"
                 "  -c, --config FILE     config file (key = value lines)\n"
                 "  -X key=value          set an option (repeatable); kafka.<key> goes to librdkafka\n"
                 "  -h, --help            this text\n  -V, --version         print the version\n"
                 "Exit: 0 stopped by SIGTERM/SIGINT, 1 runtime failure (a delivery failed for good: restart\n"
                 "me), 2 usage, 69 no broker at start-up, 78 configuration or key file refused.\n"
                 "Options:\n");
    jtm_config_print_help(ingest_options, out);
}

static char *dflt(char **field, const char *prefix, const char *feed)
{
    if (!*field || !**field) {
        free(*field);
        if (asprintf(field, "%s%s", prefix, feed) < 0)
            *field = NULL;
    }
    return *field;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"feed", required_argument, NULL, 'f'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    jtm_kvlist cli = {0};
    int c, rc = JTM_EXIT_CONFIG;
    while ((c = getopt_long(argc, argv, "f:c:X:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': jtm_kvlist_set(&cli, "feed", optarg); break;
        case 'c': config_path = optarg; break;
        case 'X':
            if (jtm_config_cli_add(&cli, optarg) == 0)
                break;
            fprintf(stderr, "jtm-ingest: -X expects key=value\n");
            jtm_kvlist_free(&cli);
            return JTM_EXIT_USAGE;
        case 'h': usage(stdout); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        case 'V': printf("jtm-ingest %s\n", JTM_VERSION); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        default: fprintf(stderr, "jtm-ingest: try --help\n"); jtm_kvlist_free(&cli); return JTM_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "jtm-ingest: unexpected argument %s\n", argv[optind]);
        jtm_kvlist_free(&cli);
        return JTM_EXIT_USAGE;
    }

    ingest_config cfg = {0};
    jtm_passthrough pt = {0};
    jtm_key *key = NULL;
    jtm_schema *schema = NULL;
    jtm_transform *tr = NULL;
    jtm_metrics *metrics = NULL;
    jtm_metrics_http *http = NULL;
    jtm_ingest *in = NULL;
    char err[1024], q[1100];
    jtm_feed feed;

    jtm_log_init("jtm-ingest", JTM_LOG_INFO);
    if (jtm_config_startup(ingest_options, &cfg, &pt, config_path, &cli, err, sizeof err) != 0)
        goto config_error;
    if (!cfg.feed || jtm_feed_parse(cfg.feed, &feed) != 0) {
        snprintf(err, sizeof err, "feed: expected jgz, verzuim or soj (--feed)");
        goto config_error;
    }
    if (!cfg.key_id || !*cfg.key_id) {
        snprintf(err, sizeof err, "key.id is not set");
        goto config_error;
    }
    if (jtm_key_load(cfg.key_file, cfg.key_id, &key, err, sizeof err) != 0)
        goto config_error;
    if (!jtm_key_is_locked(key))
        log_warn("key_not_locked", "note=\"mlock failed (RLIMIT_MEMLOCK): key pages may be swapped\"");
    char path[4096];
    snprintf(path, sizeof path, "%s/raw.%s.schema.json", cfg.schema_dir, cfg.feed);
    if (!(schema = jtm_schema_load(path, err, sizeof err)))
        goto config_error;
    if (!dflt(&cfg.topic_raw, "raw.", cfg.feed) || !dflt(&cfg.topic_pseudo, "pseudo.", cfg.feed) ||
        !dflt(&cfg.topic_dlq, "dlq.", cfg.feed) || !dflt(&cfg.group_id, "jtm-ingest-", cfg.feed)) {
        snprintf(err, sizeof err, "out of memory");
        goto config_error;
    }
    tr = jtm_transform_new(feed, key, schema);
    metrics = jtm_metrics_new();
    if (!tr || !metrics) {
        log_error("out_of_memory", "where=startup");
        rc = JTM_EXIT_FAILURE;
        goto out;
    }
    if (jtm_signals_install() != 0) {
        log_error("signals_failed", NULL);
        rc = JTM_EXIT_FAILURE;
        goto out;
    }

    jtm_ingest_settings s = {
        .topic_raw = cfg.topic_raw,
        .topic_pseudo = cfg.topic_pseudo,
        .topic_dlq = cfg.topic_dlq,
        .group_id = cfg.group_id,
        .feed = cfg.feed,
        .instance = cfg.instance,
        .kafka = &pt.kafka,
        .batch_max = (int)cfg.batch_max,
        .poll_ms = (int)cfg.poll_ms,
        .stats_interval_ms = (int)cfg.stats_interval_ms,
        .flush_timeout_ms = (int)cfg.flush_timeout_ms,
        .start_timeout_ms = (int)cfg.start_timeout_ms,
    };
    in = jtm_ingest_new(&s, tr, metrics, &rc, err, sizeof err);
    if (!in) {
        log_error(rc == JTM_EXIT_UNAVAILABLE ? "broker_unavailable" : "kafka_config", "error=%s",
                  jtm_log_quote(q, sizeof q, err));
        goto out;
    }
    if (cfg.metrics_listen && *cfg.metrics_listen) {
        http = jtm_metrics_serve(metrics, cfg.metrics_listen, jtm_ingest_health, in, err, sizeof err);
        if (!http)
            goto config_error;
        log_info("metrics_listening", "listen=%s port=%d", cfg.metrics_listen, jtm_metrics_http_port(http));
    }
    log_info("started", "feed=%s key_id=%s key_locked=%d version=%s", cfg.feed, cfg.key_id, jtm_key_is_locked(key),
             JTM_VERSION);
    rc = jtm_ingest_run(in);
    goto out;

config_error:
    log_error("config_error", "error=%s", jtm_log_quote(q, sizeof q, err));
    rc = JTM_EXIT_CONFIG;
out:
    jtm_metrics_http_stop(http);
    jtm_ingest_free(in);
    jtm_metrics_free(metrics);
    jtm_transform_free(tr);
    jtm_schema_free(schema);
    jtm_key_free(key);
    jtm_config_free(ingest_options, &cfg, &pt);
    jtm_kvlist_free(&cli);
    return rc;
}
