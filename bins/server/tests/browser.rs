//! Browser tests of the web console: a real Chromium (Debian's `chromium` and `chromedriver`, driven over WebDriver)
//! against the real server (REST API and console) on loopback over a temporary SQLite database. Controls are found
//! by their accessible names. Each screen is saved as a PNG under `target/screenshots/`.
//!
//! Without Chromium the tests print `skipped: no chromium` and pass, unless `CUTOVER_REQUIRE_BROWSER=1`.

mod support;

use cutover_integrations_console::{CONTENT_SECURITY_POLICY, ConsoleSettings};
use cutover_integrations_core::model::Role;
use cutover_integrations_core::store::NewUser;
use cutover_integrations_core::{Engine, EngineSettings};
use cutover_integrations_test_support::fresh_sqlite_url;
use cutover_server::{AppState, app};
use secrecy::ExposeSecret as _;
use serde_json::Value;
use support::browser::{Browser, browser_or_skip};
use tokio::sync::watch;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const BOOTSTRAP: &str = "bootstrap-token-for-browser-tests";

/// One browser at a time: the machine is small, and Chromium is heavy.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The server on a loopback port, with the bootstrap admin.
struct Server {
    base: String,
    engine: Engine,
    _stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

async fn server() -> Server {
    let dir = tempfile::tempdir().expect("temporary directory");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let settings = EngineSettings { public_url: base.parse().expect("URL"), ..EngineSettings::default() };
    let engine = Engine::builder()
        .database_url(fresh_sqlite_url(dir.path()))
        .secret_key_base64(KEY)
        .allow_outbound("127.0.0.0/8".parse().expect("CIDR"))
        .settings(settings)
        .build()
        .await
        .expect("engine");
    engine.ensure_admin_token("bootstrap@localhost", BOOTSTRAP).await.expect("bootstrap admin");
    let (stop, stopping) = watch::channel(false);
    let router =
        app(AppState::new(engine.clone(), stopping), ConsoleSettings::for_public_url(&base.parse().expect("URL")));
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server { base, engine, _stop: stop, _dir: dir }
}

/// The layout holds at 1920×1080 and at 200% zoom of 1280×800; the last is saved as `NAME-zoom200.png`.
async fn check_layouts(browser: &Browser, name: &str) {
    browser.viewport(1920, 1080, 1.0).await;
    assert!(!browser.overflows_sideways().await, "{name}: overflows at 1920×1080");
    browser.viewport(640, 400, 2.0).await;
    assert!(!browser.overflows_sideways().await, "{name}: overflows at 200% zoom");
    browser.screenshot(&format!("{name}-zoom200")).await;
    browser.viewport(1280, 800, 1.0).await;
    assert!(!browser.overflows_sideways().await, "{name}: overflows at 1280×800");
}

#[tokio::test]
async fn sign_in_create_a_connection_and_sign_out() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = browser_or_skip("sign_in_create_a_connection_and_sign_out").await else { return };
    let server = server().await;

    browser.goto(&format!("{}/", server.base)).await;
    browser.heading("Sign in").await;
    browser.screenshot("01-sign-in").await;
    check_layouts(&browser, "01-sign-in").await;
    let field = browser.field("API token").await;
    browser.fill(&field, "not-a-token").await;
    browser.click(&browser.button("Sign in").await).await;
    browser.find("//*[@role='alert'][contains(., 'not valid')]", "the refusal").await;

    browser.sign_in(&server.base, BOOTSTRAP).await;
    for name in ["Runbooks", "Settings", "Integrations", "Custom Fields", "System Parameters", "Users", "Learn more"] {
        browser.link(name).await;
    }
    assert!(browser.has_button("Sign out").await);
    browser.screenshot("02-integrations-empty").await;
    check_layouts(&browser, "02-integrations-empty").await;
    browser.assert_no_csp_violation("consoleReady").await;

