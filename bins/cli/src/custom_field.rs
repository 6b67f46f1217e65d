//! `cutover custom-field list|create`: the named values tasks and runbooks carry, which templates read and response
//! mappings write.

use crate::client::{Client, ClientError, ListArgs, Output, field, items, print_json};
use crate::table;
use crate::terminal::say;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

/// Custom field commands.
#[derive(Debug, Subcommand)]
pub(crate) enum CustomFieldCommand {
    /// List every custom field: name, type, where it applies, flags, the actions it is restricted to.
    #[command(after_help = "Examples:\n  cutover custom-field list\n  cutover custom-field list --json")]
    List(ListArgs),
    /// Create a custom field; its name must be new.
    #[command(after_help = "Examples:\n  \
        cutover custom-field create 'Slack Channel' --type text --required --transient --restrict-to 'Post to a channel'\n  \
        cutover custom-field create Environment --type select --option prod --option staging --applies-to runbook")]
    Create(CreateArgs),
}

/// Arguments of `cutover custom-field create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The field's name, as templates read it: `{{CustomField['NAME']}}`.
    #[arg(value_name = "NAME")]
    name: String,
    /// The input type.
    #[arg(long = "type", value_enum)]
    field_type: FieldTypeArg,
    /// A choice of a select, radio or checkboxes field; repeat for each.
    #[arg(long = "option", value_name = "OPTION")]
    options: Vec<String>,
    /// A task cannot start while the field is empty.
    #[arg(long)]
    required: bool,
    /// The value is not copied when a runbook is duplicated.
    #[arg(long)]
    transient: bool,
    /// Whether the field sits on tasks or on the runbook.
    #[arg(long, value_enum, default_value = "task")]
    applies_to: AppliesToArg,
    /// An action whose tasks show the field; repeat for several (none: every action).
    #[arg(long = "restrict-to", value_name = "ACTION")]
    restrict_to: Vec<String>,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FieldTypeArg {
    Text,
    Textarea,
    Select,
    Radio,
    Checkboxes,
    Date,
    User,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AppliesToArg {
    Task,
    Runbook,
}

/// Runs a custom field command.
pub(crate) async fn run(client: Client, command: &CustomFieldCommand) -> Result<(), ClientError> {
    match command {
        CustomFieldCommand::List(args) => {
            let output = &args.output;
            let fields = client.list(&["custom-fields"], &args.paging, args.output).await?;
            if output.json {
                print_json(&fields);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items(&fields).iter().map(row).collect();
            crate::terminal::out(&table::render(&["NAME", "TYPE", "APPLIES TO", "FLAGS", "RESTRICTED TO"], &rows));
        }
        CustomFieldCommand::Create(args) => {
            let field_type = match args.field_type {
                FieldTypeArg::Text => "text",
                FieldTypeArg::Textarea => "textarea",
                FieldTypeArg::Select => "select",
                FieldTypeArg::Radio => "radio",
                FieldTypeArg::Checkboxes => "checkboxes",
                FieldTypeArg::Date => "date",
                FieldTypeArg::User => "user",
            };
            let applies_to = match args.applies_to {
                AppliesToArg::Task => "task",
                AppliesToArg::Runbook => "runbook",
            };
            let mut body = json!({"name": args.name, "type": field_type, "applies_to": applies_to});
            if !args.options.is_empty() {
                body["options"] = json!(args.options);
            }
            if !args.restrict_to.is_empty() {
                body["restrict_to"] = json!(args.restrict_to);
            }
            if args.required {
                body["required"] = json!(true);
            }
            if args.transient {
                body["transient"] = json!(true);
            }
            let answer = client.post_json(&["custom-fields"], &body).await?;
            if args.output.json {
                print_json(&answer);
            } else {
                say!("custom field `{}` created", field(&answer, &["name"]));
            }
        }
    }
    Ok(())
}

fn row(field_value: &Value) -> Vec<String> {
    let flags: Vec<&str> = [("required", "required"), ("transient", "transient")]
        .into_iter()
        .filter(|(key, _)| field_value[*key].as_bool() == Some(true))
        .map(|(_, label)| label)
        .collect();
    let restricted = field_value["restrict_to"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    vec![
        field(field_value, &["name"]),
        field(field_value, &["type"]),
        field(field_value, &["applies_to"]),
        flags.join(","),
        restricted,
    ]
}
