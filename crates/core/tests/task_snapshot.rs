//! One task read alone (`Engine::task`) is the same task the whole runbook's view shows, before and after it moves;
//! an unknown task or runbook is not found.

use cutover_integrations_core::UserCommand;
use cutover_integrations_core::runbook::Actor;
use cutover_integrations_core::store::RunbookId;
use cutover_integrations_core::{Engine, EngineError, RunbookView};
use cutover_integrations_model::RunMode;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

const RUNBOOK: &str = r#"
kind: runbook
name: Release
tasks:
  - {id: plan, name: Plan, description: "Agree the plan", assignee: ops@example.com}
  - {id: build, name: Build, predecessors: [plan]}
  - {id: ship, name: Ship, predecessors: [plan, build], auto_start: true}
"#;

/// Every task's snapshot against the whole view it must agree with.
async fn check(engine: &Engine, view: &RunbookView) {
    for (found, defined) in view.state.tasks().zip(&view.definition.tasks) {
        let snapshot = engine.task(view.id, &found.plan.id).await.expect("the task");
        assert_eq!(snapshot.runbook, view.id);
        assert_eq!(snapshot.version, view.version, "{}", found.plan.id);
        assert_eq!(&snapshot.definition, defined);
        assert_eq!(&snapshot.plan, found.plan);
        assert_eq!(&snapshot.state, found.state);
        let missing = view.state.missing_required_fields(&found.plan.id).expect("known task");
        assert_eq!(snapshot.missing_fields, missing);
    }
}

#[tokio::test]
async fn a_task_read_alone_is_the_task_of_the_whole_view() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", directory.path().join("tasks.db").display());
    let engine = Engine::builder().database_url(url).secret_key_base64(KEY).build().await.expect("engine");
    let id = engine.create_runbook_from_file("r.yaml", RUNBOOK).await.expect("runbook");
    check(&engine, &engine.runbook(id).await.expect("view")).await;

    let actor = Actor::engine();
    engine.command(id, UserCommand::StartRunbook { mode: RunMode::Live }, &actor).await.expect("started");
    engine.command(id, UserCommand::StartTask { task: "plan".into(), force: false }, &actor).await.expect("plan");
    engine.command(id, UserCommand::FinishTask { task: "plan".into() }, &actor).await.expect("plan done");
    let view = engine.runbook(id).await.expect("view");
    assert!(view.version > 1, "the runbook moved");
    check(&engine, &view).await;

    let unknown_task = engine.task(id, "nope").await;
    assert!(matches!(unknown_task, Err(EngineError::NotFound { what: "task", .. })), "{unknown_task:?}");
    let unknown_runbook = engine.task(RunbookId(id.0 + 100), "plan").await;
    assert!(matches!(unknown_runbook, Err(EngineError::NotFound { .. })), "{unknown_runbook:?}");
}