    // The dialog opens, traps focus, closes with Escape, and creates the connection.
    browser.click(&browser.button("Create Integration").await).await;
    browser.dialog("New Integration Connection").await;
    let custom = browser.field("Custom integration").await;
    assert_eq!(browser.property(&custom, "checked").await, Value::Bool(true));
    browser.click(&browser.field("Predefined integration").await).await;
    browser.field("Integration").await;
    browser.screenshot("03-new-connection-predefined").await;
    browser.click(&custom).await;
    for _ in 0..8 {
        browser.press("\u{E004}").await;
        let focused = browser.execute("return !!document.activeElement.closest('dialog[open]');", vec![]).await;
        assert_eq!(focused, Value::Bool(true), "Tab stays in the dialog: {}", browser.focused().await);
    }
    browser.press("\u{E00C}").await;
    browser.wait_for("return !document.querySelector('dialog[open]');", "Escape to close the dialog").await;
    browser.click(&browser.button("Create Integration").await).await;
    browser.dialog("New Integration Connection").await;
    browser.fill(&browser.field("Name").await, "Slack").await;
    browser.screenshot("04-new-connection").await;
    browser.click(&browser.button("Create").await).await;
    browser.heading("Edit Custom Integration").await;
    browser.heading("Integration Actions").await;
    assert!(browser.has_button("Archive").await);
    assert!(browser.has_button("New").await);
    browser.screenshot("05-edit-connection").await;
    check_layouts(&browser, "05-edit-connection").await;
    // Renamed while no runbook uses it; a blank name is refused at the field.
    let name = browser.field("Name").await;
    browser.fill(&name, " ").await;
    browser.submit(&browser.button("Save").await).await;
    let alert = browser.text(&browser.find("//*[@role='alert']", "the refusal").await).await;
    assert!(alert.contains("name: must not be empty"), "{alert}");
    browser.fill(&browser.field("Name").await, "Slack Chat").await;
    browser.submit(&browser.button("Save").await).await;
    browser.heading("Edit Custom Integration").await;
    assert!(!browser.present("//*[@role='alert']").await, "saved: {}", browser.page_text().await);
    let renamed = browser.property(&browser.field("Name").await, "value").await;
    assert_eq!(renamed, Value::from("Slack Chat"));
    browser.screenshot("05b-connection-renamed").await;
    browser.click(&browser.link("Integration Connections").await).await;
    browser.link("Slack Chat").await;
    browser.assert_no_csp_violation("consoleReady").await;

    browser.click(&browser.button("Sign out").await).await;
    browser.heading("Sign in").await;
    browser.goto(&format!("{}/settings/integrations", server.base)).await;
    browser.heading("Sign in").await;
    browser.quit().await;
}

#[tokio::test]
async fn a_viewer_is_offered_no_edit_control() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = browser_or_skip("a_viewer_is_offered_no_edit_control").await else { return };
    let server = server().await;
    let document = r#"{"kind":"integration","name":"Slack","actions":[]}"#;
    server.engine.apply_definitions(&[("slack.json", document)]).await.expect("integration");
    let viewer = NewUser { name: "Vera Viewer".into(), email: "vera@example.com".into(), roles: vec![Role::Viewer] };
    let token = server.engine.create_user(&viewer).await.expect("viewer").token;
    browser.sign_in(&server.base, token.expose_secret()).await;
    assert!(!browser.has_button("Create Integration").await);
    browser.click(&browser.link("Slack").await).await;
    browser.heading("Edit Custom Integration").await;
    for control in ["Archive", "New", "Save"] {
        assert!(!browser.has_button(control).await, "a viewer is not offered {control}");
    }
    browser.screenshot("06-viewer-connection").await;
    browser.click(&browser.link("Custom Fields").await).await;
    browser.heading("Custom Fields").await;
    assert!(!browser.has_button("New Custom Field").await);
    // A write the viewer's own session sends (with its CSRF token) is refused.
    let status = browser
        .execute(
            "const token = document.querySelector('meta[name=\"csrf-token\"]').content;
             const body = new URLSearchParams({csrf: token, kind: 'custom', name: 'Forged'});
             const xhr = new XMLHttpRequest();
             xhr.open('POST', '/settings/integrations', false);
             xhr.send(body);
             return xhr.status;",
            vec![],
        )
        .await;
    assert_eq!(status, Value::from(403));
    assert_eq!(server.engine.integrations().await.expect("list").len(), 1);
    browser.assert_no_csp_violation("consoleReady").await;
    let csp = reqwest::get(format!("{}/sign-in", server.base)).await.expect("sign-in page");
    assert_eq!(csp.headers()["content-security-policy"], CONTENT_SECURITY_POLICY);
    browser.quit().await;
}

