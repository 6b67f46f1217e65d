//! The embedding API's contract on a real SQLite store: builder conflicts are errors (keeping their sources), and an
//! engine whose shutdown waits for a step in flight refuses commands with `ShuttingDown`, then takes them again.

use cutover_integrations_core::UserCommand;
use cutover_integrations_core::model::{RunMode, TaskStage};
use cutover_integrations_core::runbook::Actor;
use cutover_integrations_core::{Engine, EngineError};
use cutover_integrations_test_support::held_endpoint::held_endpoint;
use std::error::Error as _;
use std::time::Duration;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn sqlite_url(directory: &tempfile::TempDir) -> String {
    format!("sqlite://{}", directory.path().join("embedding.db").display())
}

#[tokio::test]
async fn the_builder_refuses_conflicting_or_missing_stores_and_bad_keys() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let engine =
        Engine::builder().database_url(sqlite_url(&directory)).secret_key_base64(KEY).build().await.expect("engine");
    let store = engine.store().clone();
    let check = |outcome: Result<Engine, EngineError>, expected: &str| match outcome {
        Err(error) => assert_eq!(error.to_string(), expected),
        Ok(_) => panic!("built, but expected `{expected}`"),
    };
    check(
        Engine::builder()
            .store(store.clone())
            .database_url(sqlite_url(&directory))
            .secret_key_base64(KEY)
            .build()
            .await,
        "invalid engine configuration: both a store and a database URL were given: give one (the store is opened \
         already)",
    );
    check(
        Engine::builder().secret_key_base64(KEY).build().await,
        "invalid engine configuration: a database URL or a store is required",
    );
    // The key's own error is kept as the source.
    let refused = Engine::builder().store(store.clone()).secret_key_base64("not base64!").build().await;
    let Err(error @ EngineError::SecretKey { .. }) = refused else { panic!("{refused:?}") };
    let source = error.source().expect("the key's error as the source");
    assert!(error.to_string().ends_with(&source.to_string()), "{error} / {source}");
    // Either one alone builds.
    Engine::builder().store(store).secret_key_base64(KEY).build().await.expect("a store alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_refused_as_shutting_down_while_steps_in_flight_drain() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let engine = Engine::builder()
        .database_url(sqlite_url(&directory))
        .secret_key_base64(KEY)
        .allow_outbound("127.0.0.0/8".parse().expect("CIDR"))
        .build()
        .await
        .expect("engine");
    let (url, arrival, release) = held_endpoint().await;
    let hook = format!(
        "kind: integration\nname: Hook\nactions:\n  - name: Send\n    settings: {{finish_task_on_success: true}}\n    \
         request: {{method: POST, url: \"{url}/hook\", payload: '{{}}'}}\n"
    );
    let runbook = "kind: runbook\nname: Release\ntasks:\n  - {id: send, name: Send, action: Hook/Send}\n  \
                   - {id: deploy, name: Deploy}\n";
    let runbook = engine.apply_definitions(&[("hook.yaml", &hook), ("release.yaml", runbook)]).await.expect("applied");
    let runbook = runbook.runbooks[0];
    let running = engine.start();
    let actor = Actor::engine();
    engine.command(runbook, UserCommand::StartRunbook { mode: RunMode::Live }, &actor).await.expect("started");
    engine.command(runbook, UserCommand::StartTask { task: "send".into(), force: false }, &actor).await.expect("fired");
    arrival.await.expect("the fire's request is in flight");

    let shutdown = tokio::spawn(running.shutdown());
    // Until the shutdown has begun a command is refused by the state machine (the task is running); from then on,
    // and while the request is held, it is refused as shutting down. Nothing changes either way.
    let refused = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let again = UserCommand::StartTask { task: "send".into(), force: false };
            match engine.command(runbook, again, &actor).await {
                Err(EngineError::ShuttingDown) => return,
                Err(EngineError::Refused(_)) => tokio::task::yield_now().await,
                other => panic!("{other:?}"),
            }
        }
    })
    .await;
    assert!(refused.is_ok(), "a command during the shutdown was refused as shutting down");
    assert!(!shutdown.is_finished(), "the shutdown waits for the request in flight");
    release.send(()).expect("released");
    shutdown.await.expect("shut down");

    // Recorded before the shutdown returned; afterwards the engine takes commands again, without a dispatcher.
    let view = engine.runbook(runbook).await.expect("read");
    let send = view.state.task("send").expect("task");
    assert_eq!(send.state.stage(), TaskStage::Complete);
    let start = UserCommand::StartTask { task: "deploy".into(), force: false };
    engine.command(runbook, start, &actor).await.expect("accepted after the shutdown");
}
