//! The README's quick start as a new user runs it: `cutover sink` in the background, `cutover run` on the
//! quickstart examples against it; plus shell completions and `--help`, from the built binary.

use assert_cmd::cargo::cargo_bin_cmd;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const SECRET: &str = "quickstart-s3cret-9f86d081";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// A `cutover sink` child process on a free loopback port; killed when dropped.
struct Sink {
    child: Child,
    port: u16,
}

impl Sink {
    fn start() -> Self {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin!("cutover"))
            .args(["sink", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting cutover sink");
        let mut first = String::new();
        let stdout = child.stdout.as_mut().expect("the sink's stdout");
        BufReader::new(stdout).read_line(&mut first).expect("the sink's first line");
        let port = first
            .trim()
            .strip_prefix("listening on http://127.0.0.1:")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {first:?}"));
        Self { child, port }
    }

    /// Stops the sink and returns everything it printed after its first line.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut rest = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            let _ = stdout.read_to_string(&mut rest);
        }
        rest
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_quick_start_fires_against_the_local_sink() {
    let sink = Sink::start();
    // The examples target the sink's default port; this test's sink listens on a free one instead.
    let directory = tempfile::tempdir().expect("a temporary directory");
    let mut copies = Vec::new();
    for name in ["quickstart-runbook.yaml", "quickstart-integration.yaml"] {
        let text = std::fs::read_to_string(examples().join(name)).expect("the example");
        assert!(text.contains("127.0.0.1:8787") || name.contains("runbook"), "{name} targets the sink's default port");
        let copy = directory.path().join(name);
        std::fs::write(&copy, text.replace("127.0.0.1:8787", &format!("127.0.0.1:{}", sink.port))).expect("a copy");
        copies.push(copy);
    }
    let output = cargo_bin_cmd!("cutover")
        .arg("run")
        .arg(&copies[0])
        .arg("--integrations")
        .arg(&copies[1])
        .args(["--allow-network", "127.0.0.1/32", "--param"])
        .arg(format!("sink_token={SECRET}"))
        .output()
        .expect("running cutover");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr:\n{}\nstdout:\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("runbook 1: complete (4 of 4 tasks complete"), "{stdout}");
    assert_eq!(stdout.matches(" -> 200 in ").count(), 3, "three requests answered 200: {stdout}");
    assert!(!stdout.contains(SECRET), "{stdout}");

    let received = sink.stop();
    let requests: Vec<&str> = received.lines().filter(|line| line.starts_with("POST ")).collect();
    assert_eq!(requests, ["POST /messages", "POST /tickets", "POST /messages"], "{received}");
    assert!(received.contains("authorization: Bearer [REDACTED]"), "the sink hides credentials: {received}");
    assert!(received.contains(r#""text":"The quick start begins""#), "{received}");
    assert!(!received.contains(SECRET), "{received}");
}

#[test]
fn the_readme_quick_start_uses_the_examples_that_exist() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).expect("README");
    for needle in [
        "cutover sink",
        "cutover run examples/quickstart-runbook.yaml --integrations examples/quickstart-integration.yaml",
        "--allow-network 127.0.0.1/32",
    ] {
        assert!(readme.contains(needle), "the README's quick start shows `{needle}`");
    }
    assert!(
        examples().join("quickstart-runbook.yaml").exists() && examples().join("quickstart-integration.yaml").exists()
    );
}

#[test]
fn completion_scripts_know_every_command() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = cargo_bin_cmd!("cutover").args(["completions", shell]).output().expect("running cutover");
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&output.stdout);
        for word in ["cutover", "validate", "run", "sink", "refire", "allow-network"] {
            assert!(script.contains(word), "the {shell} script completes `{word}`");
        }
    }
}

#[test]
fn help_shows_examples_and_exits_0() {
    let cases: &[&[&str]] = &[&["--help"], &["run", "--help"], &["task", "refire", "--help"], &["sink", "--help"]];
    for args in cases {
        let output = cargo_bin_cmd!("cutover").args(*args).output().expect("running cutover");
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("Examples:\n  "), "{args:?}");
    }
}
