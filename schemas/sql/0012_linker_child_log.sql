-- The linker keeps each child's events in compact form (daemons/jtm-linker/eventlog.h) beside the
-- digests of its rows, so that a child whose batch only added new events is derived without
-- reading its stored events back. With new events COPYed straight into staging.event (0011 and
-- direct.c), those reads were the largest part of a bulk batch's derivation: bench/linker.sh, a
-- 100,000-event batch of a 1M-event warehouse, 0.9-2.6 s to read 100,000-230,000 stored events
-- through the covering index, most of them heap fetches (pages just loaded are not yet
-- all-visible), and about 12% of the server's CPU over the load went to those reads.
--
-- * ops.linker_child_digest becomes ops.linker_child with events: the log (NULL: unknown; the
--   next derivation rebuilds the child from staging.event). Every child with stored events gets a
--   row, so that the linker can lock it and knows that a child without a row has none.
-- * The SQL rules' wrapper (wh.recompute_children) forgets logs as well as digests.
-- * staging.event keeps a plain pid index instead of the covering one (0008): the linker reads a
--   child's events only to rebuild it (after a correction, withdrawal, move or resend, or with an
--   unknown log), and the SQL rules read them for tests and repairs. Every event paid for the
--   covering index's 20 columns on insert: 268 MB of index for 1,000,000 events, a quarter of the
--   cost of loading them (COPY of 78,000 events: 2.3 s with it, 1.8 s without).

ALTER TABLE ops.linker_child_digest RENAME TO linker_child;
ALTER TABLE ops.linker_child ADD COLUMN events bytea;
COMMENT ON TABLE ops.linker_child IS
    'jtm-linker: per child, its non-withdrawn events in compact form (events) and digests of its rows in wh.care_episode, wh.episode_waiting, wh.route and wh.population_fact as the linker last wrote them. NULL: unknown (the next derivation rebuilds the child from staging.event). A cache of staging.event: setting columns to NULL is always safe; every child with stored events has a row. The linker locks a child''s row while it derives the child.';
COMMENT ON COLUMN ops.linker_child.events IS
    'The child''s non-withdrawn events as the linker derives from them (format: daemons/jtm-linker/eventlog.h, version byte first); NULL: unknown.';

INSERT INTO ops.linker_child (pid)
SELECT DISTINCT pid FROM staging.event
ON CONFLICT (pid) DO NOTHING;

CREATE OR REPLACE FUNCTION wh.recompute_children(p_pids text[]) RETURNS void
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
    INSERT INTO ops.linker_child AS d (pid)
    SELECT DISTINCT p FROM unnest(p_pids) AS p
    ON CONFLICT (pid) DO UPDATE SET events = NULL, episodes = NULL, waiting = NULL, route = NULL, facts = NULL;
END $$;
COMMENT ON FUNCTION wh.recompute_children(text[]) IS
    'Rebuilds the linked facts of the given children with the SQL rules (wh.recompute_children_sql) and marks the linker''s logs and digests of them unknown. In jtm-linker''s sessions (jtm.derive_in_linker = on) it only lists the children in the session table linker_touched: the linker derives them itself in the same transaction.';

DROP INDEX staging.event_pid_cover_idx;
CREATE INDEX event_pid_idx ON staging.event (pid);
