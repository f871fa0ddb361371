/* The linker's run loop: connect, migrate, consume in batches, apply each batch in one PostgreSQL
 * transaction, survive PostgreSQL outages (pause, reconnect with backoff, re-seek, redo), log
 * stats, stop cleanly on SIGTERM. */
#include <pthread.h>
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
    JTM_OPT_INT("batch.max", "100000", 1, 10000000, batch_max, linker_config,
                "most messages in one batch (reached when catching up on a backlog)"),
    JTM_OPT_INT("batch.ms", "200", 1, 600000, batch_ms, linker_config,
                "how long a batch collects after its first message (latency bound); when a backlog "
                "waits then (a tenth of batch.max or more behind), the batch goes on towards batch.max "
                "until the backlog is consumed"),
    JTM_OPT_INT("batch.bytes", "268435456", 1024, 4294967296LL, batch_bytes, linker_config,
                "most payload bytes in one batch (bounds the transaction; batches are sent in chunks, not "
                "held in memory)"),
    JTM_OPT_INT("stats.interval_ms", "10000", 0, 86400000, stats_interval_ms, linker_config,
                "interval of the stats log line (0: never)"),
    JTM_OPT_BOOL("migrate.on_start", "true", migrate_on_start, linker_config,
                 "apply schema migrations at start-up"),
    JTM_OPT_STR("migrations.dir", JTM_SOURCE_DIR "/schemas/sql", migrations_dir, linker_config,
                "folder of numbered .sql migrations"),
    JTM_OPT_STR("schema.dir", JTM_SOURCE_DIR "/schemas", schema_dir, linker_config,
                "folder with pseudo.<feed>.schema.json: every message is checked against its feed's schema"),
    JTM_OPT_STR("log.level", "info", log_level, linker_config, "debug, info, warn or error"),
    JTM_OPT_INT("pg.connect_wait_ms", "30000", 0, 3600000, pg_connect_wait_ms, linker_config,
                "how long to retry connecting at start-up (0: forever); later outages are waited out"),
    JTM_OPT_INT("broker.wait_ms", "30000", 1000, 3600000, kafka_ready_ms, linker_config,
                "how long to wait for the broker at start-up"),
    JTM_OPT_STR("metrics.listen", NULL, metrics_listen, linker_config,
                "host:port for /metrics and /healthz (empty: off)"),
    JTM_OPT_STR("instance", "", instance, linker_config,
                "this process's lasting name in its group: static membership, group.instance.id = "
                "jtm-linker.<instance>[-w<worker>] (default the host name; off: none)"),
    JTM_OPT_INT("workers", "1", 1, 64, workers, linker_config,
                "parallel loaders, each a consumer of the group with its own PostgreSQL connection and "
                "transactions; needs co-partitioned topics (range assignment, equal partition counts)"),
    JTM_OPT_END,
};

/* What the workers share: settings, metrics, and how the process ends. */
typedef struct lk_shared {
    const linker_config *cfg;
    const jtm_passthrough *pt;
    char *conninfo;
    atomic_int workers_up;  /* workers connected to PostgreSQL */
    atomic_int started;     /* workers consuming */
    atomic_int exit_code;   /* JTM_EXIT_OK unless a worker failed */
    pthread_mutex_t setup_mu; /* workers join the group together: see join_together */
    pthread_cond_t setup_cv;
    int setup_done;
    lk_schemas schemas;
    jtm_metrics *m;
    jtm_counter *consumed, *loaded, *duplicates, *skipped, *dead, *batches, *children, *reconnects,
        *consumer_errors, *notifies, *direct, *direct_refused, *rebuilt, *rows_written, *sql_fallbacks,
        *unassigned;
    jtm_histogram *batch_ms;
    jtm_gauge *last_batch_ms;
    jtm_gauge *g_pg_up;
    jtm_gauge *g_workers_up;
} lk_shared;

/* One loader: a consumer of the group, its PostgreSQL connection, its batches. Children never
 * span workers: events are keyed by pid, the three topics have equal partition counts, and range
 * assignment gives a worker the same partition numbers of every topic (checked on assignment). */
typedef struct lk_state {
    lk_shared *sh;
    const linker_config *cfg;
    int id;
    PGconn *pg;
    rd_kafka_t *rk;
    bool need_resync;
    bool pg_up;
    long long unassigned_logged_ms; /* last rows_unassigned line (one a minute at most) */
    pthread_t thread;
} lk_state;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fail_all(lk_state *s, int code);

