//! Console sessions: opaque random ids exchanged for a signed-in user, kept in memory as SHA-256 hashes only.
//!
//! The map is bounded ([`SessionSettings::max_sessions`]): when full, expired sessions go first, then the one closest
//! to its end. Sessions live in this process, so a restart signs everyone out and several servers behind one address
//! need sticky routing; the engine's store has no session table yet.

use crate::SessionSettings;
use base64::Engine as _;
use cutover_integrations_core::store::User;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// A signed-in session, as handlers see it.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// Who signed in.
    pub(crate) user: User,
    /// The synchronizer token every state-changing request of this session must carry.
    pub(crate) csrf: String,
    /// The hash of the session id, to end it.
    pub(crate) key: [u8; 32],
}

#[derive(Debug)]
struct Entry {
    user: User,
    csrf: String,
    last_used: Instant,
    ends: Instant,
}

/// The sessions of this process.
#[derive(Debug)]
pub(crate) struct Sessions {
    settings: SessionSettings,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

/// 32 random bytes, base64url without padding.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    pub(crate) fn new(settings: SessionSettings) -> Self {
        Self { settings, entries: Mutex::new(HashMap::new()) }
    }

    /// Starts a session for `user`; returns its id (for the cookie only: it is not kept).
    pub(crate) fn create(&self, user: User) -> String {
        let id = random_token();
        let now = Instant::now();
        let entry = Entry { user, csrf: random_token(), last_used: now, ends: now + self.settings.lifetime };
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.settings.max_sessions.max(1) {
            let idle = self.settings.idle_timeout;
            entries.retain(|_, entry| entry.ends > now && entry.last_used + idle > now);
        }
        while entries.len() >= self.settings.max_sessions.max(1) {
            let idle = self.settings.idle_timeout;
            let Some(oldest) =
                entries.iter().min_by_key(|(_, entry)| entry.ends.min(entry.last_used + idle)).map(|(key, _)| *key)
            else {
                break;
            };
            entries.remove(&oldest);
        }
        entries.insert(hash(&id), entry);
        id
    }

    /// The live session of `id`, if any; using it moves its idle deadline.
    pub(crate) fn get(&self, id: &str) -> Option<Session> {
        let key = hash(id);
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get_mut(&key)?;
        if entry.ends <= now || entry.last_used + self.settings.idle_timeout <= now {
            entries.remove(&key);
            return None;
        }
        entry.last_used = now;
        Some(Session { user: entry.user.clone(), csrf: entry.csrf.clone(), key })
    }

    /// Ends a session.
    pub(crate) fn end(&self, key: &[u8; 32]) {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_integrations_core::model::Role;
    use cutover_integrations_core::store::UserId;
    use std::time::Duration;

    fn user(id: i64) -> User {
        User { id: UserId(id), name: format!("u{id}"), email: format!("u{id}@example.com"), roles: vec![Role::Viewer] }
    }

    #[test]
    fn sessions_are_found_by_id_only_and_end() {
        let sessions = Sessions::new(SessionSettings::default());
        let id = sessions.create(user(1));
        let session = sessions.get(&id).expect("live");
        assert_eq!(session.user.id, UserId(1));
        assert_eq!(session.csrf.len(), 43);
        assert!(sessions.get("not-an-id").is_none());
        assert!(!format!("{:?}", sessions.entries).contains(&id), "the id itself is not kept");
        sessions.end(&session.key);
        assert!(sessions.get(&id).is_none());
    }

    #[test]
    fn the_map_is_bounded_and_expired_sessions_end() {
        let settings = SessionSettings { max_sessions: 3, ..SessionSettings::default() };
        let sessions = Sessions::new(settings);
        let ids: Vec<String> = (0..5).map(|n| sessions.create(user(n))).collect();
        assert_eq!(sessions.len(), 3);
        assert!(sessions.get(&ids[0]).is_none(), "the oldest went first");
        assert!(sessions.get(&ids[4]).is_some());
        let short = Sessions::new(SessionSettings { lifetime: Duration::ZERO, ..SessionSettings::default() });
        let id = short.create(user(9));
        assert!(short.get(&id).is_none(), "a session past its lifetime has ended");
        let idle = Sessions::new(SessionSettings { idle_timeout: Duration::ZERO, ..SessionSettings::default() });
        let id = idle.create(user(9));
        assert!(idle.get(&id).is_none(), "a session idle past its timeout has ended");
    }
}
