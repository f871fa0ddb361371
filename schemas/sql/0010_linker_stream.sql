-- The linker streams a batch into linker_in while it consumes (it no longer holds the batch in
-- memory), so a batch can be as large as a backlog allows without the daemon's memory growing, and
-- every child touched by it is recomputed once per batch instead of once per small batch.
--
-- What changes here:
-- * linker_in.payload is text: COPY only moves bytes, and the jsonb parse happens in apply_batch,
--   where a message PostgreSQL refuses (a number jsonb cannot hold, a \u0000 escape) is found by
--   staging.isolate_refused() instead of aborting the COPY of a batch the linker no longer has.
-- * staging.isolate_refused() finds the refused messages by bisection: halves of the batch are
--   applied in subtransactions that are always undone, so a batch with one bad message costs about
--   two batch applications (2 log n probes) instead of one transaction per message.
-- * apply_batch and the recompute sort in memory (work_mem 256MB: with three workers, up to about
--   1.5 GB of the server's memory during large batches) and never JIT-compile: with
--   enable_seqscan = off the plans' costs pass jit_above_cost, and compiling the recompute cost
--   80-150 ms per batch.
-- The rules (0003, 0008, 0009) and the stored rows are unchanged.

CREATE OR REPLACE FUNCTION staging.linker_session() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.linker_in') IS NULL THEN
        CREATE TEMP TABLE linker_in (
            src_topic text,
            src_partition integer,
            src_offset bigint,
            payload text,   -- the event (JSON text), when it passed the linker's checks
            reject text,    -- else the reason it is dead-lettered
            raw bytea       -- and its bytes
        ) ON COMMIT DELETE ROWS;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION staging.apply_batch(p_group text,
    OUT received integer, OUT loaded integer, OUT duplicates integer, OUT skipped integer,
    OUT dead_lettered integer, OUT children integer, OUT notified boolean)
LANGUAGE plpgsql
-- a 100,000-event batch sorts tens of MB (dedupe); 4MB spilled it to disk
SET work_mem = '256MB'
SET jit = off
AS $$
DECLARE
    v_pids text[];
    v_gm text[];
    v_soj boolean;
    v_rejects integer;
BEGIN
    SELECT count(*), count(*) FILTER (WHERE reject IS NOT NULL) INTO received, v_rejects FROM linker_in;
    skipped := 0;
    IF p_group IS NOT NULL THEN
        -- Lock this group's offsets of the batch's partitions: a second linker still holding them
        -- (a zombie after a rebalance) waits here, then skips what this one applied.
        PERFORM 1 FROM ops.kafka_offset o
        WHERE o.consumer_group = p_group
          AND (o.topic, o.partition) IN (SELECT DISTINCT src_topic, src_partition FROM linker_in)
        ORDER BY o.topic, o.partition
        FOR UPDATE;
        -- Messages below the stored position were applied before: never twice.
        WITH gone AS (
            DELETE FROM linker_in i USING ops.kafka_offset o
            WHERE o.consumer_group = p_group AND o.topic = i.src_topic AND o.partition = i.src_partition
              AND i.src_offset < o.next_offset
            RETURNING i.reject
        )
        SELECT count(*), v_rejects - count(*) FILTER (WHERE reject IS NOT NULL) INTO skipped, v_rejects FROM gone;
        INSERT INTO ops.kafka_offset AS k (consumer_group, topic, partition, next_offset)
        SELECT p_group, src_topic, src_partition, max(src_offset) + 1
        FROM linker_in
        WHERE src_topic IS NOT NULL AND src_partition IS NOT NULL AND src_offset IS NOT NULL
        GROUP BY src_topic, src_partition
        ORDER BY src_topic, src_partition
        ON CONFLICT (consumer_group, topic, partition) DO UPDATE
            SET next_offset = greatest(k.next_offset, EXCLUDED.next_offset), updated_at = now();
    END IF;

    INSERT INTO ops.linker_dead_letter (consumer_group, topic, partition, "offset", reason, raw)
    SELECT p_group, src_topic, src_partition, src_offset, reject, coalesce(raw, convert_to(payload, 'UTF8'))
    FROM linker_in WHERE reject IS NOT NULL
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS dead_lettered = ROW_COUNT;

    -- One version per event within the batch (the winner by the same order as below), then upsert:
    -- a stored version is replaced only by a higher (recorded_at, status, md5(payload)), so arrival
    -- order and duplicates do not matter. Children whose events moved (pid or gemeente changed by a
    -- correction) are recomputed on both sides.
    WITH b AS (
        -- md5 of the payload (the last tie-break) only where an event_id comes more than once:
        -- printing every jsonb for it was about 5% of the linker's PostgreSQL CPU in a profile
        SELECT DISTINCT ON (x.feed, x.event_id) x.feed, x.event_id, x.pid, x.type, x.occurred_on,
               x.recorded_at, x.status, x.gemeente, x.payload, x.src_topic, x.src_partition, x.src_offset
        FROM (SELECT j->>'feed' AS feed, j->>'event_id' AS event_id, j->>'pid' AS pid,
                     j->>'type' AS type, (j->>'occurred_on')::date AS occurred_on,
                     (j->>'recorded_at')::timestamptz AS recorded_at,
                     coalesce((j->>'status')::smallint, 1::smallint) AS status,
                     j->'client'->>'gemeente' AS gemeente, j AS payload,
                     count(*) OVER (PARTITION BY j->>'feed', j->>'event_id') AS versions,
                     src_topic, src_partition, src_offset
              -- OFFSET 0 keeps this subquery from being pulled up: one jsonb parse per message,
              -- not one per reference to j
              FROM (SELECT payload::jsonb AS j, src_topic, src_partition, src_offset
                    FROM linker_in WHERE reject IS NULL OFFSET 0) i) x
        ORDER BY x.feed, x.event_id, x.recorded_at DESC, x.status DESC,
                 CASE WHEN x.versions > 1 THEN md5(x.payload::text) END DESC
    ),
    up AS (
        INSERT INTO staging.event AS e (feed, event_id, pid, type, occurred_on, recorded_at, status,
                                        withdrawn, gemeente, payload, src_topic, src_partition, src_offset)
        SELECT feed, event_id, pid, type, occurred_on, recorded_at, status, status = 3, gemeente, payload,
               src_topic, src_partition, src_offset
        FROM b
        ON CONFLICT (feed, event_id) DO UPDATE SET
            pid = EXCLUDED.pid, type = EXCLUDED.type, occurred_on = EXCLUDED.occurred_on,
            recorded_at = EXCLUDED.recorded_at, status = EXCLUDED.status, withdrawn = EXCLUDED.withdrawn,
            gemeente = EXCLUDED.gemeente, payload = EXCLUDED.payload, src_topic = EXCLUDED.src_topic,
            src_partition = EXCLUDED.src_partition, src_offset = EXCLUDED.src_offset, loaded_at = now()
        WHERE (EXCLUDED.recorded_at, EXCLUDED.status, md5(EXCLUDED.payload::text))
              > (e.recorded_at, e.status, md5(e.payload::text))
        RETURNING e.feed, e.event_id, e.pid, e.gemeente, e.xmax = 0 AS inserted
    ),
    -- The version an update replaced: the sub-statements of one WITH share a snapshot and do not
    -- see each other's writes, so staging.event still shows it here. Only replaced events are
    -- looked up (not every event of the batch, which cost an index probe per event).
    old AS (
        SELECT e.pid, e.gemeente, e.feed
        FROM up JOIN staging.event e ON e.feed = up.feed AND e.event_id = up.event_id
        WHERE NOT up.inserted AND (e.pid <> up.pid OR e.gemeente IS DISTINCT FROM up.gemeente)
    ),
    touched AS (
        SELECT pid, gemeente, feed, true AS written FROM up
        UNION ALL
        SELECT pid, gemeente, feed, false FROM old
    )
    SELECT count(*) FILTER (WHERE written)::integer,
           array_agg(DISTINCT pid),
           array_agg(DISTINCT gemeente) FILTER (WHERE feed = 'soj' AND gemeente IS NOT NULL),
           coalesce(bool_or(feed = 'soj'), false)
    INTO loaded, v_pids, v_gm, v_soj
    FROM touched;

    duplicates := received - skipped - v_rejects - loaded;
    children := coalesce(cardinality(v_pids), 0);
    IF children > 0 THEN
        PERFORM wh.recompute_children(v_pids);
    END IF;
    -- Delivered at COMMIT only, once per transaction and payload.
    notified := v_soj AND loaded > 0;
    IF notified THEN
        PERFORM pg_notify('jtm_waiting_list', left(coalesce(array_to_string(v_gm, ','), ''), 7900));
    END IF;
    DELETE FROM linker_in;
END $$;

ALTER FUNCTION wh.recompute_children(text[]) SET jit = off;
-- a 60,000-event batch of 31,600 children sorted 353,000 allocation events and 555,000 events for
-- the children's latest event; at 64MB both spilled (57 and 54 MB on disk)
ALTER FUNCTION wh.recompute_children(text[]) SET work_mem = '256MB';

-- Finds the messages of linker_in that staging.apply_batch cannot apply, and marks them rejected
-- ('pg:<SQLSTATE> <message>') so that the next apply_batch dead-letters them and loads the rest.
-- Bisection: a range of the batch is applied in a subtransaction that is always undone; a range
-- that fails is split until single messages remain. A message that fails only together with
-- another is not found (returns 0: the caller gives up on the batch). Failures that say nothing
-- about a message (lost connection, shortage, deadlock, serialization, lock timeout) are raised.
CREATE FUNCTION staging.isolate_refused() RETURNS integer
LANGUAGE plpgsql
SET jit = off
AS $$
DECLARE
    v_found integer := 0;
    v_stack int8range[];
    v_range int8range;
    v_lo bigint;
    v_hi bigint;
    v_mid bigint;
    v_state text;
    v_msg text;
BEGIN
    IF to_regclass('pg_temp.linker_hold') IS NULL THEN
        CREATE TEMP TABLE linker_hold (seq bigint PRIMARY KEY, src_topic text, src_partition integer,
                                       src_offset bigint, payload text, reject text, raw bytea)
            ON COMMIT DELETE ROWS;
    END IF;
    DELETE FROM linker_hold;
    WITH moved AS (DELETE FROM linker_in RETURNING *)
    INSERT INTO linker_hold
    SELECT row_number() OVER (ORDER BY src_topic, src_partition, src_offset), src_topic, src_partition,
           src_offset, payload, reject, raw
    FROM moved;
    v_stack := ARRAY[int8range(1, (SELECT count(*) + 1 FROM linker_hold))];
    WHILE cardinality(v_stack) > 0 LOOP
        v_range := v_stack[cardinality(v_stack)];
        v_stack := v_stack[1:cardinality(v_stack) - 1];
        v_lo := lower(v_range);
        v_hi := upper(v_range);
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM linker_hold WHERE seq >= v_lo AND seq < v_hi AND reject IS NULL);
        BEGIN
            INSERT INTO linker_in (src_topic, src_partition, src_offset, payload)
            SELECT src_topic, src_partition, src_offset, payload
            FROM linker_hold WHERE seq >= v_lo AND seq < v_hi AND reject IS NULL;
            PERFORM staging.apply_batch(NULL);
            RAISE SQLSTATE 'JTM00';  -- applied: undo it, this pass only looks
        EXCEPTION
            WHEN SQLSTATE 'JTM00' THEN
                NULL;
            WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT;
                IF v_state LIKE '08%' OR v_state LIKE '53%' OR v_state LIKE '57P%'
                   OR v_state IN ('40001', '40P01', '55P03') THEN
                    RAISE;
                END IF;
                IF v_hi - v_lo = 1 THEN
                    UPDATE linker_hold SET reject = 'pg:' || v_state || ' ' || replace(v_msg, E'\n', ' ')
                    WHERE seq = v_lo;
                    v_found := v_found + 1;
                ELSE
                    v_mid := v_lo + (v_hi - v_lo) / 2;
                    v_stack := v_stack || int8range(v_mid, v_hi) || int8range(v_lo, v_mid);
                END IF;
        END;
    END LOOP;
    INSERT INTO linker_in (src_topic, src_partition, src_offset, payload, reject, raw)
    SELECT src_topic, src_partition, src_offset, CASE WHEN reject IS NULL THEN payload END, reject,
           CASE WHEN reject IS NOT NULL THEN coalesce(raw, convert_to(payload, 'UTF8')) END
    FROM linker_hold ORDER BY seq;
    DELETE FROM linker_hold;
    RETURN v_found;
END $$;
COMMENT ON FUNCTION staging.isolate_refused() IS
    'Marks the messages of the session table linker_in that staging.apply_batch refuses (reject = ''pg:<SQLSTATE> <message>''), found by bisection in subtransactions that are undone; returns how many. Raises on failures that are not about a message (connection, resources, deadlock, serialization).';
