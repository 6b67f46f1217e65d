//! `cutover run` as users run it: the built binary against a mock third party on loopback (mockito), real files, a
//! real temporary or given SQLite database; exit codes, the table, the plain progress lines, the actions log.

use assert_cmd::cargo::cargo_bin_cmd;
use std::path::PathBuf;
use std::process::{Command, Output};

const TOKEN: &str = "hook-token-5d41402abc4b2a76";

fn integration(base: &str) -> String {
    format!(
        r#"kind: integration
name: Hooks
custom_fields:
  - {{name: Message, type: textarea, required: true, restrict_to: [Post]}}
actions:
  - name: Post
    settings: {{finish_task_on_success: true}}
    auth: {{type: token, token: "{{{{SystemParameter['hook_token']}}}}"}}
    request:
      method: POST
      url: {base}/hook
      headers: {{Content-Type: application/json, X-Check: "{{{{SystemParameter['hook_token'] | upcase}}}}"}}
      payload: '{{"text":"{{{{CustomField[''Message'']}}}}","task":"{{{{Task.id}}}}","region":"{{{{SystemParameter.region}}}}"}}'
  - name: Wait
    settings: {{finish_task_on_success: true}}
    request:
      method: POST
      url: {base}/jobs
      headers: {{Content-Type: application/json}}
      payload: '{{"callback":"{{{{Callback.url}}}}","token":"{{{{Callback.token}}}}"}}'
      execution_mode: callback
    callback: {{timeout_seconds: 600}}
"#
    )
}

const RUNBOOK: &str = r#"kind: runbook
name: Release
tasks:
  - id: announce
    name: Announce the start
    action: Hooks/Post
    custom_fields: {Message: "Release starts"}
  - id: deploy
    name: Deploy
    predecessors: [announce]
  - id: done
    name: Announce the end
    action: Hooks/Post
    auto_start: true
    predecessors: [deploy]
    custom_fields: {Message: "Release is live"}
"#;

/// A directory holding the runbook and the integration that targets `base`.
struct Files {
    directory: tempfile::TempDir,
    runbook: PathBuf,
    integration: PathBuf,
}

fn files(base: &str, runbook: &str) -> Files {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let runbook_path = directory.path().join("release.yaml");
    let integration_path = directory.path().join("hooks.yaml");
    std::fs::write(&runbook_path, runbook).expect("writing the runbook");
    std::fs::write(&integration_path, integration(base)).expect("writing the integration");
    Files { directory, runbook: runbook_path, integration: integration_path }
}

/// `cutover run` on the files, loopback allowed, the token from `--param` and the region from the environment.
fn run(files: &Files, extra: &[&str]) -> Output {
    command(files, extra).output().expect("running cutover")
}

fn command(files: &Files, extra: &[&str]) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin!("cutover"));
    command
        .arg("run")
        .arg(&files.runbook)
        .arg("--integrations")
        .arg(&files.integration)
        .args(["--allow-network", "127.0.0.1/32", "--param"])
        .arg(format!("hook_token={TOKEN}"))
        .env("CUTOVER_PARAM_region", "eu-west")
        .env_remove("CUTOVER_SECRET_KEY")
        .args(extra);
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The table row of a task: its cells split on runs of two spaces or more.
fn row(output: &Output, task: &str) -> Vec<String> {
    let stdout = text(&output.stdout);
    let line = stdout
        .lines()
        .find(|line| line.split_whitespace().next() == Some(task))
        .unwrap_or_else(|| panic!("no row for {task} in:\n{stdout}"));
    line.split("  ").map(str::trim).filter(|cell| !cell.is_empty()).map(str::to_owned).collect()
}

/// Neither the token nor a value computed from it (the `X-Check` header sends it upper-cased) is shown.
fn assert_no_secret(output: &Output) {
    for stream in [&output.stdout, &output.stderr] {
        for secret in [TOKEN.to_owned(), TOKEN.to_uppercase()] {
            assert!(!text(stream).contains(&secret), "the token leaked:\n{}", text(stream));
        }
    }
}

