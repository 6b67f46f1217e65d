//! The key check and key rotation: a database remembers which keys sealed its secrets, so a start with another key is
//! refused by name, and [`SqlStore::reseal`] moves every sealed value to a new key in one transaction.
//!
//! The check is a known value sealed with each key that sealed secrets here (`key_checks`, one row per key id). On
//! connect every row must open with the configured keys: a row whose key id the keys lack is
//! [`StoreError::MissingSecretKey`], a row the key of that id does not open is [`StoreError::WrongSecretKey`]. Then a
//! row for the sealing key is added if missing. A database from before the check has no rows: one sealed value of
//! each kind is opened instead, before the first row is written.

use crate::error::StoreError;
use crate::sealer::{SealFailure, Sealer};
use crate::sql::{SqlStore, auth_owner, get, parameter_owner, wall_clock_millis};
use crate::{IntegrationId, credentials};
use sqlx::any::AnyRow;

/// The value the key check seals.
const CHECK: &[u8] = b"cutover key check v1";

fn check_owner(key_id: u32) -> String {
    format!("key-check:{key_id}")
}

/// The tables that hold sealed values.
#[derive(Debug, Clone, Copy)]
enum SealedTable {
    ActionAuth,
    SystemParameter,
    Credential,
    OAuthState,
    EventIntegrationAuth,
}

impl SealedTable {
    const ALL: [Self; 5] =
        [Self::ActionAuth, Self::SystemParameter, Self::Credential, Self::OAuthState, Self::EventIntegrationAuth];

    fn select(self) -> &'static str {
        match self {
            Self::ActionAuth => "SELECT id, integration_id, name, auth AS sealed FROM actions",
            Self::SystemParameter => "SELECT name, value AS sealed FROM system_parameters",
            Self::Credential => "SELECT key, value AS sealed FROM credentials",
            Self::OAuthState => "SELECT state_hash, value AS sealed FROM oauth_states WHERE value IS NOT NULL",
            Self::EventIntegrationAuth => "SELECT id, name, auth AS sealed FROM event_integrations",
        }
    }

    fn update(self) -> &'static str {
        match self {
            Self::ActionAuth => "UPDATE actions SET auth = $1 WHERE id = $2",
            Self::SystemParameter => "UPDATE system_parameters SET value = $1 WHERE name = $2",
            Self::Credential => "UPDATE credentials SET value = $1 WHERE key = $2",
            Self::OAuthState => "UPDATE oauth_states SET value = $1 WHERE state_hash = $2",
            Self::EventIntegrationAuth => "UPDATE event_integrations SET auth = $1 WHERE id = $2",
        }
    }

    /// The row's key, the owner its value is bound to, and the sealed bytes.
    fn read(self, row: &AnyRow) -> Result<(RowKey, String, Vec<u8>), StoreError> {
        let sealed: Vec<u8> = get(row, "sealed")?;
        Ok(match self {
            Self::ActionAuth => {
                let id: i64 = get(row, "id")?;
                let integration = IntegrationId(get(row, "integration_id")?);
                let name: String = get(row, "name")?;
                (RowKey::Id(id), auth_owner(integration, &name), sealed)
            }
            Self::SystemParameter => {
                let name: String = get(row, "name")?;
                let owner = parameter_owner(&name);
                (RowKey::Text(name), owner, sealed)
            }
            Self::Credential => {
                let key: String = get(row, "key")?;
                let owner = credentials::credential_owner_of(&key);
                (RowKey::Text(key), owner, sealed)
            }
            Self::OAuthState => {
                let hash: String = get(row, "state_hash")?;
                let owner = credentials::state_owner(&hash);
                (RowKey::Text(hash), owner, sealed)
            }
            Self::EventIntegrationAuth => {
                let name: String = get(row, "name")?;
                (RowKey::Id(get(row, "id")?), crate::event_integrations::event_auth_owner(&name), sealed)
            }
        })
    }
}

enum RowKey {
    Id(i64),
    Text(String),
}

/// What [`SqlStore::reseal`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resealed {
    /// How many sealed values were opened and sealed again.
    pub values: usize,
    /// The key id that seals them now.
    pub key_id: u32,
}

/// The error of a sealed value that did not open with `sealer`: a missing key or a wrong one, by key id.
fn key_error(sealer: &dyn Sealer, sealed: &[u8], owner: &str, error: crate::SealError) -> StoreError {
    let key_id = sealer.key_id_of(sealed);
    match (error.kind, key_id) {
        (SealFailure::UnknownKey, Some(key_id)) => StoreError::MissingSecretKey { key_id },
        (SealFailure::Rejected, Some(key_id)) => StoreError::WrongSecretKey { key_id },
        _ => StoreError::Seal { owner: owner.to_owned(), source: error },
    }
}

