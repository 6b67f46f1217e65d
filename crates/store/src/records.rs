//! The records the store reads and writes, and the [`Commit`] that changes several of them at once.

use crate::StoreError;
use cutover_integrations_model::{Action, Integration, Role};
use cutover_integrations_runbook::FireNumber;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Unix time in milliseconds.
pub type Millis = i64;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// The id of a stored integration.
    IntegrationId
);
id_type!(
    /// The id of a stored action.
    ActionId
);
id_type!(
    /// The id of a stored runbook.
    RunbookId
);
id_type!(
    /// The id of a fire: one execution of a task's action.
    FireId
);
id_type!(
    /// The id of a durable timer.
    TimerId
);
id_type!(
    /// The id of a user.
    UserId
);

/// A stored integration: the definition (with actions and custom fields) and the ids the store gave them.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationRecord {
    /// Its id.
    pub id: IntegrationId,
    /// The definition; `archived` reflects the stored flag.
    pub integration: Integration,
    /// Action ids in the order of `integration.actions`.
    pub action_ids: Vec<ActionId>,
    /// Its version: every change of the integration or of one of its actions increases it (the store's triggers
    /// keep it). Never newer than the rest of the record, which may be read a moment later.
    pub version: i64,
}

/// A stored action.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRecord {
    /// Its id.
    pub id: ActionId,
    /// The integration it belongs to.
    pub integration_id: IntegrationId,
    /// The integration's name.
    pub integration_name: String,
    /// Whether the integration is archived.
    pub archived: bool,
    /// The definition, secrets opened.
    pub action: Action,
    /// The version of its integration (see [`IntegrationRecord::version`]), which every change of the action moves.
    pub integration_version: i64,
}

/// What applying an integration definition changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedDefinition {
    /// The integration's id.
    pub integration_id: IntegrationId,
    /// Whether the integration was created (false: updated).
    pub created: bool,
    /// Actions created, by name.
    pub actions_created: Vec<String>,
    /// Actions updated, by name.
    pub actions_updated: Vec<String>,
    /// Custom fields created or replaced, by name.
    pub custom_fields: Vec<String>,
}

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    /// Display name.
    pub name: String,
    /// Unique email.
    pub email: String,
    /// Roles.
    pub roles: Vec<Role>,
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Display name.
    pub name: String,
    /// Unique email.
    pub email: String,
    /// Roles.
    pub roles: Vec<Role>,
}

/// A stored runbook, or what changed in it since a version its reader knows.
///
/// The state is kept in parts (see [`Store::create_runbook`](crate::Store::create_runbook)): the run-level `state`
/// and one row per task, so that a step writes only the tasks it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookRecord {
    /// Its id.
    pub id: RunbookId,
    /// Its name.
    pub name: String,
    /// The definition document, as JSON; `None` in a record of changes when the definition did not change.
    pub definition: Option<String>,
    /// The run-level state, as JSON.
    pub state: String,
    /// Task states by position: every task, or in a record of changes the tasks written since the known version.
    /// Ascending by position.
    pub tasks: Vec<TaskRow>,
    /// Incremented by every write; writers say which version they read.
    pub version: i64,
}

/// One task's state in a runbook, by its position in the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    /// The task's position in the plan (0 for the first).
    pub position: u32,
    /// The task's state, as JSON.
    pub state: String,
}

/// A runbook to create, for [`Store::create_runbook`](crate::Store::create_runbook).
#[derive(Debug, Clone, Copy)]
pub struct NewRunbook<'a> {
    /// The name.
    pub name: &'a str,
    /// The definition document, as JSON.
    pub definition: &'a str,
    /// The run-level state, as JSON.
    pub state: &'a str,
    /// Every task's state (JSON objects), in plan order.
    pub tasks: &'a [String],
    /// The events the write makes (`runbook_created`, a planning change), each a JSON object: they are appended to
    /// the durable log in the same transaction, with the runbook's id added as `runbook`, so that the runbook never
    /// exists (or changes) without them.
    pub events: &'a [String],
}

/// What [`Store::create_runbook`](crate::Store::create_runbook) and
/// [`Store::replace_runbook`](crate::Store::replace_runbook) wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenRunbook {
    /// The runbook.
    pub id: RunbookId,
    /// Its version now.
    pub version: i64,
    /// The ids its events were given in the log, in the order of [`NewRunbook::events`].
    pub event_ids: Vec<i64>,
}

/// A runbook's new name, definition, run-level state and task states (editing a runbook being planned), for
/// [`Store::replace_runbook`](crate::Store::replace_runbook).
pub type ReplacedRunbook<'a> = NewRunbook<'a>;

/// A runbook in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookSummary {
    /// Its id.
    pub id: RunbookId,
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: i64,
}

/// The lifecycle of a fire row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FireStatus {
    /// To be run by a dispatcher at `due_at` (first send, retry, next poll).
    Due,
    /// Waiting for a callback; `due_at` is the deadline at which a dispatcher times it out.
    Waiting,
    /// Finished: succeeded, failed, cancelled or not sent. Never claimed again.
    Done,
}

