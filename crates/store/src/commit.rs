//! Writing a [`Commit`]: the runbook's run-level state and the tasks that changed, new fires, fire updates, log records,
//! timers and events, in one transaction.
//!
//! A commit becomes a typed plan first ([`Step`]s: which statement, its values, how many rows it must change), and the
//! plan is emitted per backend. Every kind of row travels as one JSON array read by the database (`jsonb_each` on
//! SQLite, `json_array_elements` on PostgreSQL), so a statement's text depends only on its kind and the backend:
//! prepared once, whatever the number of rows, and a step that writes ten tasks costs one statement, not ten.
//!
//! - On SQLite a whole group of plans, `BEGIN IMMEDIATE` to `COMMIT`, is one batch, written in one go by the commit
//!   writer (`committer.rs`: a thread of its own holding a second connection to the database file, so that the batch
//!   costs one message there and one back, whatever its number of statements; an in-memory database, which a second
//!   connection would not share, sends the same batch to sqlx's writing connection instead, at a message per
//!   statement result). A plan is one statement: its values go as one JSONB document into the temporary view
//!   `commit_plans`, whose `INSTEAD OF` trigger (made once per connection by [`sqlite_plan_objects`] from the same
//!   statements as the step by step path, their values read from the document) runs every statement of the plan.
//!   After each statement the trigger checks its row count: every statement but the deletion of timers changes an
//!   exact number of rows when its guards hold and fewer otherwise (a stale version changes no runbook row, a lost
//!   lease no fire row), and a count that is not met raises an error, which stops the batch before `COMMIT`. The ids
//!   a plan learns (new fires, new timers, the last event id) go to a temporary table that one `SELECT` returns as one
//!   row for the whole group. A batch that stops is rolled back and the plan run again step by step in a transaction
//!   on sqlx's writing connection, which says precisely what failed (or succeeds, if the failure was passing).
//! - Step by step (PostgreSQL, which takes no batch of statements with parameters; and SQLite inside a caller's
//!   transaction) each statement runs on its own and its row count is checked at once, the version check first, so a
//!   conflict stops the commit before anything else is sent.

use crate::error::StoreError;
use crate::records::*;
use crate::sql::{Backend, DEFINITION_IF_WRITTEN_AFTER, SqlStore, get, unique_violation};
use crate::writer::{SqliteWriter, WriteTx};
use futures::TryStreamExt;
use serde::Serialize;
use sqlx::any::{AnyArguments, AnyQueryResult, AnyRow};
use sqlx::{Arguments, Either, Executor, Row};
use std::collections::HashMap;
use std::fmt::Write as _;

/// The temporary objects of the SQLite writing connection through which a plan is written in one statement (see the
/// module documentation): the view `commit_plans (n, plan)` whose trigger writes plan `n` of a batch from its JSONB
/// document, and the table `commit_results` of the ids the batch's plans learned (emptied by the batch's first plan).
pub(crate) fn sqlite_plan_objects() -> String {
    let mut sql = String::from(
        "CREATE TEMP TABLE IF NOT EXISTS commit_results \
         (plan INTEGER NOT NULL, fire_key TEXT, id INTEGER, last_event_id INTEGER); \
         CREATE TEMP VIEW IF NOT EXISTS commit_plans (n, plan) AS SELECT 0, NULL; \
         CREATE TEMP TRIGGER IF NOT EXISTS commit_plan INSTEAD OF INSERT ON commit_plans BEGIN \
         DELETE FROM commit_results WHERE NEW.n = 0; ",
    );
    for kind in StepKind::ALL {
        let key = kind.key();
        let placeholders: Vec<String> = (0..kind.value_count())
            .map(|n| match kind.rows_value() {
                // Inside `jsonb_each(…)`: the array at that path of the document.
                Some(rows) if rows == n => format!("NEW.plan, '$.{key}[{n}]'"),
                _ => format!("(NEW.plan ->> '$.{key}[{n}]')"),
            })
            .collect();
        sql.push_str(&kind.sql(Backend::Sqlite, &placeholders));
        sql.push_str("; ");
        if kind != StepKind::DeleteTimers {
            let _ = write!(
                sql,
                "SELECT RAISE(ABORT, 'commit check failed: {}') WHERE changes() <> ifnull(NEW.plan ->> '$.{key}_rows', 0); ",
                kind.operation()
            );
        }
        match kind {
            StepKind::InsertFires => sql.push_str(
                "INSERT INTO commit_results (plan, fire_key, id) SELECT NEW.n, value ->> 'key', \
                 (SELECT id FROM fires WHERE idempotency_key = value ->> 'key') FROM jsonb_each(NEW.plan, '$.new_fires[1]'); ",
            ),
            // A new row's id is one more than the largest before it: the new timers are the last ones.
            StepKind::InsertTimers => sql.push_str(
                "INSERT INTO commit_results (plan, id) SELECT NEW.n, id FROM (SELECT id FROM timers ORDER BY id DESC \
                 LIMIT ifnull(json_array_length(NEW.plan, '$.new_timers[1]'), 0)) ORDER BY id; ",
            ),
            StepKind::NumberEvents => sql.push_str(
                "INSERT INTO commit_results (plan, last_event_id) SELECT NEW.n, last_id FROM event_sequence \
                 WHERE id = 1 AND NEW.plan -> '$.number_events' IS NOT NULL; ",
            ),
            _ => {}
        }
    }
    sql.push_str("END;");
    sql
}

/// The statement that returns the ids a SQLite batch's plans learned, as one row.
pub(crate) const SQLITE_RESULTS: &str =
    "SELECT json_group_array(json_array(plan, fire_key, id, last_event_id)) AS results FROM temp.commit_results;";

/// What a statement of a plan does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepKind {
    /// The run-level state, under the version guard. Values: state, now, id, expected version.
    WriteRunbook,
    /// The task rows that changed. Values: rows (`[{"p": position, "s": state}]`), runbook id, new version.
    WriteTasks,
    /// New fires; returns each one's id with its (unique) key. Values: now, rows.
    InsertFires,
    /// Fire updates, each under its guard. Values: now, rows.
    UpdateFires,
    /// Actions log records, in order. Values: rows.
    InsertLogs,
    /// New timers, in order; returns their ids. Values: now, rows.
    InsertTimers,
    /// Timers to delete. Values: ids.
    DeleteTimers,
    /// Reserves ids for the commit's events (the sequence row stays locked until the commit ends on PostgreSQL, so
    /// ids become visible in order); returns the last of them. Values: how many.
    NumberEvents,
    /// The commit's events, numbered from the reserved ids in order. Values: how many, rows, now.
    InsertEvents,
}

