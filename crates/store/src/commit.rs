//! Writing a [`Commit`]: the runbook's new state, new fires, fire updates, log records and timers in one transaction.
//!
//! On SQLite the whole commit, `BEGIN IMMEDIATE` to `COMMIT`, is one batch of statements sent to the connection at
//! once (sqlx runs a multi-statement query on the connection's worker thread in one go), because each round trip to
//! that thread costs more than the statements themselves; numbered parameters (`$7`) index one argument list shared
//! by the batch. The guards (the runbook's version, fire leases) are checked inside the batch: after each guarded
//! statement, its count of changed rows goes into [`COMMIT_CHECKS_TABLE`], whose `CHECK` fails on anything but 1 and
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
use sqlx::{Any, AnyConnection, Arguments, Either, Executor};

/// A temporary table of the SQLite writing connection: one row whose `ok` must be 1.
pub(crate) const COMMIT_CHECKS_TABLE: &str =
    "CREATE TEMP TABLE IF NOT EXISTS commit_checks (id INTEGER PRIMARY KEY, ok INTEGER NOT NULL CHECK (ok = 1));";

/// Stops a batch unless the statement before it changed exactly one row.
const CHECK_ONE_ROW_CHANGED: &str = "INSERT OR REPLACE INTO temp.commit_checks (id, ok) VALUES (1, changes());";

impl SqlStore {
    /// Writes `commit` in one round trip on SQLite (see the module documentation). `None` when the batch stopped
    /// (a guard failed, or the database did) and was rolled back, and on PostgreSQL: the caller then writes the commit
    /// in a transaction, statement by statement.
    pub(crate) async fn commit_at_once(&self, commit: &Commit) -> Result<Option<Committed>, StoreError> {
        let Some(mut writer) = self.writer.sqlite().await? else { return Ok(None) };
        let batch = build_batch(commit, Checks::InBatch)?;
        // Marked open until the outcome is read: if this future is dropped meanwhile, the next writer rolls back.
        writer.open_transaction = true;
        let results = run_batch(&mut writer.connection, batch).await;
        match results {
            Ok(results) => {
                writer.open_transaction = false;
                let ids: Vec<i64> = results
                    .iter()
                    .filter_map(|result| result.as_ref().right())
                    .map(|row| get(row, "id"))
                    .collect::<Result<_, _>>()?;
                let (fires, timers) = ids.split_at(commit.new_fires.len().min(ids.len()));
                Ok(Some(Committed {
                    fire_ids: fires.iter().copied().map(FireId).collect(),
                    timer_ids: timers.iter().copied().map(TimerId).collect(),
                    runbook_version: commit.runbook.as_ref().map(|write| write.expected_version + 1),
                }))
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
             VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {now}, {now}) RETURNING id;",
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
