//! Auth providers and credential encryption for integration actions.
//!
//! This crate owns how credentials reach an outgoing request and how they rest in storage. Secrets leave it in clear
//! only on the wire (a header, a query parameter, a token request) and into the cipher.
//!
//! # Flow
//!
//! 1. The engine resolves an action's [`model::AuthSettings`](cutover_integrations_model::AuthSettings) into an
//!    [`AuthConfig`] with [`AuthConfig::resolve`], passing a resolver for `{{SystemParameter['...']}}` references; every
//!    secret is then a [`secrecy::SecretString`] and every URL and header name is checked.
//! 2. [`Authenticator::provider`] turns the config into an [`AuthProvider`]. Before each attempt the HTTP executor
//!    calls [`AuthProvider::apply`] on an [`OutgoingRequest`] (method, URL, headers) and gets back
//!    [`AppliedCredentials`]: the header and query parameter names it set and the secret values, in every encoding they
//!    appear in, for redaction. On a 401 it calls [`AuthProvider::on_unauthorized`]; on
//!    [`UnauthorizedOutcome::Retry`] it applies again and retries once.
//! 3. `none`, `token` (`Authorization: <token_type> <token>`), `basic` and `api_key` (header or query) are static.
//!    `standard_webhooks` ([`StandardWebhooksAuth`]) signs each attempt: `webhook-id` is the request's
//!    `Idempotency-Key` (one per fire, the same on every retry), `webhook-timestamp` the attempt's time, and
//!    `webhook-signature` is `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the key of the
//!    `whsec_` secret. `oauth2` fetches tokens from the [`CredentialStore`].
//!
//! # OAuth 2
//!
//! Built on the `oauth2` crate with its HTTP client plugged onto the caller's `reqwest::Client` (so token requests
//! obey the executor's timeouts and outbound-address guard). Token endpoint answers are read leniently: Slack's
//! `{"ok": true, "access_token": …}` without `token_type`, `{"ok": false, "error": …}` in a 200, tokens under
//! `authed_user`, string `expires_in`; no `expires_in` means the token does not expire on its own.
//!
//! - **Authorization code**: [`Authenticator::begin_authorization`] stores a one-time 256-bit `state` bound to the
//!   credential (the action, and for task users the runbook, task and user) with a PKCE S256 verifier, and returns the
//!   provider URL. At the callback [`Authenticator::redeem_state`] takes the state once (unknown, replayed and expired
//!   states are rejected with distinct errors) and [`Authenticator::complete_authorization`] exchanges the code with
//!   the verifier and the exact redirect URI of the authorization URL, after checking the action's client id and token
//!   endpoint did not change meanwhile.
//! - **Client credentials**: a token is fetched on first use and whenever it is due; there is one per action.
//! - **Storage**: one token per action ([`CredentialKey::FunctionalUser`], also used by client credentials) or per
//!   action + runbook + task + user ([`CredentialKey::TaskUser`]).
//! - **Refresh**: a token is refreshed before use when it expires within
//!   [`AuthenticatorSettings::refresh_margin`] (capped at half its lifetime), and after a 401. Refresh is single-flight
//!   per credential: a per-credential async mutex, and a re-read of the store after acquiring it, so callers that
//!   waited use the token the first one stored (20 concurrent fires on one expired token make one refresh). This holds
//!   within a process; several server processes sharing a database could each refresh once.
//! - **Failure**: when the provider refuses a refresh (an OAuth error, a 4xx, `ok: false`), or a token is unusable and
//!   there is no refresh token, the credential is stored as [`StoredCredential::NeedsReauthentication`] with the reason
//!   and [`AuthError::NeedsReauthentication`] is returned. Transport errors, 5xx and 429 are
//!   [`AuthError::TokenEndpointUnavailable`] and mark nothing, since a later attempt may succeed.
//!
//! # Secrets at rest
//!
//! [`Cipher`] is XChaCha20-Poly1305 over a [`KeyRing`] (key from configuration, [`KeyRing::parse`]; [`Key::generate`]
//! for a first start). Sealed form: `key_id (4 bytes BE) ‖ nonce (24 bytes) ‖ ciphertext+tag`; the associated data is
//! `key_id ‖ owner`, so a value moved to another owner, tampered with or opened with the wrong key fails. New values
//! use the current key; older ones open with any key still in the ring ([`Cipher::reencrypt`] rotates a value). Stores
//! keep [`StoredCredential::seal`] and [`PendingAuthorization::seal`] output only; [`InMemoryCredentialStore`] does
//! too.
//!
//! Every type holding a secret prints `[REDACTED]` in its place in `Debug`; errors never quote token endpoint bodies
//! beyond the provider's error code and description; logs (via `tracing`) name credentials by their key, never values.

mod cipher;
mod clock;
mod config;
mod error;
mod oauth;
mod provider;
mod request;
mod standard_webhooks;
mod store;
mod token_http;
mod token_response;

pub use cipher::{Cipher, KEY_ID_LEN, KEY_LEN, Key, KeyId, KeyRing, NONCE_LEN, TAG_LEN};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{AuthConfig, OAuth2Config};
pub use error::{AuthError, BoxError};
pub use oauth::{Authenticator, AuthenticatorSettings, AuthorizationCallback, AuthorizationRedirect, OAuth2Auth};
pub use provider::{ApiKeyAuth, AuthProvider, BasicAuth, NoAuth, TokenAuth};
pub use request::{AppliedCredentials, FireSubject, OutgoingRequest, UnauthorizedOutcome};
pub use standard_webhooks::{StandardWebhooksAuth, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
pub use store::{
    Authorizer, CredentialKey, CredentialStore, InMemoryCredentialStore, OAuthToken, PendingAuthorization,
    StateRedemption, StoredCredential,
};
