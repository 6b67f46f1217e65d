//! Reading submitted forms: repeated keys (checkboxes, multi-selects) kept, values trimmed where asked.

use crate::error::ConsoleError;
use axum::body::Bytes;

/// A submitted `application/x-www-form-urlencoded` form, every pair in order.
#[derive(Debug, Default)]
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    /// Parses a form body.
    pub(crate) fn parse(body: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`, trimmed; empty when absent.
    pub(crate) fn text(&self, name: &str) -> String {
        self.raw(name).trim().to_owned()
    }

    /// The first value of `name` as sent; empty when absent.
    pub(crate) fn raw(&self, name: &str) -> &str {
        self.0.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str()).unwrap_or("")
    }

    /// The first value of `name`, trimmed, or `None` when absent or blank.
    pub(crate) fn optional(&self, name: &str) -> Option<String> {
        Some(self.text(name)).filter(|value| !value.is_empty())
    }

    /// Every value of `name`.
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(key, _)| key == name).map(|(_, value)| value.clone()).collect()
    }

    /// Every pair, in order.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// Whether a checkbox named `name` was checked.
    pub(crate) fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(key, _)| key == name)
    }
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for Form {
    type Rejection = ConsoleError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes =
            Bytes::from_request(request, state).await.map_err(|error| ConsoleError::BadForm(error.body_text()))?;
        Ok(Self::parse(&bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_keep_repeated_keys_and_trim_on_request() {
        let form = Form::parse(b"name=+Slack+&roles=viewer&roles=operator&secret=on&blank=+");
        assert_eq!(form.text("name"), "Slack");
        assert_eq!(form.raw("name"), " Slack ");
        assert_eq!(form.all("roles"), ["viewer", "operator"]);
        assert!(form.checked("secret"));
        assert!(!form.checked("missing"));
        assert_eq!(form.optional("blank"), None);
        assert_eq!(form.text("missing"), "");
    }
}
