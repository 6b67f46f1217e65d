//! The catalog over REST, on the real router over a real engine: entries listed with their settings, an entry
//! installed by an admin as a predefined integration with its secret parameters, refusals with the setting's path.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use cutover_integrations_console::ConsoleSettings;
use cutover_integrations_core::model::Role;
use cutover_integrations_core::store::NewUser;
use cutover_integrations_core::{Engine, EngineSettings};
use cutover_integrations_test_support::fresh_sqlite_url;
use cutover_server::{AppState, app, router};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use tokio::sync::watch;
use tower::ServiceExt as _;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

async fn send(
    router: &axum::Router,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = Request::builder().method(method).uri(path).header("authorization", format!("Bearer {token}"));
    let request = match body {
        Some(body) => request.header("content-type", "application/json").body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("request");
    let response = router.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    (status, if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON") })
}

#[tokio::test]
async fn an_admin_installs_an_entry_with_its_settings() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let settings =
        EngineSettings { public_url: "http://127.0.0.1:9/".parse().expect("URL"), ..EngineSettings::default() };
    let engine = Engine::builder()
        .database_url(fresh_sqlite_url(dir.path()))
        .secret_key_base64(KEY)
        .settings(settings)
        .build()
        .await
        .expect("engine");
    let (_stop, stopping) = watch::channel(false);
    let router = router(AppState::new(engine.clone(), stopping));
    let token = |name: &str, role: Role| {
        let engine = engine.clone();
        let user = NewUser { name: name.into(), email: format!("{name}@example.com"), roles: vec![role] };
        async move { engine.create_user(&user).await.expect("user").token.expose_secret().to_owned() }
    };
    let admin = token("admin", Role::Admin).await;
    let operator = token("operator", Role::Operator).await;

    let (status, listed) = send(&router, &operator, "GET", "/api/v1/catalog", None).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> =
        listed["items"].as_array().unwrap().iter().map(|entry| entry["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["slack", "microsoft-teams", "jira-cloud", "servicenow", "pagerduty", "github-actions", "standard-webhooks"]
    );
    // Each entry names its icon, which the server (its console, mounted at `/`) serves at that path.
    let (_stop_app, app_stopping) = watch::channel(false);
    let console = ConsoleSettings::for_public_url(&"http://127.0.0.1:9/".parse().expect("URL"));
    let whole = app(AppState::new(engine.clone(), app_stopping), console);
    for entry in listed["items"].as_array().unwrap() {
        let icon = entry["icon"].as_str().unwrap_or_else(|| panic!("an icon path: {entry}"));
        assert_eq!(icon, format!("/assets/catalog/{}.svg", entry["name"].as_str().unwrap()), "{entry}");
        let response = whole.clone().oneshot(Request::get(icon).body(Body::empty()).expect("request")).await;
        let response = response.expect("response");
        assert_eq!(response.status(), StatusCode::OK, "{icon}");
        assert_eq!(response.headers()["content-type"], "image/svg+xml", "{icon}");
        let svg = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        assert!(svg.starts_with(b"<svg"), "{icon}");
    }
    let jira = &listed["items"][2];
    assert_eq!(jira["actions"], json!(["Create an issue", "Add a comment", "Transition an issue"]));
    assert_eq!(
        jira["settings"][2],
        json!({"key": "api_token", "label": "API token", "description": "An API token of that account (id.atlassian.com, Security, API tokens).",
            "kind": "secret", "secret": true, "required": true, "default": null, "system_parameter": "jira_cloud_api_token"})
    );

    let body = json!({"name": "Jira EU", "settings": {"site_url": "https://acme-eu.atlassian.net", "email": "ops@acme.test", "api_token": "atl-secret-123"}});
    let (status, refused) =
        send(&router, &operator, "POST", "/api/v1/catalog/jira-cloud/install", Some(body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, installed) =
        send(&router, &admin, "POST", "/api/v1/catalog/jira-cloud/install", Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{installed}");
    assert_eq!(installed["name"], "Jira EU");
    assert_eq!(installed["parameters_set"], json!(["jira_eu_api_token"]));
    assert!(!installed.to_string().contains("atl-secret-123"));

    let path = format!("/api/v1/integrations/{}", installed["integration_id"]);
    let (status, integration) = send(&router, &admin, "GET", &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let shown = integration.to_string();
    assert!(shown.contains("\"type\":\"predefined\"") && shown.contains("acme-eu.atlassian.net"), "{shown}");
    assert!(!shown.contains("atl-secret-123"), "{shown}");
    let (_, parameters) = send(&router, &admin, "GET", "/api/v1/system-parameters", None).await;
    assert!(!parameters.to_string().contains("atl-secret-123"));
    assert!(parameters.to_string().contains("jira_eu_api_token"));

    let (status, again) = send(&router, &admin, "POST", "/api/v1/catalog/jira-cloud/install", Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{again}");
    let bad = json!({"settings": {"site_url": "acme.atlassian.net", "email": "ops@acme.test", "api_token": "t"}});
    let (status, bad) = send(&router, &admin, "POST", "/api/v1/catalog/jira-cloud/install", Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert_eq!(bad["error"]["details"][0]["path"], "settings.site_url");
    let (status, unknown) = send(&router, &admin, "POST", "/api/v1/catalog/jira-clod/install", Some(json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
    assert_eq!(unknown["error"]["code"], "catalog_entry_not_found");
    assert!(unknown["error"]["message"].as_str().unwrap().contains("did you mean"), "{unknown}");
}
