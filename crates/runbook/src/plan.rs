//! The immutable plan of a runbook: per task only what the machine needs, indexed for O(edges) updates.

use crate::RunbookError;
use cutover_integrations_model::{
    Action, ActionRef, AppliesTo, CustomField, FieldValue, Integration, Runbook, Task, Trigger,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Where [`RunbookPlan::build`] finds the action a task references.
pub trait ActionCatalog {
    /// The action `reference` names, if any.
    fn action(&self, reference: &ActionRef) -> Option<&Action>;
}

impl ActionCatalog for BTreeMap<ActionRef, Action> {
    fn action(&self, reference: &ActionRef) -> Option<&Action> {
        self.get(reference)
    }
}

impl ActionCatalog for HashMap<ActionRef, Action> {
    fn action(&self, reference: &ActionRef) -> Option<&Action> {
        self.get(reference)
    }
}

impl ActionCatalog for [Integration] {
    fn action(&self, reference: &ActionRef) -> Option<&Action> {
        self.iter()
            .find(|integration| integration.name == reference.integration)?
            .actions
            .iter()
            .find(|action| action.name == reference.action)
    }
}

impl ActionCatalog for Vec<Integration> {
    fn action(&self, reference: &ActionRef) -> Option<&Action> {
        self.as_slice().action(reference)
    }
}

/// A runbook reduced to what the state machine needs, with tasks indexed densely and successor lists precomputed.
///
/// Built once from the definition ([`RunbookPlan::build`]); it does not change while the runbook runs. It is part of
/// the serialised [`RunbookState`](crate::RunbookState), so a stored state is self-contained: editing an action later
/// does not change a run in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PlanRecord")]
pub struct RunbookPlan {
    name: String,
    tasks: Vec<TaskPlan>,
    custom_fields: BTreeMap<String, FieldValue>,
    transient_fields: BTreeSet<String>,
    runbook_level_fields: BTreeSet<String>,
    #[serde(skip)]
    graph: Graph,
}

/// What the machine knows of one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskPlan {
    /// The definition id.
    pub id: String,
    /// The name shown to users.
    pub name: String,
    /// Ids of the predecessors, without repeats.
    pub predecessors: Vec<String>,
    /// The action, for integration tasks.
    pub action: Option<ActionPlan>,
    /// Starts by itself once startable (the task's `auto_start` or its action's).
    pub auto_start: bool,
    /// Earliest start in live runs.
    pub fixed_start: Option<Timestamp>,
    /// Names of the required custom fields that apply to this task, in definition order.
    pub required_fields: Vec<String>,
    /// The task's custom field values as defined.
    pub custom_fields: BTreeMap<String, FieldValue>,
}

/// What the machine knows of a task's action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionPlan {
    /// `INTEGRATION/ACTION`.
    pub reference: ActionRef,
    /// When it fires; only `task_start` actions fire when their task starts.
    pub trigger: Trigger,
    /// Users may cancel a fire.
    pub cancelable: bool,
    /// A cancelled fire notifies the action's webhook.
    pub notify_on_cancel: bool,
    /// The task completes when a fire succeeds.
    pub finish_task_on_success: bool,
    /// Fires are sent in rehearsals too.
    pub execute_in_rehearsal: bool,
    /// The runbook-level custom fields whose change fires a `runbook_update` action.
    #[serde(default)]
    pub watched_fields: WatchedFields,
}

impl ActionPlan {
    /// Whether starting the task fires the action.
    pub fn fires_on_start(&self) -> bool {
        self.trigger == Trigger::TaskStart
    }

    /// Whether a runbook update that changed `fields` (runbook-level custom fields; none for a stage change) fires the
    /// action: it fires on runbook update, and the change is a stage change or touches a field it watches.
    pub fn fires_on_update(&self, fields: Option<&[String]>) -> bool {
        self.trigger == Trigger::RunbookUpdate
            && match (fields, &self.watched_fields) {
                (None, _) | (Some(_), WatchedFields::All) => true,
                (Some(fields), WatchedFields::Only(watched)) => fields.iter().any(|field| watched.contains(field)),
            }
    }
}

