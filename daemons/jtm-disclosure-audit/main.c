/* jtm-disclosure-audit: what a researcher can derive about every withheld count of the research
 * views (docs/access.md, Disclosure audit). Reads all three views in one snapshot (or a CSV of
 * published entries), computes each withheld entry's feasible interval from everything published
 * (line totals, withheld counts never 0, 'primary' meaning under the threshold) and exits 1 when
 * an interval is narrower than the threshold.
 *   jtm-disclosure-audit [-c FILE] [-X key=value] [--pg CONNINFO | --csv FILE] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "config.h"
#include "log.h"
#include "pg.h"

typedef struct audit_config {
    long long min_cell;
    long long min_width;
    bool cross_view;
    long long max_report;
    char *log_level;
    long long connect_wait_ms;
} audit_config;

static const jtm_option audit_options[] = {
    JTM_OPT_INT("audit.min_cell", "0", 0, 1000000, min_cell, audit_config,
                "the suppression threshold (0: research.min_cell() of the database; 10 for --csv)"),
    JTM_OPT_INT("audit.min_width", "0", 0, 1000000, min_width, audit_config,
                "an interval with upper - lower bound under this is exposed (0: the threshold)"),
    JTM_OPT_BOOL("audit.cross_view", "true", cross_view, audit_config,
                 "also use that children starting care in a year and municipality are at most the episodes started"),
    JTM_OPT_INT("report.max", "100", 0, 100000000, max_report, audit_config, "exposed entries printed at most (all are counted)"),
    JTM_OPT_STR("log.level", "info", log_level, audit_config, "debug, info, warn or error"),
    JTM_OPT_INT("pg.connect_wait_ms", "10000", 0, 3600000, connect_wait_ms, audit_config,
                "how long to retry connecting (0: forever)"),
    JTM_OPT_END,
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jtm-disclosure-audit [-c FILE] [-X key=value] [--pg CONNINFO | --csv FILE]\n"
            "Computes, for every withheld count of the research views, the interval a reader can derive\n"
            "from everything published, and fails when one is narrower than the threshold.\n"
            "  -c, --config FILE   config file (key = value lines)\n"
            "  -X key=value        set an option (repeatable); pg.<keyword> goes to libpq\n"
            "      --pg CONNINFO   same as -X pg.conninfo=CONNINFO (a researcher login suffices)\n"
            "      --csv FILE      published entries instead: view,layer,row,col,count,reason lines\n"
            "                      (count empty when withheld)\n"
            "  -h, --help          this text\n  -V, --version       print the version\n"
            "Exit: 0 no interval too narrow, 1 exposed entries, 2 usage, 65 published counts\n"
            "inconsistent, 69 database unavailable, 74 file unreadable, 78 configuration.\n"
            "Options:\n");
    jtm_config_print_help(audit_options, out);
}

/* Every entry of the three views as published, one snapshot; and the threshold when asked. */
static const char *views_sql =
    "SELECT 'children_in_care_year', year::text, gemeente, care_level, children::text,"
    "       CASE WHEN suppressed THEN coalesce(suppression, 'withheld') END FROM research.children_in_care_year"
    " UNION ALL SELECT 'route_paths', '', gemeente, path, children::text,"
    "       CASE WHEN suppressed THEN coalesce(suppression, 'withheld') END FROM research.route_paths"
    " UNION ALL SELECT 'waiting_time_year', year::text, gemeente, wait_band, episodes::text,"
    "       CASE WHEN suppressed THEN coalesce(suppression, 'withheld') END FROM research.waiting_time_year";

static int read_database(PGconn *conn, jtm_pub *p, long long *min_cell, char *err, size_t errlen)
{
    int rc = -1;
    PGresult *r = NULL;
    if (jtm_pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errlen) != 0)
        return -1;
    if (*min_cell == 0) {
        r = PQexecParams(conn, "SELECT research.min_cell()", 0, NULL, NULL, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            jtm_pg_result_error(conn, r, err, errlen);
            goto out;
        }
        *min_cell = atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    r = PQexecParams(conn, views_sql, 0, NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(conn, r, err, errlen);
        goto out;
    }
    for (int i = 0; i < PQntuples(r); i++)
        if (jtm_pub_add(p, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
                        PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4), PQgetisnull(r, i, 5) ? NULL : PQgetvalue(r, i, 5),
                        err, errlen) != 0)
            goto out;
    rc = 0;
