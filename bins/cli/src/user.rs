//! `cutover user list|create`: the server's users and their roles; a new user's API token is printed once.

use crate::client::{Client, ClientError, ListArgs, Output, field, items, print_json};
use crate::table;
use crate::terminal::say;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

/// User commands.
#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// List every user: id, name, email, roles.
    #[command(after_help = "Examples:\n  cutover user list\n  cutover user list --json")]
    List(ListArgs),
    /// Create a user; its API token is printed once and cannot be read again.
    #[command(
        after_help = "Examples:\n  cutover user create --name 'Ada Lovelace' --email ada@example.com --role operator\n  \
        cutover user create --name Ops --email ops@example.com --role runbook-admin --role operator --json"
    )]
    Create(CreateArgs),
}

/// Arguments of `cutover user create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Display name.
    #[arg(long)]
    name: String,
    /// Email address (unique).
    #[arg(long)]
    email: String,
    /// A role; repeat for several.
    #[arg(long = "role", value_enum, required = true, value_name = "ROLE")]
    roles: Vec<RoleArg>,
    #[command(flatten)]
    output: Output,
}

/// The roles of the contract, as the command line spells them.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Admin,
    IntegrationsAdmin,
    CustomFieldsAdmin,
    RunbookAdmin,
    Operator,
    Viewer,
}

impl RoleArg {
    fn wire(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::IntegrationsAdmin => "integrations_admin",
            Self::CustomFieldsAdmin => "custom_fields_admin",
            Self::RunbookAdmin => "runbook_admin",
            Self::Operator => "operator",
            Self::Viewer => "viewer",
        }
    }
}

/// Runs a user command.
pub(crate) async fn run(client: Client, command: &UserCommand) -> Result<(), ClientError> {
    match command {
        UserCommand::List(args) => {
            let output = &args.output;
            let users = client.list(&["users"], &args.paging, args.output).await?;
            if output.json {
                print_json(&users);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items(&users)
                .iter()
                .map(|user| vec![field(user, &["id"]), field(user, &["name"]), field(user, &["email"]), roles(user)])
                .collect();
            crate::terminal::out(&table::render(&["ID", "NAME", "EMAIL", "ROLES"], &rows));
        }
        UserCommand::Create(args) => {
            let wire_roles: Vec<&str> = args.roles.iter().map(|role| role.wire()).collect();
            let body = json!({"name": args.name, "email": args.email, "roles": wire_roles});
            let answer = client.post_json(&["users"], &body).await?;
            if args.output.json {
                print_json(&answer);
                return Ok(());
            }
            say!(
                "user {} `{}` created with roles {}",
                field(&answer, &["id"]),
                field(&answer, &["email"]),
                roles(&answer)
            );
            say!("API token (shown once; keep it safe): {}", field(&answer, &["token"]));
        }
    }
    Ok(())
}

fn roles(user: &Value) -> String {
    user["roles"]
        .as_array()
        .map(|roles| roles.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}
