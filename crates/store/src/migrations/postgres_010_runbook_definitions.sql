-- A runbook's definition document moves out of the `runbooks` row into a table of its own, so that a step, which
-- rewrites the row's run-level state and version, never copies the definition, and the row keeps only what steps
-- touch (state, version) and what lists show (name, `workspace`). (SQLite needs this most: it writes a whole row on
-- every update; both backends keep the same shape.)
CREATE TABLE runbook_definitions (
    runbook_id BIGINT PRIMARY KEY REFERENCES runbooks(id),
    definition TEXT NOT NULL
);
INSERT INTO runbook_definitions (runbook_id, definition) SELECT id, definition FROM runbooks;
ALTER TABLE runbooks ADD COLUMN workspace TEXT;
UPDATE runbooks SET workspace = definition::json -> 'runbook' ->> 'workspace';
ALTER TABLE runbooks DROP COLUMN definition;
