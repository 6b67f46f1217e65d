//! The durable engine end to end on SQLite against the bare HTTP executor, both sending the same requests to the same
//! loopback sink in the same run.
//!
//! - `engine_chain_50`: a chain of 50 fire-and-forget tasks, each starting by itself when its predecessor completes
//!   and completing when its fire succeeds. The engine commits every step durably (the fire's outcome, its actions
//!   log, the runbook's next state and the next fire, in one transaction). The baseline sends the 50 requests one
//!   after the other through the bare executor. (engine − baseline) / 50 is the engine's own overhead per task.
//! - `engine_fires_200`: 200 independent fire-and-forget tasks started together; the baseline sends the 200 requests
//!   with the same concurrency as the engine's dispatcher. Reported as fires per second.
//!
//! Each engine iteration runs a new runbook (created outside the timed part) from `StartRunbook` to the event that
//! says it is complete.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use cutover_integrations_core::http::{
    Executor, ExecutorConfig, FireContext, HttpExecutor, OutboundPolicy, PreparedAction, StepOutcome,
};
use cutover_integrations_core::model::{Action, ActionRef, RunMode, Runbook, RunbookStage, Task};
use cutover_integrations_core::runbook::{Actor, Command, Event};
use cutover_integrations_core::{Engine, EngineSettings};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const CHAIN: usize = 50;
const FAN: usize = 200;
const CONCURRENCY: usize = 64;

/// A loopback HTTP server that answers every request with 200.
async fn start_sink() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the sink");
    let address = listener.local_addr().expect("sink address");
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("sink runs") });
    format!("http://{address}")
}

fn integration(base: &str) -> String {
    format!(
        r#"
kind: integration
name: Sink
actions:
  - name: Post
    settings: {{auto_start: true, finish_task_on_success: true}}
    request:
      method: POST
      url: {base}/hook
      headers: {{Content-Type: application/json}}
      payload: '{{"task":"{{{{Task.id}}}}","runbook":"{{{{Runbook.name}}}}"}}'
"#
    )
}

fn action(base: &str) -> Action {
    serde_json::from_value(serde_json::json!({
        "name": "Post",
        "settings": {"auto_start": true, "finish_task_on_success": true},
        "request": {
            "method": "POST",
            "url": format!("{base}/hook"),
            "headers": {"Content-Type": "application/json"},
            "payload": "{\"task\":\"{{Task.id}}\",\"runbook\":\"{{Runbook.name}}\"}",
        },
    }))
    .expect("valid action")
}

/// `count` tasks of the sink's action: a chain (each after the previous) or independent roots.
fn runbook(count: usize, chained: bool) -> Runbook {
    let tasks = (0..count)
        .map(|n| Task {
            id: format!("t{n}"),
            name: format!("Task {n}"),
            description: None,
            action: Some(ActionRef { integration: "Sink".into(), action: "Post".into() }),
            predecessors: if chained && n > 0 { vec![format!("t{}", n - 1)] } else { Vec::new() },
            custom_fields: BTreeMap::new(),
            auto_start: false,
            fixed_start: None,
            duration_seconds: None,
            assignee: None,
        })
        .collect();
    Runbook { name: "Bench".into(), workspace: None, description: None, custom_fields: BTreeMap::new(), tasks }
}

struct Setup {
    engine: Engine,
    _running: cutover_integrations_core::RunningEngine,
    executor: HttpExecutor,
    action: Arc<PreparedAction>,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let base = start_sink().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let settings =
        EngineSettings { name: "bench".into(), max_concurrent_fires: CONCURRENCY, ..EngineSettings::default() };
    let engine = Engine::builder()
        .database_url(format!("sqlite://{}", dir.path().join("bench.db").display()))
        .secret_key_base64(KEY)
        .allow_outbound("127.0.0.0/8".parse().expect("CIDR"))
        .settings(settings)
        .build()
        .await
        .expect("engine");
    engine.apply_definitions(&[("sink.yaml", &integration(&base))]).await.expect("definitions");
    let running = engine.start();
    let config = ExecutorConfig {
        outbound: OutboundPolicy::allowing(["127.0.0.0/8".parse().expect("CIDR")]),
        ..ExecutorConfig::default()
    };
    let executor = HttpExecutor::new(config).expect("executor");
    let action = Arc::new(PreparedAction::compile(&action(&base)).expect("compiles"));
    Setup { engine, _running: running, executor, action, _dir: dir }
}

