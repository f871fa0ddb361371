-- wh.recompute_children without reading every invoice of a child again on every batch; the rules
-- (0003, 0008, 0009) and the rows they give are unchanged.
-- Before: each batch re-read all non-withdrawn events of every touched child, and most of them are
-- the monthly SOJ invoices of its allocations (447,000 of the 994,000 events of bench/linker.sh),
-- which only add up: of an allocation's invoices the rules use the signed sum of amount_cents, that
-- there is one (an allocation known only from invoices is still an episode), and the latest one by
-- (occurred_on, recorded_at, event_id) as fallback for gemeente and category and as a candidate for
-- the child's latest event (gemeente, birth month). So a child's cost grew with its invoice history.
-- Now:
--  * staging.invoice_summary keeps, per (pid, allocation_no), the number and signed sum of the
--    non-withdrawn allocation-linked invoices and the latest one's key, gemeente and birth_ym (and
--    the latest one with a category). Statement triggers on staging.event keep it in the writing
--    statement's transaction, whatever writes (apply_batch, load_ndjson, a repair by hand): added
--    versions add and move the picks forward; a removed version (replaced, withdrawn, deleted)
--    subtracts, and the picks of its allocation are taken again from the stored invoices (an index
--    probe; rare: corrections). TRUNCATE empties it.
--  * recompute_children reads the child's events without those invoices, plus one row per
--    allocation from the summary (two when the latest invoice has no category), and applies the
--    same rules unchanged to that.
--  * the covering pid index leaves the invoices out (partial), so neither the recompute reads them
--    nor does an invoice insert write its wide entry; a narrow (pid, allocation_no) index serves the
--    probe. recompute_all lists the children once, as no index holds every event's pid any more.
-- Equality: on a warehouse loaded by bench/linker.sh, the incrementally maintained rows equal a
-- from-scratch rebuild (summary and the four tables, EXCEPT ALL both ways), and equal the rows of
-- 0009's rules, also after extra batches of invoice corrections, withdrawals, duplicates and moves
-- of invoices between allocations and children.
-- Measured (2-core machine shared with other work; NOT KEPT, reverted in the next commit):
--  * a 17,000-event batch on a full benchmark warehouse (apply_batch, rolled back, 3 runs each):
--    3.7-4.0 s before, 2.4-2.6 s after; its derivation statement 3.1 s -> 1.6 s.
--  * bench/linker.sh, whole run: 8,994 / 12,457 / 13,709 events/s against 10,492 / 11,408 /
--    13,607 at the branch point, alternated in the same hour: within the run-to-run spread. A
--    single-session replay of the benchmark's batches (3 pid-disjoint streams in recorded_at order,
--    20,000 per batch) took 116.0 / 107.6 s against 98.7 / 117.0 s: the first batches cost 10-40%
--    more (children still have few invoices, and the summary and its triggers cost), the last ones
--    15-25% less.
CREATE TABLE staging.invoice_summary (
    pid text NOT NULL,
    allocation_no text COLLATE "C" NOT NULL,
    invoices integer NOT NULL,
    invoiced_cents numeric NOT NULL,
    last_on date NOT NULL,
    last_at timestamptz NOT NULL,
    last_event_id text COLLATE "C" NOT NULL,
    gemeente text,
    birth_ym text,
    cat_on date,
    cat_at timestamptz,
    cat_event_id text COLLATE "C",
    category text,
    PRIMARY KEY (pid, allocation_no)
);
COMMENT ON TABLE staging.invoice_summary IS
    'Internal (wh.recompute_children): per child and allocation number, its non-withdrawn SOJ invoices (type invoice with an allocation_no) in short: count, signed sum and the latest one. Kept by statement triggers on staging.event in the same transaction; staging.invoice_summary_rebuild() makes it again from staging.event.';
