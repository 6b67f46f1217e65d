//! `cutover schema`: prints the JSON Schema of definition files (generated from the model's types), for editors and
//! CI systems.

use clap::Args;
use std::process::ExitCode;

pub(crate) const EXAMPLES: &str = "\
Examples:
  cutover schema > definition.schema.json
  cutover schema --compact | jq '.oneOf | length'

In a YAML definition file, point your editor at it with a first line such as
  # yaml-language-server: $schema=./definition.schema.json
or at a server's copy: http://127.0.0.1:8080/api/v1/schema/definition.json";

/// Arguments of `cutover schema`.
#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {
    /// One line instead of indented JSON.
    #[arg(long)]
    compact: bool,
}

/// Prints the schema on stdout.
pub(crate) fn run(args: &SchemaArgs) -> ExitCode {
    let schema = cutover_integrations_model::definition_schema();
    let text =
        if args.compact { schema.to_string() } else { serde_json::to_string_pretty(&schema).unwrap_or_default() };
    crate::terminal::out_raw(&format!("{text}\n"));
    ExitCode::SUCCESS
}
