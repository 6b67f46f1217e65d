//! API tokens: minted once, shown once, stored only as a hash.

use rand::RngCore;
use sha2::{Digest, Sha256};

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
}
