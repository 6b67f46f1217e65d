//! What one step of a chain costs the store: the commit of a chained task's end and its successor's start on SQLite,
//! durable as the engine writes it, against one empty round trip to a SQLite connection's thread and one small write
//! transaction, measured in the same run.
//!
//! The step is made of real rows: a chain of 50 tasks is first driven to completion by an engine on the loopback sink,
//! and the step commit is built from what it stored (the run-level state, the task rows, a fire's final state and its
//! actions log, the events of one step). Each iteration then commits, as the engine does after a fire succeeded: the
//! run-level state under its version guard and two task rows, the ended fire (under its lease) with its actions log,
//! the successor's new fire, and the step's events, through [`Store::commit_runbook`] (group commit, one transaction).
//!
//! Baselines, on a second database file with the same settings (WAL, `synchronous = NORMAL`): `round_trip` is
//! `SELECT 1` on a connection (the cost of one hand-off to and from SQLite's thread), `one_write` is a transaction
//! updating one small row sent as one batch (the cost of a commit's WAL append with one statement); and
//! `bare_request` is one task's request through the bare executor to the loopback sink (what a chained task costs
//! without the engine). `step_floor` writes the same rows as `chain_step` to the store's own database file with
//! plain prepared statements on the calling thread (no plan document, no trigger, no hand-off to another thread): what
//! the step's writes cost SQLite on this machine, the floor under any engine that records a step before the next
//! request goes out. `RATIO` lines print the step commit in units of each, and the floor.

use criterion::{Criterion, criterion_group, criterion_main};
use cutover_integrations_core::runbook::FireNumber;
use cutover_integrations_core::store::{
    Commit, FireGuard, FireId, FireKind, FireStatus, FireUpdate, LogFire, NewEvent, NewFire, NewLogRecord, NewRunbook,
    RunbookId, RunbookRecord, RunbookWrite, Store, TaskRow,
};
use sqlx::{AnyConnection, Connection, Executor};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod support;
use support::{run_engine, runbook, send_bare, setup};
#[path = "support/floor_rows.rs"]
mod floor_rows;

const CHAIN: usize = 50;
const OWNER: &str = "bench-store";

/// The rows of one step, read back from a chain the engine ran.
struct StepRows {
    runbook: RunbookRecord,
    fire_state: String,
    log_records: Vec<String>,
    events: Vec<String>,
}

/// Commits one chain step after another on a runbook of its own, as the engine would.
struct Chain {
    store: Arc<dyn Store>,
    rows: Arc<StepRows>,
    id: RunbookId,
    version: i64,
    step: usize,
    /// The fire the previous step created, which this step ends.
    running: Option<FireId>,
}

impl Chain {
    async fn new(store: Arc<dyn Store>, rows: Arc<StepRows>) -> Self {
        let tasks: Vec<String> = rows.runbook.tasks.iter().map(|task| task.state.clone()).collect();
        let definition = rows.runbook.definition.clone().expect("a full read has the definition");
        let new = NewRunbook {
            name: "Store bench",
            definition: &definition,
            state: &rows.runbook.state,
            tasks: &tasks,
            events: &[],
        };
        let written = store.create_runbook(&new, now()).await.expect("runbook");
        Self { store, rows, id: written.id, version: written.version, step: 0, running: None }
    }

    /// The commit of one step: the previous task ends with its fire, the next one starts with a new fire.
    fn commit(&self) -> Commit {
        let rows = &self.rows;
        let (ended, started) = (self.step % CHAIN, (self.step + 1) % CHAIN);
        let task =
            |position: usize| TaskRow { position: position as u32, state: rows.runbook.tasks[position].state.clone() };
        let now = now();
        let fire_updates: Vec<FireUpdate> = self
            .running
            .iter()
            .map(|fire| FireUpdate {
                id: *fire,
                guard: FireGuard::Lease(OWNER.to_owned()),
                status: FireStatus::Done,
                state: rows.fire_state.clone(),
                due_at: now,
                lease: None,
            })
            .collect();
        let log_records = self
            .running
            .iter()
            .flat_map(|fire| {
                rows.log_records.iter().map(|record| NewLogRecord {
                    fire: LogFire::Stored(*fire),
                    record: record.clone(),
                    created_at: now,
                })
            })
            .collect();
        Commit {
            runbook: Some(RunbookWrite {
                id: self.id,
                expected_version: self.version,
                state: rows.runbook.state.clone(),
                tasks: vec![task(ended), task(started)],
            }),
            new_fires: vec![NewFire {
                task_id: format!("t{started}"),
                runbook_id: None,
                // A task starts again each time the chain wraps around: a new fire number.
                kind: FireKind::Action(FireNumber::new(((self.step + 1) / CHAIN + 1) as u32).expect("at least 1")),
                idempotency_key: format!("store-bench-{}-{}", self.id, self.step),
                status: FireStatus::Due,
                state: rows.fire_state.clone(),
                due_at: now,
                lease: Some((OWNER.to_owned(), now + 60_000)),
                callback_token_hash: None,
            }],
            fire_updates,
            log_records,
            events: rows.events.iter().map(|body| NewEvent { runbook_id: self.id, body: body.clone() }).collect(),
            now,
            ..Commit::default()
        }
    }

