/* jtm-devbroker: a local Kafka for development, tests and the demo, on librdkafka's mock cluster.
 * Creates the jtm topics, announces the bootstrap address (stdout, log, --bootstrap-file once it
 * serves), takes fault-injection commands on --control-socket and SIGUSR1/SIGUSR2, runs until
 * SIGTERM/SIGINT. What the mock can and cannot do: devbroker.h. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "devbroker.h"
#include "kafka.h"
#include "log.h"
#include "signals.h"

#define DEFAULT_TOPICS "raw.jgz,raw.verzuim,raw.soj,pseudo.jgz,pseudo.verzuim,pseudo.soj,dlq.jgz,dlq.verzuim,dlq.soj"

typedef struct devbroker_config {
    long long brokers;
    long long partitions;
    char *topics;
    char *bootstrap_file;
    char *control_socket;
    char *log_level;
    long long ready_timeout_ms;
} devbroker_config;

static const jtm_option devbroker_options[] = {
    JTM_OPT_INT("brokers", "1", 1, 64, brokers, devbroker_config, "number of mock brokers"),
    JTM_OPT_INT("partitions", "4", 1, 100000, partitions, devbroker_config, "partitions per created topic"),
    JTM_OPT_STR("topics", DEFAULT_TOPICS, topics, devbroker_config,
                "comma-separated topics to create; name:P sets P partitions for one"),
    JTM_OPT_STR("bootstrap.file", NULL, bootstrap_file, devbroker_config,
                "write the bootstrap address here (atomically) once serving"),
    JTM_OPT_STR("control.socket", NULL, control_socket, devbroker_config,
                "unix socket for fault-injection commands"),
    JTM_OPT_STR("log.level", "info", log_level, devbroker_config, "debug, info, warn or error"),
    JTM_OPT_INT("ready.timeout_ms", "10000", 100, 600000, ready_timeout_ms, devbroker_config,
                "how long the start-up self-check may take"),
    JTM_OPT_END,
};

/* Set by SIGUSR1 (all brokers down) and SIGUSR2 (all up); acted on by the main loop. */
static volatile sig_atomic_t want_down, want_up;

