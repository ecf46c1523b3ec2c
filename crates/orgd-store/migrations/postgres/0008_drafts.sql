CREATE TABLE drafts (
    draft_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    dataset_id TEXT NOT NULL REFERENCES datasets (dataset_id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    added BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    removed BIGINT NOT NULL
);
CREATE INDEX drafts_org ON drafts (org_id);
CREATE INDEX drafts_dataset ON drafts (dataset_id);

CREATE TABLE draft_items (
    draft_id TEXT NOT NULL REFERENCES drafts (draft_id) ON DELETE CASCADE,
    layer_key TEXT NOT NULL,
    seq BIGINT NOT NULL,
    item_id TEXT NOT NULL,
    change TEXT NOT NULL,
    base_modified_at BIGINT,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    item_values TEXT,
    PRIMARY KEY (draft_id, layer_key, seq)
);
