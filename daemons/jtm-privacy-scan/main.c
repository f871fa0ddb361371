/* jtm-privacy-scan: proves that nothing identifying got past the edge (docs/access.md, Privacy
 * scan). Scans every row of every table of the warehouse (all schemas, each column as text, bytea
 * unescaped; the binary columns of ops.linker_child as hex, and its event logs decoded, every
 * event's fields as text), and any files given (daemon logs, topic dumps made by ops/privacy-scan.sh), for
 * citizen numbers, postcodes, and the birth dates and names of the raw input files given with
 * --raw; and reads the pseudonymised events among them (staging.event, topic dumps) for
 * quasi-identifiers (quasi.h: ages that narrow a birth date, identifiers in code fields). Prints
 * one line per finding with a redacted hint (never the value) and exits 1 when
 * anything was found.
 *   jtm-privacy-scan [-c FILE] [-X key=value] [--pg CONNINFO] [--raw FILE]... [FILE]... */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "date.h"
#include "eventlog.h"
#include "log.h"
#include "pg.h"
#include "quasi.h"
#include "scan.h"
#include "signals.h"

typedef struct scan_config {
    long long max_report;
    char *log_level;
    long long connect_wait_ms;
} scan_config;

static const jtm_option scan_options[] = {
    JTM_OPT_INT("report.max", "100", 0, 100000000, max_report, scan_config, "findings printed at most (all are counted)"),
    JTM_OPT_STR("log.level", "info", log_level, scan_config, "debug, info, warn or error"),
    JTM_OPT_INT("pg.connect_wait_ms", "10000", 0, 3600000, connect_wait_ms, scan_config,
                "how long to retry connecting (0: forever)"),
    JTM_OPT_END,
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jtm-privacy-scan [-c FILE] [-X key=value] [--pg CONNINFO] [--raw FILE]... [FILE]...\n"
            "Looks for citizen numbers (11-test), postcodes, and birth dates and names of the raw input in\n"
            "every table of the database named by pg.* (when given) and in the FILEs; in the pseudonymised\n"
            "events among them, for ages that narrow a birth date below its month and for code fields that\n"
            "look like a BSN, postcode, date or name.\n"
            "  -c, --config FILE   config file (key = value lines)\n"
            "  -X key=value        set an option (repeatable); pg.<keyword> goes to libpq\n"
            "      --pg CONNINFO   same as -X pg.conninfo=CONNINFO (a superuser: row-level security\n"
            "                      would hide rows from anyone else)\n"
            "      --raw FILE      raw NDJSON input to learn names and birth dates from (repeatable)\n"
            "  -h, --help          this text\n  -V, --version       print the version\n"
            "Exit: 0 nothing found, 1 findings, 2 usage, 69 database unavailable, 74 file unreadable,\n"
            "78 configuration.\n"
            "Options:\n");
    jtm_config_print_help(scan_options, out);
}

/* The SELECT of every table and populated materialized view (partitions as their leaves), each
 * row as one line of text: catalog names quoted with %I on the server, no input from outside.
 * bytea is unescaped (dead letters keep messages as bytes), except in ops.linker_child, whose
 * bytea are binary (digests, and event logs that scan_event_logs decodes): unescaped, their bytes
 * read as octal escapes next to letters, and a random \247 before "3AB" is a postcode. */
static const char *tables_sql =
    "SELECT format('%I.%I', n.nspname, c.relname),"
    "       format('SELECT concat_ws(%L, %s) FROM ONLY %I.%I', E'\\t',"
    "              string_agg(CASE WHEN a.atttypid = 'bytea'::regtype THEN format('encode(%I, %L)', a.attname,"
    "                                  CASE WHEN (n.nspname, c.relname) = ('ops', 'linker_child') THEN 'hex' ELSE 'escape' END)"
    "                              ELSE format('%I::text', a.attname) END, ', ' ORDER BY a.attnum),"
    "              n.nspname, c.relname)"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
    " WHERE c.relkind IN ('r', 'm') AND c.relispopulated"
    "   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_'"
    " GROUP BY n.nspname, c.relname ORDER BY 1";

static void put_field(sbuf *b, const char *v)
{
    sb_putc(b, '\t');
    if (v)
        sb_puts(b, v);
}

static void put_date(sbuf *b, int32_t days)
{
    char d[11] = "";
    if (days != JTM_NO_DATE)
        jtm_date_format(jtm_date_from_days(days), d);
    put_field(b, d);
}

/* Every event of every child's log in ops.linker_child (common/eventlog.h), one line each: the
 * strings and dates it holds, as text. */
