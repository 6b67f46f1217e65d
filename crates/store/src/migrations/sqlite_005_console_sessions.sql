-- Web console sessions: the SHA-256 of each session id (never the id), its user and CSRF token, and two deadlines
-- that every lookup checks: `idle_until` (moved on by use) and `expires_at` (fixed at sign-in).
CREATE TABLE console_sessions (
    id INTEGER PRIMARY KEY,
    id_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id),
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    idle_until INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id, id);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
