/* The linker's run loop: connect, migrate, consume in batches, apply each batch in one PostgreSQL
 * transaction, survive PostgreSQL outages (pause, reconnect with backoff, re-seek, redo), log
 * stats, stop cleanly on SIGTERM. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka.h"
#include "linker.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "pg.h"
#include "service.h"
#include "signals.h"

const jtm_option linker_options[] = {
    JTM_OPT_STR("topics.jgz", "pseudo.jgz", topic_jgz, linker_config, "topic of pseudonymised JGZ events"),
    JTM_OPT_STR("topics.verzuim", "pseudo.verzuim", topic_verzuim, linker_config,
                "topic of pseudonymised school-absence events"),
    JTM_OPT_STR("topics.soj", "pseudo.soj", topic_soj, linker_config, "topic of pseudonymised SOJ events"),
    JTM_OPT_STR("group", "jtm-linker", group, linker_config,
                "Kafka consumer group; also the key of the positions in ops.kafka_offset"),
    JTM_OPT_INT("batch.max", "20000", 1, 1000000, batch_max, linker_config, "most messages in one batch"),
    JTM_OPT_INT("batch.ms", "200", 1, 600000, batch_ms, linker_config,
                "longest wait after the first message of a batch (latency bound)"),
    JTM_OPT_INT("batch.bytes", "16777216", 1024, 1073741824, batch_bytes, linker_config,
                "most payload bytes in one batch (memory bound)"),
    JTM_OPT_INT("stats.interval_ms", "10000", 0, 86400000, stats_interval_ms, linker_config,
                "interval of the stats log line (0: never)"),
    JTM_OPT_BOOL("migrate.on_start", "true", migrate_on_start, linker_config,
                 "apply schema migrations at start-up"),
    JTM_OPT_STR("migrations.dir", JTM_SOURCE_DIR "/schemas/sql", migrations_dir, linker_config,
                "folder of numbered .sql migrations"),
    JTM_OPT_STR("log.level", "info", log_level, linker_config, "debug, info, warn or error"),
    JTM_OPT_INT("pg.connect_wait_ms", "30000", 0, 3600000, pg_connect_wait_ms, linker_config,
                "how long to retry connecting at start-up (0: forever); later outages are waited out"),
    JTM_OPT_INT("broker.wait_ms", "30000", 1000, 3600000, kafka_ready_ms, linker_config,
                "how long to wait for the broker at start-up"),
    JTM_OPT_STR("metrics.listen", NULL, metrics_listen, linker_config,
                "host:port for /metrics and /healthz (empty: off)"),
    JTM_OPT_END,
};

typedef struct lk_state {
    const linker_config *cfg;
    char *conninfo;
    PGconn *pg;
    rd_kafka_t *rk;
    bool need_resync;
    atomic_int pg_up;
    jtm_metrics *m;
    jtm_counter *consumed, *loaded, *duplicates, *skipped, *dead, *batches, *children, *reconnects,
        *consumer_errors, *notifies;
    jtm_histogram *batch_ms;
    jtm_gauge *last_batch_ms;
    jtm_gauge *g_pg_up;
} lk_state;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Assignment: start each new partition at the position stored in PostgreSQL. When PostgreSQL is
 * unreachable the partitions start wherever Kafka says and need_resync makes the loop seek them
 * before the next batch (apply_batch would skip anything already applied in any case). */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque)
{
    lk_state *s = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    char e[512];
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (!s->pg || jtm_pg_is_broken(s->pg) || lk_offsets_fetch(s->pg, s->cfg->group, parts, e, sizeof e) != 0) {
            for (int i = 0; i < parts->cnt; i++)
                parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
            s->need_resync = true;
        }
        if (coop) {
            rd_kafka_error_t *x = rd_kafka_incremental_assign(rk, parts);
            if (x) {
                log_warn("kafka_assign_failed", "error=%s", jtm_log_quote(e, sizeof e, rd_kafka_error_string(x)));
                rd_kafka_error_destroy(x);
            }
        } else {
            rd_kafka_assign(rk, parts);
        }
        log_info("kafka_assigned", "partitions=%d resync=%s", parts->cnt, s->need_resync ? "true" : "false");
    } else {
        if (coop) {
            rd_kafka_error_t *x = rd_kafka_incremental_unassign(rk, parts);
            if (x)
                rd_kafka_error_destroy(x);
        } else {
            rd_kafka_assign(rk, NULL);
        }
        log_info("kafka_revoked", "partitions=%d", parts->cnt);
    }
}

