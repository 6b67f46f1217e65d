//! The client commands against a real `cutover-server` process started by the test, with a mock third party
//! (mockito) on loopback: apply, runbook and task commands, the actions log, `--json`, and errors.
//!
//! The server binary is `cutover-server` beside the `cutover` binary under test: `cargo test --workspace` builds it.
//! When it is missing or older than the sources (`cargo test -p cutover` alone), the test builds it with the cargo
//! that runs the tests. `CUTOVER_TEST_SERVER_BIN` names another binary instead.

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

const ADMIN_TOKEN: &str = "cli-test-admin-token-0123456789";
const ACTION_TOKEN: &str = "literal-action-secret-6f1e2d";

/// The `cutover-server` binary, built once per test process when needed.
fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("CUTOVER_TEST_SERVER_BIN") {
            return PathBuf::from(path);
        }
        let cutover = PathBuf::from(assert_cmd::cargo::cargo_bin!("cutover"));
        let binary = cutover.with_file_name(format!("cutover-server{}", std::env::consts::EXE_SUFFIX));
        if stale(&binary) {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let status = Command::new(cargo)
                .args(["build", "-p", "cutover-server", "--bin", "cutover-server"])
                .status()
                .expect("running cargo build -p cutover-server");
            assert!(status.success(), "cargo build -p cutover-server failed");
        }
        assert!(binary.exists(), "{} was not built", binary.display());
        binary
    })
}

/// Whether the binary is missing or older than a source file of the server or the crates it is built from.
fn stale(binary: &Path) -> bool {
    let Ok(built) = std::fs::metadata(binary).and_then(|metadata| metadata.modified()) else { return true };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let newest = ["bins/server", "crates", "Cargo.lock"].iter().map(|part| newest(&root.join(part))).max().flatten();
    newest.is_some_and(|newest| newest > built)
}

fn newest(path: &Path) -> Option<SystemTime> {
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_dir() {
        return metadata.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name() != "target")
        .filter_map(|entry| newest(&entry.path()))
        .max()
}

/// A running server on a free loopback port, with an admin token; stopped when dropped.
struct Server {
    child: Child,
    url: String,
    _data: tempfile::TempDir,
}

impl Server {
    fn start() -> Self {
        let data = tempfile::tempdir().expect("a data directory");
        let mut child = Command::new(server_binary())
            .args(["--listen", "127.0.0.1:0", "--json-logs", "--outbound-allow", "127.0.0.1/32", "--data-dir"])
            .arg(data.path())
            .env("CUTOVER_BOOTSTRAP_TOKEN", ADMIN_TOKEN)
            .env_remove("CUTOVER_DATABASE_URL")
            .env_remove("CUTOVER_SECRET_KEY")
            .env_remove("CUTOVER_LISTEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting cutover-server");
        let mut lines = BufReader::new(child.stdout.take().expect("the server's stdout")).lines();
        let address = loop {
            let line = lines.next().expect("the server exited before listening").expect("a log line");
            let Ok(entry) = serde_json::from_str::<Value>(&line) else { continue };
            if entry["fields"]["message"] == "listening" {
                break entry["fields"]["address"].as_str().expect("the address").to_owned();
            }
        };
        // Keep reading the log so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, url: format!("http://{address}"), _data: data }
    }

    /// `cutover --server URL --token TOKEN ARGS…`.
    fn cutover(&self, args: &[&str]) -> Output {
        self.cutover_with_token(ADMIN_TOKEN, args)
    }

    fn cutover_with_token(&self, token: &str, args: &[&str]) -> Output {
        cargo_bin_cmd!("cutover")
            .args(["--server", &self.url, "--token", token])
            .args(args)
            .output()
            .expect("running cutover")
    }

