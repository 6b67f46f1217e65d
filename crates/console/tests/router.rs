//! Router tests of the console through `tower::ServiceExt::oneshot` over a real engine (SQLite in a temporary
//! directory): cookie flags, sign-in and sign-out, CSRF refusals, the security headers of every page, roles, and
//! secrets that never reach a page.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use cutover_integrations_console::{CONTENT_SECURITY_POLICY, ConsoleSettings, SessionSettings, router};
use cutover_integrations_core::Engine;
use cutover_integrations_core::model::{Role, SecretValue, SystemParameter};
use cutover_integrations_core::store::NewUser;
use cutover_integrations_test_support::fresh_sqlite_url;
use secrecy::ExposeSecret as _;
use serde_json::json;
use std::collections::BTreeMap;
use tower::ServiceExt as _;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

struct App {
    router: Router,
    engine: Engine,
    tokens: BTreeMap<Role, String>,
    url: String,
    settings: ConsoleSettings,
    _dir: std::sync::Arc<tempfile::TempDir>,
}

/// An answer: status, headers, body text.
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or("")
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all("set-cookie").iter().filter_map(|value| value.to_str().ok()).map(str::to_owned).collect()
    }
}

/// A browser's view: its cookies and the last CSRF token it saw.
#[derive(Default, Clone)]
struct Client {
    cookies: BTreeMap<String, String>,
    csrf: String,
}

async fn app_with(settings: ConsoleSettings) -> App {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = fresh_sqlite_url(dir.path());
    let engine = Engine::builder().database_url(url.clone()).secret_key_base64(KEY).build().await.expect("engine");
    let mut tokens = BTreeMap::new();
    for role in [Role::Viewer, Role::CustomFieldsAdmin, Role::IntegrationsAdmin, Role::Admin] {
        let name = format!("{role:?}");
        let user =
            NewUser { name: name.clone(), email: format!("{}@example.com", name.to_lowercase()), roles: vec![role] };
        tokens.insert(role, engine.create_user(&user).await.expect("user").token.expose_secret().to_owned());
    }
    App { router: router(engine.clone(), settings.clone()), engine, tokens, url, settings, _dir: dir.into() }
}

async fn app() -> App {
    app_with(ConsoleSettings { sessions: SessionSettings::default(), secure_cookies: false }).await
}

/// The value of the first `name="NAME" value="…"` (or `content="…"` of a meta) in a page.
fn attribute_after(html: &str, marker: &str, attribute: &str) -> Option<String> {
    let start = html.find(marker)?;
    let rest = &html[start..];
    let at = rest.find(&format!("{attribute}=\""))? + attribute.len() + 2;
    Some(rest[at..at + rest[at..].find('"')?].to_owned())
}

impl App {
    async fn send(&self, client: &mut Client, method: &str, path: &str, form: Option<&[(&str, &str)]>) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if !client.cookies.is_empty() {
            let cookie: Vec<String> = client.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect();
            request = request.header("cookie", cookie.join("; "));
        }
        let body = match form {
            Some(pairs) => {
                request = request.header("content-type", "application/x-www-form-urlencoded");
                Body::from(url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish())
            }
            None => Body::empty(),
        };
        let response = self.router.clone().oneshot(request.body(body).expect("request")).await.expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        let answer = Answer { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() };
        for cookie in answer.set_cookies() {
            let pair = cookie.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    client.cookies.remove(name);
                } else {
                    client.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        if let Some(token) = attribute_after(&answer.body, "name=\"csrf-token\"", "content")
            .or_else(|| attribute_after(&answer.body, "name=\"csrf\"", "value"))
        {
            client.csrf = token;
        }
        answer
    }

    /// The same database under a new engine and console: a restarted server.
    async fn restarted(&self) -> App {
        let engine =
            Engine::builder().database_url(self.url.clone()).secret_key_base64(KEY).build().await.expect("engine");
        App {
            router: router(engine.clone(), self.settings.clone()),
            engine,
            tokens: self.tokens.clone(),
            url: self.url.clone(),
            settings: self.settings.clone(),
            _dir: self._dir.clone(),
        }
    }

