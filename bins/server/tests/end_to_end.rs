//! The server end to end: the real `cutover-server` binary over loopback, on its embedded default (SQLite under
//! `./data/` with a generated key) and on PostgreSQL. A mockito Slack and a mockito OAuth provider stand in for the
//! third parties.
//!
//! The run applies the Slack example (its URLs pointed at the mocks), authorizes the functional user through
//! `/oauth/authorize` and `/oauth/callback`, runs a runbook whose first task posts to the channel and whose last task
//! starts by itself, and checks what Slack received, the task outcomes, the actions log, the metrics and a graceful
//! shutdown. Then every secret of the run is looked for in the database, the server's output and every API answer.

use base64::Engine as _;
use cutover_integrations_test_support::fresh_postgres_url;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

const CLIENT_SECRET: &str = "slack-client-secret-e2e-5791";
const ACCESS_TOKEN: &str = "xoxb-access-token-e2e-2468";
const REFRESH_TOKEN: &str = "xoxe-refresh-token-e2e-9753";
const BOOTSTRAP_TOKEN: &str = "bootstrap-admin-token-e2e-1357";
const AUTHORIZATION_CODE: &str = "oauth-code-e2e-8642";
/// The token of the audit event integration (a secret system parameter): sent to its receiver, shown nowhere.
const EVENT_TOKEN: &str = "audit-event-token-e2e-4680";
const SECRET_KEY: &str = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=";

const RUNBOOK: &str = r##"
kind: runbook
name: Release 42
workspace: Ops
tasks:
  - id: announce
    name: Announce the start
    action: Slack/Post to a channel
    custom_fields: {Slack Channel: "#release", Slack Message: "Release 42 starts"}
  - id: deploy
    name: Deploy
    predecessors: [announce]
  - id: done
    name: Announce the end
    action: Slack/Post to a channel
    auto_start: true
    predecessors: [deploy]
    custom_fields: {Slack Channel: "#release", Slack Message: "Release 42 is live"}
"##;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_runbook_on_the_embedded_default() {
    run(Backend::Embedded, "info").await;
}

/// The same run logged at `RUST_LOG=trace`: third-party crates that print the data they handle (handlebars' helper
/// parameters, hyper's headers, sqlx's statements) are capped, and our own lines carry no secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_runbook_logged_at_trace() {
    run(Backend::Embedded, "trace").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_runbook_on_postgres() {
    let Some(url) = fresh_postgres_url("server_end_to_end").await else { return };
    run(Backend::Postgres(url), "info").await;
}

enum Backend {
    /// No database configuration: SQLite under `./data/` of the working directory, a generated key file.
    Embedded,
    /// PostgreSQL at this URL, with `CUTOVER_SECRET_KEY`.
    Postgres(String),
}

/// The server process; killed if the test fails before it stops it.
struct Server {
    child: Option<Child>,
    output: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(directory: &std::path::Path, backend: &Backend, port: u16, json_logs: bool, log_level: &str) -> Self {
        Self::spawn(Self::command(directory, backend, port, json_logs, log_level))
    }

    /// The server's command line and environment, not started.
    fn command(directory: &std::path::Path, backend: &Backend, port: u16, json_logs: bool, log_level: &str) -> Command {
        let base = format!("http://127.0.0.1:{port}");
        let mut command = Command::new(env!("CARGO_BIN_EXE_cutover-server"));
        command
            .current_dir(directory)
            .env("CUTOVER_LISTEN", format!("127.0.0.1:{port}"))
            .env("CUTOVER_PUBLIC_URL", &base)
            .env("CUTOVER_OUTBOUND_ALLOW", "127.0.0.0/8")
            .env("CUTOVER_BOOTSTRAP_TOKEN", BOOTSTRAP_TOKEN)
            .env("RUST_LOG", log_level)
            .env_remove("CUTOVER_DATABASE_URL")
            .env_remove("CUTOVER_SECRET_KEY")
            .env_remove("CUTOVER_DATA_DIR")
            .env_remove("CUTOVER_JSON_LOGS")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if json_logs {
            command.arg("--json-logs");
        }
        if let Backend::Postgres(url) = backend {
            command.env("CUTOVER_DATABASE_URL", url).env("CUTOVER_SECRET_KEY", SECRET_KEY);
        }
        command
    }

