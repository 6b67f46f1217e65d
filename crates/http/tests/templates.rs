//! Actions prepared from their definitions with the template crate: `{{Response…}}` in polling templates, params,
//! `{{Callback…}}`, and errors that name the template at fault.

mod common;

use common::*;
use cutover_integrations_http::{CallbackAuthority, ErrorKind, Executor as _, HttpError, PreparedAction};
use cutover_integrations_model::FieldValue;
use mockito::Matcher;
use serde_json::json;

fn fire_at(base: &str) -> cutover_integrations_http::FireContext {
    cutover_integrations_http::FireContext::new(
        "fire-1",
        "rb-1",
        "task-1",
        json!({
            "CustomField": {"Change Number": "CHG 42", "Hosts": ["a", "b"]},
            "Task": {"name": "Deploy \"web\""},
            "Runbook": {"name": "Release"},
            "SystemParameter": {"base": base},
        }),
    )
}

#[tokio::test]
async fn polling_templates_read_the_first_response() {
    let mut server = mockito::Server::new_async().await;
    let create = server
        .mock("POST", "/changes")
        .match_body(Matcher::Json(json!({"number": "CHG 42", "task": "Deploy \"web\"", "hosts": ["a", "b"]})))
        .with_body(r#"{"result": {"sys_id": "abc/1", "number": "CHG0031"}}"#)
        .create_async()
        .await;
    let first = server
        .mock("GET", "/changes/abc%2F1")
        .match_query(Matcher::UrlEncoded("fields".into(), "state".into()))
        .match_header("x-change", "CHG0031")
        .with_body(r#"{"result": {"state": "new"}}"#)
        .expect(2)
        .create_async()
        .await;
    let closed = server
        .mock("GET", "/changes/abc%2F1")
        .match_query(Matcher::UrlEncoded("fields".into(), "state".into()))
        .with_body(r#"{"result": {"state": "closed", "close_code": "successful"}}"#)
        .expect(1)
        .create_async()
        .await;
    let definition = action(json!({
        "request": {
            "method": "POST",
            "url": "{{SystemParameter.base}}/changes",
            "payload": r#"{"number": "{{CustomField['Change Number']}}", "task": "{{Task.name}}", "hosts": {{CustomField.Hosts}}}"#,
            "execution_mode": "polling",
        },
        "response": {"map": {"Change": "result.number"}},
        "polling": {
            "method": "GET",
            "url": "{{SystemParameter.base}}/changes/{{Response.result.sys_id}}",
            "headers": {"X-Change": "{{Response.result.number}}"},
            "params": r#"{"fields": "state"}"#,
            "interval_seconds": 10,
            "complete_when": [{"path": "$.result.state", "equals": "closed"}],
            "map": {"Close code": "result.close_code"},
        },
    }));
    let prepared = PreparedAction::compile(&definition).unwrap();

    let log = executor().0.run_to_completion(&prepared, &fire_at(&server.url()), None).await;

    create.assert_async().await;
    first.assert_async().await;
    closed.assert_async().await;
    let result = log.result.unwrap();
    assert!(result.succeeded);
    assert_eq!(result.fields["Change"], FieldValue::Text("CHG0031".into()));
    assert_eq!(result.fields["Close code"], FieldValue::Text("successful".into()));
}

#[tokio::test]
async fn structured_payloads_and_params_go_out_as_json_and_queries() {
    let mut server = mockito::Server::new_async().await;
    let create = server
        .mock("POST", "/changes")
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(json!({
            "number": "CHG 42",
            "task": "Deploy \"web\"",
            "note": "line one\nline \"two\" 😀",
            "hosts": ["a", "b"],
            "count": 2,
            "fixed": {"enabled": true, "ratio": 0.5, "none": null},
        })))
        .with_body(r#"{"result": {"sys_id": "abc/1"}}"#)
        .create_async()
        .await;
    let poll = server
        .mock("GET", "/changes/abc%2F1")
        // Repeated keys for a list, in the structure's order.
        .match_query(Matcher::Exact("fields=state&task=Deploy%20%22web%22&host=a&host=b&limit=3".into()))
        .with_body(r#"{"result": {"state": "closed"}}"#)
        .expect(1)
        .create_async()
        .await;
    let definition = action(json!({
        "request": {
            "method": "POST",
            "url": "{{SystemParameter.base}}/changes",
            "payload": {
                "number": "{{CustomField['Change Number']}}",
                "task": "{{Task.name}}",
                "note": "line one\nline \"two\" 😀",
                "hosts": "{{CustomField.Hosts | json}}",
                "count": "{{CustomField.Hosts | size}}",
                "fixed": {"enabled": true, "ratio": 0.5, "none": null},
            },
            "execution_mode": "polling",
        },
        "polling": {
            "method": "GET",
            "url": "{{SystemParameter.base}}/changes/{{Response.result.sys_id}}",
            "params": {"fields": "state", "task": "{{Task.name}}", "host": "{{CustomField.Hosts | json}}", "limit": "{{CustomField.Hosts | size | plus: 1}}"},
            "interval_seconds": 10,
            "complete_when": [{"path": "$.result.state", "equals": "closed"}],
        },
    }));
    let prepared = PreparedAction::compile(&definition).unwrap();

    let log = executor().0.run_to_completion(&prepared, &fire_at(&server.url()), None).await;

    create.assert_async().await;
    poll.assert_async().await;
    assert!(log.result.unwrap().succeeded);
}

/// A polling payload and a cancel-webhook payload written as mappings go out as JSON the way the action's own does:
/// quotes, line breaks and emoji in values stay text, a single placeholder with a filter gives a typed value, and
/// `{{Response…}}` reads the first answer.
#[tokio::test]
async fn structured_polling_and_cancel_payloads_go_out_as_json() {
    let mut server = mockito::Server::new_async().await;
    let create = server.mock("POST", "/changes").with_body(r#"{"result": {"sys_id": "abc"}}"#).create_async().await;
    let poll = server
        .mock("POST", "/changes/abc/status")
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(json!({
            "id": "abc",
            "task": "Deploy \"web\"",
            "note": "line one\n😀 \"quoted\"",
            "hosts": ["a", "b"],
        })))
        .with_body(r#"{"state": "closed"}"#)
        .expect(1)
        .create_async()
        .await;
    let cancelled = server
        .mock("POST", "/cancelled")
        .match_header("content-type", "application/json")
        .match_body(Matcher::Json(json!({"change": "CHG 42", "count": 2, "why": ["cancelled", "Deploy \"web\""]})))
        .expect(1)
        .create_async()
        .await;
    let definition = action(json!({
        "settings": {
            "cancelable": true,
            "notify_webhook_on_cancel": {
                "url": "{{SystemParameter.base}}/cancelled",
                "payload": {
                    "change": "{{CustomField['Change Number']}}",
                    "count": "{{CustomField.Hosts | size}}",
                    "why": ["cancelled", "{{Task.name}}"],
                },
            },
        },
        "request": {"method": "POST", "url": "{{SystemParameter.base}}/changes", "execution_mode": "polling"},
        "polling": {
            "method": "POST",
            "url": "{{SystemParameter.base}}/changes/{{Response.result.sys_id}}/status",
            "payload": {
                "id": "{{Response.result.sys_id}}",
                "task": "{{Task.name}}",
                "note": "line one\n😀 \"quoted\"",
                "hosts": "{{CustomField.Hosts | json}}",
            },
            "interval_seconds": 10,
            "complete_when": [{"path": "$.state", "equals": "closed"}],
        },
    }));
    let prepared = PreparedAction::compile(&definition).unwrap();
    let fire = fire_at(&server.url());
    let (executor, _) = executor();

    let log = executor.run_to_completion(&prepared, &fire, None).await;
    let state = executor.begin(&prepared, &fire, "cutover-1-changes-1-00ff".to_owned());
    let notice = executor.notify_cancel(&prepared, &fire, &state, 1).await.expect("a cancel webhook");

    create.assert_async().await;
    poll.assert_async().await;
    cancelled.assert_async().await;
    assert!(log.result.unwrap().succeeded);
    assert!(notice.delivered, "{:?}", notice.entries);
}

#[tokio::test]
async fn callback_templates_carry_the_url_and_token() {
    let mut server = mockito::Server::new_async().await;
    let authority = CallbackAuthority::new([5; 32], "https://cutover.example");
    let ticket = authority.mint("fire-1");
    let token = secrecy::ExposeSecret::expose_secret(&ticket.token).to_owned();
    let work = server
        .mock("POST", "/work")
        .match_header("authorization", format!("Bearer {token}").as_str())
        .match_body(Matcher::Json(json!({"notify": "https://cutover.example/api/v1/callbacks/fire-1"})))
        .create_async()
        .await;
    let definition = action(json!({
        "request": {
            "method": "POST",
            "url": "{{SystemParameter.base}}/work",
            "headers": {"Authorization": "Bearer {{Callback.token}}"},
            "payload": r#"{"notify": "{{Callback.url}}"}"#,
            "execution_mode": "callback",
        },
    }));
    let prepared = PreparedAction::compile(&definition).unwrap();
    let executor = executor().0;
    let fire = fire_at(&server.url()).with_callback(ticket);

    let state = cutover_integrations_http::Executor::begin(&executor, &prepared, &fire, "templates-1".to_owned());
    let step = cutover_integrations_http::Executor::step(&executor, &prepared, &fire, state).await;

    work.assert_async().await;
    assert!(matches!(step.outcome, cutover_integrations_http::StepOutcome::AwaitCallback { .. }));
    assert!(authority.verify("fire-1", &token));
}

#[tokio::test]
async fn a_missing_value_fails_the_fire_with_kind_render() {
    let definition = action(json!({
        "request": {"method": "POST", "url": "https://example.com/x", "payload": r#"{"a": "{{CustomField.Nope}}"}"#},
    }));
    let prepared = PreparedAction::compile(&definition).unwrap();

    let log = executor().0.run_to_completion(&prepared, &fire_at("http://unused"), None).await;

    let failure = log.result.unwrap().failure.unwrap();
    assert_eq!(failure.kind, ErrorKind::Render);
    assert!(failure.reason.starts_with("Rendering failed: payload: "), "{}", failure.reason);
    assert!(failure.reason.contains("`CustomField.Nope` is missing"), "{}", failure.reason);
}

#[test]
fn compile_errors_name_the_template_or_path() {
    let cases = [
        (json!({"request": {"method": "POST", "url": "https://x/{{Task.name", "payload": "{}"}}), "request: url: "),
        (
            json!({
                "request": {"method": "GET", "url": "https://x", "execution_mode": "polling"},
                "polling": {"method": "GET", "url": "https://x/{{#if}}"},
            }),
            "polling: url: ",
        ),
        (
            json!({
                "request": {"method": "GET", "url": "https://x", "execution_mode": "sync"},
                "response": {"map": {"Ticket": "$.a["}},
            }),
            "response.map.Ticket: invalid path `$.a[`",
        ),
        (
            json!({
                "request": {"method": "GET", "url": "https://x", "execution_mode": "sync"},
                "response": {"success_when": [{"path": "a..b", "exists": true}]},
            }),
            "response.success_when[0].path: invalid path `a..b`: empty name before `.` at character 3",
        ),
        (
            json!({"request": {"method": "GET", "url": "https://x", "execution_mode": "polling"}}),
            "action `Test action` uses execution mode `polling` but has no `polling` section",
        ),
        (json!({"settings": {"cancelable": true}}), "action `Test action` is a draft: it has no request yet"),
    ];
    for (definition, expected) in cases {
        let error = PreparedAction::compile(&action(definition.clone())).unwrap_err();
        assert!(
            matches!(
                error,
                HttpError::Template { .. }
                    | HttpError::InvalidPath { .. }
                    | HttpError::MissingSection { .. }
                    | HttpError::Draft { .. }
            ),
            "{error:?}"
        );
        assert!(error.to_string().starts_with(expected), "{definition}: {error}");
    }
}
