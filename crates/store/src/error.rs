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
    /// The SQLite commit writer's connection failed or refused a statement.
    #[error("SQLite commit writer error during {operation}: {source}")]
    CommitWriter {
        /// What the commit writer was doing.
        operation: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The SQLite commit writer's thread could not start, or has ended.
    #[error("SQLite commit writer thread: {source}")]
    CommitWriterThread {
        /// Why.
        #[source]
        source: std::io::Error,
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

    /// Whether, and how, the same operation may succeed if tried again: `None` for a permanent error (a refused
    /// statement, a missing or corrupt record, a guard that did not hold, a wrong key: trying again gives the same
    /// answer). The one classification of driver errors: the store's own retry of a commit rolled back by a
    /// conflict and the engine's retry of a fire's preparation both read it.
    pub fn transience(&self) -> Option<Transience> {
        match self {
            Self::Database { source, .. } => driver_transience(source),
            _ => None,
        }
    }

    /// Whether the same operation may succeed if tried again soon: [`StoreError::transience`] is some.
    pub fn is_transient(&self) -> bool {
        self.transience().is_some()
    }
}

/// Why a store error may not happen again: see [`StoreError::transience`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transience {
    /// PostgreSQL rolled the transaction back to break a deadlock (`40P01`) or a serialization conflict (`40001`):
    /// nothing of it landed, and writing the whole transaction again is safe.
    RolledBackByConflict,
    /// The database was busy or locked (SQLite `BUSY`, `LOCKED`; PostgreSQL lock not available), a connection broke
    /// or none could be had in time, or PostgreSQL is restarting or has too many connections. Whether a write whose
    /// connection broke landed is not known: reads may be tried again, a write only if it is safe to repeat.
    Unavailable,
}

/// See [`StoreError::transience`].
fn driver_transience(error: &sqlx::Error) -> Option<Transience> {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => Some(Transience::Unavailable),
        sqlx::Error::Database(database) => database.code().and_then(|code| code_transience(&code)),
        _ => None,
    }
}