    async fn step(&mut self) {
        let commit = self.commit();
        let committed = self.store.commit_runbook(commit, &mut |_| None).await.expect("commits");
        let committed = committed.expect("nobody else writes this runbook");
        self.version = committed.runbook_version.expect("a runbook write");
        self.running = committed.fire_ids.first().copied();
        self.step += 1;
    }
}

/// The floor of a step: [`Chain::commit`]'s rows written by prepared statements on the calling thread (see the module
/// documentation), on a runbook the store created.
struct Floor {
    connection: rusqlite::Connection,
    chain: Chain,
}

impl Floor {
    async fn new(store: Arc<dyn Store>, rows: Arc<StepRows>, database: &std::path::Path) -> Self {
        Self { connection: floor_rows::open(database), chain: Chain::new(store, rows).await }
    }

    fn step(&mut self) {
        let commit = self.chain.commit();
        let write = commit.runbook.as_ref().expect("a runbook write");
        let transaction = floor_rows::begin(&mut self.connection);
        let version =
            floor_rows::write_runbook(&transaction, write.id, &write.state, write.expected_version, commit.now);
        for task in &write.tasks {
            floor_rows::write_task(&transaction, write.id, task.position, &task.state, version);
        }
        for update in &commit.fire_updates {
            floor_rows::end_fire(&transaction, update.id.0, &update.state, OWNER, commit.now);
        }
        for record in &commit.log_records {
            let LogFire::Stored(fire) = record.fire else { panic!("the log of a stored fire") };
            floor_rows::write_log(&transaction, fire.0, &record.record, record.created_at);
        }
        let mut running = None;
        for fire in &commit.new_fires {
            running = Some(FireId(floor_rows::insert_fire(&transaction, write.id, fire, commit.now)));
        }
        floor_rows::write_events(&transaction, write.id, commit.events.iter().map(|event| &event.body), commit.now);
        transaction.commit().expect("commit");
        self.chain.version = version;
        self.chain.running = running;
        self.chain.step += 1;
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Drives a chain of [`CHAIN`] through the engine and reads back what one of its steps wrote.
async fn step_rows(engine: &cutover_integrations_core::Engine) -> StepRows {
    run_engine(engine, &runbook(CHAIN, true)).await;
    let store = engine.store();
    let id = store.runbooks().await.expect("runbooks").iter().map(|summary| summary.id).max().expect("the chain");
    let runbook = store.runbook(id).await.expect("read").expect("runbook");
    let middle = format!("t{}", CHAIN / 2);
    let fire = store.task_fires(id, &middle).await.expect("read").pop().expect("the middle task's fire");
    let log_records = store.actions_log(fire.id).await.expect("read").into_iter().map(|record| record.record).collect();
    let events = store.events_after(0, Some(id), 10_000).await.expect("read");
    // Events of the middle step: those naming the middle task or its successor's start, taken as an even share.
    let per_step = events.len().div_ceil(CHAIN);
    let start = (CHAIN / 2) * per_step;
    let events = events.into_iter().skip(start).take(per_step).map(|event| event.body).collect();
    StepRows { runbook, fire_state: fire.state, log_records, events }
}

/// A plain connection to a second database with the store's settings, and a one-row table to write.
async fn baseline_connection(dir: &std::path::Path) -> AnyConnection {
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=rwc", dir.join("baseline.db").display());
    let mut connection = AnyConnection::connect(&url).await.expect("baseline database");
    connection
        .execute(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             CREATE TABLE IF NOT EXISTS scratch (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); \
             INSERT OR REPLACE INTO scratch (id, n) VALUES (1, 0);",
        )
        .await
        .expect("baseline table");
    connection
}

/// Total time and iterations per measured function, for the ratios printed at the end.
#[derive(Default)]
struct Tally {
    measured: Mutex<BTreeMap<&'static str, (Duration, u64)>>,
}

impl Tally {
    fn add(&self, name: &'static str, elapsed: Duration, iterations: u64) {
        let mut measured = self.measured.lock().expect("tally");
        let entry = measured.entry(name).or_default();
        entry.0 += elapsed;
        entry.1 += iterations;
    }

    fn mean_micros(&self, name: &str) -> Option<f64> {
        let measured = self.measured.lock().expect("tally");
        measured.get(name).filter(|(_, n)| *n > 0).map(|(total, n)| total.as_secs_f64() * 1e6 / *n as f64)
    }
}

fn bench_all(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let setup = runtime.block_on(setup());
    let rows = Arc::new(runtime.block_on(step_rows(&setup.engine)));
    let step_size = |commit: &Commit| {
        let tasks = commit
            .runbook
            .as_ref()
            .map_or(0, |write| write.state.len() + write.tasks.iter().map(|t| t.state.len()).sum::<usize>());
        tasks
            + commit.new_fires.iter().map(|fire| fire.state.len()).sum::<usize>()
            + commit.fire_updates.iter().map(|fire| fire.state.len()).sum::<usize>()
            + commit.log_records.iter().map(|record| record.record.len()).sum::<usize>()
            + commit.events.iter().map(|event| event.body.len()).sum::<usize>()
    };
    let store = setup.engine.store().clone();
    let mut chain = runtime.block_on(Chain::new(store.clone(), rows.clone()));
    runtime.block_on(chain.step());
    let sample = chain.commit();
    println!(
        "STEP one step's commit: runbook state and {} task rows, {} new fire, {} fire update, {} log records, {} events; \
         {} bytes of documents",
        sample.runbook.as_ref().map_or(0, |write| write.tasks.len()),
        sample.new_fires.len(),
        sample.fire_updates.len(),
        sample.log_records.len(),
        sample.events.len(),
        step_size(&sample)
    );
    let mut baseline = runtime.block_on(baseline_connection(setup._dir.path()));
    let tally = Tally::default();
    let mut group = c.benchmark_group("store_commit");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    group.bench_function("round_trip", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    let _: i64 = sqlx::query_scalar("SELECT 1").fetch_one(&mut baseline).await.expect("select");
                }
                let total = started.elapsed();
                tally.add("round_trip", total, iterations);
                total
            })
        });
    });
    group.bench_function("one_write", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    let query = sqlx::query("BEGIN IMMEDIATE; UPDATE scratch SET n = n + 1 WHERE id = 1; COMMIT;");
                    baseline.execute(query).await.expect("write");
                }
                let total = started.elapsed();
                tally.add("one_write", total, iterations);
                total
            })
        });
    });
    group.bench_function("bare_request", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for n in 0..iterations {
                    send_bare(&setup.executor, &setup.action, n as usize % CHAIN).await;
                }
                let total = started.elapsed();
                tally.add("bare_request", total, iterations);
                total
            })
        });
    });
    group.bench_function("chain_step", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    if chain.step >= 10 * CHAIN {
                        chain = Chain::new(store.clone(), rows.clone()).await;
                    }
                    let started = Instant::now();
                    chain.step().await;
                    total += started.elapsed();
                }
                tally.add("chain_step", total, iterations);
                total
            })
        });
    });
    let database = setup._dir.path().join("bench.db");
    let mut floor = runtime.block_on(Floor::new(store.clone(), rows.clone(), &database));
    group.bench_function("step_floor", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                if floor.chain.step >= 10 * CHAIN {
                    floor = runtime.block_on(Floor::new(store.clone(), rows.clone(), &database));
                }
                let started = Instant::now();
                floor.step();
                total += started.elapsed();
            }
            tally.add("step_floor", total, iterations);
            total
        });
    });
    group.finish();
    let mean = |name| tally.mean_micros(name);
    if let (Some(step), Some(trip), Some(write), Some(request)) =
        (mean("chain_step"), mean("round_trip"), mean("one_write"), mean("bare_request"))
    {
        println!(
            "RATIO store_commit: a chain step's commit {step:.1} µs = {:.1} round trips ({trip:.1} µs) = {:.1} one-row \
             write transactions ({write:.1} µs) = {:.2} bare requests ({request:.1} µs)",
            step / trip,
            step / write,
            step / request
        );
    }
    if let (Some(step), Some(floor)) = (mean("chain_step"), mean("step_floor")) {
        println!(
            "RATIO store_commit floor: the same rows by prepared statements on the calling thread {floor:.1} µs; \
             the store's commit is {:.2}x that",
            step / floor
        );
    }
}

criterion_group!(benches, bench_all);
criterion_main!(benches);
