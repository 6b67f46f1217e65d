//! Taint: a value computed from a secret is a secret. While a template renders with known secrets, every filter whose
//! input or arguments hold a secret (or a value already derived from one) adds its result to the secrets of the render,
//! so `upcase`, `split`/`join`, `replace` and the rest cannot carry a secret past the [`crate::Redactor`].
//!
//! Filters are handlebars helpers registered once per process, so the secrets of the render in progress live in a
//! thread-local scope set by [`SecretSet::track`] around the (synchronous) render.

use crate::escape::value_text;
use crate::redact::{MIN_SUBSTRING_SECRET_LEN, Redactor};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::cell::RefCell;
use std::fmt;

/// The secrets of one render or of one request: known ones, and every value derived from them while rendering.
///
/// ```
/// use cutover_integrations_template::{SecretSet, Template, TemplateContext, TemplatePlace};
/// let template = Template::compile("{{SystemParameter.key | upcase}}", TemplatePlace::Text)?;
/// let context = TemplateContext::builder().secret_system_parameter("key", "hunter22").build();
/// let mut secrets = SecretSet::new(context.secrets().iter().cloned());
/// let rendered = template.render_tracked(&context, &mut secrets)?;
/// assert_eq!(rendered, "HUNTER22");
/// assert_eq!(secrets.redactor().redact(&rendered), "[REDACTED]");
/// # Ok::<(), cutover_integrations_template::TemplateError>(())
/// ```
#[derive(Clone, Default)]
pub struct SecretSet {
    secrets: Vec<SecretString>,
}

impl fmt::Debug for SecretSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretSet").field("secrets", &self.secrets.len()).finish()
    }
}

impl SecretSet {
    /// A set of known secrets.
    pub fn new(secrets: impl IntoIterator<Item = SecretString>) -> Self {
        let mut set = Self::default();
        for secret in secrets {
            set.add(secret);
        }
        set
    }

    /// Adds a secret (empty ones and repeats are skipped).
    pub fn add(&mut self, secret: SecretString) {
        let text = secret.expose_secret();
        if !text.is_empty() && !self.secrets.iter().any(|known| known.expose_secret() == text) {
            self.secrets.push(secret);
        }
    }

