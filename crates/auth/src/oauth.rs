//! OAuth 2 with the `oauth2` crate: the authorization code flow with PKCE and one-time state, client credentials,
//! and token refresh that is proactive, triggered by a 401, and single-flight per credential.

use crate::config::{Redacted, authenticate_as_name, grant_name};
use crate::provider::set_authorization;
use crate::store::{Authorizer, CredentialKey, OAuthToken, PendingAuthorization, StateRedemption, StoredCredential};
use crate::token_http::TokenHttpClient;
use crate::token_response::{ProviderErrorResponse, ProviderTokenResponse, TokenProblem};
use crate::{
    ApiKeyAuth, AppliedCredentials, AuthConfig, AuthError, AuthProvider, BasicAuth, Clock, CredentialStore,
    FireSubject, NoAuth, OAuth2Config, OutgoingRequest, StandardWebhooksAuth, TokenAuth, UnauthorizedOutcome,
};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cutover_integrations_model::{AuthenticateAs, OAuth2Grant};
use jiff::{SignedDuration, Timestamp};
use oauth2::basic::{BasicRevocationErrorResponse, BasicTokenIntrospectionResponse};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, StandardRevocableToken, TokenResponse,
    TokenUrl,
};
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use url::Url;

/// How the [`Authenticator`] runs OAuth flows.
#[derive(Debug, Clone)]
pub struct AuthenticatorSettings {
    /// The redirect URI registered with providers: `CUTOVER_PUBLIC_URL` + `/api/v1/oauth/callback`. It is sent
    /// byte-for-byte the same in the authorization URL and in the code exchange.
    pub redirect_url: Url,
    /// How long a `state` stays redeemable after the authorization URL is built.
    pub state_lifetime: SignedDuration,
    /// How long before expiry a token is refreshed proactively (capped at half the token's lifetime).
    pub refresh_margin: SignedDuration,
}

impl AuthenticatorSettings {
    /// Defaults: states live 10 minutes, tokens are refreshed 60 seconds before they expire.
    pub fn new(redirect_url: Url) -> Self {
        Self {
            redirect_url,
            state_lifetime: SignedDuration::from_mins(10),
            refresh_margin: SignedDuration::from_secs(60),
        }
    }
}

/// Where to send the user to authorize, and what the authorization will fill.
#[derive(Debug, Clone)]
pub struct AuthorizationRedirect {
    /// The provider's authorization URL with `state`, PKCE challenge, scopes and redirect URI (nothing secret).
    pub url: Url,
    /// The credential the callback will store a token for.
    pub credential: CredentialKey,
    /// When the state stops being accepted.
    pub expires_at: Timestamp,
}

/// The query of the provider's redirect to our callback: `state` and either `code` or `error`.
///
/// Deserializes from the callback's query string. `Debug` redacts the code.
#[derive(Clone, Deserialize)]
pub struct AuthorizationCallback {
    /// The state we issued.
    pub state: String,
    /// The authorization code, on success.
    #[serde(default)]
    pub code: Option<SecretString>,
    /// The provider's error code, on failure (`access_denied`, …).
    #[serde(default)]
    pub error: Option<String>,
    /// The provider's error description.
    #[serde(default)]
    pub error_description: Option<String>,
}

impl fmt::Debug for AuthorizationCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCallback")
            .field("state", &Redacted)
            .field("code", &self.code.as_ref().map(|_| Redacted))
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .finish()
    }
}