static int health(void *opaque, char *reason, size_t len)
{
    lk_state *s = opaque;
    if (!atomic_load(&s->pg_up)) {
        snprintf(reason, len, "postgresql unavailable");
        return 1;
    }
    return 0;
}

static void drop_pg(lk_state *s)
{
    PQfinish(s->pg);
    s->pg = NULL;
    atomic_store(&s->pg_up, 0);
    jtm_gauge_set(s->g_pg_up, 0);
}

/* Blocks until PostgreSQL is back and the assignment is re-sought to the stored positions, serving
 * the consumer meanwhile (partitions paused, anything already fetched dropped) so the group keeps
 * this member. Returns 0, or -1 when stopped. */
static int recover(lk_state *s)
{
    jtm_backoff b = {200, 10000, 0};
    char err[1024], q[1100];
    lk_assignment_pause(s->rk, true);
    for (int attempt = 1; jtm_run; attempt++) {
        if (!s->pg || jtm_pg_is_broken(s->pg)) {
            drop_pg(s);
            PGconn *c = PQconnectdb(s->conninfo);
            if (PQstatus(c) == CONNECTION_OK && lk_session_init(c, err, sizeof err) == 0) {
                s->pg = c;
                atomic_store(&s->pg_up, 1);
                jtm_gauge_set(s->g_pg_up, 1);
            } else {
                snprintf(err, sizeof err, "%s", PQerrorMessage(c));
                for (char *p = err; *p; p++)
                    if (*p == '\n')
                        *p = ' ';
                PQfinish(c);
            }
        }
        if (s->pg) {
            s->need_resync = false; /* a rebalance during the seek sets it again */
            if (lk_offsets_resync(s->rk, s->pg, s->cfg->group, err, sizeof err) == 0 && !s->need_resync) {
                if (attempt > 1)
                    log_info("pg_recovered", "attempts=%d", attempt);
                jtm_counter_add(s->reconnects, 1);
                return 0;
            }
            s->need_resync = true;
        }
        int wait = jtm_backoff_next(&b);
        log_warn("pg_retry", "attempt=%d wait_ms=%d error=%s", attempt, wait, jtm_log_quote(q, sizeof q, err));
        long long until = now_ms() + wait;
        while (jtm_run && now_ms() < until) {
            jtm_service_watchdog(); /* waiting out an outage is progress, not a hang */
            rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, 100);
            if (m)
                rd_kafka_message_destroy(m);
        }
    }
    return -1;
}

/* Informational only: lets Kafka tools show the group's lag. PostgreSQL holds the truth. */
static void store_kafka_offsets(lk_state *s, const lk_batch *b)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
    for (size_t i = 0; i < b->n; i++) {
        const lk_item *it = &b->items[i];
        rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(list, it->topic, it->partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(list, it->topic, it->partition);
        if (it->offset + 1 > p->offset)
            p->offset = it->offset + 1;
    }
    rd_kafka_offsets_store(s->rk, list); /* fails for revoked partitions: fine */
    rd_kafka_topic_partition_list_destroy(list);
}

static void log_stats(lk_state *s)
{
    jtm_kafka_lag_publish(s->rk, s->m, "jtm_linker_consumer_lag", "messages behind the end of the pseudo partition");
    char line[2048];
    jtm_metrics_log_line(s->m, "jtm_linker_", line, sizeof line);
    log_info("stats", "%s", line);
}

