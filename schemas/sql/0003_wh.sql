-- Linked facts per child (design.md, Warehouse): care episodes, routes, population per month.
-- Every row here is a function of one child's non-withdrawn staging events only, rebuilt by
-- wh.recompute_children(pids) whenever one of that child's events changes, so arrival order,
-- duplicates, corrections and withdrawals never change the result.
-- Every relation a municipality may see has a gemeente column (row-level security comes in 03xx).

CREATE TABLE wh.care_episode (
    pid text NOT NULL,
    gemeente text,
    category text,
    provider_agb text,
    referrer text,
    requested_on date,
    allocated_on date,
    started_on date,
    ended_on date,
    end_reason text,
    rejected boolean NOT NULL DEFAULT false,
    decision_days integer GENERATED ALWAYS AS (allocated_on - requested_on) STORED,
    start_days integer GENERATED ALWAYS AS (started_on - allocated_on) STORED,
    invoiced_cents bigint
);
CREATE INDEX care_episode_pid_idx ON wh.care_episode (pid);
CREATE INDEX care_episode_gemeente_idx ON wh.care_episode (gemeente, category);
COMMENT ON TABLE wh.care_episode IS
    'One row per allocation (SOJ allocation_no), and one per request that never led to an allocation (allocation fields empty). Requests link to allocations through reference; start, stop and invoices through allocation_no. Rebuilt per child from all its events.';
COMMENT ON COLUMN wh.care_episode.pid IS 'Pseudonym of the child.';
COMMENT ON COLUMN wh.care_episode.gemeente IS 'Municipality responsible (client.gemeente of the latest allocation, else of the request).';
COMMENT ON COLUMN wh.care_episode.category IS 'iJw product category (JZ020), e.g. 45 ambulant, 43 residential.';
COMMENT ON COLUMN wh.care_episode.provider_agb IS 'AGB code of the provider.';
COMMENT ON COLUMN wh.care_episode.referrer IS 'Referrer of the linked request (COD327: 01 local team, 02 GP, 03 youth doctor, 04 certified institution, 05 medical specialist, 06 self, 08 court); empty without a request.';
COMMENT ON COLUMN wh.care_episode.requested_on IS 'Date of the linked request (its occurred_on), if any.';
COMMENT ON COLUMN wh.care_episode.allocated_on IS 'Toewijzingsdatum of the allocation (the earliest when the allocation was sent more than once).';
COMMENT ON COLUMN wh.care_episode.started_on IS 'Start of care (JW305 start_date, else the start_date of the stop message).';
COMMENT ON COLUMN wh.care_episode.ended_on IS 'End of care (end_date of the latest stop message).';
COMMENT ON COLUMN wh.care_episode.end_reason IS 'JZ588 end reason of the latest stop: 31 as planned, 32-35 early, others see contracts.md.';
COMMENT ON COLUMN wh.care_episode.rejected IS 'The request was rejected (an answer "1" exists) and no allocation followed.';
COMMENT ON COLUMN wh.care_episode.decision_days IS 'allocated_on - requested_on, in days.';
COMMENT ON COLUMN wh.care_episode.start_days IS 'started_on - allocated_on, in days.';
COMMENT ON COLUMN wh.care_episode.invoiced_cents IS 'Invoiced amount: debits minus credits, in euro cents (0 for an allocation without invoices, empty without allocation).';