/// Runs OAuth flows and hands out providers; one per process, shared by every fire.
///
/// It owns the per-credential refresh locks, so two providers built from it for the same action never refresh one
/// token twice. Cloning is cheap and shares everything.
#[derive(Clone)]
pub struct Authenticator {
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn CredentialStore>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    settings: AuthenticatorSettings,
    refresh_locks: Mutex<HashMap<CredentialKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl Authenticator {
    /// An authenticator storing tokens in `store`, calling token endpoints with `http` (configure its timeouts and
    /// outbound-address guard there) and reading time from `clock`.
    pub fn new(
        store: Arc<dyn CredentialStore>,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
        settings: AuthenticatorSettings,
    ) -> Self {
        Self { shared: Arc::new(Shared { store, clock, http, settings, refresh_locks: Mutex::new(HashMap::new()) }) }
    }

    /// The provider for an action's resolved auth settings.
    pub fn provider(&self, config: AuthConfig) -> Arc<dyn AuthProvider> {
        match config {
            AuthConfig::None => Arc::new(NoAuth),
            AuthConfig::Token { token_type, token } => Arc::new(TokenAuth::new(token_type, token)),
            AuthConfig::Basic { username, password } => Arc::new(BasicAuth::new(username, password)),
            AuthConfig::ApiKey { location, name, value } => Arc::new(ApiKeyAuth::new(location, name, value)),
            AuthConfig::OAuth2(config) => Arc::new(OAuth2Auth { shared: Arc::clone(&self.shared), config: *config }),
            AuthConfig::StandardWebhooks { key } => {
                Arc::new(StandardWebhooksAuth::new(key, Arc::clone(&self.shared.clock)))
            }
        }
    }

    /// Starts an authorization-code flow for `credential`: stores a one-time state bound to it with a PKCE verifier
    /// and returns the provider URL to redirect the user to.
    pub async fn begin_authorization(
        &self,
        config: &OAuth2Config,
        credential: CredentialKey,
    ) -> Result<AuthorizationRedirect, AuthError> {
        self.begin_authorization_by(config, credential, None).await
    }

    /// [`Authenticator::begin_authorization`] for a signed-in user (`requested_by`, an email address): the token the
    /// flow brings records who authorized it and when ([`OAuthToken::authorized`]).
    pub async fn begin_authorization_by(
        &self,
        config: &OAuth2Config,
        credential: CredentialKey,
        requested_by: Option<String>,
    ) -> Result<AuthorizationRedirect, AuthError> {
        require_authorization_code(config)?;
        require_credential_kind(config, &credential)?;
        let shared = &self.shared;
        let now = shared.clock.now();
        shared.store.purge_expired_authorizations(now).await?;
        let state = random_state();
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let redirect_url = shared.settings.redirect_url.clone();
        let client = provider_client(config, Some(&redirect_url))?;
        let (url, _) = client
            .authorize_url(|| CsrfToken::new(state.expose_secret().to_owned()))
            .map_err(|error| AuthError::InvalidConfig { field: "authorization_endpoint", message: error.to_string() })?
            .add_scopes(config.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        let expires_at = add(now, shared.settings.state_lifetime);
        let pending = PendingAuthorization {
            state,
            credential: credential.clone(),
            pkce_verifier: SecretString::from(verifier.into_secret()),
            redirect_url,
            client_id: config.client_id.clone(),
            token_url: config.token_url.clone(),
            created_at: now,
            expires_at,
            requested_by,
        };
        shared.store.put_pending_authorization(&pending).await?;
        tracing::info!(credential = %credential, %expires_at, "OAuth authorization started");
        Ok(AuthorizationRedirect { url, credential, expires_at })
    }

    /// Redeems the callback's `state` once: rejects unknown, replayed and expired states, and returns the pending
    /// authorization (whose [`PendingAuthorization::credential`] names the action whose settings complete it).
    pub async fn redeem_state(&self, state: &str) -> Result<PendingAuthorization, AuthError> {
        let pending = match self.shared.store.take_pending_authorization(state).await? {
            StateRedemption::Pending(pending) => *pending,
            StateRedemption::AlreadyUsed => {
                tracing::warn!("OAuth callback replayed an already used state");
                return Err(AuthError::StateAlreadyUsed);
            }
            StateRedemption::Unknown => {
                tracing::warn!("OAuth callback with an unknown state");
                return Err(AuthError::UnknownState);
            }
        };
        if self.shared.clock.now() > pending.expires_at {
            tracing::warn!(credential = %pending.credential, "OAuth callback after its state expired");
            return Err(AuthError::StateExpired { expired_at: pending.expires_at });
        }
        Ok(pending)
    }

    /// Completes an authorization: exchanges the callback's code (with the PKCE verifier and the exact redirect URI of
    /// the authorization URL) and stores the token for the pending credential, which it returns.
    pub async fn complete_authorization(
        &self,
        pending: PendingAuthorization,
        config: &OAuth2Config,
        callback: &AuthorizationCallback,
    ) -> Result<CredentialKey, AuthError> {
        if let Some(error) = &callback.error {
            tracing::warn!(credential = %pending.credential, error = %error, "OAuth authorization denied");
            return Err(AuthError::AuthorizationDenied {
                error: error.clone(),
                description: callback.error_description.clone(),
            });
        }
        let code = callback.code.as_ref().ok_or(AuthError::MissingAuthorizationCode)?;
        require_authorization_code(config)?;
        require_credential_kind(config, &pending.credential)?;
        let mismatch = |message: &str| AuthError::StateMismatch {
            credential: pending.credential.clone(),
            message: message.to_owned(),
        };
        if config.client_id != pending.client_id {
            return Err(mismatch("the client id changed since the authorization started"));
        }
        if config.token_url != pending.token_url {
            return Err(mismatch("the token endpoint changed since the authorization started"));
        }
        let shared = &self.shared;
        let client = provider_client(config, Some(&pending.redirect_url))?;
        let http = TokenHttpClient::new(shared.http.clone());
        let answer = client
            .exchange_code(AuthorizationCode::new(code.expose_secret().to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.expose_secret().to_owned()))
            .request_async(&http)
            .await;
        let now = shared.clock.now();
        let mut token =
            accept(answer, &http, config, now, None).map_err(|failure| failure.into_error(&config.token_url))?;
        token.authorized = pending.requested_by.clone().map(|user| Authorizer { user, at: now });
        shared.store.save_credential(&pending.credential, &StoredCredential::Active(token.clone())).await?;
        tracing::info!(credential = %pending.credential, expires_at = ?token.expires_at, "OAuth authorization completed");
        Ok(pending.credential)
    }

    /// Forgets a stored token (revocation by an admin, a deleted runbook).
    pub async fn forget(&self, credential: &CredentialKey) -> Result<(), AuthError> {
        self.shared.store.delete_credential(credential).await
    }
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("store", &self.shared.store)
            .field("clock", &self.shared.clock)
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}

/// Auth type `oauth2`: `Authorization: Bearer <access token>`, the token fetched, refreshed and stored per credential.
pub struct OAuth2Auth {
    shared: Arc<Shared>,
    config: OAuth2Config,
}

impl fmt::Debug for OAuth2Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Auth").field("config", &self.config).finish_non_exhaustive()
    }
}

