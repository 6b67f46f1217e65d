-- Issue 14: versions for preconditions (ETag / If-Match) and the durable event log.
--
-- An integration's version counts every change of it and of its actions (the REST view of an integration holds its
-- actions, and an action's view holds its integration's name and archived flag). Triggers keep it, so that every
-- writer, present or future, moves it in the same transaction as its change.
ALTER TABLE integrations ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
CREATE TRIGGER integrations_version AFTER UPDATE ON integrations
    WHEN NEW.version = OLD.version
BEGIN
    UPDATE integrations SET version = OLD.version + 1 WHERE id = NEW.id;
END;
CREATE TRIGGER actions_insert_version AFTER INSERT ON actions
BEGIN
    UPDATE integrations SET version = version + 1 WHERE id = NEW.integration_id;
END;
CREATE TRIGGER actions_update_version AFTER UPDATE ON actions
BEGIN
    UPDATE integrations SET version = version + 1 WHERE id = NEW.integration_id;
END;
-- Runbook and task changes, kept for a retention window so that a listener can resume where it stopped. Ids come
-- from `event_sequence`, updated in the writing transaction: they only grow, are never reused (not even when the
-- log is emptied by retention), and become visible in order.
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    runbook_id INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX events_created ON events (created_at);
CREATE TABLE event_sequence (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_id INTEGER NOT NULL
);
INSERT INTO event_sequence (id, last_id) VALUES (1, 0);
