/* jtm-passwd: prints the SCRAM-SHA-256 verifier of a password for a login, computed here with
 * libpq's PQencryptPasswordConn, so that ops/jtm-login.sh sends ALTER ROLE ... PASSWORD
 * 'SCRAM-SHA-256$...' and no plaintext password ever reaches the server (its log,
 * pg_stat_statements, pgaudit). The password is read from standard input (first line), never
 * from the command line. It connects (pg.* options) only because libpq computes the verifier on a
 * connection: with the server's iteration count where the server announces one. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "pg.h"

typedef struct passwd_config {
    char *log_level;
    long long connect_wait_ms;
} passwd_config;

static const jtm_option passwd_options[] = {
    JTM_OPT_STR("log.level", "warn", log_level, passwd_config, "debug, info, warn or error"),
    JTM_OPT_INT("pg.connect_wait_ms", "10000", 0, 3600000, connect_wait_ms, passwd_config,
                "how long to retry connecting (0: forever)"),
    JTM_OPT_END,
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jtm-passwd [-c FILE] [-X key=value] --user NAME < password\n"
            "Prints the SCRAM-SHA-256 verifier of the password on standard input (first line) for\n"
            "login NAME, to be set with ALTER ROLE NAME PASSWORD '<verifier>'.\n"
            "  -c, --config FILE   config file (key = value lines)\n"
            "  -X key=value        set an option (repeatable); pg.<keyword> goes to libpq\n"
            "  --user NAME         the login the verifier is for\n"
            "  -h, --help          this text\n  -V, --version       print the version\n"
            "Exit: 0 printed, 2 usage, 65 no password on standard input, 69 database unreachable,\n"
            "78 bad configuration, 1 libpq refused.\n"
            "Options:\n");
    jtm_config_print_help(passwd_options, out);
}

/* The first line of standard input, without its newline; NULL when there is none. */
static char *read_password(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n <= 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"user", required_argument, NULL, 'u'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    const char *config_path = NULL, *user = NULL;
    jtm_kvlist cli = {0};
    int c;
    while ((c = getopt_long(argc, argv, "c:X:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'u': user = optarg; break;
        case 'X':
            if (jtm_config_cli_add(&cli, optarg) != 0) {
                fprintf(stderr, "jtm-passwd: -X expects key=value\n");
                jtm_kvlist_free(&cli);
                return JTM_EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        case 'V': printf("jtm-passwd %s\n", JTM_VERSION); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        default:
            fprintf(stderr, "jtm-passwd: try --help\n");
            jtm_kvlist_free(&cli);
            return JTM_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "jtm-passwd: unexpected argument %s\n", argv[optind]);
        jtm_kvlist_free(&cli);
        return JTM_EXIT_USAGE;
    }
    passwd_config cfg = {0};
    jtm_passthrough pt = {0};
    char err[1024], q[1100];
    jtm_log_init("jtm-passwd", JTM_LOG_WARN);
    int rc = JTM_EXIT_OK;
    char *conninfo = NULL, *password = NULL;
    PGconn *conn = NULL;
    if (jtm_config_startup(passwd_options, &cfg, &pt, config_path, &cli, err, sizeof err) != 0) {
        fprintf(stderr, "jtm-passwd: %s\n", err);
        rc = JTM_EXIT_CONFIG;
        goto out;
    }
    if (!user || !*user) {
        fprintf(stderr, "jtm-passwd: --user NAME is required\n");
        rc = JTM_EXIT_USAGE;
        goto out;
    }
    password = read_password();
    if (!password || !*password) {
        fprintf(stderr, "jtm-passwd: no password on standard input\n");
        rc = JTM_EXIT_DATAERR;
        goto out;
    }
    conninfo = jtm_config_pg_conninfo(&pt);
    if (jtm_pg_conninfo_check(conninfo, err, sizeof err) != 0) {
        fprintf(stderr, "jtm-passwd: %s\n", err);
        rc = JTM_EXIT_CONFIG;
        goto out;
    }
    conn = jtm_pg_connect(conninfo, (int)cfg.connect_wait_ms, err, sizeof err);
    if (!conn) {
        log_error("pg_unavailable", "error=%s", jtm_log_quote(q, sizeof q, err));
        rc = JTM_EXIT_UNAVAILABLE;
        goto out;
    }
    char *verifier = PQencryptPasswordConn(conn, password, user, "scram-sha-256");
    if (!verifier) {
        log_error("verifier_failed", "error=%s", jtm_log_quote(q, sizeof q, PQerrorMessage(conn)));
        rc = JTM_EXIT_FAILURE;
        goto out;
    }
    printf("%s\n", verifier);
    PQfreemem(verifier);
out:
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    if (conn)
        PQfinish(conn);
    free(conninfo);
    jtm_config_free(passwd_options, &cfg, &pt);
    jtm_kvlist_free(&cli);
    return rc;
}
