//! The store's error type.

use crate::records::{FireId, RunbookId};

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names no supported backend.
    #[error("unsupported database URL `{url}`: use sqlite://PATH or postgres://…")]
    UnsupportedUrl {
        /// The URL, without its password.
        url: String,
    },
    /// The database failed or refused a statement.
    #[error("database error during {operation}: {source}")]
    Database {
        /// What the store was doing.
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed; the database is left at the previous version.
    #[error("migration {version} failed: {source}")]
    Migration {
        /// The migration that failed.
        version: i64,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Someone else changed the runbook since it was read.
    #[error("runbook {runbook} changed concurrently: expected version {expected}")]
    VersionConflict {
        /// The runbook.
        runbook: RunbookId,
        /// The version the writer read.
        expected: i64,
    },
    /// A precondition did not hold: the record is no longer at the version the writer was given (an `If-Match`).
    #[error("{what} {id} changed: it is no longer at version {expected}")]
    Stale {
        /// The kind of record.
        what: &'static str,
        /// Its id.
        id: i64,
        /// The version the writer expected.
        expected: i64,
    },
    /// A fire update's guard did not hold (the lease was lost, or the fire moved on).
    #[error("fire {fire} was not updated: {reason}")]
    FireGuardFailed {
        /// The fire.
        fire: FireId,
        /// Why, for example "lease no longer held by engine-1".
        reason: String,
    },
    /// A record named by id does not exist.
    #[error("{what} {id} does not exist")]
    NotFound {
        /// The kind of record.
        what: &'static str,
        /// Its id.
        id: i64,
    },
    /// A unique name is taken.
    #[error("{what} `{name}` already exists")]
    Duplicate {
        /// The kind of record.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A stored document did not parse back.
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt {
        /// The kind of document.
        what: &'static str,
        /// The parser's complaint.
        reason: String,
    },
    /// A record could not be written as JSON (a map with keys that are not strings, a serializer that failed).
    #[error("{what} could not be written as JSON: {source}")]
    Encode {
        /// The kind of record.
        what: &'static str,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
    /// A secret could not be sealed or opened.
    #[error("secret of {owner} could not be sealed or opened: {source}")]
    Seal {
        /// Whose secret, for example "system parameter `slack_client_secret`".
        owner: String,
        /// The cipher's error.
        #[source]
        source: crate::SealError,
    },
    /// The key of this id does not open the database's key check: its secrets were sealed with another key.
    #[error(
        "the secret key does not match this database: its secrets were sealed with another key (key id {key_id}); \
         start with the key they were sealed with (CUTOVER_SECRET_KEY, or the key file beside a SQLite database), \
         and change keys with key rotation"
    )]
    WrongSecretKey {
        /// The id of the key that does not match.
        key_id: u32,
    },
    /// The database holds secrets sealed with a key id the configured keys lack.
    #[error(
        "this database holds secrets sealed with key id {key_id}, which the configured secret keys do not include; \
         configure that key (as a retired key `NEW_ID:NEW_KEY,{key_id}:OLD_KEY` during a rotation)"
    )]
    MissingSecretKey {
        /// The id of the missing key.
        key_id: u32,
    },
}

impl StoreError {
    pub(crate) fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database { operation, source }
    }
}
