/* The alert episode rule, the one place that says when an alert starts and when it ends. The daemon
 * (state.c) applies it to the latest week of each series with its state kept in PostgreSQL; the
 * backtest (backtest.c) replays it over a whole history. */
#ifndef JTM_ALERT_EPISODE_H
#define JTM_ALERT_EPISODE_H

typedef enum { ALERT_STAY, ALERT_FIRE, ALERT_RESOLVE } alert_action;

/* What a series does in a week: a quiet series fires when the detector alarms and the observed
 * count is at least min_count; a firing series resolves when the detector no longer alarms (an NA
 * week changes nothing). */
static inline alert_action alert_episode_step(int firing, int alarm, double observed, double min_count)
{
    if (!firing && alarm == 1 && observed >= min_count)
        return ALERT_FIRE;
    if (firing && alarm == 0)
        return ALERT_RESOLVE;
    return ALERT_STAY;
}

#endif
