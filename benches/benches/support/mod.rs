//! What the engine benches share: a loopback sink, its integration and action, runbooks of its tasks, an engine on
//! SQLite beside the bare executor, and sending one task's request through the bare executor.

use cutover_integrations_core::UserCommand;
use cutover_integrations_core::http::{
    Executor, ExecutorConfig, FireContext, HttpExecutor, OutboundPolicy, PreparedAction, StepOutcome,
};
use cutover_integrations_core::model::{Action, ActionRef, RunMode, Runbook, RunbookStage, Task};
use cutover_integrations_core::runbook::{Actor, Event};
use cutover_integrations_core::{Engine, EngineSettings, RunningEngine};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// The engine's fire concurrency, and the bare executor's in the fan baselines.
pub(crate) const CONCURRENCY: usize = 64;

/// A loopback HTTP server that answers every request with 200.
pub(crate) async fn start_sink() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the sink");
    let address = listener.local_addr().expect("sink address");
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("sink runs") });
    format!("http://{address}")
}

pub(crate) fn integration(base: &str) -> String {
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

pub(crate) fn action(base: &str) -> Action {
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
pub(crate) fn runbook(count: usize, chained: bool) -> Runbook {
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

pub(crate) struct Setup {
    pub(crate) engine: Engine,
    pub(crate) _running: RunningEngine,
    pub(crate) executor: HttpExecutor,
    pub(crate) action: Arc<PreparedAction>,
    pub(crate) _dir: tempfile::TempDir,
}

/// An engine on a new SQLite database in `dir` that may reach loopback addresses; not started.
pub(crate) async fn open_engine(dir: &std::path::Path, settings: EngineSettings) -> Engine {
    Engine::builder()
        .database_url(format!("sqlite://{}", dir.join("bench.db").display()))
        .secret_key_base64(KEY)
        .allow_outbound("127.0.0.0/8".parse().expect("CIDR"))
        .settings(settings)
        .build()
        .await
        .expect("engine")
}

pub(crate) async fn setup() -> Setup {
    let base = start_sink().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let settings =
        EngineSettings { name: "bench".into(), max_concurrent_fires: CONCURRENCY, ..EngineSettings::default() };
    let engine = open_engine(dir.path(), settings).await;
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

/// Runs a new runbook (created outside the timed part) from start to completion; returns the time from
/// `StartRunbook` to the completion event.
pub(crate) async fn run_engine(engine: &Engine, definition: &Runbook) -> Duration {
    let id = engine.create_runbook(definition.clone()).await.expect("runbook");
    let mut events = engine.subscribe();
    let started = Instant::now();
    engine.command(id, UserCommand::StartRunbook { mode: RunMode::Live }, &Actor::engine()).await.expect("starts");
    loop {
        match events.recv().await {
            Ok(event)
                if event.runbook == id
                    && matches!(event.event, Event::RunbookStageChanged { to: RunbookStage::Complete, .. }) =>
            {
                return started.elapsed();
            }
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(error) => panic!("the event stream ended: {error}"),
        }
    }
}

/// Sends task `n`'s request through the bare executor to its end.
pub(crate) async fn send_bare(executor: &HttpExecutor, action: &PreparedAction, n: usize) {
    let values = serde_json::json!({
        "CustomField": {},
        "Task": {"id": format!("t{n}"), "name": format!("Task {n}")},
        "Runbook": {"id": 1, "name": "Bench"},
        "SystemParameter": {},
    });
    let context = FireContext::new(n.to_string(), "1", format!("t{n}"), values);
    let mut state = executor.begin(action, &context, format!("bench-{n}"));
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
