//! `cutover run RUNBOOK_FILE --integrations FILE...`: runs a runbook in this process on an embedded database, with a
//! live progress display, and ends with a table of every task and the actions log of every fire.
//!
//! Glue only: the engine ([`RunningEngine::drive`]) decides what starts and when; this module opens the database, passes
//! the system parameters, shows the engine's events, and prints the outcome.

use crate::actions_log_text;
use crate::progress::Progress;
use crate::table;
use crate::terminal::{complain, say};
use anyhow::Context as _;
use clap::{Args, ValueEnum};
use cutover_integrations_core::model::{Definition, RunMode, SecretValue, SourceFile, SystemParameter, Validator};
use cutover_integrations_core::store::RunbookId;
use cutover_integrations_core::{
    DriveOptions, DriveReport, Engine, EngineError, FireLogView, ManualTasks, RunningEngine, generate_secret_key,
    secret_key_beside_database,
};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The environment variable that holds the secret key of a `--database`.
const SECRET_KEY_VARIABLE: &str = "CUTOVER_SECRET_KEY";
/// The prefix of environment variables that set system parameters.
const PARAMETER_PREFIX: &str = "CUTOVER_PARAM_";

pub(crate) const LONG_ABOUT: &str = "\
Run a runbook in this process on an embedded database: start the run, start every task that can start, fire the \
integrations of integration tasks, finish manual tasks (or stop at them with --manual stop), and wait for every fire. \
Progress goes to stderr (a bar on a terminal, plain lines otherwise); a table of every task with its stage, \
integration status, duration and failure reason, then the actions log of every fire (the request as a curl line, \
secrets redacted), go to stdout.

System parameters come from --param NAME=VALUE and from environment variables CUTOVER_PARAM_<NAME> (NAME as \
written, so CUTOVER_PARAM_hook_token sets `hook_token`); --param wins. Every parameter given this way is secret: \
its value is redacted wherever it would appear (the actions log, curl lines, this output).

The database is a temporary SQLite file unless --database names one. The secret key that encrypts secrets at rest \
is generated for a temporary database; for --database it is read from CUTOVER_SECRET_KEY or, for a SQLite file, \
kept in secret.key in the database's directory (mode 0600, created on first use; the server does the same).

Outbound requests to loopback, private, link-local and metadata addresses are refused unless --allow-network admits \
them.

Ctrl-C stops the run and prints the table of the tasks as they stand; fires already sent are not recalled.

Exit status: 0 when every task completed, 1 when a task did not (or the input is invalid, or the run was \
interrupted), 2 on usage errors.";

pub(crate) const EXAMPLES: &str = "\
Examples:
  # Try it on this machine: a local sink answers the requests.
  cutover sink --listen 127.0.0.1:8787 &
  cutover run examples/quickstart-runbook.yaml --integrations examples/quickstart-integration.yaml \\
      --allow-network 127.0.0.1/32 --param sink_token=s3cret

  # See what a rehearsal would send, without sending it.
  cutover run examples/release.yaml --integrations examples/slack.yaml examples/webhook.yaml --mode rehearsal

  # Keep the run in a database and stop at the first manual task.
  CUTOVER_PARAM_hook_token=s3cret cutover run release.yaml --integrations hooks.yaml \\
      --database sqlite://runs/release.db --manual stop";

