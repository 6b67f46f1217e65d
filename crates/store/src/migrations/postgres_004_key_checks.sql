-- One known value sealed with each key that has sealed secrets here: a start with another key is refused by name
-- instead of failing on every secret it reads (see `key_check.rs`).
CREATE TABLE key_checks (
    key_id BIGINT PRIMARY KEY,
    sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
