//! `cutover validate FILE...`: reads definition files together and prints every error as `FILE:LINE:COL: PATH: message`.

use crate::terminal::{complain, say};
use clap::Args;
use cutover_integrations_model::{SourceFile, Validator};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `cutover validate`.
#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Definition files; `.json` files are read as JSON, others as YAML. Runbooks are checked against the
    /// integrations given with them.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

/// Validates the files; exit 0 when all are valid together, 1 otherwise, with one error per line on stderr.
pub(crate) fn run(args: &ValidateArgs) -> ExitCode {
    // The template engine's checker (syntax, and JSON places rendered with sample values); swap it here.
    let checker = cutover_integrations_template::Checker;
    let validator = Validator::with_checker(&checker);

    let mut unreadable = false;
    let mut contents = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => contents.push((name, text)),
            Err(error) => {
                complain!("{name}: cannot read: {error}");
                unreadable = true;
            }
        }
    }
    let sources: Vec<SourceFile<'_>> = contents.iter().map(|(name, text)| SourceFile::new(name, text)).collect();
    match validator.validate(&sources) {
        Ok(set) if !unreadable => {
            say!("{} definition(s) valid", set.definitions().len());
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::FAILURE,
        Err(diagnostics) => {
            for diagnostic in diagnostics {
                complain!("{diagnostic}");
            }
            ExitCode::FAILURE
        }
    }
}
