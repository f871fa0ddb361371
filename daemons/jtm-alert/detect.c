#include "detect.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "ears.h"
#include "farrington.h"

_Static_assert(JTM_EARS_ALARM == JTM_FARRINGTON_ALARM && JTM_EARS_NO_ALARM == JTM_FARRINGTON_NO_ALARM,
               "detect prints both detectors' alarms alike");

static void detect_usage(FILE *out)
{
    fprintf(out,
            "usage: jtm-alert detect --method C1|C2|C3 [--alpha A] [--baseline B] [--min-sigma S] < series.csv\n"
            "       jtm-alert detect --method farrington [--preset farrington|noufaily] [--b N] [--w N] ... < series.csv\n"
            "Reads t,count lines (optional header) and prints t,count,upperbound,alarm for each\n"
            "monitored point, as surveillance::earsC or surveillance::farringtonFlexible does.\n"
            "  --method M      C1, C2, C3 (default C1) or farrington (weekly counts, needs 52 b + w + 1 weeks)\n"
            "  --alpha A       upper bound at the 1 - alpha quantile (EARS: 0.001 for C1/C2, 0.025 for C3;\n"
            "                  farrington: 0.05)\n"
            "EARS:\n"
            "  --baseline B    reference points, >= 3 (default 7)\n"
            "  --min-sigma S   floor of the standard deviation (default 0)\n"
            "farrington (farringtonFlexible's control list; options override the preset):\n"
            "  --preset P      farrington (R's defaults) or noufaily (noPeriods 10, pastWeeksNotIncluded 26,\n"
            "                  weightsThreshold 2.58, pThresholdTrend 1, thresholdMethod nbPlugin)\n");
    const jtm_farrington_option *o;
    for (size_t i = 0; (o = jtm_farrington_option_at(i)) != NULL; i++)
        if (strcmp(o->cli, "alpha") != 0)
            fprintf(out, "  --%-24s %s\n", o->cli, o->help);
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

/* The farrington options seen on the command line, applied after the preset. */
#define DETECT_MAX_SETTINGS 64
typedef struct farrington_settings {
    const char *name[DETECT_MAX_SETTINGS], *value[DETECT_MAX_SETTINGS];
    size_t n;
    const char *preset;
} farrington_settings;

#define OPT_FARRINGTON 256

int jtm_alert_detect_main(int argc, char **argv, FILE *in, FILE *out, FILE *err)
{
    static const struct option base[] = {{"method", required_argument, NULL, 'm'},
                                         {"alpha", required_argument, NULL, 'a'},
                                         {"baseline", required_argument, NULL, 'b'},
                                         {"min-sigma", required_argument, NULL, 's'},
                                         {"preset", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'}};
    const size_t nbase = sizeof base / sizeof base[0];
    const jtm_farrington_option *fo;
    struct option longopts[sizeof base / sizeof base[0] + 32 + 1];
    size_t nl = 0;
    for (size_t i = 0; i < nbase; i++)
        longopts[nl++] = base[i];
    for (size_t i = 0; (fo = jtm_farrington_option_at(i)) != NULL && nl < sizeof longopts / sizeof longopts[0] - 1; i++)
        if (strcmp(fo->cli, "alpha") != 0)
            longopts[nl++] = (struct option){fo->cli, required_argument, NULL, OPT_FARRINGTON + (int)i};
    longopts[nl] = (struct option){NULL, 0, NULL, 0};

    jtm_ears_params p = {.method = JTM_EARS_C1};
    jtm_farrington_params fp;
    jtm_farrington_defaults(&fp);
    farrington_settings fs = {.n = 0};
    int farrington = 0, ears_only = 0;
    int c, rc = JTM_EXIT_OK;
    double v;
    char msg[256];
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:a:b:s:h", longopts, NULL)) != -1) {
        if (c >= OPT_FARRINGTON) {
            if (fs.n == DETECT_MAX_SETTINGS) {
                fprintf(err, "jtm-alert detect: too many options\n");
                return JTM_EXIT_USAGE;
            }
            fs.name[fs.n] = jtm_farrington_option_at((size_t)(c - OPT_FARRINGTON))->cli;
            fs.value[fs.n++] = optarg;
            continue;
        }
        switch (c) {
        case 'm':
            farrington = strcasecmp(optarg, "farrington") == 0;
            if (!farrington && jtm_ears_method_parse(optarg, &p.method) != 0) {
                fprintf(err, "jtm-alert detect: --method must be C1, C2, C3 or farrington\n");
                return JTM_EXIT_USAGE;
            }
            break;
        case 'a':
            if (parse_double(optarg, &v) != 0 || !(v > 0 && v < 1)) {
                fprintf(err, "jtm-alert detect: --alpha must be a number in (0, 1)\n");
                return JTM_EXIT_USAGE;
            }
            p.alpha = v;
            fp.alpha = v;
            break;
        case 'b':
            if (parse_double(optarg, &v) != 0 || v < 3 || v > 10000 || v != floor(v)) {
                fprintf(err, "jtm-alert detect: --baseline must be an integer >= 3\n");
                return JTM_EXIT_USAGE;
            }
            p.baseline = (int)v;
            ears_only = 1;
            break;
        case 's':
            if (parse_double(optarg, &v) != 0 || !(v >= 0) || isinf(v)) {
                fprintf(err, "jtm-alert detect: --min-sigma must be a number >= 0\n");
                return JTM_EXIT_USAGE;
            }
            p.min_sigma = v;
            ears_only = 1;
            break;
        case 'p': fs.preset = optarg; break;
        case 'h': detect_usage(out); return JTM_EXIT_OK;
        default: fprintf(err, "jtm-alert detect: try --help\n"); return JTM_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(err, "jtm-alert detect: unexpected argument %s\n", argv[optind]);
        return JTM_EXIT_USAGE;
    }
    if (farrington ? ears_only : (fs.n > 0 || fs.preset != NULL)) {
        fprintf(err, "jtm-alert detect: %s\n",
                farrington ? "--baseline and --min-sigma are for the EARS methods"
                           : "--preset and the farrington options need --method farrington");
        return JTM_EXIT_USAGE;
    }
    if (farrington) {
        double alpha = fp.alpha;
        if (fs.preset && jtm_farrington_preset(&fp, fs.preset, msg, sizeof msg) != 0) {
            fprintf(err, "jtm-alert detect: --%s\n", msg);
            return JTM_EXIT_USAGE;
        }
        fp.alpha = alpha;
        for (size_t i = 0; i < fs.n; i++)
            if (jtm_farrington_set(&fp, fs.name[i], fs.value[i], msg, sizeof msg) != 0) {
                fprintf(err, "jtm-alert detect: --%s\n", msg);
                return JTM_EXIT_USAGE;
            }
        if (jtm_farrington_check(&fp, msg, sizeof msg) != 0) {
            fprintf(err, "jtm-alert detect: %s\n", msg);
            return JTM_EXIT_USAGE;
        }
    } else if (jtm_ears_params_resolve(&p, msg, sizeof msg) != 0) {
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
    long judged = farrington ? jtm_farrington_run(&fp, s.x, s.n, upper, alarm, msg, sizeof msg)
                             : jtm_ears_run(&p, s.x, s.n, upper, alarm, msg, sizeof msg);
    if (judged < 0) {
        fprintf(err, "jtm-alert detect: %s\n", msg);
        rc = farrington ? JTM_EXIT_DATAERR : JTM_EXIT_SOFTWARE;
        goto out;
    }
    fprintf(out, "t,count,upperbound,alarm\n");
    for (size_t i = farrington ? jtm_farrington_first(&fp) : jtm_ears_first(&p); i < s.n; i++) {
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
