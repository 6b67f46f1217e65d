//! Where OAuth tokens and one-time authorization states live: the [`CredentialStore`] trait, the records it keeps
//! (sealed with the [`Cipher`] before they touch storage), and [`InMemoryCredentialStore`].

use crate::config::Redacted;
use crate::{AuthError, Cipher, FireSubject, OAuth2Config};
use async_trait::async_trait;
use cutover_integrations_model::{AuthenticateAs, OAuth2Grant};
use jiff::{SignedDuration, Timestamp};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use url::Url;

/// What is escaped in the ids of a storage key: everything but unreserved URL characters, so `/` never appears.
const ID_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Whose OAuth token a credential is: it is the primary key of a stored token and the owner its ciphertext is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CredentialKey {
    /// The one token of an action: a functional user's (authorization code) or the client's (client credentials).
    FunctionalUser {
        /// The action's id.
        action: String,
    },
    /// A task user's token, for one action, runbook, task and user. Never copied when a runbook is duplicated.
    TaskUser {
        /// The action's id.
        action: String,
        /// The runbook's id.
        runbook: String,
        /// The task's id.
        task: String,
        /// The user's id.
        user: String,
    },
}

impl CredentialKey {
    /// The credential a fire uses under these OAuth settings.
    pub fn for_fire(config: &OAuth2Config, subject: &FireSubject) -> Result<Self, AuthError> {
        if config.grant == OAuth2Grant::ClientCredentials || config.authenticate_as == AuthenticateAs::FunctionalUser {
            return Ok(Self::FunctionalUser { action: subject.action.clone() });
        }
        let user = subject.user.clone().ok_or_else(|| AuthError::MissingTaskUser {
            action: subject.action.clone(),
            runbook: subject.runbook.clone(),
            task: subject.task.clone(),
        })?;
        Ok(Self::TaskUser {
            action: subject.action.clone(),
            runbook: subject.runbook.clone(),
            task: subject.task.clone(),
            user,
        })
    }

    /// The action the credential belongs to.
    pub fn action(&self) -> &str {
        match self {
            Self::FunctionalUser { action } | Self::TaskUser { action, .. } => action,
        }
    }

    /// A stable, unambiguous string form: `functional_user/ACTION` or `task_user/ACTION/RUNBOOK/TASK/USER`, each id
    /// percent-encoded. Stores may use it as a primary key; it is also the owner bound into the ciphertext.
    pub fn storage_key(&self) -> String {
        let encode = |id: &str| utf8_percent_encode(id, ID_ESCAPES).to_string();
        match self {
            Self::FunctionalUser { action } => format!("functional_user/{}", encode(action)),
            Self::TaskUser { action, runbook, task, user } => {
                format!("task_user/{}/{}/{}/{}", encode(action), encode(runbook), encode(task), encode(user))
            }
        }
    }

    /// Reads a [`CredentialKey::storage_key`] back; `None` if it is not one.
    pub fn from_storage_key(key: &str) -> Option<Self> {
        let mut parts = key.split('/');
        let kind = parts.next()?;
        let ids = parts
            .map(|part| percent_decode_str(part).decode_utf8().ok().map(|id| id.into_owned()))
            .collect::<Option<Vec<_>>>()?;
        match (kind, <[String; 1]>::try_from(ids.clone()), <[String; 4]>::try_from(ids)) {
            ("functional_user", Ok([action]), _) => Some(Self::FunctionalUser { action }),
            ("task_user", _, Ok([action, runbook, task, user])) => Some(Self::TaskUser { action, runbook, task, user }),
            _ => None,
        }
    }

    fn associated_data(&self) -> Vec<u8> {
        format!("cutover-credential\0{}", self.storage_key()).into_bytes()
    }
}

impl fmt::Display for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.storage_key())
    }
}

/// An OAuth token as obtained from the provider. `Debug` prints `[REDACTED]` for both tokens.
#[derive(Clone)]
pub struct OAuthToken {
    /// The access token.
    pub access_token: SecretString,
    /// The token type the provider named (`bearer`, or Slack's `bot`/`user`); requests always use `Bearer`.
    pub token_type: String,
    /// The refresh token, if the provider issued one.
    pub refresh_token: Option<SecretString>,
    /// When the access token expires; `None` when the provider gave no `expires_in` (it never expires on its own).
    pub expires_at: Option<Timestamp>,
    /// The granted scopes, if the provider said.
    pub scopes: Vec<String>,
    /// When the token was obtained.
    pub obtained_at: Timestamp,
    /// Who authorized it in a browser, and when (kept through refreshes); `None` for client credentials.
    pub authorized: Option<Authorizer>,
}

/// The signed-in user who ran an authorization-code flow, and when it completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorizer {
    /// The user (the email address the engine knows them by).
    pub user: String,
    /// When the authorization completed.
    pub at: Timestamp,
}