/* True when the assignment holds the same partition numbers of every subscribed topic, so that no
 * child's events reach two workers (events are keyed by pid). An incremental (cooperative)
 * assignment cannot be judged alone, so several workers need the eager range protocol. */
static bool copartitioned(const lk_state *s, const rd_kafka_topic_partition_list_t *parts, bool coop)
{
    if (coop)
        return false;
    const char *topics[3] = {s->cfg->topic_jgz, s->cfg->topic_verzuim, s->cfg->topic_soj};
    for (int i = 0; i < parts->cnt; i++)
        for (int t = 0; t < 3; t++)
            if (!rd_kafka_topic_partition_list_find((rd_kafka_topic_partition_list_t *)parts, topics[t],
                                                    parts->elems[i].partition))
                return false;
    return true;
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
        if (s->cfg->workers > 1 && !copartitioned(s, parts, coop)) {
            log_error("workers_not_copartitioned",
                      "worker=%d partitions=%d note=\"workers > 1 needs the three topics with equal partition "
                      "counts and range assignment\"", s->id, parts->cnt);
            fail_all(s, JTM_EXIT_CONFIG);
        }
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
        log_info("kafka_assigned", "worker=%d partitions=%d resync=%s", s->id, parts->cnt,
                 s->need_resync ? "true" : "false");
    } else {
        if (coop) {
            rd_kafka_error_t *x = rd_kafka_incremental_unassign(rk, parts);
            if (x)
                rd_kafka_error_destroy(x);
        } else {
            rd_kafka_assign(rk, NULL);
        }
        log_info("kafka_revoked", "worker=%d partitions=%d", s->id, parts->cnt);
    }
}

static int health(void *opaque, char *reason, size_t len)
{
    lk_shared *sh = opaque;
    int up = atomic_load(&sh->workers_up);
    if (up < (int)sh->cfg->workers) {
        snprintf(reason, len, "postgresql unavailable (%d of %d workers connected)", up, (int)sh->cfg->workers);
        return 1;
    }
    return 0;
}

static void set_pg_up(lk_state *s, bool up)
{
    if (s->pg_up == up)
        return;
    s->pg_up = up;
    int n = atomic_fetch_add(&s->sh->workers_up, up ? 1 : -1) + (up ? 1 : -1);
    jtm_gauge_set(s->sh->g_workers_up, n);
    jtm_gauge_set(s->sh->g_pg_up, n == (int)s->cfg->workers ? 1 : 0);
}

static void drop_pg(lk_state *s)
{
    PQfinish(s->pg);
    s->pg = NULL;
    set_pg_up(s, false);
}

/* A worker that cannot go on stops the whole process (the others finish their batch). */
static void fail_all(lk_state *s, int code)
{
    int ok = JTM_EXIT_OK;
    atomic_compare_exchange_strong(&s->sh->exit_code, &ok, code);
    jtm_run = 0;
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
            PGconn *c = PQconnectdb(s->sh->conninfo);
            if (PQstatus(c) == CONNECTION_OK && lk_session_init(c, err, sizeof err) == 0) {
                s->pg = c;
                set_pg_up(s, true);
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
                    log_info("pg_recovered", "worker=%d attempts=%d", s->id, attempt);
                jtm_counter_add(s->sh->reconnects, 1);
                return 0;
            }
            s->need_resync = true;
        }
        int wait = jtm_backoff_next(&b);
        log_warn("pg_retry", "worker=%d attempt=%d wait_ms=%d error=%s", s->id, attempt, wait,
                 jtm_log_quote(q, sizeof q, err));
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
    if (b->next && b->next->cnt > 0)
        rd_kafka_offsets_store(s->rk, b->next); /* fails for revoked partitions: fine */
}

static void log_stats_line(lk_shared *sh)
{
    char line[2048];
    jtm_metrics_log_line(sh->m, "jtm_linker_", line, sizeof line);
    log_info("stats", "%s", line);
}

/* Each worker publishes the lag of its own partitions; worker 0 writes the line. */
static void log_stats(lk_state *s)
{
    jtm_kafka_lag_publish(s->rk, s->sh->m, "jtm_linker_consumer_lag", "messages behind the end of the pseudo partition");
    if (s->id == 0)
        log_stats_line(s->sh);
}

