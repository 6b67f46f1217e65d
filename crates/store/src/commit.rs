//! Writing a [`Commit`]: the runbook's new state, new fires, fire updates, log records and timers in one transaction.
//!
//! On SQLite the whole commit, `BEGIN IMMEDIATE` to `COMMIT`, is one batch of statements sent to the connection at
//! once (sqlx runs a multi-statement query on the connection's worker thread in one go), because each round trip to
//! that thread costs more than the statements themselves; numbered parameters (`$7`) index one argument list shared
//! by the batch. A batch of many rows (a group commit of many fires' reports) carries each kind of row as one JSON
//! array read with `json_each`, so that its text depends only on which kinds it has: sqlx prepares a batch once per
//! distinct text, and preparing hundreds of statements costs more than running them. Small batches, whose shapes
//! repeat anyway, bind their values one by one, which is cheaper to run.
//!
//! The guards (the runbook's version, fire leases) are checked inside the batch: after each guarded statement,
//! whether it changed as many rows as it should goes into [`COMMIT_CHECKS_TABLE`], whose `CHECK` fails otherwise and
//! so stops the batch before `COMMIT`. A batch that stops is rolled back and the commit run again statement by
//! statement in a transaction, which says precisely what failed (or succeeds, if the failure was passing).
//!
//! PostgreSQL does not take several statements with parameters in one query, so there the statements go one by one,
//! the version check first so that a conflict stops the commit before anything else is sent.

use crate::error::StoreError;
use crate::records::*;
use crate::sql::{Backend, SqlStore, get, unique_violation};
use crate::writer::WriteTx;
use futures::TryStreamExt;
use sqlx::any::{AnyArguments, AnyQueryResult, AnyRow};
use sqlx::{Any, AnyConnection, Arguments, Either, Executor, Row};

/// A temporary table of the SQLite writing connection: one row whose `ok` must be 1.
pub(crate) const COMMIT_CHECKS_TABLE: &str =
    "CREATE TEMP TABLE IF NOT EXISTS commit_checks (id INTEGER PRIMARY KEY, ok INTEGER NOT NULL CHECK (ok = 1));";

/// Stops a batch unless the statement before it changed exactly one row.
const CHECK_ONE_ROW_CHANGED: &str = "INSERT OR REPLACE INTO temp.commit_checks (id, ok) VALUES (1, changes());";

/// From this many rows on, a one-round-trip batch carries its rows as JSON arrays (see the module documentation).
const ROWS_FOR_JSON: usize = 8;

/// New fires from a JSON array ($2); returns each one's id with its (unique) key, since `RETURNING` keeps no order.
const INSERT_FIRES_FROM_JSON: &str = "INSERT INTO fires (runbook_id, task_id, fire_number, idempotency_key, status, \
    state, due_at, lease_owner, lease_until, callback_token_hash, created_at, updated_at) \
    SELECT value ->> 'runbook', value ->> 'task', value ->> 'number', value ->> 'key', value ->> 'status', \
    value ->> 'state', value ->> 'due', value ->> 'owner', value ->> 'until', value ->> 'callback', $1, $1 \
    FROM json_each($2) RETURNING id, idempotency_key AS fire_key;";

/// Fire updates from a JSON array ($3), each under its guard (the lease still held by `guard_owner`, or the status
/// `guard_status` with no live lease); then the check that every one of them applied. The new states travel in an
/// array of their own ($4), so that each is decoded once.
const UPDATE_FIRES_FROM_JSON: &str = "UPDATE fires SET status = u.value ->> 'status', \
    state = json_extract($4, '$[' || u.key || ']'), due_at = u.value ->> 'due', updated_at = $1, \
    lease_owner = u.value ->> 'owner', lease_until = u.value ->> 'until' \
    FROM json_each($3) AS u WHERE fires.id = u.value ->> 'id' AND fires.status <> 'done' AND \
    CASE WHEN u.value ->> 'guard_owner' IS NOT NULL THEN fires.lease_owner = u.value ->> 'guard_owner' \
    ELSE fires.status = u.value ->> 'guard_status' AND (fires.lease_owner IS NULL OR fires.lease_until <= $1) END; \
    INSERT OR REPLACE INTO temp.commit_checks (id, ok) VALUES (1, changes() = json_array_length($3));";

