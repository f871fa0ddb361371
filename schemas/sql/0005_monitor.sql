-- Views for monitoring teams and municipalities (design.md; domain.md, the five transformation goals).
-- All are security_invoker views with a gemeente column, so row-level security on the wh tables
-- (migrations 03xx) limits a municipality login to its own rows here too.
-- Months and weeks are calendar dates (first day of the month; Monday of the week).

CREATE VIEW monitor.waiting_list_weekly WITH (security_invoker = true) AS
WITH delta AS (
    -- An episode waits on a Sunday when waiting_from <= Sunday < waiting_until: +1 from the week
    -- of waiting_from, -1 from the week of waiting_until.
    SELECT gemeente, category, date_trunc('week', waiting_from::timestamp)::date AS week_start, 1 AS d
    FROM wh.episode_waiting WHERE gemeente IS NOT NULL AND category IS NOT NULL
    UNION ALL
    SELECT gemeente, category, date_trunc('week', waiting_until::timestamp)::date, -1
    FROM wh.episode_waiting
    WHERE gemeente IS NOT NULL AND category IS NOT NULL AND waiting_until IS NOT NULL
),
per_week AS (
    SELECT gemeente, category, week_start, sum(d) AS d FROM delta GROUP BY gemeente, category, week_start
),
weeks AS (
    SELECT s.gemeente, s.category, w::date AS week_start
    FROM (SELECT gemeente, category, min(week_start) AS first_week FROM per_week GROUP BY gemeente, category) s
    CROSS JOIN LATERAL generate_series(s.first_week::timestamp, date_trunc('week', current_date::timestamp),
                                       interval '1 week') AS w
)
SELECT w.week_start, w.gemeente, w.category,
       (sum(coalesce(p.d, 0)) OVER (PARTITION BY w.gemeente, w.category ORDER BY w.week_start))::integer AS waiting
FROM weeks w
LEFT JOIN per_week p ON p.gemeente = w.gemeente AND p.category = w.category AND p.week_start = w.week_start;
COMMENT ON VIEW monitor.waiting_list_weekly IS
    'Waiting list per Monday-to-Sunday week, municipality and care category: care episodes requested (or, with no request, allocated) on or before the Sunday that by that Sunday were not yet started, rejected, stopped or withdrawn. Weeks with none show 0, from the series'' first week with data to the current week. jtm-alert watches this series.';
COMMENT ON COLUMN monitor.waiting_list_weekly.week_start IS 'Monday of the week; the count is taken on its Sunday.';
COMMENT ON COLUMN monitor.waiting_list_weekly.gemeente IS 'Municipality (CBS code, GM + 4 digits).';
COMMENT ON COLUMN monitor.waiting_list_weekly.category IS 'iJw care category (JZ020).';
COMMENT ON COLUMN monitor.waiting_list_weekly.waiting IS 'Episodes waiting on the Sunday of the week.';

-- Goal 2: who refers to care.
CREATE VIEW monitor.referrer_share_month WITH (security_invoker = true) AS
SELECT month, gemeente, referrer, episodes,
       round(episodes::numeric / sum(episodes) OVER (PARTITION BY month, gemeente), 4) AS share
FROM (SELECT date_trunc('month', allocated_on::timestamp)::date AS month, gemeente, referrer,
             count(*)::integer AS episodes
      FROM wh.care_episode WHERE allocated_on IS NOT NULL
      GROUP BY 1, 2, 3) s;
COMMENT ON VIEW monitor.referrer_share_month IS
    'Goal 2 (demedicalise): allocated care episodes per month of allocation, municipality and referrer, with the share of the month''s allocations. Referrer empty: no linked request.';
