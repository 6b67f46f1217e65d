//! The durable event log: runbook and task changes with ids that only grow, kept for a retention window, so that a
//! listener that lost its connection (or a server that restarted) resumes after the last id it saw.
//!
//! Ids come from the one-row `event_sequence`, moved in the appending transaction: never reused, and on PostgreSQL
//! the row stays locked until the writing transaction commits, so a reader never sees a larger id before a smaller one.

use crate::error::StoreError;
use crate::records::{Millis, RunbookId};
use crate::sql::{SqlStore, get};
use crate::writer::WriteTx;

/// Numbers and inserts events inside `tx`; on PostgreSQL the sequence row stays locked until `tx` ends, so callers
/// append last in their transaction.
async fn append_in(tx: &mut WriteTx, events: &[(RunbookId, String)], now: Millis) -> Result<Vec<i64>, StoreError> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let last: i64 =
        sqlx::query_scalar("UPDATE event_sequence SET last_id = last_id + $1 WHERE id = 1 RETURNING last_id")
            .bind(events.len() as i64)
            .fetch_one(&mut **tx)
            .await
            .map_err(StoreError::db("numbering events"))?;
    let first = last - events.len() as i64 + 1;
    let mut ids = Vec::with_capacity(events.len());
    for (offset, (runbook, body)) in events.iter().enumerate() {
        let id = first + offset as i64;
        sqlx::query("INSERT INTO events (id, runbook_id, body, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(runbook.0)
            .bind(body)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(StoreError::db("appending an event"))?;
        ids.push(id);
    }
    Ok(ids)
}

/// An event as stored: its id, its runbook, and its JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Its id: greater than every id appended before it.
    pub id: i64,
    /// The runbook it concerns.
    pub runbook: RunbookId,
    /// The event as JSON.
    pub body: String,
    /// When it was logged.
    pub created_at: Millis,
}

/// What the log holds: the oldest id still kept and the last id given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventBounds {
    /// The oldest event kept, `None` when retention removed every event (or none was appended).
    pub oldest: Option<i64>,
    /// The last id given (0 before the first event).
    pub last: i64,
}

/// Appends the events a runbook's creation or replacement makes inside its transaction (see
/// [`crate::NewRunbook::events`]): each body, a JSON object, gets the runbook's id as `runbook`.
pub(crate) async fn append_runbook_events(
    tx: &mut WriteTx,
    runbook: RunbookId,
    bodies: &[String],
    now: Millis,
) -> Result<Vec<i64>, StoreError> {
    let mut events = Vec::with_capacity(bodies.len());
    for body in bodies {
        let mut object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(body)
            .map_err(|error| StoreError::Corrupt { what: "runbook event", reason: error.to_string() })?;
        object.insert("runbook".to_owned(), serde_json::Value::from(runbook.0));
        events.push((runbook, serde_json::Value::Object(object).to_string()));
    }
    append_in(tx, &events, now).await
}

impl SqlStore {
    /// See [`crate::Store::append_events`].
    pub(crate) async fn insert_events(
        &self,
        events: &[(RunbookId, String)],
        now: Millis,
    ) -> Result<Vec<i64>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin().await?;
        let ids = append_in(&mut tx, events, now).await?;
        tx.commit().await.map_err(StoreError::db("committing events"))?;
        Ok(ids)
    }

    /// See [`crate::Store::events_after`].
    pub(crate) async fn select_events_after(
        &self,
        after: i64,
        runbook: Option<RunbookId>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, runbook_id, body, created_at FROM events WHERE id > $1 AND ($2 < 0 OR runbook_id = $2) ORDER BY id LIMIT $3",
        )
        .bind(after)
        .bind(runbook.map_or(-1, |runbook| runbook.0))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("reading events"))?;
        rows.iter()
            .map(|row| {
                Ok(StoredEvent {
                    id: get(row, "id")?,
                    runbook: RunbookId(get(row, "runbook_id")?),
                    body: get(row, "body")?,
                    created_at: get(row, "created_at")?,
                })
            })
            .collect()
    }

    /// See [`crate::Store::event_bounds`].
    pub(crate) async fn select_event_bounds(&self) -> Result<EventBounds, StoreError> {
        let last: i64 = sqlx::query_scalar("SELECT last_id FROM event_sequence WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db("reading the last event id"))?;
        let oldest: Option<i64> = sqlx::query_scalar("SELECT MIN(id) FROM events")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db("reading the oldest event id"))?;
        Ok(EventBounds { oldest, last })
    }

    /// See [`crate::Store::prune_events`].
    pub(crate) async fn delete_events_before(&self, before: Millis) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let deleted = sqlx::query("DELETE FROM events WHERE created_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("pruning events"))?
            .rows_affected();
        tx.commit().await.map_err(StoreError::db("committing pruned events"))?;
        Ok(deleted)
    }
}
