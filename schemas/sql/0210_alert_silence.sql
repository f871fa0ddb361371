-- Silences of jtm-alert (issue 20; docs/alerts.md, Silences): a municipality's series (one
-- category, or all of them) muted until a date, with the reason and who set it. While a silence
-- holds, an alarm of the series is recorded in ops.alert with status 'silenced' and nothing is
-- sent; the history keeps both the silence and what it held back.
CREATE TABLE ops.alert_silence (
    id bigserial PRIMARY KEY,
    gemeente text NOT NULL CHECK (gemeente ~ '^GM[0-9]{4}$'),
    category text CHECK (category ~ '^[0-9]{2}$'), -- NULL: every category of the municipality
    until date NOT NULL,                           -- muted up to and including this day
    reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    created_by text NOT NULL DEFAULT session_user,
    created_at timestamptz NOT NULL DEFAULT now(),
    lifted_at timestamptz,                         -- lifted early (jtm-alert silence --lift)
    lifted_by text
);
CREATE INDEX alert_silence_active ON ops.alert_silence (gemeente, until) WHERE lifted_at IS NULL;
COMMENT ON TABLE ops.alert_silence IS
    'jtm-alert silences: a (gemeente, category or all) series muted until a date; alarms meanwhile are recorded as status silenced and not sent.';

ALTER TABLE ops.alert DROP CONSTRAINT alert_status_check;
ALTER TABLE ops.alert ADD CONSTRAINT alert_status_check CHECK (status IN ('firing', 'resolved', 'silenced'));
COMMENT ON COLUMN ops.alert.status IS
    'firing or resolved; silenced: the week alarmed while a silence held (nothing was sent).';

-- The quasi-Poisson detector (alert.method = farrington) stores its name as the method.
ALTER TABLE ops.alert DROP CONSTRAINT alert_method_check;
ALTER TABLE ops.alert ADD CONSTRAINT alert_method_check CHECK (method IN ('C1', 'C2', 'C3', 'farrington'));