COMMENT ON COLUMN staging.invoice_summary.pid IS 'Pseudonym of the child.';
COMMENT ON COLUMN staging.invoice_summary.allocation_no IS 'SOJ allocation number the invoices name.';
COMMENT ON COLUMN staging.invoice_summary.invoices IS 'Number of non-withdrawn invoices (always > 0: a row goes when its last invoice goes).';
COMMENT ON COLUMN staging.invoice_summary.invoiced_cents IS 'Debits minus credits of those invoices (amount_cents; C counts negative), in euro cents.';
COMMENT ON COLUMN staging.invoice_summary.last_on IS 'occurred_on of the latest invoice (by occurred_on, recorded_at, event_id).';
COMMENT ON COLUMN staging.invoice_summary.last_at IS 'recorded_at of the latest invoice.';
COMMENT ON COLUMN staging.invoice_summary.last_event_id IS 'event_id of the latest invoice.';
COMMENT ON COLUMN staging.invoice_summary.gemeente IS 'gemeente of the latest invoice.';
COMMENT ON COLUMN staging.invoice_summary.birth_ym IS 'client.birth_ym of the latest invoice (text, as f_birth_ym).';
COMMENT ON COLUMN staging.invoice_summary.cat_on IS 'occurred_on of the latest invoice that has a product category; empty when none has.';
COMMENT ON COLUMN staging.invoice_summary.cat_at IS 'recorded_at of the latest invoice with a category.';
COMMENT ON COLUMN staging.invoice_summary.cat_event_id IS 'event_id of the latest invoice with a category.';
COMMENT ON COLUMN staging.invoice_summary.category IS 'product.category of the latest invoice with a category.';

-- The recompute reads a child's events without its allocation-linked invoices (the summary stands
-- in for them), so the covering pid index leaves them out; the invoices get a narrow index of their
-- own for the rare re-pick after a replaced or withdrawn invoice.
CREATE INDEX event_pid_noinv_idx ON staging.event (pid)
    INCLUDE (withdrawn, feed, type, occurred_on, recorded_at, event_id, gemeente, f_reference,
             f_allocation_no, f_provider_agb, f_category, f_referrer, f_answer, f_outcome,
             f_allocated_on, f_start_date, f_end_date, f_end_reason, f_amount_cents, f_debit_credit,
             f_birth_ym)
    WHERE NOT (feed = 'soj' AND type = 'invoice' AND f_allocation_no IS NOT NULL);
CREATE INDEX event_invoice_idx ON staging.event (pid, f_allocation_no)
    WHERE feed = 'soj' AND type = 'invoice' AND f_allocation_no IS NOT NULL;
DROP INDEX staging.event_pid_cover_idx;
COMMENT ON INDEX staging.event_pid_noinv_idx IS
    'Everything wh.recompute_children reads of a child''s events other than its allocation-linked invoices (those are in staging.invoice_summary), for index-only reads by pid.';
COMMENT ON INDEX staging.event_invoice_idx IS
    'Allocation-linked invoices by child and allocation: the re-pick of staging.invoice_summary after a replaced or withdrawn invoice.';

-- The summary of every allocation from staging.event (the migration, and to check the incremental one).
CREATE FUNCTION staging.invoice_summary_rebuild() RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    v_n integer;
BEGIN
    TRUNCATE staging.invoice_summary;
    INSERT INTO staging.invoice_summary
    SELECT pid, allocation_no, count(*)::integer,
           coalesce(sum(CASE WHEN debit_credit = 'C' THEN -1 ELSE 1 END * amount_cents), 0),
           (array_agg(occurred_on))[1], (array_agg(recorded_at))[1], (array_agg(event_id))[1],
           (array_agg(gemeente))[1], (array_agg(birth_ym))[1],
           (array_agg(occurred_on) FILTER (WHERE category IS NOT NULL))[1],
           (array_agg(recorded_at) FILTER (WHERE category IS NOT NULL))[1],
           (array_agg(event_id) FILTER (WHERE category IS NOT NULL))[1],
           (array_agg(category) FILTER (WHERE category IS NOT NULL))[1]
    FROM (SELECT e.pid, e.f_allocation_no COLLATE "C" AS allocation_no, e.occurred_on, e.recorded_at,
                 e.event_id COLLATE "C" AS event_id, e.gemeente, e.f_birth_ym AS birth_ym,
                 e.f_category AS category, e.f_debit_credit AS debit_credit,
                 e.f_amount_cents::bigint AS amount_cents
          FROM staging.event e
          WHERE e.feed = 'soj' AND e.type = 'invoice' AND e.f_allocation_no IS NOT NULL AND NOT e.withdrawn
          ORDER BY 1, 2, occurred_on DESC, recorded_at DESC, event_id DESC) s
    GROUP BY pid, allocation_no;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_n;
END $fn$;
COMMENT ON FUNCTION staging.invoice_summary_rebuild() IS
    'Makes staging.invoice_summary again from staging.event (the migration fills it so; a check of the incrementally kept rows compares against it). Returns the number of rows.';

