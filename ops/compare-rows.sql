-- The rows that two loads of the same events must agree on, one md5 per row: what the fault test
-- (tests/it_fault.c) and the chaos soak (bench/chaos.sh) compare between a run with faults and a
-- clean run. staging.event without its Kafka coordinates and load time (they depend on the topics
-- and the timing, not on the data). Columns: table, md5 of the row as text.
-- No closing semicolon: tests/it_fault.c wraps this query in an aggregate.
SELECT 'wh.care_episode' AS tbl, md5(t::text) AS row_md5 FROM wh.care_episode t
UNION ALL
SELECT 'wh.route', md5(t::text) FROM wh.route t
UNION ALL
SELECT 'wh.population_month', md5(t::text) FROM wh.population_month t
UNION ALL
SELECT 'monitor.waiting_list_weekly', md5(t::text) FROM monitor.waiting_list_weekly t
UNION ALL
SELECT 'staging.event',
       md5((feed, event_id, pid, type, occurred_on, recorded_at, status, withdrawn, gemeente, payload)::text)
  FROM staging.event
