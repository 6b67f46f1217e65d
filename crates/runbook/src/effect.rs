//! What comes out of the machine: effects the engine carries out and events it passes to listeners.

use crate::FailureReason;
use cutover_integrations_model::{IntegrationStatus, RunMode, RunbookStage, TaskStage};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::num::NonZeroU32;

/// The number of a fire of one task: 1 for the first fire, one more for each refire.
///
/// Idempotency keys derive from it (stable across automatic retries of one fire, new for a refire), and fire outcomes
/// carry it so that results of an old fire are refused. Never 0: a task that has not fired has no fire number
/// (`Option<FireNumber>`, [`TaskState::fire`](crate::TaskState::fire)); 0 in a document is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FireNumber(NonZeroU32);

impl FireNumber {
    /// The number of a task's first fire.
    pub const FIRST: Self = Self(NonZeroU32::MIN);

    /// Fire number `number`; `None` for 0, which no fire has.
    pub const fn new(number: u32) -> Option<Self> {
        match NonZeroU32::new(number) {
            Some(number) => Some(Self(number)),
            None => None,
        }
    }

    /// The number, at least 1.
    pub const fn get(self) -> u32 {
        self.0.get()
    }

    /// The number of the fire after this one (the last number stays: four billion refires of one task do not
    /// happen).
    pub fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }
}

impl fmt::Display for FireNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Whether a fire is sent to the third party.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Render, send, and report the outcome.
    Send,
    /// A rehearsal of an action without `execute_in_rehearsal`: render and log the request, do not send it, then
    /// report [`Command::FireNotSent`](crate::Command::FireNotSent) (or `FireFailed` when rendering fails).
    RecordOnly,
}

/// Something the engine must do for the new state to hold; the store persists effects with the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Fire the task's action; the integration status is `pending` until the engine reports progress or an outcome.
    Fire {
        /// The task id.
        task: String,
        /// The fire number, for outcomes and the idempotency key.
        fire: FireNumber,
        /// Send, or only render and log (rehearsal).
        delivery: Delivery,
    },
    /// Stop a fire: stop polling or waiting for a callback, and with `notify` send the action's cancel message to its
    /// `notify_webhook_on_cancel`.
    CancelFire {
        /// The task id.
        task: String,
        /// The fire to stop.
        fire: FireNumber,
        /// Send the cancel notification.
        notify: bool,
    },
    /// Apply [`Command::TimePassed`](crate::Command::TimePassed) at (or soon after) `at`: the task's fixed start time.
    ScheduleWakeUp {
        /// When.
        at: Timestamp,
        /// The task waiting for that time.
        task: String,
    },
    /// Tell listeners (server-sent events, the CLI's progress).
    Event(Event),
}

/// A change listeners may show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The runbook was created (in planning).
    RunbookCreated,
    /// The runbook moved to another stage.
    RunbookStageChanged {
        /// The stage before.
        from: RunbookStage,
        /// The stage now.
        to: RunbookStage,
        /// The run mode, once a run started.
        mode: Option<RunMode>,
    },
    /// A task moved to another stage.
    TaskStageChanged {
        /// The task id.
        task: String,
        /// The stage before.
        from: TaskStage,
        /// The stage now.
        to: TaskStage,
    },
    /// A task's integration status changed.
    IntegrationStatusChanged {
        /// The task id.
        task: String,
        /// The fire concerned.
        fire: FireNumber,
        /// The status now.
        status: IntegrationStatus,
        /// Why it failed, when `failed`.
        reason: Option<FailureReason>,
    },
    /// A startable task waits before it can start, or waits for another reason than before.
    TaskWaiting {
        /// The task id.
        task: String,
        /// Why.
        reason: WaitReason,
    },
    /// A startable task no longer waits (its fixed start time arrived, or its fields were filled).
    TaskReady {
        /// The task id.
        task: String,
    },
    /// Tasks the runbook's creation made, listed right after its `runbook_created` in bounded parts (a large runbook's
    /// list is split, so no logged event grows with the runbook).
    TasksCreated {
        /// The task ids, in plan order.
        tasks: Vec<String>,
    },
    /// A task was added to the runbook while it was planned.
    TaskAdded {
        /// The task id.
        task: String,
    },
    /// A task's definition was changed while the runbook was planned.
    TaskEdited {
        /// The task id.
        task: String,
    },
    /// A task was removed from the runbook while it was planned.
    TaskRemoved {
        /// The task id.
        task: String,
    },
    /// Custom field values changed.
    CustomFieldsChanged {
        /// The task id, or `None` for the runbook's own values.
        task: Option<String>,
        /// The names of the fields set.
        fields: Vec<String>,
    },
}

/// Why a startable task has not started; shown to users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum WaitReason {
    /// An auto-start task waits because the runbook is in planning or paused.
    RunbookNotActive,
    /// An auto-start task waits for required custom fields to be filled.
    MissingCustomFields {
        /// The empty required fields.
        fields: Vec<String>,
    },
    /// A task with a fixed start time waits for it (live runs).
    FixedStart {
        /// The fixed start time.
        at: Timestamp,
    },
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RunbookNotActive => f.write_str("waiting for the runbook to be active"),
            Self::MissingCustomFields { fields } => {
                let names: Vec<String> = fields.iter().map(|name| format!("`{name}`")).collect();
                write!(f, "waiting for required custom fields: {}", names.join(", "))
            }
            Self::FixedStart { at } => write!(f, "fixed start at {at}"),
        }
    }
}
