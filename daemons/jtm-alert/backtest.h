/* jtm-alert backtest: replays the warehouse's waiting-list history with a configuration and says
 * how often it would have alarmed (episodes per series-year and per municipality-year), and how
 * well it finds spikes: spikes of several sizes are planted into the real series at random weeks
 * and the detection rate and delay are counted per size and per series level. The episode rule
 * and the detector are the daemon's own (episode.h, state.c's rules), so what the backtest says is
 * what the daemon would have done. */
#ifndef JTM_ALERT_BACKTEST_H
#define JTM_ALERT_BACKTEST_H

#include <stddef.h>
#include <stdio.h>

#include "series.h"
#include "state.h"

typedef struct backtest_plan {
    double sizes[8];   /* spike sizes in percent, e.g. 25, 50, 100 */
    size_t nsizes;
    int spike_weeks;   /* weeks a planted spike lasts */
    int within;        /* detected = an alert fires in the first `within` weeks of the spike */
    long trials;       /* planted spikes per size */
    unsigned long long seed;
} backtest_plan;

/* Series levels (mean of the 8 weeks before a planted spike) the detection figures are split by. */
#define BACKTEST_BANDS 4
extern const double backtest_band_floor[BACKTEST_BANDS]; /* 0, 5, 20, 50 */

typedef struct backtest_quiet {
    long series, municipalities;
    double series_years;       /* monitored weeks / 52.18, summed over series */
    double municipality_years; /* per municipality its longest monitored series, summed */
    long episodes;             /* alert episodes that would have started */
    double max_per_municipality_year;
    char max_gemeente[16];
} backtest_quiet;

typedef struct backtest_detect {
    long spots[BACKTEST_BANDS]; /* weeks a spike could be planted at */
    long trials[BACKTEST_BANDS], detected[BACKTEST_BANDS], delay_sum[BACKTEST_BANDS];
} backtest_detect;

/* Replays every series of set without changes. Returns 0, or -1 with errstr. */
int backtest_quiet_run(const alert_rules *r, const alert_series_set *set, backtest_quiet *q, char *errstr,
                       size_t errlen);
/* Plants plan->trials spikes of size_pct per level band into randomly drawn (series, week) pairs
 * where the unchanged series is quiet and stays quiet for plan->within weeks, and counts
 * detections.
 * Returns the number of eligible pairs (0: nothing to plant into), or -1 with errstr. */
long backtest_detect_run(const alert_rules *r, const alert_series_set *set, const backtest_plan *plan,
                         double size_pct, backtest_detect *d, char *errstr, size_t errlen);

/* jtm-alert backtest [-c FILE] [-X key=value] [--csv FILE] [--spikes 25,50,100] ...: argv[0] is
 * "backtest". Returns an exit code. */
int jtm_alert_backtest_main(int argc, char **argv, FILE *out, FILE *err);

#endif
