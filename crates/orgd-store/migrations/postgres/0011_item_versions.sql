-- Item history: one version per changed item of a write, kept in the write's transaction while the org's
-- item_history setting is on (before and after as JSON; NULL before = created, NULL after = deleted).
CREATE TABLE item_versions (
    vseq BIGSERIAL PRIMARY KEY,
    dataset_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    item_seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT
);
CREATE INDEX item_versions_item ON item_versions (dataset_id, item_id, vseq);
CREATE INDEX item_versions_at ON item_versions (dataset_id, at, vseq);
