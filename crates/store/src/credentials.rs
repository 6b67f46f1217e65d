//! OAuth tokens and one-time authorization states in SQL: the auth crate's [`CredentialStore`] on [`SqlStore`].

use crate::error::StoreError;
use crate::sql::{Backend, SqlStore};
use async_trait::async_trait;
use cutover_integrations_auth::{
    AuthError, CredentialKey, CredentialStore, PendingAuthorization, StateRedemption, StoredCredential,
};
use jiff::Timestamp;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

fn credential_owner(key: &CredentialKey) -> String {
    credential_owner_of(&key.storage_key())
}

/// The owner of the credential stored under `storage_key`.
pub(crate) fn credential_owner_of(storage_key: &str) -> String {
    format!("credential:{storage_key}")
}

fn state_hash(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

pub(crate) fn state_owner(hash: &str) -> String {
    format!("oauth-state:{hash}")
}

#[async_trait]
impl CredentialStore for SqlStore {
    async fn load_credential(&self, key: &CredentialKey) -> Result<Option<StoredCredential>, AuthError> {
        let sealed: Option<Vec<u8>> = sqlx::query_scalar("SELECT value FROM credentials WHERE key = $1")
            .bind(key.storage_key())
            .fetch_optional(&self.pool)
            .await
            .map_err(|source| AuthError::store(StoreError::db("reading a credential")(source)))?;
        let Some(sealed) = sealed else { return Ok(None) };
        let encoded = self.open(&credential_owner(key), &sealed).map_err(AuthError::store)?;
        StoredCredential::decode(&encoded).map(Some)
    }

    async fn save_credential(&self, key: &CredentialKey, credential: &StoredCredential) -> Result<(), AuthError> {
        let encoded = credential.encode()?;
        let sealed = self.seal(&credential_owner(key), encoded.expose_secret()).map_err(AuthError::store)?;
        let mut tx = self.begin().await.map_err(AuthError::store)?;
        sqlx::query(
            "INSERT INTO credentials (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key.storage_key())
        .bind(sealed)
        .bind(Timestamp::now().as_millisecond())
        .execute(&mut *tx)
        .await
        .map_err(|source| AuthError::store(StoreError::db("writing a credential")(source)))?;
        tx.commit().await.map_err(|source| AuthError::store(StoreError::db("writing a credential")(source)))
    }

    async fn delete_credential(&self, key: &CredentialKey) -> Result<(), AuthError> {
        let mut tx = self.begin().await.map_err(AuthError::store)?;
        sqlx::query("DELETE FROM credentials WHERE key = $1")
            .bind(key.storage_key())
            .execute(&mut *tx)
            .await
            .map_err(|source| AuthError::store(StoreError::db("deleting a credential")(source)))?;
        tx.commit().await.map_err(|source| AuthError::store(StoreError::db("deleting a credential")(source)))
    }

    async fn put_pending_authorization(&self, pending: &PendingAuthorization) -> Result<(), AuthError> {
        let hash = state_hash(pending.state());
        let encoded = pending.encode()?;
        let sealed = self.seal(&state_owner(&hash), encoded.expose_secret()).map_err(AuthError::store)?;
        let mut tx = self.begin().await.map_err(AuthError::store)?;
        sqlx::query("INSERT INTO oauth_states (state_hash, value, used, expires_at) VALUES ($1, $2, 0, $3)")
            .bind(&hash)
            .bind(sealed)
            .bind(pending.expires_at().as_millisecond())
            .execute(&mut *tx)
            .await
            .map_err(|source| AuthError::store(StoreError::db("writing an OAuth state")(source)))?;
        tx.commit().await.map_err(|source| AuthError::store(StoreError::db("writing an OAuth state")(source)))
    }

    async fn take_pending_authorization(&self, state: &str) -> Result<StateRedemption, AuthError> {
        let hash = state_hash(state);
        let fail = |source| AuthError::store(StoreError::db("taking an OAuth state")(source));
        // The row is locked (PostgreSQL) or the database write-locked (SQLite) between reading and marking it, so of
        // two concurrent redemptions only one gets the state.
        let mut tx = self.begin().await.map_err(AuthError::store)?;
        let lock = if self.backend() == Backend::Postgres { " FOR UPDATE" } else { "" };
        let row: Option<(Option<Vec<u8>>, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT value, used FROM oauth_states WHERE state_hash = $1{lock}"
        )))
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(fail)?;
        let sealed = match row {
            None => return Ok(StateRedemption::Unknown),
            Some((_, used)) if used != 0 => return Ok(StateRedemption::AlreadyUsed),
            Some((None, _)) => {
                return Err(AuthError::store(StoreError::Corrupt {
                    what: "OAuth state",
                    reason: "a pending state has no value".to_owned(),
                }));
            }
            Some((Some(sealed), _)) => sealed,
        };
        sqlx::query("UPDATE oauth_states SET used = 1, value = NULL WHERE state_hash = $1")
            .bind(&hash)
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        let encoded = self.open(&state_owner(&hash), &sealed).map_err(AuthError::store)?;
        PendingAuthorization::decode(state, &encoded).map(|pending| StateRedemption::Pending(Box::new(pending)))
    }

    async fn purge_expired_authorizations(&self, now: Timestamp) -> Result<usize, AuthError> {
        let fail = |source| AuthError::store(StoreError::db("purging OAuth states")(source));
        let mut tx = self.begin().await.map_err(AuthError::store)?;
        let result = sqlx::query("DELETE FROM oauth_states WHERE expires_at < $1")
            .bind(now.as_millisecond())
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        Ok(result.rows_affected() as usize)
    }
}
