//! What the engine tells listeners: runbook and task changes, tagged with their runbook.

use cutover_integrations_model::IntegrationStatus;
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

/// Fires that ended in this engine's commits since it was built, by outcome ([`Engine::ended_fires`]).
///
/// Counted as the commits land, from the same events listeners are told, so the counts are exact whether or not a
/// listener of [`Engine::subscribe`] keeps up with the broadcast (one that lags loses events, not these counts).
///
/// [`Engine::ended_fires`]: crate::Engine::ended_fires
/// [`Engine::subscribe`]: crate::Engine::subscribe
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndedFires {
    /// The fire succeeded.
    pub succeeded: u64,
    /// The fire failed.
    pub failed: u64,
    /// The fire was cancelled.
    pub cancelled: u64,
    /// A rehearsal fire rendered and logged, not sent.
    pub not_sent: u64,
}

impl EndedFires {
    /// The name of the outcome a fire ended with when its task's integration status became `status` (the status's
    /// own name); `None` while a fire is under way, or for no fire.
    pub fn outcome_name(status: IntegrationStatus) -> Option<&'static str> {
        match status {
            IntegrationStatus::Succeeded => Some("succeeded"),
            IntegrationStatus::Failed => Some("failed"),
            IntegrationStatus::Cancelled => Some("cancelled"),
            IntegrationStatus::NotSent => Some("not_sent"),
            IntegrationStatus::None
            | IntegrationStatus::Pending
            | IntegrationStatus::Running
            | IntegrationStatus::Waiting => None,
        }
    }

    /// Each outcome's name (as [`EndedFires::outcome_name`] gives it) with its count, in a fixed order.
    pub fn by_outcome(&self) -> [(&'static str, u64); 4] {
        [
            ("succeeded", self.succeeded),
            ("failed", self.failed),
            ("cancelled", self.cancelled),
            ("not_sent", self.not_sent),
        ]
    }

    /// Counts `event` if a fire ended with it.
    pub(crate) fn count(&mut self, event: &Event) {
        let Event::IntegrationStatusChanged { status, .. } = event else { return };
        let counter = match status {
            IntegrationStatus::Succeeded => &mut self.succeeded,
            IntegrationStatus::Failed => &mut self.failed,
            IntegrationStatus::Cancelled => &mut self.cancelled,
            IntegrationStatus::NotSent => &mut self.not_sent,
            IntegrationStatus::None
            | IntegrationStatus::Pending
            | IntegrationStatus::Running
            | IntegrationStatus::Waiting => return,
        };
        *counter += 1;
    }
}