impl StepKind {
    /// Every kind, in the order a plan writes them.
    const ALL: [Self; 9] = [
        Self::WriteRunbook,
        Self::WriteTasks,
        Self::InsertFires,
        Self::UpdateFires,
        Self::InsertLogs,
        Self::InsertTimers,
        Self::DeleteTimers,
        Self::NumberEvents,
        Self::InsertEvents,
    ];

    /// The name of the statement's values in a plan's SQLite document.
    fn key(self) -> &'static str {
        match self {
            Self::WriteRunbook => "runbook",
            Self::WriteTasks => "tasks",
            Self::InsertFires => "new_fires",
            Self::UpdateFires => "fire_updates",
            Self::InsertLogs => "logs",
            Self::InsertTimers => "new_timers",
            Self::DeleteTimers => "gone_timers",
            Self::NumberEvents => "number_events",
            Self::InsertEvents => "events",
        }
    }

    /// How many values the statement takes.
    fn value_count(self) -> usize {
        match self {
            Self::WriteRunbook => 4,
            Self::WriteTasks | Self::InsertEvents => 3,
            Self::InsertFires | Self::UpdateFires | Self::InsertTimers => 2,
            Self::InsertLogs | Self::DeleteTimers | Self::NumberEvents => 1,
        }
    }

    /// Which of its values is the JSON array of rows, if one is.
    fn rows_value(self) -> Option<usize> {
        match self {
            Self::WriteTasks | Self::InsertLogs | Self::DeleteTimers => Some(0),
            Self::InsertFires | Self::UpdateFires | Self::InsertTimers | Self::InsertEvents => Some(1),
            Self::WriteRunbook | Self::NumberEvents => None,
        }
    }

    /// What the statement returns when it runs alone: the ids the commit learns.
    fn returning(self) -> &'static str {
        match self {
            Self::InsertFires => " RETURNING id, idempotency_key AS fire_key",
            Self::InsertTimers => " RETURNING id",
            Self::NumberEvents => " RETURNING last_id AS last_event_id",
            _ => "",
        }
    }

    /// The statement for `backend` run alone (with what it returns), with the placeholders of its values in order.
    fn statement(self, backend: Backend, p: &[String]) -> String {
        let mut sql = self.sql(backend, p);
        sql.push_str(self.returning());
        sql
    }

    /// The statement for `backend` without what it returns, with the placeholders of its values in order.
    fn sql(self, backend: Backend, p: &[String]) -> String {
        match (self, backend) {
            (Self::WriteRunbook, _) => format!(
                "UPDATE runbooks SET state = {}, version = version + 1, updated_at = {} WHERE id = {} AND version = {}",
                p[0], p[1], p[2], p[3]
            ),
            // An upsert, so that each row is found by its key (an `UPDATE … FROM` would walk every task of the
            // runbook); positions beyond the runbook's tasks are left out, which the row count check then reports.
            (Self::WriteTasks, Backend::Sqlite) => format!(
                "INSERT INTO runbook_tasks (runbook_id, position, state, version) \
                 SELECT {1}, value ->> 'p', value -> 's', {2} FROM jsonb_each({0}) \
                 WHERE value ->> 'p' < (SELECT task_count FROM runbooks WHERE id = {1}) \
                 ON CONFLICT (runbook_id, position) DO UPDATE SET state = excluded.state, version = excluded.version",
                p[0], p[1], p[2]
            ),
            (Self::WriteTasks, Backend::Postgres) => format!(
                "INSERT INTO runbook_tasks (runbook_id, position, state, version) \
                 SELECT {1}, (u.v ->> 'p')::bigint, (u.v -> 's')::text, {2} FROM json_array_elements({0}::json) AS u(v) \
                 WHERE (u.v ->> 'p')::bigint < (SELECT task_count FROM runbooks WHERE id = {1}) \
                 ON CONFLICT (runbook_id, position) DO UPDATE SET state = EXCLUDED.state, version = EXCLUDED.version",
                p[0], p[1], p[2]
            ),
            (Self::InsertFires, Backend::Sqlite) => format!(
                "INSERT INTO fires (runbook_id, task_id, fire_number, idempotency_key, status, state, due_at, \
                 lease_owner, lease_until, callback_token_hash, created_at, updated_at) \
                 SELECT value ->> 'runbook', value ->> 'task', value ->> 'number', value ->> 'key', \
                 value ->> 'status', value ->> 'state', value ->> 'due', value ->> 'owner', value ->> 'until', \
                 value ->> 'callback', {0}, {0} FROM jsonb_each({1})",
                p[0], p[1]
            ),
            (Self::InsertFires, Backend::Postgres) => format!(
                "INSERT INTO fires (runbook_id, task_id, fire_number, idempotency_key, status, state, due_at, \
                 lease_owner, lease_until, callback_token_hash, created_at, updated_at) \
                 SELECT (f.v ->> 'runbook')::bigint, f.v ->> 'task', (f.v ->> 'number')::bigint, f.v ->> 'key', \
                 f.v ->> 'status', f.v ->> 'state', (f.v ->> 'due')::bigint, f.v ->> 'owner', \
                 (f.v ->> 'until')::bigint, f.v ->> 'callback', {0}, {0} \
                 FROM json_array_elements({1}::json) WITH ORDINALITY AS f(v, n) ORDER BY f.n",
                p[0], p[1]
            ),
            (Self::UpdateFires, Backend::Sqlite) => format!(
                "UPDATE fires SET status = u.value ->> 'status', state = u.value ->> 'state', \
                 due_at = u.value ->> 'due', updated_at = {0}, lease_owner = u.value ->> 'owner', \
                 lease_until = u.value ->> 'until' FROM jsonb_each({1}) AS u \
                 WHERE fires.id = u.value ->> 'id' AND fires.status <> 'done' AND \
                 CASE WHEN u.value ->> 'guard_owner' IS NOT NULL THEN fires.lease_owner = u.value ->> 'guard_owner' \
                 ELSE fires.status = u.value ->> 'guard_status' AND \
                 (fires.lease_owner IS NULL OR fires.lease_until <= {0}) END",
                p[0], p[1]
            ),
            (Self::UpdateFires, Backend::Postgres) => format!(
                "UPDATE fires SET status = u.v ->> 'status', state = u.v ->> 'state', \
                 due_at = (u.v ->> 'due')::bigint, updated_at = {0}, lease_owner = u.v ->> 'owner', \
                 lease_until = (u.v ->> 'until')::bigint FROM json_array_elements({1}::json) AS u(v) \
                 WHERE fires.id = (u.v ->> 'id')::bigint AND fires.status <> 'done' AND \
                 CASE WHEN u.v ->> 'guard_owner' IS NOT NULL THEN fires.lease_owner = u.v ->> 'guard_owner' \
                 ELSE fires.status = u.v ->> 'guard_status' AND \
                 (fires.lease_owner IS NULL OR fires.lease_until <= {0}) END",
                p[0], p[1]
            ),
            (Self::InsertLogs, Backend::Sqlite) => format!(
                "INSERT INTO actions_log (fire_id, record, created_at) \
                 SELECT COALESCE(value ->> 'fire', (SELECT id FROM fires WHERE idempotency_key = value ->> 'key')), \
                 value ->> 'record', value ->> 'at' FROM jsonb_each({0})",
                p[0]
            ),
            (Self::InsertLogs, Backend::Postgres) => format!(
                "INSERT INTO actions_log (fire_id, record, created_at) \
                 SELECT COALESCE((l.v ->> 'fire')::bigint, \
                 (SELECT id FROM fires WHERE idempotency_key = l.v ->> 'key')), l.v ->> 'record', \
                 (l.v ->> 'at')::bigint FROM json_array_elements({0}::json) WITH ORDINALITY AS l(v, n) ORDER BY l.n",
                p[0]
            ),
            (Self::InsertTimers, Backend::Sqlite) => format!(
                "INSERT INTO timers (runbook_id, task_id, kind, due_at, created_at) \
                 SELECT value ->> 'runbook', value ->> 'task', value ->> 'kind', value ->> 'due', {0} \
                 FROM jsonb_each({1})",
                p[0], p[1]
            ),
            (Self::InsertTimers, Backend::Postgres) => format!(
                "INSERT INTO timers (runbook_id, task_id, kind, due_at, created_at) \
                 SELECT (t.v ->> 'runbook')::bigint, t.v ->> 'task', t.v ->> 'kind', (t.v ->> 'due')::bigint, {0} \
                 FROM json_array_elements({1}::json) WITH ORDINALITY AS t(v, n) ORDER BY t.n",
                p[0], p[1]
            ),
            (Self::DeleteTimers, Backend::Sqlite) => {
                format!("DELETE FROM timers WHERE id IN (SELECT value FROM jsonb_each({}))", p[0])
            }
            (Self::DeleteTimers, Backend::Postgres) => format!(
                "DELETE FROM timers WHERE id IN (SELECT value::bigint FROM json_array_elements_text({}::json))",
                p[0]
            ),
            // Nothing when there is no count (in a SQLite plan's document without events).
            (Self::NumberEvents, _) => {
                format!("UPDATE event_sequence SET last_id = last_id + {0} WHERE id = 1 AND {0} > 0", p[0])
            }
            (Self::InsertEvents, Backend::Sqlite) => format!(
                "INSERT INTO events (id, runbook_id, body, created_at) \
                 SELECT (SELECT last_id FROM event_sequence WHERE id = 1) - {0} + 1 + key, value ->> 'runbook', \
                 value ->> 'body', {2} FROM jsonb_each({1}) ORDER BY key",
                p[0], p[1], p[2]
            ),
            (Self::InsertEvents, Backend::Postgres) => format!(
                "INSERT INTO events (id, runbook_id, body, created_at) \
                 SELECT (SELECT last_id FROM event_sequence WHERE id = 1) - {0} + e.n, (e.v ->> 'runbook')::bigint, \
                 e.v ->> 'body', {2} FROM json_array_elements({1}::json) WITH ORDINALITY AS e(v, n) ORDER BY e.n",
                p[0], p[1], p[2]
            ),
        }
    }

    /// What the database was doing, for errors.
    fn operation(self) -> &'static str {
        match self {
            Self::WriteRunbook => "writing runbook state",
            Self::WriteTasks => "writing task states",
            Self::InsertFires => "creating fires",
            Self::UpdateFires => "updating fires",
            Self::InsertLogs => "appending to the actions log",
            Self::InsertTimers => "creating timers",
            Self::DeleteTimers => "deleting timers",
            Self::NumberEvents => "numbering events",
            Self::InsertEvents => "appending events",
        }
    }
}

