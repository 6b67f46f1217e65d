//! Crash recovery end to end: an engine process runs a runbook of integration tasks (chains of them) against a
//! loopback sink and is killed with SIGKILL at random moments; each time it is started again on the same SQLite file,
//! resumes the run, and finally finishes it. The sink must have received every task's request at least once, every
//! repeat with the key of the first (so a third party can drop it), and every task must end complete with exactly one
//! fire. Two shapes: 500 tasks (25 chains of 20), and 10,000 tasks (500 chains of 20).
//!
//! The engine process is this test binary run again with [`CHILD_DATABASE`] set: [`crash_child_process`] is its entry
//! point and returns at once in a normal test run.

#[allow(dead_code, reason = "each test binary uses part of the sink")]
mod sink;

use cutover_integrations_core::UserCommand;
use cutover_integrations_core::model::{RunMode, RunbookStage, TaskStage};
use cutover_integrations_core::runbook::Actor;
use cutover_integrations_core::store::FireStatus;
use cutover_integrations_core::{Engine, EngineSettings};
use rand::Rng;
use sink::Sink;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// The SQLite file the child engine runs on; set only in the child.
const CHILD_DATABASE: &str = "CUTOVER_CRASH_CHILD_DATABASE";
/// The sink's base URL, for the child.
const CHILD_SINK: &str = "CUTOVER_CRASH_CHILD_SINK";
/// The runbook's shape, for the child: `CHAINS,LENGTH`.
const CHILD_SHAPE: &str = "CUTOVER_CRASH_CHILD_SHAPE";
/// Short, so that a restarted engine takes over its dead predecessor's fires quickly.
const LEASE: Duration = Duration::from_millis(500);

/// A runbook of `chains` chains of `length` tasks, and how its engine is killed.
#[derive(Debug, Clone)]
struct Shape {
    chains: usize,
    length: usize,
    /// How often the engine is killed mid-run (fewer when it finishes first, but at least 3).
    kills: usize,
    /// Each kill comes after a random number of further requests in this range (so kills spread over the run).
    between_kills: Range<usize>,
    /// Guards against a hang: the longest wait for progress, and for the last engine to finish.
    progress_guard: Duration,
    finish_guard: Duration,
}

impl Shape {
    fn tasks(&self) -> usize {
        self.chains * self.length
    }
}

fn definitions(sink: &str, chains: usize, length: usize) -> (String, String) {
    let integration = format!(
        r#"
kind: integration
name: Sink
actions:
  - name: Post
    settings: {{auto_start: true, finish_task_on_success: true}}
    request:
      method: POST
      url: {sink}/hook
      headers: {{Content-Type: application/json}}
      payload: '{{"runbook":"{{{{Runbook.id}}}}","task":"{{{{Task.id}}}}"}}'
"#
    );
    let mut runbook = String::from("kind: runbook\nname: Crash\ntasks:\n");
    for chain in 0..chains {
        for step in 0..length {
            let predecessors =
                if step > 0 { format!(", predecessors: [c{chain}-{}]", step - 1) } else { String::new() };
            let _ = writeln!(
                runbook,
                "  - {{id: c{chain}-{step}, name: Step {step} of chain {chain}, action: Sink/Post{predecessors}}}"
            );
        }
    }
    (integration, runbook)
}

async fn open_engine(database: &Path, settings: EngineSettings) -> Engine {
    Engine::builder()
        .database_url(format!("sqlite://{}", database.display()))
        .secret_key_base64(KEY)
        .allow_outbound("127.0.0.0/8".parse().expect("CIDR"))
        .settings(settings)
        .build()
        .await
        .expect("engine")
}

/// The engine process: resumes the runbook in the database (creating and starting it the first time) and returns
/// when it is complete. Without [`CHILD_DATABASE`] (a normal test run) it returns at once.
#[test]
fn crash_child_process() {
    let (Ok(database), Ok(sink), Ok(shape)) =
        (std::env::var(CHILD_DATABASE), std::env::var(CHILD_SINK), std::env::var(CHILD_SHAPE))
    else {
        return;
    };
    let (chains, length) = shape.split_once(',').expect("CHAINS,LENGTH");
    let shape = (chains.parse().expect("chains"), length.parse().expect("length"));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(run_child(Path::new(&database), &sink, shape));
}

