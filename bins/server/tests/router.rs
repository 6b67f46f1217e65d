//! Router tests: every route called through `tower::ServiceExt::oneshot` on the real router over a real engine (SQLite
//! in a temporary directory; third parties are mockito servers over loopback): success, 401, 403 for each role
//! lacking the right, 404, 409, 422, and the error body shape.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use cutover_integrations_core::model::Role;
use cutover_integrations_core::store::NewUser;
use cutover_integrations_core::{Engine, EngineSettings, RunningEngine};
use cutover_integrations_test_support::fresh_sqlite_url;
use cutover_integrations_test_support::held_endpoint::held_endpoint;
use cutover_server::{Access, AppState, Limits, ROUTES, router};
use futures::StreamExt as _;
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::watch;
use tower::ServiceExt as _;

#[path = "support/openapi.rs"]
mod openapi_contract;

use openapi_contract::{Contract, Exchange};

/// The server's own OpenAPI document, read once: every answer of these tests is checked against it.
static CONTRACT: std::sync::OnceLock<Contract> = std::sync::OnceLock::new();

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

const ROLES: [Role; 6] =
    [Role::Viewer, Role::Operator, Role::RunbookAdmin, Role::CustomFieldsAdmin, Role::IntegrationsAdmin, Role::Admin];

struct App {
    router: Router,
    engine: Engine,
    tokens: BTreeMap<Role, String>,
    running: Option<RunningEngine>,
    _stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

async fn app() -> App {
    let dir = tempfile::tempdir().expect("temporary directory");
    let settings = EngineSettings {
        name: "router-test".into(),
        public_url: "http://127.0.0.1:9/".parse().expect("URL"),
        poll_interval: Duration::from_millis(20),
        ..EngineSettings::default()
    };
    let engine = Engine::builder()
        .database_url(fresh_sqlite_url(dir.path()))
        .secret_key_base64(KEY)
        .allow_outbound("127.0.0.0/8".parse().expect("CIDR"))
        .settings(settings)
        .build()
        .await
        .expect("engine");
    let running = Some(engine.start());
    let (stop, stopping) = watch::channel(false);
    let router = router(AppState::new(engine.clone(), stopping));
    let mut tokens = BTreeMap::new();
    for role in ROLES {
        let name = format!("{role:?}");
        let user =
            NewUser { name: name.clone(), email: format!("{}@example.com", name.to_lowercase()), roles: vec![role] };
        let created = engine.create_user(&user).await.expect("user");
        tokens.insert(role, created.token.expose_secret().to_owned());
    }
    if CONTRACT.get().is_none() {
        let request = Request::get("/api/v1/openapi.json").body(Body::empty()).expect("request");
        let response = router.clone().oneshot(request).await.expect("response");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        let _ = CONTRACT.set(Contract::new(serde_json::from_slice(&bytes).expect("the OpenAPI document")));
    }
    App { router, engine, tokens, running, _stop: stop, _dir: dir }
}

/// A request's answer: status, JSON body (or the text as a JSON string), and the `Location` header.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    body: Value,
    location: Option<String>,
    content_type: Option<String>,
    etag: Option<String>,
}

impl App {
    async fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<(&str, String)>) -> Answer {
        self.send_with(method, path, token, &[], body).await
    }

    /// [`App::send`] with request headers.
    async fn send_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, String)>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = match body {
            Some((content_type, body)) => request.header("content-type", content_type).body(Body::from(body)),
            None => request.body(Body::empty()),
        }
        .expect("request");
        let response = self.router.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (location, content_type, etag) = (header("location"), header("content-type"), header("etag"));
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()))
            .collect();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        let exchange = Exchange { method, path, status: status.as_u16(), headers: &headers, body: &body };
        if let Err(problems) = CONTRACT.get().expect("the OpenAPI document").check(&exchange) {
            panic!("the answer departs from the OpenAPI document: {problems}");
        }
        Answer { status, body, location, content_type, etag }
    }

    async fn call(&self, method: &str, path: &str, role: Role, body: Option<Value>) -> Answer {
        let body = body.map(|body| ("application/json", body.to_string()));
        self.send(method, path, Some(&self.tokens[&role]), body).await
    }

    async fn yaml(&self, path: &str, role: Role, text: &str) -> Answer {
        self.send("POST", path, Some(&self.tokens[&role]), Some(("application/yaml", text.to_owned()))).await
    }

    async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}

/// Asserts the status and, for errors, the contract's body shape and code.
#[track_caller]
fn expect(answer: &Answer, status: StatusCode, code: Option<&str>) {
    assert_eq!(answer.status, status, "{answer:?}");
    if status.is_client_error() || status.is_server_error() {
        let error = &answer.body["error"];
        assert!(error["message"].is_string() && error["details"].is_array(), "error body shape: {answer:?}");
        if let Some(code) = code {
            assert_eq!(error["code"], code, "{answer:?}");
        }
    }
}