/// Which steps of a plan to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Steps {
    /// Every step, in order.
    All,
    /// Every step but the events' (numbering and appending).
    Changes,
    /// Only the events' steps.
    Events,
}

impl Steps {
    fn includes(self, kind: StepKind) -> bool {
        let event = matches!(kind, StepKind::NumberEvents | StepKind::InsertEvents);
        match self {
            Self::All => true,
            Self::Changes => !event,
            Self::Events => event,
        }
    }
}

/// A value bound to a statement.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Int(i64),
    Text(String),
    /// A JSON array of rows, and how many it holds.
    Rows(String, i64),
}

impl Value {
    fn array_length(&self) -> Option<i64> {
        match self {
            Self::Rows(_, count) => Some(*count),
            _ => None,
        }
    }
}

/// One statement of a plan: what it does, its values, and how many rows it must change (`None`: any number).
#[derive(Debug, Clone, PartialEq)]
struct Step {
    kind: StepKind,
    values: Vec<Value>,
    expect: Option<i64>,
}

impl Step {
    /// How many rows the statement changes when it succeeds and its guards hold (fewer otherwise); `None` when that
    /// is not known in advance (timers to delete may be gone already).
    fn rows(&self) -> Option<i64> {
        match self.kind {
            StepKind::DeleteTimers => None,
            // One row per element of the JSON array, which the statement inserts whole or fails.
            StepKind::InsertFires | StepKind::InsertLogs | StepKind::InsertTimers => {
                self.expect.or_else(|| self.values.iter().find_map(Value::array_length))
            }
            _ => self.expect,
        }
    }
}

/// The typed plan of a commit: its steps in order (runbook state first, so that a stale version stops it early).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    steps: Vec<Step>,
}

