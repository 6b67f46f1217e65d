//! `cutover runbook list|show|start|pause|resume|cancel|duplicate`: runbooks on a server.

use crate::client::{Client, ClientError, ListArgs, Output, field, items, print_json};
use crate::table;
use crate::terminal::say;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

/// Runbook commands.
#[derive(Debug, Subcommand)]
pub(crate) enum RunbookCommand {
    /// List every runbook: id, name, stage, run mode.
    #[command(after_help = "Examples:\n  cutover runbook list\n  cutover runbook list --json | jq '.[].id'")]
    List(ListArgs),
    /// Show a runbook and its tasks.
    #[command(after_help = "Examples:\n  cutover runbook show 3\n  cutover runbook show 3 --json")]
    Show(RunbookArgs),
    /// Start a runbook in rehearsal or live mode.
    #[command(
        after_help = "Examples:\n  cutover runbook start 3 --mode rehearsal\n  cutover runbook start 3 --mode live"
    )]
    Start(StartArgs),
    /// Pause an active runbook: no task starts by itself until it resumes.
    #[command(after_help = "Examples:\n  cutover runbook pause 3")]
    Pause(RunbookArgs),
    /// Resume a paused runbook.
    #[command(after_help = "Examples:\n  cutover runbook resume 3")]
    Resume(RunbookArgs),
    /// Cancel a runbook.
    #[command(after_help = "Examples:\n  cutover runbook cancel 3")]
    Cancel(RunbookArgs),
    /// Copy a runbook into a new one in planning (custom field values except transient ones).
    #[command(after_help = "Examples:\n  cutover runbook duplicate 3\n  cutover runbook duplicate 3 --json")]
    Duplicate(RunbookArgs),
}

/// A runbook id.
#[derive(Debug, Args)]
pub(crate) struct RunbookArgs {
    /// The runbook id (see `cutover runbook list`).
    #[arg(value_name = "RUNBOOK")]
    runbook: String,
    #[command(flatten)]
    output: Output,
}

/// Arguments of `cutover runbook start`.
#[derive(Debug, Args)]
pub(crate) struct StartArgs {
    #[command(flatten)]
    target: RunbookArgs,
    /// `rehearsal` renders and logs requests without sending them (unless an action sets `execute_in_rehearsal`);
    /// `live` sends them.
    #[arg(long, value_enum)]
    mode: Mode,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Rehearsal,
    Live,
}

/// Runs a runbook command.
pub(crate) async fn run(client: Client, command: &RunbookCommand) -> Result<(), ClientError> {
    match command {
        RunbookCommand::List(args) => {
            let output = &args.output;
            let runbooks = client.list(&["runbooks"], &args.paging, args.output).await?;
            if output.json {
                print_json(&runbooks);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = items(&runbooks).iter().map(runbook_row).collect();
            crate::terminal::out(&table::render(&["ID", "NAME", "STAGE", "MODE"], &rows));
        }
        RunbookCommand::Show(args) => {
            let runbook = client.get(&["runbooks", &args.runbook]).await?;
            let tasks = serde_json::Value::Array(items(&client.list_all(&["runbooks", &args.runbook, "tasks"]).await?));
            if args.output.json {
                print_json(&json!({"runbook": runbook, "tasks": tasks}));
                return Ok(());
            }
            crate::terminal::out(&table::render(&["ID", "NAME", "STAGE", "MODE"], &[runbook_row(&runbook)]));
            say!();
            crate::terminal::out(&crate::task::tasks_table(&tasks));
        }
        RunbookCommand::Start(args) => {
            let mode = match args.mode {
                Mode::Rehearsal => "rehearsal",
                Mode::Live => "live",
            };
            let body = json!({ "mode": mode });
            let answer = client.post_json(&["runbooks", &args.target.runbook, "start"], &body).await?;
            report(&args.target, "started", &answer);
        }
        RunbookCommand::Pause(args) => lifecycle(&client, args, "pause", "paused").await?,
        RunbookCommand::Resume(args) => lifecycle(&client, args, "resume", "resumed").await?,
        RunbookCommand::Cancel(args) => lifecycle(&client, args, "cancel", "cancelled").await?,
        RunbookCommand::Duplicate(args) => {
            let copy = client.post_json(&["runbooks", &args.runbook, "duplicate"], &json!({})).await?;
            if args.output.json {
                print_json(&copy);
            } else {
                say!(
                    "runbook {} duplicated as runbook {} `{}`",
                    args.runbook,
                    field(&copy, &["id"]),
                    field(&copy, &["name"])
                );
            }
        }
    }
    Ok(())
}

async fn lifecycle(client: &Client, args: &RunbookArgs, route: &str, done: &str) -> Result<(), ClientError> {
    let answer = client.post_json(&["runbooks", &args.runbook, route], &json!({})).await?;
    report(args, done, &answer);
    Ok(())
}

fn report(args: &RunbookArgs, done: &str, answer: &serde_json::Value) {
    if args.output.json {
        print_json(answer);
        return;
    }
    let stage = field(answer, &["stage"]);
    match stage.is_empty() {
        true => say!("runbook {} {done}", args.runbook),
        false => say!("runbook {} {done}: stage {stage}", args.runbook),
    }
}

fn runbook_row(runbook: &serde_json::Value) -> Vec<String> {
    vec![field(runbook, &["id"]), field(runbook, &["name"]), field(runbook, &["stage"]), field(runbook, &["mode"])]
}
