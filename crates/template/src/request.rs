//! [`RequestTemplate`]: every template of a request, compiled once for its place, rendered to a [`RenderedRequest`].
//!
//! Action requests, polling requests and notify-webhook requests share one shape, [`RequestParts`].

use crate::escape::{URL_COMPONENT, value_text};
use crate::structured::BodyTemplateCompiled;
use crate::{Redactor, SecretSet, Template, TemplateContext, TemplateError};
use base64::Engine as _;
use cutover_integrations_model::{
    ApiKeyLocation, AuthSettings, BodyTemplate, HttpMethod, NotifyWebhook, PollingSpec, RequestSpec, TemplatePlace,
};
use secrecy::SecretString;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// The templates of one request, borrowed from an action's `request`, its `polling`, or a notify webhook.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method.
    pub method: HttpMethod,
    /// The URL template.
    pub url: &'a str,
    /// Header value templates by name.
    pub headers: &'a BTreeMap<String, String>,
    /// The body template.
    pub payload: Option<&'a BodyTemplate>,
    /// The query parameters template (a JSON object).
    pub params: Option<&'a BodyTemplate>,
}

impl<'a> From<&'a RequestSpec> for RequestParts<'a> {
    fn from(spec: &'a RequestSpec) -> Self {
        Self {
            method: spec.method,
            url: &spec.url,
            headers: &spec.headers,
            payload: spec.payload.as_ref(),
            params: spec.params.as_ref(),
        }
    }
}

impl<'a> From<&'a PollingSpec> for RequestParts<'a> {
    fn from(spec: &'a PollingSpec) -> Self {
        Self {
            method: spec.method,
            url: &spec.url,
            headers: &spec.headers,
            payload: spec.payload.as_ref(),
            params: spec.params.as_ref(),
        }
    }
}

impl<'a> From<&'a NotifyWebhook> for RequestParts<'a> {
    /// A notify webhook is a POST; when it has no payload the executor supplies the default cancel message.
    fn from(webhook: &'a NotifyWebhook) -> Self {
        Self {
            method: HttpMethod::Post,
            url: &webhook.url,
            headers: &webhook.headers,
            payload: webhook.payload.as_ref(),
            params: None,
        }
    }
}

/// A compiled request: URL (place [`TemplatePlace::Url`]), header values ([`TemplatePlace::HeaderValue`]), payload
/// ([`TemplatePlace::JsonPayload`] when the `Content-Type` header mentions JSON or is absent and the payload starts
/// with `{` or `[`, else [`TemplatePlace::Text`]) and params ([`TemplatePlace::JsonParams`]: the rendered JSON object
/// is appended to the URL's query string). A structured payload or params renders leaf by leaf
/// ([`TemplatePlace::StructuredLeaf`]) into a JSON value, written as compact JSON.
///
/// Compile errors and render errors name the field: `url`, `headers.NAME`, `payload`, `params`, `auth.token`, ….
///
/// ```
/// use cutover_integrations_template::{RequestParts, RequestTemplate, TemplateContext};
/// use cutover_integrations_model::{BodyTemplate, HttpMethod};
/// let headers = [("Content-Type".to_owned(), "application/json".to_owned())].into();
/// let text = BodyTemplate::from(r#"{"text":"{{CustomField['Slack Message']}}"}"#);
/// let structured: BodyTemplate = serde_json::from_str(r#"{"text":"{{CustomField['Slack Message']}}"}"#).unwrap();
/// let context = TemplateContext::builder().custom_field("Slack Message", "say \"hi\"").build();
/// for payload in [&text, &structured] {
///     let request = RequestTemplate::from_parts(RequestParts {
///         method: HttpMethod::Post,
///         url: "https://slack.test/api/chat.postMessage",
///         headers: &headers,
///         payload: Some(payload),
///         params: None,
///     })?;
///     let rendered = request.render(&context)?;
///     assert_eq!(rendered.body.as_deref(), Some(r#"{"text":"say \"hi\""}"#));
/// }
/// # Ok::<(), cutover_integrations_template::TemplateError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RequestTemplate {
    method: HttpMethod,
    url: Template,
    headers: Vec<(String, Template)>,
    payload: Option<BodyTemplateCompiled>,
    params: Option<BodyTemplateCompiled>,
    auth: AuthTemplate,
    /// Paths (`SystemParameter`, name, …) that secret-bearing auth fields read: their values are secrets.
    secret_paths: Vec<Vec<String>>,
}