CREATE FUNCTION staging.invoice_summary_trigger() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    v_cols constant text := 'pid, f_allocation_no COLLATE "C" AS allocation_no, occurred_on, recorded_at,'
        ' event_id COLLATE "C" AS event_id, gemeente, f_birth_ym AS birth_ym, f_category AS category,'
        ' CASE WHEN f_debit_credit = ''C'' THEN -1 ELSE 1 END * f_amount_cents::bigint AS cents';
    v_where constant text :=
        'WHERE feed = ''soj'' AND type = ''invoice'' AND f_allocation_no IS NOT NULL AND NOT withdrawn';
    v_pids text[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE staging.invoice_summary;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        -- added versions: counts and sums add, the latest picks move forward
        EXECUTE format($q$
        INSERT INTO staging.invoice_summary AS s
        SELECT pid, allocation_no, count(*)::integer, coalesce(sum(cents), 0),
               (array_agg(occurred_on))[1], (array_agg(recorded_at))[1], (array_agg(event_id))[1],
               (array_agg(gemeente))[1], (array_agg(birth_ym))[1],
               (array_agg(occurred_on) FILTER (WHERE category IS NOT NULL))[1],
               (array_agg(recorded_at) FILTER (WHERE category IS NOT NULL))[1],
               (array_agg(event_id) FILTER (WHERE category IS NOT NULL))[1],
               (array_agg(category) FILTER (WHERE category IS NOT NULL))[1]
        FROM (SELECT %s FROM new_rows %s
              ORDER BY 1, 2, occurred_on DESC, recorded_at DESC, event_id DESC) d
        GROUP BY pid, allocation_no
        ORDER BY pid, allocation_no
        ON CONFLICT (pid, allocation_no) DO UPDATE SET
            invoices = s.invoices + EXCLUDED.invoices,
            invoiced_cents = s.invoiced_cents + EXCLUDED.invoiced_cents,
            last_on = CASE WHEN (EXCLUDED.last_on, EXCLUDED.last_at, EXCLUDED.last_event_id)
                                > (s.last_on, s.last_at, s.last_event_id) THEN EXCLUDED.last_on ELSE s.last_on END,
            last_at = CASE WHEN (EXCLUDED.last_on, EXCLUDED.last_at, EXCLUDED.last_event_id)
                                > (s.last_on, s.last_at, s.last_event_id) THEN EXCLUDED.last_at ELSE s.last_at END,
            last_event_id = CASE WHEN (EXCLUDED.last_on, EXCLUDED.last_at, EXCLUDED.last_event_id)
                                > (s.last_on, s.last_at, s.last_event_id) THEN EXCLUDED.last_event_id ELSE s.last_event_id END,
            gemeente = CASE WHEN (EXCLUDED.last_on, EXCLUDED.last_at, EXCLUDED.last_event_id)
                                > (s.last_on, s.last_at, s.last_event_id) THEN EXCLUDED.gemeente ELSE s.gemeente END,
            birth_ym = CASE WHEN (EXCLUDED.last_on, EXCLUDED.last_at, EXCLUDED.last_event_id)
                                > (s.last_on, s.last_at, s.last_event_id) THEN EXCLUDED.birth_ym ELSE s.birth_ym END,
            cat_on = CASE WHEN s.cat_event_id IS NULL OR (EXCLUDED.cat_on, EXCLUDED.cat_at, EXCLUDED.cat_event_id)
                                > (s.cat_on, s.cat_at, s.cat_event_id) THEN EXCLUDED.cat_on ELSE s.cat_on END,
            cat_at = CASE WHEN s.cat_event_id IS NULL OR (EXCLUDED.cat_on, EXCLUDED.cat_at, EXCLUDED.cat_event_id)
                                > (s.cat_on, s.cat_at, s.cat_event_id) THEN EXCLUDED.cat_at ELSE s.cat_at END,
            category = CASE WHEN s.cat_event_id IS NULL OR (EXCLUDED.cat_on, EXCLUDED.cat_at, EXCLUDED.cat_event_id)
                                > (s.cat_on, s.cat_at, s.cat_event_id) THEN EXCLUDED.category ELSE s.category END,
            cat_event_id = CASE WHEN s.cat_event_id IS NULL OR (EXCLUDED.cat_on, EXCLUDED.cat_at, EXCLUDED.cat_event_id)
                                > (s.cat_on, s.cat_at, s.cat_event_id) THEN EXCLUDED.cat_event_id ELSE s.cat_event_id END
        $q$, v_cols, v_where);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format('SELECT array_agg(DISTINCT pid) FROM old_rows %s', v_where) INTO v_pids;
    END IF;
    IF v_pids IS NOT NULL THEN
        -- removed versions (replaced, withdrawn, deleted): counts and sums subtract; where one of them
        -- may have been a latest pick, the picks again from the allocation's stored invoices (a max
        -- over what is stored now, so the INSERT trigger that ON CONFLICT fires after this one and
        -- merges the same new rows again changes nothing)
        EXECUTE format($q$
        WITH d AS (
            SELECT pid, allocation_no, count(*)::integer AS n, coalesce(sum(cents), 0) AS cents
            FROM (SELECT %s FROM old_rows %s) o
            GROUP BY pid, allocation_no
        )
        UPDATE staging.invoice_summary s
        SET invoices = s.invoices - d.n, invoiced_cents = s.invoiced_cents - d.cents
        FROM d WHERE s.pid = d.pid AND s.allocation_no = d.allocation_no
        $q$, v_cols, v_where);
        DELETE FROM staging.invoice_summary WHERE pid = ANY (v_pids) AND invoices = 0;
        EXECUTE format($q$
        WITH g AS (SELECT DISTINCT pid, allocation_no FROM (SELECT %s FROM old_rows %s) o)
        UPDATE staging.invoice_summary s
        SET (last_on, last_at, last_event_id, gemeente, birth_ym) = (
                SELECT e.occurred_on, e.recorded_at, e.event_id, e.gemeente, e.f_birth_ym
                FROM staging.event e
                WHERE e.pid = s.pid AND e.feed = 'soj' AND e.type = 'invoice' AND e.f_allocation_no IS NOT NULL
                  AND e.f_allocation_no = s.allocation_no AND NOT e.withdrawn
                ORDER BY e.occurred_on DESC, e.recorded_at DESC, e.event_id COLLATE "C" DESC LIMIT 1),
            (cat_on, cat_at, cat_event_id, category) = (
                SELECT e.occurred_on, e.recorded_at, e.event_id, e.f_category
                FROM staging.event e
                WHERE e.pid = s.pid AND e.feed = 'soj' AND e.type = 'invoice' AND e.f_allocation_no IS NOT NULL
                  AND e.f_allocation_no = s.allocation_no AND NOT e.withdrawn AND e.f_category IS NOT NULL
                ORDER BY e.occurred_on DESC, e.recorded_at DESC, e.event_id COLLATE "C" DESC LIMIT 1)
        FROM g WHERE s.pid = g.pid AND s.allocation_no = g.allocation_no
        $q$, v_cols, v_where);
    END IF;
    RETURN NULL;