static void on_usr(int sig)
{
    if (sig == SIGUSR1)
        want_down = 1;
    else
        want_up = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jtm-devbroker [--brokers N] [--partitions P] [--topics LIST] [--bootstrap-file F]\n"
            "                     [--control-socket PATH] [-c FILE] [-X key=value]\n"
            "A local Kafka on librdkafka's mock cluster (loopback, in memory) for development and tests.\n"
            "Prints bootstrap=<host:port,...> on stdout when it serves; runs until SIGTERM or SIGINT.\n"
            "  --brokers N            mock brokers (default 1)\n"
            "  --partitions P         partitions of each created topic (default 4)\n"
            "  --topics LIST          topics to create (default: the raw, pseudo and dlq topics)\n"
            "  --bootstrap-file F     write the bootstrap address to F once serving (removed on exit)\n"
            "  --control-socket PATH  fault injection, one command per line, answer ok or error:\n"
            "                         down <id|all>, up <id|all>, rtt <id|all> <ms>,\n"
            "                         errors <api> <error> <count>, clear <api>,\n"
            "                         create <topic> <partitions>,\n"
            "                         leader <topic> <partition|all> <id> (the mock never fails over),\n"
            "                         stats [topic], help\n"
            "  -c, --config FILE      config file (key = value lines)\n"
            "  -X key=value           set an option; kafka.<key> goes to the handle owning the cluster\n"
            "                         (-X kafka.debug=mock -X log.level=debug: every request)\n"
            "  -h, --help, -V, --version\n"
            "Signals: SIGUSR1 takes every broker down, SIGUSR2 brings them back.\n"
            "Limits of the mock (librdkafka 2.0.2): ports are picked by the kernel (no --port);\n"
            "each partition keeps only its last %d MiB or %d message sets, older data is pruned\n"
            "silently; topics a producer creates by naming them get %d partitions whatever\n"
            "--partitions says (use the create command); all data is lost on exit.\n"
            "Exit: 0 stopped by signal, 2 usage, 78 config, 69 cannot start, 74 cannot write the file.\n"
            "Options:\n",
            JTM_DEVBROKER_RETAIN_BYTES / (1024 * 1024), JTM_DEVBROKER_RETAIN_SETS, JTM_DEVBROKER_AUTO_PARTITIONS);
    jtm_config_print_help(devbroker_options, out);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"brokers", required_argument, NULL, 'b'},
                                             {"partitions", required_argument, NULL, 'p'},
                                             {"topics", required_argument, NULL, 't'},
                                             {"bootstrap-file", required_argument, NULL, 'f'},
                                             {"control-socket", required_argument, NULL, 's'},
                                             {"config", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    /* Command-line settings in the order given, applied after file and environment. */
    jtm_kvlist cli = {0};
    int c;
    const char *config_path = NULL;
    while ((c = getopt_long(argc, argv, "c:X:hV", longopts, NULL)) != -1) {
        const char *key = NULL;
        switch (c) {
        case 'b': key = "brokers"; break;
        case 'p': key = "partitions"; break;
        case 't': key = "topics"; break;
        case 'f': key = "bootstrap.file"; break;
        case 's': key = "control.socket"; break;
        case 'c': config_path = optarg; break;
        case 'X':
            if (jtm_config_cli_add(&cli, optarg) == 0)
                break;
            fprintf(stderr, "jtm-devbroker: -X expects key=value\n");
            jtm_kvlist_free(&cli);
            return JTM_EXIT_USAGE;
        case 'h': usage(stdout); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        case 'V': printf("jtm-devbroker %s\n", JTM_VERSION); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        default: fprintf(stderr, "jtm-devbroker: try --help\n"); jtm_kvlist_free(&cli); return JTM_EXIT_USAGE;
        }
        if (key)
            jtm_kvlist_set(&cli, key, optarg);
    }
    if (optind < argc) {
        fprintf(stderr, "jtm-devbroker: unexpected argument %s\n", argv[optind]);
        jtm_kvlist_free(&cli);
        return JTM_EXIT_USAGE;
    }

    devbroker_config cfg = {0};
    jtm_passthrough pt = {0};
    char err[1024], q[1100];
    int rc = JTM_EXIT_OK;
    jtm_devbroker *d = NULL;
    jtm_control *ctl = NULL;
    int wrote_file = 0;
    jtm_log_init("jtm-devbroker", JTM_LOG_INFO);
    if (jtm_config_startup(devbroker_options, &cfg, &pt, config_path, &cli, err, sizeof err) != 0) {
        fprintf(stderr, "jtm-devbroker: %s\n", err);
        rc = JTM_EXIT_CONFIG;
        goto out;
    }
    if (pt.pg.count) {
        fprintf(stderr, "jtm-devbroker: pg.* options mean nothing here\n");
        rc = JTM_EXIT_CONFIG;
        goto out;
    }
    if (jtm_devbroker_topics_check(cfg.topics, (int)cfg.partitions, err, sizeof err) != 0) {
        fprintf(stderr, "jtm-devbroker: %s\n", err);
        rc = JTM_EXIT_CONFIG;
        goto out;
    }
    rd_kafka_conf_t *probe = jtm_kafka_conf_new(&pt.kafka, err, sizeof err);
    if (!probe) {
        fprintf(stderr, "jtm-devbroker: %s\n", err);
        rc = JTM_EXIT_CONFIG;
        goto out;
    }
    rd_kafka_conf_destroy(probe);
    jtm_signals_install();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);

    d = jtm_devbroker_new((int)cfg.brokers, (int)cfg.partitions, cfg.topics, &pt.kafka, err, sizeof err);
    if (!d) {
        log_error("start_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
        rc = JTM_EXIT_UNAVAILABLE;
        goto out;
    }
    if (cfg.control_socket && !(ctl = jtm_control_new(cfg.control_socket, err, sizeof err))) {
        log_error("start_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
        rc = JTM_EXIT_UNAVAILABLE;
        goto out;
    }
    if (jtm_devbroker_check(d, (int)cfg.ready_timeout_ms, err, sizeof err) != 0) {
        log_error("start_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
        rc = JTM_EXIT_UNAVAILABLE;
        goto out;
    }
    const char *bootstrap = jtm_devbroker_bootstrap(d);
    log_info("retention", "per_partition_max_bytes=%d per_partition_max_batches=%d auto_create_partitions=%d "
             "storage=memory note=\"older batches are pruned silently: compress and use enough partitions\"",
             JTM_DEVBROKER_RETAIN_BYTES, JTM_DEVBROKER_RETAIN_SETS, JTM_DEVBROKER_AUTO_PARTITIONS);
    if (cfg.bootstrap_file) {
        if (jtm_devbroker_write_file(cfg.bootstrap_file, bootstrap, err, sizeof err) != 0) {
            log_error("start_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
            rc = JTM_EXIT_IOERR;
            goto out;
        }
        wrote_file = 1;
    }
    printf("bootstrap=%s\n", bootstrap);
    fflush(stdout);
    log_info("started", "bootstrap=%s brokers=%lld partitions=%lld topics=%d control_socket=%s", bootstrap,
             cfg.brokers, cfg.partitions, jtm_devbroker_topic_count(d),
             cfg.control_socket ? jtm_log_quote(q, sizeof q, cfg.control_socket) : "-");

    while (jtm_run) {
        if (want_down || want_up) {
            int up = want_up && !want_down ? 1 : want_up && want_down ? 1 : 0;
            /* Both pending: down then up, in signal order we cannot know; end in the up state. */
            if (want_down && want_up)
                jtm_devbroker_set_up(d, -1, 0, err, sizeof err);
            want_down = want_up = 0;
            if (jtm_devbroker_set_up(d, -1, up, err, sizeof err) != 0)
                log_warn("signal_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
            else
                log_info(up ? "brokers_up" : "brokers_down", "brokers=all via=signal");
        }
        if (ctl) {
            jtm_control_serve(ctl, d, 200);
        } else {
            struct timespec ts = {0, 200 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    log_info("stopping", "signal=%d", (int)jtm_stop_signal);
out:
    jtm_control_free(ctl);
    if (wrote_file)
        unlink(cfg.bootstrap_file);
    jtm_devbroker_free(d);
    jtm_config_free(devbroker_options, &cfg, &pt);
    jtm_kvlist_free(&cli);
    return rc;
}
