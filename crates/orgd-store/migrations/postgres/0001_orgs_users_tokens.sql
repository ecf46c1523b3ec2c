CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('auth_epoch', 0);

CREATE TABLE orgs (
    org_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL UNIQUE,
    parent_id TEXT REFERENCES orgs (org_id),
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    allowed_subnets TEXT NOT NULL,
    usage_plan TEXT NOT NULL,
    settings TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    psk BIGSERIAL PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    user_key TEXT NOT NULL,
    email TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    mobile_phone TEXT,
    role TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    expires_at BIGINT,
    token_access BIGINT NOT NULL,
    allowed_subnets TEXT NOT NULL,
    password_hash TEXT,
    password_changed_at BIGINT,
    password_history TEXT NOT NULL,
    custom_metadata TEXT NOT NULL,
    failed_login_count BIGINT NOT NULL,
    last_failed_login_at BIGINT,
    locked_until BIGINT,
    locked_permanently BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    last_login_at BIGINT,
    UNIQUE (org_id, user_key)
);
CREATE INDEX users_user_key ON users (user_key);

CREATE TABLE tokens (
    token_id TEXT PRIMARY KEY,
    hash BYTEA NOT NULL,
    kind TEXT NOT NULL,
    user_psk BIGINT NOT NULL REFERENCES users (psk) ON DELETE CASCADE,
    label TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT,
    subnets TEXT NOT NULL,
    remember_me BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    last_used_ip TEXT,
    revoked_at BIGINT
);
CREATE INDEX tokens_user ON tokens (user_psk);