CREATE TABLE wh.route (
    pid text PRIMARY KEY,
    gemeente text,
    path text,
    first_signal_on date,
    first_care_on date,
    days_signal_to_care integer GENERATED ALWAYS AS (
        CASE WHEN first_signal_on < first_care_on THEN first_care_on - first_signal_on END) STORED,
    episodes integer NOT NULL DEFAULT 0,
    repeat_care boolean NOT NULL DEFAULT false
);
CREATE INDEX route_gemeente_idx ON wh.route (gemeente);
COMMENT ON TABLE wh.route IS 'One row per child that has at least one (non-withdrawn) event: the child''s route through JGZ, school absence and care.';
COMMENT ON COLUMN wh.route.pid IS 'Pseudonym of the child.';
COMMENT ON COLUMN wh.route.gemeente IS 'Municipality of the child''s latest event (by occurred_on, then recorded_at).';
COMMENT ON COLUMN wh.route.path IS 'Stage events in date order, equal neighbours merged, joined by >: JGZ (signal, referral, mazl, contact with outcome verwijzing), VERZUIM (absence melding), and per started episode its level AMB (41, 45), GGZ (51, 52, 54), VERBLIJF (43, 44), CRISIS (46), JB (48), JR (47), OVERIG. Same date: JGZ, then VERZUIM, then care. Empty when none.';
COMMENT ON COLUMN wh.route.first_signal_on IS 'Date of the first JGZ or VERZUIM stage event.';
COMMENT ON COLUMN wh.route.first_care_on IS 'Date of the first start of care.';
COMMENT ON COLUMN wh.route.days_signal_to_care IS 'first_care_on - first_signal_on; empty unless the first signal came before the first care.';
COMMENT ON COLUMN wh.route.episodes IS 'Number of started care episodes.';
COMMENT ON COLUMN wh.route.repeat_care IS 'True when a care episode started at least one day after an earlier episode of the child had ended, and within five years of that end.';

-- Internal: the waiting interval of each episode, for monitor.waiting_list_weekly (it needs the
-- rejection date, which wh.care_episode does not carry).
CREATE TABLE wh.episode_waiting (
    pid text NOT NULL,
    gemeente text,
    category text,
    waiting_from date NOT NULL,
    waiting_until date,
    CHECK (waiting_until IS NULL OR waiting_until > waiting_from)
);
CREATE INDEX episode_waiting_pid_idx ON wh.episode_waiting (pid);
COMMENT ON TABLE wh.episode_waiting IS
    'Internal (feeds monitor.waiting_list_weekly): per care episode that waited at least one day, the days it was on the waiting list, [waiting_from, waiting_until).';
COMMENT ON COLUMN wh.episode_waiting.pid IS 'Pseudonym of the child.';
COMMENT ON COLUMN wh.episode_waiting.gemeente IS 'Municipality of the episode.';
COMMENT ON COLUMN wh.episode_waiting.category IS 'Category of the episode.';
COMMENT ON COLUMN wh.episode_waiting.waiting_from IS 'requested_on, or allocated_on when there is no request.';
COMMENT ON COLUMN wh.episode_waiting.waiting_until IS 'First of started_on, ended_on and the rejection date; empty while still waiting.';

-- Internal: per child the facts wh.population_month counts, one row per JGZ month, absence month
-- and started care episode; ongoing care runs to the current month when the view is read.
CREATE TABLE wh.population_fact (
    pid text NOT NULL,
    gemeente text,
    birth_month date,
    kind text NOT NULL CHECK (kind IN ('jgz', 'absence', 'care')),
    from_month date NOT NULL,
    to_month date,
    residential boolean NOT NULL DEFAULT false
);
CREATE INDEX population_fact_pid_idx ON wh.population_fact (pid);
COMMENT ON TABLE wh.population_fact IS
    'Internal (feeds wh.population_month): a child''s JGZ months, absence-melding months and started care episodes.';
COMMENT ON COLUMN wh.population_fact.pid IS 'Pseudonym of the child.';
COMMENT ON COLUMN wh.population_fact.gemeente IS 'Municipality of the event or episode.';
COMMENT ON COLUMN wh.population_fact.birth_month IS 'First day of the child''s birth month (client.birth_ym of its latest event).';
COMMENT ON COLUMN wh.population_fact.kind IS 'jgz (seen by JGZ), absence (absence melding) or care (a started episode).';
COMMENT ON COLUMN wh.population_fact.from_month IS 'First month (first day) the fact counts in.';
COMMENT ON COLUMN wh.population_fact.to_month IS 'Last month it counts in; empty: up to the current month (care not yet ended).';
COMMENT ON COLUMN wh.population_fact.residential IS 'Care in category 43 or 44 (residential).';