static void metrics_init(lk_state *s)
{
    static const double bounds[] = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
    s->m = jtm_metrics_new();
    s->consumed = jtm_metrics_counter(s->m, "jtm_linker_consumed_total", "messages read from Kafka", NULL);
    s->loaded = jtm_metrics_counter(s->m, "jtm_linker_loaded_total", "event versions written to staging", NULL);
    s->duplicates = jtm_metrics_counter(s->m, "jtm_linker_duplicates_total",
                                        "messages that changed nothing (duplicates, older versions)", NULL);
    s->skipped = jtm_metrics_counter(s->m, "jtm_linker_skipped_total",
                                     "messages below the stored position (already applied)", NULL);
    s->dead = jtm_metrics_counter(s->m, "jtm_linker_dead_lettered_total", "messages dead-lettered", NULL);
    s->batches = jtm_metrics_counter(s->m, "jtm_linker_batches_total", "batches committed", NULL);
    s->children = jtm_metrics_counter(s->m, "jtm_linker_children_total", "children recomputed", NULL);
    s->reconnects = jtm_metrics_counter(s->m, "jtm_linker_resyncs_total",
                                        "re-seeks to the stored positions (after PostgreSQL failures)", NULL);
    s->consumer_errors = jtm_metrics_counter(s->m, "jtm_linker_consumer_errors_total", "Kafka consumer errors", NULL);
    s->notifies = jtm_metrics_counter(s->m, "jtm_linker_notifies_total", "batches that notified jtm_waiting_list", NULL);
    s->last_batch_ms = jtm_metrics_gauge(s->m, "jtm_linker_batch_ms", "duration of the last batch transaction", NULL);
    s->g_pg_up = jtm_metrics_gauge(s->m, "jtm_linker_pg_up", "1 while connected to PostgreSQL", NULL);
    s->batch_ms = jtm_metrics_histogram(s->m, "jtm_linker_batch_duration_ms", "batch transaction duration",
                                        NULL, bounds, sizeof bounds / sizeof bounds[0]);
}

