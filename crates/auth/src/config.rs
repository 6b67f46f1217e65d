//! Resolved auth settings: [`AuthConfig`] is an action's `auth` block with every secret reference replaced by its
//! value (held in a [`SecretString`]) and every URL and header name checked.

use crate::{AuthError, BoxError};
use cutover_integrations_model::{
    ApiKeyLocation, AuthSettings, AuthenticateAs, OAuth2Grant, OAuth2Settings, SecretValue,
};
use http::HeaderName;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use std::fmt;
use url::Url;

/// An action's auth settings, resolved and validated, ready for a provider.
#[derive(Clone)]
#[non_exhaustive]
pub enum AuthConfig {
    /// No credentials.
    None,
    /// `Authorization: <token_type> <token>`.
    Token {
        /// The scheme, such as `Bearer` or `token`.
        token_type: String,
        /// The token.
        token: SecretString,
    },
    /// HTTP basic auth.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: SecretString,
    },
    /// An API key in a header or a query parameter.
    ApiKey {
        /// Where the key goes.
        location: ApiKeyLocation,
        /// The header or query parameter name.
        name: String,
        /// The key.
        value: SecretString,
    },
    /// OAuth 2.
    OAuth2(Box<OAuth2Config>),
    /// A Standard Webhooks signature on every request.
    StandardWebhooks {
        /// The key the `whsec_` secret decodes to.
        key: SecretSlice<u8>,
    },
}

/// Resolved OAuth 2 settings of an action.
#[derive(Clone)]
pub struct OAuth2Config {
    /// The grant used to obtain tokens.
    pub grant: OAuth2Grant,
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: SecretString,
    /// The authorization endpoint (required by the authorization code grant).
    pub authorization_url: Option<Url>,
    /// The token endpoint.
    pub token_url: Url,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// Whose token a fire uses (authorization code grant; client credentials always use one token per action).
    pub authenticate_as: AuthenticateAs,
}

impl AuthConfig {
    /// Builds the resolved config from an action's settings.
    ///
    /// `resolve` turns each secret-bearing value (a literal or a `{{SystemParameter['...']}}` reference) into its value;
    /// its errors are reported with the auth field they concern. Endpoints are resolved against `provider_host`, and
    /// header names and header-bound values are checked here so that a broken action fails before any fire.
    pub fn resolve<E>(
        settings: &AuthSettings,
        mut resolve: impl FnMut(&SecretValue) -> Result<SecretString, E>,
    ) -> Result<Self, AuthError>
    where
        E: Into<BoxError>,
    {
        let mut secret = |field: &'static str, value: &SecretValue| {
            resolve(value).map_err(|error| AuthError::SecretResolution { field, source: error.into() })
        };
        Ok(match settings {
            AuthSettings::None => Self::None,
            AuthSettings::Token { token_type, token } => {
                check_token_type(token_type)?;
                let token = secret("token", token)?;
                check_header_value(&token, "token")?;
                Self::Token { token_type: token_type.clone(), token }
            }
            AuthSettings::Basic { username, password } => {
                if username.contains(':') {
                    return Err(AuthError::InvalidConfig {
                        field: "username",
                        message: "a basic auth user name cannot contain `:`".to_owned(),
                    });
                }
                Self::Basic { username: username.clone(), password: secret("password", password)? }
            }
            AuthSettings::ApiKey { location, name, value } => {
                check_api_key_name(*location, name)?;
                let value = secret("value", value)?;
                if *location == ApiKeyLocation::Header {
                    check_header_value(&value, "value")?;
                }
                Self::ApiKey { location: *location, name: name.clone(), value }
            }
            AuthSettings::Oauth2(oauth) => {
                Self::OAuth2(Box::new(OAuth2Config::resolve(oauth, secret("client_secret", &oauth.client_secret)?)?))
            }
            AuthSettings::StandardWebhooks { secret: value } => {
                let value = secret("secret", value)?;
                let key = cutover_integrations_model::decode_webhook_secret(value.expose_secret())
                    .map_err(|message| AuthError::InvalidConfig { field: "secret", message: message.to_owned() })?;
                Self::StandardWebhooks { key }
            }
        })
    }

    /// The auth type's name as in definition files (`none`, `token`, `basic`, `api_key`, `oauth2`,
    /// `standard_webhooks`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Token { .. } => "token",
            Self::Basic { .. } => "basic",
            Self::ApiKey { .. } => "api_key",
            Self::OAuth2(_) => "oauth2",
            Self::StandardWebhooks { .. } => "standard_webhooks",
        }
    }
}

