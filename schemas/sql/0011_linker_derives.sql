-- The linker derives the touched children itself (daemons/jtm-linker/derive.c) and writes only the
-- rows that changed; the SQL rules (wh.recompute_children, 0003/0008/0009) stay the reference that
-- tests compare it with, and the path of every other caller (staging.load_ndjson, repairs,
-- wh.recompute_all). Measured before this change on a full warehouse (bench/linker.sh, one
-- backend): a 30,000-event batch of 24,684 children took 4.2 s, of which the SQL recompute 3.5 s
-- (reading 358,650 stored events 0.5-0.9 s, sorting and aggregating them about 1 s, deleting and
-- re-inserting 7.3 rows per child 1.15 s); the upsert 0.8 s.
--
-- * wh.recompute_children(pids) becomes a wrapper. In a session where jtm.derive_in_linker is 'on'
--   (the linker sets it on its connections) it only records the children in the session table
--   linker_touched, and the linker derives them in the same transaction after
--   staging.apply_batch returns. Everywhere else it runs the SQL rules (now
--   wh.recompute_children_sql) and forgets the linker's digests of those children, so that the
--   linker rewrites them the next time instead of trusting a digest of rows it did not write.
--   staging.apply_batch and staging.isolate_refused are unchanged: with the setting on, the
--   bisection's probes apply only the upsert (cheaper, and the upsert is where data is refused).
-- * ops.linker_child_digest: per child, a 16-byte digest of its rows in each derived table as the
--   linker last wrote them (NULL: unknown, rewrite). A child whose new rows hash the same is not
--   rewritten: a monthly invoice changes one care_episode row, not the child's seven rows in four
--   tables. The linker also locks a child's digest row before reading the child's events, so two
--   workers never derive one child at once (an event corrected to another pid makes a worker
--   derive a child of another worker's partitions).
-- * CHECK constraints on staging.event for what the derivation casts or relies on, so that a
--   message that would break it is refused by the upsert, where staging.isolate_refused finds it
--   and the batch goes on: strict YYYY-MM-DD dates, amounts that fit bigint, birth months, finite
--   dates, and a product category on SOJ allocation, start, stop and invoice messages (required by
--   contracts.md; without one the SQL rules stored a NULL in population_fact.residential and failed).
--   NOT VALID: rows already stored were derived by the same casts.
-- * staging.apply_batch never scans staging.event whole: its lookup of the versions an update
--   replaced (the CTE old) kept a plan made while the table was nearly empty, a hash join over a
--   sequential scan. bench/linker.sh, a 100,000-event batch of a 1,000,000-event warehouse: 430 ms
--   and 71,529 page reads to find 35 replaced versions, more with every batch.

CREATE TABLE ops.linker_child_digest (
    pid text PRIMARY KEY,
    episodes bytea,
    waiting bytea,
    route bytea,
    facts bytea
) WITH (fillfactor = 80); -- room for HOT updates: a child's row is rewritten by every batch that derives it
COMMENT ON TABLE ops.linker_child_digest IS
    'jtm-linker: per child, digests of its rows in wh.care_episode, wh.episode_waiting, wh.route and wh.population_fact as the linker last wrote them (NULL: unknown, the next derivation rewrites that table''s rows). A cache: deleting rows or the whole table is always safe. The linker locks a child''s row while it derives the child.';
COMMENT ON COLUMN ops.linker_child_digest.pid IS 'Pseudonym of the child.';
COMMENT ON COLUMN ops.linker_child_digest.episodes IS 'First 16 bytes of SHA-256 over the COPY text of the child''s wh.care_episode rows.';
COMMENT ON COLUMN ops.linker_child_digest.waiting IS 'The same for wh.episode_waiting.';
COMMENT ON COLUMN ops.linker_child_digest.route IS 'The same for wh.route.';
COMMENT ON COLUMN ops.linker_child_digest.facts IS 'The same for wh.population_fact.';

-- Every child with rows gets a digest row (unknown digests), so that the linker can lock it.
INSERT INTO ops.linker_child_digest (pid) SELECT pid FROM wh.route;

ALTER TABLE staging.event
    ADD CONSTRAINT event_amount_cents_bigint
        CHECK (f_amount_cents IS NULL OR f_amount_cents::bigint IS NOT NULL) NOT VALID,
    ADD CONSTRAINT event_birth_ym_month
        CHECK (f_birth_ym IS NULL OR f_birth_ym ~ '^(19|2[01])[0-9]{2}-(0[1-9]|1[0-2])$') NOT VALID,
    ADD CONSTRAINT event_dates_strict CHECK (
        isfinite(occurred_on) AND isfinite(recorded_at)
        AND (f_allocated_on IS NULL OR (f_allocated_on ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' AND f_allocated_on::date IS NOT NULL))
        AND (f_start_date IS NULL OR (f_start_date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' AND f_start_date::date IS NOT NULL))
        AND (f_end_date IS NULL OR (f_end_date ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' AND f_end_date::date IS NOT NULL))
    ) NOT VALID,
    ADD CONSTRAINT event_soj_category
        CHECK (feed <> 'soj' OR type NOT IN ('allocation', 'start', 'stop', 'invoice') OR f_category IS NOT NULL) NOT VALID;

ALTER FUNCTION wh.recompute_children(text[]) RENAME TO recompute_children_sql;
COMMENT ON FUNCTION wh.recompute_children_sql(text[]) IS
    'The rules of the linked facts in SQL (design.md, Warehouse): rebuilds wh.care_episode, wh.route, wh.episode_waiting and wh.population_fact of the given children from all their non-withdrawn staging events. The reference for jtm-linker''s own derivation (daemons/jtm-linker/derive.c); call wh.recompute_children, which also resets the linker''s digests.';

CREATE FUNCTION wh.recompute_children(p_pids text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('jtm.derive_in_linker', true) = 'on' THEN
        IF to_regclass('pg_temp.linker_touched') IS NULL THEN
            CREATE TEMP TABLE linker_touched (pid text) ON COMMIT DELETE ROWS;
        END IF;
        INSERT INTO linker_touched SELECT unnest(p_pids);
        RETURN;
    END IF;
    PERFORM wh.recompute_children_sql(p_pids);
    INSERT INTO ops.linker_child_digest AS d (pid)
    SELECT DISTINCT p FROM unnest(p_pids) AS p
    ON CONFLICT (pid) DO UPDATE SET episodes = NULL, waiting = NULL, route = NULL, facts = NULL;
END $$;
COMMENT ON FUNCTION wh.recompute_children(text[]) IS
    'Rebuilds the linked facts of the given children with the SQL rules (wh.recompute_children_sql) and marks the linker''s digests of them unknown. In jtm-linker''s sessions (jtm.derive_in_linker = on) it only lists the children in the session table linker_touched: the linker derives them itself in the same transaction.';

ALTER FUNCTION staging.apply_batch(text) SET enable_seqscan = off;
