-- What jtm-extract needs beyond wh.route and wh.care_episode: per child the sex and birth month of
-- its latest event (staging holds them in the payload; the extractor role does not read staging).
CREATE VIEW wh.child_profile AS
SELECT DISTINCT ON (e.pid)
       e.pid,
       e.gemeente,
       to_date(e.payload->'client'->>'birth_ym', 'YYYY-MM') AS birth_month,
       (e.payload->'client'->>'sex')::smallint AS sex
FROM staging.event e
WHERE NOT e.withdrawn AND e.payload->'client'->>'birth_ym' ~ '^[0-9]{4}-[0-9]{2}$'
ORDER BY e.pid, e.occurred_on DESC, e.recorded_at DESC, e.event_id DESC;
COMMENT ON VIEW wh.child_profile IS
    'Per child (pid) the gemeente, birth month and sex of its latest non-withdrawn event; read by jtm-extract. Row-level security of staging.event applies to whoever reads it.';
COMMENT ON COLUMN wh.child_profile.pid IS 'Pseudonym of the child.';
COMMENT ON COLUMN wh.child_profile.gemeente IS 'Municipality of the latest event.';
COMMENT ON COLUMN wh.child_profile.birth_month IS 'First day of the birth month (client.birth_ym).';
COMMENT ON COLUMN wh.child_profile.sex IS 'client.sex: 0 unknown, 1 male, 2 female.';

SELECT ops.secure_all();