    fn spawn(mut command: Command) -> Self {
        let mut child = command.spawn().expect("the server starts");
        let output = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        let stdout: Box<dyn std::io::Read + Send> = Box::new(child.stdout.take().expect("stdout"));
        let stderr: Box<dyn std::io::Read + Send> = Box::new(child.stderr.take().expect("stderr"));
        for stream in [stdout, stderr] {
            let output = output.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut output = output.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    output.push_str(&line);
                    output.push('\n');
                }
            }));
        }
        Self { child: Some(child), output, readers }
    }

    /// Whether the process has exited (it failed to start, or crashed).
    fn exited(&mut self) -> bool {
        self.child.as_mut().is_none_or(|child| child.try_wait().ok().flatten().is_some())
    }

    fn output(&self) -> String {
        self.output.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Sends SIGTERM and waits for a clean exit; returns the whole output.
    fn stop(mut self) -> String {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
        assert!(status.success(), "SIGTERM sent");
        let exit = child.wait().expect("the server exits");
        for reader in std::mem::take(&mut self.readers) {
            let _ = reader.join();
        }
        let output = self.output();
        assert!(exit.success(), "graceful shutdown exits 0: {exit:?}\n{output}");
        output
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An API client that keeps every answer's text, for the secrets check.
struct Api {
    client: reqwest::Client,
    base: String,
    answers: Vec<String>,
}

impl Api {
    async fn send(
        &mut self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Body>,
    ) -> (StatusCode, Value) {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", self.base) };
        let mut request = self.client.request(method, url);
        if !token.is_empty() {
            request = request.bearer_auth(token);
        }
        request = match body {
            Some(Body::Json(value)) => request.json(&value),
            Some(Body::Yaml(text)) => request.header("content-type", "application/yaml").body(text),
            None => request,
        };
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let location = response.headers().get("location").and_then(|value| value.to_str().ok()).map(str::to_owned);
        let text = response.text().await.expect("a body");
        self.answers.push(format!("{status} {}\n{text}", location.clone().unwrap_or_default()));
        let value = match location {
            Some(location) => Value::String(location),
            None => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        };
        (status, value)
    }

    async fn get(&mut self, path: &str, token: &str) -> Value {
        let (status, value) = self.send(reqwest::Method::GET, path, token, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {value}");
        value
    }

    async fn post(&mut self, path: &str, token: &str, body: Option<Body>) -> Value {
        let (status, value) = self.send(reqwest::Method::POST, path, token, body).await;
        assert!(status.is_success(), "POST {path}: {status} {value}");
        value
    }
}

enum Body {
    Json(Value),
    Yaml(String),
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port()
}

/// Server-sent events of one runbook, as (event name, JSON data), read on a task of their own.
async fn follow_events(
    client: &reqwest::Client,
    url: String,
    token: &str,
) -> (mpsc::UnboundedReceiver<(String, Value)>, Arc<Mutex<String>>) {
    let mut response = client.get(url).bearer_auth(token).send().await.expect("an event stream");
    assert_eq!(response.status(), StatusCode::OK);
    let (sender, receiver) = mpsc::unbounded_channel();
    let transcript = Arc::new(Mutex::new(String::new()));
    let kept = transcript.clone();
    tokio::spawn(async move {
        let mut buffer = String::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            let text = String::from_utf8_lossy(&chunk).into_owned();
            kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push_str(&text);
            buffer.push_str(&text);
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                let field = |name: &str| frame.lines().find_map(|line| line.strip_prefix(name)).map(str::to_owned);
                if let (Some(event), Some(data)) = (field("event: "), field("data: ")) {
                    let _ = sender.send((event, serde_json::from_str(&data).unwrap_or(Value::Null)));
                }
            }
        }
    });
    (receiver, transcript)
}

async fn wait_for_event(
    events: &mut mpsc::UnboundedReceiver<(String, Value)>,
    what: &str,
    wanted: impl Fn(&str, &Value) -> bool,
) {
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some((event, data)) = events.recv().await {
            if wanted(&event, &data) {
                return true;
            }
        }
        false
    })
    .await;
    assert!(matches!(found, Ok(true)), "waited for {what}");
}

fn status_of(task: &'static str, status: &'static str) -> impl Fn(&str, &Value) -> bool {
    move |event, data| event == "integration_status_changed" && data["task"] == task && data["status"] == status
}

