-- The e-mail channel of jtm-alert (issue 20; docs/alerts.md, E-mail). Each notice has one delivery
-- per channel its municipality's route has: 'webhook' (as before) and 'email'. An e-mail delivery
-- goes out grouped with the other e-mail notices of its municipality that are due at the same time,
-- and is attempted, retried and recorded like a webhook (ops.alert_attempt per delivery).
ALTER TABLE ops.alert_delivery ADD COLUMN channel text NOT NULL DEFAULT 'webhook'
    CHECK (channel IN ('webhook', 'email'));
ALTER TABLE ops.alert_delivery DROP CONSTRAINT alert_delivery_alert_id_kind_key;
ALTER TABLE ops.alert_delivery ADD CONSTRAINT alert_delivery_alert_id_kind_channel_key UNIQUE (alert_id, kind, channel);
ALTER TABLE ops.alert_delivery DROP CONSTRAINT alert_delivery_idempotency_key_key;
ALTER TABLE ops.alert_delivery ADD CONSTRAINT alert_delivery_idempotency_key_channel_key UNIQUE (idempotency_key, channel);
COMMENT ON COLUMN ops.alert_delivery.channel IS
    'webhook (signed POST to the route''s url) or email (SMTP to the route''s addresses, grouped per municipality).';