/// Which runbook-level custom fields a `runbook_update` action watches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchedFields {
    /// Every runbook-level field: the action's templates read none of them.
    #[default]
    All,
    /// The runbook-level fields the action's templates read.
    Only(BTreeSet<String>),
}

/// Dense-index adjacency, rebuilt from the task list when a plan is built or loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Graph {
    pub(crate) index: HashMap<String, u32>,
    pub(crate) predecessors: Vec<Vec<u32>>,
    pub(crate) successors: Vec<Vec<u32>>,
    /// The tasks whose action fires on runbook update, in plan order: what a runbook update looks at.
    pub(crate) update_tasks: Vec<u32>,
}

impl RunbookPlan {
    /// Builds the plan of `runbook`, resolving actions in `catalog` and required and transient fields from
    /// `custom_fields` (every custom field definition that may apply).
    ///
    /// A required field applies to a task that has an action when its `restrict_to` is empty or names that action.
    /// Fields that apply to the runbook are required through the runbook's value (a task may still set its own).
    ///
    /// # Errors
    ///
    /// Duplicate task ids, unknown predecessors or actions, cycles, fixed start times that are not RFC 3339, and a
    /// fixed start combined with auto start.
    pub fn build(
        runbook: &Runbook,
        catalog: &(impl ActionCatalog + ?Sized),
        custom_fields: &[CustomField],
    ) -> Result<Self, RunbookError> {
        let runbook_level: BTreeSet<&str> = custom_fields
            .iter()
            .filter(|field| field.applies_to == AppliesTo::Runbook)
            .map(|field| field.name.as_str())
            .collect();
        let tasks = runbook
            .tasks
            .iter()
            .map(|task| plan_task(task, catalog, custom_fields, &runbook_level))
            .collect::<Result<Vec<_>, _>>()?;
        let record = PlanRecord {
            name: runbook.name.clone(),
            tasks,
            custom_fields: runbook.custom_fields.clone(),
            transient_fields: custom_fields.iter().filter(|field| field.transient).map(|f| f.name.clone()).collect(),
            runbook_level_fields: custom_fields
                .iter()
                .filter(|field| field.applies_to == AppliesTo::Runbook)
                .map(|field| field.name.clone())
                .collect(),
        };
        Self::try_from(record)
    }

    /// The runbook's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tasks, in definition order.
    pub fn tasks(&self) -> &[TaskPlan] {
        &self.tasks
    }

    /// The task with this id.
    pub fn task(&self, id: &str) -> Option<&TaskPlan> {
        self.graph.index.get(id).map(|&index| &self.tasks[index as usize])
    }

    /// Ids of the tasks that list `id` as a predecessor.
    pub fn successors(&self, id: &str) -> impl Iterator<Item = &str> {
        let successors = self.graph.index.get(id).map(|&index| self.graph.successors[index as usize].as_slice());
        successors.unwrap_or_default().iter().map(|&successor| self.tasks[successor as usize].id.as_str())
    }

    /// The runbook's custom field values as defined.
    pub fn custom_fields(&self) -> &BTreeMap<String, FieldValue> {
        &self.custom_fields
    }

    /// Whether the field's values are dropped when the runbook is duplicated.
    pub fn is_transient(&self, field: &str) -> bool {
        self.transient_fields.contains(field)
    }

    /// Whether the field sits on the runbook, so values mapped from a fire go to the runbook rather than the task.
    pub fn is_runbook_level(&self, field: &str) -> bool {
        self.runbook_level_fields.contains(field)
    }

    /// The same plan with other defined values (for duplicates).
    pub(crate) fn with_values(
        &self,
        custom_fields: BTreeMap<String, FieldValue>,
        task_values: Vec<BTreeMap<String, FieldValue>>,
    ) -> Self {
        let mut plan = self.clone();
        plan.custom_fields = custom_fields;
        for (task, values) in plan.tasks.iter_mut().zip(task_values) {
            task.custom_fields = values;
        }
        plan
    }

