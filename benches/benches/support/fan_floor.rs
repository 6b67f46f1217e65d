//! The floor of the `fires_10000` bench: the bare executor's requests with the rows the engine writes for the same fan,
//! written beside them by prepared statements on a thread of their own, as cheaply as SQLite allows on this machine.
//!
//! The rows are the engine's own, read back from a fan it ran: the run-level state, a task row, a fire's state, its
//! actions log and the events per task. The start (every task row, every fire, half the events) is one transaction
//! before the first request, as the engine's start commit is; each outcome (the fire's final state, its log, its task
//! row, the other half of the events) goes into a group commit of at most 128 outcomes, taken as the requests end, as
//! the engine's commit queue does. What no engine can avoid is here; the engine's own work (the state machine,
//! templates, the plan documents, the hand-offs between tasks) is not.

use crate::floor_rows;
use crate::support::{CONCURRENCY, Setup, run_engine, runbook, send_bare};
use cutover_integrations_core::Engine;
use cutover_integrations_core::model::Runbook;
use cutover_integrations_core::runbook::FireNumber;
use cutover_integrations_core::store::{FireKind, FireStatus, NewFire, RunbookId};
use rusqlite::Connection;
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

/// Runs the floor once on a new runbook of `fan`'s tasks (created, with its fires' rows made ready, before the clock
/// starts); the time from the start transaction to the last outcome's commit.
pub(crate) async fn run(setup: &Setup, fan: &Runbook, rows: &Arc<FanRows>) -> Duration {
    let id = setup.engine.create_runbook(fan.clone()).await.expect("runbook");
    let connection = floor_rows::open(&setup._dir.path().join("bench.db"));
    let version: i64 = connection
        .query_row("SELECT version FROM runbooks WHERE id = ?1", [id.0], |row| row.get(0))
        .expect("the runbook's version");
    let now = jiff::Timestamp::now().as_millisecond();
    let fires = (0..fan.tasks.len())
        .map(|n| NewFire {
            task_id: format!("t{n}"),
            runbook_id: None,
            kind: FireKind::Action(FireNumber::FIRST),
            idempotency_key: format!("floor-{}-{n}", id.0),
            status: FireStatus::Due,
            state: rows.fire_state.clone(),
            due_at: now,
            // Leased to the floor for an hour, so that the engine's dispatcher (which runs beside) leaves them alone.
            lease: Some((OWNER.to_owned(), now + 3_600_000)),
            callback_token_hash: None,
        })
        .collect();
    let fan_rows = Fan { runbook: id, version, fires };
    let count = fan.tasks.len();
    let (outcomes, ended) = mpsc::channel::<usize>();
    let (started, start_written) = tokio::sync::oneshot::channel();
    let clock = Instant::now();
    let writer = {
        let rows = rows.clone();
        std::thread::spawn(move || write_fan(connection, fan_rows, &rows, started, &ended))
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

/// One run's runbook: its id, its version before the start, the fires to create.
struct Fan {
    runbook: RunbookId,
    version: i64,
    fires: Vec<NewFire>,
}

/// The writing thread: the start, then the outcomes in group commits until every fire has ended.
fn write_fan(
    mut connection: Connection,
    fan: Fan,
    rows: &FanRows,
    started: tokio::sync::oneshot::Sender<()>,
    ended: &mpsc::Receiver<usize>,
) {
    let now = jiff::Timestamp::now().as_millisecond();
    let (start_events, end_events) = rows.events_per_task.split_at(rows.events_per_task.len() / 2);
    let runbook = fan.runbook;
    let transaction = floor_rows::begin(&mut connection);
    let mut version = floor_rows::write_runbook(&transaction, runbook, &rows.runbook_state, fan.version, now);
    let mut ids = Vec::with_capacity(fan.fires.len());
    for (position, fire) in (0..).zip(&fan.fires) {
        floor_rows::write_task(&transaction, runbook, position, &rows.task_state, version);
        ids.push(floor_rows::insert_fire(&transaction, runbook, fire, now));
    }
    floor_rows::write_events(&transaction, runbook, ids.iter().flat_map(|_| start_events), now);
    transaction.commit().expect("the start commits");
    started.send(()).expect("the sender waits");
    let mut done = 0;
    while done < ids.len() {
        let mut batch = vec![ended.recv().expect("an outcome")];
        while batch.len() < BATCH
            && let Ok(n) = ended.try_recv()
        {
            batch.push(n);
        }
        let transaction = floor_rows::begin(&mut connection);
        version = floor_rows::write_runbook(&transaction, runbook, &rows.runbook_state, version, now);
        for &n in &batch {
            floor_rows::end_fire(&transaction, ids[n], &rows.fire_state, OWNER, now);
            for record in &rows.log_records {
                floor_rows::write_log(&transaction, ids[n], record, now);
            }
            floor_rows::write_task(&transaction, runbook, n as u32, &rows.task_state, version);
        }
        floor_rows::write_events(&transaction, runbook, batch.iter().flat_map(|_| end_events), now);
        transaction.commit().expect("an outcome batch commits");
        done += batch.len();
    }
}
