//! Browser tests of the console's runbook pages (real Chromium over WebDriver, as `browser.rs`): the seeds' "Use your
//! integration" and "Debug an integration task" done by clicking, against a mock Slack on loopback; a rehearsal; and
//! the page of a 2,000-task runbook. Screenshots go to `target/screenshots/`.
//!
//! Without Chromium the tests print `skipped: no chromium` and pass, unless `CUTOVER_REQUIRE_BROWSER=1`.

mod support;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use cutover_integrations_console::ConsoleSettings;
use cutover_integrations_core::http::{ExecutorConfig, RetryPolicy};
use cutover_integrations_core::model::{SecretValue, SystemParameter};
use cutover_integrations_core::store::RunbookId;
use cutover_integrations_core::{Engine, EngineSettings, RunningEngine};
use cutover_integrations_test_support::fresh_sqlite_url;
use cutover_server::{AppState, app};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::browser::{Browser, browser_or_skip};
use tokio::sync::watch;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const BOOTSTRAP: &str = "bootstrap-token-for-runbook-browser-tests";
const SLACK_TOKEN: &str = "xoxb-very-secret-slack-token-4242";

static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A mock of Slack's `chat.postMessage`: answers with the status set, after the delay set, and records every request
/// (authorization header, body) and when it answered (milliseconds since the epoch).
#[derive(Default)]
struct MockSlack {
    status: AtomicU16,
    delay_ms: AtomicU64,
    answered_at_ms: AtomicU64,
    requests: Mutex<Vec<(String, String)>>,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

async fn mock_slack() -> (String, Arc<MockSlack>) {
    let mock = Arc::new(MockSlack { status: AtomicU16::new(200), ..MockSlack::default() });
    let shared = mock.clone();
    let router = axum::Router::new().route(
        "/api/chat.postMessage",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let mock = shared.clone();
            async move {
                let authorization =
                    headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                mock.requests.lock().expect("requests").push((authorization, String::from_utf8_lossy(&body).into()));
                // The mock takes its time, as a third party may: the page is listening before the answer comes.
                tokio::time::sleep(Duration::from_millis(mock.delay_ms.load(Ordering::SeqCst))).await;
                let status = StatusCode::from_u16(mock.status.load(Ordering::SeqCst)).expect("status");
                mock.answered_at_ms.store(now_ms(), Ordering::SeqCst);
                let body = if status.is_success() {
                    r#"{"ok":true,"channel":"C123","ts":"1700000000.000100"}"#
                } else {
                    r#"{"ok":false,"error":"internal_error"}"#
                };
                (status, [("content-type", "application/json")], body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, mock)
}

fn slack_integration(base: &str) -> String {
    format!(
        r#"
kind: integration
name: Slack
custom_fields:
  - {{name: Slack Channel, type: text, required: true, restrict_to: [Post Message]}}
  - {{name: Slack Message, type: textarea, restrict_to: [Post Message]}}
actions:
  - name: Post Message
    settings: {{finish_task_on_success: true}}
    auth: {{type: token, token: "{{{{SystemParameter['slack_token']}}}}"}}
    request:
      method: POST
      url: {base}/api/chat.postMessage
      headers: {{Content-Type: application/json}}
      payload: '{{"channel":"{{{{CustomField[''Slack Channel'']}}}}","text":"{{{{CustomField[''Slack Message'']}}}}"}}'
"#
    )
}

struct Server {
    base: String,
    engine: Engine,
    _running: RunningEngine,
    _stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

async fn server() -> Server {
    let dir = tempfile::tempdir().expect("temporary directory");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let settings = EngineSettings { public_url: base.parse().expect("URL"), ..EngineSettings::default() };
    // One attempt per fire: a 500 fails the fire at once instead of after retries.
    let executor =
        ExecutorConfig { retry: RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }, ..Default::default() };
    let engine = Engine::builder()
        .database_url(fresh_sqlite_url(dir.path()))
        .secret_key_base64(KEY)
        .executor_config(executor)
        .allow_outbound("127.0.0.0/8".parse().expect("CIDR"))
        .settings(settings)
        .build()
        .await
        .expect("engine");
    engine.ensure_admin_token("bootstrap@localhost", BOOTSTRAP).await.expect("bootstrap admin");
    let (stop, stopping) = watch::channel(false);
    let running = engine.start();
    let router =
        app(AppState::new(engine.clone(), stopping), ConsoleSettings::for_public_url(&base.parse().expect("URL")));
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server { base, engine, _running: running, _stop: stop, _dir: dir }
}

/// The text of a task row's integration status cell.
fn status_cell(task: &str) -> String {
    format!("(document.querySelector('tr[data-task=\"{task}\"] [data-cell=status]')?.textContent ?? '')")
}

async fn setup_slack(server: &Server, base: &str) {
    let token = SystemParameter { name: "slack_token".into(), value: SecretValue::new(SLACK_TOKEN), secret: true };
    server.engine.put_system_parameter(&token).await.expect("token parameter");
    server.engine.apply_definitions(&[("slack.yaml", &slack_integration(base))]).await.expect("Slack integration");
}

async fn debug_request_body(browser: &Browser, label: &str) -> String {
    browser.click(&browser.button(label).await).await;
    browser.dialog("Debug").await;
    let body = browser
        .execute("return document.querySelector('dialog[open] [data-body=request]')?.textContent ?? '';", vec![]);
    body.await.as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_and_debug_a_slack_integration_by_clicking() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = browser_or_skip("use_and_debug_a_slack_integration_by_clicking").await else { return };
    let server = server().await;
    let (slack, mock) = mock_slack().await;
    setup_slack(&server, &slack).await;
    browser.sign_in(&server.base, BOOTSTRAP).await;

    // Runbooks → New Runbook.
    browser.click(&browser.link("Runbooks").await).await;
    browser.heading("Runbooks").await;
    browser.click(&browser.button("New Runbook").await).await;
    browser.dialog("New Runbook").await;
    browser.screenshot("r01-new-runbook").await;
    browser.fill(&browser.field("Name").await, "Release 42").await;
    browser.click(&browser.button("Create").await).await;
    browser.heading("Release 42").await;

    // Add task: the Slack task type, found by searching, with its two custom fields.
    browser.click(&browser.button("Add task").await).await;
    browser.dialog("Add task").await;
    browser.fill(&browser.field("Name").await, "Notify Slack").await;
    browser.fill(&browser.field("Search task types").await, "slack").await;
    browser.click(&browser.field("Slack/Post Message").await).await;
    browser.fill(&browser.field("Slack Channel").await, "#release").await;
    browser.fill(&browser.field("Slack Message").await, "Release \"42\" starts").await;
    browser.screenshot("r02-add-task-slack").await;
    browser.click(&browser.button("Add").await).await;
    browser.find("//tr[@data-task='notify-slack']", "the Slack task's row").await;

    // A manual task after it.
    browser.click(&browser.button("Add task").await).await;
    browser.dialog("Add task").await;
    browser.fill(&browser.field("Name").await, "Deploy").await;
    browser.choose("Predecessors", "Notify Slack (notify-slack)").await;
    browser.click(&browser.button("Add").await).await;
    browser.find("//tr[@data-task='deploy']", "the manual task's row").await;
    // A second Slack task, to fail later (added through the engine, as the REST API would).
    let runbook = RunbookId(1);
    let announce = json!({"id": "announce", "name": "Announce the end", "action": "Slack/Post Message",
        "predecessors": ["deploy"], "custom_fields": {"Slack Channel": "#release", "Slack Message": "done"}});
    server.engine.add_task(runbook, &announce).await.expect("second Slack task");
    browser.goto(&format!("{}/runbooks/1", server.base)).await;
    browser.screenshot("r03-runbook-planning").await;
    browser.assert_no_csp_violation("runbookReady").await;

    // Start live, open the task, Start task: the row shows Succeeded without a reload.
    browser.click(&browser.button("Start live").await).await;
    browser.find("//*[@data-runbook-stage][normalize-space()='Active']", "the runbook active").await;
    browser.click(&browser.link("Notify Slack").await).await;
    browser.heading("Task Details").await;
    mock.delay_ms.store(1500, Ordering::SeqCst);
    // Start task is a form post: the mark goes on the page it lands on, once its event stream is open, and must stay
    // until the row shows Succeeded.
    browser.submit(&browser.button("Start task").await).await;
    browser.wait_for("return document.documentElement.dataset.liveUpdates === 'open';", "the event stream").await;
    browser.execute("window.__notReloaded = true;", vec![]).await;
    browser.wait_for(&format!("return {} === 'Succeeded';", status_cell("notify-slack")), "Succeeded").await;
    let reloaded = browser.execute("return window.__notReloaded === true;", vec![]).await;
    assert_eq!(reloaded, Value::Bool(true), "the row changed without a reload");
    let updated = browser.execute("return Number(document.documentElement.dataset.lastTaskUpdate);", vec![]).await;
    let answered = mock.answered_at_ms.load(Ordering::SeqCst);
    let lag = updated.as_u64().unwrap_or_default().saturating_sub(answered);
    eprintln!("live update {lag} ms after the mock answered");
    assert!(lag < 1000, "the row changed {lag} ms after the answer");
    mock.delay_ms.store(0, Ordering::SeqCst);
    browser.screenshot("r04-task-succeeded").await;
    // With Task Details open the task list still fits its column, and no word of it is broken across lines.
    let broken = browser
        .execute(
            "const list = document.querySelector('.task-list'); \
             const words = document.createTreeWalker(list.querySelector('table.tasks'), NodeFilter.SHOW_TEXT); \
             const broken = []; const range = document.createRange(); \
             while (words.nextNode()) { const text = words.currentNode.textContent.trim(); \
               if (!text || /[\\s-]/.test(text)) continue; \
               range.selectNodeContents(words.currentNode); \
               if (range.getClientRects().length > 1) broken.push(text); } \
             return { broken, fits: list.scrollWidth <= list.clientWidth };",
            vec![],
        )
        .await;
    assert_eq!(broken, json!({"broken": [], "fits": true}), "the task list beside Task Details");
    // At 200% zoom of 1280×800 the panel goes under the list and nothing but the list scrolls sideways.
    browser.viewport(640, 400, 2.0).await;
    assert!(!browser.overflows_sideways().await, "the runbook page overflows at 200% zoom");
    browser.screenshot("r04-task-succeeded-zoom200").await;
    browser.viewport(1280, 800, 1.0).await;

    // Actions → Debug → Request: the exact JSON body, the authorization redacted.
    let body = debug_request_body(&browser, "Debug fire 1 attempt 1").await;
    let sent = mock.requests.lock().expect("requests")[0].clone();
    assert_eq!(sent.0, format!("Bearer {SLACK_TOKEN}"));
    assert_eq!(serde_json::from_str::<Value>(&body).ok(), serde_json::from_str::<Value>(&sent.1).ok(), "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).ok(),
        Some(json!({"channel": "#release", "text": "Release \"42\" starts"}))
    );
    let dialog_text = browser.text(&browser.dialog("Debug").await).await;
    assert!(dialog_text.contains("[REDACTED]"), "{dialog_text}");
    assert!(!browser.page_text().await.contains(SLACK_TOKEN));
    assert!(browser.has_button("Copy as curl").await);
    browser.screenshot("r05-debug-request-success").await;
    browser.click(&browser.tab("Response").await).await;
    browser.find("//dialog[@open]//*[@data-status][normalize-space()='200']", "status 200").await;
    browser.screenshot("r06-debug-response-success").await;
    browser.press("\u{E00C}").await;

    // Deploy, then the second Slack task against a failing mock.
    browser.click(&browser.link("Deploy").await).await;
    browser.click(&browser.button("Start task").await).await;
    browser.click(&browser.button("Finish task").await).await;
    browser.click(&browser.link("Announce the end").await).await;
    browser.heading("Task Details").await;
    mock.status.store(500, Ordering::SeqCst);
    browser.click(&browser.button("Start task").await).await;
    browser
        .wait_for(
            &format!(
                "return {}.length > 0 && document.querySelector('tr[data-task=\"announce\"] .status-bad') !== null;",
                status_cell("announce")
            ),
            "the failure",
        )
        .await;
    let failure = browser.execute(&format!("return {};", status_cell("announce")), vec![]).await;
    let failure = failure.as_str().unwrap_or_default().to_owned();
    eprintln!("failure shown: {failure}");
    assert!(failure.contains("500"), "the reason names the status: {failure}");
    let quoted = serde_json::to_string(&failure).expect("JSON string");
    let panel_status = format!("return document.querySelector('[data-panel-status]')?.textContent === {quoted};");
    browser.wait_for(&panel_status, "the panel's status line").await;
    browser.click(&browser.button("Debug fire 1 attempt 1").await).await;
    browser.dialog("Debug").await;
    let warned = browser.find("//dialog[@open]//*[@role='tab'][@aria-label='Response failed']", "the warning").await;
    browser.click(&warned).await;
    browser.find("//dialog[@open]//*[@data-status][normalize-space()='500']", "status 500").await;
    browser.screenshot("r07-debug-response-failed").await;
    browser.press("\u{E00C}").await;

    // The mock recovers: More actions → Refire Integration succeeds.
    mock.status.store(200, Ordering::SeqCst);
    browser.click(&browser.button("More actions").await).await;
    browser.click(&browser.button("Refire Integration").await).await;
    browser.wait_for(&format!("return {} === 'Succeeded';", status_cell("announce")), "the refire succeeded").await;
    browser.screenshot("r08-refired").await;
    // That task was the last: the page says the run is complete as it happens and offers no Pause or Cancel runbook.
    browser.find("//*[@data-runbook-stage][normalize-space()='Complete']", "the runbook complete").await;
    browser.wait_for("return document.querySelector('form[action$=\"/cancel\"]').hidden;", "no Cancel runbook").await;
    assert!(!browser.has_button("Pause").await && !browser.has_button("Cancel runbook").await);
    assert_eq!(mock.requests.lock().expect("requests").len(), 3);
    browser.assert_no_csp_violation("runbookReady").await;

    // The graph view.
    browser.click(&browser.tab("Graph").await).await;
    browser.find("//*[name()='svg'][@role='img']", "the graph").await;
    // Drawn when the page loaded, with the task in progress; the boxes follow the stages as they change.
    let node = browser
        .execute("return document.querySelector('rect[data-node-task=\"announce\"]').getAttribute('class');", vec![])
        .await;
    assert_eq!(node, json!("node task-complete"), "the graph follows the task's stage");
    browser.screenshot("r09-graph").await;
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rehearsal_shows_the_request_it_did_not_send() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = browser_or_skip("a_rehearsal_shows_the_request_it_did_not_send").await else { return };
    let server = server().await;
    let (slack, mock) = mock_slack().await;
    setup_slack(&server, &slack).await;
    let runbook = "kind: runbook\nname: Rehearsal\ntasks:\n  - {id: post, name: Post, action: Slack/Post Message, custom_fields: {Slack Channel: '#dry', Slack Message: 'practice'}}\n";
    let id = server.engine.apply_definitions(&[("r.yaml", runbook)]).await.expect("runbook").runbooks[0];
    browser.sign_in(&server.base, BOOTSTRAP).await;
    browser.goto(&format!("{}/runbooks/{id}", server.base)).await;
    browser.click(&browser.button("Start rehearsal").await).await;
    browser.click(&browser.link("Post").await).await;
    browser.click(&browser.button("Start task").await).await;
    browser.wait_for(&format!("return {} === 'Not sent (rehearsal)';", status_cell("post")), "not sent").await;
    let body = debug_request_body(&browser, "Debug fire 1 attempt 1").await;
    assert_eq!(serde_json::from_str::<Value>(&body).ok(), Some(json!({"channel": "#dry", "text": "practice"})));
    browser.find("//dialog[@open]//*[contains(., 'would have been sent')]", "the rehearsal note").await;
    browser.screenshot("r10-rehearsal-debug").await;
    assert!(mock.requests.lock().expect("requests").is_empty(), "nothing was sent");
    browser.assert_no_csp_violation("runbookReady").await;
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_thousand_task_runbook_is_usable() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = browser_or_skip("a_two_thousand_task_runbook_is_usable").await else { return };
    let server = server().await;
    let mut text = String::from("kind: runbook\nname: Big\ntasks:\n");
    for i in 0..2000 {
        let predecessors = match i {
            0 => String::new(),
            _ => format!(", predecessors: [t{}]", (i - 1) / 2),
        };
        text.push_str(&format!("  - {{id: t{i}, name: Task {i}{predecessors}}}\n"));
    }
    let id = server.engine.apply_definitions(&[("big.yaml", &text)]).await.expect("runbook").runbooks[0];
    browser.sign_in(&server.base, BOOTSTRAP).await;
    let started = std::time::Instant::now();
    browser.goto(&format!("{}/runbooks/{id}", server.base)).await;
    browser.wait_for("return document.documentElement.dataset.runbookReady === 'true';", "the page's module").await;
    let loaded = started.elapsed();
    let timing = browser
        .execute(
            "const n = performance.getEntriesByType('navigation')[0]; return [n.responseEnd - n.startTime, n.domInteractive - n.startTime, n.domContentLoadedEventEnd - n.startTime];",
            vec![],
        )
        .await;
    eprintln!(
        "2000 tasks: ready after {loaded:?} (WebDriver); navigation [response end, interactive, DOMContentLoaded] ms = {timing}"
    );
    let rows = browser.execute("return document.querySelectorAll('table.tasks tbody tr').length;", vec![]).await;
    assert_eq!(rows, Value::from(2000));
    browser.screenshot("r11-two-thousand-tasks").await;
    browser.click(&browser.tab("Graph").await).await;
    let nodes = browser.execute("return document.querySelectorAll('#view-graph rect.node').length;", vec![]).await;
    assert_eq!(nodes, Value::from(120), "one page of the graph");
    browser.screenshot("r12-graph-page").await;
    browser.click(&browser.link("Next tasks").await).await;
    browser.find("//*[contains(., 'Page 2 of 17')]", "the graph's second page").await;
    browser.quit().await;
}