/// Log records in order (`json_each` walks an array from its first element): the records' texts ($5), decoded once,
/// and beside them ($6) each one's fire, by id or, for a fire of the same commit, by key.
const INSERT_LOGS_FROM_JSON: &str = "INSERT INTO actions_log (fire_id, record, created_at) \
    SELECT COALESCE(json_extract($6, '$[' || key || '][0]'), \
    (SELECT id FROM fires WHERE idempotency_key = json_extract($6, '$[' || key || '][1]'))), \
    value, json_extract($6, '$[' || key || '][2]') FROM json_each($5);";

impl SqlStore {
    /// Writes `commit` in one round trip on SQLite (see the module documentation). `None` when the batch stopped
    /// (a guard failed, or the database did) and was rolled back, and on PostgreSQL: the caller then writes the commit
    /// in a transaction, statement by statement.
    pub(crate) async fn commit_at_once(&self, commit: &Commit) -> Result<Option<Committed>, StoreError> {
        let Some(mut writer) = self.writer.sqlite().await? else { return Ok(None) };
        let rows = commit.new_fires.len() + commit.fire_updates.len() + commit.log_records.len();
        let batch =
            if rows < ROWS_FOR_JSON { build_batch(commit, Checks::InBatch)? } else { build_json_batch(commit)? };
        // Marked open until the outcome is read: if this future is dropped meanwhile, the next writer rolls back.
        writer.open_transaction = true;
        let results = run_batch(&mut writer.connection, batch).await;
        match results {
            Ok(results) => {
                writer.open_transaction = false;
                let mut fires = std::collections::HashMap::with_capacity(commit.new_fires.len());
                let mut timer_ids = Vec::with_capacity(commit.new_timers.len());
                for row in results.iter().filter_map(|result| result.as_ref().right()) {
                    let id = get(row, "id")?;
                    match row.try_get::<String, _>("fire_key") {
                        Ok(key) => {
                            fires.insert(key, FireId(id));
                        }
                        Err(_) => timer_ids.push(TimerId(id)),
                    }
                }
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
                Ok(Some(Committed { fire_ids, timer_ids, runbook_version }))
            }
            Err(_) => {
                writer.settle().await?;
                Ok(None)
            }
        }
    }

    /// Writes `commit` inside `tx`. A stale runbook version fails with [`StoreError::VersionConflict`], a fire guard
    /// that does not hold with [`StoreError::FireGuardFailed`]; the caller then drops the transaction (rolling back).
    pub(crate) async fn write_commit(&self, tx: &mut WriteTx, commit: &Commit) -> Result<Committed, StoreError> {
        match self.backend() {
            Backend::Sqlite => write_batch(tx, commit).await,
            Backend::Postgres => write_statements(tx, commit).await,
        }
    }

    /// Reads a runbook inside `tx`, locking its row on PostgreSQL (SQLite's `BEGIN IMMEDIATE` already holds the
    /// database's write lock).
    pub(crate) async fn lock_runbook(&self, tx: &mut WriteTx, id: RunbookId) -> Result<RunbookRecord, StoreError> {
        let lock = if self.backend() == Backend::Postgres { " FOR UPDATE" } else { "" };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, name, definition, state, version FROM runbooks WHERE id = $1{lock}"
        )))
        .bind(id.0)
        .fetch_optional(&mut **tx)
        .await
        .map_err(StoreError::db("reading a runbook to commit against"))?
        .ok_or(StoreError::NotFound { what: "runbook", id: id.0 })?;
        runbook_from_row(&row)
    }
}

