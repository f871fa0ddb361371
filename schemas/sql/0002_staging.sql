-- Staging (events as received from the pseudo.* topics) and the linker's operational state.
--
-- staging.event keeps one row per (feed, event_id): the version that wins by (recorded_at, status,
-- md5(payload)), so a late older version, a duplicate or a resend never changes what is stored.
--
-- Partitioning: staging.event is deliberately NOT partitioned by month. Its identity is
-- (feed, event_id), and PostgreSQL requires a partition key to be part of every unique index; the
-- only month key an event has (occurred_on) can change with a status 2 correction, which would
-- make one event two rows. Volume is handled instead by the pid index (the recompute reads one
-- child at a time) and, for a region that outgrows one server, by distributing on pid (Citus,
-- design.md). Retention, when needed, deletes by loaded_at.

CREATE TABLE staging.event (
    feed text NOT NULL CHECK (feed IN ('jgz', 'verzuim', 'soj')),
    event_id text NOT NULL CHECK (event_id ~ '^[0-9a-f]{32}$'),
    pid text NOT NULL CHECK (pid ~ '^[0-9a-f]{32}$'),
    type text NOT NULL CHECK (type <> ''),
    occurred_on date NOT NULL,
    recorded_at timestamptz NOT NULL,
    status smallint NOT NULL CHECK (status BETWEEN 1 AND 3),
    withdrawn boolean NOT NULL,
    gemeente text,
    payload jsonb NOT NULL,
    src_topic text,
    src_partition integer,
    src_offset bigint,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (feed, event_id),
    CHECK (withdrawn = (status = 3))
);
CREATE INDEX event_pid_idx ON staging.event (pid);

COMMENT ON TABLE staging.event IS
    'One row per pseudonymised event (per feed and hashed event_id), the winning version: the highest (recorded_at, status, md5 of payload). Status 2 replaces, status 3 withdraws (the row stays, withdrawn = true), a duplicate changes nothing. Written only by jtm-linker.';
COMMENT ON COLUMN staging.event.feed IS 'Source feed: jgz, verzuim or soj.';
COMMENT ON COLUMN staging.event.event_id IS 'Keyed hash of the supplier''s event id (32 hex); unique per feed.';
COMMENT ON COLUMN staging.event.pid IS 'Pseudonym of the child (32 hex), the same in every feed.';
COMMENT ON COLUMN staging.event.type IS 'Event type within the feed (contact, signal, melding, request, allocation, start, stop, invoice, ...).';
COMMENT ON COLUMN staging.event.occurred_on IS 'Date the thing happened (not when it was sent).';
COMMENT ON COLUMN staging.event.recorded_at IS 'When the supplier recorded this version; later versions win.';
COMMENT ON COLUMN staging.event.status IS 'Status of the stored version: 1 new, 2 changed, 3 withdrawn.';
COMMENT ON COLUMN staging.event.withdrawn IS 'True when the winning version is a withdrawal (status 3); such events are left out of every linked fact.';
COMMENT ON COLUMN staging.event.gemeente IS 'CBS municipality code (client.gemeente) of this event.';
COMMENT ON COLUMN staging.event.payload IS 'The whole pseudonymised event as jsonb (format: docs/conventions.md).';
COMMENT ON COLUMN staging.event.src_topic IS 'Kafka topic the stored version came from (NULL when loaded by SQL).';
COMMENT ON COLUMN staging.event.src_partition IS 'Kafka partition of the stored version.';
COMMENT ON COLUMN staging.event.src_offset IS 'Kafka offset of the stored version.';
COMMENT ON COLUMN staging.event.loaded_at IS 'When the stored version was written.';

CREATE TABLE ops.kafka_offset (
    consumer_group text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    next_offset bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);
COMMENT ON TABLE ops.kafka_offset IS
    'The linker''s Kafka positions, written in the same transaction as the events they cover: on assignment the linker seeks here, so the warehouse sees every message exactly once.';
COMMENT ON COLUMN ops.kafka_offset.consumer_group IS 'Kafka consumer group (linker.group).';
COMMENT ON COLUMN ops.kafka_offset.topic IS 'Kafka topic.';
COMMENT ON COLUMN ops.kafka_offset.partition IS 'Kafka partition.';
COMMENT ON COLUMN ops.kafka_offset.next_offset IS 'Offset of the next message to apply (last applied + 1).';
COMMENT ON COLUMN ops.kafka_offset.updated_at IS 'Commit time of the batch that last moved it.';

CREATE TABLE ops.linker_dead_letter (
    id bigserial PRIMARY KEY,
    consumer_group text,
    topic text,
    partition integer,
    "offset" bigint,
    reason text NOT NULL,
    raw bytea,
    failed_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consumer_group, topic, partition, "offset")
);
COMMENT ON TABLE ops.linker_dead_letter IS
    'Messages the linker could not load (not JSON, schema violation, refused by PostgreSQL), with the reason; the batch went on without them. Owner only: raw holds the pseudonymised message.';
COMMENT ON COLUMN ops.linker_dead_letter.id IS 'Surrogate key.';
COMMENT ON COLUMN ops.linker_dead_letter.consumer_group IS 'Consumer group of the linker that refused it.';
COMMENT ON COLUMN ops.linker_dead_letter.topic IS 'Kafka topic of the message.';
COMMENT ON COLUMN ops.linker_dead_letter.partition IS 'Kafka partition of the message.';
COMMENT ON COLUMN ops.linker_dead_letter."offset" IS 'Kafka offset of the message.';
COMMENT ON COLUMN ops.linker_dead_letter.reason IS 'Stable reason code (json_parse, schema:missing:<field>, schema:invalid:<field>, feed_mismatch) or pg:<SQLSTATE> <message>.';
COMMENT ON COLUMN ops.linker_dead_letter.raw IS 'The message value as received (bytes; may not be valid UTF-8).';
COMMENT ON COLUMN ops.linker_dead_letter.failed_at IS 'When it was dead-lettered.';

-- The per-session input table of a batch: the linker COPYs into it, staging.apply_batch() drains it.
-- Temporary, so concurrent linkers never see each other's rows.
CREATE FUNCTION staging.linker_session() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.linker_in') IS NULL THEN
        CREATE TEMP TABLE linker_in (
            src_topic text,
            src_partition integer,
            src_offset bigint,
            payload jsonb,  -- the event, when it passed the linker's checks
            reject text,    -- else the reason it is dead-lettered
            raw bytea       -- and its bytes
        ) ON COMMIT DELETE ROWS;
    END IF;
END $$;
COMMENT ON FUNCTION staging.linker_session() IS
    'Creates the session''s temporary input table linker_in (once per connection) that staging.apply_batch reads.';
