/* jtm-migrate: applies the warehouse migrations in schemas/sql (or --dir) to the database the
 * config names. ops/pg.sh runs it after starting PostgreSQL; operators run it before upgrading the
 * daemons. Safe to run twice. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "migrate.h"
#include "pg.h"
#include "signals.h"

typedef struct migrate_config {
    char *dir;
    char *log_level;
    long long connect_wait_ms;
} migrate_config;

static const jtm_option migrate_options[] = {
    JTM_OPT_STR("migrations.dir", JTM_SOURCE_DIR "/schemas/sql", dir, migrate_config, "folder of numbered .sql files"),
    JTM_OPT_STR("log.level", "info", log_level, migrate_config, "debug, info, warn or error"),
    JTM_OPT_INT("pg.connect_wait_ms", "30000", 0, 3600000, connect_wait_ms, migrate_config,
                "how long to retry connecting (0: forever)"),
    JTM_OPT_END,
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jtm-migrate [-c FILE] [-X key=value] [--dir DIR]\n"
            "Applies numbered SQL migrations once each, recording them in ops.schema_migrations.\n"
            "  -c, --config FILE   config file (key = value lines)\n"
            "  -X key=value        set an option (repeatable); pg.<keyword> goes to libpq\n"
            "  --dir DIR           migrations folder (same as -X migrations.dir=DIR)\n"
            "  -h, --help          this text\n  -V, --version       print the version\n"
            "Options:\n");
    jtm_config_print_help(migrate_options, out);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"dir", required_argument, NULL, 'd'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    const char *config_path = NULL, *dir = NULL;
    jtm_kvlist cli = {0};
    int c;
    while ((c = getopt_long(argc, argv, "c:X:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'd': dir = optarg; break;
        case 'X':
            if (jtm_config_cli_add(&cli, optarg) != 0) {
                fprintf(stderr, "jtm-migrate: -X expects key=value\n");
                jtm_kvlist_free(&cli);
                return JTM_EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        case 'V': printf("jtm-migrate %s\n", JTM_VERSION); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        default:
            fprintf(stderr, "jtm-migrate: try --help\n");
            jtm_kvlist_free(&cli);
            return JTM_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "jtm-migrate: unexpected argument %s\n", argv[optind]);
        jtm_kvlist_free(&cli);
        return JTM_EXIT_USAGE;
    }
    migrate_config cfg = {0};
    jtm_passthrough pt = {0};
    char err[1024];
    jtm_log_init("jtm-migrate", JTM_LOG_INFO);
    int rc = JTM_EXIT_OK;
    char *conninfo = NULL;
    if (jtm_config_startup(migrate_options, &cfg, &pt, config_path, &cli, err, sizeof err) != 0) {
        fprintf(stderr, "jtm-migrate: %s\n", err);
        rc = JTM_EXIT_CONFIG;
        goto out;
    }
    jtm_signals_install();
    conninfo = jtm_config_pg_conninfo(&pt);
    if (jtm_pg_conninfo_check(conninfo, err, sizeof err) != 0) {
        fprintf(stderr, "jtm-migrate: %s\n", err);
        rc = JTM_EXIT_CONFIG;
        goto out;
    }
    PGconn *conn = jtm_pg_connect(conninfo, (int)cfg.connect_wait_ms, err, sizeof err);
    char q[1100];
    if (!conn) {
        log_error("pg_unavailable", "error=%s", jtm_log_quote(q, sizeof q, err));
        rc = JTM_EXIT_UNAVAILABLE;
        goto out;
    }
    int applied = 0;
    if (jtm_migrate(conn, dir ? dir : cfg.dir, &applied, err, sizeof err) < 0) {
        log_error("migration_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
        rc = JTM_EXIT_FAILURE;
    } else {
        log_info("migrations_done", "applied=%d", applied);
    }
    PQfinish(conn);
out:
    free(conninfo);
    jtm_config_free(migrate_options, &cfg, &pt);
    jtm_kvlist_free(&cli);
    return rc;
}