async fn run(backend: Backend, log_level: &str) {
    let directory = tempfile::tempdir().expect("a working directory");
    let mut slack = mockito::Server::new_async().await;
    let mut provider = mockito::Server::new_async().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let redirect_uri = format!("{base}/api/v1/oauth/callback");

    // The provider: an authorization page that expects PKCE, and a token endpoint that expects the code, the verifier,
    // the exact redirect URI and the client's credentials, answering as Slack does.
    let authorize_page = provider
        .mock("GET", "/oauth/authorize")
        .match_query(mockito::Matcher::AllOf(vec![
            mockito::Matcher::UrlEncoded("response_type".into(), "code".into()),
            mockito::Matcher::UrlEncoded("client_id".into(), "A0123".into()),
            mockito::Matcher::UrlEncoded("code_challenge_method".into(), "S256".into()),
            mockito::Matcher::UrlEncoded("redirect_uri".into(), redirect_uri.clone()),
            mockito::Matcher::UrlEncoded("scope".into(), "channels:read chat:write:bot chat:write:user".into()),
        ]))
        .with_status(200)
        .with_body("<html>Authorize Cutover?</html>")
        .expect(1)
        .create_async()
        .await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("A0123:{CLIENT_SECRET}"));
    let token_endpoint = provider
        .mock("POST", "/api/oauth.access")
        .match_header("authorization", format!("Basic {basic}").as_str())
        .match_body(mockito::Matcher::AllOf(vec![
            mockito::Matcher::UrlEncoded("grant_type".into(), "authorization_code".into()),
            mockito::Matcher::UrlEncoded("code".into(), AUTHORIZATION_CODE.into()),
            mockito::Matcher::UrlEncoded("redirect_uri".into(), redirect_uri.clone()),
            mockito::Matcher::Regex("code_verifier=[A-Za-z0-9_~.-]{43,128}".into()),
        ]))
        .with_header("content-type", "application/json")
        .with_body(format!(
            r#"{{"ok":true,"access_token":"{ACCESS_TOKEN}","refresh_token":"{REFRESH_TOKEN}","token_type":"bot","scope":"chat:write:bot"}}"#
        ))
        .expect(1)
        .create_async()
        .await;
    let mut post = |text: &str| {
        slack
            .mock("POST", "/api/chat.postMessage")
            .match_header("authorization", format!("Bearer {ACCESS_TOKEN}").as_str())
            .match_header("content-type", "application/json")
            .match_header("x-check", CLIENT_SECRET.to_uppercase().as_str())
            .match_header("idempotency-key", mockito::Matcher::Regex("^cutover-".into()))
            .match_body(mockito::Matcher::Exact(format!(r##"{{"channel":"#release","text":"{text}"}}"##)))
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(r#"{"ok":true,"channel":"C024BE91L","ts":"1503435956.000247"}"#)
            .expect(1)
    };
    // The audit receiver of an event integration: every task.finished of the run, with its token.
    let mut audit = mockito::Server::new_async().await;
    let audited = audit
        .mock("POST", "/events")
        .match_header("authorization", format!("Bearer {EVENT_TOKEN}").as_str())
        .match_body(mockito::Matcher::PartialJson(json!({"type": "task.finished"})))
        .with_status(200)
        .with_body(format!("received by {EVENT_TOKEN}-echo"))
        .expect(3)
        .create_async()
        .await;
    let starts = post("Release 42 starts").create_async().await;
    let live = post("Release 42 is live").create_async().await;

    let json_logs = matches!(backend, Backend::Embedded);
    let mut server = Server::start(directory.path(), &backend, port, json_logs, log_level);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    let mut api = Api { client: client.clone(), base: format!("{base}/api/v1"), answers: Vec::new() };
    wait_until_ready(&client, port, &mut server).await;

    // Users with the roles the run needs; their tokens are shown in the creation answers only.
    let mut tokens = BTreeMap::new();
    let mut creation_answers = Vec::new();
    for role in ["integrations_admin", "runbook_admin", "operator"] {
        let body = json!({"name": role, "email": format!("{role}@example.com"), "roles": [role]});
        let created = api.post("/users", BOOTSTRAP_TOKEN, Some(Body::Json(body))).await;
        tokens.insert(role, created["token"].as_str().expect("token").to_owned());
        creation_answers.push(api.answers.pop().expect("the creation answer"));
    }
    let (integrations_admin, runbook_admin, operator) =
        (tokens["integrations_admin"].clone(), tokens["runbook_admin"].clone(), tokens["operator"].clone());

    // The Slack example, pointed at the mocks, with its client secret as a secret system parameter.
    let parameter = json!({"name": "slack_client_secret", "value": CLIENT_SECRET, "secret": true});
    api.post("/system-parameters", &integrations_admin, Some(Body::Json(parameter))).await;
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/slack.yaml")).expect("example");
    let example = example
        .replace("https://slack.com/api/chat.postMessage", &format!("{}/api/chat.postMessage", slack.url()))
        .replace("provider_host: https://slack.com", &format!("provider_host: {}", provider.url()))
        // A value computed from the secret parameter is a secret too.
        .replace(
            "headers: {Content-Type: application/json}",
            "headers: {Content-Type: application/json, X-Check: \"{{SystemParameter['slack_client_secret'] | upcase}}\"}",
        );
    let applied = api.post("/definitions", &integrations_admin, Some(Body::Yaml(example))).await;
    assert_eq!(applied["integrations"][0]["actions_created"], json!(["Post to a channel"]));
    let parameter = json!({"name": "audit_token", "value": EVENT_TOKEN, "secret": true});
    api.post("/system-parameters", &integrations_admin, Some(Body::Json(parameter))).await;
    let audit_definition = format!(
        "kind: event_integration\nname: Audit\nevents: [task.finished]\nauth: {{type: token, token: \"{{{{SystemParameter['audit_token']}}}}\"}}\nrequest: {{method: POST, url: '{}/events'}}\n",
        audit.url()
    );
    api.post("/definitions", BOOTSTRAP_TOKEN, Some(Body::Yaml(audit_definition))).await;
    let integrations = api.get("/integrations", &integrations_admin).await;
    let action = integrations["items"][0]["actions"][0]["id"].as_i64().expect("action id");
    assert_eq!(integrations["items"][0]["actions"][0]["auth"]["client_secret"], "[REDACTED]");

    // OAuth: the server redirects to the provider with PKCE and state; the browser comes back with a code.
    let (status, location) =
        api.send(reqwest::Method::GET, &format!("/oauth/authorize?action={action}"), &integrations_admin, None).await;
    assert_eq!(status, StatusCode::FOUND, "{location}");
    let location = url::Url::parse(location.as_str().expect("Location")).expect("a URL");
    let query: BTreeMap<String, String> = location.query_pairs().into_owned().collect();
    assert!(query["code_challenge"].len() >= 43 && query["state"].len() >= 32, "{query:?}");
    let page = client.get(location.as_str()).send().await.expect("the provider's page");
    assert_eq!(page.status(), StatusCode::OK);
    authorize_page.assert_async().await;
    let mut back = url::Url::parse(&query["redirect_uri"]).expect("redirect URI");
    back.query_pairs_mut().append_pair("code", AUTHORIZATION_CODE).append_pair("state", &query["state"]);
    let authorized = api.get(back.as_str(), "").await;
    assert_eq!(authorized, json!({"authorized": true, "credential": format!("functional_user/{action}")}));
    token_endpoint.assert_async().await;

    // The run: the first task posts, a manual task follows, the last task starts by itself and posts.
    let created = api.post("/runbooks", &runbook_admin, Some(Body::Yaml(RUNBOOK.to_owned()))).await;
    let runbook = created["id"].as_i64().expect("runbook id");
    let (mut events, transcript) =
        follow_events(&client, format!("{base}/api/v1/events?runbook={runbook}"), &operator).await;
    api.post(&format!("/runbooks/{runbook}/start"), &runbook_admin, Some(Body::Json(json!({"mode": "live"})))).await;
    let started = api.post(&format!("/runbooks/{runbook}/tasks/announce/start"), &operator, None).await;
    assert_eq!(started["stage"], "in_progress");
    wait_for_event(&mut events, "the announcement to succeed", status_of("announce", "succeeded")).await;
    let announce = api.get(&format!("/runbooks/{runbook}/tasks/announce"), &operator).await;
    assert_eq!(
        (announce["stage"].as_str(), announce["integration_status"].as_str()),
        (Some("complete"), Some("succeeded"))
    );
    api.post(&format!("/runbooks/{runbook}/tasks/deploy/start"), &operator, None).await;
    api.post(&format!("/runbooks/{runbook}/tasks/deploy/finish"), &operator, None).await;
    wait_for_event(&mut events, "the runbook to complete", |event, data| {
        event == "runbook_stage_changed" && data["to"] == "complete"
    })
    .await;
    starts.assert_async().await;
    live.assert_async().await;
    let finished = api.get(&format!("/runbooks/{runbook}"), &operator).await;
    assert_eq!(finished["stage"], "complete");
    for task in finished["tasks"].as_array().expect("tasks") {
        assert_eq!(task["stage"], "complete", "{task}");
    }
    let done = &finished["tasks"][2];
    assert_eq!((done["id"].as_str(), done["integration_status"].as_str()), (Some("done"), Some("succeeded")));

    // The actions log shows the redacted request and the response.
    let log = api.get(&format!("/runbooks/{runbook}/tasks/announce/actions-log"), &operator).await;
    let fire = &log["fires"][0];
    assert_eq!(fire["outcome"], "succeeded");
    let attempt = &fire["entries"][0];
    let request = &attempt["request"];
    assert_eq!(request["method"], "POST");
    assert_eq!(request["url"], format!("{}/api/chat.postMessage", slack.url()));
    assert_eq!(request["body"], r##"{"channel":"#release","text":"Release 42 starts"}"##);
    let header = |name: &str| {
        request["headers"]
            .as_array()
            .expect("headers")
            .iter()
            .find(|h| h["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .map(|h| h["value"].clone())
    };
    assert_eq!(header("authorization"), Some(json!("[REDACTED]")));
    assert_eq!(header("x-check"), Some(json!("[REDACTED]")), "derived from a secret parameter");
    assert!(header("idempotency-key").is_some());
    assert!(
        request["curl"].as_str().is_some_and(|curl| curl.contains("[REDACTED]") && curl.contains("chat.postMessage"))
    );
    assert_eq!(attempt["response"]["status"], 200);
    assert_eq!(attempt["response"]["body"], r#"{"ok":true,"channel":"C024BE91L","ts":"1503435956.000247"}"#);

    // The audit event integration got every task.finished; its deliveries log and definition show no token.
    let mut deliveries = Value::Null;
    for _ in 0..400 {
        deliveries = api.get(&format!("/runbooks/{runbook}/event-deliveries"), &operator).await;
        let items = deliveries["deliveries"].as_array().cloned().unwrap_or_default();
        if items.len() == 3 && items.iter().all(|d| d["outcome"] == "delivered") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(deliveries["deliveries"].as_array().map(Vec::len), Some(3), "{deliveries}");
    audited.assert_async().await;
    let audit_log = deliveries.to_string();
    assert!(audit_log.contains("[REDACTED]") && audit_log.contains("/events"), "{audit_log}");
    api.get("/event-integrations", &integrations_admin).await;

    // Metrics follow the events: two fires succeeded, their attempts timed, nothing queued.
    let mut metrics = String::new();
    for _ in 0..200 {
        let response = client.get(format!("{base}/api/v1/metrics")).send().await.expect("metrics");
        metrics = response.text().await.expect("text");
        if metrics.lines().any(|line| line == "cutover_fire_attempt_duration_seconds_count 2") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    for line in [
        "cutover_fires_total{outcome=\"succeeded\"} 2",
        "cutover_fire_attempt_duration_seconds_count 2",
        "cutover_fires_queued 0",
        "cutover_fires_running 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    api.answers.push(metrics);

    // Graceful shutdown: SIGTERM ends the event stream and the process exits 0.
    let output = server.stop();
    assert!(output.contains("stopped"), "{output}");
    if json_logs {
        let log_lines = output.lines().filter(|line| line.starts_with('{'));
        assert!(
            log_lines.clone().count() > 5 && log_lines.clone().all(|line| serde_json::from_str::<Value>(line).is_ok()),
            "{output}"
        );
    }
    api.answers.push(transcript.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone());

    // No secret of the run in the database, the server's output, or any API answer.
    let mut secrets: Vec<String> =
        [CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN, BOOTSTRAP_TOKEN, AUTHORIZATION_CODE, EVENT_TOKEN]
            .into_iter()
            .map(str::to_owned)
            .collect();
    secrets.extend(tokens.values().cloned());
    secrets.push(basic);
    secrets.push(CLIENT_SECRET.to_uppercase());
    let (database, key) = match &backend {
        Backend::Embedded => {
            let data = directory.path().join("data");
            let key_file = data.join("secret.key");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(&key_file).expect("a generated key file").permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "the key file is private");
            }
            let key = std::fs::read_to_string(&key_file).expect("key").trim().to_owned();
            let mut bytes = Vec::new();
            for entry in std::fs::read_dir(&data).expect("data directory").map(|entry| entry.expect("entry").path()) {
                if entry != key_file {
                    bytes.extend(std::fs::read(&entry).expect("a database file"));
                }
            }
            assert!(bytes.len() > 4096, "the database is under ./data/");
            assert!(String::from_utf8_lossy(&bytes).contains("chat.postMessage"), "the files hold the run");
            (String::from_utf8_lossy(&bytes).into_owned(), key)
        }
        Backend::Postgres(url) => (dump_postgres(url).await, SECRET_KEY.to_owned()),
    };
    secrets.push(key);
    let answers = api.answers.join("\n");
    for secret in &secrets {
        let hex: String = secret.bytes().map(|byte| format!("{byte:02x}")).collect();
        assert!(!database.contains(secret.as_str()) && !database.contains(&hex), "a secret is stored in clear");
        assert!(!output.contains(secret.as_str()), "a secret is in the server's output:\n{output}");
        assert!(!answers.contains(secret.as_str()), "a secret is in an API answer");
    }
    for (answer, role) in creation_answers.iter().zip(["integrations_admin", "runbook_admin", "operator"]) {
        assert!(answer.contains(&tokens[role]), "the creation answer holds the new token");
    }
}

/// Every row of every table of the database, as text (binary columns in hex).
async fn dump_postgres(url: &str) -> String {
    use sqlx::Connection as _;
    let mut connection = sqlx::PgConnection::connect(url).await.expect("the test database");
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'")
            .fetch_all(&mut connection)
            .await
            .expect("tables");
    assert!(tables.len() > 3, "{tables:?}");
    let mut dump = String::new();
    for table in tables {
        let query = format!("SELECT CAST(t AS TEXT) FROM \"{table}\" t");
        let rows: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(query)).fetch_all(&mut connection).await.expect("rows");
        dump.push_str(&rows.join("\n"));
    }
    assert!(dump.contains("chat.postMessage"), "the dump holds the run");
    dump
}

/// SIGTERM while a request of a fire is in flight: the server waits for the third party's answer and records it
/// before it exits, so after a restart the fire is complete and was sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_records_the_fire_in_flight() {
    let directory = tempfile::tempdir().expect("a working directory");
    let mut third_party = mockito::Server::new_async().await;
    let (arrived, mut arrivals) = mpsc::unbounded_channel::<()>();
    let slow = third_party
        .mock("POST", "/slow")
        .with_status(200)
        .with_body_from_request(move |_| {
            let _ = arrived.send(());
            // A slow third party: the answer comes well after the server was told to stop.
            std::thread::sleep(Duration::from_millis(1500));
            b"{\"ok\":true}".to_vec()
        })
        .expect(1)
        .create_async()
        .await;
    let integration = format!(
        "kind: integration\nname: Hooks\nactions:\n  - name: Slow\n    settings: {{finish_task_on_success: true}}\n    \
         request: {{method: POST, url: {}/slow, payload: '{{}}'}}\n",
        third_party.url()
    );
    let runbook = "kind: runbook\nname: Slow\ntasks:\n  - {id: slow, name: Slow, action: Hooks/Slow}\n";
    let client = reqwest::Client::new();

    let port = free_port();
    let mut server = Server::start(directory.path(), &Backend::Embedded, port, false, "info");
    let mut api = Api { client: client.clone(), base: format!("http://127.0.0.1:{port}/api/v1"), answers: Vec::new() };
    wait_until_ready(&client, port, &mut server).await;
    api.post("/definitions", BOOTSTRAP_TOKEN, Some(Body::Yaml(integration))).await;
    let id =
        api.post("/runbooks", BOOTSTRAP_TOKEN, Some(Body::Yaml(runbook.to_owned()))).await["id"].as_i64().expect("id");
    api.post(&format!("/runbooks/{id}/start"), BOOTSTRAP_TOKEN, Some(Body::Json(json!({"mode": "live"})))).await;
    api.post(&format!("/runbooks/{id}/tasks/slow/start"), BOOTSTRAP_TOKEN, None).await;
    tokio::time::timeout(Duration::from_secs(30), arrivals.recv()).await.expect("the request arrives").expect("sent");
    let output = server.stop();
    assert!(output.contains("shutting down") && output.contains("stopped"), "{output}");

    let port = free_port();
    let mut server = Server::start(directory.path(), &Backend::Embedded, port, false, "info");
    api.base = format!("http://127.0.0.1:{port}/api/v1");
    wait_until_ready(&client, port, &mut server).await;
    let task = api.get(&format!("/runbooks/{id}/tasks/slow"), BOOTSTRAP_TOKEN).await;
    assert_eq!((task["stage"].as_str(), task["integration_status"].as_str()), (Some("complete"), Some("succeeded")));
    let log = api.get(&format!("/runbooks/{id}/tasks/slow/actions-log"), BOOTSTRAP_TOKEN).await;
    assert_eq!(log["fires"].as_array().map(Vec::len), Some(1));
    assert_eq!(log["fires"][0]["outcome"], "succeeded");
    assert_eq!(log["fires"][0]["entries"][0]["response"]["status"], 200);
    slow.assert_async().await;
    server.stop();
}

async fn wait_until_ready(client: &reqwest::Client, port: u16, server: &mut Server) {
    for _ in 0..400 {
        if server.exited() {
            break;
        }
        if let Ok(response) = client.get(format!("http://127.0.0.1:{port}/api/v1/healthz")).send().await {
            assert_eq!(response.status(), StatusCode::OK);
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start:\n{}", server.output());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_and_rotation_retires_the_old_key_on_the_embedded_default() {
    wrong_key_and_rotation(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_and_rotation_retires_the_old_key_on_postgres() {
    let Some(url) = fresh_postgres_url("server_key_rotation").await else { return };
    wrong_key_and_rotation(Backend::Postgres(url)).await;
}

const OTHER_KEY: &str = "T1RIRVJPVEhFUk9USEVST1RIRVJPVEhFUk9USEVST1Q=";

/// A server started with a key that did not seal its database refuses to start and names the problem; `rotate-key`
/// moves the secrets to a new key, after which the old key is refused and the new one serves them.
async fn wrong_key_and_rotation(backend: Backend) {
    let directory = tempfile::tempdir().expect("a working directory");
    let client = reqwest::Client::new();
    let start = |key: Option<&str>| {
        let port = free_port();
        let mut command = Server::command(directory.path(), &backend, port, false, "info");
        if let Some(key) = key {
            command.env("CUTOVER_SECRET_KEY", key);
        }
        (port, command)
    };
    let (port, command) = start(None);
    let mut server = Server::spawn(command);
    wait_until_ready(&client, port, &mut server).await;
    let mut api = Api { client: client.clone(), base: format!("http://127.0.0.1:{port}/api/v1"), answers: Vec::new() };
    let parameter = json!({"name": "api_token", "value": "rotated-secret-1234", "secret": true});
    api.post("/system-parameters", BOOTSTRAP_TOKEN, Some(Body::Json(parameter))).await;
    server.stop();
    let key_file = directory.path().join("data").join("secret.key");
    let old_key = match backend {
        Backend::Embedded => std::fs::read_to_string(&key_file).expect("the key file").trim().to_owned(),
        Backend::Postgres(_) => SECRET_KEY.to_owned(),
    };

    // Another key: refused at start, with the problem named, on both the server and the rotation.
    let refused = start(Some(OTHER_KEY)).1.output().expect("the server runs");
    let text = format!("{}{}", String::from_utf8_lossy(&refused.stdout), String::from_utf8_lossy(&refused.stderr));
    assert!(!refused.status.success(), "{text}");
    assert!(text.contains("the secret key does not match this database"), "{text}");
    let new_key_file = directory.path().join("new.key");
    std::fs::write(&new_key_file, format!("{OTHER_KEY}\n")).expect("the new key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&new_key_file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let rotate = |key: Option<&str>| {
        let mut command = start(key).1;
        command.arg("rotate-key").arg("--new-key-file").arg(&new_key_file);
        command.output().expect("rotate-key runs")
    };
    let wrong_rotation = rotate(Some(OTHER_KEY));
    let text = String::from_utf8_lossy(&wrong_rotation.stderr).into_owned();
    assert!(!wrong_rotation.status.success() && text.contains("nothing was changed"), "{text}");

    // The rotation: with the key file (embedded) or the old CUTOVER_SECRET_KEY (PostgreSQL).
    let rotated = rotate(matches!(backend, Backend::Postgres(_)).then_some(old_key.as_str()));
    let text = String::from_utf8_lossy(&rotated.stdout).into_owned();
    assert!(rotated.status.success(), "{text}{}", String::from_utf8_lossy(&rotated.stderr));
    assert!(text.contains("re-sealed 1 secrets with key id 1"), "{text}");
    if matches!(backend, Backend::Embedded) {
        assert_eq!(std::fs::read_to_string(&key_file).expect("the key file").trim(), OTHER_KEY);
    }

    let refused = start(Some(&old_key)).1.output().expect("the server runs");
    let text = format!("{}{}", String::from_utf8_lossy(&refused.stdout), String::from_utf8_lossy(&refused.stderr));
    assert!(
        !refused.status.success() && text.contains("does not match this database"),
        "the old key is retired: {text}"
    );
    let (port, command) = start(matches!(backend, Backend::Postgres(_)).then_some(OTHER_KEY));
    let mut server = Server::spawn(command);
    wait_until_ready(&client, port, &mut server).await;
    api.base = format!("http://127.0.0.1:{port}/api/v1");
    let parameters = api.get("/system-parameters", BOOTSTRAP_TOKEN).await;
    assert_eq!(parameters["items"][0]["name"], "api_token", "{parameters}");
    server.stop();
}

/// One server-sent event: (id, event name, JSON data).
type Logged = (i64, String, Value);

/// Reads the event stream from `last_event_id` (or from now) until `until` holds for the events read, on the
/// server at `base`; returns them.
async fn events_until(
    client: &reqwest::Client,
    base: &str,
    last_event_id: Option<i64>,
    until: impl Fn(&[Logged]) -> bool,
) -> Vec<Logged> {
    let mut request = client.get(format!("{base}/events")).bearer_auth(BOOTSTRAP_TOKEN);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    let mut response = request.send().await.expect("an event stream");
    assert_eq!(response.status(), StatusCode::OK);
    let mut events = Vec::new();
    let mut buffer = String::new();
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        while !until(&events) {
            let chunk = response.chunk().await.expect("the stream reads").expect("the stream stays open");
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                let field = |name: &str| frame.lines().find_map(|line| line.strip_prefix(name)).map(str::to_owned);
                if let (Some(event), Some(id), Some(data)) = (field("event: "), field("id: "), field("data: ")) {
                    let data = serde_json::from_str(&data).expect("JSON data");
                    events.push((id.parse().expect("a numeric id"), event, data));
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "events so far: {events:?}");
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resuming_after_a_server_restart_sees_every_event_once_in_order() {
    let directory = tempfile::tempdir().expect("a working directory");
    let client = reqwest::Client::new();
    let runbook =
        "kind: runbook\nname: Resume\ntasks:\n  - {id: a, name: A}\n  - {id: b, name: B, predecessors: [a]}\n";

    let port = free_port();
    let mut server = Server::start(directory.path(), &Backend::Embedded, port, false, "info");
    let mut api = Api { client: client.clone(), base: format!("http://127.0.0.1:{port}/api/v1"), answers: Vec::new() };
    wait_until_ready(&client, port, &mut server).await;
    let first_base = api.base.clone();
    let listener = tokio::spawn(async move {
        let started = |events: &[Logged]| events.iter().any(|(_, event, _)| event == "runbook_stage_changed");
        // From the start of the log, so that no event is missed however late the stream opens.
        events_until(&client, &first_base, Some(0), started).await
    });
    let id =
        api.post("/runbooks", BOOTSTRAP_TOKEN, Some(Body::Yaml(runbook.to_owned()))).await["id"].as_i64().expect("id");
    api.post(&format!("/runbooks/{id}/start"), BOOTSTRAP_TOKEN, Some(Body::Json(json!({"mode": "live"})))).await;
    let before = listener.await.expect("the listener");
    assert_eq!(before[0].1, "runbook_created", "{before:?}");
    let last_seen = before.last().expect("events").0;

    // Killed (SIGKILL) between two events; the next events happen while the client is away.
    drop(server);
    let port = free_port();
    let mut server = Server::start(directory.path(), &Backend::Embedded, port, false, "info");
    api.base = format!("http://127.0.0.1:{port}/api/v1");
    let client = reqwest::Client::new();
    wait_until_ready(&client, port, &mut server).await;
    api.post(&format!("/runbooks/{id}/tasks/a/start"), BOOTSTRAP_TOKEN, None).await;
    api.post(&format!("/runbooks/{id}/tasks/a/finish"), BOOTSTRAP_TOKEN, None).await;

    let b_startable = |events: &[Logged]| {
        events
            .iter()
            .any(|(_, event, data)| event == "task_stage_changed" && data["task"] == "b" && data["to"] == "startable")
    };
    let after = events_until(&client, &api.base, Some(last_seen), b_startable).await;
    let everything = events_until(&client, &api.base, Some(0), b_startable).await;
    let resumed: Vec<Logged> = before.iter().chain(&after).cloned().collect();
    assert_eq!(resumed, everything, "the events before and after the restart are the whole log, each once, in order");
    let ids: Vec<i64> = resumed.iter().map(|(id, _, _)| *id).collect();
    assert!(ids.windows(2).all(|pair| pair[1] == pair[0] + 1), "ids follow each other: {ids:?}");
    assert!(after.iter().any(|(_, event, data)| event == "task_stage_changed" && data["task"] == "a"), "{after:?}");

    // A client naming an id this server never gave is told to refetch.
    let refetch = events_until(&client, &api.base, Some(10_000), |events| !events.is_empty()).await;
    assert_eq!((refetch[0].1.as_str(), refetch[0].2["last_event_id"].as_i64()), ("refetch", Some(10_000)));
    server.stop();
}