    /// Runs a command that must succeed and returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.cutover(args);
        assert_eq!(output.status.code(), Some(0), "{args:?} failed:\n{}", text(&output.stderr));
        assert_no_secret(&output);
        text(&output.stdout)
    }

    /// Runs a `--json` command that must succeed and returns its JSON.
    fn json(&self, args: &[&str]) -> Value {
        let stdout = self.ok(args);
        serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{args:?} printed no JSON ({error}): {stdout}"))
    }

    /// Waits until a task's integration status is `status`, reading it with `cutover task show --json`.
    fn wait_for_status(&self, runbook: &str, task: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let shown = self.json(&["task", "show", runbook, task, "--json"]);
            if shown["integration_status"] == status {
                return shown;
            }
            assert!(Instant::now() < deadline, "{task} never reached {status}: {shown}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_no_secret(output: &Output) {
    for stream in [&output.stdout, &output.stderr] {
        assert!(!text(stream).contains(ACTION_TOKEN), "the action's token leaked:\n{}", text(stream));
        assert!(!text(stream).contains(ADMIN_TOKEN), "the API token leaked:\n{}", text(stream));
    }
}

/// Runs a command that must fail with exit 1 and returns its stderr lines.
fn refused(output: &Output) -> Vec<String> {
    assert_eq!(output.status.code(), Some(1), "stdout:\n{}\nstderr:\n{}", text(&output.stdout), text(&output.stderr));
    assert_no_secret(output);
    text(&output.stderr).lines().map(str::to_owned).collect()
}

fn definitions(base: &str) -> (tempfile::TempDir, String, String) {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let integration = format!(
        r#"kind: integration
name: Hooks
actions:
  - name: Post
    settings: {{finish_task_on_success: true}}
    auth: {{type: token, token: "{ACTION_TOKEN}"}}
    request:
      method: POST
      url: {base}/hook
      headers: {{Content-Type: application/json}}
      payload: '{{"task":"{{{{Task.id}}}}"}}'
"#
    );
    let runbook = r#"kind: runbook
name: Release
tasks:
  - {id: announce, name: Announce the start, action: Hooks/Post}
  - {id: deploy, name: Deploy, predecessors: [announce]}
  - {id: done, name: Announce the end, action: Hooks/Post, auto_start: true, predecessors: [deploy]}
"#;
    let integration_path = directory.path().join("hooks.yaml");
    let runbook_path = directory.path().join("release.yaml");
    std::fs::write(&integration_path, integration).expect("writing");
    std::fs::write(&runbook_path, runbook).expect("writing");
    let paths = (integration_path.display().to_string(), runbook_path.display().to_string());
    (directory, paths.0, paths.1)
}

#[test]
fn a_runbook_is_driven_task_by_task_from_the_command_line() {
    let server = Server::start();
    let mut third_party = mockito::Server::new();
    let refusing = third_party.mock("POST", "/hook").with_status(400).with_body("channel_not_found").expect(1).create();
    let (_directory, integration, runbook) = definitions(&third_party.url());

    // The runbook is listed first on the command line; integrations are still applied first.
    let applied = server.ok(&["apply", &runbook, &integration]);
    assert_eq!(
        applied.lines().collect::<Vec<_>>(),
        [
            format!("{integration}: integration 1 `Hooks` created; actions created: Post"),
            format!("{runbook}: runbook 1 `Release` created"),
        ]
    );
    let listed = server.ok(&["runbook", "list"]);
    assert_eq!(
        listed.lines().nth(1).map(|line| line.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["1", "Release", "planning"])
    );
    assert_eq!(server.ok(&["runbook", "start", "1", "--mode", "live"]).trim(), "runbook 1 started: stage active");
    let tasks = server.ok(&["task", "list", "1"]);
    let announce = tasks.lines().find(|line| line.starts_with("announce")).expect("announce listed");
    assert!(announce.contains("startable") && announce.contains("none"), "{tasks}");

    // A failed fire shows its reason, and the actions log shows the request as a curl line.
    let started = server.ok(&["task", "start", "1", "announce"]);
    assert!(started.starts_with("announce: in_progress, integration "), "{started}");
    let failed = server.wait_for_status("1", "announce", "failed");
    assert!(failed["failure_reason"].as_str().expect("a reason").contains("400"), "{failed}");
    refusing.assert();
    let tasks = server.ok(&["task", "list", "1"]);
    let announce = tasks.lines().find(|line| line.starts_with("announce")).expect("announce listed");
    assert!(announce.contains("in_progress") && announce.contains("failed") && announce.contains("400"), "{tasks}");

    // Refire: a new fire, with a new idempotency key, and this time the third party accepts.
    refusing.remove();
    let accepting = third_party.mock("POST", "/hook").with_status(200).with_body(r#"{"ok":true}"#).expect(2).create();
    server.ok(&["task", "refire", "1", "announce"]);
    server.wait_for_status("1", "announce", "succeeded");
    let log = server.ok(&["task", "log", "1", "announce"]);
    let url = third_party.url();
    assert!(log.contains("announce fire 1 (failed)"), "{log}");
    assert!(log.contains("announce fire 2 (succeeded)"), "{log}");
    assert!(log.contains(&format!("POST {url}/hook -> 200 in ")), "{log}");
    assert!(log.contains(&format!("curl -X POST '{url}/hook'")), "{log}");
    assert!(log.contains("Authorization: [REDACTED]"), "{log}");
    let log = server.json(&["task", "log", "1", "announce", "--json"]);
    let fires = log["fires"].as_array().expect("fires");
    assert_eq!(fires.len(), 2);
    assert_ne!(fires[0]["idempotency_key"], fires[1]["idempotency_key"]);

    // A manual task: finishing it before it starts is refused (409), then start and finish it.
    let lines = refused(&server.cutover(&["task", "finish", "1", "deploy"]));
    assert!(lines[0].starts_with("error: ") && lines[0].contains("(409 "), "{lines:?}");
    assert_eq!(server.ok(&["task", "start", "1", "deploy"]).trim(), "deploy: in_progress, integration none");
    assert_eq!(server.ok(&["task", "finish", "1", "deploy"]).trim(), "deploy: complete, integration none");

    // `done` starts by itself; the runbook completes.
    server.wait_for_status("1", "done", "succeeded");
    accepting.assert();
    let shown = server.json(&["runbook", "show", "1", "--json"]);
    assert_eq!(shown["runbook"]["stage"], "complete", "{shown}");
    let stages: Vec<&str> =
        shown["tasks"].as_array().expect("tasks").iter().map(|task| task["stage"].as_str().expect("stage")).collect();
    assert_eq!(stages, ["complete", "complete", "complete"]);
}

#[test]
fn skip_cancel_and_json_output() {
    let server = Server::start();
    let third_party = mockito::Server::new();
    let (_directory, integration, runbook) = definitions(&third_party.url());
    let applied = server.json(&["apply", "--json", &integration, &runbook]);
    assert_eq!(applied[0]["kind"], "integration");
    assert_eq!(applied[0]["result"]["integrations"][0]["created"], true);
    assert_eq!(applied[1]["kind"], "runbook");
    assert_eq!(applied[1]["result"]["id"], 1);
    // Applying the integration again updates it; applying the runbook again finds the one applied before.
    let again = server.ok(&["apply", &integration, &runbook]);
    assert!(again.contains("integration 1 `Hooks` updated; actions updated: Post"), "{again}");
    assert!(again.contains("runbook 1 `Release` unchanged (applied before)"), "{again}");
    let twice = server.json(&["apply", "--json", &runbook]);
    assert_eq!((twice[0]["created"].as_bool(), twice[0]["result"]["id"].as_i64()), (Some(false), Some(1)));
    let another = server.json(&["apply", "--new", "--json", &runbook]);
    assert_eq!((another[0]["created"].as_bool(), another[0]["result"]["id"].as_i64()), (Some(true), Some(2)));
    // A changed definition under the same name is refused rather than replacing a runbook under its operators.
    let changed =
        std::fs::read_to_string(&runbook).expect("the runbook file").replace("name: Deploy", "name: Roll out");
    let changed_path = format!("{runbook}.changed.yaml");
    std::fs::write(&changed_path, changed).expect("writing the changed runbook");
    let lines = refused(&server.cutover(&["apply", &changed_path]));
    assert!(lines[0].contains("already exists in this workspace with a different definition"), "{lines:?}");
    let listed = server.json(&["runbook", "list", "--json"]);
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2), "nothing created by the refusal: {listed}");
    // Paging: one runbook a page, the next page by its cursor, or every page with --all.
    let first = server.json(&["runbook", "list", "--json", "--limit", "1"]);
    assert_eq!(first["items"].as_array().map(Vec::len), Some(1), "{first}");
    let cursor = first["next_cursor"].as_str().expect("a next page").to_owned();
    let second = server.json(&["runbook", "list", "--json", "--limit", "1", "--cursor", &cursor]);
    assert_eq!((second["items"][0]["id"].as_i64(), &second["next_cursor"]), (Some(2), &Value::Null), "{second}");
    let all = server.json(&["runbook", "list", "--json", "--limit", "1", "--all"]);
    assert_eq!(all["items"], listed["items"], "{all}");
    let bad = refused(&server.cutover(&["runbook", "list", "--cursor", "nonsense"]));
    assert!(bad.iter().any(|line| line.starts_with("cursor: not a cursor of this list")), "{bad:?}");

    assert_eq!(listed["items"][0]["name"], "Release");
    server.ok(&["runbook", "start", "1", "--mode", "rehearsal"]);
    let skipped = server.json(&["task", "skip", "1", "announce", "--comment", "announced by hand", "--json"]);
    assert_eq!(skipped["stage"], "skipped");
    assert_eq!(skipped["skip_comment"], "announced by hand");

    // The action is not cancelable, and deploy has no fire: both are refused with the server's reason.
    server.ok(&["task", "start", "1", "deploy"]);
    let lines = refused(&server.cutover(&["task", "cancel", "1", "deploy"]));
    assert!(lines[0].starts_with("error: "), "{lines:?}");
    let tasks = server.json(&["task", "list", "1", "--json"]);
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(tasks["items"][1]["stage"], "in_progress");

    // `cutover runbook list | head -1`: a reader that went away ends the command quietly.
    for args in [&["runbook", "list"][..], &["runbook", "list", "--json"][..], &["task", "list", "1"][..]] {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin!("cutover"))
            .args(["--server", &server.url, "--token", ADMIN_TOKEN])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running cutover");
        drop(child.stdout.take());
        let output = child.wait_with_output().expect("cutover ends");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", text(&output.stderr));
        assert!(!text(&output.stderr).contains("panicked"), "{args:?}: {}", text(&output.stderr));
    }
}

