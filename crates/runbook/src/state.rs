//! The state of a runbook and its tasks, how it is read, serialised, loaded and checked for consistency.

use crate::{Delivery, FailureReason, FireNumber, RunbookError, RunbookPlan, TaskPlan, WaitReason};
use cutover_integrations_model::{FieldValue, IntegrationStatus, RunMode, RunbookStage, TaskStage};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The version of the serialised state this build reads and writes.
pub const STATE_VERSION: u32 = 1;

/// A runbook's plan and the state of its run; [`apply`](RunbookState::apply) moves it.
///
/// Serialises to one self-contained document with a `version` field. Counters and indexes derived from the tasks
/// (pending predecessors, done count, waiting sets, timers) are not stored: loading rebuilds them and checks the
/// whole state for consistency.
///
/// A store may also keep it in parts, so that a step writes only what it changed: the run-level [`StateHeader`], one
/// [`TaskState`] per task, and the plan (which never changes) once. [`RunbookState::take_changed_tasks`] says which
/// tasks changed since it was last asked, and [`RunbookState::from_parts`] puts the parts together again. The plan is
/// shared (`Arc`), so a copy of a state does not copy it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StateRecord")]
pub struct RunbookState {
    pub(crate) version: u32,
    #[serde(serialize_with = "serialize_plan")]
    pub(crate) plan: Arc<RunbookPlan>,
    pub(crate) stage: RunbookStage,
    pub(crate) mode: Option<RunMode>,
    pub(crate) custom_fields: BTreeMap<String, FieldValue>,
    pub(crate) tasks: Tasks,
    pub(crate) started_at: Option<Timestamp>,
    pub(crate) ended_at: Option<Timestamp>,
    #[serde(skip)]
    pub(crate) derived: Derived,
}

fn serialize_plan<S: serde::Serializer>(plan: &Arc<RunbookPlan>, serializer: S) -> Result<S::Ok, S::Error> {
    plan.as_ref().serialize(serializer)
}

/// Indexes derived from the tasks, maintained incrementally by the machine and rebuilt on load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Derived {
    /// Per task, the number of predecessors neither complete nor skipped.
    pub(crate) pending: Vec<u32>,
    /// The number of tasks complete or skipped.
    pub(crate) done: u32,
    /// Startable auto-start tasks waiting for required custom fields.
    pub(crate) waiting_for_fields: BTreeSet<u32>,
    /// Startable tasks waiting for their fixed start time, by time.
    pub(crate) timers: BTreeSet<(Timestamp, u32)>,
}

/// The task states, in plan order, with the positions changed since [`RunbookState::take_changed_tasks`] last ran:
/// every mutable access (`tasks[i].stage = …`) records its position, so the machine needs no bookkeeping of its own.
/// Compares and serialises as the list of states alone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tasks {
    states: Vec<TaskState>,
    changed: Vec<u32>,
}

impl Tasks {
    fn new(states: Vec<TaskState>) -> Self {
        Self { states, changed: Vec::new() }
    }

    pub(crate) fn len(&self) -> usize {
        self.states.len()
    }

    pub(crate) fn iter(&self) -> std::slice::Iter<'_, TaskState> {
        self.states.iter()
    }
}

impl std::ops::Index<usize> for Tasks {
    type Output = TaskState;

    fn index(&self, index: usize) -> &TaskState {
        &self.states[index]
    }
}

impl std::ops::IndexMut<usize> for Tasks {
    fn index_mut(&mut self, index: usize) -> &mut TaskState {
        if self.changed.last() != Some(&(index as u32)) {
            self.changed.push(index as u32);
        }
        &mut self.states[index]
    }
}

impl<'a> IntoIterator for &'a Tasks {
    type Item = &'a TaskState;
    type IntoIter = std::slice::Iter<'a, TaskState>;

    fn into_iter(self) -> Self::IntoIter {
        self.states.iter()
    }
}

impl PartialEq for Tasks {
    fn eq(&self, other: &Self) -> bool {
        self.states == other.states
    }
}

