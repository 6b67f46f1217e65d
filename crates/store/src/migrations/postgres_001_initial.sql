-- The initial schema on PostgreSQL. Times are unix milliseconds; JSON documents are TEXT; sealed secrets are BYTEAs.
CREATE TABLE integrations (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    archived BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE actions (
    id BIGSERIAL PRIMARY KEY,
    integration_id BIGINT NOT NULL REFERENCES integrations(id),
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    auth BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (integration_id, name)
);
CREATE TABLE custom_fields (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE system_parameters (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL,
    secret BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    roles TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL
);
CREATE TABLE runbooks (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    state TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE fires (
    id BIGSERIAL PRIMARY KEY,
    runbook_id BIGINT NOT NULL REFERENCES runbooks(id),
    task_id TEXT NOT NULL,
    fire_number BIGINT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    state TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    callback_token_hash TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (runbook_id, task_id, fire_number)
);
CREATE INDEX fires_pending ON fires (due_at) WHERE status <> 'done';
CREATE INDEX fires_task ON fires (runbook_id, task_id);
CREATE TABLE actions_log (
    id BIGSERIAL PRIMARY KEY,
    fire_id BIGINT NOT NULL REFERENCES fires(id),
    record TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX actions_log_fire ON actions_log (fire_id, id);
CREATE TABLE timers (
    id BIGSERIAL PRIMARY KEY,
    runbook_id BIGINT NOT NULL REFERENCES runbooks(id),
    task_id TEXT,
    kind TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX timers_due ON timers (due_at);
CREATE TABLE credentials (
    key TEXT PRIMARY KEY,
    value BYTEA NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY,
    value BYTEA,
    used BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL
);