static void metrics_init(lk_shared *s)
{
    static const double bounds[] = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000};
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
    s->direct = jtm_metrics_counter(s->m, "jtm_linker_loaded_direct_total",
                                    "of loaded: new events COPYed straight into staging.event", NULL);
    s->direct_refused = jtm_metrics_counter(s->m, "jtm_linker_direct_refused_total",
                                            "chunks whose new events PostgreSQL refused (they took the upsert)", NULL);
    s->rebuilt = jtm_metrics_counter(s->m, "jtm_linker_children_rebuilt_total",
                                     "of children: rebuilt from staging.event instead of from their event log", NULL);
    s->rows_written = jtm_metrics_counter(s->m, "jtm_linker_derived_rows_written_total",
                                          "rows written to the derived wh tables", NULL);
    s->unassigned = jtm_metrics_counter(s->m, "jtm_linker_unassigned_rows_total",
                                        "derived rows of a municipality that is not set up (or without one): "
                                        "in the default partitions, read by region roles only", NULL);
    s->sql_fallbacks = jtm_metrics_counter(s->m, "jtm_linker_sql_fallbacks_total",
                                           "batches derived by the SQL rules after the linker's derivation failed", NULL);
    s->last_batch_ms = jtm_metrics_gauge(s->m, "jtm_linker_batch_ms", "duration of the last batch transaction", NULL);
    s->g_pg_up = jtm_metrics_gauge(s->m, "jtm_linker_pg_up", "1 while every worker is connected to PostgreSQL", NULL);
    s->g_workers_up = jtm_metrics_gauge(s->m, "jtm_linker_workers_connected", "workers connected to PostgreSQL", NULL);
    s->batch_ms = jtm_metrics_histogram(s->m, "jtm_linker_batch_duration_ms", "batch transaction duration",
                                        NULL, bounds, sizeof bounds / sizeof bounds[0]);
}

/* The worker's own Kafka settings: a smaller prefetch unless configured, static membership and the
 * timeouts of a supervised daemon (jtm_kafka_supervised_conf), and with several workers client.id
 * and group.instance.id get the worker number appended (two members with one instance id would
 * fence each other). A restarted linker's worker N thus takes worker N's old place; on a broker
 * with static membership it gets back the same partitions, so the workers stay co-partitioned (and
 * on_rebalance checks every assignment anyway). Returns 0, or -1 with errstr (bad instance). */
static int worker_kafka_conf(const lk_state *s, const jtm_kvlist *in, jtm_kvlist *out, char *errstr, size_t errlen)
{
    memset(out, 0, sizeof *out);
    /* librdkafka prefetches up to 64 MiB per consumer by default; PostgreSQL, not the fetch, bounds
     * the linker, so 16 MiB (seconds of input) keeps memory flat with several workers. */
    jtm_kvlist_set(out, "queued.max.messages.kbytes", "16384");
    /* A crashed linker's partitions move to the others after 10 s instead of librdkafka's 45, and a
     * member that joins late waits at most that long (heartbeats come from librdkafka's own thread,
     * so a long batch never misses one). */
    if (jtm_kafka_supervised_conf(out, "jtm-linker", s->cfg->instance, errstr, errlen) != 0)
        return -1;
    jtm_kvlist_merge(out, in);
    if (s->cfg->workers <= 1)
        return 0;
    char buf[600];
    const char *client = jtm_kvlist_get(in, "client.id");
    snprintf(buf, sizeof buf, "%s-w%d", client ? client : "jtm-linker", s->id);
    jtm_kvlist_set(out, "client.id", buf);
    const char *instance = jtm_kvlist_get(out, "group.instance.id");
    if (instance) {
        snprintf(buf, sizeof buf, "%s-w%d", instance, s->id);
        jtm_kvlist_set(out, "group.instance.id", buf);
    }
    return 0;
}

/* Waits until every worker has finished its setup (or failed it). The group's first generation
 * then has all of them: a worker that subscribed after it formed was assigned only when the
 * coordinator gave up waiting for the others to rejoin, after session.timeout.ms (measured on the
 * development broker: 47 s instead of 3 in two of five starts of three workers). */
