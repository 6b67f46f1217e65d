//! Fresh, isolated databases for tests of the store and of the crates built on it: a dev-dependency only, never
//! part of a production crate.
//!
//! PostgreSQL tests read the server from `CUTOVER_TEST_POSTGRES_URL` (a role allowed to create databases); each
//! call creates a new database on it, so test binaries running in parallel never share tables. Without the variable
//! the PostgreSQL tests say plainly that they were skipped.
//!
//! A database's name carries the id of the test process that made it. The first call in a process drops the test
//! databases of processes that are no longer running, so a developer's server does not fill up with the databases of
//! every test run ever made (1,516 databases, 14 GB, before this sweep existed).

pub mod held_endpoint;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VARIABLE: &str = "CUTOVER_TEST_POSTGRES_URL";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Whether this process has swept the databases of ended test processes.
static SWEPT: AtomicBool = AtomicBool::new(false);

/// The prefix of every test database's name: `cutover_test_{process id}_{counter}_{milliseconds}`.
const NAME_PREFIX: &str = "cutover_test_";

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
    sqlx::any::install_default_drivers();
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&base)
        .await
        .unwrap_or_else(|error| panic!("{POSTGRES_URL_VARIABLE} does not connect: {error}"));
    if !SWEPT.swap(true, Ordering::Relaxed) {
        drop_databases_of_ended_processes(&mut admin).await;
    }
    let name = format!(
        "{NAME_PREFIX}{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        wall_clock_millis()
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|error| panic!("cannot create test database {name}: {error}"));
    let mut url =
        url::Url::parse(&base).unwrap_or_else(|error| panic!("{POSTGRES_URL_VARIABLE} is not a URL: {error}"));
    url.set_path(&name);
    Some(url.to_string())
}

/// Drops the test databases whose process has ended (Linux: no `/proc/{id}`); elsewhere it does nothing. A database
/// that cannot be dropped is reported on stderr and left; the test goes on.
async fn drop_databases_of_ended_processes(admin: &mut sqlx::AnyConnection) {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let names: Vec<(String,)> =
        match sqlx::query_as("SELECT datname::text FROM pg_database WHERE datname LIKE 'cutover\\_test\\_%'")
            .fetch_all(&mut *admin)
            .await
        {
            Ok(names) => names,
            Err(error) => {
                report(&format!("cannot list old test databases: {error}"));
                return;
            }
        };
    for (name,) in names {
        if !name.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_') {
            continue;
        }
        let Some(process) = name.strip_prefix(NAME_PREFIX).and_then(|rest| rest.split('_').next()) else { continue };
        let Ok(process) = process.parse::<u32>() else { continue };
        if std::path::Path::new("/proc").join(process.to_string()).exists() {
            continue;
        }
        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        if let Err(error) = sqlx::raw_sql(sqlx::AssertSqlSafe(drop)).execute(&mut *admin).await {
            report(&format!("cannot drop old test database {name}: {error}"));
        }
    }
}

/// Milliseconds since the Unix epoch (0 on a clock set before it), so names of the same process id never repeat
/// across runs.
fn wall_clock_millis() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|elapsed| elapsed.as_millis()).unwrap_or(0)
}

fn report(line: &str) {
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{line}");
    }
}
