//! The [`AuthProvider`] trait and the providers whose credentials never change: `none`, `token`, `basic`, `api_key`.

use crate::config::Redacted;
use crate::{AppliedCredentials, AuthError, FireSubject, OutgoingRequest, UnauthorizedOutcome};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use cutover_integrations_model::ApiKeyLocation;
use http::header::AUTHORIZATION;
use http::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// Applies an action's credentials to its outgoing requests.
///
/// The executor calls [`AuthProvider::apply`] before each attempt and logs the request redacted with the returned
/// [`AppliedCredentials`]. When the server answers 401 it calls [`AuthProvider::on_unauthorized`] with what it
/// applied, and on [`UnauthorizedOutcome::Retry`] applies again and retries once.
#[async_trait]
pub trait AuthProvider: Send + Sync + fmt::Debug {
    /// Adds credentials to `request` for a fire of `subject`, refreshing or fetching a token first if needed.
    async fn apply(
        &self,
        subject: &FireSubject,
        request: &mut OutgoingRequest,
    ) -> Result<AppliedCredentials, AuthError>;

    /// Reacts to a 401 answer to a request carrying `rejected`: refreshes what can be refreshed.
    async fn on_unauthorized(
        &self,
        subject: &FireSubject,
        rejected: &AppliedCredentials,
    ) -> Result<UnauthorizedOutcome, AuthError>;
}

/// Auth type `none`: adds nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAuth;

#[async_trait]
impl AuthProvider for NoAuth {
    async fn apply(&self, _: &FireSubject, _: &mut OutgoingRequest) -> Result<AppliedCredentials, AuthError> {
        Ok(AppliedCredentials::none())
    }

    async fn on_unauthorized(&self, _: &FireSubject, _: &AppliedCredentials) -> Result<UnauthorizedOutcome, AuthError> {
        Ok(UnauthorizedOutcome::GiveUp)
    }
}

/// Auth type `token`: `Authorization: <token_type> <token>`.
#[derive(Clone)]
pub struct TokenAuth {
    token_type: String,
    token: SecretString,
}

impl TokenAuth {
    /// A provider sending `Authorization: <token_type> <token>`.
    pub fn new(token_type: impl Into<String>, token: SecretString) -> Self {
        Self { token_type: token_type.into(), token }
    }
}

impl fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAuth").field("token_type", &self.token_type).field("token", &Redacted).finish()
    }
}

#[async_trait]
impl AuthProvider for TokenAuth {
    async fn apply(&self, _: &FireSubject, request: &mut OutgoingRequest) -> Result<AppliedCredentials, AuthError> {
        let mut applied = AppliedCredentials::none();
        set_authorization(request, &mut applied, &self.token_type, self.token.expose_secret(), "token")?;
        Ok(applied)
    }

    async fn on_unauthorized(&self, _: &FireSubject, _: &AppliedCredentials) -> Result<UnauthorizedOutcome, AuthError> {
        Ok(UnauthorizedOutcome::GiveUp)
    }
}

/// Auth type `basic`: `Authorization: Basic base64(username:password)`.
#[derive(Clone)]
pub struct BasicAuth {
    username: String,
    password: SecretString,
}

impl BasicAuth {
    /// A provider sending HTTP basic credentials.
    pub fn new(username: impl Into<String>, password: SecretString) -> Self {
        Self { username: username.into(), password }
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth").field("username", &self.username).field("password", &Redacted).finish()
    }
}

#[async_trait]
impl AuthProvider for BasicAuth {
    async fn apply(&self, _: &FireSubject, request: &mut OutgoingRequest) -> Result<AppliedCredentials, AuthError> {
        let mut applied = AppliedCredentials::none();
        applied.add_secret(self.password.expose_secret());
        let pair = SecretString::from(format!("{}:{}", self.username, self.password.expose_secret()));
        let encoded = SecretString::from(BASE64.encode(pair.expose_secret()));
        set_authorization(request, &mut applied, "Basic", encoded.expose_secret(), "password")?;
        Ok(applied)
    }

    async fn on_unauthorized(&self, _: &FireSubject, _: &AppliedCredentials) -> Result<UnauthorizedOutcome, AuthError> {
        Ok(UnauthorizedOutcome::GiveUp)
    }
}

/// Auth type `api_key`: the key in a named header or query parameter.
#[derive(Clone)]
pub struct ApiKeyAuth {
    location: ApiKeyLocation,
    name: String,
    value: SecretString,
}

impl ApiKeyAuth {
    /// A provider putting `value` in the header or query parameter `name`.
    pub fn new(location: ApiKeyLocation, name: impl Into<String>, value: SecretString) -> Self {
        Self { location, name: name.into(), value }
    }
}

impl fmt::Debug for ApiKeyAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyAuth")
            .field("location", &self.location)
            .field("name", &self.name)
            .field("value", &Redacted)
            .finish()
    }
}

#[async_trait]
impl AuthProvider for ApiKeyAuth {
    async fn apply(&self, _: &FireSubject, request: &mut OutgoingRequest) -> Result<AppliedCredentials, AuthError> {
        let mut applied = AppliedCredentials::none();
        applied.add_secret(self.value.expose_secret());
        match self.location {
            ApiKeyLocation::Header => {
                let name = HeaderName::from_bytes(self.name.as_bytes()).map_err(|_| AuthError::InvalidConfig {
                    field: "name",
                    message: format!("`{}` is not a valid header name", self.name),
                })?;
                let value = sensitive_header(self.value.expose_secret(), "value")?;
                request.headers.insert(name.clone(), value);
                applied.add_header(name);
            }
            ApiKeyLocation::Query => {
                request.url.query_pairs_mut().append_pair(&self.name, self.value.expose_secret());
                applied.add_query_param(&self.name);
            }
        }
        Ok(applied)
    }

    async fn on_unauthorized(&self, _: &FireSubject, _: &AppliedCredentials) -> Result<UnauthorizedOutcome, AuthError> {
        Ok(UnauthorizedOutcome::GiveUp)
    }
}

/// Sets `Authorization: <scheme> <credentials>`, marked sensitive, and records the secrets it added.
pub(crate) fn set_authorization(
    request: &mut OutgoingRequest,
    applied: &mut AppliedCredentials,
    scheme: &str,
    credentials: &str,
    field: &'static str,
) -> Result<(), AuthError> {
    let header = SecretString::from(format!("{scheme} {credentials}"));
    let value = sensitive_header(header.expose_secret(), field)?;
    request.headers.insert(AUTHORIZATION, value);
    applied.add_header(AUTHORIZATION);
    applied.add_secret(header.expose_secret());
    applied.add_secret(credentials);
    Ok(())
}

pub(crate) fn sensitive_header(value: &str, field: &'static str) -> Result<HeaderValue, AuthError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| AuthError::InvalidCredentialValue { field })?;
    value.set_sensitive(true);
    Ok(value)
}
