//! How the engine keeps a runbook in the store, and the cached form it works on.
//!
//! The store keeps a runbook in parts, so that a step writes what it changed and not the whole runbook:
//!
//! - the `definition` document: `{"edition": N, "runbook": …, "plan": …}`, the runbook as defined and the plan built
//!   from it at creation (every task's action, predecessors, flags), written when the runbook is created or replaced
//!   while planning, never by a step (`edition`, absent for 0, counts replacements);
//! - the run-level state ([`StateHeader`]: stage, mode, runbook custom fields, times), rewritten by every step;
//! - one row per task with its [`TaskState`](cutover_integrations_runbook::TaskState), written by the steps that
//!   change it ([`RunbookState::take_changed_tasks`]).
//!
//! Reading puts the parts together ([`RunbookState::from_parts`]) and checks them as loading a whole state does; a
//! reader that holds version N reads only what changed after it and puts that over its own copy
//! ([`Loaded::with_changes`]).

use crate::error::EngineError;
use cutover_integrations_model::Runbook;
use cutover_integrations_runbook::{RunbookPlan, RunbookState, StateHeader, TaskState};
use cutover_integrations_store::{RunbookRecord, TaskRow};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A runbook as this engine last read or wrote it. Shared (`Arc`) with fire steps reading it; a command changes it in
/// place when nobody else holds it, and copies it otherwise (the plan is shared by copies).
#[derive(Clone)]
pub(crate) struct Loaded {
    pub(crate) state: RunbookState,
    pub(crate) version: i64,
    pub(crate) definition: Arc<Runbook>,
    /// How many times the definition was replaced while planning (0 for one never edited).
    pub(crate) edition: u64,
}

/// The `definition` document as stored.
#[derive(Serialize)]
struct DefinitionDocumentOut<'a> {
    #[serde(skip_serializing_if = "is_zero")]
    edition: u64,
    runbook: &'a Runbook,
    plan: &'a RunbookPlan,
}

/// The `definition` document as read.
#[derive(Deserialize)]
struct DefinitionDocument {
    #[serde(default)]
    edition: u64,
    runbook: Runbook,
    plan: RunbookPlan,
}

fn is_zero(edition: &u64) -> bool {
    *edition == 0
}

impl Loaded {
    /// A new runbook's cached form.
    pub(crate) fn new(definition: Runbook, state: RunbookState) -> Self {
        Self { state, version: 1, definition: Arc::new(definition), edition: 0 }
    }

    /// The `definition` document to store.
    pub(crate) fn definition_document(&self) -> Result<String, EngineError> {
        let document =
            DefinitionDocumentOut { edition: self.edition, runbook: &self.definition, plan: self.state.plan() };
        serde_json::to_string(&document).map_err(EngineError::corrupt("runbook definition"))
    }

    /// The run-level state to store.
    pub(crate) fn header_document(&self) -> Result<String, EngineError> {
        serde_json::to_string(&self.state.header()).map_err(EngineError::corrupt("runbook state"))
    }

    /// Every task's state to store, in plan order.
    pub(crate) fn task_documents(&self) -> Result<Vec<String>, EngineError> {
        self.state.task_states().iter().map(task_document).collect()
    }

    /// The task rows at `positions`, to store.
    pub(crate) fn task_rows(&self, positions: &[u32]) -> Result<Vec<TaskRow>, EngineError> {
        let states = self.state.task_states();
        positions
            .iter()
            .map(|&position| {
                let task = states.get(position as usize).ok_or_else(|| EngineError::Corrupt {
                    what: "runbook state",
                    reason: format!("changed task {position} of {}", states.len()),
                    source: None,
                })?;
                Ok(TaskRow { position, state: task_document(task)? })
            })
            .collect()
    }

    /// A stored runbook, read whole. `cached` is this runbook as known before (its definition and plan are reused
    /// when the record does not carry a definition).
    pub(crate) fn from_record(record: &RunbookRecord, cached: Option<&Loaded>) -> Result<Self, EngineError> {
        let (definition, plan, edition) = match (&record.definition, cached) {
            (Some(document), _) => {
                let document: DefinitionDocument =
                    serde_json::from_str(document).map_err(EngineError::corrupt("runbook definition"))?;
                (Arc::new(document.runbook), Arc::new(document.plan), document.edition)
            }
            (None, Some(known)) => (known.definition.clone(), known.state.shared_plan().clone(), known.edition),
            (None, None) => {
                return Err(EngineError::Corrupt {
                    what: "runbook",
                    reason: "read without its definition".to_owned(),
                    source: None,
                });
            }
        };
        let header = parse_header(&record.state)?;
        let mut tasks = Vec::with_capacity(record.tasks.len());
        for (expected, row) in record.tasks.iter().enumerate() {
            if row.position as usize != expected {
                return Err(EngineError::Corrupt {
                    what: "runbook state",
                    reason: format!("task row {} where {expected} was expected", row.position),
                    source: None,
                });
            }
            tasks.push(parse_task(&row.state)?);
        }
        let state = RunbookState::from_parts(plan, header, tasks).map_err(EngineError::corrupt("runbook state"))?;
        Ok(Self { state, version: record.version, definition, edition })
    }