#[test]
fn errors_are_lines_on_stderr_with_exit_1() {
    let server = Server::start();
    let third_party = mockito::Server::new();
    let (directory, integration, _runbook) = definitions(&third_party.url());

    let lines = refused(&server.cutover_with_token("not-a-valid-token-at-all", &["runbook", "list"]));
    assert!(lines[0].starts_with("error: ") && lines[0].contains("(401 "), "{lines:?}");

    let lines = refused(&server.cutover(&["task", "list", "42"]));
    assert!(lines[0].contains("(404 "), "{lines:?}");

    // A runbook that names an unknown action: the server's problem, positioned in the file.
    let broken = directory.path().join("broken.yaml");
    std::fs::write(&broken, "kind: runbook\nname: R\ntasks:\n  - {id: a, name: A, action: Hooks/Pots}\n")
        .expect("writing");
    let broken = broken.display().to_string();
    let lines = refused(&server.cutover(&["apply", &integration, &broken]));
    assert!(lines[0].starts_with(&format!("error: {broken}: ")) && lines[0].contains("(422 "), "{lines:?}");
    assert!(
        lines[1..].iter().any(|line| line.starts_with(&format!("{broken}:4:")) && line.contains("`Pots`")),
        "{lines:?}"
    );

    // A file that does not parse is refused before anything is sent.
    let unparsable = directory.path().join("unparsable.yaml");
    std::fs::write(&unparsable, "kind: integration\nname: X\nactions: [\n").expect("writing");
    let lines = refused(&server.cutover(&["apply", &unparsable.display().to_string()]));
    assert!(lines.iter().all(|line| line.starts_with(&unparsable.display().to_string())), "{lines:?}");

    // Nothing listens on the discard port.
    let output = cargo_bin_cmd!("cutover")
        .args(["--server", "http://127.0.0.1:9", "--token", "t", "runbook", "list"])
        .output()
        .expect("running cutover");
    let lines = refused(&output);
    assert!(lines[0].starts_with("error: http://127.0.0.1:9/api/v1/runbooks: cannot reach the server"), "{lines:?}");
}