impl SqlStore {
    /// Checks that the configured keys open this database's secrets, and records a check for the sealing key.
    pub(crate) async fn check_key(&self) -> Result<(), StoreError> {
        let sealer = self.sealer();
        let rows = sqlx::query("SELECT key_id, sealed FROM key_checks ORDER BY key_id")
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("reading the key checks"))?;
        let mut checked = Vec::with_capacity(rows.len());
        for row in &rows {
            let key_id = u32::try_from(get::<i64>(row, "key_id")?)
                .map_err(|_| StoreError::Corrupt { what: "key check", reason: "key id out of range".to_owned() })?;
            let sealed: Vec<u8> = get(row, "sealed")?;
            let owner = check_owner(key_id);
            match sealer.open(&sealed, owner.as_bytes()) {
                Ok(plaintext) if plaintext == CHECK => checked.push(key_id),
                Ok(_) => return Err(StoreError::WrongSecretKey { key_id }),
                Err(error) => {
                    return Err(match error.kind {
                        SealFailure::UnknownKey => StoreError::MissingSecretKey { key_id },
                        _ => StoreError::WrongSecretKey { key_id },
                    });
                }
            }
        }
        let key_id = sealer.sealing_key_id();
        if checked.contains(&key_id) {
            return Ok(());
        }
        if checked.is_empty() {
            // A database from before the key check: its values must open before a check vouches for the key.
            for table in SealedTable::ALL {
                let query = format!("{} LIMIT 1", table.select());
                let row = sqlx::query(sqlx::AssertSqlSafe(query))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(StoreError::db("reading a sealed value"))?;
                if let Some(row) = row {
                    let (_, owner, sealed) = table.read(&row)?;
                    sealer
                        .open(&sealed, owner.as_bytes())
                        .map_err(|error| key_error(sealer, &sealed, &owner, error))?;
                }
            }
        }
        let sealed = self.seal(&check_owner(key_id), CHECK)?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO key_checks (key_id, sealed, created_at) VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING",
        )
        .bind(i64::from(key_id))
        .bind(sealed)
        .bind(wall_clock_millis())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("recording the key check"))?;
        tx.commit().await.map_err(StoreError::db("recording the key check"))?;
        Ok(())
    }

    /// Opens every sealed value with this store's keys and seals it again with `target`, in one transaction; then the
    /// key checks of other keys are dropped and `target`'s key is checked, so the old keys can be retired.
    ///
    /// Nothing else may write to the database meanwhile: stop every engine on it first. `target` may be this store's
    /// own sealer (after a new current key was added to the ring, the values sealed with older keys move to it).
    pub async fn reseal(&self, target: &dyn Sealer) -> Result<Resealed, StoreError> {
        let sealer = self.sealer();
        let mut tx = self.begin().await?;
        let mut values = 0;
        for table in SealedTable::ALL {
            let rows = sqlx::query(table.select())
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::db("reading sealed values"))?;
            for row in &rows {
                let (key, owner, sealed) = table.read(row)?;
                let plaintext = sealer
                    .open(&sealed, owner.as_bytes())
                    .map_err(|error| key_error(sealer, &sealed, &owner, error))?;
                let resealed = target
                    .seal(&plaintext, owner.as_bytes())
                    .map_err(|source| StoreError::Seal { owner: owner.clone(), source })?;
                let update = sqlx::query(table.update()).bind(resealed);
                let update = match key {
                    RowKey::Id(id) => update.bind(id),
                    RowKey::Text(text) => update.bind(text),
                };
                update.execute(&mut *tx).await.map_err(StoreError::db("writing a sealed value"))?;
                values += 1;
            }
        }
        let key_id = target.sealing_key_id();
        let owner = check_owner(key_id);
        let check =
            target.seal(CHECK, owner.as_bytes()).map_err(|source| StoreError::Seal { owner: owner.clone(), source })?;
        sqlx::query("DELETE FROM key_checks")
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("replacing the key checks"))?;
        sqlx::query("INSERT INTO key_checks (key_id, sealed, created_at) VALUES ($1, $2, $3)")
            .bind(i64::from(key_id))
            .bind(check)
            .bind(wall_clock_millis())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("replacing the key checks"))?;
        tx.commit().await.map_err(StoreError::db("committing the re-sealed values"))?;
        Ok(Resealed { values, key_id })
    }
}
