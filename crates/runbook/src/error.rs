//! The one error type of the crate: why a plan could not be built, or why a command was refused.

use crate::{Delivery, FireNumber, Operation};
use cutover_integrations_model::{IntegrationStatus, RunbookStage, TaskStage};
use jiff::Timestamp;
use std::fmt;

/// Why a plan could not be built, a command was refused, or a stored state could not be loaded.
///
/// A refused command leaves the state exactly as it was. The messages are written for the person who sent the
/// command: they name the task and say what it waits for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunbookError {
    /// Two tasks share an id.
    #[error("task id `{task}` is used by more than one task")]
    DuplicateTaskId {
        /// The id used twice.
        task: String,
    },
    /// A predecessor names no task of the runbook.
    #[error("task `{task}` lists unknown predecessor `{predecessor}`")]
    UnknownPredecessor {
        /// The task that lists it.
        task: String,
        /// The id that matches no task.
        predecessor: String,
    },
    /// A task's action is not in the catalog.
    #[error("task `{task}` uses unknown action `{action}`")]
    UnknownAction {
        /// The task.
        task: String,
        /// The `INTEGRATION/ACTION` reference.
        action: String,
    },
    /// The predecessor relation has a cycle.
    #[error("tasks form a cycle: {}", cycle_text(.cycle))]
    Cycle {
        /// Task ids along the cycle; the first one closes it.
        cycle: Vec<String>,
    },
    /// A fixed start time is not an RFC 3339 instant.
    #[error("task `{task}`: fixed start `{value}` is not an RFC 3339 time such as 2026-11-22T18:00:00Z ({reason})")]
    InvalidFixedStart {
        /// The task.
        task: String,
        /// The text as written.
        value: String,
        /// What the parser said.
        reason: String,
    },
    /// A task both starts by itself and has a fixed start time, which the contract forbids.
    #[error("task `{task}` has a fixed start time and auto start ({source_of_auto_start}); they cannot be combined")]
    AutoStartWithFixedStart {
        /// The task.
        task: String,
        /// Where auto start comes from: `the task` or `action X/Y`.
        source_of_auto_start: String,
    },
    /// No task has this id.
    #[error("runbook has no task `{task}`")]
    UnknownTask {
        /// The id asked for.
        task: String,
    },
    /// The runbook's stage does not allow the operation.
    #[error("cannot {operation}{}: the runbook is {}", task_suffix(*.operation, .task.as_deref()), stage_text(*.stage))]
    RunbookStageForbids {
        /// What was attempted.
        operation: Operation,
        /// The task concerned, for task operations.
        task: Option<String>,
        /// The runbook's stage.
        stage: RunbookStage,
    },
    /// A task cannot start because predecessors are neither complete nor skipped.
    #[error("task `{task}` is not startable: waiting for {}", id_list(.waiting_for))]
    NotStartable {
        /// The task.
        task: String,
        /// Ids of the predecessors that are neither complete nor skipped.
        waiting_for: Vec<String>,
    },
    /// The task's stage does not allow the operation.
    #[error("cannot {operation} task `{task}`: it is {}", task_stage_text(*.stage))]
    TaskStageForbids {
        /// The task.
        task: String,
        /// What was attempted.
        operation: Operation,
        /// The task's stage.
        stage: TaskStage,
    },
    /// A fixed start time has not arrived and the start was not forced.
    #[error("task `{task}` has a fixed start time and cannot start before {at}; a runbook admin may force it")]
    FixedStartNotReached {
        /// The task.
        task: String,
        /// The fixed start time.
        at: Timestamp,
    },
    /// The acting user lacks a role the operation needs.
    #[error("{} needs the runbook_admin or admin role", gerund(*.operation))]
    RoleRequired {
        /// What was attempted.
        operation: Operation,
    },
    /// Required custom fields are empty.
    #[error("cannot {operation} task `{task}`: required custom fields are empty: {}", id_list(.fields))]
    MissingCustomFields {
        /// The task.
        task: String,
        /// What was attempted (start or refire).
        operation: Operation,
        /// Names of the empty required fields.
        fields: Vec<String>,
    },
    /// A skip without a comment.
    #[error("skipping task `{task}` needs a comment")]
    CommentRequired {
        /// The task.
        task: String,
    },
    /// The operation needs an action, and the task has none.
    #[error("cannot {operation} task `{task}`: it has no action")]
    NoAction {
        /// The task.
        task: String,
        /// What was attempted.
        operation: Operation,
    },
    /// Cancel on a task whose action is not cancelable.
    #[error("task `{task}` cannot be cancelled: its action `{action}` is not cancelable")]
    NotCancelable {
        /// The task.
        task: String,
        /// The action.
        action: String,
    },
    /// The integration status does not allow the operation.
    #[error("cannot {operation} task `{task}`: its integration status is {}", status_text(*.status))]
    IntegrationStatusForbids {
        /// The task.
        task: String,
        /// What was attempted.
        operation: Operation,
        /// The integration status.
        status: IntegrationStatus,
    },
    /// A fire outcome names an older fire than the task's current one.
    #[error("fire {fire} of task `{task}` is stale: the current fire is {current}")]
    StaleFire {
        /// The task.
        task: String,
        /// The fire number the outcome carries.
        fire: FireNumber,
        /// The task's current fire number.
        current: FireNumber,
    },
    /// A fire outcome names a fire the task never had.
    #[error("task `{task}` has no fire {fire}: its latest fire is {}", fire_text(*.latest))]
    UnknownFire {
        /// The task.
        task: String,
        /// The fire number the outcome carries.
        fire: FireNumber,
        /// The task's latest fire number (`None` when it never fired).
        latest: Option<FireNumber>,
    },
    /// A fire outcome for a fire that is over (succeeded, failed, cancelled, not sent).
    #[error("fire {fire} of task `{task}` is already over: its integration status is {}", status_text(*.status))]
    FireOver {
        /// The task.
        task: String,
        /// The fire number.
        fire: FireNumber,
        /// The status the fire ended with.
        status: IntegrationStatus,
    },
    /// An outcome that does not fit how the fire was delivered (`not sent` for a sent fire, or the reverse).
    #[error("fire {fire} of task `{task}` was {}: `{outcome}` does not apply", delivery_text(*.delivery))]
    OutcomeMismatch {
        /// The task.
        task: String,
        /// The fire number.
        fire: FireNumber,
        /// How the fire was delivered.
        delivery: Delivery,
        /// The outcome reported.
        outcome: &'static str,
    },
    /// A stored state was written by an incompatible version of this crate.
    #[error("stored runbook state has version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        /// The version found.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// A stored state contradicts itself (for example a task in progress whose predecessor is not done).
    #[error("runbook state is inconsistent: {reason}")]
    Inconsistent {
        /// What is wrong.
        reason: String,
    },
}

