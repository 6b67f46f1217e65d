//! Integration actions: general settings, auth, request, response handling, polling and callback.

use crate::{HostPattern, RedirectPolicy, SecretValue};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One configured automation of an integration; each action is a task type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// Name, unique within its integration.
    pub name: String,
    /// Icon of the action's task type (an absolute `http(s)` URL or a path on this server); the integration's icon is
    /// used when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// When the action fires; fixed at creation.
    #[serde(default)]
    pub trigger: Trigger,
    /// Which workspaces see the action; fixed at creation.
    #[serde(default)]
    pub visibility: Visibility,
    /// General settings; every flag defaults to false.
    #[serde(default)]
    pub settings: ActionSettings,
    /// How requests authenticate.
    #[serde(default)]
    pub auth: AuthSettings,
    /// The request sent when the action fires. Without one the action is a draft (saved from its general settings
    /// alone, as the console allows): no task may use it and it never fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestSpec>,
    /// How a `sync` response is judged and mapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseSpec>,
    /// How a `polling` fire polls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polling: Option<PollingSpec>,
    /// How a `callback` fire waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<CallbackSpec>,
    /// The hosts every URL of the action (request, polling, cancel webhook) may reach; any host when empty. Required
    /// when a URL's scheme or host reads a value operators can change (anything but system parameters).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<HostPattern>,
    /// Which redirects the action's requests follow, and what crosses to another origin with them.
    #[serde(default, skip_serializing_if = "RedirectPolicy::is_default")]
    pub redirects: RedirectPolicy,
}

impl Action {
    /// Whether the action is a draft: it has no request yet, so no task may use it.
    pub fn is_draft(&self) -> bool {
        self.request.is_none()
    }

    /// The custom fields the action's templates read (URL, headers, payload and params of the request, of polling and
    /// of the cancel webhook), by name: what an action on [`Trigger::RunbookUpdate`] watches.
    ///
    /// ```
    /// use cutover_integrations_model::{SourceFile, Validator, Definition};
    /// let text = "kind: integration\nname: I\ncustom_fields: [{name: Change, type: text, applies_to: runbook}]\n\
    ///             actions:\n  - name: A\n    trigger: runbook_update\n    request:\n      method: POST\n      \
    ///             url: https://x.test/{{CustomField['Change']}}\n      payload: {text: \"{{Runbook.name}}\"}\n";
    /// let parsed = Validator::new().parse(&SourceFile::new("i.yaml", text)).unwrap();
    /// let Definition::Integration(integration) = parsed.into_definition() else { unreachable!() };
    /// assert_eq!(integration.actions[0].custom_fields_read().into_iter().collect::<Vec<_>>(), ["Change"]);
    /// ```
    pub fn custom_fields_read(&self) -> std::collections::BTreeSet<String> {
        crate::validate::custom_fields_read(self)
    }
}

/// When an action fires.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// When a task of this type starts.
    #[default]
    TaskStart,
    /// When the runbook is updated.
    RunbookUpdate,
}

/// Which workspaces see an action or a custom field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Every workspace.
    #[default]
    Global,
    /// One workspace, by name.
    #[serde(untagged)]
    Workspace {
        /// The workspace name.
        workspace: String,
    },
}

impl Visibility {
    /// Whether every workspace sees it (the default, which definition files may leave out).
    pub fn is_global(&self) -> bool {
        *self == Self::Global
    }

    /// Whether a runbook in `workspace` (or in none) may use what has this visibility: everything global, and what is
    /// visible to the runbook's own workspace.
    pub fn serves(&self, workspace: Option<&str>) -> bool {
        match self {
            Self::Global => true,
            Self::Workspace { workspace: visible_in } => workspace == Some(visible_in.as_str()),
        }
    }
}

/// The general settings of an action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ActionSettings {
    /// Tasks of this type start by themselves once startable.
    pub auto_start: bool,
    /// Tasks of this type have a fixed start time (not allowed with `auto_start`).
    pub fixed_start_time: bool,
    /// Users may cancel a fire.
    pub cancelable: bool,
    /// Where to send a cancel message when a fire is cancelled.
    pub notify_webhook_on_cancel: Option<NotifyWebhook>,
    /// The task completes when the fire succeeds.
    pub finish_task_on_success: bool,
    /// Add `cutover_context` to JSON object payloads and context headers to every request.
    pub include_context: bool,
    /// Send the request in rehearsals too.
    pub execute_in_rehearsal: bool,
}