#[test]
fn the_server_and_token_may_come_from_the_environment() {
    let server = Server::start();
    let output = cargo_bin_cmd!("cutover")
        .args(["runbook", "list", "--json"])
        .env("CUTOVER_SERVER", &server.url)
        .env("CUTOVER_TOKEN", ADMIN_TOKEN)
        .output()
        .expect("running cutover");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        serde_json::from_slice::<Value>(&output.stdout).expect("JSON"),
        serde_json::json!({"items": [], "next_cursor": null})
    );
}

#[test]
fn settings_users_custom_fields_and_duplicates_from_the_command_line() {
    let server = Server::start();
    // System parameters: a plain value as an argument, a secret on standard input, never shown back.
    let set = server.ok(&["system-parameter", "set", "region", "eu-west"]);
    assert!(set.contains("system parameter `region` set"), "{set}");
    let secret = "xoxb-from-stdin-7f3a9c";
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("cutover"))
        .args(["--server", &server.url, "--token", ADMIN_TOKEN, "system-parameter", "set", "slack_token", "--secret"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running cutover");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), format!("{secret}\n").as_bytes())
        .expect("writing the secret");
    let output = child.wait_with_output().expect("cutover ends");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let listed = server.ok(&["system-parameter", "list"]);
    assert!(listed.contains("region") && listed.contains("eu-west") && listed.contains("[secret]"), "{listed}");
    let listed_json = server.ok(&["system-parameter", "list", "--json"]);
    assert!(!listed.contains(secret) && !listed_json.contains(secret), "{listed}\n{listed_json}");

    // Users: the token is printed once and works.
    let created = server.json(&[
        "user",
        "create",
        "--name",
        "Ada",
        "--email",
        "ada@example.com",
        "--role",
        "operator",
        "--role",
        "viewer",
        "--json",
    ]);
    let token = created["token"].as_str().expect("the new user's token").to_owned();
    assert_eq!(created["roles"], serde_json::json!(["operator", "viewer"]));
    let users = server.ok(&["user", "list"]);
    assert!(
        users.contains("ada@example.com") && users.contains("operator,viewer") && !users.contains(&token),
        "{users}"
    );
    let as_ada = server.cutover_with_token(&token, &["runbook", "list", "--json"]);
    assert_eq!(as_ada.status.code(), Some(0), "{}", text(&as_ada.stderr));
    let refused_write = server.cutover_with_token(&token, &["custom-field", "create", "Nope", "--type", "text"]);
    assert_eq!(refused_write.status.code(), Some(1), "a viewer-operator cannot create fields");

    // Custom fields, checked by the server like definition files.
    let field = server.ok(&[
        "custom-field",
        "create",
        "Environment",
        "--type",
        "select",
        "--option",
        "prod",
        "--option",
        "staging",
        "--applies-to",
        "runbook",
        "--required",
    ]);
    assert!(field.contains("custom field `Environment` created"), "{field}");
    let no_options = refused(&server.cutover(&["custom-field", "create", "Broken", "--type", "select"]));
    assert!(no_options.iter().any(|line| line.contains("options")), "{no_options:?}");
    let fields = server.ok(&["custom-field", "list"]);
    assert!(fields.contains("Environment") && fields.contains("select") && fields.contains("required"), "{fields}");

    // Duplicating a runbook.
    let third_party = mockito::Server::new();
    let (_directory, integration, runbook) = definitions(&third_party.url());
    server.ok(&["apply", &integration, &runbook]);
    let copy = server.ok(&["runbook", "duplicate", "1"]);
    assert!(copy.contains("runbook 1 duplicated as runbook 2 `Release (copy)`"), "{copy}");
}

#[test]
fn event_integrations_are_applied_and_listed_from_the_command_line() {
    let server = Server::start();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/event-integration.yaml");
    let applied = server.ok(&["apply", example]);
    assert!(applied.contains("event integration 1 `Release audit` applied"), "{applied}");
    let listed = server.ok(&["event-integration", "list"]);
    for expected in ["Release audit", "task.started, task.finished, task.failed", "runbook Release", "enabled"] {
        assert!(listed.contains(expected), "{expected}: {listed}");
    }
    let json = server.json(&["event-integration", "list", "--json"]);
    assert_eq!(json["items"][0]["auth"]["token"], "[REDACTED]", "{json}");
}
