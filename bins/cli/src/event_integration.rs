//! `cutover event-integration list`: the outbound webhooks a server sends on runbook and task events (they are
//! created with `cutover apply` of a `kind: event_integration` file).

use crate::client::{Client, ClientError, ListArgs, field, items, print_json};
use crate::table;
use clap::Subcommand;
use serde_json::Value;

/// Event integration commands.
#[derive(Debug, Subcommand)]
pub(crate) enum EventIntegrationCommand {
    /// List every event integration: name, event types, scope, whether it is enabled and sends in rehearsals, URL.
    #[command(after_help = "Examples:\n  cutover event-integration list\n  cutover event-integration list --json")]
    List(ListArgs),
}

/// Runs an event integration command.
pub(crate) async fn run(client: Client, command: &EventIntegrationCommand) -> Result<(), ClientError> {
    match command {
        EventIntegrationCommand::List(args) => {
            let list = client.list(&["event-integrations"], &args.paging, args.output).await?;
            if args.output.json {
                print_json(&list);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items(&list).iter().map(row).collect();
            crate::terminal::out(&table::render(&["NAME", "EVENTS", "SCOPE", "FLAGS", "URL"], &rows));
        }
    }
    Ok(())
}

fn row(value: &Value) -> Vec<String> {
    let events = value["events"]
        .as_array()
        .map(|events| events.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    let scope = match (&value["scope"]["workspace"], &value["scope"]["runbook"]) {
        (Value::String(workspace), _) => format!("workspace {workspace}"),
        (_, Value::String(runbook)) => format!("runbook {runbook}"),
        _ => "all".to_owned(),
    };
    let mut flags = vec![if value["enabled"].as_bool() == Some(false) { "disabled" } else { "enabled" }];
    if value["execute_in_rehearsal"].as_bool() == Some(true) {
        flags.push("rehearsals");
    }
    vec![field(value, &["name"]), events, scope, flags.join(", "), field(value, &["request", "url"])]
}
