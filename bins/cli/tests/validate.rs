//! `cutover validate` as users run it: the built binary, real files, exit codes and stderr lines.

use assert_cmd::cargo::cargo_bin_cmd;
use std::path::{Path, PathBuf};

fn examples() -> Vec<PathBuf> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
        .expect("the examples directory")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "yaml"))
        .collect();
    files.sort();
    files
}

/// Writes `text` to `name` in a fresh directory and returns the directory (kept alive by the caller) and the path.
fn write(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join(name);
    std::fs::write(&path, text).expect("writing the definition");
    (directory, path)
}

fn stderr_lines(output: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr).lines().map(str::to_owned).collect()
}

#[test]
fn the_examples_are_valid() {
    let files = examples();
    assert!(files.len() >= 3, "slack, webhook and release examples: {files:?}");
    let output = cargo_bin_cmd!("cutover").arg("validate").args(&files).output().expect("running cutover");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    assert!(output.stderr.is_empty());
}

#[test]
fn three_mistakes_give_three_positioned_lines_and_exit_1() {
    let (_directory, path) = write(
        "broken.yaml",
        "kind: integration\nname: Broken\nactions:\n  - name: Post\n    trigger: task_begin\n    request:\n      method: POST\n      urll: https://x\n  - name: Post\n    request: {method: GET, url: https://y}\n",
    );
    let output = cargo_bin_cmd!("cutover").arg("validate").arg(&path).output().expect("running cutover");
    assert_eq!(output.status.code(), Some(1));
    let file = path.display().to_string();
    assert_eq!(
        stderr_lines(&output),
        vec![
            format!(
                "{file}:5:14: actions[0].trigger: unknown value `task_begin`; expected one of `task_start`, `runbook_update`"
            ),
            format!("{file}:8:7: actions[0].request.urll: unknown key `urll`; did you mean `url`?"),
            format!("{file}:9:11: actions[1].name: duplicate action name `Post` (first at 4:11)"),
        ]
    );
}

#[test]
fn the_slack_guide_payload_is_rejected_at_its_position() {
    // The seed's payload ends in `}}}` without closing the JSON string: the template checker must catch it.
    let (_directory, path) = write(
        "slack.yaml",
        "kind: integration\nname: Slack\ncustom_fields:\n  - {name: Slack Channel, type: text}\n  - {name: Slack Message, type: textarea}\nactions:\n  - name: Post to a channel\n    request:\n      method: POST\n      url: https://slack.com/api/chat.postMessage\n      payload: '{\"channel\":\"{{CustomField[''Slack Channel'']}}\",\"text\":\"{{CustomField[''Slack Message'']}}}'\n",
    );
    let output = cargo_bin_cmd!("cutover").arg("validate").arg(&path).output().expect("running cutover");
    assert_eq!(output.status.code(), Some(1));
    let lines = stderr_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let prefix = format!("{}:11:107: actions[0].request.payload: ", path.display());
    assert!(lines[0].starts_with(&prefix), "{lines:?}");
}

#[test]
fn runbooks_are_checked_against_the_integrations_given_with_them() {
    let (_directory, path) = write(
        "runbook.json",
        r#"{"kind": "runbook", "name": "R", "tasks": [{"id": "a", "name": "A", "action": "Slack/Post to a chanel"}]}"#,
    );
    let mut files = examples().into_iter().filter(|file| file.ends_with("slack.yaml")).collect::<Vec<_>>();
    files.push(path.clone());
    let output = cargo_bin_cmd!("cutover").arg("validate").args(&files).output().expect("running cutover");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr_lines(&output),
        vec![format!(
            "{}:1:79: tasks[0].action: integration `Slack` has no action `Post to a chanel`; its actions are `Post to a channel`",
            path.display()
        )]
    );
}

#[test]
fn unreadable_files_fail_and_usage_errors_exit_2() {
    let output = cargo_bin_cmd!("cutover").args(["validate", "no/such/file.yaml"]).output().expect("running cutover");
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr_lines(&output)[0].starts_with("no/such/file.yaml: cannot read:"), "{output:?}");

    let output = cargo_bin_cmd!("cutover").arg("validate").output().expect("running cutover");
    assert_eq!(output.status.code(), Some(2));
    let output =
        cargo_bin_cmd!("cutover").args(["validate", "--frobnicate", "x.yaml"]).output().expect("running cutover");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn json_format_gives_one_object_per_problem() {
    let (directory, path) = write(
        "broken.yaml",
        "kind: integration\nname: Broken\nactions:\n  - name: Post\n    trigger: task_begin\n    request:\n      method: POST\n      urll: https://x\n",
    );
    let missing = directory.path().join("missing.yaml");
    let output = cargo_bin_cmd!("cutover")
        .args(["validate", "--format", "json"])
        .arg(&path)
        .arg(&missing)
        .output()
        .expect("running cutover");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON document");
    let file = path.display().to_string();
    let problems = document["problems"].as_array().expect("problems");
    assert_eq!(document["valid"], false);
    assert_eq!(problems.len(), 3, "{document}");
    assert_eq!(problems[0]["file"], missing.display().to_string());
    assert_eq!((problems[0]["line"].is_null(), problems[0]["path"].is_null()), (true, true));
    let positioned: Vec<(String, u64, u64, String)> = problems[1..]
        .iter()
        .map(|problem| {
            let text = |key: &str| problem[key].as_str().expect("a string").to_owned();
            let number = |key: &str| problem[key].as_u64().expect("a number");
            (text("file"), number("line"), number("column"), text("path"))
        })
        .collect();
    assert_eq!(
        positioned,
        vec![
            (file.clone(), 5, 14, "actions[0].trigger".to_owned()),
            (file.clone(), 8, 7, "actions[0].request.urll".to_owned()),
        ]
    );
    assert!(problems[2]["message"].as_str().is_some_and(|message| message.contains("did you mean `url`?")));

    let valid = cargo_bin_cmd!("cutover")
        .args(["validate", "--format", "json"])
        .args(examples())
        .output()
        .expect("running cutover");
    assert_eq!(valid.status.code(), Some(0));
    let document: serde_json::Value = serde_json::from_slice(&valid.stdout).expect("one JSON document");
    assert_eq!((document["valid"].as_bool(), document["problems"].as_array().map(Vec::len)), (Some(true), Some(0)));
    assert_eq!(document["definitions"].as_u64(), Some(examples().len() as u64));
}

