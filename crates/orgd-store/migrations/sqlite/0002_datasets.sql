CREATE TABLE datasets (
    dataset_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    type TEXT NOT NULL,
    definition TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    item_count BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    UNIQUE (org_id, name_key)
);

CREATE TABLE items (
    dataset_id TEXT NOT NULL REFERENCES datasets (dataset_id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    PRIMARY KEY (dataset_id, item_id)
);
CREATE UNIQUE INDEX items_order ON items (dataset_id, seq);
