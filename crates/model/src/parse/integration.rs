//! Reading integration definitions: the integration, its custom fields and its actions.

use super::path::FieldPath;
use super::reader::{FromNode, ObjectReader, Walker, choices, mapping_entries};
use super::tree::{Node, NodeValue};
use crate::{
    Action, ActionSettings, ApiKeyLocation, AppliesTo, AuthSettings, AuthenticateAs, BodyTemplate, CallbackSpec,
    Condition, ConditionTest, CustomField, CustomFieldType, ExecutionMode, HostPattern, HttpMethod, Integration,
    IntegrationKind, NotifyWebhook, OAuth2Grant, OAuth2Settings, PollingSpec, RedirectPolicy, RequestSpec,
    ResponseSpec, SecretValue, Trigger, Visibility,
};
use std::collections::BTreeMap;

choices!(IntegrationKind { "custom" => IntegrationKind::Custom, "predefined" => IntegrationKind::Predefined });
choices!(CustomFieldType {
    "text" => CustomFieldType::Text,
    "textarea" => CustomFieldType::Textarea,
    "select" => CustomFieldType::Select,
    "radio" => CustomFieldType::Radio,
    "checkboxes" => CustomFieldType::Checkboxes,
    "date" => CustomFieldType::Date,
    "user" => CustomFieldType::User,
});
choices!(AppliesTo { "task" => AppliesTo::Task, "runbook" => AppliesTo::Runbook });
choices!(Trigger { "task_start" => Trigger::TaskStart, "runbook_update" => Trigger::RunbookUpdate });
choices!(HttpMethod {
    "GET" => HttpMethod::Get,
    "POST" => HttpMethod::Post,
    "PUT" => HttpMethod::Put,
    "PATCH" => HttpMethod::Patch,
    "DELETE" => HttpMethod::Delete,
});
choices!(ExecutionMode {
    "fire_and_forget" => ExecutionMode::FireAndForget,
    "sync" => ExecutionMode::Sync,
    "polling" => ExecutionMode::Polling,
    "callback" => ExecutionMode::Callback,
});
choices!(ApiKeyLocation { "header" => ApiKeyLocation::Header, "query" => ApiKeyLocation::Query });
choices!(OAuth2Grant {
    "authorization_code" => OAuth2Grant::AuthorizationCode,
    "client_credentials" => OAuth2Grant::ClientCredentials,
});
choices!(RedirectPolicy {
    "same_origin" => RedirectPolicy::SameOrigin,
    "any" => RedirectPolicy::Any,
    "none" => RedirectPolicy::None,
});
choices!(AuthenticateAs { "functional_user" => AuthenticateAs::FunctionalUser, "task_user" => AuthenticateAs::TaskUser });

/// The auth types, as written in `auth.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthType {
    None,
    Token,
    Basic,
    ApiKey,
    Oauth2,
    StandardWebhooks,
}

choices!(AuthType {
    "none" => AuthType::None,
    "token" => AuthType::Token,
    "basic" => AuthType::Basic,
    "api_key" => AuthType::ApiKey,
    "oauth2" => AuthType::Oauth2,
    "standard_webhooks" => AuthType::StandardWebhooks,
});

/// Reads the rest of an integration document once `kind` has been read.
pub(crate) fn read_integration(walker: &mut Walker, mut object: ObjectReader<'_>) -> Integration {
    let integration = Integration {
        name: object.required(walker, "name").unwrap_or_default(),
        integration_kind: object.or_default(walker, "type"),
        image_url: object.optional(walker, "image_url"),
        archived: object.or_default(walker, "archived"),
        custom_fields: object.or_default(walker, "custom_fields"),
        actions: object.or_default(walker, "actions"),
    };
    object.finish(walker);
    integration
}

impl FromNode for SecretValue {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        SecretValue::new(String::read(walker, node, path))
    }
}