static void join_together(lk_state *s)
{
    lk_shared *sh = s->sh;
    pthread_mutex_lock(&sh->setup_mu);
    sh->setup_done++;
    pthread_cond_broadcast(&sh->setup_cv);
    while (sh->setup_done < (int)s->cfg->workers && jtm_run) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1; /* look at jtm_run now and then */
        pthread_cond_timedwait(&sh->setup_cv, &sh->setup_mu, &until);
    }
    pthread_mutex_unlock(&sh->setup_mu);
}

/* Connects to PostgreSQL and the broker, then (with the other workers) joins the group; returns 0
 * or an exit code. */
static int worker_start(lk_state *s, const char *const topics[3])
{
    char err[1024], q[1100];
    s->pg = jtm_pg_connect(s->sh->conninfo, (int)s->cfg->pg_connect_wait_ms, err, sizeof err);
    if (!s->pg) {
        log_error("pg_unavailable", "worker=%d error=%s", s->id, jtm_log_quote(q, sizeof q, err));
        return JTM_EXIT_UNAVAILABLE;
    }
    if (lk_session_init(s->pg, err, sizeof err) != 0) {
        log_error("pg_session_failed", "worker=%d error=%s", s->id, jtm_log_quote(q, sizeof q, err));
        return JTM_EXIT_FAILURE;
    }
    set_pg_up(s, true);
    jtm_kvlist kafka;
    if (worker_kafka_conf(s, &s->sh->pt->kafka, &kafka, err, sizeof err) == 0)
        s->rk = jtm_kafka_consumer_new(&kafka, s->cfg->group, on_rebalance, s, err, sizeof err);
    const char *member = jtm_kvlist_get(&kafka, "group.instance.id");
    if (s->rk)
        log_info("kafka_member", "worker=%d group=%s instance_id=%s static=%d", s->id, s->cfg->group,
                 member ? member : "-", member != NULL);
    jtm_kvlist_free(&kafka);
    if (!s->rk) {
        log_error("kafka_config", "worker=%d error=%s", s->id, jtm_log_quote(q, sizeof q, err));
        return JTM_EXIT_CONFIG;
    }
    if (jtm_kafka_wait_ready(s->rk, (int)s->cfg->kafka_ready_ms, err, sizeof err) != 0) {
        log_error("kafka_unavailable", "worker=%d error=%s", s->id, jtm_log_quote(q, sizeof q, err));
        return JTM_EXIT_UNAVAILABLE;
    }
    join_together(s);
    if (jtm_kafka_subscribe(s->rk, topics, 3, err, sizeof err) != 0) {
        log_error("kafka_subscribe_failed", "worker=%d error=%s", s->id, jtm_log_quote(q, sizeof q, err));
        return JTM_EXIT_FAILURE;
    }
    return JTM_EXIT_OK;
}

