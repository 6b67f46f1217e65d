//! A task's actions log as users read it: every fire of the task's action, oldest first, with its attempts (redacted
//! requests and responses, a `curl` line each) and notes.

use crate::engine::Engine;
use crate::error::EngineError;
use crate::fire_doc::{FireDoc, FireOutcome};
use cutover_integrations_http::LogEntry;
use cutover_integrations_store::{FireId, FireRecord, FireStatus, RunbookId};
use serde::Serialize;

/// One fire of a task with its log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FireLogView {
    /// The fire's id (callbacks name it).
    pub fire_id: FireId,
    /// 1 for the first fire, one more per refire.
    pub number: u32,
    /// The `Idempotency-Key` its requests carry.
    pub idempotency_key: String,
    /// Where the fire row is: `due`, `waiting` (for a callback) or `done`.
    pub status: FireStatus,
    /// How it ended, once it did (an action's fire: `succeeded`, `failed`, `not_sent` or `cancelled`).
    pub outcome: Option<FireOutcome>,
    /// Attempts and notes, in the order they were written; secrets were redacted before they were stored.
    pub entries: Vec<LogEntry>,
}

impl Engine {
    /// The actions log of a task: its fires, oldest first, each with its entries. The task must exist.
    pub async fn task_actions_log(&self, runbook: RunbookId, task: &str) -> Result<Vec<FireLogView>, EngineError> {
        // Only whether the task exists: the runbook is not copied (a fire's end reads this log for metrics).
        if self.inner.commits.load_fresh(runbook).await?.state.task(task).is_none() {
            return Err(EngineError::NotFound { what: "task", id: format!("{runbook}/{task}") });
        }
        let mut fires = Vec::new();
        // Cancel notices are fire rows of their own; their entries are logged on the fire they cancel, so only the
        // action's fires are listed.
        for fire in self.inner.store.task_fires(runbook, task).await? {
            if let Some(view) = self.fire_log_view(fire).await? {
                fires.push(view);
            }
        }
        Ok(fires)
    }

    /// Fire `number` of a task with its log, as [`Engine::task_actions_log`] lists it; `None` when the task has no
    /// such fire (or does not exist). Only that fire's log is read, and the runbook is not: what a fire's end needs
    /// (the server's attempt duration histogram), at two store queries whatever the runbook's size.
    pub async fn fire_log(
        &self,
        runbook: RunbookId,
        task: &str,
        number: u32,
    ) -> Result<Option<FireLogView>, EngineError> {
        let fires = self.inner.store.task_fires(runbook, task).await?;
        let Some(fire) = fires.into_iter().find(|fire| fire.kind.action().is_some_and(|found| found.get() == number))
        else {
            return Ok(None);
        };
        self.fire_log_view(fire).await
    }

    /// An action's fire with its parsed log; `None` for a cancel notice.
    async fn fire_log_view(&self, fire: FireRecord) -> Result<Option<FireLogView>, EngineError> {
        let Some(number) = fire.kind.action() else { return Ok(None) };
        let doc = FireDoc::parse(&fire.state)?;
        let mut entries = Vec::new();
        for record in self.inner.store.actions_log(fire.id).await? {
            entries.push(serde_json::from_str(&record.record).map_err(EngineError::corrupt("actions log record"))?);
        }
        Ok(Some(FireLogView {
            fire_id: fire.id,
            number: number.get(),
            idempotency_key: fire.idempotency_key,
            status: fire.status,
            outcome: doc.outcome,
            entries,
        }))
    }
}
