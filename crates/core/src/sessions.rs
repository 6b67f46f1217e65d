//! Browser sessions (the web console's): random ids exchanged for a signed-in user, kept in the store as SHA-256
//! hashes, with an idle and an absolute deadline that the store's lookup enforces. A session survives a restart, and
//! every engine on the database knows it.

use crate::api_token::{hash_token, mint_token};
use crate::engine::Engine;
use crate::error::EngineError;
use cutover_integrations_store::{NewSession, User};
use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret as _, SecretString};
use std::time::Duration;

/// How long sessions live, and how many one user keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused for this long ends (sliding expiry).
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, used or not (fixed expiry).
    pub lifetime: Duration,
    /// A user keeps at most this many sessions; signing in once more ends the oldest.
    pub max_per_user: usize,
}

impl Default for SessionPolicy {
    /// Two hours idle, twelve hours in all, twenty per user.
    fn default() -> Self {
        Self { idle_timeout: Duration::from_secs(2 * 3600), lifetime: Duration::from_secs(12 * 3600), max_per_user: 20 }
    }
}

/// A session just started: its id goes into the cookie and nowhere else.
pub struct StartedSession {
    /// The session id (the store keeps only its hash).
    pub id: SecretString,
    /// The session's CSRF token.
    pub csrf: String,
    /// When it ends whatever happens.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for StartedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartedSession").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

/// A live session, as a request finds it.
#[derive(Clone)]
pub struct LiveSession {
    /// Who signed in, with the roles the user has now.
    pub user: User,
    /// The CSRF token every state-changing request of the session carries.
    pub csrf: String,
    /// The hash of the session id, to end it.
    pub id_hash: String,
}

impl std::fmt::Debug for LiveSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSession").field("user", &self.user).finish_non_exhaustive()
    }
}

/// How often a session's idle deadline is written back at most: requests within a minute of each other write once.
const TOUCH_AFTER: SignedDuration = SignedDuration::from_secs(60);

fn after(now: Timestamp, duration: Duration) -> Timestamp {
    SignedDuration::try_from(duration)
        .ok()
        .and_then(|duration| now.checked_add(duration).ok())
        .unwrap_or(Timestamp::MAX)
}

impl Engine {
    /// Starts a session for `user` (already authenticated, e.g. by [`Engine::authenticate`]); expired sessions of
    /// anybody are purged, and the user's oldest beyond [`SessionPolicy::max_per_user`] end.
    pub async fn start_session(&self, user: &User, policy: &SessionPolicy) -> Result<StartedSession, EngineError> {
        let now = self.now();
        let id = mint_token();
        let csrf = mint_token();
        let expires_at = after(now, policy.lifetime);
        let session = NewSession {
            id_hash: &id.hash,
            user: user.id,
            csrf: csrf.token.expose_secret(),
            idle_until: after(now, policy.idle_timeout).as_millisecond(),
            expires_at: expires_at.as_millisecond(),
        };
        self.inner.store.create_session(&session, now.as_millisecond(), policy.max_per_user).await?;
        Ok(StartedSession { id: id.token, csrf: csrf.token.expose_secret().to_owned(), expires_at })
    }

    /// The live session of `id`, if any: one whose idle and absolute deadlines are both ahead. Using it moves its idle
    /// deadline on.
    pub async fn session(&self, id: &str, policy: &SessionPolicy) -> Result<Option<LiveSession>, EngineError> {
        let now = self.now();
        let id_hash = hash_token(id);
        let idle_until = after(now, policy.idle_timeout).as_millisecond();
        let touch_after = i64::try_from(TOUCH_AFTER.as_millis()).unwrap_or(i64::MAX);
        let found = self.inner.store.live_session(&id_hash, now.as_millisecond(), idle_until, touch_after).await?;
        Ok(found.map(|record| LiveSession { user: record.user, csrf: record.csrf, id_hash }))
    }

    /// Ends a session (sign-out): its row is deleted, so its cookie opens nothing any more.
    pub async fn end_session(&self, id_hash: &str) -> Result<(), EngineError> {
        Ok(self.inner.store.delete_session(id_hash).await?)
    }

    /// Deletes every ended session; returns how many.
    pub async fn purge_sessions(&self) -> Result<u64, EngineError> {
        Ok(self.inner.store.purge_sessions(self.now().as_millisecond()).await?)
    }
}