/// A mock OAuth provider on loopback: its authorization endpoint sends the browser straight back with a code, its
/// token endpoint answers a token.
async fn mock_provider() -> String {
    use axum::extract::Query;
    use axum::response::Redirect;
    use axum::routing::{get, post};
    use std::collections::HashMap;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let provider = axum::Router::new()
        .route(
            "/oauth/authorize",
            get(|Query(query): Query<HashMap<String, String>>| async move {
                let mut back = url::Url::parse(&query["redirect_uri"]).expect("redirect URI");
                back.query_pairs_mut().append_pair("code", "the-code").append_pair("state", &query["state"]);
                Redirect::to(back.as_str())
            }),
        )
        .route(
            "/api/oauth.access",
            post(|| async {
                axum::Json(serde_json::json!({"access_token": "xoxp-access-token", "token_type": "bearer", "expires_in": 3600}))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, provider).await });
    base
}

const BROKEN_PAYLOAD: &str =
    r#"{"channel":"{{CustomField['Slack Channel']}}","text":"{{CustomField['Slack Message']}}}"#;
const PAYLOAD: &str = r#"{"channel":"{{CustomField['Slack Channel']}}","text":"{{CustomField['Slack Message']}}"}"#;
const CLIENT_SECRET: &str = "slack-client-secret-4242";

