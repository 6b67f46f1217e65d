-- A runbook's definition document moves out of the `runbooks` row into a table of its own. SQLite writes a whole row
-- on every update, and reads through a large column to reach the ones after it, so with the definition in the row
-- every step of a runbook rewrote (and every version check read) its whole definition: a step's cost grew with the
-- runbook's size. The row keeps what steps touch (state, version) and what lists show (name, `workspace`).
CREATE TABLE runbook_definitions (
    runbook_id INTEGER PRIMARY KEY REFERENCES runbooks(id),
    definition TEXT NOT NULL
);
INSERT INTO runbook_definitions (runbook_id, definition) SELECT id, definition FROM runbooks;
ALTER TABLE runbooks ADD COLUMN workspace TEXT;
UPDATE runbooks SET workspace = json_extract(definition, '$.runbook.workspace');
ALTER TABLE runbooks DROP COLUMN definition;
