//! `cutover validate FILE...`: reads definition files together and prints every error as `FILE:LINE:COL: PATH: message`,
//! or with `--format json` one JSON document on stdout for editors and CI systems.

use crate::terminal::{complain, say};
use clap::{Args, ValueEnum};
use cutover_integrations_model::{Diagnostic, SourceFile, Validator};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `cutover validate`.
#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Definition files; `.json` files are read as JSON, others as YAML. Runbooks are checked against the
    /// integrations given with them.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// `text`: one `FILE:LINE:COL: PATH: message` line per problem on stderr. `json`: one document on stdout,
    /// `{"valid": BOOL, "definitions": N, "problems": [{"file", "line", "column", "path", "message"}]}` (a file that
    /// cannot be read has `line`, `column` and `path` null).
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// How problems are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Validates the files; exit 0 when all are valid together, 1 otherwise, with one error per line on stderr.
pub(crate) fn run(args: &ValidateArgs) -> ExitCode {
    // The template engine's checker (syntax, and JSON places rendered with sample values); swap it here.
    let checker = cutover_integrations_template::Checker;
    let validator = Validator::with_checker(&checker);

    let mut unreadable = Vec::new();
    let mut contents = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => contents.push((name, text)),
            Err(error) => unreadable.push((name, format!("cannot read: {error}"))),
        }
    }
    let sources: Vec<SourceFile<'_>> = contents.iter().map(|(name, text)| SourceFile::new(name, text)).collect();
    let (definitions, diagnostics) = match validator.validate(&sources) {
        Ok(set) => (set.definitions().len(), Vec::new()),
        Err(diagnostics) => (0, diagnostics),
    };
    let valid = unreadable.is_empty() && diagnostics.is_empty();
    match args.format {
        Format::Text => {
            for (name, message) in &unreadable {
                complain!("{name}: {message}");
            }
            for diagnostic in &diagnostics {
                complain!("{diagnostic}");
            }
            if valid {
                say!("{definitions} definition(s) valid");
            }
        }
        Format::Json => {
            let problems: Vec<Value> = unreadable
                .iter()
                .map(|(name, message)| json!({"file": name, "line": null, "column": null, "path": null, "message": message}))
                .chain(diagnostics.iter().map(problem))
                .collect();
            let document = json!({"valid": valid, "definitions": definitions, "problems": problems});
            crate::terminal::out_raw(&format!("{document}\n"));
        }
    }
    if valid { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn problem(diagnostic: &Diagnostic) -> Value {
    json!({
        "file": diagnostic.file,
        "line": diagnostic.line,
        "column": diagnostic.column,
        "path": diagnostic.path,
        "message": diagnostic.message,
    })
}
