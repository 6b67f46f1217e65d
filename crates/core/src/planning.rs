//! Editing a runbook while it is planned: tasks added, changed and removed, each change checked as the whole runbook
//! would be checked as a definition file (the same validator, then the same plan build), so that a runbook edited
//! task by task can never hold what a file could not.
//!
//! The definition is replaced in one write guarded by the runbook's version; the stored definition's edition goes up,
//! which tells every engine that cached the old one to read it again.

use crate::editing::{merge_patch, validate_runbook_file};
use crate::engine::{Engine, RunbookView};
use crate::error::{EngineError, InputProblem};
use crate::events::EngineEvent;
use crate::stored_runbook::Loaded;
use cutover_integrations_model::{Definition, Runbook, RunbookStage};
use cutover_integrations_runbook::{Event, RunbookPlan, RunbookState};
use cutover_integrations_store::{ReplacedRunbook, RunbookId, StoreError};
use serde_json::Value;
use std::sync::Arc;

/// The most tasks a runbook edited in the engine may have.
pub(crate) const MAX_TASKS: usize = 10_000;

/// What one planning change does to the runbook's task list.
enum TaskChange<'a> {
    Add(&'a Value),
    Edit { task: &'a str, patch: &'a Value },
    Remove(&'a str),
}

impl Engine {
    /// Adds a task (the JSON of a task definition) to a runbook in planning. Without an `id`, the task gets one made
    /// from its name (`Notify channel` → `notify-channel`, then `notify-channel-2`, …). Returns the runbook as it is
    /// afterwards.
    ///
    /// Problems of the task come back with paths relative to it (`predecessors[0]`, `custom_fields['Slack
    /// Channel']`); problems the task causes elsewhere (a cycle) with the runbook's own paths.
    pub async fn add_task(&self, runbook: RunbookId, task: &Value) -> Result<RunbookView, EngineError> {
        self.replan(runbook, TaskChange::Add(task), None).await
    }

    /// Applies a JSON merge patch (RFC 7396) to a task of a runbook in planning. The id cannot change.
    pub async fn edit_task(&self, runbook: RunbookId, task: &str, patch: &Value) -> Result<RunbookView, EngineError> {
        self.replan(runbook, TaskChange::Edit { task, patch }, None).await
    }

    /// [`Engine::edit_task`] if the runbook is still at `expected_version` (any version when `None`); a runbook
    /// that moved is refused with [`StoreError::Stale`], nothing changed.
    pub async fn edit_task_if(
        &self,
        runbook: RunbookId,
        task: &str,
        patch: &Value,
        expected_version: Option<i64>,
    ) -> Result<RunbookView, EngineError> {
        self.replan(runbook, TaskChange::Edit { task, patch }, expected_version).await
    }

    /// Removes a task from a runbook in planning; refused with [`EngineError::TaskInUse`] while other tasks list it
    /// as a predecessor.
    pub async fn remove_task(&self, runbook: RunbookId, task: &str) -> Result<RunbookView, EngineError> {
        self.replan(runbook, TaskChange::Remove(task), None).await
    }

    /// [`Engine::remove_task`] if the runbook is still at `expected_version` (any version when `None`); a runbook
    /// that moved is refused with [`StoreError::Stale`], nothing changed.
    pub async fn remove_task_if(
        &self,
        runbook: RunbookId,
        task: &str,
        expected_version: Option<i64>,
    ) -> Result<RunbookView, EngineError> {
        self.replan(runbook, TaskChange::Remove(task), expected_version).await
    }

    async fn replan(
        &self,
        id: RunbookId,
        change: TaskChange<'_>,
        expected_version: Option<i64>,
    ) -> Result<RunbookView, EngineError> {
        let loaded = self.inner.commits.load_fresh(id).await?;
        let stale = |expected| EngineError::Store(StoreError::Stale { what: "runbook", id: id.0, expected });
        if let Some(expected) = expected_version.filter(|expected| *expected != loaded.version) {
            return Err(stale(expected));
        }
        if loaded.state.stage() != RunbookStage::Planning {
            return Err(EngineError::NotPlanning { runbook: id.0, stage: stage_name(loaded.state.stage()) });
        }
        let mut definition = current_definition(&loaded);
        let mut document = serde_json::to_value(Definition::Runbook(definition.clone()))
            .map_err(EngineError::corrupt("runbook definition"))?;
        let Some(tasks) = document.get_mut("tasks").and_then(Value::as_array_mut) else {
            return Err(EngineError::Corrupt {
                what: "runbook definition",
                reason: "no task list".to_owned(),
                source: None,
            });
        };
        let index = apply_change(tasks, &change)?;
        let changed = match &change {
            TaskChange::Add(_) => {
                let id = index.and_then(|index| tasks[index].get("id")).and_then(Value::as_str).unwrap_or_default();
                Event::TaskAdded { task: id.to_owned() }
            }
            TaskChange::Edit { task, .. } => Event::TaskEdited { task: (*task).to_owned() },
            TaskChange::Remove(task) => Event::TaskRemoved { task: (*task).to_owned() },
        };
        let text = serde_json::to_string_pretty(&document).map_err(EngineError::corrupt("runbook document"))?;
        let stored = self.stored_definitions().await?;
        let prefix = index.map(|index| format!("tasks[{index}]"));
        let checked = match validate_runbook_file("runbook.json", &text, &stored) {
            Ok(Some(Definition::Runbook(runbook))) => runbook,
            Ok(_) => return Err(EngineError::invalid_input("$", "not a runbook")),
            Err(EngineError::Invalid { diagnostics }) => {
                let problems = diagnostics
                    .iter()
                    .map(|d| InputProblem::new(relative_to(&d.path, prefix.as_deref()), d.message.clone()))
                    .collect();
                return Err(EngineError::InvalidInput { problems });
            }
            Err(error) => return Err(error),
        };
        definition = checked;
        let integrations: Vec<_> =
            self.inner.store.integrations().await?.into_iter().map(|record| record.integration).collect();
        let fields = self.inner.store.custom_fields().await?;
        let plan = RunbookPlan::build(&definition, &integrations, &fields)?;
        let mut next = Loaded::new(definition, RunbookState::new(plan));
        next.edition = loaded.edition + 1;
        let slot = self.inner.commits.slot(id);
        let mut cached = slot.cached.lock().await;
        let tasks = next.task_documents()?;
        // The change's events are written with it.
        let mut events = vec![changed];
        events.extend(stage_changes(&loaded.state, &next.state));
        let bodies: Vec<String> = events.iter().map(crate::event_log::planning_body).collect();
        let replaced = ReplacedRunbook {
            name: &next.definition.name,
            definition: &next.definition_document()?,
            state: &next.header_document()?,
            tasks: &tasks,
            events: &bodies,
        };
        let now = self.now().as_millisecond();
        let written =
            match (self.inner.store.replace_runbook(id, loaded.version, &replaced, now).await, expected_version) {
                (Err(StoreError::VersionConflict { .. }), Some(expected)) => return Err(stale(expected)),
                (replaced, _) => replaced?,
            };
        next.version = written.version;
        let view = RunbookView {
            id,
            definition: (*next.definition).clone(),
            state: next.state.clone(),
            version: next.version,
        };
        *cached = Some(Arc::new(next));
        drop(cached);
        let events = events.into_iter().map(|event| EngineEvent { runbook: id, event }).collect();
        self.inner.event_log.publish_committed(events, written.event_ids.last().copied());
        Ok(view)
    }
}

/// The definition with the values set since creation (custom field values set while planning) written in, so that
/// replanning keeps them.
fn current_definition(loaded: &Loaded) -> Runbook {
    let mut definition = (*loaded.definition).clone();
    definition.custom_fields = loaded.state.custom_fields().clone();
    for task in &mut definition.tasks {
        if let Some(view) = loaded.state.task(&task.id) {
            task.custom_fields = view.state.custom_fields().clone();
        }
    }
    definition
}

/// Changes the task list; returns the index of the task added or changed.
/// The stages a replan moved (a task whose predecessor was removed may become startable, one given a new predecessor
/// no longer is); tasks added or removed are told by their own event.
fn stage_changes<'a>(before: &'a RunbookState, after: &'a RunbookState) -> impl Iterator<Item = Event> + 'a {
    after.tasks().filter_map(move |task| {
        let from = before.task(&task.plan.id)?.state.stage();
        let to = task.state.stage();
        (from != to).then(|| Event::TaskStageChanged { task: task.plan.id.clone(), from, to })
    })
}

fn apply_change(tasks: &mut Vec<Value>, change: &TaskChange<'_>) -> Result<Option<usize>, EngineError> {
    let position = |id: &str, tasks: &[Value]| {
        tasks
            .iter()
            .position(|task| task.get("id").and_then(Value::as_str) == Some(id))
            .ok_or_else(|| EngineError::NotFound { what: "task", id: id.to_owned() })
    };
    match change {
        TaskChange::Add(task) => {
            if tasks.len() >= MAX_TASKS {
                return Err(EngineError::invalid_input("$", format!("a runbook has at most {MAX_TASKS} tasks")));
            }
            let mut task = (*task).clone();
            let Some(object) = task.as_object_mut() else {
                return Err(EngineError::invalid_input("$", "expected a task (an object)"));
            };
            if !object.contains_key("id") {
                let name = object.get("name").and_then(Value::as_str).unwrap_or("task");
                object.insert("id".to_owned(), Value::from(fresh_id(name, tasks)));
            }
            tasks.push(task);
            Ok(Some(tasks.len() - 1))
        }
        TaskChange::Edit { task, patch } => {
            let index = position(task, tasks)?;
            if let Some(id) = patch.get("id").filter(|id| id.as_str() != Some(task)) {
                return Err(EngineError::invalid_input("id", format!("a task's id cannot change (got {id})")));
            }
            merge_patch(&mut tasks[index], patch);
            Ok(Some(index))
        }
        TaskChange::Remove(task) => {
            let index = position(task, tasks)?;
            let successors: Vec<String> = tasks
                .iter()
                .filter(|other| {
                    other
                        .get("predecessors")
                        .and_then(Value::as_array)
                        .is_some_and(|predecessors| predecessors.iter().any(|p| p.as_str() == Some(task)))
                })
                .filter_map(|other| other.get("id").and_then(Value::as_str).map(str::to_owned))
                .collect();
            if !successors.is_empty() {
                return Err(EngineError::TaskInUse { task: (*task).to_owned(), successors });
            }
            tasks.remove(index);
            Ok(None)
        }
    }
}

/// A task id made from a name, unused among `tasks`: lower case ASCII letters and digits joined by `-`.
fn fresh_id(name: &str, tasks: &[Value]) -> String {
    let mut base = String::new();
    for c in name.chars().take(48) {
        if c.is_ascii_alphanumeric() {
            base.push(c.to_ascii_lowercase());
        } else if !base.is_empty() && !base.ends_with('-') {
            base.push('-');
        }
    }
    let base = match base.trim_end_matches('-') {
        "" => "task".to_owned(),
        trimmed => trimmed.to_owned(),
    };
    let used = |id: &str| tasks.iter().any(|task| task.get("id").and_then(Value::as_str) == Some(id));
    if !used(&base) {
        return base;
    }
    (2..).map(|n| format!("{base}-{n}")).find(|id| !used(id)).unwrap_or(base)
}

/// `tasks[3].predecessors[0]` relative to `tasks[3]` is `predecessors[0]`; other paths stay as they are.
fn relative_to(path: &str, prefix: Option<&str>) -> String {
    let Some(rest) = prefix.and_then(|prefix| path.strip_prefix(prefix)) else { return path.to_owned() };
    if rest.is_empty() {
        "$".to_owned()
    } else if let Some(rest) = rest.strip_prefix('.') {
        rest.to_owned()
    } else if rest.starts_with('[') {
        rest.to_owned()
    } else {
        path.to_owned()
    }
}

fn stage_name(stage: RunbookStage) -> String {
    serde_json::to_value(stage).ok().and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fresh_ids_come_from_names_and_never_repeat() {
        let tasks = vec![json!({"id": "notify-channel"}), json!({"id": "notify-channel-2"}), json!({"id": "task"})];
        let cases = [
            ("Notify channel", "notify-channel-3"),
            ("Deploy app!", "deploy-app"),
            ("  ..  ", "task-2"),
            ("Ünïcode Ok", "n-code-ok"),
        ];
        for (name, expected) in cases {
            assert_eq!(fresh_id(name, &tasks), expected, "{name}");
        }
    }

    #[test]
    fn paths_of_the_changed_task_are_relative() {
        let cases = [
            ("tasks[1].predecessors[0]", Some("tasks[1]"), "predecessors[0]"),
            ("tasks[1]", Some("tasks[1]"), "$"),
            ("tasks[10].name", Some("tasks[1]"), "tasks[10].name"),
            ("tasks[0].name", Some("tasks[1]"), "tasks[0].name"),
            ("tasks[0].name", None, "tasks[0].name"),
        ];
        for (path, prefix, expected) in cases {
            assert_eq!(relative_to(path, prefix), expected, "{path}");
        }
    }
}