impl Serialize for Tasks {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.states.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Tasks {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::deserialize(deserializer).map(Self::new)
    }
}

/// The run-level part of a [`RunbookState`]: everything but the plan and the tasks. Small; a store rewrites it with
/// every step, beside the tasks that changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateHeader {
    /// The version of the state format ([`STATE_VERSION`]).
    pub version: u32,
    /// The runbook's stage.
    pub stage: RunbookStage,
    /// The run mode, once a run started.
    pub mode: Option<RunMode>,
    /// The runbook's own custom field values.
    #[serde(default)]
    pub custom_fields: BTreeMap<String, FieldValue>,
    /// When the run started.
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    /// When the run completed or was cancelled.
    #[serde(default)]
    pub ended_at: Option<Timestamp>,
}

/// The state of one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskState {
    pub(crate) stage: TaskStage,
    pub(crate) status: IntegrationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) failure: Option<FailureReason>,
    /// The latest fire's number, `None` before the first fire. Absent when `None`; 0 in documents written before
    /// the number said "no fire yet" by its absence.
    #[serde(default, deserialize_with = "fire_or_none", skip_serializing_if = "Option::is_none")]
    pub(crate) fire: Option<FireNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) delivery: Option<Delivery>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) waiting: Option<WaitReason>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) custom_fields: BTreeMap<String, FieldValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) skip_comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) started_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ended_at: Option<Timestamp>,
    /// A runbook update arrived while the task's `runbook_update` fire was under way: fire once more when it ends.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) update_pending: bool,
}

impl TaskState {
    /// The stage.
    pub fn stage(&self) -> TaskStage {
        self.stage
    }

    /// The integration status of the latest fire.
    pub fn integration_status(&self) -> IntegrationStatus {
        self.status
    }

    /// Why the latest fire failed, when its status is `failed`.
    pub fn failure(&self) -> Option<&FailureReason> {
        self.failure.as_ref()
    }

    /// The latest fire's number; `None` before the first fire.
    pub fn fire(&self) -> Option<FireNumber> {
        self.fire
    }

    /// How many times the task fired: its latest fire's number, 0 before the first fire.
    pub fn fire_count(&self) -> u32 {
        self.fire.map_or(0, FireNumber::get)
    }

    /// The number of the fire under way (`pending`, `running` or `waiting`), if one is.
    pub fn active_fire(&self) -> Option<FireNumber> {
        self.fire.filter(|_| self.has_active_fire())
    }

    /// How the latest fire was delivered.
    pub fn delivery(&self) -> Option<Delivery> {
        self.delivery
    }

    /// Why a startable task has not started, shown to users.
    pub fn waiting(&self) -> Option<&WaitReason> {
        self.waiting.as_ref()
    }

    /// The task's own custom field values (the runbook's apply where it sets none).
    pub fn custom_fields(&self) -> &BTreeMap<String, FieldValue> {
        &self.custom_fields
    }

    /// The comment given when the task was skipped.
    pub fn skip_comment(&self) -> Option<&str> {
        self.skip_comment.as_deref()
    }

    /// When the task started.
    pub fn started_at(&self) -> Option<Timestamp> {
        self.started_at
    }

    /// When the task was finished or skipped.
    pub fn ended_at(&self) -> Option<Timestamp> {
        self.ended_at
    }

    /// Whether a fire is under way (`pending`, `running` or `waiting`).
    pub fn has_active_fire(&self) -> bool {
        is_active(self.status)
    }

    /// Whether the task is complete or skipped.
    pub fn is_done(&self) -> bool {
        is_done(self.stage)
    }
}

/// A task's plan and state together.
#[derive(Debug, Clone, Copy)]
pub struct TaskView<'a> {
    /// What the task is.
    pub plan: &'a TaskPlan,
    /// Where it is.
    pub state: &'a TaskState,
}

/// Reads a task's fire number: absent, null or 0 (what documents wrote before "no fire yet" was an absence) is none.
fn fire_or_none<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<FireNumber>, D::Error> {
    Ok(Option::<u32>::deserialize(deserializer)?.and_then(FireNumber::new))
}

