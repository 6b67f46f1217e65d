//! The values templates read: `CustomField`, `Task`, `Runbook`, `SystemParameter`, `Callback`, `Response`.
//!
//! A [`TemplateContext`] is built once per fire and shared by every template of the request (URL, headers, payload),
//! so the conversion into handlebars' own context happens once, not per template.

use crate::TemplateError;
use secrecy::SecretString;
use serde_json::{Map, Value};

/// The context templates render against: a JSON object with the roots as keys.
///
/// ```
/// use cutover_integrations_template::TemplateContext;
/// let context = TemplateContext::builder()
///     .custom_field("Slack Channel", "#release")
///     .task(serde_json::json!({"id": "announce", "name": "Announce the start"}))
///     .build();
/// assert_eq!(context.data()["CustomField"]["Slack Channel"], "#release");
/// ```
#[derive(Clone)]
pub struct TemplateContext {
    pub(crate) inner: handlebars::Context,
    secrets: Vec<SecretString>,
}

impl std::fmt::Debug for TemplateContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The data may hold secret system parameters: show only its shape.
        let roots: Vec<&String> = self.data().as_object().map(|o| o.keys().collect()).unwrap_or_default();
        f.debug_struct("TemplateContext").field("roots", &roots).field("secrets", &self.secrets.len()).finish()
    }
}

impl TemplateContext {
    /// Wraps a JSON value (normally an object with the roots as keys) as it is, with no secrets.
    pub fn new(data: Value) -> Self {
        Self { inner: handlebars::Context::from(data), secrets: Vec::new() }
    }

    /// Reads a context document such as `cutover render --context CONTEXT.json` takes.
    ///
    /// The document is `{"CustomField":{…},"Task":{…},"Runbook":{…},"SystemParameter":{…},…}`. A system parameter may
    /// be written `{"value": "…", "secret": true}`: templates see the value, and the value is a secret (see
    /// [`TemplateContext::secrets`]). The `{"value": …}` form without `secret` (or with `"secret": false`) is unwrapped
    /// too; any other value is used as it is.
    pub fn parse_document(text: &str) -> Result<Self, TemplateError> {
        let mut data: Value = serde_json::from_str(text)
            .map_err(|e| TemplateError::InvalidContext { message: format!("not JSON: {e}") })?;
        let Value::Object(root) = &mut data else {
            return Err(TemplateError::InvalidContext {
                message: "the context must be a JSON object with keys such as CustomField and Task".to_owned(),
            });
        };
        let mut secrets = Vec::new();
        if let Some(Value::Object(parameters)) = root.get_mut("SystemParameter") {
            for value in parameters.values_mut() {
                let Value::Object(fields) = value else { continue };
                let secret = match fields.get("secret") {
                    None => false,
                    Some(Value::Bool(flag)) => *flag,
                    Some(_) => continue,
                };
                if !fields.contains_key("value") || fields.len() > 1 + usize::from(fields.contains_key("secret")) {
                    continue;
                }
                let inner = fields.remove("value").unwrap_or(Value::Null);
                if secret {
                    secrets.push(SecretString::from(crate::escape::value_text(&inner).into_owned()));
                }
                *value = inner;
            }
        }
        Ok(Self { inner: handlebars::Context::from(data), secrets })
    }

    /// A builder that starts with every root but `Response` present and empty.
    pub fn builder() -> ContextBuilder {
        ContextBuilder::default()
    }

    /// The JSON data.
    pub fn data(&self) -> &Value {
        self.inner.data()
    }

    /// The values of the secret system parameters: rendered requests redact them.
    pub fn secrets(&self) -> &[SecretString] {
        &self.secrets
    }

    /// Adds a secret value to redact wherever it appears.
    pub fn add_secret(&mut self, secret: impl Into<String>) {
        self.secrets.push(SecretString::from(secret.into()));
    }
}

