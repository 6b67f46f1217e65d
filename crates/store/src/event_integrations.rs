//! Event integrations and their deliveries (migration 009): definitions with sealed auth, a cursor into the durable
//! event log per event integration, and one outbox row per (event, event integration) that is claimed under a lease,
//! sent, retried and logged like a fire, in event order per runbook.

use crate::error::StoreError;
use crate::records::{ClaimRequest, Millis, RunbookId};
use crate::sql::{SqlStore, get, to_json};
use cutover_integrations_model::{EventIntegration, EventType};
use sqlx::any::AnyRow;

/// The id of a stored event integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct EventIntegrationId(pub i64);

impl std::fmt::Display for EventIntegrationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A stored event integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventIntegrationRecord {
    /// Its id.
    pub id: EventIntegrationId,
    /// The definition; its auth opened, or its secrets replaced by `[REDACTED]` when read for a list.
    pub definition: EventIntegration,
    /// The id of the last event of the log it has routed.
    pub last_event_id: i64,
    /// Counts its changes (the `ETag`).
    pub version: i64,
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// To send (now, or at its due time after a failed attempt).
    Due,
    /// Sent, or given up.
    Done,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Due => "due",
            Self::Done => "done",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "due" => Ok(Self::Due),
            "done" => Ok(Self::Done),
            other => Err(StoreError::Corrupt { what: "event delivery", reason: format!("unknown status `{other}`") }),
        }
    }
}

/// How a done delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed, or the request could not be built.
    Failed,
}

impl DeliveryOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "delivered" => Ok(Self::Delivered),
            "failed" => Ok(Self::Failed),
            other => Err(StoreError::Corrupt { what: "event delivery", reason: format!("unknown outcome `{other}`") }),
        }
    }
}

/// A delivery to create when an event is routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The event's id in the log.
    pub event_id: i64,
    /// Which of the event's deliveries to this event integration (0 for the first).
    pub part: i64,
    /// The event type sent.
    pub event_type: EventType,
    /// Its runbook.
    pub runbook_id: RunbookId,
    /// The task it concerns, if any.
    pub task_id: Option<String>,
    /// The `Idempotency-Key` every attempt carries.
    pub idempotency_key: String,
    /// The event's JSON body, copied from the log (which retention empties).
    pub event: String,
    /// When the event was logged.
    pub event_at: Millis,
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The event's id.
    pub event_id: i64,
    /// The event integration.
    pub event_integration_id: EventIntegrationId,
    /// Which of the event's deliveries to this event integration.
    pub part: i64,
    /// The event type sent.
    pub event_type: EventType,
    /// The event's runbook.
    pub runbook_id: RunbookId,
    /// The task it concerns, if any.
    pub task_id: Option<String>,
    /// The `Idempotency-Key` every attempt carries.
    pub idempotency_key: String,
    /// The event's JSON body.
    pub event: String,
    /// When the event was logged.
    pub event_at: Millis,
    /// Where it is.
    pub status: DeliveryStatus,
    /// How it ended, once done.
    pub outcome: Option<DeliveryOutcome>,
    /// The executor's state between attempts (JSON), absent before the first.
    pub state: Option<String>,
    /// Its actions log entries, a JSON array (secrets redacted before they were stored).
    pub entries: String,
    /// When it is due.
    pub due_at: Millis,
}

/// What one step of a delivery wrote, under the lease of its engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryUpdate {
    /// The event's id.
    pub event_id: i64,
    /// The event integration.
    pub event_integration_id: EventIntegrationId,
    /// Which of the event's deliveries.
    pub part: i64,
    /// The engine that holds the lease.
    pub owner: String,
    /// Where it is now.
    pub status: DeliveryStatus,
    /// How it ended, when done.
    pub outcome: Option<DeliveryOutcome>,
    /// The executor's state (JSON).
    pub state: Option<String>,
    /// Every actions log entry so far, a JSON array.
    pub entries: String,
    /// When it is due next.
    pub due_at: Millis,
}

const DELIVERY_COLUMNS: &str = "event_id, event_integration_id, part, event_type, runbook_id, task_id, idempotency_key, \
                                event, event_at, status, outcome, state, entries, due_at";

