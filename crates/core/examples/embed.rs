//! Embedding the engine in a program: a durable engine on a SQLite file runs a small release runbook whose tasks
//! call a webhook (here a loopback server standing in for the third party), prints what happens, and reports.
//!
//! Run it with `cargo run -p cutover-integrations-core --example embed`. Kill it halfway and run it again with the
//! same database (`--database PATH`): the run resumes where it was, and a request whose outcome was not yet recorded
//! is sent again with the same `Idempotency-Key`.

use cutover_integrations_core::model::{RunMode, SecretValue, SystemParameter};
use cutover_integrations_core::runbook::Event;
use cutover_integrations_core::{DriveOptions, Engine, EngineSettings, ManualTasks, secret_key_beside_database};
use secrecy::ExposeSecret;
use std::time::Duration;

/// The third party's webhook: logs what it receives, answers 200.
async fn start_webhook() -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(|headers: axum::http::HeaderMap, body: String| async move {
            let key = headers.get("idempotency-key").and_then(|value| value.to_str().ok()).unwrap_or_default();
            println!("  webhook received {body} (Idempotency-Key {key})");
            "ok"
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

fn integration(webhook: &str) -> String {
    format!(
        r#"
kind: integration
name: Chat
actions:
  - name: Notify
    settings: {{auto_start: true, finish_task_on_success: true}}
    auth: {{type: token, token: "{{{{SystemParameter['chat_token']}}}}"}}
    request:
      method: POST
      url: {webhook}/notify
      headers: {{Content-Type: application/json}}
      payload: '{{"text":"{{{{Task.name}}}} ({{{{Runbook.name}}}})"}}'
"#
    )
}

const RUNBOOK: &str = r#"
kind: runbook
name: Release 42
tasks:
  - {id: announce, name: Announce the release, action: Chat/Notify}
  - {id: deploy, name: Deploy, predecessors: [announce]}
  - {id: done, name: Announce the end, action: Chat/Notify, predecessors: [deploy]}
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let database = std::env::args().skip_while(|arg| arg != "--database").nth(1);
    let scratch = tempfile::tempdir()?;
    let database = database.unwrap_or_else(|| scratch.path().join("embed.db").display().to_string());
    let webhook = start_webhook().await?;

    // The key that encrypts secrets at rest, generated on first use and kept beside the database.
    let url = format!("sqlite://{database}");
    let key = secret_key_beside_database(&url)?;
    let engine = Engine::builder()
        .database_url(&url)
        .secret_key_base64(key.expose_secret())
        .allow_outbound("127.0.0.0/8".parse()?)
        .settings(EngineSettings { lease: Duration::from_secs(5), ..EngineSettings::default() })
        .build()
        .await?;
    let running = engine.start();

    // Definitions and a secret the action's auth refers to; on a database that has the runbook already, resume it.
    // (The webhook's port is new at each start: applying the integration again points the action at it.)
    let token = SystemParameter { name: "chat_token".into(), value: SecretValue::new("s3cret"), secret: true };
    engine.put_system_parameter(&token).await?;
    engine.apply_definitions(&[("chat.yaml", &integration(&webhook))]).await?;
    let runbook = match engine.runbooks().await?.first() {
        Some(existing) => existing.id,
        None => engine.apply_definitions(&[("release.yaml", RUNBOOK)]).await?.runbooks[0],
    };

    // Print task changes as they happen.
    let mut events = engine.subscribe();
    let printer = tokio::spawn(async move {
        while let Ok(change) = events.recv().await {
            if let Event::TaskStageChanged { task, to, .. } = &change.event {
                println!("  task {task} is now {to:?}");
            }
        }
    });

    // Run it to the end: auto-start tasks fire by themselves, the manual `deploy` is finished as an operator would.
    println!("running runbook {runbook} on {database}");
    let report = running.drive(runbook, DriveOptions { mode: RunMode::Live, manual: ManualTasks::Finish }).await?;
    for task in &report.tasks {
        println!("{:<10} {:?} {:?}", task.id, task.stage, task.integration_status);
    }

    // Every fire is in the store with its actions log (secrets redacted).
    let fires = engine.store().task_fires(runbook, "announce").await?;
    println!("announce was sent as fire {} with key {}", fires[0].id, fires[0].idempotency_key);

    running.shutdown().await;
    printer.abort();
    if report.succeeded() { Ok(()) } else { Err("the runbook did not complete".into()) }
}