COMMENT ON COLUMN monitor.referrer_share_month.month IS 'Month of allocated_on (first day).';
COMMENT ON COLUMN monitor.referrer_share_month.gemeente IS 'Municipality of the episode.';
COMMENT ON COLUMN monitor.referrer_share_month.referrer IS 'COD327: 01 local team, 02 GP, 03 youth doctor, 04 certified institution, 05 medical specialist, 06 self, 08 court; empty without request.';
COMMENT ON COLUMN monitor.referrer_share_month.episodes IS 'Allocated episodes.';
COMMENT ON COLUMN monitor.referrer_share_month.share IS 'episodes / all allocated episodes of the municipality in the month (0-1).';

-- Goals 1 and 3: from first signal to care.
CREATE VIEW monitor.signal_to_care_month WITH (security_invoker = true) AS
SELECT date_trunc('month', first_care_on::timestamp)::date AS month, gemeente,
       count(*)::integer AS children_first_care,
       count(days_signal_to_care)::integer AS with_earlier_signal,
       round(count(days_signal_to_care)::numeric / count(*), 4) AS share_with_earlier_signal,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days_signal_to_care) AS median_days_signal_to_care,
       round(avg(days_signal_to_care), 1) AS avg_days_signal_to_care
FROM wh.route WHERE first_care_on IS NOT NULL
GROUP BY 1, 2;
COMMENT ON VIEW monitor.signal_to_care_month IS
    'Goals 1 and 3: children whose first care started in the month, how many had an earlier JGZ or school-absence signal, and the days from that first signal to care (median, mean).';
COMMENT ON COLUMN monitor.signal_to_care_month.month IS 'Month of first_care_on (first day).';
COMMENT ON COLUMN monitor.signal_to_care_month.gemeente IS 'Municipality of the child (wh.route.gemeente).';
COMMENT ON COLUMN monitor.signal_to_care_month.children_first_care IS 'Children whose first care started in the month.';
COMMENT ON COLUMN monitor.signal_to_care_month.with_earlier_signal IS 'Of those, children with a JGZ or VERZUIM signal before the first care.';
COMMENT ON COLUMN monitor.signal_to_care_month.share_with_earlier_signal IS 'with_earlier_signal / children_first_care (0-1).';
COMMENT ON COLUMN monitor.signal_to_care_month.median_days_signal_to_care IS 'Median days from first signal to first care (children with an earlier signal).';
COMMENT ON COLUMN monitor.signal_to_care_month.avg_days_signal_to_care IS 'Mean days from first signal to first care.';

-- Goal 3: waiting times (decision and start days), per month and per quarter (medians do not add up).
CREATE VIEW monitor.waiting_times_month WITH (security_invoker = true) AS
WITH d AS (
    SELECT date_trunc('month', allocated_on::timestamp)::date AS month, gemeente,
           count(*)::integer AS decisions,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY decision_days) AS median_decision_days,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY decision_days) AS p90_decision_days,
           count(*) FILTER (WHERE decision_days > 56)::integer AS decisions_over_8_weeks
    FROM wh.care_episode WHERE decision_days IS NOT NULL GROUP BY 1, 2
), s AS (
    SELECT date_trunc('month', started_on::timestamp)::date AS month, gemeente,
           count(*)::integer AS starts,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY start_days) AS median_start_days,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY start_days) AS p90_start_days
    FROM wh.care_episode WHERE start_days IS NOT NULL GROUP BY 1, 2
)
SELECT coalesce(d.month, s.month) AS month, coalesce(d.gemeente, s.gemeente) AS gemeente,
       coalesce(d.decisions, 0) AS decisions, d.median_decision_days, d.p90_decision_days,
       coalesce(d.decisions_over_8_weeks, 0) AS decisions_over_8_weeks,
       coalesce(s.starts, 0) AS starts, s.median_start_days, s.p90_start_days
FROM d FULL JOIN s ON s.month = d.month AND s.gemeente = d.gemeente;
COMMENT ON VIEW monitor.waiting_times_month IS
    'Goal 3: decision days (request to allocation) by month of allocation and start days (allocation to start) by month of start: counts, median, 90th percentile, and decisions over the 8-week legal term.';
