//! Stages and statuses shared by every surface (contract section 6), and user roles (contract section 5).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a task is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStage {
    /// Some predecessor is neither complete nor skipped.
    NotStartable,
    /// Every predecessor is complete or skipped; the task may start.
    Startable,
    /// Started, not yet finished.
    InProgress,
    /// Finished.
    Complete,
    /// Skipped with a comment; counts as done for its successors.
    Skipped,
}

/// The integration status of a task: what its action's latest fire is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationStatus {
    /// A manual task, or an integration task that has not fired.
    None,
    /// The fire is due and waits for the dispatcher.
    Pending,
    /// A request is in flight.
    Running,
    /// Waiting for a poll condition or a callback.
    Waiting,
    /// The fire succeeded.
    Succeeded,
    /// The fire failed; the task carries the reason.
    Failed,
    /// The fire was cancelled by a user.
    Cancelled,
    /// Rehearsal without `execute_in_rehearsal`: rendered and logged, not sent.
    NotSent,
}

/// The stage of a runbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunbookStage {
    /// Being prepared; nothing runs.
    Planning,
    /// Running in a [`RunMode`].
    Active,
    /// Paused: no auto start happens until resumed.
    Paused,
    /// Cancelled by a user.
    Cancelled,
    /// Every task is complete or skipped.
    Complete,
}

/// How an active runbook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// A rehearsal: actions are sent only when they set `execute_in_rehearsal`.
    Rehearsal,
    /// The real run.
    Live,
}

/// A role a user holds; it decides which API calls the user may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    Admin,
    /// Integrations, actions and system parameters.
    IntegrationsAdmin,
    /// Custom fields.
    CustomFieldsAdmin,
    /// Runbooks, skipping tasks, overriding a fixed start.
    RunbookAdmin,
    /// Starting, finishing, cancelling and refiring tasks.
    Operator,
    /// Reading.
    Viewer,
}