/// PostgreSQL SQLSTATEs (always five characters) and SQLite result codes (primary or extended, a number of at most
/// four digits) that say "not now" rather than "no". SQLSTATEs are read first: many are all digits (`40001`), and
/// read as a SQLite number they would mean something else.
fn code_transience(code: &str) -> Option<Transience> {
    match code {
        // serialization_failure, deadlock_detected.
        "40001" | "40P01" => return Some(Transience::RolledBackByConflict),
        // Connection exceptions (08…), lock_not_available, too_many_connections, admin_shutdown, crash_shutdown,
        // cannot_connect_now.
        "55P03" | "53300" | "57P01" | "57P02" | "57P03" => return Some(Transience::Unavailable),
        _ if code.len() == 5 => {
            return code.starts_with("08").then_some(Transience::Unavailable);
        }
        _ => {}
    }
    // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes (5 + 256 n, 6 + 256 n).
    let number = code.parse::<u32>().ok()?;
    matches!(number & 0xff, 5 | 6).then_some(Transience::Unavailable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::error::{DatabaseError, ErrorKind};
    use std::borrow::Cow;

    /// A driver error with a code, as SQLite and PostgreSQL report them.
    #[derive(Debug)]
    struct Coded(&'static str);

    impl std::fmt::Display for Coded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "error {}", self.0)
        }
    }

    impl std::error::Error for Coded {}

    impl DatabaseError for Coded {
        fn message(&self) -> &str {
            "coded"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    fn database(source: sqlx::Error) -> StoreError {
        StoreError::Database { operation: "test", source }
    }

    #[test]
    fn busy_locked_broken_and_conflicting_are_transient_the_rest_is_not() {
        use Transience::{RolledBackByConflict as Conflict, Unavailable};
        let check = |error: StoreError, expected: Option<Transience>| {
            assert_eq!(error.transience(), expected, "{error:?}");
            assert_eq!(error.is_transient(), expected.is_some(), "{error:?}");
        };
        for (code, expected) in [
            ("5", Some(Unavailable)),     // SQLITE_BUSY
            ("517", Some(Unavailable)),   // SQLITE_BUSY_SNAPSHOT
            ("6", Some(Unavailable)),     // SQLITE_LOCKED
            ("262", Some(Unavailable)),   // SQLITE_LOCKED_SHAREDCACHE
            ("19", None),                 // SQLITE_CONSTRAINT
            ("2067", None),               // SQLITE_CONSTRAINT_UNIQUE
            ("11", None),                 // SQLITE_CORRUPT
            ("40001", Some(Conflict)),    // serialization_failure (all digits: not a SQLite number)
            ("40P01", Some(Conflict)),    // deadlock_detected
            ("08006", Some(Unavailable)), // connection_failure
            ("08P01", Some(Unavailable)), // protocol_violation (connection exception class)
            ("55P03", Some(Unavailable)), // lock_not_available
            ("57P01", Some(Unavailable)), // admin_shutdown
            ("53300", Some(Unavailable)), // too_many_connections
            ("23505", None),              // unique_violation
            ("42P01", None),              // undefined_table
            ("22P02", None),              // invalid_text_representation
            ("00005", None),              // all digits, five characters: a SQLSTATE, not SQLITE_BUSY
            ("10262", None),              // all digits, five characters: not SQLITE_LOCKED + 256 * 40
        ] {
            check(database(sqlx::Error::Database(Box::new(Coded(code)))), expected);
        }
        check(database(sqlx::Error::PoolTimedOut), Some(Unavailable));
        check(database(sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset))), Some(Unavailable));
        check(database(sqlx::Error::PoolClosed), None);
        check(database(sqlx::Error::RowNotFound), None);
        check(database(sqlx::Error::Protocol("unexpected message".to_owned())), None);
        check(StoreError::Corrupt { what: "action", reason: "not JSON".to_owned() }, None);
        check(StoreError::NotFound { what: "fire", id: 1 }, None);
        check(StoreError::VersionConflict { runbook: RunbookId(1), expected: 2 }, None);
    }

    /// The classification reads the codes the real drivers give, not only the table's.
    #[tokio::test]
    async fn a_busy_sqlite_database_and_a_postgresql_serialization_failure_are_transient() {
        use sqlx::Connection;
        use std::str::FromStr;
        let directory = tempfile::tempdir().expect("a temporary directory");
        let url = cutover_integrations_test_support::fresh_sqlite_url(directory.path());
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
            .expect("url")
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::ZERO);
        let mut holder = sqlx::SqliteConnection::connect_with(&options).await.expect("connect");
        let mut other = sqlx::SqliteConnection::connect_with(&options).await.expect("connect");
        sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut holder).await.expect("the write lock");
        let busy = sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut other).await.expect_err("busy");
        assert_eq!(database(busy).transience(), Some(Transience::Unavailable));

        let test = "a_postgresql_serialization_failure_is_transient";
        let Some(url) = cutover_integrations_test_support::fresh_postgres_url(test).await else { return };
        let mut reader = sqlx::PgConnection::connect(&url).await.expect("connect");
        let mut writer = sqlx::PgConnection::connect(&url).await.expect("connect");
        sqlx::raw_sql("CREATE TABLE t (id INT PRIMARY KEY, n INT); INSERT INTO t VALUES (1, 1)")
            .execute(&mut writer)
            .await
            .expect("a table");
        sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT n FROM t WHERE id = 1")
            .execute(&mut reader)
            .await
            .expect("a snapshot");
        sqlx::raw_sql("UPDATE t SET n = 2 WHERE id = 1").execute(&mut writer).await.expect("a concurrent update");
        let conflict =
            sqlx::raw_sql("UPDATE t SET n = 3 WHERE id = 1").execute(&mut reader).await.expect_err("a conflict");
        assert_eq!(database(conflict).transience(), Some(Transience::RolledBackByConflict));
    }
}