/// Static credentials compiled from an action's `auth`.
#[derive(Debug, Clone)]
enum AuthTemplate {
    /// No credentials, or OAuth 2 (whose token the executor obtains at fire time).
    None,
    /// `Authorization: <token_type> <token>`.
    Token { token_type: String, token: Template },
    /// `Authorization: Basic base64(username:password)`.
    Basic { username: Template, password: Template },
    /// An API key header or query parameter.
    ApiKey { location: ApiKeyLocation, name: String, value: Template },
}

/// A rendered request, ready to send.
///
/// `Debug` redacts the secrets; [`RenderedRequest::to_json`] shows them unless called on [`RenderedRequest::redacted`].
#[derive(Clone)]
pub struct RenderedRequest {
    /// The method.
    pub method: HttpMethod,
    /// The absolute URL with params and any API key query parameter.
    pub url: String,
    /// Headers in order: the request's, then the credentials.
    pub headers: Vec<(String, String)>,
    /// The body, when the request has a payload.
    pub body: Option<String>,
    /// The secrets the request carries: credential values, and the context's secret system parameters.
    pub secrets: Vec<SecretString>,
}

impl RequestTemplate {
    /// Compiles an action's request.
    pub fn compile(spec: &RequestSpec) -> Result<Self, TemplateError> {
        Self::from_parts(spec.into())
    }

