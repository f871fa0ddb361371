-- Alert state of jtm-alert (design.md, Alerts; docs/alerts.md). An outbox: an alarm episode and
-- its notification rows are committed in one transaction before anything is sent; every send is
-- an attempt row written before (outcome NULL) and completed after the HTTP exchange.

-- One row per alarm episode of a (gemeente, category, method) series; week is the week_start of
-- the week that fired. At most one episode per series is firing at a time.
CREATE TABLE ops.alert (
    id bigserial PRIMARY KEY,
    gemeente text NOT NULL,
    category text NOT NULL,
    method text NOT NULL CHECK (method IN ('C1', 'C2', 'C3')),
    week date NOT NULL,
    observed double precision NOT NULL,
    upper_bound double precision NOT NULL,
    status text NOT NULL CHECK (status IN ('firing', 'resolved')),
    fired_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    resolved_week date,
    resolved_observed double precision,
    resolved_upper_bound double precision,
    UNIQUE (gemeente, category, method, week)
);
CREATE UNIQUE INDEX alert_one_firing ON ops.alert (gemeente, category, method) WHERE status = 'firing';

-- One row per notification (firing, resolved) of an episode. body is the exact JSON sent, so a
-- resend after a restart is byte-identical and carries the same idempotency key and signature.
CREATE TABLE ops.alert_delivery (
    id bigserial PRIMARY KEY,
    alert_id bigint NOT NULL REFERENCES ops.alert (id),
    kind text NOT NULL CHECK (kind IN ('firing', 'resolved')),
    gemeente text NOT NULL,
    idempotency_key text NOT NULL UNIQUE,
    body text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    last_http_status integer,
    last_error text,
    UNIQUE (alert_id, kind)
);
CREATE INDEX alert_delivery_pending ON ops.alert_delivery (next_attempt_at) WHERE status = 'pending';

-- Every HTTP attempt. outcome NULL while in flight; 'interrupted' when jtm-alert died before
-- recording the result (found at the next start; the delivery stays pending and is resent).
CREATE TABLE ops.alert_attempt (
    id bigserial PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES ops.alert_delivery (id),
    attempt integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    http_status integer,
    error text,
    outcome text CHECK (outcome IN ('delivered', 'retry', 'failed', 'interrupted'))
);
CREATE INDEX alert_attempt_delivery ON ops.alert_attempt (delivery_id);

COMMENT ON TABLE ops.alert IS 'jtm-alert alarm episodes per (gemeente, category, method), firing or resolved.';
COMMENT ON TABLE ops.alert_delivery IS 'jtm-alert webhook notifications (outbox): pending, delivered or failed.';
COMMENT ON TABLE ops.alert_attempt IS 'jtm-alert: every webhook attempt with its HTTP status or error.';