COMMENT ON COLUMN monitor.waiting_times_month.month IS 'Month (first day): of allocated_on for decisions, of started_on for starts.';
COMMENT ON COLUMN monitor.waiting_times_month.gemeente IS 'Municipality of the episode.';
COMMENT ON COLUMN monitor.waiting_times_month.decisions IS 'Allocations with a linked request in the month.';
COMMENT ON COLUMN monitor.waiting_times_month.median_decision_days IS 'Median decision_days.';
COMMENT ON COLUMN monitor.waiting_times_month.p90_decision_days IS '90th percentile of decision_days.';
COMMENT ON COLUMN monitor.waiting_times_month.decisions_over_8_weeks IS 'Decisions that took more than 56 days.';
COMMENT ON COLUMN monitor.waiting_times_month.starts IS 'Starts of care (with an allocation date) in the month.';
COMMENT ON COLUMN monitor.waiting_times_month.median_start_days IS 'Median start_days.';
COMMENT ON COLUMN monitor.waiting_times_month.p90_start_days IS '90th percentile of start_days.';

CREATE VIEW monitor.waiting_times_quarter WITH (security_invoker = true) AS
WITH d AS (
    SELECT date_trunc('quarter', allocated_on::timestamp)::date AS quarter, gemeente,
           count(*)::integer AS decisions,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY decision_days) AS median_decision_days,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY decision_days) AS p90_decision_days
    FROM wh.care_episode WHERE decision_days IS NOT NULL GROUP BY 1, 2
), s AS (
    SELECT date_trunc('quarter', started_on::timestamp)::date AS quarter, gemeente,
           count(*)::integer AS starts,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY start_days) AS median_start_days,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY start_days) AS p90_start_days
    FROM wh.care_episode WHERE start_days IS NOT NULL GROUP BY 1, 2
)
SELECT coalesce(d.quarter, s.quarter) AS quarter, coalesce(d.gemeente, s.gemeente) AS gemeente,
       coalesce(d.decisions, 0) AS decisions, d.median_decision_days, d.p90_decision_days,
       coalesce(s.starts, 0) AS starts, s.median_start_days, s.p90_start_days
FROM d FULL JOIN s ON s.quarter = d.quarter AND s.gemeente = d.gemeente;
COMMENT ON VIEW monitor.waiting_times_quarter IS 'Goal 3: as monitor.waiting_times_month, per quarter.';
COMMENT ON COLUMN monitor.waiting_times_quarter.quarter IS 'First day of the quarter.';
COMMENT ON COLUMN monitor.waiting_times_quarter.gemeente IS 'Municipality of the episode.';
COMMENT ON COLUMN monitor.waiting_times_quarter.decisions IS 'Allocations with a linked request in the quarter.';
COMMENT ON COLUMN monitor.waiting_times_quarter.median_decision_days IS 'Median decision_days.';
COMMENT ON COLUMN monitor.waiting_times_quarter.p90_decision_days IS '90th percentile of decision_days.';
COMMENT ON COLUMN monitor.waiting_times_quarter.starts IS 'Starts of care in the quarter.';
COMMENT ON COLUMN monitor.waiting_times_quarter.median_start_days IS 'Median start_days.';
COMMENT ON COLUMN monitor.waiting_times_quarter.p90_start_days IS '90th percentile of start_days.';

-- Goal 3: repeat care (CBS "herhaald beroep").
CREATE VIEW monitor.repeat_care_month WITH (security_invoker = true) AS
SELECT date_trunc('month', b.started_on::timestamp)::date AS month, b.gemeente,
       count(*)::integer AS care_starts,
       count(*) FILTER (WHERE r.is_repeat)::integer AS repeat_starts,
       round(count(*) FILTER (WHERE r.is_repeat)::numeric / count(*), 4) AS repeat_share