impl FireStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Due => "due",
            Self::Waiting => "waiting",
            Self::Done => "done",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "due" => Some(Self::Due),
            "waiting" => Some(Self::Waiting),
            "done" => Some(Self::Done),
            _ => None,
        }
    }
}

/// Which fire of its task a fire row is: a fire of the task's action, or the cancel notice of one.
///
/// Stored in the `fire_number` column as the number, negated for a cancel notice (`-2` is the notice of fire 2);
/// [`FireKind::from_stored`] reads it back and refuses 0 and numbers out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FireKind {
    /// The task's fire of this number (1 for the first fire, one more per refire).
    Action(FireNumber),
    /// The cancel message sent for the task's fire of this number.
    CancelNotice(FireNumber),
}

impl FireKind {
    /// The fire number of the action fire this row is, or is the cancel notice of.
    pub fn number(self) -> FireNumber {
        match self {
            Self::Action(number) | Self::CancelNotice(number) => number,
        }
    }

    /// The number, if this row is a fire of the task's action.
    pub fn action(self) -> Option<FireNumber> {
        match self {
            Self::Action(number) => Some(number),
            Self::CancelNotice(_) => None,
        }
    }

    /// The stored form: the number, negated for a cancel notice.
    pub fn to_stored(self) -> i64 {
        match self {
            Self::Action(number) => i64::from(number.get()),
            Self::CancelNotice(number) => -i64::from(number.get()),
        }
    }

    /// Reads the stored form back; 0 (no fire has it) and numbers beyond `u32` are corrupt rows.
    pub fn from_stored(stored: i64) -> Result<Self, StoreError> {
        let corrupt = || StoreError::Corrupt { what: "fire", reason: format!("fire number {stored} is not a fire's") };
        let number = u32::try_from(stored.unsigned_abs()).ok().and_then(FireNumber::new).ok_or_else(corrupt)?;
        Ok(if stored > 0 { Self::Action(number) } else { Self::CancelNotice(number) })
    }
}

/// A stored fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FireRecord {
    /// Its id.
    pub id: FireId,
    /// The runbook.
    pub runbook_id: RunbookId,
    /// The task id within the runbook.
    pub task_id: String,
    /// Which fire of the task it is.
    pub kind: FireKind,
    /// Sent with every request of this fire, across retries and re-sends after a crash.
    pub idempotency_key: String,
    /// Where the fire is.
    pub status: FireStatus,
    /// The executor's state, as JSON.
    pub state: String,
    /// When a dispatcher should pick it up next.
    pub due_at: Millis,
    /// The engine holding the lease, if any.
    pub lease_owner: Option<String>,
    /// When the lease ends.
    pub lease_until: Option<Millis>,
    /// SHA-256 hex of the callback token, for callback fires.
    pub callback_token_hash: Option<String>,
}

/// A fire to create inside a [`Commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFire {
    /// The task id within the committed runbook (or `runbook_id`).
    pub task_id: String,
    /// The runbook; the commit's runbook when `None`.
    pub runbook_id: Option<RunbookId>,
    /// Which fire of the task it is.
    pub kind: FireKind,
    /// Its idempotency key (unique).
    pub idempotency_key: String,
    /// Initial status.
    pub status: FireStatus,
    /// The executor's initial state, as JSON.
    pub state: String,
    /// When it is due.
    pub due_at: Millis,
    /// Lease it at once to this engine until this time (the engine runs it without a claim round trip).
    pub lease: Option<(String, Millis)>,
    /// SHA-256 hex of its callback token.
    pub callback_token_hash: Option<String>,
}

/// What must hold for a fire update to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FireGuard {
    /// The named engine still holds the lease.
    Lease(String),
    /// The fire is in this status and not leased by anyone (a callback arriving while the fire waits).
    Status(FireStatus),
}

/// A change of one fire inside a [`Commit`]. The lease is released unless `lease` says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FireUpdate {
    /// The fire.
    pub id: FireId,
    /// What must hold.
    pub guard: FireGuard,
    /// New status.
    pub status: FireStatus,
    /// New executor state, as JSON.
    pub state: String,
    /// Next due time.
    pub due_at: Millis,
    /// Keep (or take) the lease until this time.
    pub lease: Option<(String, Millis)>,
}

/// A new version of a runbook's state inside a [`Commit`]: the run-level state and the tasks that changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookWrite {
    /// The runbook.
    pub id: RunbookId,
    /// The version the writer read; the write fails if it changed.
    pub expected_version: i64,
    /// The new run-level state, as JSON.
    pub state: String,
    /// The tasks whose state changed, with their new state (each a JSON object).
    pub tasks: Vec<TaskRow>,
}

/// A durable timer to create: a wake-up for a runbook (fixed start times and the like).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTimer {
    /// The runbook.
    pub runbook_id: RunbookId,
    /// The task, if the timer concerns one.
    pub task_id: Option<String>,
    /// What the timer is for, for example `fixed_start`.
    pub kind: String,
    /// When it fires.
    pub due_at: Millis,
}