static int scan_event_logs(PGconn *conn, jtm_scan *s, char *err, size_t errlen)
{
    PGresult *r = PQexec(conn, "SELECT to_regclass('ops.linker_child') IS NOT NULL");
    bool have = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!have)
        return 0;
    if (jtm_pg_exec(conn, "DECLARE logs NO SCROLL CURSOR FOR SELECT events FROM ops.linker_child WHERE events IS NOT NULL",
                    err, errlen) != 0)
        return -1;
    jtm_event *ev = NULL;
    size_t cap = 0;
    sbuf hex = {0}, line = {0};
    long row = 1;
    int rc = 0;
    for (;;) {
        r = PQexecParams(conn, "FETCH 2000 FROM logs", 0, NULL, NULL, NULL, NULL, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            jtm_pg_result_error(conn, r, err, errlen);
            PQclear(r);
            rc = -1;
            break;
        }
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++, row++) {
            const unsigned char *p = (const unsigned char *)PQgetvalue(r, i, 0);
            size_t len = (size_t)PQgetlength(r, i, 0), n = 0;
            sb_clear(&hex);
            sb_reserve(&hex, jtm_eventlog_hex_room(len));
            if (jtm_eventlog_decode(p, len, &ev, &n, &cap, &hex) != 0) {
                /* not a log this scanner can read: scan its bytes rather than nothing */
                jtm_scan_text(s, "table:ops.linker_child.events", row, (const char *)p, len);
                continue;
            }
            for (size_t k = 0; k < n; k++) {
                const jtm_event *e = &ev[k];
                sb_clear(&line);
                sb_puts(&line, e->event_id);
                const char *fields[] = {e->gemeente, e->reference, e->allocation_no, e->provider_agb,
                                        e->category, e->referrer, e->answer, e->outcome,
                                        e->end_reason, e->debit_credit, e->birth_ym};
                for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++)
                    put_field(&line, fields[f]);
                put_date(&line, e->occurred_on);
                put_date(&line, e->allocated_on);
                put_date(&line, e->start_date);
                put_date(&line, e->end_date);
                if (e->has_amount)
                    sb_printf(&line, "\t%lld", (long long)e->amount_cents);
                jtm_scan_text(s, "table:ops.linker_child.events", row, line.s, line.len);
            }
        }
        PQclear(r);
        if (rows == 0)
            break;
    }
    free(ev);
    sb_free(&hex);
    sb_free(&line);
    return rc;
}