/// The webhook told about a cancelled fire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyWebhook {
    /// URL template.
    pub url: String,
    /// Header value templates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Payload template; a JSON message describing the cancellation when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<BodyTemplate>,
}

/// How an action's requests authenticate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthSettings {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: <token_type> <token>`.
    Token {
        /// The scheme, such as `Bearer` or `token`.
        #[serde(default = "default_token_type")]
        token_type: String,
        /// The token.
        token: SecretValue,
    },
    /// HTTP basic auth.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: SecretValue,
    },
    /// An API key in a header or the query string.
    ApiKey {
        /// Where the key goes.
        #[serde(rename = "in")]
        location: ApiKeyLocation,
        /// The header or query parameter name.
        name: String,
        /// The key.
        value: SecretValue,
    },
    /// OAuth 2.
    Oauth2(OAuth2Settings),
    /// A signature per the Standard Webhooks specification: `webhook-id` (the fire's idempotency key),
    /// `webhook-timestamp` (per attempt) and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
    StandardWebhooks {
        /// The signing secret, `whsec_` followed by the base64 of 24 to 64 bytes.
        secret: SecretValue,
    },
}

impl AuthSettings {
    /// The same settings with every secret-bearing value (token, password, API key value, OAuth 2 client secret,
    /// Standard Webhooks secret) replaced by `placeholder`: what lists show, and what can be stored beside the sealed
    /// settings in clear.
    pub fn with_secrets_replaced(&self, placeholder: &str) -> Self {
        let mut shown = self.clone();
        match &mut shown {
            Self::None => {}
            Self::Token { token: secret, .. }
            | Self::Basic { password: secret, .. }
            | Self::ApiKey { value: secret, .. }
            | Self::StandardWebhooks { secret } => *secret = SecretValue::new(placeholder),
            Self::Oauth2(settings) => settings.client_secret = SecretValue::new(placeholder),
        }
        shown
    }
}

fn default_token_type() -> String {
    "Bearer".to_owned()
}

/// Where an API key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyLocation {
    /// A request header.
    Header,
    /// A query parameter.
    Query,
}

/// OAuth 2 settings of an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Settings {
    /// The grant used to obtain tokens.
    pub grant: OAuth2Grant,
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: SecretValue,
    /// Base URL of the provider; endpoints are relative to it unless absolute.
    pub provider_host: String,
    /// Authorization endpoint (authorization code grant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// Token endpoint.
    pub token_endpoint: String,
    /// Requested scopes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Whose token is used (authorization code grant).
    #[serde(default)]
    pub authenticate_as: AuthenticateAs,
}

/// An OAuth 2 grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuth2Grant {
    /// A user authorizes in a browser; PKCE protects the exchange.
    AuthorizationCode,
    /// The client authenticates as itself.
    ClientCredentials,
}

/// Whose OAuth token a fire uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthenticateAs {
    /// One functional user authorizes once for the action.
    #[default]
    FunctionalUser,
    /// Each task's user authorizes for that task.
    TaskUser,
}

/// The request an action sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// HTTP method.
    pub method: HttpMethod,
    /// URL template.
    pub url: String,
    /// Header value templates by header name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Body template (POST, PUT, PATCH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<BodyTemplate>,
    /// Query parameters as a JSON object template, or a mapping whose string leaves are templates (GET, DELETE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<ParamsTemplate>")]
    pub params: Option<BodyTemplate>,
    /// How the fire completes.
    #[serde(default)]
    pub execution_mode: ExecutionMode,
    /// Total timeout of one attempt; the executor's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
}

/// How deep lists and mappings of a structured body may nest (the parser's limit on any document).
pub const MAX_STRUCTURE_DEPTH: usize = 64;

/// A request body (`payload`) or query parameters (`params`): one template of the whole text, or a structure.
///
/// The structured form is a mapping or a list (YAML or JSON) whose string leaves are templates: each renders into a
/// JSON string (escaped by construction), except a leaf that is one placeholder ending in a typed filter (`plus`,
/// `minus`, `times`, `divided_by`, `size`, `split`, `first`, `last`, `json`, `parse_json`), which renders as the JSON
/// value it computes. Numbers, booleans and null are sent as they are; keys are literal. The body is sent as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum BodyTemplate {
    /// One template of the whole text: JSON text, or any text when the `Content-Type` is not JSON.
    Text(String),
    /// A JSON object whose string leaves are templates.
    Object(serde_json::Map<String, serde_json::Value>),
    /// A JSON list whose string leaves are templates.
    List(Vec<serde_json::Value>),
}

