/* jtm-synth: writes a synthetic region of raw supplier events (JGZ, absence, SOJ) to NDJSON files or
 * Kafka topics, deterministic from a seed. See synth.h for how it works and docs in --help. */
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "out.h"
#include "signals.h"
#include "synth.h"

typedef struct synth_config {
    long long seed, children, years, flush_timeout_ms, ready_timeout_ms;
    char *municipalities, *start, *spike, *out, *kafka, *topic_prefix, *tmpdir, *log_level;
    double dirty, corrections, duplicates, late, placeholders, rate;
    bool stats;
} synth_config;

#define DEFAULT_MUNIS "GM0482,GM0505,GM0512,GM0523,GM0531,GM1978,GM0590,GM0610,GM1961,GM0642"

static const jtm_option synth_options[] = {
    JTM_OPT_INT("seed", "1", 0, 9.2e18, seed, synth_config, "random seed: same seed and options, same bytes"),
    JTM_OPT_INT("children", "20000", 1, 16000000, children, synth_config, "number of children in the region"),
    JTM_OPT_STR("municipalities", DEFAULT_MUNIS, municipalities, synth_config,
                "GM codes (built in: Zuid-Holland Zuid) or GMxxxx:PC4LO-PC4HI[:weight]"),
    JTM_OPT_STR("start", "2021-01-01", start, synth_config, "first day of the window (YYYY-MM-DD)"),
    JTM_OPT_INT("years", "3", 1, 30, years, synth_config, "length of the window in years"),
    JTM_OPT_STR("spike", NULL, spike, synth_config, "waiting-list spikes GMxxxx:CAT:YYYY-Www[:factor], comma-separated"),
    JTM_OPT_STR("out", NULL, out, synth_config, "folder for raw.<feed>.ndjson"),
    JTM_OPT_STR("kafka", NULL, kafka, synth_config, "bootstrap servers: produce to raw.<feed> instead of files"),
    JTM_OPT_STR("topic.prefix", "", topic_prefix, synth_config, "prefix of the topic names (tests)"),
    JTM_OPT_DBL("rate", "0", 0, 1e7, rate, synth_config,
                "with --kafka: events per second, spread evenly over the run (0: as fast as possible)"),
    JTM_OPT_INT("flush.timeout_ms", "120000", 1, 3600000, flush_timeout_ms, synth_config,
                "how long to wait for the last delivery reports"),
    JTM_OPT_INT("ready.timeout_ms", "10000", 1, 3600000, ready_timeout_ms, synth_config,
                "how long to wait for the broker at start (then exit 69)"),
    JTM_OPT_DBL("dirty", "0", 0, 0.5, dirty, synth_config, "share of events also sent malformed (DLQ tests)"),
    JTM_OPT_DBL("corrections", "0.01", 0, 0.5, corrections, synth_config, "share of events changed (status 2) or withdrawn (3)"),
    JTM_OPT_DBL("duplicates", "0.005", 0, 0.5, duplicates, synth_config, "share of events sent twice"),
    JTM_OPT_DBL("late", "0.01", 0, 0.5, late, synth_config, "share of events recorded weeks late"),
    JTM_OPT_DBL("placeholders", "0.045", 0, 1, placeholders, synth_config,
                "share of events of babies under 3 months with BSN 999999999/000000000"),
    JTM_OPT_STR("tmp.dir", NULL, tmpdir, synth_config, "folder for the sort spool (default $TMPDIR or /tmp)"),
    JTM_OPT_BOOL("stats", "false", stats, synth_config, "print counts per feed and type to stderr"),
    JTM_OPT_STR("log.level", "info", log_level, synth_config, "debug, info, warn or error"),
    JTM_OPT_END,
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jtm-synth [options] (--out DIR | --kafka BOOTSTRAP)\n"
            "Generates a synthetic region of raw JGZ, absence and SOJ events, deterministic from a seed.\n"
            "  -c, --config FILE          config file (key = value lines)\n"
            "  -X key=value               set an option (repeatable); kafka.<key> goes to librdkafka\n"
            "      --seed N               (seed)            default 1\n"
            "      --children N           (children)        default 20000\n"
            "      --municipalities LIST  (municipalities)  default the 10 of Zuid-Holland Zuid\n"
            "      --start YYYY-MM-DD     (start)           default 2021-01-01\n"
            "      --years N              (years)           default 3\n"
            "      --spike GMxxxx:CAT:YYYY-Www[:factor]     repeatable; 6 weeks of factor x requests\n"
            "                             (default 3) that also wait longer\n"
            "      --out DIR              write DIR/raw.{jgz,verzuim,soj}.ndjson\n"
            "      --kafka BOOTSTRAP      produce to raw.{jgz,verzuim,soj}, key = event_id\n"
            "      --dirty RATE           malformed extra copies (default 0)\n"
            "      --corrections RATE     status 2 / 3 resends (default 0.01)\n"
            "      --duplicates RATE      unchanged resends (default 0.005)\n"
            "      --late RATE            recorded weeks late (default 0.01)\n"
            "      --stats                counts per feed and type to stderr at the end\n"
            "  -h, --help                 this text\n"
            "  -V, --version              print the version\n"
            "Exit: 0 done, 2 bad command line, 78 bad configuration, 69 broker unreachable,\n"
            "1 write or delivery failure.\n"
            "Options (config keys):\n");
    jtm_config_print_help(synth_options, out);
}

