//! `runbook_update` actions through the engine: the run starting fires them, a change of a runbook-level field they
//! read fires them again with the new value, a change of another field does not, and every fire is in the task's
//! actions log.

use cutover_integrations_core::UserCommand;
use cutover_integrations_core::http::LogEntry;
use cutover_integrations_core::model::{FieldValue, IntegrationStatus, Role, RunMode};
use cutover_integrations_core::runbook::{Actor, Event, FieldTarget, FireNumber};
use cutover_integrations_core::store::RunbookId;
use cutover_integrations_core::{Engine, EngineEvent, FireOutcome};
use mockito::Matcher;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::broadcast;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn integration(base: &str) -> String {
    format!(
        r#"kind: integration
name: Tickets
custom_fields:
  - {{name: Change, type: text, applies_to: runbook}}
  - {{name: Notes, type: text, applies_to: runbook}}
actions:
  - name: Sync ticket
    trigger: runbook_update
    request:
      method: POST
      url: {base}/tickets
      payload:
        change: "{{{{CustomField['Change'] | default: 'none'}}}}"
        runbook: "{{{{Runbook.name}}}}"
"#
    )
}

const RUNBOOK: &str = "kind: runbook\nname: Release\ntasks:\n  - {id: sync, name: Keep the ticket in step, action: \
                       Tickets/Sync ticket}\n  - {id: deploy, name: Deploy, predecessors: [sync]}\n";

/// Waits for the `sync` task's fire `fire` to end with `status`; a bound, not a pause: events arrive as fires end.
async fn fire_ended(events: &mut broadcast::Receiver<EngineEvent>, fire: u32, status: IntegrationStatus) {
    let wait = async {
        loop {
            let event = events.recv().await.expect("the event stream");
            if let Event::IntegrationStatusChanged { task, fire: number, status: now, .. } = &event.event
                && task == "sync"
                && number.get() == fire
                && *now == status
            {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait).await.expect("the fire ends");
}

async fn set(engine: &Engine, runbook: RunbookId, name: &str, value: &str) -> Vec<Event> {
    let values = BTreeMap::from([(name.to_owned(), FieldValue::Text(value.to_owned()))]);
    let actor = Actor::with_roles([Role::Operator]);
    engine.set_custom_fields(runbook, FieldTarget::Runbook, values, &actor).await.expect("fields set")
}

fn fired(events: &[Event]) -> bool {
    events.iter().any(|event| matches!(event, Event::IntegrationStatusChanged { task, .. } if task == "sync"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runbook_update_action_fires_when_the_field_it_watches_changes() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", directory.path().join("update.db").display());
    let engine = Engine::builder()
        .database_url(url)
        .secret_key_base64(KEY)
        .allow_outbound("127.0.0.0/8".parse().expect("CIDR"))
        .build()
        .await
        .expect("engine");
    let running = engine.start();
    let mut server = mockito::Server::new_async().await;
    let at_start = server
        .mock("POST", "/tickets")
        .match_body(Matcher::Json(serde_json::json!({"change": "none", "runbook": "Release"})))
        .expect(1)
        .create_async()
        .await;
    let on_change = server
        .mock("POST", "/tickets")
        .match_body(Matcher::Json(serde_json::json!({"change": "CHG \"42\"", "runbook": "Release"})))
        .expect(1)
        .create_async()
        .await;
    let integration = integration(&server.url());
    let applied =
        engine.apply_definitions(&[("tickets.yaml", &integration), ("runbook.yaml", RUNBOOK)]).await.expect("apply");
    let runbook = applied.runbooks[0];
    let mut events = engine.subscribe();

    // Planning: a change fires nothing.
    assert!(!fired(&set(&engine, runbook, "Change", "draft").await));
    let values = BTreeMap::from([("Change".to_owned(), FieldValue::Text(String::new()))]);
    engine
        .set_custom_fields(runbook, FieldTarget::Runbook, values, &Actor::with_roles([Role::Operator]))
        .await
        .expect("cleared");

    // The run starting is an update: fire 1, before the task starts.
    let start = UserCommand::StartRunbook { mode: RunMode::Live };
    assert!(fired(&engine.command(runbook, start, &Actor::engine()).await.expect("started")));
    fire_ended(&mut events, 1, IntegrationStatus::Succeeded).await;
    at_start.assert_async().await;

    // A field the action does not read: nothing.
    assert!(!fired(&set(&engine, runbook, "Notes", "hello").await));
    // The field it reads: fire 2 with the new value.
    assert!(fired(&set(&engine, runbook, "Change", "CHG \"42\"").await));
    fire_ended(&mut events, 2, IntegrationStatus::Succeeded).await;
    on_change.assert_async().await;
    // The same value again: nothing.
    assert!(!fired(&set(&engine, runbook, "Change", "CHG \"42\"").await));

    let log = engine.task_actions_log(runbook, "sync").await.expect("the log");
    let numbers: Vec<(u32, Option<&str>)> =
        log.iter().map(|fire| (fire.number, fire.outcome.map(FireOutcome::as_str))).collect();
    assert_eq!(numbers, [(1, Some("succeeded")), (2, Some("succeeded"))], "{log:?}");
    let bodies: Vec<String> = log
        .iter()
        .flat_map(|fire| &fire.entries)
        .filter_map(|entry| match entry {
            LogEntry::Attempt(attempt) => attempt.request.as_ref().map(|request| request.curl.clone()),
            LogEntry::Note(_) => None,
        })
        .collect();
    assert!(bodies[1].contains(r#"CHG \"42\""#), "{bodies:?}");
    let view = engine.runbook(runbook).await.expect("the runbook");
    let task = view.state.task("sync").expect("the task");
    assert_eq!(
        (task.state.fire(), task.state.integration_status()),
        (FireNumber::new(2), IntegrationStatus::Succeeded)
    );
    running.shutdown().await;
}