    async fn sign_in(&self, role: Role) -> Client {
        let mut client = Client::default();
        self.send(&mut client, "GET", "/sign-in", None).await;
        let csrf = client.csrf.clone();
        let answer =
            self.send(&mut client, "POST", "/sign-in", Some(&[("csrf", &csrf), ("token", &self.tokens[&role])])).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        self.send(&mut client, "GET", "/settings/integrations", None).await;
        client
    }
}

#[tokio::test]
async fn a_session_outlives_a_restart_until_sign_out() {
    let app = app().await;
    let mut client = app.sign_in(Role::Admin).await;
    let restarted = app.restarted().await;
    let page = restarted.send(&mut client, "GET", "/settings/integrations", None).await;
    assert_eq!(page.status, StatusCode::OK, "the session is known after the restart");
    assert!(page.body.contains("Integration Connections"));
    let mut kept = client.clone();
    let csrf = client.csrf.clone();
    let out = restarted.send(&mut client, "POST", "/sign-out", Some(&[("csrf", &csrf)])).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(kept.cookies.contains_key("cutover_session"));
    let after = app.send(&mut kept, "GET", "/settings/integrations", None).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "signed out on one server is signed out on every server");
    assert_eq!(after.header("location"), "/sign-in");
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_expiring_cookie_and_sign_out_ends_the_session() {
    let app = app().await;
    let mut client = Client::default();
    let form = app.send(&mut client, "GET", "/sign-in", None).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("<label for=\"token\">API token</label>"), "{}", form.body);
    assert!(form.body.contains(">Sign in</button>"));
    let csrf = client.csrf.clone();
    let wrong = app.send(&mut client, "POST", "/sign-in", Some(&[("csrf", &csrf), ("token", "nope")])).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("That API token is not valid."));
    let csrf = client.csrf.clone();
    let token = app.tokens[&Role::Admin].clone();
    let signed = app.send(&mut client, "POST", "/sign-in", Some(&[("csrf", &csrf), ("token", &token)])).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    let session = signed.set_cookies().into_iter().find(|c| c.starts_with("cutover_session=")).expect("session cookie");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(session.contains(flag), "{session} has {flag}");
    }
    assert!(!session.contains("Secure"), "http: no Secure flag: {session}");
    assert!(!session.contains(&token), "the cookie is not the API token");
    let page = app.send(&mut client, "GET", "/settings/integrations", None).await;
    assert_eq!(page.status, StatusCode::OK);
    for name in
        ["Runbooks", "Settings", "Sign out", "Integration Connections", "Custom Fields", "System Parameters", "Users"]
    {
        assert!(page.body.contains(name), "the page shows {name}");
    }
    let old_cookies = client.clone();
    let csrf = client.csrf.clone();
    let out = app.send(&mut client, "POST", "/sign-out", Some(&[("csrf", &csrf)])).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.set_cookies().iter().any(|c| c.starts_with("cutover_session=;") && c.contains("Max-Age=0")));
    let mut replay = old_cookies;
    let after = app.send(&mut replay, "GET", "/settings/integrations", None).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "the old cookie no longer signs in");
    assert_eq!(after.header("location"), "/sign-in");

    let https = app_with(ConsoleSettings::for_public_url(&"https://cutover.example.com".parse().expect("URL"))).await;
    let mut client = Client::default();
    https.send(&mut client, "GET", "/sign-in", None).await;
    let csrf = client.csrf.clone();
    let token = https.tokens[&Role::Viewer].clone();
    let signed = https.send(&mut client, "POST", "/sign-in", Some(&[("csrf", &csrf), ("token", &token)])).await;
    assert!(signed.set_cookies().iter().all(|c| c.ends_with("; Secure")), "{:?}", signed.set_cookies());
}