#[tokio::test]
async fn the_seed_slack_integration_is_created_by_clicking_and_typing() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = browser_or_skip("the_seed_slack_integration_is_created_by_clicking_and_typing").await else {
        return;
    };
    let server = server().await;
    let provider = mock_provider().await;
    browser.sign_in(&server.base, BOOTSTRAP).await;

    // The connection.
    browser.click(&browser.button("Create Integration").await).await;
    browser.dialog("New Integration Connection").await;
    browser.fill(&browser.field("Name").await, "Slack").await;
    browser.click(&browser.button("Create").await).await;
    browser.heading("Edit Custom Integration").await;

    // The action, as the guide orders it: General saved alone (a draft), then its custom fields, then its
    // Authorization and Request.
    browser.click(&browser.button("New").await).await;
    browser.dialog("New Integration Action").await;
    for tab in ["General", "Authorization", "Request", "Response", "Polling"] {
        browser.tab(tab).await;
    }
    browser.fill(&browser.field("Name").await, "Post to a channel").await;
    browser.choose("Trigger", "On Task Start").await;
    browser.choose("Visibility", "Global").await;
    browser.click(&browser.field("Cancelable").await).await;
    browser.click(&browser.field("Finish task on success").await).await;
    browser.screenshot("07-action-general").await;
    check_layouts(&browser, "07-action-general").await;
    // Tabs are real tabs: arrow keys move between them.
    browser.click(&browser.tab("General").await).await;
    browser.press("\u{E014}").await;
    let selected = browser.attribute(&browser.tab("Authorization").await, "aria-selected").await;
    assert_eq!(selected.as_deref(), Some("true"), "ArrowRight selects the next tab");
    browser.submit(&browser.button("Save").await).await;
    browser.dialog("Edit action Post to a channel").await;
    assert!(!browser.present("//*[@role='alert']").await, "saved: {}", browser.page_text().await);
    let note = browser.text(&browser.find("//*[@class='draft-note']", "the draft note").await).await;
    assert!(note.starts_with("Draft No task can use this action until its request is complete"), "{note}");
    browser.screenshot("07b-action-draft").await;
    browser.assert_no_csp_violation("consoleReady").await;
    browser.click(&browser.button("Discard").await).await;
    browser.heading("Integration Actions").await;
    browser.button("Edit action Post to a channel").await;
    let row = browser.text(&browser.find("//table[@class='actions']//tbody/tr", "the action's row").await).await;
    assert!(row.contains("Draft"), "the list says the action is a draft: {row}");
    browser.screenshot("07c-connection-with-draft").await;

    // The two custom fields, restricted to the action, Transient and Required.
    browser.click(&browser.link("Custom Fields").await).await;
    for (name, field_type) in [("Slack Channel", "Text"), ("Slack Message", "Textarea")] {
        browser.click(&browser.button("New Custom Field").await).await;
        browser.dialog("New Custom Field").await;
        browser.fill(&browser.field("Name").await, name).await;
        browser.choose("Visibility", "Global").await;
        browser.choose("Field type", field_type).await;
        browser.choose("Displays on", "Task edit").await;
        browser.choose("Restrict to integration", "Post to a channel").await;
        browser.click(&browser.field("Transient").await).await;
        browser.click(&browser.field("Required").await).await;
        if name == "Slack Message" {
            browser.screenshot("09-new-custom-field").await;
            check_layouts(&browser, "09-new-custom-field").await;
        }
        browser.click(&browser.button("Create").await).await;
        browser.find(&format!("//td[normalize-space()='{name}']"), name).await;
    }
    browser.screenshot("10-custom-fields").await;

    // Back to the action: Authorization (OAuth), then the Request; the broken seed payload is flagged as typed, then
    // fixed and saved.
    browser.click(&browser.link("Integrations").await).await;
    browser.click(&browser.link("Slack").await).await;
    browser.click(&browser.button("Edit action Post to a channel").await).await;
    browser.dialog("Edit action Post to a channel").await;
    browser.click(&browser.tab("Authorization").await).await;
    browser.choose("Authorization Type", "OAuth").await;
    browser.choose("Authorization Flow", "Authorization Code").await;
    browser.fill(&browser.field("Client ID").await, "A0123").await;
    browser.fill(&browser.field("Client Secret").await, CLIENT_SECRET).await;
    browser.fill(&browser.field("OAuth2 provider host").await, &provider).await;
    browser.fill(&browser.field("Authorization Endpoint").await, "/oauth/authorize").await;
    browser.fill(&browser.field("Token Endpoint").await, "/api/oauth.access").await;
    browser.fill(&browser.field("Scopes").await, "channels:read chat:write:bot chat:write:user").await;
    browser.choose("Authenticate as", "Functional user").await;
    let redirect = browser.property(&browser.field("Redirect URI").await, "value").await;
    assert_eq!(redirect, Value::from(format!("{}/api/v1/oauth/callback", server.base)));
    browser.screenshot("08-action-authorization").await;
    browser.click(&browser.tab("Request").await).await;
    browser.choose("Request type", "POST").await;
    browser.fill(&browser.field("URL").await, "https://slack.com/api/chat.postMessage").await;
    browser.fill(&browser.field("Request headers").await, r#"{"Content-Type":"application/json"}"#).await;
    browser.choose("Execution mode", "Fire and forget").await;
    let payload = browser.field("Outbound payload").await;
    browser.fill(&payload, BROKEN_PAYLOAD).await;
    browser
        .wait_for(
            "return (document.getElementById('action-payload-error')?.textContent ?? '').match(/^1:\\d+: /) !== null;",
            "the checker to flag the broken payload",
        )
        .await;
    let flagged = browser.text(&browser.find("//*[@id='action-payload-error']", "payload error").await).await;
    browser.screenshot("11-payload-flagged").await;
    assert!(flagged.starts_with("1:"), "{flagged}");
    browser.fill(&payload, PAYLOAD).await;
    browser
        .wait_for("return document.getElementById('action-payload-error').textContent === '';", "the error to clear")
        .await;
    browser.submit(&browser.button("Save").await).await;
    browser.dialog("Edit action Post to a channel").await;
    assert!(!browser.present("//*[@role='alert']").await, "saved: {}", browser.page_text().await);
    assert!(!browser.present("//*[@class='draft-note']").await, "no longer a draft");
    // A second save leaves the secret blank: the stored one is kept.
    browser.click(&browser.tab("Authorization").await).await;
    let secret = browser.field("Client Secret").await;
    assert_eq!(browser.property(&secret, "value").await, Value::from(""), "the secret is not rendered back");
    browser.submit(&browser.button("Save").await).await;
    browser.dialog("Edit action Post to a channel").await;
    assert!(!browser.present("//*[@role='alert']").await, "saved: {}", browser.page_text().await);
    let html = browser.execute("return document.documentElement.outerHTML;", vec![]).await;
    assert!(!html.as_str().unwrap_or_default().contains(CLIENT_SECRET), "no secret in the page");

    // Authenticate against the mock provider.
    browser.click(&browser.tab("Authorization").await).await;
    let status = browser.text(&browser.find("//*[@class='oauth-status']", "the OAuth status").await).await;
    assert_eq!(status, "Not authenticated yet.");
    browser.click(&browser.button("Authenticate").await).await;
    browser.heading("Authorized").await;
    browser.click(&browser.link("Back to the console").await).await;
    browser.heading("Integration Connections").await;
    browser.click(&browser.link("Slack").await).await;
    browser.click(&browser.button("Edit action Post to a channel").await).await;
    browser.click(&browser.tab("Authorization").await).await;
    let status = browser.text(&browser.find("//*[@class='oauth-status']", "the OAuth status").await).await;
    assert!(status.starts_with("Authenticated by bootstrap@localhost at "), "{status}");
    assert!(status.contains(": token obtained "), "{status}");
    browser.execute("document.querySelector('.oauth-status').scrollIntoView({block: 'center'});", vec![]).await;
    browser.screenshot("12-authenticated").await;

    // The REST API returns the definition.
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}/api/v1{path}", server.base)).bearer_auth(BOOTSTRAP).send();
    let integrations: Value = get("/integrations").await.expect("integrations").json().await.expect("json");
    let slack = &integrations["items"][0];
    assert_eq!(slack["name"], "Slack");
    let action = &slack["actions"][0];
    assert_eq!(action["name"], "Post to a channel");
    assert_eq!(action["trigger"], "task_start");
    assert_eq!(action["settings"]["cancelable"], true);
    assert_eq!(action["settings"]["finish_task_on_success"], true);
    assert_eq!(action["settings"]["auto_start"], false);
    assert_eq!(action["auth"]["type"], "oauth2");
    assert_eq!(action["auth"]["grant"], "authorization_code");
    assert_eq!(action["auth"]["client_id"], "A0123");
    assert_eq!(action["auth"]["client_secret"], "[REDACTED]");
    assert_eq!(action["auth"]["token_endpoint"], "/api/oauth.access");
    assert_eq!(action["auth"]["scopes"], serde_json::json!(["channels:read", "chat:write:bot", "chat:write:user"]));
    assert_eq!(action["request"]["method"], "POST");
    assert_eq!(action["request"]["url"], "https://slack.com/api/chat.postMessage");
    assert_eq!(action["request"]["headers"]["Content-Type"], "application/json");
    // A JSON object typed in the console is kept in the structured form, each string a template.
    assert_eq!(action["request"]["payload"], serde_json::from_str::<Value>(PAYLOAD).expect("JSON"));
    assert_eq!(action["request"]["execution_mode"], "fire_and_forget");
    let fields: Value = get("/custom-fields").await.expect("fields").json().await.expect("json");
    for (name, field_type) in [("Slack Channel", "text"), ("Slack Message", "textarea")] {
        let field = fields["items"].as_array().and_then(|all| all.iter().find(|f| f["name"] == name)).expect("field");
        assert_eq!(field["type"], field_type);
        assert_eq!(field["restrict_to"], serde_json::json!(["Post to a channel"]));
        assert_eq!(field["transient"], true);
        assert_eq!(field["required"], true);
    }
    let stored = server.engine.integrations().await.expect("stored");
    let stored_secret = match &stored[0].integration.actions[0].auth {
        cutover_integrations_core::model::AuthSettings::Oauth2(oauth) => oauth.client_secret.expose().to_owned(),
        other => panic!("not OAuth: {other:?}"),
    };
    assert_eq!(stored_secret, CLIENT_SECRET, "the secret kept through the second save");
    browser.quit().await;
}

