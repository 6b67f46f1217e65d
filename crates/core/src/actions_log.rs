//! A task's actions log as readers want it: each fire of the task, in order, with its log entries parsed back into
//! the HTTP executor's records (requests and responses redacted, a `curl` line per request).

use crate::engine::Engine;
use crate::error::EngineError;
use cutover_integrations_http::LogEntry;
use cutover_integrations_store::{FireId, FireStatus, RunbookId};
use serde::Serialize;

/// One fire of a task with its actions log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FireActionsLog {
    /// The fire's id.
    pub fire: FireId,
    /// 1 for the first fire, one more per refire.
    pub number: i64,
    /// The `Idempotency-Key` its requests carry.
    pub idempotency_key: String,
    /// Where the fire is.
    pub status: FireStatus,
    /// Attempts and notes, in the order they happened; a cancel message sent for this fire is among them.
    pub entries: Vec<LogEntry>,
}

impl Engine {
    /// The actions log of a task: every fire, first to last, with its entries. Fails with
    /// [`EngineError::NotFound`] when the runbook or the task does not exist.
    pub async fn task_actions_log(&self, runbook: RunbookId, task: &str) -> Result<Vec<FireActionsLog>, EngineError> {
        let view = self.runbook(runbook).await?;
        if view.state.task(task).is_none() {
            return Err(EngineError::NotFound { what: "task", id: task.to_owned() });
        }
        let store = self.store();
        let mut fires = Vec::new();
        // Cancel messages are fires of their own with negative numbers; their log entries belong to the fire they
        // cancel, so only the task's real fires are listed.
        for fire in store.task_fires(runbook, task).await?.into_iter().filter(|fire| fire.fire_number > 0) {
            let entries = store
                .actions_log(fire.id)
                .await?
                .iter()
                .map(|record| serde_json::from_str(&record.record))
                .collect::<Result<Vec<LogEntry>, _>>()
                .map_err(EngineError::corrupt("actions log record"))?;
            fires.push(FireActionsLog {
                fire: fire.id,
                number: fire.fire_number,
                idempotency_key: fire.idempotency_key,
                status: fire.status,
                entries,
            });
        }
        Ok(fires)
    }
}
