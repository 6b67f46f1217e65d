//! Changes of one runbook arriving together are committed together (group commit): each still gets its own answer,
//! refusals do not spoil the others, and a caller that stops waiting does not stall the runbook; on SQLite and
//! PostgreSQL.

use cutover_integrations_core::UserCommand;
use cutover_integrations_core::model::{RunMode, RunbookStage, TaskStage};
use cutover_integrations_core::runbook::{Actor, Event};
use cutover_integrations_core::store::RunbookId;
use cutover_integrations_core::{Engine, EngineError};
use cutover_integrations_test_support::{fresh_postgres_url, fresh_sqlite_url};
use std::fmt::Write as _;
use std::time::Duration;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const TASKS: usize = 60;

async fn engine(backend: &str, test: &str) -> Option<(Engine, tempfile::TempDir)> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = match backend {
        "sqlite" => fresh_sqlite_url(dir.path()),
        _ => fresh_postgres_url(test).await?,
    };
    let engine = Engine::builder().database_url(url).secret_key_base64(KEY).build().await.expect("engine");
    Some((engine, dir))
}

/// A started runbook of `TASKS` independent manual tasks.
async fn runbook(engine: &Engine) -> RunbookId {
    let mut text = String::from("kind: runbook\nname: Many\ntasks:\n");
    for n in 0..TASKS {
        let _ = writeln!(text, "  - {{id: t{n}, name: Task {n}}}");
    }
    let id = engine.apply_definitions(&[("many.yaml", &text)]).await.expect("runbook").runbooks[0];
    engine.command(id, UserCommand::StartRunbook { mode: RunMode::Live }, &Actor::engine()).await.expect("starts");
    id
}

macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (engine, _dir) = super::engine("sqlite", stringify!($case)).await.expect("sqlite");
                super::$case(engine).await;
            })*
        }
        mod on_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some((engine, _dir)) = super::engine("postgres", stringify!($case)).await {
                    super::$case(engine).await;
                }
            })*
        }
    };
}

on_both!(
    concurrent_commands_each_get_their_own_answer,
    refusals_do_not_spoil_the_changes_committed_with_them,
    a_caller_that_stops_waiting_does_not_stall_the_runbook,
);

async fn concurrent_commands_each_get_their_own_answer(engine: Engine) {
    let id = runbook(&engine).await;
    for command in [|task| UserCommand::StartTask { task, force: false }, |task| UserCommand::FinishTask { task }] {
        let calls = (0..TASKS).map(|n| {
            let engine = engine.clone();
            let command = command(format!("t{n}"));
            tokio::spawn(async move { engine.command(id, command, &Actor::engine()).await })
        });
        let calls: Vec<_> = calls.collect();
        for (n, call) in calls.into_iter().enumerate() {
            let events = call.await.expect("joined").expect("accepted");
            let task = format!("t{n}");
            assert!(
                events.iter().any(|event| matches!(event, Event::TaskStageChanged { task: t, .. } if *t == task)),
                "{task} is told about its own task: {events:?}"
            );
        }
    }
    let view = engine.runbook(id).await.expect("runbook");
    assert_eq!(view.state.stage(), RunbookStage::Complete);
    assert!(view.state.tasks().all(|task| task.state.stage() == TaskStage::Complete));
    let stored = engine.store().runbook(id).await.expect("read").expect("stored");
    assert!(stored.version <= 2 + 2 * TASKS as i64, "at most one commit per change: version {}", stored.version);
}

async fn refusals_do_not_spoil_the_changes_committed_with_them(engine: Engine) {
    let id = runbook(&engine).await;
    let calls: Vec<_> = (0..TASKS)
        .map(|n| {
            let engine = engine.clone();
            // Every third command names a task that does not exist.
            let task = if n % 3 == 0 { format!("missing-{n}") } else { format!("t{n}") };
            tokio::spawn(async move {
                engine.command(id, UserCommand::StartTask { task, force: false }, &Actor::engine()).await
            })
        })
        .collect();
    for (n, call) in calls.into_iter().enumerate() {
        let result = call.await.expect("joined");
        if n % 3 == 0 {
            assert!(matches!(result, Err(EngineError::Refused(_))), "{n}: {result:?}");
        } else {
            assert!(result.is_ok(), "{n}: {result:?}");
        }
    }
    let view = engine.runbook(id).await.expect("runbook");
    for n in 0..TASKS {
        let stage = view.state.task(&format!("t{n}")).expect("task").state.stage();
        let expected = if n % 3 == 0 { TaskStage::Startable } else { TaskStage::InProgress };
        assert_eq!(stage, expected, "t{n}");
    }
}

async fn a_caller_that_stops_waiting_does_not_stall_the_runbook(engine: Engine) {
    let id = runbook(&engine).await;
    let actor = Actor::engine();
    for n in 0..TASKS / 2 {
        // Dropped at its first await: its change is committed or not, but the queue goes on.
        let dropped = engine.command(id, UserCommand::StartTask { task: format!("t{n}"), force: false }, &actor);
        let _ = tokio::time::timeout(Duration::ZERO, dropped).await;
        let next =
            engine.command(id, UserCommand::StartTask { task: format!("t{}", n + TASKS / 2), force: false }, &actor);
        let answered = tokio::time::timeout(Duration::from_secs(20), next).await;
        assert!(matches!(answered, Ok(Ok(_))), "the next change is committed: {answered:?}");
    }
    let view = engine.runbook(id).await.expect("runbook");
    for n in TASKS / 2..TASKS {
        assert_eq!(view.state.task(&format!("t{n}")).expect("task").state.stage(), TaskStage::InProgress, "t{n}");
    }
}