impl FromNode for CustomField {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        let Some(mut object) = ObjectReader::open(walker, node, path) else {
            return placeholder_custom_field();
        };
        let name = object.required(walker, "name").unwrap_or_default();
        let field_type: Option<CustomFieldType> = object.required_checked(walker, "type");
        let options = match field_type {
            Some(field_type) if field_type.has_options() => {
                let options: Vec<String> = object.or_default(walker, "options");
                if options.is_empty() {
                    let word = word_of(field_type);
                    object.missing(walker, "options", &format!(" for `{word}` fields (at least one)"));
                }
                options
            }
            Some(field_type) => {
                object.forbid(walker, "options", &format!("for `{}` fields", word_of(field_type)));
                Vec::new()
            }
            None => object.or_default(walker, "options"),
        };
        let field = CustomField {
            name,
            field_type: field_type.unwrap_or(CustomFieldType::Text),
            options,
            required: object.or_default(walker, "required"),
            transient: object.or_default(walker, "transient"),
            applies_to: object.or_default(walker, "applies_to"),
            restrict_to: object.or_default(walker, "restrict_to"),
            visibility: object.or_default(walker, "visibility"),
        };
        object.finish(walker);
        field
    }
}

impl FromNode for Action {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        let Some(mut object) = ObjectReader::open(walker, node, path) else {
            return placeholder_action();
        };
        let name = object.required(walker, "name").unwrap_or_default();
        let image_url = object.optional(walker, "image_url");
        let trigger = object.or_default(walker, "trigger");
        let visibility = object.or_default(walker, "visibility");
        let settings = object.or_default(walker, "settings");
        let auth = object.or_default(walker, "auth");
        let request: Option<RequestSpec> = object.optional(walker, "request");
        let allowed_hosts: Vec<HostPattern> = object.or_default(walker, "allowed_hosts");
        let redirects = object.or_default(walker, "redirects");
        let mode_path = path.key("request").key("execution_mode");
        let (response, polling, callback) = match &request {
            None => {
                // A draft: what its request's mode would govern waits for the request.
                let why = "in a draft (an action without `request`)";
                for key in ["response", "polling", "callback"] {
                    object.forbid(walker, key, why);
                }
                (None, None, None)
            }
            // The mode is wrong: read the mode-specific sections as they are rather than judge them by a fallback.
            Some(_) if !walker.is_clean(&mode_path) => (
                object.optional(walker, "response"),
                object.optional(walker, "polling"),
                object.optional(walker, "callback"),
            ),
            Some(request) => mode_sections(walker, &mut object, request.execution_mode),
        };
        object.finish(walker);
        Action {
            name,
            image_url,
            trigger,
            visibility,
            settings,
            auth,
            request,
            response,
            polling,
            callback,
            allowed_hosts,
            redirects,
        }
    }
}

/// The sections an execution mode allows (`response`, `polling`, `callback`), the others refused.
fn mode_sections(
    walker: &mut Walker,
    object: &mut ObjectReader<'_>,
    mode: ExecutionMode,
) -> (Option<ResponseSpec>, Option<PollingSpec>, Option<CallbackSpec>) {
    let mode_word = word_of(mode);
    let response = if mode == ExecutionMode::FireAndForget {
        object.forbid(walker, "response", "in `fire_and_forget` mode, which reads nothing but the status");
        None
    } else {
        object.optional(walker, "response")
    };
    let polling = if mode == ExecutionMode::Polling {
        let polling = object.optional(walker, "polling");
        if polling.is_none() {
            object.missing(walker, "polling", " for `polling` execution mode");
        }
        polling
    } else {
        object.forbid(walker, "polling", &format!("in `{mode_word}` mode (only in `polling` mode)"));
        None
    };
    let callback = if mode == ExecutionMode::Callback {
        object.optional(walker, "callback")
    } else {
        object.forbid(walker, "callback", &format!("in `{mode_word}` mode (only in `callback` mode)"));
        None
    };
    (response, polling, callback)
}

impl FromNode for HostPattern {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        let text = String::read(walker, node, path);
        HostPattern::parse(&text).unwrap_or_else(|message| {
            if walker.is_clean(path) {
                walker.error_at(node, path, message);
            }
            HostPattern::parse("invalid.invalid").expect("a valid placeholder pattern")
        })
    }
}

