//! The engine's caches stay within their limits while many runbooks run, and a runbook dropped from memory is read
//! back as it was, on SQLite and PostgreSQL.

use cutover_integrations_core::UserCommand;
use cutover_integrations_core::model::{RunMode, RunbookStage, TaskStage};
use cutover_integrations_core::runbook::Actor;
use cutover_integrations_core::store::RunbookId;
use cutover_integrations_core::{DriveOptions, Engine, EngineSettings, ManualTasks, RunningEngine};
use cutover_integrations_test_support::{fresh_postgres_url, fresh_sqlite_url};
use std::fmt::Write as _;

#[allow(dead_code, reason = "each test binary uses part of the sink")]
mod sink;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const LIMIT: usize = 40;
const RUNBOOKS: usize = 1_000;

async fn engine(url: String) -> Engine {
    let settings = EngineSettings { max_cached_runbooks: LIMIT, max_cached_actions: 2, ..EngineSettings::default() };
    Engine::builder()
        .database_url(url)
        .secret_key_base64(KEY)
        .allow_outbound("127.0.0.0/8".parse().expect("CIDR"))
        .settings(settings)
        .build()
        .await
        .expect("engine")
}

/// Six tasks, each firing a different action of the sink: the compiled actions kept stay within their limit (2).
async fn actions_stay_bounded(running: &RunningEngine) {
    let engine = running.engine();
    let sink = sink::Sink::start().await;
    let mut integration = String::from("kind: integration\nname: Sink\nactions:\n");
    let mut runbook = String::from("kind: runbook\nname: Actions\ntasks:\n");
    for n in 0..6 {
        let _ = write!(
            integration,
            "  - name: P{n}\n    settings: {{finish_task_on_success: true}}\n    request:\n      method: POST\n      \
             url: {}/hook\n      headers: {{Content-Type: application/json}}\n      \
             payload: '{{\"runbook\":\"{{{{Runbook.id}}}}\",\"task\":\"{{{{Task.id}}}}\"}}'\n",
            sink.url
        );
        let _ = writeln!(runbook, "  - {{id: t{n}, name: T{n}, action: Sink/P{n}}}");
    }
    let applied =
        engine.apply_definitions(&[("sink.yaml", &integration), ("actions.yaml", &runbook)]).await.expect("apply");
    let options = DriveOptions { mode: RunMode::Live, manual: ManualTasks::Finish };
    let report = running.drive(applied.runbooks[0], options).await.expect("drive");
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(sink.count(), 6);
    assert!(engine.cached().actions <= 2, "{:?}", engine.cached());
}

/// A runbook of two manual tasks, `a` then `b`, started.
async fn started(engine: &Engine, n: usize) -> RunbookId {
    let text = format!(
        "kind: runbook\nname: R{n}\ntasks:\n  - {{id: a, name: A}}\n  - {{id: b, name: B, predecessors: [a]}}\n"
    );
    let id = engine.apply_definitions(&[("r.yaml", &text)]).await.expect("runbook").runbooks[0];
    engine.command(id, UserCommand::StartRunbook { mode: RunMode::Live }, &Actor::engine()).await.expect("starts");
    id
}

async fn run(engine: &Engine, id: RunbookId, task: &str) {
    let actor = Actor::engine();
    engine.command(id, UserCommand::StartTask { task: task.into(), force: false }, &actor).await.expect("starts");
    engine.command(id, UserCommand::FinishTask { task: task.into() }, &actor).await.expect("finishes");
}

async fn check(engine: Engine) {
    let running = engine.start();
    actions_stay_bounded(&running).await;
    // Left half-way: task `a` complete, `b` startable; soon dropped from memory as the others run.
    let waiting = started(&engine, 0).await;
    run(&engine, waiting, "a").await;
    let mut most = 0;
    for n in 1..=RUNBOOKS {
        let id = started(&engine, n).await;
        run(&engine, id, "a").await;
        run(&engine, id, "b").await;
        most = most.max(engine.cached().runbooks);
    }
    assert!(most <= LIMIT, "{most} runbooks cached with a limit of {LIMIT}");
    // Read back from the store, as it was left, and it goes on from there.
    let view = engine.runbook(waiting).await.expect("read back");
    assert_eq!(view.state.stage(), RunbookStage::Active);
    let stages: Vec<TaskStage> = view.state.tasks().map(|task| task.state.stage()).collect();
    assert_eq!(stages, [TaskStage::Complete, TaskStage::Startable]);
    run(&engine, waiting, "b").await;
    assert_eq!(engine.runbook(waiting).await.expect("read").state.stage(), RunbookStage::Complete);
    assert!(engine.cached().runbooks <= LIMIT);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caches_stay_bounded_and_dropped_runbooks_read_back_on_sqlite() {
    let dir = tempfile::tempdir().expect("temporary directory");
    check(engine(fresh_sqlite_url(dir.path())).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caches_stay_bounded_and_dropped_runbooks_read_back_on_postgres() {
    let Some(url) = fresh_postgres_url("caches").await else { return };
    check(engine(url).await).await;
}
