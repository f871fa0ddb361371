#include "backtest.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "config.h"
#include "episode.h"
#include "log.h"
#include "pg.h"

const double backtest_band_floor[BACKTEST_BANDS] = {0, 5, 20, 50};

#define WEEKS_PER_YEAR (365.25 / 7.0)
#define LEVEL_WEEKS 8

static int band_of(double level)
{
    int b = 0;
    while (b + 1 < BACKTEST_BANDS && level >= backtest_band_floor[b + 1])
        b++;
    return b;
}

/* Replays the episode rule over x[0..n) with the detector's bounds: the week of each fire goes to
 * fired[] (may be NULL), firing[t] (may be NULL) says whether an episode was open after week t.
 * Returns the number of episodes, or -1 with errstr. */
static long replay(const alert_rules *r, const double *x, size_t n, double *upper, int *alarm, char *fired,
                   char *firing, char *errstr, size_t errlen)
{
    if (alert_detect(r, x, n, upper, alarm, errstr, errlen) < 0)
        return -1;
    long episodes = 0;
    int open = 0;
    for (size_t t = 0; t < n; t++) {
        alert_action a = t >= alert_detect_first(r) ? alert_episode_step(open, alarm[t], x[t], r->min_count)
                                                     : ALERT_STAY;
        if (a == ALERT_FIRE) {
            open = 1;
            episodes++;
        } else if (a == ALERT_RESOLVE) {
            open = 0;
        }
        if (fired)
            fired[t] = a == ALERT_FIRE;
        if (firing)
            firing[t] = (char)open;
    }
    return episodes;
}

static size_t longest(const alert_series_set *set)
{
    size_t m = 1;
    for (size_t i = 0; i < set->count; i++)
        if (set->items[i].n > m)
            m = set->items[i].n;
    return m;
}

int backtest_quiet_run(const alert_rules *r, const alert_series_set *set, backtest_quiet *q, char *errstr,
                       size_t errlen)
{
    memset(q, 0, sizeof *q);
    size_t cap = longest(set), first = alert_detect_first(r);
    double *upper = calloc(cap, sizeof *upper);
    int *alarm = calloc(cap, sizeof *alarm);
    /* Per municipality: episodes and its longest monitored series. */
    char (*gm)[16] = calloc(set->count ? set->count : 1, sizeof *gm);
    long *gm_episodes = calloc(set->count ? set->count : 1, sizeof *gm_episodes);
    size_t *gm_weeks = calloc(set->count ? set->count : 1, sizeof *gm_weeks);
    int rc = -1;
    if (!upper || !alarm || !gm || !gm_episodes || !gm_weeks) {
        snprintf(errstr, errlen, "out of memory");
        goto out;
    }
    size_t ngm = 0;
    for (size_t i = 0; i < set->count; i++) {
        const alert_series *s = &set->items[i];
        long e = replay(r, s->waiting, s->n, upper, alarm, NULL, NULL, errstr, errlen);
        if (e < 0)
            goto out;
        size_t monitored = s->n > first ? s->n - first : 0;
        q->series++;
        q->series_years += (double)monitored / WEEKS_PER_YEAR;
        q->episodes += e;
        size_t g = 0;
        while (g < ngm && strcmp(gm[g], s->gemeente) != 0)
            g++;
        if (g == ngm)
            snprintf(gm[ngm++], sizeof gm[0], "%s", s->gemeente);
        gm_episodes[g] += e;
        if (monitored > gm_weeks[g])
            gm_weeks[g] = monitored;
    }
    q->municipalities = (long)ngm;
    for (size_t g = 0; g < ngm; g++) {
        double years = (double)gm_weeks[g] / WEEKS_PER_YEAR;
        q->municipality_years += years;
        double rate = years > 0 ? (double)gm_episodes[g] / years : 0;
        if (rate > q->max_per_municipality_year) {
            q->max_per_municipality_year = rate;
            snprintf(q->max_gemeente, sizeof q->max_gemeente, "%s", gm[g]);
        }
    }
    rc = 0;
out:
    free(upper);
    free(alarm);
    free(gm);
    free(gm_episodes);
    free(gm_weeks);
    return rc;
}