CREATE VIEW wh.population_month WITH (security_invoker = true) AS
SELECT m.month::date AS month,
       f.gemeente,
       CASE WHEN x.age < 4 THEN '0-3' WHEN x.age < 12 THEN '4-11' WHEN x.age < 18 THEN '12-17' ELSE '18-23' END AS age_band,
       count(DISTINCT f.pid) FILTER (WHERE f.kind = 'jgz')::integer AS children_seen_by_jgz,
       count(DISTINCT f.pid) FILTER (WHERE f.kind = 'absence')::integer AS children_with_absence,
       count(DISTINCT f.pid) FILTER (WHERE f.kind = 'care')::integer AS children_in_care,
       count(DISTINCT f.pid) FILTER (WHERE f.kind = 'care' AND f.residential)::integer AS children_in_residential_care,
       count(*) FILTER (WHERE f.kind = 'care' AND m.month = f.from_month)::integer AS new_care_starts
FROM wh.population_fact f
CROSS JOIN LATERAL generate_series(f.from_month::timestamp,
                                   coalesce(f.to_month, date_trunc('month', current_date)::date)::timestamp,
                                   interval '1 month') AS m(month)
CROSS JOIN LATERAL (SELECT date_part('year', age(m.month, f.birth_month::timestamp))::integer AS age) AS x
WHERE x.age BETWEEN 0 AND 23
GROUP BY 1, 2, 3;
COMMENT ON VIEW wh.population_month IS
    'Per month, municipality and age band: children seen by JGZ, with an absence melding, in care, in residential care, and new care starts. Rows only where something happened. Exact under corrections: derived from wh.population_fact at read time.';
COMMENT ON COLUMN wh.population_month.month IS 'First day of the month.';
COMMENT ON COLUMN wh.population_month.gemeente IS 'Municipality of the event or episode.';
COMMENT ON COLUMN wh.population_month.age_band IS 'Age in whole years at the first day of the month (from birth_ym): 0-3, 4-11, 12-17, 18-23; other ages are left out.';
COMMENT ON COLUMN wh.population_month.children_seen_by_jgz IS 'Children with any JGZ event (contact, signal, referral, mazl) in the month.';
COMMENT ON COLUMN wh.population_month.children_with_absence IS 'Children with an absence melding dated in the month.';
COMMENT ON COLUMN wh.population_month.children_in_care IS 'Children with a care episode running in the month (started, not ended before the month).';
COMMENT ON COLUMN wh.population_month.children_in_residential_care IS 'Children with a residential episode (43, 44) running in the month.';
COMMENT ON COLUMN wh.population_month.new_care_starts IS 'Care episodes that started in the month.';

