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
}

/// A value could not be sealed or opened: wrong key, tampered data or wrong owner. Carries no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealError {
    /// What failed, without any secret material.
    pub reason: String,
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
        self.encrypt(plaintext, associated_data).map_err(|error| SealError { reason: error.to_string() })
    }

    fn open(&self, sealed: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, SealError> {
        use secrecy::ExposeSecret;
        self.decrypt(sealed, associated_data)
            .map(|plaintext| plaintext.expose_secret().to_vec())
            .map_err(|error| SealError { reason: error.to_string() })
    }
}