impl FromNode for Visibility {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        match &node.value {
            NodeValue::Scalar(scalar) if scalar.text == "global" => Visibility::Global,
            NodeValue::Mapping(_) => {
                let Some(mut object) = ObjectReader::open(walker, node, path) else {
                    return Visibility::Global;
                };
                let workspace = object.required(walker, "workspace").unwrap_or_default();
                object.finish(walker);
                Visibility::Workspace { workspace }
            }
            NodeValue::Scalar(scalar) => {
                let message = format!("unknown value `{}`; expected `global` or `{{workspace: NAME}}`", scalar.text);
                walker.error_at(node, path, message);
                Visibility::Global
            }
            NodeValue::Sequence(_) => {
                walker.wrong_type(node, path, "`global` or `{workspace: NAME}`");
                Visibility::Global
            }
        }
    }
}

impl FromNode for ActionSettings {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        let Some(mut object) = ObjectReader::open(walker, node, path) else {
            return ActionSettings::default();
        };
        let settings = ActionSettings {
            auto_start: object.or_default(walker, "auto_start"),
            fixed_start_time: object.or_default(walker, "fixed_start_time"),
            cancelable: object.or_default(walker, "cancelable"),
            notify_webhook_on_cancel: object.optional(walker, "notify_webhook_on_cancel"),
            finish_task_on_success: object.or_default(walker, "finish_task_on_success"),
            include_context: object.or_default(walker, "include_context"),
            execute_in_rehearsal: object.or_default(walker, "execute_in_rehearsal"),
        };
        object.finish(walker);
        settings
    }
}

impl FromNode for NotifyWebhook {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        let Some(mut object) = ObjectReader::open(walker, node, path) else {
            return NotifyWebhook { url: String::new(), headers: Default::default(), payload: None };
        };
        let url = object.required(walker, "url").unwrap_or_default();
        let headers = object.or_default(walker, "headers");
        let payload: Option<BodyTemplate> = object.optional(walker, "payload");
        if payload.as_ref().is_some_and(BodyTemplate::is_structured) {
            check_structured_content_type(walker, &object, &headers);
        }
        let webhook = NotifyWebhook { url, headers, payload };
        object.finish(walker);
        webhook
    }
}