pub(crate) fn is_active(status: IntegrationStatus) -> bool {
    matches!(status, IntegrationStatus::Pending | IntegrationStatus::Running | IntegrationStatus::Waiting)
}

pub(crate) fn is_done(stage: TaskStage) -> bool {
    matches!(stage, TaskStage::Complete | TaskStage::Skipped)
}

impl RunbookState {
    /// A runbook in `planning`, with the values of its definition.
    pub fn new(plan: RunbookPlan) -> Self {
        let tasks = plan
            .tasks()
            .iter()
            .map(|task| TaskState {
                stage: if task.predecessors.is_empty() { TaskStage::Startable } else { TaskStage::NotStartable },
                status: IntegrationStatus::None,
                failure: None,
                fire: None,
                delivery: None,
                waiting: (task.auto_start && task.predecessors.is_empty()).then_some(WaitReason::RunbookNotActive),
                custom_fields: task.custom_fields.clone(),
                skip_comment: None,
                started_at: None,
                ended_at: None,
                update_pending: false,
            })
            .collect();
        let mut state = Self {
            version: STATE_VERSION,
            custom_fields: plan.custom_fields().clone(),
            plan: Arc::new(plan),
            stage: RunbookStage::Planning,
            mode: None,
            tasks: Tasks::new(tasks),
            started_at: None,
            ended_at: None,
            derived: Derived::default(),
        };
        state.derived = state.derive();
        state
    }

    /// The version of the state format.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The plan.
    pub fn plan(&self) -> &RunbookPlan {
        &self.plan
    }

    /// The plan, shared: a state put together from parts ([`RunbookState::from_parts`]) can reuse it.
    pub fn shared_plan(&self) -> &Arc<RunbookPlan> {
        &self.plan
    }

    /// The run-level part of the state (see [`StateHeader`]).
    pub fn header(&self) -> StateHeader {
        StateHeader {
            version: self.version,
            stage: self.stage,
            mode: self.mode,
            custom_fields: self.custom_fields.clone(),
            started_at: self.started_at,
            ended_at: self.ended_at,
        }
    }

    /// Every task's state, in plan order.
    pub fn task_states(&self) -> &[TaskState] {
        &self.tasks.states
    }

    /// The positions (in plan order) of the tasks whose state may have changed since the last call, ascending and
    /// without repeats; the record starts empty. A step's changes are these tasks and the [`StateHeader`].
    pub fn take_changed_tasks(&mut self) -> Vec<u32> {
        let mut changed = std::mem::take(&mut self.tasks.changed);
        changed.sort_unstable();
        changed.dedup();
        changed
    }

    /// A state from its parts: the plan, the run-level header and every task's state in plan order. Rebuilds the
    /// derived indexes and checks consistency, as loading a whole document does.
    ///
    /// # Errors
    ///
    /// [`RunbookError::UnsupportedVersion`] or [`RunbookError::Inconsistent`] (also when the number of tasks is not
    /// the plan's).
    pub fn from_parts(
        plan: Arc<RunbookPlan>,
        header: StateHeader,
        tasks: Vec<TaskState>,
    ) -> Result<Self, RunbookError> {
        Self::assemble(plan, header, tasks)
    }

    /// This state with some parts replaced by newer ones (the header, and the tasks at the given positions), as
    /// another writer left them. Rebuilds the derived indexes and checks consistency.
    ///
    /// # Errors
    ///
    /// As [`RunbookState::from_parts`], and [`RunbookError::Inconsistent`] for a position outside the plan.
    pub fn with_parts_replaced(
        &self,
        header: StateHeader,
        tasks: impl IntoIterator<Item = (u32, TaskState)>,
    ) -> Result<Self, RunbookError> {
        let mut states = self.tasks.states.clone();
        for (position, task) in tasks {
            let Some(slot) = states.get_mut(position as usize) else {
                return Err(RunbookError::Inconsistent {
                    reason: format!("task position {position} of {} tasks", states.len()),
                });
            };
            *slot = task;
        }
        Self::assemble(self.plan.clone(), header, states)
    }