#[tokio::test]
async fn users_and_system_parameters_keep_secrets_and_writes_need_the_csrf_token() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = browser_or_skip("users_and_system_parameters").await else { return };
    let server = server().await;
    browser.sign_in(&server.base, BOOTSTRAP).await;

    browser.click(&browser.link("System Parameters").await).await;
    browser.heading("System Parameters").await;
    browser.fill(&browser.field("Name").await, "slack_client_secret").await;
    browser.fill(&browser.field("Value").await, "very-secret-parameter").await;
    assert_eq!(browser.property(&browser.field("Secret").await, "checked").await, Value::Bool(true));
    browser.click(&browser.button("Save parameter").await).await;
    browser.find("//td[normalize-space()='slack_client_secret']", "the parameter").await;
    assert!(!browser.page_text().await.contains("very-secret-parameter"));
    let html = browser.execute("return document.documentElement.outerHTML;", vec![]).await;
    assert!(!html.as_str().unwrap_or_default().contains("very-secret-parameter"), "no secret in the page");
    browser.screenshot("13-system-parameters").await;
    check_layouts(&browser, "13-system-parameters").await;

    browser.click(&browser.link("Users").await).await;
    browser.heading("Users").await;
    browser.fill(&browser.field("Name").await, "Olga Operator").await;
    browser.fill(&browser.field("Email").await, "olga@example.com").await;
    browser.click(&browser.field("Operator").await).await;
    browser.click(&browser.button("Create user").await).await;
    let token = browser.property(&browser.field("New API token").await, "value").await;
    let token = token.as_str().unwrap_or_default().to_owned();
    let user = server.engine.authenticate(&token).await.expect("authenticate").expect("the shown token works");
    assert_eq!(user.email, "olga@example.com");
    browser.click(&browser.button("Copy").await).await;
    browser.screenshot("14-users-token-once").await;
    browser.click(&browser.link("Users").await).await;
    browser.heading("Users").await;
    assert!(!browser.page_text().await.contains(&token), "the token is shown once");
    browser.screenshot("15-users").await;

    // A write from this session without the CSRF token is refused; with it, accepted.
    let post = "const body = new URLSearchParams(arguments[0]);
        const xhr = new XMLHttpRequest();
        xhr.open('POST', '/settings/system-parameters', false);
        xhr.send(body);
        return xhr.status;";
    let without = browser.execute(post, vec![serde_json::json!({"name": "forged", "value": "x"})]).await;
    assert_eq!(without, Value::from(403));
    let csrf = browser.execute("return document.querySelector('meta[name=\"csrf-token\"]').content;", vec![]).await;
    let with = browser.execute(post, vec![serde_json::json!({"name": "allowed", "value": "x", "csrf": csrf})]).await;
    assert_eq!(with, Value::from(200), "a redirect to the list, followed");
    let names: Vec<String> =
        server.engine.system_parameters().await.expect("parameters").into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["allowed", "slack_client_secret"]);
    browser.click(&browser.link("Runbooks").await).await;
    browser.heading("Runbooks").await;
    browser.screenshot("16-runbooks").await;
    browser.assert_no_csp_violation("consoleReady").await;
    browser.quit().await;
}

