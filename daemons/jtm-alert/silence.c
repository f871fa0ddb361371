#include "silence.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "config.h"
#include "date.h"
#include "log.h"
#include "pg.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jtm-alert silence [-c FILE] [-X key=value ...] GMxxxx CATEGORY|all --until YYYY-MM-DD --reason TEXT\n"
            "       jtm-alert silence [-c FILE] [-X key=value ...] --list\n"
            "       jtm-alert silence [-c FILE] [-X key=value ...] --lift ID\n"
            "Mutes a municipality's waiting-list series (one iJw category, or all) up to and including a\n"
            "day: alarms meanwhile are recorded as 'silenced' in the alert history and nothing is sent.\n"
            "--list shows the silences that hold and those of the last 90 days; --lift ends one early.\n"
            "The database is the one of jtm-alert's configuration (pg.* keys).\n");
}

static int valid_gemeente(const char *s)
{
    if (strlen(s) != 6 || s[0] != 'G' || s[1] != 'M')
        return 0;
    for (int i = 2; i < 6; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int valid_category(const char *s)
{
    return strcmp(s, "all") == 0 || (strlen(s) == 2 && s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9');
}

static int run_query(PGconn *conn, const char *sql, int nparams, const char *const *params, FILE *out, FILE *err)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        char msg[512];
        jtm_pg_result_error(conn, res, msg, sizeof msg);
        fprintf(err, "jtm-alert silence: %s\n", msg);
        PQclear(res);
        return JTM_EXIT_FAILURE;
    }
    int rc = JTM_EXIT_OK;
    if (st == PGRES_TUPLES_OK) {
        int nf = PQnfields(res);
        for (int f = 0; f < nf; f++)
            fprintf(out, "%s%s", f ? "\t" : "", PQfname(res, f));
        fputc('\n', out);
        for (int i = 0; i < PQntuples(res); i++)
            for (int f = 0; f < nf; f++)
                fprintf(out, "%s%s", PQgetisnull(res, i, f) ? "-" : PQgetvalue(res, i, f), f + 1 < nf ? "\t" : "\n");
        if (PQntuples(res) == 0 && strstr(sql, "UPDATE"))
            rc = JTM_EXIT_DATAERR; /* --lift of an unknown or already lifted silence */
    }
    PQclear(res);
    return rc;
}

int jtm_alert_silence_main(int argc, char **argv, FILE *out, FILE *err)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"until", required_argument, NULL, 'u'},
                                             {"reason", required_argument, NULL, 'r'},
                                             {"list", no_argument, NULL, 'l'},
                                             {"lift", required_argument, NULL, 'L'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *config_path = NULL, *until = NULL, *reason = NULL, *lift = NULL;
    int list = 0, c, rc = JTM_EXIT_USAGE;
    jtm_kvlist cli = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:X:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'X':
            if (jtm_config_cli_add(&cli, optarg) != 0) {
                fprintf(err, "jtm-alert silence: -X expects key=value\n");
                goto done;
            }
            break;
        case 'u': until = optarg; break;
        case 'r': reason = optarg; break;
        case 'l': list = 1; break;
        case 'L': lift = optarg; break;
        case 'h': usage(out); rc = JTM_EXIT_OK; goto done;
        default: fprintf(err, "jtm-alert silence: try --help\n"); goto done;
        }
    }
    int nargs = argc - optind, modes = list + (lift != NULL) + (nargs > 0);
    if (modes != 1) {
        fprintf(err, "jtm-alert silence: give GMxxxx CATEGORY, --list or --lift ID (one of them); try --help\n");
        goto done;
    }
    const char *gemeente = NULL, *category = NULL;
    jtm_date d;
    if (nargs > 0) {
        if (nargs != 2 || !valid_gemeente(argv[optind]) || !valid_category(argv[optind + 1])) {
            fprintf(err, "jtm-alert silence: expected GMxxxx (CBS code) and a two-digit category or 'all'\n");
            goto done;
        }
        gemeente = argv[optind];
        category = strcmp(argv[optind + 1], "all") == 0 ? NULL : argv[optind + 1];
        if (!until || jtm_date_parse(until, strlen(until), &d) != 0) {
            fprintf(err, "jtm-alert silence: --until YYYY-MM-DD (a real date) is required\n");
            goto done;
        }
        if (!reason || !*reason || strlen(reason) > 500) {
            fprintf(err, "jtm-alert silence: --reason (1-500 characters) is required: the history shows it\n");
            goto done;
        }
    }
    if (lift) {
        char *end;
        errno = 0;
        long long id = strtoll(lift, &end, 10);
        if (errno || end == lift || *end || id <= 0) {
            fprintf(err, "jtm-alert silence: --lift expects a silence id (see --list)\n");
            goto done;
        }
    }
    jtm_log_init("jtm-alert", JTM_LOG_WARN);
    alert_config cfg = {0};
    jtm_passthrough pt = {0};
    alert_routes routes = {0};
    char msg[1024];
    rc = JTM_EXIT_CONFIG;
    if (alert_config_load(&cfg, &pt, &routes, config_path, &cli, msg, sizeof msg) != 0) {
        fprintf(err, "jtm-alert silence: %s\n", msg);
        goto free_cfg;
    }
    char *conninfo = jtm_config_pg_conninfo(&pt);
    PGconn *conn = jtm_pg_connect(conninfo, (int)cfg.connect_wait_ms, msg, sizeof msg);
    free(conninfo);
    if (!conn) {
        fprintf(err, "jtm-alert silence: %s\n", msg);
        rc = JTM_EXIT_UNAVAILABLE;
        goto free_cfg;
    }
    if (list) {
        rc = run_query(conn,
                       "SELECT id, gemeente, coalesce(category, 'all') AS category, until, reason, created_by,"
                       " to_char(created_at, 'YYYY-MM-DD HH24:MI') AS created_at,"
                       " CASE WHEN lifted_at IS NOT NULL THEN 'lifted' WHEN until >= current_date THEN 'active'"
                       " ELSE 'ended' END AS state"
                       " FROM ops.alert_silence WHERE until >= current_date - 90 ORDER BY gemeente, category, id",
                       0, NULL, out, err);
    } else if (lift) {
        const char *params[1] = {lift};
        rc = run_query(conn,
                       "UPDATE ops.alert_silence SET lifted_at = now(), lifted_by = session_user"
                       " WHERE id = $1::bigint AND lifted_at IS NULL RETURNING id, gemeente,"
                       " coalesce(category, 'all') AS category, until, 'lifted' AS state",
                       1, params, out, err);
        if (rc == JTM_EXIT_DATAERR)
            fprintf(err, "jtm-alert silence: no silence %s that is not lifted already\n", lift);
    } else {
        const char *params[4] = {gemeente, category, until, reason};
        rc = run_query(conn,
                       "INSERT INTO ops.alert_silence (gemeente, category, until, reason) VALUES ($1, $2, $3::date, $4)"
                       " RETURNING id, gemeente, coalesce(category, 'all') AS category, until, 'active' AS state",
                       4, params, out, err);
    }
    PQfinish(conn);
free_cfg:
    alert_config_free(&cfg, &pt, &routes);
done:
    jtm_kvlist_free(&cli);
    return rc;
}
