//! The server's configuration from its environment: the engine's cache limits are read from
//! `CUTOVER_MAX_CACHED_RUNBOOKS` and `CUTOVER_MAX_CACHED_ACTIONS` (documented in `--help`), and a bad value stops the
//! server before it opens anything, with an error naming the setting.

use std::process::{Command, Output};

fn server(env: &[(&str, &str)], args: &[&str], data_dir: &std::path::Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cutover-server"));
    command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command.args(["--listen", "127.0.0.1:0", "--data-dir"]).arg(data_dir).args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run cutover-server")
}

#[test]
fn help_documents_the_cache_limits_and_their_variables() {
    let data = tempfile::tempdir().expect("temporary directory");
    let output = server(&[], &["--help"], data.path());
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for expected in
        ["--max-cached-runbooks", "CUTOVER_MAX_CACHED_RUNBOOKS", "--max-cached-actions", "CUTOVER_MAX_CACHED_ACTIONS"]
    {
        assert!(help.contains(expected), "--help names {expected}: {help}");
    }
}

/// A cache limit that does not parse, or is out of range, is refused at start with the flag and the value named, and
/// nothing is created in the data directory.
#[test]
fn a_bad_cache_limit_stops_the_server_with_an_error_naming_it() {
    fn check(variable: &str, value: &str, flag: &str, reason: &str) {
        let data = tempfile::tempdir().expect("temporary directory");
        let output = server(&[(variable, value)], &[], &data.path().join("data"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{variable}={value}: {stderr}");
        assert!(stderr.contains(&format!("invalid value '{value}' for '{flag}")), "{variable}={value}: {stderr}");
        assert!(stderr.contains(reason), "{variable}={value}: {stderr}");
        assert!(!data.path().join("data").exists(), "{variable}={value}: nothing is created");
    }
    check("CUTOVER_MAX_CACHED_RUNBOOKS", "0", "--max-cached-runbooks", "0 is not in 1..=1000000");
    check("CUTOVER_MAX_CACHED_RUNBOOKS", "many", "--max-cached-runbooks", "invalid digit");
    check("CUTOVER_MAX_CACHED_RUNBOOKS", "-5", "--max-cached-runbooks", "-5 is not in 1..=1000000");
    check("CUTOVER_MAX_CACHED_ACTIONS", "1000001", "--max-cached-actions", "1000001 is not in 1..=1000000");
    check("CUTOVER_MAX_CACHED_ACTIONS", "", "--max-cached-actions", "cannot parse integer from empty string");
}
