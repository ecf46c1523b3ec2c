CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    dataset_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_by_psk BIGINT NOT NULL,
    trace_id TEXT NOT NULL,
    request TEXT NOT NULL,
    result_type TEXT,
    result_kept BIGINT NOT NULL,
    errors TEXT,
    error_count BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX jobs_status ON jobs (status, created_at);

CREATE TABLE job_chunks (
    job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
    n BIGINT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (job_id, n)
);

CREATE TABLE files (
    file_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    target_type TEXT NOT NULL,
    target_encoding TEXT NOT NULL,
    uploaded BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE file_chunks (
    file_id TEXT NOT NULL REFERENCES files (file_id) ON DELETE CASCADE,
    n BIGINT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (file_id, n)
);