fn id_list(ids: &[String]) -> String {
    ids.iter().map(|id| format!("`{id}`")).collect::<Vec<_>>().join(", ")
}

/// The kind of a refusal, which decides how surfaces report it (HTTP status in the reference server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCategory {
    /// Something named does not exist (404).
    NotFound,
    /// The actor lacks a role (403).
    Forbidden,
    /// Not allowed in the current state (409).
    Conflict,
    /// The input itself is invalid: a bad definition, empty required fields, a missing comment (422).
    Invalid,
}

impl RunbookError {
    /// How surfaces should report the error.
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::UnknownTask { .. } => ErrorCategory::NotFound,
            Self::RoleRequired { .. } => ErrorCategory::Forbidden,
            Self::DuplicateTaskId { .. }
            | Self::UnknownPredecessor { .. }
            | Self::UnknownAction { .. }
            | Self::Cycle { .. }
            | Self::InvalidFixedStart { .. }
            | Self::AutoStartWithFixedStart { .. }
            | Self::MissingCustomFields { .. }
            | Self::CommentRequired { .. }
            | Self::UnsupportedVersion { .. }
            | Self::Inconsistent { .. } => ErrorCategory::Invalid,
            Self::RunbookStageForbids { .. }
            | Self::NotStartable { .. }
            | Self::TaskStageForbids { .. }
            | Self::FixedStartNotReached { .. }
            | Self::NoAction { .. }
            | Self::NotCancelable { .. }
            | Self::IntegrationStatusForbids { .. }
            | Self::StaleFire { .. }
            | Self::UnknownFire { .. }
            | Self::FireOver { .. }
            | Self::OutcomeMismatch { .. } => ErrorCategory::Conflict,
        }
    }

    /// A stable snake_case code for API error bodies, such as `task_not_startable`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::DuplicateTaskId { .. } => "duplicate_task_id",
            Self::UnknownPredecessor { .. } => "unknown_predecessor",
            Self::UnknownAction { .. } => "unknown_action",
            Self::Cycle { .. } => "cycle",
            Self::InvalidFixedStart { .. } => "invalid_fixed_start",
            Self::AutoStartWithFixedStart { .. } => "auto_start_with_fixed_start",
            Self::UnknownTask { .. } => "unknown_task",
            Self::RunbookStageForbids { .. } => "runbook_stage_forbids",
            Self::NotStartable { .. } => "task_not_startable",
            Self::TaskStageForbids { .. } => "task_stage_forbids",
            Self::FixedStartNotReached { .. } => "fixed_start_not_reached",
            Self::RoleRequired { .. } => "role_required",
            Self::MissingCustomFields { .. } => "missing_custom_fields",
            Self::CommentRequired { .. } => "comment_required",
            Self::NoAction { .. } => "no_action",
            Self::NotCancelable { .. } => "not_cancelable",
            Self::IntegrationStatusForbids { .. } => "integration_status_forbids",
            Self::StaleFire { .. } => "stale_fire",
            Self::UnknownFire { .. } => "unknown_fire",
            Self::FireOver { .. } => "fire_over",
            Self::OutcomeMismatch { .. } => "outcome_mismatch",
            Self::UnsupportedVersion { .. } => "unsupported_state_version",
            Self::Inconsistent { .. } => "inconsistent_state",
        }
    }
}

