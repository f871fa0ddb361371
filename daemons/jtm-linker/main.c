/* jtm-linker: consumes pseudo.jgz, pseudo.verzuim and pseudo.soj and loads the warehouse exactly
 * once (see linker.h). Usage: jtm-linker -c FILE [-X key=value]... */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "linker.h"
#include "log.h"
#include "signals.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jtm-linker [-c FILE] [-X key=value]...\n"
            "Loads pseudonymised events from Kafka into the PostgreSQL warehouse, exactly once.\n"
            "  -c, --config FILE   config file (key = value lines)\n"
            "  -X key=value        set an option (repeatable); kafka.<key> goes to librdkafka,\n"
            "                      pg.<keyword> to libpq\n"
            "  -h, --help          this text\n  -V, --version       print the version\n"
            "Options:\n");
    jtm_config_print_help(linker_options, out);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    char **overrides = calloc((size_t)argc + 1, sizeof *overrides);
    int n_overrides = 0, c, rc = JTM_EXIT_USAGE;
    linker_config cfg;
    jtm_passthrough pt;
    char err[1024];
    memset(&cfg, 0, sizeof cfg);
    memset(&pt, 0, sizeof pt);
    if (!overrides)
        return JTM_EXIT_SOFTWARE;
    while ((c = getopt_long(argc, argv, "c:X:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'X': overrides[n_overrides++] = optarg; break;
        case 'h': usage(stdout); free(overrides); return JTM_EXIT_OK;
        case 'V': printf("jtm-linker %s\n", JTM_VERSION); free(overrides); return JTM_EXIT_OK;
        default: fprintf(stderr, "jtm-linker: try --help\n"); free(overrides); return JTM_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "jtm-linker: unexpected argument %s\n", argv[optind]);
        free(overrides);
        return JTM_EXIT_USAGE;
    }
    jtm_log_init("jtm-linker", JTM_LOG_INFO);
    if (jtm_config_load(linker_options, &cfg, &pt, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "jtm-linker: %s\n", err);
        rc = JTM_EXIT_CONFIG;
        goto out;
    }
    for (int i = 0; i < n_overrides; i++) {
        char *eq = strchr(overrides[i], '=');
        if (!eq) {
            fprintf(stderr, "jtm-linker: -X expects key=value\n");
            rc = JTM_EXIT_USAGE;
            goto out;
        }
        *eq = '\0';
        if (jtm_config_set(linker_options, &cfg, &pt, overrides[i], eq + 1, err, sizeof err) != 0) {
            fprintf(stderr, "jtm-linker: %s\n", err);
            rc = JTM_EXIT_CONFIG;
            goto out;
        }
    }
    jtm_log_level lvl;
    if (jtm_log_level_parse(cfg.log_level, &lvl) != 0) {
        fprintf(stderr, "jtm-linker: log.level: unknown level\n");
        rc = JTM_EXIT_CONFIG;
        goto out;
    }
    jtm_log_set_level(lvl);
    if (jtm_signals_install() != 0) {
        rc = JTM_EXIT_SOFTWARE;
        goto out;
    }
    rc = lk_run(&cfg, &pt);
out:
    jtm_config_free(linker_options, &cfg, &pt);
    free(overrides);
    return rc;
}
