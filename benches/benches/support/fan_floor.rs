//! The floor of the `fires_10000` bench: the bare executor's requests with the rows the engine writes for the same fan,
//! written beside them by prepared statements on a thread of their own, as cheaply as SQLite allows on this machine.
//!
//! The rows are the engine's own, read back from a fan it ran: the run-level state, a task row, a fire's state, its
//! actions log and the events per task. The start (every task row, every fire, half the events) is one transaction
//! before the first request, as the engine's start commit is; each outcome (the fire's final state, its log, its task
//! row, the other half of the events) goes into a group commit of at most 128 outcomes, taken as the requests end, as
//! the engine's commit queue does. What no engine can avoid is here; the engine's own work (the state machine,
//! templates, the plan documents, the hand-offs between tasks) is not.

use crate::support::{CONCURRENCY, Setup, run_engine, runbook, send_bare};
use cutover_integrations_core::Engine;
use cutover_integrations_core::model::Runbook;
use cutover_integrations_core::store::RunbookId;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// At most this many outcomes go into one commit (the engine's commit queue batches as many).
const BATCH: usize = 128;
const OWNER: &str = "bench-floor";

/// The rows the engine wrote for one task of a fan.
pub(crate) struct FanRows {
    runbook_state: String,
    task_state: String,
    fire_state: String,
    log_records: Vec<String>,
    events_per_task: Vec<String>,
}

impl FanRows {
    /// Runs a fan of `count` tasks through the engine and reads back what it wrote.
    pub(crate) async fn read(engine: &Engine, count: usize) -> Self {
        run_engine(engine, &runbook(count, false)).await;
        let store = engine.store();
        let id = store.runbooks().await.expect("runbooks").iter().map(|summary| summary.id).max().expect("the fan");
        let record = store.runbook(id).await.expect("read").expect("runbook");
        let fire = store.task_fires(id, "t0").await.expect("read").pop().expect("a fire");
        let log_records = store.actions_log(fire.id).await.expect("read").into_iter().map(|log| log.record).collect();
        let events = store.events_after(0, Some(id), 1_000_000).await.expect("read");
        let per_task = (events.len() / count).max(1);
        let events_per_task = events.iter().skip(events.len() / 2).take(per_task).map(|e| e.body.clone()).collect();
        let task_state = record.tasks.first().expect("a task").state.clone();
        Self { runbook_state: record.state, task_state, fire_state: fire.state, log_records, events_per_task }
    }
}

/// Runs the floor once on a new runbook of `fan`'s tasks (created before the clock starts); the time from the start
/// transaction to the last outcome's commit.
pub(crate) async fn run(setup: &Setup, fan: &Runbook, rows: &Arc<FanRows>) -> Duration {
    let id = setup.engine.create_runbook(fan.clone()).await.expect("runbook");
    let connection = Connection::open(setup._dir.path().join("bench.db")).expect("the store's database");
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
             PRAGMA foreign_keys = ON;",
        )
        .expect("settings");
    let count = fan.tasks.len();
    let (outcomes, ended) = mpsc::channel::<usize>();
    let (started, start_written) = tokio::sync::oneshot::channel();
    let clock = Instant::now();
    let writer = {
        let rows = rows.clone();
        std::thread::spawn(move || write_fan(connection, id, count, &rows, started, &ended))
    };
    start_written.await.expect("the start is written");
    let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut sends = tokio::task::JoinSet::new();
    for n in 0..count {
        let permit = permits.clone().acquire_owned().await.expect("semaphore");
        let (executor, action, outcomes) = (setup.executor.clone(), setup.action.clone(), outcomes.clone());
        sends.spawn(async move {
            send_bare(&executor, &action, n).await;
            drop(permit);
            outcomes.send(n).expect("the writer waits for every outcome");
        });
    }
    while let Some(sent) = sends.join_next().await {
        sent.expect("a send");
    }
    tokio::task::spawn_blocking(move || writer.join()).await.expect("joins").expect("the writer ends");
    clock.elapsed()
}

