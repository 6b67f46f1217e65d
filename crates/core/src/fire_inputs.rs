//! What a fire step takes from its runbook ([`TaskInputs`]), and a fire handed from a commit to the dispatcher in
//! memory ([`LocalFire`]). A leaf: the commit queue makes these, the dispatcher carries them, `dispatch.rs` uses them.

use crate::error::EngineError;
use crate::render::{defined_task, fire_values};
use crate::stored_runbook::Loaded;
use cutover_integrations_model::ActionRef;
use cutover_integrations_store::{FireKind, FireRecord};
use serde_json::Value;

/// What a fire step needs of its runbook, taken from it at one moment: whether the fire is still the one its task
/// runs, the task's action, the template values from the runbook, the task's assignee. Small, so that a fire waiting
/// for a free slot holds this rather than the runbook (which a commit then would have to copy to change).
pub(crate) struct TaskInputs {
    /// Whether the task still runs this fire (not cancelled, skipped, refired or ended since).
    pub(crate) current: bool,
    /// The task's action.
    pub(crate) action: Option<ActionRef>,
    /// The template values from the runbook.
    pub(crate) values: Value,
    /// The task's assignee.
    pub(crate) assignee: Option<String>,
}

impl TaskInputs {
    /// The inputs of `fire` from `loaded`.
    pub(crate) fn of(loaded: &Loaded, fire: &FireRecord) -> Result<Self, EngineError> {
        let task = loaded
            .state
            .task(&fire.task_id)
            .ok_or_else(|| EngineError::NotFound { what: "task", id: fire.task_id.clone() })?;
        Ok(Self {
            current: task.state.active_fire().is_some_and(|active| fire.kind == FireKind::Action(active)),
            action: task.plan.action.as_ref().map(|action| action.reference.clone()),
            values: fire_values(fire.runbook_id.0, &loaded.state, &task, &loaded.definition),
            assignee: defined_task(&loaded.definition, &loaded.state, &fire.task_id)
                .and_then(|task| task.assignee.clone()),
        })
    }
}

/// A fire this engine's commit created and leased to it, with its task's inputs as that commit left them.
pub(crate) struct LocalFire {
    pub(crate) record: FireRecord,
    pub(crate) inputs: TaskInputs,
}