impl Plan {
    pub(crate) fn of(commit: &Commit) -> Result<Self, StoreError> {
        let now = Value::Int(commit.now);
        let mut steps = Vec::new();
        if let Some(write) = &commit.runbook {
            steps.push(Step {
                kind: StepKind::WriteRunbook,
                values: vec![
                    Value::Text(write.state.clone()),
                    now.clone(),
                    Value::Int(write.id.0),
                    Value::Int(write.expected_version),
                ],
                expect: Some(1),
            });
            if !write.tasks.is_empty() {
                let mut rows = String::with_capacity(write.tasks.iter().map(|task| task.state.len() + 16).sum());
                rows.push('[');
                for (n, task) in write.tasks.iter().enumerate() {
                    if n > 0 {
                        rows.push(',');
                    }
                    // The task's state is a JSON document itself: embedded as it is, not as a string.
                    let _ = write!(rows, "{{\"p\":{},\"s\":", task.position);
                    rows.push_str(&task.state);
                    rows.push('}');
                }
                rows.push(']');
                steps.push(Step {
                    kind: StepKind::WriteTasks,
                    values: vec![
                        Value::Rows(rows, write.tasks.len() as i64),
                        Value::Int(write.id.0),
                        Value::Int(write.expected_version + 1),
                    ],
                    expect: Some(write.tasks.len() as i64),
                });
            }
        }
        if !commit.new_fires.is_empty() {
            let fires = commit.new_fires.iter().map(|fire| {
                Ok(FireRow {
                    runbook: fire_runbook(commit, fire)?.0,
                    task: &fire.task_id,
                    number: fire.kind.to_stored(),
                    key: &fire.idempotency_key,
                    status: fire.status.as_str(),
                    state: &fire.state,
                    due: fire.due_at,
                    owner: fire.lease.as_ref().map(|(owner, _)| owner.as_str()),
                    until: fire.lease.as_ref().map(|(_, until)| *until),
                    callback: fire.callback_token_hash.as_deref(),
                })
            });
            steps.push(Step {
                kind: StepKind::InsertFires,
                values: vec![now.clone(), json_array(fires)?],
                expect: None,
            });
        }
        if !commit.fire_updates.is_empty() {
            let updates = commit.fire_updates.iter().map(|update| {
                let (guard_owner, guard_status) = match &update.guard {
                    FireGuard::Lease(owner) => (Some(owner.as_str()), None),
                    FireGuard::Status(status) => (None, Some(status.as_str())),
                };
                Ok(FireUpdateRow {
                    id: update.id.0,
                    status: update.status.as_str(),
                    state: &update.state,
                    due: update.due_at,
                    owner: update.lease.as_ref().map(|(owner, _)| owner.as_str()),
                    until: update.lease.as_ref().map(|(_, until)| *until),
                    guard_owner,
                    guard_status,
                })
            });
            steps.push(Step {
                kind: StepKind::UpdateFires,
                values: vec![now.clone(), json_array(updates)?],
                expect: Some(commit.fire_updates.len() as i64),
            });
        }
        if !commit.log_records.is_empty() {
            let records = commit.log_records.iter().map(|record| {
                let (fire, key) = match log_target(commit, record)? {
                    Some(fire) => (None, Some(fire.idempotency_key.as_str())),
                    None => (log_stored_fire(record), None),
                };
                Ok(LogRow { fire, key, record: &record.record, at: record.created_at })
            });
            steps.push(Step { kind: StepKind::InsertLogs, values: vec![json_array(records)?], expect: None });
        }
        if !commit.new_timers.is_empty() {
            let timers = commit.new_timers.iter().map(|timer| {
                Ok(TimerRow {
                    runbook: timer.runbook_id.0,
                    task: timer.task_id.as_deref(),
                    kind: &timer.kind,
                    due: timer.due_at,
                })
            });
            steps.push(Step {
                kind: StepKind::InsertTimers,
                values: vec![now.clone(), json_array(timers)?],
                expect: None,
            });
        }
        if !commit.deleted_timers.is_empty() {
            let ids = commit.deleted_timers.iter().map(|timer| Ok(timer.0));
            steps.push(Step { kind: StepKind::DeleteTimers, values: vec![json_array(ids)?], expect: None });
        }
        if !commit.events.is_empty() {
            // Last, so that on PostgreSQL the sequence row is locked for as short a time as possible.
            let count = Value::Int(commit.events.len() as i64);
            steps.push(Step { kind: StepKind::NumberEvents, values: vec![count.clone()], expect: Some(1) });
            let events =
                commit.events.iter().map(|event| Ok(EventRow { runbook: event.runbook_id.0, body: &event.body }));
            steps.push(Step {
                kind: StepKind::InsertEvents,
                values: vec![count, json_array(events)?, now.clone()],
                expect: Some(commit.events.len() as i64),
            });
        }
        Ok(Self { steps })
    }

    /// Whether the plan writes nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The plan as the document its SQLite statement reads (see [`sqlite_plan_objects`]): each step's values under its
    /// kind's key (rows embedded as JSON, text as JSON strings), and the rows it must change under `<key>_rows`.
    fn sqlite_document(&self) -> Result<String, StoreError> {
        let mut document = String::from("{");
        for (n, step) in self.steps.iter().enumerate() {
            if n > 0 {
                document.push(',');
            }
            let key = step.kind.key();
            let _ = write!(document, "\"{key}\":[");
            for (index, value) in step.values.iter().enumerate() {
                if index > 0 {
                    document.push(',');
                }
                match value {
                    Value::Int(number) => {
                        let _ = write!(document, "{number}");
                    }
                    Value::Text(text) => document.push_str(
                        &serde_json::to_string(text)
                            .map_err(|source| StoreError::Encode { what: "commit document", source })?,
                    ),
                    Value::Rows(rows, _) if step.kind.rows_value() == Some(index) => document.push_str(rows),
                    Value::Rows(..) => {
                        return Err(StoreError::Corrupt {
                            what: "commit",
                            reason: format!("rows in value {index} of {}", step.kind.operation()),
                        });
                    }
                }
            }
            document.push(']');
            if let Some(rows) = step.rows() {
                let _ = write!(document, ",\"{key}_rows\":{rows}");
            }
        }
        document.push('}');
        Ok(document)
    }

    /// The ids a commit's statements returned: new fires in the order of the commit, timers in the order created.
    pub(crate) fn committed(commit: &Commit, rows: &[AnyRow]) -> Result<Committed, StoreError> {
        let returned = rows.iter().map(Returned::of_row).collect::<Result<Vec<_>, _>>()?;
        Self::committed_from(commit, returned)
    }

