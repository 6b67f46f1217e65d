//! The SQLite commit writer: a thread of its own holding a second connection to the database file, which writes a
//! batch of commit plans (`BEGIN IMMEDIATE` to `COMMIT`) in one call and answers once.
//!
//! Through sqlx, a batch is a message to the connection's worker thread and one message back per statement result
//! (five for a batch of one plan), each waking the task that waits for it. Here the whole batch runs on the thread
//! that owns the connection, with its statements prepared once, and the caller is woken once, with the ids the plans
//! learned. The thread does nothing but these batches; every other write stays on sqlx's writing connection.
//!
//! The two writing connections never write at once: a batch is sent only by the holder of the writing connection's
//! lock ([`crate::writer::SqliteWriter`]), which waits for the answer before it lets go. If the waiting future is
//! dropped, the thread still finishes the batch (committed or rolled back as a whole: it never leaves a transaction
//! open), and a writer that comes meanwhile waits for the database lock in SQLite's busy handler.
//!
//! Durability is the writing connection's: the same `journal_mode`, `synchronous` and checkpoint settings, so a batch
//! is in the WAL (and synced when `synchronous = FULL`) when its answer comes back.

use crate::error::StoreError;
use rusqlite::{Connection, OpenFlags, params};
use std::sync::mpsc;
use tokio::sync::oneshot;

/// A batch to write: each plan's JSON document in order, and where to send the ids the batch learned (the text of
/// the results row) or why it stopped.
struct Job {
    documents: Vec<String>,
    reply: oneshot::Sender<rusqlite::Result<String>>,
}

/// The handle of the commit writer thread; the thread ends when the handle is dropped.
pub(crate) struct SqliteCommitter {
    jobs: mpsc::Sender<Job>,
}

impl SqliteCommitter {
    /// Opens a connection to the database file at `path` and prepares it with `setup` (pragmas, the temporary objects
    /// of [`crate::commit::sqlite_plan_objects`]); starts the thread that owns it.
    pub(crate) fn start(path: &str, setup: &str, results: &'static str) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags)
            .map_err(|source| StoreError::CommitWriter { operation: "opening the commit writer", source })?;
        connection
            .execute_batch(setup)
            .map_err(|source| StoreError::CommitWriter { operation: "preparing the commit writer", source })?;
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-commits".to_owned())
            .spawn(move || {
                let mut connection = connection;
                for job in queue {
                    let written = write_batch(&mut connection, &job.documents, results);
                    // The caller may have gone (cancelled): the batch is written or rolled back all the same.
                    let _ = job.reply.send(written);
                }
            })
            .map_err(|source| StoreError::CommitWriterThread { source })?;
        Ok(Self { jobs })
    }

    /// Writes the plans' documents in one transaction; the results row's text, or the error that stopped the batch
    /// (nothing of it landed).
    pub(crate) async fn write(&self, documents: Vec<String>) -> Result<String, StoreError> {
        let (reply, answer) = oneshot::channel();
        let gone =
            || StoreError::CommitWriterThread { source: std::io::Error::other("the commit writer thread ended") };
        self.jobs.send(Job { documents, reply }).map_err(|_| gone())?;
        answer
            .await
            .map_err(|_| gone())?
            .map_err(|source| StoreError::CommitWriter { operation: "writing a batch of commits", source })
    }
}

/// One batch, all or nothing: on any error the transaction is rolled back before the error is returned.
fn write_batch(connection: &mut Connection, documents: &[String], results: &str) -> rusqlite::Result<String> {
    connection.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let written = (|| {
        let mut insert = connection.prepare_cached("INSERT INTO temp.commit_plans (n, plan) VALUES (?1, jsonb(?2))")?;
        for (n, document) in documents.iter().enumerate() {
            insert.execute(params![n as i64, document])?;
        }
        let text: String = connection.prepare_cached(results)?.query_row([], |row| row.get(0))?;
        connection.prepare_cached("COMMIT")?.execute([])?;
        Ok(text)
    })();
    if written.is_err() && !connection.is_autocommit() {
        let _ = connection.execute_batch("ROLLBACK");
    }
    written
}
