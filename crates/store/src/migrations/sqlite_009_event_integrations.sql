-- Issue 18: event integrations and their deliveries.
--
-- An event integration's definition is kept in clear with its secrets replaced (`body`), its auth sealed (`auth`).
-- `last_event_id` (the cursor) is the id of the last event of the durable log it has routed: a restarted engine resumes after it.
CREATE TABLE event_integrations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    auth BLOB NOT NULL,
    last_event_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- One delivery per event, event integration and part (an event may make several: `runbook_created` one
-- `task.created` per task, a run's start `runbook.started` and `run.started`): the outbox row that is
-- sent, retried and logged like a fire, under a lease. Deliveries of one runbook and event integration are sent in
-- event id order, each once the one before is done.
CREATE TABLE event_deliveries (
    event_id INTEGER NOT NULL,
    event_integration_id INTEGER NOT NULL,
    part INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    runbook_id INTEGER NOT NULL,
    task_id TEXT,
    idempotency_key TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,
    event_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    outcome TEXT,
    state TEXT,
    entries TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (event_id, event_integration_id, part)
);
CREATE INDEX event_deliveries_due ON event_deliveries (status, due_at);
CREATE INDEX event_deliveries_order ON event_deliveries (event_integration_id, runbook_id, status, event_id);
CREATE INDEX event_deliveries_runbook ON event_deliveries (runbook_id, event_id);
