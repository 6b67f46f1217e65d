//! Conditional requests on the real router over a real engine (SQLite in a temporary directory): every single
//! resource answers with an `ETag`, `If-None-Match` answers 304 while it holds, and a PATCH or DELETE whose `If-Match`
//! is stale is refused with 412 `precondition_failed` with nothing changed, as two admins editing at once would be.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use cutover_integrations_core::model::Role;
use cutover_integrations_core::store::NewUser;
use cutover_integrations_core::store::test_databases::fresh_sqlite_url;
use cutover_integrations_core::{Engine, EngineSettings};
use cutover_server::{AppState, router};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use tokio::sync::watch;
use tower::ServiceExt as _;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

struct App {
    router: Router,
    token: String,
    _stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    etag: Option<String>,
    body: Value,
}

async fn app() -> App {
    let dir = tempfile::tempdir().expect("temporary directory");
    let settings = EngineSettings {
        name: "conditional-test".into(),
        public_url: "http://127.0.0.1:9/".parse().expect("URL"),
        ..EngineSettings::default()
    };
    let engine = Engine::builder()
        .database_url(fresh_sqlite_url(dir.path()))
        .secret_key_base64(KEY)
        .settings(settings)
        .build()
        .await
        .expect("engine");
    let (stop, stopping) = watch::channel(false);
    let router = router(AppState::new(engine.clone(), stopping));
    let user = NewUser { name: "Admin".into(), email: "admin@example.com".into(), roles: vec![Role::Admin] };
    let token = engine.create_user(&user).await.expect("user").token.expose_secret().to_owned();
    App { router, token, _stop: stop, _dir: dir }
}

impl App {
    async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<(&str, String)>) -> Answer {
        let mut request =
            Request::builder().method(method).uri(path).header("authorization", format!("Bearer {}", self.token));
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
        let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON") };
        Answer { status, etag, body }
    }

    async fn json(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Answer {
        self.send(method, path, headers, body.map(|body| ("application/json", body.to_string()))).await
    }
}

const INTEGRATION: &str = r#"
kind: integration
name: Hooks
custom_fields:
  - {name: Note, type: text}
actions:
  - name: Post
    request: {method: POST, url: "https://example.com/post"}
"#;

const RUNBOOK: &str = r#"
kind: runbook
name: Release
tasks:
  - {id: deploy, name: Deploy}
  - {id: verify, name: Verify}
"#;