impl OAuth2Config {
    fn resolve(settings: &OAuth2Settings, client_secret: SecretString) -> Result<Self, AuthError> {
        let token_url = endpoint_url(&settings.provider_host, &settings.token_endpoint, "token_endpoint")?;
        let authorization_url = settings
            .authorization_endpoint
            .as_deref()
            .map(|endpoint| endpoint_url(&settings.provider_host, endpoint, "authorization_endpoint"))
            .transpose()?;
        if settings.grant == OAuth2Grant::AuthorizationCode && authorization_url.is_none() {
            return Err(AuthError::InvalidConfig {
                field: "authorization_endpoint",
                message: "the authorization_code grant needs an authorization endpoint".to_owned(),
            });
        }
        if settings.client_id.is_empty() {
            return Err(AuthError::InvalidConfig { field: "client_id", message: "the client id is empty".to_owned() });
        }
        Ok(Self {
            grant: settings.grant,
            client_id: settings.client_id.clone(),
            client_secret,
            authorization_url,
            token_url,
            scopes: settings.scopes.clone(),
            authenticate_as: settings.authenticate_as,
        })
    }
}

/// Resolves an endpoint against the provider host: an absolute `http(s)` URL is used as is, otherwise the endpoint is
/// appended to the host's URL (keeping any path the host has, so `https://idp/tenant` + `/token` is
/// `https://idp/tenant/token`).
fn endpoint_url(provider_host: &str, endpoint: &str, field: &'static str) -> Result<Url, AuthError> {
    let invalid = |message: String| AuthError::InvalidConfig { field, message };
    if let Ok(url) = Url::parse(endpoint) {
        return check_http_url(url).map_err(invalid);
    }
    let host = Url::parse(provider_host).map_err(|error| AuthError::InvalidConfig {
        field: "provider_host",
        message: format!("`{provider_host}` is not an absolute URL: {error}"),
    })?;
    let joined = format!("{}/{}", host.as_str().trim_end_matches('/'), endpoint.trim_start_matches('/'));
    let url = Url::parse(&joined).map_err(|error| invalid(format!("`{joined}` is not a URL: {error}")))?;
    check_http_url(url).map_err(invalid)
}

fn check_http_url(url: Url) -> Result<Url, String> {
    if matches!(url.scheme(), "http" | "https") && url.has_host() {
        Ok(url)
    } else {
        Err(format!("`{url}` is not an http(s) URL"))
    }
}

fn check_token_type(token_type: &str) -> Result<(), AuthError> {
    if token_type.is_empty() || !token_type.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(AuthError::InvalidConfig {
            field: "token_type",
            message: format!("`{token_type}` is not a scheme name (one word of visible ASCII)"),
        });
    }
    Ok(())
}

fn check_header_value(value: &SecretString, field: &'static str) -> Result<(), AuthError> {
    match http::HeaderValue::from_str(value.expose_secret()) {
        Ok(_) => Ok(()),
        Err(_) => Err(AuthError::InvalidCredentialValue { field }),
    }
}

fn check_api_key_name(location: ApiKeyLocation, name: &str) -> Result<(), AuthError> {
    let invalid = |message: String| AuthError::InvalidConfig { field: "name", message };
    match location {
        ApiKeyLocation::Header => HeaderName::from_bytes(name.as_bytes())
            .map(drop)
            .map_err(|_| invalid(format!("`{name}` is not a valid header name"))),
        ApiKeyLocation::Query if name.is_empty() => Err(invalid("the query parameter name is empty".to_owned())),
        ApiKeyLocation::Query => Ok(()),
    }
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Token { token_type, token: _ } => {
                f.debug_struct("Token").field("token_type", token_type).field("token", &Redacted).finish()
            }
            Self::Basic { username, password: _ } => {
                f.debug_struct("Basic").field("username", username).field("password", &Redacted).finish()
            }
            Self::ApiKey { location, name, value: _ } => f
                .debug_struct("ApiKey")
                .field("location", location)
                .field("name", name)
                .field("value", &Redacted)
                .finish(),
            Self::OAuth2(config) => f.debug_tuple("OAuth2").field(config).finish(),
            Self::StandardWebhooks { key: _ } => f.debug_struct("StandardWebhooks").field("key", &Redacted).finish(),
        }
    }
}

impl fmt::Debug for OAuth2Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Config")
            .field("grant", &self.grant)
            .field("client_id", &self.client_id)
            .field("client_secret", &Redacted)
            .field("authorization_url", &self.authorization_url.as_ref().map(Url::as_str))
            .field("token_url", &self.token_url.as_str())
            .field("scopes", &self.scopes)
            .field("authenticate_as", &self.authenticate_as)
            .finish()
    }
}

/// Prints `[REDACTED]` in place of a secret field.
pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

pub(crate) fn grant_name(grant: OAuth2Grant) -> &'static str {
    match grant {
        OAuth2Grant::AuthorizationCode => "authorization_code",
        OAuth2Grant::ClientCredentials => "client_credentials",
    }
}

pub(crate) fn authenticate_as_name(authenticate_as: AuthenticateAs) -> &'static str {
    match authenticate_as {
        AuthenticateAs::FunctionalUser => "functional_user",
        AuthenticateAs::TaskUser => "task_user",
    }
}