impl BodyTemplate {
    /// The text of the text form; `None` for a structure.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            Self::Object(_) | Self::List(_) => None,
        }
    }

    /// Whether this is the structured form.
    pub fn is_structured(&self) -> bool {
        !matches!(self, Self::Text(_))
    }

    /// The structure as a JSON value; `None` for the text form.
    pub fn structure(&self) -> Option<serde_json::Value> {
        match self {
            Self::Text(_) => None,
            Self::Object(map) => Some(serde_json::Value::Object(map.clone())),
            Self::List(items) => Some(serde_json::Value::Array(items.clone())),
        }
    }

    /// The text form, or the structure as indented JSON (what a text box shows).
    pub fn display_text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Object(_) | Self::List(_) => serde_json::to_string_pretty(self).unwrap_or_default(),
        }
    }
}

/// The shape `params` may take in a definition file: a [`BodyTemplate`] that is text or a mapping, never a list (the
/// schema's view; the model holds params as a [`BodyTemplate`]).
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ParamsTemplate {
    /// One template of a JSON object.
    Text(String),
    /// A mapping of query parameter names to values whose string leaves are templates.
    Object(serde_json::Map<String, serde_json::Value>),
}

impl From<&str> for BodyTemplate {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<String> for BodyTemplate {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

/// An HTTP method an action may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// GET (takes `params`).
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE (takes `params`).
    Delete,
}

impl HttpMethod {
    /// Whether requests with this method carry query `params` rather than a `payload`.
    pub fn takes_params(self) -> bool {
        matches!(self, Self::Get | Self::Delete)
    }

    /// The method name as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// How a fire completes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionMode {
    /// Success if and only if the status is 2xx; nothing else is read.
    #[default]
    FireAndForget,
    /// The response is read, judged by conditions and mapped to custom fields.
    Sync,
    /// After the first request succeeds, poll until a condition holds.
    Polling,
    /// Wait until the third party calls back.
    Callback,
}

/// How a `sync` response is judged and mapped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ResponseSpec {
    /// Statuses that count as success; any 2xx when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub success_statuses: Vec<u16>,
    /// Every condition must hold for success.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub success_when: Vec<Condition>,
    /// Any condition that holds makes the fire fail.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failure_when: Vec<Condition>,
    /// Custom field name → JSONPath into the response body.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub map: BTreeMap<String, String>,
}

/// A condition on a JSON response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Condition {
    /// JSONPath (RFC 9535) or Cutover's dotted form.
    pub path: String,
    /// The test applied to the value at `path`.
    #[serde(flatten)]
    pub test: ConditionTest,
}

/// The test of a [`Condition`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConditionTest {
    /// The value equals this JSON value.
    Equals(serde_json::Value),
    /// The value equals one of these.
    In(Vec<serde_json::Value>),
    /// The path matches something (`true`) or nothing (`false`).
    Exists(bool),
}

/// How a `polling` fire polls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PollingSpec {
    /// GET or POST.
    pub method: HttpMethod,
    /// URL template; may read `{{Response...}}`.
    pub url: String,
    /// Header value templates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Body template (POST).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<BodyTemplate>,
    /// Query parameters template, or a mapping whose string leaves are templates (GET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<ParamsTemplate>")]
    pub params: Option<BodyTemplate>,
    /// Seconds between polls.
    #[serde(default = "default_interval")]
    pub interval_seconds: u32,
    /// Polls before giving up.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Overall limit on polling, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    /// Every condition must hold for the fire to complete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub complete_when: Vec<Condition>,
    /// Any condition that holds makes the fire fail.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fail_when: Vec<Condition>,
    /// Custom field name → JSONPath into the last poll's body.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub map: BTreeMap<String, String>,
}

fn default_interval() -> u32 {
    10
}

fn default_max_attempts() -> u32 {
    30
}

/// How a `callback` fire waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackSpec {
    /// The fire fails if no callback arrives within this many seconds.
    #[serde(default = "default_callback_timeout")]
    pub timeout_seconds: u32,
}

fn default_callback_timeout() -> u32 {
    3600
}

impl Default for CallbackSpec {
    fn default() -> Self {
        Self { timeout_seconds: default_callback_timeout() }
    }
}
