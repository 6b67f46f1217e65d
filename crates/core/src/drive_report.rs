//! The report of a driven runbook as it stands, for a run that stops before [`RunningEngine::drive`](crate::RunningEngine::drive) returns (a user
//! interrupted it): the same table of tasks, read from the current state.

use crate::drive::{DriveReport, report};
use crate::engine::Engine;
use crate::error::EngineError;
use cutover_integrations_store::RunbookId;
use std::collections::BTreeMap;

impl Engine {
    /// Every task of a runbook where it is now, with the reason it has not completed (its failure, what it waits
    /// for); what [`RunningEngine::drive`](crate::RunningEngine::drive) returns at its end, available at any time.
    pub async fn drive_report(&self, runbook: RunbookId) -> Result<DriveReport, EngineError> {
        let view = self.runbook(runbook).await?;
        Ok(report(runbook, &view.state, &BTreeMap::new()))
    }
}
