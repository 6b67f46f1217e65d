-- Issue 14: versions for preconditions (ETag / If-Match) and the durable event log.
--
-- An integration's version counts every change of it and of its actions (the REST view of an integration holds its
-- actions, and an action's view holds its integration's name and archived flag). Triggers keep it, so that every
-- writer, present or future, moves it in the same transaction as its change.
ALTER TABLE integrations ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
CREATE FUNCTION integrations_next_version() RETURNS trigger AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER integrations_version BEFORE UPDATE ON integrations
    FOR EACH ROW EXECUTE FUNCTION integrations_next_version();
CREATE FUNCTION actions_touch_integration() RETURNS trigger AS $$
BEGIN
    UPDATE integrations SET version = version + 1 WHERE id = NEW.integration_id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER actions_version AFTER INSERT OR UPDATE ON actions
    FOR EACH ROW EXECUTE FUNCTION actions_touch_integration();
-- Runbook and task changes, kept for a retention window so that a listener can resume where it stopped. Ids come
-- from `event_sequence`, updated in the writing transaction: they only grow, are never reused, and since the row
-- stays locked until the writer commits, a reader never sees a larger id before a smaller one.
CREATE TABLE events (
    id BIGINT PRIMARY KEY,
    runbook_id BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_created ON events (created_at);
CREATE TABLE event_sequence (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_id BIGINT NOT NULL
);
INSERT INTO event_sequence (id, last_id) VALUES (1, 0);