    /// The position of a task in the plan (the definition's order), found in O(1).
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.graph.index.get(id).copied()
    }

    pub(crate) fn task_at(&self, index: u32) -> &TaskPlan {
        &self.tasks[index as usize]
    }

    pub(crate) fn predecessors_of(&self, index: u32) -> &[u32] {
        &self.graph.predecessors[index as usize]
    }

    pub(crate) fn successors_of(&self, index: u32) -> &[u32] {
        &self.graph.successors[index as usize]
    }

    /// The positions of the tasks whose action fires on runbook update, ascending.
    pub(crate) fn update_tasks(&self) -> &[u32] {
        &self.graph.update_tasks
    }

    pub(crate) fn len(&self) -> u32 {
        // A plan has at most u32::MAX tasks: `Graph::build` refuses more.
        self.tasks.len() as u32
    }
}

fn plan_task(
    task: &Task,
    catalog: &(impl ActionCatalog + ?Sized),
    custom_fields: &[CustomField],
    runbook_level: &BTreeSet<&str>,
) -> Result<TaskPlan, RunbookError> {
    let action = match &task.action {
        None => None,
        Some(reference) => {
            let action = catalog
                .action(reference)
                .ok_or_else(|| RunbookError::UnknownAction { task: task.id.clone(), action: reference.to_string() })?;
            Some((reference, action))
        }
    };
    let fixed_start = task
        .fixed_start
        .as_deref()
        .map(|text| {
            text.parse::<Timestamp>().map_err(|error| RunbookError::InvalidFixedStart {
                task: task.id.clone(),
                value: text.to_owned(),
                reason: error.to_string(),
            })
        })
        .transpose()?;
    let action_auto_start = action.is_some_and(|(_, action)| action.settings.auto_start);
    if fixed_start.is_some() && (task.auto_start || action_auto_start) {
        let source_of_auto_start = match action {
            Some((reference, _)) if action_auto_start => format!("action {reference}"),
            _ => "the task".to_owned(),
        };
        return Err(RunbookError::AutoStartWithFixedStart { task: task.id.clone(), source_of_auto_start });
    }
    let required_fields = match action {
        None => Vec::new(),
        Some((reference, _)) => custom_fields
            .iter()
            .filter(|field| field.required)
            .filter(|field| field.restrict_to.is_empty() || field.restrict_to.contains(&reference.action))
            .map(|field| field.name.clone())
            .collect(),
    };
    let mut seen = BTreeSet::new();
    let predecessors = task.predecessors.iter().filter(|id| seen.insert(id.as_str())).cloned().collect();
    Ok(TaskPlan {
        id: task.id.clone(),
        name: task.name.clone(),
        predecessors,
        action: action.map(|(reference, action)| ActionPlan {
            reference: reference.clone(),
            trigger: action.trigger,
            cancelable: action.settings.cancelable,
            notify_on_cancel: action.settings.notify_webhook_on_cancel.is_some(),
            finish_task_on_success: action.settings.finish_task_on_success,
            execute_in_rehearsal: action.settings.execute_in_rehearsal,
            watched_fields: watched_fields(action, runbook_level),
        }),
        auto_start: task.auto_start || action_auto_start,
        fixed_start,
        required_fields,
        custom_fields: task.custom_fields.clone(),
    })
}

/// The runbook-level fields `action` reads, or all of them when it reads none (see [`WatchedFields`]).
fn watched_fields(action: &Action, runbook_level: &BTreeSet<&str>) -> WatchedFields {
    if action.trigger != Trigger::RunbookUpdate {
        return WatchedFields::All;
    }
    let read: BTreeSet<String> =
        action.custom_fields_read().into_iter().filter(|field| runbook_level.contains(field.as_str())).collect();
    if read.is_empty() { WatchedFields::All } else { WatchedFields::Only(read) }
}

/// The serialised form of a plan; loading it checks what [`RunbookPlan::build`] checks.
#[derive(Deserialize)]
struct PlanRecord {
    name: String,
    tasks: Vec<TaskPlan>,
    custom_fields: BTreeMap<String, FieldValue>,
    transient_fields: BTreeSet<String>,
    runbook_level_fields: BTreeSet<String>,
}

impl TryFrom<PlanRecord> for RunbookPlan {
    type Error = RunbookError;

