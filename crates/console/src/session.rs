//! Console sessions as handlers see them. The sessions themselves are the engine's ([`Engine::start_session`]): kept
//! in the store as SHA-256 hashes of their ids, so that a restart signs nobody out and any server on the database
//! knows them.
//!
//! [`Engine::start_session`]: cutover_integrations_core::Engine::start_session

use base64::Engine as _;
use cutover_integrations_core::store::User;
use rand::RngCore as _;

/// A signed-in session, as handlers see it.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// Who signed in.
    pub(crate) user: User,
    /// The synchronizer token every state-changing request of this session must carry.
    pub(crate) csrf: String,
    /// The hash of the session id, to end it.
    pub(crate) id_hash: String,
}

/// 32 random bytes, base64url without padding.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
