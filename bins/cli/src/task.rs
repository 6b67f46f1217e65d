//! `cutover task list|show|start|finish|skip|cancel|refire|log`: tasks of a runbook on a server.

use crate::actions_log_text::{self, FireDocument};
use crate::client::{Client, ClientError, ListArgs, Output, field, items, print_json};
use crate::table;
use crate::terminal::say;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// Task commands.
#[derive(Debug, Subcommand)]
pub(crate) enum TaskCommand {
    /// List the tasks of a runbook: id, name, stage, integration status, why it waits or failed.
    #[command(after_help = "Examples:\n  cutover task list 3\n  cutover task list 3 --json")]
    List(TaskListArgs),
    /// Show one task.
    #[command(after_help = "Examples:\n  cutover task show 3 announce --json")]
    Show(TaskArgs),
    /// Start a task; its action fires if it has one.
    #[command(after_help = "Examples:\n  cutover task start 3 announce\n  cutover task start 3 cutover --force   \
                            # before its fixed start time (runbook_admin)")]
    Start(StartArgs),
    /// Finish a task that is in progress.
    #[command(after_help = "Examples:\n  cutover task finish 3 deploy")]
    Finish(TaskArgs),
    /// Skip a task, with a comment; its successors may start.
    #[command(after_help = "Examples:\n  cutover task skip 3 smoke-test --comment \"covered by the canary\"")]
    Skip(SkipArgs),
    /// Cancel a task's running fire (the action must be cancelable).
    #[command(after_help = "Examples:\n  cutover task cancel 3 wait-for-approval")]
    Cancel(TaskArgs),
    /// Fire a task's action again after it failed or was cancelled.
    #[command(after_help = "Examples:\n  cutover task refire 3 announce")]
    Refire(TaskArgs),
    /// Print a task's actions log: every fire and attempt, the request as a curl line, secrets redacted.
    #[command(after_help = "Examples:\n  cutover task log 3 announce\n  cutover task log 3 announce --json")]
    Log(TaskArgs),
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

/// A runbook id and the paging of its task list.
#[derive(Debug, Args)]
pub(crate) struct TaskListArgs {
    /// The runbook id (see `cutover runbook list`).
    #[arg(value_name = "RUNBOOK")]
    runbook: String,
    #[command(flatten)]
    list: ListArgs,
}

/// A task of a runbook.
#[derive(Debug, Args)]
pub(crate) struct TaskArgs {
    /// The runbook id (see `cutover runbook list`).
    #[arg(value_name = "RUNBOOK")]
    runbook: String,
    /// The task id, as the runbook definition names it.
    #[arg(value_name = "TASK")]
    task: String,
    #[command(flatten)]
    output: Output,
}

/// Arguments of `cutover task start`.
#[derive(Debug, Args)]
pub(crate) struct StartArgs {
    #[command(flatten)]
    target: TaskArgs,
    /// Start before the task's fixed start time (needs the runbook_admin role).
    #[arg(long)]
    force: bool,
}

/// Arguments of `cutover task skip`.
#[derive(Debug, Args)]
pub(crate) struct SkipArgs {
    #[command(flatten)]
    target: TaskArgs,
    /// Why the task is skipped.
    #[arg(long)]
    comment: String,
}

/// Runs a task command.
pub(crate) async fn run(client: Client, command: &TaskCommand) -> Result<(), ClientError> {
    match command {
        TaskCommand::List(args) => {
            let tasks = client.list(&["runbooks", &args.runbook, "tasks"], &args.list.paging, args.list.output).await?;
            if args.list.output.json {
                print_json(&tasks);
            } else {
                crate::terminal::out(&tasks_table(&tasks));
            }
        }
        TaskCommand::Show(args) => {
            let task = client.get(&["runbooks", &args.runbook, "tasks", &args.task]).await?;
            if args.output.json {
                print_json(&task);
            } else {
                crate::terminal::out(&tasks_table(&Value::Array(vec![task])));
            }
        }
        TaskCommand::Start(args) => act(&client, &args.target, "start", json!({ "force": args.force })).await?,
        TaskCommand::Finish(args) => act(&client, args, "finish", json!({})).await?,
        TaskCommand::Skip(args) => act(&client, &args.target, "skip", json!({ "comment": args.comment })).await?,
        TaskCommand::Cancel(args) => act(&client, args, "cancel", json!({})).await?,
        TaskCommand::Refire(args) => act(&client, args, "refire", json!({})).await?,
        TaskCommand::Log(args) => {
            let log = client.get(&["runbooks", &args.runbook, "tasks", &args.task, "actions-log"]).await?;
            if args.output.json {
                print_json(&log);
            } else {
                crate::terminal::out(&log_text(&args.task, &log)?);
            }
        }
    }
    Ok(())
}

async fn act(client: &Client, args: &TaskArgs, route: &str, body: Value) -> Result<(), ClientError> {
    let answer = client.post_json(&["runbooks", &args.runbook, "tasks", &args.task, route], &body).await?;
    if args.output.json {
        print_json(&answer);
        return Ok(());
    }
    let task = if answer.get("task").is_some_and(Value::is_object) { &answer["task"] } else { &answer };
    let stage = field(task, &["stage"]);
    let status = field(task, &["integration_status"]);
    match (stage.is_empty(), status.is_empty()) {
        (false, false) => say!("{}: {stage}, integration {status}", args.task),
        (false, true) => say!("{}: {stage}", args.task),
        _ => say!("{}: {route} accepted", args.task),
    }
    Ok(())
}

/// The tasks of a list response as a table.
pub(crate) fn tasks_table(tasks: &Value) -> String {
    let rows: Vec<Vec<String>> = items(tasks)
        .iter()
        .map(|task| {
            vec![
                field(task, &["id"]),
                field(task, &["name"]),
                field(task, &["stage"]),
                field(task, &["integration_status"]),
                field(task, &["failure_reason", "waiting_reason"]).replace('\n', " "),
            ]
        })
        .collect();
    table::render(&["TASK", "NAME", "STAGE", "INTEGRATION", "REASON"], &rows)
}

/// The actions log of a task as text; the server sends `{"runbook", "task", "fires": […]}`.
fn log_text(task: &str, log: &Value) -> Result<String, ClientError> {
    let fires: Vec<FireDocument> =
        items(log).into_iter().map(serde_json::from_value).collect::<Result<_, _>>().map_err(|error| {
            ClientError::Invalid(vec![format!("error: the server's actions log is not readable: {error}")])
        })?;
    if fires.is_empty() {
        return Ok(format!("{task}: no fires\n"));
    }
    Ok(actions_log_text::task_log(task, fires.iter().map(Into::into)))
}