/// One resource: where it is read, and two edits of it by two clients holding the same `ETag`.
struct Case {
    name: &'static str,
    read: String,
    first: (&'static str, String, Option<Value>),
    second: (&'static str, String, Option<Value>),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_if_match_is_refused_with_412_and_nothing_changes() {
    let app = app().await;
    let applied =
        app.send("POST", "/api/v1/definitions", &[], Some(("application/yaml", INTEGRATION.to_owned()))).await;
    assert_eq!(applied.status, StatusCode::OK, "{applied:?}");
    let integration = app.json("GET", "/api/v1/integrations", &[], None).await.body[0]["id"].as_i64().expect("id");
    let action = app.json("GET", "/api/v1/integrations", &[], None).await.body[0]["actions"][0]["id"]
        .as_i64()
        .expect("action id");
    let created = app.send("POST", "/api/v1/runbooks", &[], Some(("application/yaml", RUNBOOK.to_owned()))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let runbook = created.body["id"].as_i64().expect("runbook id");
    let task = format!("/api/v1/runbooks/{runbook}/tasks/verify");

    let cases = [
        Case {
            name: "integration patched, then archived",
            read: format!("/api/v1/integrations/{integration}"),
            first: (
                "PATCH",
                format!("/api/v1/integrations/{integration}"),
                Some(json!({"image_url": "https://x/a.png"})),
            ),
            second: ("DELETE", format!("/api/v1/integrations/{integration}"), None),
        },
        Case {
            name: "action patched twice",
            read: format!("/api/v1/actions/{action}"),
            first: ("PATCH", format!("/api/v1/actions/{action}"), Some(json!({"request": {"url": "https://a/1"}}))),
            second: ("PATCH", format!("/api/v1/actions/{action}"), Some(json!({"request": {"url": "https://b/2"}}))),
        },
        Case {
            name: "runbook fields set twice",
            read: format!("/api/v1/runbooks/{runbook}"),
            first: ("PATCH", format!("/api/v1/runbooks/{runbook}"), Some(json!({"custom_fields": {"Note": "one"}}))),
            second: ("PATCH", format!("/api/v1/runbooks/{runbook}"), Some(json!({"custom_fields": {"Note": "two"}}))),
        },
        Case {
            name: "task fields set twice",
            read: task.clone(),
            first: ("PATCH", task.clone(), Some(json!({"custom_fields": {"Note": "one"}}))),
            second: ("PATCH", task.clone(), Some(json!({"custom_fields": {"Note": "two"}}))),
        },
        Case {
            name: "task definition changed twice",
            read: task.clone(),
            first: ("PATCH", format!("{task}/definition"), Some(json!({"name": "Verify once"}))),
            second: ("PATCH", format!("{task}/definition"), Some(json!({"name": "Verify thrice"}))),
        },
        Case {
            name: "task definition changed, then removed",
            read: task.clone(),
            first: ("PATCH", format!("{task}/definition"), Some(json!({"name": "Verify twice"}))),
            second: ("DELETE", task.clone(), None),
        },
    ];
    for case in cases {
        check(&app, &case).await;
    }
}

async fn check(app: &App, case: &Case) {
    let name = case.name;
    let read = app.json("GET", &case.read, &[], None).await;
    assert_eq!(read.status, StatusCode::OK, "{name}: {read:?}");
    let tag = read.etag.clone().unwrap_or_else(|| panic!("{name}: no ETag"));
    let unchanged = app.json("GET", &case.read, &[("if-none-match", &tag)], None).await;
    assert_eq!((unchanged.status, unchanged.etag.as_deref()), (StatusCode::NOT_MODIFIED, Some(tag.as_str())), "{name}");

    let (method, path, body) = &case.first;
    let first = app.json(method, path, &[("if-match", &tag)], body.as_ref()).await;
    assert_eq!(first.status, StatusCode::OK, "{name}: the first edit holds the current tag: {first:?}");
    let after_first = app.json("GET", &case.read, &[], None).await;
    assert_ne!(after_first.etag.as_deref(), Some(tag.as_str()), "{name}: an edit moves the tag");
    assert_eq!(first.etag, after_first.etag, "{name}: an edit answers with the new tag");
    let modified = app.json("GET", &case.read, &[("if-none-match", &tag)], None).await;
    assert_eq!(modified.status, StatusCode::OK, "{name}: an old tag in If-None-Match gets the body");

    let (method, path, body) = &case.second;
    let second = app.json(method, path, &[("if-match", &tag)], body.as_ref()).await;
    assert_eq!(second.status, StatusCode::PRECONDITION_FAILED, "{name}: {second:?}");
    assert_eq!(second.body["error"]["code"], "precondition_failed", "{name}");
    let after_second = app.json("GET", &case.read, &[], None).await;
    assert_eq!(
        (&after_second.body, &after_second.etag),
        (&after_first.body, &after_first.etag),
        "{name}: the refused edit changed nothing"
    );
    for bad in ["W/\"1\"", "\"not-a-version\"", "\"1\", \"2\""] {
        let refused = app.json(method, path, &[("if-match", bad)], body.as_ref()).await;
        assert_eq!(refused.status, StatusCode::PRECONDITION_FAILED, "{name}: If-Match {bad}");
    }
    let current = after_first.etag.clone().unwrap_or_default();
    let (method, path, body) = &case.second;
    let with_current = app.json(method, path, &[("if-match", &current)], body.as_ref()).await;
    assert!(with_current.status.is_success(), "{name}: the current tag is accepted: {with_current:?}");
}