FROM wh.care_episode b
CROSS JOIN LATERAL (
    SELECT EXISTS (SELECT 1 FROM wh.care_episode a
                   WHERE a.pid = b.pid AND a.ended_on IS NOT NULL AND b.started_on > a.ended_on
                     AND b.started_on <= a.ended_on + interval '5 years') AS is_repeat) r
WHERE b.started_on IS NOT NULL
GROUP BY 1, 2;
COMMENT ON VIEW monitor.repeat_care_month IS
    'Goal 3: care starts per month, and how many were repeat care: the child had an episode that ended at least one day before, and at most five years before, this start.';
COMMENT ON COLUMN monitor.repeat_care_month.month IS 'Month of started_on (first day).';
COMMENT ON COLUMN monitor.repeat_care_month.gemeente IS 'Municipality of the episode.';
COMMENT ON COLUMN monitor.repeat_care_month.care_starts IS 'Episodes that started in the month.';
COMMENT ON COLUMN monitor.repeat_care_month.repeat_starts IS 'Of those, repeat care.';
COMMENT ON COLUMN monitor.repeat_care_month.repeat_share IS 'repeat_starts / care_starts (0-1).';

-- Goal 3: residential share; goal 1: reach of JGZ and school-absence signals.
CREATE VIEW monitor.residential_share_month WITH (security_invoker = true) AS
SELECT month, gemeente,
       sum(children_in_care)::integer AS children_in_care,
       sum(children_in_residential_care)::integer AS children_in_residential_care,
       round(sum(children_in_residential_care)::numeric / nullif(sum(children_in_care), 0), 4) AS residential_share
FROM wh.population_month GROUP BY month, gemeente;
COMMENT ON VIEW monitor.residential_share_month IS
    'Goal 3: children in care and in residential care (43, 44) per month and municipality, ages 0-23.';
COMMENT ON COLUMN monitor.residential_share_month.month IS 'First day of the month.';
COMMENT ON COLUMN monitor.residential_share_month.gemeente IS 'Municipality of the episode.';
COMMENT ON COLUMN monitor.residential_share_month.children_in_care IS 'Children with care running in the month.';
COMMENT ON COLUMN monitor.residential_share_month.children_in_residential_care IS 'Children with residential care running in the month.';
COMMENT ON COLUMN monitor.residential_share_month.residential_share IS 'children_in_residential_care / children_in_care (0-1).';

CREATE VIEW monitor.prevention_month WITH (security_invoker = true) AS
SELECT month, gemeente,
       sum(children_seen_by_jgz)::integer AS children_seen_by_jgz,
       sum(children_with_absence)::integer AS children_with_absence,
       sum(children_in_care)::integer AS children_in_care,
       sum(new_care_starts)::integer AS new_care_starts
FROM wh.population_month GROUP BY month, gemeente;
COMMENT ON VIEW monitor.prevention_month IS
    'Goal 1: children seen by JGZ and children with a school-absence melding per month and municipality, next to care, ages 0-23 (per age band: wh.population_month).';
COMMENT ON COLUMN monitor.prevention_month.month IS 'First day of the month.';
COMMENT ON COLUMN monitor.prevention_month.gemeente IS 'Municipality.';
COMMENT ON COLUMN monitor.prevention_month.children_seen_by_jgz IS 'Children with a JGZ event in the month.';
COMMENT ON COLUMN monitor.prevention_month.children_with_absence IS 'Children with an absence melding in the month.';
COMMENT ON COLUMN monitor.prevention_month.children_in_care IS 'Children with care running in the month.';
COMMENT ON COLUMN monitor.prevention_month.new_care_starts IS 'Care episodes started in the month.';