out:
    PQclear(r);
    char ignore[64];
    jtm_pg_exec(conn, "ROLLBACK", ignore, sizeof ignore);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"pg", required_argument, NULL, 'P'},
                                             {"csv", required_argument, NULL, 'C'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    const char *config_path = NULL, *csv = NULL;
    jtm_kvlist cli = {0};
    int c;
    while ((c = getopt_long(argc, argv, "c:X:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'P': jtm_kvlist_set(&cli, "pg.conninfo", optarg); break;
        case 'C': csv = optarg; break;
        case 'X':
            if (jtm_config_cli_add(&cli, optarg) != 0) {
                fprintf(stderr, "jtm-disclosure-audit: -X expects key=value\n");
                jtm_kvlist_free(&cli);
                return JTM_EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        case 'V': printf("jtm-disclosure-audit %s\n", JTM_VERSION); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        default:
            fprintf(stderr, "jtm-disclosure-audit: try --help\n");
            jtm_kvlist_free(&cli);
            return JTM_EXIT_USAGE;
        }
    }
    audit_config cfg = {0};
    jtm_passthrough pt = {0};
    jtm_pub pub = {0};
    jtm_audit_result res = {0};
    char err[1024], q[1100];
    int rc = JTM_EXIT_CONFIG;
    PGconn *conn = NULL;
    char *conninfo = NULL;
    jtm_log_init("jtm-disclosure-audit", JTM_LOG_INFO);
    if (jtm_config_startup(audit_options, &cfg, &pt, config_path, &cli, err, sizeof err) != 0) {
        fprintf(stderr, "jtm-disclosure-audit: %s\n", err);
        goto out;
    }
    if (optind < argc || (pt.pg.count == 0) == !csv) {
        fprintf(stderr, "jtm-disclosure-audit: give either --pg (or pg.* keys) or --csv (try --help)\n");
        rc = JTM_EXIT_USAGE;
        goto out;
    }
    if (csv) {
        FILE *f = fopen(csv, "r");
        if (!f) {
            log_error("file_unreadable", "error=%s", jtm_log_quote(q, sizeof q, "cannot open --csv file"));
            rc = JTM_EXIT_IOERR;
            goto out;
        }
        int l = jtm_pub_load_csv(&pub, f, err, sizeof err);
        fclose(f);
        if (l != 0) {
            log_error("csv_invalid", "error=%s", jtm_log_quote(q, sizeof q, err));
            rc = JTM_EXIT_DATAERR;
            goto out;
        }
        if (cfg.min_cell == 0)
            cfg.min_cell = 10;
    } else {
        conninfo = jtm_config_pg_conninfo(&pt);
        if (!conninfo || jtm_pg_conninfo_check(conninfo, err, sizeof err) != 0) {
            log_error("config_invalid", "error=%s", jtm_log_quote(q, sizeof q, conninfo ? err : "out of memory"));
            goto out;
        }
        conn = jtm_pg_connect(conninfo, (int)cfg.connect_wait_ms, err, sizeof err);
        if (!conn) {
            log_error("pg_unavailable", "error=%s", jtm_log_quote(q, sizeof q, err));
            rc = JTM_EXIT_UNAVAILABLE;
            goto out;
        }
        if (read_database(conn, &pub, &cfg.min_cell, err, sizeof err) != 0) {
            log_error("views_unreadable", "error=%s", jtm_log_quote(q, sizeof q, err));
            rc = jtm_pg_is_broken(conn) ? JTM_EXIT_UNAVAILABLE : JTM_EXIT_FAILURE;
            goto out;
        }
    }
    jtm_audit_opts o = {.min_cell = (int)cfg.min_cell,
                        .min_width = (int)(cfg.min_width ? cfg.min_width : cfg.min_cell),
                        .cross_view = cfg.cross_view};
    int run = jtm_audit_run(&pub, &o, &res, err, sizeof err);
    if (run != 0 && o.cross_view) {
        /* The assumption does not hold for these numbers (e.g. care that started before its
         * request is not in waiting_time_year), so a reader cannot rely on it either. */
        log_warn("cross_view_inconsistent", "error=%s", jtm_log_quote(q, sizeof q, err));
        o.cross_view = false;
        run = jtm_audit_run(&pub, &o, &res, err, sizeof err);
    }
    if (run != 0) {
        log_error("audit_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
        rc = JTM_EXIT_DATAERR;
        goto out;
    }
    for (size_t k = 0; k < res.exposed && (long long)k < cfg.max_report; k++) {
        const jtm_audit_finding *f = &res.findings[k];
        const jtm_pub_entry *e = &pub.e[f->entry];
        char qv[128], ql[128], qr[160], qc[160];
        printf("exposed view=%s layer=%s row=%s col=%s lower=%lld upper=%lld width=%lld\n",
               jtm_log_quote(qv, sizeof qv, e->view), jtm_log_quote(ql, sizeof ql, e->layer),
               jtm_log_quote(qr, sizeof qr, e->r), jtm_log_quote(qc, sizeof qc, e->c), f->lb, f->ub, f->ub - f->lb);
    }
    fflush(stdout);
    log_info("audit_done", "entries=%zu withheld=%zu relations=%zu rounds=%d min_cell=%lld min_width=%d exposed=%zu",
             pub.n, res.suppressed, res.relations, res.rounds, cfg.min_cell, o.min_width, res.exposed);
    rc = res.exposed ? JTM_EXIT_FAILURE : JTM_EXIT_OK;
out:
    if (conn)
        PQfinish(conn);
    free(conninfo);
    jtm_audit_result_free(&res);
    jtm_pub_free(&pub);
    jtm_config_free(audit_options, &cfg, &pt);
    jtm_kvlist_free(&cli);
    return rc;
}