#[tokio::test]
async fn writes_without_the_csrf_token_are_refused() {
    let app = app().await;
    let mut client = app.sign_in(Role::IntegrationsAdmin).await;
    let cases: [(&str, Option<String>, StatusCode); 3] = [
        ("missing", None, StatusCode::FORBIDDEN),
        ("wrong", Some("x".repeat(43)), StatusCode::FORBIDDEN),
        ("right", Some(client.csrf.clone()), StatusCode::SEE_OTHER),
    ];
    for (case, token, status) in cases {
        let name = format!("Conn {case}");
        let mut form = vec![("kind", "custom"), ("name", name.as_str())];
        if let Some(token) = &token {
            form.push(("csrf", token));
        }
        let answer = app.send(&mut client, "POST", "/settings/integrations", Some(&form)).await;
        assert_eq!(answer.status, status, "{case}: {}", answer.body);
    }
    let names: Vec<String> =
        app.engine.integrations().await.expect("list").into_iter().map(|r| r.integration.name).collect();
    assert_eq!(names, ["Conn right"], "only the write with the token happened");
    let csrf = client.csrf.clone();
    app.send(
        &mut client,
        "POST",
        "/settings/integrations",
        Some(&[("csrf", &csrf), ("kind", "custom"), ("name", "A new one")]),
    )
    .await;
    let list = app.send(&mut client, "GET", "/settings/integrations", None).await;
    let (first, last) = (list.body.find(">Conn right<"), list.body.find(">A new one<"));
    assert!(first.is_some() && first < last, "a new connection appears at the bottom of the list");
    // The header works for fetch, and the sign-in form needs its own pre-session token.
    let request = Request::post("/settings/check-template")
        .header("cookie", format!("cutover_session={}", client.cookies["cutover_session"]))
        .header("content-type", "application/json")
        .body(Body::from(r#"{"place":"payload","text":"{}"}"#))
        .expect("request");
    let answer = app.router.clone().oneshot(request).await.expect("response");
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    let mut stranger = Client::default();
    let token = app.tokens[&Role::Admin].clone();
    let forged = app.send(&mut stranger, "POST", "/sign-in", Some(&[("token", &token)])).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.set_cookies().iter().all(|c| !c.starts_with("cutover_session=")));
}

#[tokio::test]
async fn every_page_has_the_security_headers_and_no_inline_script_or_style() {
    let app = app().await;
    let mut client = app.sign_in(Role::Admin).await;
    let csrf = client.csrf.clone();
    app.send(
        &mut client,
        "POST",
        "/settings/integrations",
        Some(&[("csrf", &csrf), ("kind", "custom"), ("name", "Slack")]),
    )
    .await;
    let id = app.engine.integrations().await.expect("list")[0].id;
    let release =
        "kind: runbook\nname: Release\ntasks:\n  - {id: a, name: A}\n  - {id: b, name: B, predecessors: [a]}\n";
    let runbook = app.engine.apply_definitions(&[("release.yaml", release)]).await.expect("runbook").runbooks[0];
    let pages = [
        "/sign-in".to_owned(),
        "/runbooks".to_owned(),
        format!("/runbooks/{runbook}"),
        format!("/runbooks/{runbook}?task=b&graph=1"),
        "/settings/integrations".to_owned(),
        format!("/settings/integrations/{id}"),
        "/settings/custom-fields".to_owned(),
        "/settings/system-parameters".to_owned(),
        "/settings/users".to_owned(),
        "/settings/event-integrations".to_owned(),
        "/settings/integrations/999".to_owned(),
    ];
    let mut assets = Vec::new();
    for path in &pages {
        let answer = app.send(&mut client, "GET", path, None).await;
        assert!(
            answer.status == StatusCode::OK || path.ends_with("999") || path == "/sign-in",
            "{path}: {}",
            answer.status
        );
        assert_eq!(answer.header("content-security-policy"), CONTENT_SECURITY_POLICY, "{path}");
        assert_eq!(answer.header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(answer.header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(answer.header("cache-control"), "no-store", "{path}");
        let lower = answer.body.to_lowercase();
        assert!(!lower.contains(" style="), "{path}: no style attribute");
        assert!(!lower.contains("<style"), "{path}: no style element");
        assert!(!lower.contains("<script>") && !lower.contains("<script type=\"module\">"), "{path}: no inline script");
        for handler in [" onclick=", " onload=", " onsubmit=", " onchange=", "javascript:"] {
            assert!(!lower.contains(handler), "{path}: no {handler}");
        }
        for marker in ["href=\"/assets/", "src=\"/assets/"] {
            let mut rest = answer.body.as_str();
            while let Some(at) = rest.find(marker) {
                let start = at + marker.len() - "/assets/".len();
                let end = start + rest[start..].find('"').unwrap_or(0);
                assets.push(rest[start..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    assets.sort();
    assets.dedup();
    assert_eq!(assets.len(), 5, "{assets:?}");
    for asset in &assets {
        let answer = app.send(&mut client, "GET", asset, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{asset}");
        assert_eq!(answer.header("cache-control"), "public, max-age=31536000, immutable", "{asset}");
        assert_eq!(answer.header("content-security-policy"), CONTENT_SECURITY_POLICY);
        let stale = asset.replacen('.', ".000000000000x", 1);
        assert_eq!(app.send(&mut client, "GET", &stale, None).await.status, StatusCode::NOT_FOUND, "{stale}");
    }
}

#[tokio::test]
async fn a_viewer_is_offered_no_edit_control_and_its_writes_are_refused() {
    let app = app().await;
    let mut admin = app.sign_in(Role::IntegrationsAdmin).await;
    let csrf = admin.csrf.clone();
    app.send(
        &mut admin,
        "POST",
        "/settings/integrations",
        Some(&[("csrf", &csrf), ("kind", "custom"), ("name", "Slack")]),
    )
    .await;
    let id = app.engine.integrations().await.expect("list")[0].id;
    let mut viewer = app.sign_in(Role::Viewer).await;
    let list = app.send(&mut viewer, "GET", "/settings/integrations", None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("Slack"));
    assert!(!list.body.contains("Create Integration"), "no create button for a viewer");
    let edit = app.send(&mut viewer, "GET", &format!("/settings/integrations/{id}"), None).await;
    for control in [">Archive<", ">New<", ">Save<"] {
        assert!(!edit.body.contains(control), "a viewer is not offered {control}");
    }
    let action =
        json!({"name": "Post", "request": {"method": "POST", "url": "https://slack.com/api/chat.postMessage"}});
    let added = app.engine.add_action(id, &action).await.expect("action");
    let dialog = app.send(&mut viewer, "GET", &format!("/settings/integrations/{id}/actions/{}", added.id), None).await;
    assert_eq!(dialog.status, StatusCode::OK);
    assert!(dialog.body.contains("<fieldset class=\"plain\" disabled>"), "a viewer's action dialog is read-only");
    assert!(!dialog.body.contains(">Save<") && !dialog.body.contains(">Authenticate<"));
    let csrf = viewer.csrf.clone();
    let path = format!("/settings/integrations/{id}/actions/{}", added.id);
    let answer = app.send(&mut viewer, "POST", &path, Some(&[("csrf", &csrf), ("name", "Renamed")])).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(app.engine.action_record(added.id).await.expect("action").action.name, "Post");
    let fields = app.send(&mut viewer, "GET", "/settings/custom-fields", None).await;
    assert!(!fields.body.contains("New Custom Field"));
    let csrf = viewer.csrf.clone();
    let writes: [(&str, Vec<(&str, &str)>); 4] = [
        ("/settings/integrations", vec![("kind", "custom"), ("name", "Other")]),
        ("/settings/custom-fields", vec![("name", "F"), ("type", "text"), ("applies_to", "task")]),
        ("/settings/system-parameters", vec![("name", "p"), ("value", "v")]),
        ("/settings/users", vec![("name", "n"), ("email", "n@example.com"), ("roles", "admin")]),
    ];
    for (path, mut form) in writes {
        form.push(("csrf", &csrf));
        let answer = app.send(&mut viewer, "POST", path, Some(&form)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
    }
    let archive = format!("/settings/integrations/{id}/archive");
    let answer = app.send(&mut viewer, "POST", &archive, Some(&[("csrf", &csrf), ("archived", "true")])).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(app.engine.integrations().await.expect("list").len(), 1);
    assert!(!app.engine.integrations().await.expect("list")[0].integration.archived);
    assert!(app.engine.system_parameters().await.expect("parameters").is_empty());
    assert_eq!(app.send(&mut viewer, "GET", "/settings/users", None).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn secrets_are_never_rendered_and_tokens_are_shown_once() {
    let app = app().await;
    let secret = "s3cr3t-parameter-value";
    let parameter =
        SystemParameter { name: "slack_client_secret".into(), value: SecretValue::new(secret), secret: true };
    app.engine.put_system_parameter(&parameter).await.expect("parameter");
    let mut admin = app.sign_in(Role::Admin).await;
    let page = app.send(&mut admin, "GET", "/settings/system-parameters", None).await;
    assert!(page.body.contains("slack_client_secret"));
    assert!(!page.body.contains(secret), "the secret is not on the page");
    let csrf = admin.csrf.clone();
    let replaced = app
        .send(
            &mut admin,
            "POST",
            "/settings/system-parameters",
            Some(&[("csrf", &csrf), ("name", "slack_client_secret"), ("value", "new-secret-value"), ("secret", "on")]),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::SEE_OTHER);
    let parameters = app.engine.system_parameters().await.expect("parameters");
    assert_eq!(parameters[0].value.expose(), "new-secret-value", "replaced");
    let page = app.send(&mut admin, "GET", "/settings/system-parameters", None).await;
    assert!(!page.body.contains("new-secret-value"));
    let created = app
        .send(
            &mut admin,
            "POST",
            "/settings/users",
            Some(&[("csrf", &csrf), ("name", "Ops"), ("email", "ops@example.com"), ("roles", "operator")]),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let token = attribute_after(&created.body, "id=\"new-token\"", "value").expect("token shown once");
    assert!(app.engine.authenticate(&token).await.expect("authenticate").is_some());
    assert!(created.body.contains("data-copy=\"new-token\""));
    let list = app.send(&mut admin, "GET", "/settings/users", None).await;
    assert!(!list.body.contains(&token), "the token is shown only once");
    for other in app.tokens.values() {
        assert!(!list.body.contains(other.as_str()));
    }
}

#[tokio::test]
async fn runbook_pages_follow_the_role_rules_and_authenticate_task_users() {
    let app = app().await;
    let integration = r#"
kind: integration
name: Chat
actions:
  - name: As the task user
    auth:
      type: oauth2
      grant: authorization_code
      client_id: chat-client
      client_secret: literal-client-secret
      provider_host: https://provider.example.com
      authorization_endpoint: /authorize
      token_endpoint: /token
      authenticate_as: task_user
    request: {method: POST, url: https://provider.example.com/post}
"#;
    let runbook = r#"
kind: runbook
name: Release
tasks:
  - {id: post, name: Post, action: Chat/As the task user, assignee: admin@example.com}
  - {id: after, name: After, predecessors: [post]}
"#;
    let applied =
        app.engine.apply_definitions(&[("chat.yaml", integration), ("r.yaml", runbook)]).await.expect("apply");
    let id = applied.runbooks[0];

    let mut admin = app.sign_in(Role::Admin).await;
    let page = app.send(&mut admin, "GET", &format!("/runbooks/{id}?task=post"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    for control in ["Add task", "Start live", "Start rehearsal", "Task Details", "Remove task"] {
        assert!(page.body.contains(control), "an admin is offered {control}");
    }
    let link = format!("/runbooks/{id}/tasks/post/authenticate");
    assert!(page.body.contains(&link), "Authenticate is offered for a task-user OAuth action");
    let redirect = app.send(&mut admin, "GET", &link, None).await;
    assert_eq!(redirect.status, StatusCode::SEE_OTHER, "{}", redirect.body);
    assert!(
        redirect.header("location").starts_with("https://provider.example.com/authorize?"),
        "{}",
        redirect.header("location")
    );

    // Removing a task another depends on is refused with the engine's message; the task stays.
    let csrf = admin.csrf.clone();
    let refused =
        app.send(&mut admin, "POST", &format!("/runbooks/{id}/tasks/post/remove"), Some(&[("csrf", &csrf)])).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("is a predecessor of"), "{}", refused.body);
    assert_eq!(app.engine.runbook(id).await.expect("runbook").definition.tasks.len(), 2);

    // A viewer sees the runbook but no control, and its writes are refused.
    let mut viewer = app.sign_in(Role::Viewer).await;
    let page = app.send(&mut viewer, "GET", &format!("/runbooks/{id}?task=post"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    for control in ["Add task", "Start live", "Remove task", "Start task"] {
        assert!(!page.body.contains(&format!(">{control}<")), "a viewer is not offered {control}");
    }
    let csrf = viewer.csrf.clone();
    for path in [format!("/runbooks/{id}/start-live"), format!("/runbooks/{id}/tasks")] {
        let answer = app.send(&mut viewer, "POST", &path, Some(&[("csrf", &csrf), ("name", "X")])).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(app.engine.runbook(id).await.expect("runbook").definition.tasks.len(), 2);
}

/// Each catalog entry's icon is served at the stable path its definition names, as SVG, to anyone (an `<img>` on any
/// page, the sign-in page included), with the console's security headers; other names are not found.
#[tokio::test]
async fn every_catalog_icon_is_served_as_svg_at_its_stable_path() {
    let app = app().await;
    let mut anonymous = Client::default();
    for entry in cutover_integrations_core::integration_catalog::entries() {
        let answer = app.send(&mut anonymous, "GET", &entry.image_url(), None).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", entry.name);
        assert_eq!(answer.header("content-type"), "image/svg+xml", "{}", entry.name);
        assert_eq!(answer.header("x-content-type-options"), "nosniff");
        assert_eq!(answer.header("cache-control"), "public, max-age=86400");
        assert_eq!(answer.body, entry.icon, "{}", entry.name);
    }
    for missing in ["/assets/catalog/nope.svg", "/assets/catalog/slack.png", "/assets/catalog/slack"] {
        let answer = app.send(&mut anonymous, "GET", missing, None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test]
async fn the_predefined_picker_installs_a_catalog_entry_for_an_admin_only() {
    let app = app().await;
    let mut admin = app.sign_in(Role::Admin).await;
    let page = app.send(&mut admin, "GET", "/settings/integrations", None).await;
    for expected in [
        "<option value=\"jira-cloud\">Jira Cloud</option>",
        "<label for=\"setting-jira-cloud-api_token\">API token *</label>",
        "name=\"setting.jira-cloud.api_token\" type=\"password\"",
        "name=\"setting.jira-cloud.site_url\" type=\"url\"",
        // Descriptions show their code spans as code, without backticks.
        "Your Jira Cloud site, such as <code>https://your-domain.atlassian.net</code>.",
        "A bot token (<code>xoxb-…</code>) with the <code>chat:write</code> scope",
    ] {
        assert!(page.body.contains(expected), "`{expected}` in the dialog");
    }
    let hints: Vec<&str> =
        page.body.split("class=\"hint\">").skip(1).filter_map(|rest| rest.split("</p>").next()).collect();
    assert!(hints.len() > 20 && hints.iter().all(|hint| !hint.contains('`')), "{hints:?}");
    let install = |csrf: String, token: &'static str| {
        vec![
            ("csrf".to_owned(), csrf),
            ("kind".to_owned(), "predefined".to_owned()),
            ("catalog".to_owned(), "jira-cloud".to_owned()),
            ("predefined_name".to_owned(), String::new()),
            ("setting.jira-cloud.site_url".to_owned(), "https://acme.atlassian.net".to_owned()),
            ("setting.jira-cloud.email".to_owned(), "ops@acme.test".to_owned()),
            ("setting.jira-cloud.api_token".to_owned(), token.to_owned()),
        ]
    };
    let form = install(admin.csrf.clone(), "");
    let pairs: Vec<(&str, &str)> = form.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    let missing = app.send(&mut admin, "POST", "/settings/integrations", Some(&pairs)).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.body.contains("needs the setting `api_token`"), "{}", missing.body);

    let form = install(admin.csrf.clone(), "atl-console-secret");
    let pairs: Vec<(&str, &str)> = form.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    let created = app.send(&mut admin, "POST", "/settings/integrations", Some(&pairs)).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let location = created.header("location").to_owned();
    let panel = app.send(&mut admin, "GET", &location, None).await;
    assert!(panel.body.contains("Jira Cloud") && panel.body.contains("Create an issue"), "{}", panel.body);
    assert!(panel.body.contains("<h1>Edit Predefined Integration</h1>"), "{}", panel.body);
    assert!(panel.body.contains(r#"<img src="/assets/catalog/jira-cloud.svg""#), "{}", panel.body);
    assert!(!panel.body.contains("atl-console-secret"));
    let parameters = app.engine.system_parameters().await.expect("parameters");
    assert!(parameters.iter().any(|parameter| parameter.name == "jira_cloud_api_token" && parameter.secret));

    let mut integrations_admin = app.sign_in(Role::IntegrationsAdmin).await;
    let form = install(integrations_admin.csrf.clone(), "atl-console-secret");
    let pairs: Vec<(&str, &str)> = form.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
    let refused = app.send(&mut integrations_admin, "POST", "/settings/integrations", Some(&pairs)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("only an admin installs predefined integrations"), "{}", refused.body);
}

/// The `Add task` dialog offers only the task types and custom fields the runbook's workspace may use: one workspace's
/// action is no choice in another's runbook (the engine would refuse it), global ones are offered everywhere.
#[tokio::test]
async fn the_task_dialog_offers_what_the_runbooks_workspace_may_use() {
    let app = app().await;
    let integration = r#"
kind: integration
name: Ops
custom_fields:
  - {name: Ops Ticket, type: text, visibility: {workspace: Ops}}
  - {name: Everyone Note, type: text}
actions:
  - {name: Page Ops, visibility: {workspace: Ops}, request: {method: POST, url: "https://ops.example.com"}}
  - {name: Post Anywhere, request: {method: POST, url: "https://ops.example.com"}}
"#;
    let in_ops = "kind: runbook\nname: In Ops\nworkspace: Ops\ntasks:\n  - {id: m, name: Manual}\n";
    let in_dev = "kind: runbook\nname: In Dev\nworkspace: Dev\ntasks:\n  - {id: m, name: Manual}\n";
    let applied = app
        .engine
        .apply_definitions(&[("ops.yaml", integration), ("ops-runbook.yaml", in_ops), ("dev-runbook.yaml", in_dev)])
        .await
        .expect("apply");
    let mut admin = app.sign_in(Role::Admin).await;
    let cases = [(applied.runbooks[0], true), (applied.runbooks[1], false)];
    for (id, offers_ops) in cases {
        let page = app.send(&mut admin, "GET", &format!("/runbooks/{id}"), None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("value=\"Ops/Post Anywhere\""), "a global action is offered in runbook {id}");
        assert!(page.body.contains("Everyone Note"), "a global field is offered in runbook {id}");
        assert_eq!(page.body.contains("value=\"Ops/Page Ops\""), offers_ops, "the Ops action in runbook {id}");
        assert_eq!(page.body.contains("Ops Ticket"), offers_ops, "the Ops field in runbook {id}");
    }
}

/// `Event Integrations` is read-only and readable by every role that reads (as `GET /api/v1/event-integrations`):
/// name, event types, scope and enabled for each, no write control, no auth and so never a secret; signed out, the
/// sign-in page.
#[tokio::test]
async fn event_integrations_are_shown_read_only_to_readers_without_secrets() {
    let app = app().await;
    let secret = "evt-page-s3cret";
    let files = [
        (
            "audit.yaml",
            format!(
                "kind: event_integration\nname: Audit\nevents: [task.started, task.finished]\n\
                 scope: {{workspace: Ops}}\nauth: {{type: token, token: {secret}}}\n\
                 request: {{method: POST, url: 'https://audit.example.com/hook'}}\n"
            ),
        ),
        (
            "pager.yaml",
            "kind: event_integration\nname: Pager\nevents: [task.failed]\nenabled: false\n\
             request: {method: POST, url: 'https://pager.example.com/x'}\n"
                .to_owned(),
        ),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(name, text)| (*name, text.as_str())).collect();
    app.engine.apply_definitions(&files).await.expect("event integrations");
    let mut signed_out = Client::default();
    let answer = app.send(&mut signed_out, "GET", "/settings/event-integrations", None).await;
    assert!(answer.status.is_redirection() && answer.header("location").contains("/sign-in"), "{}", answer.status);
    for role in [Role::Viewer, Role::CustomFieldsAdmin, Role::IntegrationsAdmin, Role::Admin] {
        let mut client = app.sign_in(role).await;
        let page = app.send(&mut client, "GET", "/settings/event-integrations", None).await;
        assert_eq!(page.status, StatusCode::OK, "{role:?}");
        for shown in [
            "<h1>Event Integrations</h1>",
            ">Audit<",
            "task.started, task.finished",
            "Runbooks of the workspace Ops",
            ">Pager <span class=\"badge\">Disabled</span>",
            "Nothing sent yet.",
            "href=\"/settings/event-integrations\" aria-current=\"page\"",
        ] {
            assert!(page.body.contains(shown), "{role:?}: {shown} in {}", page.body);
        }
        assert!(!page.body.contains(secret), "{role:?}: no secret on the page");
        assert!(!page.body.contains("<form method=\"post\" action=\"/settings/event"), "{role:?}: read-only");
    }
}
