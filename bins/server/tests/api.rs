//! What clients rely on, on the real router over a real engine (SQLite in a temporary directory):
//!
//! - conditional requests: every single resource answers with an `ETag`, `If-None-Match` answers 304 while it holds,
//!   and a PATCH or DELETE whose `If-Match` is stale is refused with 412 `precondition_failed` with nothing changed,
//!   as two admins editing at once would be;
//! - paged lists: `{"items", "next_cursor"}`, every item once whatever the page size, filters, and 422 naming the
//!   parameter for anything unknown or out of range.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use cutover_integrations_core::model::Role;
use cutover_integrations_core::store::NewUser;
use cutover_integrations_core::{Engine, EngineSettings};
use cutover_integrations_test_support::fresh_sqlite_url;
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
    let integration =
        app.json("GET", "/api/v1/integrations", &[], None).await.body["items"][0]["id"].as_i64().expect("id");
    let action = app.json("GET", "/api/v1/integrations", &[], None).await.body["items"][0]["actions"][0]["id"]
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

/// Follows every page of `path` (which has a query) with `limit`; returns the items' `key`s.
async fn every_page(app: &App, path: &str, limit: u32, key: &str) -> Vec<Value> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut next = format!("{path}{separator}limit={limit}");
    let mut seen = Vec::new();
    loop {
        let page = app.json("GET", &next, &[], None).await;
        assert_eq!(page.status, StatusCode::OK, "{next}: {page:?}");
        let items = page.body["items"].as_array().unwrap_or_else(|| panic!("{next}: {page:?}"));
        assert!(items.len() <= limit as usize, "{next}");
        seen.extend(items.iter().map(|item| item[key].clone()));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => next = format!("{path}{separator}limit={limit}&cursor={cursor}"),
            None => return seen,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_are_paged_filtered_and_refuse_unknown_parameters() {
    let app = app().await;
    let runbooks = [
        ("Release 1", None),
        ("Release 2", Some("ops")),
        ("Failover", Some("dba")),
        ("release 4", Some("ops")),
        ("Other", None),
    ];
    for (name, workspace) in runbooks {
        let workspace = workspace.map(|workspace| format!("workspace: {workspace}\n")).unwrap_or_default();
        let text = format!(
            "kind: runbook\nname: {name}\n{workspace}tasks:\n  - {{id: a, name: A}}\n  - {{id: b, name: B, predecessors: [a]}}\n"
        );
        let created = app.send("POST", "/api/v1/runbooks", &[], Some(("application/yaml", text))).await;
        assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    }
    for (id, mode) in [(2, "live"), (3, "rehearsal"), (4, "live")] {
        let started =
            app.json("POST", &format!("/api/v1/runbooks/{id}/start"), &[], Some(&json!({"mode": mode}))).await;
        assert_eq!(started.status, StatusCode::OK, "{started:?}");
    }
    let paused = app.json("POST", "/api/v1/runbooks/4/pause", &[], None).await;
    assert_eq!(paused.status, StatusCode::OK, "{paused:?}");
    let finished = app.json("POST", "/api/v1/runbooks/2/tasks/a/start", &[], None).await;
    assert_eq!(finished.status, StatusCode::OK, "{finished:?}");

    let cases: [(&str, Vec<i64>); 9] = [
        ("/api/v1/runbooks", vec![1, 2, 3, 4, 5]),
        ("/api/v1/runbooks?stage=active", vec![2, 3]),
        ("/api/v1/runbooks?stage=paused", vec![4]),
        ("/api/v1/runbooks?mode=live", vec![2, 4]),
        ("/api/v1/runbooks?workspace=ops", vec![2, 4]),
        ("/api/v1/runbooks?name=RELEASE", vec![1, 2, 4]),
        ("/api/v1/runbooks?name=release&workspace=ops&mode=live&stage=active", vec![2]),
        ("/api/v1/runbooks?stage=complete", vec![]),
        ("/api/v1/runbooks?name=%25", vec![]),
    ];
    for (path, expected) in cases {
        for limit in [1, 2, 100] {
            let ids: Vec<i64> = every_page(&app, path, limit, "id").await.iter().filter_map(Value::as_i64).collect();
            assert_eq!(ids, expected, "{path}, {limit} a page");
        }
    }
    let task_cases: [(&str, Vec<&str>); 5] = [
        ("/api/v1/runbooks/2/tasks", vec!["a", "b"]),
        ("/api/v1/runbooks/2/tasks?stage=in_progress", vec!["a"]),
        ("/api/v1/runbooks/2/tasks?stage=not_startable", vec!["b"]),
        ("/api/v1/runbooks/2/tasks?integration_status=none", vec!["a", "b"]),
        ("/api/v1/runbooks/2/tasks?integration_status=failed", vec![]),
    ];
    for (path, expected) in task_cases {
        for limit in [1, 5] {
            let ids = every_page(&app, path, limit, "id").await;
            assert_eq!(ids, expected.iter().map(|id| json!(id)).collect::<Vec<_>>(), "{path}, {limit} a page");
        }
    }
    let foreign = app.json("GET", "/api/v1/runbooks?limit=1", &[], None).await.body["next_cursor"].clone();
    let foreign = foreign.as_str().expect("a cursor");
    let refusals = [
        ("/api/v1/runbooks?limit=0".to_owned(), "limit"),
        ("/api/v1/runbooks?limit=1001".to_owned(), "limit"),
        ("/api/v1/runbooks?limit=x".to_owned(), "limit"),
        ("/api/v1/runbooks?cursor=bm9wZQ".to_owned(), "cursor"),
        ("/api/v1/runbooks?stage=running".to_owned(), "stage"),
        ("/api/v1/runbooks?mode=dry".to_owned(), "mode"),
        ("/api/v1/runbooks?sort=name".to_owned(), "sort"),
        (format!("/api/v1/runbooks/2/tasks?cursor={foreign}"), "cursor"),
        ("/api/v1/runbooks/2/tasks?integration_status=done".to_owned(), "integration_status"),
        ("/api/v1/runbooks/2/tasks?workspace=ops".to_owned(), "workspace"),
        ("/api/v1/integrations?name=x".to_owned(), "name"),
        ("/api/v1/custom-fields?limit=0".to_owned(), "limit"),
        ("/api/v1/system-parameters?page=2".to_owned(), "page"),
        ("/api/v1/users?offset=5".to_owned(), "offset"),
    ];
    for (path, parameter) in refusals {
        let answer = app.json("GET", &path, &[], None).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {answer:?}");
        assert_eq!(answer.body["error"]["details"][0]["path"], parameter, "{path}: {answer:?}");
    }
    for list in ["/api/v1/integrations", "/api/v1/custom-fields", "/api/v1/system-parameters", "/api/v1/users"] {
        let page = app.json("GET", list, &[], None).await;
        assert_eq!(page.status, StatusCode::OK, "{list}");
        assert!(page.body["items"].is_array() && page.body["next_cursor"].is_null(), "{list}: {page:?}");
    }
}

/// Event integrations over REST: admin writes (create 201, update by name 200, replace, delete 204), everyone reads;
/// secrets never come back; invalid definitions are 422 with their path; a file through `POST /definitions`; a
/// runbook's deliveries list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_integrations_are_managed_by_admins_and_never_show_their_secrets() {
    let app = app().await;
    let secret = "evt-s3cret-token";
    let definition = json!({
        "name": "Audit",
        "events": ["task.started", "task.finished"],
        "scope": {"runbook": "Release"},
        "auth": {"type": "token", "token": secret},
        "request": {"method": "POST", "url": "https://audit.example.com/hook"},
    });
    let created = app.json("POST", "/api/v1/event-integrations", &[], Some(&definition)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!(created.body["name"], "Audit");
    assert_eq!(created.body["auth"]["token"], "[REDACTED]");
    assert_eq!(created.body["events"], json!(["task.started", "task.finished"]));
    let id = created.body["id"].as_i64().expect("id");
    let again = app.json("POST", "/api/v1/event-integrations", &[], Some(&definition)).await;
    assert_eq!(
        (again.status, again.body["id"].as_i64(), again.body["version"].as_i64()),
        (StatusCode::OK, Some(id), Some(2))
    );

    let invalid =
        json!({"name": "Bad", "events": ["task.exploded"], "request": {"method": "POST", "url": "https://x.test"}});
    let refused = app.json("POST", "/api/v1/event-integrations", &[], Some(&invalid)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{refused:?}");
    assert!(refused.body.to_string().contains("events[0]"), "{refused:?}");

    let one = app.json("GET", &format!("/api/v1/event-integrations/{id}"), &[], None).await;
    assert_eq!((one.status, one.etag.as_deref()), (StatusCode::OK, Some("\"2\"")), "{one:?}");
    let list = app.json("GET", "/api/v1/event-integrations", &[], None).await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1), "{list:?}");

    let mut renamed = definition.clone();
    renamed["name"] = json!("Other");
    let path = format!("/api/v1/event-integrations/{id}");
    assert_eq!(app.json("PUT", &path, &[], Some(&renamed)).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut disabled = definition.clone();
    disabled["enabled"] = json!(false);
    let replaced = app.json("PUT", &path, &[], Some(&disabled)).await;
    assert_eq!((replaced.status, &replaced.body["enabled"]), (StatusCode::OK, &json!(false)), "{replaced:?}");

    // A viewer reads, and may not write.
    let viewer = NewUser { name: "Viewer".into(), email: "viewer@example.com".into(), roles: vec![Role::Viewer] };
    let engine_token = {
        let request = Request::builder()
            .method("POST")
            .uri("/api/v1/users")
            .header("authorization", format!("Bearer {}", app.token))
            .header("content-type", "application/json")
            .body(Body::from(json!({"name": viewer.name, "email": viewer.email, "roles": ["viewer"]}).to_string()))
            .expect("request");
        let response = app.router.clone().oneshot(request).await.expect("response");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        let body: Value = serde_json::from_slice(&bytes).expect("JSON");
        body["token"].as_str().expect("token").to_owned()
    };
    for (method, uri, body) in [
        ("GET", path.clone(), None),
        ("POST", "/api/v1/event-integrations".to_owned(), Some(definition.to_string())),
        ("DELETE", path.clone(), None),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(&uri)
            .header("authorization", format!("Bearer {engine_token}"))
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, Body::from))
            .expect("request");
        let status = app.router.clone().oneshot(request).await.expect("response").status();
        let expected = if method == "GET" { StatusCode::OK } else { StatusCode::FORBIDDEN };
        assert_eq!(status, expected, "viewer {method} {uri}");
    }

    // A definition file with `kind: event_integration`, applied by an admin.
    let file = "kind: event_integration\nname: Pager\nevents: [task.failed]\nrequest: {method: POST, url: 'https://pager.example.com/x'}\n";
    let applied = app.send("POST", "/api/v1/definitions", &[], Some(("application/yaml", file.to_owned()))).await;
    assert_eq!(applied.status, StatusCode::OK, "{applied:?}");
    assert_eq!(applied.body["event_integrations"].as_array().map(Vec::len), Some(1), "{applied:?}");

    // A runbook's deliveries (none yet); an unknown runbook is 404.
    let runbook = app.send("POST", "/api/v1/definitions", &[], Some(("application/yaml", RUNBOOK.to_owned()))).await;
    let runbook_id = runbook.body["runbooks"][0].as_i64().expect("runbook");
    let deliveries = app.json("GET", &format!("/api/v1/runbooks/{runbook_id}/event-deliveries"), &[], None).await;
    assert_eq!((deliveries.status, &deliveries.body["deliveries"]), (StatusCode::OK, &json!([])), "{deliveries:?}");
    assert_eq!(app.json("GET", "/api/v1/runbooks/999/event-deliveries", &[], None).await.status, StatusCode::NOT_FOUND);

    assert_eq!(app.json("DELETE", &path, &[], None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.json("GET", &path, &[], None).await.status, StatusCode::NOT_FOUND);
    for answer in [created, again, one, list, replaced, applied] {
        assert!(!answer.body.to_string().contains(secret), "a secret came back: {answer:?}");
    }
}