    /// The secrets.
    pub fn as_slice(&self) -> &[SecretString] {
        &self.secrets
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// A redactor for every secret of the set.
    pub fn redactor(&self) -> Redactor {
        Redactor::from_secrets(&self.secrets)
    }

    /// The secrets, consumed.
    pub fn into_vec(self) -> Vec<SecretString> {
        self.secrets
    }

    /// Runs `render` with this set as the thread's taint scope; values derived from its secrets are added to it.
    pub(crate) fn track<R>(&mut self, render: impl FnOnce() -> R) -> R {
        if self.secrets.is_empty() {
            return render();
        }
        let outer = SCOPE.with(|scope| scope.replace(Some(std::mem::take(self))));
        let result = render();
        *self = SCOPE.with(|scope| scope.replace(outer)).unwrap_or_default();
        result
    }

    /// Whether `text` holds one of the secrets: equals it, or contains it when it is long enough to search for.
    fn holds(&self, text: &str) -> bool {
        self.secrets.iter().any(|secret| {
            let secret = secret.expose_secret();
            if secret.chars().count() < MIN_SUBSTRING_SECRET_LEN { text == secret } else { text.contains(secret) }
        })
    }

    fn holds_value(&self, value: &Value) -> bool {
        match value {
            Value::Array(items) => items.iter().any(|item| self.holds_value(item)),
            Value::Object(map) => map.iter().any(|(key, item)| self.holds(key) || self.holds_value(item)),
            Value::Null => false,
            scalar => self.holds(&value_text(scalar)),
        }
    }

    fn add_value(&mut self, value: &Value) {
        match value {
            Value::Array(items) => items.iter().for_each(|item| self.add_value(item)),
            Value::Object(map) => {
                for (key, item) in map {
                    self.add(SecretString::from(key.clone()));
                    self.add_value(item);
                }
            }
            Value::Null => {}
            scalar => self.add(SecretString::from(value_text(scalar).into_owned())),
        }
        // The whole value as text too: `json` and blocks may write it as one.
        if matches!(value, Value::Array(_) | Value::Object(_)) {
            self.add(SecretString::from(value.to_string()));
        }
    }
}

thread_local! {
    /// The secrets of the render in progress on this thread, if it tracks any.
    static SCOPE: RefCell<Option<SecretSet>> = const { RefCell::new(None) };
}

/// Called by every filter with its input, its arguments and its result: when an input holds a secret of the render in
/// progress, every part of the result becomes one.
pub(crate) fn flow<'a>(inputs: impl IntoIterator<Item = &'a Value>, result: &Value) {
    SCOPE.with(|scope| {
        let mut scope = scope.borrow_mut();
        let Some(set) = scope.as_mut() else { return };
        if inputs.into_iter().any(|input| set.holds_value(input)) {
            set.add_value(result);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Template, TemplateContext, TemplatePlace};

    /// Renders `source` with `key` a secret parameter: what the rendered text looks like after redaction.
    fn check(source: &str, place: TemplatePlace, expected: &str) {
        let context = TemplateContext::builder()
            .secret_system_parameter("key", "Alpha-Beta-Gamma")
            .system_parameter("plain", "visible-value")
            .custom_field("Note", "some note")
            .build();
        let template = Template::compile(source, place).expect("compiles");
        let mut secrets = SecretSet::new(context.secrets().iter().cloned());
        let rendered = template.render_tracked(&context, &mut secrets).expect("renders");
        assert_eq!(secrets.redactor().redact(&rendered), expected, "{source}");
    }

    #[test]
    fn every_filter_carries_the_taint() {
        use TemplatePlace::{HeaderValue, JsonPayload, Text, Url};
        let cases = [
            ("{{SystemParameter.key}}", Text, "[REDACTED]"),
            ("{{SystemParameter.key | upcase}}", Text, "[REDACTED]"),
            ("{{SystemParameter.key | downcase | capitalize}}", Text, "[REDACTED]"),
            ("{{SystemParameter.key | replace: '-', '_'}}", Text, "[REDACTED]"),
            ("{{SystemParameter.key | split: '-' | join: '+'}}", Text, "[REDACTED]"),
            ("{{SystemParameter.key | split: '-' | join}}", HeaderValue, "[REDACTED]"),
            ("x {{SystemParameter.key | url_encode | upcase}}", Text, "x [REDACTED]"),
            ("https://api.test/{{SystemParameter.key | upcase}}?n=1", Url, "https://api.test/[REDACTED]?n=1"),
            (r#"{"k":"{{SystemParameter.key | upcase}}"}"#, JsonPayload, r#"{"k":"[REDACTED]"}"#),
            (r#"{"k":{{SystemParameter.key | split: '-' | json}}}"#, JsonPayload, r#"{"k":"[REDACTED]"}"#),
            ("{{#if SystemParameter.key}}<{{SystemParameter.key | upcase}}>{{/if}}", Text, "<[REDACTED]>"),
            ("{{CustomField.Note | append: SystemParameter.key | upcase}}", Text, "[REDACTED]"),
            ("{{SystemParameter.plain | upcase}} {{CustomField.Note | upcase}}", Text, "VISIBLE-VALUE SOME NOTE"),
        ];
        for (source, place, expected) in cases {
            check(source, place, expected);
        }
    }

    #[test]
    fn without_secrets_nothing_is_tracked_and_scopes_do_not_leak() {
        let template = Template::compile("{{SystemParameter.key | upcase}}", TemplatePlace::Text).expect("compiles");
        let context = TemplateContext::builder().system_parameter("key", "alpha-beta").build();
        let mut secrets = SecretSet::default();
        assert_eq!(template.render_tracked(&context, &mut secrets).expect("renders"), "ALPHA-BETA");
        assert!(secrets.is_empty());
        SCOPE.with(|scope| assert!(scope.borrow().is_none(), "the scope ends with the render"));
    }
}