fn delivery_row(row: &AnyRow) -> Result<DeliveryRecord, StoreError> {
    Ok(DeliveryRecord {
        event_id: get(row, "event_id")?,
        event_integration_id: EventIntegrationId(get(row, "event_integration_id")?),
        part: get(row, "part")?,
        event_type: {
            let name: String = get(row, "event_type")?;
            EventType::parse(&name).ok_or_else(|| StoreError::Corrupt {
                what: "event delivery",
                reason: format!("unknown event type `{name}`"),
            })?
        },
        runbook_id: RunbookId(get(row, "runbook_id")?),
        task_id: get(row, "task_id")?,
        idempotency_key: get(row, "idempotency_key")?,
        event: get(row, "event")?,
        event_at: get(row, "event_at")?,
        status: DeliveryStatus::parse(&get::<String>(row, "status")?)?,
        outcome: get::<Option<String>>(row, "outcome")?.as_deref().map(DeliveryOutcome::parse).transpose()?,
        state: get(row, "state")?,
        entries: get(row, "entries")?,
        due_at: get(row, "due_at")?,
    })
}

/// The owner a sealed event integration auth is bound to (names are unique and never change).
pub(crate) fn event_auth_owner(name: &str) -> String {
    format!("event-integration-auth:{name}")
}

/// The placeholder of secrets in definitions read for lists.
const REDACTED: &str = "[REDACTED]";

