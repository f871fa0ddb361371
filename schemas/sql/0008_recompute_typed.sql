-- The fields wh.recompute_children reads, typed once per event version instead of once per
-- recompute: stored generated columns of staging.event (PostgreSQL fills them on every INSERT and
-- ON CONFLICT UPDATE of apply_batch, and the ALTER backfills the rows already there in one rewrite).
-- The recompute no longer touches the jsonb payload. Dates and amounts stay text here (a text -> date
-- cast is not immutable, and a withdrawal must not be refused for a field the rules never read) and
-- are cast in the recompute, as before; the rules are unchanged. With them: a covering pid index for
-- index-only reads, no whole-table scans, sorts in memory, hex keys compared bytewise (below).

ALTER TABLE staging.event
    ADD COLUMN f_reference text GENERATED ALWAYS AS (payload->>'reference') STORED,
    ADD COLUMN f_allocation_no text GENERATED ALWAYS AS (payload->>'allocation_no') STORED,
    ADD COLUMN f_provider_agb text GENERATED ALWAYS AS (payload->>'provider_agb') STORED,
    ADD COLUMN f_category text GENERATED ALWAYS AS (payload->'product'->>'category') STORED,
    ADD COLUMN f_referrer text GENERATED ALWAYS AS (payload->>'referrer') STORED,
    ADD COLUMN f_answer text GENERATED ALWAYS AS (payload->>'answer') STORED,
    ADD COLUMN f_outcome text GENERATED ALWAYS AS (payload->>'outcome') STORED,
    ADD COLUMN f_allocated_on text GENERATED ALWAYS AS (payload->>'allocated_on') STORED,
    ADD COLUMN f_start_date text GENERATED ALWAYS AS (payload->>'start_date') STORED,
    ADD COLUMN f_end_date text GENERATED ALWAYS AS (payload->>'end_date') STORED,
    ADD COLUMN f_end_reason text GENERATED ALWAYS AS (payload->>'end_reason') STORED,
    ADD COLUMN f_amount_cents text GENERATED ALWAYS AS (payload->>'amount_cents') STORED,
    ADD COLUMN f_debit_credit text GENERATED ALWAYS AS (payload->>'debit_credit') STORED,
    ADD COLUMN f_birth_ym text GENERATED ALWAYS AS (payload->'client'->>'birth_ym') STORED;

COMMENT ON COLUMN staging.event.f_reference IS 'payload reference (SOJ request/allocation link), for the recompute.';
COMMENT ON COLUMN staging.event.f_allocation_no IS 'payload allocation_no, for the recompute.';
COMMENT ON COLUMN staging.event.f_provider_agb IS 'payload provider_agb, for the recompute.';
COMMENT ON COLUMN staging.event.f_category IS 'payload product.category, for the recompute.';
COMMENT ON COLUMN staging.event.f_referrer IS 'payload referrer, for the recompute.';
COMMENT ON COLUMN staging.event.f_answer IS 'payload answer, for the recompute.';
COMMENT ON COLUMN staging.event.f_outcome IS 'payload outcome (JGZ contact), for the recompute.';
COMMENT ON COLUMN staging.event.f_allocated_on IS 'payload allocated_on (ISO date as text), for the recompute.';
COMMENT ON COLUMN staging.event.f_start_date IS 'payload start_date (ISO date as text), for the recompute.';
COMMENT ON COLUMN staging.event.f_end_date IS 'payload end_date (ISO date as text), for the recompute.';
COMMENT ON COLUMN staging.event.f_end_reason IS 'payload end_reason, for the recompute.';
COMMENT ON COLUMN staging.event.f_amount_cents IS 'payload amount_cents, for the recompute.';
COMMENT ON COLUMN staging.event.f_debit_credit IS 'payload debit_credit, for the recompute.';
COMMENT ON COLUMN staging.event.f_birth_ym IS 'payload client.birth_ym, for the recompute.';

-- Everything the recompute reads, in pid order: a child's events are a few adjacent index entries
-- (an index-only scan) instead of one random heap page each. bench/linker.sh, 1,000,000 events,
-- a batch of 4,807 children: the heap read 62,000 pages (84,000 events) outside shared_buffers,
-- 490 ms of the 1.2 s recompute. It serves every lookup by pid, so it replaces event_pid_idx.
CREATE INDEX event_pid_cover_idx ON staging.event (pid)
    INCLUDE (withdrawn, feed, type, occurred_on, recorded_at, event_id, gemeente, f_reference,
             f_allocation_no, f_provider_agb, f_category, f_referrer, f_answer, f_outcome,
             f_allocated_on, f_start_date, f_end_date, f_end_reason, f_amount_cents, f_debit_credit,
             f_birth_ym);