CREATE FUNCTION wh.care_level(category text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN category IN ('41', '45') THEN 'AMB'
        WHEN category IN ('51', '52', '54') THEN 'GGZ'
        WHEN category IN ('43', '44') THEN 'VERBLIJF'
        WHEN category = '46' THEN 'CRISIS'
        WHEN category = '48' THEN 'JB'
        WHEN category = '47' THEN 'JR'
        ELSE 'OVERIG' END
$$;
COMMENT ON FUNCTION wh.care_level(text) IS 'Route level of a care category: AMB, GGZ, VERBLIJF, CRISIS, JB, JR or OVERIG.';

-- Rebuilds every linked fact of the given children from all their non-withdrawn staging events.
-- Set-based: one pass for a whole batch. Deterministic: every "latest" pick orders by
-- (occurred_on, recorded_at, event_id), so the result depends on the set of events only.
CREATE FUNCTION wh.recompute_children(p_pids text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM wh.care_episode WHERE pid = ANY (p_pids);
    DELETE FROM wh.episode_waiting WHERE pid = ANY (p_pids);
    DELETE FROM wh.route WHERE pid = ANY (p_pids);
    DELETE FROM wh.population_fact WHERE pid = ANY (p_pids);

    WITH ev AS MATERIALIZED (
        SELECT e.pid, e.feed, e.type, e.occurred_on, e.recorded_at, e.event_id, e.gemeente, e.payload
        FROM staging.event e
        WHERE e.pid = ANY (p_pids) AND NOT e.withdrawn
    ),
    soj AS MATERIALIZED (
        SELECT pid, type, occurred_on, recorded_at, event_id, gemeente, payload,
               payload->>'reference' AS reference,
               payload->>'allocation_no' AS allocation_no,
               payload->>'provider_agb' AS provider_agb,
               payload->'product'->>'category' AS category
        FROM ev WHERE feed = 'soj'
    ),
    req AS (  -- the first request per reference
        SELECT DISTINCT ON (pid, reference) pid, reference, occurred_on AS requested_on, gemeente,
               provider_agb, category, payload->>'referrer' AS referrer
        FROM soj WHERE type = 'request' AND reference IS NOT NULL
        ORDER BY pid, reference, occurred_on, recorded_at, event_id
    ),
    rej AS (
        SELECT pid, reference, min(occurred_on) AS rejected_on
        FROM soj WHERE type = 'answer' AND payload->>'answer' = '1' AND reference IS NOT NULL
        GROUP BY pid, reference
    ),
    alc AS (  -- per allocation_no, from its allocation, start, stop and invoice events
        SELECT pid, allocation_no,
            (array_agg(reference ORDER BY occurred_on DESC, recorded_at DESC, event_id DESC)
                FILTER (WHERE type = 'allocation' AND reference IS NOT NULL))[1] AS reference,
            (array_agg(provider_agb ORDER BY occurred_on DESC, recorded_at DESC, event_id DESC)
                FILTER (WHERE type = 'allocation' AND provider_agb IS NOT NULL))[1] AS provider_agb,
            (array_agg(category ORDER BY (type = 'allocation') DESC, occurred_on DESC, recorded_at DESC, event_id DESC)
                FILTER (WHERE category IS NOT NULL))[1] AS category,
            (array_agg(gemeente ORDER BY (type = 'allocation') DESC, occurred_on DESC, recorded_at DESC, event_id DESC))[1] AS gemeente,
            (array_agg(gemeente ORDER BY occurred_on DESC, recorded_at DESC, event_id DESC)
                FILTER (WHERE type = 'allocation'))[1] AS alloc_gemeente,
            min((payload->>'allocated_on')::date) FILTER (WHERE type = 'allocation') AS allocated_on,
            coalesce(min((payload->>'start_date')::date) FILTER (WHERE type = 'start'),
                     min((payload->>'start_date')::date) FILTER (WHERE type = 'stop')) AS started_on,
            (array_agg((payload->>'end_date')::date ORDER BY occurred_on DESC, recorded_at DESC, event_id DESC)
                FILTER (WHERE type = 'stop'))[1] AS ended_on,
            (array_agg(payload->>'end_reason' ORDER BY occurred_on DESC, recorded_at DESC, event_id DESC)
                FILTER (WHERE type = 'stop'))[1] AS end_reason,
            coalesce(sum(CASE WHEN payload->>'debit_credit' = 'C' THEN -1 ELSE 1 END
                         * (payload->>'amount_cents')::bigint) FILTER (WHERE type = 'invoice'), 0) AS invoiced_cents
        FROM soj
        WHERE allocation_no IS NOT NULL AND type IN ('allocation', 'start', 'stop', 'invoice')
        GROUP BY pid, allocation_no
    ),
    ep AS MATERIALIZED (
        SELECT a.pid, coalesce(a.alloc_gemeente, r.gemeente, a.gemeente) AS gemeente,
               coalesce(a.category, r.category) AS category,
               coalesce(a.provider_agb, r.provider_agb) AS provider_agb,
               r.referrer, r.requested_on, a.allocated_on, a.started_on, a.ended_on, a.end_reason,
               false AS rejected, NULL::date AS rejected_on, a.invoiced_cents
        FROM alc a LEFT JOIN req r ON r.pid = a.pid AND r.reference = a.reference
        UNION ALL
        SELECT r.pid, r.gemeente, r.category, r.provider_agb, r.referrer, r.requested_on,
               NULL, NULL, NULL, NULL, j.rejected_on IS NOT NULL, j.rejected_on, NULL
        FROM req r LEFT JOIN rej j ON j.pid = r.pid AND j.reference = r.reference
        WHERE NOT EXISTS (SELECT 1 FROM alc a WHERE a.pid = r.pid AND a.reference = r.reference)
    ),
    ins_ep AS (
        INSERT INTO wh.care_episode (pid, gemeente, category, provider_agb, referrer, requested_on,
                                     allocated_on, started_on, ended_on, end_reason, rejected, invoiced_cents)
        SELECT pid, gemeente, category, provider_agb, referrer, requested_on, allocated_on, started_on,
               ended_on, end_reason, rejected, invoiced_cents
        FROM ep
    ),
    ins_wait AS (
        INSERT INTO wh.episode_waiting (pid, gemeente, category, waiting_from, waiting_until)
        SELECT pid, gemeente, category, w.f, w.u
        FROM ep CROSS JOIN LATERAL (SELECT coalesce(requested_on, allocated_on) AS f,
                                           least(started_on, ended_on, rejected_on) AS u) w
        WHERE w.f IS NOT NULL AND (w.u IS NULL OR w.u > w.f)
    ),
    stage AS (
        SELECT pid, occurred_on AS d, 1 AS rank, 'JGZ' AS stage FROM ev
        WHERE feed = 'jgz' AND (type IN ('signal', 'referral', 'mazl')
                                OR (type = 'contact' AND payload->>'outcome' = 'verwijzing'))
        UNION ALL
        SELECT pid, occurred_on, 2, 'VERZUIM' FROM ev WHERE feed = 'verzuim' AND type = 'melding'
        UNION ALL
        SELECT pid, started_on, 3, wh.care_level(category) FROM ep WHERE started_on IS NOT NULL
    ),
    staged AS (
        SELECT s.*, lag(stage) OVER (PARTITION BY pid ORDER BY d, rank, stage) AS prev FROM stage s
    ),
    paths AS (
        SELECT pid,
               string_agg(stage, '>' ORDER BY d, rank, stage) FILTER (WHERE prev IS DISTINCT FROM stage) AS path,
               min(d) FILTER (WHERE rank < 3) AS first_signal_on,
               min(d) FILTER (WHERE rank = 3) AS first_care_on,
               count(*) FILTER (WHERE rank = 3)::integer AS episodes
        FROM staged GROUP BY pid
    ),
    rep AS (
        SELECT DISTINCT b.pid
        FROM ep a JOIN ep b ON b.pid = a.pid
        WHERE a.ended_on IS NOT NULL AND b.started_on IS NOT NULL
          AND b.started_on > a.ended_on AND b.started_on <= a.ended_on + interval '5 years'
    ),
    child AS (  -- gemeente and birth month of the child's latest event
        SELECT DISTINCT ON (pid) pid, gemeente,
               to_date(payload->'client'->>'birth_ym', 'YYYY-MM') AS birth_month
        FROM ev ORDER BY pid, occurred_on DESC, recorded_at DESC, event_id DESC
    ),
    ins_route AS (
        INSERT INTO wh.route (pid, gemeente, path, first_signal_on, first_care_on, episodes, repeat_care)
        SELECT c.pid, c.gemeente, p.path, p.first_signal_on, p.first_care_on, coalesce(p.episodes, 0),
               r.pid IS NOT NULL
        FROM child c LEFT JOIN paths p ON p.pid = c.pid LEFT JOIN rep r ON r.pid = c.pid
    )
    INSERT INTO wh.population_fact (pid, gemeente, birth_month, kind, from_month, to_month, residential)
    SELECT f.pid, f.gemeente, c.birth_month, f.kind, f.from_month, f.to_month, f.residential
    FROM (
        SELECT DISTINCT pid, gemeente, 'jgz' AS kind, date_trunc('month', occurred_on)::date AS from_month,
               date_trunc('month', occurred_on)::date AS to_month, false AS residential
        FROM ev WHERE feed = 'jgz'
        UNION ALL
        SELECT DISTINCT pid, gemeente, 'absence', date_trunc('month', occurred_on)::date,
               date_trunc('month', occurred_on)::date, false
        FROM ev WHERE feed = 'verzuim' AND type = 'melding'
        UNION ALL
        SELECT pid, gemeente, 'care', date_trunc('month', started_on)::date,
               date_trunc('month', ended_on)::date, category IN ('43', '44')
        FROM ep WHERE started_on IS NOT NULL
    ) f JOIN child c ON c.pid = f.pid;
END $$;
COMMENT ON FUNCTION wh.recompute_children(text[]) IS
    'Rebuilds wh.care_episode, wh.route, wh.episode_waiting and wh.population_fact of the given children from all their non-withdrawn staging events. Idempotent; the linker calls it once per batch.';