#[async_trait]
impl AuthProvider for OAuth2Auth {
    async fn apply(
        &self,
        subject: &FireSubject,
        request: &mut OutgoingRequest,
    ) -> Result<AppliedCredentials, AuthError> {
        let credential = CredentialKey::for_fire(&self.config, subject)?;
        let token = self.shared.usable_token(&self.config, &credential).await?;
        let mut applied = AppliedCredentials::none();
        set_authorization(request, &mut applied, "Bearer", token.access_token.expose_secret(), "access_token")?;
        applied.oauth_access_token = Some(token.access_token);
        Ok(applied)
    }

    async fn on_unauthorized(
        &self,
        subject: &FireSubject,
        rejected: &AppliedCredentials,
    ) -> Result<UnauthorizedOutcome, AuthError> {
        let Some(rejected_token) = &rejected.oauth_access_token else {
            return Ok(UnauthorizedOutcome::GiveUp);
        };
        let credential = CredentialKey::for_fire(&self.config, subject)?;
        tracing::info!(credential = %credential, "the server answered 401: refreshing the OAuth token");
        self.shared.refresh_single_flight(&self.config, &credential, Some(rejected_token)).await?;
        Ok(UnauthorizedOutcome::Retry)
    }
}

impl Shared {
    /// A token fit for a request now: the stored one, or a fresh one when it is missing (client credentials) or due.
    async fn usable_token(&self, config: &OAuth2Config, credential: &CredentialKey) -> Result<OAuthToken, AuthError> {
        match self.store.load_credential(credential).await? {
            Some(StoredCredential::Active(token)) if !token.is_due(self.clock.now(), self.settings.refresh_margin) => {
                Ok(token)
            }
            Some(StoredCredential::Active(token)) => {
                self.refresh_single_flight(config, credential, Some(&token.access_token)).await
            }
            Some(StoredCredential::NeedsReauthentication { .. }) | None => {
                self.refresh_single_flight(config, credential, None).await
            }
        }
    }

