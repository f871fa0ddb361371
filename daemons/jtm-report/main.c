/* jtm-report: one self-contained HTML report (inline SVG charts, no scripts, nothing loaded from
 * anywhere) of the monitor views, for a municipality or the whole region and a period of months.
 * With --public it applies the research suppression rule, for readers outside the region. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "html.h"
#include "log.h"
#include "pg.h"
#include "query.h"
#include "report.h"
#include "signals.h"

typedef struct report_config {
    char *log_level;
    char *lang;
    long long connect_wait_ms;
    long long min_cell;
} report_config;

static const jtm_option report_options[] = {
    JTM_OPT_STR("log.level", "info", log_level, report_config, "debug, info, warn or error"),
    JTM_OPT_STR("report.lang", "nl", lang, report_config, "label language when --lang is not given: nl or en"),
    JTM_OPT_INT("report.min_cell", "0", 0, 1000, min_cell, report_config,
                "--public: smallest count shown (0: research.min_cell() of the database, else 10)"),
    JTM_OPT_INT("pg.connect_wait_ms", "10000", 0, 3600000, connect_wait_ms, report_config,
                "how long to retry connecting before exiting 69 (0: forever)"),
    JTM_OPT_END,
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jtm-report [-c FILE] [-X key=value] [--gemeente GMxxxx] [--from YYYY-MM --to YYYY-MM]\n"
            "                  [--lang nl|en] [--public] -o report.html\n"
            "Writes one self-contained HTML report (inline SVG, no scripts, works offline) of the monitor:\n"
            "client routes, waiting list with alerts, decision and start days against the norms, the\n"
            "indicators of the five transformation goals, population per age band and district.\n"
            "  -c, --config FILE    config file (key = value lines); pg.<keyword> goes to libpq\n"
            "  -X key=value         set an option (repeatable)\n"
            "  -g, --gemeente CODE  one municipality (GM and four digits); default: the whole region\n"
            "  --from YYYY-MM       first month of the period (with --to; default: the 12 months up to and\n"
            "                       including the current one)\n"
            "  --to YYYY-MM         last month of the period\n"
            "  --lang nl|en         labels (default nl)\n"
            "  --public             for outside the region: counts under the threshold shown as \"<10\",\n"
            "                       secondary suppression so totals do not reveal them\n"
            "  -o, --output FILE    where to write the report (replaced atomically)\n"
            "  -h, --help           this text\n  -V, --version        print the version\n"
            "Exit status: 0 written, 2 usage, 78 configuration, 69 database unreachable, 1 query failed,\n"
            "74 output not writable.\n"
            "Options:\n");
    jtm_config_print_help(report_options, out);
}

int main(int argc, char **argv)
{
    enum { OPT_FROM = 256, OPT_TO, OPT_LANG, OPT_PUBLIC };
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"gemeente", required_argument, NULL, 'g'},
                                             {"from", required_argument, NULL, OPT_FROM},
                                             {"to", required_argument, NULL, OPT_TO},
                                             {"lang", required_argument, NULL, OPT_LANG},
                                             {"public", no_argument, NULL, OPT_PUBLIC},
                                             {"output", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    const char *config_path = NULL, *gemeente = NULL, *from = NULL, *to = NULL, *lang = NULL, *output = NULL;
    bool public_ = false;
    jtm_kvlist cli = {0};
    int c;
    while ((c = getopt_long(argc, argv, "c:X:g:o:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'g': gemeente = optarg; break;
        case OPT_FROM: from = optarg; break;
        case OPT_TO: to = optarg; break;
        case OPT_LANG: lang = optarg; break;
        case OPT_PUBLIC: public_ = true; break;
        case 'o': output = optarg; break;
        case 'X':
            if (jtm_config_cli_add(&cli, optarg) != 0) {
                fprintf(stderr, "jtm-report: -X expects key=value\n");
                jtm_kvlist_free(&cli);
                return JTM_EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        case 'V': printf("jtm-report %s\n", JTM_VERSION); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        default: fprintf(stderr, "jtm-report: try --help\n"); jtm_kvlist_free(&cli); return JTM_EXIT_USAGE;
        }
    }
    int rc = JTM_EXIT_USAGE;
    char err[1024], q[1100];
    jtm_report r = {0};
    report_config cfg = {0};
    jtm_passthrough pt = {0};
    PGconn *conn = NULL;
    char *conninfo = NULL;
    if (optind < argc) {
        fprintf(stderr, "jtm-report: unexpected argument %s\n", argv[optind]);
        goto out;
    }
    if (!output) {
        fprintf(stderr, "jtm-report: -o FILE is required\n");
        goto out;
    }
    if (gemeente && !jtm_report_gemeente_ok(gemeente)) {
        fprintf(stderr, "jtm-report: --gemeente must be GM and four digits\n");
        goto out;
    }
    if ((from == NULL) != (to == NULL)) {
        fprintf(stderr, "jtm-report: give --from and --to together\n");
        goto out;
    }
    if (from) {
        if (jtm_report_set_period(&r, from, to, err, sizeof err) != 0) {
            fprintf(stderr, "jtm-report: %s\n", err);
            goto out;
        }
    } else {
        jtm_report_default_period(&r);
    }
    if (lang && jtm_lang_parse(lang, &r.lang) != 0) {
        fprintf(stderr, "jtm-report: --lang must be nl or en\n");
        goto out;
    }

    rc = JTM_EXIT_CONFIG;
    jtm_log_init("jtm-report", JTM_LOG_INFO);
    if (jtm_config_startup(report_options, &cfg, &pt, config_path, &cli, err, sizeof err) != 0) {
        fprintf(stderr, "jtm-report: %s\n", err);
        goto out;
    }
    if (!lang && jtm_lang_parse(cfg.lang, &r.lang) != 0) {
        fprintf(stderr, "jtm-report: report.lang must be nl or en\n");
        goto out;
    }
    conninfo = jtm_config_pg_conninfo(&pt);
    if (!conninfo || jtm_pg_conninfo_check(conninfo, err, sizeof err) != 0) {
        fprintf(stderr, "jtm-report: %s\n", conninfo ? err : "out of memory");
        goto out;
    }
    jtm_signals_install();

    conn = jtm_pg_connect(conninfo, (int)cfg.connect_wait_ms, err, sizeof err);
    if (!conn) {
        log_error("pg_unavailable", "error=%s", jtm_log_quote(q, sizeof q, err));
        rc = JTM_EXIT_UNAVAILABLE;
        goto out;
    }
    rc = JTM_EXIT_FAILURE;
    if (gemeente) {
        r.gemeente = strdup(gemeente);
        if (!r.gemeente)
            goto out;
    }
    r.public_ = public_;
    if (public_) {
        r.threshold = (int)cfg.min_cell;
        if (r.threshold == 0) {
            r.threshold = jtm_report_min_cell(conn, err, sizeof err);
            if (r.threshold < 0) {
                log_error("query_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
                goto out;
            }
        }
        if (r.threshold < 2)
            r.threshold = 2;
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(r.generated, sizeof r.generated, "%Y-%m-%d %H:%M UTC", &tm);
    if (jtm_report_load(conn, &r, err, sizeof err) != 0) {
        log_error("query_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
        goto out;
    }
    if (jtm_report_write(&r, output, err, sizeof err) != 0) {
        log_error("write_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
        rc = JTM_EXIT_IOERR;
        goto out;
    }
    log_info("report_written", "gemeente=%s from=%s to=%s public=%d min_cell=%d routes=%zu series=%zu path=%s",
             r.gemeente ? r.gemeente : "region", r.from, r.to, r.public_ ? 1 : 0, r.public_ ? r.threshold : 0,
             r.n_routes, r.n_waiting, jtm_log_quote(q, sizeof q, output));
    rc = JTM_EXIT_OK;
out:
    if (conn)
        PQfinish(conn);
    free(conninfo);
    jtm_report_free(&r);
    jtm_config_free(report_options, &cfg, &pt);
    jtm_kvlist_free(&cli);
    return rc;
}
