//! An action made ready to fire: response rules parsed, polling and callback settings resolved, a request renderer.
//!
//! Preparing happens once per action version; a fire and each of its steps reuse the prepared action.

use crate::HttpError;
use crate::record::RequestPurpose;
use crate::response_path::{FieldMapping, ResponseCondition, ResponsePath};
use cutover_integrations_model::{
    Action, ActionSettings, Condition, ExecutionMode, HostPattern, HttpMethod, NotifyWebhook, RedirectPolicy,
    RequestSpec,
};
use cutover_integrations_template::{RequestParts, RequestTemplate, TemplateContext, TemplateError};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A request rendered from templates, before the executor adds its headers and credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRequest {
    /// The method.
    pub method: HttpMethod,
    /// The absolute URL, query included.
    pub url: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<String>,
}

/// Renders the requests of one action from a template context (`CustomField`, `Task`, `Runbook`, `SystemParameter`,
/// `Callback`, and `Response` for polls).
///
/// [`PreparedAction::compile`] renders with the template crate; embedders with requests of their own may supply
/// another renderer to [`PreparedAction::with_renderer`].
pub trait RequestRenderer: Send + Sync {
    /// Renders the request for `purpose`; the error is a sentence saying what failed and where.
    fn render(&self, purpose: RequestPurpose, context: Value) -> Result<OutgoingRequest, String>;

    /// Renders with the fire's `secrets` known, returning the request and its secrets: those given, and every value
    /// the rendering computed from them (a secret passed through a filter is a secret). The executor redacts them all.
    ///
    /// The default renders with [`RequestRenderer::render`] and reports the given secrets only.
    fn render_with_secrets(
        &self,
        purpose: RequestPurpose,
        context: Value,
        secrets: &[SecretString],
    ) -> Result<(OutgoingRequest, Vec<SecretString>), String> {
        self.render(purpose, context).map(|request| (request, secrets.to_vec()))
    }
}

/// The action's templates compiled by the template crate: the request, the polling request, the cancel webhook.
///
/// Credentials are not rendered here (no `RequestTemplate::with_auth`): the auth provider of the fire applies them,
/// so that OAuth tokens, refreshes and redaction of credentials have one owner.
struct ActionTemplates {
    request: RequestTemplate,
    polling: Option<RequestTemplate>,
    cancel: Option<RequestTemplate>,
}

impl ActionTemplates {
    fn template(&self, purpose: RequestPurpose) -> Result<&RequestTemplate, String> {
        let template = match purpose {
            RequestPurpose::Initial => Some(&self.request),
            RequestPurpose::Poll => self.polling.as_ref(),
            RequestPurpose::CancelNotice => self.cancel.as_ref(),
        };
        template.ok_or_else(|| format!("the action has no template for its {purpose:?} request"))
    }
}

impl RequestRenderer for ActionTemplates {
    fn render(&self, purpose: RequestPurpose, context: Value) -> Result<OutgoingRequest, String> {
        self.render_with_secrets(purpose, context, &[]).map(|(request, _)| request)
    }

    fn render_with_secrets(
        &self,
        purpose: RequestPurpose,
        context: Value,
        secrets: &[SecretString],
    ) -> Result<(OutgoingRequest, Vec<SecretString>), String> {
        let template = self.template(purpose)?;
        let mut context = TemplateContext::new(context);
        for secret in secrets {
            context.add_secret(secret.expose_secret());
        }
        let rendered = template.render(&context).map_err(|error| error.to_string())?;
        let request = OutgoingRequest {
            method: rendered.method,
            url: rendered.url,
            headers: rendered.headers,
            body: rendered.body,
        };
        Ok((request, rendered.secrets))
    }
}

/// The action's request; a draft (no request yet) cannot be prepared.
fn draft_request(action: &Action) -> Result<&RequestSpec, HttpError> {
    action.request.as_ref().ok_or_else(|| HttpError::Draft { action: action.name.clone() })
}

/// A ready-to-fire action.
#[derive(Clone)]
pub struct PreparedAction {
    pub(crate) name: String,
    pub(crate) mode: ExecutionMode,
    pub(crate) settings: ActionSettings,
    pub(crate) timeout_seconds: Option<u32>,
    pub(crate) response: ResponseRules,
    pub(crate) polling: Option<PollingRules>,
    pub(crate) callback_timeout: Duration,
    pub(crate) renderer: Arc<dyn RequestRenderer>,
    /// The hosts every request of the action may reach (any when empty), checked before credentials are attached.
    pub(crate) allowed_hosts: Vec<HostPattern>,
    /// Which redirects are followed, and what crosses origins with them.
    pub(crate) redirects: RedirectPolicy,
}

impl fmt::Debug for PreparedAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedAction").field("name", &self.name).field("mode", &self.mode).finish_non_exhaustive()
    }
}

