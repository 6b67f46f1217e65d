//! The seam through which the store seals secrets at rest without depending on a particular cipher.

use std::fmt;

/// Seals and opens secrets with authenticated encryption; associated data binds a sealed value to its owner.
///
/// The auth crate's cipher implements it; the store calls it for auth settings, system parameters, credentials and
/// OAuth states, so nothing secret is written in clear.
pub trait Sealer: Send + Sync + 'static {
    /// Encrypts `plaintext`, binding it to `associated_data`.
    fn seal(&self, plaintext: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, SealError>;

    /// Decrypts what [`Sealer::seal`] produced with the same associated data; fails on any tampering.
    fn open(&self, sealed: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, SealError>;

    /// The id of the key [`Sealer::seal`] uses: the store keeps a key check per key id (see `SqlStore::connect`).
    fn sealing_key_id(&self) -> u32;

    /// The id of the key a sealed value names, if it names one.
    fn key_id_of(&self, sealed: &[u8]) -> Option<u32>;
}

/// A value could not be sealed or opened: wrong key, tampered data or wrong owner. Carries no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealError {
    /// What kind of failure.
    pub kind: SealFailure,
    /// What failed, without any secret material.
    pub reason: String,
}

/// Why a value could not be sealed or opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealFailure {
    /// The value names a key the sealer does not hold.
    UnknownKey,
    /// The key named did not open the value: another key with the same id, tampering, or another owner.
    Rejected,
    /// Anything else (a malformed value, an encryption failure).
    Other,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for SealError {}

/// The auth crate's XChaCha20-Poly1305 cipher seals the store's secrets; its key id travels in the sealed value, so
/// keys rotate without rewriting rows at once.
impl Sealer for cutover_integrations_auth::Cipher {
    fn seal(&self, plaintext: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, SealError> {
        self.encrypt(plaintext, associated_data)
            .map_err(|error| SealError { kind: SealFailure::Other, reason: error.to_string() })
    }

    fn open(&self, sealed: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, SealError> {
        use secrecy::ExposeSecret;
        self.decrypt(sealed, associated_data).map(|plaintext| plaintext.expose_secret().to_vec()).map_err(|error| {
            let kind = match error {
                cutover_integrations_auth::AuthError::UnknownKeyId { .. } => SealFailure::UnknownKey,
                cutover_integrations_auth::AuthError::DecryptionFailed { .. } => SealFailure::Rejected,
                _ => SealFailure::Other,
            };
            SealError { kind, reason: error.to_string() }
        })
    }

    fn sealing_key_id(&self) -> u32 {
        self.current_key_id().0
    }

    fn key_id_of(&self, sealed: &[u8]) -> Option<u32> {
        let prefix = sealed.get(..cutover_integrations_auth::KEY_ID_LEN)?;
        Some(u32::from_be_bytes(prefix.try_into().ok()?))
    }
}
