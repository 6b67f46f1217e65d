//! Running a runbook from start to end in one process, as `cutover run` does: start the run, start every task that
//! can start, finish manual tasks (or stop at them), wait for fires, and report every task at the end.

use crate::command::UserCommand;
use crate::dispatch::RunningEngine;
use crate::error::EngineError;
use cutover_integrations_model::{IntegrationStatus, RunMode, RunbookStage, TaskStage};
use cutover_integrations_runbook::{Actor, WaitReason};
use cutover_integrations_store::RunbookId;
use jiff::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;
use tokio::sync::broadcast::error::RecvError;

/// What [`RunningEngine::drive`] does with manual tasks (tasks without an action).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ManualTasks {
    /// Finish them as soon as they start, as if an operator clicked through.
    #[default]
    Finish,
    /// Leave them in progress: the run stops at the first manual task.
    Stop,
}

/// How [`RunningEngine::drive`] runs a runbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriveOptions {
    /// Rehearsal or live.
    pub mode: RunMode,
    /// What to do with manual tasks.
    pub manual: ManualTasks,
}

/// One task at the end of a driven run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskOutcome {
    /// The task id.
    pub id: String,
    /// The task name.
    pub name: String,
    /// Where the task ended.
    pub stage: TaskStage,
    /// Its integration status.
    pub integration_status: IntegrationStatus,
    /// When it started.
    pub started_at: Option<Timestamp>,
    /// When it ended.
    pub ended_at: Option<Timestamp>,
    /// Why it did not complete: the failure reason, the refusal, or what it waits for.
    pub reason: Option<String>,
}

/// The end of a driven run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriveReport {
    /// The runbook.
    pub runbook: RunbookId,
    /// Its stage at the end: `complete` when every task completed or was skipped.
    pub stage: RunbookStage,
    /// Every task, in definition order.
    pub tasks: Vec<TaskOutcome>,
}

impl DriveReport {
    /// Whether every task completed.
    pub fn succeeded(&self) -> bool {
        self.stage == RunbookStage::Complete && self.tasks.iter().all(|task| task.stage == TaskStage::Complete)
    }
}

impl RunningEngine {
    /// Runs a runbook to its end in this process: starts the run, starts every startable task that does not start by
    /// itself, finishes manual tasks (per [`DriveOptions::manual`]) and integration tasks whose fire succeeded
    /// without finishing them, and waits for fires. Returns when the runbook is complete or nothing more can happen
    /// (a fire failed, a task is refused, a manual task is left in progress). A method of the started engine, whose
    /// dispatcher runs the fires it waits for: an engine that was never started has no `drive` to wait forever in.
    ///
    /// ```compile_fail
    /// # async fn never_started(engine: cutover_integrations_core::Engine, id: cutover_integrations_core::store::RunbookId) {
    /// use cutover_integrations_core::{DriveOptions, ManualTasks, model::RunMode};
    /// engine.drive(id, DriveOptions { mode: RunMode::Live, manual: ManualTasks::Finish }).await;
    /// # }
    /// ```
    pub async fn drive(&self, runbook: RunbookId, options: DriveOptions) -> Result<DriveReport, EngineError> {
        let engine = self.engine();
        let mut events = engine.subscribe();
        let actor = Actor::engine();
        if engine.runbook(runbook).await?.state.stage() == RunbookStage::Planning {
            engine.command(runbook, UserCommand::StartRunbook { mode: options.mode }, &actor).await?;
        }
        let mut refused: BTreeMap<String, String> = BTreeMap::new();
        loop {
            let view = engine.runbook(runbook).await?;
            if matches!(view.state.stage(), RunbookStage::Complete | RunbookStage::Cancelled) {
                return Ok(report(runbook, &view.state, &refused));
            }
            let mut acted = false;
            let mut waiting = false;
            for task in view.state.tasks() {
                let id = task.plan.id.clone();
                if refused.contains_key(&id) {
                    continue;
                }
                let command = match task.state.stage() {
                    TaskStage::Startable => match task.state.waiting() {
                        Some(WaitReason::FixedStart { .. }) | Some(WaitReason::RunbookNotActive) => {
                            waiting = true;
                            None
                        }
                        Some(WaitReason::MissingCustomFields { fields }) => {
                            refused.insert(
                                id.clone(),
                                format!("waiting for required custom fields: {}", fields.join(", ")),
                            );
                            None
                        }
                        None if task.plan.auto_start => {
                            waiting = true;
                            None
                        }
                        None => Some(UserCommand::StartTask { task: id.clone(), force: false }),
                    },
                    TaskStage::InProgress => match &task.plan.action {
                        None if options.manual == ManualTasks::Finish => {
                            Some(UserCommand::FinishTask { task: id.clone() })
                        }
                        None => None,
                        Some(_) if task.state.has_active_fire() => {
                            waiting = true;
                            None
                        }
                        Some(_) => match task.state.integration_status() {
                            IntegrationStatus::Succeeded | IntegrationStatus::NotSent => {
                                Some(UserCommand::FinishTask { task: id.clone() })
                            }
                            _ => None,
                        },
                    },
                    _ => None,
                };
                let Some(command) = command else { continue };
                match engine.command(runbook, command, &actor).await {
                    Ok(_) => acted = true,
                    Err(EngineError::Refused(refusal)) => {
                        refused.insert(id, refusal.to_string());
                    }
                    Err(error) => return Err(error),
                }
            }
            if acted {
                continue;
            }
            if !waiting {
                return Ok(report(runbook, &view.state, &refused));
            }
            // Something is under way (a fire, an auto start, a fixed start time): wait for the next change.
            loop {
                match events.recv().await {
                    Ok(event) if event.runbook == runbook => break,
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return Ok(report(runbook, &view.state, &refused)),
                }
            }
        }
    }
}

pub(crate) fn report(
    runbook: RunbookId,
    state: &cutover_integrations_runbook::RunbookState,
    refused: &BTreeMap<String, String>,
) -> DriveReport {
    let tasks = state
        .tasks()
        .map(|task| {
            let reason = task
                .state
                .failure()
                .map(ToString::to_string)
                .or_else(|| refused.get(&task.plan.id).cloned())
                .or_else(|| task.state.waiting().map(ToString::to_string))
                .or_else(|| match task.state.stage() {
                    TaskStage::InProgress if task.plan.action.is_none() => {
                        Some("manual task left in progress".to_owned())
                    }
                    TaskStage::NotStartable => Some("waiting for its predecessors".to_owned()),
                    _ => None,
                });
            TaskOutcome {
                id: task.plan.id.clone(),
                name: task.plan.name.clone(),
                stage: task.state.stage(),
                integration_status: task.state.integration_status(),
                started_at: task.state.started_at(),
                ended_at: task.state.ended_at(),
                reason,
            }
        })
        .collect();
    DriveReport { runbook, stage: state.stage(), tasks }
}