impl FromNode for AuthSettings {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        let Some(mut object) = ObjectReader::open(walker, node, path) else {
            return AuthSettings::None;
        };
        let Some(auth_type) = object.required_checked::<AuthType>(walker, "type") else {
            return AuthSettings::None;
        };
        let why = format!(" for `{}` auth", word_of(auth_type));
        let required = |walker: &mut Walker, object: &mut ObjectReader<'_>, key: &'static str| -> Option<String> {
            let value = object.optional(walker, key);
            if value.is_none() {
                object.missing(walker, key, &why);
            }
            value
        };
        let auth = match auth_type {
            AuthType::None => AuthSettings::None,
            AuthType::Token => AuthSettings::Token {
                token_type: object.optional(walker, "token_type").unwrap_or_else(|| "Bearer".to_owned()),
                token: SecretValue::new(required(walker, &mut object, "token").unwrap_or_default()),
            },
            AuthType::Basic => AuthSettings::Basic {
                username: required(walker, &mut object, "username").unwrap_or_default(),
                password: SecretValue::new(required(walker, &mut object, "password").unwrap_or_default()),
            },
            AuthType::ApiKey => {
                let location = object.optional(walker, "in");
                if location.is_none() {
                    object.missing(walker, "in", &why);
                }
                AuthSettings::ApiKey {
                    location: location.unwrap_or(ApiKeyLocation::Header),
                    name: required(walker, &mut object, "name").unwrap_or_default(),
                    value: SecretValue::new(required(walker, &mut object, "value").unwrap_or_default()),
                }
            }
            AuthType::StandardWebhooks => {
                let secret = required(walker, &mut object, "secret").unwrap_or_default();
                // A literal is checked here; a `{{SystemParameter[...]}}` reference when it is resolved.
                if !secret.contains("{{")
                    && walker.is_clean(&object.path().key("secret"))
                    && let Err(message) = crate::decode_webhook_secret(&secret)
                {
                    object.report(walker, "secret", message);
                }
                AuthSettings::StandardWebhooks { secret: SecretValue::new(secret) }
            }
            AuthType::Oauth2 => {
                let grant = if object.has_key("grant") {
                    object.checked(walker, "grant")
                } else {
                    object.missing(walker, "grant", &why);
                    None
                };
                let client_id = required(walker, &mut object, "client_id").unwrap_or_default();
                let client_secret =
                    SecretValue::new(required(walker, &mut object, "client_secret").unwrap_or_default());
                let provider_host = required(walker, &mut object, "provider_host").unwrap_or_default();
                let authorization_endpoint = if grant == Some(OAuth2Grant::AuthorizationCode) {
                    let endpoint = object.optional(walker, "authorization_endpoint");
                    if endpoint.is_none() {
                        object.missing(walker, "authorization_endpoint", " for the `authorization_code` grant");
                    }
                    endpoint
                } else if grant == Some(OAuth2Grant::ClientCredentials) {
                    object.forbid(walker, "authorization_endpoint", "with the `client_credentials` grant");
                    None
                } else {
                    object.optional(walker, "authorization_endpoint")
                };
                let token_endpoint = required(walker, &mut object, "token_endpoint").unwrap_or_default();
                let scopes = object.or_default(walker, "scopes");
                let authenticate_as = object.or_default(walker, "authenticate_as");
                if grant == Some(OAuth2Grant::ClientCredentials) && authenticate_as == AuthenticateAs::TaskUser {
                    let message = "`task_user` needs the `authorization_code` grant; `client_credentials` has no user";
                    object.report(walker, "authenticate_as", message);
                }
                AuthSettings::Oauth2(OAuth2Settings {
                    grant: grant.unwrap_or(OAuth2Grant::AuthorizationCode),
                    client_id,
                    client_secret,
                    provider_host,
                    authorization_endpoint,
                    token_endpoint,
                    scopes,
                    authenticate_as,
                })
            }
        };
        object.finish(walker);
        auth
    }
}

/// Reads `payload` or `params`, whichever `method` takes, and forbids the other; reads both when the method is unknown.
/// Structured params must be a mapping, and a structured payload is JSON, so a `Content-Type` must say JSON.
fn read_body(
    walker: &mut Walker,
    object: &mut ObjectReader<'_>,
    method: Option<HttpMethod>,
    headers: &BTreeMap<String, String>,
) -> (Option<BodyTemplate>, Option<BodyTemplate>) {
    let (payload, params) = match method {
        None => (object.optional(walker, "payload"), object.optional(walker, "params")),
        Some(method) if method.takes_params() => {
            let word = method.as_str();
            object.forbid(walker, "payload", &format!("with `{word}`, which sends no body; use `params`"));
            (None, object.optional(walker, "params"))
        }
        Some(method) => {
            let word = method.as_str();
            object.forbid(walker, "params", &format!("with `{word}`; send data in `payload`"));
            (object.optional(walker, "payload"), None)
        }
    };
    if let Some(BodyTemplate::List(_)) = params {
        object.report(walker, "params", "params must be a mapping of query parameter names to values");
    }
    if payload.as_ref().is_some_and(BodyTemplate::is_structured) {
        check_structured_content_type(walker, object, headers);
    }
    (payload, params)
}

/// Reports a `Content-Type` header that does not say JSON beside a structured payload, which is sent as JSON.
fn check_structured_content_type(walker: &mut Walker, object: &ObjectReader<'_>, headers: &BTreeMap<String, String>) {
    let content_type = headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("content-type"));
    if let Some((name, value)) = content_type.filter(|(_, value)| !value.to_ascii_lowercase().contains("json")) {
        let path = object.path().key("headers").key(name);
        let position = walker.source_map.position(&path);
        let message = format!(
            "a structured `payload` is sent as JSON, but `Content-Type` is `{value}`: write the payload as one text \
             template to send another format"
        );
        walker.error(position, &path, message);
    }
}