/* Consumes and applies batches until SIGTERM (or another worker's failure); returns an exit code. */
static int worker_loop(lk_state *s, const char *const topics[3])
{
    static const char *const feeds[3] = {"jgz", "verzuim", "soj"};
    const linker_config *cfg = s->cfg;
    lk_shared *sh = s->sh;
    char err[1024], q[1100];
    lk_batch batch;
    lk_batch_init(&batch, &sh->schemas);
    lk_load load;
    lk_load_init(&load);
    int rc = JTM_EXIT_OK;
    long long next_stats = now_ms() + cfg->stats_interval_ms;
    unsigned long consumer_errors = 0;
    while (jtm_run) {
        jtm_service_watchdog();
        if (cfg->stats_interval_ms > 0 && now_ms() >= next_stats) {
            log_stats(s);
            next_stats = now_ms() + cfg->stats_interval_ms;
        }
        if (jtm_kafka_fatal(s->rk, err, sizeof err)) {
            log_error("kafka_fatal", "worker=%d error=%s", s->id, jtm_log_quote(q, sizeof q, err));
            rc = JTM_EXIT_FAILURE;
            break;
        }
        if (!s->pg || s->need_resync) {
            if (recover(s) != 0)
                break;
        }
        unsigned long before = consumer_errors;
        size_t n = lk_batch_collect(s->rk, &batch, &load, s->pg, cfg->group, (size_t)cfg->batch_max,
                                    (size_t)cfg->batch_bytes, (int)cfg->batch_ms, topics, feeds, 3, &consumer_errors);
        jtm_counter_add(sh->consumer_errors, consumer_errors - before);
        if (n == 0) {
            /* Idle: notice a lost server now, so /healthz says so before the next batch needs it. */
            if (s->pg && (!PQconsumeInput(s->pg) || PQstatus(s->pg) != CONNECTION_OK)) {
                log_warn("pg_lost", "worker=%d while=idle", s->id);
                drop_pg(s);
                s->need_resync = true;
            }
            continue;
        }
        long long t0 = now_ms();
        lk_apply_stats st;
        int lr;
        if (batch.load_failed) {
            lr = lk_load_failed(&load, err, sizeof err);
            lk_load_abort(&load);
        } else {
            lr = lk_load_finish(&load, &st, err, sizeof err);
        }
        if (lr == LK_LOAD_TRANSIENT) {
            /* Nothing of this batch is known to be committed: drop it, reconnect, re-seek, redo. */
            log_warn("pg_batch_failed", "worker=%d messages=%zu error=%s", s->id, n, jtm_log_quote(q, sizeof q, err));
            lk_batch_clear(&batch);
            drop_pg(s);
            s->need_resync = true;
            continue;
        }
        if (lr == LK_LOAD_FATAL) {
            log_error("batch_refused", "worker=%d messages=%zu error=%s", s->id, n, jtm_log_quote(q, sizeof q, err));
            lk_batch_clear(&batch);
            rc = JTM_EXIT_FAILURE;
            break;
        }
        long long ms = now_ms() - t0;
        jtm_counter_add(sh->consumed, n);
        jtm_counter_add(sh->loaded, (uint64_t)st.loaded);
        jtm_counter_add(sh->duplicates, (uint64_t)st.duplicates);
        jtm_counter_add(sh->skipped, (uint64_t)st.skipped);
        jtm_counter_add(sh->dead, (uint64_t)st.dead_lettered);
        jtm_counter_add(sh->children, (uint64_t)st.children);
        jtm_counter_add(sh->batches, 1);
        jtm_counter_add(sh->notifies, st.notified ? 1 : 0);
        jtm_counter_add(sh->direct, (uint64_t)st.direct);
        jtm_counter_add(sh->direct_refused, (uint64_t)st.direct_fallbacks);
        jtm_counter_add(sh->rebuilt, (uint64_t)st.derive.children_rebuilt);
        jtm_counter_add(sh->rows_written, (uint64_t)st.derive.rows_written);
        jtm_counter_add(sh->sql_fallbacks, st.derived_in_sql ? 1 : 0);
        jtm_gauge_set(sh->last_batch_ms, (double)ms);
        jtm_histogram_observe(sh->batch_ms, (double)ms);
        if (st.dead_lettered > 0)
            log_warn("dead_lettered", "worker=%d messages=%ld", s->id, st.dead_lettered);
        if (st.derive.rows_unassigned > 0) {
            jtm_counter_add(sh->unassigned, (uint64_t)st.derive.rows_unassigned);
            if (!s->unassigned_logged_ms || now_ms() - s->unassigned_logged_ms >= LK_UNASSIGNED_REFRESH_MS) {
                s->unassigned_logged_ms = now_ms();
                log_warn("rows_unassigned",
                         "worker=%d rows=%ld gemeente=%s reason=\"municipality not set up (ops/jtm-login.sh "
                         "municipality CODE): rows in the default partitions, read by region roles only\"",
                         s->id, st.derive.rows_unassigned,
                         st.derive.unassigned_code[0] ? st.derive.unassigned_code : "none");
            }
        }
        log_debug("batch_committed",
                  "worker=%d messages=%zu loaded=%ld duplicates=%ld skipped=%ld children=%ld ms=%lld apply_ms=%ld "
                  "derive_ms=%ld read_ms=%ld write_ms=%ld direct=%ld rebuilt=%ld events_read=%ld events_logged=%ld "
                  "children_rewritten=%ld rows_written=%ld",
                  s->id, n, st.loaded, st.duplicates, st.skipped, st.children, ms, st.apply_ms, st.derive_ms,
                  st.derive.read_ms, st.derive.write_ms, st.direct, st.derive.children_rebuilt, st.derive.events_read,
                  st.derive.events_logged, st.derive.children_rewritten, st.derive.rows_written);
        store_kafka_offsets(s, &batch);
        lk_batch_clear(&batch);
    }
    lk_batch_free(&batch);
    lk_load_free(&load);
    return rc;
}

