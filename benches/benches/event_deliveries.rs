//! Event integrations' deliveries through the engine on SQLite against the bare HTTP executor sending as many
//! requests with the same concurrency, to the same loopback sink, in the same run.
//!
//! Each engine iteration starts [`RUNBOOKS`] runbooks while the engine is not dispatching (untimed), so that each of
//! [`INTEGRATIONS`] event integrations has one `runbook.started` delivery per runbook waiting in the log; then it times
//! the engine's start (routing the events, claiming, sending, recording each delivery) until the sink got every
//! delivery and the engine's shutdown returned (every answer recorded). The baseline sends the same number of requests
//! through the bare executor, at most [`IN_FLIGHT`] at once (the engine's limit of deliveries in flight). Reported as
//! deliveries per second; engine / baseline is the share of the bare executor's rate the outbox keeps.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use cutover_integrations_core::UserCommand;
use cutover_integrations_core::http::{ExecutorConfig, HttpExecutor, OutboundPolicy, PreparedAction};
use cutover_integrations_core::model::RunMode;
use cutover_integrations_core::runbook::Actor;
use cutover_integrations_core::{Engine, EngineSettings};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[allow(dead_code, reason = "this bench uses only the engine, the action and the bare sending of the shared support")]
mod support;
use support::send_bare;

/// Runbooks started per iteration.
const RUNBOOKS: usize = 32;
/// Event integrations, each sending every runbook's `runbook.started`.
const INTEGRATIONS: usize = 8;
/// The engine's limit of deliveries in flight, and the baseline's concurrency.
const IN_FLIGHT: usize = 32;
const DELIVERIES: usize = RUNBOOKS * INTEGRATIONS;

/// A loopback sink: `/hook` answers 200; `/events` answers 200 and counts.
async fn start_sink() -> (String, watch::Receiver<usize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the sink");
    let address = listener.local_addr().expect("sink address");
    let (counted, count) = watch::channel(0usize);
    let counted = Arc::new(counted);
    let total = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" })).route(
        "/events",
        axum::routing::post(move || {
            let (counted, total) = (Arc::clone(&counted), Arc::clone(&total));
            async move {
                counted.send_replace(total.fetch_add(1, Ordering::SeqCst) + 1);
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.expect("sink runs") });
    (format!("http://{address}"), count)
}

struct Setup {
    engine: Engine,
    count: watch::Receiver<usize>,
    executor: HttpExecutor,
    action: Arc<PreparedAction>,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let (base, count) = start_sink().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let engine =
        support::open_engine(dir.path(), EngineSettings { name: "bench".into(), ..EngineSettings::default() }).await;
    let files: Vec<(String, String)> = (0..INTEGRATIONS)
        .map(|n| {
            let text = format!(
                "kind: event_integration\nname: Events {n}\nevents: [runbook.started]\n\
                 request: {{method: POST, url: '{base}/events'}}\n"
            );
            (format!("events-{n}.yaml"), text)
        })
        .collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(name, text)| (name.as_str(), text.as_str())).collect();
    engine.apply_definitions(&files).await.expect("definitions");
    let config = ExecutorConfig {
        outbound: OutboundPolicy::allowing(["127.0.0.0/8".parse().expect("CIDR")]),
        ..ExecutorConfig::default()
    };
    let executor = HttpExecutor::new(config).expect("executor");
    let action = Arc::new(PreparedAction::compile(&support::action(&base)).expect("compiles"));
    Setup { engine, count, executor, action, _dir: dir }
}

/// Starts [`RUNBOOKS`] new runbooks of one manual task while the engine is not dispatching.
async fn start_runbooks(engine: &Engine) {
    for _ in 0..RUNBOOKS {
        let mut definition = support::runbook(1, false);
        definition.tasks[0].action = None;
        let id = engine.create_runbook(definition).await.expect("runbook");
        engine.command(id, UserCommand::StartRunbook { mode: RunMode::Live }, &Actor::engine()).await.expect("starts");
    }
}

/// Starts the engine and times it until the sink got [`DELIVERIES`] more requests and its shutdown returned.
async fn deliver(setup: &mut Setup) -> Duration {
    let target = *setup.count.borrow() + DELIVERIES;
    let started = Instant::now();
    let running = setup.engine.start();
    setup.count.wait_for(|count| *count >= target).await.expect("the sink runs");
    running.shutdown().await;
    started.elapsed()
}

/// The same number of requests through the bare executor, at most [`IN_FLIGHT`] at once.
async fn send_all_bare(setup: &Setup) {
    let mut sending = tokio::task::JoinSet::new();
    for n in 0..DELIVERIES {
        if sending.len() == IN_FLIGHT {
            sending.join_next().await.expect("a send").expect("it ran");
        }
        let (executor, action) = (setup.executor.clone(), Arc::clone(&setup.action));
        sending.spawn(async move { send_bare(&executor, &action, n).await });
    }
    while let Some(sent) = sending.join_next().await {
        sent.expect("it ran");
    }
}

fn event_deliveries(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut setup = runtime.block_on(setup());
    let mut group = c.benchmark_group("event_deliveries_256");
    group.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(DELIVERIES as u64));
    group.bench_function("bare_executor", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    send_all_bare(&setup).await;
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
                    start_runbooks(&setup.engine).await;
                    total += deliver(&mut setup).await;
                }
                total
            })
        });
    });
    group.finish();
}

criterion_group!(benches, event_deliveries);
criterion_main!(benches);
