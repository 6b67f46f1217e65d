//! The rows of a step written the cheapest way SQLite allows, for the benches' floors (`store_commit`'s
//! `step_floor`, `chain_scale`'s `fires_10000/floor`): plain prepared statements on a rusqlite connection to the
//! store's own database file, with the store's settings, each guard checked by its row count.

use cutover_integrations_core::store::{NewFire, RunbookId};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::Path;

/// A connection to the store's database file with the store's settings.
pub(crate) fn open(database: &Path) -> Connection {
    let connection = Connection::open(database).expect("the store's database");
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
             PRAGMA foreign_keys = ON;",
        )
        .expect("settings");
    connection
}

pub(crate) fn begin(connection: &mut Connection) -> Transaction<'_> {
    connection.transaction_with_behavior(TransactionBehavior::Immediate).expect("begin")
}

/// The run-level state under its version guard; the new version.
pub(crate) fn write_runbook(
    transaction: &Transaction<'_>,
    runbook: RunbookId,
    state: &str,
    version: i64,
    now: i64,
) -> i64 {
    let changed = transaction
        .prepare_cached(
            "UPDATE runbooks SET state = ?1, version = version + 1, updated_at = ?2 WHERE id = ?3 AND version = ?4",
        )
        .and_then(|mut update| update.execute((state, now, runbook.0, version)))
        .expect("the runbook row");
    assert_eq!(changed, 1, "the version guard holds");
    version + 1
}

pub(crate) fn write_task(transaction: &Transaction<'_>, runbook: RunbookId, position: u32, state: &str, version: i64) {
    transaction
        .prepare_cached(
            "INSERT INTO runbook_tasks (runbook_id, position, state, version) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (runbook_id, position) DO UPDATE SET state = excluded.state, version = excluded.version",
        )
        .and_then(|mut upsert| upsert.execute((runbook.0, position, state, version)))
        .expect("a task row");
}

/// A new fire; its id.
pub(crate) fn insert_fire(transaction: &Transaction<'_>, runbook: RunbookId, fire: &NewFire, now: i64) -> i64 {
    let (owner, until) = fire.lease.clone().expect("leased");
    transaction
        .prepare_cached(
            "INSERT INTO fires (runbook_id, task_id, fire_number, idempotency_key, status, state, due_at, \
             lease_owner, lease_until, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, 'due', ?5, ?6, ?7, ?8, ?9, ?9) RETURNING id",
        )
        .and_then(|mut insert| {
            let number = fire.kind.number().get();
            let values =
                (runbook.0, &fire.task_id, number, &fire.idempotency_key, &fire.state, fire.due_at, owner, until, now);
            insert.query_row(values, |row| row.get(0))
        })
        .expect("a new fire")
}

/// A fire's end under its lease guard.
pub(crate) fn end_fire(transaction: &Transaction<'_>, fire: i64, state: &str, owner: &str, now: i64) {
    let changed = transaction
        .prepare_cached(
            "UPDATE fires SET status = 'done', state = ?1, due_at = ?2, updated_at = ?2, lease_owner = NULL, \
             lease_until = NULL WHERE id = ?3 AND status <> 'done' AND lease_owner = ?4",
        )
        .and_then(|mut update| update.execute((state, now, fire, owner)))
        .expect("a fire's end");
    assert_eq!(changed, 1, "the lease guard holds");
}

pub(crate) fn write_log(transaction: &Transaction<'_>, fire: i64, record: &str, now: i64) {
    transaction
        .prepare_cached("INSERT INTO actions_log (fire_id, record, created_at) VALUES (?1, ?2, ?3)")
        .and_then(|mut insert| insert.execute((fire, record, now)))
        .expect("a log record");
}

/// Events numbered from the sequence, in order.
pub(crate) fn write_events<'a>(
    transaction: &Transaction<'_>,
    runbook: RunbookId,
    bodies: impl Iterator<Item = &'a String> + Clone,
    now: i64,
) {
    let count = bodies.clone().count() as i64;
    let last: i64 = transaction
        .prepare_cached("UPDATE event_sequence SET last_id = last_id + ?1 WHERE id = 1 RETURNING last_id")
        .and_then(|mut update| update.query_row([count], |row| row.get(0)))
        .expect("event ids");
    for (n, body) in bodies.enumerate() {
        transaction
            .prepare_cached("INSERT INTO events (id, runbook_id, body, created_at) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut insert| insert.execute((last - count + 1 + n as i64, runbook.0, body, now)))
            .expect("an event");
    }
}
