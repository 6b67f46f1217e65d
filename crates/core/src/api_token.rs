//! API tokens: minted once, shown once, stored only as a hash, and remembered for a few seconds once found valid.

use cutover_integrations_store::User;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A freshly minted API token: a 48-character hex string, like Cutover's user app tokens.
///
/// The token is returned to its user once; the store keeps only [`hash_token`] of it.
pub struct MintedToken {
    /// The token to hand to the user.
    pub token: secrecy::SecretString,
    /// Its hash, for the store.
    pub hash: String,
}

impl std::fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedToken").field("token", &"[REDACTED]").field("hash", &self.hash).finish()
    }
}

/// Mints a new random token.
pub fn mint_token() -> MintedToken {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let hash = hash_token(&token);
    MintedToken { token: token.into(), hash }
}

/// The SHA-256 hex digest under which a token (API token, callback token, OAuth state) is stored and looked up.
///
/// A fast hash is right here: tokens carry 192 random bits, so they cannot be guessed from their hash.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// How long a token found valid is believed without asking the store again.
pub(crate) const TOKEN_TTL: Duration = Duration::from_secs(10);

/// How many tokens [`TokenCache`] remembers.
pub(crate) const TOKEN_CACHE_SIZE: usize = 1_024;

/// API tokens recently found valid, by their hash (never the token itself), so that a request does not cost a store
/// query to authenticate. An entry is believed for [`TOKEN_TTL`]: users are only ever created today, and a change
/// made to a user later (or through another engine on the same store) is seen within that time. Tokens found invalid
/// are not kept, so a new user's token works at once. At most [`TOKEN_CACHE_SIZE`] entries.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    users: Mutex<HashMap<String, (User, Instant)>>,
}

impl TokenCache {
    /// The user found under `hash` at most [`TOKEN_TTL`] before `now`.
    pub(crate) fn fresh(&self, hash: &str, now: Instant) -> Option<User> {
        self.lock()
            .get(hash)
            .filter(|(_, found)| now.saturating_duration_since(*found) < TOKEN_TTL)
            .map(|(user, _)| user.clone())
    }

    /// Remembers that `hash` was the token of `user` at `now`; when full, forgets the stale entries first, and
    /// everything if none is stale.
    pub(crate) fn remember(&self, hash: String, user: &User, now: Instant) {
        let mut users = self.lock();
        if users.len() >= TOKEN_CACHE_SIZE {
            users.retain(|_, (_, found)| now.saturating_duration_since(*found) < TOKEN_TTL);
            if users.len() >= TOKEN_CACHE_SIZE {
                users.clear();
            }
        }
        users.insert(hash, (user.clone(), now));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (User, Instant)>> {
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn tokens_are_48_hex_characters_and_hash_stably() {
        let minted = mint_token();
        let token = minted.token.expose_secret();
        assert_eq!(token.len(), 48);
        assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(minted.hash, hash_token(token));
        assert_ne!(mint_token().hash, minted.hash, "two tokens differ");
        assert!(!format!("{minted:?}").contains(token), "Debug redacts the token");
    }

    fn user(id: i64) -> User {
        User {
            id: cutover_integrations_store::UserId(id),
            name: format!("U{id}"),
            email: format!("u{id}@example.com"),
            roles: vec![],
        }
    }

    #[test]
    fn a_valid_token_is_believed_for_its_time_to_live_only() {
        let cache = TokenCache::default();
        let start = Instant::now();
        cache.remember("h1".to_owned(), &user(1), start);
        let cases = [
            ("h1", Duration::ZERO, Some(1)),
            ("h1", TOKEN_TTL - Duration::from_millis(1), Some(1)),
            ("h1", TOKEN_TTL, None),
            ("h2", Duration::ZERO, None),
        ];
        for (hash, after, expected) in cases {
            let found = cache.fresh(hash, start + after).map(|user| user.id.0);
            assert_eq!(found, expected, "{hash} after {after:?}");
        }
    }

    #[test]
    fn a_full_cache_forgets_stale_entries_first_then_everything() {
        let cache = TokenCache::default();
        let start = Instant::now();
        for n in 0..TOKEN_CACHE_SIZE - 1 {
            cache.remember(format!("old{n}"), &user(1), start);
        }
        cache.remember("recent".to_owned(), &user(2), start + TOKEN_TTL / 2);
        let later = start + TOKEN_TTL + Duration::from_millis(1);
        cache.remember("new".to_owned(), &user(3), later);
        assert_eq!(cache.lock().len(), 2, "the stale entries went, the recent one stayed");
        assert_eq!(cache.fresh("recent", later).map(|user| user.id.0), Some(2));
        for n in 0..TOKEN_CACHE_SIZE {
            cache.remember(format!("fresh{n}"), &user(4), later);
        }
        assert!(cache.lock().len() <= TOKEN_CACHE_SIZE, "never more than the limit");
    }
}