    /// This runbook with what changed since its version put over it: `changes` holds the run-level state, the tasks
    /// written since (and those the caller wrote, for a commit rebuilt after a conflict) and the definition if it was
    /// replaced, in which case it holds every task.
    pub(crate) fn with_changes(&self, changes: &RunbookRecord) -> Result<Self, EngineError> {
        if changes.definition.is_some() {
            return Self::from_record(changes, Some(self));
        }
        let header = parse_header(&changes.state)?;
        let tasks = changes
            .tasks
            .iter()
            .map(|row| Ok((row.position, parse_task(&row.state)?)))
            .collect::<Result<Vec<_>, EngineError>>()?;
        let state = self.state.with_parts_replaced(header, tasks).map_err(EngineError::corrupt("runbook state"))?;
        Ok(Self { state, version: changes.version, definition: self.definition.clone(), edition: self.edition })
    }
}

fn task_document(task: &TaskState) -> Result<String, EngineError> {
    serde_json::to_string(task).map_err(EngineError::corrupt("task state"))
}

fn parse_header(text: &str) -> Result<StateHeader, EngineError> {
    serde_json::from_str(text).map_err(EngineError::corrupt("runbook state"))
}

fn parse_task(text: &str) -> Result<TaskState, EngineError> {
    serde_json::from_str(text).map_err(EngineError::corrupt("task state"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_integrations_model::{Action, ActionRef, RunMode};
    use cutover_integrations_runbook::{Actor, Command};
    use cutover_integrations_store::RunbookId;
    use std::collections::BTreeMap;

    fn runbook() -> (Runbook, RunbookState) {
        let definition: Runbook = serde_json::from_value(serde_json::json!({
            "name": "Release \"42\", with commas",
            "tasks": [
                {"id": "a", "name": "A, first", "action": "Chat/Notify"},
                {"id": "b", "name": "B", "predecessors": ["a"]},
                {"id": "c", "name": "C"},
            ],
        }))
        .expect("runbook");
        let action: Action = serde_json::from_value(serde_json::json!({
            "name": "Notify",
            "request": {"method": "POST", "url": "https://chat.example.com/hook"},
        }))
        .expect("action");
        let catalog = BTreeMap::from([(ActionRef { integration: "Chat".into(), action: "Notify".into() }, action)]);
        let plan = RunbookPlan::build(&definition, &catalog, &[]).expect("plan");
        (definition, RunbookState::new(plan))
    }

    fn whole(loaded: &Loaded) -> RunbookRecord {
        RunbookRecord {
            id: RunbookId(1),
            name: "Release".into(),
            definition: Some(loaded.definition_document().expect("definition")),
            state: loaded.header_document().expect("state"),
            tasks: loaded
                .task_documents()
                .expect("tasks")
                .into_iter()
                .enumerate()
                .map(|(position, state)| TaskRow { position: position as u32, state })
                .collect(),
            version: loaded.version,
        }
    }

    #[test]
    fn a_runbook_stored_in_parts_reads_back_whole() {
        let (definition, state) = runbook();
        let mut loaded = Loaded::new(definition, state);
        loaded.edition = 2;
        let now = jiff::Timestamp::UNIX_EPOCH;
        loaded.state.apply(Command::StartRunbook { mode: RunMode::Live }, &Actor::engine(), now).expect("starts");
        let back = Loaded::from_record(&whole(&loaded), None).expect("read back");
        assert_eq!((&back.state, &back.definition, back.edition), (&loaded.state, &loaded.definition, 2));
        // Without a definition in the record, the known one is reused.
        let record = RunbookRecord { definition: None, ..whole(&loaded) };
        assert_eq!(Loaded::from_record(&record, Some(&back)).expect("read back").state, loaded.state);
        assert!(Loaded::from_record(&record, None).is_err(), "nothing to take the plan from");
    }

    #[test]
    fn a_step_changes_the_header_and_its_tasks_only() {
        let (definition, state) = runbook();
        let mut loaded = Loaded::new(definition, state);
        let before = loaded.clone();
        let now = jiff::Timestamp::UNIX_EPOCH;
        loaded.state.take_changed_tasks();
        loaded.state.apply(Command::StartRunbook { mode: RunMode::Live }, &Actor::engine(), now).expect("starts");
        let start = Command::StartTask { task: "c".into(), force: false };
        loaded.state.apply(start, &Actor::engine(), now).expect("starts c");
        let changed = loaded.state.take_changed_tasks();
        assert!(changed.contains(&2) && !changed.contains(&1), "{changed:?}");
        let changes = RunbookRecord {
            definition: None,
            tasks: loaded.task_rows(&changed).expect("rows"),
            version: 2,
            ..whole(&loaded)
        };
        // The copy from before the step, with the step's parts over it, is the state after the step.
        let caught_up = before.with_changes(&changes).expect("caught up");
        assert_eq!((caught_up.state, caught_up.version), (loaded.state.clone(), 2));
        assert!(loaded.state.take_changed_tasks().is_empty(), "taken once");
    }

    #[test]
    fn rows_out_of_order_or_inconsistent_are_corrupt() {
        let (definition, state) = runbook();
        let loaded = Loaded::new(definition, state);
        let mut record = whole(&loaded);
        record.tasks.swap(0, 1);
        assert!(matches!(Loaded::from_record(&record, None), Err(EngineError::Corrupt { .. })));
        let mut record = whole(&loaded);
        record.tasks.pop();
        assert!(matches!(Loaded::from_record(&record, None), Err(EngineError::Corrupt { .. })));
        // A task in progress while the runbook is in planning contradicts the header.
        let mut record = whole(&loaded);
        record.tasks[2].state = record.tasks[2].state.replace("startable", "in_progress");
        assert!(matches!(Loaded::from_record(&record, None), Err(EngineError::Corrupt { .. })));
    }
}