pub(crate) fn runbook_from_row(row: &AnyRow) -> Result<RunbookRecord, StoreError> {
    Ok(RunbookRecord {
        id: RunbookId(get(row, "id")?),
        name: get(row, "name")?,
        definition: get(row, "definition")?,
        state: get(row, "state")?,
        version: get(row, "version")?,
    })
}

/// The runbook a new fire belongs to: its own, or the commit's.
fn fire_runbook(commit: &Commit, fire: &NewFire) -> Result<RunbookId, StoreError> {
    fire.runbook_id
        .or(commit.runbook.as_ref().map(|write| write.id))
        .ok_or(StoreError::Corrupt { what: "commit", reason: "a new fire names no runbook".to_owned() })
}

/// The new fire a log record names with a negative id, if it does.
fn log_target<'c>(commit: &'c Commit, record: &LogRecord) -> Result<Option<&'c NewFire>, StoreError> {
    if record.fire_id.0 >= 0 {
        return Ok(None);
    }
    let index = (-record.fire_id.0 - 1) as usize;
    commit.new_fires.get(index).map(Some).ok_or(StoreError::Corrupt {
        what: "commit",
        reason: format!("log record names new fire {} of {}", index + 1, commit.new_fires.len()),
    })
}

fn guard_failed(update: &FireUpdate) -> StoreError {
    let reason = match &update.guard {
        FireGuard::Lease(owner) => format!("lease no longer held by {owner}, or the fire is done"),
        FireGuard::Status(status) => format!("not {status:?} and free, or done"),
    };
    StoreError::FireGuardFailed { fire: update.id, reason }
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
    fn param<'t, T>(&mut self, value: T) -> String
    where
        T: sqlx::Encode<'t, Any> + sqlx::Type<Any>,
    {
        // Encoding our integers, strings and options into the Any buffer cannot fail.
        let _ = self.arguments.add(value);
        self.count += 1;
        format!("${}", self.count)
    }
}

/// Where a SQLite batch's guards are checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// Inside the batch, which opens and closes its own transaction.
    InBatch,
    /// By the caller, from the counts each statement reports, inside the caller's transaction.
    ByCaller,
}

async fn run_batch(
    connection: &mut AnyConnection,
    batch: Batch,
) -> Result<Vec<Either<AnyQueryResult, AnyRow>>, sqlx::Error> {
    let query = sqlx::query_with(sqlx::AssertSqlSafe(batch.sql), batch.arguments);
    connection.fetch_many(query).try_collect().await
}

