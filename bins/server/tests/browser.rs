//! Browser tests of the web console: a real Chromium (Debian's `chromium` and `chromedriver`, driven over WebDriver)
//! against the real server (REST API and console) on loopback over a temporary SQLite database. Controls are found
//! by their accessible names. Each screen is saved as a PNG under `target/screenshots/`.
//!
//! Without Chromium the tests print `skipped: no chromium` and pass, unless `CUTOVER_REQUIRE_BROWSER=1`.

mod support;

use cutover_integrations_console::{CONTENT_SECURITY_POLICY, ConsoleSettings};
use cutover_integrations_core::model::Role;
use cutover_integrations_core::store::NewUser;
use cutover_integrations_core::store::test_databases::fresh_sqlite_url;
use cutover_integrations_core::{Engine, EngineSettings};
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

async fn sign_in(browser: &Browser, server: &Server, token: &str) {
    browser.goto(&format!("{}/", server.base)).await;
    browser.heading("Sign in").await;
    let field = browser.field("API token").await;
    browser.fill(&field, token).await;
    browser.click(&browser.button("Sign in").await).await;
    browser.heading("Integration Connections").await;
}

/// No CSP violation was reported, neither in the browser console nor to our module's listener.
async fn assert_no_csp_violation(browser: &Browser) {
    let log = browser.console_log().await;
    let violations: Vec<&String> = log.iter().filter(|line| line.contains("Content Security Policy")).collect();
    assert!(violations.is_empty(), "CSP violations: {violations:?}");
    let recorded = browser.execute("return document.documentElement.dataset.cspViolations ?? '0';", vec![]).await;
    assert_eq!(recorded, Value::from("0"));
    let ready = browser.execute("return document.documentElement.dataset.consoleReady ?? 'no';", vec![]).await;
    assert_eq!(ready, Value::from("true"), "our module ran");
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

    sign_in(&browser, &server, BOOTSTRAP).await;
    for name in ["Runbooks", "Settings", "Integrations", "Custom Fields", "System Parameters", "Users", "Learn more"] {
        browser.link(name).await;
    }
    assert!(browser.has_button("Sign out").await);
    browser.screenshot("02-integrations-empty").await;
    check_layouts(&browser, "02-integrations-empty").await;
    assert_no_csp_violation(&browser).await;

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
    browser.click(&browser.link("Integration Connections").await).await;
    browser.link("Slack").await;
    assert_no_csp_violation(&browser).await;

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
    sign_in(&browser, &server, token.expose_secret()).await;
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
    assert_no_csp_violation(&browser).await;
    let csp = reqwest::get(format!("{}/sign-in", server.base)).await.expect("sign-in page");
    assert_eq!(csp.headers()["content-security-policy"], CONTENT_SECURITY_POLICY);
    browser.quit().await;
}
