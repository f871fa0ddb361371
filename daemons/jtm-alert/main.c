/* jtm-alert: waiting-list spike alerts to municipalities (design.md, Alerts; docs/alerts.md).
 *   jtm-alert -c FILE [-X key=value ...]    the service
 *   jtm-alert detect --method C1 ... < csv  the detector on a CSV series
 *   jtm-alert backtest [-c FILE] ...         the configuration replayed over the warehouse's history
 *   jtm-alert silence GMxxxx CAT --until D  mute a series (and --list, --lift ID) */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backtest.h"
#include "conf.h"
#include "config.h"
#include "daemon.h"
#include "detect.h"
#include "log.h"
#include "signals.h"
#include "silence.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jtm-alert [-c FILE] [-X key=value ...]\n"
            "       jtm-alert detect --method C1|C2|C3 [--alpha A] [--baseline B] [--min-sigma S] < series.csv\n"
            "       jtm-alert backtest [-c FILE] [-X key=value ...] [--spikes 25,50,100] [--trials N] (--help)\n"
            "       jtm-alert silence [-c FILE] GMxxxx CATEGORY|all --until YYYY-MM-DD --reason TEXT | --list | --lift ID\n"
            "Watches monitor.waiting_list_weekly (on start, on NOTIFY and on a schedule), runs the EARS\n"
            "detector per (gemeente, category) and sends signed webhooks to each municipality.\n"
            "  -c, --config FILE   config file (key = value lines)\n"
            "  -X key=value        set an option (repeatable); pg.<keyword> goes to libpq\n"
            "  -h, --help          this text\n  -V, --version       print the version\n"
            "Options:\n");
    jtm_config_print_help(alert_options, out);
    fprintf(out, "  %-26s %-7s %-28s %s\n", "route.<GMxxxx>.url", "string", "", "webhook URL of a municipality");
    fprintf(out, "  %-26s %-7s %-28s %s\n", "route.<GMxxxx>.secret_file", "string", "",
            "file with its HMAC secret (mode 600)");
    fprintf(out, "  %-26s %-7s %-28s %s\n", "route.<GMxxxx>.email", "string", "",
            "e-mail addresses of a municipality, comma-separated (needs smtp.url and smtp.from)");
    fprintf(out, "  %-26s %-7s %-28s %s\n", "route.default.url", "string", "", "webhook for municipalities without a route");
    fprintf(out, "  %-26s %-7s %-28s %s\n", "route.default.secret_file", "string", "", "its secret file");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "detect") == 0)
        return jtm_alert_detect_main(argc - 1, argv + 1, stdin, stdout, stderr);
    if (argc > 1 && strcmp(argv[1], "backtest") == 0)
        return jtm_alert_backtest_main(argc - 1, argv + 1, stdout, stderr);
    if (argc > 1 && strcmp(argv[1], "silence") == 0)
        return jtm_alert_silence_main(argc - 1, argv + 1, stdout, stderr);
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    jtm_kvlist cli = {0};
    int c;
    while ((c = getopt_long(argc, argv, "c:X:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'X':
            if (jtm_config_cli_add(&cli, optarg) == 0)
                break;
            fprintf(stderr, "jtm-alert: -X expects key=value\n");
            jtm_kvlist_free(&cli);
            return JTM_EXIT_USAGE;
        case 'h': usage(stdout); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        case 'V': printf("jtm-alert %s\n", JTM_VERSION); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        default: fprintf(stderr, "jtm-alert: try --help\n"); jtm_kvlist_free(&cli); return JTM_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "jtm-alert: unexpected argument %s\n", argv[optind]);
        jtm_kvlist_free(&cli);
        return JTM_EXIT_USAGE;
    }
    jtm_log_init("jtm-alert", JTM_LOG_INFO);
    alert_config cfg = {0};
    jtm_passthrough pt = {0};
    alert_routes routes = {0};
    char err[1024];
    int rc = JTM_EXIT_CONFIG;
    /* Lets operators (and tests) find jtm-alert's session in pg_stat_activity. */
    jtm_kvlist_set(&pt.pg, "fallback_application_name", "jtm-alert");
    if (alert_config_load(&cfg, &pt, &routes, config_path, &cli, err, sizeof err) != 0) {
        fprintf(stderr, "jtm-alert: %s\n", err);
        goto out;
    }
    if (routes.count == 0) {
        fprintf(stderr, "jtm-alert: no routes: set route.default.url and route.default.secret_file "
                        "(and route.<GMxxxx>.* per municipality)\n");
        goto out;
    }
    if (alert_routes_load_secrets(&routes, cfg.allow_http, err, sizeof err) != 0) {
        fprintf(stderr, "jtm-alert: %s\n", err);
        goto out;
    }
    if (jtm_signals_install() != 0) {
        fprintf(stderr, "jtm-alert: cannot install signal handlers\n");
        rc = JTM_EXIT_SOFTWARE;
        goto out;
    }
    char *conninfo = jtm_config_pg_conninfo(&pt);
    rc = alert_daemon_run(&cfg, &routes, conninfo);
    free(conninfo);
out:
    alert_config_free(&cfg, &pt, &routes);
    jtm_kvlist_free(&cli);
    return rc;
}