    fn assemble(plan: Arc<RunbookPlan>, header: StateHeader, tasks: Vec<TaskState>) -> Result<Self, RunbookError> {
        if header.version != STATE_VERSION {
            return Err(RunbookError::UnsupportedVersion { found: header.version, supported: STATE_VERSION });
        }
        if tasks.len() != plan.tasks().len() {
            let reason = format!("{} task states for {} planned tasks", tasks.len(), plan.tasks().len());
            return Err(RunbookError::Inconsistent { reason });
        }
        let mut state = Self {
            version: header.version,
            plan,
            stage: header.stage,
            mode: header.mode,
            custom_fields: header.custom_fields,
            tasks: Tasks::new(tasks),
            started_at: header.started_at,
            ended_at: header.ended_at,
            derived: Derived::default(),
        };
        state.derived = state.derive();
        state.check_consistency()?;
        Ok(state)
    }

    /// The runbook's stage.
    pub fn stage(&self) -> RunbookStage {
        self.stage
    }

    /// The run mode, once a run started.
    pub fn mode(&self) -> Option<RunMode> {
        self.mode
    }

    /// When the run started.
    pub fn started_at(&self) -> Option<Timestamp> {
        self.started_at
    }

    /// When the run completed or was cancelled.
    pub fn ended_at(&self) -> Option<Timestamp> {
        self.ended_at
    }

    /// The runbook's own custom field values.
    pub fn custom_fields(&self) -> &BTreeMap<String, FieldValue> {
        &self.custom_fields
    }

