//! Runbooks and their tasks, as declared in definition files.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// A runbook: a DAG of tasks with runbook-level custom field values.
///
/// In a definition file it is the document with `kind: runbook`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    /// Name.
    pub name: String,
    /// The workspace the runbook belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Runbook-level custom field values; tasks see them unless they set their own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: BTreeMap<String, FieldValue>,
    /// The tasks.
    pub tasks: Vec<Task>,
}

/// A task of a runbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Id, unique within the runbook; predecessors and the API refer to it.
    pub id: String,
    /// Name shown to users.
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The integration action this task runs; a manual task when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionRef>,
    /// Ids of the tasks that must be complete or skipped before this one can start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub predecessors: Vec<String>,
    /// Task-level custom field values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: BTreeMap<String, FieldValue>,
    /// Start by itself as soon as startable.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_start: bool,
    /// Earliest start, RFC 3339 (`2026-11-22T18:00:00Z`); not allowed with `auto_start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_start: Option<String>,
    /// Planned duration in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u64>,
    /// The user the task is assigned to, by email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
}

/// A reference to an action, written `INTEGRATION/ACTION`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionRef {
    /// The integration name (contains no `/`).
    pub integration: String,
    /// The action name.
    pub action: String,
}

impl ActionRef {
    /// Parses `INTEGRATION/ACTION`, splitting at the first `/`; `None` when either half is empty.
    pub fn parse(text: &str) -> Option<Self> {
        let (integration, action) = text.split_once('/')?;
        if integration.trim().is_empty() || action.trim().is_empty() {
            return None;
        }
        Some(Self { integration: integration.to_owned(), action: action.to_owned() })
    }
}

impl fmt::Display for ActionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.integration, self.action)
    }
}

impl Serialize for ActionRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl JsonSchema for ActionRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ActionRef".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[^/]*\\S[^/]*/.*\\S.*$",
            "description": "An action, written `INTEGRATION/ACTION`"
        })
    }
}

impl<'de> Deserialize<'de> for ActionRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not an INTEGRATION/ACTION reference")))
    }
}

/// A custom field value: one string, or a list of strings for multi-select types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum FieldValue {
    /// One value.
    Text(String),
    /// Several values (checkboxes, users).
    List(Vec<String>),
}

impl FieldValue {
    /// Whether the value counts as empty for `required` fields.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Text(text) => text.trim().is_empty(),
            Self::List(items) => items.iter().all(|item| item.trim().is_empty()),
        }
    }
}