    /// The ids a commit learned, from what its statements returned in any order.
    fn committed_from(commit: &Commit, returned: Vec<Returned>) -> Result<Committed, StoreError> {
        let mut fires = HashMap::with_capacity(commit.new_fires.len());
        let mut timer_ids = Vec::with_capacity(commit.new_timers.len());
        let mut event_ids = Vec::with_capacity(commit.events.len());
        for returned in returned {
            match returned {
                Returned::LastEvent(last) => {
                    // The commit's events took the ids up to this one, in order.
                    let count = commit.events.len() as i64;
                    event_ids.extend(last - count + 1..=last);
                }
                Returned::Fire(key, id) => {
                    fires.insert(key, FireId(id));
                }
                Returned::Timer(id) => timer_ids.push(TimerId(id)),
            }
        }
        // Ids grow in the order rows are inserted, and the rows are inserted in the order of the array.
        timer_ids.sort_unstable();
        let fire_ids = commit
            .new_fires
            .iter()
            .map(|fire| {
                fires.get(&fire.idempotency_key).copied().ok_or_else(|| StoreError::Corrupt {
                    what: "commit",
                    reason: format!("no id came back for fire `{}`", fire.idempotency_key),
                })
            })
            .collect::<Result<_, _>>()?;
        let runbook_version = commit.runbook.as_ref().map(|write| write.expected_version + 1);
        Ok(Committed { fire_ids, timer_ids, runbook_version, event_ids })
    }
}

/// Writes several plans in one round trip to SQLite's writing connection: one batch of statements from
/// `BEGIN IMMEDIATE` to `COMMIT`, each plan's guards checked inside (see the module documentation). `None` when the
/// batch stopped (a guard failed, or the database did) and was rolled back: nothing of it landed. Otherwise what each
/// plan's commit wrote, in order.
pub(crate) async fn write_sqlite_batch(
    writer: &mut SqliteWriter,
    plans: &[(&Commit, &Plan)],
) -> Result<Option<Vec<Result<Committed, StoreError>>>, StoreError> {
    let text = match &writer.committer {
        Some(committer) => {
            let documents = plans.iter().map(|(_, plan)| plan.sqlite_document()).collect::<Result<Vec<_>, _>>()?;
            match committer.write(documents).await {
                Ok(text) => text,
                Err(_) => return Ok(None),
            }
        }
        None => match write_sqlite_batch_through_sqlx(writer, plans).await? {
            Some(text) => text,
            None => return Ok(None),
        },
    };
    let returned: Vec<ReturnedRow> = serde_json::from_str(&text)
        .map_err(|error| StoreError::Corrupt { what: "commit", reason: format!("ids of a batch: {error}") })?;
    let mut by_plan: Vec<Vec<Returned>> = plans.iter().map(|_| Vec::new()).collect();
    for (plan, fire_key, id, last_event_id) in returned {
        let returned = match (fire_key, id, last_event_id) {
            (Some(key), Some(id), None) => Returned::Fire(key, id),
            (None, Some(id), None) => Returned::Timer(id),
            (None, None, Some(last)) => Returned::LastEvent(last),
            other => {
                return Err(StoreError::Corrupt { what: "commit", reason: format!("ids of a batch: {other:?}") });
            }
        };
        by_plan
            .get_mut(plan)
            .ok_or(StoreError::Corrupt { what: "commit", reason: format!("ids of plan {plan} of {}", plans.len()) })?
            .push(returned);
    }
    Ok(Some(plans.iter().zip(by_plan).map(|((commit, _), returned)| Plan::committed_from(commit, returned)).collect()))
}

/// [`write_sqlite_batch`] on sqlx's writing connection (an in-memory database, which has no commit writer): the
/// results row's text, or `None` when the batch stopped and was rolled back.
async fn write_sqlite_batch_through_sqlx(
    writer: &mut SqliteWriter,
    plans: &[(&Commit, &Plan)],
) -> Result<Option<String>, StoreError> {
    let mut batch = Batch::default();
    batch.sql.push_str("BEGIN IMMEDIATE;");
    for (n, (_, plan)) in plans.iter().enumerate() {
        let document = batch.param(&Value::Text(plan.sqlite_document()?));
        let _ = write!(batch.sql, "INSERT INTO temp.commit_plans (n, plan) VALUES ({n}, jsonb({document}));");
    }
    batch.sql.push_str(SQLITE_RESULTS);
    batch.sql.push_str("COMMIT;");
    // Marked open until the outcome is read: if this future is dropped meanwhile, the next writer rolls back.
    writer.open_transaction = true;
    let query = sqlx::query_with(sqlx::AssertSqlSafe(batch.sql), batch.arguments);
    let results: Result<Vec<Either<AnyQueryResult, AnyRow>>, sqlx::Error> =
        writer.connection.fetch_many(query).try_collect().await;
    let Ok(results) = results else {
        writer.settle().await?;
        return Ok(None);
    };
    writer.open_transaction = false;
    let statements = results.iter().filter(|result| result.is_left()).count();
    let rows: Vec<&AnyRow> = results.iter().filter_map(|result| result.as_ref().right()).collect();
    let ([row], true) = (rows.as_slice(), statements == plans.len() + 3) else {
        return Err(StoreError::Corrupt {
            what: "commit",
            reason: format!("{statements} statement results and {} rows for {} plans", rows.len(), plans.len()),
        });
    };
    Ok(Some(get(row, "results")?))
}

/// A row of `commit_results`: the plan, and a fire's key and id, a timer's id, or the last event id.
type ReturnedRow = (usize, Option<String>, Option<i64>, Option<i64>);

/// An id a commit's statement returned.
#[derive(Debug)]
enum Returned {
    /// A new fire's, with its key.
    Fire(String, i64),
    /// A new timer's.
    Timer(i64),
    /// The last of the ids the commit's events took.
    LastEvent(i64),
}

impl Returned {
    fn of_row(row: &AnyRow) -> Result<Self, StoreError> {
        if let Ok(last) = row.try_get::<i64, _>("last_event_id") {
            return Ok(Self::LastEvent(last));
        }
        let id = get(row, "id")?;
        Ok(match row.try_get::<String, _>("fire_key") {
            Ok(key) => Self::Fire(key, id),
            Err(_) => Self::Timer(id),
        })
    }
}

impl SqlStore {
    /// Writes `commit` inside `tx`, step by step. A stale runbook version fails with [`StoreError::VersionConflict`], a
    /// fire guard that does not hold with [`StoreError::FireGuardFailed`]; the caller then drops the transaction
    /// (rolling back).
    pub(crate) async fn write_commit(&self, tx: &mut WriteTx, commit: &Commit) -> Result<Committed, StoreError> {
        let plan = Plan::of(commit)?;
        let mut rows = Vec::new();
        self.write_steps(tx, commit, &plan, Steps::All, &mut rows).await?;
        Plan::committed(commit, &rows)
    }

