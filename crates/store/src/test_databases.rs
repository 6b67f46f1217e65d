//! Fresh, isolated databases for tests of the store and of the crates built on it.
//!
//! PostgreSQL tests read the server from `CUTOVER_TEST_POSTGRES_URL` (a role allowed to create databases); each
//! call creates a new database on it, so test binaries running in parallel never share tables. Without the variable
//! the PostgreSQL tests say plainly that they were skipped.

use std::sync::atomic::{AtomicU32, Ordering};

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VARIABLE: &str = "CUTOVER_TEST_POSTGRES_URL";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A URL of a new SQLite database file inside `directory`.
pub fn fresh_sqlite_url(directory: &std::path::Path) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("sqlite://{}", directory.join(format!("test-{n}.db")).display())
}

/// A URL of a new, empty PostgreSQL database, or `None` (with a line on stderr saying the test is skipped) when
/// `CUTOVER_TEST_POSTGRES_URL` is not set.
pub async fn fresh_postgres_url(test: &str) -> Option<String> {
    let Ok(base) = std::env::var(POSTGRES_URL_VARIABLE) else {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipped: {test} on PostgreSQL ({POSTGRES_URL_VARIABLE} is not set)");
        }
        return None;
    };
    let name = format!(
        "cutover_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        crate::sql::wall_clock_millis()
    );
    sqlx::any::install_default_drivers();
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&base)
        .await
        .unwrap_or_else(|error| panic!("{POSTGRES_URL_VARIABLE} does not connect: {error}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|error| panic!("cannot create test database {name}: {error}"));
    let mut url =
        url::Url::parse(&base).unwrap_or_else(|error| panic!("{POSTGRES_URL_VARIABLE} is not a URL: {error}"));
    url.set_path(&name);
    Some(url.to_string())
}
