-- `fires_task (runbook_id, task_id)` is a prefix of the unique index on (runbook_id, task_id, fire_number), which
-- serves the same lookups; one index fewer to update on every new fire.
DROP INDEX fires_task;