int lk_run(const linker_config *cfg, const jtm_passthrough *pt)
{
    lk_state s;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    int rc = JTM_EXIT_FAILURE;
    char err[1024], q[1100];
    lk_batch batch;
    lk_batch_init(&batch);
    jtm_metrics_http *http = NULL;
    metrics_init(&s);
    const char *topics[3] = {cfg->topic_jgz, cfg->topic_verzuim, cfg->topic_soj};
    static const char *const feeds[3] = {"jgz", "verzuim", "soj"};

    s.conninfo = jtm_config_pg_conninfo(pt);
    s.pg = jtm_pg_connect(s.conninfo, (int)cfg->pg_connect_wait_ms, err, sizeof err);
    if (!s.pg) {
        log_error("pg_unavailable", "error=%s", jtm_log_quote(q, sizeof q, err));
        rc = JTM_EXIT_UNAVAILABLE;
        goto out;
    }
    if (cfg->migrate_on_start) {
        int applied = 0;
        if (jtm_migrate(s.pg, cfg->migrations_dir, &applied, err, sizeof err) < 0) {
            log_error("migration_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
            goto out;
        }
        log_info("migrations_done", "applied=%d", applied);
    }
    if (lk_session_init(s.pg, err, sizeof err) != 0) {
        log_error("pg_session_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
        goto out;
    }
    atomic_store(&s.pg_up, 1);
    jtm_gauge_set(s.g_pg_up, 1);

    s.rk = jtm_kafka_consumer_new(&pt->kafka, cfg->group, on_rebalance, &s, err, sizeof err);
    if (!s.rk) {
        log_error("kafka_config", "error=%s", jtm_log_quote(q, sizeof q, err));
        rc = JTM_EXIT_CONFIG;
        goto out;
    }
    if (jtm_kafka_wait_ready(s.rk, (int)cfg->kafka_ready_ms, err, sizeof err) != 0) {
        log_error("kafka_unavailable", "error=%s", jtm_log_quote(q, sizeof q, err));
        rc = JTM_EXIT_UNAVAILABLE;
        goto out;
    }
    if (jtm_kafka_subscribe(s.rk, topics, 3, err, sizeof err) != 0) {
        log_error("kafka_subscribe_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
        goto out;
    }
    if (cfg->metrics_listen && *cfg->metrics_listen) {
        http = jtm_metrics_serve(s.m, cfg->metrics_listen, health, &s, err, sizeof err);
        if (!http) {
            log_error("metrics_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
            rc = JTM_EXIT_CONFIG;
            goto out;
        }
        log_info("metrics_listening", "listen=%s port=%d", cfg->metrics_listen, jtm_metrics_http_port(http));
    }
    log_info("started", "group=%s topics=%s,%s,%s batch_max=%lld batch_ms=%lld", cfg->group, topics[0],
             topics[1], topics[2], cfg->batch_max, cfg->batch_ms);
    jtm_service_ready("consuming");

    long long next_stats = now_ms() + cfg->stats_interval_ms;
    unsigned long consumer_errors = 0;
    while (jtm_run) {
        jtm_service_watchdog();
        if (cfg->stats_interval_ms > 0 && now_ms() >= next_stats) {
            log_stats(&s);
            next_stats = now_ms() + cfg->stats_interval_ms;
        }
        if (jtm_kafka_fatal(s.rk, err, sizeof err)) {
            log_error("kafka_fatal", "error=%s", jtm_log_quote(q, sizeof q, err));
            goto out;
        }
        if (!s.pg || s.need_resync) {
            if (recover(&s) != 0)
                break;
        }
        unsigned long before = consumer_errors;
        size_t n = lk_batch_collect(s.rk, &batch, (size_t)cfg->batch_max, (size_t)cfg->batch_bytes,
                                    (int)cfg->batch_ms, topics, feeds, 3, &consumer_errors);
        jtm_counter_add(s.consumer_errors, consumer_errors - before);
        if (n == 0) {
            /* Idle: notice a lost server now, so /healthz says so before the next batch needs it. */
            if (s.pg && (!PQconsumeInput(s.pg) || PQstatus(s.pg) != CONNECTION_OK)) {
                log_warn("pg_lost", "while=idle");
                drop_pg(&s);
                s.need_resync = true;
            }
            continue;
        }
        long long t0 = now_ms();
        lk_apply_stats st;
        int lr = lk_load_batch(s.pg, cfg->group, batch.items, n, &st, err, sizeof err);
        if (lr == LK_LOAD_TRANSIENT) {
            /* Nothing of this batch is known to be committed: drop it, reconnect, re-seek, redo. */
            log_warn("pg_batch_failed", "messages=%zu error=%s", n, jtm_log_quote(q, sizeof q, err));
            lk_batch_clear(&batch);
            drop_pg(&s);
            s.need_resync = true;
            continue;
        }
        if (lr == LK_LOAD_FATAL) {
            log_error("batch_refused", "messages=%zu error=%s", n, jtm_log_quote(q, sizeof q, err));
            lk_batch_clear(&batch);
            goto out;
        }
        long long ms = now_ms() - t0;
        jtm_counter_add(s.consumed, n);
        jtm_counter_add(s.loaded, (uint64_t)st.loaded);
        jtm_counter_add(s.duplicates, (uint64_t)st.duplicates);
        jtm_counter_add(s.skipped, (uint64_t)st.skipped);
        jtm_counter_add(s.dead, (uint64_t)st.dead_lettered);
        jtm_counter_add(s.children, (uint64_t)st.children);
        jtm_counter_add(s.batches, 1);
        jtm_counter_add(s.notifies, st.notified ? 1 : 0);
        jtm_gauge_set(s.last_batch_ms, (double)ms);
        jtm_histogram_observe(s.batch_ms, (double)ms);
        if (st.dead_lettered > 0)
            log_warn("dead_lettered", "messages=%ld", st.dead_lettered);
        log_debug("batch_committed", "messages=%zu loaded=%ld duplicates=%ld skipped=%ld children=%ld ms=%lld", n,
                  st.loaded, st.duplicates, st.skipped, st.children, ms);
        store_kafka_offsets(&s, &batch);
        lk_batch_clear(&batch);
    }
    rc = JTM_EXIT_OK;
    jtm_service_stopping();
    log_stats(&s);
    log_info("stopping", "signal=%d", (int)jtm_stop_signal);
out:
    lk_batch_free(&batch);
    if (s.rk) {
        rd_kafka_consumer_close(s.rk);
        rd_kafka_destroy(s.rk);
    }
    jtm_metrics_http_stop(http);
    PQfinish(s.pg);
    free(s.conninfo);
    jtm_metrics_free(s.m);
    return rc;
}