/* Counts events as they go out and stops on SIGINT/SIGTERM. */
typedef struct run_writer {
    synth_writer inner;
} run_writer;

static int guarded_write(void *ctx, int feed, const char *key, size_t keylen, const char *json, size_t len,
                         char *errstr, size_t errlen)
{
    run_writer *r = ctx;
    if (!jtm_run) {
        snprintf(errstr, errlen, "interrupted");
        return -1;
    }
    return r->inner.write(r->inner.ctx, feed, key, keylen, json, len, errstr, errlen);
}

enum { K_SEED = 1, K_CHILDREN, K_MUNIS, K_START, K_YEARS, K_SPIKE, K_OUT, K_KAFKA, K_DIRTY, K_CORR, K_DUP, K_LATE, K_STATS };

static const char *const cli_key[] = {NULL, "seed", "children", "municipalities", "start", "years", "spike", "out",
                                      "kafka", "dirty", "corrections", "duplicates", "late", "stats"};

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},             {"seed", required_argument, NULL, K_SEED},
        {"children", required_argument, NULL, K_CHILDREN}, {"municipalities", required_argument, NULL, K_MUNIS},
        {"start", required_argument, NULL, K_START},     {"years", required_argument, NULL, K_YEARS},
        {"spike", required_argument, NULL, K_SPIKE},     {"out", required_argument, NULL, K_OUT},
        {"kafka", required_argument, NULL, K_KAFKA},     {"dirty", required_argument, NULL, K_DIRTY},
        {"corrections", required_argument, NULL, K_CORR}, {"duplicates", required_argument, NULL, K_DUP},
        {"late", required_argument, NULL, K_LATE},       {"stats", no_argument, NULL, K_STATS},
        {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    jtm_kvlist cli = {0};
    int c;
    struct {
        int key;
        const char *value;
    } flags[128];
    int n_flags = 0;
    char *spikes = NULL; /* --spike is repeatable: joined with commas */
    size_t spikes_len = 0;
    while ((c = getopt_long(argc, argv, "c:X:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'X':
            if (jtm_config_cli_add(&cli, optarg) != 0) {
                fprintf(stderr, "jtm-synth: -X expects key=value\n");
                free(spikes);
                jtm_kvlist_free(&cli);
                return JTM_EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); free(spikes); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        case 'V': printf("jtm-synth %s\n", JTM_VERSION); free(spikes); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        case K_SPIKE: {
            size_t n = strlen(optarg);
            char *s = realloc(spikes, spikes_len + n + 2);
            if (!s) {
                free(spikes);
                jtm_kvlist_free(&cli);
                return JTM_EXIT_SOFTWARE;
            }
            spikes = s;
            if (spikes_len)
                spikes[spikes_len++] = ',';
            memcpy(spikes + spikes_len, optarg, n + 1);
            spikes_len += n;
            break;
        }
        default:
            if (c >= K_SEED && c <= K_STATS) {
                if (n_flags == 128) {
                    fprintf(stderr, "jtm-synth: too many options\n");
                    free(spikes);
                    jtm_kvlist_free(&cli);
                    return JTM_EXIT_USAGE;
                }
                flags[n_flags].key = c;
                flags[n_flags++].value = c == K_STATS ? "true" : optarg;
                break;
            }
            fprintf(stderr, "jtm-synth: try --help\n");
            free(spikes);
            jtm_kvlist_free(&cli);
            return JTM_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "jtm-synth: unexpected argument %s\n", argv[optind]);
        free(spikes);
        jtm_kvlist_free(&cli);
        return JTM_EXIT_USAGE;
    }

    synth_config cfg;
    memset(&cfg, 0, sizeof cfg);
    jtm_passthrough pt;
    memset(&pt, 0, sizeof pt);
    char err[1024];
    int rc = JTM_EXIT_CONFIG;
    bool from_cli[K_STATS + 1] = {false};
    jtm_log_init("jtm-synth", JTM_LOG_INFO);
    if (jtm_config_startup(synth_options, &cfg, &pt, config_path, &cli, err, sizeof err) != 0) {
        fprintf(stderr, "jtm-synth: %s\n", err);
        goto out;
    }
    /* Command-line flags win over everything; a bad flag value is a usage error (exit 2). */
    for (int i = 0; i < n_flags; i++) {
        if (jtm_config_set(synth_options, &cfg, &pt, cli_key[flags[i].key], flags[i].value, err, sizeof err) != 0) {
            fprintf(stderr, "jtm-synth: %s\n", err);
            rc = JTM_EXIT_USAGE;
            goto out;
        }
        from_cli[flags[i].key] = true;
    }
    if (spikes) {
        if (jtm_config_set(synth_options, &cfg, &pt, "spike", spikes, err, sizeof err) != 0)
            goto out;
        from_cli[K_SPIKE] = true;
    }

    synth_params *p = calloc(1, sizeof *p);
    if (!p) {
        rc = JTM_EXIT_SOFTWARE;
        goto out;
    }
    synth_params_default(p);
    p->seed = (uint64_t)cfg.seed;
    p->children = (long)cfg.children;
    p->years = (int)cfg.years;
    p->dirty = cfg.dirty;
    p->corrections = cfg.corrections;
    p->duplicates = cfg.duplicates;
    p->late = cfg.late;
    p->placeholders = cfg.placeholders;
    p->tmpdir = cfg.tmpdir;
#define SEMANTIC_FAIL(key)                                                                                  \
    do {                                                                                                    \
        fprintf(stderr, "jtm-synth: %s\n", err);                                                            \
        rc = from_cli[key] ? JTM_EXIT_USAGE : JTM_EXIT_CONFIG;                                              \
        goto out_p;                                                                                         \
    } while (0)
    if (synth_parse_municipalities(p, cfg.municipalities ? cfg.municipalities : "", err, sizeof err) != 0)
        SEMANTIC_FAIL(K_MUNIS);
    if (!cfg.start || jtm_date_parse(cfg.start, strlen(cfg.start), &p->start) != 0) {
        snprintf(err, sizeof err, "start: expected a date YYYY-MM-DD");
        SEMANTIC_FAIL(K_START);
    }
    if (cfg.spike && *cfg.spike) {
        char *list = strdup(cfg.spike), *save = NULL;
        if (!list) {
            rc = JTM_EXIT_SOFTWARE;
            goto out_p;
        }
        for (char *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save))
            if (synth_parse_spike(p, s, err, sizeof err) != 0) {
                free(list);
                SEMANTIC_FAIL(K_SPIKE);
            }
        free(list);
    }
    bool to_files = cfg.out && *cfg.out, to_kafka = cfg.kafka && *cfg.kafka;
    if (to_files == to_kafka) {
        fprintf(stderr, "jtm-synth: give exactly one of --out DIR and --kafka BOOTSTRAP\n");
        rc = from_cli[K_OUT] || from_cli[K_KAFKA] || !config_path ? JTM_EXIT_USAGE : JTM_EXIT_CONFIG;
        goto out_p;
    }
    jtm_signals_install();

    synth_out_file *fo = NULL;
    synth_out_kafka *ko = NULL;
    run_writer rw;
    if (to_files) {
        if (!(fo = synth_out_file_new(cfg.out, err, sizeof err))) {
            log_error("output_failed", "error=\"%s\"", err);
            rc = JTM_EXIT_IOERR;
            goto out_p;
        }
        rw.inner = synth_out_file_writer(fo);
    } else {
        if (!jtm_kvlist_get(&pt.kafka, "bootstrap.servers"))
            jtm_kvlist_set(&pt.kafka, "bootstrap.servers", cfg.kafka);
        if (!(ko = synth_out_kafka_new(&pt.kafka, cfg.topic_prefix, cfg.rate, err, sizeof err))) {
            fprintf(stderr, "jtm-synth: %s\n", err);
            rc = JTM_EXIT_CONFIG;
            goto out_p;
        }
        if (synth_out_kafka_wait_ready(ko, (int)cfg.ready_timeout_ms, err, sizeof err) != 0) {
            char q[1200];
            log_error("broker_unavailable", "error=%s", jtm_log_quote(q, sizeof q, err));
            synth_out_kafka_close(ko, 1, NULL, err, sizeof err);
            rc = JTM_EXIT_UNAVAILABLE;
            goto out_p;
        }
        rw.inner = synth_out_kafka_writer(ko);
    }
    synth_writer w = {guarded_write, &rw};
    synth_stats st;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    log_info("started", "children=%ld years=%d municipalities=%d spikes=%d seed=%llu output=%s", p->children,
             p->years, p->n_munis, p->n_spikes, (unsigned long long)p->seed, to_files ? "files" : "kafka");
    int run = synth_run(p, &w, &st, err, sizeof err);
    char err2[512] = "";
    int closed = to_files ? synth_out_file_close(fo, err2, sizeof err2)
                          : synth_out_kafka_close(ko, (int)cfg.flush_timeout_ms, NULL, err2, sizeof err2);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (run != 0 || closed != 0) {
        char q[1200];
        log_error("run_failed", "error=%s", jtm_log_quote(q, sizeof q, run != 0 ? err : err2));
        rc = JTM_EXIT_FAILURE;
        goto out_p;
    }
    if (cfg.stats)
        synth_stats_print(&st, stderr);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 (double)ru.ru_stime.tv_usec / 1e6;
    log_info("done", "events=%llu bytes=%llu seconds=%.3f eps=%.0f cpu_seconds=%.3f cpu_eps=%.0f", st.events,
             st.bytes, secs, secs > 0 ? (double)st.events / secs : 0.0, cpu, cpu > 0 ? (double)st.events / cpu : 0.0);
    rc = JTM_EXIT_OK;
out_p:
    free(p);
out:
    free(spikes);
    jtm_kvlist_free(&cli);
    jtm_config_free(synth_options, &cfg, &pt);
    return rc;
}