    /// Writes the steps of `plan` that `which` names inside `tx`, collecting the rows they return into `rows`
    /// ([`Plan::committed`] reads them in any order). A group on PostgreSQL writes every commit's changes first and
    /// then every commit's events, so the event sequence row is always locked after every runbook row a transaction
    /// locks: two transactions cannot wait for each other's runbook and sequence locks.
    pub(crate) async fn write_steps(
        &self,
        tx: &mut WriteTx,
        commit: &Commit,
        plan: &Plan,
        which: Steps,
        rows: &mut Vec<AnyRow>,
    ) -> Result<(), StoreError> {
        for step in plan.steps.iter().filter(|step| which.includes(step.kind)) {
            let placeholders: Vec<String> = (1..=step.values.len()).map(|n| format!("${n}")).collect();
            let mut arguments = AnyArguments::default();
            for value in &step.values {
                add(&mut arguments, value);
            }
            let sql = step.kind.statement(self.backend(), &placeholders);
            let query = sqlx::query_with(sqlx::AssertSqlSafe(sql), arguments);
            let results: Vec<Either<AnyQueryResult, AnyRow>> =
                tx.fetch_many(query).try_collect().await.map_err(|source| {
                    match (step.kind, commit.new_fires.first()) {
                        (StepKind::InsertFires, Some(fire)) => {
                            unique_violation(source, "fire", &fire.idempotency_key, "creating fires")
                        }
                        (kind, _) => StoreError::Database { operation: kind.operation(), source },
                    }
                })?;
            let mut changed = 0;
            for result in results {
                match result {
                    Either::Left(outcome) => changed += outcome.rows_affected(),
                    Either::Right(row) => rows.push(row),
                }
            }
            if step.expect.is_some_and(|expect| expect != changed as i64) {
                return Err(self.failed_step(tx, commit, step.kind).await);
            }
        }
        Ok(())
    }

    /// The precise error of a step that changed fewer rows than it must.
    async fn failed_step(&self, tx: &mut WriteTx, commit: &Commit, kind: StepKind) -> StoreError {
        match (kind, &commit.runbook) {
            (StepKind::WriteRunbook, Some(write)) => {
                StoreError::VersionConflict { runbook: write.id, expected: write.expected_version }
            }
            (StepKind::UpdateFires, _) => {
                for update in &commit.fire_updates {
                    match guard_holds(tx, update, commit.now).await {
                        Ok(true) => {}
                        Ok(false) => return guard_failed(update),
                        Err(error) => return error,
                    }
                }
                StoreError::Corrupt { what: "commit", reason: "a fire is updated twice in one commit".to_owned() }
            }
            (kind, _) => StoreError::Corrupt {
                what: "commit",
                reason: format!("{} changed fewer rows than it holds", kind.operation()),
            },
        }
    }
}

/// Whether a fire update's guard holds now (inside the committing transaction, before the update ran or after it
/// was found not to apply to every row).
async fn guard_holds(tx: &mut WriteTx, update: &FireUpdate, now: Millis) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT status, lease_owner, lease_until FROM fires WHERE id = $1")
        .bind(update.id.0)
        .fetch_optional(&mut **tx)
        .await
        .map_err(StoreError::db("reading a fire's guard"))?;
    let Some(row) = row else { return Ok(false) };
    let status: String = get(&row, "status")?;
    let owner: Option<String> = get(&row, "lease_owner")?;
    let until: Option<i64> = get(&row, "lease_until")?;
    if status == FireStatus::Done.as_str() {
        return Ok(false);
    }
    Ok(match &update.guard {
        FireGuard::Lease(guard) => owner.as_deref() == Some(guard.as_str()),
        FireGuard::Status(guard) => status == guard.as_str() && (owner.is_none() || until.is_some_and(|u| u <= now)),
    })
}

/// The runbook a new fire belongs to: its own, or the commit's.
fn fire_runbook(commit: &Commit, fire: &NewFire) -> Result<RunbookId, StoreError> {
    fire.runbook_id
        .or(commit.runbook.as_ref().map(|write| write.id))
        .ok_or(StoreError::Corrupt { what: "commit", reason: "a new fire names no runbook".to_owned() })
}

/// The new fire a log record names, if it names one of the commit's new fires.
fn log_target<'c>(commit: &'c Commit, record: &NewLogRecord) -> Result<Option<&'c NewFire>, StoreError> {
    let LogFire::New(index) = record.fire else {
        return Ok(None);
    };
    commit.new_fires.get(index).map(Some).ok_or(StoreError::Corrupt {
        what: "commit",
        reason: format!("log record names new fire {} of {}", index + 1, commit.new_fires.len()),
    })
}

/// The stored fire a log record names (`None` for a new fire's, which `log_target` resolves).
fn log_stored_fire(record: &NewLogRecord) -> Option<i64> {
    match record.fire {
        LogFire::Stored(id) => Some(id.0),
        LogFire::New(_) => None,
    }
}

fn guard_failed(update: &FireUpdate) -> StoreError {
    let reason = match &update.guard {
        FireGuard::Lease(owner) => format!("lease no longer held by {owner}, or the fire is done"),
        FireGuard::Status(status) => format!("not {status:?} and free, or done"),
    };
    StoreError::FireGuardFailed { fire: update.id, reason }
}

/// Rows as one JSON array, written straight from borrowed fields (no intermediate JSON values).
fn json_array<T: Serialize>(rows: impl Iterator<Item = Result<T, StoreError>>) -> Result<Value, StoreError> {
    let rows: Vec<T> = rows.collect::<Result<_, _>>()?;
    let count = rows.len() as i64;
    let text = serde_json::to_string(&rows).map_err(|source| StoreError::Encode { what: "commit rows", source })?;
    Ok(Value::Rows(text, count))
}

/// A new fire, as [`StepKind::InsertFires`] reads it.
#[derive(Serialize)]
struct FireRow<'a> {
    runbook: i64,
    task: &'a str,
    number: i64,
    key: &'a str,
    status: &'a str,
    state: &'a str,
    due: i64,
    owner: Option<&'a str>,
    until: Option<i64>,
    callback: Option<&'a str>,
}

