//! Hostile input through the real router on SQLite and on PostgreSQL (when `CUTOVER_TEST_POSTGRES_URL` is set): NUL
//! characters in every stored name and value answer 422 (PostgreSQL used to answer 500), JSON with surrogate-pair
//! escapes is accepted, URLs that could only fail at fire time or that let operators choose the host are refused at
//! save time, and the server keeps answering after each.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use cutover_integrations_core::model::Role;
use cutover_integrations_core::store::NewUser;
use cutover_integrations_core::{Engine, EngineSettings};
use cutover_integrations_test_support::{fresh_postgres_url, fresh_sqlite_url};
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
}

async fn app(database_url: String) -> App {
    let engine = Engine::builder()
        .database_url(database_url)
        .secret_key_base64(KEY)
        .settings(EngineSettings { name: "hostile-input".into(), ..EngineSettings::default() })
        .build()
        .await
        .expect("engine");
    let admin = NewUser { name: "Admin".into(), email: "admin@example.com".into(), roles: vec![Role::Admin] };
    let token = engine.create_user(&admin).await.expect("admin").token.expose_secret().to_owned();
    let (stop, stopping) = watch::channel(false);
    App { router: router(AppState::new(engine, stopping)), token, _stop: stop }
}

impl App {
    async fn send(&self, method: &str, path: &str, content_type: &str, body: String) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", content_type)
            .body(Body::from(body))
            .expect("request");
        let response = self.router.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn json(&self, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(method, path, "application/json", body.to_string()).await
    }

    /// The server still answers an ordinary request.
    async fn assert_alive(&self, after: &str) {
        let request = Request::builder()
            .uri("/api/v1/integrations")
            .header("authorization", format!("Bearer {}", self.token))
            .body(Body::empty())
            .expect("request");
        let response = self.router.clone().oneshot(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::OK, "after {after}");
    }
}

