//! Integrations (connections), custom fields and system parameters.

use crate::{Action, SecretValue, Visibility};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An integration connection: a named container of actions and the custom fields they use.
///
/// In a definition file it is the document with `kind: integration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    /// Unique name, also the first half of an `INTEGRATION/ACTION` reference; it may not contain `/`.
    pub name: String,
    /// Custom (built here) or predefined. Written `type:` in definition files, because `kind:` names the document.
    #[serde(rename = "type", default)]
    pub integration_kind: IntegrationKind,
    /// Icon of the integration and of its actions' task types (an absolute `http(s)` URL or a path on this server, such
    /// as a catalog entry's `/assets/catalog/slack.svg`); a default one is used when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// Archived integrations keep their history but cannot fire.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
    /// Custom fields the actions read and write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_fields: Vec<CustomField>,
    /// The actions; each is a task type.
    #[serde(default)]
    pub actions: Vec<Action>,
}

/// Whether an integration was built here or comes predefined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationKind {
    /// Built to the user's own requirements, with any authorization.
    #[default]
    Custom,
    /// Predefined fields and default authorization.
    Predefined,
}

/// A custom field: a named value on a task or runbook that templates read and response mappings write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomField {
    /// Unique name, as used in `{{CustomField['Name']}}`.
    pub name: String,
    /// The input type.
    #[serde(rename = "type")]
    pub field_type: CustomFieldType,
    /// The choices of `select`, `radio` and `checkboxes` fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// A task cannot start while a required field is empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// Transient values are not copied when a runbook is duplicated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub transient: bool,
    /// Whether the field sits on tasks or on the runbook.
    #[serde(default)]
    pub applies_to: AppliesTo,
    /// Names of the actions whose tasks show the field; empty means every action.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restrict_to: Vec<String>,
    /// Which workspaces see the field.
    #[serde(default, skip_serializing_if = "Visibility::is_global")]
    pub visibility: Visibility,
}

/// The input type of a custom field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomFieldType {
    /// One line of text.
    Text,
    /// Several lines of text.
    Textarea,
    /// A single choice from a menu.
    Select,
    /// A single choice from radio buttons.
    Radio,
    /// Several choices.
    Checkboxes,
    /// A date.
    Date,
    /// One or more users.
    User,
}

impl CustomFieldType {
    /// Whether the type needs `options`.
    pub fn has_options(self) -> bool {
        matches!(self, Self::Select | Self::Radio | Self::Checkboxes)
    }

    /// Whether values are lists of strings rather than one string.
    pub fn is_multi(self) -> bool {
        matches!(self, Self::Checkboxes | Self::User)
    }
}

/// Where a custom field sits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppliesTo {
    /// On each task.
    #[default]
    Task,
    /// On the runbook; tasks see it unless they set their own value.
    Runbook,
}

/// A system parameter: a named value shared by every integration, usable as `{{SystemParameter['name']}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemParameter {
    /// Unique name.
    pub name: String,
    /// The value; held as a secret whatever the flag, so that it is never printed by accident.
    pub value: SecretValue,
    /// A secret parameter is never shown back and is redacted wherever it appears.
    #[serde(default)]
    pub secret: bool,
}
