/* jtm-extract: a researcher's study extract (docs/access.md, Study extracts). Run by the data
 * steward with a login in jtm_extractor; the researcher receives the CSV and its metadata, never the
 * study key.
 *   jtm-extract [-c FILE] [-X key=value] --study-key-file F --study-id S [-k N] -o out.csv
 * writes out.csv (header + rows, mode 0600), out.csv.meta.json (parameters, counts, information loss
 * per group, measured risk, date, the CSV's SHA-256) and out.csv.datapackage.json (the codebook: a
 * Frictionless Data package with the table schema), each through a temporary file and rename. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codebook.h"
#include "config.h"
#include "extract.h"
#include "log.h"
#include "pg.h"
#include "pseudonym.h"
#include "signals.h"

typedef struct extract_config {
    char *study_id;
    char *key_file;
    char *output;
    long long k;
    long long rare_min;
    char *log_level;
    long long connect_wait_ms;
} extract_config;

static const jtm_option extract_options[] = {
    JTM_OPT_STR("study.id", NULL, study_id, extract_config, "study id, 1-32 of [A-Za-z0-9._-] (--study-id)"),
    JTM_OPT_STR("study.key_file", NULL, key_file, extract_config,
                "study key file, >= 32 bytes, mode 0600 or stricter (--study-key-file)"),
    JTM_OPT_STR("output", NULL, output, extract_config, "CSV to write; metadata goes to <output>.meta.json (-o)"),
    JTM_OPT_INT("extract.k", "5", 2, 1000000, k, extract_config,
                "k-anonymity: smallest set of children sharing a whole record, every column (-k)"),
    JTM_OPT_INT("extract.rare_min", "10", 1, 1000000, rare_min, extract_config,
                "values held by fewer children are merged into OTHER"),
    JTM_OPT_STR("log.level", "info", log_level, extract_config, "debug, info, warn or error"),
    JTM_OPT_INT("pg.connect_wait_ms", "10000", 0, 3600000, connect_wait_ms, extract_config,
                "how long to retry connecting (0: forever)"),
    JTM_OPT_END,
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jtm-extract [-c FILE] [-X key=value] --study-key-file F --study-id S [-k N] -o OUT.csv\n"
            "Writes a study extract: every child (care and comparison group) with its care episodes, a\n"
            "study pseudonym, rare values merged, and each child's record generalised (months, quarters,\n"
            "years, ...) until at least k children share it over every column; OUT.csv.meta.json holds\n"
            "the parameters, counts, loss per group and risk, OUT.csv.datapackage.json the codebook.\n"
            "  -c, --config FILE        config file (key = value lines)\n"
            "  -X key=value             set an option (repeatable); pg.<keyword> goes to libpq\n"
            "      --study-key-file F   same as -X study.key_file=F\n"
            "      --study-id S         same as -X study.id=S\n"
            "  -k N                     same as -X extract.k=N\n"
            "  -o, --output OUT.csv     same as -X output=OUT.csv\n"
            "  -h, --help               this text\n  -V, --version            print the version\n"
            "Exit: 0 done, 2 usage, 78 configuration or key refused, 69 database unavailable,\n"
            "1 query failed, 74 output not written.\n"
            "Options:\n");
    jtm_config_print_help(extract_options, out);
}

static int valid_study_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", s[i]))
            return 0;
    return 1;
}

/* SHA-256 of a file as 64 hex characters. */
static int file_sha256(const char *path, char out[65])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char buf[65536], md[32];
    unsigned int mdlen = 0;
    size_t n;
    int rc = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ? 0 : -1;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0)
        if (!EVP_DigestUpdate(ctx, buf, n))
            rc = -1;
    if (rc == 0 && (ferror(f) || !EVP_DigestFinal_ex(ctx, md, &mdlen)))
        rc = -1;
    EVP_MD_CTX_free(ctx);
    fclose(f);
    for (unsigned i = 0; rc == 0 && i < mdlen; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    return rc;
}

/* A new private file for writing (0600), replacing a stale temporary. */
static FILE *open_private(const char *path)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    return fd < 0 ? NULL : fdopen(fd, "w");
}