static void *worker_main(void *arg)
{
    lk_state *s = arg;
    const linker_config *cfg = s->cfg;
    const char *topics[3] = {cfg->topic_jgz, cfg->topic_verzuim, cfg->topic_soj};
    int rc = worker_start(s, topics);
    if (rc == JTM_EXIT_OK) {
        if (atomic_fetch_add(&s->sh->started, 1) + 1 == (int)cfg->workers) {
            log_info("started", "group=%s topics=%s,%s,%s workers=%lld batch_max=%lld batch_ms=%lld", cfg->group,
                     topics[0], topics[1], topics[2], cfg->workers, cfg->batch_max, cfg->batch_ms);
            jtm_service_ready("consuming");
        }
        rc = worker_loop(s, topics);
    }
    if (rc != JTM_EXIT_OK)
        fail_all(s, rc);
    if (s->rk) {
        rd_kafka_consumer_close(s->rk);
        rd_kafka_destroy(s->rk);
        s->rk = NULL;
    }
    drop_pg(s);
    return NULL;
}

int lk_run(const linker_config *cfg, const jtm_passthrough *pt)
{
    lk_shared sh;
    memset(&sh, 0, sizeof sh);
    sh.cfg = cfg;
    sh.pt = pt;
    atomic_init(&sh.exit_code, JTM_EXIT_OK);
    pthread_mutex_init(&sh.setup_mu, NULL);
    pthread_cond_init(&sh.setup_cv, NULL);
    int rc = JTM_EXIT_FAILURE;
    char err[1024], q[1100];
    jtm_metrics_http *http = NULL;
    lk_state *w = calloc((size_t)cfg->workers, sizeof *w);
    int spawned = 0;
    metrics_init(&sh);
    sh.conninfo = jtm_config_pg_conninfo(pt);
    if (!w)
        goto out;
    if (lk_schemas_load(&sh.schemas, cfg->schema_dir, err, sizeof err) != 0) {
        log_error("schema_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
        rc = JTM_EXIT_CONFIG;
        goto out;
    }

    /* Migrations once, before any worker loads. */
    PGconn *pg = jtm_pg_connect(sh.conninfo, (int)cfg->pg_connect_wait_ms, err, sizeof err);
    if (!pg) {
        log_error("pg_unavailable", "error=%s", jtm_log_quote(q, sizeof q, err));
        rc = JTM_EXIT_UNAVAILABLE;
        goto out;
    }
    if (cfg->migrate_on_start) {
        int applied = 0;
        if (jtm_migrate(pg, cfg->migrations_dir, &applied, err, sizeof err) < 0) {
            log_error("migration_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
            PQfinish(pg);
            goto out;
        }
        log_info("migrations_done", "applied=%d", applied);
    }
    PQfinish(pg);

    if (cfg->metrics_listen && *cfg->metrics_listen) {
        http = jtm_metrics_serve(sh.m, cfg->metrics_listen, health, &sh, err, sizeof err);
        if (!http) {
            log_error("metrics_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
            rc = JTM_EXIT_CONFIG;
            goto out;
        }
        log_info("metrics_listening", "listen=%s port=%d", cfg->metrics_listen, jtm_metrics_http_port(http));
    }
    for (; spawned < (int)cfg->workers; spawned++) {
        w[spawned].sh = &sh;
        w[spawned].cfg = cfg;
        w[spawned].id = spawned;
        if (pthread_create(&w[spawned].thread, NULL, worker_main, &w[spawned]) != 0) {
            log_error("thread_failed", "worker=%d", spawned);
            atomic_store(&sh.exit_code, JTM_EXIT_FAILURE);
            jtm_run = 0;
            break;
        }
    }
    for (int i = 0; i < spawned; i++)
        pthread_join(w[i].thread, NULL);
    rc = atomic_load(&sh.exit_code);
    if (spawned > 0)
        log_stats_line(&sh);
    if (rc == JTM_EXIT_OK) {
        jtm_service_stopping();
        log_info("stopping", "signal=%d", (int)jtm_stop_signal);
    }
out:
    jtm_metrics_http_stop(http);
    pthread_cond_destroy(&sh.setup_cv);
    pthread_mutex_destroy(&sh.setup_mu);
    free(w);
    free(sh.conninfo);
    lk_schemas_free(&sh.schemas);
    jtm_metrics_free(sh.m);
    return rc;
}