END $fn$;

CREATE TRIGGER invoice_summary_ins AFTER INSERT ON staging.event
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION staging.invoice_summary_trigger();
CREATE TRIGGER invoice_summary_upd AFTER UPDATE ON staging.event
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION staging.invoice_summary_trigger();
CREATE TRIGGER invoice_summary_del AFTER DELETE ON staging.event
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION staging.invoice_summary_trigger();
CREATE TRIGGER invoice_summary_trunc AFTER TRUNCATE ON staging.event
    FOR EACH STATEMENT EXECUTE FUNCTION staging.invoice_summary_trigger();
COMMENT ON FUNCTION staging.invoice_summary_trigger() IS
    'Statement trigger of staging.event (INSERT, UPDATE, DELETE with transition tables; TRUNCATE): keeps staging.invoice_summary equal to staging.invoice_summary_rebuild() in the writing transaction.';
COMMENT ON TRIGGER invoice_summary_ins ON staging.event IS 'Keeps staging.invoice_summary: inserted invoices.';
COMMENT ON TRIGGER invoice_summary_upd ON staging.event IS 'Keeps staging.invoice_summary: replaced and withdrawn invoices.';
COMMENT ON TRIGGER invoice_summary_del ON staging.event IS 'Keeps staging.invoice_summary: deleted invoices.';
COMMENT ON TRIGGER invoice_summary_trunc ON staging.event IS 'Keeps staging.invoice_summary: empties it with staging.event.';

