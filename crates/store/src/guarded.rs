//! Writes guarded by a version the caller was given (an HTTP `If-Match`): the version is compared in the statement
//! that writes, so a concurrent writer can never slip in between the check and the write.

use crate::error::StoreError;
use crate::records::{ActionId, IntegrationId, Millis};
use crate::sql::{SqlStore, to_json, unique_violation};
use crate::writer::WriteTx;
use cutover_integrations_model::{Action, Integration};

impl SqlStore {
    /// See [`crate::Store::update_integration_settings`].
    pub(crate) async fn guarded_integration_settings(
        &self,
        id: IntegrationId,
        integration: &Integration,
        expected_version: Option<i64>,
        now: Millis,
    ) -> Result<(), StoreError> {
        let mut body = integration.clone();
        body.actions.clear();
        let mut tx = self.begin().await?;
        let result = sqlx::query(
            "UPDATE integrations SET body = $1, archived = $2, updated_at = $3, name = $6 \
             WHERE id = $4 AND ($5 < 0 OR version = $5)",
        )
        .bind(to_json("integration", &body)?)
        .bind(i64::from(integration.archived))
        .bind(now)
        .bind(id.0)
        .bind(expected_version.unwrap_or(-1))
        .bind(&integration.name)
        .execute(&mut *tx)
        .await
        .map_err(|source| unique_violation(source, "integration", &integration.name, "updating an integration"))?;
        if result.rows_affected() == 0 {
            return Err(missing_or_stale(&mut tx, id, expected_version, "integration", id.0).await);
        }
        self.commit_catalog_change(tx, "committing an integration").await
    }

    /// See [`crate::Store::update_action_if`].
    pub(crate) async fn guarded_action_update(
        &self,
        id: ActionId,
        action: &Action,
        expected_version: Option<i64>,
        now: Millis,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let integration_id: Option<i64> = sqlx::query_scalar("SELECT integration_id FROM actions WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db("reading an action"))?;
        let integration_id = IntegrationId(integration_id.ok_or(StoreError::NotFound { what: "action", id: id.0 })?);
        let (body, auth) = self.split_action(integration_id, action)?;
        let result = sqlx::query(
            "UPDATE actions SET name = $1, body = $2, auth = $3, updated_at = $4 WHERE id = $5 \
             AND ($6 < 0 OR (SELECT version FROM integrations WHERE id = $7) = $6)",
        )
        .bind(&action.name)
        .bind(&body)
        .bind(auth)
        .bind(now)
        .bind(id.0)
        .bind(expected_version.unwrap_or(-1))
        .bind(integration_id.0)
        .execute(&mut *tx)
        .await
        .map_err(|source| unique_violation(source, "action", &action.name, "updating an action"))?;
        if result.rows_affected() == 0 {
            return Err(missing_or_stale(&mut tx, integration_id, expected_version, "action", id.0).await);
        }
        self.commit_catalog_change(tx, "committing an action").await
    }
}

/// Why a guarded update changed no row: the record is gone, or its version moved.
async fn missing_or_stale(
    tx: &mut WriteTx,
    integration: IntegrationId,
    expected_version: Option<i64>,
    what: &'static str,
    id: i64,
) -> StoreError {
    let exists: Result<Option<i64>, _> = sqlx::query_scalar("SELECT version FROM integrations WHERE id = $1")
        .bind(integration.0)
        .fetch_optional(&mut **tx)
        .await;
    match (exists, expected_version) {
        (Ok(Some(_)), Some(expected)) => StoreError::Stale { what, id, expected },
        (Err(source), _) => StoreError::Database { operation: "reading an integration's version", source },
        _ => StoreError::NotFound { what, id },
    }
}
