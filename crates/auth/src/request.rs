//! What a provider works on and reports: the outgoing request, the fire it belongs to, and the credentials it added
//! (so the HTTP executor can redact them from its logs).

use http::{HeaderMap, HeaderName, Method};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use url::Url;

/// An outgoing request as far as auth is concerned: method, URL (with its query) and headers.
///
/// Providers add headers (marked sensitive, so `HeaderMap`'s `Debug` hides them) or query parameters. Since a query
/// parameter may hold a key, `Debug` shows query parameter names with every value as `[REDACTED]`; log the request
/// through [`AppliedCredentials::redact`] to keep the other values. The body is there to be signed (auth type
/// `standard_webhooks`); no provider changes it, and `Debug` shows only its length.
#[derive(Clone)]
pub struct OutgoingRequest {
    /// The HTTP method.
    pub method: Method,
    /// The full URL, query included.
    pub url: Url,
    /// The request headers.
    pub headers: HeaderMap,
    /// The body exactly as it will be sent, if any.
    pub body: Option<String>,
}

impl OutgoingRequest {
    /// A request without headers or body.
    pub fn new(method: Method, url: Url) -> Self {
        Self { method, url, headers: HeaderMap::new(), body: None }
    }
}

impl fmt::Debug for OutgoingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut url = self.url.clone();
        let names: Vec<String> = self.url.query_pairs().map(|(name, _)| name.into_owned()).collect();
        if !names.is_empty() {
            let mut query = url.query_pairs_mut();
            query.clear();
            for name in &names {
                query.append_pair(name, "[REDACTED]");
            }
        }
        f.debug_struct("OutgoingRequest")
            .field("method", &self.method)
            .field("url", &url.as_str())
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.as_ref().map(String::len))
            .finish()
    }
}

/// Who a fire runs for: it selects the OAuth token (one per action, or one per action, runbook, task and user).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FireSubject {
    /// The action's id.
    pub action: String,
    /// The runbook's id.
    pub runbook: String,
    /// The task's id within the runbook.
    pub task: String,
    /// The task's user, needed when the action authenticates as the task user.
    pub user: Option<String>,
}

/// What a provider added to a request: header names, query parameter names and the secret values, so that whoever
/// logs the request can redact them. `Debug` shows the names and `[REDACTED]` for the values.
#[derive(Clone, Default)]
pub struct AppliedCredentials {
    headers: Vec<HeaderName>,
    query_params: Vec<String>,
    secrets: Vec<SecretString>,
    pub(crate) oauth_access_token: Option<SecretString>,
}

impl AppliedCredentials {
    /// Nothing added (auth type `none`).
    pub fn none() -> Self {
        Self::default()
    }

    /// Names of the headers the provider set.
    pub fn headers(&self) -> &[HeaderName] {
        &self.headers
    }

    /// Names of the query parameters the provider appended.
    pub fn query_params(&self) -> &[String] {
        &self.query_params
    }

    /// Every secret string that now appears in the request, in each form it appears in (raw, percent-encoded, as a
    /// whole header value). Longest first, so a redactor replacing them in order never leaves a fragment.
    pub fn secrets(&self) -> &[SecretString] {
        &self.secrets
    }

    /// Replaces every added secret in `text` with `[REDACTED]`.
    pub fn redact(&self, text: &str) -> String {
        let mut redacted = text.to_owned();
        for secret in &self.secrets {
            let secret = secret.expose_secret();
            if !secret.is_empty() {
                redacted = redacted.replace(secret, "[REDACTED]");
            }
        }
        redacted
    }

    pub(crate) fn add_header(&mut self, name: HeaderName) {
        self.headers.push(name);
    }

    pub(crate) fn add_query_param(&mut self, name: &str) {
        self.query_params.push(name.to_owned());
    }

    /// Records a secret and the encoded forms it may take in a URL.
    pub(crate) fn add_secret(&mut self, secret: &str) {
        let encoded = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
        let form_encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for form in [secret.to_owned(), encoded, form_encoded] {
            if !form.is_empty() && !self.secrets.iter().any(|known| known.expose_secret() == form) {
                self.secrets.push(SecretString::from(form));
            }
        }
        self.secrets.sort_by_key(|known| std::cmp::Reverse(known.expose_secret().len()));
    }
}

impl fmt::Debug for AppliedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppliedCredentials")
            .field("headers", &self.headers)
            .field("query_params", &self.query_params)
            .field("secrets", &format_args!("[REDACTED; {}]", self.secrets.len()))
            .finish()
    }
}

/// What the executor should do after the server answered 401 to an authenticated request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnauthorizedOutcome {
    /// The credential changed (it was refreshed): apply auth again and retry the request once.
    Retry,
    /// Nothing would change on a retry (static credentials): report the 401.
    GiveUp,
}
