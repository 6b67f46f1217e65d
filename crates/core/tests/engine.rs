//! The engine end to end: definitions applied, runbooks driven by commands, fires sent to a mock third party over
//! loopback, outcomes recorded; on SQLite and PostgreSQL.

use cutover_integrations_core::UserCommand;
use cutover_integrations_core::http::{CallbackReport, CallbackStatus};
use cutover_integrations_core::model::{FieldValue, IntegrationStatus, RunMode, RunbookStage, TaskStage};
use cutover_integrations_core::runbook::{Actor, Event};
use cutover_integrations_core::store::{ClaimRequest, FireStatus, RunbookId};
use cutover_integrations_core::{
    DriveOptions, Engine, EngineError, EngineEvent, EngineSettings, ManualTasks, RunbookView, RunningEngine,
};
use cutover_integrations_test_support::{fresh_postgres_url, fresh_sqlite_url};
use std::time::Duration;
use tokio::sync::broadcast;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

struct Harness {
    engine: Engine,
    running: Option<RunningEngine>,
    url: String,
    _dir: tempfile::TempDir,
}

async fn database(backend: &str, test: &str) -> Option<(String, tempfile::TempDir)> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = match backend {
        "sqlite" => fresh_sqlite_url(dir.path()),
        _ => fresh_postgres_url(test).await?,
    };
    Some((url, dir))
}

async fn engine_on(url: &str, name: &str, lease: Duration) -> Engine {
    let settings = EngineSettings {
        name: name.to_owned(),
        lease,
        poll_interval: Duration::from_millis(20),
        ..EngineSettings::default()
    };
    Engine::builder()
        .database_url(url)
        .secret_key_base64(KEY)
        .allow_outbound("127.0.0.0/8".parse().expect("CIDR"))
        .settings(settings)
        .build()
        .await
        .expect("engine")
}

async fn harness(backend: &str, test: &str) -> Option<Harness> {
    let (url, dir) = database(backend, test).await?;
    let engine = engine_on(&url, "engine-a", Duration::from_secs(30)).await;
    let running = Some(engine.start());
    Some(Harness { engine, running, url, _dir: dir })
}

macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let harness = super::harness("sqlite", stringify!($case)).await.expect("sqlite");
                super::$case(harness).await;
            })*
        }
        mod on_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some(harness) = super::harness("postgres", stringify!($case)).await {
                    super::$case(harness).await;
                }
            })*
        }
    };
}

on_both!(
    fire_and_forget_chain_completes,
    failure_then_refire,
    callback_completes_a_waiting_fire,
    cancel_ends_a_waiting_callback_fire,
    callbacks_that_set_undeclared_fields_are_refused,
    refusals_leave_state_unchanged,
    a_dead_engines_fires_are_taken_over,
    drive_runs_live_and_rehearsal,
    a_literal_private_token_endpoint_is_refused,
    tasks_are_edited_while_planning,
);

fn integration(base: &str) -> String {
    format!(
        r#"
kind: integration
name: Hooks
custom_fields:
  - {{name: Message, type: textarea, required: true, restrict_to: [Post]}}
  - {{name: Approver, type: text, restrict_to: [Wait]}}
  - {{name: Verdict, type: select, options: [approved, rejected], restrict_to: [Wait]}}
actions:
  - name: Post
    settings: {{finish_task_on_success: true, cancelable: true}}
    auth: {{type: token, token: "{{{{SystemParameter['hook_token']}}}}"}}
    request:
      method: POST
      url: {base}/hook
      headers: {{Content-Type: application/json}}
      payload: '{{"text":"{{{{CustomField[''Message'']}}}}","task":"{{{{Task.id}}}}"}}'
  - name: Wait
    settings: {{finish_task_on_success: true, cancelable: true}}
    request:
      method: POST
      url: {base}/jobs
      headers: {{Content-Type: application/json}}
      payload: '{{"callback":"{{{{Callback.url}}}}","token":"{{{{Callback.token}}}}"}}'
      execution_mode: callback
    callback: {{timeout_seconds: 600}}
"#
    )
}

const RUNBOOK: &str = r#"
kind: runbook
name: Release
tasks:
  - id: announce
    name: Announce
    action: Hooks/Post
    custom_fields: {Message: "Release \"42\" starts\nnow"}
  - id: deploy
    name: Deploy
    predecessors: [announce]
  - id: done
    name: Announce the end
    action: Hooks/Post
    auto_start: true
    predecessors: [deploy]
    custom_fields: {Message: "done ✅"}
