//! `cutover`: the command line; clap glue over the library crates and the server API with no domain logic.
//!
//! Each subcommand lives in its own module with its arguments and a `run` function; this file only declares the
//! subcommands and dispatches. Exit codes follow the contract: 0 success, 1 failure, 2 usage error (clap's own).

mod actions_log_text;
mod apply;
mod catalog;
mod client;
mod completions;
mod custom_field;
mod event_integration;
mod progress;
mod render;
mod run;
mod runbook;
mod schema;
mod sink;
mod system_parameter;
mod table;
mod task;
mod terminal;
mod user;
mod validate;

use clap::{CommandFactory, Parser, Subcommand};
use cutover_integrations_core::LogFilter;
use std::process::ExitCode;

/// Validate, render and run runbook custom integrations, and drive a `cutover-server`.
#[derive(Debug, Parser)]
#[command(
    name = "cutover",
    version,
    about,
    after_help = "Examples:\n  \
        cutover validate examples/*.yaml\n  \
        cutover run examples/quickstart-runbook.yaml --integrations examples/quickstart-integration.yaml \\\n      \
        --allow-network 127.0.0.1/32\n  \
        cutover --server http://127.0.0.1:8080 --token $TOKEN runbook list\n\n\
        Exit status: 0 success, 1 failure (invalid input, a task that did not complete, a refused request), \
        2 usage error."
)]
struct Cli {
    /// Options of the commands that talk to a server.
    #[command(flatten)]
    server: client::ServerOptions,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check definition files (integrations and runbooks, YAML or JSON) and report every error.
    #[command(after_help = "Examples:\n  cutover validate examples/*.yaml\n  \
        cutover validate integration.yaml runbook.json   # runbooks are checked against the integrations given")]
    Validate(validate::ValidateArgs),
    /// Print the request an action would send, rendered against a context file, secrets redacted.
    #[command(after_help = "Examples:\n  \
        cutover render examples/slack.yaml --action 'Post to a channel' --context context.json\n  \
        cutover render examples/webhook.yaml --action 'Check health' --context context.json --show-secrets")]
    Render(render::RenderArgs),
    /// Run a runbook in this process on an embedded database: fire its integrations and report every task.
    #[command(after_help = run::EXAMPLES, long_about = run::LONG_ABOUT)]
    Run(run::RunArgs),
    /// Answer HTTP requests on a loopback address with 200 and print them: a local third party to try runbooks on.
    #[command(after_help = sink::EXAMPLES)]
    Sink(sink::SinkArgs),
    /// The catalog of predefined integrations: list, show, and write one as a definition file with your settings.
    #[command(subcommand, after_help = catalog::EXAMPLES)]
    Catalog(catalog::CatalogCommand),
    /// Print the JSON Schema of definition files, for editors and CI.
    #[command(after_help = schema::EXAMPLES)]
    Schema(schema::SchemaArgs),
    /// Print a shell completion script.
    #[command(after_help = completions::EXAMPLES)]
    Completions(completions::CompletionsArgs),
    /// Apply definition files on a server: integrations are created or updated, runbooks created.
    #[command(after_help = apply::EXAMPLES)]
    Apply(apply::ApplyArgs),
    /// List, show and start runbooks on a server.
    #[command(
        subcommand,
        after_help = "Examples:\n  cutover --server http://127.0.0.1:8080 --token $TOKEN runbook list\n  \
                      cutover runbook start 3 --mode rehearsal"
    )]
    Runbook(runbook::RunbookCommand),
    /// List tasks of a runbook on a server, act on one, and print its actions log.
    #[command(
        subcommand,
        after_help = "Examples:\n  cutover task list 3\n  cutover task start 3 announce\n  cutover task log 3 announce"
    )]
    Task(task::TaskCommand),
    /// List and set system parameters on a server (secret values are read from standard input, never shown).
    #[command(
        subcommand,
        name = "system-parameter",
        after_help = "Examples:\n  cutover system-parameter list\n  \
                      printf '%s' \"$TOKEN\" | cutover system-parameter set hook_token --secret"
    )]
    SystemParameter(system_parameter::SystemParameterCommand),
    /// List and create users on a server; a new user's API token is printed once.
    #[command(
        subcommand,
        after_help = "Examples:\n  cutover user list\n  cutover user create --name Ada --email ada@example.com --role operator"
    )]
    User(user::UserCommand),
    /// List and create custom fields on a server.
    #[command(
        subcommand,
        name = "custom-field",
        after_help = "Examples:\n  cutover custom-field list\n  cutover custom-field create Ticket --type text"
    )]
    CustomField(custom_field::CustomFieldCommand),
    /// List the event integrations on a server (apply a `kind: event_integration` file to create one).
    #[command(
        subcommand,
        name = "event-integration",
        after_help = "Examples:\n  cutover event-integration list\n  cutover apply examples/event-integration.yaml"
    )]
    EventIntegration(event_integration::EventIntegrationCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = init_logging() {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Render(args) => render::run(&args),
        Command::Run(args) => run::run(args),
        Command::Sink(args) => sink::run(&args),
        Command::Catalog(command) => catalog::run(&command),
        Command::Schema(args) => schema::run(&args),
        Command::Completions(args) => completions::run(&args, &mut Cli::command()),
        Command::Apply(args) => client::call(&cli.server, |client| apply::run(client, &args)),
        Command::Runbook(command) => client::call(&cli.server, |client| runbook::run(client, &command)),
        Command::Task(command) => client::call(&cli.server, |client| task::run(client, &command)),
        Command::SystemParameter(command) => {
            client::call(&cli.server, |client| system_parameter::run(client, &command))
        }
        Command::User(command) => client::call(&cli.server, |client| user::run(client, &command)),
        Command::CustomField(command) => client::call(&cli.server, |client| custom_field::run(client, &command)),
        Command::EventIntegration(command) => {
            client::call(&cli.server, |client| event_integration::run(client, &command))
        }
    }
}

/// With `RUST_LOG` set, logs to stderr through the shared [`LogFilter`] (third-party crates capped, as on the
/// server); without it, logs nothing.
fn init_logging() -> anyhow::Result<()> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    if std::env::var_os("RUST_LOG").is_none_or(|value| value.is_empty()) {
        return Ok(());
    }
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(false);
    tracing_subscriber::registry().with(layer.with_filter(LogFilter::from_env()?)).try_init()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command and subcommand, by its path such as `task start`.
    fn commands(command: &clap::Command, path: &str, found: &mut Vec<(String, clap::Command)>) {
        for sub in command.get_subcommands().filter(|sub| sub.get_name() != "help") {
            let path = format!("{path} {}", sub.get_name()).trim().to_owned();
            found.push((path.clone(), sub.clone()));
            commands(sub, &path, found);
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_examples_in_its_help() {
        let mut found = Vec::new();
        commands(&Cli::command(), "", &mut found);
        assert!(found.len() >= 20, "{:?}", found.iter().map(|(path, _)| path).collect::<Vec<_>>());
        for (path, command) in found {
            let help = command.get_after_help().map(ToString::to_string).unwrap_or_default();
            let example = format!("cutover {path}");
            assert!(
                help.starts_with("Examples:\n") && help.contains(&example),
                "`cutover {path} --help` has no examples of itself: {help:?}"
            );
        }
    }
}