-- Goal 5: endings as planned vs early.
CREATE VIEW monitor.care_endings_month WITH (security_invoker = true) AS
SELECT date_trunc('month', ended_on::timestamp)::date AS month, gemeente,
       count(*)::integer AS ended,
       count(*) FILTER (WHERE end_reason = '31')::integer AS ended_as_planned,
       count(*) FILTER (WHERE end_reason IN ('32', '33', '34', '35'))::integer AS ended_early,
       count(*) FILTER (WHERE end_reason IS NULL OR end_reason NOT IN ('31', '32', '33', '34', '35'))::integer AS ended_other,
       round(count(*) FILTER (WHERE end_reason IN ('32', '33', '34', '35'))::numeric / count(*), 4) AS early_share
FROM wh.care_episode WHERE ended_on IS NOT NULL
GROUP BY 1, 2;
COMMENT ON VIEW monitor.care_endings_month IS
    'Goal 5: care episodes that ended in the month, as planned (end reason 31) vs early (32 client, 33 provider, 34 agreement, 35 external).';
COMMENT ON COLUMN monitor.care_endings_month.month IS 'Month of ended_on (first day).';
COMMENT ON COLUMN monitor.care_endings_month.gemeente IS 'Municipality of the episode.';
COMMENT ON COLUMN monitor.care_endings_month.ended IS 'Episodes that ended.';
COMMENT ON COLUMN monitor.care_endings_month.ended_as_planned IS 'Ended with reason 31.';
COMMENT ON COLUMN monitor.care_endings_month.ended_early IS 'Ended with reason 32-35.';
COMMENT ON COLUMN monitor.care_endings_month.ended_other IS 'Any other or no reason (death, switch of provider, outflow, ...).';
COMMENT ON COLUMN monitor.care_endings_month.early_share IS 'ended_early / ended (0-1).';

-- Goal 4: one family, one plan: children with care at several providers at the same time.
CREATE VIEW monitor.multi_provider_month WITH (security_invoker = true) AS
WITH ep AS (
    SELECT pid, gemeente, provider_agb, started_on AS s, coalesce(ended_on, current_date) AS e
    FROM wh.care_episode WHERE started_on IS NOT NULL
), overlap AS (
    SELECT a.pid, a.gemeente, greatest(a.s, b.s) AS os, least(a.e, b.e) AS oe
    FROM ep a JOIN ep b ON b.pid = a.pid AND a.provider_agb < b.provider_agb
    WHERE greatest(a.s, b.s) <= least(a.e, b.e)
), in_care AS (
    SELECT m::date AS month, gemeente, count(DISTINCT pid)::integer AS n
    FROM ep CROSS JOIN LATERAL generate_series(date_trunc('month', s::timestamp), date_trunc('month', e::timestamp),
                                               interval '1 month') AS m
    GROUP BY 1, 2
), multi AS (
    SELECT m::date AS month, gemeente, count(DISTINCT pid)::integer AS n
    FROM overlap CROSS JOIN LATERAL generate_series(date_trunc('month', os::timestamp), date_trunc('month', oe::timestamp),
                                                    interval '1 month') AS m
    GROUP BY 1, 2
)
SELECT i.month, i.gemeente, i.n AS children_in_care, coalesce(m.n, 0) AS children_several_providers,
       round(coalesce(m.n, 0)::numeric / i.n, 4) AS several_providers_share
FROM in_care i LEFT JOIN multi m ON m.month = i.month AND m.gemeente = i.gemeente;
COMMENT ON VIEW monitor.multi_provider_month IS
    'Goal 4: children in care per month, and how many had running episodes at two or more providers on the same day within that month.';
COMMENT ON COLUMN monitor.multi_provider_month.month IS 'First day of the month.';
COMMENT ON COLUMN monitor.multi_provider_month.gemeente IS 'Municipality of the episode.';
COMMENT ON COLUMN monitor.multi_provider_month.children_in_care IS 'Children with a started episode running in the month.';
COMMENT ON COLUMN monitor.multi_provider_month.children_several_providers IS 'Children with overlapping episodes at different providers in the month.';
COMMENT ON COLUMN monitor.multi_provider_month.several_providers_share IS 'children_several_providers / children_in_care (0-1).';
