//! Event integrations (`kind: event_integration`): outbound webhooks sent when runbooks and tasks change.

use crate::{Action, ActionSettings, AuthSettings, HostPattern, RedirectPolicy, RequestSpec, Trigger, Visibility};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An outbound webhook on runbook and task events: which events, of which runbooks, sent how.
///
/// In a definition file it is the document with `kind: event_integration`. Its request is an action's request, with
/// the same auth, templates, allowed hosts and redirect policy; without a `payload` a POST, PUT or PATCH sends the
/// default payload (the event as JSON, see `docs/event-integrations.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventIntegration {
    /// Unique name among event integrations.
    pub name: String,
    /// The event types sent; at least one.
    pub events: Vec<EventType>,
    /// Which runbooks' events are sent: every runbook (the default), one workspace's, or one runbook's.
    #[serde(default, skip_serializing_if = "EventScope::is_all")]
    pub scope: EventScope,
    /// A disabled event integration sends nothing, and does not catch up on what happened meanwhile once enabled.
    #[serde(default = "enabled_by_default", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// Send events of rehearsals too (by default only live runs and planning send).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub execute_in_rehearsal: bool,
    /// How requests authenticate.
    #[serde(default)]
    pub auth: AuthSettings,
    /// The request sent for each event; `execution_mode` must be `fire_and_forget` (a 2xx answer delivers it).
    pub request: RequestSpec,
    /// The hosts the request's URL may reach; any host when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<HostPattern>,
    /// Which redirects requests follow.
    #[serde(default, skip_serializing_if = "RedirectPolicy::is_default")]
    pub redirects: RedirectPolicy,
}

fn enabled_by_default() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

impl EventIntegration {
    /// The action that sends this event integration's requests: its auth, request, hosts and redirects, fired on
    /// nothing (deliveries are started by events, not tasks), sent in rehearsals when `execute_in_rehearsal`.
    pub fn as_action(&self) -> Action {
        Action {
            name: self.name.clone(),
            image_url: None,
            trigger: Trigger::TaskStart,
            visibility: Visibility::Global,
            settings: ActionSettings { execute_in_rehearsal: self.execute_in_rehearsal, ..ActionSettings::default() },
            auth: self.auth.clone(),
            request: Some(self.request.clone()),
            response: None,
            polling: None,
            callback: None,
            allowed_hosts: self.allowed_hosts.clone(),
            redirects: self.redirects,
        }
    }

    /// Whether the event integration sends events of `kind`.
    pub fn wants(&self, kind: EventType) -> bool {
        self.enabled && self.events.contains(&kind)
    }
}

/// The type of an event, as written in `events:` and sent in the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum EventType {
    /// A task was added (each task of a runbook, when the runbook is created).
    #[serde(rename = "task.created")]
    TaskCreated,
    /// A task moved to in progress.
    #[serde(rename = "task.started")]
    TaskStarted,
    /// A task completed.
    #[serde(rename = "task.finished")]
    TaskFinished,
    /// A task was skipped.
    #[serde(rename = "task.skipped")]
    TaskSkipped,
    /// A task's integration fire failed.
    #[serde(rename = "task.failed")]
    TaskFailed,
    /// The runbook's first run started (out of planning).
    #[serde(rename = "runbook.started")]
    RunbookStarted,
    /// A user changed the runbook's own custom field values.
    #[serde(rename = "runbook.updated")]
    RunbookUpdated,
    /// Every task of the runbook is complete or skipped.
    #[serde(rename = "runbook.finished")]
    RunbookFinished,
    /// A run (rehearsal or live) started or resumed.
    #[serde(rename = "run.started")]
    RunStarted,
    /// A run ended: complete, or cancelled.
    #[serde(rename = "run.finished")]
    RunFinished,
}

impl EventType {
    /// Every event type, in the order of the documentation.
    pub const ALL: [EventType; 10] = [
        Self::TaskCreated,
        Self::TaskStarted,
        Self::TaskFinished,
        Self::TaskSkipped,
        Self::TaskFailed,
        Self::RunbookStarted,
        Self::RunbookUpdated,
        Self::RunbookFinished,
        Self::RunStarted,
        Self::RunFinished,
    ];

    /// The name written in files and payloads, such as `task.started`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TaskCreated => "task.created",
            Self::TaskStarted => "task.started",
            Self::TaskFinished => "task.finished",
            Self::TaskSkipped => "task.skipped",
            Self::TaskFailed => "task.failed",
            Self::RunbookStarted => "runbook.started",
            Self::RunbookUpdated => "runbook.updated",
            Self::RunbookFinished => "runbook.finished",
            Self::RunStarted => "run.started",
            Self::RunFinished => "run.finished",
        }
    }

    /// The event type a name such as `task.started` names.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Whether the event concerns a task (and its payload names one).
    pub fn is_task_event(self) -> bool {
        matches!(
            self,
            Self::TaskCreated | Self::TaskStarted | Self::TaskFinished | Self::TaskSkipped | Self::TaskFailed
        )
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which runbooks an event integration hears.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventScope {
    /// Every runbook.
    #[default]
    All,
    /// The runbooks of one workspace, by name.
    #[serde(untagged)]
    Workspace {
        /// The workspace name.
        workspace: String,
    },
    /// The runbooks of one name.
    #[serde(untagged)]
    Runbook {
        /// The runbook name.
        runbook: String,
    },
}

impl EventScope {
    /// Whether it is every runbook (the default, which definition files may leave out).
    pub fn is_all(&self) -> bool {
        *self == Self::All
    }

    /// Whether a runbook of this name and workspace is in scope.
    pub fn covers(&self, runbook_name: &str, workspace: Option<&str>) -> bool {
        match self {
            Self::All => true,
            Self::Workspace { workspace: wanted } => workspace == Some(wanted.as_str()),
            Self::Runbook { runbook } => runbook == runbook_name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_names_round_trip_through_serde_and_parse() {
        for kind in EventType::ALL {
            let json = serde_json::to_string(&kind).expect("serialize");
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventType::parse("task.exploded"), None);
    }

    #[test]
    fn scopes_cover_what_they_name() {
        let cases: [(EventScope, &str, Option<&str>, bool); 6] = [
            (EventScope::All, "R", None, true),
            (EventScope::Workspace { workspace: "Ops".into() }, "R", Some("Ops"), true),
            (EventScope::Workspace { workspace: "Ops".into() }, "R", Some("Dev"), false),
            (EventScope::Workspace { workspace: "Ops".into() }, "R", None, false),
            (EventScope::Runbook { runbook: "R".into() }, "R", Some("Ops"), true),
            (EventScope::Runbook { runbook: "R".into() }, "S", None, false),
        ];
        for (scope, name, workspace, covered) in cases {
            assert_eq!(scope.covers(name, workspace), covered, "{scope:?} {name} {workspace:?}");
        }
    }
}