impl FromNode for BodyTemplate {
    /// A string is the text form; a mapping or a list is the structured form, every value of which is recorded so that
    /// problems in a leaf point into it.
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        match &node.value {
            NodeValue::Scalar(_) => BodyTemplate::Text(String::read(walker, node, path)),
            NodeValue::Mapping(_) => match read_structure(walker, node, path) {
                serde_json::Value::Object(map) => BodyTemplate::Object(map),
                _ => BodyTemplate::Object(Default::default()),
            },
            NodeValue::Sequence(_) => match read_structure(walker, node, path) {
                serde_json::Value::Array(items) => BodyTemplate::List(items),
                _ => BodyTemplate::List(Vec::new()),
            },
        }
    }
}

/// Reads a structured body, recording where every value sits; keys are literal, so a key holding `{{` is refused.
fn read_structure(walker: &mut Walker, node: &Node, path: &FieldPath) -> serde_json::Value {
    use serde_json::Value;
    match &node.value {
        NodeValue::Scalar(_) => Value::read(walker, node, path),
        NodeValue::Sequence(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    let item_path = path.index(index);
                    walker.record(&item_path, None, item);
                    read_structure(walker, item, &item_path)
                })
                .collect(),
        ),
        NodeValue::Mapping(_) => {
            let mut map = serde_json::Map::new();
            for (key, key_node, value) in mapping_entries(walker, node, path).unwrap_or_default() {
                let value_path = path.key(&key);
                if key.contains("{{") {
                    let message = "keys of a structured body are sent as written, not rendered: write the body as \
                                   one text template to compute a key";
                    walker.error_at(key_node, &value_path, message);
                }
                walker.record(&value_path, Some(key_node), value);
                let value = read_structure(walker, value, &value_path);
                map.insert(key, value);
            }
            Value::Object(map)
        }
    }
}

/// Reads a count that must be at least 1.
fn positive<T: FromNode + Into<u64> + Copy>(
    walker: &mut Walker,
    object: &mut ObjectReader<'_>,
    key: &'static str,
) -> Option<T> {
    let value: T = object.checked(walker, key)?;
    if value.into() == 0 {
        object.report(walker, key, "must be at least 1");
    }
    Some(value)
}

impl FromNode for RequestSpec {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        let Some(mut object) = ObjectReader::open(walker, node, path) else {
            return placeholder_request();
        };
        let method = object.required_checked(walker, "method");
        let url = object.required(walker, "url").unwrap_or_default();
        let headers = object.or_default(walker, "headers");
        let (payload, params) = read_body(walker, &mut object, method, &headers);
        let request = RequestSpec {
            method: method.unwrap_or(HttpMethod::Post),
            url,
            headers,
            payload,
            params,
            execution_mode: object.or_default(walker, "execution_mode"),
            timeout_seconds: positive(walker, &mut object, "timeout_seconds"),
        };
        object.finish(walker);
        request
    }
}

impl FromNode for ResponseSpec {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        let Some(mut object) = ObjectReader::open(walker, node, path) else {
            return ResponseSpec::default();
        };
        let response = ResponseSpec {
            success_statuses: object.or_default(walker, "success_statuses"),
            success_when: object.or_default(walker, "success_when"),
            failure_when: object.or_default(walker, "failure_when"),
            map: object.or_default(walker, "map"),
        };
        object.finish(walker);
        response
    }
}

impl FromNode for Condition {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        let fallback = || Condition { path: String::new(), test: ConditionTest::Exists(true) };
        let Some(mut object) = ObjectReader::open(walker, node, path) else {
            return fallback();
        };
        let json_path = object.required(walker, "path").unwrap_or_default();
        let mut tests = Vec::new();
        // `equals: null` is a test for null, so `equals` counts when present at all.
        if let Some(value) = object.optional::<serde_json::Value>(walker, "equals") {
            tests.push(ConditionTest::Equals(value));
        } else if object.has_key("equals") {
            tests.push(ConditionTest::Equals(serde_json::Value::Null));
        }
        if let Some(values) = object.optional(walker, "in") {
            tests.push(ConditionTest::In(values));
        }
        if let Some(exists) = object.optional(walker, "exists") {
            tests.push(ConditionTest::Exists(exists));
        }
        let condition_path = object.path().clone();
        if tests.len() != 1 {
            let message = if tests.is_empty() {
                "a condition needs one test: `equals`, `in` or `exists`"
            } else {
                "a condition takes exactly one test of `equals`, `in` and `exists`"
            };
            walker.error_at(node, &condition_path, message);
        }
        object.finish(walker);
        Condition { path: json_path, test: tests.into_iter().next().unwrap_or(ConditionTest::Exists(true)) }
    }
}