SELECT staging.invoice_summary_rebuild();

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
          AND NOT (e.feed = 'soj' AND e.type = 'invoice' AND e.f_allocation_no IS NOT NULL)
        UNION ALL
        -- each allocation's invoices as one row: the latest invoice (for the gemeente, category and
        -- child picks) carrying the signed sum of all of them
        SELECT s.pid COLLATE "C", 'soj', 'invoice', s.last_on, s.last_at, s.last_event_id, s.gemeente,
               NULL, s.allocation_no, NULL, CASE WHEN s.cat_event_id = s.last_event_id THEN s.category END,
               NULL, NULL, NULL, NULL, NULL, NULL, NULL, s.invoiced_cents::bigint, NULL, s.birth_ym
        FROM staging.invoice_summary s
        WHERE s.pid = ANY ($1)
        UNION ALL
        -- and, when that one has no category, the latest invoice with one (older: never picked
        -- before the row above, so only its category counts)
        SELECT s.pid COLLATE "C", 'soj', 'invoice', s.cat_on, s.cat_at, s.cat_event_id, NULL,
               NULL, s.allocation_no, NULL, s.category,
               NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
        FROM staging.invoice_summary s
        WHERE s.pid = ANY ($1) AND s.cat_event_id <> s.last_event_id
    ),
    req AS (  -- the first request per reference
        SELECT DISTINCT ON (pid, reference) pid, reference, occurred_on AS requested_on, gemeente,
               provider_agb, category, referrer
        FROM ev WHERE feed = 'soj' AND type = 'request' AND reference IS NOT NULL
        ORDER BY pid, reference, occurred_on, recorded_at, event_id
    ),
    rej AS (
        SELECT pid, reference, min(occurred_on) AS rejected_on
        FROM ev WHERE feed = 'soj' AND type = 'answer' AND answer = '1' AND reference IS NOT NULL
        GROUP BY pid, reference
    ),
    alc AS (  -- per allocation_no, from its allocation, start, stop and invoice events
        -- (array_agg(x) FILTER (...))[1] is the first x of the filtered group in the input order: the
        -- subquery's ORDER BY (a subquery with ORDER BY is not flattened, and the grouping uses its
        -- sort order: no second, unstable sort). Every pick below is the latest by (occurred_on,
        -- recorded_at, event_id) among its filter, allocation messages first for category and gemeente.
        SELECT pid, allocation_no,
            (array_agg(reference) FILTER (WHERE type = 'allocation' AND reference IS NOT NULL))[1] AS reference,
            (array_agg(provider_agb) FILTER (WHERE type = 'allocation' AND provider_agb IS NOT NULL))[1] AS provider_agb,
            (array_agg(category) FILTER (WHERE category IS NOT NULL))[1] AS category,
            (array_agg(gemeente))[1] AS gemeente,
            (array_agg(gemeente) FILTER (WHERE type = 'allocation'))[1] AS alloc_gemeente,
            min(allocated_on) FILTER (WHERE type = 'allocation') AS allocated_on,
            coalesce(min(start_date) FILTER (WHERE type = 'start'),
                     min(start_date) FILTER (WHERE type = 'stop')) AS started_on,
            (array_agg(end_date) FILTER (WHERE type = 'stop'))[1] AS ended_on,
            (array_agg(end_reason) FILTER (WHERE type = 'stop'))[1] AS end_reason,
            coalesce(sum(CASE WHEN debit_credit = 'C' THEN -1 ELSE 1 END * amount_cents) FILTER (WHERE type = 'invoice'), 0)::bigint AS invoiced_cents
        FROM (SELECT pid, allocation_no, type, reference, provider_agb, category, gemeente,
                     allocated_on, start_date, end_date, end_reason, debit_credit, amount_cents
              FROM ev
              WHERE feed = 'soj' AND allocation_no IS NOT NULL AND type IN ('allocation', 'start', 'stop', 'invoice')
              ORDER BY pid, allocation_no, (type = 'allocation') DESC, occurred_on DESC, recorded_at DESC, event_id DESC) s
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
    'Rebuilds wh.care_episode, wh.route, wh.episode_waiting and wh.population_fact of the given children from all their non-withdrawn staging events (allocation-linked invoices through staging.invoice_summary). Idempotent; the linker calls it once per batch.';

-- Every child's facts again, p_chunk children per pass; the children are listed once (no pid index
-- holds every event any more).
CREATE OR REPLACE FUNCTION wh.recompute_all(p_chunk integer DEFAULT 5000) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    v_all text[];
    v_i integer := 1;
BEGIN
    SELECT array_agg(pid ORDER BY pid) INTO v_all FROM (SELECT DISTINCT pid FROM staging.event) s;
    WHILE v_i <= coalesce(cardinality(v_all), 0) LOOP
        PERFORM wh.recompute_children(v_all[v_i:v_i + p_chunk - 1]);
        v_i := v_i + p_chunk;
    END LOOP;
    -- children left without any event keep no rows
    DELETE FROM wh.route r WHERE NOT EXISTS (SELECT 1 FROM staging.event e WHERE e.pid = r.pid AND NOT e.withdrawn);
    RETURN coalesce(cardinality(v_all), 0);
END $fn$;
COMMENT ON FUNCTION wh.recompute_all(integer) IS
    'Rebuilds the linked facts of every child in staging.event, p_chunk children per pass. Returns the number of children.';
