//! Where writes go: on PostgreSQL the shared pool; on SQLite one dedicated connection that every write in the process
//! queues for.
//!
//! SQLite allows one writer at a time. Queuing in the process (an async mutex) is fair and wakes the next writer the
//! moment the previous one is done, whereas several connections contending for the database lock would wait in
//! SQLite's busy handler, which sleeps. Holding the connection outside sqlx's pool also saves the round trip to its
//! worker thread that the pool makes to test a connection each time it is returned.
//!
//! A transaction on the dedicated connection is opened and closed with plain statements. If the future driving it is
//! dropped halfway (cancelled), the connection is left inside the transaction, marked as such, and the next writer
//! rolls it back before starting: nothing half-done is ever committed or built upon.

use crate::committer::SqliteCommitter;
use crate::error::StoreError;
use crate::sql::Backend;
use sqlx::{Any, AnyConnection, AnyPool, Transaction};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The writing side of a store.
#[derive(Clone)]
pub(crate) enum Writer {
    /// PostgreSQL: transactions from the pool.
    Pool(AnyPool),
    /// SQLite: the one writing connection.
    Sqlite(Arc<Mutex<SqliteWriter>>),
}

/// The dedicated SQLite connection and whether a transaction may be open on it, and the commit writer (a second
/// connection on a thread of its own, `committer.rs`) that writes batches of commit plans while this lock is held.
pub(crate) struct SqliteWriter {
    pub(crate) connection: AnyConnection,
    /// `None` for an in-memory database, which a second connection would not share: batches then go through
    /// `connection`.
    pub(crate) committer: Option<SqliteCommitter>,
    /// Set before a transaction starts, cleared when it ended; still set means its driver was cancelled.
    pub(crate) open_transaction: bool,
}

impl SqliteWriter {
    /// Rolls back what a cancelled writer left open, so the connection is outside any transaction.
    pub(crate) async fn settle(&mut self) -> Result<(), StoreError> {
        if !self.open_transaction {
            return Ok(());
        }
        if let Err(error) = sqlx::query("ROLLBACK").execute(&mut self.connection).await {
            // "No transaction is active": the cancelled batch had committed or never begun. Anything else is real.
            if !error.to_string().contains("no transaction is active") {
                return Err(StoreError::Database { operation: "rolling back a cancelled transaction", source: error });
            }
        }
        self.open_transaction = false;
        Ok(())
    }
}

impl Writer {
    /// Starts a write transaction: `BEGIN IMMEDIATE` on SQLite, so it never fails upgrading a read lock.
    pub(crate) async fn begin(&self, backend: Backend) -> Result<WriteTx, StoreError> {
        match self {
            Self::Pool(pool) => {
                let tx = pool
                    .begin_with(backend.begin_statement())
                    .await
                    .map_err(StoreError::db("starting a transaction"))?;
                Ok(WriteTx::Pool(tx))
            }
            Self::Sqlite(writer) => {
                let mut guard = writer.clone().lock_owned().await;
                guard.settle().await?;
                guard.open_transaction = true;
                if let Err(source) = sqlx::query("BEGIN IMMEDIATE").execute(&mut guard.connection).await {
                    guard.open_transaction = false;
                    return Err(StoreError::Database { operation: "starting a transaction", source });
                }
                Ok(WriteTx::Sqlite(guard))
            }
        }
    }

    /// The dedicated SQLite connection, settled, for a batch that opens and closes its own transaction.
    #[cfg(test)]
    pub(crate) async fn sqlite(&self) -> Result<Option<OwnedMutexGuard<SqliteWriter>>, StoreError> {
        match self {
            Self::Pool(_) => Ok(None),
            Self::Sqlite(writer) => {
                let mut guard = writer.clone().lock_owned().await;
                guard.settle().await?;
                Ok(Some(guard))
            }
        }
    }

    /// Closes the pool, or rolls back what a cancelled writer left open on the SQLite connection.
    pub(crate) async fn close(&self) {
        match self {
            Self::Pool(pool) => pool.close().await,
            Self::Sqlite(writer) => {
                let _ = writer.lock().await.settle().await;
            }
        }
    }
}

/// An open write transaction; a connection to run statements on (`&mut *tx`). Dropped without
/// [`WriteTx::commit`], it is rolled back.
pub(crate) enum WriteTx {
    /// From the pool.
    Pool(Transaction<'static, Any>),
    /// On the dedicated SQLite connection.
    Sqlite(OwnedMutexGuard<SqliteWriter>),
}

impl WriteTx {
    /// Commits.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Pool(tx) => tx.commit().await,
            Self::Sqlite(mut guard) => {
                sqlx::query("COMMIT").execute(&mut guard.connection).await?;
                guard.open_transaction = false;
                Ok(())
            }
        }
    }

    /// Rolls back.
    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Pool(tx) => tx.rollback().await,
            Self::Sqlite(mut guard) => {
                sqlx::query("ROLLBACK").execute(&mut guard.connection).await?;
                guard.open_transaction = false;
                Ok(())
            }
        }
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            Self::Pool(tx) => tx,
            Self::Sqlite(guard) => &guard.connection,
        }
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Self::Pool(tx) => tx,
            Self::Sqlite(guard) => &mut guard.connection,
        }
    }
}