    /// Compiles any request shape: `RequestParts::from(&polling_spec)`, `RequestParts::from(&notify_webhook)`, ….
    pub fn from_parts(parts: RequestParts<'_>) -> Result<Self, TemplateError> {
        let url = Template::compile(parts.url, TemplatePlace::Url).map_err(|e| e.in_field("url"))?;
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                Template::compile(value, TemplatePlace::HeaderValue)
                    .map(|t| (name.clone(), t))
                    .map_err(|e| e.in_field(format!("headers.{name}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let payload = parts
            .payload
            .map(|payload| {
                let place =
                    payload.as_text().map_or(TemplatePlace::JsonPayload, |text| payload_place(parts.headers, text));
                BodyTemplateCompiled::compile(payload, place).map_err(|e| in_body_field("payload", e))
            })
            .transpose()?;
        let params = parts
            .params
            .map(|params| {
                BodyTemplateCompiled::compile(params, TemplatePlace::JsonParams).map_err(|e| in_body_field("params", e))
            })
            .transpose()?;
        Ok(Self {
            method: parts.method,
            url,
            headers,
            payload,
            params,
            auth: AuthTemplate::None,
            secret_paths: Vec::new(),
        })
    }

    /// Adds the static credentials of `auth`: a token, basic or API key auth renders into a header or a query
    /// parameter whose value is a secret. OAuth 2 and Standard Webhooks add nothing: the token is obtained, and the
    /// signature computed over the exact body, when the action fires.
    ///
    /// Secrets of the rendered request: the rendered credential values, and the value of every system parameter a
    /// secret-bearing field (`token`, `password`, API key `value`, OAuth 2 `client_secret`, Standard Webhooks `secret`)
    /// reads, wherever it appears.
    pub fn with_auth(mut self, auth: &AuthSettings) -> Result<Self, TemplateError> {
        let compile = |template: &str, place, field: &str| {
            Template::compile(template, place).map_err(|e| e.in_field(format!("auth.{field}")))
        };
        self.auth = match auth {
            AuthSettings::None => AuthTemplate::None,
            AuthSettings::Oauth2(settings) => {
                let secret = compile(settings.client_secret.expose(), TemplatePlace::Text, "client_secret")?;
                self.secret_paths.extend(parameter_paths(&secret));
                AuthTemplate::None
            }
            AuthSettings::StandardWebhooks { secret } => {
                let secret = compile(secret.expose(), TemplatePlace::Text, "secret")?;
                self.secret_paths.extend(parameter_paths(&secret));
                AuthTemplate::None
            }
            AuthSettings::Token { token_type, token } => AuthTemplate::Token {
                token_type: token_type.clone(),
                token: compile(token.expose(), TemplatePlace::HeaderValue, "token")?,
            },
            AuthSettings::Basic { username, password } => AuthTemplate::Basic {
                username: compile(username, TemplatePlace::Text, "username")?,
                password: compile(password.expose(), TemplatePlace::Text, "password")?,
            },
            AuthSettings::ApiKey { location, name, value } => AuthTemplate::ApiKey {
                location: *location,
                name: name.clone(),
                value: compile(
                    value.expose(),
                    match location {
                        ApiKeyLocation::Header => TemplatePlace::HeaderValue,
                        ApiKeyLocation::Query => TemplatePlace::Text,
                    },
                    "value",
                )?,
            },
        };
        match &self.auth {
            AuthTemplate::None => {}
            AuthTemplate::Token { token: secret, .. }
            | AuthTemplate::Basic { password: secret, .. }
            | AuthTemplate::ApiKey { value: secret, .. } => {
                let paths = parameter_paths(secret);
                self.secret_paths.extend(paths);
            }
        }
        Ok(self)
    }

    /// The method.
    pub fn method(&self) -> HttpMethod {
        self.method
    }

    /// The place the payload was compiled for, when there is a payload; a structured payload is JSON.
    pub fn payload_place(&self) -> Option<TemplatePlace> {
        self.payload.as_ref().map(|payload| match payload {
            BodyTemplateCompiled::Text(template) => template.place(),
            BodyTemplateCompiled::Structured(_) => TemplatePlace::JsonPayload,
        })
    }

    /// Every template with its field name (`url`, `headers.NAME`, `payload`, `params`, `auth.…`).
    pub fn templates(&self) -> Vec<(String, &Template)> {
        let mut all = vec![("url".to_owned(), &self.url)];
        all.extend(self.headers.iter().map(|(name, t)| (format!("headers.{name}"), t)));
        for (field, body) in [("payload", &self.payload), ("params", &self.params)] {
            for (path, template) in body.iter().flat_map(BodyTemplateCompiled::templates) {
                all.push((body_field(field, &path), template));
            }
        }
        match &self.auth {
            AuthTemplate::None => {}
            AuthTemplate::Token { token, .. } => all.push(("auth.token".to_owned(), token)),
            AuthTemplate::Basic { username, password } => {
                all.push(("auth.username".to_owned(), username));
                all.push(("auth.password".to_owned(), password));
            }
            AuthTemplate::ApiKey { value, .. } => all.push(("auth.value".to_owned(), value)),
        }
        all
    }

    /// Renders every template against `context`.
    ///
    /// The secrets of the result are the context's secrets, the values of the system parameters secret-bearing auth
    /// fields read, the rendered credentials, and every value a filter computed from any of them (see [`SecretSet`]).
    pub fn render(&self, context: &TemplateContext) -> Result<RenderedRequest, TemplateError> {
        let mut secrets = SecretSet::new(context.secrets().iter().cloned());
        for path in &self.secret_paths {
            let value = path.iter().try_fold(context.data(), |value, key| match value {
                Value::Object(map) => map.get(key),
                Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            });
            if let Some(value) = value {
                secrets.add(SecretString::from(value_text(value).into_owned()));
            }
        }
        let raw_url = self.url.render_tracked(context, &mut secrets).map_err(|e| e.in_field("url"))?;
        let mut url = url::Url::parse(&raw_url).map_err(|e| {
            TemplateError::InvalidResult { message: format!("the rendered URL is not a valid absolute URL: {e}") }
                .in_field("url")
        })?;
        let mut query_pairs = Vec::new();
        if let Some(params) = &self.params {
            let rendered = match render_body(params, context, &mut secrets, "params")? {
                RenderedBody::Text(text) => serde_json::from_str::<Value>(&text).ok(),
                RenderedBody::Structured(value) => Some(value),
            };
            let Some(Value::Object(object)) = rendered else {
                return Err(TemplateError::InvalidResult {
                    message: "params must render to a JSON object of query parameters".to_owned(),
                }
                .in_field("params"));
            };
            query_pairs.extend(params_to_pairs(object));
        }
        let mut headers = Vec::with_capacity(self.headers.len() + 1);
        for (name, template) in &self.headers {
            let value =
                template.render_tracked(context, &mut secrets).map_err(|e| e.in_field(format!("headers.{name}")))?;
            headers.push((name.clone(), value));
        }
        let body = match &self.payload {
            None => None,
            Some(payload) => Some(match render_body(payload, context, &mut secrets, "payload")? {
                RenderedBody::Text(text) => text,
                RenderedBody::Structured(value) => value.to_string(),
            }),
        };

        let mut credential_header = |name: &str, value: String| {
            headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(name));
            headers.push((name.to_owned(), value));
        };
        match &self.auth {
            AuthTemplate::None => {}
            AuthTemplate::Token { token_type, token } => {
                let token = token.render_tracked(context, &mut secrets).map_err(|e| e.in_field("auth.token"))?;
                secrets.add(SecretString::from(token.clone()));
                credential_header("Authorization", format!("{token_type} {token}"));
            }
            AuthTemplate::Basic { username, password } => {
                let username =
                    username.render_tracked(context, &mut secrets).map_err(|e| e.in_field("auth.username"))?;
                let password =
                    password.render_tracked(context, &mut secrets).map_err(|e| e.in_field("auth.password"))?;
                let credential = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
                secrets.add(SecretString::from(password));
                secrets.add(SecretString::from(credential.clone()));
                credential_header("Authorization", format!("Basic {credential}"));
            }
            AuthTemplate::ApiKey { location, name, value } => {
                let value = value.render_tracked(context, &mut secrets).map_err(|e| e.in_field("auth.value"))?;
                match location {
                    ApiKeyLocation::Header => {
                        secrets.add(SecretString::from(value.clone()));
                        credential_header(name, value);
                    }
                    ApiKeyLocation::Query => {
                        secrets.add(SecretString::from(value.clone()));
                        query_pairs.push((name.clone(), value));
                    }
                }
            }
        }
        if !query_pairs.is_empty() {
            let encoded: Vec<String> = query_pairs
                .iter()
                .map(|(k, v)| {
                    let k = percent_encoding::utf8_percent_encode(k, URL_COMPONENT);
                    let v = percent_encoding::utf8_percent_encode(v, URL_COMPONENT);
                    format!("{k}={v}")
                })
                .collect();
            let query = match url.query() {
                Some(existing) if !existing.is_empty() => format!("{existing}&{}", encoded.join("&")),
                _ => encoded.join("&"),
            };
            url.set_query(Some(&query));
        }
        Ok(RenderedRequest { method: self.method, url: url.into(), headers, body, secrets: secrets.into_vec() })
    }
}

/// A rendered body: the text of the text form, or the value of the structured form.
enum RenderedBody {
    Text(String),
    Structured(Value),
}

fn render_body(
    body: &BodyTemplateCompiled,
    context: &TemplateContext,
    secrets: &mut SecretSet,
    field: &str,
) -> Result<RenderedBody, TemplateError> {
    match body {
        BodyTemplateCompiled::Text(template) => {
            template.render_tracked(context, secrets).map(RenderedBody::Text).map_err(|e| e.in_field(field))
        }
        BodyTemplateCompiled::Structured(part) => {
            let mut path = String::new();
            part.render(context, secrets, &mut path).map(RenderedBody::Structured).map_err(|e| in_body_field(field, e))
        }
    }
}

/// `payload`, `payload.text`, `payload[0]`: the field of a body template at `path` below it.
fn body_field(field: &str, path: &str) -> String {
    if path.is_empty() || path.starts_with('[') { format!("{field}{path}") } else { format!("{field}.{path}") }
}

/// Names the body field in an error from below it: `payload: …` for the text form, `payload.text: …` for a leaf.
fn in_body_field(field: &str, error: TemplateError) -> TemplateError {
    match error {
        TemplateError::InField { field: path, error } => {
            TemplateError::InField { field: body_field(field, &path), error }
        }
        other => other.in_field(field),
    }
}

/// The `SystemParameter` paths a template reads.
fn parameter_paths(template: &Template) -> Vec<Vec<String>> {
    template
        .references()
        .into_iter()
        .filter(|reference| reference.segments.first().is_some_and(|root| root == "SystemParameter"))
        .map(|reference| reference.segments)
        .collect()
}

/// The payload's place: JSON when the `Content-Type` mentions JSON or is absent and the payload starts like JSON.
fn payload_place(headers: &BTreeMap<String, String>, payload: &str) -> TemplatePlace {
    let content_type = headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("content-type")).map(|(_, v)| v);
    let json_type = content_type.is_none_or(|v| v.to_ascii_lowercase().contains("json"));
    let trimmed = payload.trim_start();
    let looks_like_json = trimmed.starts_with('[') || (trimmed.starts_with('{') && !trimmed.starts_with("{{"));
    if json_type && looks_like_json { TemplatePlace::JsonPayload } else { TemplatePlace::Text }
}

/// Query pairs from rendered params: null is left out, a list repeats its key, any other value is its text.
fn params_to_pairs(object: Map<String, Value>) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (key, value) in object {
        match value {
            Value::Null => {}
            Value::Array(items) => {
                pairs.extend(items.iter().filter(|v| !v.is_null()).map(|v| (key.clone(), value_text(v).into_owned())));
            }
            other => pairs.push((key, value_text(&other).into_owned())),
        }
    }
    pairs
}