fn fire_text(fire: Option<FireNumber>) -> String {
    fire.map_or_else(|| "none".to_owned(), |fire| fire.to_string())
}

fn task_suffix(operation: Operation, task: Option<&str>) -> String {
    let preposition = if operation == Operation::SetCustomFields { " of" } else { "" };
    task.map(|task| format!("{preposition} task `{task}`")).unwrap_or_default()
}

fn gerund(operation: Operation) -> &'static str {
    match operation {
        Operation::ForceFixedStart => "forcing a fixed start",
        Operation::SkipTask => "skipping a task",
        _ => "this operation",
    }
}

fn cycle_text(cycle: &[String]) -> String {
    let mut text = id_list(cycle).replace(", ", " -> ");
    if let Some(first) = cycle.first() {
        text.push_str(&format!(" -> `{first}`"));
    }
    text
}

pub(crate) fn stage_text(stage: RunbookStage) -> &'static str {
    match stage {
        RunbookStage::Planning => "in planning",
        RunbookStage::Active => "active",
        RunbookStage::Paused => "paused",
        RunbookStage::Cancelled => "cancelled",
        RunbookStage::Complete => "complete",
    }
}

pub(crate) fn task_stage_text(stage: TaskStage) -> &'static str {
    match stage {
        TaskStage::NotStartable => "not startable",
        TaskStage::Startable => "startable",
        TaskStage::InProgress => "in progress",
        TaskStage::Complete => "complete",
        TaskStage::Skipped => "skipped",
    }
}

pub(crate) fn status_text(status: IntegrationStatus) -> &'static str {
    match status {
        IntegrationStatus::None => "none",
        IntegrationStatus::Pending => "pending",
        IntegrationStatus::Running => "running",
        IntegrationStatus::Waiting => "waiting",
        IntegrationStatus::Succeeded => "succeeded",
        IntegrationStatus::Failed => "failed",
        IntegrationStatus::Cancelled => "cancelled",
        IntegrationStatus::NotSent => "not_sent",
    }
}

fn delivery_text(delivery: Delivery) -> &'static str {
    match delivery {
        Delivery::Send => "sent",
        Delivery::RecordOnly => "recorded without sending (rehearsal)",
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::StartRunbook => "start the runbook",
            Self::PauseRunbook => "pause the runbook",
            Self::ResumeRunbook => "resume the runbook",
            Self::CancelRunbook => "cancel the runbook",
            Self::StartTask => "start",
            Self::ForceFixedStart => "force the fixed start of",
            Self::FinishTask => "finish",
            Self::SkipTask => "skip",
            Self::CancelTask => "cancel",
            Self::RefireTask => "refire",
            Self::SetCustomFields => "set custom fields",
        })
    }
}