/// Arguments of `cutover run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The runbook definition file (`kind: runbook`).
    #[arg(value_name = "RUNBOOK_FILE")]
    runbook: PathBuf,
    /// The integration definition files its tasks use.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    integrations: Vec<PathBuf>,
    /// `live` sends requests; `rehearsal` renders and logs them without sending (unless an action sets
    /// `execute_in_rehearsal`).
    #[arg(long, value_enum, default_value_t = Mode::Live)]
    mode: Mode,
    /// The database to run on (`sqlite://PATH` or `postgres://…`); a temporary SQLite file by default.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// A system parameter, secret (redacted everywhere); repeat for more.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_parameter)]
    params: Vec<Parameter>,
    /// Let outbound requests reach this private address range (such as 127.0.0.1/32); repeat for more.
    #[arg(long = "allow-network", value_name = "CIDR")]
    allow_network: Vec<IpNet>,
    /// What to do with manual tasks: `finish` them as they start, or `stop` the run at them.
    #[arg(long, value_enum, default_value_t = Manual::Finish)]
    manual: Manual,
    /// Print the outcome as one JSON document on stdout instead of the table and the log.
    #[arg(long)]
    json: bool,
    /// Print the table only, without the actions log.
    #[arg(long)]
    no_actions_log: bool,
}

/// The run mode, as the command line spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// Render and log requests without sending them.
    Rehearsal,
    /// Send requests.
    Live,
}

/// What to do with manual tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Manual {
    /// Finish them as soon as they start.
    Finish,
    /// Leave them in progress; the run stops there.
    Stop,
}

/// A system parameter from the command line or the environment; its value never prints.
#[derive(Clone)]
pub(crate) struct Parameter {
    name: String,
    value: SecretString,
}

impl std::fmt::Debug for Parameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}=[REDACTED]", self.name)
    }
}

fn parse_parameter(text: &str) -> Result<Parameter, String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok(Parameter { name: name.trim().to_owned(), value: SecretString::from(value.to_owned()) })
        }
        _ => Err("expected NAME=VALUE with a non-empty NAME".to_owned()),
    }
}

/// Runs the runbook; exit 0 when every task completed, 1 otherwise.
pub(crate) fn run(args: RunArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            complain!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run_async(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(failure) => {
            failure.print();
            ExitCode::FAILURE
        }
    }
}

/// Why a run could not happen: invalid definitions (one line per problem) or anything else.
enum Failure {
    Invalid(Vec<String>),
    Other(anyhow::Error),
}

impl Failure {
    fn print(&self) {
        match self {
            Self::Invalid(lines) => lines.iter().for_each(|line| complain!("{line}")),
            Self::Other(error) => complain!("error: {error:#}"),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self::Other(error)
    }
}

impl From<EngineError> for Failure {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::Invalid { diagnostics } => {
                Self::Invalid(diagnostics.iter().map(ToString::to_string).collect())
            }
            other => Self::Other(other.into()),
        }
    }
}

async fn run_async(args: RunArgs) -> Result<bool, Failure> {
    let runbook_text = read(&args.runbook)?;
    let integration_texts = args
        .integrations
        .iter()
        .map(|path| Ok((path.display().to_string(), read(path)?)))
        .collect::<Result<Vec<_>, Failure>>()?;

    // Kept alive until the end of the run: dropping it deletes the temporary database.
    let mut temporary = None;
    let (database_url, key) = match &args.database {
        Some(url) => (url.clone(), database_key(url)?),
        None => {
            let directory = tempfile::Builder::new()
                .prefix("cutover-run-")
                .tempdir()
                .context("cannot create a temporary directory for the database")?;
            let url = format!("sqlite://{}", directory.path().join("cutover.db").display());
            temporary = Some(directory);
            (url, generate_secret_key())
        }
    };
    let mut builder = Engine::builder().database_url(&database_url).secret_key_base64(key.expose_secret());
    for range in &args.allow_network {
        builder = builder.allow_outbound(*range);
    }
    let engine = builder.build().await?;
    let running = engine.start();
    let outcome = drive(&running, &args, &runbook_text, &integration_texts).await;
    running.shutdown().await;
    drop(temporary);
    outcome
}

