-- The change history: one row per change, written in the change's own transaction. No foreign key to
-- orgs: the trail of an org outlives the org (its deletion is an event of the org above it).
CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    at BIGINT NOT NULL,
    org_id TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    object_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    trace_id TEXT,
    body TEXT NOT NULL
);
CREATE INDEX events_org_at ON events (org_id, at);
CREATE INDEX events_org_actor ON events (org_id, actor_id, at);
CREATE INDEX events_org_object ON events (org_id, object_id, at);
CREATE INDEX events_trace ON events (trace_id);

-- Who does a periodic task shared by every node (the events' retention) until when.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until_ms BIGINT NOT NULL
);