/// The writing thread: the start, then the outcomes in group commits until every fire has ended.
fn write_fan(
    mut connection: Connection,
    runbook: RunbookId,
    count: usize,
    rows: &FanRows,
    started: tokio::sync::oneshot::Sender<()>,
    ended: &mpsc::Receiver<usize>,
) {
    let now = jiff::Timestamp::now().as_millisecond();
    let (start_events, end_events) = rows.events_per_task.split_at(rows.events_per_task.len() / 2);
    // Leased to the floor for an hour, so that the engine's dispatcher (which runs beside) leaves them alone.
    let until = now + 3_600_000;
    let mut fires = Vec::with_capacity(count);
    let transaction = begin(&mut connection);
    let mut version = write_runbook(&transaction, runbook, rows, now);
    for n in 0..count {
        write_task(&transaction, runbook, n, &rows.task_state, version);
        let id: i64 = transaction
            .prepare_cached(
                "INSERT INTO fires (runbook_id, task_id, fire_number, idempotency_key, status, state, due_at, \
                 lease_owner, lease_until, created_at, updated_at) \
                 VALUES (?1, ?2, 1, ?3, 'due', ?4, ?5, ?6, ?7, ?5, ?5) RETURNING id",
            )
            .and_then(|mut insert| {
                insert.query_row(
                    (
                        runbook.0,
                        format!("t{n}"),
                        format!("floor-{}-{n}", runbook.0),
                        &rows.fire_state,
                        now,
                        OWNER,
                        until,
                    ),
                    |row| row.get(0),
                )
            })
            .expect("a fire");
        fires.push(id);
    }
    write_events(&transaction, runbook, (0..count).flat_map(|_| start_events), now);
    transaction.commit().expect("the start commits");
    started.send(()).expect("the sender waits");
    let mut done = 0;
    while done < count {
        let mut batch = vec![ended.recv().expect("an outcome")];
        while batch.len() < BATCH
            && let Ok(n) = ended.try_recv()
        {
            batch.push(n);
        }
        let transaction = begin(&mut connection);
        version = write_runbook(&transaction, runbook, rows, now);
        for &n in &batch {
            let changed = transaction
                .prepare_cached(
                    "UPDATE fires SET status = 'done', state = ?1, updated_at = ?2, lease_owner = NULL, \
                     lease_until = NULL WHERE id = ?3 AND status <> 'done' AND lease_owner = ?4",
                )
                .and_then(|mut update| update.execute((&rows.fire_state, now, fires[n], OWNER)))
                .expect("a fire's outcome");
            assert_eq!(changed, 1, "the lease guard holds");
            for record in &rows.log_records {
                transaction
                    .prepare_cached("INSERT INTO actions_log (fire_id, record, created_at) VALUES (?1, ?2, ?3)")
                    .and_then(|mut insert| insert.execute((fires[n], record, now)))
                    .expect("a log record");
            }
            write_task(&transaction, runbook, n, &rows.task_state, version);
        }
        write_events(&transaction, runbook, batch.iter().flat_map(|_| end_events), now);
        transaction.commit().expect("an outcome batch commits");
        done += batch.len();
    }
}

fn begin(connection: &mut Connection) -> Transaction<'_> {
    connection.transaction_with_behavior(TransactionBehavior::Immediate).expect("begin")
}

/// The run-level state under its version guard; the new version.
fn write_runbook(transaction: &Transaction<'_>, runbook: RunbookId, rows: &FanRows, now: i64) -> i64 {
    transaction
        .prepare_cached(
            "UPDATE runbooks SET state = ?1, version = version + 1, updated_at = ?2 WHERE id = ?3 RETURNING version",
        )
        .and_then(|mut update| update.query_row((&rows.runbook_state, now, runbook.0), |row| row.get(0)))
        .expect("the runbook row")
}

fn write_task(transaction: &Transaction<'_>, runbook: RunbookId, position: usize, state: &str, version: i64) {
    transaction
        .prepare_cached(
            "INSERT INTO runbook_tasks (runbook_id, position, state, version) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (runbook_id, position) DO UPDATE SET state = excluded.state, version = excluded.version",
        )
        .and_then(|mut upsert| upsert.execute((runbook.0, position as i64, state, version)))
        .expect("a task row");
}

/// Events numbered from the sequence, in order.
fn write_events<'a>(
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
