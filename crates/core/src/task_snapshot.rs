//! One task of a runbook read without copying the runbook: what an answer about one task (a REST task, the result of
//! starting it) needs, at a cost that does not grow with the runbook.
//!
//! [`Engine::runbook`] copies the whole definition and state, which a 10,000-task runbook makes expensive for every
//! task request; and while a reader holds the cached runbook, a commit on it must copy it too. A snapshot copies one
//! task's parts and lets go of the cached runbook at once.

use crate::engine::Engine;
use crate::error::EngineError;
use crate::stored_runbook::Loaded;
use cutover_integrations_model::{IntegrationStatus, Task};
use cutover_integrations_runbook::{TaskPlan, TaskState};
use cutover_integrations_store::RunbookId;

/// One task as its runbook held it at `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSnapshot {
    /// The task's runbook.
    pub runbook: RunbookId,
    /// The runbook's stored version (what a task's `ETag` encodes).
    pub version: i64,
    /// The task as defined (description, assignee, custom field values as written).
    pub definition: Task,
    /// What the state machine made of it (id, name, action, predecessors, required fields).
    pub plan: TaskPlan,
    /// Where it is.
    pub state: TaskState,
    /// The required custom fields without a value, which keep it from starting.
    pub missing_fields: Vec<String>,
}

impl Engine {
    /// One task of a runbook, copied alone; [`EngineError::NotFound`] for an unknown runbook or task.
    pub async fn task(&self, runbook: RunbookId, task: &str) -> Result<TaskSnapshot, EngineError> {
        let loaded = self.inner.commits.load_fresh(runbook).await?;
        snapshot(&loaded, runbook, task)
    }

    /// One task as this engine last committed or read its runbook, without asking the store whether another engine
    /// changed it since (read from the store when this engine holds no copy): the answer to a command this engine
    /// just committed, which the copy holds, at no store round trip. [`Engine::task`] reads what is stored now.
    pub async fn task_as_committed(&self, runbook: RunbookId, task: &str) -> Result<TaskSnapshot, EngineError> {
        let slot = self.inner.commits.slot(runbook);
        {
            // Copied under the lock: a commit waiting for it then finds the runbook held by nobody else, and
            // changes it in place rather than copying it whole.
            let cached = slot.cached.lock().await;
            if let Some(loaded) = cached.as_ref() {
                return snapshot(loaded, runbook, task);
            }
        }
        self.task(runbook, task).await
    }

    /// The integration of each task's action, in the order asked (`None` for a task without an action, or unknown),
    /// read together from this engine's copy of the runbook as [`Engine::task_as_committed`] reads one task: one wait
    /// for the runbook for all of them (the metrics count ended fires by integration, thousands a second).
    pub async fn task_integrations(
        &self,
        runbook: RunbookId,
        tasks: &[&str],
    ) -> Result<Vec<Option<String>>, EngineError> {
        let integrations = |loaded: &Loaded| {
            tasks
                .iter()
                .map(|task| {
                    let action = loaded.state.task(task)?.plan.action.as_ref()?;
                    Some(action.reference.integration.clone())
                })
                .collect()
        };
        let slot = self.inner.commits.slot(runbook);
        {
            let cached = slot.cached.lock().await;
            if let Some(loaded) = cached.as_ref() {
                return Ok(integrations(loaded));
            }
        }
        Ok(integrations(&*self.inner.commits.load_fresh(runbook).await?))
    }

    /// The tasks of a runbook whose integration status is one of `statuses`, with it, in definition order; the
    /// runbook is not copied (a gauge of fires under way reads this for every active runbook).
    pub async fn tasks_with_integration_status(
        &self,
        runbook: RunbookId,
        statuses: &[IntegrationStatus],
    ) -> Result<Vec<(String, IntegrationStatus)>, EngineError> {
        let loaded = self.inner.commits.load_fresh(runbook).await?;
        Ok(loaded
            .state
            .tasks()
            .filter_map(|task| {
                let status = task.state.integration_status();
                statuses.contains(&status).then(|| (task.plan.id.clone(), status))
            })
            .collect())
    }
}

/// One task of `loaded` copied alone; [`EngineError::NotFound`] for an unknown task.
pub(crate) fn snapshot(loaded: &Loaded, runbook: RunbookId, task: &str) -> Result<TaskSnapshot, EngineError> {
    let not_found = || EngineError::NotFound { what: "task", id: format!("{runbook}/{task}") };
    let index = loaded.state.plan().index_of(task).ok_or_else(not_found)?;
    let found = loaded.state.task(task).ok_or_else(not_found)?;
    // Plan positions are definition positions: the definition is found by index, not searched.
    let definition = loaded.definition.tasks.get(index as usize).filter(|defined| defined.id == task);
    Ok(TaskSnapshot {
        runbook,
        version: loaded.version,
        definition: definition.ok_or_else(not_found)?.clone(),
        plan: found.plan.clone(),
        state: found.state.clone(),
        missing_fields: loaded.state.missing_required_fields(task).unwrap_or_default(),
    })
}
