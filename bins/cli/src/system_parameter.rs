//! `cutover system-parameter list|set`: an admin's values that templates read as `{{SystemParameter.name}}`. A secret
//! value is read from standard input (so it is not in the shell history or the process list) and never shown back.

use crate::client::{Client, ClientError, ListArgs, Output, field, items, print_json};
use crate::table;
use crate::terminal::say;
use clap::{Args, Subcommand};
use serde_json::json;
use std::io::BufRead;

/// System parameter commands.
#[derive(Debug, Subcommand)]
pub(crate) enum SystemParameterCommand {
    /// List every system parameter: name, whether it is secret, and the value of those that are not.
    #[command(after_help = "Examples:\n  cutover system-parameter list\n  cutover system-parameter list --json")]
    List(ListArgs),
    /// Create or replace a system parameter.
    #[command(after_help = "Examples:\n  cutover system-parameter set region eu-west\n  \
        printf '%s' \"$SLACK_TOKEN\" | cutover system-parameter set slack_token --secret\n\n\
        Without VALUE the value is the first line of standard input.")]
    Set(SetArgs),
}

/// Arguments of `cutover system-parameter set`.
#[derive(Debug, Args)]
pub(crate) struct SetArgs {
    /// The parameter's name.
    #[arg(value_name = "NAME")]
    name: String,
    /// The value; read from the first line of standard input when absent (use that for secrets).
    #[arg(value_name = "VALUE")]
    value: Option<String>,
    /// A secret: encrypted at rest, redacted everywhere, never shown back.
    #[arg(long)]
    secret: bool,
    #[command(flatten)]
    output: Output,
}

/// Runs a system parameter command.
pub(crate) async fn run(client: Client, command: &SystemParameterCommand) -> Result<(), ClientError> {
    match command {
        SystemParameterCommand::List(args) => {
            let output = &args.output;
            let parameters = client.list(&["system-parameters"], &args.paging, args.output).await?;
            if output.json {
                print_json(&parameters);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items(&parameters)
                .iter()
                .map(|parameter| {
                    let secret = parameter["secret"].as_bool() == Some(true);
                    let value = if secret { "[secret]".to_owned() } else { field(parameter, &["value"]) };
                    vec![field(parameter, &["name"]), if secret { "yes" } else { "no" }.to_owned(), value]
                })
                .collect();
            crate::terminal::out(&table::render(&["NAME", "SECRET", "VALUE"], &rows));
        }
        SystemParameterCommand::Set(args) => {
            let value = match &args.value {
                Some(value) => value.clone(),
                None => first_line_of_stdin()?,
            };
            let body = json!({"name": args.name, "value": value, "secret": args.secret});
            let answer = client.post_json(&["system-parameters"], &body).await?;
            if args.output.json {
                print_json(&answer);
            } else {
                let kind = if args.secret { "secret system parameter" } else { "system parameter" };
                say!("{kind} `{}` set", field(&answer, &["name"]));
            }
        }
    }
    Ok(())
}

fn first_line_of_stdin() -> Result<String, ClientError> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|error| {
        ClientError::Invalid(vec![format!("error: cannot read the value from standard input: {error}")])
    })?;
    let value = line.strip_suffix('\n').map(|line| line.strip_suffix('\r').unwrap_or(line)).unwrap_or(&line);
    if value.is_empty() {
        return Err(ClientError::Invalid(vec!["error: give VALUE, or the value on standard input".to_owned()]));
    }
    Ok(value.to_owned())
}
