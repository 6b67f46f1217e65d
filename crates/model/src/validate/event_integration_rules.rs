//! Rules within one event integration file: a name, at least one event type and none twice, a named scope, a
//! `fire_and_forget` request with valid header names.

use super::FileContext;
use super::integration_rules::header_names;
use crate::parse::path::FieldPath;
use crate::{EventIntegration, EventScope, ExecutionMode};

/// Checks one event integration.
pub(crate) fn check(context: &mut FileContext<'_>, events: &EventIntegration) {
    let root = FieldPath::root();
    let name_path = root.key("name");
    if context.walker.is_clean(&name_path) && events.name.trim().is_empty() {
        context.error(&name_path, "must not be empty");
    }
    let events_path = root.key("events");
    if context.walker.is_clean(&events_path) && events.events.is_empty() {
        context.error(&events_path, "list at least one event type, such as `task.started`");
    }
    for (index, kind) in events.events.iter().enumerate() {
        let path = events_path.index(index);
        if context.walker.is_clean(&path) && events.events[..index].contains(kind) {
            context.error(&path, format!("duplicate event type `{kind}`"));
        }
    }
    let (scope_key, scope_name) = match &events.scope {
        EventScope::All => ("", ""),
        EventScope::Workspace { workspace } => ("workspace", workspace.as_str()),
        EventScope::Runbook { runbook } => ("runbook", runbook.as_str()),
    };
    let scope_path = root.key("scope").key(scope_key);
    if !scope_key.is_empty() && context.walker.is_clean(&scope_path) && scope_name.trim().is_empty() {
        context.error(&scope_path, "must not be empty");
    }
    let request_path = root.key("request");
    let mode_path = request_path.key("execution_mode");
    if events.request.execution_mode != ExecutionMode::FireAndForget && context.walker.is_clean(&mode_path) {
        context
            .error(&mode_path, "an event integration's request is `fire_and_forget`: a 2xx answer delivers the event");
    }
    header_names(context, &request_path, &events.request.headers);
}