/// A stored timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerRecord {
    /// Its id.
    pub id: TimerId,
    /// The runbook.
    pub runbook_id: RunbookId,
    /// The task, if any.
    pub task_id: Option<String>,
    /// What it is for.
    pub kind: String,
    /// When it fires.
    pub due_at: Millis,
}

/// The fire an actions log record of a [`Commit`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFire {
    /// A stored fire.
    Stored(FireId),
    /// The fire of [`Commit::new_fires`] at this index, created by the same commit.
    New(usize),
}

/// An actions log record to append with a [`Commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogRecord {
    /// The fire.
    pub fire: LogFire,
    /// The record (its shape belongs to the HTTP executor), secrets already redacted.
    pub record: String,
    /// When it was written.
    pub created_at: Millis,
}

/// An actions log record of a fire, as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// The fire.
    pub fire_id: FireId,
    /// The record (its shape belongs to the HTTP executor), secrets already redacted.
    pub record: String,
    /// When it was written.
    pub created_at: Millis,
}

/// Changes written in one transaction by [`crate::Store::commit`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commit {
    /// The new runbook state, if it changed.
    pub runbook: Option<RunbookWrite>,
    /// Fires to create.
    pub new_fires: Vec<NewFire>,
    /// Fires to update.
    pub fire_updates: Vec<FireUpdate>,
    /// Actions log records to append, of stored fires or of fires of `new_fires`.
    pub log_records: Vec<NewLogRecord>,
    /// Timers to create.
    pub new_timers: Vec<NewTimer>,
    /// Timers to delete (fired or no longer needed).
    pub deleted_timers: Vec<TimerId>,
    /// Events to append to the durable event log, in order, numbered in the same transaction (so that no committed
    /// change loses its events to a crash, and ids follow commit order).
    pub events: Vec<NewEvent>,
    /// Now, for `updated_at` columns.
    pub now: Millis,
}

/// An event to append to the durable log with a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The runbook it concerns.
    pub runbook_id: RunbookId,
    /// The event as JSON.
    pub body: String,
}

/// What [`crate::Store::commit`] and [`crate::Store::commit_runbook`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Committed {
    /// The ids of the fires created, in the order of [`Commit::new_fires`].
    pub fire_ids: Vec<FireId>,
    /// The ids of the timers created, in the order of [`Commit::new_timers`].
    pub timer_ids: Vec<TimerId>,
    /// The runbook's version after the commit, when it wrote one.
    pub runbook_version: Option<i64>,
    /// The ids the commit's events were given, in the order of [`Commit::events`].
    pub event_ids: Vec<i64>,
}

/// Builds the commit to write instead when a runbook changed since its writer read it: given what changed in the
/// runbook since the commit's expected version (read, and locked, inside the committing transaction: the run-level
/// state, the definition if it changed, and the tasks written since that version or written by the commit), returns
/// the commit to write, or `None` to write nothing.
pub type RebuildCommit<'a> = dyn FnMut(&RunbookRecord) -> Option<Commit> + Send + 'a;

/// A claim of due work by one engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    /// The engine's name; leases are held in it.
    pub owner: String,
    /// Now.
    pub now: Millis,
    /// The lease ends at this time unless renewed.
    pub lease_until: Millis,
    /// At most this many rows.
    pub limit: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fire row's kind round-trips through its stored number; 0 and numbers beyond `u32` are refused by name.
    #[test]
    fn fire_kinds_are_stored_as_signed_numbers_and_read_back() {
        let number = |number: u32| FireNumber::new(number).expect("not 0");
        let check = |stored: i64, expected: Option<FireKind>| {
            let read = FireKind::from_stored(stored);
            match (&read, expected) {
                (Ok(kind), Some(expected)) => {
                    assert_eq!(*kind, expected, "{stored}");
                    assert_eq!(kind.to_stored(), stored, "{stored} round trip");
                }
                (Err(StoreError::Corrupt { what: "fire", reason }), None) => {
                    assert_eq!(reason, &format!("fire number {stored} is not a fire's"));
                }
                _ => panic!("{stored}: {read:?}"),
            }
        };
        check(1, Some(FireKind::Action(number(1))));
        check(7, Some(FireKind::Action(number(7))));
        check(-2, Some(FireKind::CancelNotice(number(2))));
        check(i64::from(u32::MAX), Some(FireKind::Action(number(u32::MAX))));
        check(-i64::from(u32::MAX), Some(FireKind::CancelNotice(number(u32::MAX))));
        check(0, None);
        check(i64::from(u32::MAX) + 1, None);
        check(-i64::from(u32::MAX) - 1, None);
        check(i64::MIN, None);
        assert_eq!(FireKind::CancelNotice(number(3)).number(), number(3));
        assert_eq!(FireKind::CancelNotice(number(3)).action(), None);
        assert_eq!(FireKind::Action(number(3)).action(), Some(number(3)));
    }
}