#[test]
fn a_successful_run_fires_every_integration_task_and_exits_0() {
    let mut server = mockito::Server::new();
    let hooks = server
        .mock("POST", "/hook")
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_body(mockito::Matcher::Regex(r#""region":"eu-west""#.into()))
        .with_status(200)
        .with_body(r#"{"ok":true}"#)
        .expect(2)
        .create();
    let files = files(&server.url(), RUNBOOK);
    let output = run(&files, &[]);
    assert_eq!(output.status.code(), Some(0), "stderr:\n{}\nstdout:\n{}", text(&output.stderr), text(&output.stdout));
    hooks.assert();

    let expectations = [
        ("announce", ["Announce the start", "complete", "succeeded"]),
        ("deploy", ["Deploy", "complete", "none"]),
        ("done", ["Announce the end", "complete", "succeeded"]),
    ];
    for (task, cells) in expectations {
        assert_eq!(row(&output, task)[1..4], cells, "{task}");
    }
    let stdout = text(&output.stdout);
    assert!(stdout.contains("runbook 1: complete (3 of 3 tasks complete"), "{stdout}");
    assert!(stdout.contains("Actions log"), "{stdout}");
    assert!(stdout.contains(&format!("POST {}/hook -> 200", server.url())), "{stdout}");
    assert!(stdout.contains("curl -X POST"), "{stdout}");
    assert!(stdout.contains("Authorization: [REDACTED]"), "{stdout}");

    // Not a terminal: plain progress lines, in order for each task.
    let stderr = text(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|line| line.starts_with("announce:")).collect();
    assert_eq!(
        lines,
        [
            "announce: started (Announce the start)",
            "announce: integration pending",
            "announce: integration running",
            "announce: integration succeeded",
            "announce: complete"
        ],
        "{stderr}"
    );
    assert!(stderr.lines().any(|line| line == "runbook: complete"), "{stderr}");
    assert!(!stderr.contains('\r') && !stderr.contains('\u{1b}'), "no terminal control in plain output: {stderr:?}");
    assert_no_secret(&output);
}

/// At `RUST_LOG=trace` the engine logs to stderr, and third-party crates that print the data they handle (handlebars'
/// helper parameters, hyper's headers) are capped: the token is in no line.
#[test]
fn a_run_logged_at_trace_shows_no_secret() {
    let mut server = mockito::Server::new();
    let hooks = server.mock("POST", "/hook").with_status(200).with_body(r#"{"ok":true}"#).expect(2).create();
    let files = files(&server.url(), RUNBOOK);
    let output = command(&files, &[]).env("RUST_LOG", "trace").output().expect("running cutover");
    assert_eq!(output.status.code(), Some(0), "stderr:\n{}", text(&output.stderr));
    hooks.assert();
    let stderr = text(&output.stderr);
    assert!(stderr.contains("running a fire step"), "the engine logs at trace:\n{stderr}");
    assert_no_secret(&output);
}

#[test]
fn a_failing_task_exits_1_with_its_reason_in_the_table() {
    let mut server = mockito::Server::new();
    let refused = server.mock("POST", "/hook").with_status(400).with_body("channel_not_found").expect(1).create();
    let files = files(&server.url(), RUNBOOK);
    let output = run(&files, &[]);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{}", text(&output.stderr));
    refused.assert();

    let announce = row(&output, "announce");
    assert_eq!(announce[1..5], ["Announce the start", "in_progress", "failed", "-"]);
    assert!(announce[5].contains("400"), "the reason names the status: {announce:?}");
    assert_eq!(row(&output, "deploy")[2..4], ["not_startable", "none"]);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("not complete (0 of 3 tasks complete"), "{stdout}");
    assert!(stdout.contains("response body: channel_not_found"), "{stdout}");
    assert!(text(&output.stderr).contains("announce: integration failed: "), "{}", text(&output.stderr));
    assert_no_secret(&output);
}

#[test]
fn a_rehearsal_sends_nothing_and_shows_what_it_would_send() {
    let mut server = mockito::Server::new();
    let nothing = server.mock("POST", mockito::Matcher::Any).expect(0).create();
    let files = files(&server.url(), RUNBOOK);
    let output = run(&files, &["--mode", "rehearsal"]);
    assert_eq!(output.status.code(), Some(0), "stderr:\n{}", text(&output.stderr));
    nothing.assert();

    assert_eq!(row(&output, "announce")[2..4], ["complete", "not_sent"]);
    assert_eq!(row(&output, "done")[2..4], ["complete", "not_sent"]);
    let stdout = text(&output.stdout);
    assert!(stdout.contains(&format!("POST {}/hook -> not sent (rehearsal)", server.url())), "{stdout}");
    // Every parameter given to `cutover run` is secret, so even the region is redacted.
    assert!(
        stdout.contains(r#"--data-raw '{"text":"Release starts","task":"announce","region":"[REDACTED]"}'"#),
        "{stdout}"
    );
    assert!(text(&output.stderr).contains("running `Release` (runbook 1, rehearsal, 3 tasks)"));
    assert_no_secret(&output);
}

#[test]
fn private_addresses_are_refused_unless_allowed() {
    let mut server = mockito::Server::new();
    let nothing = server.mock("POST", mockito::Matcher::Any).expect(0).create();
    let files = files(&server.url(), RUNBOOK);
    let output = cargo_bin_cmd!("cutover")
        .arg("run")
        .arg(&files.runbook)
        .arg("--integrations")
        .arg(&files.integration)
        .args(["--param", "hook_token=x", "--param", "region=eu"])
        .output()
        .expect("running cutover");
    assert_eq!(output.status.code(), Some(1));
    nothing.assert();
    let announce = row(&output, "announce");
    assert!(announce[5].starts_with("Connection failed: "), "{announce:?}");
    assert!(announce[5].contains("not in the outbound allow list"), "{announce:?}");
}

#[test]
fn stopping_at_manual_tasks_leaves_the_run_incomplete() {
    let mut server = mockito::Server::new();
    let hook = server.mock("POST", "/hook").with_status(200).expect(1).create();
    let files = files(&server.url(), RUNBOOK);
    let output = run(&files, &["--manual", "stop", "--no-actions-log"]);
    assert_eq!(output.status.code(), Some(1));
    hook.assert();
    assert_eq!(row(&output, "deploy")[2..], ["in_progress", "none", "-", "manual task left in progress"]);
    assert!(!text(&output.stdout).contains("Actions log"));
}

#[test]
fn json_output_holds_the_tasks_and_the_actions_log() {
    let mut server = mockito::Server::new();
    let _hooks = server.mock("POST", "/hook").with_status(201).expect(2).create();
    let files = files(&server.url(), RUNBOOK);
    let output = run(&files, &["--json"]);
    assert_eq!(output.status.code(), Some(0), "stderr:\n{}", text(&output.stderr));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stdout is one JSON document");
    assert_eq!(document["succeeded"], true);
    assert_eq!(document["stage"], "complete");
    let statuses: Vec<(&str, &str)> = document["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|task| (task["id"].as_str().expect("id"), task["integration_status"].as_str().expect("status")))
        .collect();
    assert_eq!(statuses, [("announce", "succeeded"), ("deploy", "none"), ("done", "succeeded")]);
    let fires = document["actions_log"]["announce"].as_array().expect("announce's fires");
    assert_eq!(fires.len(), 1);
    let attempt = &fires[0]["entries"][0];
    assert_eq!(attempt["response"]["status"], 201);
    assert!(attempt["request"]["curl"].as_str().expect("curl").starts_with("curl -X POST"));
    assert!(document["actions_log"].get("deploy").is_none(), "a manual task has no fires");
    assert_no_secret(&output);
}

#[test]
fn invalid_definitions_exit_1_with_positioned_errors() {
    let server = mockito::Server::new();
    let broken = RUNBOOK.replace("action: Hooks/Post\n    auto_start", "action: Hooks/Pots\n    auto_start");
    let files = files(&server.url(), &broken);
    let output = run(&files, &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    let file = files.runbook.display().to_string();
    assert!(
        stderr.lines().any(|line| line.starts_with(&format!("{file}:13:")) && line.contains("tasks[2].action")),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());

    let output = command(&files, &[]).arg("--integrations").arg(files.directory.path().join("missing.yaml")).output();
    let output = output.expect("running cutover");
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("missing.yaml: cannot read"), "{}", text(&output.stderr));

    // A runbook given as an integration (and an integration as the runbook) is refused with the fix.
    let output = cargo_bin_cmd!("cutover")
        .arg("run")
        .arg(&files.integration)
        .arg("--integrations")
        .arg(&files.runbook)
        .output()
        .expect("running cutover");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("is an integration definition: give it after --integrations"),
        "{}",
        text(&output.stderr)
    );
    let output = cargo_bin_cmd!("cutover")
        .arg("run")
        .arg(&files.runbook)
        .arg("--integrations")
        .arg(&files.integration)
        .arg(&files.runbook)
        .output()
        .expect("running cutover");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("is a runbook definition: --integrations takes integrations"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn a_given_database_keeps_its_key_beside_it() {
    let mut server = mockito::Server::new();
    let _hooks = server.mock("POST", "/hook").with_status(200).expect(4).create();
    let files = files(&server.url(), RUNBOOK);
    let database = files.directory.path().join("runs/cutover.db");
    let url = format!("sqlite://{}", database.display());
    let first = run(&files, &["--database", &url, "--no-actions-log"]);
    assert_eq!(first.status.code(), Some(0), "stderr:\n{}", text(&first.stderr));
    let key = database.with_file_name("secret.key");
    assert!(key.exists(), "the key file is written beside the database");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).expect("key file").permissions().mode() & 0o777, 0o600);
    }
    // A second run reads the stored secrets with the same key; its runbook is the second one.
    let second = run(&files, &["--database", &url, "--no-actions-log"]);
    assert_eq!(second.status.code(), Some(0), "stderr:\n{}", text(&second.stderr));
    assert!(text(&second.stdout).contains("runbook 2: complete"), "{}", text(&second.stdout));

    // Another key beside it: refused before anything runs, the problem named.
    std::fs::write(&key, "T1RIRVJPVEhFUk9USEVST1RIRVJPVEhFUk9USEVST1Q=\n").expect("another key");
    let refused = run(&files, &["--database", &url, "--no-actions-log"]);
    assert_eq!(refused.status.code(), Some(1), "stdout:\n{}", text(&refused.stdout));
    assert!(text(&refused.stderr).contains("the secret key does not match this database"), "{}", text(&refused.stderr));
}

#[test]
fn every_usage_error_exits_2() {
    let server = mockito::Server::new();
    let files = files(&server.url(), RUNBOOK);
    let runbook = files.runbook.display().to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["frobnicate"],
        vec!["run"],
        vec!["run", &runbook, "--mode", "dry"],
        vec!["run", &runbook, "--manual", "maybe"],
        vec!["run", &runbook, "--param", "novalue"],
        vec!["run", &runbook, "--param", "=value"],
        vec!["run", &runbook, "--allow-network", "not-a-cidr"],
        vec!["run", &runbook, "--integrations"],
        vec!["run", &runbook, "--no-such-flag"],
        vec!["validate"],
        vec!["render", &runbook],
        vec!["sink", "--listen", "0.0.0.0:8787"],
        vec!["sink", "--listen", "nowhere"],
        vec!["completions"],
        vec!["completions", "tcsh"],
        vec!["apply"],
        vec!["runbook"],
        vec!["runbook", "list"],
        vec!["runbook", "start", "1", "--server", "http://127.0.0.1:9", "--token", "t"],
        vec!["task", "list", "--server", "http://127.0.0.1:9", "--token", "t"],
        vec!["task", "start", "1", "announce"],
        vec!["task", "start", "1", "announce", "--server", "http://127.0.0.1:9"],
        vec!["task", "skip", "1", "announce", "--server", "http://127.0.0.1:9", "--token", "t"],
        vec!["--server", "not a url", "--token", "t", "runbook", "list"],
    ];
    for args in cases {
        let output = cargo_bin_cmd!("cutover")
            .args(&args)
            .env_remove("CUTOVER_SERVER")
            .env_remove("CUTOVER_TOKEN")
            .output()
            .expect("running cutover");
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output.stderr));
        assert!(!output.stderr.is_empty(), "{args:?}: the error is on stderr");
        assert!(output.stdout.is_empty(), "{args:?}: nothing on stdout");
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_the_run_and_prints_the_tasks_as_they_stand() {
    use std::io::{BufRead, BufReader};
    let mut server = mockito::Server::new();
    let jobs = server.mock("POST", "/jobs").with_status(202).expect(1).create();
    let runbook = "kind: runbook\nname: Approval\ntasks:\n  - {id: approve, name: Get approval, action: Hooks/Wait}\n";
    let files = files(&server.url(), runbook);
    let mut child = command(&files, &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting cutover run");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    // The callback fire waits for a third party that never calls back: interrupt the run there.
    for line in lines.by_ref() {
        if line.expect("a progress line") == "approve: integration waiting" {
            break;
        }
    }
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let rest: Vec<String> = lines.map(|line| line.expect("a line")).collect();
    let output = child.wait_with_output().expect("the run ends");
    assert_eq!(output.status.code(), Some(1), "{rest:?}");
    jobs.assert();
    assert!(rest.iter().any(|line| line.starts_with("interrupted: ")), "{rest:?}");
    assert_eq!(row(&output, "approve")[2..4], ["in_progress", "waiting"]);
}

/// A runbook whose names and messages try to drive the terminal: set its title, clear it, overwrite a line, reorder
/// text, fake a table row.
const HOSTILE_RUNBOOK: &str = "kind: runbook\nname: \"Release \\e]0;owned\\a\"\ntasks:\n  - id: announce\n    \
    name: \"Announce \\e[2J\\e[H\\rFAKE \\u202Etxt.exe\\nannounce  Evil  complete\"\n    action: Hooks/Post\n    \
    custom_fields: {Message: \"\\e[31mred\\x9b\"}\n";

#[test]
fn control_characters_from_definitions_are_escaped_in_human_output() {
    let mut server = mockito::Server::new();
    server.mock("POST", "/hook").with_status(200).with_body("echo \x1b]0;answer\x07").create();
    let files = files(&server.url(), HOSTILE_RUNBOOK);
    let output = run(&files, &[]);
    assert_eq!(output.status.code(), Some(0), "stderr:\n{}", text(&output.stderr));
    for (name, stream) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let shown = text(stream);
        let raw: Vec<char> =
            shown.chars().filter(|c| (c.is_control() && *c != '\n') || matches!(c, '\u{202a}'..='\u{202e}')).collect();
        assert!(raw.is_empty(), "{name} has raw control characters {raw:?}:\n{shown}");
    }
    let stdout = text(&output.stdout);
    assert!(stdout.contains(r"Announce \x1b[2J\x1b[H\x0dFAKE \u{202e}txt.exe\x0aannounce"), "{stdout}");
    assert!(!stdout.lines().any(|line| line.starts_with("announce  Evil")), "a name cannot fake a row:\n{stdout}");
    assert!(stdout.contains(r"\x1b]0;answer\x07"), "a third party's answer is escaped too:\n{stdout}");
}

#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    let mut server = mockito::Server::new();
    server.mock("POST", "/hook").with_status(200).create();
    let files = files(&server.url(), RUNBOOK);
    for extra in [&[][..], &["--json"][..]] {
        // The reader is gone before anything is written (as `| head -c 0` would leave it): every write fails with EPIPE.
        let mut child = command(&files, extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("cutover starts");
        drop(child.stdout.take());
        let output = child.wait_with_output().expect("cutover ends");
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{extra:?}: exit status, stderr:\n{stderr}");
        assert!(!stderr.contains("panicked"), "{extra:?}: {stderr}");
    }
}

/// The attack of issue 12: the runbook (which operators edit) puts a host into a custom field that a URL's host reads,
/// with basic auth on the action. The attacker's port on loopback must see no connection at all.
#[test]
fn an_operator_value_cannot_send_credentials_to_another_host() {
    let attacker = std::net::TcpListener::bind("127.0.0.1:0").expect("binding the attacker");
    attacker.set_nonblocking(true).expect("non-blocking");
    let attacker_port = attacker.local_addr().expect("address").port();
    let mut server = mockito::Server::new();
    let legit_port = server.socket_address().port();
    let legit = server.mock("GET", "/api").match_header("authorization", "Basic Ym90OnMzY3JldA==").expect(1).create();
    let directory = tempfile::tempdir().expect("a temporary directory");
    let integration = directory.path().join("snow.yaml");
    std::fs::write(
        &integration,
        format!(
            "kind: integration\nname: Snow\ncustom_fields:\n  - {{name: Instance, type: text}}\nactions:\n  - name: \
             Get\n    settings: {{finish_task_on_success: true}}\n    allowed_hosts: [\"127.0.0.1:{legit_port}\"]\n    \
             auth: {{type: basic, username: bot, password: \"{{{{SystemParameter['snow_password']}}}}\"}}\n    \
             request: {{method: GET, url: \"http://{{{{CustomField['Instance']}}}}:{legit_port}/api\"}}\n  - name: \
             Base\n    settings: {{finish_task_on_success: true}}\n    allowed_hosts: [\"127.0.0.1:{legit_port}\"]\n    \
             auth: {{type: basic, username: bot, password: \"{{{{SystemParameter['snow_password']}}}}\"}}\n    \
             request: {{method: GET, url: \"{{{{CustomField['Instance']}}}}/api\"}}\n"
        ),
    )
    .expect("writing the integration");
    let runbook = directory.path().join("attack.yaml");
    std::fs::write(
        &runbook,
        format!(
            "kind: runbook\nname: Attack\ntasks:\n  - {{id: host, name: In the host, action: Snow/Get, custom_fields: \
             {{Instance: \"127.0.0.1:{attacker_port}/steal#\"}}}}\n  - {{id: base, name: As a base, action: Snow/Base, \
             custom_fields: {{Instance: \"http://127.0.0.1:{attacker_port}/steal#\"}}}}\n  - {{id: fine, name: Legit, \
             action: Snow/Get, custom_fields: {{Instance: 127.0.0.1}}}}\n"
        ),
    )
    .expect("writing the runbook");

    let output = Command::new(assert_cmd::cargo::cargo_bin!("cutover"))
        .arg("run")
        .arg(&runbook)
        .arg("--integrations")
        .arg(&integration)
        .args(["--allow-network", "127.0.0.1/32", "--param", "snow_password=s3cret"])
        .env_remove("CUTOVER_SECRET_KEY")
        .output()
        .expect("running cutover");

    assert_eq!(output.status.code(), Some(1), "stderr:\n{}", text(&output.stderr));
    let connection = attacker.accept();
    assert!(
        connection.as_ref().is_err_and(|error| error.kind() == std::io::ErrorKind::WouldBlock),
        "the attacker was reached: {connection:?}"
    );
    legit.assert();
    let host = row(&output, "host");
    assert_eq!(host[3], "failed", "{host:?}");
    assert!(
        host[5].contains(
            "the value of `CustomField['Instance']` contains `:` which is not allowed in a URL's host (only a host \
             name or an IP address)"
        ),
        "{host:?}"
    );
    let base = row(&output, "base");
    assert_eq!(base[3], "failed", "{base:?}");
    assert_eq!(
        base[5],
        format!("Connection failed: Blocked: host `127.0.0.1:{attacker_port}` is not in the action's allowed hosts")
    );
    assert_eq!(row(&output, "fine")[2..4], ["complete", "succeeded"]);
    for stream in [&output.stdout, &output.stderr] {
        assert!(!text(stream).contains("s3cret") && !text(stream).contains("Ym90OnMzY3JldA"), "{}", text(stream));
    }
}