/// The one-round-trip batch for many rows: `BEGIN IMMEDIATE`, the runbook's state, new fires, fire updates and log
/// records from JSON arrays, timers (rare) one statement each, `COMMIT`; guards checked inside. Its text depends only
/// on which kinds of rows it has (and its timers), so it is prepared once.
fn build_json_batch(commit: &Commit) -> Result<Batch, StoreError> {
    let mut batch = Batch::default();
    // Parameters 1 to 6 are fixed: now, then the JSON arrays.
    batch.param(commit.now);
    let fires = commit.new_fires.iter().map(|fire| {
        Ok(serde_json::json!({
            "runbook": fire_runbook(commit, fire)?.0,
            "task": fire.task_id,
            "number": fire.fire_number,
            "key": fire.idempotency_key,
            "status": fire.status.as_str(),
            "state": fire.state,
            "due": fire.due_at,
            "owner": fire.lease.as_ref().map(|(owner, _)| owner),
            "until": fire.lease.as_ref().map(|(_, until)| until),
            "callback": fire.callback_token_hash,
        }))
    });
    batch.param(json_array(fires)?);
    let updates = commit.fire_updates.iter().map(|update| {
        let (guard_owner, guard_status) = match &update.guard {
            FireGuard::Lease(owner) => (Some(owner.as_str()), None),
            FireGuard::Status(status) => (None, Some(status.as_str())),
        };
        Ok(serde_json::json!({
            "id": update.id.0,
            "status": update.status.as_str(),
            "due": update.due_at,
            "owner": update.lease.as_ref().map(|(owner, _)| owner),
            "until": update.lease.as_ref().map(|(_, until)| until),
            "guard_owner": guard_owner,
            "guard_status": guard_status,
        }))
    });
    batch.param(json_array(updates)?);
    batch.param(json_array(commit.fire_updates.iter().map(|update| Ok(serde_json::json!(update.state))))?);
    batch.param(json_array(commit.log_records.iter().map(|record| Ok(serde_json::json!(record.record))))?);
    let targets = commit.log_records.iter().map(|record| {
        Ok(match log_target(commit, record)? {
            Some(fire) => serde_json::json!([null, fire.idempotency_key, record.created_at]),
            None => serde_json::json!([record.fire_id.0, null, record.created_at]),
        })
    });
    batch.param(json_array(targets)?);
    batch.sql.push_str("BEGIN IMMEDIATE;");
    if let Some(write) = &commit.runbook {
        let sql = format!(
            "UPDATE runbooks SET state = {}, version = version + 1, updated_at = $1 WHERE id = {} AND version = {};",
            batch.param(write.state.as_str()),
            batch.param(write.id.0),
            batch.param(write.expected_version),
        );
        batch.sql.push_str(&sql);
        batch.sql.push_str(CHECK_ONE_ROW_CHANGED);
    }
    if !commit.new_fires.is_empty() {
        batch.sql.push_str(INSERT_FIRES_FROM_JSON);
    }
    if !commit.fire_updates.is_empty() {
        batch.sql.push_str(UPDATE_FIRES_FROM_JSON);
    }
    if !commit.log_records.is_empty() {
        batch.sql.push_str(INSERT_LOGS_FROM_JSON);
    }
    for timer in &commit.new_timers {
        let sql = format!(
            "INSERT INTO timers (runbook_id, task_id, kind, due_at, created_at) VALUES ({}, {}, {}, {}, $1) \
             RETURNING id;",
            batch.param(timer.runbook_id.0),
            batch.param(timer.task_id.clone()),
            batch.param(timer.kind.as_str()),
            batch.param(timer.due_at),
        );
        batch.sql.push_str(&sql);
    }
    for timer in &commit.deleted_timers {
        let sql = format!("DELETE FROM timers WHERE id = {};", batch.param(timer.0));
        batch.sql.push_str(&sql);
    }
    batch.sql.push_str("COMMIT;");
    Ok(batch)
}

fn json_array(rows: impl Iterator<Item = Result<serde_json::Value, StoreError>>) -> Result<String, StoreError> {
    Ok(serde_json::Value::Array(rows.collect::<Result<_, _>>()?).to_string())
}

