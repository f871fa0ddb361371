/* Unit tests of jtm-alert backtest (daemons/jtm-alert/backtest.c): the replay counts the episodes
 * the daemon's rule would start, planted spikes are found in large series and not in tiny ones, and
 * the command reads a CSV history and prints its figures. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backtest.h"
#include "testenv.h"

#define WEEKS 160

/* A series of `level` with a deterministic wobble of +-wobble; spikes of `spike` extra waiting at
 * the weeks listed (for 3 weeks each). */
static void make_series(alert_series *s, const char *gm, const char *cat, double level, double wobble,
                        const int *spikes, int nspikes, double spike)
{
    memset(s, 0, sizeof *s);
    s->gemeente = strdup(gm);
    s->category = strdup(cat);
    s->n = WEEKS;
    s->week = calloc(WEEKS, sizeof *s->week);
    s->waiting = calloc(WEEKS, sizeof *s->waiting);
    for (int t = 0; t < WEEKS; t++) {
        snprintf(s->week[t], sizeof s->week[t], "2024-01-%02d", 1 + t % 28); /* labels only */
        s->waiting[t] = level + ((t * 7) % 5 - 2) * wobble / 2.0;
        for (int k = 0; k < nspikes; k++)
            if (t >= spikes[k] && t < spikes[k] + 3)
                s->waiting[t] += spike;
    }
}

static alert_rules default_rules(void)
{
    alert_config cfg = {.method = "C1", .alpha = 0, .baseline = 13, .min_sigma = 2, .min_count = 5,
                        .history_weeks = 52, .series_weeks = 12};
    alert_rules r;
    char err[256];
    cr_assert_eq(alert_rules_init(&r, &cfg, err, sizeof err), 0, "%s", err);
    return r;
}

Test(alert_backtest, replay_counts_the_episodes_the_daemon_would_start)
{
    alert_rules r = default_rules();
    alert_series *items = calloc(2, sizeof *items);
    const int spikes[] = {60, 120};
    make_series(&items[0], "GM0505", "45", 60, 2, spikes, 2, 60);
    make_series(&items[1], "GM0482", "45", 60, 2, NULL, 0, 0);
    alert_series_set set = {.items = items, .count = 2};
    backtest_quiet q;
    char err[256];
    cr_assert_eq(backtest_quiet_run(&r, &set, &q, err, sizeof err), 0, "%s", err);
    cr_assert_eq(q.series, 2);
    cr_assert_eq(q.municipalities, 2);
    cr_assert_eq(q.episodes, 2, "two planted spikes, two episodes (got %ld)", q.episodes);
    cr_assert_str_eq(q.max_gemeente, "GM0505");
    double years = (WEEKS - 13) / (365.25 / 7);
    cr_assert_float_eq(q.series_years, 2 * years, 1e-9);
    cr_assert_float_eq(q.max_per_municipality_year, 2 / years, 1e-9);
    alert_series_set_free(&set);
}

Test(alert_backtest, planted_spikes_found_in_large_series_not_in_tiny_ones)
{
    alert_rules r = default_rules();
    alert_series *items = calloc(2, sizeof *items);
    make_series(&items[0], "GM0505", "45", 80, 2, NULL, 0, 0);
    make_series(&items[1], "GM0505", "46", 2, 2, NULL, 0, 0);
    alert_series_set set = {.items = items, .count = 2};
    backtest_plan plan = {.spike_weeks = 3, .within = 2, .trials = 300, .seed = 7};
    backtest_detect d;
    char err[256];
    long spots = backtest_detect_run(&r, &set, &plan, 50, &d, err, sizeof err);
    cr_assert_gt(spots, 0, "%s", err);
    cr_assert_eq(d.trials[3], 300, "the level-80 series is in the >= 50 band");
    cr_assert_eq(d.detected[3], 300, "+50%% of 80 for 3 weeks is always found at once");
    cr_assert_eq(d.delay_sum[3], 0);
    cr_assert_eq(d.trials[0], 300, "the level-2 series is in the 0-5 band");
    cr_assert_eq(d.detected[0], 0, "+50%% of 2 stays under min_count and min_sigma");
    alert_series_set_free(&set);
}

Test(alert_backtest, command_reads_a_csv_history)
{
    char *dir = jtm_test_tmpdir(), *csv = NULL, *cmd = NULL, *out = NULL;
    cr_assert(asprintf(&csv, "%s/series.csv", dir) > 0);
    FILE *f = fopen(csv, "w");
    fprintf(f, "gemeente,category,week_start,waiting\n");
    for (int t = 0; t < WEEKS; t++)
        fprintf(f, "GM0505,45,2023-%02d-%02d,%d\n", 1 + (t / 28) % 12, 1 + t % 28, 60 + (t % 3) + (t >= 100 && t < 103) * 60);
    fclose(f);
    char *bin = jtm_test_bin("jtm-alert");
    cr_assert(asprintf(&cmd, "'%s' backtest --csv '%s' --spikes 50,100 --trials 50", bin, csv) > 0);
    cr_assert_eq(jtm_test_sh(cmd, &out), 0, "%s", out ? out : "");
    cr_assert_not_null(strstr(out, "backtest method=C1 alpha=0.001 baseline=13 min_sigma=2 min_count=5"), "%s", out);
    cr_assert_not_null(strstr(out, "alarms: episodes=1 "), "%s", out);
    cr_assert_not_null(strstr(out, "+50     >=50"), "%s", out);
    cr_assert_not_null(strstr(out, "+100    >=50"), "%s", out);
    free(out), free(cmd);
    cr_assert(asprintf(&cmd, "'%s' backtest --csv '%s' --spikes x 2>&1", bin, csv) > 0);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 2);
    free(cmd);
    cr_assert(asprintf(&cmd, "'%s' backtest --csv /nonexistent 2>/dev/null", bin) > 0);
    cr_assert_eq(jtm_test_sh(cmd, NULL), 65);
    free(cmd);
    free(bin), free(csv), free(dir);
}

/* alert.method = farrington: the preset and overrides of alert.farrington reach the detector the
 * daemon and the backtest share; bad settings are refused. */
Test(alert_backtest, farrington_rules_from_the_configuration)
{
    alert_config cfg = {.method = "farrington", .farrington = "noufaily,b=2,w=2", .min_count = 5,
                        .history_weeks = 52, .series_weeks = 12};
    alert_rules r;
    char err[256];
    cr_assert_eq(alert_rules_init(&r, &cfg, err, sizeof err), 0, "%s", err);
    cr_assert(r.farrington);
    cr_assert_eq(r.far.b, 2);
    cr_assert_eq(r.far.w, 2);
    cr_assert_eq(r.far.no_periods, 10, "the noufaily preset");
    cr_assert_eq(alert_detect_first(&r), (size_t)(52 * 2 + 2));
    cr_assert_str_eq(alert_method_name(&r), "farrington");
    const char *bad[] = {"nopreset", "noufaily,b", "noufaily,b=0", "noufaily,unknown=1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cfg.farrington = (char *)bad[i];
        cr_assert_eq(alert_rules_init(&r, &cfg, err, sizeof err), -1, "accepted %s", bad[i]);
    }
    cfg.method = "C4";
    cr_assert_eq(alert_rules_init(&r, &cfg, err, sizeof err), -1);
    cr_assert_not_null(strstr(err, "farrington"), "%s", err);
}
