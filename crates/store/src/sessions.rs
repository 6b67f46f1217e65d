//! Web console sessions in SQL: [`SessionStore`] on [`SqlStore`], so that a session survives a restart and any
//! server on the database knows it.
//!
//! Only the SHA-256 of a session id is stored; the id itself lives in the browser's cookie. Every lookup checks both
//! deadlines in its query (the idle one, moved on by use, and the absolute one, fixed at sign-in), so an expired row is
//! never returned even before it is purged.

use crate::error::StoreError;
use crate::records::{Millis, User, UserId};
use crate::sql::{SqlStore, get, user_from_row};
use async_trait::async_trait;
use std::fmt;

/// A session to store at sign-in.
pub struct NewSession<'a> {
    /// The SHA-256 of the session id, hex: the row's key.
    pub id_hash: &'a str,
    /// Who signed in.
    pub user: UserId,
    /// The session's CSRF token.
    pub csrf: &'a str,
    /// When the session ends unless used before (unix milliseconds).
    pub idle_until: Millis,
    /// When the session ends whatever happens.
    pub expires_at: Millis,
}

impl fmt::Debug for NewSession<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSession")
            .field("user", &self.user)
            .field("idle_until", &self.idle_until)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A live session, as [`SessionStore::live_session`] finds it.
#[derive(Clone)]
pub struct SessionRecord {
    /// Who signed in (as stored now: roles changed since sign-in apply).
    pub user: User,
    /// The session's CSRF token.
    pub csrf: String,
    /// When it ends unless used before.
    pub idle_until: Millis,
    /// When it ends whatever happens.
    pub expires_at: Millis,
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("user", &self.user)
            .field("idle_until", &self.idle_until)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Where console sessions are kept.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session; first purges every expired one (of anybody), then keeps at most `per_user` sessions of the
    /// user (the newest) counting the new one.
    async fn create_session(&self, session: &NewSession<'_>, now: Millis, per_user: usize) -> Result<(), StoreError>;

    /// The session stored under `id_hash`, if it is live at `now` (before both of its deadlines). Its idle deadline
    /// moves to `idle_until` (never past its absolute end) when that is at least `touch_after` milliseconds later
    /// than the stored one, so that a burst of requests writes once.
    async fn live_session(
        &self,
        id_hash: &str,
        now: Millis,
        idle_until: Millis,
        touch_after: Millis,
    ) -> Result<Option<SessionRecord>, StoreError>;

    /// Deletes a session (sign-out); deleting an unknown one is not an error.
    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;

    /// Deletes every session that has ended at `now`; returns how many.
    async fn purge_sessions(&self, now: Millis) -> Result<u64, StoreError>;
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, session: &NewSession<'_>, now: Millis, per_user: usize) -> Result<(), StoreError> {
        let fail = StoreError::db("storing a session");
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1 OR idle_until <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        sqlx::query(
            "INSERT INTO console_sessions (id_hash, user_id, csrf, created_at, idle_until, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(session.id_hash)
        .bind(session.user.0)
        .bind(session.csrf)
        .bind(now)
        .bind(session.idle_until.min(session.expires_at))
        .bind(session.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("storing a session"))?;
        let keep = i64::try_from(per_user.max(1)).unwrap_or(i64::MAX);
        sqlx::query(
            "DELETE FROM console_sessions WHERE user_id = $1 AND id_hash NOT IN \
             (SELECT id_hash FROM console_sessions WHERE user_id = $1 ORDER BY id DESC LIMIT $2)",
        )
        .bind(session.user.0)
        .bind(keep)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("bounding a user's sessions"))?;
        tx.commit().await.map_err(StoreError::db("storing a session"))
    }

    async fn live_session(
        &self,
        id_hash: &str,
        now: Millis,
        idle_until: Millis,
        touch_after: Millis,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.email, u.roles, s.csrf, s.idle_until, s.expires_at \
             FROM console_sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.idle_until > $2 AND s.expires_at > $2",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("reading a session"))?;
        let Some(row) = row else { return Ok(None) };
        let mut record = SessionRecord {
            user: user_from_row(&row)?,
            csrf: get(&row, "csrf")?,
            idle_until: get(&row, "idle_until")?,
            expires_at: get(&row, "expires_at")?,
        };
        let moved = idle_until.min(record.expires_at);
        if moved - record.idle_until >= touch_after {
            let mut tx = self.begin().await?;
            sqlx::query("UPDATE console_sessions SET idle_until = $1 WHERE id_hash = $2 AND idle_until < $1")
                .bind(moved)
                .bind(id_hash)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db("touching a session"))?;
            tx.commit().await.map_err(StoreError::db("touching a session"))?;
            record.idle_until = moved;
        }
        Ok(Some(record))
    }

    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("deleting a session"))?;
        tx.commit().await.map_err(StoreError::db("deleting a session"))
    }

    async fn purge_sessions(&self, now: Millis) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let result = sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1 OR idle_until <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("purging sessions"))?;
        tx.commit().await.map_err(StoreError::db("purging sessions"))?;
        Ok(result.rows_affected())
    }
}
