//! [`RequestTemplate`]: every template of a request, compiled once for its place, rendered to a [`RenderedRequest`].
//!
//! Action requests, polling requests and notify-webhook requests share one shape, [`RequestParts`].

use crate::escape::{URL_COMPONENT, value_text};
use crate::{Redactor, SecretSet, Template, TemplateContext, TemplateError};
use base64::Engine as _;
use cutover_integrations_model::{
    ApiKeyLocation, AuthSettings, HttpMethod, NotifyWebhook, PollingSpec, RequestSpec, TemplatePlace,
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
    pub payload: Option<&'a str>,
    /// The query parameters template (a JSON object).
    pub params: Option<&'a str>,
}

impl<'a> From<&'a RequestSpec> for RequestParts<'a> {
    fn from(spec: &'a RequestSpec) -> Self {
        Self {
            method: spec.method,
            url: &spec.url,
            headers: &spec.headers,
            payload: spec.payload.as_deref(),
            params: spec.params.as_deref(),
        }
    }
}

impl<'a> From<&'a PollingSpec> for RequestParts<'a> {
    fn from(spec: &'a PollingSpec) -> Self {
        Self {
            method: spec.method,
            url: &spec.url,
            headers: &spec.headers,
            payload: spec.payload.as_deref(),
            params: spec.params.as_deref(),
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
            payload: webhook.payload.as_deref(),
            params: None,
        }
    }
}

/// A compiled request: URL (place [`TemplatePlace::Url`]), header values ([`TemplatePlace::HeaderValue`]), payload
/// ([`TemplatePlace::JsonPayload`] when the `Content-Type` header mentions JSON or is absent and the payload starts
/// with `{` or `[`, else [`TemplatePlace::Text`]) and params ([`TemplatePlace::JsonParams`]: the rendered JSON object
/// is appended to the URL's query string).
///
/// Compile errors and render errors name the field: `url`, `headers.NAME`, `payload`, `params`, `auth.token`, ….
///
/// ```
/// use cutover_integrations_template::{RequestParts, RequestTemplate, TemplateContext};
/// use cutover_integrations_model::HttpMethod;
/// let headers = [("Content-Type".to_owned(), "application/json".to_owned())].into();
/// let request = RequestTemplate::from_parts(RequestParts {
///     method: HttpMethod::Post,
///     url: "https://slack.test/api/chat.postMessage",
///     headers: &headers,
///     payload: Some(r#"{"text":"{{CustomField['Slack Message']}}"}"#),
///     params: None,
/// })?;
/// let context = TemplateContext::builder().custom_field("Slack Message", "say \"hi\"").build();
/// let rendered = request.render(&context)?;
/// assert_eq!(rendered.body.as_deref(), Some(r#"{"text":"say \"hi\""}"#));
/// # Ok::<(), cutover_integrations_template::TemplateError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RequestTemplate {
    method: HttpMethod,
    url: Template,
    headers: Vec<(String, Template)>,
    payload: Option<Template>,
    params: Option<Template>,
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
                let place = payload_place(parts.headers, payload);
                Template::compile(payload, place).map_err(|e| e.in_field("payload"))
            })
            .transpose()?;
        let params = parts
            .params
            .map(|params| Template::compile(params, TemplatePlace::JsonParams).map_err(|e| e.in_field("params")))
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

    /// The place the payload was compiled for, when there is a payload.
    pub fn payload_place(&self) -> Option<TemplatePlace> {
        self.payload.as_ref().map(Template::place)
    }

    /// Every template with its field name (`url`, `headers.NAME`, `payload`, `params`, `auth.…`).
    pub fn templates(&self) -> Vec<(String, &Template)> {
        let mut all = vec![("url".to_owned(), &self.url)];
        all.extend(self.headers.iter().map(|(name, t)| (format!("headers.{name}"), t)));
        all.extend(self.payload.iter().map(|t| ("payload".to_owned(), t)));
        all.extend(self.params.iter().map(|t| ("params".to_owned(), t)));
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
            let rendered = params.render_tracked(context, &mut secrets).map_err(|e| e.in_field("params"))?;
            let Ok(Value::Object(object)) = serde_json::from_str::<Value>(&rendered) else {
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
        let body = self
            .payload
            .as_ref()
            .map(|t| t.render_tracked(context, &mut secrets).map_err(|e| e.in_field("payload")))
            .transpose()?;

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
            params: Some(r#"{"q":"{{CustomField['Query']}}","n":{{Task.n}},"skip":null,"tag":["a","b c"]}"#.to_owned()),
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
            params,
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

    #[test]
    fn parameters_read_by_secret_fields_are_secrets() {
        let spec = RequestSpec {
            method: HttpMethod::Post,
            url: "https://api.test/x".to_owned(),
            headers: BTreeMap::new(),
            payload: Some(r#"{"echo":"{{SystemParameter['part']}}"}"#.to_owned()),
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
            payload: Some("plain {{Task.name}}".to_owned()),
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
