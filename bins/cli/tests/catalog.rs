//! `cutover catalog` as users run it: every entry written with `add` passes `cutover validate`; secrets are refused
//! in files; `list` and `show` describe the entries.

use assert_cmd::cargo::cargo_bin_cmd;
use cutover_integrations_catalog::{SettingKind, entries};

fn run(args: &[&str]) -> std::process::Output {
    cargo_bin_cmd!("cutover").args(args).output().expect("running cutover")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_entry_added_with_its_settings_passes_validate() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    for entry in entries() {
        let path = directory.path().join(format!("{}.yaml", entry.name));
        let path_text = path.display().to_string();
        let mut args =
            vec!["catalog".to_owned(), "add".to_owned(), entry.name.to_owned(), "-o".to_owned(), path_text.clone()];
        let mut values = Vec::new();
        for setting in entry.settings.iter().filter(|setting| !setting.kind.is_secret()) {
            let value = match setting.kind {
                SettingKind::Url => format!("https://{}.example.test", setting.key.replace('_', "-")),
                _ => format!("value-{}", setting.key),
            };
            args.extend(["--set".to_owned(), format!("{}={value}", setting.key)]);
            values.push(value);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let added = run(&args);
        assert_eq!(added.status.code(), Some(0), "{}: {}", entry.name, text(&added.stderr));
        let written = std::fs::read_to_string(&path).expect("the file is written");
        for value in &values {
            assert!(written.contains(value.as_str()), "{}: {value} is in the file", entry.name);
        }
        assert!(written.contains("type: predefined"), "{}", entry.name);
        for setting in entry.settings.iter().filter(|setting| setting.kind.is_secret()) {
            assert!(text(&added.stdout).contains("--secret"), "{}: says how to set {}", entry.name, setting.key);
        }
        let validated = run(&["validate", &path_text]);
        assert_eq!(validated.status.code(), Some(0), "{}: {}", entry.name, text(&validated.stderr));

        // The file exists now: a second add refuses to replace it.
        let again = run(&args);
        assert_eq!(again.status.code(), Some(1));
        assert!(text(&again.stderr).contains("--force"), "{}", text(&again.stderr));
    }
}

#[test]
fn a_secret_is_never_written_into_a_file() {
    let added = run(&["catalog", "add", "pagerduty", "--set", "routing_key=R0UT1NG-SECRET", "-o", "-"]);
    assert_eq!(added.status.code(), Some(1));
    let stderr = text(&added.stderr);
    assert_eq!(
        stderr.trim(),
        "error: setting `routing_key` is a secret and is not written into definition files; store it as the secret \
         system parameter `pagerduty_routing_key` (`cutover system-parameter set pagerduty_routing_key --secret`)"
    );
    assert!(!stderr.contains("R0UT1NG-SECRET") && added.stdout.is_empty());
}

#[test]
fn list_and_show_describe_the_entries() {
    let listed = run(&["catalog", "list"]);
    assert_eq!(listed.status.code(), Some(0));
    for entry in entries() {
        assert!(text(&listed.stdout).contains(entry.name), "{}", entry.name);
    }
    let shown = run(&["catalog", "show", "jira-cloud"]);
    assert_eq!(shown.status.code(), Some(0));
    let shown = text(&shown.stdout);
    for expected in [
        "Create an issue: POST https://your-domain.atlassian.net/rest/api/3/issue (sync)",
        "Jira Issue Key (text)",
        "api_token (secret: system parameter `jira_cloud_api_token`, required)",
        "site_url (required): Your Jira Cloud site",
    ] {
        assert!(shown.contains(expected), "`{expected}` in:\n{shown}");
    }
    let unknown = run(&["catalog", "show", "jira"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).starts_with("error: no catalog entry `jira`"), "{}", text(&unknown.stderr));
}
