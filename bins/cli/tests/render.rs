//! `cutover render` as users run it: the built binary, real files, stdout JSON, exit codes, secrets redacted.

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// A definition with a token-auth action whose payload echoes system parameters, and a GET action with params.
const DEFINITION: &str = r#"kind: integration
name: Tickets
custom_fields:
  - {name: Summary, type: textarea}
actions:
  - name: Open a ticket
    auth:
      type: token
      token_type: Bearer
      token: "{{SystemParameter['api_token']}}"
    request:
      method: POST
      url: "{{SystemParameter['base_url']}}/tickets/{{Runbook.id}}"
      headers: {Content-Type: application/json, X-Label: "{{Task.name | upcase}}"}
      payload: '{"summary":"{{CustomField[''Summary'']}}","duration":{{Task.duration}},"note":"{{SystemParameter[''flagged'']}} and {{SystemParameter[''api_token'']}}"}'
  - name: Search
    request:
      method: GET
      url: https://tickets.test/search
      params: '{"q":"{{CustomField[''Summary'']}}","limit":{{Task.duration | default: 10}}}'
"#;

const CONTEXT: &str = r#"{
  "CustomField": {"Summary": "Disk \"full\"\non db-1"},
  "Task": {"name": "Fix it", "duration": 30},
  "Runbook": {"id": 42},
  "SystemParameter": {
    "base_url": "https://tickets.test/api",
    "api_token": "tok-9f8e7d6c",
    "flagged": {"value": "hush-hush-1", "secret": true}
  }
}"#;

fn write(directory: &Path, name: &str, text: &str) -> PathBuf {
    let path = directory.join(name);
    std::fs::write(&path, text).expect("writing a test file");
    path
}

fn render(args: &[&str], definition: &Path, context: &Path) -> std::process::Output {
    cargo_bin_cmd!("cutover")
        .arg("render")
        .arg(definition)
        .arg("--context")
        .arg(context)
        .args(args)
        .output()
        .expect("running cutover")
}

fn stdout_json(output: &std::process::Output) -> Value {
    assert_eq!(output.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

#[test]
fn renders_with_secrets_redacted() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let definition = write(directory.path(), "tickets.yaml", DEFINITION);
    let context = write(directory.path(), "context.json", CONTEXT);
    let output = render(&["--action", "Open a ticket"], &definition, &context);
    let printed = stdout_json(&output);
    assert_eq!(
        printed,
        json!({
            "method": "POST",
            "url": "https://tickets.test/api/tickets/42",
            "headers": {"Content-Type": "application/json", "X-Label": "FIX IT", "Authorization": "Bearer [REDACTED]"},
            "body": "{\"summary\":\"Disk \\\"full\\\"\\non db-1\",\"duration\":30,\"note\":\"[REDACTED] and [REDACTED]\"}"
        })
    );
    let body: Value = serde_json::from_str(printed["body"].as_str().unwrap()).expect("the body is JSON");
    assert_eq!(body["summary"], "Disk \"full\"\non db-1");
    for secret in ["tok-9f8e7d6c", "hush-hush-1"] {
        assert!(!String::from_utf8_lossy(&output.stdout).contains(secret), "{secret} leaked");
        assert!(!String::from_utf8_lossy(&output.stderr).contains(secret), "{secret} leaked");
    }
}

#[test]
fn show_secrets_prints_them() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let definition = write(directory.path(), "tickets.yaml", DEFINITION);
    let context = write(directory.path(), "context.json", CONTEXT);
    let printed = stdout_json(&render(&["--action", "Open a ticket", "--show-secrets"], &definition, &context));
    assert_eq!(printed["headers"]["Authorization"], "Bearer tok-9f8e7d6c");
    assert!(printed["body"].as_str().unwrap().contains("\"note\":\"hush-hush-1 and tok-9f8e7d6c\""));
}

#[test]
fn params_land_in_the_query_string() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let definition = write(directory.path(), "tickets.yaml", DEFINITION);
    let context = write(directory.path(), "context.json", CONTEXT);
    let printed = stdout_json(&render(&["--action", "Search"], &definition, &context));
    assert_eq!(printed["method"], "GET");
    assert_eq!(printed["url"], "https://tickets.test/search?q=Disk%20%22full%22%0Aon%20db-1&limit=30");
    assert_eq!(printed["body"], Value::Null);
}

#[test]
fn the_slack_example_renders_with_its_oauth_header_shown_as_pending() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let definition = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/slack.yaml");
    let context = write(
        directory.path(),
        "context.json",
        r##"{"CustomField":{"Slack Channel":"#release","Slack Message":"Release 42 \"starts\"\n🎉"}}"##,
    );
    let printed = stdout_json(&render(&["--action", "Post to a channel"], &definition, &context));
    assert_eq!(printed["url"], "https://slack.com/api/chat.postMessage");
    assert_eq!(printed["body"], r##"{"channel":"#release","text":"Release 42 \"starts\"\n🎉"}"##);
    assert!(printed["headers"]["Authorization"].as_str().unwrap().starts_with("Bearer <OAuth 2"));
}

#[test]
fn a_missing_value_is_one_positioned_line_and_exit_1() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let definition = write(directory.path(), "tickets.yaml", DEFINITION);
    let context = write(
        directory.path(),
        "context.json",
        r#"{"Task":{"name":"x","duration":1},"Runbook":{"id":1},"SystemParameter":{"base_url":"https://t.test","api_token":"t","flagged":"f"}}"#,
    );
    let output = render(&["--action", "Open a ticket"], &definition, &context);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "{}: actions[0].request.payload: 1:15: `CustomField['Summary']` is missing (add `| default: …` if it is optional)",
            definition.display()
        )
    );
}

#[test]
fn an_unknown_action_lists_the_actions() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let definition = write(directory.path(), "tickets.yaml", DEFINITION);
    let context = write(directory.path(), "context.json", CONTEXT);
    let output = render(&["--action", "Close"], &definition, &context);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no action named `Close`; the actions are `Open a ticket`, `Search`"), "{stderr}");
}

#[test]
fn a_context_that_is_not_json_is_refused() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let definition = write(directory.path(), "tickets.yaml", DEFINITION);
    let context = write(directory.path(), "context.json", "{not json");
    let output = render(&["--action", "Search"], &definition, &context);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid template context: not JSON"));
}

#[test]
fn missing_arguments_are_a_usage_error() {
    let output = cargo_bin_cmd!("cutover").args(["render", "x.yaml"]).output().expect("running cutover");
    assert_eq!(output.status.code(), Some(2));
}