impl RenderedRequest {
    /// A redactor for the request's secrets.
    pub fn redactor(&self) -> Redactor {
        Redactor::from_secrets(&self.secrets)
    }

    /// A copy with every secret replaced by `[REDACTED]` in the URL, header values and body.
    pub fn redacted(&self) -> Self {
        let redactor = self.redactor();
        Self {
            method: self.method,
            url: redactor.redact(&self.url).into_owned(),
            headers: self.headers.iter().map(|(n, v)| (n.clone(), redactor.redact(v).into_owned())).collect(),
            body: self.body.as_ref().map(|b| redactor.redact(b).into_owned()),
            secrets: self.secrets.clone(),
        }
    }

    /// `{"method","url","headers":{name: value},"body"}` (`body` null without a payload), as `cutover render` prints.
    pub fn to_json(&self) -> Value {
        let headers: Map<String, Value> =
            self.headers.iter().map(|(n, v)| (n.clone(), Value::String(v.clone()))).collect();
        serde_json::json!({
            "method": self.method.as_str(),
            "url": self.url,
            "headers": headers,
            "body": self.body,
        })
    }
}

impl fmt::Debug for RenderedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = self.redacted();
        f.debug_struct("RenderedRequest")
            .field("method", &redacted.method)
            .field("url", &redacted.url)
            .field("headers", &redacted.headers)
            .field("body", &redacted.body)
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_integrations_model::SecretValue;
    use serde_json::json;

    fn headers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn payload_place_follows_content_type_and_shape() {
        let json = headers(&[("Content-Type", "application/json; charset=utf-8")]);
        let form = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let none = headers(&[]);
        assert_eq!(payload_place(&json, " {\"a\":1}"), TemplatePlace::JsonPayload);
        assert_eq!(payload_place(&none, "[1]"), TemplatePlace::JsonPayload);
        assert_eq!(payload_place(&none, "{{CustomField['Body']}}"), TemplatePlace::Text);
        assert_eq!(payload_place(&form, "{\"a\":1}"), TemplatePlace::Text);
        assert_eq!(payload_place(&json, "a=b"), TemplatePlace::Text);
    }

    #[test]
    fn params_merge_into_the_query_and_credentials_are_secrets() {
        let spec = RequestSpec {
            method: HttpMethod::Get,
            url: "https://api.test/v1/items/{{CustomField['Id']}}?fixed=1".to_owned(),
            headers: headers(&[("Accept", "application/json")]),
            payload: None,
            params: Some(r#"{"q":"{{CustomField['Query']}}","n":{{Task.n}},"skip":null,"tag":["a","b c"]}"#.into()),
            execution_mode: Default::default(),
            timeout_seconds: None,
        };
        let auth = AuthSettings::ApiKey {
            location: ApiKeyLocation::Query,
            name: "api_key".to_owned(),
            value: SecretValue::new("{{SystemParameter['key']}}"),
        };
        let request = RequestTemplate::compile(&spec).unwrap().with_auth(&auth).unwrap();
        let context = TemplateContext::builder()
            .custom_field("Id", "a/b")
            .custom_field("Query", "x&y=z")
            .task(json!({"n": 5}))
            .system_parameter("key", "k3y/value")
            .build();
        let rendered = request.render(&context).unwrap();
        assert_eq!(
            rendered.url,
            "https://api.test/v1/items/a%2Fb?fixed=1&q=x%26y%3Dz&n=5&tag=a&tag=b%20c&api_key=k3y%2Fvalue"
        );
        assert_eq!(
            rendered.redacted().url,
            "https://api.test/v1/items/a%2Fb?fixed=1&q=x%26y%3Dz&n=5&tag=a&tag=b%20c&api_key=[REDACTED]"
        );
        assert!(!format!("{rendered:?}").contains("k3y"));
    }

    #[test]
    fn unusable_results_name_their_field() {
        let parts = |url: &'static str, params: Option<&'static str>| RequestParts {
            method: HttpMethod::Get,
            url,
            headers: Box::leak(Box::new(BTreeMap::new())),
            payload: None,
            params: params.map(|p| &*Box::leak(Box::new(BodyTemplate::from(p)))),
        };
        let context = TemplateContext::builder().task(json!({"name": "a b"})).build();
        let cases = [
            (parts("not-a-url/{{Task.name}}", None), "url: the rendered URL is not a valid absolute URL"),
            (parts("https://x.test/", Some("[{{Task.name}}]")), "params: params must render to a JSON object"),
            (parts("https://x.test/{{Task.nope}}", None), "url: `Task.nope` is missing"),
        ];
        for (parts, expected) in cases {
            let error = RequestTemplate::from_parts(parts).unwrap().render(&context).unwrap_err();
            assert!(error.message().starts_with(expected), "{error}");
        }
        let compile_error = RequestTemplate::from_parts(parts("https://x.test/{{Task.name", None)).unwrap_err();
        assert_eq!(compile_error.location().map(|at| (at.line, at.column)), Some((1, 16)));
        assert!(compile_error.to_string().starts_with("url: 1:16: unclosed `{{`"), "{compile_error}");
    }

    fn structured(value: serde_json::Value) -> BodyTemplate {
        serde_json::from_value(value).expect("a structured body")
    }

    #[test]
    fn structured_payloads_render_valid_json_whatever_the_values() {
        let hostile = [
            "say \"hi\"",
            "line one\nline two\r\n\ttabbed",
            "emoji 😀🚀 and é✓",
            "\\ back\\slash and \u{0} NUL and \u{7f}",
            "}}\"]},{\"injected\":true",
            "{{Task.name}}",
            "'single' `tick` </script>",
        ];
        let payload = structured(json!({
            "text": "{{CustomField['Value']}}",
            "blocks": [{"type": "section", "text": "Task {{Task.name}}: {{CustomField['Value'] | upcase}}"}],
            "count": "{{Task.n | plus: 0}}",
            "fixed": [1, 2.5, true, null],
        }));
        let spec = RequestSpec {
            method: HttpMethod::Post,
            url: "https://api.test/x".to_owned(),
            headers: BTreeMap::new(),
            payload: Some(payload),
            params: None,
            execution_mode: Default::default(),
            timeout_seconds: None,
        };
        let request = RequestTemplate::compile(&spec).unwrap();
        for value in hostile {
            let context =
                TemplateContext::builder().custom_field("Value", value).task(json!({"name": value, "n": "7"})).build();
            let body = request.render(&context).unwrap().body.unwrap();
            let parsed: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{value:?}: {e}: {body}"));
            let expected = json!({
                "text": value,
                "blocks": [{"type": "section", "text": format!("Task {value}: {}", value.to_uppercase())}],
                "count": 7,
                "fixed": [1, 2.5, true, null],
            });
            assert_eq!(parsed, expected, "{value:?}");
        }
    }

    #[test]
    fn structured_params_become_query_pairs() {
        let spec = RequestSpec {
            method: HttpMethod::Get,
            url: "https://api.test/search?fixed=1".to_owned(),
            headers: BTreeMap::new(),
            payload: None,
            params: Some(structured(json!({
                "q": "{{Task.name}}",
                "limit": "{{Task.n | plus: 5}}",
                "tag": ["a", "{{Task.name | downcase}}"],
                "skip": null,
                "flag": true,
            }))),
            execution_mode: Default::default(),
            timeout_seconds: None,
        };
        let request = RequestTemplate::compile(&spec).unwrap();
        let context = TemplateContext::builder().task(json!({"name": "A&B=\"c\" 😀", "n": 5})).build();
        let rendered = request.render(&context).unwrap();
        assert_eq!(
            rendered.url,
            "https://api.test/search?fixed=1&q=A%26B%3D%22c%22%20%F0%9F%98%80&limit=10&tag=a&tag=a%26b%3D%22c%22%20%F0%9F%98%80&flag=true"
        );
    }

    #[test]
    fn secrets_in_structured_payloads_are_redacted() {
        let spec = RequestSpec {
            method: HttpMethod::Post,
            url: "https://api.test/x".to_owned(),
            headers: BTreeMap::new(),
            payload: Some(structured(json!({
                "echo": "{{SystemParameter['part']}}",
                "loud": "{{SystemParameter['part'] | upcase}}",
                "quoted": "\"{{SystemParameter['part']}}\"",
            }))),
            params: None,
            execution_mode: Default::default(),
            timeout_seconds: None,
        };
        let auth = AuthSettings::Token {
            token_type: "token".to_owned(),
            token: SecretValue::new("{{SystemParameter['part']}}"),
        };
        let request = RequestTemplate::compile(&spec).unwrap().with_auth(&auth).unwrap();
        let context = TemplateContext::builder().system_parameter("part", "al\"pha1").build();
        let rendered = request.render(&context).unwrap();
        let body = rendered.redacted().body.unwrap();
        assert_eq!(body, r#"{"echo":"[REDACTED]","loud":"[REDACTED]","quoted":"\"[REDACTED]\""}"#);
        assert!(!format!("{rendered:?}").contains("pha1") && !format!("{rendered:?}").contains("PHA1"));
    }

    #[test]
    fn structured_leaf_errors_name_the_leaf() {
        let spec = |payload| RequestSpec {
            method: HttpMethod::Post,
            url: "https://api.test/x".to_owned(),
            headers: BTreeMap::new(),
            payload: Some(structured(payload)),
            params: None,
            execution_mode: Default::default(),
            timeout_seconds: None,
        };
        let error = RequestTemplate::compile(&spec(json!({"blocks": [{"text": "{{Task.name"}]}))).unwrap_err();
        assert!(error.to_string().starts_with("payload.blocks[0].text: 1:1: unclosed `{{`"), "{error}");
        let error = RequestTemplate::compile(&spec(json!([{"n": "{{Task.nope}}"}])))
            .unwrap()
            .render(&TemplateContext::builder().build())
            .unwrap_err();
        assert!(error.to_string().starts_with("payload[0].n: 1:3: `Task.nope` is missing"), "{error}");
    }

    #[test]
    fn parameters_read_by_secret_fields_are_secrets() {
        let spec = RequestSpec {
            method: HttpMethod::Post,
            url: "https://api.test/x".to_owned(),
            headers: BTreeMap::new(),
            payload: Some(r#"{"echo":"{{SystemParameter['part']}}"}"#.into()),
            params: None,
            execution_mode: Default::default(),
            timeout_seconds: None,
        };
        let auth = AuthSettings::Token {
            token_type: "token".to_owned(),
            token: SecretValue::new("{{SystemParameter['part']}}-{{SystemParameter['rest']}}"),
        };
        let request = RequestTemplate::compile(&spec).unwrap().with_auth(&auth).unwrap();
        let context =
            TemplateContext::builder().system_parameter("part", "alpha1").system_parameter("rest", "beta2").build();
        let redacted = request.render(&context).unwrap().redacted();
        assert_eq!(redacted.headers, [("Authorization".to_owned(), "token [REDACTED]".to_owned())]);
        assert_eq!(redacted.body.as_deref(), Some(r#"{"echo":"[REDACTED]"}"#));
    }

    #[test]
    fn basic_auth_header_is_redacted() {
        let spec = RequestSpec {
            method: HttpMethod::Post,
            url: "https://api.test/x".to_owned(),
            headers: headers(&[("authorization", "to be replaced")]),
            payload: Some("plain {{Task.name}}".into()),
            params: None,
            execution_mode: Default::default(),
            timeout_seconds: None,
        };
        let auth = AuthSettings::Basic { username: "bot".to_owned(), password: SecretValue::new("pa55word") };
        let request = RequestTemplate::compile(&spec).unwrap().with_auth(&auth).unwrap();
        let context = TemplateContext::builder().task(json!({"name": "N"})).build();
        let rendered = request.render(&context).unwrap();
        assert_eq!(rendered.headers, [("Authorization".to_owned(), "Basic Ym90OnBhNTV3b3Jk".to_owned())]);
        assert_eq!(rendered.redacted().headers[0].1, "Basic [REDACTED]");
        assert_eq!(rendered.body.as_deref(), Some("plain N"));
    }
}