/// The statements of a commit, in order: the runbook's state, new fires, fire updates, log records, new timers,
/// deleted timers.
fn build_batch(commit: &Commit, checks: Checks) -> Result<Batch, StoreError> {
    let mut batch = Batch::default();
    let now = commit.now;
    if checks == Checks::InBatch {
        batch.sql.push_str("BEGIN IMMEDIATE;");
    }
    if let Some(write) = &commit.runbook {
        let sql = format!(
            "UPDATE runbooks SET state = {}, version = version + 1, updated_at = {} WHERE id = {} AND version = {};",
            batch.param(write.state.as_str()),
            batch.param(now),
            batch.param(write.id.0),
            batch.param(write.expected_version),
        );
        batch.sql.push_str(&sql);
        if checks == Checks::InBatch {
            batch.sql.push_str(CHECK_ONE_ROW_CHANGED);
        }
    }
    for fire in &commit.new_fires {
        let runbook = fire_runbook(commit, fire)?;
        let sql = format!(
            "INSERT INTO fires (runbook_id, task_id, fire_number, idempotency_key, status, state, due_at, \
             lease_owner, lease_until, callback_token_hash, created_at, updated_at) \
             VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {now}, {now}) RETURNING id, idempotency_key AS fire_key;",
            batch.param(runbook.0),
            batch.param(fire.task_id.as_str()),
            batch.param(fire.fire_number),
            batch.param(fire.idempotency_key.as_str()),
            batch.param(fire.status.as_str()),
            batch.param(fire.state.as_str()),
            batch.param(fire.due_at),
            batch.param(fire.lease.as_ref().map(|(owner, _)| owner.clone())),
            batch.param(fire.lease.as_ref().map(|(_, until)| *until)),
            batch.param(fire.callback_token_hash.clone()),
            now = batch.param(now),
        );
        batch.sql.push_str(&sql);
    }
    for update in &commit.fire_updates {
        let set = format!(
            "UPDATE fires SET status = {}, state = {}, due_at = {}, updated_at = {}, lease_owner = {}, \
             lease_until = {} WHERE ",
            batch.param(update.status.as_str()),
            batch.param(update.state.as_str()),
            batch.param(update.due_at),
            batch.param(now),
            batch.param(update.lease.as_ref().map(|(owner, _)| owner.clone())),
            batch.param(update.lease.as_ref().map(|(_, until)| *until)),
        );
        let guard = match &update.guard {
            FireGuard::Lease(owner) => format!("lease_owner = {}", batch.param(owner.as_str())),
            FireGuard::Status(status) => format!(
                "status = {} AND (lease_owner IS NULL OR lease_until <= {})",
                batch.param(status.as_str()),
                batch.param(now)
            ),
        };
        let sql = format!("{set}{guard} AND status <> 'done' AND id = {};", batch.param(update.id.0));
        batch.sql.push_str(&sql);
        if checks == Checks::InBatch {
            batch.sql.push_str(CHECK_ONE_ROW_CHANGED);
        }
    }
    for record in &commit.log_records {
        let fire = match log_target(commit, record)? {
            Some(fire) => {
                format!("(SELECT id FROM fires WHERE idempotency_key = {})", batch.param(fire.idempotency_key.as_str()))
            }
            None => batch.param(record.fire_id.0),
        };
        let sql = format!(
            "INSERT INTO actions_log (fire_id, record, created_at) VALUES ({fire}, {}, {});",
            batch.param(record.record.as_str()),
            batch.param(record.created_at),
        );
        batch.sql.push_str(&sql);
    }
    for timer in &commit.new_timers {
        let sql = format!(
            "INSERT INTO timers (runbook_id, task_id, kind, due_at, created_at) VALUES ({}, {}, {}, {}, {}) \
             RETURNING id;",
            batch.param(timer.runbook_id.0),
            batch.param(timer.task_id.clone()),
            batch.param(timer.kind.as_str()),
            batch.param(timer.due_at),
            batch.param(now),
        );
        batch.sql.push_str(&sql);
    }
    for timer in &commit.deleted_timers {
        let sql = format!("DELETE FROM timers WHERE id = {};", batch.param(timer.0));
        batch.sql.push_str(&sql);
    }
    if checks == Checks::InBatch {
        batch.sql.push_str("COMMIT;");
    }
    Ok(batch)
}

