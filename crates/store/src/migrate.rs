//! Schema migrations, embedded in the binary and applied at start, one transaction each.
//!
//! sqlx's own migrator needs its macros or files on disk at run time; an embedded list keeps the library
//! self-contained. Each backend has its own scripts because their column types differ.

use crate::error::StoreError;
use crate::sql::Backend;
use sqlx::AnyPool;

/// One migration: a version and the script for each backend.
struct Migration {
    version: i64,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sqlite: include_str!("migrations/sqlite_001_initial.sql"),
        postgres: include_str!("migrations/postgres_001_initial.sql"),
    },
    Migration {
        version: 2,
        sqlite: include_str!("migrations/sqlite_002_catalog_revision.sql"),
        postgres: include_str!("migrations/postgres_002_catalog_revision.sql"),
    },
    Migration {
        version: 3,
        sqlite: include_str!("migrations/sqlite_003_drop_fires_task.sql"),
        postgres: include_str!("migrations/postgres_003_drop_fires_task.sql"),
    },
    Migration {
        version: 4,
        sqlite: include_str!("migrations/sqlite_004_key_checks.sql"),
        postgres: include_str!("migrations/postgres_004_key_checks.sql"),
    },
    Migration {
        version: 5,
        sqlite: include_str!("migrations/sqlite_005_console_sessions.sql"),
        postgres: include_str!("migrations/postgres_005_console_sessions.sql"),
    },
    Migration {
        version: 6,
        sqlite: include_str!("migrations/sqlite_006_versions_and_events.sql"),
        postgres: include_str!("migrations/postgres_006_versions_and_events.sql"),
    },
    Migration {
        version: 8,
        sqlite: include_str!("migrations/sqlite_008_runbook_tasks.sql"),
        postgres: include_str!("migrations/postgres_008_runbook_tasks.sql"),
    },
];

/// Applies every migration the database lacks. Several engines starting at once on PostgreSQL serialize on an
/// advisory lock; on SQLite `BEGIN IMMEDIATE` does the same.
pub(crate) async fn migrate(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(pool)
    .await
    .map_err(StoreError::db("creating schema_migrations"))?;
    for migration in MIGRATIONS {
        let mut tx =
            pool.begin_with(backend.begin_statement()).await.map_err(StoreError::db("starting a migration"))?;
        if backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7305241)")
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db("locking for migrations"))?;
        }
        let applied: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
            .bind(migration.version)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db("reading schema_migrations"))?;
        if applied.is_some() {
            continue;
        }
        let script = match backend {
            Backend::Sqlite => migration.sqlite,
            Backend::Postgres => migration.postgres,
        };
        let fail = |source| StoreError::Migration { version: migration.version, source };
        sqlx::raw_sql(script).execute(&mut *tx).await.map_err(fail)?;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(migration.version)
            .bind(crate::sql::wall_clock_millis())
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
    }
    Ok(())
}
