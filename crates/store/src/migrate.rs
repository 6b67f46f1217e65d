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
    Migration {
        version: 9,
        sqlite: include_str!("migrations/sqlite_009_event_integrations.sql"),
        postgres: include_str!("migrations/postgres_009_event_integrations.sql"),
    },
    Migration {
        version: 10,
        sqlite: include_str!("migrations/sqlite_010_runbook_definitions.sql"),
        postgres: include_str!("migrations/postgres_010_runbook_definitions.sql"),
    },
    Migration {
        version: 15,
        sqlite: include_str!("migrations/sqlite_015_event_deliveries_latest.sql"),
        postgres: include_str!("migrations/postgres_015_event_deliveries_latest.sql"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RunbookQuery, SqlStore, SqlStoreOptions, Store};
    use cutover_integrations_auth::{Cipher, Key, KeyId, KeyRing};
    use std::sync::Arc;

    const DEFINITION: &str = r#"{"runbook":{"name":"Old","workspace":"Ops","tasks":[]},"plan":{}}"#;

    /// A database left by a release before migration 10 (runbooks with their definition in their row) reads the
    /// same after it: the definition from its own table, the workspace from its column.
    async fn check(url: &str, backend: Backend) {
        sqlx::any::install_default_drivers();
        let pool = AnyPool::connect(url).await.expect("connects");
        sqlx::raw_sql("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .execute(&pool)
            .await
            .expect("schema_migrations");
        for migration in MIGRATIONS.iter().filter(|migration| migration.version < 10) {
            let script = if backend == Backend::Sqlite { migration.sqlite } else { migration.postgres };
            sqlx::raw_sql(script).execute(&pool).await.expect("an earlier migration");
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)")
                .bind(migration.version)
                .execute(&pool)
                .await
                .expect("recorded");
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO runbooks (name, definition, state, version, definition_version, task_count, created_at, \
             updated_at) VALUES ('Old', $1, '{\"stage\":\"planning\"}', 3, 2, 0, 1, 1) RETURNING id",
        )
        .bind(DEFINITION)
        .fetch_one(&pool)
        .await
        .expect("an old runbook");
        pool.close().await;
        let cipher = Arc::new(Cipher::new(KeyRing::new(KeyId(1), Key::from_bytes([9u8; 32]))));
        let store = SqlStore::connect(SqlStoreOptions::new(url), cipher).await.expect("migrates");
        let stored = store.runbook(crate::RunbookId(id)).await.expect("reads").expect("kept");
        assert_eq!((stored.definition.as_deref(), stored.version), (Some(DEFINITION), 3));
        let changes = store.runbook_if_changed(crate::RunbookId(id), 1).await.expect("reads").expect("changed");
        assert_eq!(changes.definition.as_deref(), Some(DEFINITION), "written after version 1");
        let changes = store.runbook_if_changed(crate::RunbookId(id), 2).await.expect("reads").expect("changed");
        assert_eq!(changes.definition, None, "not written after version 2");
        let query = RunbookQuery { limit: 10, workspace: Some("Ops".into()), ..RunbookQuery::default() };
        let page = store.runbook_page(&query).await.expect("a page");
        assert_eq!(page.runbooks.iter().map(|listing| listing.id.0).collect::<Vec<_>>(), [id]);
    }

    #[tokio::test]
    async fn runbooks_keep_their_definition_across_migration_10_on_sqlite() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("{}?mode=rwc", cutover_integrations_test_support::fresh_sqlite_url(dir.path()));
        check(&url, Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn runbooks_keep_their_definition_across_migration_10_on_postgres() {
        let Some(url) = cutover_integrations_test_support::fresh_postgres_url("migration 10").await else { return };
        check(&url, Backend::Postgres).await;
    }
}