async fn run_child(database: &Path, sink: &str, (chains, length): (usize, usize)) {
    let settings =
        EngineSettings { lease: LEASE, poll_interval: Duration::from_millis(50), ..EngineSettings::default() };
    let engine = open_engine(database, settings).await;
    let running = engine.start();
    let mut events = engine.subscribe();
    let id = match engine.runbooks().await.expect("runbooks").first() {
        Some(existing) => existing.id,
        None => {
            let (integration, runbook) = definitions(sink, chains, length);
            let applied = engine
                .apply_definitions(&[("sink.yaml", &integration), ("crash.yaml", &runbook)])
                .await
                .expect("definitions");
            applied.runbooks[0]
        }
    };
    if engine.runbook(id).await.expect("runbook").state.stage() == RunbookStage::Planning {
        engine.command(id, UserCommand::StartRunbook { mode: RunMode::Live }, &Actor::engine()).await.expect("starts");
    }
    // Every change comes from this engine's commits, so each is announced; the timeout only re-reads the state.
    while engine.runbook(id).await.expect("runbook").state.stage() != RunbookStage::Complete {
        let _ = tokio::time::timeout(Duration::from_secs(1), events.recv()).await;
    }
    running.shutdown().await;
}

fn spawn_child(database: &Path, sink: &str, shape: &Shape) -> tokio::process::Child {
    tokio::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["crash_child_process", "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD_DATABASE, database)
        .env(CHILD_SINK, sink)
        .env(CHILD_SHAPE, format!("{},{}", shape.chains, shape.length))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the engine process")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_engine_resumes_and_every_task_completes() {
    check(Shape {
        chains: 25,
        length: 20,
        kills: 5,
        between_kills: 10..60,
        progress_guard: Duration::from_secs(60),
        finish_guard: Duration::from_secs(120),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_engine_resumes_a_runbook_of_10000_tasks() {
    check(Shape {
        chains: 500,
        length: 20,
        kills: 5,
        between_kills: 500..1_500,
        progress_guard: Duration::from_secs(120),
        finish_guard: Duration::from_secs(300),
    })
    .await;
}

async fn check(shape: Shape) {
    let tasks = shape.tasks();
    let began = Instant::now();
    let sink = Sink::start().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("crash.db");
    let mut random = rand::rng();
    let mut kills = 0;
    loop {
        let mut child = spawn_child(&database, &sink.url, &shape);
        if kills == shape.kills {
            let status = tokio::time::timeout(shape.finish_guard, child.wait()).await;
            let status = status.expect("the last engine finishes the run").expect("wait for the engine");
            assert!(status.success(), "the last engine exits cleanly: {status}");
            break;
        }
        // Kill it after a random number of further requests (so it is killed mid-run) and a random delay.
        let target = sink.count() + random.random_range(shape.between_kills.clone());
        tokio::select! {
            reached = sink.wait_for(target, shape.progress_guard) => assert!(reached, "the engine makes progress"),
            status = child.wait() => {
                let status = status.expect("wait for the engine");
                assert!(status.success(), "the engine exits cleanly when it finishes: {status}");
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(random.random_range(0..20))).await;
        child.start_kill().expect("SIGKILL");
        child.wait().await.expect("the killed engine is reaped");
        kills += 1;
    }
    assert!(kills >= 3, "the engine was killed mid-run {kills} times");

    let settings = EngineSettings { lease: LEASE, ..EngineSettings::default() };
    let engine = open_engine(&database, settings).await;
    let runbooks = engine.runbooks().await.expect("runbooks");
    assert_eq!(runbooks.len(), 1, "restarts resume the runbook rather than create another");
    let view = engine.runbook(runbooks[0].id).await.expect("runbook");
    assert_eq!(view.state.stage(), RunbookStage::Complete);
    assert_eq!(view.state.tasks().len(), tasks);
    let mut by_task: HashMap<String, Vec<String>> = HashMap::new();
    for request in sink.received() {
        by_task.entry(request.task).or_default().push(request.key);
    }
    let mut repeats = 0;
    for task in view.state.tasks() {
        let id = &task.plan.id;
        assert_eq!(task.state.stage(), TaskStage::Complete, "{id}");
        let fires = engine.store().task_fires(view.id, id).await.expect("fires");
        assert_eq!(fires.len(), 1, "{id}: one fire, however often it was sent");
        assert_eq!(fires[0].status, FireStatus::Done, "{id}");
        let keys = by_task.get(id.as_str()).unwrap_or_else(|| panic!("{id}: the sink never received it"));
        assert!(keys.iter().all(|key| *key == fires[0].idempotency_key), "{id}: every send carries the fire's key");
        repeats += keys.len() - 1;
    }
    eprintln!(
        "{tasks} tasks complete after {kills} kills in {:.1} s; {repeats} requests were repeats carrying their \
         original's key",
        began.elapsed().as_secs_f64()
    );
}