impl FromNode for PollingSpec {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        let Some(mut object) = ObjectReader::open(walker, node, path) else {
            return placeholder_polling();
        };
        let method = object.required_checked(walker, "method");
        if let Some(method) = method.filter(|method| !matches!(method, HttpMethod::Get | HttpMethod::Post)) {
            object.report(walker, "method", &format!("polling uses `GET` or `POST`, not `{}`", method.as_str()));
        }
        let url = object.required(walker, "url").unwrap_or_default();
        let headers = object.or_default(walker, "headers");
        let (payload, params) = read_body(walker, &mut object, method, &headers);
        let polling = PollingSpec {
            method: method.unwrap_or(HttpMethod::Get),
            url,
            headers,
            payload,
            params,
            interval_seconds: positive(walker, &mut object, "interval_seconds").unwrap_or(10),
            max_attempts: positive(walker, &mut object, "max_attempts").unwrap_or(30),
            timeout_seconds: positive(walker, &mut object, "timeout_seconds"),
            complete_when: object.or_default(walker, "complete_when"),
            fail_when: object.or_default(walker, "fail_when"),
            map: object.or_default(walker, "map"),
        };
        object.finish(walker);
        polling
    }
}

impl FromNode for CallbackSpec {
    fn read(walker: &mut Walker, node: &Node, path: &FieldPath) -> Self {
        let Some(mut object) = ObjectReader::open(walker, node, path) else {
            return CallbackSpec::default();
        };
        let callback = CallbackSpec {
            timeout_seconds: positive(walker, &mut object, "timeout_seconds")
                .unwrap_or(CallbackSpec::default().timeout_seconds),
        };
        object.finish(walker);
        callback
    }
}

/// The word a [`Choice`](super::reader::Choice) value is written as.
pub(crate) fn word_of<T: super::reader::Choice + PartialEq>(value: T) -> &'static str {
    T::CHOICES.iter().find(|(_, candidate)| *candidate == value).map_or("?", |(word, _)| word)
}

fn placeholder_custom_field() -> CustomField {
    CustomField {
        name: String::new(),
        field_type: CustomFieldType::Text,
        options: Vec::new(),
        required: false,
        transient: false,
        applies_to: AppliesTo::Task,
        restrict_to: Vec::new(),
        visibility: Visibility::Global,
    }
}

fn placeholder_request() -> RequestSpec {
    RequestSpec {
        method: HttpMethod::Post,
        url: String::new(),
        headers: Default::default(),
        payload: None,
        params: None,
        execution_mode: ExecutionMode::FireAndForget,
        timeout_seconds: None,
    }
}

fn placeholder_polling() -> PollingSpec {
    PollingSpec {
        method: HttpMethod::Get,
        url: String::new(),
        headers: Default::default(),
        payload: None,
        params: None,
        interval_seconds: 10,
        max_attempts: 30,
        timeout_seconds: None,
        complete_when: Vec::new(),
        fail_when: Vec::new(),
        map: Default::default(),
    }
}

fn placeholder_action() -> Action {
    Action {
        name: String::new(),
        image_url: None,
        trigger: Trigger::TaskStart,
        visibility: Visibility::Global,
        settings: ActionSettings::default(),
        auth: AuthSettings::None,
        request: None,
        response: None,
        polling: None,
        callback: None,
        allowed_hosts: Vec::new(),
        redirects: RedirectPolicy::SameOrigin,
    }
}