/// The SQLite path inside a transaction: every statement in one batch, then the checks on what each reported.
async fn write_batch(tx: &mut WriteTx, commit: &Commit) -> Result<Committed, StoreError> {
    let batch = build_batch(commit, Checks::ByCaller)?;
    if batch.sql.is_empty() {
        return Ok(Committed::default());
    }
    let results = run_batch(tx, batch).await.map_err(|source| match commit.new_fires.first() {
        Some(fire) => unique_violation(source, "fire", &fire.idempotency_key, "writing a commit"),
        None => StoreError::Database { operation: "writing a commit", source },
    })?;
    // Each statement reports its rows (RETURNING) and then its outcome, in order.
    let mut results = results.into_iter();
    let mut next_outcome = |returned: &mut Vec<i64>| -> Result<u64, StoreError> {
        for result in results.by_ref() {
            match result {
                Either::Right(row) => returned.push(get(&row, "id")?),
                Either::Left(outcome) => return Ok(outcome.rows_affected()),
            }
        }
        Err(StoreError::Corrupt { what: "commit", reason: "the batch reported fewer statements than it holds".into() })
    };
    let mut committed = Committed::default();
    let mut ignored = Vec::new();
    if let Some(write) = &commit.runbook {
        if next_outcome(&mut ignored)? != 1 {
            return Err(StoreError::VersionConflict { runbook: write.id, expected: write.expected_version });
        }
        committed.runbook_version = Some(write.expected_version + 1);
    }
    let mut fire_ids = Vec::with_capacity(commit.new_fires.len());
    for _ in &commit.new_fires {
        next_outcome(&mut fire_ids)?;
    }
    committed.fire_ids = fire_ids.into_iter().map(FireId).collect();
    for update in &commit.fire_updates {
        if next_outcome(&mut ignored)? != 1 {
            return Err(guard_failed(update));
        }
    }
    for _ in &commit.log_records {
        next_outcome(&mut ignored)?;
    }
    let mut timer_ids = Vec::with_capacity(commit.new_timers.len());
    for _ in &commit.new_timers {
        next_outcome(&mut timer_ids)?;
    }
    committed.timer_ids = timer_ids.into_iter().map(TimerId).collect();
    Ok(committed)
}