impl OAuthToken {
    /// Whether the token should be replaced before use: it expires within `margin` of `now`. The margin is capped at
    /// half the token's lifetime, so a provider issuing short-lived tokens does not cause a refresh on every use.
    pub fn is_due(&self, now: Timestamp, margin: SignedDuration) -> bool {
        let Some(expires_at) = self.expires_at else {
            return false;
        };
        let half_lifetime = expires_at.duration_since(self.obtained_at) / 2;
        let margin = margin.min(half_lifetime).max(SignedDuration::ZERO);
        expires_at.duration_since(now) <= margin
    }
}

impl fmt::Debug for OAuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthToken")
            .field("access_token", &Redacted)
            .field("token_type", &self.token_type)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| Redacted))
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .field("obtained_at", &self.obtained_at)
            .field("authorized", &self.authorized)
            .finish()
    }
}

/// What a store keeps for a credential.
#[derive(Debug, Clone)]
pub enum StoredCredential {
    /// A token in use.
    Active(OAuthToken),
    /// The token could not be refreshed: a user must authorize again. The old token is dropped.
    NeedsReauthentication {
        /// Why, in words an operator can act on.
        reason: String,
        /// When it was marked.
        since: Timestamp,
    },
}

impl StoredCredential {
    /// Encrypts the record, bound to `key`: the form a store writes.
    pub fn seal(&self, cipher: &Cipher, key: &CredentialKey) -> Result<Vec<u8>, AuthError> {
        cipher.encrypt(self.encode()?.expose_secret(), &key.associated_data())
    }

    /// Decrypts a record sealed by [`StoredCredential::seal`] for the same `key`.
    pub fn open(cipher: &Cipher, key: &CredentialKey, sealed: &[u8]) -> Result<Self, AuthError> {
        Self::decode(cipher.decrypt(sealed, &key.associated_data())?.expose_secret())
    }

    /// The record as JSON bytes, in clear, for a backend that seals values itself (with this crate's [`Cipher`]).
    pub fn encode(&self) -> Result<SecretSlice<u8>, AuthError> {
        let record = match self {
            Self::Active(token) => CredentialRecord::Active {
                access_token: token.access_token.expose_secret(),
                token_type: &token.token_type,
                refresh_token: token.refresh_token.as_ref().map(|secret| secret.expose_secret()),
                expires_at: token.expires_at,
                scopes: &token.scopes,
                obtained_at: token.obtained_at,
                authorized: token.authorized.as_ref(),
            },
            Self::NeedsReauthentication { reason, since } => {
                CredentialRecord::NeedsReauthentication { reason, since: *since }
            }
        };
        encode_json(&record, "credential")
    }

    /// Reads a record written by [`StoredCredential::encode`].
    pub fn decode(encoded: &[u8]) -> Result<Self, AuthError> {
        let record: OwnedCredentialRecord = parse_json(encoded, "credential")?;
        Ok(match record {
            OwnedCredentialRecord::Active {
                access_token,
                token_type,
                refresh_token,
                expires_at,
                scopes,
                obtained_at,
                authorized,
            } => Self::Active(OAuthToken {
                access_token: SecretString::from(access_token),
                token_type,
                refresh_token: refresh_token.map(SecretString::from),
                expires_at,
                scopes,
                obtained_at,
                authorized,
            }),
            OwnedCredentialRecord::NeedsReauthentication { reason, since } => {
                Self::NeedsReauthentication { reason, since }
            }
        })
    }
}

/// A started authorization-code flow, waiting for its callback: bound to one credential, holding the PKCE verifier.
///
/// Only this crate creates one ([`crate::Authenticator::begin_authorization`]); stores keep it sealed and hand it back
/// once. `Debug` redacts the state and the verifier.
#[derive(Clone)]
pub struct PendingAuthorization {
    pub(crate) state: SecretString,
    pub(crate) credential: CredentialKey,
    pub(crate) pkce_verifier: SecretString,
    pub(crate) redirect_url: Url,
    pub(crate) client_id: String,
    pub(crate) token_url: Url,
    pub(crate) created_at: Timestamp,
    pub(crate) expires_at: Timestamp,
    /// The signed-in user who started the flow, recorded with the token it brings.
    pub(crate) requested_by: Option<String>,
}

impl PendingAuthorization {
    /// The one-time `state` value, the lookup key of the record. A store may index a hash of it instead.
    pub fn state(&self) -> &str {
        self.state.expose_secret()
    }

    /// The credential the authorization will fill.
    pub fn credential(&self) -> &CredentialKey {
        &self.credential
    }