#[tokio::test]
async fn a_predefined_integration_is_installed_from_the_picker() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = browser_or_skip("a_predefined_integration_is_installed_from_the_picker").await else { return };
    let server = server().await;
    browser.sign_in(&server.base, BOOTSTRAP).await;
    browser.click(&browser.button("Create Integration").await).await;
    browser.dialog("New Integration Connection").await;
    browser.click(&browser.field("Predefined integration").await).await;
    browser.choose("Integration", "Jira Cloud").await;
    browser.fill(&browser.field("Site URL *").await, "https://acme.atlassian.net").await;
    browser.fill(&browser.field("Account email *").await, "ops@acme.test").await;
    let token = browser.field("API token *").await;
    assert_eq!(browser.attribute(&token, "type").await.as_deref(), Some("password"));
    browser.fill(&token, "atl-browser-secret").await;
    // The settings' descriptions show their `code` spans as code, not as markdown backticks.
    let dialog_text = browser.execute("return document.querySelector('dialog[open]').innerText;", vec![]).await;
    let dialog_text = dialog_text.as_str().unwrap_or_default();
    assert!(
        dialog_text.contains("such as https://your-domain.atlassian.net") && !dialog_text.contains('`'),
        "{dialog_text}"
    );
    let code = browser
        .execute("return [...document.querySelectorAll('dialog[open] .hint code')].map(c => c.textContent);", vec![])
        .await;
    assert!(code.as_array().is_some_and(|spans| spans.contains(&"https://your-domain.atlassian.net".into())), "{code}");
    browser.screenshot("06-predefined-jira").await;
    check_layouts(&browser, "06-predefined-jira").await;
    browser.click(&browser.button("Create").await).await;
    browser.heading("Edit Predefined Integration").await;
    // The entry's own icon, served by the console at its stable path, is the connection's image and is drawn.
    browser
        .wait_for(
            "const i = document.querySelector('.heading img'); \
             return i.complete && i.naturalWidth > 0 && new URL(i.src).pathname === '/assets/catalog/jira-cloud.svg';",
            "the Jira Cloud icon to load",
        )
        .await;
    let text = browser.page_text().await;
    assert!(text.contains("Create an issue") && text.contains("Transition an issue"), "{text}");
    assert!(!text.contains("atl-browser-secret"));
    browser.screenshot("07-predefined-installed").await;
    let parameters = server.engine.system_parameters().await.expect("parameters");
    assert!(parameters.iter().any(|parameter| parameter.name == "jira_cloud_api_token" && parameter.secret));
    browser.assert_no_csp_violation("consoleReady").await;
    browser.quit().await;
}