impl From<Value> for TemplateContext {
    fn from(data: Value) -> Self {
        Self::new(data)
    }
}

/// Builds a [`TemplateContext`] root by root.
#[derive(Debug, Clone, Default)]
pub struct ContextBuilder {
    custom_fields: Map<String, Value>,
    task: Map<String, Value>,
    runbook: Map<String, Value>,
    system_parameters: Map<String, Value>,
    secrets: Vec<SecretString>,
    callback: Map<String, Value>,
    response: Option<Value>,
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl ContextBuilder {
    /// Sets one custom field value (the task's value wins over the runbook's: set the runbook's first).
    pub fn custom_field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.custom_fields.insert(name.into(), value.into());
        self
    }

    /// Sets the `Task` root from an object (`id`, `name`, `description`, `stage`, `assignee`, …); other values are ignored.
    pub fn task(mut self, task: Value) -> Self {
        self.task = object(task);
        self
    }

    /// Sets the `Runbook` root from an object (`id`, `name`, `mode`, `stage`, `workspace`, …).
    pub fn runbook(mut self, runbook: Value) -> Self {
        self.runbook = object(runbook);
        self
    }

    /// Sets one system parameter.
    pub fn system_parameter(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.system_parameters.insert(name.into(), value.into());
        self
    }

    /// Sets one secret system parameter: templates read it like any other, and rendered requests redact it.
    pub fn secret_system_parameter(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let value = value.into();
        self.secrets.push(SecretString::from(value.clone()));
        self.system_parameters.insert(name.into(), Value::String(value));
        self
    }

    /// Sets the `Callback` root (`url`, `token`) of a callback fire.
    pub fn callback(mut self, url: impl Into<String>, token: impl Into<String>) -> Self {
        self.callback.insert("url".to_owned(), Value::String(url.into()));
        self.callback.insert("token".to_owned(), Value::String(token.into()));
        self
    }

    /// Sets the `Response` root: the first response's JSON body, for polling templates.
    pub fn response(mut self, body: Value) -> Self {
        self.response = Some(body);
        self
    }

    /// The context.
    pub fn build(self) -> TemplateContext {
        let mut root = Map::new();
        root.insert("CustomField".to_owned(), Value::Object(self.custom_fields));
        root.insert("Task".to_owned(), Value::Object(self.task));
        root.insert("Runbook".to_owned(), Value::Object(self.runbook));
        root.insert("SystemParameter".to_owned(), Value::Object(self.system_parameters));
        root.insert("Callback".to_owned(), Value::Object(self.callback));
        if let Some(response) = self.response {
            root.insert("Response".to_owned(), response);
        }
        TemplateContext { inner: handlebars::Context::from(Value::Object(root)), secrets: self.secrets }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use serde_json::json;

    #[test]
    fn secret_parameters_are_unwrapped_and_collected() {
        let context = TemplateContext::parse_document(
            r#"{"SystemParameter":{"token":{"value":"s3cret","secret":true},"host":{"value":"example.com"},
               "raw":"plain","odd":{"value":1,"other":2}}}"#,
        )
        .unwrap();
        let parameters = &context.data()["SystemParameter"];
        assert_eq!(parameters["token"], "s3cret");
        assert_eq!(parameters["host"], "example.com");
        assert_eq!(parameters["raw"], "plain");
        assert_eq!(parameters["odd"], json!({"value": 1, "other": 2}));
        let secrets: Vec<_> = context.secrets().iter().map(|s| s.expose_secret().to_owned()).collect();
        assert_eq!(secrets, ["s3cret"]);
        assert!(!format!("{context:?}").contains("s3cret"));
    }

    #[test]
    fn a_context_that_is_not_an_object_is_refused() {
        assert!(matches!(TemplateContext::parse_document("[1]"), Err(TemplateError::InvalidContext { .. })));
        assert!(matches!(TemplateContext::parse_document("{"), Err(TemplateError::InvalidContext { .. })));
    }
}