    /// When the state stops being accepted.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// When the flow started.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// Encrypts the record, bound to its state: the form a store writes.
    pub fn seal(&self, cipher: &Cipher) -> Result<Vec<u8>, AuthError> {
        cipher.encrypt(self.encode()?.expose_secret(), &state_associated_data(self.state()))
    }

    /// Decrypts a record sealed by [`PendingAuthorization::seal`] under the same `state`.
    pub fn open(cipher: &Cipher, state: &str, sealed: &[u8]) -> Result<Self, AuthError> {
        Self::decode(state, cipher.decrypt(sealed, &state_associated_data(state))?.expose_secret())
    }

    /// The record (without its state) as JSON bytes, in clear, for a backend that seals values itself.
    pub fn encode(&self) -> Result<SecretSlice<u8>, AuthError> {
        let record = PendingRecord {
            credential: self.credential.storage_key(),
            pkce_verifier: Cow::Borrowed(self.pkce_verifier.expose_secret()),
            redirect_url: self.redirect_url.to_string(),
            client_id: self.client_id.clone(),
            token_url: self.token_url.to_string(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            requested_by: self.requested_by.clone(),
        };
        encode_json(&record, "authorization state")
    }

    /// Reads a record written by [`PendingAuthorization::encode`], stored under `state`.
    pub fn decode(state: &str, encoded: &[u8]) -> Result<Self, AuthError> {
        let record: PendingRecord<'static> = parse_json(encoded, "authorization state")?;
        let corrupt = |message: &str| AuthError::CorruptRecord { what: "authorization state", message: message.into() };
        Ok(Self {
            state: SecretString::from(state),
            credential: CredentialKey::from_storage_key(&record.credential)
                .ok_or_else(|| corrupt("the credential key is unreadable"))?,
            pkce_verifier: SecretString::from(record.pkce_verifier.into_owned()),
            redirect_url: Url::parse(&record.redirect_url).map_err(|_| corrupt("the redirect URL is unreadable"))?,
            client_id: record.client_id,
            token_url: Url::parse(&record.token_url).map_err(|_| corrupt("the token URL is unreadable"))?,
            created_at: record.created_at,
            expires_at: record.expires_at,
            requested_by: record.requested_by,
        })
    }
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("state", &Redacted)
            .field("credential", &self.credential)
            .field("pkce_verifier", &Redacted)
            .field("redirect_url", &self.redirect_url.as_str())
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url.as_str())
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("requested_by", &self.requested_by)
            .finish()
    }
}

/// The answer of [`CredentialStore::take_pending_authorization`].
#[derive(Debug)]
pub enum StateRedemption {
    /// The state was pending; it is now used and will never be returned again.
    Pending(Box<PendingAuthorization>),
    /// The state was issued and already redeemed.
    AlreadyUsed,
    /// The state was never issued (or was purged after it expired).
    Unknown,
}

/// Durable storage for OAuth tokens and one-time authorization states.
///
/// Implementations must keep secrets sealed at rest: write [`StoredCredential::seal`] and
/// [`PendingAuthorization::seal`] output, never the records in clear. `take_pending_authorization` must be atomic: of
/// two concurrent calls with one state, one gets `Pending` and the other `AlreadyUsed`.
#[async_trait]
pub trait CredentialStore: Send + Sync + fmt::Debug {
    /// The stored credential, if any.
    async fn load_credential(&self, key: &CredentialKey) -> Result<Option<StoredCredential>, AuthError>;

    /// Creates or replaces a credential.
    async fn save_credential(&self, key: &CredentialKey, credential: &StoredCredential) -> Result<(), AuthError>;

    /// Removes a credential (revocation, deleted runbook); removing a missing one is not an error.
    async fn delete_credential(&self, key: &CredentialKey) -> Result<(), AuthError>;

    /// Records a started authorization under its state.
    async fn put_pending_authorization(&self, pending: &PendingAuthorization) -> Result<(), AuthError>;

    /// Returns the authorization started under `state` and marks it used, in one atomic step.
    async fn take_pending_authorization(&self, state: &str) -> Result<StateRedemption, AuthError>;

    /// Forgets states (pending or used) that expired before `now`; returns how many.
    async fn purge_expired_authorizations(&self, now: Timestamp) -> Result<usize, AuthError>;
}

/// A [`CredentialStore`] in process memory, keeping every record sealed with the given cipher.
///
/// Suits embedders without a database and tests; its contents die with the process.
#[derive(Debug)]
pub struct InMemoryCredentialStore {
    cipher: Arc<Cipher>,
    inner: Mutex<MemoryContents>,
}

#[derive(Default)]
struct MemoryContents {
    credentials: HashMap<String, Vec<u8>>,
    states: HashMap<String, StateSlot>,
}

impl fmt::Debug for MemoryContents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryContents")
            .field("credentials", &self.credentials.len())
            .field("states", &self.states.len())
            .finish()
    }
}