/// A fire update and its guard, as [`StepKind::UpdateFires`] reads it.
#[derive(Serialize)]
struct FireUpdateRow<'a> {
    id: i64,
    status: &'a str,
    state: &'a str,
    due: i64,
    owner: Option<&'a str>,
    until: Option<i64>,
    guard_owner: Option<&'a str>,
    guard_status: Option<&'a str>,
}

/// An actions log record, naming its fire by id or (a fire of the same commit) by key.
#[derive(Serialize)]
struct LogRow<'a> {
    fire: Option<i64>,
    key: Option<&'a str>,
    record: &'a str,
    at: i64,
}

/// A new timer.
#[derive(Serialize)]
struct TimerRow<'a> {
    runbook: i64,
    task: Option<&'a str>,
    kind: &'a str,
    due: i64,
}

/// An event for the log.
#[derive(Serialize)]
struct EventRow<'a> {
    runbook: i64,
    body: &'a str,
}

fn add(arguments: &mut AnyArguments, value: &Value) {
    // Encoding integers and strings into the Any buffer cannot fail.
    let _ = match value {
        Value::Int(number) => arguments.add(*number),
        Value::Text(text) | Value::Rows(text, _) => arguments.add(text.clone()),
    };
}

/// SQL text with numbered parameters and their values, built together so numbers and values cannot drift apart.
#[derive(Default)]
struct Batch {
    sql: String,
    arguments: AnyArguments,
    count: usize,
}

impl Batch {
    /// Adds a value; returns its placeholder.
    fn param(&mut self, value: &Value) -> String {
        add(&mut self.arguments, value);
        self.count += 1;
        format!("${}", self.count)
    }
}

/// Reads a runbook's parts, under its row lock on PostgreSQL (SQLite's `BEGIN IMMEDIATE` already holds the database's
/// write lock), for a commit rebuilt inside its transaction: the run-level state, the definition if it was written
/// after `since`, and the tasks written after `since` or at `positions`.
pub(crate) async fn lock_runbook(
    tx: &mut WriteTx,
    backend: Backend,
    id: RunbookId,
    since: i64,
    positions: &[u32],
) -> Result<RunbookRecord, StoreError> {
    let lock = if backend == Backend::Postgres { " FOR UPDATE" } else { "" };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id, name, {DEFINITION_IF_WRITTEN_AFTER} AS definition, state, version FROM runbooks WHERE id = $1{lock}"
    )))
    .bind(id.0)
    .bind(since)
    .fetch_optional(&mut **tx)
    .await
    .map_err(StoreError::db("reading a runbook to commit against"))?
    .ok_or(StoreError::NotFound { what: "runbook", id: id.0 })?;
    let positions_json = serde_json::Value::from(positions.to_vec()).to_string();
    let in_positions = match backend {
        Backend::Sqlite => "SELECT value FROM json_each($3)",
        Backend::Postgres => "SELECT value::bigint FROM json_array_elements_text($3::json)",
    };
    let tasks = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT position, state FROM runbook_tasks WHERE runbook_id = $1 AND (version > $2 OR position IN \
         ({in_positions})) ORDER BY position"
    )))
    .bind(id.0)
    .bind(since)
    .bind(positions_json)
    .fetch_all(&mut **tx)
    .await
    .map_err(StoreError::db("reading task states to commit against"))?;
    Ok(RunbookRecord {
        id: RunbookId(get(&row, "id")?),
        name: get(&row, "name")?,
        definition: get(&row, "definition")?,
        state: get(&row, "state")?,
        tasks: tasks.iter().map(task_row).collect::<Result<_, _>>()?,
        version: get(&row, "version")?,
    })
}