"#;

async fn apply(harness: &Harness, base: &str, runbook: &str) -> RunbookId {
    let secret = cutover_integrations_core::model::SystemParameter {
        name: "hook_token".into(),
        value: cutover_integrations_core::model::SecretValue::new("hook-secret-9876"),
        secret: true,
    };
    harness.engine.put_system_parameter(&secret).await.expect("parameter");
    let integration = integration(base);
    let applied = harness
        .engine
        .apply_definitions(&[("hooks.yaml", &integration), ("runbook.yaml", runbook)])
        .await
        .expect("definitions apply");
    applied.runbooks[0]
}

async fn command(harness: &Harness, runbook: RunbookId, command: UserCommand) -> Vec<Event> {
    harness.engine.command(runbook, command, &Actor::engine()).await.expect("command accepted")
}

/// Waits for an event, with a generous timeout that only guards against a hang.
async fn wait_for(events: &mut broadcast::Receiver<EngineEvent>, what: &str, wanted: impl Fn(&Event) -> bool) {
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match events.recv().await {
                Ok(event) if wanted(&event.event) => return,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("event stream closed while waiting for {what}"),
            }
        }
    })
    .await;
    assert!(found.is_ok(), "timed out waiting for {what}");
}

fn status_is(task: &'static str, status: IntegrationStatus) -> impl Fn(&Event) -> bool {
    move |event| matches!(event, Event::IntegrationStatusChanged { task: t, status: s, .. } if t == task && *s == status)
}

fn runbook_is(stage: RunbookStage) -> impl Fn(&Event) -> bool {
    move |event| matches!(event, Event::RunbookStageChanged { to, .. } if *to == stage)
}

