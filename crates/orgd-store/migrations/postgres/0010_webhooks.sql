-- Webhooks: an org's subscriptions, the kinds each wants, and one delivery per event and subscription,
-- queued by the transaction of the event (the outbox the delivering nodes read).
CREATE TABLE webhooks (
    webhook_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    url TEXT NOT NULL,
    kinds TEXT NOT NULL,
    include_descendants INTEGER NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    last_attempt_at BIGINT
);
CREATE INDEX webhooks_org ON webhooks (org_id);

-- One row per kind pattern of a subscription (a kind, `<object>.*` or `*`), for the match in SQL.
CREATE TABLE webhook_kinds (
    webhook_id TEXT NOT NULL,
    pattern TEXT NOT NULL,
    PRIMARY KEY (webhook_id, pattern)
);
CREATE INDEX webhook_kinds_pattern ON webhook_kinds (pattern, webhook_id);

CREATE TABLE webhook_deliveries (
    seq BIGSERIAL PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    claimed_until BIGINT NOT NULL DEFAULT 0,
    last_status BIGINT,
    last_error TEXT,
    last_attempt_at BIGINT,
    delivered_at BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_at);
CREATE INDEX webhook_deliveries_of ON webhook_deliveries (webhook_id, seq);
CREATE INDEX webhook_deliveries_object ON webhook_deliveries (webhook_id, object_id, seq);