    /// Replaces the token `stale` (or obtains a first one when `None`), at most once at a time per credential: callers
    /// that waited for the lock find the token another caller stored and use it.
    async fn refresh_single_flight(
        &self,
        config: &OAuth2Config,
        credential: &CredentialKey,
        stale: Option<&SecretString>,
    ) -> Result<OAuthToken, AuthError> {
        let lock = self.refresh_lock(credential);
        let outcome = {
            let _guard = lock.lock().await;
            self.refresh_locked(config, credential, stale).await
        };
        self.release_refresh_lock(credential, lock);
        outcome
    }

    async fn refresh_locked(
        &self,
        config: &OAuth2Config,
        credential: &CredentialKey,
        stale: Option<&SecretString>,
    ) -> Result<OAuthToken, AuthError> {
        let current = self.store.load_credential(credential).await?;
        let client_credentials = config.grant == OAuth2Grant::ClientCredentials;
        match current {
            Some(StoredCredential::Active(token)) => {
                let replaced = stale.is_none_or(|stale| stale.expose_secret() != token.access_token.expose_secret());
                if replaced && !token.is_due(self.clock.now(), SignedDuration::ZERO) {
                    return Ok(token);
                }
                if client_credentials {
                    return self.fetch_client_credentials(config, credential).await;
                }
                match &token.refresh_token {
                    Some(refresh_token) => {
                        self.refresh(config, credential, refresh_token, token.authorized.clone()).await
                    }
                    None => {
                        self.mark_for_reauthentication(
                            credential,
                            "the access token expired or was refused, and the provider issued no refresh token"
                                .to_owned(),
                        )
                        .await
                    }
                }
            }
            _ if client_credentials => self.fetch_client_credentials(config, credential).await,
            Some(StoredCredential::NeedsReauthentication { reason, .. }) => {
                Err(AuthError::NeedsReauthentication { credential: credential.clone(), reason })
            }
            None => Err(AuthError::NeedsAuthorization { credential: credential.clone() }),
        }
    }

    async fn fetch_client_credentials(
        &self,
        config: &OAuth2Config,
        credential: &CredentialKey,
    ) -> Result<OAuthToken, AuthError> {
        let client = provider_client(config, None)?;
        let http = TokenHttpClient::new(self.http.clone());
        let answer = client
            .exchange_client_credentials()
            .add_scopes(config.scopes.iter().cloned().map(Scope::new))
            .request_async(&http)
            .await;
        let token = accept(answer, &http, config, self.clock.now(), None)
            .map_err(|failure| failure.into_error(&config.token_url))?;
        self.store.save_credential(credential, &StoredCredential::Active(token.clone())).await?;
        tracing::info!(credential = %credential, expires_at = ?token.expires_at, "OAuth client credentials token obtained");
        Ok(token)
    }

