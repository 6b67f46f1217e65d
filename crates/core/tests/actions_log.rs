//! `Engine::task_actions_log`: every fire of a task with its outcome and its parsed, redacted entries; unknown tasks
//! are `NotFound`. `Engine::observe_attempts` is told the attempts the log records; `Engine::task_integrations`.

use cutover_integrations_core::http::LogEntry;
use cutover_integrations_core::model::{RunMode, SecretValue, SystemParameter};
use cutover_integrations_core::store::{FireStatus, RunbookId};
use cutover_integrations_core::{DriveOptions, Engine, EngineError, FireOutcome, ManualTasks};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn integration(base: &str) -> String {
    format!(
        "kind: integration\nname: Hooks\nactions:\n  - name: Post\n    settings: {{finish_task_on_success: true}}\n    \
         auth: {{type: token, token: \"{{{{SystemParameter['hook_token']}}}}\"}}\n    request:\n      method: POST\n      \
         url: {base}/hook\n      headers: {{Content-Type: application/json}}\n      payload: '{{\"task\":\"{{{{Task.id}}}}\"}}'\n"
    )
}

const RUNBOOK: &str = "kind: runbook\nname: Release\ntasks:\n  - {id: announce, name: Announce, action: Hooks/Post}\n  \
                       - {id: deploy, name: Deploy, predecessors: [announce]}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fire_is_listed_with_its_redacted_attempts() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", directory.path().join("log.db").display());
    let engine = Engine::builder()
        .database_url(url)
        .secret_key_base64(KEY)
        .allow_outbound("127.0.0.0/8".parse().expect("CIDR"))
        .build()
        .await
        .expect("engine");
    let timed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let observed = timed.clone();
    engine.observe_attempts(std::sync::Arc::new(move |seconds| observed.lock().expect("durations").push(seconds)));
    let running = engine.start();
    let mut server = mockito::Server::new_async().await;
    let hook = server.mock("POST", "/hook").with_status(200).with_body("ok").expect(1).create_async().await;
    let parameter =
        SystemParameter { name: "hook_token".into(), value: SecretValue::new("hook-secret-4321"), secret: true };
    engine.put_system_parameter(&parameter).await.expect("parameter");
    let integration = integration(&server.url());
    let applied =
        engine.apply_definitions(&[("hooks.yaml", &integration), ("runbook.yaml", RUNBOOK)]).await.expect("apply");
    let runbook = applied.runbooks[0];
    let options = DriveOptions { mode: RunMode::Live, manual: ManualTasks::Finish };
    assert!(running.drive(runbook, options).await.expect("drive").succeeded());
    hook.assert_async().await;

    let log = engine.task_actions_log(runbook, "announce").await.expect("the log");
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!((log[0].number, log[0].status, log[0].outcome), (1, FireStatus::Done, Some(FireOutcome::Succeeded)));
    let attempts: Vec<_> = log[0]
        .entries
        .iter()
        .filter_map(|entry| match entry {
            LogEntry::Attempt(attempt) => Some(attempt),
            LogEntry::Note(_) => None,
        })
        .collect();
    assert_eq!(attempts.len(), 1);
    // The attempt observer was told each recorded attempt, as the log has it.
    assert_eq!(*timed.lock().expect("durations"), vec![attempts[0].duration_seconds()]);
    let request = attempts[0].request.as_ref().expect("the request");
    assert!(request.curl.starts_with("curl"), "{}", request.curl);
    assert_eq!(attempts[0].response.as_ref().map(|response| response.status), Some(200));
    let text = serde_json::to_string(&log).expect("JSON");
    assert!(!text.contains("hook-secret-4321"), "the token is redacted: {text}");
    assert!(text.contains("[REDACTED]"), "{text}");

    // One fire read alone is the same as in the task's log; a fire the task does not have is none.
    let alone = engine.fire_log(runbook, "announce", 1).await.expect("the fire");
    assert_eq!(alone.as_ref(), log.first());
    for (task, number) in [("announce", 2), ("deploy", 1), ("nope", 1)] {
        assert_eq!(engine.fire_log(runbook, task, number).await.expect("no fire"), None, "{task} {number}");
    }
    assert!(engine.task_actions_log(runbook, "deploy").await.expect("a manual task").is_empty());
    let integrations = engine.task_integrations(runbook, &["deploy", "announce", "nope"]).await.expect("integrations");
    assert_eq!(integrations, [None, Some("Hooks".to_owned()), None], "in the order asked");
    let missing = engine.task_actions_log(runbook, "nope").await;
    assert!(matches!(missing, Err(EngineError::NotFound { what: "task", .. })), "{missing:?}");
    let missing = engine.task_actions_log(RunbookId(999), "announce").await;
    assert!(matches!(missing, Err(EngineError::NotFound { what: "runbook", .. })), "{missing:?}");
    running.shutdown().await;
}