impl SqlStore {
    /// See [`crate::Store::put_event_integration`] and [`crate::Store::replace_event_integration`] (`guard`: the one
    /// to replace and the version it must still have).
    pub(crate) async fn upsert_event_integration(
        &self,
        definition: &EventIntegration,
        guard: Option<(EventIntegrationId, Option<i64>)>,
        now: Millis,
    ) -> Result<(EventIntegrationRecord, bool), StoreError> {
        let mut tx = self.begin().await?;
        let existing = sqlx::query("SELECT id, body, version FROM event_integrations WHERE name = $1")
            .bind(&definition.name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db("reading an event integration"))?;
        let mut read_version = None;
        if let Some((id, expected)) = guard {
            // Replacing: the one of that id, which has this name (names never change), at the version expected.
            let Some(row) = existing.as_ref().filter(|row| get::<i64>(row, "id").is_ok_and(|found| found == id.0))
            else {
                return Err(StoreError::NotFound { what: "event integration", id: id.0 });
            };
            let version: i64 = get(row, "version")?;
            if let Some(expected) = expected.filter(|expected| *expected != version) {
                return Err(StoreError::Stale { what: "event integration", id: id.0, expected });
            }
            read_version = expected.map(|_| version);
        }
        let mut public = definition.clone();
        public.auth = definition.auth.with_secrets_replaced(REDACTED);
        let body = to_json("event integration", &public)?;
        let auth = serde_json::to_vec(&definition.auth)
            .map_err(|error| StoreError::Corrupt { what: "event integration auth", reason: error.to_string() })?;
        // A new (or newly enabled) event integration starts at the end of the log: it sends what happens from now on.
        let last: i64 = sqlx::query_scalar("SELECT last_id FROM event_sequence WHERE id = 1")
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::db("reading the last event id"))?;
        let sealed = self.seal(&event_auth_owner(&definition.name), &auth)?;
        let (id, created) = match existing {
            Some(row) => {
                let id = EventIntegrationId(get(&row, "id")?);
                let old: EventIntegration = serde_json::from_str(&get::<String>(&row, "body")?)
                    .map_err(|error| StoreError::Corrupt { what: "event integration", reason: error.to_string() })?;
                let restart = !old.enabled && definition.enabled;
                // Guarded by the version read when one was expected (another writer may have moved it since).
                let updated = sqlx::query(
                    "UPDATE event_integrations SET body = $1, auth = $2, version = version + 1, updated_at = $3, \
                     last_event_id = CASE WHEN $4 = 1 THEN $5 ELSE last_event_id END \
                     WHERE id = $6 AND ($7 < 0 OR version = $7)",
                )
                .bind(&body)
                .bind(sealed)
                .bind(now)
                .bind(i64::from(restart))
                .bind(last)
                .bind(id.0)
                .bind(read_version.unwrap_or(-1))
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db("updating an event integration"))?;
                if updated.rows_affected() != 1 {
                    let expected = read_version.unwrap_or_default();
                    return Err(StoreError::Stale { what: "event integration", id: id.0, expected });
                }
                (id, false)
            }
            None => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO event_integrations (name, body, auth, last_event_id, version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING id",
                )
                .bind(&definition.name)
                .bind(&body)
                .bind(sealed)
                .bind(last)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::db("creating an event integration"))?;
                (EventIntegrationId(id), true)
            }
        };
        self.commit_catalog_change(tx, "committing an event integration").await?;
        let record = self
            .select_event_integration(id, true)
            .await?
            .ok_or(StoreError::NotFound { what: "event integration", id: id.0 })?;
        Ok((record, created))
    }

    /// See [`crate::Store::event_integrations`].
    pub(crate) async fn select_event_integrations(
        &self,
        open: bool,
    ) -> Result<Vec<EventIntegrationRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT id, name, body, auth, last_event_id, version FROM event_integrations ORDER BY name")
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::db("reading event integrations"))?;
        rows.iter().map(|row| self.event_integration_row(row, open)).collect()
    }

    /// See [`crate::Store::event_integration`].
    pub(crate) async fn select_event_integration(
        &self,
        id: EventIntegrationId,
        open: bool,
    ) -> Result<Option<EventIntegrationRecord>, StoreError> {
        let row =
            sqlx::query("SELECT id, name, body, auth, last_event_id, version FROM event_integrations WHERE id = $1")
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::db("reading an event integration"))?;
        row.map(|row| self.event_integration_row(&row, open)).transpose()
    }

    fn event_integration_row(&self, row: &AnyRow, open: bool) -> Result<EventIntegrationRecord, StoreError> {
        let id = EventIntegrationId(get(row, "id")?);
        let mut definition: EventIntegration = serde_json::from_str(&get::<String>(row, "body")?)
            .map_err(|error| StoreError::Corrupt { what: "event integration", reason: error.to_string() })?;
        if open {
            let auth = self.open(&event_auth_owner(&get::<String>(row, "name")?), &get::<Vec<u8>>(row, "auth")?)?;
            definition.auth = serde_json::from_slice(&auth)
                .map_err(|error| StoreError::Corrupt { what: "event integration auth", reason: error.to_string() })?;
        }
        Ok(EventIntegrationRecord {
            id,
            definition,
            last_event_id: get(row, "last_event_id")?,
            version: get(row, "version")?,
        })
    }

    /// See [`crate::Store::delete_event_integration`].
    pub(crate) async fn remove_event_integration(
        &self,
        id: EventIntegrationId,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM event_integrations WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("deleting an event integration"))?
            .rows_affected();
        // What it had still to send is given up; the log of what it sent stays.
        sqlx::query(
            "UPDATE event_deliveries SET status = 'done', outcome = 'failed', lease_owner = NULL, lease_until = NULL, \
             updated_at = $1 WHERE event_integration_id = $2 AND status = 'due'",
        )
        .bind(now)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("giving up an event integration's deliveries"))?;
        self.commit_catalog_change(tx, "committing a deleted event integration").await?;
        Ok(deleted == 1)
    }

    /// See [`crate::Store::route_events`].
    pub(crate) async fn insert_routed(
        &self,
        id: EventIntegrationId,
        from: i64,
        to: i64,
        deliveries: &[NewDelivery],
        now: Millis,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let moved =
            sqlx::query("UPDATE event_integrations SET last_event_id = $1 WHERE id = $2 AND last_event_id = $3")
                .bind(to)
                .bind(id.0)
                .bind(from)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db("moving an event integration's cursor"))?
                .rows_affected();
        if moved != 1 {
            // Another engine routed these events (or the event integration is gone): nothing to do.
            return Ok(false);
        }
        for delivery in deliveries {
            sqlx::query(
                "INSERT INTO event_deliveries (event_id, event_integration_id, part, event_type, runbook_id, task_id, \
                 idempotency_key, event, event_at, status, outcome, state, entries, due_at, lease_owner, lease_until, \
                 created_at, updated_at) \
                 VALUES ($1, $2, $8, $9, $3, $10, $4, $5, $6, 'due', NULL, NULL, '[]', $7, NULL, NULL, $7, $7) \
                 ON CONFLICT (event_id, event_integration_id, part) DO NOTHING",
            )
            .bind(delivery.event_id)
            .bind(id.0)
            .bind(delivery.runbook_id.0)
            .bind(&delivery.idempotency_key)
            .bind(&delivery.event)
            .bind(delivery.event_at)
            .bind(now)
            .bind(delivery.part)
            .bind(delivery.event_type.as_str())
            .bind(&delivery.task_id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("creating an event delivery"))?;
        }
        tx.commit().await.map_err(StoreError::db("committing routed events"))?;
        Ok(true)
    }

    /// See [`crate::Store::claim_deliveries`].
    pub(crate) async fn update_claimed_deliveries(
        &self,
        request: &ClaimRequest,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let mut tx = self.begin().await?;
        // The first due delivery of each (event integration, runbook): a later one waits until every earlier one is
        // done, so a receiver gets a runbook's events in order.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE event_deliveries SET lease_owner = $1, lease_until = $2 \
             WHERE status = 'due' AND due_at <= $3 AND (lease_owner IS NULL OR lease_until <= $3) \
             AND (event_id, event_integration_id, part) IN (\
               SELECT d.event_id, d.event_integration_id, d.part FROM event_deliveries d \
               WHERE d.status = 'due' AND d.due_at <= $3 AND (d.lease_owner IS NULL OR d.lease_until <= $3) \
               AND NOT EXISTS (SELECT 1 FROM event_deliveries e WHERE e.event_integration_id = d.event_integration_id \
                 AND e.runbook_id = d.runbook_id AND e.status = 'due' \
                 AND (e.event_id < d.event_id OR (e.event_id = d.event_id AND e.part < d.part))) \
               ORDER BY d.event_id, d.part LIMIT $4) \
             RETURNING {DELIVERY_COLUMNS}"
        )))
        .bind(&request.owner)
        .bind(request.lease_until)
        .bind(request.now)
        .bind(request.limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::db("claiming event deliveries"))?;
        tx.commit().await.map_err(StoreError::db("committing a claim of event deliveries"))?;
        let mut claimed: Vec<DeliveryRecord> = rows.iter().map(delivery_row).collect::<Result<_, _>>()?;
        claimed.sort_by_key(|delivery| (delivery.event_id, delivery.part));
        Ok(claimed)
    }

    /// See [`crate::Store::record_delivery`].
    pub(crate) async fn update_delivery(&self, update: &DeliveryUpdate, now: Millis) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE event_deliveries SET status = $1, outcome = $2, state = $3, entries = $4, due_at = $5, \
             lease_owner = NULL, lease_until = NULL, updated_at = $6 \
             WHERE event_id = $7 AND event_integration_id = $8 AND part = $10 AND lease_owner = $9 AND status = 'due'",
        )
        .bind(update.status.as_str())
        .bind(update.outcome.map(DeliveryOutcome::as_str))
        .bind(&update.state)
        .bind(&update.entries)
        .bind(update.due_at)
        .bind(now)
        .bind(update.event_id)
        .bind(update.event_integration_id.0)
        .bind(&update.owner)
        .bind(update.part)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("recording an event delivery"))?
        .rows_affected();
        tx.commit().await.map_err(StoreError::db("committing an event delivery"))?;
        Ok(changed == 1)
    }

    /// See [`crate::Store::renew_delivery_lease`].
    pub(crate) async fn update_delivery_lease(
        &self,
        owner: &str,
        event_id: i64,
        id: EventIntegrationId,
        until: Millis,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        // Every part of the event: a lease is renewed while one of them is in flight, and parts go one at a time.
        sqlx::query(
            "UPDATE event_deliveries SET lease_until = $1 WHERE event_id = $2 AND event_integration_id = $3 \
             AND lease_owner = $4",
        )
        .bind(until)
        .bind(event_id)
        .bind(id.0)
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("renewing an event delivery's lease"))?;
        tx.commit().await.map_err(StoreError::db("committing a lease"))?;
        Ok(())
    }

    /// See [`crate::Store::runbook_deliveries`].
    pub(crate) async fn select_runbook_deliveries(
        &self,
        runbook: RunbookId,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM event_deliveries WHERE runbook_id = $1 \
             ORDER BY event_id, part, event_integration_id"
        )))
        .bind(runbook.0)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("reading event deliveries"))?;
        rows.iter().map(delivery_row).collect()
    }

    /// See [`crate::Store::event_integration_deliveries`].
    pub(crate) async fn select_event_integration_deliveries(
        &self,
        id: EventIntegrationId,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM event_deliveries WHERE event_integration_id = $1 \
             ORDER BY event_id DESC, part DESC LIMIT $2"
        )))
        .bind(id.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("reading an event integration's deliveries"))?;
        rows.iter().map(delivery_row).collect()
    }
}
