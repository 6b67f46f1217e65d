-- The initial schema on SQLite. Times are unix milliseconds; JSON documents are TEXT; sealed secrets are BLOBs.
CREATE TABLE integrations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE actions (
    id INTEGER PRIMARY KEY,
    integration_id INTEGER NOT NULL REFERENCES integrations(id),
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    auth BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (integration_id, name)
);
CREATE TABLE custom_fields (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE system_parameters (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    secret INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    roles TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL
);
CREATE TABLE runbooks (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE fires (
    id INTEGER PRIMARY KEY,
    runbook_id INTEGER NOT NULL REFERENCES runbooks(id),
    task_id TEXT NOT NULL,
    fire_number INTEGER NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    state TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    callback_token_hash TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (runbook_id, task_id, fire_number)
);
CREATE INDEX fires_pending ON fires (due_at) WHERE status <> 'done';
CREATE INDEX fires_task ON fires (runbook_id, task_id);
CREATE TABLE actions_log (
    id INTEGER PRIMARY KEY,
    fire_id INTEGER NOT NULL REFERENCES fires(id),
    record TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX actions_log_fire ON actions_log (fire_id, id);
CREATE TABLE timers (
    id INTEGER PRIMARY KEY,
    runbook_id INTEGER NOT NULL REFERENCES runbooks(id),
    task_id TEXT,
    kind TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX timers_due ON timers (due_at);
CREATE TABLE credentials (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY,
    value BLOB,
    used INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL
);