/// Runs a new runbook from start to completion; returns the time from `StartRunbook` to the completion event.
async fn run_engine(engine: &Engine, definition: &Runbook) -> Duration {
    let id = engine.create_runbook(definition.clone()).await.expect("runbook");
    let mut events = engine.subscribe();
    let started = Instant::now();
    engine.command(id, Command::StartRunbook { mode: RunMode::Live }, &Actor::engine()).await.expect("starts");
    loop {
        let event = events.recv().await.expect("events");
        if event.runbook == id && matches!(event.event, Event::RunbookStageChanged { to: RunbookStage::Complete, .. }) {
            return started.elapsed();
        }
    }
}

/// Sends task `n`'s request through the bare executor to its end.
async fn send_bare(executor: &HttpExecutor, action: &PreparedAction, n: usize) {
    let values = serde_json::json!({
        "CustomField": {},
        "Task": {"id": format!("t{n}"), "name": format!("Task {n}")},
        "Runbook": {"id": 1, "name": "Bench"},
        "SystemParameter": {},
    });
    let context = FireContext::new(n.to_string(), "1", format!("t{n}"), values);
    let mut state = executor.begin(action, &context);
    loop {
        match executor.step(action, &context, state).await.outcome {
            StepOutcome::Done(result) => {
                assert!(result.succeeded, "the sink accepts every request");
                return;
            }
            StepOutcome::WaitUntil { state: next, .. } | StepOutcome::AwaitCallback { state: next, .. } => {
                state = next;
            }
        }
    }
}

fn bench_engine(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let setup = runtime.block_on(setup());
    bench_chain(c, &runtime, &setup);
    bench_fan(c, &runtime, &setup);
}

fn bench_chain(c: &mut Criterion, runtime: &Runtime, setup: &Setup) {
    let chain = runbook(CHAIN, true);
    let mut group = c.benchmark_group("engine_chain_50");
    group.sample_size(20).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(CHAIN as u64));
    group.bench_function("bare_executor", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    for n in 0..CHAIN {
                        send_bare(&setup.executor, &setup.action, n).await;
                    }
                }
                started.elapsed()
            })
        });
    });
    group.bench_function("engine_sqlite", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    total += run_engine(&setup.engine, &chain).await;
                }
                total
            })
        });
    });
    group.finish();
}

fn bench_fan(c: &mut Criterion, runtime: &Runtime, setup: &Setup) {
    let fan = runbook(FAN, false);
    let mut group = c.benchmark_group("engine_fires_200");
    group.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(FAN as u64));
    group.bench_function("bare_executor", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    send_fan_bare(setup).await;
                }
                started.elapsed()
            })
        });
    });
    group.bench_function("engine_sqlite", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    total += run_engine(&setup.engine, &fan).await;
                }
                total
            })
        });
    });
    group.finish();
}

/// The fan's requests through the bare executor, at most `CONCURRENCY` at a time, as the dispatcher runs them.
async fn send_fan_bare(setup: &Setup) {
    let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut sends = tokio::task::JoinSet::new();
    for n in 0..FAN {
        let permit = permits.clone().acquire_owned().await.expect("semaphore");
        let executor = setup.executor.clone();
        let action = setup.action.clone();
        sends.spawn(async move {
            send_bare(&executor, &action, n).await;
            drop(permit);
        });
    }
    while let Some(sent) = sends.join_next().await {
        sent.expect("a send");
    }
}

criterion_group!(benches, bench_engine);
criterion_main!(benches);