/// The PostgreSQL path: one statement at a time, the version check first.
async fn write_statements(tx: &mut WriteTx, commit: &Commit) -> Result<Committed, StoreError> {
    let now = commit.now;
    let mut committed = Committed::default();
    if let Some(write) = &commit.runbook {
        let result = sqlx::query(
            "UPDATE runbooks SET state = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4",
        )
        .bind(&write.state)
        .bind(now)
        .bind(write.id.0)
        .bind(write.expected_version)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::db("writing runbook state"))?;
        if result.rows_affected() != 1 {
            return Err(StoreError::VersionConflict { runbook: write.id, expected: write.expected_version });
        }
        committed.runbook_version = Some(write.expected_version + 1);
    }
    for fire in &commit.new_fires {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO fires (runbook_id, task_id, fire_number, idempotency_key, status, state, due_at, \
             lease_owner, lease_until, callback_token_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
        )
        .bind(fire_runbook(commit, fire)?.0)
        .bind(&fire.task_id)
        .bind(fire.fire_number)
        .bind(&fire.idempotency_key)
        .bind(fire.status.as_str())
        .bind(&fire.state)
        .bind(fire.due_at)
        .bind(fire.lease.as_ref().map(|(owner, _)| owner.clone()))
        .bind(fire.lease.as_ref().map(|(_, until)| *until))
        .bind(fire.callback_token_hash.clone())
        .bind(now)
        .fetch_one(&mut **tx)
        .await
        .map_err(|source| unique_violation(source, "fire", &fire.idempotency_key, "creating a fire"))?;
        committed.fire_ids.push(FireId(id));
    }
    for update in &commit.fire_updates {
        let (guard_sql, guard_value) = match &update.guard {
            FireGuard::Lease(owner) => ("lease_owner = $7", owner.clone()),
            FireGuard::Status(status) => {
                ("status = $7 AND (lease_owner IS NULL OR lease_until <= $4)", status.as_str().to_owned())
            }
        };
        let sql = format!(
            "UPDATE fires SET status = $1, state = $2, due_at = $3, updated_at = $4, lease_owner = $5, \
             lease_until = $6 WHERE {guard_sql} AND status <> 'done' AND id = $8"
        );
        let result = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(update.status.as_str())
            .bind(&update.state)
            .bind(update.due_at)
            .bind(now)
            .bind(update.lease.as_ref().map(|(owner, _)| owner.clone()))
            .bind(update.lease.as_ref().map(|(_, until)| *until))
            .bind(guard_value)
            .bind(update.id.0)
            .execute(&mut **tx)
            .await
            .map_err(StoreError::db("updating a fire"))?;
        if result.rows_affected() != 1 {
            return Err(guard_failed(update));
        }
    }
    for record in &commit.log_records {
        let fire_id = match log_target(commit, record)? {
            Some(_) => committed.fire_ids[(-record.fire_id.0 - 1) as usize],
            None => record.fire_id,
        };
        sqlx::query("INSERT INTO actions_log (fire_id, record, created_at) VALUES ($1, $2, $3)")
            .bind(fire_id.0)
            .bind(&record.record)
            .bind(record.created_at)
            .execute(&mut **tx)
            .await
            .map_err(StoreError::db("appending to the actions log"))?;
    }
    for timer in &commit.new_timers {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO timers (runbook_id, task_id, kind, due_at, created_at) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id",
        )
        .bind(timer.runbook_id.0)
        .bind(timer.task_id.clone())
        .bind(&timer.kind)
        .bind(timer.due_at)
        .bind(now)
        .fetch_one(&mut **tx)
        .await
        .map_err(StoreError::db("creating a timer"))?;
        committed.timer_ids.push(TimerId(id));
    }
    for timer in &commit.deleted_timers {
        sqlx::query("DELETE FROM timers WHERE id = $1")
            .bind(timer.0)
            .execute(&mut **tx)
            .await
            .map_err(StoreError::db("deleting a timer"))?;
    }
    Ok(committed)
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
            fire_number: 1,
            idempotency_key: format!("key-{n}"),
            status: FireStatus::Due,
            state: format!("{{\"n\":{n}}}"),
            due_at: 0,
            lease: Some(("engine".into(), 100)),
            callback_token_hash: None,
        }
    }

    /// The one-round-trip path itself succeeds for small and large commits (the statement-by-statement path behind
    /// it would hide a batch that always fails), and stops on a guard that does not hold.
    #[tokio::test]
    async fn one_round_trip_batches_commit_small_and_large() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = crate::test_databases::fresh_sqlite_url(dir.path());
        let cipher = Arc::new(Cipher::new(KeyRing::new(KeyId(1), Key::from_bytes([3u8; 32]))));
        let store = SqlStore::connect(SqlStoreOptions::new(url), cipher).await.expect("store");
        let id = store.create_runbook("r", "{}", "{}", 1).await.expect("runbook");
        let mut version = 1;
        let mut next = 0;
        for size in [1, ROWS_FOR_JSON + 3] {
            let new_fires: Vec<NewFire> = (next..next + size).map(fire).collect();
            next += size;
            let log_records = (0..size)
                .map(|n| LogRecord { fire_id: FireId(-(n as i64) - 1), record: format!("log {n}"), created_at: 1 })
                .collect();
            let commit = Commit {
                runbook: Some(RunbookWrite { id, expected_version: version, state: format!("{{\"v\":{version}}}") }),
                new_fires: new_fires.clone(),
                log_records,
                new_timers: vec![NewTimer { runbook_id: id, task_id: None, kind: "fixed_start".into(), due_at: 9 }],
                now: 1,
                ..Default::default()
            };
            let committed = store.commit_at_once(&commit).await.expect("batch").expect("committed in one round trip");
            version += 1;
            assert_eq!((committed.fire_ids.len(), committed.timer_ids.len()), (size, 1));
            assert_eq!(committed.runbook_version, Some(version));
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
            assert_eq!(store.commit_at_once(&stopped).await.expect("batch"), None, "a guard that fails stops it");
            let done = Commit { fire_updates: updates, now: 2, ..Default::default() };
            assert!(store.commit_at_once(&done).await.expect("batch").is_some());
        }
    }
}