struct StateSlot {
    /// The sealed record; `None` once redeemed (kept until expiry to tell a replay from an unknown state).
    sealed: Option<Vec<u8>>,
    expires_at: Timestamp,
}

impl InMemoryCredentialStore {
    /// An empty store sealing with `cipher`.
    pub fn new(cipher: Arc<Cipher>) -> Self {
        Self { cipher, inner: Mutex::new(MemoryContents::default()) }
    }

    /// The sealed bytes kept for a credential, to inspect what is at rest.
    pub fn sealed_credential(&self, key: &CredentialKey) -> Option<Vec<u8>> {
        self.lock().credentials.get(&key.storage_key()).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryContents> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl CredentialStore for InMemoryCredentialStore {
    async fn load_credential(&self, key: &CredentialKey) -> Result<Option<StoredCredential>, AuthError> {
        let sealed = self.lock().credentials.get(&key.storage_key()).cloned();
        sealed.map(|sealed| StoredCredential::open(&self.cipher, key, &sealed)).transpose()
    }

    async fn save_credential(&self, key: &CredentialKey, credential: &StoredCredential) -> Result<(), AuthError> {
        let sealed = credential.seal(&self.cipher, key)?;
        self.lock().credentials.insert(key.storage_key(), sealed);
        Ok(())
    }

    async fn delete_credential(&self, key: &CredentialKey) -> Result<(), AuthError> {
        self.lock().credentials.remove(&key.storage_key());
        Ok(())
    }

    async fn put_pending_authorization(&self, pending: &PendingAuthorization) -> Result<(), AuthError> {
        let sealed = pending.seal(&self.cipher)?;
        let slot = StateSlot { sealed: Some(sealed), expires_at: pending.expires_at };
        self.lock().states.insert(pending.state().to_owned(), slot);
        Ok(())
    }

    async fn take_pending_authorization(&self, state: &str) -> Result<StateRedemption, AuthError> {
        let sealed = {
            let mut contents = self.lock();
            match contents.states.get_mut(state) {
                None => return Ok(StateRedemption::Unknown),
                Some(slot) => match slot.sealed.take() {
                    None => return Ok(StateRedemption::AlreadyUsed),
                    Some(sealed) => sealed,
                },
            }
        };
        PendingAuthorization::open(&self.cipher, state, &sealed)
            .map(|pending| StateRedemption::Pending(Box::new(pending)))
    }

    async fn purge_expired_authorizations(&self, now: Timestamp) -> Result<usize, AuthError> {
        let mut contents = self.lock();
        let before = contents.states.len();
        contents.states.retain(|_, slot| slot.expires_at >= now);
        Ok(before - contents.states.len())
    }
}

#[derive(Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum CredentialRecord<'a> {
    Active {
        access_token: &'a str,
        token_type: &'a str,
        refresh_token: Option<&'a str>,
        expires_at: Option<Timestamp>,
        scopes: &'a [String],
        obtained_at: Timestamp,
        #[serde(skip_serializing_if = "Option::is_none")]
        authorized: Option<&'a Authorizer>,
    },
    NeedsReauthentication {
        reason: &'a str,
        since: Timestamp,
    },
}

#[derive(Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum OwnedCredentialRecord {
    Active {
        access_token: String,
        token_type: String,
        refresh_token: Option<String>,
        expires_at: Option<Timestamp>,
        scopes: Vec<String>,
        obtained_at: Timestamp,
        #[serde(default)]
        authorized: Option<Authorizer>,
    },
    NeedsReauthentication {
        reason: String,
        since: Timestamp,
    },
}

#[derive(Serialize, Deserialize)]
struct PendingRecord<'a> {
    credential: String,
    pkce_verifier: Cow<'a, str>,
    redirect_url: String,
    client_id: String,
    token_url: String,
    created_at: Timestamp,
    expires_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    requested_by: Option<String>,
}

fn state_associated_data(state: &str) -> Vec<u8> {
    format!("cutover-oauth-state\0{state}").into_bytes()
}

fn encode_json(record: &impl Serialize, what: &'static str) -> Result<SecretSlice<u8>, AuthError> {
    serde_json::to_vec(record)
        .map(SecretSlice::from)
        .map_err(|error| AuthError::CorruptRecord { what, message: error.to_string() })
}

/// Parses a decrypted record; the error names the position and category only, since serde messages may quote values.
fn parse_json<T: for<'de> Deserialize<'de>>(plaintext: &[u8], what: &'static str) -> Result<T, AuthError> {
    serde_json::from_slice(plaintext).map_err(|error| AuthError::CorruptRecord {
        what,
        message: format!("{:?} error at line {} column {}", error.classify(), error.line(), error.column()),
    })
}