    fn try_from(record: PlanRecord) -> Result<Self, RunbookError> {
        for task in &record.tasks {
            if task.fixed_start.is_some() && task.auto_start {
                let source_of_auto_start = "the task".to_owned();
                return Err(RunbookError::AutoStartWithFixedStart { task: task.id.clone(), source_of_auto_start });
            }
        }
        let graph = Graph::build(&record.tasks)?;
        Ok(Self {
            name: record.name,
            tasks: record.tasks,
            custom_fields: record.custom_fields,
            transient_fields: record.transient_fields,
            runbook_level_fields: record.runbook_level_fields,
            graph,
        })
    }
}

impl Graph {
    /// Indexes the tasks and checks ids, predecessors and acyclicity, in O(tasks + edges).
    fn build(tasks: &[TaskPlan]) -> Result<Self, RunbookError> {
        if u32::try_from(tasks.len()).is_err() {
            return Err(RunbookError::Inconsistent { reason: format!("{} tasks is too many", tasks.len()) });
        }
        let mut index = HashMap::with_capacity(tasks.len());
        for (position, task) in tasks.iter().enumerate() {
            if index.insert(task.id.clone(), position as u32).is_some() {
                return Err(RunbookError::DuplicateTaskId { task: task.id.clone() });
            }
        }
        let mut predecessors = Vec::with_capacity(tasks.len());
        let mut successors = vec![Vec::new(); tasks.len()];
        for (position, task) in tasks.iter().enumerate() {
            let mut own = Vec::with_capacity(task.predecessors.len());
            for predecessor in &task.predecessors {
                let &found = index.get(predecessor).ok_or_else(|| RunbookError::UnknownPredecessor {
                    task: task.id.clone(),
                    predecessor: predecessor.clone(),
                })?;
                if own.contains(&found) {
                    return Err(RunbookError::Inconsistent {
                        reason: format!("task `{}` lists predecessor `{predecessor}` twice", task.id),
                    });
                }
                own.push(found);
                successors[found as usize].push(position as u32);
            }
            predecessors.push(own);
        }
        let update_tasks = (0..tasks.len() as u32)
            .filter(|&position| {
                tasks[position as usize].action.as_ref().is_some_and(|action| action.trigger == Trigger::RunbookUpdate)
            })
            .collect();
        let graph = Self { index, predecessors, successors, update_tasks };
        graph.check_acyclic(tasks)?;
        Ok(graph)
    }

    /// Kahn's algorithm; on a cycle, walks predecessors among the unsorted tasks to name one.
    fn check_acyclic(&self, tasks: &[TaskPlan]) -> Result<(), RunbookError> {
        let mut pending: Vec<usize> = self.predecessors.iter().map(Vec::len).collect();
        let mut ready: Vec<u32> = (0..tasks.len() as u32).filter(|&task| pending[task as usize] == 0).collect();
        let mut sorted = 0;
        while let Some(task) = ready.pop() {
            sorted += 1;
            for &successor in &self.successors[task as usize] {
                pending[successor as usize] -= 1;
                if pending[successor as usize] == 0 {
                    ready.push(successor);
                }
            }
        }
        if sorted == tasks.len() {
            return Ok(());
        }
        // Every unsorted task has an unsorted predecessor, so walking them must revisit a task.
        let start = pending.iter().position(|&count| count > 0).unwrap_or_default();
        let mut position_in_walk = HashMap::new();
        let mut walk = Vec::new();
        let mut current = start as u32;
        while !position_in_walk.contains_key(&current) {
            position_in_walk.insert(current, walk.len());
            walk.push(current);
            let next =
                self.predecessors[current as usize].iter().find(|&&predecessor| pending[predecessor as usize] > 0);
            match next {
                Some(&next) => current = next,
                None => break,
            }
        }
        let from = position_in_walk.get(&current).copied().unwrap_or_default();
        let mut cycle: Vec<u32> = walk[from..].to_vec();
        // The walk follows predecessors; show the cycle in execution order, from its first task in definition order.
        cycle.reverse();
        let first = cycle.iter().enumerate().min_by_key(|&(_, &task)| task).map_or(0, |(position, _)| position);
        cycle.rotate_left(first);
        let cycle = cycle.iter().map(|&task| tasks[task as usize].id.clone()).collect();
        Err(RunbookError::Cycle { cycle })
    }
}