    async fn refresh(
        &self,
        config: &OAuth2Config,
        credential: &CredentialKey,
        refresh_token: &SecretString,
        authorized: Option<Authorizer>,
    ) -> Result<OAuthToken, AuthError> {
        let client = provider_client(config, None)?;
        let http = TokenHttpClient::new(self.http.clone());
        let refresh = oauth2::RefreshToken::new(refresh_token.expose_secret().to_owned());
        let answer = client.exchange_refresh_token(&refresh).request_async(&http).await;
        match accept(answer, &http, config, self.clock.now(), Some(refresh_token)) {
            Ok(mut token) => {
                // A refresh renews the token, not the authorization: who authorized it stays.
                token.authorized = authorized;
                self.store.save_credential(credential, &StoredCredential::Active(token.clone())).await?;
                tracing::info!(credential = %credential, expires_at = ?token.expires_at, "OAuth token refreshed");
                Ok(token)
            }
            Err(TokenFailure::Rejected { error, description }) => {
                let reason = format!(
                    "refreshing the token failed: the token endpoint {} refused it with `{error}`{}",
                    config.token_url,
                    description.map(|text| format!(" ({text})")).unwrap_or_default()
                );
                self.mark_for_reauthentication(credential, reason).await
            }
            Err(failure) => Err(failure.into_error(&config.token_url)),
        }
    }

    async fn mark_for_reauthentication(
        &self,
        credential: &CredentialKey,
        reason: String,
    ) -> Result<OAuthToken, AuthError> {
        let since = self.clock.now();
        let marked = StoredCredential::NeedsReauthentication { reason: reason.clone(), since };
        self.store.save_credential(credential, &marked).await?;
        tracing::warn!(credential = %credential, reason = %reason, "OAuth credential needs re-authentication");
        Err(AuthError::NeedsReauthentication { credential: credential.clone(), reason })
    }

    fn refresh_lock(&self, credential: &CredentialKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.refresh_locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(locks.entry(credential.clone()).or_default())
    }

    /// Drops the credential's lock from the map once no one else holds or waits for it.
    fn release_refresh_lock(&self, credential: &CredentialKey, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut locks = self.refresh_locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if Arc::strong_count(&lock) == 2 {
            locks.remove(credential);
        }
    }
}

type ProviderClient = oauth2::Client<
    ProviderErrorResponse,
    ProviderTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointMaybeSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

fn provider_client(config: &OAuth2Config, redirect_url: Option<&Url>) -> Result<ProviderClient, AuthError> {
    let client = oauth2::Client::new(ClientId::new(config.client_id.clone()))
        .set_client_secret(ClientSecret::new(config.client_secret.expose_secret().to_owned()))
        .set_auth_uri_option(config.authorization_url.clone().map(AuthUrl::from_url))
        .set_token_uri(TokenUrl::from_url(config.token_url.clone()));
    Ok(match redirect_url {
        Some(redirect_url) => client.set_redirect_uri(RedirectUrl::from_url(redirect_url.clone())),
        None => client,
    })
}

/// Why a token request gave no token, before it is tied to an endpoint.
enum TokenFailure {
    Rejected { error: String, description: Option<String> },
    Unavailable { reason: String },
    Malformed { message: String },
}

impl TokenFailure {
    fn into_error(self, endpoint: &Url) -> AuthError {
        let endpoint = endpoint.to_string();
        match self {
            Self::Rejected { error, description } => AuthError::TokenRejected { endpoint, error, description },
            Self::Unavailable { reason } => AuthError::TokenEndpointUnavailable { endpoint, reason },
            Self::Malformed { message } => AuthError::MalformedTokenResponse { endpoint, message },
        }
    }
}

