//! `cutover catalog list|show NAME|add NAME --set KEY=VALUE…`: the predefined integrations shipped with the engine,
//! and a definition file written from one of them with the admin's settings (secrets stay in system parameters).

use crate::table;
use crate::terminal::{complain, say};
use clap::{Args, Subcommand};
use cutover_integrations_catalog::{Entry, InstallTarget, entries, entry, parameter_name};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

pub(crate) const EXAMPLES: &str = "Examples:
  cutover catalog list
  cutover catalog show jira-cloud
  cutover catalog add jira-cloud --set site_url=https://acme.atlassian.net --set email=ops@acme.example
  cutover validate jira-cloud.yaml && cutover apply jira-cloud.yaml
  printf '%s' \"$JIRA_TOKEN\" | cutover system-parameter set jira_cloud_api_token --secret";

/// Catalog commands.
#[derive(Debug, Subcommand)]
pub(crate) enum CatalogCommand {
    /// List the entries.
    #[command(after_help = "Examples:\n  cutover catalog list")]
    List,
    /// Show an entry: its actions, custom fields and settings.
    #[command(after_help = "Examples:\n  cutover catalog show jira-cloud\n  cutover catalog show slack")]
    Show {
        /// The entry's name (`cutover catalog list`).
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Write a definition file from an entry with your settings; secret settings are set as system parameters.
    #[command(
        after_help = "Examples:\n  cutover catalog add jira-cloud --set site_url=https://acme.atlassian.net \\\n    --set email=ops@acme.example\n  cutover catalog add pagerduty --output - > pagerduty.yaml"
    )]
    Add(AddArgs),
}

/// Arguments of `cutover catalog add`.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The entry's name.
    #[arg(value_name = "NAME")]
    name: String,
    /// A setting, `KEY=VALUE` (repeatable); `cutover catalog show NAME` lists them.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    /// The integration's name (the entry's own by default); secret system parameters are named after it.
    #[arg(long = "integration-name", value_name = "NAME")]
    integration_name: Option<String>,
    /// Where to write the file (`NAME.yaml` by default); `-` writes to standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace the file if it exists.
    #[arg(long)]
    force: bool,
}

/// Runs a catalog command.
pub(crate) fn run(command: &CatalogCommand) -> ExitCode {
    match command {
        CatalogCommand::List => {
            let rows: Vec<Vec<String>> = entries()
                .iter()
                .map(|entry| vec![entry.name.to_owned(), entry.title.to_owned(), entry.summary.to_owned()])
                .collect();
            crate::terminal::out(&table::render(&["NAME", "INTEGRATION", "WHAT IT DOES"], &rows));
            ExitCode::SUCCESS
        }
        CatalogCommand::Show { name } => match entry(name) {
            Ok(entry) => {
                crate::terminal::out(&describe(entry));
                ExitCode::SUCCESS
            }
            Err(error) => {
                complain!("error: {error}");
                ExitCode::FAILURE
            }
        },
        CatalogCommand::Add(args) => add(args),
    }
}

fn describe(entry: &Entry) -> String {
    let integration = entry.integration();
    let mut text = format!("{} ({}): {}\nFile: {}\n\nActions:\n", entry.title, entry.name, entry.summary, entry.file);
    for action in &integration.actions {
        let Some(request) = &action.request else { continue };
        let mode = serde_json::to_value(request.execution_mode).unwrap_or_default();
        text.push_str(&format!(
            "  {}: {} {} ({})\n",
            action.name,
            request.method.as_str(),
            request.url,
            mode.as_str().unwrap_or_default()
        ));
    }
    text.push_str("\nCustom fields:\n");
    for field in &integration.custom_fields {
        let required = if field.required { ", required" } else { "" };
        let kind = serde_json::to_value(field.field_type).unwrap_or_default();
        text.push_str(&format!("  {} ({}{required})\n", field.name, kind.as_str().unwrap_or_default()));
    }
    text.push_str("\nSettings (--set KEY=VALUE):\n");
    for setting in entry.settings {
        let mut notes = Vec::new();
        if setting.kind.is_secret() {
            notes.push(format!("secret: system parameter `{}`", parameter_name(entry.title, setting.key)));
        }
        if let Some(default) = setting.default {
            notes.push(format!("default {default}"));
        } else if setting.optional {
            notes.push("optional".to_owned());
        } else {
            notes.push("required".to_owned());
        }
        text.push_str(&format!("  {} ({}): {}\n", setting.key, notes.join(", "), setting.description));
    }
    text
}

fn add(args: &AddArgs) -> ExitCode {
    let fail = |message: String| {
        complain!("error: {message}");
        ExitCode::FAILURE
    };
    let entry = match entry(&args.name) {
        Ok(entry) => entry,
        Err(error) => return fail(error.to_string()),
    };
    let mut settings = BTreeMap::new();
    for pair in &args.settings {
        let Some((key, value)) = pair.split_once('=') else {
            return fail(format!("`--set {pair}` is not KEY=VALUE"));
        };
        settings.insert(key.trim().to_owned(), value.to_owned());
    }
    let installation = match entry.install(args.integration_name.as_deref(), &settings, InstallTarget::File) {
        Ok(installation) => installation,
        Err(error) => return fail(error.to_string()),
    };
    let text = installation.to_yaml();
    let path = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{}.yaml", entry.name)));
    if path.as_os_str() == "-" {
        crate::terminal::out_raw(&text);
        return ExitCode::SUCCESS;
    }
    let opened = if args.force {
        std::fs::File::create(&path)
    } else {
        std::fs::OpenOptions::new().write(true).create_new(true).open(&path)
    };
    let written = opened.and_then(|mut file| file.write_all(text.as_bytes()));
    if let Err(error) = written {
        let hint = if error.kind() == std::io::ErrorKind::AlreadyExists { " (use --force to replace it)" } else { "" };
        return fail(format!("cannot write {}: {error}{hint}", path.display()));
    }
    say!(
        "wrote {} (integration `{}`); check it with `cutover validate {}`",
        path.display(),
        installation.integration.name,
        path.display()
    );
    for (parameter, setting) in &installation.unset_parameters {
        say!(
            "set the secret system parameter `{parameter}` ({}): cutover system-parameter set {parameter} --secret",
            setting.label
        );
    }
    ExitCode::SUCCESS
}
