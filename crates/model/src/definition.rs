//! A definition file's document: an integration, a runbook or an event integration, and the formats it is written in.

use crate::{EventIntegration, Integration, ModelError, Runbook};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The document of one definition file, told apart by its `kind` key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Definition {
    /// `kind: integration`.
    Integration(Integration),
    /// `kind: runbook`.
    Runbook(Runbook),
    /// `kind: event_integration` (boxed: its request and auth are held inline).
    EventIntegration(Box<EventIntegration>),
}

impl Definition {
    /// The integration's, runbook's or event integration's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Integration(integration) => &integration.name,
            Self::Runbook(runbook) => &runbook.name,
            Self::EventIntegration(events) => &events.name,
        }
    }

    /// Writes the definition as YAML that [`Validator::parse`](crate::Validator::parse) reads back to the same value.
    ///
    /// Secret values are written in clear, as a definition file needs them: never show the result to users.
    pub fn to_yaml(&self) -> Result<String, ModelError> {
        serde_saphyr::to_string(self)
            .map_err(|error| ModelError::Serialize { format: "YAML", message: error.to_string() })
    }

    /// Writes the definition as pretty-printed JSON; like [`Definition::to_yaml`], secrets are in clear.
    pub fn to_json(&self) -> Result<String, ModelError> {
        serde_json::to_string_pretty(self)
            .map_err(|error| ModelError::Serialize { format: "JSON", message: error.to_string() })
    }
}

/// The syntax of a definition file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DefinitionFormat {
    /// YAML 1.2 (the default).
    #[default]
    Yaml,
    /// Strict JSON.
    Json,
}

impl DefinitionFormat {
    /// The format a file name's extension implies: `.json` is JSON, anything else YAML.
    pub fn from_path(path: impl AsRef<Path>) -> Self {
        match path.as_ref().extension().and_then(|extension| extension.to_str()) {
            Some(extension) if extension.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Yaml,
        }
    }
}