impl PreparedAction {
    /// Prepares `action`: compiles its request, polling and cancel webhook templates and parses its response paths.
    ///
    /// Errors name the template or path that is wrong (`request: payload: 1:9: …`, `response.map.Ticket`).
    pub fn compile(action: &Action) -> Result<Self, HttpError> {
        let template_error = |place: &str, error: TemplateError| HttpError::Template {
            place: place.to_owned(),
            reason: error.to_string(),
        };
        let spec = draft_request(action)?;
        let request = RequestTemplate::compile(spec).map_err(|error| template_error("request", error))?;
        let polling = action
            .polling
            .as_ref()
            .map(|spec| RequestTemplate::from_parts(RequestParts::from(spec)))
            .transpose()
            .map_err(|error| template_error("polling", error))?;
        let cancel = action
            .settings
            .notify_webhook_on_cancel
            .as_ref()
            .map(|webhook| RequestTemplate::from_parts(RequestParts::from(webhook)))
            .transpose()
            .map_err(|error| template_error("settings.notify_webhook_on_cancel", error))?;
        Self::with_renderer(action, Arc::new(ActionTemplates { request, polling, cancel }))
    }

    /// Prepares `action` with `renderer` producing its requests.
    ///
    /// Fails when a response path does not parse, or when `polling` mode has no `polling` section.
    pub fn with_renderer(action: &Action, renderer: Arc<dyn RequestRenderer>) -> Result<Self, HttpError> {
        let spec = draft_request(action)?;
        let mode = spec.execution_mode;
        let response = match &action.response {
            Some(spec) => ResponseRules {
                success_statuses: spec.success_statuses.clone(),
                success_when: conditions("response.success_when", &spec.success_when)?,
                failure_when: conditions("response.failure_when", &spec.failure_when)?,
                map: mappings("response.map", &spec.map)?,
            },
            None => ResponseRules::default(),
        };
        let polling = match (&action.polling, mode) {
            (Some(spec), _) => Some(PollingRules {
                interval: Duration::from_secs(u64::from(spec.interval_seconds)),
                max_polls: spec.max_attempts.max(1),
                timeout: spec.timeout_seconds.map(|seconds| Duration::from_secs(u64::from(seconds))),
                complete_when: conditions("polling.complete_when", &spec.complete_when)?,
                fail_when: conditions("polling.fail_when", &spec.fail_when)?,
                map: mappings("polling.map", &spec.map)?,
            }),
            (None, ExecutionMode::Polling) => {
                return Err(HttpError::MissingSection {
                    action: action.name.clone(),
                    mode: "polling".to_owned(),
                    section: "polling",
                });
            }
            (None, _) => None,
        };
        let callback_timeout =
            Duration::from_secs(u64::from(action.callback.clone().unwrap_or_default().timeout_seconds));
        Ok(Self {
            name: action.name.clone(),
            mode,
            settings: action.settings.clone(),
            timeout_seconds: spec.timeout_seconds,
            response,
            polling,
            callback_timeout,
            renderer,
            allowed_hosts: action.allowed_hosts.clone(),
            redirects: action.redirects,
        })
    }

    /// The action name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How fires of this action complete.
    pub fn mode(&self) -> ExecutionMode {
        self.mode
    }

    /// The cancel webhook, if the action has one.
    pub fn cancel_webhook(&self) -> Option<&NotifyWebhook> {
        self.settings.notify_webhook_on_cancel.as_ref()
    }
}

/// How a response of the action's request is judged and mapped.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResponseRules {
    pub(crate) success_statuses: Vec<u16>,
    pub(crate) success_when: Vec<ResponseCondition>,
    pub(crate) failure_when: Vec<ResponseCondition>,
    pub(crate) map: Vec<FieldMapping>,
}

impl ResponseRules {
    pub(crate) fn reads_body(&self) -> bool {
        !(self.success_when.is_empty() && self.failure_when.is_empty() && self.map.is_empty())
    }
}

/// How polls are judged and paced.
#[derive(Debug, Clone)]
pub(crate) struct PollingRules {
    pub(crate) interval: Duration,
    pub(crate) max_polls: u32,
    pub(crate) timeout: Option<Duration>,
    pub(crate) complete_when: Vec<ResponseCondition>,
    pub(crate) fail_when: Vec<ResponseCondition>,
    pub(crate) map: Vec<FieldMapping>,
}

fn conditions(place: &str, conditions: &[Condition]) -> Result<Vec<ResponseCondition>, HttpError> {
    conditions
        .iter()
        .enumerate()
        .map(|(index, condition)| {
            ResponseCondition::parse(condition).map_err(|reason| HttpError::InvalidPath {
                place: format!("{place}[{index}].path"),
                path: condition.path.clone(),
                reason,
            })
        })
        .collect()
}

fn mappings(place: &str, map: &BTreeMap<String, String>) -> Result<Vec<FieldMapping>, HttpError> {
    map.iter()
        .map(|(field, path)| {
            let parsed = ResponsePath::parse(path).map_err(|reason| HttpError::InvalidPath {
                place: format!("{place}.{field}"),
                path: path.clone(),
                reason,
            })?;
            Ok(FieldMapping { field: field.clone(), path: parsed })
        })
        .collect()
}
