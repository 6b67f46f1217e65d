//! What goes into the machine: user commands, fire outcomes reported by the engine, and the passing of time.

use crate::FireNumber;
use cutover_integrations_model::{FieldValue, Role, RunMode};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One input to [`RunbookState::apply`](crate::RunbookState::apply).
///
/// Tasks are named by their definition id (`deploy`), as in the API. Fire outcomes name the fire they report on, so a
/// late result of an old fire cannot move a task that was refired since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Start a run: `planning` → `active` in `mode`; startable auto-start tasks start.
    StartRunbook {
        /// Rehearsal or live.
        mode: RunMode,
    },
    /// `active` → `paused`: nothing new starts (auto or manual, nor refires) until resumed; fires in flight go on.
    PauseRunbook,
    /// `paused` → `active`: auto-start tasks that became startable meanwhile start.
    ResumeRunbook,
    /// `planning`, `active` or `paused` → `cancelled`; every fire in flight is cancelled.
    CancelRunbook,
    /// Start a startable task; fires its action when the trigger is `task_start`.
    StartTask {
        /// The task id.
        task: String,
        /// Start before a fixed start time (needs `runbook_admin` or `admin`).
        #[serde(default)]
        force: bool,
    },
    /// Finish a task in progress.
    FinishTask {
        /// The task id.
        task: String,
    },
    /// Skip a task that is not done yet (needs `runbook_admin` or `admin`, and a comment).
    SkipTask {
        /// The task id.
        task: String,
        /// Why; required.
        comment: String,
    },
    /// Cancel the task's fire in flight (needs a cancelable action).
    CancelTask {
        /// The task id.
        task: String,
    },
    /// Fire the task's action again after a `failed` or `cancelled` fire.
    RefireTask {
        /// The task id.
        task: String,
    },
    /// Set custom field values on a task or on the runbook; a waiting auto-start task is looked at again.
    SetCustomFields {
        /// Where the values go.
        target: FieldTarget,
        /// Field name → value; an empty value clears a required field.
        values: BTreeMap<String, FieldValue>,
    },
    /// The engine reports that a fire is under way (request in flight, polling, waiting for a callback).
    FireProgress {
        /// The task id.
        task: String,
        /// The fire reported on.
        fire: FireNumber,
        /// What the fire is doing now.
        status: ProgressStatus,
        /// Custom field values mapped from a response (polling `map`, callback `custom_fields`).
        #[serde(default)]
        custom_fields: BTreeMap<String, FieldValue>,
    },
    /// The engine reports that a fire succeeded.
    FireSucceeded {
        /// The task id.
        task: String,
        /// The fire reported on.
        fire: FireNumber,
        /// Custom field values mapped from the response.
        #[serde(default)]
        custom_fields: BTreeMap<String, FieldValue>,
    },
    /// The engine reports that a fire failed.
    FireFailed {
        /// The task id.
        task: String,
        /// The fire reported on.
        fire: FireNumber,
        /// Why, as shown on the task.
        reason: FailureReason,
    },
    /// The engine reports that a rehearsal fire was rendered and logged without being sent.
    FireNotSent {
        /// The task id.
        task: String,
        /// The fire reported on.
        fire: FireNumber,
    },
    /// Time has passed (usually at a wake-up the machine asked for): fixed start times that arrived are announced.
    TimePassed,
}

/// Where [`Command::SetCustomFields`] puts its values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldTarget {
    /// The runbook's own values, which every task sees unless it sets its own.
    Runbook,
    /// One task, by id.
    Task(String),
}

/// What a fire in flight is doing, as reported by [`Command::FireProgress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressStatus {
    /// A request is in flight.
    Running,
    /// Waiting for a poll condition or a callback.
    Waiting,
}

/// Why a fire failed; its [`Display`](fmt::Display) is the text shown on the task.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FailureReason {
    /// The class of failure.
    pub kind: FailureKind,
    /// Details, such as `dns error: no such host` or `HTTP 500`.
    pub message: String,
}

/// The class of a fire failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The request never got a response (DNS, TCP, TLS, refused address); shown as `Connection failed: …`.
    Connection,
    /// A response came and was judged a failure (status, `failure_when`, `fail_when`).
    Response,
    /// A request, polling or a callback wait ran out of time.
    Timeout,
    /// The request could not be built (template, auth).
    Request,
}

impl FailureReason {
    /// A transport failure, shown as `Connection failed: {message}`.
    pub fn connection(message: impl Into<String>) -> Self {
        Self { kind: FailureKind::Connection, message: message.into() }
    }

    /// A failure of another kind.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FailureKind::Connection => write!(f, "Connection failed: {}", self.message),
            FailureKind::Response | FailureKind::Timeout | FailureKind::Request => f.write_str(&self.message),
        }
    }
}

/// Who sends a command: their roles decide the operations the machine itself guards (forcing a fixed start and
/// skipping need `runbook_admin` or `admin`).
///
/// Other role checks (an `operator` to start or finish, a `viewer` reading) belong to the API layer; the machine does
/// not repeat them, so that the engine's own inputs (fire outcomes, time) need no roles.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The roles held.
    pub roles: BTreeSet<Role>,
}

impl Actor {
    /// The engine itself, reporting fire outcomes and time: no user roles.
    pub fn engine() -> Self {
        Self::default()
    }

    /// A user holding these roles.
    pub fn with_roles(roles: impl IntoIterator<Item = Role>) -> Self {
        Self { roles: roles.into_iter().collect() }
    }

    /// Whether the actor may skip tasks and force fixed starts.
    pub fn is_runbook_admin(&self) -> bool {
        self.roles.contains(&Role::RunbookAdmin) || self.roles.contains(&Role::Admin)
    }
}

/// An operation, as named in refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// [`Command::StartRunbook`].
    StartRunbook,
    /// [`Command::PauseRunbook`].
    PauseRunbook,
    /// [`Command::ResumeRunbook`].
    ResumeRunbook,
    /// [`Command::CancelRunbook`].
    CancelRunbook,
    /// [`Command::StartTask`].
    StartTask,
    /// [`Command::StartTask`] with `force` before the fixed start time.
    ForceFixedStart,
    /// [`Command::FinishTask`].
    FinishTask,
    /// [`Command::SkipTask`].
    SkipTask,
    /// [`Command::CancelTask`].
    CancelTask,
    /// [`Command::RefireTask`].
    RefireTask,
    /// [`Command::SetCustomFields`].
    SetCustomFields,
}