async fn drive(
    running: &RunningEngine,
    args: &RunArgs,
    runbook_text: &str,
    integration_texts: &[(String, String)],
) -> Result<bool, Failure> {
    let engine = running.engine();
    for parameter in parameters(&args.params, std::env::vars_os()) {
        let parameter = SystemParameter {
            name: parameter.name,
            value: SecretValue::new(parameter.value.expose_secret()),
            secret: true,
        };
        engine.put_system_parameter(&parameter).await?;
    }
    let runbook = apply(engine, &args.runbook, runbook_text, integration_texts).await?;

    let view = engine.runbook(runbook).await?;
    let tasks: Vec<(String, String)> =
        view.state.tasks().map(|task| (task.plan.id.clone(), task.plan.name.clone())).collect();
    let mode = match args.mode {
        Mode::Rehearsal => RunMode::Rehearsal,
        Mode::Live => RunMode::Live,
    };
    let progress = Progress::start(
        engine.subscribe(),
        runbook,
        &view.definition.name,
        mode,
        tasks,
        std::io::stderr().is_terminal() && !args.json,
    );
    let manual = match args.manual {
        Manual::Finish => ManualTasks::Finish,
        Manual::Stop => ManualTasks::Stop,
    };
    let driven = tokio::select! {
        report = running.drive(runbook, DriveOptions { mode, manual }) => report,
        _ = tokio::signal::ctrl_c() => {
            // A second Ctrl-C quits without waiting for the fires in flight.
            tokio::spawn(async {
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(1);
                }
            });
            complain!("interrupted: the tasks as they stand (Ctrl-C again to quit at once)");
            engine.drive_report(runbook).await
        }
    };
    progress.finish(driven.as_ref().ok().cloned()).await;
    let report = driven?;

    let mut logs = Vec::new();
    if args.json || !args.no_actions_log {
        for task in &report.tasks {
            let log = engine.task_actions_log(runbook, &task.id).await?;
            if !log.is_empty() {
                logs.push((task.id.clone(), log));
            }
        }
    }
    if args.json {
        print_json(&report, &logs)?;
    } else {
        print_text(&report, &logs, args.no_actions_log);
    }
    Ok(report.succeeded())
}

/// Applies the integrations and the runbook together (so every problem is reported at once, with its position) and
/// returns the runbook's id. The runbook file must hold a runbook and the integration files integrations.
async fn apply(
    engine: &Engine,
    runbook_path: &Path,
    runbook_text: &str,
    integration_texts: &[(String, String)],
) -> Result<RunbookId, Failure> {
    let runbook_name = runbook_path.display().to_string();
    if is_runbook(&runbook_name, runbook_text) == Some(false) {
        return Err(anyhow::anyhow!(
            "{runbook_name} is an integration definition: give it after --integrations, and the runbook as RUNBOOK_FILE"
        )
        .into());
    }
    if let Some((name, _)) = integration_texts.iter().find(|(name, text)| is_runbook(name, text) == Some(true)) {
        return Err(anyhow::anyhow!(
            "{name} is a runbook definition: --integrations takes integrations; give the runbook as RUNBOOK_FILE"
        )
        .into());
    }
    let mut files: Vec<(&str, &str)> =
        integration_texts.iter().map(|(name, text)| (name.as_str(), text.as_str())).collect();
    files.push((&runbook_name, runbook_text));
    let applied = engine.apply_definitions(&files).await?;
    match applied.runbooks.as_slice() {
        [runbook] => Ok(*runbook),
        _ => Err(anyhow::anyhow!("{runbook_name} is not a runbook definition (`kind: runbook`)").into()),
    }
}

/// Whether a file holds a runbook (`Some(true)`) or an integration; `None` when it does not parse, which applying
/// it reports with positions.
fn is_runbook(name: &str, text: &str) -> Option<bool> {
    let parsed = Validator::new().parse(&SourceFile::new(name, text)).ok()?;
    Some(matches!(parsed.definition(), Definition::Runbook(_)))
}