static int scan_database(PGconn *conn, jtm_scan *s, jtm_quasi *qi, long *tables, char *err, size_t errlen)
{
    PGresult *who = PQexec(conn, "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user");
    if (PQresultStatus(who) != PGRES_TUPLES_OK || PQntuples(who) != 1 || PQgetvalue(who, 0, 0)[0] != 't') {
        snprintf(err, errlen, "the scan needs a superuser or BYPASSRLS login: row-level security would hide rows");
        PQclear(who);
        return -2;
    }
    PQclear(who);
    if (jtm_pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, errlen) != 0)
        return -1;
    PGresult *list = PQexec(conn, tables_sql);
    if (PQresultStatus(list) != PGRES_TUPLES_OK) {
        jtm_pg_result_error(conn, list, err, errlen);
        PQclear(list);
        return -1;
    }
    int rc = 0;
    for (int t = 0; t < PQntuples(list) && rc == 0 && jtm_run; t++) {
        char source[600], *copy = NULL;
        snprintf(source, sizeof source, "table:%s", PQgetvalue(list, t, 0));
        if (asprintf(&copy, "COPY (%s) TO STDOUT", PQgetvalue(list, t, 1)) < 0)
            return -1;
        PGresult *r = PQexec(conn, copy);
        free(copy);
        if (PQresultStatus(r) != PGRES_COPY_OUT) {
            jtm_pg_result_error(conn, r, err, errlen);
            PQclear(r);
            rc = -1;
            break;
        }
        PQclear(r);
        char *buf = NULL;
        int n;
        long row = 1;
        while ((n = PQgetCopyData(conn, &buf, 0)) > 0) {
            jtm_scan_text(s, source, row++, buf, (size_t)n);
            PQfreemem(buf);
        }
        while ((r = PQgetResult(conn))) {
            if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
                jtm_pg_result_error(conn, r, err, errlen);
                rc = -1;
            }
            PQclear(r);
        }
        (*tables)++;
    }
    PQclear(list);
    if (rc == 0 && jtm_run)
        rc = scan_event_logs(conn, s, err, errlen);
    if (rc == 0 && jtm_run)
        rc = jtm_quasi_database(qi, conn, err, errlen);
    char ignore[128];
    jtm_pg_exec(conn, "ROLLBACK", ignore, sizeof ignore);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"pg", required_argument, NULL, 'P'},
                                             {"raw", required_argument, NULL, 'R'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    char *raws[256];
    jtm_kvlist cli = {0};
    int nraw = 0, c;
    while ((c = getopt_long(argc, argv, "c:X:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'P': jtm_kvlist_set(&cli, "pg.conninfo", optarg); break;
        case 'R':
            if (nraw < 256)
                raws[nraw++] = optarg;
            break;
        case 'X':
            if (jtm_config_cli_add(&cli, optarg) != 0) {
                fprintf(stderr, "jtm-privacy-scan: -X expects key=value\n");
                jtm_kvlist_free(&cli);
                return JTM_EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        case 'V': printf("jtm-privacy-scan %s\n", JTM_VERSION); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        default:
            fprintf(stderr, "jtm-privacy-scan: try --help\n");
            jtm_kvlist_free(&cli);
            return JTM_EXIT_USAGE;
        }
    }
    scan_config cfg = {0};
    jtm_passthrough pt = {0};
    char err[1024], q[1100];
    int rc = JTM_EXIT_CONFIG;
    jtm_scan *s = NULL;
    jtm_quasi *qi = NULL;
    PGconn *conn = NULL;
    char *conninfo = NULL;
    long tables = 0;
    jtm_log_init("jtm-privacy-scan", JTM_LOG_INFO);
    if (jtm_config_startup(scan_options, &cfg, &pt, config_path, &cli, err, sizeof err) != 0) {
        fprintf(stderr, "jtm-privacy-scan: %s\n", err);
        goto out;
    }
    if (pt.pg.count == 0 && optind >= argc) {
        fprintf(stderr, "jtm-privacy-scan: nothing to scan: give --pg and/or files (try --help)\n");
        rc = JTM_EXIT_USAGE;
        goto out;
    }
    jtm_signals_install();
    s = jtm_scan_new(stdout, (long)cfg.max_report);
    qi = jtm_quasi_new(stdout, (long)cfg.max_report);
    if (!s || !qi) {
        rc = JTM_EXIT_SOFTWARE;
        goto out;
    }
    for (int i = 0; i < nraw; i++)
        if (jtm_scan_learn_raw(s, raws[i], err, sizeof err) != 0) {
            log_error("raw_unreadable", "error=%s", jtm_log_quote(q, sizeof q, err));
            rc = JTM_EXIT_IOERR;
            goto out;
        }
    if (pt.pg.count) {
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
        int d = scan_database(conn, s, qi, &tables, err, sizeof err);
        if (d != 0) {
            log_error("database_scan_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
            rc = d == -2 ? JTM_EXIT_CONFIG : (jtm_pg_is_broken(conn) ? JTM_EXIT_UNAVAILABLE : JTM_EXIT_FAILURE);
            goto out;
        }
    }
    for (int i = optind; i < argc; i++)
        if (jtm_scan_file_each(s, argv[i], jtm_quasi_line, qi, err, sizeof err) != 0) {
            log_error("file_unreadable", "error=%s", jtm_log_quote(q, sizeof q, err));
            rc = JTM_EXIT_IOERR;
            goto out;
        }
    jtm_quasi_finish(qi);
    fflush(stdout);
    long quasi = jtm_quasi_age_steps(qi) + jtm_quasi_code_fields(qi);
    log_info("scan_done", "tables=%ld files=%d bytes=%lld names=%ld birthdates=%ld ambiguous_birthdates=%ld "
                          "findings=%ld bsn=%ld postcode=%ld birthdate=%ld name=%ld pseudo_events=%ld age_steps=%ld "
                          "code_field=%ld",
             tables, argc - optind, jtm_scan_bytes(s), jtm_scan_names(s), jtm_scan_birthdates(s),
             jtm_scan_ambiguous_dates(s), jtm_scan_findings(s) + quasi, jtm_scan_findings_of(s, JTM_FIND_BSN),
             jtm_scan_findings_of(s, JTM_FIND_POSTCODE), jtm_scan_findings_of(s, JTM_FIND_BIRTHDATE),
             jtm_scan_findings_of(s, JTM_FIND_NAME), jtm_quasi_events(qi), jtm_quasi_age_steps(qi),
             jtm_quasi_code_fields(qi));
    rc = jtm_scan_findings(s) + quasi ? JTM_EXIT_FAILURE : JTM_EXIT_OK;
out:
    if (conn)
        PQfinish(conn);
    free(conninfo);
    jtm_scan_free(s);
    jtm_quasi_free(qi);
    jtm_config_free(scan_options, &cfg, &pt);
    jtm_kvlist_free(&cli);
    return rc;
}