    /// The task with this id.
    pub fn task(&self, id: &str) -> Option<TaskView<'_>> {
        let index = self.plan.index_of(id)?;
        Some(self.view(index))
    }

    /// Every task, in definition order.
    pub fn tasks(&self) -> impl ExactSizeIterator<Item = TaskView<'_>> {
        self.plan.tasks().iter().zip(&self.tasks).map(|(plan, state)| TaskView { plan, state })
    }

    /// The number of tasks complete or skipped.
    pub fn done_count(&self) -> usize {
        self.derived.done as usize
    }

    /// The custom field values a task's templates see: the task's values over the runbook's.
    pub fn effective_custom_fields(&self, task: &str) -> Option<BTreeMap<&str, &FieldValue>> {
        let index = self.plan.index_of(task)?;
        let mut values: BTreeMap<&str, &FieldValue> =
            self.custom_fields.iter().map(|(name, value)| (name.as_str(), value)).collect();
        values.extend(self.tasks[index as usize].custom_fields.iter().map(|(name, value)| (name.as_str(), value)));
        Some(values)
    }

    /// The required custom fields of a task that are empty now (task value over runbook value), which would refuse a
    /// start or keep an auto-start task waiting; `None` for an unknown task.
    pub fn missing_required_fields(&self, task: &str) -> Option<Vec<String>> {
        self.plan.index_of(task).map(|index| self.missing_fields(index))
    }

    /// The earliest fixed start time a task is waiting for, so an engine that restarts can schedule its wake-up.
    /// `None` unless the runbook is active or paused.
    pub fn next_wake_up(&self) -> Option<Timestamp> {
        if !matches!(self.stage, RunbookStage::Active | RunbookStage::Paused) {
            return None;
        }
        self.derived.timers.first().map(|&(at, _)| at)
    }

    /// A new runbook in `planning` with the same plan and the current custom field values, except transient ones.
    pub fn duplicate(&self) -> Self {
        let keep = |values: &BTreeMap<String, FieldValue>| -> BTreeMap<String, FieldValue> {
            values
                .iter()
                .filter(|(name, _)| !self.plan.is_transient(name))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect()
        };
        let task_values = self.tasks.iter().map(|task| keep(&task.custom_fields)).collect();
        Self::new(self.plan.with_values(keep(&self.custom_fields), task_values))
    }

    /// Checks that the state agrees with itself: stages with predecessors, statuses with fires, waiting reasons with
    /// stages, the runbook stage with its tasks, and the derived counters with the tasks. Loading does it; tests call it
    /// after every step.
    ///
    /// # Errors
    ///
    /// [`RunbookError::Inconsistent`] naming the first contradiction found.
    pub fn check_consistency(&self) -> Result<(), RunbookError> {
        self.find_contradiction().map_or(Ok(()), |reason| Err(RunbookError::Inconsistent { reason }))
    }

    pub(crate) fn view(&self, index: u32) -> TaskView<'_> {
        TaskView { plan: self.plan.task_at(index), state: &self.tasks[index as usize] }
    }

    /// Computes the derived indexes from the tasks.
    fn derive(&self) -> Derived {
        let pending = (0..self.plan.len())
            .map(|index| {
                let predecessors = self.plan.predecessors_of(index);
                predecessors.iter().filter(|&&predecessor| !self.tasks[predecessor as usize].is_done()).count() as u32
            })
            .collect();
        let mut derived = Derived { pending, ..Derived::default() };
        for (index, task) in self.tasks.iter().enumerate() {
            let index = index as u32;
            derived.done += u32::from(task.is_done());
            match &task.waiting {
                Some(WaitReason::MissingCustomFields { .. }) => {
                    derived.waiting_for_fields.insert(index);
                }
                Some(WaitReason::FixedStart { at }) => {
                    derived.timers.insert((*at, index));
                }
                Some(WaitReason::RunbookNotActive) | None => {}
            }
        }
        derived
    }

    fn find_contradiction(&self) -> Option<String> {
        if self.version != STATE_VERSION {
            return Some(format!("version {} is not {STATE_VERSION}", self.version));
        }
        if self.tasks.len() != self.plan.tasks().len() {
            return Some(format!("{} task states for {} planned tasks", self.tasks.len(), self.plan.tasks().len()));
        }
        let derived = self.derive();
        if derived != self.derived {
            return Some(
                "pending-predecessor counts, done count, waiting set or timers disagree with the tasks".into(),
            );
        }
        if let Some(problem) = self.runbook_contradiction() {
            return Some(problem);
        }
        (0..self.plan.len()).find_map(|index| self.task_contradiction(index))
    }

    fn runbook_contradiction(&self) -> Option<String> {
        let all_done = self.derived.done == self.plan.len();
        match self.stage {
            RunbookStage::Planning if self.mode.is_some() => Some("a runbook in planning has a run mode".into()),
            RunbookStage::Active | RunbookStage::Paused | RunbookStage::Complete if self.mode.is_none() => {
                Some("a started runbook has no run mode".into())
            }
            RunbookStage::Complete if !all_done => Some("a complete runbook has tasks not done".into()),
            RunbookStage::Active | RunbookStage::Paused if all_done => {
                Some("every task is done but the runbook is not complete".into())
            }
            _ => None,
        }
    }

    fn task_contradiction(&self, index: u32) -> Option<String> {
        let TaskView { plan, state } = self.view(index);
        let problem = |text: &str| Some(format!("task `{}`: {text}", plan.id));
        let pending = self.derived.pending[index as usize];
        let fires_on_start = plan.action.as_ref().is_some_and(|action| action.fires_on_start());
        match state.stage {
            TaskStage::NotStartable if pending == 0 => return problem("not startable with every predecessor done"),
            TaskStage::Startable | TaskStage::InProgress | TaskStage::Complete if pending > 0 => {
                return problem("started or startable with a predecessor not done");
            }
            _ => {}
        }
        if self.stage == RunbookStage::Planning
            && (!matches!(state.stage, TaskStage::NotStartable | TaskStage::Startable) || state.fire.is_some())
        {
            return problem("started while the runbook is in planning");
        }
        if state.fire.is_none() != (state.status == IntegrationStatus::None)
            || state.fire.is_none() != state.delivery.is_none()
        {
            return problem("fire number, integration status and delivery disagree");
        }
        if state.fire.is_some() && plan.action.is_none() {
            return problem("fired without an action");
        }
        if state.fire.is_some()
            && fires_on_start
            && matches!(state.stage, TaskStage::NotStartable | TaskStage::Startable)
        {
            return problem("fired before it started");
        }
        if state.update_pending && (fires_on_start || !state.has_active_fire()) {
            return problem("an update waits without a runbook_update fire under way");
        }
        if state.failure.is_some() != (state.status == IntegrationStatus::Failed) {
            return problem("a failure reason without a failed status, or the reverse");
        }
        let sent_only = matches!(
            state.status,
            IntegrationStatus::Running | IntegrationStatus::Waiting | IntegrationStatus::Succeeded
        );
        if (sent_only && state.delivery != Some(Delivery::Send))
            || (state.status == IntegrationStatus::NotSent && state.delivery != Some(Delivery::RecordOnly))
        {
            return problem("integration status does not fit the delivery");
        }
        if state.has_active_fire() && matches!(self.stage, RunbookStage::Planning | RunbookStage::Cancelled) {
            return problem("a fire under way in a runbook that is not running");
        }
        if matches!(state.stage, TaskStage::InProgress | TaskStage::Complete) && state.started_at.is_none() {
            return problem("started without a start time");
        }
        if state.skip_comment.is_some() != (state.stage == TaskStage::Skipped) {
            return problem("a skip comment without the skipped stage, or the reverse");
        }
        self.waiting_contradiction(index)
    }

    fn waiting_contradiction(&self, index: u32) -> Option<String> {
        let TaskView { plan, state } = self.view(index);
        let problem = |text: &str| Some(format!("task `{}`: {text}", plan.id));
        if state.waiting.is_some() && state.stage != TaskStage::Startable {
            return problem("waiting without being startable");
        }
        match &state.waiting {
            Some(WaitReason::RunbookNotActive) if !plan.auto_start || self.stage == RunbookStage::Active => {
                return problem("waits for the runbook to be active, wrongly");
            }
            Some(WaitReason::MissingCustomFields { fields })
                if !plan.auto_start || *fields != self.missing_fields(index) =>
            {
                return problem("waits for custom fields that are not the missing ones");
            }
            Some(WaitReason::FixedStart { at })
                if plan.fixed_start != Some(*at) || self.mode != Some(RunMode::Live) =>
            {
                return problem("waits for a fixed start time it does not have");
            }
            _ => {}
        }
        if plan.auto_start
            && state.stage == TaskStage::Startable
            && self.stage == RunbookStage::Active
            && !matches!(state.waiting, Some(WaitReason::MissingCustomFields { .. }))
        {
            return problem("an auto-start task is startable in an active runbook but neither started nor waits");
        }
        None
    }

    /// The required fields of a task that are empty, task value over runbook value.
    pub(crate) fn missing_fields(&self, index: u32) -> Vec<String> {
        let task = &self.tasks[index as usize];
        self.plan
            .task_at(index)
            .required_fields
            .iter()
            .filter(|name| {
                let value = task.custom_fields.get(*name).or_else(|| self.custom_fields.get(*name));
                value.is_none_or(FieldValue::is_empty)
            })
            .cloned()
            .collect()
    }
}

/// The serialised form of a state; loading rebuilds the derived indexes and checks consistency.
#[derive(Deserialize)]
struct StateRecord {
    version: u32,
    plan: RunbookPlan,
    stage: RunbookStage,
    mode: Option<RunMode>,
    #[serde(default)]
    custom_fields: BTreeMap<String, FieldValue>,
    tasks: Vec<TaskState>,
    #[serde(default)]
    started_at: Option<Timestamp>,
    #[serde(default)]
    ended_at: Option<Timestamp>,
}

impl TryFrom<StateRecord> for RunbookState {
    type Error = RunbookError;

    fn try_from(record: StateRecord) -> Result<Self, RunbookError> {
        let header = StateHeader {
            version: record.version,
            stage: record.stage,
            mode: record.mode,
            custom_fields: record.custom_fields,
            started_at: record.started_at,
            ended_at: record.ended_at,
        };
        Self::assemble(Arc::new(record.plan), header, record.tasks)
    }
}
