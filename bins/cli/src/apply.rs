//! `cutover apply FILE...`: sends definition files to a server, each named by `?file=` so the server's errors name it.
//! Integrations go to `POST /definitions` (created or updated), runbooks to `POST /runbooks?existing=reuse` (created,
//! or found unchanged when the same definition was applied before; `--new` always creates); integrations first, so
//! runbooks may use them.

use crate::client::{Client, ClientError, Output, field, print_json};
use crate::terminal::say;
use clap::Args;
use cutover_integrations_model::{Definition, DefinitionFormat, SourceFile, Validator};
use serde_json::{Value, json};
use std::path::PathBuf;

pub(crate) const EXAMPLES: &str = "\
Examples:
  cutover --server http://127.0.0.1:8080 --token $TOKEN apply examples/webhook.yaml examples/release.yaml
  CUTOVER_SERVER=http://127.0.0.1:8080 CUTOVER_TOKEN=$TOKEN cutover apply --json examples/*.yaml
  cutover apply --new examples/release.yaml   # a second runbook from the same file";

/// Arguments of `cutover apply`.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// Definition files (integrations and runbooks); `.json` files are sent as JSON, others as YAML.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// Create a new runbook for each runbook file even when the same definition was applied before (by default a
    /// runbook of the same name and workspace with the same definition is reused, and one with a different
    /// definition is refused).
    #[arg(long)]
    new: bool,
    #[command(flatten)]
    output: Output,
}

struct Prepared {
    name: String,
    text: String,
    format: DefinitionFormat,
    runbook: bool,
    /// The integration's or runbook's name, for the summary line.
    title: String,
}

/// Reads and classifies every file, then sends integrations, then runbooks; stops at the first refusal.
pub(crate) async fn run(client: Client, args: &ApplyArgs) -> Result<(), ClientError> {
    let mut prepared = Vec::new();
    let mut problems = Vec::new();
    for path in &args.files {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                problems.push(format!("{name}: cannot read: {error}"));
                continue;
            }
        };
        match Validator::new().parse(&SourceFile::new(&name, &text)) {
            Ok(parsed) => {
                let runbook = matches!(parsed.definition(), Definition::Runbook(_));
                let title = parsed.definition().name().to_owned();
                prepared.push(Prepared { format: DefinitionFormat::from_path(path), name, text, runbook, title });
            }
            Err(diagnostics) => problems.extend(diagnostics.iter().map(ToString::to_string)),
        }
    }
    if !problems.is_empty() {
        return Err(ClientError::Invalid(problems));
    }
    prepared.sort_by_key(|file| file.runbook);
    let mut results = Vec::new();
    for file in prepared {
        let content_type = match file.format {
            DefinitionFormat::Json => "application/json",
            DefinitionFormat::Yaml => "application/yaml",
        };
        let route = if file.runbook { "runbooks" } else { "definitions" };
        let existing = if args.new { "new" } else { "reuse" };
        let mut query = vec![("file", file.name.as_str())];
        if file.runbook {
            query.push(("existing", existing));
        }
        let answer =
            client.post_text(&[route], &query, content_type, file.text).await.map_err(|error| match error {
                ClientError::Api { status, code, message, details } => {
                    ClientError::Api { status, code, message: format!("{}: {message}", file.name), details }
                }
                other => other,
            })?;
        let created = answer.status == 201;
        let response = answer.body;
        if !args.output.json {
            say!("{}: {}", file.name, summary(file.runbook, created, &file.title, &response));
        }
        let kind = match (file.runbook, response.get("event_integrations").is_some()) {
            (true, _) => "runbook",
            (false, true) => "event_integration",
            (false, false) => "integration",
        };
        let mut entry = json!({"file": file.name, "kind": kind, "result": response});
        if file.runbook {
            entry["created"] = json!(created);
        }
        results.push(entry);
    }
    if args.output.json {
        print_json(&Value::Array(results));
    }
    Ok(())
}

/// One line saying what the server did with a file: the runbook it created, or the integration it created or
/// updated with the actions it created and updated.
fn summary(runbook: bool, created: bool, title: &str, response: &Value) -> String {
    if runbook {
        let verb = if created { "created" } else { "unchanged (applied before)" };
        return format!("runbook {} `{title}` {verb}", field(response, &["id"]));
    }
    if let Some(id) = response["event_integrations"].as_array().and_then(|applied| applied.first()) {
        return format!("event integration {id} `{title}` applied");
    }
    let Some(applied) = response["integrations"].as_array().and_then(|applied| applied.first()) else {
        return format!("integration `{title}` applied");
    };
    let verb = if applied["created"].as_bool() == Some(true) { "created" } else { "updated" };
    let names = |key: &str| {
        applied[key].as_array().map(|names| names.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
    };
    let mut line = format!("integration {} `{title}` {verb}", field(applied, &["integration_id"]));
    for (key, label) in [("actions_created", "actions created"), ("actions_updated", "actions updated")] {
        if let Some(names) = names(key).filter(|names| !names.is_empty()) {
            line.push_str(&format!("; {label}: {names}"));
        }
    }
    line
}