pub(crate) fn task_row(row: &AnyRow) -> Result<TaskRow, StoreError> {
    let position: i64 = get(row, "position")?;
    Ok(TaskRow {
        position: u32::try_from(position).map_err(|_| StoreError::Corrupt {
            what: "task row",
            reason: format!("position {position} is out of range"),
        })?,
        state: get(row, "state")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SqlStoreOptions, Store};
    use cutover_integrations_auth::{Cipher, Key, KeyId, KeyRing};
    use std::sync::Arc;

    fn fire(n: usize) -> NewFire {
        NewFire {
            task_id: format!("t{n}"),
            runbook_id: None,
            kind: FireKind::Action(cutover_integrations_runbook::FireNumber::FIRST),
            idempotency_key: format!("key-{n}"),
            status: FireStatus::Due,
            state: format!("{{\"n\":{n}}}"),
            due_at: 0,
            lease: Some(("engine".into(), 100)),
            callback_token_hash: None,
        }
    }

    /// A commit whose caller goes away once its batch was handed to the commit writer lands whole all the same (the
    /// writer's thread finishes it), and the writes after it proceed: one on sqlx's writing connection, and the next
    /// commit, which the writer takes after the dropped one and which holds only if that one landed.
    #[tokio::test]
    async fn a_commit_dropped_while_the_commit_writer_has_it_lands_whole() {
        use futures::FutureExt;
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = cutover_integrations_test_support::fresh_sqlite_url(dir.path());
        let cipher = Arc::new(Cipher::new(KeyRing::new(KeyId(1), Key::from_bytes([3u8; 32]))));
        let store = SqlStore::connect(SqlStoreOptions::new(&url), cipher).await.expect("store");
        let tasks = vec!["{\"n\":0}".to_owned(), "{\"n\":1}".to_owned()];
        let new = NewRunbook { name: "r", definition: "{}", state: "{}", tasks: &tasks, events: &[] };
        let id = store.create_runbook(&new, 1).await.expect("runbook").id;
        let step = |version: i64, fire_number: usize| Commit {
            runbook: Some(RunbookWrite {
                id,
                expected_version: version,
                state: format!("{{\"v\":{version}}}"),
                tasks: vec![TaskRow { position: 1, state: format!("{{\"t\":{version}}}") }],
            }),
            new_fires: vec![fire(fire_number)],
            events: vec![NewEvent { runbook_id: id, body: format!("{{\"e\":{version}}}") }],
            now: 1,
            ..Default::default()
        };
        // Another connection holds SQLite's write lock, so that the writer cannot answer the batch while it is
        // handed over (without it, a fast writer could answer before the first poll ends); released once the
        // caller went away, well within the writer's busy timeout.
        let path = url.strip_prefix("sqlite://").expect("a SQLite URL");
        let blocker = rusqlite::Connection::open(path).expect("another connection");
        blocker.execute_batch("BEGIN IMMEDIATE").expect("the write lock");
        let dropped = Arc::new(step(1, 0));
        assert!(store.commit_grouped(&dropped).now_or_never().is_none(), "the batch was handed over, not answered");
        blocker.execute_batch("COMMIT").expect("the write lock released");
        store.create_runbook(&new, 2).await.expect("a write on sqlx's connection after the dropped commit");
        let next = store.commit_grouped(&Arc::new(step(2, 1))).await.expect("commit").expect("its guards hold");
        assert_eq!(next.runbook_version, Some(3), "the dropped commit moved the version first");
        let stored = store.runbook(id).await.expect("read").expect("runbook");
        assert_eq!((stored.version, stored.tasks[1].state.as_str()), (3, "{\"t\":2}"));
        let events = store.events_after(0, Some(id), 10).await.expect("events");
        let bodies: Vec<&str> = events.iter().map(|event| event.body.as_str()).collect();
        assert_eq!(bodies, ["{\"e\":1}", "{\"e\":2}"], "the dropped commit's event is there, in order");
    }

    /// One plan written in one round trip; `None` if the batch stopped.
    async fn at_once(store: &SqlStore, commit: &Commit) -> Option<Committed> {
        let mut writer = store.writer.sqlite().await.expect("writer").expect("SQLite");
        let plan = Plan::of(commit).expect("plan");
        let written = write_sqlite_batch(&mut writer, &[(commit, &plan)]).await.expect("batch");
        written.map(|mut results| results.pop().expect("one result").expect("committed"))
    }

    /// The one-round-trip path itself succeeds for small and large commits (the statement-by-statement path behind
    /// it would hide a batch that always fails), and stops on a guard that does not hold: through the commit writer
    /// (a database file), and through sqlx's writing connection (what an in-memory database uses).
    #[tokio::test]
    async fn one_round_trip_batches_commit_small_and_large() {
        for through_commit_writer in [true, false] {
            check_one_round_trip_batches(through_commit_writer).await;
        }
    }

    async fn check_one_round_trip_batches(through_commit_writer: bool) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = cutover_integrations_test_support::fresh_sqlite_url(dir.path());
        let cipher = Arc::new(Cipher::new(KeyRing::new(KeyId(1), Key::from_bytes([3u8; 32]))));
        let store = SqlStore::connect(SqlStoreOptions::new(url), cipher).await.expect("store");
        {
            let mut writer = store.writer.sqlite().await.expect("writer").expect("SQLite");
            assert!(writer.committer.is_some(), "a database file has a commit writer");
            if !through_commit_writer {
                writer.committer = None;
            }
        }
        let tasks = vec!["{\"n\":0}".to_owned(), "{\"n\":1}".to_owned()];
        let new = NewRunbook { name: "r", definition: "{}", state: "{}", tasks: &tasks, events: &[] };
        let id = store.create_runbook(&new, 1).await.expect("runbook").id;
        let mut version = 1;
        let mut next = 0;
        let mut timers = Vec::new();
        for size in [1, 11] {
            let new_fires: Vec<NewFire> = (next..next + size).map(fire).collect();
            next += size;
            let log_records = (0..size)
                .map(|n| NewLogRecord { fire: LogFire::New(n), record: format!("log {n}"), created_at: 1 })
                .collect();
            let commit = Commit {
                runbook: Some(RunbookWrite {
                    id,
                    expected_version: version,
                    state: format!("{{\"v\":{version}}}"),
                    tasks: vec![TaskRow { position: 1, state: format!("{{\"t\":{version}}}") }],
                }),
                new_fires: new_fires.clone(),
                log_records,
                new_timers: vec![NewTimer { runbook_id: id, task_id: None, kind: "fixed_start".into(), due_at: 9 }],
                // The previous round's timer, and one that is gone already: deleting counts no rows for the check.
                deleted_timers: timers.iter().copied().chain([TimerId(999)]).collect(),
                events: (0..size).map(|n| NewEvent { runbook_id: id, body: format!("{{\"e\":{n}}}") }).collect(),
                now: 1,
                ..Default::default()
            };
            let committed = at_once(&store, &commit).await.expect("committed in one round trip");
            version += 1;
            assert_eq!((committed.fire_ids.len(), committed.timer_ids.len()), (size, 1));
            assert_eq!(committed.runbook_version, Some(version));
            timers = committed.timer_ids.clone();
            let first = committed.event_ids[0];
            let events = store.events_after(first - 1, Some(id), 100).await.expect("events");
            let logged: Vec<(i64, &str)> = events.iter().map(|event| (event.id, event.body.as_str())).collect();
            let sent: Vec<(i64, &str)> = committed
                .event_ids
                .iter()
                .copied()
                .zip(commit.events.iter().map(|event| event.body.as_str()))
                .collect();
            assert_eq!(logged, sent, "each event's id came back, in order");
            let stored = store.runbook(id).await.expect("read").expect("runbook");
            let states: Vec<&str> = stored.tasks.iter().map(|task| task.state.as_str()).collect();
            assert_eq!(states, ["{\"n\":0}".to_owned(), format!("{{\"t\":{}}}", version - 1)]);
            for (fire, fire_id) in new_fires.iter().zip(&committed.fire_ids) {
                let stored = store.fire(*fire_id).await.expect("read").expect("fire");
                assert_eq!(stored.idempotency_key, fire.idempotency_key);
            }
            let updates: Vec<FireUpdate> = committed
                .fire_ids
                .iter()
                .map(|fire| FireUpdate {
                    id: *fire,
                    guard: FireGuard::Lease("engine".into()),
                    status: FireStatus::Done,
                    state: "{}".into(),
                    due_at: 0,
                    lease: None,
                })
                .collect();
            let mut stolen = updates.clone();
            stolen[0].guard = FireGuard::Lease("another engine".into());
            let stopped = Commit { fire_updates: stolen, now: 2, ..Default::default() };
            assert_eq!(at_once(&store, &stopped).await, None, "a guard that fails stops it");
            let done = Commit { fire_updates: updates, now: 2, ..Default::default() };
            assert!(at_once(&store, &done).await.is_some());
        }
        let stale = Commit {
            runbook: Some(RunbookWrite { id, expected_version: version - 1, state: "{}".into(), tasks: Vec::new() }),
            now: 3,
            ..Default::default()
        };
        assert_eq!(at_once(&store, &stale).await, None, "a stale version stops it");
        assert_eq!(store.runbook(id).await.expect("read").expect("runbook").version, version);
    }
}
