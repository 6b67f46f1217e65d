//! `cutover apply FILE...`: sends definition files to a server. Integrations go to `POST /definitions` (created or
//! updated), runbooks to `POST /runbooks` (created); integrations first, so runbooks may use them.

use crate::client::{Client, ClientError, Output, print_json};
use clap::Args;
use cutover_integrations_model::{Definition, DefinitionFormat, SourceFile, Validator};
use serde_json::{Value, json};
use std::path::PathBuf;

pub(crate) const EXAMPLES: &str = "\
Examples:
  cutover --server http://127.0.0.1:8080 --token $TOKEN apply examples/webhook.yaml examples/release.yaml
  CUTOVER_SERVER=http://127.0.0.1:8080 CUTOVER_TOKEN=$TOKEN cutover apply --json examples/*.yaml";

/// Arguments of `cutover apply`.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// Definition files (integrations and runbooks); `.json` files are sent as JSON, others as YAML.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    output: Output,
}

struct Prepared {
    name: String,
    text: String,
    format: DefinitionFormat,
    runbook: bool,
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
                prepared.push(Prepared { format: DefinitionFormat::from_path(path), name, text, runbook });
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
        let response = client.post_text(&[route], content_type, file.text).await.map_err(|error| match error {
            ClientError::Api { status, code, message, details } => {
                ClientError::Api { status, code, message: format!("{}: {message}", file.name), details }
            }
            other => other,
        })?;
        if !args.output.json {
            println!("{}: {}", file.name, summary(file.runbook, &response));
        }
        results.push(json!({"file": file.name, "kind": if file.runbook { "runbook" } else { "integration" }, "result": response}));
    }
    if args.output.json {
        print_json(&Value::Array(results));
    }
    Ok(())
}

/// One line saying what the server did with a file.
fn summary(runbook: bool, response: &Value) -> String {
    let field = |names: &[&str]| crate::client::field(response, names);
    if runbook {
        let (id, name) = (field(&["id"]), field(&["name"]));
        return format!("runbook {id} `{name}` created");
    }
    let name = field(&["name", "integration"]);
    let change = field(&["change", "status", "action"]);
    match (name.is_empty(), change.is_empty()) {
        (false, false) => format!("integration `{name}` {change}"),
        (false, true) => format!("integration `{name}` applied"),
        _ => "applied".to_owned(),
    }
}