DROP INDEX staging.event_pid_idx;

CREATE OR REPLACE FUNCTION wh.recompute_children(p_pids text[]) RETURNS void
LANGUAGE plpgsql
-- the CTEs' row estimates are guesses; hash joins are right for every join here
SET enable_nestloop = off
-- a batch reads a few thousand children of a table that grows without bound: through the pid indexes,
-- never a whole-table scan per batch (that made a batch's cost grow with the warehouse)
SET enable_seqscan = off
-- the sorts of a 5,000-event batch (tens of thousands of event rows) spilled to disk at 4MB
SET work_mem = '64MB'
AS $fn$
BEGIN
    EXECUTE $q$
    DELETE FROM wh.care_episode WHERE pid = ANY ($1)
    $q$ USING p_pids;
    EXECUTE $q$
    DELETE FROM wh.episode_waiting WHERE pid = ANY ($1)
    $q$ USING p_pids;
    EXECUTE $q$
    DELETE FROM wh.route WHERE pid = ANY ($1)
    $q$ USING p_pids;
    EXECUTE $q$
    DELETE FROM wh.population_fact WHERE pid = ANY ($1)
    $q$ USING p_pids;
    EXECUTE $q$
    WITH ev AS MATERIALIZED (  -- the fields the rules read, from the typed columns (no jsonb here)
        -- the hex keys compare bytewise (COLLATE "C"): the same order for lowercase hex of one
        -- length, without strcoll in every sort and group of the batch
        SELECT e.pid COLLATE "C" AS pid, e.feed, e.type, e.occurred_on, e.recorded_at,
               e.event_id COLLATE "C" AS event_id, e.gemeente,
               e.f_reference COLLATE "C" AS reference, e.f_allocation_no COLLATE "C" AS allocation_no,
               e.f_provider_agb AS provider_agb, e.f_category AS category,
               e.f_referrer AS referrer, e.f_answer AS answer, e.f_outcome AS outcome,
               e.f_allocated_on::date AS allocated_on, e.f_start_date::date AS start_date,
               e.f_end_date::date AS end_date, e.f_end_reason AS end_reason,
               e.f_amount_cents::bigint AS amount_cents, e.f_debit_credit AS debit_credit,
               e.f_birth_ym AS birth_ym
        FROM staging.event e
        WHERE e.pid = ANY ($1) AND NOT e.withdrawn
    ),
    soj AS MATERIALIZED (
        SELECT * FROM ev WHERE feed = 'soj'
    ),
    req AS (  -- the first request per reference
        SELECT DISTINCT ON (pid, reference) pid, reference, occurred_on AS requested_on, gemeente,
               provider_agb, category, referrer
        FROM soj WHERE type = 'request' AND reference IS NOT NULL
        ORDER BY pid, reference, occurred_on, recorded_at, event_id
    ),
    rej AS (
        SELECT pid, reference, min(occurred_on) AS rejected_on
        FROM soj WHERE type = 'answer' AND answer = '1' AND reference IS NOT NULL
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
            min(allocated_on) FILTER (WHERE type = 'allocation') AS allocated_on,
            coalesce(min(start_date) FILTER (WHERE type = 'start'),
                     min(start_date) FILTER (WHERE type = 'stop')) AS started_on,
            (array_agg(end_date ORDER BY occurred_on DESC, recorded_at DESC, event_id DESC)
                FILTER (WHERE type = 'stop'))[1] AS ended_on,
            (array_agg(end_reason ORDER BY occurred_on DESC, recorded_at DESC, event_id DESC)
                FILTER (WHERE type = 'stop'))[1] AS end_reason,
            coalesce(sum(CASE WHEN debit_credit = 'C' THEN -1 ELSE 1 END * amount_cents) FILTER (WHERE type = 'invoice'), 0) AS invoiced_cents
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
        LEFT JOIN (SELECT DISTINCT pid, reference FROM alc WHERE reference IS NOT NULL) x
               ON x.pid = r.pid AND x.reference = r.reference
        WHERE x.pid IS NULL
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
                                OR (type = 'contact' AND outcome = 'verwijzing'))
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
               to_date(birth_ym, 'YYYY-MM') AS birth_month
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
    ) f JOIN child c ON c.pid = f.pid
    $q$ USING p_pids;
END $fn$;
COMMENT ON FUNCTION wh.recompute_children(text[]) IS
    'Rebuilds wh.care_episode, wh.route, wh.episode_waiting and wh.population_fact of the given children from all their non-withdrawn staging events. Idempotent; the linker calls it once per batch.';
