//! The four execution modes against mockito: success, failure by status, by condition and by timeout, mapping,
//! polling, callbacks, resuming from stored state, `include_context` and the cancel notice.

mod common;

use common::*;
use cutover_integrations_http::{
    CallbackReport, CallbackStatus, ErrorKind, Executor, FireState, HttpError, LogEntry, RequestPurpose, StepOutcome,
    Timer, random_idempotency_key,
};
use cutover_integrations_model::{FieldValue, HttpMethod};
use mockito::Matcher;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

fn text(value: &str) -> FieldValue {
    FieldValue::Text(value.to_owned())
}

fn list(values: &[&str]) -> FieldValue {
    FieldValue::List(values.iter().map(|value| (*value).to_owned()).collect())
}

fn failure_kind(log: &cutover_integrations_http::FireLog) -> Option<ErrorKind> {
    log.result.as_ref().and_then(|result| result.failure.as_ref()).map(|failure| failure.kind)
}

fn failure_reason(log: &cutover_integrations_http::FireLog) -> String {
    log.result.as_ref().and_then(|result| result.failure.as_ref()).map(|f| f.reason.clone()).unwrap_or_default()
}

#[tokio::test]
async fn fire_and_forget_succeeds_on_2xx_and_reads_nothing_else() {
    let mut server = mockito::Server::new_async().await;
    let mock = server.mock("POST", "/hook").with_status(201).with_body("not json at all").create_async().await;
    let action = action(json!({"request": {"method": "POST", "url": "x", "payload": "{}"}}));
    let mut outgoing = request(HttpMethod::Post, format!("{}/hook", server.url()));
    outgoing.body = Some(r#"{"text":"hello"}"#.to_owned());
    let prepared = prepare_fixed(&action, outgoing);
    let (executor, _) = executor();

    let log = executor.run_to_completion(&prepared, &fire(), None).await;

    mock.assert_async().await;
    let result = log.result.as_ref().unwrap();
    assert!(result.succeeded, "{log:?}");
    assert!(result.fields.is_empty());
    let attempts = attempts(&log);
    assert_eq!(attempts.len(), 1);
    let attempt = attempts[0];
    assert_eq!(attempt.response.as_ref().unwrap().status, 201);
    assert_eq!(attempt.response.as_ref().unwrap().body, "not json at all");
    let sent = attempt.request.as_ref().unwrap();
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.body.as_deref(), Some(r#"{"text":"hello"}"#));
    assert_eq!(sent_header(attempt, "content-type"), Some("application/json"));
    assert_eq!(sent_header(attempt, "idempotency-key"), Some(log.idempotency_key.as_str()));
    assert!(sent.curl.starts_with("curl -X POST 'http://127.0.0.1:"), "{}", sent.curl);
}

#[tokio::test]
async fn fire_and_forget_fails_on_a_4xx_status_without_retrying() {
    let mut server = mockito::Server::new_async().await;
    let mock = server.mock("POST", "/hook").with_status(404).expect(1).create_async().await;
    let action = action(json!({"request": {"method": "POST", "url": "x"}}));
    let prepared = prepare_fixed(&action, request(HttpMethod::Post, format!("{}/hook", server.url())));
    let (executor, _) = executor();

    let log = executor.run_to_completion(&prepared, &fire(), None).await;

    mock.assert_async().await;
    assert_eq!(failure_kind(&log), Some(ErrorKind::Status));
    assert_eq!(failure_reason(&log), "HTTP 404 Not Found");
    assert_eq!(attempts(&log).len(), 1);
}

#[tokio::test]
async fn every_mode_fails_by_timeout_when_the_server_never_answers() {
    let address = silent_server().await;
    let mut config = config();
    config.max_request_timeout = Duration::from_millis(300);
    config.retry.max_attempts = 1;
    for mode in ["fire_and_forget", "sync", "polling", "callback"] {
        let definition = json!({
            "request": {"method": "GET", "url": "x", "execution_mode": mode, "timeout_seconds": 1},
            "polling": {"method": "GET", "url": "x"},
        });
        let prepared = prepare_fixed(&action(definition), request(HttpMethod::Get, format!("http://{address}/slow")));
        let (executor, _) = executor_with(config.clone());

        let log = executor.run_to_completion(&prepared, &fire(), None).await;

        assert_eq!(failure_kind(&log), Some(ErrorKind::Timeout), "{mode}: {log:?}");
        assert!(failure_reason(&log).starts_with("Timed out"), "{mode}: {}", failure_reason(&log));
        assert!(attempts(&log)[0].duration_ms >= 250, "{mode}");
    }
}

#[tokio::test]
async fn every_mode_fails_by_status_and_every_reading_mode_by_condition() {
    let mut server = mockito::Server::new_async().await;
    server.mock("POST", "/gone").with_status(410).create_async().await;
    server.mock("POST", "/busy").with_body(r#"{"status": "busy"}"#).create_async().await;
    let unmet = json!({"success_when": [{"path": "status", "equals": "accepted"}]});
    // (mode, path, response rules, expected kind)
    let cases = [
        ("fire_and_forget", "/gone", json!({}), ErrorKind::Status),
        ("sync", "/gone", json!({}), ErrorKind::Status),
        ("polling", "/gone", json!({}), ErrorKind::Status),
        ("callback", "/gone", json!({}), ErrorKind::Status),
        ("sync", "/busy", unmet.clone(), ErrorKind::Condition),
        ("polling", "/busy", unmet.clone(), ErrorKind::Condition),
        ("callback", "/busy", unmet.clone(), ErrorKind::Condition),
    ];
    for (mode, path, rules, kind) in cases {
        let definition = json!({
            "request": {"method": "POST", "url": "x", "execution_mode": mode},
            "response": rules,
            "polling": {"method": "GET", "url": "x"},
        });
        let prepared = prepare_fixed(&action(definition), request(HttpMethod::Post, server.url() + path));

        let log = executor().0.run_to_completion(&prepared, &fire(), None).await;

        assert_eq!(failure_kind(&log), Some(kind), "{mode} {path}: {log:?}");
        assert_eq!(attempts(&log).len(), 1, "{mode} {path}: no poll, no wait after a failed request");
    }
    let ignored = prepare_fixed(
        &action(json!({"request": {"method": "POST", "url": "x"}, "response": unmet})),
        request(HttpMethod::Post, server.url() + "/busy"),
    );
    let log = executor().0.run_to_completion(&ignored, &fire(), None).await;
    assert!(log.result.unwrap().succeeded, "fire_and_forget reads nothing but the status");
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported_as_connection_failed() {
    let address = closed_port().await;
    let action = action(json!({"request": {"method": "GET", "url": "x"}}));
    let prepared = prepare_fixed(&action, request(HttpMethod::Get, format!("http://{address}/")));
    let (executor, timer) = executor();

    let log = executor.run_to_completion(&prepared, &fire(), None).await;

    assert_eq!(failure_kind(&log), Some(ErrorKind::ConnectionFailed));
    let reason = failure_reason(&log);
    assert!(reason.starts_with("Connection failed: ") && reason.ends_with("(gave up after 3 attempts)"), "{reason}");
    assert_eq!(attempts(&log).len(), 3);
    assert_eq!(timer.sleeps().len(), 2);
}

fn sync_action(response: Value) -> cutover_integrations_model::Action {
    action(json!({"request": {"method": "GET", "url": "x", "execution_mode": "sync"}, "response": response}))
}

const CHANGE: &str = r#"{"result": {"number": "CHG9", "state": "ok", "count": 2, "items": [{"id": "a"}, {"id": "b"}], "meta": {"k": 1}}}"#;

#[tokio::test]
async fn sync_maps_nested_values_and_arrays_to_custom_fields() {
    let mut server = mockito::Server::new_async().await;
    server.mock("GET", "/change").with_body(CHANGE).create_async().await;
    let action = sync_action(json!({
        "success_when": [{"path": "result.state", "equals": "ok"}, {"path": "$.result.count", "in": [1, 2]}],
        "map": {
            "Number": "result.number",
            "Ids": "$.result.items[*].id",
            "First": "result.items[0].id",
            "Count": "$.result.count",
            "Meta": "result.meta",
        },
    }));
    let prepared = prepare_fixed(&action, request(HttpMethod::Get, format!("{}/change", server.url())));
    let (executor, _) = executor();

    let log = executor.run_to_completion(&prepared, &fire(), None).await;

    let result = log.result.as_ref().unwrap();
    assert!(result.succeeded, "{log:?}");
    let expected: BTreeMap<String, FieldValue> = [
        ("Number", text("CHG9")),
        ("Ids", list(&["a", "b"])),
        ("First", text("a")),
        ("Count", text("2")),
        ("Meta", text(r#"{"k":1}"#)),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    assert_eq!(result.fields, expected);
}

#[tokio::test]
async fn deeply_nested_answers_fail_cleanly_or_map_within_the_json_limit() {
    let mut server = mockito::Server::new_async().await;
    // A third party answering 100,000 levels deep gets a clean failure, not a stack overflow.
    let abyss = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    server.mock("GET", "/abyss").with_body(abyss).create_async().await;
    // 100 levels, within serde_json's limit of 128: read, tested and mapped by bounded walks.
    let deep = format!("{{\"state\": \"ok\", \"deep\": {}1{}}}", "[".repeat(100), "]".repeat(100));
    server.mock("GET", "/deep").with_body(deep).create_async().await;
    let action = sync_action(json!({"success_when": [{"path": "state", "equals": "ok"}], "map": {"Deep": "deep"}}));
    let (executor, _) = executor();

    let prepared = prepare_fixed(&action, request(HttpMethod::Get, format!("{}/abyss", server.url())));
    let log = executor.run_to_completion(&prepared, &fire(), None).await;
    assert_eq!(failure_kind(&log), Some(ErrorKind::InvalidResponse), "{log:?}");
    assert_eq!(failure_reason(&log), "The response body is not JSON: recursion limit exceeded at line 1 column 128");

    let prepared = prepare_fixed(&action, request(HttpMethod::Get, format!("{}/deep", server.url())));
    let log = executor.run_to_completion(&prepared, &fire(), None).await;
    let result = log.result.as_ref().unwrap();
    assert!(result.succeeded, "{log:?}");
    let expected = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    assert_eq!(result.fields.get("Deep"), Some(&text(&expected)));
}

#[tokio::test]
async fn sync_fails_by_status_by_condition_and_by_mapping() {
    let mut server = mockito::Server::new_async().await;
    server.mock("GET", "/change").with_body(CHANGE).create_async().await;
    server.mock("GET", "/missing").with_status(404).create_async().await;
    server
        .mock("GET", "/refused")
        .with_status(400)
        .with_body("{\"errorMessages\": [\"Issue does not exist\"],\n\t \"errors\": {}}")
        .create_async()
        .await;
    server.mock("GET", "/accepted").with_status(202).with_body("{}").create_async().await;
    server.mock("GET", "/html").with_body("<html>").create_async().await;
    // A status error quotes the body, the third party's own words.
    let unexpected_200 = format!("HTTP 200 OK: {CHANGE}");
    // (path, response rules, expected kind, expected reason)
    let cases = [
        ("/missing", json!({}), ErrorKind::Status, "HTTP 404 Not Found"),
        ("/change", json!({"success_statuses": [202]}), ErrorKind::Status, unexpected_200.as_str()),
        (
            "/refused",
            json!({}),
            ErrorKind::Status,
            "HTTP 400 Bad Request: {\"errorMessages\": [\"Issue does not exist\"], \"errors\": {}}",
        ),
        (
            "/change",
            json!({"success_when": [{"path": "result.state", "equals": "done"}]}),
            ErrorKind::Condition,
            "Success condition not met: `result.state` equals \"done\" (`result.state` is \"ok\")",
        ),
        (
            "/change",
            json!({"failure_when": [{"path": "$.result.meta.k", "in": [1, 3]}]}),
            ErrorKind::Condition,
            "Failure condition met: `$.result.meta.k` is one of [1,3] (`$.result.meta.k` is 1)",
        ),
        (
            "/change",
            json!({"success_when": [{"path": "result.error", "exists": true}]}),
            ErrorKind::Condition,
            "Success condition not met: `result.error` exists (`result.error` matches nothing)",
        ),
        (
            "/change",
            json!({"map": {"Ticket": "result.ticket"}}),
            ErrorKind::Mapping,
            "Mapping `Ticket`: `result.ticket` matches nothing in the response",
        ),
        (
            "/html",
            json!({"map": {"Ticket": "result.ticket"}}),
            ErrorKind::InvalidResponse,
            "The response body is not JSON: expected value at line 1 column 1",
        ),
    ];
    for (path, rules, kind, reason) in cases {
        let prepared = prepare_fixed(&sync_action(rules.clone()), request(HttpMethod::Get, server.url() + path));
        let (executor, _) = executor();

        let log = executor.run_to_completion(&prepared, &fire(), None).await;

        assert_eq!(failure_kind(&log), Some(kind), "{path} {rules}");
        assert_eq!(failure_reason(&log), reason, "{path} {rules}");
        let attempt = attempts(&log)[0];
        assert_eq!(attempt.error.as_ref().map(|error| error.kind), Some(kind), "the attempt records it too");
    }
    let accepted = prepare_fixed(
        &sync_action(json!({"success_statuses": [202]})),
        request(HttpMethod::Get, server.url() + "/accepted"),
    );
    let log = executor().0.run_to_completion(&accepted, &fire(), None).await;
    assert!(log.result.unwrap().succeeded);
}

fn polling_action(polling: Value) -> cutover_integrations_model::Action {
    action(json!({
        "request": {"method": "POST", "url": "x", "execution_mode": "polling"},
        "response": {"map": {"Job": "id"}},
        "polling": polling,
    }))
}

/// Renders the first request to `/jobs` and polls to `/jobs/{{Response.id}}`.
fn polling_renderer(
    base: String,
) -> impl Fn(RequestPurpose, &Value) -> Result<cutover_integrations_http::OutgoingRequest, String> + Send + Sync {
    move |purpose, context| match purpose {
        RequestPurpose::Initial => Ok(request(HttpMethod::Post, format!("{base}/jobs"))),
        RequestPurpose::Poll => {
            let id = context["Response"]["id"].as_str().ok_or("Response.id is missing")?;
            Ok(request(HttpMethod::Get, format!("{base}/jobs/{id}")))
        }
        RequestPurpose::CancelNotice => Err("no cancel notice".to_owned()),
    }
}

#[tokio::test]
async fn polling_completes_on_the_third_poll_and_maps_the_last_response() {
    let mut server = mockito::Server::new_async().await;
    let start_job = server.mock("POST", "/jobs").with_body(r#"{"id": "job-7"}"#).expect(1).create_async().await;
    let pending = server.mock("GET", "/jobs/job-7").with_body(r#"{"state": "running"}"#).expect(2).create_async().await;
    let done = server
        .mock("GET", "/jobs/job-7")
        .with_body(r#"{"state": "closed", "result": {"hosts": ["h1", "h2"]}}"#)
        .expect(1)
        .create_async()
        .await;
    let action = polling_action(json!({
        "method": "GET", "url": "x", "interval_seconds": 10, "max_attempts": 5,
        "complete_when": [{"path": "state", "equals": "closed"}],
        "fail_when": [{"path": "state", "equals": "failed"}],
        "map": {"Hosts": "result.hosts"},
    }));
    let prepared = prepare(&action, polling_renderer(server.url()));
    let (executor, timer) = executor();

    let log = executor.run_to_completion(&prepared, &fire(), None).await;

    start_job.assert_async().await;
    pending.assert_async().await;
    done.assert_async().await;
    let result = log.result.as_ref().unwrap();
    assert!(result.succeeded, "{log:?}");
    assert_eq!(result.fields["Job"], text("job-7"));
    assert_eq!(result.fields["Hosts"], list(&["h1", "h2"]));
    let polls: Vec<_> = attempts(&log).iter().filter_map(|attempt| attempt.poll).collect();
    assert_eq!(polls, vec![1, 2, 3]);
    let waits: Vec<f64> = timer.sleeps().iter().map(|at| seconds_between(start(), *at)).collect();
    assert_eq!(waits, vec![10.0, 20.0, 30.0], "one interval before every poll");
    let keys: Vec<_> = attempts(&log).iter().map(|attempt| sent_header(attempt, "idempotency-key").unwrap()).collect();
    let key = &log.idempotency_key;
    assert_eq!(keys, vec![key.clone(), format!("{key}-poll-1"), format!("{key}-poll-2"), format!("{key}-poll-3")]);
}

#[tokio::test]
async fn polling_fails_on_a_fail_condition() {
    let mut server = mockito::Server::new_async().await;
    server.mock("POST", "/jobs").with_body(r#"{"id": "j"}"#).create_async().await;
    server.mock("GET", "/jobs/j").with_body(r#"{"state": "running"}"#).expect(1).create_async().await;
    server.mock("GET", "/jobs/j").with_body(r#"{"state": "failed"}"#).create_async().await;
    let action = polling_action(json!({
        "method": "GET", "url": "x", "interval_seconds": 5,
        "complete_when": [{"path": "state", "equals": "closed"}],
        "fail_when": [{"path": "state", "in": ["failed", "cancelled"]}],
    }));
    let prepared = prepare(&action, polling_renderer(server.url()));

    let log = executor().0.run_to_completion(&prepared, &fire(), None).await;

    assert_eq!(failure_kind(&log), Some(ErrorKind::Condition));
    assert_eq!(
        failure_reason(&log),
        r#"Fail condition met on poll 2: `state` is one of ["failed","cancelled"] (`state` is "failed")"#
    );
}

#[tokio::test]
async fn polling_gives_up_after_max_attempts() {
    let mut server = mockito::Server::new_async().await;
    server.mock("POST", "/jobs").with_body(r#"{"id": "j"}"#).create_async().await;
    let polls = server.mock("GET", "/jobs/j").with_body(r#"{"state": "running"}"#).expect(3).create_async().await;
    let action = polling_action(json!({
        "method": "GET", "url": "x", "interval_seconds": 1, "max_attempts": 3,
        "complete_when": [{"path": "state", "equals": "closed"}],
    }));
    let prepared = prepare(&action, polling_renderer(server.url()));

    let log = executor().0.run_to_completion(&prepared, &fire(), None).await;

    polls.assert_async().await;
    assert_eq!(failure_kind(&log), Some(ErrorKind::PollsExhausted));
    assert_eq!(
        failure_reason(&log),
        r#"Gave up after 3 polls: `state` equals "closed" never held (last: `state` is "running")"#
    );
}

#[tokio::test]
async fn polling_times_out_at_its_deadline() {
    let mut server = mockito::Server::new_async().await;
    server.mock("POST", "/jobs").with_body(r#"{"id": "j"}"#).create_async().await;
    let polls = server.mock("GET", "/jobs/j").with_body(r#"{"state": "running"}"#).expect(2).create_async().await;
    let action = polling_action(json!({
        "method": "GET", "url": "x", "interval_seconds": 10, "max_attempts": 100, "timeout_seconds": 25,
        "complete_when": [{"path": "state", "equals": "closed"}],
    }));
    let prepared = prepare(&action, polling_renderer(server.url()));
    let (executor, timer) = executor();

    let log = executor.run_to_completion(&prepared, &fire(), None).await;

    polls.assert_async().await;
    assert_eq!(failure_kind(&log), Some(ErrorKind::Timeout));
    assert_eq!(failure_reason(&log), "Timed out: polling did not complete within 25 s");
    let waits: Vec<f64> = timer.sleeps().iter().map(|at| seconds_between(start(), *at)).collect();
    assert_eq!(waits, vec![10.0, 20.0, 25.0]);
}

#[tokio::test]
async fn a_polling_fire_resumes_from_stored_state_in_another_executor() {
    let mut server = mockito::Server::new_async().await;
    server.mock("POST", "/jobs").with_body(r#"{"id": "job-9"}"#).expect(1).create_async().await;
    server.mock("GET", "/jobs/job-9").with_body(r#"{"state": "running"}"#).expect(1).create_async().await;
    server.mock("GET", "/jobs/job-9").with_body(r#"{"state": "closed"}"#).expect(1).create_async().await;
    let action = polling_action(json!({
        "method": "GET", "url": "x", "interval_seconds": 30,
        "complete_when": [{"path": "state", "equals": "closed"}],
    }));
    let prepared = prepare(&action, polling_renderer(server.url()));
    let fire = fire();
    let (first, _) = executor();
    let mut stored = serde_json::to_string(&first.begin(&prepared, &fire, random_idempotency_key())).unwrap();
    let mut keys = Vec::new();

    // Every step runs in a fresh executor, from the state as the store would keep it.
    let result = loop {
        let (executor, timer) = executor();
        let state: FireState = serde_json::from_str(&stored).unwrap();
        let step = executor.step(&prepared, &fire, state).await;
        for entry in &step.entries {
            if let LogEntry::Attempt(attempt) = entry {
                keys.push(sent_header(attempt, "idempotency-key").unwrap().to_owned());
            }
        }
        match step.outcome {
            StepOutcome::WaitUntil { at, state } => {
                assert_eq!(seconds_between(timer.now(), at), 30.0);
                stored = serde_json::to_string(&state).unwrap();
            }
            StepOutcome::Done(result) => break result,
            StepOutcome::AwaitCallback { .. } => panic!("a polling fire does not await a callback"),
        }
    };

    assert!(result.succeeded);
    assert_eq!(result.fields["Job"], text("job-9"));
    assert_eq!(keys.len(), 3);
    assert!(keys[1].starts_with(&keys[0]) && keys[2].starts_with(&keys[0]), "{keys:?}");
}

fn callback_action() -> cutover_integrations_model::Action {
    action(json!({
        "request": {"method": "POST", "url": "x", "execution_mode": "callback"},
        "callback": {"timeout_seconds": 600},
    }))
}

/// Renders the request with the callback URL and token in its body.
fn callback_prepared(base: String) -> cutover_integrations_http::PreparedAction {
    prepare(&callback_action(), move |_, context| {
        let mut outgoing = request(HttpMethod::Post, format!("{base}/work"));
        outgoing.body =
            Some(json!({"callback": context["Callback"]["url"], "token": context["Callback"]["token"]}).to_string());
        Ok(outgoing)
    })
}

fn callback_fire() -> cutover_integrations_http::FireContext {
    let authority = cutover_integrations_http::CallbackAuthority::new([9; 32], "https://cutover.example");
    fire().with_callback(authority.mint("fire-1"))
}

#[tokio::test]
async fn callback_completes_when_the_third_party_reports_success() {
    let mut server = mockito::Server::new_async().await;
    let token = callback_fire().callback.map(|ticket| secrecy::ExposeSecret::expose_secret(&ticket.token).to_owned());
    let work = server
        .mock("POST", "/work")
        .match_body(Matcher::Json(json!({
            "callback": "https://cutover.example/api/v1/callbacks/fire-1",
            "token": token.unwrap(),
        })))
        .with_status(202)
        .create_async()
        .await;
    let prepared = callback_prepared(server.url());
    let (sender, mut receiver) = tokio::sync::mpsc::channel(4);
    let progress = CallbackReport {
        status: CallbackStatus::Progress,
        message: Some("half way".into()),
        custom_fields: BTreeMap::new(),
    };
    let success = CallbackReport {
        status: CallbackStatus::Success,
        message: Some("deployed".into()),
        custom_fields: [("Build".to_owned(), text("b-12"))].into_iter().collect(),
    };
    sender.send(progress).await.unwrap();
    sender.send(success).await.unwrap();

    let log = executor().0.run_to_completion(&prepared, &callback_fire(), Some(&mut receiver)).await;

    work.assert_async().await;
    let result = log.result.as_ref().unwrap();
    assert!(result.succeeded, "{log:?}");
    assert_eq!(result.fields["Build"], text("b-12"));
    let notes: Vec<_> = log
        .entries
        .iter()
        .filter_map(|entry| match entry {
            LogEntry::Note(note) => Some(note.message.as_str()),
            LogEntry::Attempt(_) => None,
        })
        .collect();
    assert_eq!(notes[1..], ["Callback reported progress: half way", "Callback reported success: deployed"]);
    let sent = attempts(&log)[0].request.as_ref().unwrap().body.clone().unwrap();
    assert!(sent.contains("\"token\":\"[REDACTED]\""), "the callback token is a secret: {sent}");
}

#[tokio::test]
async fn callback_fails_when_no_report_arrives_before_the_deadline() {
    let mut server = mockito::Server::new_async().await;
    server.mock("POST", "/work").with_status(200).create_async().await;
    let prepared = callback_prepared(server.url());
    let (executor, timer) = executor();
    let (_sender, mut receiver) = tokio::sync::mpsc::channel::<CallbackReport>(1);

    let log = executor.run_to_completion(&prepared, &callback_fire(), Some(&mut receiver)).await;

    assert_eq!(failure_kind(&log), Some(ErrorKind::Timeout));
    assert_eq!(failure_reason(&log), "Timed out: no callback within 600 s");
    assert_eq!(seconds_between(start(), timer.now()), 600.0);
}

#[tokio::test]
async fn callback_reports_drive_the_step_api() {
    let mut server = mockito::Server::new_async().await;
    server.mock("POST", "/work").with_status(200).create_async().await;
    let prepared = callback_prepared(server.url());
    let (executor, timer) = executor();
    let fire = callback_fire();
    let state = executor.begin(&prepared, &fire, random_idempotency_key());

    let premature = executor.complete_callback(&prepared, &fire, state.clone(), report(CallbackStatus::Success));
    assert!(matches!(premature, Err(HttpError::InvalidState { .. })), "{premature:?}");

    let step = executor.step(&prepared, &fire, state).await;
    let StepOutcome::AwaitCallback { deadline, state } = step.outcome else { panic!("{:?}", step.outcome) };
    assert_eq!(seconds_between(start(), deadline), 600.0);
    let stored: FireState = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();

    let still = executor.step(&prepared, &fire, stored.clone()).await;
    assert!(matches!(still.outcome, StepOutcome::AwaitCallback { .. }), "before the deadline it keeps waiting");

    let failed = executor.complete_callback(&prepared, &fire, stored.clone(), report(CallbackStatus::Failure)).unwrap();
    let result = failed.outcome.result().unwrap();
    assert_eq!(result.failure.as_ref().unwrap().kind, ErrorKind::Reported);
    assert_eq!(result.failure.as_ref().unwrap().reason, "it broke");

    timer.advance_to(deadline);
    let late = executor.step(&prepared, &fire, stored).await;
    assert_eq!(late.outcome.result().unwrap().failure.as_ref().unwrap().kind, ErrorKind::Timeout);
}

fn report(status: CallbackStatus) -> CallbackReport {
    CallbackReport { status, message: Some("it broke".into()), custom_fields: BTreeMap::new() }
}

#[tokio::test]
async fn include_context_adds_cutover_context_and_headers() {
    let mut server = mockito::Server::new_async().await;
    let with_context = server
        .mock("POST", "/object")
        .match_header("x-cutover-runbook-id", "rb-1")
        .match_header("x-cutover-task-id", "task-1")
        .match_body(Matcher::PartialJson(json!({
            "text": "hi",
            "cutover_context": {
                "runbook": {"id": "rb-1", "name": "Release 42"},
                "task": {"id": "task-1", "name": "Deploy"},
                "action": {"name": "Test action"},
                "fire": {"id": "fire-1", "mode": "fire_and_forget"},
            },
        })))
        .create_async()
        .await;
    let array = server
        .mock("POST", "/array")
        .match_header("x-cutover-task-id", "task-1")
        .match_body(Matcher::Exact("[1,2]".to_owned()))
        .create_async()
        .await;
    let action = action(json!({"settings": {"include_context": true}, "request": {"method": "POST", "url": "x"}}));
    for (path, body) in [("/object", r#"{"text":"hi"}"#), ("/array", "[1,2]")] {
        let mut outgoing = request(HttpMethod::Post, server.url() + path);
        outgoing.body = Some(body.to_owned());
        let log = executor().0.run_to_completion(&prepare_fixed(&action, outgoing), &fire(), None).await;
        assert!(log.result.unwrap().succeeded, "{path}");
    }
    with_context.assert_async().await;
    array.assert_async().await;
}

#[tokio::test]
async fn cancel_notice_goes_to_the_webhook_with_a_default_message() {
    let mut server = mockito::Server::new_async().await;
    let webhook = server
        .mock("POST", "/cancelled")
        .match_body(Matcher::PartialJson(json!({
            "event": "fire_cancelled", "runbook_id": "rb-1", "task_id": "task-1", "fire_id": "fire-1",
        })))
        .create_async()
        .await;
    let with_webhook = action(json!({
        "settings": {"cancelable": true, "notify_webhook_on_cancel": {"url": "x"}},
        "request": {"method": "POST", "url": "x"},
    }));
    let base = server.url();
    let prepared = prepare(&with_webhook, move |purpose, _| match purpose {
        RequestPurpose::CancelNotice => Ok(request(HttpMethod::Post, format!("{base}/cancelled"))),
        _ => Ok(request(HttpMethod::Post, format!("{base}/work"))),
    });
    let (executor, _) = executor();
    // The key passed in (the engine's stored one) is the one the notice derives its own from.
    let state = executor.begin(&prepared, &fire(), "cutover-7-page-1-0a1b".to_owned());

    let notice = executor.notify_cancel(&prepared, &fire(), &state, 1).await.expect("a webhook is configured");

    webhook.assert_async().await;
    assert!(notice.delivered && notice.retry_at.is_none());
    let LogEntry::Attempt(attempt) = &notice.entries[0] else { panic!("an attempt") };
    assert_eq!(attempt.purpose, RequestPurpose::CancelNotice);
    assert_eq!(sent_header(attempt, "idempotency-key"), Some("cutover-7-page-1-0a1b-cancel"));

    let without = prepare_fixed(
        &action(json!({"request": {"method": "POST", "url": "x"}})),
        request(HttpMethod::Post, "http://x"),
    );
    assert!(executor.notify_cancel(&without, &fire(), &state, 1).await.is_none());
}

#[tokio::test]
async fn a_render_failure_fails_the_fire_without_sending() {
    let action = action(json!({"request": {"method": "POST", "url": "x"}}));
    let prepared = prepare(&action, |_, _| Err("missing value `CustomField.Nope` at 1:3".to_owned()));

    let log = executor().0.run_to_completion(&prepared, &fire(), None).await;

    assert_eq!(failure_kind(&log), Some(ErrorKind::Render));
    assert_eq!(failure_reason(&log), "Rendering failed: missing value `CustomField.Nope` at 1:3");
    assert!(attempts(&log)[0].request.is_none());
}

#[tokio::test]
async fn preview_renders_and_redacts_without_sending() {
    let action = action(json!({"request": {"method": "GET", "url": "x"}}));
    let prepared = prepare_fixed(&action, request(HttpMethod::Get, "http://127.0.0.1:9/ping?token=abc"));
    let (executor, _) = executor();
    let fire = fire();
    let state = executor.begin(&prepared, &fire, "cutover-3-ping-2-9f9f".to_owned());

    let record = executor.preview(&prepared, &fire, &state);

    assert!(record.response.is_none() && record.error.is_none());
    assert_eq!(
        record.request.unwrap().curl,
        "curl 'http://127.0.0.1:9/ping?token=[REDACTED]' -H 'Idempotency-Key: cutover-3-ping-2-9f9f'"
    );
}

#[tokio::test]
async fn response_bodies_are_capped_when_read_and_when_logged() {
    let mut server = mockito::Server::new_async().await;
    let big = format!(r#"{{"data": "{}"}}"#, "x".repeat(4096));
    server.mock("GET", "/big").with_body(&big).create_async().await;
    let mut config = config();
    config.response_body_limit = 1024;
    config.log_body_limit = 100;
    let url = server.url() + "/big";
    let cases = [
        (json!({"request": {"method": "GET", "url": "x"}}), None),
        (
            json!({"request": {"method": "GET", "url": "x", "execution_mode": "sync"}, "response": {"map": {"D": "data"}}}),
            Some("The response body is larger than the 1024-byte limit"),
        ),
    ];
    for (definition, failure) in cases {
        let prepared = prepare_fixed(&action(definition), request(HttpMethod::Get, url.clone()));

        let log = executor_with(config.clone()).0.run_to_completion(&prepared, &fire(), None).await;

        assert_eq!(failure_reason(&log), failure.unwrap_or_default());
        let response = attempts(&log)[0].response.clone().unwrap();
        assert_eq!(response.body.len(), 100);
        assert!(response.body_truncated);
    }
}