#[test]
fn deep_nesting_is_a_positioned_error_not_a_crash() {
    // 1,500 nested block sequences used to overflow the stack (exit 134).
    let (_directory, path) = write("deep.yaml", &format!("{}x\n", "- ".repeat(1_500)));
    let output = cargo_bin_cmd!("cutover").arg("validate").arg(&path).output().expect("running cutover");
    assert_eq!(output.status.code(), Some(1), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    let file = path.display().to_string();
    assert_eq!(stderr_lines(&output), [format!("{file}:1:129: $: lists and mappings nest more than 64 levels deep")]);

    // So did 200 nested `{{#if}}` blocks in a payload (here a leaf of the structured payload).
    let slack = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/slack.yaml"))
        .expect("the slack example");
    let leaf_line = slack.lines().find(|line| line.trim_start().starts_with("text: ")).expect("a payload leaf");
    let ifs = format!("{}{{\"a\": 1}}{}", "{{#if Task.name}}".repeat(200), "{{/if}}".repeat(200));
    let definition = slack.replace(leaf_line, &format!("        text: '{ifs}'"));
    let (_directory, path) = write("deep-template.yaml", &definition);
    let output = cargo_bin_cmd!("cutover").arg("validate").arg(&path).output().expect("running cutover");
    assert_eq!(output.status.code(), Some(1), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    let offset = definition.match_indices("{{#if").nth(32).expect("a 33rd block").0;
    let line = definition[..offset].matches('\n').count() + 1;
    let column = offset - definition[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
    let file = path.display().to_string();
    assert_eq!(
        stderr_lines(&output),
        [format!("{file}:{line}:{column}: actions[0].request.payload.text: blocks nest more than 32 levels deep")]
    );
}

#[test]
fn json_with_surrogate_pair_escapes_is_valid() {
    // As Python's `json.dumps` writes "Party 🎉".
    let (_directory, path) = write(
        "party.json",
        r#"{"kind": "integration", "name": "Party \ud83c\udf89", "actions": [{"name": "Ping", "request": {"method": "POST", "url": "https://x.test/", "payload": "{\"t\": \"\ud83c\udf89 {{Task.nope | default: 1}}\"}"}}]}"#,
    );
    let output = cargo_bin_cmd!("cutover").arg("validate").arg(&path).output().expect("running cutover");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn hostile_urls_are_refused_at_their_position() {
    let text = "kind: integration\nname: Snow\ncustom_fields:\n  - {name: Instance, type: text}\nactions:\n  - name: Create\n    auth: {type: basic, username: bot, password: pw}\n    request: {method: POST, url: \"https://{{CustomField['Instance']}}.service-now.com/api\"}\n  - name: Read\n    request: {method: GET, url: \"file:///etc/passwd\"}\n  - name: Nul\n    request: {method: GET, url: \"https://x.test/\\0\"}\n";
    let (_directory, path) = write("snow.yaml", text);
    let output = cargo_bin_cmd!("cutover").arg("validate").arg(&path).output().expect("running cutover");
    assert_eq!(output.status.code(), Some(1));
    let file = path.display().to_string();
    assert_eq!(
        stderr_lines(&output),
        vec![
            format!(
                "{file}:8:45: actions[0].request.url: the URL's host reads `CustomField['Instance']`, which operators can \
             change: list the hosts it may take in the action's `allowed_hosts` (host names or `*.suffix`)"
            ),
            format!(
                "{file}:10:34: actions[1].request.url: only `http` and `https` URLs can be sent; this one is `file`"
            ),
            format!(
                "{file}:12:33: actions[2].request.url: a NUL character (`\\0`, `\\u0000`) is not allowed: names and values \
             are stored as text"
            ),
        ]
    );
    let listed = text.replace("  - name: Create\n", "  - name: Create\n    allowed_hosts: [\"*.service-now.com\"]\n");
    let listed = listed.split("  - name: Read").next().unwrap_or_default().to_owned();
    let (_directory, path) = write("snow.yaml", &listed);
    let output = cargo_bin_cmd!("cutover").arg("validate").arg(&path).output().expect("running cutover");
    assert_eq!(output.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn schema_prints_the_json_schema_of_definition_files() {
    let output = cargo_bin_cmd!("cutover").arg("schema").output().expect("running cutover");
    assert_eq!(output.status.code(), Some(0));
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(printed, cutover_integrations_model::definition_schema());
}
