//! The action dialog: tabs `General`, `Authorization`, `Request`, `Response`, `Polling`, saved through the engine's
//! `add_action` and `patch_action` (the REST API's operations).

use cutover_integrations_core::model::Trigger;

/// A trigger as the console names it.
pub(crate) fn trigger_label(trigger: Trigger) -> &'static str {
    match trigger {
        Trigger::TaskStart => "On Task Start",
        Trigger::RunbookUpdate => "On Runbook Update",
    }
}