fn detail_paths(answer: &Answer) -> Vec<String> {
    answer.body["error"]["details"]
        .as_array()
        .map(|details| details.iter().filter_map(|d| d["path"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn hooks(base: &str) -> String {
    format!(
        r#"
kind: integration
name: Hooks
custom_fields:
  - {{name: Message, type: textarea, required: true, restrict_to: [Post]}}
  - {{name: Env, type: select, options: [prod, staging]}}
actions:
  - name: Post
    settings: {{finish_task_on_success: true, cancelable: true}}
    auth: {{type: token, token: "{{{{SystemParameter['hook_token']}}}}"}}
    request:
      method: POST
      url: {base}/hook
      headers: {{Content-Type: application/json}}
      payload: '{{"text":"{{{{CustomField[''Message'']}}}}"}}'
  - name: Wait
    settings: {{finish_task_on_success: true, cancelable: true}}
    request:
      method: POST
      url: {base}/jobs
      headers: {{Content-Type: application/json}}
      payload: '{{"callback":"{{{{Callback.url}}}}","token":"{{{{Callback.token}}}}"}}'
      execution_mode: callback
    callback: {{timeout_seconds: 600}}
  - name: Plain
    request: {{method: GET, url: {base}/plain}}
"#
    )
}

const RUNBOOK: &str = r#"
kind: runbook
name: Release
tasks:
  - {id: announce, name: Announce, action: Hooks/Post, custom_fields: {Message: "hello \"42\""}}
  - {id: deploy, name: Deploy, predecessors: [announce]}
  - {id: approve, name: Approval, action: Hooks/Wait, predecessors: [deploy]}
  - {id: empty, name: Needs a message, action: Hooks/Post}
  - {id: plain, name: Plain, action: Hooks/Plain}
"#;

/// Applies the hooks integration (against `base`) and its secret parameter; returns the created runbook's id.
async fn setup(app: &App, base: &str) -> i64 {
    let parameter = json!({"name": "hook_token", "value": "hook-secret-4242", "secret": true});
    expect(
        &app.call("POST", "/api/v1/system-parameters", Role::IntegrationsAdmin, Some(parameter)).await,
        StatusCode::CREATED,
        None,
    );
    expect(&app.yaml("/api/v1/definitions", Role::IntegrationsAdmin, &hooks(base)).await, StatusCode::OK, None);
    let created = app.yaml("/api/v1/runbooks", Role::RunbookAdmin, RUNBOOK).await;
    expect(&created, StatusCode::CREATED, None);
    created.body["id"].as_i64().expect("runbook id")
}

/// Waits (bounded) until the task reaches `status`, reading it through the API.
async fn wait_for_status(app: &App, runbook: i64, task: &str, status: &str) -> Value {
    let path = format!("/api/v1/runbooks/{runbook}/tasks/{task}");
    for _ in 0..400 {
        let answer = app.call("GET", &path, Role::Viewer, None).await;
        if answer.body["integration_status"] == status {
            return answer.body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("task {task} never reached {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_checks_its_token_and_roles() {
    let app = app().await;
    for route in ROUTES {
        let path = route.full_path().replace("{id}", "1").replace("{task}", "t").replace("{fire}", "1");
        let method = route.method.as_str();
        match route.access {
            Access::Public => {
                if route.path != "/oauth/callback" {
                    let answer = app.send(method, &path, None, None).await;
                    assert!(answer.status.is_success(), "{method} {path} is public: {answer:?}");
                }
            }
            Access::CallbackToken => {
                expect(&app.send(method, &path, None, None).await, StatusCode::UNAUTHORIZED, Some("unauthenticated"));
            }
            Access::AnyOf(_) => {
                let anonymous = app.send(method, &path, None, None).await;
                expect(&anonymous, StatusCode::UNAUTHORIZED, Some("unauthenticated"));
                let forged = app.send(method, &path, Some("not-a-token"), None).await;
                expect(&forged, StatusCode::UNAUTHORIZED, Some("unauthenticated"));
                for role in ROLES {
                    if route.access.admits(&[role]) {
                        continue;
                    }
                    let answer = app.call(method, &path, role, None).await;
                    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{role:?} on {method} {path}: {answer:?}");
                    expect(&answer, StatusCode::FORBIDDEN, Some("forbidden"));
                }
                assert!(route.access.admits(&[Role::Admin]), "admin may call {method} {path}");
            }
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_created_with_a_token_shown_once() {
    let app = app().await;
    let body = json!({"name": "Ada", "email": "ada@example.com", "roles": ["operator", "viewer"]});
    let created = app.call("POST", "/api/v1/users", Role::Admin, Some(body.clone())).await;
    expect(&created, StatusCode::CREATED, None);
    let token = created.body["token"].as_str().expect("token").to_owned();
    assert_eq!(token.len(), 48);
    assert_eq!(created.body["roles"], json!(["operator", "viewer"]));
    let listed = app.call("GET", "/api/v1/users", Role::Admin, None).await;
    expect(&listed, StatusCode::OK, None);
    assert!(!listed.body.to_string().contains(&token), "tokens are shown once");
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(ROLES.len() + 1));
    // The new token works, with the new user's roles.
    let runbooks = app.send("GET", "/api/v1/runbooks", Some(&token), None).await;
    expect(&runbooks, StatusCode::OK, None);

    expect(
        &app.call("POST", "/api/v1/users", Role::Admin, Some(body)).await,
        StatusCode::CONFLICT,
        Some("already_exists"),
    );
    let invalid =
        app.call("POST", "/api/v1/users", Role::Admin, Some(json!({"name": " ", "email": "nope", "roles": []}))).await;
    expect(&invalid, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));
    assert_eq!(detail_paths(&invalid), ["name", "email", "roles"]);
    let wrong_role = json!({"name": "B", "email": "b@example.com", "roles": ["root"]});
    let wrong_role = app.call("POST", "/api/v1/users", Role::Admin, Some(wrong_role)).await;
    expect(&wrong_role, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));
    assert_eq!(detail_paths(&wrong_role), ["roles[0]"]);
    let malformed = app
        .send(
            "POST",
            "/api/v1/users",
            Some(&app.tokens[&Role::Admin]),
            Some(("application/json", "{\"name\":\n ]".into())),
        )
        .await;
    expect(&malformed, StatusCode::BAD_REQUEST, Some("malformed_json"));
    assert_eq!(malformed.body["error"]["details"][0]["line"], 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn definitions_apply_or_say_where_they_are_wrong() {
    let app = app().await;
    let slack =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/slack.yaml")).expect("example");
    let applied = app.yaml("/api/v1/definitions", Role::IntegrationsAdmin, &slack).await;
    expect(&applied, StatusCode::OK, None);
    assert_eq!(applied.body["integrations"][0]["created"], true);
    assert_eq!(applied.body["integrations"][0]["actions_created"], json!(["Post to a channel"]));
    let again = app.yaml("/api/v1/definitions", Role::Admin, &slack).await;
    assert_eq!(again.body["integrations"][0]["actions_updated"], json!(["Post to a channel"]));

    // Malformed text is a 400 with the parser's position; a well-formed file with errors is a 422 listing each.
    let malformed = app.yaml("/api/v1/definitions", Role::IntegrationsAdmin, "kind: integration\nname: [Slack\n").await;
    expect(&malformed, StatusCode::BAD_REQUEST, Some("malformed_yaml"));
    assert_eq!(malformed.body["error"]["details"][0]["line"], 3);
    let json_body = app
        .send(
            "POST",
            "/api/v1/definitions?file=broken.json",
            Some(&app.tokens[&Role::IntegrationsAdmin]),
            Some(("application/json", "{\"kind\": ".into())),
        )
        .await;
    expect(&json_body, StatusCode::BAD_REQUEST, Some("malformed_json"));
    assert_eq!(json_body.body["error"]["details"][0]["file"], "broken.json");
    let invalid =
        slack.replace("trigger: task_start", "trigger: task_begin").replace("    request:\n", "    requestt:\n");
    let invalid = app.yaml("/api/v1/definitions", Role::IntegrationsAdmin, &invalid).await;
    expect(&invalid, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_definition"));
    let paths = detail_paths(&invalid);
    assert!(
        paths.contains(&"actions[0].trigger".to_owned()) && paths.contains(&"actions[0].requestt".to_owned()),
        "{paths:?}"
    );
    assert!(invalid.body["error"]["details"][0]["line"].as_u64().is_some_and(|line| line > 1), "{invalid:?}");

    // The document decides the role it needs.
    let runbook = "kind: runbook\nname: R\ntasks:\n  - {id: a, name: A}\n";
    expect(
        &app.yaml("/api/v1/definitions", Role::IntegrationsAdmin, runbook).await,
        StatusCode::FORBIDDEN,
        Some("forbidden"),
    );
    expect(
        &app.yaml("/api/v1/definitions", Role::RunbookAdmin, &slack).await,
        StatusCode::FORBIDDEN,
        Some("forbidden"),
    );
    let created = app.yaml("/api/v1/definitions", Role::RunbookAdmin, runbook).await;
    expect(&created, StatusCode::OK, None);
    assert_eq!(created.body["runbooks"].as_array().map(Vec::len), Some(1));
    // Runbooks are checked against the stored integrations.
    let unknown = "kind: runbook\nname: R\ntasks:\n  - {id: a, name: A, action: Slack/Post to nowhere}\n";
    let unknown = app.yaml("/api/v1/definitions", Role::RunbookAdmin, unknown).await;
    expect(&unknown, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_definition"));
    assert_eq!(detail_paths(&unknown), ["tasks[0].action"]);
    app.stop().await;
}

/// The slack example with its payload replaced by `payload` (written in a single-quoted YAML scalar).
/// The Slack example with its (structured) payload replaced by the text form `payload`.
fn slack_with_payload(payload: &str) -> String {
    let slack =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/slack.yaml")).expect("example");
    let indent_of = |line: &str| line.len() - line.trim_start().len();
    let mut lines = slack.lines();
    let mut out = Vec::new();
    while let Some(line) = lines.next() {
        if !line.trim_start().starts_with("payload:") {
            out.push(line.to_owned());
            continue;
        }
        let indent = indent_of(line);
        out.push(format!("{}payload: '{}'", &line[..indent], payload.replace('\'', "''")));
        // The structure's lines are indented deeper than its key.
        for next in lines.by_ref() {
            if indent_of(next) <= indent {
                out.push(next.to_owned());
                break;
            }
        }
    }
    out.join("\n") + "\n"
}

/// The line and column (1-based) of the `nth` occurrence of `needle` in `text` (ASCII text).
fn position_of(text: &str, needle: &str, nth: usize) -> (u64, u64) {
    let offset = text.match_indices(needle).nth(nth).expect("occurrence").0;
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    (text[..offset].matches('\n').count() as u64 + 1, (offset - line_start) as u64 + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_definitions_get_a_positioned_error_and_the_server_keeps_answering() {
    let app = app().await;
    // 300 nested block sequences (602 bytes) used to overflow the stack and abort the process.
    let sequences = format!("{}x\n", "- ".repeat(300));
    let deep_yaml = app.yaml("/api/v1/definitions", Role::IntegrationsAdmin, &sequences).await;
    expect(&deep_yaml, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_definition"));
    let detail = &deep_yaml.body["error"]["details"][0];
    assert_eq!((&detail["line"], &detail["column"]), (&json!(1), &json!(129)), "{deep_yaml:?}");
    assert_eq!(detail["message"], "lists and mappings nest more than 64 levels deep");

    // 200 nested `{{#if}}` blocks in a payload (a 5 KB file) did the same through the template checker.
    let ifs = format!("{}{{\"a\": 1}}{}", "{{#if Task.name}}".repeat(200), "{{/if}}".repeat(200));
    let definition = slack_with_payload(&ifs);
    let deep_template = app.yaml("/api/v1/definitions", Role::IntegrationsAdmin, &definition).await;
    expect(&deep_template, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_definition"));
    let detail = &deep_template.body["error"]["details"][0];
    let (line, column) = position_of(&definition, "{{#if", 32);
    assert_eq!((&detail["line"], &detail["column"]), (&json!(line), &json!(column)), "{deep_template:?}");
    assert_eq!(detail["path"], "actions[0].request.payload");
    assert_eq!(detail["message"], "blocks nest more than 32 levels deep");

    // Deep JSON stops at serde_json's own limit, with its position.
    let arrays = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let token = Some(app.tokens[&Role::IntegrationsAdmin].as_str());
    let deep_json =
        app.send("POST", "/api/v1/definitions?file=deep.json", token, Some(("application/json", arrays))).await;
    expect(&deep_json, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_definition"));
    let detail = &deep_json.body["error"]["details"][0];
    assert_eq!((&detail["line"], &detail["message"]), (&json!(1), &json!("recursion limit exceeded")), "{deep_json:?}");
    assert!(detail["column"].as_u64().is_some_and(|column| column > 64), "{deep_json:?}");

    let health = app.send("GET", "/api/v1/healthz", None, None).await;
    expect(&health, StatusCode::OK, None);
    // The same limits let a valid definition through.
    let shallow =
        slack_with_payload(&format!("{}{{\"a\": 1}}{}", "{{#if Task.name}}".repeat(32), "{{/if}}".repeat(32)));
    expect(&app.yaml("/api/v1/definitions", Role::IntegrationsAdmin, &shallow).await, StatusCode::OK, None);
    app.stop().await;
}

/// A merge patch's members that are objects are patches in turn (RFC 7396): the document's `ActionPatch` says so, and
/// the server reads them so. A patch that fits the schema is applied (or refused by a rule the schema cannot say, 422);
/// one that does not fit is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_merge_patches_fit_the_documented_schema() {
    let app = app().await;
    setup(&app, "http://127.0.0.1:9").await;
    let listed = app.call("GET", "/api/v1/integrations", Role::Viewer, None).await;
    let id = listed.body["items"][0]["id"].as_i64().expect("id");
    let action = json!({
        "name": "Ping",
        "auth": {"type": "basic", "username": "ops", "password": "pw-secret-77"},
        "request": {"method": "POST", "url": "http://127.0.0.1:9/ping", "payload": "{\"n\": 1}"},
    });
    let actions = format!("/api/v1/integrations/{id}/actions");
    let added = app.call("POST", &actions, Role::IntegrationsAdmin, Some(action)).await;
    expect(&added, StatusCode::CREATED, None);
    let action_id = added.body["id"].as_i64().expect("action id");
    let path = format!("/api/v1/actions/{action_id}");
    let contract = CONTRACT.get().expect("the OpenAPI document");
    // (patch, fits the schema, status, the stored password after it, the request's headers after it)
    let cases = [
        (json!({"auth": {}}), true, StatusCode::OK, "pw-secret-77", json!({})),
        (json!({"settings": {}, "request": {}}), true, StatusCode::OK, "pw-secret-77", json!({})),
        (json!({"auth": {"password": "pw-new-88"}}), true, StatusCode::OK, "pw-new-88", json!({})),
        (json!({"request": {"headers": {"X-Trace": "1"}}}), true, StatusCode::OK, "pw-new-88", json!({"X-Trace": "1"})),
        (json!({"request": {"headers": {"X-Trace": null}}}), true, StatusCode::OK, "pw-new-88", json!({})),
        (json!({"auth": {"password": null}}), true, StatusCode::UNPROCESSABLE_ENTITY, "pw-new-88", json!({})),
        (json!({"auth": {"type": "token"}}), true, StatusCode::UNPROCESSABLE_ENTITY, "pw-new-88", json!({})),
        (json!({"auth": {"nope": 1}}), false, StatusCode::UNPROCESSABLE_ENTITY, "pw-new-88", json!({})),
        (json!({"auth": "basic"}), false, StatusCode::UNPROCESSABLE_ENTITY, "pw-new-88", json!({})),
        (json!({"auth": {"type": 5}}), false, StatusCode::UNPROCESSABLE_ENTITY, "pw-new-88", json!({})),
        (json!({"request": {"url": 5}}), false, StatusCode::UNPROCESSABLE_ENTITY, "pw-new-88", json!({})),
        (json!({"settings": {"cancelable": "yes"}}), false, StatusCode::UNPROCESSABLE_ENTITY, "pw-new-88", json!({})),
    ];
    for (patch, fits, status, password, headers) in cases {
        assert_eq!(
            contract.fits("ActionPatch", &patch).is_ok(),
            fits,
            "{patch}: {:?}",
            contract.fits("ActionPatch", &patch)
        );
        let answer = app.call("PATCH", &path, Role::IntegrationsAdmin, Some(patch.clone())).await;
        assert_eq!(answer.status, status, "{patch}: {}", answer.body);
        let stored = app.engine.action_record(cutover_integrations_core::store::ActionId(action_id)).await;
        let stored = stored.expect("action").action;
        let cutover_integrations_core::model::AuthSettings::Basic { password: kept, .. } = &stored.auth else {
            panic!("{patch}: basic auth")
        };
        assert_eq!(kept.expose(), password, "{patch}");
        let read = app.call("GET", &path, Role::Viewer, None).await;
        let shown = read.body["request"].get("headers").cloned().unwrap_or_else(|| json!({}));
        assert_eq!(shown, headers, "{patch}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_and_actions_are_edited_with_secrets_masked() {
    let app = app().await;
    setup(&app, "http://127.0.0.1:9").await;
    let listed = app.call("GET", "/api/v1/integrations", Role::Viewer, None).await;
    expect(&listed, StatusCode::OK, None);
    let integration = listed.body["items"][0].clone();
    let id = integration["id"].as_i64().expect("id");
    assert_eq!(integration["actions"][0]["auth"]["token"], "[REDACTED]");
    let read = app.call("GET", &format!("/api/v1/integrations/{id}"), Role::Viewer, None).await;
    expect(&read, StatusCode::OK, None);
    assert_eq!(read.body["name"], "Hooks");
    expect(
        &app.call("GET", "/api/v1/integrations/999", Role::Viewer, None).await,
        StatusCode::NOT_FOUND,
        Some("integration_not_found"),
    );
    expect(&app.call("GET", "/api/v1/integrations/abc", Role::Viewer, None).await, StatusCode::NOT_FOUND, None);

    let patched = app
        .call(
            "PATCH",
            &format!("/api/v1/integrations/{id}"),
            Role::IntegrationsAdmin,
            Some(json!({"image_url": "https://example.com/icon.svg"})),
        )
        .await;
    expect(&patched, StatusCode::OK, None);
    assert_eq!(patched.body["image_url"], "https://example.com/icon.svg");
    assert_eq!(patched.body["actions"].as_array().map(Vec::len), Some(3), "actions are kept");
    let missing =
        app.call("PATCH", "/api/v1/integrations/999", Role::IntegrationsAdmin, Some(json!({"archived": false}))).await;
    expect(&missing, StatusCode::NOT_FOUND, Some("integration_not_found"));
    let renamed = app
        .call("PATCH", &format!("/api/v1/integrations/{id}"), Role::IntegrationsAdmin, Some(json!({"name": "Other"})))
        .await;
    expect(&renamed, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));
    assert_eq!(detail_paths(&renamed), ["name"]);

    // Actions: add, read (masked), patch (a masked secret sent back keeps the stored one), immutable fields.
    let action = json!({
        "name": "Ping",
        "auth": {"type": "basic", "username": "ops", "password": "pw-secret-77"},
        "request": {"method": "POST", "url": "http://127.0.0.1:9/ping", "payload": "{\"n\": 1}"},
    });
    let added = app
        .call("POST", &format!("/api/v1/integrations/{id}/actions"), Role::IntegrationsAdmin, Some(action.clone()))
        .await;
    expect(&added, StatusCode::CREATED, None);
    assert_eq!(added.body["auth"]["password"], "[REDACTED]");
    let action_id = added.body["id"].as_i64().expect("action id");
    expect(
        &app.call("POST", &format!("/api/v1/integrations/{id}/actions"), Role::IntegrationsAdmin, Some(action)).await,
        StatusCode::CONFLICT,
        Some("already_exists"),
    );
    let broken =
        json!({"name": "Broken", "request": {"method": "FETCH", "url": "http://127.0.0.1:9/{{CustomField['Nope'}}"}});
    let broken =
        app.call("POST", &format!("/api/v1/integrations/{id}/actions"), Role::IntegrationsAdmin, Some(broken)).await;
    expect(&broken, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));
    assert!(detail_paths(&broken).contains(&"request.method".to_owned()), "{broken:?}");
    expect(
        &app.call("POST", "/api/v1/integrations/999/actions", Role::IntegrationsAdmin, Some(json!({}))).await,
        StatusCode::NOT_FOUND,
        None,
    );

    let read = app.call("GET", &format!("/api/v1/actions/{action_id}"), Role::Viewer, None).await;
    expect(&read, StatusCode::OK, None);
    let mut sent_back = read.body.clone();
    sent_back["request"]["timeout_seconds"] = json!(12);
    for key in ["id", "integration_id", "integration", "archived"] {
        sent_back.as_object_mut().expect("object").remove(key);
    }
    let patched =
        app.call("PATCH", &format!("/api/v1/actions/{action_id}"), Role::IntegrationsAdmin, Some(sent_back)).await;
    expect(&patched, StatusCode::OK, None);
    assert_eq!(patched.body["request"]["timeout_seconds"], 12);
    let stored = app.engine.action_record(cutover_integrations_core::store::ActionId(action_id)).await.expect("action");
    let cutover_integrations_core::model::AuthSettings::Basic { password, .. } = &stored.action.auth else {
        panic!("basic auth")
    };
    assert_eq!(password.expose(), "pw-secret-77", "a [REDACTED] secret sent back keeps the stored one");
    let immutable = app
        .call(
            "PATCH",
            &format!("/api/v1/actions/{action_id}"),
            Role::IntegrationsAdmin,
            Some(json!({"trigger": "runbook_update"})),
        )
        .await;
    expect(&immutable, StatusCode::UNPROCESSABLE_ENTITY, Some("immutable_field"));
    assert_eq!(detail_paths(&immutable), ["trigger"]);
    let onto = app
        .call("PATCH", &format!("/api/v1/actions/{action_id}"), Role::IntegrationsAdmin, Some(json!({"name": "Post"})))
        .await;
    expect(&onto, StatusCode::CONFLICT, Some("already_exists"));
    let invalid = app
        .call(
            "PATCH",
            &format!("/api/v1/actions/{action_id}"),
            Role::IntegrationsAdmin,
            Some(json!({"request": {"method": "YELL"}})),
        )
        .await;
    expect(&invalid, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));
    assert_eq!(detail_paths(&invalid), ["request.method"]);
    // A member an action cannot have is refused, even as `null` (which would otherwise remove nothing).
    for unknown in [json!({"": null}), json!({"nope": null}), json!({"name": "Renamed", "nope": 1})] {
        let path = format!("/api/v1/actions/{action_id}");
        let refused = app.call("PATCH", &path, Role::IntegrationsAdmin, Some(unknown.clone())).await;
        assert!(refused.status.is_client_error(), "{unknown}: {} {}", refused.status, refused.body);
        assert!(refused.body.to_string().contains("unknown field"), "{unknown}: {}", refused.body);
    }
    expect(
        &app.call("PATCH", "/api/v1/actions/999", Role::IntegrationsAdmin, Some(json!({}))).await,
        StatusCode::NOT_FOUND,
        Some("action_not_found"),
    );
    expect(
        &app.call("GET", "/api/v1/actions/999", Role::Viewer, None).await,
        StatusCode::NOT_FOUND,
        Some("action_not_found"),
    );

    let archived = app.call("DELETE", &format!("/api/v1/integrations/{id}"), Role::IntegrationsAdmin, None).await;
    expect(&archived, StatusCode::OK, None);
    assert_eq!(archived.body["archived"], true);
    expect(
        &app.call("DELETE", "/api/v1/integrations/999", Role::IntegrationsAdmin, None).await,
        StatusCode::NOT_FOUND,
        None,
    );
    let everything = app.call("GET", "/api/v1/integrations", Role::Viewer, None).await.body.to_string();
    assert!(!everything.contains("pw-secret-77") && !everything.contains("hook-secret-4242"), "{everything}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_fields_and_system_parameters_never_show_secrets() {
    let app = app().await;
    let field = json!({"name": "Change Number", "type": "text", "applies_to": "runbook"});
    expect(
        &app.call("POST", "/api/v1/custom-fields", Role::CustomFieldsAdmin, Some(field.clone())).await,
        StatusCode::CREATED,
        None,
    );
    expect(
        &app.call("POST", "/api/v1/custom-fields", Role::CustomFieldsAdmin, Some(field)).await,
        StatusCode::CONFLICT,
        Some("already_exists"),
    );
    let invalid = app
        .call("POST", "/api/v1/custom-fields", Role::CustomFieldsAdmin, Some(json!({"name": "X", "type": "dropdown"})))
        .await;
    expect(&invalid, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));
    assert_eq!(detail_paths(&invalid), ["type"]);
    let restricted = json!({"name": "Y", "type": "text", "restrict_to": ["No such action"]});
    let restricted = app.call("POST", "/api/v1/custom-fields", Role::CustomFieldsAdmin, Some(restricted)).await;
    expect(&restricted, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));
    assert_eq!(detail_paths(&restricted), ["restrict_to[0]"]);
    let listed = app.call("GET", "/api/v1/custom-fields", Role::Viewer, None).await;
    expect(&listed, StatusCode::OK, None);
    assert_eq!(listed.body["items"][0]["name"], "Change Number");

    let secret = json!({"name": "api_key", "value": "s3cr3t-value-1", "secret": true});
    let created = app.call("POST", "/api/v1/system-parameters", Role::IntegrationsAdmin, Some(secret)).await;
    expect(&created, StatusCode::CREATED, None);
    assert_eq!(created.body, json!({"name": "api_key", "secret": true, "value": null}));
    let replaced = json!({"name": "api_key", "value": "s3cr3t-value-2", "secret": true});
    expect(
        &app.call("POST", "/api/v1/system-parameters", Role::IntegrationsAdmin, Some(replaced)).await,
        StatusCode::OK,
        None,
    );
    let plain = json!({"name": "region", "value": "eu-west-1"});
    expect(&app.call("POST", "/api/v1/system-parameters", Role::Admin, Some(plain)).await, StatusCode::CREATED, None);
    let listed = app.call("GET", "/api/v1/system-parameters", Role::Viewer, None).await;
    expect(&listed, StatusCode::OK, None);
    assert_eq!(
        listed.body["items"],
        json!([{"name": "api_key", "secret": true, "value": null}, {"name": "region", "secret": false, "value": "eu-west-1"}])
    );
    let nameless = app
        .call("POST", "/api/v1/system-parameters", Role::IntegrationsAdmin, Some(json!({"name": "", "value": "v"})))
        .await;
    expect(&nameless, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));
    assert_eq!(detail_paths(&nameless), ["name"]);
    let unknown = app
        .call(
            "POST",
            "/api/v1/system-parameters",
            Role::IntegrationsAdmin,
            Some(json!({"name": "a", "value": "v", "hidden": true})),
        )
        .await;
    expect(&unknown, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));
    assert_eq!(detail_paths(&unknown), ["hidden"]);
    app.stop().await;
}

/// While the engine's shutdown waits for a request in flight, a command is answered 503 `shutting_down` (documented
/// for every route that takes a token) and reads still answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_while_the_engine_shuts_down_is_a_503() {
    let mut app = app().await;
    let (url, arrival, release) = held_endpoint().await;
    let runbook = setup(&app, &url).await;
    let base = format!("/api/v1/runbooks/{runbook}");
    let live = Some(json!({"mode": "live"}));
    expect(&app.call("POST", &format!("{base}/start"), Role::RunbookAdmin, live).await, StatusCode::OK, None);
    expect(
        &app.call("POST", &format!("{base}/tasks/announce/start"), Role::Operator, None).await,
        StatusCode::OK,
        None,
    );
    arrival.await.expect("the fire's request is in flight");
    let shutdown = tokio::spawn(app.running.take().expect("running").shutdown());
    // Refused by the runbook (a predecessor runs) until the shutdown begins, then as shutting down.
    let start = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let answer = app.call("POST", &format!("{base}/tasks/deploy/start"), Role::Operator, None).await;
            if answer.status != StatusCode::CONFLICT {
                return answer;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("a command during the shutdown");
    expect(&start, StatusCode::SERVICE_UNAVAILABLE, Some("shutting_down"));
    assert_eq!(start.body["error"]["message"], "the engine is shutting down: try again once it is back");
    let read = app.call("GET", &base, Role::Viewer, None).await;
    expect(&read, StatusCode::OK, None);
    assert_eq!(read.body["stage"], "active");
    release.send(()).expect("released");
    shutdown.await.expect("shut down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runbooks_go_through_their_lifecycle() {
    let app = app().await;
    let runbook = setup(&app, "http://127.0.0.1:9").await;
    let base = format!("/api/v1/runbooks/{runbook}");
    let listed = app.call("GET", "/api/v1/runbooks", Role::Viewer, None).await;
    expect(&listed, StatusCode::OK, None);
    assert_eq!(
        listed.body,
        json!({"items": [{"id": runbook, "name": "Release", "workspace": null, "stage": "planning", "mode": null}],
               "next_cursor": null})
    );
    let read = app.call("GET", &base, Role::Viewer, None).await;
    expect(&read, StatusCode::OK, None);
    assert_eq!(read.body["tasks"].as_array().map(Vec::len), Some(5));
    expect(
        &app.call("GET", "/api/v1/runbooks/999", Role::Viewer, None).await,
        StatusCode::NOT_FOUND,
        Some("runbook_not_found"),
    );

    let malformed = app.yaml("/api/v1/runbooks", Role::RunbookAdmin, "kind: runbook\ntasks: [\n").await;
    expect(&malformed, StatusCode::BAD_REQUEST, Some("malformed_yaml"));
    let cyclic = "kind: runbook\nname: C\ntasks:\n  - {id: a, name: A, predecessors: [b]}\n  - {id: b, name: B, predecessors: [a]}\n";
    let cyclic = app.yaml("/api/v1/runbooks", Role::RunbookAdmin, cyclic).await;
    expect(&cyclic, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_definition"));
    let integration = app.yaml("/api/v1/runbooks", Role::RunbookAdmin, &hooks("http://127.0.0.1:9")).await;
    expect(&integration, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_definition"));
    assert_eq!(detail_paths(&integration), ["kind"]);

    let fields = app.call("PATCH", &base, Role::RunbookAdmin, Some(json!({"custom_fields": {"Env": "prod"}}))).await;
    expect(&fields, StatusCode::OK, None);
    assert_eq!(fields.body["custom_fields"], json!({"Env": "prod"}));
    let bad_option =
        app.call("PATCH", &base, Role::RunbookAdmin, Some(json!({"custom_fields": {"Env": "dev", "Nope": "x"}}))).await;
    expect(&bad_option, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));
    assert_eq!(detail_paths(&bad_option), ["custom_fields.Env", "custom_fields.Nope"]);

    let missing = app
        .call("PATCH", "/api/v1/runbooks/999", Role::RunbookAdmin, Some(json!({"custom_fields": {"Env": "prod"}})))
        .await;
    expect(&missing, StatusCode::NOT_FOUND, Some("runbook_not_found"));
    expect(
        &app.call("POST", &format!("{base}/pause"), Role::RunbookAdmin, None).await,
        StatusCode::CONFLICT,
        Some("runbook_stage_forbids"),
    );
    let bad_mode =
        app.call("POST", &format!("{base}/start"), Role::RunbookAdmin, Some(json!({"mode": "dry_run"}))).await;
    expect(&bad_mode, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));
    assert_eq!(detail_paths(&bad_mode), ["mode"]);
    let started =
        app.call("POST", &format!("{base}/start"), Role::RunbookAdmin, Some(json!({"mode": "rehearsal"}))).await;
    expect(&started, StatusCode::OK, None);
    assert_eq!((started.body["stage"].as_str(), started.body["mode"].as_str()), (Some("active"), Some("rehearsal")));
    expect(
        &app.call("POST", &format!("{base}/start"), Role::RunbookAdmin, Some(json!({"mode": "live"}))).await,
        StatusCode::CONFLICT,
        Some("runbook_stage_forbids"),
    );
    expect(
        &app.call("POST", &format!("{base}/resume"), Role::RunbookAdmin, None).await,
        StatusCode::CONFLICT,
        Some("runbook_stage_forbids"),
    );
    let paused = app.call("POST", &format!("{base}/pause"), Role::RunbookAdmin, None).await;
    expect(&paused, StatusCode::OK, None);
    assert_eq!(paused.body["stage"], "paused");
    expect(&app.call("POST", &format!("{base}/resume"), Role::Admin, None).await, StatusCode::OK, None);
    let copy = app.call("POST", &format!("{base}/duplicate"), Role::RunbookAdmin, None).await;
    expect(&copy, StatusCode::CREATED, None);
    assert_eq!((copy.body["stage"].as_str(), copy.body["name"].as_str()), (Some("planning"), Some("Release (copy)")));
    let cancelled = app.call("POST", &format!("{base}/cancel"), Role::RunbookAdmin, None).await;
    expect(&cancelled, StatusCode::OK, None);
    assert_eq!(cancelled.body["stage"], "cancelled");
    expect(&app.call("POST", &format!("{base}/cancel"), Role::RunbookAdmin, None).await, StatusCode::CONFLICT, None);
    for action in ["start", "pause", "resume", "cancel", "duplicate"] {
        let body = (action == "start").then(|| json!({"mode": "live"}));
        expect(
            &app.call("POST", &format!("/api/v1/runbooks/999/{action}"), Role::RunbookAdmin, body).await,
            StatusCode::NOT_FOUND,
            Some("runbook_not_found"),
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_start_finish_skip_cancel_refire_and_show_their_log() {
    let app = app().await;
    let mut server = mockito::Server::new_async().await;
    let hook = server
        .mock("POST", "/hook")
        .match_header("authorization", "Bearer hook-secret-4242")
        .match_body(mockito::Matcher::JsonString(r#"{"text":"hello \"42\""}"#.into()))
        .with_status(200)
        .with_body(r#"{"ok":true}"#)
        .expect(1)
        .create_async()
        .await;
    let plain = server.mock("GET", "/plain").with_status(404).expect_at_least(1).create_async().await;
    let jobs = server.mock("POST", "/jobs").with_status(202).expect(2).create_async().await;
    let runbook = setup(&app, &server.url()).await;
    let task = |id: &str| format!("/api/v1/runbooks/{runbook}/tasks/{id}");
    let listed = app.call("GET", &format!("/api/v1/runbooks/{runbook}/tasks"), Role::Viewer, None).await;
    expect(&listed, StatusCode::OK, None);
    let ids: Vec<&str> =
        listed.body["items"].as_array().expect("tasks").iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids, ["announce", "deploy", "approve", "empty", "plain"]);
    expect(&app.call("GET", &task("nope"), Role::Viewer, None).await, StatusCode::NOT_FOUND, Some("task_not_found"));
    expect(
        &app.call("GET", "/api/v1/runbooks/999/tasks", Role::Viewer, None).await,
        StatusCode::NOT_FOUND,
        Some("runbook_not_found"),
    );

    // Nothing starts in planning.
    expect(
        &app.call("POST", &format!("{}/start", task("announce")), Role::Operator, None).await,
        StatusCode::CONFLICT,
        Some("runbook_stage_forbids"),
    );
    expect(
        &app.call(
            "POST",
            &format!("/api/v1/runbooks/{runbook}/start"),
            Role::RunbookAdmin,
            Some(json!({"mode": "live"})),
        )
        .await,
        StatusCode::OK,
        None,
    );
    expect(
        &app.call("POST", &format!("{}/start", task("deploy")), Role::Operator, None).await,
        StatusCode::CONFLICT,
        Some("task_not_startable"),
    );
    expect(
        &app.call("POST", &format!("{}/start", task("nope")), Role::Operator, None).await,
        StatusCode::NOT_FOUND,
        Some("unknown_task"),
    );
    let missing = app.call("POST", &format!("{}/start", task("empty")), Role::Operator, Some(json!({}))).await;
    expect(&missing, StatusCode::UNPROCESSABLE_ENTITY, Some("missing_custom_fields"));
    assert_eq!(detail_paths(&missing), ["custom_fields['Message']"]);
    let unknown_option = app
        .call("POST", &format!("{}/start", task("announce")), Role::Operator, Some(json!({"force": true, "x": 1})))
        .await;
    expect(&unknown_option, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));

    // The fire goes to the mock with the secret token; the task completes on success.
    let started = app.call("POST", &format!("{}/start", task("announce")), Role::Operator, None).await;
    expect(&started, StatusCode::OK, None);
    assert_eq!(started.body["stage"], "in_progress");
    let done = wait_for_status(&app, runbook, "announce", "succeeded").await;
    assert_eq!(done["stage"], "complete");
    hook.assert_async().await;
    let log = app.call("GET", &format!("{}/actions-log", task("announce")), Role::Viewer, None).await;
    expect(&log, StatusCode::OK, None);
    let fire = &log.body["fires"][0];
    assert_eq!((fire["number"].as_u64(), fire["outcome"].as_str()), (Some(1), Some("succeeded")));
    let attempt = &fire["entries"][0];
    assert_eq!(attempt["response"]["status"], 200);
    assert!(attempt["request"]["curl"].as_str().is_some_and(|curl| curl.starts_with("curl")), "{attempt}");
    assert!(!log.body.to_string().contains("hook-secret-4242"), "the actions log is redacted: {}", log.body);
    expect(
        &app.call("GET", &format!("{}/actions-log", task("nope")), Role::Viewer, None).await,
        StatusCode::NOT_FOUND,
        Some("task_not_found"),
    );
    expect(
        &app.call("GET", "/api/v1/runbooks/999/tasks/announce/actions-log", Role::Viewer, None).await,
        StatusCode::NOT_FOUND,
        None,
    );

    // Manual tasks: start and finish; finishing twice conflicts.
    expect(&app.call("POST", &format!("{}/start", task("deploy")), Role::Operator, None).await, StatusCode::OK, None);
    expect(&app.call("POST", &format!("{}/finish", task("deploy")), Role::Operator, None).await, StatusCode::OK, None);
    expect(
        &app.call("POST", &format!("{}/finish", task("deploy")), Role::Operator, None).await,
        StatusCode::CONFLICT,
        Some("task_stage_forbids"),
    );

    expect(
        &app.call("POST", &format!("{}/finish", task("nope")), Role::Operator, None).await,
        StatusCode::NOT_FOUND,
        Some("unknown_task"),
    );
    let skip_done = app
        .call("POST", &format!("{}/skip", task("deploy")), Role::RunbookAdmin, Some(json!({"comment": "late"})))
        .await;
    expect(&skip_done, StatusCode::CONFLICT, Some("task_stage_forbids"));

    // A callback fire waits until cancelled; a cancelled fire can be fired again.
    expect(&app.call("POST", &format!("{}/start", task("approve")), Role::Operator, None).await, StatusCode::OK, None);
    wait_for_status(&app, runbook, "approve", "waiting").await;
    let cancelled = app.call("POST", &format!("{}/cancel", task("approve")), Role::Operator, None).await;
    expect(&cancelled, StatusCode::OK, None);
    assert_eq!(
        (cancelled.body["integration_status"].as_str(), cancelled.body["stage"].as_str()),
        (Some("cancelled"), Some("in_progress"))
    );
    expect(
        &app.call("POST", &format!("{}/cancel", task("approve")), Role::Operator, None).await,
        StatusCode::CONFLICT,
        None,
    );
    let again = app.call("POST", &format!("{}/refire", task("approve")), Role::Operator, None).await;
    expect(&again, StatusCode::OK, None);
    assert_eq!(again.body["fire"], 2);
    wait_for_status(&app, runbook, "approve", "waiting").await;
    jobs.assert_async().await;

    // A failing fire: refire is allowed after the failure, cancel is not (the action is not cancelable).
    expect(
        &app.call("POST", &format!("{}/refire", task("plain")), Role::Operator, None).await,
        StatusCode::CONFLICT,
        None,
    );
    expect(&app.call("POST", &format!("{}/start", task("plain")), Role::Operator, None).await, StatusCode::OK, None);
    let failed = wait_for_status(&app, runbook, "plain", "failed").await;
    assert!(failed["failure_reason"].as_str().is_some_and(|reason| reason.contains("404")), "{failed}");
    expect(
        &app.call("POST", &format!("{}/cancel", task("plain")), Role::Operator, None).await,
        StatusCode::CONFLICT,
        Some("not_cancelable"),
    );
    let refired = app.call("POST", &format!("{}/refire", task("plain")), Role::Operator, None).await;
    expect(&refired, StatusCode::OK, None);
    assert_eq!(refired.body["fire"], 2);
    wait_for_status(&app, runbook, "plain", "failed").await;
    plain.assert_async().await;

    // Custom field values on a task; then the task with a missing field can start.
    let set =
        app.call("PATCH", &task("empty"), Role::Operator, Some(json!({"custom_fields": {"Message": "filled"}}))).await;
    expect(&set, StatusCode::OK, None);
    assert_eq!(set.body["custom_fields"], json!({"Message": "filled"}));
    let list_value = app
        .call("PATCH", &task("empty"), Role::Operator, Some(json!({"custom_fields": {"Message": ["a", "b"]}})))
        .await;
    expect(&list_value, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));
    assert_eq!(detail_paths(&list_value), ["custom_fields.Message"]);
    expect(
        &app.call("PATCH", &task("nope"), Role::Operator, Some(json!({"custom_fields": {"Message": "x"}}))).await,
        StatusCode::NOT_FOUND,
        Some("unknown_task"),
    );

    // Skipping needs a comment (and the runbook_admin role, checked by the route).
    let no_comment =
        app.call("POST", &format!("{}/skip", task("empty")), Role::RunbookAdmin, Some(json!({"comment": " "}))).await;
    expect(&no_comment, StatusCode::UNPROCESSABLE_ENTITY, Some("comment_required"));
    let absent = app.call("POST", &format!("{}/skip", task("empty")), Role::RunbookAdmin, Some(json!({}))).await;
    expect(&absent, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));
    let skipped = app
        .call("POST", &format!("{}/skip", task("empty")), Role::RunbookAdmin, Some(json!({"comment": "not needed"})))
        .await;
    expect(&skipped, StatusCode::OK, None);
    assert_eq!(
        (skipped.body["stage"].as_str(), skipped.body["skip_comment"].as_str()),
        (Some("skipped"), Some("not needed"))
    );
    app.stop().await;
}

/// A live run of the setup runbook whose `approve` task waits for its callback: the runbook, the callback path and
/// the callback token.
async fn waiting_callback(app: &App, server: &mut mockito::ServerGuard) -> (i64, String, String) {
    let (sender, mut bodies) = tokio::sync::mpsc::unbounded_channel::<String>();
    server
        .mock("POST", "/jobs")
        .with_status(202)
        .with_body_from_request(move |request| {
            let _ = sender.send(String::from_utf8_lossy(request.body().expect("body")).into_owned());
            Vec::new()
        })
        .create_async()
        .await;
    server.mock("POST", "/hook").with_status(200).create_async().await;
    let runbook = setup(app, &server.url()).await;
    let task = |id: &str| format!("/api/v1/runbooks/{runbook}/tasks/{id}");
    expect(
        &app.call(
            "POST",
            &format!("/api/v1/runbooks/{runbook}/start"),
            Role::RunbookAdmin,
            Some(json!({"mode": "live"})),
        )
        .await,
        StatusCode::OK,
        None,
    );
    app.call("POST", &format!("{}/start", task("announce")), Role::Operator, None).await;
    wait_for_status(app, runbook, "announce", "succeeded").await;
    expect(&app.call("POST", &format!("{}/start", task("deploy")), Role::Operator, None).await, StatusCode::OK, None);
    expect(&app.call("POST", &format!("{}/finish", task("deploy")), Role::Operator, None).await, StatusCode::OK, None);
    expect(&app.call("POST", &format!("{}/start", task("approve")), Role::Operator, None).await, StatusCode::OK, None);
    wait_for_status(app, runbook, "approve", "waiting").await;
    let body: Value = serde_json::from_str(&bodies.recv().await.expect("request")).expect("JSON");
    let url = body["callback"].as_str().expect("callback URL");
    let token = body["token"].as_str().expect("token").to_owned();
    let path = url.strip_prefix("http://127.0.0.1:9").expect("callback on the public URL").to_owned();
    (runbook, path, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_callback_fire_refuses_callbacks() {
    let app = app().await;
    let mut server = mockito::Server::new_async().await;
    let (runbook, path, token) = waiting_callback(&app, &mut server).await;
    let task = format!("/api/v1/runbooks/{runbook}/tasks/approve");
    expect(&app.call("POST", &format!("{task}/cancel"), Role::Operator, None).await, StatusCode::OK, None);
    for status in ["success", "failure", "progress"] {
        let late =
            app.send("POST", &path, Some(&token), Some(("application/json", json!({"status": status}).to_string())));
        let late = late.await;
        expect(&late, StatusCode::CONFLICT, Some("fire_not_waiting"));
        assert!(
            late.body["error"]["message"].as_str().is_some_and(|message| message.contains("cancelled")),
            "{}",
            late.body
        );
    }
    let after = app.call("GET", &task, Role::Viewer, None).await;
    assert_eq!(
        (after.body["integration_status"].as_str(), after.body["stage"].as_str()),
        (Some("cancelled"), Some("in_progress")),
        "late callbacks change nothing"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_complete_waiting_fires_once() {
    let app = app().await;
    let mut server = mockito::Server::new_async().await;
    let (runbook, path, token) = waiting_callback(&app, &mut server).await;
    let report =
        |status: &str| Some(("application/json", json!({"status": status, "message": "approved"}).to_string()));

    expect(&app.send("POST", &path, None, report("success")).await, StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    expect(
        &app.send("POST", &path, Some("0123"), report("success")).await,
        StatusCode::UNAUTHORIZED,
        Some("invalid_callback_token"),
    );
    // Another fire's token proves nothing about fire 999: the token is checked first, so unknown fires are not
    // revealed to callers without a valid token.
    expect(
        &app.send("POST", "/api/v1/callbacks/999", Some(&token), report("success")).await,
        StatusCode::UNAUTHORIZED,
        Some("invalid_callback_token"),
    );
    let malformed = app.send("POST", &path, Some(&token), Some(("application/json", "{\"status\":".into()))).await;
    expect(&malformed, StatusCode::BAD_REQUEST, Some("malformed_json"));
    let invalid = app.send("POST", &path, Some(&token), report("done")).await;
    expect(&invalid, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));
    assert_eq!(detail_paths(&invalid), ["status"]);
    // Unknown keys and custom fields the task cannot hold are refused, and nothing is applied.
    let refused = [
        (json!({"status": "success", "custom_field": {"Message": "x"}}), "custom_field"),
        (json!({"status": "success", "custom_fields": {"Nope": "x"}}), "custom_fields.Nope"),
    ];
    for (body, path_refused) in refused {
        let answer = app.send("POST", &path, Some(&token), Some(("application/json", body.to_string()))).await;
        expect(&answer, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));
        assert_eq!(detail_paths(&answer), [path_refused], "{body}");
    }
    wait_for_status(&app, runbook, "approve", "waiting").await;
    let applied = app.send("POST", &path, Some(&token), report("success")).await;
    expect(&applied, StatusCode::OK, None);
    assert_eq!(applied.body["applied"], true);
    let done = wait_for_status(&app, runbook, "approve", "succeeded").await;
    assert_eq!(done["stage"], "complete");
    let repeat = app.send("POST", &path, Some(&token), report("success")).await;
    expect(&repeat, StatusCode::OK, None);
    assert_eq!(repeat.body["applied"], false, "a repeat is idempotent");
    expect(
        &app.send("POST", &path, Some(&token), report("failure")).await,
        StatusCode::CONFLICT,
        Some("fire_not_waiting"),
    );
    app.stop().await;
}

const OAUTH_INTEGRATION: &str = r#"
kind: integration
name: Chat
actions:
  - name: Post
    settings: {finish_task_on_success: true}
    auth:
      type: oauth2
      grant: authorization_code
      client_id: chat-client
      client_secret: "{{SystemParameter['chat_secret']}}"
      provider_host: PROVIDER
      authorization_endpoint: /authorize
      token_endpoint: /token
      scopes: [chat:write]
    request: {method: POST, url: PROVIDER/post, payload: '{"n": 1}'}
  - name: As the task user
    auth:
      type: oauth2
      grant: authorization_code
      client_id: chat-client
      client_secret: literal-client-secret
      provider_host: PROVIDER
      authorization_endpoint: /authorize
      token_endpoint: /token
      authenticate_as: task_user
    request: {method: POST, url: PROVIDER/post}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_authorize_redirects_with_pkce_and_the_callback_stores_the_token() {
    let app = app().await;
    let mut provider = mockito::Server::new_async().await;
    let token = provider
        .mock("POST", "/token")
        .match_body(mockito::Matcher::AllOf(vec![
            mockito::Matcher::UrlEncoded("grant_type".into(), "authorization_code".into()),
            mockito::Matcher::UrlEncoded("code".into(), "the-code".into()),
            mockito::Matcher::Regex("code_verifier=".into()),
        ]))
        .with_header("content-type", "application/json")
        .with_body(r#"{"access_token":"at-oauth-secret","token_type":"bearer","expires_in":3600}"#)
        .expect(2)
        .create_async()
        .await;
    let parameter = json!({"name": "chat_secret", "value": "client-secret-99", "secret": true});
    app.call("POST", "/api/v1/system-parameters", Role::IntegrationsAdmin, Some(parameter)).await;
    let definition = OAUTH_INTEGRATION.replace("PROVIDER", &provider.url());
    expect(&app.yaml("/api/v1/definitions", Role::IntegrationsAdmin, &definition).await, StatusCode::OK, None);
    expect(
        &app.yaml("/api/v1/definitions", Role::IntegrationsAdmin, &hooks("http://127.0.0.1:9")).await,
        StatusCode::OK,
        None,
    );
    let integrations = app.call("GET", "/api/v1/integrations", Role::Viewer, None).await.body;
    let action_id = |integration: &str, action: &str| {
        integrations["items"]
            .as_array()
            .and_then(|all| all.iter().find(|i| i["name"] == integration))
            .and_then(|i| i["actions"].as_array()?.iter().find(|a| a["name"] == action)?["id"].as_i64())
            .expect("action")
    };
    let post = action_id("Chat", "Post");
    let status = || async { app.call("GET", &format!("/api/v1/actions/{post}"), Role::Viewer, None).await.body };
    assert_eq!(status().await["oauth"], json!({"status": "not_authorized"}));

    let authorize = format!("/api/v1/oauth/authorize?action={post}");
    expect(&app.call("GET", &authorize, Role::Operator, None).await, StatusCode::FORBIDDEN, Some("forbidden"));
    let redirect = app.call("GET", &authorize, Role::IntegrationsAdmin, None).await;
    assert_eq!(redirect.status, StatusCode::FOUND, "{redirect:?}");
    let location = url::Url::parse(redirect.location.as_deref().expect("Location")).expect("URL");
    assert!(location.as_str().starts_with(&format!("{}/authorize?", provider.url())), "{location}");
    let query: BTreeMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(query.get("code_challenge_method").map(String::as_str), Some("S256"));
    assert_eq!(query.get("client_id").map(String::as_str), Some("chat-client"));
    assert_eq!(query.get("redirect_uri").map(String::as_str), Some("http://127.0.0.1:9/api/v1/oauth/callback"));
    assert!(query.contains_key("code_challenge") && query.contains_key("state"), "{query:?}");
    assert!(!location.as_str().contains("client-secret-99"), "the client secret never leaves in the redirect");

    let callback = format!("/api/v1/oauth/callback?state={}&code=the-code", query["state"]);
    let completed = app.send("GET", &callback, None, None).await;
    expect(&completed, StatusCode::OK, None);
    assert_eq!(completed.body["credential"], format!("functional_user/{post}"));
    // Who authenticated, and when, is kept with the token and shown (never the token).
    let oauth = status().await["oauth"].clone();
    assert_eq!(oauth["status"], "authorized", "{oauth}");
    assert_eq!(oauth["authenticated_by"], "integrationsadmin@example.com", "{oauth}");
    assert_eq!(oauth["authenticated_at"], oauth["obtained_at"], "{oauth}");
    assert!(!oauth.to_string().contains("at-oauth-secret"), "{oauth}");
    expect(&app.send("GET", &callback, None, None).await, StatusCode::CONFLICT, Some("oauth_state_already_used"));
    expect(
        &app.send("GET", "/api/v1/oauth/callback?state=forged&code=x", None, None).await,
        StatusCode::BAD_REQUEST,
        Some("unknown_oauth_state"),
    );
    expect(
        &app.send("GET", "/api/v1/oauth/callback?code=x", None, None).await,
        StatusCode::BAD_REQUEST,
        Some("malformed_request"),
    );

    // Wrong targets: no action, an unknown one, an action without OAuth, a task for a functional-user action.
    expect(
        &app.call("GET", "/api/v1/oauth/authorize", Role::IntegrationsAdmin, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("invalid_input"),
    );
    expect(
        &app.call("GET", "/api/v1/oauth/authorize?action=999", Role::IntegrationsAdmin, None).await,
        StatusCode::NOT_FOUND,
        Some("action_not_found"),
    );
    let token_action = action_id("Hooks", "Post");
    let not_oauth =
        app.call("GET", &format!("/api/v1/oauth/authorize?action={token_action}"), Role::IntegrationsAdmin, None).await;
    expect(&not_oauth, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));
    let with_task = app.call("GET", &format!("{authorize}&runbook=1&task=a"), Role::IntegrationsAdmin, None).await;
    expect(&with_task, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"));

    // A task user authorizes their own task only.
    let task_user = action_id("Chat", "As the task user");
    let runbook = "kind: runbook\nname: R\ntasks:\n  - {id: post, name: Post, action: Chat/As the task user, assignee: operator@example.com}\n";
    let runbook = app.yaml("/api/v1/runbooks", Role::RunbookAdmin, runbook).await.body["id"].as_i64().expect("runbook");
    let for_task = format!("/api/v1/oauth/authorize?action={task_user}&runbook={runbook}&task=post");
    expect(&app.call("GET", &for_task, Role::RunbookAdmin, None).await, StatusCode::FORBIDDEN, Some("forbidden"));
    let own = app.call("GET", &for_task, Role::Operator, None).await;
    assert_eq!(own.status, StatusCode::FOUND, "{own:?}");
    let own = url::Url::parse(own.location.as_deref().expect("Location")).expect("URL");
    let state = own.query_pairs().find(|(key, _)| key == "state").map(|(_, value)| value.into_owned()).expect("state");
    let completed = app.send("GET", &format!("/api/v1/oauth/callback?state={state}&code=the-code"), None, None).await;
    expect(&completed, StatusCode::OK, None);
    assert_eq!(
        completed.body["credential"],
        format!("task_user/{task_user}/{runbook}/post/operator%40example.com"),
        "the token is stored for the task's user"
    );
    token.assert_async().await;
    expect(
        &app.call("GET", &format!("/api/v1/oauth/authorize?action={task_user}"), Role::Operator, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("invalid_input"),
    );
    expect(
        &app.call(
            "GET",
            &format!("/api/v1/oauth/authorize?action={task_user}&runbook={runbook}&task=nope"),
            Role::Operator,
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        None,
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_runbook_and_task_changes() {
    let app = app().await;
    let runbook = setup(&app, "http://127.0.0.1:9").await;
    expect(
        &app.call("GET", "/api/v1/events?runbook=999", Role::Viewer, None).await,
        StatusCode::NOT_FOUND,
        Some("runbook_not_found"),
    );
    expect(
        &app.call("GET", "/api/v1/events?runbook=x", Role::Viewer, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("invalid_input"),
    );
    let request = Request::get(format!("/api/v1/events?runbook={runbook}"))
        .header("authorization", format!("Bearer {}", app.tokens[&Role::Viewer]))
        .body(Body::empty())
        .expect("request");
    let response = app.router.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response.into_body().into_data_stream();
    // Another runbook's changes are filtered out.
    let other = app.yaml("/api/v1/runbooks", Role::RunbookAdmin, RUNBOOK).await.body["id"].as_i64().expect("id");
    app.call(
        "POST",
        &format!("/api/v1/runbooks/{other}/start"),
        Role::RunbookAdmin,
        Some(json!({"mode": "rehearsal"})),
    )
    .await;
    app.call("POST", &format!("/api/v1/runbooks/{runbook}/start"), Role::RunbookAdmin, Some(json!({"mode": "live"})))
        .await;
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk =
            tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("an event").expect("open");
        text.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
    }
    assert!(text.starts_with("event: runbook_stage_changed\nid: "), "{text}");
    let data: Value =
        serde_json::from_str(text.lines().find_map(|l| l.strip_prefix("data: ")).expect("data")).expect("JSON");
    assert_eq!(
        data,
        json!({"runbook": runbook, "event": "runbook_stage_changed", "from": "planning", "to": "active", "mode": "live",
               "actor": "user"})
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_openapi_are_public() {
    let app = app().await;
    let health = app.send("GET", "/api/v1/healthz", None, None).await;
    expect(&health, StatusCode::OK, None);
    assert_eq!(health.body, json!({"status": "ok"}));
    app.call("GET", "/api/v1/runbooks/4711", Role::Viewer, None).await;
    app.call("GET", "/api/v1/runbooks/4712", Role::Viewer, None).await;
    app.send("GET", "/api/v1/no/such/route", None, None).await;
    let metrics = app.send("GET", "/api/v1/metrics", None, None).await;
    expect(&metrics, StatusCode::OK, None);
    assert!(metrics.content_type.as_deref().is_some_and(|kind| kind.starts_with("text/plain")));
    let text = metrics.body.as_str().expect("text").to_owned();
    for line in [
        "cutover_fires_total{outcome=\"succeeded\"} 0",
        "cutover_fire_attempt_duration_seconds_count 0",
        "cutover_fires_queued 0",
        "cutover_fires_running 0",
        // By route template, never by concrete path: two runbook ids, one series.
        "cutover_http_requests_total{method=\"GET\",route=\"/api/v1/runbooks/{id}\",status=\"404\"} 2",
        "cutover_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1",
        "cutover_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/runbooks/{id}\"} 2",
        "cutover_http_requests_in_flight 1",
        "cutover_build_info{version=\"0.1.0\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in {text}");
    }
    assert!(!text.contains("4711"), "concrete paths are not labels: {text}");
    if std::path::Path::new("/proc/self/stat").exists() {
        assert!(text.lines().any(|l| l.starts_with("process_resident_memory_bytes ")), "{text}");
    }
    let schema = app.send("GET", "/api/v1/schema/definition.json", None, None).await;
    expect(&schema, StatusCode::OK, None);
    assert_eq!(schema.content_type.as_deref(), Some("application/schema+json"));
    assert_eq!(
        schema.body,
        cutover_integrations_core::model::definition_schema(),
        "the same schema as `cutover schema`"
    );
    let openapi = app.send("GET", "/api/v1/openapi.json", None, None).await;
    expect(&openapi, StatusCode::OK, None);
    let document = openapi.body;
    assert_eq!(document["openapi"], "3.1.0");
    for route in ROUTES {
        let operation = &document["paths"][route.full_path()][route.method.as_str().to_lowercase()];
        assert_eq!(operation["operationId"], route.operation, "{} {}", route.method, route.path);
        if let Access::AnyOf(_) = route.access {
            let roles: Vec<&str> =
                operation["x-roles"].as_array().expect("roles").iter().filter_map(Value::as_str).collect();
            assert_eq!(roles[0], "admin");
            assert!(operation["responses"]["403"].is_object());
        }
        // Every schema a route names is defined.
        for reference in operation.to_string().split("#/components/schemas/").skip(1) {
            let name: String = reference.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            assert!(document["components"]["schemas"][&name].is_object(), "schema {name}");
        }
    }
    let operations: usize = document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|path| path.as_object().map_or(0, |p| p.len()))
        .sum();
    assert_eq!(operations, ROUTES.len(), "one operation per route");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_bounded_and_unknown_routes_answer_json() {
    let app = app().await;
    // A definition file has its own, larger limit than other bodies; both are settings.
    let big_definition = format!("kind: integration\nname: x\n# {}\n", "x".repeat(cutover_server::BODY_LIMIT));
    let big_json = json!({"name": "x".repeat(cutover_server::BODY_LIMIT), "email": "a@example.com", "roles": []});
    let (_small_stop, small_stopping) = watch::channel(false);
    let small = Limits { definition_bytes: 64 * 1024, ..Limits::default() };
    let small_router = router(AppState::new(app.engine.clone(), small_stopping).with_limits(small));
    let admin = &app.tokens[&Role::Admin];
    let cases = [
        (&app.router, "/api/v1/definitions", "application/yaml", big_definition.clone(), StatusCode::OK),
        (
            &small_router,
            "/api/v1/definitions",
            "application/yaml",
            big_definition.clone(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (&small_router, "/api/v1/runbooks", "application/yaml", big_definition, StatusCode::PAYLOAD_TOO_LARGE),
        (&app.router, "/api/v1/users", "application/json", big_json.to_string(), StatusCode::PAYLOAD_TOO_LARGE),
    ];
    for (router, path, content_type, body, status) in cases {
        let request = Request::post(path)
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", content_type)
            .body(Body::from(body))
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("response");
        assert_eq!(response.status(), status, "{path}");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        let answer: Value = serde_json::from_slice(&bytes).expect("JSON");
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            assert_eq!(answer["error"]["code"], "body_too_large", "{path}");
        }
    }
    expect(&app.send("GET", "/api/v1/nothing", None, None).await, StatusCode::NOT_FOUND, Some("not_found"));
    expect(&app.send("GET", "/elsewhere", None, None).await, StatusCode::NOT_FOUND, Some("not_found"));
    expect(
        &app.send("PUT", "/api/v1/users", Some(&app.tokens[&Role::Admin]), None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        Some("method_not_allowed"),
    );
    let not_utf8 = Request::post("/api/v1/definitions")
        .header("authorization", format!("Bearer {}", app.tokens[&Role::Admin]))
        .body(Body::from(vec![0xff, 0xfe, 0x00]))
        .expect("request");
    let response = app.router.clone().oneshot(not_utf8).await.expect("response");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_are_added_changed_and_removed_while_planning() {
    let app = app().await;
    let runbook = setup(&app, "http://127.0.0.1:9").await;
    let tasks = format!("/api/v1/runbooks/{runbook}/tasks");
    let task = json!({"name": "Post the news", "action": "Hooks/Post", "predecessors": ["deploy"],
        "custom_fields": {"Message": "shipped"}});
    let added = app.call("POST", &tasks, Role::RunbookAdmin, Some(task)).await;
    expect(&added, StatusCode::CREATED, None);
    assert_eq!(
        (added.body["id"].as_str(), added.body["stage"].as_str()),
        (Some("post-the-news"), Some("not_startable"))
    );
    let edited = app
        .call("PATCH", &format!("{tasks}/post-the-news/definition"), Role::RunbookAdmin, Some(json!({"name": "Post"})))
        .await;
    expect(&edited, StatusCode::OK, None);
    assert_eq!(edited.body["name"], "Post");

    // (method, path, body, status, code, detail paths)
    type Refusal<'a> = (&'a str, String, Option<Value>, StatusCode, &'a str, Vec<&'a str>);
    let refusals: Vec<Refusal<'_>> = vec![
        (
            "POST",
            tasks.clone(),
            Some(json!({"name": "X", "predecessors": ["ghost"]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            vec!["predecessors[0]"],
        ),
        (
            "POST",
            tasks.clone(),
            Some(json!({"name": "X", "custom_fields": {"Env": "dev"}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            vec!["custom_fields.Env"],
        ),
        (
            "PATCH",
            format!("{tasks}/announce/definition"),
            Some(json!({"predecessors": ["post-the-news"]})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            vec![],
        ),
        ("DELETE", format!("{tasks}/deploy"), None, StatusCode::CONFLICT, "task_in_use", vec![]),
        ("DELETE", format!("{tasks}/ghost"), None, StatusCode::NOT_FOUND, "task_not_found", vec![]),
    ];
    for (method, path, body, status, code, paths) in refusals {
        let answer = app.call(method, &path, Role::RunbookAdmin, body).await;
        expect(&answer, status, Some(code));
        if !paths.is_empty() {
            assert_eq!(detail_paths(&answer), paths, "{method} {path}");
        }
    }
    let in_use = app.call("DELETE", &format!("{tasks}/deploy"), Role::RunbookAdmin, None).await;
    let message = in_use.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("`deploy` is a predecessor of `approve`, `post-the-news`"), "{message}");

    let removed = app.call("DELETE", &format!("{tasks}/post-the-news"), Role::RunbookAdmin, None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let listed = app.call("GET", &tasks, Role::Viewer, None).await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(5));
    expect(
        &app.call(
            "POST",
            &format!("/api/v1/runbooks/{runbook}/start"),
            Role::RunbookAdmin,
            Some(json!({"mode": "rehearsal"})),
        )
        .await,
        StatusCode::OK,
        None,
    );
    let late = app.call("POST", &tasks, Role::RunbookAdmin, Some(json!({"name": "Late"}))).await;
    expect(&late, StatusCode::CONFLICT, Some("not_planning"));
    app.stop().await;
}

/// The check every answer of these tests goes through can fail: the same real answer passes the server's document
/// and fails each deliberately wrong copy of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_check_refuses_answers_a_wrong_document_does_not_describe() {
    let app = app().await;
    let runbook = setup(&app, "http://127.0.0.1:9").await;
    let path = format!("/api/v1/runbooks/{runbook}/tasks/deploy");
    let answer = app.call("GET", &path, Role::Viewer, None).await;
    expect(&answer, StatusCode::OK, None);
    let document = app.send("GET", "/api/v1/openapi.json", None, None).await.body;
    let operation = "/paths/~1api~1v1~1runbooks~1{id}~1tasks~1{task}/get/responses";
    type Break = fn(&mut Value, &str);
    let cases: [(&str, Break, &str); 5] = [
        ("nothing changed", |_, _| {}, ""),
        (
            "a member of the wrong type",
            |document, _| document["components"]["schemas"]["TaskBody"]["properties"]["fire"]["type"] = json!("string"),
            "at `/fire`",
        ),
        (
            "a member required that is not there",
            |document, _| {
                let required = &mut document["components"]["schemas"]["TaskBody"]["required"];
                required.as_array_mut().expect("required").push(json!("owner"));
            },
            "owner",
        ),
        (
            "the status undocumented",
            |document, operation| {
                let responses = document.pointer_mut(operation).and_then(Value::as_object_mut).expect("responses");
                responses.remove("200");
            },
            "status 200 is not documented",
        ),
        (
            "another media type",
            |document, operation| {
                let content = document.pointer_mut(&format!("{operation}/200/content")).expect("content");
                *content = json!({"text/plain": {"schema": {"type": "string"}}});
            },
            "media type `application/json` is not one of",
        ),
    ];
    let headers = [
        ("content-type".to_owned(), answer.content_type.clone().unwrap_or_default()),
        ("etag".to_owned(), "\"1\"".to_owned()),
    ];
    for (what, break_it, problem) in cases {
        let mut wrong = document.clone();
        break_it(&mut wrong, operation);
        let exchange = Exchange { method: "GET", path: &path, status: 200, headers: &headers, body: &answer.body };
        let result = Contract::new(wrong).check(&exchange);
        match problem {
            "" => assert_eq!(result, Ok(()), "{what}"),
            problem => assert!(result.as_ref().is_err_and(|text| text.contains(problem)), "{what}: {result:?}"),
        }
    }
    app.stop().await;
}

/// Reads server-sent events from `stream` until `done` holds for the last one read: each as (id, data).
async fn read_events(
    stream: &mut (impl futures::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin),
    done: impl Fn(&Value) -> bool,
) -> Vec<(i64, Value)> {
    let mut text = String::new();
    let mut events = Vec::new();
    loop {
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let id = block.lines().find_map(|line| line.strip_prefix("id: ")).and_then(|id| id.parse().ok());
            let data = block.lines().find_map(|line| line.strip_prefix("data: "));
            if let (Some(id), Some(data)) = (id, data) {
                let data: Value = serde_json::from_str(data).expect("JSON data");
                let last = done(&data);
                events.push((id, data));
                if last {
                    return events;
                }
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next()).await;
        let chunk = chunk.unwrap_or_else(|_| panic!("no more events after {events:?}")).expect("open");
        text.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
    }
}

/// Every task change is an event: tasks added, changed and removed while planning (with the stages they move), and
/// a fire's integration status through `pending` and its outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_change_emits_an_event_in_order() {
    let app = app().await;
    let mut server = mockito::Server::new_async().await;
    server.mock("GET", "/plain").with_status(200).with_body("ok").create_async().await;
    let runbook = setup(&app, &server.url()).await;
    let request = Request::get(format!("/api/v1/events?runbook={runbook}"))
        .header("authorization", format!("Bearer {}", app.tokens[&Role::Viewer]))
        .body(Body::empty())
        .expect("request");
    let response = app.router.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.into_body().into_data_stream();
    let tasks = format!("/api/v1/runbooks/{runbook}/tasks");
    let added = app.call("POST", &tasks, Role::RunbookAdmin, Some(json!({"name": "Extra", "predecessors": ["plain"]})));
    expect(&added.await, StatusCode::CREATED, None);
    let edit = Some(json!({"predecessors": null}));
    expect(
        &app.call("PATCH", &format!("{tasks}/extra/definition"), Role::RunbookAdmin, edit).await,
        StatusCode::OK,
        None,
    );
    expect(
        &app.call("DELETE", &format!("{tasks}/extra"), Role::RunbookAdmin, None).await,
        StatusCode::NO_CONTENT,
        None,
    );
    let start = Some(json!({"mode": "live"}));
    expect(
        &app.call("POST", &format!("/api/v1/runbooks/{runbook}/start"), Role::RunbookAdmin, start).await,
        StatusCode::OK,
        None,
    );
    expect(&app.call("POST", &format!("{tasks}/plain/start"), Role::Operator, None).await, StatusCode::OK, None);
    let events = read_events(&mut stream, |data| {
        data["event"] == "integration_status_changed" && data["task"] == "plain" && data["status"] == "succeeded"
    })
    .await;
    assert!(events.windows(2).all(|pair| pair[0].0 < pair[1].0), "ids grow: {events:?}");
    let seen: Vec<String> = events
        .iter()
        .map(|(_, data)| data)
        .filter(|data| data["runbook"] == runbook)
        .filter(|data| ["extra", "plain"].contains(&data["task"].as_str().unwrap_or_default()))
        .map(|data| {
            let detail = match data["event"].as_str() {
                Some("task_stage_changed") => {
                    format!("{}>{}", data["from"].as_str().unwrap_or("?"), data["to"].as_str().unwrap_or("?"))
                }
                Some("integration_status_changed") => data["status"].as_str().unwrap_or("?").to_owned(),
                _ => String::new(),
            };
            format!("{} {} {detail}", data["event"].as_str().unwrap_or("?"), data["task"].as_str().unwrap_or("?"))
        })
        .collect();
    assert_eq!(
        seen,
        [
            "task_added extra ",
            "task_edited extra ",
            "task_stage_changed extra not_startable>startable",
            "task_removed extra ",
            "task_stage_changed plain startable>in_progress",
            "integration_status_changed plain pending",
            "integration_status_changed plain running",
            "integration_status_changed plain succeeded",
        ],
        "{events:?}"
    );
    app.stop().await;
}

/// How the third party of [`a_fire_is_running_while_its_request_is_sent_then_ends`] answers.
#[derive(Debug, Clone, Copy)]
enum Third {
    /// At once, with this status.
    Answers(usize),
    /// With 200 only once the test saw the task `running` (through the API) while the request waited.
    Holds,
}

/// A third party that takes one request and answers 200 only when `release` is sent; returns its base URL.
async fn holding_server(release: tokio::sync::oneshot::Receiver<()>) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("a request");
        let mut request = Vec::new();
        let mut buffer = [0_u8; 1024];
        while !request.windows(4).any(|window| window == b"\r\n\r\n") {
            let read = socket.read(&mut buffer).await.expect("read");
            assert!(read > 0, "the request ends early");
            request.extend_from_slice(&buffer[..read]);
        }
        let _ = release.await;
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
        socket.write_all(answer).await.expect("answer");
    });
    format!("http://{address}")
}

/// One fire's integration status on /events: `pending` when it is due, `running` once its request is sent, then its
/// outcome, each once and in that order, whatever the third party answers and however long it takes. A request still
/// in flight shows its task `running` (the report is committed on its own after a moment); a quick one tells
/// `running` with its outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fire_is_running_while_its_request_is_sent_then_ends() {
    async fn check(third: Third, outcome: &str) {
        let app = app().await;
        let mut server = mockito::Server::new_async().await;
        let (release, released) = tokio::sync::oneshot::channel();
        let base = match third {
            Third::Answers(status) => {
                server.mock("GET", "/plain").with_status(status).with_body("answer").create_async().await;
                server.url()
            }
            Third::Holds => holding_server(released).await,
        };
        let runbook = setup(&app, &base).await;
        let request = Request::get(format!("/api/v1/events?runbook={runbook}"))
            .header("authorization", format!("Bearer {}", app.tokens[&Role::Viewer]))
            .body(Body::empty())
            .expect("request");
        let response = app.router.clone().oneshot(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::OK);
        let mut stream = response.into_body().into_data_stream();
        let start = Some(json!({"mode": "live"}));
        let path = format!("/api/v1/runbooks/{runbook}/start");
        expect(&app.call("POST", &path, Role::RunbookAdmin, start).await, StatusCode::OK, None);
        let path = format!("/api/v1/runbooks/{runbook}/tasks/plain/start");
        expect(&app.call("POST", &path, Role::Operator, None).await, StatusCode::OK, None);
        let is_plain = |data: &Value, statuses: &[&str]| {
            data["event"] == "integration_status_changed"
                && data["task"] == "plain"
                && statuses.contains(&data["status"].as_str().unwrap_or_default())
        };
        let mut events = Vec::new();
        if let Third::Holds = third {
            events = read_events(&mut stream, |data| is_plain(data, &["running"])).await;
            let task = app.call("GET", &format!("/api/v1/runbooks/{runbook}/tasks/plain"), Role::Viewer, None).await;
            assert_eq!(task.body["integration_status"], "running", "while the request is in flight");
            release.send(()).expect("the third party waits");
        }
        events.extend(read_events(&mut stream, |data| is_plain(data, &["succeeded", "failed"])).await);
        let statuses: Vec<&str> = events
            .iter()
            .filter(|(_, data)| is_plain(data, &["pending", "running", "waiting", "succeeded", "failed"]))
            .map(|(_, data)| data["status"].as_str().unwrap_or("?"))
            .collect();
        assert_eq!(statuses, ["pending", "running", outcome], "{third:?}: {events:?}");
        assert!(events.windows(2).all(|pair| pair[0].0 < pair[1].0), "ids grow: {events:?}");
        let task = app.call("GET", &format!("/api/v1/runbooks/{runbook}/tasks/plain"), Role::Viewer, None).await;
        assert_eq!(task.body["integration_status"], outcome, "{third:?}");
        app.stop().await;
    }
    for (third, outcome) in
        [(Third::Answers(200), "succeeded"), (Third::Answers(400), "failed"), (Third::Holds, "succeeded")]
    {
        check(third, outcome).await;
    }
}

/// The document's examples of definition files are files the server accepts (schemathesis starts from them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documents_example_definitions_are_accepted() {
    let app = app().await;
    let document = app.send("GET", "/api/v1/openapi.json", None, None).await.body;
    let mut sent = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        let example = &item["post"]["requestBody"]["content"]["application/yaml"]["example"];
        let Some(example) = example.as_str() else { continue };
        let answer = app.yaml(path, Role::Admin, example).await;
        assert!(answer.status.is_success(), "{path}: {answer:?}");
        sent += 1;
    }
    assert_eq!(sent, 2, "POST /definitions and POST /runbooks have examples");
    app.stop().await;
}

/// `PUT /event-integrations/{id}` is a conditional write like the other single resources: the current `ETag` (or
/// `*`, or none) replaces it and answers the new one; a stale or foreign `If-Match` is 412 `precondition_failed` and
/// nothing changed; a new name is 422 and an unknown id 404, whatever the `If-Match`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_integration_is_replaced_only_at_its_if_match_version() {
    /// The `If-Match` a step sends.
    enum Tag {
        /// The `ETag` of the last successful read or write.
        Current,
        /// The `ETag` of the version before it.
        Stale,
        /// This text.
        Given(&'static str),
        /// No header.
        Absent,
    }
    let app = app().await;
    let definition = |enabled: bool, url: &str| {
        json!({"name": "Audit", "events": ["task.started"], "enabled": enabled,
            "request": {"method": "POST", "url": url}})
    };
    let created =
        app.call("POST", "/api/v1/event-integrations", Role::Admin, Some(definition(true, "https://a.test/1")));
    let created = created.await;
    expect(&created, StatusCode::CREATED, None);
    let id = created.body["id"].as_i64().expect("id");
    let path = format!("/api/v1/event-integrations/{id}");
    let mut renamed = definition(true, "https://a.test/9");
    renamed["name"] = json!("Other");
    // (what, path, If-Match, body, status, error code)
    type Step<'a> = (&'a str, String, Tag, Value, StatusCode, Option<&'a str>);
    let steps: Vec<Step<'_>> = vec![
        ("current", path.clone(), Tag::Current, definition(false, "https://a.test/2"), StatusCode::OK, None),
        (
            "stale",
            path.clone(),
            Tag::Stale,
            definition(true, "https://a.test/3"),
            StatusCode::PRECONDITION_FAILED,
            Some("precondition_failed"),
        ),
        (
            "weak",
            path.clone(),
            Tag::Given("W/\"2\""),
            definition(true, "https://a.test/4"),
            StatusCode::PRECONDITION_FAILED,
            Some("precondition_failed"),
        ),
        (
            "not ours",
            path.clone(),
            Tag::Given("\"v2\""),
            definition(true, "https://a.test/5"),
            StatusCode::PRECONDITION_FAILED,
            Some("precondition_failed"),
        ),
        ("absent", path.clone(), Tag::Absent, definition(true, "https://a.test/6"), StatusCode::OK, None),
        ("any", path.clone(), Tag::Given("*"), definition(false, "https://a.test/7"), StatusCode::OK, None),
        ("renamed", path.clone(), Tag::Current, renamed, StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input")),
        (
            "unknown",
            "/api/v1/event-integrations/999".to_owned(),
            Tag::Current,
            definition(true, "https://a.test/8"),
            StatusCode::NOT_FOUND,
            None,
        ),
    ];
    let mut tags = vec![created.etag.clone().expect("an ETag")];
    for (what, path, tag, body, status, code) in steps {
        let before = app.call("GET", &format!("/api/v1/event-integrations/{id}"), Role::Viewer, None).await;
        assert_eq!(before.etag.as_ref(), tags.last(), "{what}: the last write's ETag is the current one");
        let header = match tag {
            Tag::Current => tags.last().cloned(),
            Tag::Stale => tags.iter().rev().nth(1).cloned(),
            Tag::Given(text) => Some(text.to_owned()),
            Tag::Absent => None,
        };
        let headers: Vec<(&str, &str)> = header.iter().map(|tag| ("if-match", tag.as_str())).collect();
        let token = Some(app.tokens[&Role::Admin].as_str());
        let answer = app.send_with("PUT", &path, token, &headers, Some(("application/json", body.to_string()))).await;
        expect(&answer, status, code);
        let after = app.call("GET", &format!("/api/v1/event-integrations/{id}"), Role::Viewer, None).await;
        if status == StatusCode::OK {
            assert_eq!(answer.etag, after.etag, "{what}: the answer's ETag is the new one");
            assert_ne!(answer.etag, before.etag, "{what}: a write moves the ETag");
            // `enabled` is left out when true (its default).
            let enabled = after.body["enabled"].as_bool().unwrap_or(true);
            assert_eq!(
                (&after.body["request"]["url"], Some(enabled)),
                (&body["request"]["url"], body["enabled"].as_bool()),
                "{what}"
            );
            tags.push(answer.etag.clone().expect("an ETag"));
        } else {
            assert_eq!((&after.body, &after.etag), (&before.body, &before.etag), "{what}: nothing changed");
        }
    }
    assert_eq!(tags.len(), 4, "three writes landed: {tags:?}");
    app.stop().await;
}
