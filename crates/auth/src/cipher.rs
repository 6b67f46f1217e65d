//! Secrets at rest: XChaCha20-Poly1305 with a key id for rotation, sealing to `key_id ‖ nonce ‖ ciphertext`.
//!
//! The associated data binds a sealed value to its owner (a credential key, an OAuth state): a value copied to another
//! row fails to decrypt. The key id is authenticated too, so it cannot be swapped for another.

use crate::AuthError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretBox, SecretSlice, SecretString};
use std::collections::BTreeMap;
use std::fmt;

/// Length of a key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of the key id prefix of sealed data, in bytes (a big-endian `u32`).
pub const KEY_ID_LEN: usize = 4;
/// Length of the nonce that follows the key id, in bytes.
pub const NONCE_LEN: usize = 24;
/// Length of the authentication tag at the end of the ciphertext, in bytes.
pub const TAG_LEN: usize = 16;

/// The id of a key in a [`KeyRing`], written in front of every sealed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u32);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A 256-bit secret key; `Debug` prints `[REDACTED]` and the bytes are zeroed on drop.
pub struct Key(SecretBox<[u8; KEY_LEN]>);

impl Key {
    /// A new random key from the operating system's generator, for a server's first start.
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut bytes);
        let key = Self::from_bytes(bytes);
        bytes.fill(0);
        key
    }

    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(SecretBox::new(Box::new(bytes)))
    }

    /// Reads a key written as standard base64 of 32 bytes (the form of `CUTOVER_SECRET_KEY`).
    pub fn from_base64(encoded: &str) -> Result<Self, AuthError> {
        let decoded =
            SecretSlice::from(BASE64.decode(encoded.trim()).map_err(|error| AuthError::InvalidKey {
                message: format!("a key must be standard base64: {error}"),
            })?);
        let bytes: [u8; KEY_LEN] = decoded.expose_secret().try_into().map_err(|_| AuthError::InvalidKey {
            message: format!("a key must be {KEY_LEN} bytes, found {}", decoded.expose_secret().len()),
        })?;
        Ok(Self::from_bytes(bytes))
    }

    /// The key as standard base64, to write it to the configuration once. Keep it out of logs.
    pub fn expose_base64(&self) -> SecretString {
        SecretString::from(BASE64.encode(self.0.expose_secret()))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// The keys a [`Cipher`] knows: one current key that seals, and retired keys that still open older values.
pub struct KeyRing {
    current: KeyId,
    keys: BTreeMap<KeyId, Key>,
}

impl KeyRing {
    /// A ring with one key, the current one.
    pub fn new(id: KeyId, key: Key) -> Self {
        Self { current: id, keys: BTreeMap::from([(id, key)]) }
    }

    /// Adds a retired key that still decrypts values sealed with it. Fails if the id is taken.
    pub fn with_retired(mut self, id: KeyId, key: Key) -> Result<Self, AuthError> {
        if self.keys.contains_key(&id) {
            return Err(AuthError::InvalidKey { message: format!("key id {id} appears twice") });
        }
        self.keys.insert(id, key);
        Ok(self)
    }

    /// Reads a key ring from configuration.
    ///
    /// Either one standard-base64 key (it gets key id 1), or comma-separated `ID:BASE64` entries where the first is the
    /// current key and the others are retired keys, for example `2:NEWKEY...,1:OLDKEY...`.
    pub fn parse(config: &str) -> Result<Self, AuthError> {
        let mut entries = config.split(',').map(str::trim).filter(|entry| !entry.is_empty());
        let first = entries.next().ok_or_else(|| AuthError::InvalidKey { message: "no key given".to_owned() })?;
        let (id, key) = parse_entry(first, true)?;
        let mut ring = Self::new(id, key);
        for entry in entries {
            let (id, key) = parse_entry(entry, false)?;
            ring = ring.with_retired(id, key)?;
        }
        Ok(ring)
    }

    /// The id of the key that seals new values.
    pub fn current_key_id(&self) -> KeyId {
        self.current
    }

    /// Every key id in the ring, in ascending order.
    pub fn key_ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.keys.keys().copied()
    }

    /// A 256-bit key for another purpose (signing callback tokens, say), derived from the current key as
    /// SHA-256(`cutover-subkey` ‖ purpose ‖ key), so one configured secret serves every purpose without reuse.
    /// Rotating the current key changes every derived key.
    pub fn derive_subkey(&self, purpose: &str) -> SecretBox<[u8; KEY_LEN]> {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(b"cutover-subkey\0");
        hasher.update(purpose.as_bytes());
        hasher.update(b"\0");
        if let Some(key) = self.keys.get(&self.current) {
            hasher.update(key.0.expose_secret());
        }
        SecretBox::new(Box::new(hasher.finalize().into()))
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn parse_entry(entry: &str, only_one: bool) -> Result<(KeyId, Key), AuthError> {
    match entry.split_once(':') {
        Some((id, key)) => {
            let id = id.trim().parse::<u32>().map_err(|_| AuthError::InvalidKey {
                message: format!("key id `{}` is not a number in 0..=4294967295", id.trim()),
            })?;
            Ok((KeyId(id), Key::from_base64(key)?))
        }
        None if only_one => Ok((KeyId(1), Key::from_base64(entry)?)),
        None => Err(AuthError::InvalidKey { message: "with several keys each entry must be `ID:BASE64`".to_owned() }),
    }
}

/// Seals and opens secrets with XChaCha20-Poly1305.
///
/// Sealed form: `key_id` (4 bytes, big-endian) ‖ `nonce` (24 random bytes) ‖ `ciphertext` (plaintext length + 16-byte
/// tag). The AEAD's associated data is `key_id ‖ associated_data`, so the key id and the owner are both authenticated.
/// Random 192-bit nonces make accidental reuse negligible without any counter state.
pub struct Cipher {
    current: KeyId,
    ciphers: BTreeMap<KeyId, XChaCha20Poly1305>,
}

impl Cipher {
    /// A cipher over a key ring.
    pub fn new(ring: KeyRing) -> Self {
        let ciphers =
            ring.keys.iter().map(|(id, key)| (*id, XChaCha20Poly1305::new(key.0.expose_secret().into()))).collect();
        Self { current: ring.current, ciphers }
    }

    /// The id of the key that seals new values.
    pub fn current_key_id(&self) -> KeyId {
        self.current
    }

    /// Seals `plaintext` with the current key, bound to `associated_data` (the owner of the value).
    pub fn encrypt(&self, plaintext: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, AuthError> {
        let cipher = &self.ciphers[&self.current];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = authenticated_data(self.current, associated_data);
        let ciphertext = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad })
            .map_err(|error| AuthError::EncryptionFailed { message: error.to_string() })?;
        let mut sealed = Vec::with_capacity(KEY_ID_LEN + NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&self.current.0.to_be_bytes());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens a value sealed by [`Cipher::encrypt`] with any key of the ring, checking `associated_data`.
    pub fn decrypt(&self, sealed: &[u8], associated_data: &[u8]) -> Result<SecretSlice<u8>, AuthError> {
        let key_id = sealed_key_id(sealed)?;
        if sealed.len() < KEY_ID_LEN + NONCE_LEN + TAG_LEN {
            return Err(AuthError::MalformedCiphertext {
                message: format!(
                    "{} bytes is shorter than key id, nonce and tag ({} bytes)",
                    sealed.len(),
                    KEY_ID_LEN + NONCE_LEN + TAG_LEN
                ),
            });
        }
        let cipher = self.ciphers.get(&key_id).ok_or(AuthError::UnknownKeyId { key_id: key_id.0 })?;
        let (nonce, ciphertext) = sealed[KEY_ID_LEN..].split_at(NONCE_LEN);
        let aad = authenticated_data(key_id, associated_data);
        cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad })
            .map(SecretSlice::from)
            .map_err(|_| AuthError::DecryptionFailed { key_id: key_id.0 })
    }

    /// Whether a sealed value was sealed with a retired key and should be sealed again with the current one.
    pub fn needs_rotation(&self, sealed: &[u8]) -> Result<bool, AuthError> {
        Ok(sealed_key_id(sealed)? != self.current)
    }

    /// Opens a value and seals it again with the current key (for a rotation pass over stored rows).
    pub fn reencrypt(&self, sealed: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, AuthError> {
        let plaintext = self.decrypt(sealed, associated_data)?;
        self.encrypt(plaintext.expose_secret(), associated_data)
    }
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cipher")
            .field("current", &self.current)
            .field("key_ids", &self.ciphers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn sealed_key_id(sealed: &[u8]) -> Result<KeyId, AuthError> {
    let prefix: [u8; KEY_ID_LEN] = sealed
        .get(..KEY_ID_LEN)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| AuthError::MalformedCiphertext { message: format!("{} bytes hold no key id", sealed.len()) })?;
    Ok(KeyId(u32::from_be_bytes(prefix)))
}

fn authenticated_data(key_id: KeyId, associated_data: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(KEY_ID_LEN + associated_data.len());
    aad.extend_from_slice(&key_id.0.to_be_bytes());
    aad.extend_from_slice(associated_data);
    aad
}

#[cfg(test)]
mod subkey_tests {
    use super::*;

    #[test]
    fn subkeys_differ_by_purpose_and_key() {
        let ring = |byte| KeyRing::new(KeyId(1), Key::from_bytes([byte; KEY_LEN]));
        let a = *ring(1).derive_subkey("callback").expose_secret();
        assert_eq!(a, *ring(1).derive_subkey("callback").expose_secret(), "stable");
        assert_ne!(a, *ring(1).derive_subkey("other").expose_secret(), "per purpose");
        assert_ne!(a, *ring(2).derive_subkey("callback").expose_secret(), "per key");
        assert_ne!(a, [1; KEY_LEN], "not the key itself");
    }
}
