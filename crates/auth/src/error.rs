//! The one error type of this crate, [`AuthError`]: every variant says what failed and for which credential or field.
//!
//! No variant carries a secret: token endpoint answers are reduced to the provider's error code and description,
//! parse failures to a JSON path and position, and cipher failures to a key id.

use crate::CredentialKey;
use jiff::Timestamp;

/// A boxed error from a caller-supplied part (secret resolver, store backend).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while authenticating a request, running an OAuth flow or sealing a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The caller's resolver could not turn a secret-bearing setting (for example a `{{SystemParameter[...]}}`
    /// reference) into a value.
    #[error("cannot resolve the secret in auth field `{field}`: {source}")]
    SecretResolution {
        /// The auth setting, such as `client_secret` or `password`.
        field: &'static str,
        /// The resolver's error.
        source: BoxError,
    },

    /// An auth setting is unusable: a malformed URL, a missing endpoint, an invalid header name.
    #[error("invalid auth setting `{field}`: {message}")]
    InvalidConfig {
        /// The auth setting, such as `token_endpoint`.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },

    /// A credential value cannot be sent in a header (it holds a control character such as CR or LF).
    #[error("the value of auth field `{field}` cannot be sent in an HTTP header (it holds a control character)")]
    InvalidCredentialValue {
        /// The auth setting whose value is unusable.
        field: &'static str,
    },

    /// The operation needs a different grant than the action's (for example an authorization URL for a
    /// `client_credentials` action).
    #[error("this needs the OAuth2 `{expected}` grant but the action uses `{actual}`")]
    WrongGrant {
        /// The grant the operation needs.
        expected: &'static str,
        /// The grant the action is configured with.
        actual: &'static str,
    },

    /// A credential key of the wrong kind was given for the action's `authenticate_as`.
    #[error("credential {credential} does not fit `authenticate_as: {authenticate_as}`")]
    WrongCredentialKind {
        /// The key that was given.
        credential: CredentialKey,
        /// The action's setting.
        authenticate_as: &'static str,
    },

    /// A task-user credential was needed but the fire has no user.
    #[error("action {action} authenticates as the task user, but task {task} of runbook {runbook} has no user")]
    MissingTaskUser {
        /// The action id.
        action: String,
        /// The runbook id.
        runbook: String,
        /// The task id.
        task: String,
    },

    /// No token is stored for this credential yet: a user must authorize the action first.
    #[error("credential {credential} is not authorized yet: a user must authorize it through the OAuth flow")]
    NeedsAuthorization {
        /// The credential without a token.
        credential: CredentialKey,
    },

    /// The stored token can no longer be used or refreshed: a user must authorize again.
    #[error("credential {credential} needs re-authentication: {reason}")]
    NeedsReauthentication {
        /// The credential.
        credential: CredentialKey,
        /// Why, in words an operator can act on.
        reason: String,
    },

    /// The callback's `state` was never issued by this server (or was purged long ago).
    #[error("unknown OAuth state: this authorization was not started here")]
    UnknownState,

    /// The callback's `state` was already redeemed once: a replayed callback.
    #[error("OAuth state already used: an authorization callback cannot be replayed")]
    StateAlreadyUsed,

    /// The callback came after the `state` expired.
    #[error("OAuth state expired at {expired_at}: start the authorization again")]
    StateExpired {
        /// When the state stopped being valid.
        expired_at: Timestamp,
    },

    /// The `state` was issued for other OAuth settings than the ones completing it.
    #[error("OAuth state of credential {credential} does not match the action's settings: {message}")]
    StateMismatch {
        /// The credential the state was bound to.
        credential: CredentialKey,
        /// What differs.
        message: String,
    },

    /// The provider redirected back with an error instead of a code (for example the user denied access).
    #[error("the provider refused the authorization: {error}{}", describe(description))]
    AuthorizationDenied {
        /// The provider's error code, such as `access_denied`.
        error: String,
        /// The provider's description, if any.
        description: Option<String>,
    },

    /// The authorization callback carried neither a code nor an error.
    #[error("the authorization callback has no `code`")]
    MissingAuthorizationCode,

    /// The token endpoint refused the request (an OAuth error response, a 4xx, or Slack's `"ok": false`).
    #[error("the token endpoint {endpoint} refused the request: {error}{}", describe(description))]
    TokenRejected {
        /// The token endpoint.
        endpoint: String,
        /// The provider's error code (`invalid_grant`, `invalid_code`, …) or the HTTP status.
        error: String,
        /// The provider's description, if any.
        description: Option<String>,
    },

    /// The token endpoint could not be reached or failed on its side (transport error, 5xx, 429); retrying later may
    /// work, so the credential is not marked for re-authentication.
    #[error("the token endpoint {endpoint} is unavailable: {reason}")]
    TokenEndpointUnavailable {
        /// The token endpoint.
        endpoint: String,
        /// What happened.
        reason: String,
    },

    /// The token endpoint answered something that is not a token response.
    #[error("the token endpoint {endpoint} sent an unreadable answer: {message}")]
    MalformedTokenResponse {
        /// The token endpoint.
        endpoint: String,
        /// Where and why it could not be read (never the answer itself).
        message: String,
    },

    /// A secret key from configuration is unusable.
    #[error("invalid secret key configuration: {message}")]
    InvalidKey {
        /// What is wrong (never the key).
        message: String,
    },

    /// Sealed data names a key id the key ring does not hold.
    #[error("no key with id {key_id} in the key ring: was a retired key removed too early?")]
    UnknownKeyId {
        /// The key id found in the sealed data.
        key_id: u32,
    },

    /// Sealed data is too short or otherwise not in the `key_id ‖ nonce ‖ ciphertext` form.
    #[error("sealed data is malformed: {message}")]
    MalformedCiphertext {
        /// What is wrong with it.
        message: String,
    },

    /// Decryption failed: the data was tampered with, or sealed for another owner, or with another key of that id.
    #[error("cannot decrypt sealed data with key {key_id}: tampered, sealed for another owner, or a different key")]
    DecryptionFailed {
        /// The key id found in the sealed data.
        key_id: u32,
    },

    /// Encryption failed (the plaintext is beyond the cipher's limits).
    #[error("cannot encrypt: {message}")]
    EncryptionFailed {
        /// What the cipher reported.
        message: String,
    },

    /// Decrypted data is not a record this crate wrote.
    #[error("the sealed {what} cannot be read: {message}")]
    CorruptRecord {
        /// What kind of record (`credential`, `authorization state`).
        what: &'static str,
        /// Where it could not be read.
        message: String,
    },

    /// The credential store backend failed.
    #[error("credential store failure: {source}")]
    Store {
        /// The backend's error.
        source: BoxError,
    },
}

impl AuthError {
    /// Wraps a store backend error.
    pub fn store(source: impl Into<BoxError>) -> Self {
        Self::Store { source: source.into() }
    }

    /// Whether a user must (re-)authorize before this credential works again.
    pub fn needs_user_authorization(&self) -> bool {
        matches!(self, Self::NeedsAuthorization { .. } | Self::NeedsReauthentication { .. })
    }
}

fn describe(description: &Option<String>) -> String {
    description.as_deref().map(|text| format!(" ({text})")).unwrap_or_default()
}
