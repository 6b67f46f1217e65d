//! The runbook state machine: pure, with no I/O, no clock reads and no async.
//!
//! # Why pure
//!
//! Commands and events go in (start, finish, skip, cancel, refire a task; fire progress and outcomes; time passed;
//! start, pause, resume, cancel the runbook) and out come the new state plus [`Effect`]s for the engine to carry out
//! (fire an action, cancel a fire and notify, schedule a wake-up, emit an event for listeners). Nothing here sends a
//! request or reads a clock: time comes in with each command. So every transition is testable with tables and property
//! tests, and the store can persist the state and its effects in one transaction.
//!
//! # Shape
//!
//! - [`RunbookPlan::build`] turns a [`model::Runbook`](cutover_integrations_model::Runbook), the actions it references
//!   (an [`ActionCatalog`]) and the custom field definitions into what the machine needs per task: whether it fires on
//!   start, effective auto start (task or action), fixed start instant, cancelable, notify on cancel, finish on
//!   success, execute in rehearsal, required fields. Tasks get dense indexes, predecessor and successor lists.
//! - [`RunbookState::new`] holds the plan and the run; [`RunbookState::apply`] takes a [`Command`], the [`Actor`] and
//!   `now`, and returns effects or a [`RunbookError`]. A refused command leaves the state unchanged (validate, then
//!   mutate). Per task a counter of pending predecessors makes finishing or skipping cost O(successors).
//!
//! # Rules (contract section 6, with the choices made where it is silent)
//!
//! - Task stages `not_startable` → `startable` (every predecessor complete or skipped) → `in_progress` → `complete`;
//!   `skipped` from any stage but done, by a `runbook_admin` or `admin`, with a comment. Skipping or finishing a task
//!   whose fire is under way leaves the fire running; its outcome still updates the integration status.
//! - Runbook stages `planning` → `active` (mode `rehearsal` or `live`) ⇄ `paused`; `complete` when every task is
//!   complete or skipped; `cancelled` from planning, active or paused. A second run needs
//!   [`RunbookState::duplicate`], which starts over in planning and drops transient custom field values.
//! - Starting a task (by hand or auto start) needs an `active` runbook: `paused` stops every new start and refire,
//!   while finishing, skipping, cancelling, setting fields and fire outcomes go on.
//! - Auto start: a startable auto-start task starts at once; while the runbook is not active, or required fields are
//!   empty, it waits with a visible [`WaitReason`] and starts when resumed or when the fields are filled.
//! - Fixed start: applies to live runs (as in Cutover; rehearsals happen before the date). A start before the time is
//!   refused unless forced by a `runbook_admin` or `admin`; a task that becomes startable before its time emits
//!   [`Effect::ScheduleWakeUp`] and waits; [`Command::TimePassed`] at that time announces it ready. Fixed start and
//!   auto start together are refused when the plan is built.
//! - Starting a task whose action fires on `task_start` emits [`Effect::Fire`] with fire number 1; a refire (after
//!   `failed` or `cancelled` only, on a task in progress) emits the next number. In a rehearsal an action without
//!   `execute_in_rehearsal` fires with [`Delivery::RecordOnly`]: the engine renders and logs, then reports
//!   [`Command::FireNotSent`] and the status becomes `not_sent`. With `finish_task_on_success`, `succeeded` and
//!   `not_sent` complete the task, so a rehearsal walks the path of a successful live run.
//! - Outcomes carry the fire number: an older fire's outcome is refused ([`RunbookError::StaleFire`]), and so is an
//!   outcome for a fire already over. Progress and success may carry custom field values mapped from responses: fields
//!   defined at runbook level go to the runbook, others to the task.
//! - Cancel needs a cancelable action and a fire under way; it emits [`Effect::CancelFire`] (stop polling or waiting,
//!   and `notify` when the action has a cancel webhook and the fire was sent). Cancelling the runbook cancels every
//!   fire under way.
//! - The machine checks the roles it owns (forcing a fixed start, skipping); the API layer checks the others, and
//!   validates custom field names and values against their definitions before setting them.
//! - Refusals name the task and the reason (``task `deploy` is not startable: waiting for `announce` ``); each has a
//!   stable [`code`](RunbookError::code) and an [`ErrorCategory`] (not found, forbidden, conflict, invalid) that
//!   surfaces map to HTTP 404, 403, 409 and 422.
//! - `runbook_update` actions ("On Runbook Update") fire on runbook updates, not when their task starts. An update is
//!   the run starting or resuming (a stage change into `active`), or a user's change of runbook-level custom field
//!   values that differ from the current ones. Values mapped from a fire's response never count, so no action fires
//!   on its own (or another's) writes. A field change concerns an action when the action watches a changed field: the
//!   runbook-level fields its templates read, or every runbook-level field when they read none
//!   ([`WatchedFields`]). Every task of a concerned action fires (a new fire, with its own number and key, logged in
//!   the actions log like any fire), whatever the task's stage, except skipped tasks, and only while the runbook is
//!   `active`: updates made in planning, paused or after the end fire nothing (a resume is an update itself). One
//!   update is one fire per task; updates that arrive while the task's fire is under way are sent as one more fire
//!   when it ends; cancelling the fire drops them.
//!
//! # Persistence
//!
//! [`RunbookState`] serialises (serde) to one document with `version` ([`STATE_VERSION`]); loading rebuilds the
//! derived counters and refuses a state that contradicts itself ([`RunbookState::check_consistency`]).

mod command;
mod effect;
mod error;
mod machine;
mod plan;
mod state;

pub use command::{Actor, Command, FailureKind, FailureReason, FieldTarget, Operation, ProgressStatus};
pub use effect::{Delivery, Effect, Event, FireNumber, WaitReason};
pub use error::{ErrorCategory, RunbookError};
pub use plan::{ActionCatalog, ActionPlan, RunbookPlan, TaskPlan, WatchedFields};
pub use state::{RunbookState, STATE_VERSION, StateHeader, TaskState, TaskView};