async fn fire_and_forget_chain_completes(harness: Harness) {
    let mut server = mockito::Server::new_async().await;
    let announce = server
        .mock("POST", "/hook")
        .match_header("authorization", "Bearer hook-secret-9876")
        .match_header("idempotency-key", mockito::Matcher::Regex("^cutover-\\d+-announce-1-".into()))
        .match_body(mockito::Matcher::JsonString(r#"{"text":"Release \"42\" starts\nnow","task":"announce"}"#.into()))
        .with_status(200)
        .expect(1)
        .create_async()
        .await;
    let done = server
        .mock("POST", "/hook")
        .match_body(mockito::Matcher::JsonString(r#"{"text":"done ✅","task":"done"}"#.into()))
        .with_status(201)
        .expect(1)
        .create_async()
        .await;
    let runbook = apply(&harness, &server.url(), RUNBOOK).await;
    let mut events = harness.engine.subscribe();
    command(&harness, runbook, UserCommand::StartRunbook { mode: RunMode::Live }).await;
    command(&harness, runbook, UserCommand::StartTask { task: "announce".into(), force: false }).await;
    wait_for(&mut events, "announce to succeed", status_is("announce", IntegrationStatus::Succeeded)).await;
    command(&harness, runbook, UserCommand::StartTask { task: "deploy".into(), force: false }).await;
    command(&harness, runbook, UserCommand::FinishTask { task: "deploy".into() }).await;
    wait_for(&mut events, "the runbook to complete", runbook_is(RunbookStage::Complete)).await;
    announce.assert_async().await;
    done.assert_async().await;

    let view = harness.engine.runbook(runbook).await.expect("runbook");
    let stages: Vec<_> = view.state.tasks().map(|task| (task.plan.id.clone(), task.state.stage())).collect();
    assert!(stages.iter().all(|(_, stage)| *stage == TaskStage::Complete), "{stages:?}");
    let fires = harness.engine.store().task_fires(runbook, "announce").await.expect("fires");
    assert_eq!(fires.len(), 1);
    assert_eq!(fires[0].status, FireStatus::Done);
    let log = harness.engine.store().actions_log(fires[0].id).await.expect("log");
    let text: String = log.iter().map(|record| record.record.clone()).collect();
    assert!(text.contains("\"status\":200"), "the response is logged: {text}");
    assert!(text.contains("curl"), "a curl line is logged: {text}");
    assert!(!text.contains("hook-secret-9876"), "the token is redacted: {text}");
    if let Some(running) = harness.running {
        running.shutdown().await;
    }
}

async fn failure_then_refire(harness: Harness) {
    let mut server = mockito::Server::new_async().await;
    let refused = server.mock("POST", "/hook").with_status(400).with_body("bad channel").expect(1).create_async().await;
    let runbook = apply(&harness, &server.url(), RUNBOOK).await;
    let mut events = harness.engine.subscribe();
    command(&harness, runbook, UserCommand::StartRunbook { mode: RunMode::Live }).await;
    command(&harness, runbook, UserCommand::StartTask { task: "announce".into(), force: false }).await;
    wait_for(&mut events, "announce to fail", status_is("announce", IntegrationStatus::Failed)).await;
    refused.assert_async().await;
    let view = harness.engine.runbook(runbook).await.expect("runbook");
    let task = view.state.task("announce").expect("task");
    assert_eq!(task.state.stage(), TaskStage::InProgress, "a failed fire leaves the task in progress");
    let reason = task.state.failure().expect("a reason").to_string();
    assert!(reason.contains("400"), "the reason names the status: {reason}");

    refused.remove_async().await;
    let accepted = server.mock("POST", "/hook").with_status(200).expect(1).create_async().await;
    command(&harness, runbook, UserCommand::RefireTask { task: "announce".into() }).await;
    wait_for(&mut events, "the refire to succeed", status_is("announce", IntegrationStatus::Succeeded)).await;
    accepted.assert_async().await;
    let fires = harness.engine.store().task_fires(runbook, "announce").await.expect("fires");
    assert_eq!(fires.len(), 2, "a refire is a new fire");
    assert_ne!(fires[0].idempotency_key, fires[1].idempotency_key, "with a new idempotency key");
    if let Some(running) = harness.running {
        running.shutdown().await;
    }
}

const CALLBACK_RUNBOOK: &str = r#"
kind: runbook
name: Approval
tasks:
  - id: approve
    name: Get approval
    action: Hooks/Wait
"#;

/// A live run of [`CALLBACK_RUNBOOK`] whose fire waits for its callback.
struct WaitingCallback {
    runbook: RunbookId,
    fire: cutover_integrations_core::store::FireId,
    url: String,
    token: String,
    events: broadcast::Receiver<EngineEvent>,
    _server: mockito::ServerGuard,
}

async fn waiting_callback(harness: &Harness) -> WaitingCallback {
    let mut server = mockito::Server::new_async().await;
    let (sender, mut bodies) = tokio::sync::mpsc::unbounded_channel::<String>();
    let jobs = server
        .mock("POST", "/jobs")
        .with_status(202)
        .with_body_from_request(move |request| {
            let _ = sender.send(String::from_utf8_lossy(request.body().expect("body")).into_owned());
            Vec::new()
        })
        .create_async()
        .await;
    let runbook = apply(harness, &server.url(), CALLBACK_RUNBOOK).await;
    let mut events = harness.engine.subscribe();
    command(harness, runbook, UserCommand::StartRunbook { mode: RunMode::Live }).await;
    command(harness, runbook, UserCommand::StartTask { task: "approve".into(), force: false }).await;
    wait_for(&mut events, "the fire to wait", status_is("approve", IntegrationStatus::Waiting)).await;
    jobs.assert_async().await;
    let body: serde_json::Value = serde_json::from_str(&bodies.recv().await.expect("a request")).expect("JSON body");
    let url = body["callback"].as_str().expect("callback URL").to_owned();
    let token = body["token"].as_str().expect("callback token").to_owned();
    let fire = harness.engine.store().task_fires(runbook, "approve").await.expect("fires")[0].id;
    WaitingCallback { runbook, fire, url, token, events, _server: server }
}

fn report(status: CallbackStatus, fields: &[(&str, &str)]) -> CallbackReport {
    CallbackReport {
        status,
        message: Some("approved by Ada".into()),
        custom_fields: fields
            .iter()
            .map(|(name, value)| ((*name).to_owned(), FieldValue::Text((*value).to_owned())))
            .collect(),
    }
}

async fn callback_completes_a_waiting_fire(harness: Harness) {
    let WaitingCallback { fire, url, token, mut events, .. } = waiting_callback(&harness).await;
    assert!(url.ends_with(&format!("/api/v1/callbacks/{}", fire.0)), "{url}");

    let report = |status| report(status, &[]);
    let unknown = harness
        .engine
        .complete_callback(
            cutover_integrations_core::store::FireId(fire.0 + 1000),
            &token,
            report(CallbackStatus::Success),
        )
        .await;
    assert!(
        matches!(unknown, Err(EngineError::CallbackRejected { .. })),
        "a token is checked before the fire is looked up, so unknown fires are not revealed: {unknown:?}"
    );
    let wrong = harness.engine.complete_callback(fire, "not-the-token", report(CallbackStatus::Success)).await;
    assert!(matches!(wrong, Err(EngineError::CallbackRejected { .. })), "{wrong:?}");
    assert!(harness.engine.complete_callback(fire, &token, report(CallbackStatus::Success)).await.expect("accepted"));
    wait_for(&mut events, "the runbook to complete", runbook_is(RunbookStage::Complete)).await;
    let again = harness.engine.complete_callback(fire, &token, report(CallbackStatus::Success)).await;
    assert!(matches!(again, Ok(false)), "a repeat is accepted idempotently: {again:?}");
    let late = harness.engine.complete_callback(fire, &token, report(CallbackStatus::Failure)).await;
    assert!(matches!(late, Err(EngineError::FireNotWaiting { .. })), "{late:?}");
    if let Some(running) = harness.running {
        running.shutdown().await;
    }
}

async fn cancel_ends_a_waiting_callback_fire(harness: Harness) {
    let WaitingCallback { runbook, fire, token, .. } = waiting_callback(&harness).await;
    command(&harness, runbook, UserCommand::CancelTask { task: "approve".into() }).await;
    let record = harness.engine.store().fire(fire).await.expect("store").expect("the fire");
    assert_eq!(record.status, FireStatus::Done, "cancelling the task ends its waiting fire at once");
    assert!(record.state.contains(r#""outcome":"cancelled""#), "{}", record.state);

    for status in [CallbackStatus::Success, CallbackStatus::Failure, CallbackStatus::Progress] {
        let late = harness.engine.complete_callback(fire, &token, report(status, &[])).await;
        assert!(
            matches!(&late, Err(EngineError::FireNotWaiting { state, .. }) if state == "cancelled"),
            "a callback after the cancel is refused: {late:?}"
        );
    }
    let after = harness.engine.store().fire(fire).await.expect("store").expect("the fire");
    assert_eq!(after.state, record.state, "refused callbacks change nothing");
    let view = harness.engine.runbook(runbook).await.expect("runbook");
    let task = view.state.task("approve").expect("task");
    assert_eq!(task.state.stage(), TaskStage::InProgress, "the task stays in progress, its integration cancelled");
    assert_eq!(task.state.integration_status(), IntegrationStatus::Cancelled);
    if let Some(running) = harness.running {
        running.shutdown().await;
    }
}

async fn callbacks_that_set_undeclared_fields_are_refused(harness: Harness) {
    let WaitingCallback { runbook, fire, token, mut events, .. } = waiting_callback(&harness).await;
    // (fields set, the paths refused): undeclared, restricted to another action, not an option.
    type Fields = &'static [(&'static str, &'static str)];
    let cases: [(Fields, &[&str]); 4] = [
        (&[("Nope", "x")], &["custom_fields.Nope"]),
        (&[("Message", "x")], &["custom_fields.Message"]),
        (&[("Verdict", "maybe")], &["custom_fields.Verdict"]),
        (&[("Approver", "Ada"), ("Nope", "x")], &["custom_fields.Nope"]),
    ];
    for (fields, paths) in cases {
        let refused = harness.engine.complete_callback(fire, &token, report(CallbackStatus::Success, fields)).await;
        let Err(EngineError::InvalidInput { problems }) = refused else {
            panic!("{fields:?} must be refused, got {refused:?}");
        };
        let refused_paths: Vec<&str> = problems.iter().map(|problem| problem.path.as_str()).collect();
        assert_eq!(refused_paths, paths, "{fields:?}");
        let record = harness.engine.store().fire(fire).await.expect("store").expect("the fire");
        assert_eq!(record.status, FireStatus::Waiting, "nothing applied for {fields:?}");
    }
    let good = report(CallbackStatus::Success, &[("Approver", "Ada"), ("Verdict", "approved")]);
    assert!(harness.engine.complete_callback(fire, &token, good).await.expect("a valid callback is applied"));
    wait_for(&mut events, "the runbook to complete", runbook_is(RunbookStage::Complete)).await;
    let view = harness.engine.runbook(runbook).await.expect("runbook");
    let task = view.state.task("approve").expect("task");
    let approver = task.state.custom_fields().get("Approver");
    assert_eq!(approver, Some(&FieldValue::Text("Ada".into())), "declared fields of a valid callback are applied");
    if let Some(running) = harness.running {
        running.shutdown().await;
    }
}

async fn refusals_leave_state_unchanged(harness: Harness) {
    let server = mockito::Server::new_async().await;
    let runbook = apply(&harness, &server.url(), RUNBOOK).await;
    let before = harness.engine.runbook(runbook).await.expect("runbook").state;
    let refused = harness
        .engine
        .command(runbook, UserCommand::StartTask { task: "deploy".into(), force: false }, &Actor::engine())
        .await;
    assert!(matches!(refused, Err(EngineError::Refused(_))), "{refused:?}");
    let after = harness.engine.runbook(runbook).await.expect("runbook").state;
    assert_eq!(serde_json::to_value(&before).expect("json"), serde_json::to_value(&after).expect("json"));
    let missing = harness.engine.runbook(RunbookId(9_999)).await;
    assert!(matches!(missing, Err(EngineError::NotFound { what: "runbook", .. })), "{missing:?}");
    if let Some(running) = harness.running {
        running.shutdown().await;
    }
}

async fn a_dead_engines_fires_are_taken_over(mut harness: Harness) {
    // Engine A (no dispatcher of its own: its fires are left for any engine) creates a fire; a dispatcher named
    // `engine-doomed` claims it with a short lease and dies before sending it; engine B takes it over after the lease.
    if let Some(running) = harness.running.take() {
        running.shutdown().await;
    }
    let mut server = mockito::Server::new_async().await;
    let hook = server
        .mock("POST", "/hook")
        .match_header("idempotency-key", mockito::Matcher::Regex("^cutover-\\d+-announce-1-".into()))
        .with_status(200)
        .expect(1)
        .create_async()
        .await;
    let runbook = apply(&harness, &server.url(), RUNBOOK).await;
    command(&harness, runbook, UserCommand::StartRunbook { mode: RunMode::Live }).await;
    command(&harness, runbook, UserCommand::StartTask { task: "announce".into(), force: false }).await;
    let created = harness.engine.store().task_fires(runbook, "announce").await.expect("fires").remove(0);
    assert_eq!(created.lease_owner, None, "an engine without a dispatcher leaves its fires to others");
    let now = jiff::Timestamp::now().as_millisecond();
    let claim = ClaimRequest { owner: "engine-doomed".into(), now, lease_until: now + 300, limit: 10 };
    let claimed = harness.engine.store().claim_fires(&claim).await.expect("claim");
    assert_eq!(claimed.iter().map(|fire| fire.id).collect::<Vec<_>>(), vec![created.id]);
    let fire = harness.engine.store().fire(created.id).await.expect("read").expect("fire");
    assert_eq!(fire.lease_owner.as_deref(), Some("engine-doomed"));

    let survivor = engine_on(&harness.url, "engine-b", Duration::from_secs(30)).await;
    let mut events = survivor.subscribe();
    let running = survivor.start();
    wait_for(&mut events, "the survivor to send the fire", status_is("announce", IntegrationStatus::Succeeded)).await;
    hook.assert_async().await;
    let after = survivor.store().fire(fire.id).await.expect("read").expect("fire");
    assert_eq!(after.idempotency_key, fire.idempotency_key, "sent with the key it was created with");
    assert_eq!(after.status, FireStatus::Done);
    running.shutdown().await;
}

async fn drive_runs_live_and_rehearsal(harness: Harness) {
    let mut server = mockito::Server::new_async().await;
    let hooks = server.mock("POST", "/hook").with_status(200).expect(2).create_async().await;
    let live = apply(&harness, &server.url(), RUNBOOK).await;
    let rehearsal = harness.engine.duplicate_runbook(live).await.expect("duplicate");

    let options = DriveOptions { mode: RunMode::Live, manual: ManualTasks::Finish };
    let report = harness.running.as_ref().expect("the engine runs").drive(live, options).await.expect("drive");
    assert!(report.succeeded(), "{report:?}");
    let statuses: Vec<_> = report.tasks.iter().map(|task| (task.id.as_str(), task.integration_status)).collect();
    assert_eq!(
        statuses,
        vec![
            ("announce", IntegrationStatus::Succeeded),
            ("deploy", IntegrationStatus::None),
            ("done", IntegrationStatus::Succeeded)
        ]
    );
    hooks.assert_async().await;

    // A rehearsal renders and logs, sends nothing, and walks the path of a successful run.
    let options = DriveOptions { mode: RunMode::Rehearsal, manual: ManualTasks::Finish };
    let report = harness.running.as_ref().expect("the engine runs").drive(rehearsal, options).await.expect("drive");
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(report.tasks[0].integration_status, IntegrationStatus::NotSent);
    hooks.assert_async().await;
    let fires = harness.engine.store().task_fires(rehearsal, "announce").await.expect("fires");
    let log = harness.engine.store().actions_log(fires[0].id).await.expect("log");
    assert!(log.iter().any(|record| record.record.contains("/hook")), "the unsent request is logged: {log:?}");

    // Stopping at manual tasks leaves the run incomplete, with the reason.
    let stopped = harness.engine.duplicate_runbook(live).await.expect("duplicate");
    let options = DriveOptions { mode: RunMode::Rehearsal, manual: ManualTasks::Stop };
    let report = harness.running.as_ref().expect("the engine runs").drive(stopped, options).await.expect("drive");
    assert!(!report.succeeded());
    let deploy = report.tasks.iter().find(|task| task.id == "deploy").expect("deploy");
    assert_eq!((deploy.stage, deploy.reason.as_deref()), (TaskStage::InProgress, Some("manual task left in progress")));
    if let Some(running) = harness.running {
        running.shutdown().await;
    }
}

const PRIVATE_TOKEN_ENDPOINT: &str = r#"
kind: integration
name: Internal
actions:
  - name: Call
    auth:
      type: oauth2
      grant: client_credentials
      client_id: engine
      client_secret: s3cret-client
      provider_host: http://10.1.2.3
      token_endpoint: /oauth/token
    request: {method: POST, url: "https://api.example.com/call", payload: "{}"}
"#;

async fn a_literal_private_token_endpoint_is_refused(harness: Harness) {
    let runbook = r#"
kind: runbook
name: Internal call
tasks:
  - {id: call, name: Call the internal API, action: Internal/Call}
"#;
    let applied = harness
        .engine
        .apply_definitions(&[("internal.yaml", PRIVATE_TOKEN_ENDPOINT), ("runbook.yaml", runbook)])
        .await
        .expect("definitions apply");
    let id = applied.runbooks[0];
    let options = DriveOptions { mode: RunMode::Live, manual: ManualTasks::Finish };
    let report = harness.running.as_ref().expect("the engine runs").drive(id, options).await.expect("drive");
    let call = &report.tasks[0];
    assert_eq!(call.integration_status, IntegrationStatus::Failed, "{report:?}");
    let reason = call.reason.as_deref().unwrap_or_default();
    assert!(reason.starts_with("Connection failed: token endpoint http://10.1.2.3/oauth/token"), "{reason}");
    if let Some(running) = harness.running {
        running.shutdown().await;
    }
}

/// What a refused planning change must be.
#[derive(Debug)]
enum Refusal {
    /// Invalid input with a problem at this path.
    InputAt(&'static str),
    /// A task others depend on.
    InUse(&'static [&'static str]),
    /// No such task.
    NoTask,
}

async fn tasks_are_edited_while_planning(harness: Harness) {
    let server = mockito::Server::new_async().await;
    let runbook = apply(&harness, &server.url(), RUNBOOK).await;
    // A second engine on the same database caches the runbook before the edits.
    let other = engine_on(&harness.url, "engine-b", Duration::from_secs(30)).await;
    assert_eq!(other.runbook(runbook).await.expect("runbook").definition.tasks.len(), 3);

    let added = harness
        .engine
        .add_task(runbook, &serde_json::json!({"name": "Verify release", "predecessors": ["deploy"]}))
        .await
        .expect("task added");
    let ids: Vec<&str> = added.definition.tasks.iter().map(|task| task.id.as_str()).collect();
    assert_eq!(ids, ["announce", "deploy", "done", "verify-release"]);
    assert_eq!(added.state.task("verify-release").map(|task| task.state.stage()), Some(TaskStage::NotStartable));
    let posted = serde_json::json!({"id": "post2", "name": "Post again", "action": "Hooks/Post",
        "custom_fields": {"Message": "again"}});
    harness.engine.add_task(runbook, &posted).await.expect("integration task added");
    harness
        .engine
        .edit_task(runbook, "deploy", &serde_json::json!({"name": "Deploy app", "description": "the app"}))
        .await
        .expect("task edited");

    let refusals: Vec<(&str, Result<RunbookView, EngineError>, Refusal)> = vec![
        (
            "unknown predecessor",
            harness.engine.add_task(runbook, &serde_json::json!({"name": "X", "predecessors": ["nope"]})).await,
            Refusal::InputAt("predecessors[0]"),
        ),
        (
            "duplicate id",
            harness.engine.add_task(runbook, &serde_json::json!({"id": "deploy", "name": "Again"})).await,
            Refusal::InputAt("id"),
        ),
        (
            "unknown action",
            harness.engine.add_task(runbook, &serde_json::json!({"name": "Y", "action": "Hooks/Nope"})).await,
            Refusal::InputAt("action"),
        ),
        (
            "undeclared custom field",
            harness
                .engine
                .add_task(runbook, &serde_json::json!({"name": "Z", "custom_fields": {"Colour": "red"}}))
                .await,
            Refusal::InputAt("custom_fields"),
        ),
        (
            "a cycle",
            harness.engine.edit_task(runbook, "announce", &serde_json::json!({"predecessors": ["done"]})).await,
            // The cycle is reported where the validator closes it, with every task on it named.
            Refusal::InputAt("tasks[1].predecessors[0]"),
        ),
        (
            "id change",
            harness.engine.edit_task(runbook, "deploy", &serde_json::json!({"id": "other"})).await,
            Refusal::InputAt("id"),
        ),
        (
            "removing a predecessor",
            harness.engine.remove_task(runbook, "deploy").await,
            Refusal::InUse(&["done", "verify-release"]),
        ),
        ("removing nothing", harness.engine.remove_task(runbook, "ghost").await, Refusal::NoTask),
    ];
    let before = harness.engine.runbook(runbook).await.expect("runbook");
    for (case, outcome, expected) in refusals {
        check_refusal(case, outcome, &expected);
    }
    let after = harness.engine.runbook(runbook).await.expect("runbook");
    assert_eq!(before.definition, after.definition, "refusals change nothing");

    harness.engine.remove_task(runbook, "verify-release").await.expect("a task nobody depends on is removed");
    let seen = other.runbook(runbook).await.expect("the other engine reads the edits");
    let names: Vec<&str> = seen.definition.tasks.iter().map(|task| task.name.as_str()).collect();
    assert_eq!(names, ["Announce", "Deploy app", "Announce the end", "Post again"]);
    assert_eq!(seen.state.tasks().len(), 4);

    command(&harness, runbook, UserCommand::StartRunbook { mode: RunMode::Rehearsal }).await;
    let late = harness.engine.add_task(runbook, &serde_json::json!({"name": "Late"})).await;
    assert!(matches!(&late, Err(EngineError::NotPlanning { stage, .. }) if stage == "active"), "{late:?}");
    if let Some(running) = harness.running {
        running.shutdown().await;
    }
}

fn check_refusal(case: &str, outcome: Result<RunbookView, EngineError>, expected: &Refusal) {
    match (outcome, expected) {
        (Err(EngineError::InvalidInput { problems }), Refusal::InputAt(path)) => {
            assert!(problems.iter().any(|problem| problem.path.starts_with(path)), "{case}: {problems:?}");
        }
        (Err(EngineError::TaskInUse { successors, .. }), Refusal::InUse(expected)) => {
            assert_eq!(successors, *expected, "{case}");
        }
        (Err(EngineError::NotFound { what: "task", .. }), Refusal::NoTask) => {}
        (other, expected) => panic!("{case}: expected {expected:?}, got {other:?}"),
    }
}
