//! Key rotation: every secret of a database sealed again with a new key, in one transaction, so the old key can be
//! retired. The server's `cutover-server rotate-key` is a thin wrapper over [`rotate_secret_key`].

use crate::error::EngineError;
use cutover_integrations_auth::{Cipher, KeyRing};
use cutover_integrations_store::{Resealed, SqlStore, SqlStoreOptions};
use std::sync::Arc;

/// What a rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRotation {
    /// How many sealed values were sealed again.
    pub values: usize,
    /// The key id that seals them now; the database's key check holds only this id.
    pub key_id: u32,
}

/// Opens the database at `database_url` with the keys of `current` (base64 of 32 bytes, or a ring `ID:BASE64,…`),
/// which must be the keys its secrets are sealed with (the key check refuses others), and seals every secret again
/// with the current key of `new`, in one transaction. With `new` absent, the current key of `current` seals them (the
/// rotation through a ring: start with `2:NEW,1:OLD`, rotate, then configure `2:NEW` alone).
///
/// Stop every engine on the database first: one that keeps running seals new values with the old key.
pub async fn rotate_secret_key(
    database_url: &str,
    current: &str,
    new: Option<&str>,
) -> Result<KeyRotation, EngineError> {
    let ring = |text: &str, which: &'static str| {
        KeyRing::parse(text)
            .map(|ring| Arc::new(Cipher::new(ring)))
            .map_err(|error| EngineError::SecretKey { which, source: Box::new(error) })
    };
    let current = ring(current, "current ")?;
    let target = match new {
        Some(new) => ring(new, "new ")?,
        None => current.clone(),
    };
    let store = SqlStore::connect(SqlStoreOptions::new(database_url), current).await?;
    let outcome = store.reseal(target.as_ref()).await;
    store.close().await;
    let Resealed { values, key_id } = outcome?;
    Ok(KeyRotation { values, key_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate_secret_key;
    use crate::model::{SecretValue, SystemParameter};
    use secrecy::ExposeSecret as _;

    #[tokio::test]
    async fn a_rotated_database_opens_with_the_new_key_only() {
        let directory = tempfile::tempdir().expect("directory");
        let url = format!("sqlite://{}", directory.path().join("cutover.db").display());
        let (old, new) = (generate_secret_key(), generate_secret_key());
        let engine = crate::Engine::builder().database_url(&url).secret_key_base64(old.expose_secret()).build().await;
        let engine = engine.expect("engine");
        let parameter = SystemParameter { name: "token".into(), value: SecretValue::new("s3cret-1"), secret: true };
        engine.put_system_parameter(&parameter).await.expect("put");
        drop(engine);

        let wrong = rotate_secret_key(&url, new.expose_secret(), Some(old.expose_secret())).await;
        assert!(matches!(
            wrong,
            Err(EngineError::Store(cutover_integrations_store::StoreError::WrongSecretKey { .. }))
        ));
        let rotated = rotate_secret_key(&url, old.expose_secret(), Some(new.expose_secret())).await.expect("rotate");
        assert_eq!(rotated, KeyRotation { values: 1, key_id: 1 });

        let with_old = crate::Engine::builder().database_url(&url).secret_key_base64(old.expose_secret()).build().await;
        let refused = with_old.map(|_| ()).unwrap_err().to_string();
        assert!(refused.starts_with("the secret key does not match this database"), "{refused}");
        let engine = crate::Engine::builder().database_url(&url).secret_key_base64(new.expose_secret()).build().await;
        let parameters = engine.expect("the new key opens it").system_parameters().await.expect("read");
        assert_eq!(parameters[0].value.expose(), "s3cret-1");
    }
}
