//! Reading event integration definitions: events, scope, flags, and an action's auth and request.

use super::path::FieldPath;
use super::reader::{FromNode, ObjectReader, Walker, choices};
use super::tree::{Node, NodeValue};
use crate::{EventIntegration, EventScope, EventType, ExecutionMode, HttpMethod, RequestSpec};

choices!(EventType {
    "task.created" => EventType::TaskCreated,
    "task.started" => EventType::TaskStarted,
    "task.finished" => EventType::TaskFinished,
    "task.skipped" => EventType::TaskSkipped,
    "task.failed" => EventType::TaskFailed,
    "runbook.started" => EventType::RunbookStarted,
    "runbook.updated" => EventType::RunbookUpdated,
    "runbook.finished" => EventType::RunbookFinished,
    "run.started" => EventType::RunStarted,
    "run.finished" => EventType::RunFinished,
});

/// Reads the rest of an event integration document once `kind` has been read.
pub(crate) fn read_event_integration(walker: &mut Walker, mut object: ObjectReader<'_>) -> EventIntegration {
    let name = object.required(walker, "name").unwrap_or_default();
    let events: Vec<EventType> = object.required(walker, "events").unwrap_or_default();
    let scope = object.or_default(walker, "scope");
    let enabled = object.optional(walker, "enabled").unwrap_or(true);
    let execute_in_rehearsal = object.or_default(walker, "execute_in_rehearsal");
    let auth = object.or_default(walker, "auth");
    let request: Option<RequestSpec> = object.required(walker, "request");
    let allowed_hosts = object.or_default(walker, "allowed_hosts");
    let redirects = object.or_default(walker, "redirects");
    object.finish(walker);
    EventIntegration {
        name,
        events,
        scope,
        enabled,
        execute_in_rehearsal,
        auth,
        request: request.unwrap_or_else(|| RequestSpec {
            method: HttpMethod::Post,
            url: String::new(),
            headers: Default::default(),
            payload: None,
            params: None,
            execution_mode: ExecutionMode::FireAndForget,
            timeout_seconds: None,
        }),
        allowed_hosts,
        redirects,
    }
}

impl FromNode for EventScope {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        const EXPECTED: &str = "`all`, `{workspace: NAME}` or `{runbook: NAME}`";
        match &node.value {
            NodeValue::Scalar(scalar) if scalar.text == "all" => EventScope::All,
            NodeValue::Mapping(_) => {
                let Some(mut object) = ObjectReader::open(walker, node, path) else {
                    return EventScope::All;
                };
                let scope = match (object.has_key("workspace"), object.has_key("runbook")) {
                    (true, false) => {
                        EventScope::Workspace { workspace: object.required(walker, "workspace").unwrap_or_default() }
                    }
                    (false, true) => {
                        EventScope::Runbook { runbook: object.required(walker, "runbook").unwrap_or_default() }
                    }
                    (true, true) => {
                        let _: Option<String> = object.optional(walker, "workspace");
                        let _: Option<String> = object.optional(walker, "runbook");
                        object.report(walker, "runbook", "a scope is one workspace or one runbook, not both");
                        EventScope::All
                    }
                    (false, false) => {
                        // Whatever keys it has, none is known: one error for the scope.
                        walker.error_at(node, path, format!("expected {EXPECTED}"));
                        return EventScope::All;
                    }
                };
                object.finish(walker);
                scope
            }
            NodeValue::Scalar(scalar) => {
                walker.error_at(node, path, format!("unknown value `{}`; expected {EXPECTED}", scalar.text));
                EventScope::All
            }
            NodeValue::Sequence(_) => {
                walker.wrong_type(node, path, EXPECTED);
                EventScope::All
            }
        }
    }
}
