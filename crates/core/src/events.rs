//! What the engine tells listeners: runbook and task changes, tagged with their runbook.

use cutover_integrations_runbook::Event;
use cutover_integrations_store::RunbookId;
use serde::Serialize;

/// A change of a runbook or one of its tasks, as the state machine reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineEvent {
    /// The runbook.
    pub runbook: RunbookId,
    /// What changed.
    #[serde(flatten)]
    pub event: Event,
}