/// The `(path, message)` of every detail of an error answer.
fn details(body: &Value) -> Vec<(String, String)> {
    body["error"]["details"]
        .as_array()
        .map(|details| {
            details
                .iter()
                .map(|d| (d["path"].as_str().unwrap_or("").to_owned(), d["message"].as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

const NUL: &str = "a NUL character (`\\0`, `\\u0000`) is not allowed: names and values are stored as text";

/// Every backend available: SQLite always, PostgreSQL when the test database is configured.
async fn backends(test: &str) -> Vec<(&'static str, String, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut backends = vec![("sqlite", fresh_sqlite_url(dir.path()), Some(dir))];
    if let Some(url) = fresh_postgres_url(test).await {
        backends.push(("postgres", url, None));
    }
    backends
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_characters_are_refused_everywhere_with_422() {
    for (backend, url, _dir) in backends("hostile_nul").await {
        let app = app(url).await;
        let integration = |name: &str, action: &str, field: &str| {
            json!({"kind": "integration", "name": name, "custom_fields": [{"name": field, "type": "text"}],
                   "actions": [{"name": action, "request": {"method": "GET", "url": "https://x.test/"}}]})
            .to_string()
        };
        let cases: Vec<(&str, &str, String, &str, Vec<&str>)> = vec![
            ("POST", "/api/v1/definitions", integration("I\0", "A", "F"), "application/json", vec!["name"]),
            ("POST", "/api/v1/definitions", integration("I", "A\0", "F"), "application/json", vec!["actions[0].name"]),
            (
                "POST",
                "/api/v1/definitions",
                integration("I", "A", "F\0"),
                "application/json",
                vec!["custom_fields[0].name"],
            ),
            (
                "POST",
                "/api/v1/definitions",
                "kind: runbook\nname: \"R\\0\"\ntasks:\n  - {id: a, name: \"T\\0\"}\n".to_owned(),
                "application/yaml",
                vec!["name", "tasks[0].name"],
            ),
            (
                "POST",
                "/api/v1/runbooks",
                "kind: runbook\nname: R\ntasks:\n  - {id: \"a\\0\", name: T}\n".to_owned(),
                "application/yaml",
                vec!["tasks[0].id"],
            ),
            (
                "POST",
                "/api/v1/users",
                json!({"name": "U\0", "email": "u@x.test", "roles": ["viewer"]}).to_string(),
                "application/json",
                vec!["name"],
            ),
            (
                "POST",
                "/api/v1/system-parameters",
                json!({"name": "p\0", "value": "v"}).to_string(),
                "application/json",
                vec!["name"],
            ),
            (
                "POST",
                "/api/v1/system-parameters",
                json!({"name": "p", "value": "v\0", "secret": false}).to_string(),
                "application/json",
                vec!["value"],
            ),
            (
                "POST",
                "/api/v1/custom-fields",
                json!({"name": "C\0", "type": "text"}).to_string(),
                "application/json",
                vec!["name"],
            ),
        ];
        for (method, path, body, content_type, paths) in cases {
            let (status, answer) = app.send(method, path, content_type, body.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{backend} {path} {body:?}: {answer}");
            let found = details(&answer);
            let found_paths: Vec<&str> = found.iter().map(|(path, _)| path.as_str()).collect();
            assert_eq!(found_paths, paths, "{backend} {path} {body:?}: {answer}");
            assert!(found.iter().all(|(_, message)| message == NUL), "{backend}: {answer}");
            app.assert_alive(&format!("{backend} {path} {body:?}")).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_with_surrogate_pair_escapes_is_accepted() {
    for (backend, url, _dir) in backends("hostile_surrogates").await {
        let app = app(url).await;
        // As Python's `json.dumps` writes "Party 🎉".
        let text = r#"{"kind": "integration", "name": "Party \ud83c\udf89", "actions": [{"name": "Ping \uD83D\uDE00", "request": {"method": "GET", "url": "https://x.test/"}}]}"#;
        let (status, answer) = app.send("POST", "/api/v1/definitions", "application/json", text.to_owned()).await;
        assert_eq!(status, StatusCode::OK, "{backend}: {answer}");
        let (_, listed) = app.json("GET", "/api/v1/integrations", Value::Null).await;
        let listed = listed.to_string();
        assert!(listed.contains("Party \u{1F389}") && listed.contains("Ping \u{1F600}"), "{backend}: {listed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_are_judged_at_save_time() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let app = app(fresh_sqlite_url(dir.path())).await;
    let integration = |url: &str, extra: &str| {
        format!(
            "kind: integration\nname: Snow\ncustom_fields:\n  - {{name: Instance, type: text}}\nactions:\n  - name: \
             Create\n{extra}    auth: {{type: basic, username: bot, password: pw}}\n    request: {{method: POST, url: \
             \"{url}\"}}\n"
        )
    };
    let host_from_field = "https://{{CustomField['Instance']}}.service-now.com/api/now/table/incident";
    let cases = [
        (
            integration(host_from_field, ""),
            "actions[0].request.url",
            "the URL's host reads `CustomField['Instance']`, which operators can change: list the hosts it may take \
             in the action's `allowed_hosts` (host names or `*.suffix`)",
            45,
        ),
        (
            integration("file:///etc/passwd", ""),
            "actions[0].request.url",
            "only `http` and `https` URLs can be sent; this one is `file`",
            35,
        ),
        (
            integration("gopher://127.0.0.1:70/_x", ""),
            "actions[0].request.url",
            "only `http` and `https` URLs can be sent; this one is `gopher`",
            35,
        ),
        (
            integration("https://exa mple.test/", ""),
            "actions[0].request.url",
            "not a valid absolute URL: invalid international domain name",
            35,
        ),
    ];
    for (text, path, message, column) in cases {
        let (status, answer) = app.send("POST", "/api/v1/definitions", "application/yaml", text.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}: {answer}");
        let detail = &answer["error"]["details"][0];
        assert_eq!((detail["path"].as_str(), detail["message"].as_str()), (Some(path), Some(message)), "{answer}");
        assert_eq!((detail["line"].as_u64(), detail["column"].as_u64()), (Some(8), Some(column)), "{answer}");
        app.assert_alive(&text).await;
    }
    let listed = integration(host_from_field, "    allowed_hosts: [\"*.service-now.com\"]\n");
    let (status, answer) = app.send("POST", "/api/v1/definitions", "application/yaml", listed).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}
