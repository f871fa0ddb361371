#include "detect.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ears.h"

static void detect_usage(FILE *out)
{
    fprintf(out,
            "usage: jtm-alert detect --method C1|C2|C3 [--alpha A] [--baseline B] [--min-sigma S] < series.csv\n"
            "Reads t,count lines (optional header) and prints t,count,upperbound,alarm for each\n"
            "monitored point, as surveillance::earsC does.\n"
            "  --method M      C1, C2 or C3 (default C1)\n"
            "  --alpha A       1 - alpha normal quantile (default 0.001 for C1/C2, 0.025 for C3, as earsC)\n"
            "  --baseline B    reference points, >= 3 (default 7)\n"
            "  --min-sigma S   floor of the standard deviation (default 0)\n");
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

typedef struct series_buf {
    char **labels;
    double *x;
    size_t n, cap;
} series_buf;

static void series_buf_free(series_buf *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->labels[i]);
    free(s->labels);
    free(s->x);
}

static int series_buf_push(series_buf *s, const char *label, double v)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **l = realloc(s->labels, cap * sizeof *l);
        if (!l)
            return -1;
        s->labels = l;
        double *x = realloc(s->x, cap * sizeof *x);
        if (!x)
            return -1;
        s->x = x;
        s->cap = cap;
    }
    s->labels[s->n] = strdup(label);
    if (!s->labels[s->n])
        return -1;
    s->x[s->n++] = v;
    return 0;
}

int jtm_alert_detect_main(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    static const struct option longopts[] = {{"method", required_argument, NULL, 'm'},
                                             {"alpha", required_argument, NULL, 'a'},
                                             {"baseline", required_argument, NULL, 'b'},
                                             {"min-sigma", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    jtm_ears_params p = {.method = JTM_EARS_C1};
    int c, rc = JTM_EXIT_OK;
    double v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:a:b:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (jtm_ears_method_parse(optarg, &p.method) != 0) {
                fprintf(err, "jtm-alert detect: --method must be C1, C2 or C3\n");
                return JTM_EXIT_USAGE;
            }
            break;
        case 'a':
            if (parse_double(optarg, &v) != 0 || !(v > 0 && v < 1)) {
                fprintf(err, "jtm-alert detect: --alpha must be a number in (0, 1)\n");
                return JTM_EXIT_USAGE;
            }
            p.alpha = v;
            break;
        case 'b':
            if (parse_double(optarg, &v) != 0 || v < 3 || v > 10000 || v != floor(v)) {
                fprintf(err, "jtm-alert detect: --baseline must be an integer >= 3\n");
                return JTM_EXIT_USAGE;
            }
            p.baseline = (int)v;
            break;
        case 's':
            if (parse_double(optarg, &v) != 0 || !(v >= 0) || isinf(v)) {
                fprintf(err, "jtm-alert detect: --min-sigma must be a number >= 0\n");
                return JTM_EXIT_USAGE;
            }
            p.min_sigma = v;
            break;
        case 'h': detect_usage(out); return JTM_EXIT_OK;
        default: fprintf(err, "jtm-alert detect: try --help\n"); return JTM_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(err, "jtm-alert detect: unexpected argument %s\n", argv[optind]);
        return JTM_EXIT_USAGE;
    }
    char msg[256];
    if (jtm_ears_params_resolve(&p, msg, sizeof msg) != 0) {
        fprintf(err, "jtm-alert detect: %s\n", msg);
        return JTM_EXIT_USAGE;
    }

    series_buf s = {0};
    double *upper = NULL;
    int *alarm = NULL;
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    while (getline(&line, &cap, in) != -1) {
        lineno++;
        char *l = trim(line);
        if (*l == '\0' || *l == '#')
            continue;
        char *comma = strchr(l, ',');
        if (!comma) {
            fprintf(err, "jtm-alert detect: line %ld: expected t,count\n", lineno);
            rc = JTM_EXIT_DATAERR;
            goto out;
        }
        *comma = '\0';
        char *label = trim(l), *count = trim(comma + 1);
        if (parse_double(count, &v) != 0 || !isfinite(v)) {
            if (s.n == 0 && lineno == 1)
                continue; /* header */
            fprintf(err, "jtm-alert detect: line %ld: count is not a finite number\n", lineno);
            rc = JTM_EXIT_DATAERR;
            goto out;
        }
        if (series_buf_push(&s, label, v) != 0) {
            fprintf(err, "jtm-alert detect: out of memory\n");
            rc = JTM_EXIT_SOFTWARE;
            goto out;
        }
    }
    upper = calloc(s.n ? s.n : 1, sizeof *upper);
    alarm = calloc(s.n ? s.n : 1, sizeof *alarm);
    if (!upper || !alarm) {
        rc = JTM_EXIT_SOFTWARE;
        goto out;
    }
    if (jtm_ears_run(&p, s.x, s.n, upper, alarm, msg, sizeof msg) < 0) {
        fprintf(err, "jtm-alert detect: %s\n", msg);
        rc = JTM_EXIT_SOFTWARE;
        goto out;
    }
    fprintf(out, "t,count,upperbound,alarm\n");
    for (size_t i = jtm_ears_first(&p); i < s.n; i++) {
        char ub[40];
        if (isnan(upper[i]))
            snprintf(ub, sizeof ub, "NaN");
        else if (isinf(upper[i]))
            snprintf(ub, sizeof ub, "%sInf", upper[i] < 0 ? "-" : "");
        else
            snprintf(ub, sizeof ub, "%.17g", upper[i]);
        fprintf(out, "%s,%.17g,%s,%s\n", s.labels[i], s.x[i], ub,
                alarm[i] == JTM_EARS_ALARM ? "1" : alarm[i] == JTM_EARS_NO_ALARM ? "0" : "NA");
    }
    if (fflush(out) != 0)
        rc = JTM_EXIT_IOERR;
out:
    free(line);
    free(upper);
    free(alarm);
    series_buf_free(&s);
    return rc;
}
