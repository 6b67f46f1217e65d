//! Every catalog entry installed into the engine and run as a runbook task against a mock of its vendor on loopback
//! (real HTTP): the mock checks method, path, query, headers, auth and body shape and answers as the vendor documents;
//! the task succeeds with the mapped custom fields, or fails with the vendor's own message in its reason, and polling
//! entries reach their terminal states. One table, one `check`.

use cutover_integrations_core::UserCommand;
use cutover_integrations_core::auth::{AuthorizationCallback, StandardWebhooksAuth};
use cutover_integrations_core::model::{
    AuthSettings, FieldValue, IntegrationStatus, OAuth2Grant, RunMode, decode_webhook_secret,
};
use cutover_integrations_core::runbook::{Actor, Event};
use cutover_integrations_core::store::{ActionId, RunbookId};
use cutover_integrations_core::{Engine, EngineError, EngineEvent, OAuthStatus, OAuthTarget};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One request the vendor mock expects, and its answer.
struct Expect {
    method: &'static str,
    path: &'static str,
    /// Query parameters that must be present, decoded.
    query: &'static [(&'static str, &'static str)],
    /// Headers that must be present, exactly.
    headers: &'static [(&'static str, &'static str)],
    /// The body's shape, checked on the parsed JSON (or `Value::Null` when the body is not JSON).
    body: fn(&Value) -> bool,
    status: usize,
    /// The answer; `$DEDUP` is replaced by the request's `dedup_key`.
    answer: &'static str,
}