static unsigned long long next_rand(unsigned long long *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

typedef struct spot {
    size_t series, week;
    int band;
} spot;

long backtest_detect_run(const alert_rules *r, const alert_series_set *set, const backtest_plan *plan,
                         double size_pct, backtest_detect *d, char *errstr, size_t errlen)
{
    memset(d, 0, sizeof *d);
    size_t cap = longest(set), first = alert_detect_first(r);
    if (first < LEVEL_WEEKS)
        first = LEVEL_WEEKS;
    double *upper = calloc(cap, sizeof *upper), *xs = calloc(cap, sizeof *xs);
    int *alarm = calloc(cap, sizeof *alarm);
    char *fired = calloc(cap, 1), *firing = calloc(cap, 1);
    spot *spots = NULL;
    size_t nspots = 0, spots_cap = 0;
    long rc = -1;
    if (!upper || !xs || !alarm || !fired || !firing) {
        snprintf(errstr, errlen, "out of memory");
        goto out;
    }
    /* Where a spike can be planted: weeks at which the unchanged series is quiet and stays so for
     * the weeks a detection may take (else an alarm of the series itself would count). */
    for (size_t i = 0; i < set->count; i++) {
        const alert_series *s = &set->items[i];
        if (replay(r, s->waiting, s->n, upper, alarm, fired, firing, errstr, errlen) < 0)
            goto out;
        for (size_t t = first; t + (size_t)plan->within <= s->n; t++) {
            if (firing[t - 1])
                continue;
            int quiet = 1;
            for (int k = 0; k < plan->within; k++)
                quiet &= !fired[t + (size_t)k];
            if (!quiet)
                continue;
            double level = 0;
            for (size_t k = t - LEVEL_WEEKS; k < t; k++)
                level += s->waiting[k];
            if (nspots == spots_cap) {
                spots_cap = spots_cap ? spots_cap * 2 : 1024;
                spot *ns = realloc(spots, spots_cap * sizeof *ns);
                if (!ns) {
                    snprintf(errstr, errlen, "out of memory");
                    goto out;
                }
                spots = ns;
            }
            spots[nspots++] = (spot){i, t, band_of(level / LEVEL_WEEKS)};
        }
    }
    if (nspots == 0) {
        rc = 0;
        goto out;
    }
    /* plan->trials draws per level band (small series are the many, and would drown the rest), the
     * same draws for every size (the seed restarts), so sizes compare on the same weeks. */
    size_t in_band[BACKTEST_BANDS] = {0}, start[BACKTEST_BANDS] = {0};
    for (size_t i = 0; i < nspots; i++)
        in_band[spots[i].band]++;
    for (int b = 1; b < BACKTEST_BANDS; b++)
        start[b] = start[b - 1] + in_band[b - 1];
    spot *by_band = malloc(nspots * sizeof *by_band);
    if (!by_band) {
        snprintf(errstr, errlen, "out of memory");
        goto out;
    }
    size_t fill[BACKTEST_BANDS];
    memcpy(fill, start, sizeof fill);
    for (size_t i = 0; i < nspots; i++)
        by_band[fill[spots[i].band]++] = spots[i];
    free(spots);
    spots = by_band;
    unsigned long long rnd = plan->seed ? plan->seed : 1;
    for (int b = 0; b < BACKTEST_BANDS; b++) {
        if (!in_band[b])
            continue;
        for (long k = 0; k < plan->trials; k++) {
            size_t i = start[b] + next_rand(&rnd) % in_band[b];
            const spot *p = &spots[i];
            const alert_series *s = &set->items[p->series];
            size_t len = p->week + (size_t)plan->within;
            memcpy(xs, s->waiting, len * sizeof *xs);
            for (int w = 0; w < plan->spike_weeks && p->week + (size_t)w < len; w++)
                xs[p->week + (size_t)w] += round(xs[p->week + (size_t)w] * size_pct / 100.0);
            if (replay(r, xs, len, upper, alarm, fired, NULL, errstr, errlen) < 0)
                goto out;
            d->trials[b]++;
            for (int w = 0; w < plan->within; w++)
                if (fired[p->week + (size_t)w]) {
                    d->detected[b]++;
                    d->delay_sum[b] += w;
                    break;
                }
        }
        d->spots[b] = (long)in_band[b];
    }
    rc = (long)nspots;
out:
    free(upper);
    free(xs);
    free(alarm);
    free(fired);
    free(firing);
    free(spots);
    return rc;
}

/* ---- the command ---- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jtm-alert backtest [-c FILE] [-X key=value ...] [--csv FILE] [--spikes 25,50,100]\n"
            "                          [--spike-weeks 3] [--within 2] [--trials 2000] [--seed 1]\n"
            "Replays the waiting-list history (monitor.waiting_list_weekly, complete weeks; or --csv with\n"
            "gemeente,category,week_start,waiting lines) with jtm-alert's configuration (alert.* keys from\n"
            "-c and -X) and prints how many alert episodes it would have started per series-year and per\n"
            "municipality-year, then plants spikes of each size (+N%% for --spike-weeks weeks) at random\n"
            "quiet weeks of the real series and prints the share detected within --within weeks and the mean\n"
            "delay, per series level (mean of the 8 weeks before the spike).\n");
}

static int parse_sizes(const char *s, backtest_plan *p)
{
    p->nsizes = 0;
    char *copy = strdup(s), *save = NULL;
    if (!copy)
        return -1;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end;
        double v = strtod(t, &end);
        if (end == t || *end || !(v > 0 && v <= 10000) || p->nsizes == sizeof p->sizes / sizeof p->sizes[0]) {
            free(copy);
            return -1;
        }
        p->sizes[p->nsizes++] = v;
    }
    free(copy);
    return p->nsizes ? 0 : -1;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Reads gemeente,category,week_start,waiting lines (a header line is skipped), grouped by series
 * and in week order within each, as monitor.waiting_list_weekly gives them. */
static int load_csv(const char *path, alert_series_set *set, char *errstr, size_t errlen)
{
    memset(set, 0, sizeof *set);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t lcap = 0, cap = 0;
    long lineno = 0;
    int rc = -1;
    while (getline(&line, &lcap, f) != -1) {
        lineno++;
        char g[32], c[16], w[16];
        double v;
        if (sscanf(line, "%31[^,],%15[^,],%15[^,],%lf", g, c, w, &v) != 4 || strlen(w) != 10) {
            if (lineno == 1)
                continue;
            snprintf(errstr, errlen, "%s line %ld: expected gemeente,category,week_start,waiting", path, lineno);
            goto out;
        }
        alert_series *s = set->count ? &set->items[set->count - 1] : NULL;
        if (!s || strcmp(s->gemeente, g) != 0 || strcmp(s->category, c) != 0) {
            if (set->count == cap) {
                cap = cap ? cap * 2 : 64;
                alert_series *ni = realloc(set->items, cap * sizeof *ni);
                if (!ni)
                    goto oom;
                set->items = ni;
            }
            s = &set->items[set->count++];
            memset(s, 0, sizeof *s);
            s->gemeente = strdup(g);
            s->category = strdup(c);
            if (!s->gemeente || !s->category)
                goto oom;
        }
        char(*wk)[11] = realloc(s->week, (s->n + 1) * sizeof *wk);
        double *x = realloc(s->waiting, (s->n + 1) * sizeof *x);
        if (wk)
            s->week = wk;
        if (x)
            s->waiting = x;
        if (!wk || !x)
            goto oom;
        memcpy(s->week[s->n], w, 11);
        s->waiting[s->n++] = v;
    }
    rc = 0;
    goto out;
oom:
    snprintf(errstr, errlen, "out of memory reading %s", path);
out:
    free(line);
    fclose(f);
    if (rc != 0)
        alert_series_set_free(set);
    return rc;
}

int jtm_alert_backtest_main(int argc, char **argv, FILE *out, FILE *err)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"csv", required_argument, NULL, 'f'},
                                             {"spikes", required_argument, NULL, 's'},
                                             {"spike-weeks", required_argument, NULL, 'k'},
                                             {"within", required_argument, NULL, 'w'},
                                             {"trials", required_argument, NULL, 't'},
                                             {"seed", required_argument, NULL, 'r'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    backtest_plan plan = {.sizes = {25, 50, 100}, .nsizes = 3, .spike_weeks = 3, .within = 2, .trials = 2000,
                          .seed = 1};
    const char *config_path = NULL, *csv = NULL;
    jtm_kvlist cli = {0};
    long v;
    int c, rc = JTM_EXIT_USAGE;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:X:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'X':
            if (jtm_config_cli_add(&cli, optarg) != 0) {
                fprintf(err, "jtm-alert backtest: -X expects key=value\n");
                goto done;
            }
            break;
        case 'f': csv = optarg; break;
        case 's':
            if (parse_sizes(optarg, &plan) != 0) {
                fprintf(err, "jtm-alert backtest: --spikes expects up to 8 percentages, e.g. 25,50,100\n");
                goto done;
            }
            break;
        case 'k':
        case 'w':
            if (parse_long(optarg, 1, 52, &v) != 0) {
                fprintf(err, "jtm-alert backtest: --%s expects 1-52 weeks\n", c == 'k' ? "spike-weeks" : "within");
                goto done;
            }
            *(c == 'k' ? &plan.spike_weeks : &plan.within) = (int)v;
            break;
        case 't':
            if (parse_long(optarg, 1, 100000000, &plan.trials) != 0) {
                fprintf(err, "jtm-alert backtest: --trials expects a positive number\n");
                goto done;
            }
            break;
        case 'r':
            if (parse_long(optarg, 1, 0x7fffffffL, &v) != 0) {
                fprintf(err, "jtm-alert backtest: --seed expects a positive number\n");
                goto done;
            }
            plan.seed = (unsigned long long)v;
            break;
        case 'h': usage(out); rc = JTM_EXIT_OK; goto done;
        default: fprintf(err, "jtm-alert backtest: try --help\n"); goto done;
        }
    }
    if (optind < argc) {
        fprintf(err, "jtm-alert backtest: unexpected argument %s\n", argv[optind]);
        goto done;
    }
    jtm_log_init("jtm-alert", JTM_LOG_WARN);
    alert_config cfg = {0};
    jtm_passthrough pt = {0};
    alert_routes routes = {0};
    alert_series_set set = {0};
    alert_rules rules;
    char msg[1024];
    rc = JTM_EXIT_CONFIG;
    if (alert_config_load(&cfg, &pt, &routes, config_path, &cli, msg, sizeof msg) != 0 ||
        alert_rules_init(&rules, &cfg, msg, sizeof msg) != 0) {
        fprintf(err, "jtm-alert backtest: %s\n", msg);
        goto free_cfg;
    }
    if (csv) {
        if (load_csv(csv, &set, msg, sizeof msg) != 0) {
            fprintf(err, "jtm-alert backtest: %s\n", msg);
            rc = JTM_EXIT_DATAERR;
            goto free_cfg;
        }
    } else {
        char *conninfo = jtm_config_pg_conninfo(&pt);
        PGconn *conn = jtm_pg_connect(conninfo, (int)cfg.connect_wait_ms, msg, sizeof msg);
        free(conninfo);
        if (!conn) {
            fprintf(err, "jtm-alert backtest: %s\n", msg);
            rc = JTM_EXIT_UNAVAILABLE;
            goto free_cfg;
        }
        int lr = alert_series_load(conn, 1000000, &set, msg, sizeof msg);
        PQfinish(conn);
        if (lr != 0) {
            fprintf(err, "jtm-alert backtest: %s\n", lr == 1 ? "monitor.waiting_list_weekly does not exist" : msg);
            rc = JTM_EXIT_SOFTWARE;
            goto free_cfg;
        }
    }
    rc = JTM_EXIT_SOFTWARE;
    backtest_quiet q;
    if (backtest_quiet_run(&rules, &set, &q, msg, sizeof msg) != 0) {
        fprintf(err, "jtm-alert backtest: %s\n", msg);
        goto free_cfg;
    }
    if (rules.farrington)
        fprintf(out, "backtest method=farrington settings=%s min_count=%g\n", cfg.farrington, rules.min_count);
    else
        fprintf(out, "backtest method=%s alpha=%g baseline=%d min_sigma=%g min_count=%g\n", alert_method_name(&rules),
                rules.ears.alpha, rules.ears.baseline, rules.ears.min_sigma, rules.min_count);
    fprintf(out, "history: series=%ld municipalities=%ld series_years=%.1f municipality_years=%.1f\n", q.series,
            q.municipalities, q.series_years, q.municipality_years);
    fprintf(out,
            "alarms: episodes=%ld per_series_year=%.3f per_municipality_year=%.2f max_per_municipality_year=%.2f (%s)\n",
            q.episodes, q.series_years > 0 ? q.episodes / q.series_years : 0,
            q.municipality_years > 0 ? q.episodes / q.municipality_years : 0, q.max_per_municipality_year,
            q.max_gemeente[0] ? q.max_gemeente : "-");
    fprintf(out,
            "planted spikes: +size%% for %d weeks, %ld per size and level, detected = an alert within %d weeks\n",
            plan.spike_weeks, plan.trials, plan.within);
    fprintf(out, "%-7s %-9s %8s %8s %8s %7s %10s\n", "size", "level", "weeks", "trials", "detected", "rate",
            "mean_delay");
    for (size_t k = 0; k < plan.nsizes; k++) {
        backtest_detect d;
        long spots = backtest_detect_run(&rules, &set, &plan, plan.sizes[k], &d, msg, sizeof msg);
        if (spots < 0) {
            fprintf(err, "jtm-alert backtest: %s\n", msg);
            goto free_cfg;
        }
        for (int b = 0; b < BACKTEST_BANDS; b++) {
            char level[32];
            if (b + 1 < BACKTEST_BANDS)
                snprintf(level, sizeof level, "%g-%g", backtest_band_floor[b], backtest_band_floor[b + 1]);
            else
                snprintf(level, sizeof level, ">=%g", backtest_band_floor[b]);
            if (d.trials[b])
                fprintf(out, "+%-6g %-9s %8ld %8ld %8ld %6.1f%% %10.2f\n", plan.sizes[k], level, d.spots[b],
                        d.trials[b], d.detected[b], 100.0 * d.detected[b] / d.trials[b],
                        d.detected[b] ? (double)d.delay_sum[b] / d.detected[b] : NAN);
        }
    }
    rc = fflush(out) == 0 ? JTM_EXIT_OK : JTM_EXIT_IOERR;
free_cfg:
    alert_series_set_free(&set);
    alert_config_free(&cfg, &pt, &routes);
done:
    jtm_kvlist_free(&cli);
    return rc;
}
