-- A runbook's state in parts, so that a step writes only what it changed: the run-level state stays in
-- `runbooks.state`, each task's state gets a row of its own, and the plan is kept once in `runbooks.definition`
-- (`{"runbook": …, "plan": …}`). A task row's `version` is the runbook version that last wrote it, and
-- `runbooks.definition_version` the one that last wrote the definition, so a reader that knows version N reads only
-- what changed after N. `runbooks.task_count` bounds the positions a step may write.
CREATE TABLE runbook_tasks (
    runbook_id BIGINT NOT NULL REFERENCES runbooks(id),
    position BIGINT NOT NULL,
    state TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (runbook_id, position)
);
CREATE INDEX runbook_tasks_version ON runbook_tasks (runbook_id, version);
ALTER TABLE runbooks ADD COLUMN definition_version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE runbooks ADD COLUMN task_count BIGINT NOT NULL DEFAULT 0;
-- Definitions stored alone carried their plan in the state: it moves beside the definition.
UPDATE runbooks SET definition = json_build_object('runbook', definition::json, 'plan', state::json -> 'plan')::text
    WHERE definition::json -> 'runbook' IS NULL;
INSERT INTO runbook_tasks (runbook_id, position, state, version)
    SELECT r.id, t.n - 1, t.v::text, r.version
    FROM runbooks r, json_array_elements(r.state::json -> 'tasks') WITH ORDINALITY AS t(v, n);
UPDATE runbooks SET state = ((state::jsonb) - 'tasks' - 'plan')::text, definition_version = version,
    task_count = (SELECT count(*) FROM runbook_tasks t WHERE t.runbook_id = runbooks.id);
