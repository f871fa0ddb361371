-- The linker's load step, in SQL so that the daemon stays small and tests can use the very same path:
-- the linker COPYs a batch into the session table linker_in (staging.linker_session) and calls
-- staging.apply_batch(group) in the same transaction as its COMMIT.

CREATE FUNCTION staging.apply_batch(p_group text,
    OUT received integer, OUT loaded integer, OUT duplicates integer, OUT skipped integer,
    OUT dead_lettered integer, OUT children integer, OUT notified boolean)
LANGUAGE plpgsql AS $$
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
    SELECT p_group, src_topic, src_partition, src_offset, reject,
           coalesce(raw, convert_to(payload::text, 'UTF8'))
    FROM linker_in WHERE reject IS NOT NULL
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS dead_lettered = ROW_COUNT;

    -- One version per event within the batch (the winner by the same order as below), then upsert:
    -- a stored version is replaced only by a higher (recorded_at, status, md5(payload)), so arrival
    -- order and duplicates do not matter. Children whose events moved (pid or gemeente changed by a
    -- correction) are recomputed on both sides.
    WITH b AS (
        SELECT DISTINCT ON (x.feed, x.event_id) x.*
        FROM (SELECT payload->>'feed' AS feed, payload->>'event_id' AS event_id, payload->>'pid' AS pid,
                     payload->>'type' AS type, (payload->>'occurred_on')::date AS occurred_on,
                     (payload->>'recorded_at')::timestamptz AS recorded_at,
                     coalesce((payload->>'status')::smallint, 1::smallint) AS status,
                     payload->'client'->>'gemeente' AS gemeente, payload, md5(payload::text) AS h,
                     src_topic, src_partition, src_offset
              FROM linker_in WHERE reject IS NULL) x
        ORDER BY x.feed, x.event_id, x.recorded_at DESC, x.status DESC, x.h DESC
    ),
    old AS (
        SELECT e.pid, e.gemeente, e.feed
        FROM staging.event e JOIN b ON b.feed = e.feed AND b.event_id = e.event_id
        WHERE e.pid <> b.pid OR e.gemeente IS DISTINCT FROM b.gemeente
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
        RETURNING e.pid, e.gemeente, e.feed
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
COMMENT ON FUNCTION staging.apply_batch(text) IS
    'Applies the batch in the session table linker_in: skips messages below the stored Kafka position of p_group (NULL: no offsets), dead-letters rejected rows, upserts staging.event (one version per event_id, the latest by recorded_at, status), recomputes every touched child, advances ops.kafka_offset, and NOTIFYs jtm_waiting_list (payload: the affected gemeente codes, comma-separated) when SOJ events changed. Call inside the batch transaction.';

-- Loads newline-delimited pseudonymised events through the same path (tests, manual repairs).
CREATE FUNCTION staging.load_ndjson(p_ndjson text,
    OUT received integer, OUT loaded integer, OUT duplicates integer, OUT skipped integer,
    OUT dead_lettered integer, OUT children integer, OUT notified boolean)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM staging.linker_session();
    INSERT INTO linker_in (payload)
    SELECT line::jsonb FROM regexp_split_to_table(p_ndjson, E'\n') AS line WHERE btrim(line) <> '';
    SELECT * INTO received, loaded, duplicates, skipped, dead_lettered, children, notified
    FROM staging.apply_batch(NULL);
END $$;
COMMENT ON FUNCTION staging.load_ndjson(text) IS
    'Loads newline-delimited pseudonymised events (one JSON object per line) as one batch through staging.apply_batch, without Kafka offsets.';

-- Rebuilds every child's linked facts (after a migration that changes the logic), in chunks.
CREATE FUNCTION wh.recompute_all(p_chunk integer DEFAULT 5000) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_pids text[];
    v_n integer := 0;
    v_last text := '';
BEGIN
    LOOP
        SELECT array_agg(pid) INTO v_pids
        FROM (SELECT DISTINCT pid FROM staging.event WHERE pid > v_last ORDER BY pid LIMIT p_chunk) s;
        EXIT WHEN v_pids IS NULL;
        PERFORM wh.recompute_children(v_pids);
        v_n := v_n + cardinality(v_pids);
        v_last := v_pids[cardinality(v_pids)];
    END LOOP;
    -- children left without any event keep no rows
    DELETE FROM wh.route r WHERE NOT EXISTS (SELECT 1 FROM staging.event e WHERE e.pid = r.pid AND NOT e.withdrawn);
    RETURN v_n;
END $$;
COMMENT ON FUNCTION wh.recompute_all(integer) IS
    'Rebuilds the linked facts of every child in staging.event, p_chunk children per pass. Returns the number of children.';