/// The system parameters to set: `CUTOVER_PARAM_<NAME>` variables, overridden by `--param`s of the same name.
fn parameters(
    given: &[Parameter],
    environment: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<Parameter> {
    let mut all: Vec<Parameter> = environment
        .filter_map(|(name, value)| {
            let name = name.into_string().ok()?;
            let name = name.strip_prefix(PARAMETER_PREFIX).filter(|name| !name.is_empty())?.to_owned();
            Some(Parameter { name, value: SecretString::from(value.into_string().ok()?) })
        })
        .collect();
    for parameter in given {
        all.retain(|existing| existing.name != parameter.name);
        all.push(parameter.clone());
    }
    all
}

/// The secret key of a given database: `CUTOVER_SECRET_KEY`, or the key file beside a SQLite database.
fn database_key(url: &str) -> Result<SecretString, Failure> {
    match std::env::var(SECRET_KEY_VARIABLE) {
        Ok(key) if !key.trim().is_empty() => Ok(SecretString::from(key)),
        _ => Ok(secret_key_beside_database(url)?),
    }
}

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|error| Failure::Invalid(vec![format!("{}: cannot read: {error}", path.display())]))
}

fn print_text(report: &DriveReport, logs: &[(String, Vec<FireLogView>)], no_actions_log: bool) {
    crate::terminal::out(&table::drive_report(report));
    if no_actions_log || logs.is_empty() {
        return;
    }
    say!();
    say!("Actions log");
    for (task, fires) in logs {
        crate::terminal::out(&actions_log_text::task_log(task, fires.iter().map(actions_log_text::FireView::from)));
    }
}

fn print_json(report: &DriveReport, logs: &[(String, Vec<FireLogView>)]) -> Result<(), Failure> {
    let actions_log: serde_json::Map<String, serde_json::Value> = logs
        .iter()
        .map(|(task, fires)| Ok((task.clone(), serde_json::to_value(fires)?)))
        .collect::<Result<_, serde_json::Error>>()
        .context("cannot write the actions log as JSON")?;
    let document = serde_json::json!({
        "runbook": report.runbook,
        "stage": report.stage,
        "succeeded": report.succeeded(),
        "tasks": report.tasks,
        "actions_log": actions_log,
    });
    let text = serde_json::to_string_pretty(&document).context("cannot write the report as JSON")?;
    crate::terminal::out_raw(&format!("{text}\n"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_come_from_the_environment_and_the_command_line_wins() {
        let environment = [
            ("CUTOVER_PARAM_hook_token", "from-env"),
            ("CUTOVER_PARAM_region", "eu"),
            ("CUTOVER_PARAM_", "no name"),
            ("PATH", "/bin"),
        ]
        .map(|(name, value)| (name.into(), value.into()));
        let given = [parse_parameter("hook_token=from-flag").expect("valid")];
        let mut found: Vec<(String, String)> = parameters(&given, environment.into_iter())
            .into_iter()
            .map(|parameter| (parameter.name, parameter.value.expose_secret().to_owned()))
            .collect();
        found.sort();
        assert_eq!(
            found,
            vec![("hook_token".to_owned(), "from-flag".to_owned()), ("region".to_owned(), "eu".to_owned())]
        );
    }

    #[test]
    fn parameter_syntax() {
        let cases = [
            ("a=b", Some(("a", "b"))),
            ("token=x=y", Some(("token", "x=y"))),
            ("empty=", Some(("empty", ""))),
            ("=value", None),
            ("novalue", None),
        ];
        for (text, expected) in cases {
            let parsed = parse_parameter(text).ok();
            let parsed = parsed.as_ref().map(|parameter| (parameter.name.as_str(), parameter.value.expose_secret()));
            assert_eq!(parsed, expected, "{text}");
        }
    }

    #[test]
    fn a_parameter_never_debugs_its_value() {
        let parameter = parse_parameter("token=hunter2").expect("valid");
        assert_eq!(format!("{parameter:?}"), "token=[REDACTED]");
    }
}
