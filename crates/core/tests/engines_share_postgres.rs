//! Three engines on one PostgreSQL database share the fires of several runbooks: every fire is sent exactly once and
//! every task completes.
//!
//! Runbooks of pairs of tasks (an independent auto-start task, followed by one more) are started before any dispatcher
//! runs, so the first fire of every pair is left for whichever engine claims it (`FOR UPDATE SKIP LOCKED`); the other
//! half become due as outcomes are recorded, by all three engines writing the same runbooks (each runbook write is
//! checked against the version the engine cached, and rebuilt under the row lock from what changed when another engine
//! wrote first). Two shapes: four runbooks of 250 tasks, and one runbook of 10,000 tasks.

#[allow(dead_code, reason = "each test binary uses part of the sink")]
mod sink;

use cutover_integrations_core::UserCommand;
use cutover_integrations_core::http::ExecutorConfig;
use cutover_integrations_core::model::{ActionRef, RunMode, Runbook, RunbookStage, Task, TaskStage};
use cutover_integrations_core::runbook::Actor;
use cutover_integrations_core::store::{FireStatus, RunbookId};
use cutover_integrations_core::{Engine, EngineSettings};
use cutover_integrations_test_support::fresh_postgres_url;
use sink::Sink;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// How many runbooks, of how many pairs of tasks each.
#[derive(Clone, Copy)]
struct Shape {
    runbooks: usize,
    pairs: usize,
}

impl Shape {
    fn fires(self) -> usize {
        self.runbooks * self.pairs * 2
    }
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
      payload: '{{"runbook":"{{{{Runbook.id}}}}","task":"{{{{Task.id}}}}"}}'
"#
    )
}

/// `pairs` roots, each followed by one task.
fn runbook(n: usize, pairs: usize) -> Runbook {
    let task = |id: String, predecessors: Vec<String>| Task {
        name: id.clone(),
        id,
        description: None,
        action: Some(ActionRef { integration: "Sink".into(), action: "Post".into() }),
        predecessors,
        custom_fields: BTreeMap::new(),
        auto_start: false,
        fixed_start: None,
        duration_seconds: None,
        assignee: None,
    };
    let tasks = (0..pairs)
        .flat_map(|pair| {
            [task(format!("root-{pair}"), Vec::new()), task(format!("next-{pair}"), vec![format!("root-{pair}")])]
        })
        .collect();
    Runbook { name: format!("Shared {n}"), workspace: None, description: None, custom_fields: BTreeMap::new(), tasks }
}

async fn engine(url: &str, name: &str) -> Engine {
    let settings = EngineSettings {
        name: name.to_owned(),
        lease: Duration::from_secs(30),
        poll_interval: Duration::from_millis(20),
        max_concurrent_fires: 32,
        ..EngineSettings::default()
    };
    // Each engine signs its requests, so the sink can tell who sent what.
    let executor = ExecutorConfig { user_agent: name.to_owned(), ..ExecutorConfig::default() };
    Engine::builder()
        .database_url(url)
        .secret_key_base64(KEY)
        .allow_outbound("127.0.0.0/8".parse().expect("CIDR"))
        .executor_config(executor)
        .settings(settings)
        .build()
        .await
        .expect("engine")
}

async fn all_complete(engine: &Engine, runbooks: &[RunbookId]) -> bool {
    for id in runbooks {
        if engine.runbook(*id).await.expect("runbook").state.stage() != RunbookStage::Complete {
            return false;
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_engines_send_each_of_1000_fires_exactly_once() {
    check("three_engines_send_each_of_1000_fires_exactly_once", Shape { runbooks: 4, pairs: 125 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_engines_share_a_runbook_of_10000_tasks() {
    check("three_engines_share_a_runbook_of_10000_tasks", Shape { runbooks: 1, pairs: 5_000 }).await;
}

async fn check(test: &str, shape: Shape) {
    let Some(url) = fresh_postgres_url(test).await else { return };
    let fires = shape.fires();
    let sink = Sink::start().await;
    let names = ["engine-a", "engine-b", "engine-c"];
    let mut engines = Vec::new();
    for name in names {
        engines.push(engine(&url, name).await);
    }
    engines[0].apply_definitions(&[("sink.yaml", &integration(&sink.url))]).await.expect("definitions");
    let mut runbooks = Vec::new();
    for n in 0..shape.runbooks {
        let id = engines[n % 3].create_runbook(runbook(n, shape.pairs)).await.expect("runbook");
        let start = UserCommand::StartRunbook { mode: RunMode::Live };
        engines[(n + 1) % 3].command(id, start, &Actor::engine()).await.expect("started");
        runbooks.push(id);
    }
    let running: Vec<_> = engines.iter().map(Engine::start).collect();

    // Wait for the state the test is about, polling the store; the deadline only guards against a hang.
    let deadline = Instant::now() + Duration::from_secs(600);
    while !(sink.count() >= fires && all_complete(&engines[0], &runbooks).await) {
        assert!(Instant::now() < deadline, "timed out: {} of {fires} requests", sink.count());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for running in running {
        running.shutdown().await;
    }

    let received = sink.received();
    let mut per_key: HashMap<&str, usize> = HashMap::new();
    for request in &received {
        *per_key.entry(request.key.as_str()).or_default() += 1;
    }
    let repeated: Vec<_> = per_key.iter().filter(|(_, count)| **count != 1).collect();
    assert!(repeated.is_empty(), "keys sent more than once: {repeated:?}");
    assert_eq!(received.len(), fires, "one request per fire");
    let tasks: HashSet<(&str, &str)> = received.iter().map(|r| (r.runbook.as_str(), r.task.as_str())).collect();
    assert_eq!(tasks.len(), fires, "one request per task");
    let senders: HashSet<&str> = received.iter().map(|request| request.agent.as_str()).collect();
    assert_eq!(senders, HashSet::from(names), "all three engines sent fires");

    for id in &runbooks {
        let view = engines[2].runbook(*id).await.expect("runbook");
        for task in view.state.tasks() {
            assert_eq!(task.state.stage(), TaskStage::Complete, "{id}/{}", task.plan.id);
            let fires = engines[1].store().task_fires(*id, &task.plan.id).await.expect("fires");
            assert_eq!(fires.len(), 1, "{id}/{}: one fire", task.plan.id);
            assert_eq!(fires[0].status, FireStatus::Done);
            assert_eq!(per_key.get(fires[0].idempotency_key.as_str()), Some(&1), "{id}/{}", task.plan.id);
        }
    }
}