static int finish_file(FILE *f, const char *tmp, const char *final)
{
    int rc = (fflush(f) == 0 && fsync(fileno(f)) == 0) ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, final) != 0)
        rc = -1;
    if (rc != 0)
        unlink(tmp);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"study-key-file", required_argument, NULL, 'K'},
                                             {"study-id", required_argument, NULL, 'S'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    jtm_kvlist cli = {0};
    int c;
    while ((c = getopt_long(argc, argv, "c:X:k:o:hV", longopts, NULL)) != -1) {
        const char *key = NULL;
        switch (c) {
        case 'c': config_path = optarg; continue;
        case 'K': key = "study.key_file"; break;
        case 'S': key = "study.id"; break;
        case 'o': key = "output"; break;
        case 'k': key = "extract.k"; break;
        case 'X':
            if (jtm_config_cli_add(&cli, optarg) == 0)
                continue;
            fprintf(stderr, "jtm-extract: -X expects key=value\n");
            jtm_kvlist_free(&cli);
            return JTM_EXIT_USAGE;
        case 'h': usage(stdout); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        case 'V': printf("jtm-extract %s\n", JTM_VERSION); jtm_kvlist_free(&cli); return JTM_EXIT_OK;
        default:
            fprintf(stderr, "jtm-extract: try --help\n");
            jtm_kvlist_free(&cli);
            return JTM_EXIT_USAGE;
        }
        jtm_kvlist_set(&cli, key, optarg);
    }
    if (optind < argc) {
        fprintf(stderr, "jtm-extract: unexpected argument %s\n", argv[optind]);
        return JTM_EXIT_USAGE;
    }

    extract_config cfg = {0};
    jtm_passthrough pt = {0};
    char err[1024], q[1100];
    int rc = JTM_EXIT_CONFIG;
    jtm_key *key = NULL;
    PGconn *conn = NULL;
    char *conninfo = NULL, *tmp_csv = NULL, *meta_path = NULL, *tmp_meta = NULL, *pkg_path = NULL, *tmp_pkg = NULL;
    jtm_log_init("jtm-extract", JTM_LOG_INFO);
    if (jtm_config_startup(extract_options, &cfg, &pt, config_path, &cli, err, sizeof err) != 0) {
        fprintf(stderr, "jtm-extract: %s\n", err);
        goto out;
    }
    if (!cfg.output || !*cfg.output || !cfg.key_file || !*cfg.key_file || !cfg.study_id) {
        fprintf(stderr, "jtm-extract: --study-key-file, --study-id and -o are required (try --help)\n");
        rc = JTM_EXIT_USAGE;
        goto out;
    }
    if (!valid_study_id(cfg.study_id)) {
        fprintf(stderr, "jtm-extract: study.id must be 1-32 of [A-Za-z0-9._-]\n");
        goto out;
    }
    /* The study key: refused when group/other may read it or it is shorter than 32 bytes. */
    if (jtm_key_load(cfg.key_file, cfg.study_id, &key, err, sizeof err) != 0) {
        log_error("key_refused", "error=%s", jtm_log_quote(q, sizeof q, err));
        goto out;
    }
    jtm_signals_install();
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
    if (asprintf(&tmp_csv, "%s.tmp", cfg.output) < 0 || asprintf(&meta_path, "%s.meta.json", cfg.output) < 0 ||
        asprintf(&tmp_meta, "%s.meta.json.tmp", cfg.output) < 0 ||
        asprintf(&pkg_path, "%s.datapackage.json", cfg.output) < 0 ||
        asprintf(&tmp_pkg, "%s.datapackage.json.tmp", cfg.output) < 0) {
        rc = JTM_EXIT_SOFTWARE;
        goto out;
    }
    FILE *csv = open_private(tmp_csv);
    if (!csv) {
        log_error("output_failed", "file=%s error=%s", jtm_log_quote(q, sizeof q, tmp_csv), strerror(errno));
        rc = JTM_EXIT_IOERR;
        goto out;
    }
    jtm_extract_params params = {cfg.study_id, cfg.k, cfg.rare_min};
    jtm_extract_stats stats;
    if (jtm_extract_run(conn, &params, key, csv, &stats, err, sizeof err) != 0) {
        fclose(csv);
        unlink(tmp_csv);
        log_error("extract_failed", "error=%s", jtm_log_quote(q, sizeof q, err));
        rc = jtm_pg_is_broken(conn) ? JTM_EXIT_UNAVAILABLE : JTM_EXIT_FAILURE;
        goto out;
    }
    char sha[65] = "";
    if (finish_file(csv, tmp_csv, cfg.output) != 0 || file_sha256(cfg.output, sha) != 0) {
        log_error("output_failed", "file=%s error=%s", jtm_log_quote(q, sizeof q, cfg.output), strerror(errno));
        rc = JTM_EXIT_IOERR;
        goto out;
    }
    const char *base = strrchr(cfg.output, '/'), *pkg_base = strrchr(pkg_path, '/');
    base = base ? base + 1 : cfg.output;
    pkg_base = pkg_base ? pkg_base + 1 : pkg_path;
    FILE *meta = open_private(tmp_meta);
    int meta_rc = meta ? jtm_extract_write_meta(meta, &params, &stats, base, sha, pkg_base) : -1;
    if (meta && finish_file(meta, tmp_meta, meta_path) != 0)
        meta_rc = -1;
    FILE *pkg = meta_rc == 0 ? open_private(tmp_pkg) : NULL;
    int pkg_rc = pkg ? jtm_codebook_write(pkg, &params, base, sha) : -1;
    if (pkg && finish_file(pkg, tmp_pkg, pkg_path) != 0)
        pkg_rc = -1;
    if (meta_rc != 0 || pkg_rc != 0) {
        unlink(meta_path);
        unlink(pkg_path);
        unlink(cfg.output); /* no extract without its metadata and codebook */
        log_error("output_failed", "file=%s", jtm_log_quote(q, sizeof q, meta_rc ? meta_path : pkg_path));
        rc = JTM_EXIT_IOERR;
        goto out;
    }
    log_info("extract_written", "study=%s k=%lld children=%ld rows=%ld children_suppressed=%ld rows_suppressed=%ld "
                                "classes=%ld classes_suppressed=%ld comparison=%ld residential_kept=%ld/%ld "
                                "crisis_kept=%ld/%ld smallest_match=%ld mean_risk=%.4f",
             jtm_log_quote(q, sizeof q, cfg.study_id), cfg.k, stats.children_written, stats.rows_written,
             stats.children_suppressed, stats.rows_suppressed, stats.classes, stats.classes_suppressed,
             stats.groups[JTM_XG_COMPARISON].children_kept, stats.groups[JTM_XG_RESIDENTIAL].children_kept,
             stats.groups[JTM_XG_RESIDENTIAL].children_read, stats.groups[JTM_XG_CRISIS].children_kept,
             stats.groups[JTM_XG_CRISIS].children_read, stats.smallest_match, stats.mean_risk);
    rc = JTM_EXIT_OK;
out:
    if (conn)
        PQfinish(conn);
    jtm_key_free(key);
    free(conninfo);
    free(tmp_csv);
    free(meta_path);
    free(tmp_meta);
    free(pkg_path);
    free(tmp_pkg);
    jtm_config_free(extract_options, &cfg, &pt);
    jtm_kvlist_free(&cli);
    return rc;
}