/// What the task ends with.
enum Outcome {
    /// Succeeded, with these custom field values (a value ending in `*` is a prefix).
    Succeeded(&'static [(&'static str, &'static str)]),
    /// Failed, the reason holding this text.
    Failed(&'static str),
}

struct Case {
    entry: &'static str,
    action: &'static str,
    /// Settings; `{base}` is the mock's URL.
    settings: &'static [(&'static str, &'static str)],
    fields: &'static [(&'static str, &'static str)],
    expect: &'static [Expect],
    outcome: Outcome,
}

fn any(_: &Value) -> bool {
    true
}

const SLACK: &[(&str, &str)] = &[
    ("base_url", "{base}"),
    ("client_id", "4242.1717"),
    ("client_secret", "slack-client-secret"),
    ("bot_token", "xoxb-test-token"),
    ("webhook_url", "{base}/services/T0/B0/XYZ"),
];
/// The access token Slack's `oauth.v2.access` mock hands out for the authorization code below.
const SLACK_ACCESS_TOKEN: &str = "xoxb-oauth-access-8642";
const SLACK_CODE: &str = "slack-code-1357";
const TEAMS: &[(&str, &str)] = &[("webhook_url", "{base}/workflows/abc/triggers/manual/paths/invoke")];
const JIRA: &[(&str, &str)] = &[("site_url", "{base}"), ("email", "ops@acme.test"), ("api_token", "atl-token-1")];
/// `Basic base64(ops@acme.test:atl-token-1)`.
const JIRA_AUTH: (&str, &str) = ("authorization", "Basic b3BzQGFjbWUudGVzdDphdGwtdG9rZW4tMQ==");
const SNOW: &[(&str, &str)] = &[
    ("instance_url", "{base}"),
    ("username", "cutover"),
    ("password", "snow-pass"),
    ("client_id", "snow-client"),
    ("client_secret", "snow-client-secret"),
];
/// `Basic base64(cutover:snow-pass)`.
const SNOW_AUTH: (&str, &str) = ("authorization", "Basic Y3V0b3Zlcjpzbm93LXBhc3M=");
const SNOW_FIELDS: &[(&str, &str)] =
    &[("ServiceNow Short Description", "Deploy 42"), ("ServiceNow Target State", "Implement (-1)")];
const SNOW_QUERY: &[(&str, &str)] = &[
    ("sysparm_query", "sys_id=abc123^stateIN-1,4"),
    ("sysparm_fields", "number,state,sys_id"),
    ("sysparm_limit", "1"),
];
const SNOW_CREATED: &str = r#"{"result": {"sys_id": "abc123", "number": "CHG0030001", "state": "-5"}}"#;
const PAGERDUTY: &[(&str, &str)] = &[("events_url", "{base}"), ("routing_key", "R0UT1NGKEY0000000000000000000000")];
const GITHUB: &[(&str, &str)] = &[("api_url", "{base}"), ("token", "ghp_test_token")];
const GITHUB_FIELDS: &[(&str, &str)] = &[
    ("GitHub Owner", "acme"),
    ("GitHub Repository", "app"),
    ("GitHub Workflow", "deploy.yml"),
    ("GitHub Ref", "main"),
];
const GITHUB_HEADERS: &[(&str, &str)] = &[
    ("authorization", "Bearer ghp_test_token"),
    ("accept", "application/vnd.github+json"),
    ("x-github-api-version", "2022-11-28"),
];
const GITHUB_DISPATCHED: &str = r#"{"workflow_run_id": 42, "run_url": "https://api.github.com/repos/acme/app/actions/runs/42", "html_url": "https://github.com/acme/app/actions/runs/42"}"#;
const HOOK: &[(&str, &str)] = &[("url", "{base}/webhooks/cutover"), ("secret", WEBHOOK_SECRET)];

fn slack_message(body: &Value) -> bool {
    body == &json!({"channel": "C0123", "text": "Release 42 starts"})
}

fn jira_issue(body: &Value) -> bool {
    let fields = &body["fields"];
    fields["project"]["key"] == "OPS"
        && fields["issuetype"]["name"] == "Task"
        && fields["summary"] == "Deploy 42"
        && fields["description"]["type"] == "doc"
        && fields["description"]["content"][0]["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("task Announce of runbook Catalog run"))
}

fn snow_change(body: &Value) -> bool {
    body == &json!({"short_description": "Deploy 42", "description": ""})
}

fn pagerduty_trigger(body: &Value) -> bool {
    body["routing_key"] == "R0UT1NGKEY0000000000000000000000"
        && body["event_action"] == "trigger"
        && body["dedup_key"].as_str().is_some_and(|key| key.starts_with("cutover-") && key.ends_with("-page"))
        && body["payload"]["summary"] == "Checkout is down"
        && body["payload"]["severity"] == "critical"
        && body["payload"]["source"] == "Cutover runbook Catalog run"
}

fn pagerduty_resolve(body: &Value) -> bool {
    body["event_action"] == "resolve"
        && body["dedup_key"].as_str().is_some_and(|key| key.starts_with("cutover-") && key.ends_with("-page"))
        && body.get("payload").is_none()
}

fn cases() -> Vec<Case> {
    vec![
        // Slack.
        Case {
            entry: "slack",
            action: "Post a message (bot token)",
            settings: SLACK,
            fields: &[("Slack Channel", "C0123"), ("Slack Message", "Release 42 starts")],
            expect: &[Expect {
                method: "POST",
                path: "/api/chat.postMessage",
                query: &[],
                headers: &[
                    ("authorization", "Bearer xoxb-test-token"),
                    ("content-type", "application/json; charset=utf-8"),
                ],
                body: slack_message,
                status: 200,
                answer: r#"{"ok": true, "channel": "C0123", "ts": "1503435956.000247", "message": {"text": "Release 42 starts"}}"#,
            }],
            outcome: Outcome::Succeeded(&[("Slack Message Timestamp", "1503435956.000247")]),
        },
        Case {
            entry: "slack",
            action: "Post a message (bot token)",
            settings: SLACK,
            fields: &[("Slack Channel", "C0123"), ("Slack Message", "Release 42 starts")],
            expect: &[Expect {
                method: "POST",
                path: "/api/chat.postMessage",
                query: &[],
                headers: &[("authorization", "Bearer xoxb-test-token")],
                body: slack_message,
                status: 200,
                answer: r#"{"ok": false, "error": "channel_not_found"}"#,
            }],
            outcome: Outcome::Failed(r#"`$.error` is "channel_not_found""#),
        },
        // The OAuth action: `check` first runs the authorization code flow against the mock (see `authorize`).
        Case {
            entry: "slack",
            action: "Post a message (OAuth)",
            settings: SLACK,
            fields: &[("Slack Channel", "C0123"), ("Slack Message", "Release 42 starts")],
            expect: &[Expect {
                method: "POST",
                path: "/api/chat.postMessage",
                query: &[],
                headers: &[
                    ("authorization", "Bearer xoxb-oauth-access-8642"),
                    ("content-type", "application/json; charset=utf-8"),
                ],
                body: slack_message,
                status: 200,
                answer: r#"{"ok": true, "channel": "C0123", "ts": "1503435957.000311", "message": {"text": "Release 42 starts"}}"#,
            }],
            outcome: Outcome::Succeeded(&[("Slack Message Timestamp", "1503435957.000311")]),
        },
        Case {
            entry: "slack",
            action: "Post a message (OAuth)",
            settings: SLACK,
            fields: &[("Slack Channel", "C0123"), ("Slack Message", "Release 42 starts")],
            expect: &[Expect {
                method: "POST",
                path: "/api/chat.postMessage",
                query: &[],
                headers: &[("authorization", "Bearer xoxb-oauth-access-8642")],
                body: slack_message,
                status: 200,
                answer: r#"{"ok": false, "error": "not_in_channel"}"#,
            }],
            outcome: Outcome::Failed(r#"`$.error` is "not_in_channel""#),
        },
        Case {
            entry: "slack",
            action: "Post via incoming webhook",
            settings: SLACK,
            fields: &[("Slack Message", "Release 42 starts")],
            expect: &[Expect {
                method: "POST",
                path: "/services/T0/B0/XYZ",
                query: &[],
                headers: &[("content-type", "application/json")],
                body: |body| body == &json!({"text": "Release 42 starts"}),
                status: 200,
                answer: "ok",
            }],
            outcome: Outcome::Succeeded(&[]),
        },
        Case {
            entry: "slack",
            action: "Post via incoming webhook",
            settings: SLACK,
            fields: &[("Slack Message", "Release 42 starts")],
            expect: &[Expect {
                method: "POST",
                path: "/services/T0/B0/XYZ",
                query: &[],
                headers: &[],
                body: any,
                status: 404,
                answer: "channel_not_found",
            }],
            outcome: Outcome::Failed("HTTP 404 Not Found: channel_not_found"),
        },
        // Microsoft Teams.
        Case {
            entry: "microsoft-teams",
            action: "Post an Adaptive Card",
            settings: TEAMS,
            fields: &[("Teams Title", "Release 42"), ("Teams Message", "Deployment starts")],
            expect: &[Expect {
                method: "POST",
                path: "/workflows/abc/triggers/manual/paths/invoke",
                query: &[],
                headers: &[("content-type", "application/json")],
                body: |body| {
                    let attachment = &body["attachments"][0];
                    let card = &attachment["content"];
                    body["type"] == "message"
                        && attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
                        && card["type"] == "AdaptiveCard"
                        && card["version"] == "1.4"
                        && card["body"][0]["text"] == "Release 42"
                        && card["body"][1]["text"] == "Deployment starts"
                        && card["body"][2]["facts"][1]["value"] == "Announce"
                },
                status: 202,
                answer: "",
            }],
            outcome: Outcome::Succeeded(&[]),
        },
        Case {
            entry: "microsoft-teams",
            action: "Post an Adaptive Card",
            settings: TEAMS,
            fields: &[("Teams Title", "Release 42"), ("Teams Message", "Deployment starts")],
            expect: &[Expect {
                method: "POST",
                path: "/workflows/abc/triggers/manual/paths/invoke",
                query: &[],
                headers: &[],
                body: any,
                status: 400,
                answer: r#"{"error": {"code": "InvalidRequestContent", "message": "The input body for trigger 'manual' of type 'Request' did not match its schema definition."}}"#,
            }],
            outcome: Outcome::Failed("InvalidRequestContent"),
        },
        // Jira Cloud.
        Case {
            entry: "jira-cloud",
            action: "Create an issue",
            settings: JIRA,
            fields: &[("Jira Project Key", "OPS"), ("Jira Issue Type", "Task"), ("Jira Summary", "Deploy 42")],
            expect: &[Expect {
                method: "POST",
                path: "/rest/api/3/issue",
                query: &[],
                headers: &[JIRA_AUTH, ("accept", "application/json")],
                body: jira_issue,
                status: 201,
                answer: r#"{"id": "10000", "key": "OPS-24", "self": "https://acme.atlassian.net/rest/api/3/issue/10000"}"#,
            }],
            outcome: Outcome::Succeeded(&[("Jira Issue Key", "OPS-24")]),
        },
        Case {
            entry: "jira-cloud",
            action: "Create an issue",
            settings: JIRA,
            fields: &[("Jira Project Key", "OPS"), ("Jira Issue Type", "Task"), ("Jira Summary", "Deploy 42")],
            expect: &[Expect {
                method: "POST",
                path: "/rest/api/3/issue",
                query: &[],
                headers: &[JIRA_AUTH],
                body: jira_issue,
                status: 400,
                answer: r#"{"errorMessages": [], "errors": {"issuetype": "Specify an issue type"}}"#,
            }],
            outcome: Outcome::Failed(
                r#"HTTP 400 Bad Request: {"errorMessages": [], "errors": {"issuetype": "Specify an issue type"}}"#,
            ),
        },
        Case {
            entry: "jira-cloud",
            action: "Add a comment",
            settings: JIRA,
            fields: &[("Jira Issue Key", "OPS-24"), ("Jira Comment", "Deployed")],
            expect: &[Expect {
                method: "POST",
                path: "/rest/api/3/issue/OPS-24/comment",
                query: &[],
                headers: &[JIRA_AUTH],
                body: |body| {
                    body["body"]["type"] == "doc" && body["body"]["content"][0]["content"][0]["text"] == "Deployed"
                },
                status: 201,
                answer: r#"{"id": "10010", "body": {"type": "doc", "version": 1, "content": []}}"#,
            }],
            outcome: Outcome::Succeeded(&[]),
        },
        Case {
            entry: "jira-cloud",
            action: "Transition an issue",
            settings: JIRA,
            fields: &[("Jira Issue Key", "OPS-24"), ("Jira Transition Id", "31")],
            expect: &[Expect {
                method: "POST",
                path: "/rest/api/3/issue/OPS-24/transitions",
                query: &[],
                headers: &[JIRA_AUTH],
                body: |body| body == &json!({"transition": {"id": "31"}}),
                status: 204,
                answer: "",
            }],
            outcome: Outcome::Succeeded(&[]),
        },
        Case {
            entry: "jira-cloud",
            action: "Transition an issue",
            settings: JIRA,
            fields: &[("Jira Issue Key", "OPS-24"), ("Jira Transition Id", "99")],
            expect: &[Expect {
                method: "POST",
                path: "/rest/api/3/issue/OPS-24/transitions",
                query: &[],
                headers: &[JIRA_AUTH],
                body: any,
                status: 400,
                answer: r#"{"errorMessages": ["Transition id '99' is not valid for this issue."], "errors": {}}"#,
            }],
            outcome: Outcome::Failed("Transition id '99' is not valid for this issue."),
        },
        // ServiceNow.
        Case {
            entry: "servicenow",
            action: "Create a change request",
            settings: SNOW,
            fields: SNOW_FIELDS,
            expect: &[
                Expect {
                    method: "POST",
                    path: "/api/now/table/change_request",
                    query: &[],
                    headers: &[SNOW_AUTH, ("accept", "application/json")],
                    body: snow_change,
                    status: 201,
                    answer: SNOW_CREATED,
                },
                Expect {
                    method: "GET",
                    path: "/api/now/table/change_request",
                    query: SNOW_QUERY,
                    headers: &[SNOW_AUTH],
                    body: any,
                    status: 200,
                    answer: r#"{"result": []}"#,
                },
                Expect {
                    method: "GET",
                    path: "/api/now/table/change_request",
                    query: SNOW_QUERY,
                    headers: &[SNOW_AUTH],
                    body: any,
                    status: 200,
                    answer: r#"{"result": [{"number": "CHG0030001", "state": "-1", "sys_id": "abc123"}]}"#,
                },
            ],
            outcome: Outcome::Succeeded(&[
                ("ServiceNow Change Number", "CHG0030001"),
                ("ServiceNow Change State", "-1"),
            ]),
        },
        Case {
            entry: "servicenow",
            action: "Create a change request",
            settings: SNOW,
            fields: SNOW_FIELDS,
            expect: &[
                Expect {
                    method: "POST",
                    path: "/api/now/table/change_request",
                    query: &[],
                    headers: &[SNOW_AUTH],
                    body: snow_change,
                    status: 201,
                    answer: SNOW_CREATED,
                },
                Expect {
                    method: "GET",
                    path: "/api/now/table/change_request",
                    query: SNOW_QUERY,
                    headers: &[SNOW_AUTH],
                    body: any,
                    status: 200,
                    answer: r#"{"result": [{"number": "CHG0030001", "state": "4", "sys_id": "abc123"}]}"#,
                },
            ],
            outcome: Outcome::Failed(r#"Fail condition met on poll 1: `$.result[0].state` equals "4""#),
        },
        Case {
            entry: "servicenow",
            action: "Create a change request",
            settings: SNOW,
            fields: SNOW_FIELDS,
            expect: &[Expect {
                method: "POST",
                path: "/api/now/table/change_request",
                query: &[],
                headers: &[SNOW_AUTH],
                body: any,
                status: 403,
                answer: r#"{"error": {"message": "Operation Failed", "detail": "ACL Exception Insert Failed due to security constraints"}, "status": "failure"}"#,
            }],
            outcome: Outcome::Failed("ACL Exception Insert Failed due to security constraints"),
        },
        Case {
            entry: "servicenow",
            action: "Create a change request (OAuth)",
            settings: SNOW,
            fields: SNOW_FIELDS,
            expect: &[
                Expect {
                    method: "POST",
                    path: "/oauth_token.do",
                    query: &[],
                    headers: &[],
                    body: any,
                    status: 200,
                    answer: r#"{"access_token": "snow-access-1", "token_type": "Bearer", "expires_in": 1799, "scope": "useraccount"}"#,
                },
                Expect {
                    method: "POST",
                    path: "/api/now/table/change_request",
                    query: &[],
                    headers: &[("authorization", "Bearer snow-access-1")],
                    body: snow_change,
                    status: 201,
                    answer: SNOW_CREATED,
                },
                Expect {
                    method: "GET",
                    path: "/api/now/table/change_request",
                    query: SNOW_QUERY,
                    headers: &[("authorization", "Bearer snow-access-1")],
                    body: any,
                    status: 200,
                    answer: r#"{"result": [{"number": "CHG0030001", "state": "-1", "sys_id": "abc123"}]}"#,
                },
            ],
            outcome: Outcome::Succeeded(&[("ServiceNow Change Number", "CHG0030001")]),
        },
        // PagerDuty.
        Case {
            entry: "pagerduty",
            action: "Trigger an alert",
            settings: PAGERDUTY,
            fields: &[("PagerDuty Summary", "Checkout is down"), ("PagerDuty Severity", "critical")],
            expect: &[Expect {
                method: "POST",
                path: "/v2/enqueue",
                query: &[],
                headers: &[("content-type", "application/json")],
                body: pagerduty_trigger,
                status: 202,
                answer: r#"{"status": "success", "message": "Event processed", "dedup_key": "$DEDUP"}"#,
            }],
            outcome: Outcome::Succeeded(&[("PagerDuty Dedup Key", "cutover-*")]),
        },
        Case {
            entry: "pagerduty",
            action: "Trigger an alert",
            settings: PAGERDUTY,
            fields: &[("PagerDuty Summary", "Checkout is down"), ("PagerDuty Severity", "critical")],
            expect: &[Expect {
                method: "POST",
                path: "/v2/enqueue",
                query: &[],
                headers: &[],
                body: any,
                status: 400,
                answer: r#"{"status": "invalid event", "message": "Event object is invalid", "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"]}"#,
            }],
            outcome: Outcome::Failed("Length of 'routing_key' is incorrect (should be 32 characters)"),
        },
        Case {
            entry: "pagerduty",
            action: "Resolve an alert",
            settings: PAGERDUTY,
            fields: &[("PagerDuty Trigger Task", "page")],
            expect: &[Expect {
                method: "POST",
                path: "/v2/enqueue",
                query: &[],
                headers: &[],
                body: pagerduty_resolve,
                status: 202,
                answer: r#"{"status": "success", "message": "Event processed", "dedup_key": "$DEDUP"}"#,
            }],
            outcome: Outcome::Succeeded(&[("PagerDuty Dedup Key", "cutover-*")]),
        },
        // GitHub Actions.
        Case {
            entry: "github-actions",
            action: "Run a workflow",
            settings: GITHUB,
            fields: GITHUB_FIELDS,
            expect: &[
                Expect {
                    method: "POST",
                    path: "/repos/acme/app/actions/workflows/deploy.yml/dispatches",
                    query: &[],
                    headers: GITHUB_HEADERS,
                    body: |body| body == &json!({"ref": "main", "return_run_details": true}),
                    status: 200,
                    answer: GITHUB_DISPATCHED,
                },
                Expect {
                    method: "GET",
                    path: "/repos/acme/app/actions/runs/42",
                    query: &[],
                    headers: GITHUB_HEADERS,
                    body: any,
                    status: 200,
                    answer: r#"{"id": 42, "status": "in_progress", "conclusion": null}"#,
                },
                Expect {
                    method: "GET",
                    path: "/repos/acme/app/actions/runs/42",
                    query: &[],
                    headers: GITHUB_HEADERS,
                    body: any,
                    status: 200,
                    answer: r#"{"id": 42, "status": "completed", "conclusion": "success"}"#,
                },
            ],
            outcome: Outcome::Succeeded(&[
                ("GitHub Conclusion", "success"),
                ("GitHub Run URL", "https://github.com/acme/app/actions/runs/42"),
            ]),
        },
        Case {
            entry: "github-actions",
            action: "Run a workflow",
            settings: GITHUB,
            fields: GITHUB_FIELDS,
            expect: &[
                Expect {
                    method: "POST",
                    path: "/repos/acme/app/actions/workflows/deploy.yml/dispatches",
                    query: &[],
                    headers: GITHUB_HEADERS,
                    body: any,
                    status: 200,
                    answer: GITHUB_DISPATCHED,
                },
                Expect {
                    method: "GET",
                    path: "/repos/acme/app/actions/runs/42",
                    query: &[],
                    headers: GITHUB_HEADERS,
                    body: any,
                    status: 200,
                    answer: r#"{"id": 42, "status": "completed", "conclusion": "failure"}"#,
                },
            ],
            outcome: Outcome::Failed(r#"(`$.conclusion` is "failure")"#),
        },
        Case {
            entry: "github-actions",
            action: "Run a workflow",
            settings: GITHUB,
            fields: GITHUB_FIELDS,
            expect: &[Expect {
                method: "POST",
                path: "/repos/acme/app/actions/workflows/deploy.yml/dispatches",
                query: &[],
                headers: GITHUB_HEADERS,
                body: any,
                status: 422,
                answer: r#"{"message": "No ref found for: main", "documentation_url": "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event", "status": "422"}"#,
            }],
            outcome: Outcome::Failed("HTTP 422 Unprocessable Entity: {\"message\": \"No ref found for: main\""),
        },
        // Standard Webhooks.
        Case {
            entry: "standard-webhooks",
            action: "Send a signed event",
            settings: HOOK,
            fields: &[("Webhook Event Type", "cutover.task.started"), ("Webhook Message", "hello")],
            expect: &[Expect {
                method: "POST",
                path: "/webhooks/cutover",
                query: &[],
                headers: &[("content-type", "application/json")],
                body: |body| {
                    body["type"] == "cutover.task.started"
                        && body["data"]["task"]["id"] == "page"
                        && body["data"]["message"] == "hello"
                },
                status: 204,
                answer: "",
            }],
            outcome: Outcome::Succeeded(&[]),
        },
        Case {
            entry: "standard-webhooks",
            action: "Send a signed event",
            settings: HOOK,
            fields: &[("Webhook Event Type", "cutover.task.started")],
            expect: &[Expect {
                method: "POST",
                path: "/webhooks/cutover",
                query: &[],
                headers: &[],
                body: any,
                status: 400,
                answer: r#"{"error": "unknown event type"}"#,
            }],
            outcome: Outcome::Failed(r#"HTTP 400 Bad Request: {"error": "unknown event type"}"#),
        },
    ]
}

/// Whether a Standard Webhooks request carries a valid signature, its id being its idempotency key.
fn signed(request: &mockito::Request) -> bool {
    let header =
        |name: &str| request.header(name).first().and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    let (id, timestamp, signature) = (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
    let Ok(timestamp) = timestamp.parse::<i64>() else { return false };
    let key = decode_webhook_secret(WEBHOOK_SECRET).expect("valid");
    let clock = Arc::new(cutover_integrations_core::auth::SystemClock);
    let expected =
        StandardWebhooksAuth::new(key, clock).signature(&id, timestamp, request.body().unwrap_or(&Vec::new()));
    !id.is_empty() && id == header("idempotency-key") && signature == expected
}

async fn mock(server: &mut mockito::Server, expect: &'static Expect, hooked: bool) -> mockito::Mock {
    let mut mock = server.mock(expect.method, expect.path);
    if !expect.query.is_empty() {
        let matchers = expect
            .query
            .iter()
            .map(|(name, value)| mockito::Matcher::UrlEncoded((*name).into(), (*value).into()))
            .collect();
        mock = mock.match_query(mockito::Matcher::AllOf(matchers));
    }
    for (name, value) in expect.headers {
        mock = mock.match_header(*name, *value);
    }
    let check = expect.body;
    mock = mock.match_request(move |request| {
        let body: Value = serde_json::from_slice(request.body().unwrap_or(&Vec::new())).unwrap_or(Value::Null);
        check(&body) && (!hooked || signed(request))
    });
    mock.with_status(expect.status)
        .with_header("content-type", "application/json")
        .with_body_from_request(move |request| {
            let body: Value = serde_json::from_slice(request.body().unwrap_or(&Vec::new())).unwrap_or(Value::Null);
            expect.answer.replace("$DEDUP", body["dedup_key"].as_str().unwrap_or_default()).into_bytes()
        })
        .expect(1)
        .create_async()
        .await
}

async fn check(case: &'static Case) -> Result<(), String> {
    let what = format!("{} / {} ({})", case.entry, case.action, case.expect.last().map_or(0, |e| e.status));
    let directory = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", directory.path().join("catalog.db").display());
    let engine = Engine::builder()
        .database_url(url)
        .secret_key_base64(KEY)
        .allow_outbound("127.0.0.0/8".parse().expect("CIDR"))
        .build()
        .await
        .expect("engine");
    let running = engine.start();
    let mut server = mockito::Server::new_async().await;
    let mut mocks = Vec::new();
    for expect in case.expect {
        mocks.push(mock(&mut server, expect, case.entry == "standard-webhooks").await);
    }
    let settings: BTreeMap<String, String> =
        case.settings.iter().map(|(key, value)| ((*key).to_owned(), value.replace("{base}", &server.url()))).collect();
    let installed =
        engine.install_catalog_entry(case.entry, None, &settings).await.map_err(|e| format!("{what}: {e}"))?;
    // Edited like any other integration: polls every second here instead of every minute.
    let record = engine.integration(installed.applied.integration_id).await.map_err(|e| e.to_string())?;
    for (action, id) in record.integration.actions.iter().zip(&record.action_ids) {
        if action.polling.is_some() {
            engine.patch_action(*id, &json!({"polling": {"interval_seconds": 1}})).await.map_err(|e| e.to_string())?;
        }
    }
    let authorization = match record.integration.actions.iter().zip(&record.action_ids).find(|(action, _)| {
        action.name == case.action
            && matches!(&action.auth, AuthSettings::Oauth2(oauth) if oauth.grant == OAuth2Grant::AuthorizationCode)
    }) {
        Some((_, id)) => Some(authorize(&engine, &mut server, *id).await.map_err(|e| format!("{what}: {e}"))?),
        None => None,
    };
    let fields: serde_json::Map<String, Value> =
        case.fields.iter().map(|(name, value)| ((*name).to_owned(), Value::from(*value))).collect();
    let runbook = json!({
        "kind": "runbook",
        "name": "Catalog run",
        "tasks": [{"id": "page", "name": "Announce", "action": format!("{}/{}", installed.name, case.action), "custom_fields": fields}],
    })
    .to_string();
    let applied = engine.apply_definitions(&[("runbook.json", &runbook)]).await.map_err(|e| format!("{what}: {e}"))?;
    let id = applied.runbooks[0];
    let mut events = engine.subscribe();
    for command in [
        UserCommand::StartRunbook { mode: RunMode::Live },
        UserCommand::StartTask { task: "page".into(), force: false },
    ] {
        engine.command(id, command, &Actor::engine()).await.map_err(|e| format!("{what}: {e}"))?;
    }
    let status = wait_for_outcome(&mut events).await.ok_or_else(|| format!("{what}: no outcome"))?;
    for (index, mock) in mocks.iter().enumerate() {
        if !mock.matched_async().await {
            let expect = &case.expect[index];
            return Err(format!("{what}: no request matched {} {} (#{index})", expect.method, expect.path));
        }
    }
    let view = engine.runbook(id).await.map_err(|e| e.to_string())?;
    let task = view.state.task("page").expect("task");
    match &case.outcome {
        Outcome::Succeeded(expected) => {
            if status != IntegrationStatus::Succeeded {
                return Err(format!("{what}: {status:?}: {:?}", task.state.failure().map(ToString::to_string)));
            }
            let values = view.state.effective_custom_fields("page").expect("fields");
            for (name, wanted) in *expected {
                let found = match values.get(name) {
                    Some(FieldValue::Text(text)) => text.clone(),
                    other => return Err(format!("{what}: field {name} is {other:?}")),
                };
                let matches = match wanted.strip_suffix('*') {
                    Some(prefix) => found.starts_with(prefix),
                    None => found == *wanted,
                };
                if !matches {
                    return Err(format!("{what}: field {name} is `{found}`, not `{wanted}`"));
                }
            }
        }
        Outcome::Failed(expected) => {
            let reason = task.state.failure().map(ToString::to_string).unwrap_or_default();
            if status != IntegrationStatus::Failed || !reason.contains(expected) {
                return Err(format!("{what}: {status:?} `{reason}` does not hold `{expected}`"));
            }
        }
    }
    if let Some(mocks) = authorization {
        for mock in mocks {
            if !mock.matched_async().await {
                return Err(format!("{what}: the OAuth provider mock was not called as expected"));
            }
        }
    }
    if text_of_log(&engine, id).await?.contains(SLACK_ACCESS_TOKEN) {
        return Err(format!("{what}: the OAuth access token is in the actions log"));
    }
    // No secret setting reached the actions log.
    let text = text_of_log(&engine, id).await?;
    for (key, value) in case.settings {
        let secret = matches!(
            *key,
            "bot_token" | "api_token" | "password" | "client_secret" | "routing_key" | "token" | "secret"
        );
        if secret && text.contains(*value) {
            return Err(format!("{what}: the secret {key} is in the actions log"));
        }
    }
    running.shutdown().await;
    Ok(())
}

/// The whole actions log of the task `page`, as text.
async fn text_of_log(engine: &Engine, id: RunbookId) -> Result<String, String> {
    let fires = engine.store().task_fires(id, "page").await.map_err(|e| e.to_string())?;
    let log = engine.store().actions_log(fires[0].id).await.map_err(|e| e.to_string())?;
    Ok(log.iter().map(|record| record.record.clone()).collect())
}

/// Authorizes the functional user of `action` through the real authorization code flow, as an admin in a browser
/// would: the engine builds the provider URL (state, PKCE), the browser opens Slack's authorization page on the mock,
/// Slack redirects back with a code, and the engine exchanges it at `oauth.v2.access` (client credentials, the code, the
/// PKCE verifier and the exact redirect URI checked by the mock, which answers as Slack documents). Returns the
/// provider mocks, for the caller to check they were used.
async fn authorize(
    engine: &Engine,
    server: &mut mockito::Server,
    action: ActionId,
) -> Result<Vec<mockito::Mock>, String> {
    let redirect_uri = format!("{}api/v1/oauth/callback", engine.settings().public_url);
    let page = server
        .mock("GET", "/oauth/v2/authorize")
        .match_query(mockito::Matcher::AllOf(vec![
            mockito::Matcher::UrlEncoded("response_type".into(), "code".into()),
            mockito::Matcher::UrlEncoded("client_id".into(), "4242.1717".into()),
            mockito::Matcher::UrlEncoded("scope".into(), "chat:write".into()),
            mockito::Matcher::UrlEncoded("redirect_uri".into(), redirect_uri.clone()),
            mockito::Matcher::UrlEncoded("code_challenge_method".into(), "S256".into()),
        ]))
        .with_status(200)
        .with_header("content-type", "text/html")
        .with_body("<html>Allow Cutover to post in your workspace?</html>")
        .expect(1)
        .create_async()
        .await;
    // `Basic base64(4242.1717:slack-client-secret)`, which oauth.v2.access accepts as the client's credentials.
    let token = server
        .mock("POST", "/api/oauth.v2.access")
        .match_header("authorization", "Basic NDI0Mi4xNzE3OnNsYWNrLWNsaWVudC1zZWNyZXQ=")
        .match_header("content-type", "application/x-www-form-urlencoded")
        .match_body(mockito::Matcher::AllOf(vec![
            mockito::Matcher::UrlEncoded("grant_type".into(), "authorization_code".into()),
            mockito::Matcher::UrlEncoded("code".into(), SLACK_CODE.into()),
            mockito::Matcher::UrlEncoded("redirect_uri".into(), redirect_uri.clone()),
            mockito::Matcher::Regex("code_verifier=[A-Za-z0-9_~.-]{43,128}".into()),
        ]))
        .with_status(200)
        .with_header("content-type", "application/json")
        .with_body(format!(
            r#"{{"ok": true, "access_token": "{SLACK_ACCESS_TOKEN}", "token_type": "bot", "scope": "chat:write", "bot_user_id": "U0KRQLJ9H", "app_id": "A0KRD7HC3", "team": {{"name": "Acme", "id": "T9TK3CUKW"}}, "enterprise": null, "authed_user": {{"id": "U1234"}}}}"#
        ))
        .expect(1)
        .create_async()
        .await;
    let admin = engine.ensure_admin_token("admin@acme.test", "catalog-admin-token").await.map_err(|e| e.to_string())?;
    let target = OAuthTarget { action, task: None };
    let credential = engine.oauth_credential(&target, &admin).await.map_err(|e| e.to_string())?;
    let redirect = engine.begin_oauth(credential, &admin).await.map_err(|e| e.to_string())?;
    let query: BTreeMap<String, String> = redirect.url.query_pairs().into_owned().collect();
    let shown = reqwest::get(redirect.url.as_str()).await.map_err(|e| e.to_string())?;
    if !shown.status().is_success() {
        return Err(format!("Slack's authorization page answered {}", shown.status()));
    }
    let callback: AuthorizationCallback =
        serde_json::from_value(json!({"state": query.get("state"), "code": SLACK_CODE})).map_err(|e| e.to_string())?;
    engine.complete_oauth(&callback).await.map_err(|e| e.to_string())?;
    match engine.oauth_status(action).await.map_err(|e| e.to_string())? {
        OAuthStatus::Authorized { authorized: Some(by), .. } if by.user == "admin@acme.test" => Ok(vec![page, token]),
        other => Err(format!("after the callback the action is {other:?}")),
    }
}

async fn wait_for_outcome(events: &mut broadcast::Receiver<EngineEvent>) -> Option<IntegrationStatus> {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Event::IntegrationStatusChanged { status, .. } = &event.event
                        && matches!(status, IntegrationStatus::Succeeded | IntegrationStatus::Failed)
                    {
                        return Some(*status);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .await
    .ok()
    .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entry_runs_against_its_vendor() {
    let cases: &'static [Case] = Box::leak(cases().into_boxed_slice());
    let mut failures = Vec::new();
    let mut entries_run = std::collections::BTreeSet::new();
    for case in cases {
        entries_run.insert(case.entry);
        if let Err(failure) = check(case).await {
            failures.push(failure);
        }
    }
    let all: std::collections::BTreeSet<&str> =
        cutover_integrations_core::integration_catalog::entries().iter().map(|entry| entry.name).collect();
    assert_eq!(entries_run, all, "every entry has cases");
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[tokio::test]
async fn installing_refuses_bad_settings_and_taken_names() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", directory.path().join("install.db").display());
    let engine = Engine::builder().database_url(url).secret_key_base64(KEY).build().await.expect("engine");
    let settings = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
    };
    let refused = engine.install_catalog_entry("pagerduty", None, &settings(&[])).await;
    let Err(EngineError::InvalidInput { problems }) = refused else { panic!("{refused:?}") };
    assert_eq!(problems[0].path, "settings.routing_key");
    let installed = engine
        .install_catalog_entry("pagerduty", None, &settings(&[("routing_key", "R0UT1NGKEY")]))
        .await
        .expect("installed");
    assert_eq!(installed.parameters_set, ["pagerduty_routing_key"]);
    let parameters = engine.system_parameters().await.expect("parameters");
    let parameter = parameters.iter().find(|parameter| parameter.name == "pagerduty_routing_key").expect("stored");
    assert!(parameter.secret);
    let again = engine.install_catalog_entry("pagerduty", None, &settings(&[("routing_key", "R0UT1NGKEY")])).await;
    let Err(EngineError::InvalidInput { problems }) = again else { panic!("{again:?}") };
    assert_eq!(problems[0].message, "an integration named `PagerDuty` exists already");
    // Archived like any other.
    engine.archive_integration(installed.applied.integration_id, true).await.expect("archived");
    let record = engine.integration(installed.applied.integration_id).await.expect("record");
    assert!(record.integration.archived);
    assert_eq!(record.integration.integration_kind, cutover_integrations_core::model::IntegrationKind::Predefined);
}