/// `Event Integrations` in Settings, as a viewer (who may read them, as through the REST API): each event
/// integration with its event types, scope and enabled, and the latest deliveries of each, found by the tables'
/// captions; no control to change anything.
#[tokio::test]
async fn event_integrations_show_what_each_last_sent() {
    let _one = ONE_BROWSER.lock().await;
    let Some(browser) = browser_or_skip("event_integrations_show_what_each_last_sent").await else { return };
    let server = server().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
    let receiver = format!("http://{}", listener.local_addr().expect("address"));
    let hooks = axum::Router::new().route("/ok", axum::routing::post(|| async { "ok" })).route(
        "/down",
        axum::routing::post(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "0")], "down") }),
    );
    tokio::spawn(async move { axum::serve(listener, hooks).await });
    let running = server.engine.start();
    let files = [
        (
            "audit.yaml",
            format!(
                "kind: event_integration\nname: Audit\nevents: [task.started, task.finished]\nscope: {{runbook: Release}}\n\
                 request: {{method: POST, url: '{receiver}/ok'}}\n"
            ),
        ),
        (
            "pager.yaml",
            format!(
                "kind: event_integration\nname: Pager\nevents: [task.started]\n\
                 request: {{method: POST, url: '{receiver}/down'}}\n"
            ),
        ),
        (
            "quiet.yaml",
            format!(
                "kind: event_integration\nname: Quiet\nevents: [run.finished]\nenabled: false\n\
                 request: {{method: POST, url: '{receiver}/ok'}}\n"
            ),
        ),
        ("release.yaml", "kind: runbook\nname: Release\ntasks:\n  - {id: deploy, name: Deploy}\n".to_owned()),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(name, text)| (*name, text.as_str())).collect();
    let applied = server.engine.apply_definitions(&files).await.expect("definitions");
    let runbook = applied.runbooks[0];
    let operator = cutover_integrations_core::runbook::Actor::with_roles([Role::Operator]);
    use cutover_integrations_core::UserCommand;
    for command in [
        UserCommand::StartRunbook { mode: cutover_integrations_core::model::RunMode::Live },
        UserCommand::StartTask { task: "deploy".into(), force: false },
        UserCommand::FinishTask { task: "deploy".into() },
    ] {
        server.engine.command(runbook, command, &operator).await.expect("command");
    }
    // Audit's two deliveries and Pager's one (failed after its retries) are recorded.
    let recorded = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            let deliveries = server.engine.runbook_event_deliveries(runbook).await.expect("deliveries");
            let done = deliveries.iter().filter(|d| d.outcome.is_some()).count();
            if deliveries.len() == 3 && done == 3 {
                return;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(recorded.is_ok(), "the deliveries are recorded");

    let viewer = NewUser { name: "Vera Viewer".into(), email: "vera@example.com".into(), roles: vec![Role::Viewer] };
    let token = server.engine.create_user(&viewer).await.expect("viewer").token;
    browser.sign_in(&server.base, token.expose_secret()).await;
    browser.click(&browser.link("Event Integrations").await).await;
    browser.heading("Event Integrations").await;
    for name in ["Audit", "Pager", "Quiet"] {
        browser.find(&format!("//section[h2[starts-with(normalize-space(), '{name}')]]"), name).await;
    }
    let audit =
        browser.find("//table[caption[normalize-space()='Last deliveries of Audit']]", "Audit's deliveries").await;
    let audit = browser.text(&audit).await;
    assert!(audit.contains("task.finished") && audit.contains("task.started"), "{audit}");
    assert_eq!(audit.matches("Delivered").count(), 2, "{audit}");
    assert!(audit.find("task.finished") < audit.find("task.started"), "newest first: {audit}");
    let link = format!(
        "//table[caption[normalize-space()='Last deliveries of Audit']]//a[normalize-space()='Release'][@href='/runbooks/{}']",
        runbook.0
    );
    browser.find(&link, "the runbook, by name").await;
    let pager =
        browser.find("//table[caption[normalize-space()='Last deliveries of Pager']]", "Pager's deliveries").await;
    assert!(browser.text(&pager).await.contains("Failed"));
    assert!(!browser.present("//table[caption[normalize-space()='Last deliveries of Quiet']]").await);
    let quiet = browser.find("//section[h2[starts-with(normalize-space(), 'Quiet')]]", "Quiet").await;
    let quiet = browser.text(&quiet).await;
    assert!(quiet.contains("Disabled") && quiet.contains("Nothing sent yet."), "{quiet}");
    let page = browser.page_text().await;
    assert!(page.contains("Runbooks named Release") && page.contains("Every runbook"), "{page}");
    assert!(!browser.has_button("Save").await && !browser.has_button("Delete").await, "read-only");
    browser.screenshot("17-event-integrations").await;
    check_layouts(&browser, "17-event-integrations").await;
    browser.assert_no_csp_violation("consoleReady").await;
    browser.quit().await;
    running.shutdown().await;
}