/// Turns the `oauth2` crate's answer into a token, or a failure that quotes nothing from the answer body except the
/// provider's error code and description.
fn accept(
    answer: Result<ProviderTokenResponse, RequestTokenError<crate::token_http::TransportError, ProviderErrorResponse>>,
    http: &TokenHttpClient,
    config: &OAuth2Config,
    now: Timestamp,
    previous_refresh_token: Option<&SecretString>,
) -> Result<OAuthToken, TokenFailure> {
    let status = http.status();
    let by_status = |detail: Option<String>| match status {
        Some(status) if status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS => {
            TokenFailure::Unavailable {
                reason: format!("HTTP {status}{}", detail.map(|text| format!(": {text}")).unwrap_or_default()),
            }
        }
        Some(status) => TokenFailure::Rejected { error: format!("HTTP {status}"), description: detail },
        None => TokenFailure::Unavailable { reason: detail.unwrap_or_else(|| "no answer".to_owned()) },
    };
    let answered_ok = status == Some(http::StatusCode::OK);
    let response = match answer {
        Ok(response) => response,
        Err(RequestTokenError::ServerResponse(error)) => {
            return Err(match (status, error.error) {
                (Some(status), Some(code)) if !status.is_server_error() => {
                    TokenFailure::Rejected { error: code, description: error.error_description }
                }
                (_, code) => by_status(code),
            });
        }
        Err(RequestTokenError::Request(error)) => return Err(TokenFailure::Unavailable { reason: error.to_string() }),
        Err(RequestTokenError::Parse(error, _body)) if answered_ok => {
            let inner = error.inner();
            return Err(TokenFailure::Malformed {
                message: format!(
                    "{:?} error at line {} column {} (path `{}`)",
                    inner.classify(),
                    inner.line(),
                    inner.column(),
                    error.path()
                ),
            });
        }
        Err(RequestTokenError::Parse(..)) => return Err(by_status(Some("the answer is not JSON".to_owned()))),
        Err(RequestTokenError::Other(message)) if answered_ok => return Err(TokenFailure::Malformed { message }),
        Err(RequestTokenError::Other(message)) => return Err(by_status(Some(message))),
    };
    match response.problem() {
        Some(TokenProblem::Refused { error, description }) => {
            return Err(TokenFailure::Rejected { error, description });
        }
        Some(TokenProblem::NoAccessToken) => {
            return Err(TokenFailure::Malformed { message: "the answer has no access_token".to_owned() });
        }
        None => {}
    }
    let expires_at = response.expires_in().and_then(|lifetime| {
        SignedDuration::try_from(lifetime).ok().and_then(|lifetime| now.checked_add(lifetime).ok())
    });
    Ok(OAuthToken {
        access_token: SecretString::from(response.access_token().secret().clone()),
        token_type: response.token_type().as_ref().to_owned(),
        refresh_token: response
            .refresh_token()
            .map(|token| SecretString::from(token.secret().clone()))
            .or_else(|| previous_refresh_token.cloned()),
        expires_at,
        scopes: response
            .scopes()
            .map(|scopes| scopes.iter().map(|scope| scope.to_string()).collect())
            .unwrap_or_else(|| config.scopes.clone()),
        obtained_at: now,
        authorized: None,
    })
}

fn require_authorization_code(config: &OAuth2Config) -> Result<(), AuthError> {
    if config.grant != OAuth2Grant::AuthorizationCode {
        return Err(AuthError::WrongGrant { expected: "authorization_code", actual: grant_name(config.grant) });
    }
    Ok(())
}

fn require_credential_kind(config: &OAuth2Config, credential: &CredentialKey) -> Result<(), AuthError> {
    let fits = matches!(
        (config.authenticate_as, credential),
        (AuthenticateAs::FunctionalUser, CredentialKey::FunctionalUser { .. })
            | (AuthenticateAs::TaskUser, CredentialKey::TaskUser { .. })
    );
    if !fits {
        return Err(AuthError::WrongCredentialKind {
            credential: credential.clone(),
            authenticate_as: authenticate_as_name(config.authenticate_as),
        });
    }
    Ok(())
}

/// 256 random bits, base64url: unguessable and safe in a URL.
fn random_state() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(URL_SAFE_NO_PAD.encode(bytes))
}

fn add(now: Timestamp, duration: SignedDuration) -> Timestamp {
    now.checked_add(duration).unwrap_or(Timestamp::MAX)
}
